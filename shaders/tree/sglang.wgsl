// sglang:ts:ta (SPEC §13; SGLang's relaxed thresholds) at node u: with S_j the f32 running sum of
// the target's probabilities of the children's tokens, child j is accepted first iff
// t[tok_j] >= ts or coin * ta <= S_j (decided exactly, as the negation of S_j < coin * ta);
// otherwise stop with the target row masked at the children's tokens (the tree kernel's
// `bucket_step`). CPU twin: src/cpu/tree/sglang.rs.
fn tree_step_sglang(lid: u32, round: u32, u: u32, cs: u32, ce: u32, tbase: u32, dbase: u32, v: u32) -> vec2<u32> {
    return bucket_step(BUCKET_SGLANG, lid, round, u, cs, ce, tbase);
}
