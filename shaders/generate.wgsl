// Study workloads generated on the device, never on the host: one workgroup per
// (round, position) writes target[round][position] and, for position < K, draft[round][position],
// the drafted token (sampled from the draft row), the coin and beta = sum_x min(p(x), q(x)).
// Built on shaders/shared/ (exact, rng, reduce, rows). CPU twin: src/cpu/generate/, with the
// same families, streams and formulas; exp/log/cos differ between devices, so the generated
// values are not bit-identical across engines (the decisions on them are). Keep
// `GenerateParams` in sync with src/gpu/params.rs (a naga test compares the member offsets).

struct GenerateParams {
    n_rounds: u32,     // rounds in this chunk
    k: u32,            // drafted positions per round
    vocab: u32,        // V
    groups_x: u32,     // workgroups along x of the 2D dispatch
    seed_lo: u32,      // seed of the counter-based generator
    seed_hi: u32,
    round_offset: u32, // global index of this chunk's first round
    family: u32,       // FAMILY_*
    bits: u32,         // quantized: bits of the draft's logits
    zipf_on: u32,      // 1 when the zipf exponent is nonzero
    t_target: f32,     // target temperature
    t_draft: f32,      // draft temperature
    sigma: f32,        // logit-noise: noise scale
    lambda: f32,       // mixture: weight of the unrelated distribution
    zipf: f32,         // Zipf exponent of the logits' decay with the token id
    spread: u32,       // the family's parameter drawn per (round, position): 0 none, 1 uniform, 2 log-normal
    spread_a: f32,     // lo, or mu
    spread_b: f32,     // hi, or s
    features: u32,     // 1: write each position's stopping features after the betas
    pad1: u32,
}

@group(0) @binding(0) var<uniform> params: GenerateParams;
@group(0) @binding(1) var<storage, read_write> drf: array<u32>;      // f32 bits [n, K, V]
@group(0) @binding(2) var<storage, read_write> tgt: array<u32>;      // f32 bits [n, K + 1, V]
@group(0) @binding(3) var<storage, read_write> tokens: array<u32>;   // [n, K]
@group(0) @binding(4) var<storage, read_write> coins: array<u32>;    // f32 bits [n, K]
@group(0) @binding(5) var<storage, read_write> betas: array<u32>;    // f32 bits [n, K], then [n, K, 4] features

fn seed() -> vec2<u32> {
    return vec2<u32>(params.seed_lo, params.seed_hi);
}

// The draft tokens are sampled from SRC_DRAFT, a shared source; none of its own.
fn kernel_row_key(src: u32, tbase: u32, dbase: u32, x: u32) -> u32 {
    return 0u;
}

fn kernel_entry_cost(src: u32) -> u32 {
    return 1u;
}

const FAMILY_LOGIT_NOISE: u32 = 0u;
const FAMILY_MIXTURE: u32 = 1u;
const FAMILY_QUANTIZED: u32 = 2u;

var<workgroup> red_f32: array<f32, WG>;

// Workgroup sum (or max) of one f32 per invocation, in a fixed tree order.
fn reduce_f32(lid: u32, x: f32, is_max: bool) -> f32 {
    workgroupBarrier();
    red_f32[lid] = x;
    workgroupBarrier();
    var s = WG / 2u;
    for (; s > 0u; s = s >> 1u) {
        if (lid < s) {
            let o = red_f32[lid + s];
            red_f32[lid] = select(red_f32[lid] + o, max(red_f32[lid], o), is_max);
        }
        workgroupBarrier();
    }
    loop_cut = loop_cut || s != 0u;
    if (lid == 0u) {
        shared_key = bitcast<u32>(red_f32[0]);
    }
    return bitcast<f32>(workgroupUniformLoad(&shared_key));
}

// Standard normal x of a stream (Box-Muller, as src/normal.rs): the Philox block of counter
// x / 4 gives normals 4b, 4b + 1 from its words (x, y) and 4b + 2, 4b + 3 from (z, w), the first
// word of a pair for the radius, the second for the angle (cos for even x, sin for odd x).
fn normal(round: u32, position: u32, stream: u32, x: u32) -> f32 {
    let b = philox4x32_10(vec4<u32>(x >> 2u, position, stream, round), seed());
    let second = (x & 2u) != 0u;
    let u1 = uniform_open_f32(select(b.x, b.z, second));
    let u2 = uniform_f32(select(b.y, b.w, second));
    let r = sqrt(-2.0 * log(u1));
    let theta = 6.2831853 * u2;
    return select(r * cos(theta), r * sin(theta), (x & 1u) != 0u);
}

