// Bit-exact f32 arithmetic for the batch engines.
// CPU twin: src/exact.rs (same function names; keep the two in sync).
//
// GPUs may flush subnormals, fuse operations and divide with 2.5 ULP error, so every decision
// here is made on the bit patterns of the f32 inputs, with integer arithmetic where the hardware
// could differ from IEEE-754:
// - acceptance `coin < min(1, p / q)` is the exact real comparison `coin * q < p`;
// - the residual `max(0, t - d)` is IEEE-754 round-to-nearest-even f32 subtraction;
// - argmax compares the bits of non-negative floats as u32 (same order), ties to the lowest id.

// Clears the sign bit: -0.0 becomes +0.0; order of non-negative floats is kept.
fn key(bits: u32) -> u32 {
    return bits & 0x7fffffffu;
}

// (m, e) with value = m * 2^(e - 150) and m in [2^23, 2^24), for nonzero finite non-negative bits.
struct Unpacked {
    m: u32,
    e: i32,
}

fn unpack(bits: u32) -> Unpacked {
    let field = bits >> 23u;
    let frac = bits & 0x007fffffu;
    if (field == 0u) {
        let sh = countLeadingZeros(frac) - 8u;
        return Unpacked(frac << sh, 1 - i32(sh));
    }
    return Unpacked(frac | 0x00800000u, i32(field));
}

// Is coin * q < p in exact real arithmetic? (Twin of `accepts` in src/exact.rs.)
fn accepts(coin_bits: u32, q_bits: u32, p_bits: u32) -> bool {
    let c = key(coin_bits);
    let q = key(q_bits);
    let p = key(p_bits);
    if (p == 0u) {
        return false;
    }
    if (c == 0u || q == 0u) {
        return true;
    }
    let uc = unpack(c);
    let uq = unpack(q);
    let up = unpack(p);
    let s = up.e - uc.e - uq.e + 150;
    if (s <= 22) {
        return false;
    }
    if (s >= 25) {
        return true;
    }
    let ch = uc.m >> 12u;
    let cl = uc.m & 0xfffu;
    let qh = uq.m >> 12u;
    let ql = uq.m & 0xfffu;
    let mid = ch * ql + cl * qh;
    let lo_full = cl * ql + ((mid & 0xfffu) << 12u);
    let hi = ch * qh + (mid >> 12u) + (lo_full >> 24u);
    let lo = lo_full & 0x00ffffffu;
    var rh = up.m;
    var rl = 0u;
    if (s == 23) {
        rh = up.m >> 1u;
        rl = (up.m & 1u) << 23u;
    }
    return hi < rh || (hi == rh && lo < rl);
}

// IEEE-754 binary32 subtraction t - d for keys t > d > 0, in integers.
// (Twin of `residual_bits` in src/exact.rs.)
fn residual_slow(t: u32, d: u32) -> u32 {
    let ft = t >> 23u;
    let fd = d >> 23u;
    let et = max(ft, 1u);
    let ed = max(fd, 1u);
    let mt = (t & 0x007fffffu) | select(0u, 0x00800000u, ft > 0u);
    let md = (d & 0x007fffffu) | select(0u, 0x00800000u, fd > 0u);
    let a = mt << 3u;
    let b = md << 3u;
    let sh = et - ed;
    var bs = 1u;
    if (sh < 27u) {
        bs = (b >> sh) | select(0u, 1u, (b & ((1u << sh) - 1u)) != 0u);
    }
    var diff = a - bs;
    var e = et;
    let lz = countLeadingZeros(diff) - 5u;
    let shift = min(lz, e - 1u);
    diff = diff << shift;
    e = e - shift;
    let mant = diff >> 3u;
    let rem = diff & 7u;
    let up = select(0u, 1u, rem > 4u || (rem == 4u && (mant & 1u) == 1u));
    return ((e - 1u) << 23u) + mant + up;
}

// Bits of max(0, t - d), exactly as IEEE-754 f32 subtraction computes it.
// Fast path: with both inputs normal (or d = 0) and a result of at least 2^-125, the hardware
// subtraction is correctly rounded and nothing can be flushed; otherwise emulate in integers.
fn residual_key(t_bits: u32, d_bits: u32) -> u32 {
    let t = key(t_bits);
    let d = key(d_bits);
    if (t <= d) {
        return 0u;
    }
    if (d == 0u) {
        return t;
    }
    if (d >= 0x00800000u) {
        let r = bitcast<u32>(bitcast<f32>(t) - bitcast<f32>(d));
        if (r >= 0x01000000u && r < 0x7f800000u) {
            return r;
        }
    }
    return residual_slow(t, d);
}

// Does (ka, ia) beat (kb, ib) in an argmax whose ties go to the lowest index?
fn better(ka: u32, ia: u32, kb: u32, ib: u32) -> bool {
    return ka > kb || (ka == kb && ia < ib);
}
