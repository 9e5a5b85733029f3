// spectr (SPEC §7; SpecTr's K-SEQ) at node u: the node's values [rho, C, D] (f32 bits, computed
// in f64 by the host: src/reference/tree/spectr.rs, `spectr_f32`) are read from the tree
// description at H_PARAMS. Child x is accepted iff coin * fl(rho q[x]) < t[x], decided exactly,
// in increasing node index; otherwise the correction comes from SRC_TREE_SPECTR. CPU twin:
// src/cpu/tree/spectr.rs.
var<private> spectr_rho: u32 = 0u;
var<private> spectr_c: u32 = 0u;
var<private> spectr_d: u32 = 0u;

fn tree_step_spectr(lid: u32, round: u32, u: u32, cs: u32, ce: u32, tbase: u32, dbase: u32, v: u32) -> vec2<u32> {
    let at = tree_h(H_PARAMS) + (round * tree_h(H_NODES) + u) * 3u;
    spectr_rho = topo[at];
    spectr_c = topo[at + 1u];
    spectr_d = topo[at + 2u];
    let end = cs + loop_len(ce - cs);
    if (lid == 0u) {
        var found = NONE;
        var i = cs;
        for (; i < end; i++) {
            let c = child_at(i);
            let x = node_token(round, c);
            let y = mul_bits(spectr_rho, key(drf[dbase + x]));
            if (accepts(node_coin(round, c), y, tgt[tbase + x])) {
                found = c;
                break;
            }
        }
        loop_cut = loop_cut || (found == NONE && i < end);
        shared_u32 = found;
    }
    let next = workgroupUniformLoad(&shared_u32);
    if (next != NONE) {
        return vec2<u32>(next, NONE);
    }
    return vec2<u32>(NONE, SRC_TREE_SPECTR);
}

// Entry x of the correction's vector: max(t - fl(C q), 0) where fl(rho q) <= t, else
// max(t - fl(D t), 0).
fn spectr_row_key(tbase: u32, dbase: u32, x: u32) -> u32 {
    let t = key(tgt[tbase + x]);
    let q = key(drf[dbase + x]);
    let below = mul_bits(spectr_rho, q) <= t;
    return select(residual_key(t, mul_bits(spectr_d, t)), residual_key(t, mul_bits(spectr_c, q)), below);
}
