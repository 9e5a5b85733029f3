// target-only (SPEC §7) at node u: node u's coin against the f32 running sum of the target's
// probabilities of the children's tokens; otherwise stop with the target row masked at the
// children's tokens (the tree kernel's `bucket_step`). CPU twin: src/cpu/tree/target_only.rs.
fn tree_step_target_only(lid: u32, round: u32, u: u32, cs: u32, ce: u32, tbase: u32, dbase: u32, v: u32) -> vec2<u32> {
    return bucket_step(BUCKET_TARGET_ONLY, lid, round, u, cs, ce, tbase);
}
