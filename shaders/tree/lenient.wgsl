// lenient:l (SPEC §13; Leviathan et al.'s lenience) at node u of a path tree: the child's token x
// is accepted iff coin * q[x] * l < t[x], decided exactly; otherwise the correction comes from
// max(t - fl(l * q), 0) (SRC_TREE_U with a = l and no listed tokens), or the target row where
// that is zero everywhere. CPU twin: src/cpu/tree/lenient.rs.
fn tree_step_lenient(lid: u32, round: u32, u: u32, cs: u32, ce: u32, tbase: u32, dbase: u32, v: u32) -> vec2<u32> {
    let l = tree_h(H_RULE_P0);
    tree_a = l;
    tree_list_n = 0u;
    if (lid == 0u) {
        let c = child_at(cs);
        let x = node_token(round, c);
        var found = NONE;
        if (accepts_ratio(node_coin(round, c), key(drf[dbase + x]), l, key(tgt[tbase + x]), ONE_BITS)) {
            found = c;
        }
        shared_u32 = found;
    }
    let next = workgroupUniformLoad(&shared_u32);
    if (next != NONE) {
        return vec2<u32>(next, NONE);
    }
    return vec2<u32>(NONE, SRC_TREE_U);
}
