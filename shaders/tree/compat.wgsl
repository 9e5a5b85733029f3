// The tree rules' compatibility profiles whose acceptance differs from the rules' own steps
// (SPEC §14; the tree kernel calls them by the codes after the registry's rules, which
// src/gpu/compat_tree.rs passes): `target-only` under `sglang` (code 0) and under `specsim`
// (code 1). `greedy` under every profile is the `greedy` step, invalid ids arriving as NONE.
// CPU twin: src/cpu/tree/compat.rs (the reference, `specsim::compat::decide_tree`).

// `sglang` `target-only` at node u (SGLang since its PR #35798): with S_j the f32 running sum of
// the target's probabilities of the children's tokens, child j of positive probability is
// accepted first iff coin < S_j or its probability is ≥ 1; a duplicate token counts twice.
// `specsim` `target-only` at node u (SPEC §7): the first child with coin < S_j, S_j the f64
// running sum (shaders/shared/f64.wgsl). Both are the tree kernel's `bucket_step`.

// The profile step of code `code` (the tree kernel's `H_RULE` less the registry's tree rules).
fn tree_step_compat(code: u32, lid: u32, round: u32, u: u32, cs: u32, ce: u32, tbase: u32) -> vec2<u32> {
    if (code == 0u) {
        return bucket_step(BUCKET_COMPAT_SGLANG, lid, round, u, cs, ce, tbase);
    }
    if (code == 1u) {
        return bucket_step(BUCKET_F64, lid, round, u, cs, ce, tbase);
    }
    return vec2<u32>(NONE, NONE);
}
