// Counter-based randomness: Philox4x32-10, keyed by the seed, addressed by
// (round, position, stream, index). Shared by every kernel. CPU twin: src/rng.rs (identical u32
// streams, tested).
// Also: 64-bit integer helpers (vec2<u32> = (lo, hi)) for the integer-domain sampler.

const PHILOX_M0: u32 = 0xD2511F53u;
const PHILOX_M1: u32 = 0xCD9E8D57u;
const PHILOX_W0: u32 = 0x9E3779B9u;
const PHILOX_W1: u32 = 0xBB67AE85u;

// Streams (keep in sync with src/rng.rs `stream`).
const STREAM_TARGET: u32 = 0u;
const STREAM_DRAFT: u32 = 1u;
const STREAM_DRAFT_TOKEN: u32 = 2u;
const STREAM_COIN: u32 = 3u;
const STREAM_RECOVERY: u32 = 4u;
const STREAM_SPREAD: u32 = 5u;

// (hi, lo) of the 64-bit product a * b, from 16-bit halves (WGSL has no 64-bit integers).
fn mulhilo(a: u32, b: u32) -> vec2<u32> {
    let al = a & 0xffffu;
    let ah = a >> 16u;
    let bl = b & 0xffffu;
    let bh = b >> 16u;
    let ll = al * bl;
    let hl = ah * bl;
    let lh = al * bh;
    let hh = ah * bh;
    let cross = (ll >> 16u) + (hl & 0xffffu) + lh;
    let hi = hh + (hl >> 16u) + (cross >> 16u);
    return vec2<u32>(hi, a * b);
}

fn philox4x32_10(counter: vec4<u32>, key: vec2<u32>) -> vec4<u32> {
    var c = counter;
    var k = key;
    var r = 0u;
    for (; r < 10u; r++) {
        let p0 = mulhilo(PHILOX_M0, c.x);
        let p1 = mulhilo(PHILOX_M1, c.z);
        c = vec4<u32>(p1.x ^ c.y ^ k.x, p1.y, p0.x ^ c.w ^ k.y, p0.y);
        k = k + vec2<u32>(PHILOX_W0, PHILOX_W1);
    }
    loop_cut = loop_cut || r != 10u;
    return c;
}

// The u32 number `index` of the stream (seed, round, position, stream); seed = (lo, hi).
fn random_u32(seed: vec2<u32>, round: u32, position: u32, stream: u32, index: u32) -> u32 {
    let b = philox4x32_10(vec4<u32>(index >> 2u, position, stream, round), seed);
    return b[index & 3u];
}

// A 64-bit uniform integer (lo, hi): the pair j of the stream.
fn random_u64(seed: vec2<u32>, round: u32, position: u32, stream: u32, j: u32) -> vec2<u32> {
    let b = philox4x32_10(vec4<u32>(j >> 1u, position, stream, round), seed);
    if ((j & 1u) == 0u) {
        return vec2<u32>(b.x, b.y);
    }
    return vec2<u32>(b.z, b.w);
}

// Uniform in [0, 1) with 24 bits (exact); and in (0, 1].
fn uniform_f32(x: u32) -> f32 {
    return f32(x >> 8u) * (1.0 / 16777216.0);
}

fn uniform_open_f32(x: u32) -> f32 {
    return f32((x >> 8u) + 1u) * (1.0 / 16777216.0);
}

fn u64_add(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {
    let lo = a.x + b.x;
    return vec2<u32>(lo, a.y + b.y + select(0u, 1u, lo < a.x));
}

fn u64_lt(a: vec2<u32>, b: vec2<u32>) -> bool {
    return a.y < b.y || (a.y == b.y && a.x < b.x);
}

// High 64 bits of the 128-bit product a * b.
fn u64_mulhi(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {
    let p00 = mulhilo(a.x, b.x);
    let p01 = mulhilo(a.x, b.y);
    let p10 = mulhilo(a.y, b.x);
    let p11 = mulhilo(a.y, b.y);
    let s1 = p00.x + p01.y;
    let c1 = select(0u, 1u, s1 < p00.x);
    let s2 = s1 + p10.y;
    let c2 = select(0u, 1u, s2 < s1);
    var r = vec2<u32>(p11.y, p11.x);
    r = u64_add(r, vec2<u32>(p01.x, 0u));
    r = u64_add(r, vec2<u32>(p10.x, 0u));
    r = u64_add(r, vec2<u32>(c1 + c2, 0u));
    return r;
}

fn ceil_log2(v: u32) -> u32 {
    if (v <= 1u) {
        return 0u;
    }
    return 32u - countLeadingZeros(v - 1u);
}

// Integer weight of a non-negative f32 (bits) for sampling: value * 2^(S - 150 - emax + 150),
// i.e. the mantissa shifted by e - emax + S (see `weight` in src/exact.rs).
fn weight(bits: u32, emax: u32, s: i32) -> vec2<u32> {
    let b = key(bits);
    if (b == 0u) {
        return vec2<u32>(0u, 0u);
    }
    let field = b >> 23u;
    let e = max(field, 1u);
    let m = (b & 0x007fffffu) | select(0u, 0x00800000u, field > 0u);
    let sh = i32(e) - i32(emax) + s;
    if (sh == 0) {
        return vec2<u32>(m, 0u);
    }
    if (sh > 0) {
        let u = u32(sh);
        if (u >= 32u) {
            return vec2<u32>(0u, m << (u - 32u));
        }
        return vec2<u32>(m << u, m >> (32u - u));
    }
    let r = u32(-sh);
    if (r >= 32u) {
        return vec2<u32>(0u, 0u);
    }
    return vec2<u32>(m >> r, 0u);
}
