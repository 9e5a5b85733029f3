// target-only (SPEC §7) at node u: node u's coin against the f32 running sum of the target's
// probabilities of the children's tokens; otherwise stop with the target row masked at the
// children's tokens. CPU twin: src/cpu/tree/target_only.rs.
fn tree_step_target_only(lid: u32, round: u32, u: u32, cs: u32, ce: u32, tbase: u32, dbase: u32, v: u32) -> vec2<u32> {
    let end = cs + loop_len(ce - cs);
    if (lid == 0u) {
        var found = NONE;
        var sum = 0u;
        let coin = key(node_coin(round, u));
        var i = cs;
        for (; i < end; i++) {
            let c = child_at(i);
            let x = node_token(round, c);
            sum = add_key(sum, key(tgt[tbase + x]));
            if (coin < sum) {
                found = c;
                break;
            }
        }
        loop_cut = loop_cut || (found == NONE && i < end);
        shared_u32 = found;
    }
    return accept_or_mask(lid, round, cs, ce);
}