// The family's parameter at (round, position): `fixed`, or drawn from the spread (stream
// SPREAD, word 0; src/workload.rs `Spread::draw`); a mixture's lambda clamped to [0, 1].
fn param_at(fixed: f32, round: u32, position: u32, clamp01: bool) -> f32 {
    var x = fixed;
    if (params.spread == 1u) {
        let u = uniform_f32(random_u32(seed(), round, position, STREAM_SPREAD, 0u));
        x = params.spread_a + (params.spread_b - params.spread_a) * u;
    } else if (params.spread == 2u) {
        x = exp(params.spread_a + params.spread_b * normal(round, position, STREAM_SPREAD, 0u));
    }
    if (clamp01 && params.spread != 0u) {
        x = clamp(x, 0.0, 1.0);
    }
    return x;
}

// The logits of a stream: standard normal, plus a Zipf-like decay with the token id when asked.
fn logit(round: u32, position: u32, stream: u32, x: u32) -> f32 {
    var z = normal(round, position, stream, x);
    if (params.zipf_on == 1u) {
        z = z - params.zipf * log(1.0 + f32(x));
    }
    return z;
}

fn row_store(is_draft: bool, i: u32, x: f32) {
    if (is_draft) {
        drf[i] = bitcast<u32>(x);
    } else {
        tgt[i] = bitcast<u32>(x);
    }
}

fn row_load(is_draft: bool, i: u32) -> f32 {
    if (is_draft) {
        return bitcast<f32>(drf[i]);
    }
    return bitcast<f32>(tgt[i]);
}

// Softmax, in place, of the logits each invocation stored at base + x (x = lid, lid + WG, ...).
fn softmax_in_place(lid: u32, is_draft: bool, base: u32, v: u32) {
    var m = -3.0e38;
    var x0 = lid;
    for (; x0 < v; x0 += WG) {
        let x = x0;
        m = max(m, row_load(is_draft, base + x));
    }
    loop_cut = loop_cut || x0 < v;
    let mx = reduce_f32(lid, m, true);
    var s = 0.0;
    var x1 = lid;
    for (; x1 < v; x1 += WG) {
        let x = x1;
        let e = exp(row_load(is_draft, base + x) - mx);
        row_store(is_draft, base + x, e);
        s += e;
    }
    loop_cut = loop_cut || x1 < v;
    let inv = 1.0 / reduce_f32(lid, s, false);
    var x2 = lid;
    for (; x2 < v; x2 += WG) {
        let x = x2;
        row_store(is_draft, base + x, row_load(is_draft, base + x) * inv);
    }
    loop_cut = loop_cut || x2 < v;
}

