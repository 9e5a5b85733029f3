// rrs-wor (SPEC §7) at node u: the walk of shaders/tree/rrs.wgsl without replacement. CPU twin:
// src/cpu/tree/rrs_wor.rs.
fn tree_step_rrs_wor(lid: u32, round: u32, u: u32, cs: u32, ce: u32, tbase: u32, dbase: u32, v: u32) -> vec2<u32> {
    return rrs_walk(true, lid, round, cs, ce, tbase, dbase, v);
}
