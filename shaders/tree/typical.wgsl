// typical:eps:delta (SPEC §13; vLLM v0 / Medusa typical acceptance) at node u of a path tree: the
// child's token x is accepted iff t[x] > the node's threshold (f32 bits, computed in f64 by the
// host from the node's row: src/reference/tree/typical.rs, `typical_threshold_f32`, read at
// H_PARAMS); otherwise the correction is the target row itself (sampled, or its argmax). No coin
// is read. CPU twin: src/cpu/tree/typical.rs.
fn tree_step_typical(lid: u32, round: u32, u: u32, cs: u32, ce: u32, tbase: u32, dbase: u32, v: u32) -> vec2<u32> {
    let threshold = topo[tree_h(H_PARAMS) + (round * tree_h(H_NODES) + u) * 3u];
    if (lid == 0u) {
        let c = child_at(cs);
        var found = NONE;
        if (key(tgt[tbase + node_token(round, c)]) > threshold) {
            found = c;
        }
        shared_u32 = found;
    }
    let next = workgroupUniformLoad(&shared_u32);
    if (next != NONE) {
        return vec2<u32>(next, NONE);
    }
    return vec2<u32>(NONE, NONE);
}
