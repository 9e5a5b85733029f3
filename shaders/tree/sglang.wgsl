// sglang:ts:ta (SPEC §13; SGLang's relaxed thresholds) at node u: with S_j the f32 running sum of
// the target's probabilities of the children's tokens, child j is accepted first iff
// t[tok_j] >= ts or coin * ta <= S_j (decided exactly, as the negation of S_j < coin * ta);
// otherwise stop with the target row masked at the children's tokens. CPU twin:
// src/cpu/tree/sglang.rs.
fn tree_step_sglang(lid: u32, round: u32, u: u32, cs: u32, ce: u32, tbase: u32, dbase: u32, v: u32) -> vec2<u32> {
    let ts = tree_h(H_RULE_P0);
    let ta = tree_h(H_RULE_P1);
    let end = cs + loop_len(ce - cs);
    if (lid == 0u) {
        var found = NONE;
        var sum = 0u;
        let coin = key(node_coin(round, u));
        var i = cs;
        for (; i < end; i++) {
            let c = child_at(i);
            let p = key(tgt[tbase + node_token(round, c)]);
            sum = add_key(sum, p);
            if (p >= ts || !accepts_scaled(sum, ONE_BITS, coin, ta)) {
                found = c;
                break;
            }
        }
        loop_cut = loop_cut || (found == NONE && i < end);
        shared_u32 = found;
    }
    return accept_or_mask(lid, round, cs, ce);
}
