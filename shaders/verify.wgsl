// The batch verification kernel: one workgroup per round.
// Concatenated after shaders/exact.wgsl and shaders/rng.wgsl (and before shaders/study.wgsl,
// which shares these bindings). CPU twin: src/cpu/verify.rs (same phases, same names).
// Keep `Params` in sync with `GpuParams` in src/gpu/mod.rs.

struct Params {
    n_rounds: u32,     // rounds in this chunk
    k: u32,            // drafted tokens per round
    vocab: u32,        // V
    groups_x: u32,     // workgroups along x of the 2D dispatch
    mode: u32,         // recovery: 0 = argmax, 1 = sample
    seed_lo: u32,      // seed of the counter-based generator
    seed_hi: u32,
    round_offset: u32, // global index of this chunk's first round
    family: u32,       // study workload (shaders/study.wgsl)
    bits: u32,         // quantized: bits of the draft's logits
    zipf_on: u32,      // 1 when the zipf exponent is nonzero
    pad0: u32,
    t_target: f32,
    t_draft: f32,
    sigma: f32,
    lambda: f32,
    zipf: f32,
    pad1: f32,
    pad2: f32,
    pad3: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> drf: array<u32>;            // f32 bits [n, K, V]
@group(0) @binding(2) var<storage, read_write> tgt: array<u32>;            // f32 bits [n, K + 1, V]
@group(0) @binding(3) var<storage, read_write> tokens: array<u32>;         // [n, K]
@group(0) @binding(4) var<storage, read_write> coins: array<u32>;          // f32 bits [n, K]
@group(0) @binding(5) var<storage, read_write> out_tokens: array<i32>;     // [n, K + 1]
@group(0) @binding(6) var<storage, read_write> out_accepted: array<u32>;   // [n]
@group(0) @binding(7) var<storage, read_write> betas: array<u32>;          // f32 bits [n, K] (studies; block's survivals)
@group(0) @binding(8) var<storage, read_write> rates: array<f32>;          // [K] (rates family)

const WG: u32 = 256u;
const NONE: u32 = 0xffffffffu;
// Row sources for `row_key` and `sample_row`.
const SRC_TARGET: u32 = 0u;
const SRC_RESIDUAL: u32 = 1u;
const SRC_DRAFT: u32 = 2u;
const SRC_SCALED: u32 = 3u; // max(row_scale * t - d, 0): block verification's residual

// The scale of SRC_SCALED (f32 bits): P_tau in shaders/block.wgsl.
var<private> row_scale: u32 = 0x3f800000u;

var<workgroup> first_reject: atomic<u32>;
var<workgroup> shared_u32: u32;
var<workgroup> shared_key: u32;
var<workgroup> red_key: array<u32, WG>;
var<workgroup> red_idx: array<u32, WG>;

fn seed() -> vec2<u32> {
    return vec2<u32>(params.seed_lo, params.seed_hi);
}

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

// The key (f32 bits, sign cleared) of entry x of a row source.
fn row_key(src: u32, tbase: u32, dbase: u32, x: u32) -> u32 {
    if (src >= SRC_TREE_MASKED) {
        return tree_row_key(src, tbase, dbase, x);
    }
    if (src == SRC_TARGET) {
        return key(tgt[tbase + x]);
    }
    if (src == SRC_RESIDUAL) {
        return residual_key(tgt[tbase + x], drf[dbase + x]);
    }
    if (src == SRC_SCALED) {
        return residual_key(mul_bits(row_scale, tgt[tbase + x]), drf[dbase + x]);
    }
    return key(drf[dbase + x]);
}

// Argmax of a row source (ties to the lowest index): (top key, index); an all-zero row gives
// index 0.
fn argmax_row(lid: u32, src: u32, tbase: u32, dbase: u32, v: u32) -> vec2<u32> {
    var bk = 0u;
    var bi = NONE;
    for (var x = lid; x < v; x += WG) {
        let kx = row_key(src, tbase, dbase, x);
        if (better(kx, x, bk, bi)) {
            bk = kx;
            bi = x;
        }
    }
    reduce_argmax(lid, bk, bi);
    if (lid == 0u) {
        shared_u32 = red_idx[0];
        shared_key = red_key[0];
    }
    let idx = workgroupUniformLoad(&shared_u32);
    let top = workgroupUniformLoad(&shared_key);
    return vec2<u32>(top, idx);
}

// Samples an index of a row source with probability proportional to its values, exactly in
// integers (twin of `sample_index` in src/exact.rs): each invocation sums the integer weights of
// a contiguous block, invocation 0 finds the block and then the entry where the cumulative
// weight first exceeds floor(total * u / 2^64). NONE when every weight is 0.
fn sample_row(lid: u32, src: u32, tbase: u32, dbase: u32, v: u32, u: vec2<u32>) -> u32 {
    let top = argmax_row(lid, src, tbase, dbase, v);
    let emax = max(top.x >> 23u, 1u);
    let s = 39 - i32(ceil_log2(v));
    let per = (v + WG - 1u) / WG;
    let start = min(lid * per, v);
    let end = min(start + per, v);
    var acc = vec2<u32>(0u, 0u);
    for (var x = start; x < end; x++) {
        acc = u64_add(acc, weight(row_key(src, tbase, dbase, x), emax, s));
    }
    workgroupBarrier();
    red_key[lid] = acc.x;
    red_idx[lid] = acc.y;
    workgroupBarrier();
    if (lid == 0u) {
        var total = vec2<u32>(0u, 0u);
        for (var b = 0u; b < WG; b++) {
            total = u64_add(total, vec2<u32>(red_key[b], red_idx[b]));
        }
        var result = NONE;
        if (total.x != 0u || total.y != 0u) {
            let thr = u64_mulhi(total, u);
            var cum = vec2<u32>(0u, 0u);
            var block = WG - 1u;
            for (var b = 0u; b < WG; b++) {
                let next = u64_add(cum, vec2<u32>(red_key[b], red_idx[b]));
                if (u64_lt(thr, next)) {
                    block = b;
                    break;
                }
                cum = next;
            }
            let bs = min(block * per, v);
            let be = min(bs + per, v);
            for (var x = bs; x < be; x++) {
                cum = u64_add(cum, weight(row_key(src, tbase, dbase, x), emax, s));
                if (u64_lt(thr, cum)) {
                    result = x;
                    break;
                }
            }
        }
        shared_u32 = result;
    }
    return workgroupUniformLoad(&shared_u32);
}

// The recovery token from the target row at `tbase` (and, unless `res_src` is NONE, the residual
// source `res_src` of the rows at `tbase` and `dbase`): argmax (seed mode) or a sample (lossless
// mode); a zero residual falls back to the target row. `top` is the residual's argmax when the
// caller already has it (NONE in its y otherwise).
fn recover_from(lid: u32, res_src: u32, tbase: u32, dbase: u32, v: u32, round: u32, position: u32, known: vec2<u32>) -> u32 {
    let sample = params.mode == 1u;
    let gr = params.round_offset + round;
    var chosen = NONE;
    if (res_src != NONE) {
        if (sample) {
            chosen = sample_row(lid, res_src, tbase, dbase, v, random_u64(seed(), gr, position, STREAM_RECOVERY, 0u));
        } else {
            var top = known;
            if (top.y == NONE) {
                top = argmax_row(lid, res_src, tbase, dbase, v);
            }
            chosen = select(top.y, NONE, top.x == 0u);
        }
    }
    if (chosen == NONE) {
        if (sample) {
            chosen = sample_row(lid, SRC_TARGET, tbase, dbase, v, random_u64(seed(), gr, position, STREAM_RECOVERY, 1u));
        }
        if (chosen == NONE) {
            chosen = argmax_row(lid, SRC_TARGET, tbase, dbase, v).y;
        }
    }
    return chosen;
}

// The token rule's recovery: the residual at a rejection, or the bonus row.
fn recover(lid: u32, residual: bool, tbase: u32, dbase: u32, v: u32, round: u32, position: u32) -> u32 {
    return recover_from(lid, select(NONE, SRC_RESIDUAL, residual), tbase, dbase, v, round, position, vec2<u32>(0u, NONE));
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

    // Phase 2: the one row that is needed: the residual at the first rejected position, or the
    // bonus row target[K].
    let tbase = (round * (k + 1u) + n_acc) * v;
    let dbase = (round * k + min(n_acc, max(k, 1u) - 1u)) * v;
    let chosen = recover(lid, n_acc < k, tbase, dbase, v, round, n_acc);

    // Phase 3: outputs, padded with -1.
    write_round_outputs(lid, round, k, n_acc, chosen);
}

// A round's outputs: the accepted drafts, the chosen token, then -1; and the number accepted.
// (Every rule's kernel ends with this; `write_outputs` in src/cpu/verify.rs is its twin.)
fn write_round_outputs(lid: u32, round: u32, k: u32, n_acc: u32, chosen: u32) {
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
