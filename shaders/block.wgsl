// Block verification (SPEC §6): one workgroup per round. Built on shaders/shared/ (exact, rng,
// reduce, rows, round). CPU twin: src/cpu/block.rs (same phases, same order of operations; its
// module docs state the precision policy).

// [n, K] f32 bits: the survivals P_1..P_K of each round (read back by block studies).
@group(0) @binding(7) var<storage, read_write> betas: array<u32>;

// Block verification reads SRC_SCALED, a shared source, and none of its own.
fn kernel_row_key(src: u32, tbase: u32, dbase: u32, x: u32) -> u32 {
    return 0u;
}

fn kernel_entry_cost(src: u32) -> u32 {
    return 1u;
}

// R = sum of max(fl(s * t) - d, 0) over one row, in the CPU twin's order: each invocation adds
// its strided entries (x = lid, lid + WG, ...) in ascending x, then a pairwise tree over the
// invocations. Also each invocation's best (key, index) of the same values, for the argmax.
// Returns (R, best key, best index) of this invocation; R is the same in every invocation.
fn scaled_row(lid: u32, tbase: u32, dbase: u32, v: u32) -> vec3<u32> {
    var acc = 0u;
    var bk = 0u;
    var bi = NONE;
    let len = row_len(v, 1u);
    var x = lid;
    for (; x < len; x += WG) {
        let r = row_key(SRC_SCALED, tbase, dbase, x);
        acc = add_key(acc, r);
        if (better(r, x, bk, bi)) {
            bk = r;
            bi = x;
        }
    }
    loop_cut = loop_cut || x < len;
    return vec3<u32>(reduce_add_key(lid, acc), bk, bi);
}

@compute @workgroup_size(256)
fn verify_block(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let round = round_index(wid);
    if (round == NONE) {
        return;
    }
    let k = params.k;
    let v = params.vocab;
    begin_round(lid);

    // Phase 1: the survivals P_1..P_K (scalars, one invocation) into betas[round, 0..K].
    // Each survival divides exactly (`quotient_bits`).
    let k1 = select(0u, k, charge_n(k, 1u + QUOTIENT_COST));
    if (lid == 0u) {
        var s = ONE_BITS;
        var i = 0u;
        for (; i < k1; i++) {
            let tok = tokens[round * k + i];
            s = survival_bits(s, tgt[(round * (k + 1u) + i) * v + tok], drf[(round * k + i) * v + tok]);
            betas[round * k + i] = s;
        }
        loop_cut = loop_cut || i < k1;
    }
    storageBarrier();
    workgroupBarrier();

    // Phase 2: tau, scanning from K downward; stop at the first passing coin. The last threshold
    // is exact: coin * q < P_{K-1} * p.
    var tau = 0u;
    var top = vec2<u32>(0u, NONE);
    if (k > 0u) {
        let i = k - 1u;
        let tok = tokens[round * k + i];
        var s = ONE_BITS;
        if (i > 0u) {
            s = betas[round * k + i - 1u];
        }
        if (lid == 0u) {
            shared_u32 = select(0u, 1u, accepts_scaled(coins[round * k + i], drf[(round * k + i) * v + tok], s, tgt[(round * (k + 1u) + i) * v + tok]));
        }
        if (workgroupUniformLoad(&shared_u32) == 1u) {
            tau = k;
        }
    }
    if (tau < k) {
        // Natural ends: a passing coin (break), or i down to 0; else the loop was cut (or the
        // round ran out of work).
        var done = false;
        var i = k - 1u;
        for (; i >= 1u && charge(1u); i--) {
            row_scale = betas[round * k + i - 1u];
            let tbase = (round * (k + 1u) + i) * v;
            let dbase = (round * k + i) * v;
            let row = scaled_row(lid, tbase, dbase, v);
            if (lid == 0u) {
                let den = add_key(row.x, residual_key(ONE_BITS, row_scale));
                shared_u32 = select(0u, 1u, den == 0u || accepts(coins[round * k + i - 1u], den, row.x));
            }
            if (workgroupUniformLoad(&shared_u32) == 1u) {
                tau = i;
                if (params.mode == 0u) {
                    reduce_argmax(lid, row.y, row.z);
                    if (lid == 0u) {
                        shared_u32 = red_idx[0];
                        shared_key = red_key[0];
                    }
                    top = vec2<u32>(workgroupUniformLoad(&shared_key), workgroupUniformLoad(&shared_u32));
                }
                done = true;
                break;
            }
        }
        loop_cut = loop_cut || (!done && i != 0u);
    }

    // Phase 3: the bonus row, or the correction at tau from max(P_tau * t - d, 0).
    let tbase = (round * (k + 1u) + tau) * v;
    let dbase = (round * k + min(tau, max(k, 1u) - 1u)) * v;
    var res_src = NONE;
    if (tau < k) {
        res_src = SRC_SCALED;
        row_scale = ONE_BITS;
        if (tau > 0u) {
            row_scale = betas[round * k + tau - 1u];
        }
    }
    let chosen = recover_from(lid, res_src, tbase, dbase, v, round, tau, top);

    // Phase 4: outputs, padded with -1.
    write_round_outputs(lid, round, k, tau, chosen);
}
