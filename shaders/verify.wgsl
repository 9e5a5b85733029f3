// The batch verification kernel: one workgroup per round.
// Concatenated after shaders/exact.wgsl. CPU twin: src/cpu/verify.rs (same phases, same names).
// Keep `Params` in sync with `VerifyParams` in src/gpu/mod.rs.

struct Params {
    n_rounds: u32, // rounds in this chunk
    k: u32,        // drafted tokens per round
    vocab: u32,    // V
    groups_x: u32, // workgroups along x of the 2D dispatch
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> drf: array<u32>;                // f32 bits [n, K, V]
@group(0) @binding(2) var<storage, read> tgt: array<u32>;                // f32 bits [n, K + 1, V]
@group(0) @binding(3) var<storage, read> tokens: array<u32>;             // [n, K]
@group(0) @binding(4) var<storage, read> coins: array<u32>;              // f32 bits [n, K]
@group(0) @binding(5) var<storage, read_write> out_tokens: array<i32>;   // [n, K + 1]
@group(0) @binding(6) var<storage, read_write> out_accepted: array<u32>; // [n]

const WG: u32 = 256u;

var<workgroup> first_reject: atomic<u32>;
var<workgroup> shared_u32: u32;
var<workgroup> red_key: array<u32, WG>;
var<workgroup> red_idx: array<u32, WG>;

// Workgroup argmax of the per-thread candidates (ties to the lowest index); result in slot 0.
fn reduce_argmax(lid: u32, k: u32, i: u32) {
    red_key[lid] = k;
    red_idx[lid] = i;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s = s >> 1u) {
        if (lid < s) {
            let ok = red_key[lid + s];
            let oi = red_idx[lid + s];
            if (better(ok, oi, red_key[lid], red_idx[lid])) {
                red_key[lid] = ok;
                red_idx[lid] = oi;
            }
        }
        workgroupBarrier();
    }
}

// Argmax of the target row starting at `base` (bonus token, or the zero-residual fallback).
fn argmax_target(lid: u32, base: u32, v: u32) -> u32 {
    var bk = 0u;
    var bi = 0xffffffffu;
    for (var x = lid; x < v; x += WG) {
        let kx = key(tgt[base + x]);
        if (better(kx, x, bk, bi)) {
            bk = kx;
            bi = x;
        }
    }
    reduce_argmax(lid, bk, bi);
    if (lid == 0u) {
        shared_u32 = red_idx[0];
    }
    return workgroupUniformLoad(&shared_u32);
}

@compute @workgroup_size(256)
fn verify(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let round = wid.y * params.groups_x + wid.x;
    if (round >= params.n_rounds) {
        return;
    }
    let k = params.k;
    let v = params.vocab;

    // Phase 1: acceptance decisions; the first rejected position (K if none).
    if (lid == 0u) {
        atomicStore(&first_reject, k);
    }
    workgroupBarrier();
    for (var i = lid; i < k; i += WG) {
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

    // Phase 2: the one row that is needed.
    let tbase = (round * (k + 1u) + n_acc) * v;
    var chosen = 0u;
    if (n_acc < k) {
        // Residual argmax at the first rejected position.
        let dbase = (round * k + n_acc) * v;
        var bk = 0u;
        var bi = 0xffffffffu;
        for (var x = lid; x < v; x += WG) {
            let kx = residual_key(tgt[tbase + x], drf[dbase + x]);
            if (better(kx, x, bk, bi)) {
                bk = kx;
                bi = x;
            }
        }
        reduce_argmax(lid, bk, bi);
        if (lid == 0u) {
            // Zero residual everywhere: fall back to the target's argmax (flagged by V).
            shared_u32 = select(red_idx[0], v, red_key[0] == 0u);
        }
        chosen = workgroupUniformLoad(&shared_u32);
        if (chosen == v) {
            chosen = argmax_target(lid, tbase, v);
        }
    } else {
        // Bonus token: argmax of tgt[K].
        chosen = argmax_target(lid, tbase, v);
    }

    // Phase 3: outputs, padded with -1.
    for (var j = lid; j <= k; j += WG) {
        var t = -1;
        if (j < n_acc) {
            t = i32(tokens[round * k + j]);
        } else if (j == n_acc) {
            t = i32(chosen);
        }
        out_tokens[round * (k + 1u) + j] = t;
    }
    if (lid == 0u) {
        out_accepted[round] = n_acc;
    }
}