@compute @workgroup_size(256)
fn generate(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let k = params.k;
    let k1 = k + 1u;
    let v = params.vocab;
    let item = wid.y * params.groups_x + wid.x;
    if (item >= params.n_rounds * k1) {
        return;
    }
    begin_round(lid);
    let r = item / k1;
    let pos = item % k1;
    let gr = params.round_offset + r;
    let tbase = (r * k1 + pos) * v;

    // Target: softmax(z / T_target).
    var x3 = lid;
    for (; x3 < v; x3 += WG) {
        let x = x3;
        row_store(false, tbase + x, logit(gr, pos, STREAM_TARGET, x) / params.t_target);
    }
    loop_cut = loop_cut || x3 < v;
    softmax_in_place(lid, false, tbase, v);
    if (pos == k) {
        // The bonus row has no draft. (Its loops are a subset of every other position's, so a
        // cut here cuts those too, which their betas report.)
        return;
    }

    let dbase = (r * k + pos) * v;
    let fam = params.family;
    if (fam == FAMILY_QUANTIZED) {
        // softmax(quantize(z, bits) / T_draft), on the row's own range [min z, max z].
        var lo = 3.0e38;
        var hi = -3.0e38;
        var x4 = lid;
        for (; x4 < v; x4 += WG) {
            let x = x4;
            let z = logit(gr, pos, STREAM_TARGET, x);
            row_store(true, dbase + x, z);
            lo = min(lo, z);
            hi = max(hi, z);
        }
        loop_cut = loop_cut || x4 < v;
        let zmin = -reduce_f32(lid, -lo, true);
        let zmax = reduce_f32(lid, hi, true);
        let levels = f32((1u << params.bits) - 1u);
        let step = (zmax - zmin) / levels;
        var x5 = lid;
        for (; x5 < v; x5 += WG) {
            let x = x5;
            var z = row_load(true, dbase + x);
            if (step > 0.0) {
                z = zmin + round((z - zmin) / step) * step;
            }
            row_store(true, dbase + x, z / params.t_draft);
        }
        loop_cut = loop_cut || x5 < v;
        softmax_in_place(lid, true, dbase, v);
    } else if (fam == FAMILY_MIXTURE) {
        // (1 - lambda) * target + lambda * softmax(w / T_target), w independent of z.
        let lambda = param_at(params.lambda, gr, pos, true);
        var x6 = lid;
        for (; x6 < v; x6 += WG) {
            let x = x6;
            row_store(true, dbase + x, logit(gr, pos, STREAM_DRAFT, x) / params.t_target);
        }
        loop_cut = loop_cut || x6 < v;
        softmax_in_place(lid, true, dbase, v);
        var x7 = lid;
        for (; x7 < v; x7 += WG) {
            let x = x7;
            let p = row_load(false, tbase + x);
            row_store(true, dbase + x, (1.0 - lambda) * p + lambda * row_load(true, dbase + x));
        }
        loop_cut = loop_cut || x7 < v;
    } else {
        // logit-noise: softmax((z + sigma * e) / T_draft).
        let sigma = param_at(params.sigma, gr, pos, false);
        var x8 = lid;
        for (; x8 < v; x8 += WG) {
            let x = x8;
            let z = logit(gr, pos, STREAM_TARGET, x);
            let e = normal(gr, pos, STREAM_DRAFT, x);
            row_store(true, dbase + x, (z + sigma * e) / params.t_draft);
        }
        loop_cut = loop_cut || x8 < v;
        softmax_in_place(lid, true, dbase, v);
    }
    // The rows were written by every invocation; below, invocations read each other's entries.
    storageBarrier();

    var b = 0.0;
    var x9 = lid;
    for (; x9 < v; x9 += WG) {
        let x = x9;
        b += min(row_load(false, tbase + x), row_load(true, dbase + x));
    }
    loop_cut = loop_cut || x9 < v;
    let beta = reduce_f32(lid, b, false);
    let tok = sample_row(lid, SRC_DRAFT, tbase, dbase, v, random_u64(seed(), gr, pos, STREAM_DRAFT_TOKEN, 0u));
    let coin = bitcast<u32>(uniform_f32(random_u32(seed(), gr, pos, STREAM_COIN, 0u)));
    // A position whose loops were cut short (an adapter's loop limit) reports a NaN beta: the
    // host refuses the chunk rather than use its rows.
    // The stopping policies' features (src/cpu/generate/ `stop_features`): q(x) and p(x) at the
    // drafted token, max q, and the draft row's entropy -sum q ln q in nats (f32).
    var qmax = 0.0;
    var ent = 0.0;
    if (params.features == 1u) {
        var hm = 0.0;
        var hs = 0.0;
        var x10 = lid;
        for (; x10 < v; x10 += WG) {
            let q = row_load(true, dbase + x10);
            hm = max(hm, q);
            if (q > 0.0) {
                hs -= q * log(q);
            }
        }
        loop_cut = loop_cut || x10 < v;
        qmax = reduce_f32(lid, hm, true);
        ent = reduce_f32(lid, hs, false);
    }
    let unfinished = round_unfinished(lid);
    if (lid == 0u && params.features == 1u) {
        let xt = select(tok, 0u, tok == NONE);
        let f = params.n_rounds * k + (r * k + pos) * 4u;
        betas[f] = drf[dbase + xt];
        betas[f + 1u] = tgt[tbase + xt];
        betas[f + 2u] = bitcast<u32>(qmax);
        betas[f + 3u] = bitcast<u32>(ent);
    }
    if (lid == 0u) {
        tokens[r * k + pos] = select(tok, 0u, tok == NONE);
        coins[r * k + pos] = coin;
        betas[r * k + pos] = select(bitcast<u32>(beta), 0x7fc00000u, unfinished);
    }
}
