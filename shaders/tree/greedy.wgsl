// greedy (SPEC §7) at node u: accept the child whose token is the target's argmax; otherwise stop
// with the target row masked at the children's tokens. CPU twin: src/cpu/tree/greedy.rs.
fn tree_step_greedy(lid: u32, round: u32, u: u32, cs: u32, ce: u32, tbase: u32, dbase: u32, v: u32) -> vec2<u32> {
    let best = argmax_row(lid, SRC_TARGET, tbase, dbase, v).y;
    let end = cs + loop_len(ce - cs);
    if (lid == 0u) {
        var found = NONE;
        var i = cs;
        for (; i < end; i++) {
            let c = child_at(i);
            if (node_token(round, c) == best) {
                found = c;
                break;
            }
        }
        loop_cut = loop_cut || (found == NONE && i < end);
        shared_u32 = found;
    }
    return accept_or_mask(lid, round, cs, ce);
}
