// The tree rules' compatibility profiles whose acceptance differs from the rules' own steps
// (SPEC §14; the tree kernel calls them by the codes after the registry's rules, which
// src/gpu/compat_tree.rs passes): `target-only` under `sglang` (code 0) and under `specsim`
// (code 1). `greedy` under every profile is the `greedy` step, invalid ids arriving as NONE.
// CPU twin: src/cpu/tree/compat.rs (the reference, `specsim::compat::decide_tree`).

// `sglang` `target-only` at node u (SGLang since its PR #35798): with S_j the f32 running sum of
// the target's probabilities of the children's tokens, child j of positive probability is
// accepted first iff coin < S_j or its probability is ≥ 1; a duplicate token counts twice.
fn tree_step_compat_sglang(lid: u32, round: u32, u: u32, cs: u32, ce: u32, tbase: u32) -> vec2<u32> {
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
            if (p > 0u && (coin < sum || p >= ONE_BITS)) {
                found = c;
                break;
            }
        }
        loop_cut = loop_cut || (found == NONE && i < end);
        shared_u32 = found;
    }
    return accept_or_mask(lid, round, cs, ce);
}

// `specsim` `target-only` at node u (SPEC §7): the first child with coin < S_j, S_j the f64
// running sum of the target's probabilities of the children's tokens (shaders/shared/f64.wgsl).
fn tree_step_compat_specsim(lid: u32, round: u32, u: u32, cs: u32, ce: u32, tbase: u32) -> vec2<u32> {
    let end = cs + loop_len(ce - cs);
    if (lid == 0u) {
        var found = NONE;
        var sum = vec2<u32>(0u, 0u);
        let coin = f64_of_f32(key(node_coin(round, u)));
        var i = cs;
        for (; i < end; i++) {
            let c = child_at(i);
            sum = f64_add(sum, f64_of_f32(key(tgt[tbase + node_token(round, c)])));
            if (f64_lt(coin, sum)) {
                found = c;
                break;
            }
        }
        loop_cut = loop_cut || (found == NONE && i < end);
        shared_u32 = found;
    }
    return accept_or_mask(lid, round, cs, ce);
}

// The profile step of code `code` (the tree kernel's `H_RULE` less the registry's tree rules).
fn tree_step_compat(code: u32, lid: u32, round: u32, u: u32, cs: u32, ce: u32, tbase: u32) -> vec2<u32> {
    if (code == 0u) {
        return tree_step_compat_sglang(lid, round, u, cs, ce, tbase);
    }
    if (code == 1u) {
        return tree_step_compat_specsim(lid, round, u, cs, ce, tbase);
    }
    return vec2<u32>(NONE, NONE);
}
