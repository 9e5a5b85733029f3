// rrs (SPEC §7) at node u: recursive rejection sampling, children drawn i.i.d. The walk is shared
// with rrs-wor (shaders/tree/rrs_wor.wgsl). CPU twin: src/cpu/tree/rrs.rs.
fn tree_step_rrs(lid: u32, round: u32, u: u32, cs: u32, ce: u32, tbase: u32, dbase: u32, v: u32) -> vec2<u32> {
    return rrs_walk(false, lid, round, cs, ce, tbase, dbase, v);
}

// rrs / (wor) rrs-wor: a_0 = 0, N_0 = W_0 = 1; after each rejection, the pass over the row gives
// N (sum of u) and W (sum of the draft without the rejected tokens). Returns (the accepted child
// or NONE, the correction's source: SRC_TREE_U after the last child, NONE when N = 0 (the target
// row)).
fn rrs_walk(wor: bool, lid: u32, round: u32, cs: u32, ce: u32, tbase: u32, dbase: u32, v: u32) -> vec2<u32> {
    tree_a = 0u;
    var n_j = ONE_BITS;
    var w_j = ONE_BITS;
    var i = cs;
    for (; i < ce && charge(1u + QUOTIENT_COST); i++) {
        if (lid == 0u) {
            let c = child_at(i);
            let x = node_token(round, c);
            let g = quotient_bits(n_j, ONE_BITS, w_j);
            let ux = residual_key(tgt[tbase + x], mul_bits(tree_a, key(drf[dbase + x])));
            var res = NONE;
            if (accepts_ratio(node_coin(round, c), key(drf[dbase + x]), n_j, ux, w_j)) {
                res = c;
            } else {
                let a1 = add_key(tree_a, g);
                if (wor) {
                    tree_list[i - cs] = x;
                    tree_coef[i - cs] = a1;
                }
                shared_key = a1;
            }
            shared_u32 = res;
        }
        let next = workgroupUniformLoad(&shared_u32);
        if (next != NONE) {
            return vec2<u32>(next, NONE);
        }
        tree_a = workgroupUniformLoad(&shared_key);
        if (wor) {
            tree_list_n = i - cs + 1u;
        }
        n_j = tree_lane_sum(lid, SRC_TREE_U, tbase, dbase, v);
        if (wor) {
            w_j = tree_lane_sum(lid, SRC_TREE_QMASK, tbase, dbase, v);
        }
        if (n_j == 0u) {
            return vec2<u32>(NONE, NONE);
        }
    }
    // Every child tested and rejected; any other end (the budget spent, the loop cut short)
    // leaves the round unfinished.
    loop_cut = loop_cut || i < ce;
    return vec2<u32>(NONE, SRC_TREE_U);
}
