// The chain token rule (SPEC §1): one workgroup per round. Built on shaders/shared/ (exact, rng,
// reduce, rows, round). CPU twin: src/cpu/verify.rs (same phases, same names).

var<workgroup> first_reject: atomic<u32>;

// The token rule reads no row source of its own.
fn kernel_row_key(src: u32, tbase: u32, dbase: u32, x: u32) -> u32 {
    return 0u;
}

fn kernel_entry_cost(src: u32) -> u32 {
    return 1u;
}

@compute @workgroup_size(256)
fn verify(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let round = round_index(wid);
    if (round == NONE) {
        return;
    }
    let k = params.k;
    let v = params.vocab;

    begin_round(lid);
    // Phase 1: acceptance decisions; the first rejected position (K if none).
    if (lid == 0u) {
        atomicStore(&first_reject, k);
    }
    workgroupBarrier();
    let len = select(0u, k, charge(k / WG + 1u));
    var i = lid;
    for (; i < len; i += WG) {
        let tok = tokens[round * k + i];
        let p = tgt[(round * (k + 1u) + i) * v + tok];
        let q = drf[(round * k + i) * v + tok];
        if (!accepts(coins[round * k + i], q, p)) {
            atomicMin(&first_reject, i);
        }
    }
    workgroupBarrier();
    if (lid == 0u) {
        shared_u32 = atomicLoad(&first_reject);
    }
    let n_acc = workgroupUniformLoad(&shared_u32);
    loop_cut = loop_cut || i < len;

    // Phase 2: the one row that is needed: the residual at the first rejected position, or the
    // bonus row target[K].
    let tbase = (round * (k + 1u) + n_acc) * v;
    let dbase = (round * k + min(n_acc, max(k, 1u) - 1u)) * v;
    let chosen = recover(lid, n_acc < k, tbase, dbase, v, round, n_acc);

    // Phase 3: outputs, padded with -1.
    write_round_outputs(lid, round, k, n_acc, chosen);
}
