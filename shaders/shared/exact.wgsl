// Bit-exact f32 arithmetic for the batch engines.
// Shared by every kernel. CPU twin: src/exact/ (same function names; keep the two in sync).
//
// GPUs may flush subnormals, fuse operations and divide with 2.5 ULP error, so every decision
// here is made on the bit patterns of the f32 inputs, with integer arithmetic where the hardware
// could differ from IEEE-754:
// - acceptance `coin < min(1, p / q)` is the exact real comparison `coin * q < p`;
// - the residual `max(0, t - d)` is IEEE-754 round-to-nearest-even f32 subtraction;
// - argmax compares the bits of non-negative floats as u32 (same order), ties to the lowest id.

// Set when a loop of this invocation ended before its natural end: some adapters stop a
// shader's loops after a fixed number of iterations (Mesa's lavapipe: 65,535 shared by every
// loop of an invocation). Every loop whose result matters checks that it ran to its end; a
// round with a cut loop is written as unfinished (shared/reduce.wgsl) and finished on the host.
var<private> loop_cut: bool = false;

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

// The 48-bit product of two 24-bit mantissas as (high 24 bits, low 24 bits), from 12-bit halves
// so that no intermediate exceeds 32 bits. (Twin of `mul48` in src/exact.rs.)
fn mul48(a: u32, b: u32) -> vec2<u32> {
    let ah = a >> 12u;
    let al = a & 0xfffu;
    let bh = b >> 12u;
    let bl = b & 0xfffu;
    let mid = ah * bl + al * bh;
    let lo_full = al * bl + ((mid & 0xfffu) << 12u);
    let hi = ah * bh + (mid >> 12u) + (lo_full >> 24u);
    return vec2<u32>(hi, lo_full & 0x00ffffffu);
}

// Is coin * q * n < u * w in exact real arithmetic? coin < (u / n) / (q / w) without forming
// either quotient: rrs-wor's test against the residual u / n and the remaining draft q / w.
// (Twin of `accepts_ratio` in src/exact.rs.) The products are compared in 24-bit limbs.
fn accepts_ratio(coin_bits: u32, q_bits: u32, n_bits: u32, u_bits: u32, w_bits: u32) -> bool {
    let c = key(coin_bits);
    let q = key(q_bits);
    let n = key(n_bits);
    let u = key(u_bits);
    let w = key(w_bits);
    if (u == 0u || w == 0u) {
        return false;
    }
    if (c == 0u || q == 0u || n == 0u) {
        return true;
    }
    let uc = unpack(c);
    let uq = unpack(q);
    let un = unpack(n);
    let uu = unpack(u);
    let uw = unpack(w);
    // lhs = mc*mq*mn in [2^69, 2^72); rhs = mu*mw in [2^46, 2^48); lhs < rhs * 2^d.
    let d = (uu.e + uw.e - 300) - (uc.e + uq.e + un.e - 450);
    if (d >= 26) {
        return true;
    }
    if (d <= 21) {
        return false;
    }
    let m = 0x00ffffffu;
    // lhs in limbs (l2, l1, l0): (a1 * 2^24 + a0) * mn.
    let a = mul48(uc.m, uq.m);
    let p0 = mul48(a.y, un.m);
    let p1 = mul48(a.x, un.m);
    let mid = p0.x + p1.y;
    let l0 = p0.y;
    let l1 = mid & m;
    let l2 = p1.x + (mid >> 24u);
    // rhs * 2^24 in limbs (x3, x2, x1, x0) = (0, r1, r0, 0), then shifted by d - 24 in [-2, 1].
    let r = mul48(uu.m, uw.m);
    var x3 = 0u;
    var x2 = r.x;
    var x1 = r.y;
    var x0 = 0u;
    let t = d - 24;
    if (t > 0) {
        let s = u32(t);
        x3 = x2 >> (24u - s);
        x2 = ((x2 << s) | (x1 >> (24u - s))) & m;
        x1 = ((x1 << s) | (x0 >> (24u - s))) & m;
        x0 = (x0 << s) & m;
    } else if (t < 0) {
        let s = u32(-t);
        x0 = (x0 >> s) | ((x1 << (24u - s)) & m);
        x1 = (x1 >> s) | ((x2 << (24u - s)) & m);
        x2 = x2 >> s;
    }
    if (x3 != 0u) {
        return true;
    }
    // (l2, l1, l0) < (x2, x1, x0), lexicographically (x0's bits below 2^0 are 0: nothing lost).
    if (l2 != x2) {
        return l2 < x2;
    }
    if (l1 != x1) {
        return l1 < x1;
    }
    return l0 < x0;
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
    let pr = mul48(uc.m, uq.m);
    let hi = pr.x;
    let lo = pr.y;
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

// ---- Block verification's arithmetic (twins in src/exact.rs; see src/cpu/block.rs) ----

const INF_BITS: u32 = 0x7f800000u;
const ONE_BITS: u32 = 0x3f800000u;

// Rounds m * 2^(e - 150) + rest * 2^(e - 174) (m in [2^23, 2^24), rest the 24 bits below m's
// last) to the nearest f32, ties to even, subnormals kept, overflow to infinity.
fn round_pack(m: u32, rest: u32, e: i32) -> u32 {
    if (e >= 255) {
        return INF_BITS;
    }
    if (e >= 1) {
        let up = rest > 0x00800000u || (rest == 0x00800000u && (m & 1u) == 1u);
        return (u32(e - 1) << 23u) + m + select(0u, 1u, up);
    }
    let sh = 1 - e;
    if (sh > 24) {
        return 0u;
    }
    let ush = u32(sh);
    let mant = m >> ush;
    let rhi = m & ((1u << ush) - 1u);
    let half = 1u << (ush - 1u);
    let up = rhi > half || (rhi == half && (rest != 0u || (mant & 1u) == 1u));
    return mant + select(0u, 1u, up);
}

// Bits of the IEEE-754 f32 product a * b of non-negative finite floats, in integers (no
// flushing, and nothing for the compiler to fuse with a following subtraction).
fn mul_bits(a_bits: u32, b_bits: u32) -> u32 {
    let a = key(a_bits);
    let b = key(b_bits);
    if (a == 0u || b == 0u) {
        return 0u;
    }
    let ua = unpack(a);
    let ub = unpack(b);
    let pr = mul48(ua.m, ub.m);
    var hi = pr.x;
    var lo = pr.y;
    var e = ua.e + ub.e - 126;
    if (hi < 0x00800000u) {
        hi = (hi << 1u) | (lo >> 23u);
        lo = (lo << 1u) & 0x00ffffffu;
        e = e - 1;
    }
    return round_pack(hi, lo, e);
}

// Bits of the IEEE-754 f32 sum a + b of non-negative finite floats, in integers.
fn add_slow(a_bits: u32, b_bits: u32) -> u32 {
    let a = max(key(a_bits), key(b_bits));
    let b = min(key(a_bits), key(b_bits));
    if (b == 0u) {
        return a;
    }
    let fa = a >> 23u;
    let fb = b >> 23u;
    let ea = max(fa, 1u);
    let eb = max(fb, 1u);
    let ma = (a & 0x007fffffu) | select(0u, 0x00800000u, fa > 0u);
    let mb = (b & 0x007fffffu) | select(0u, 0x00800000u, fb > 0u);
    let b3 = mb << 3u;
    let sh = ea - eb;
    var bs = 1u;
    if (sh < 27u) {
        bs = (b3 >> sh) | select(0u, 1u, (b3 & ((1u << sh) - 1u)) != 0u);
    }
    var sum = (ma << 3u) + bs;
    var e = ea;
    if (sum >= (1u << 27u)) {
        sum = (sum >> 1u) | (sum & 1u);
        e = e + 1u;
    }
    if (e >= 255u) {
        return INF_BITS;
    }
    let mant = sum >> 3u;
    let rem = sum & 7u;
    let up = select(0u, 1u, rem > 4u || (rem == 4u && (mant & 1u) == 1u));
    return min(((e - 1u) << 23u) + mant + up, INF_BITS);
}

// a + b for non-negative floats: the hardware sum when both are normal and the sum is finite
// (correctly rounded, nothing to flush), the integer form otherwise.
fn add_key(a_bits: u32, b_bits: u32) -> u32 {
    let a = key(a_bits);
    let b = key(b_bits);
    if (a >= 0x00800000u && b >= 0x00800000u && a < INF_BITS && b < INF_BITS) {
        let r = bitcast<u32>(bitcast<f32>(a) + bitcast<f32>(b));
        if (r < INF_BITS) {
            return r;
        }
    }
    return add_slow(a, b);
}

// Rounds x * 2^(e - 153) (x in [2^26, 2^27): 24 bits, then guard, round, sticky) to the nearest
// f32, ties to even, subnormals kept.
fn round_guarded(x: u32, e: i32) -> u32 {
    if (e >= 255) {
        return INF_BITS;
    }
    var y = x;
    var base = 0u;
    if (e >= 1) {
        base = u32(e - 1) << 23u;
    } else {
        let sh = 1 - e;
        if (sh > 27) {
            return 0u;
        }
        let ush = u32(sh);
        y = (x >> ush) | select(0u, 1u, (x & ((1u << ush) - 1u)) != 0u);
    }
    let mant = y >> 3u;
    let rem = y & 7u;
    let up = select(0u, 1u, rem > 4u || (rem == 4u && (mant & 1u) == 1u));
    return min(base + mant + up, INF_BITS);
}

// The f32 nearest to the exact real min(1, s * p / q): 0 when s or p is 0, 1 when q is 0.
// Integer long division of the 48-bit product s * p (times 16) by q's mantissa.
fn survival_bits(s_bits: u32, p_bits: u32, q_bits: u32) -> u32 {
    let s = key(s_bits);
    let p = key(p_bits);
    let q = key(q_bits);
    if (s == 0u || p == 0u) {
        return 0u;
    }
    if (q == 0u || !accepts(s, p, q)) {
        return ONE_BITS;
    }
    return quotient_bits(s, p, q);
}

// The f32 nearest to the exact real s * p / q (ties to even, subnormals kept, overflow to
// +infinity); 0 when s or p is 0, +infinity when q is 0. Integer long division.
fn quotient_bits(s_bits: u32, p_bits: u32, q_bits: u32) -> u32 {
    let s = key(s_bits);
    let p = key(p_bits);
    let q = key(q_bits);
    if (s == 0u || p == 0u) {
        return 0u;
    }
    if (q == 0u) {
        return INF_BITS;
    }
    let us = unpack(s);
    let u_p = unpack(p);
    let uq = unpack(q);
    let n = mul48(us.m, u_p.m);
    var rem = 0u;
    var quot = 0u;
    var j = 0u;
    for (; j < 52u; j++) {
        var bit = 0u;
        if (j < 24u) {
            bit = (n.x >> (23u - j)) & 1u;
        } else if (j < 48u) {
            bit = (n.y >> (47u - j)) & 1u;
        }
        rem = (rem << 1u) | bit;
        quot = quot << 1u;
        if (rem >= uq.m) {
            rem = rem - uq.m;
            quot = quot | 1u;
        }
    }
    loop_cut = loop_cut || j != 52u;
    let lead = 31u - countLeadingZeros(quot);
    let sh = lead - 26u;
    let x = (quot >> sh) | select(0u, 1u, rem != 0u || (quot & ((1u << sh) - 1u)) != 0u);
    return round_guarded(x, i32(sh) + us.e + u_p.e - uq.e - 1);
}

struct Product {
    e: i32,
    hi: u32,
    lo: u32,
}

// a * b (nonzero) as a normalised 48-bit product: (exponent, high 24 bits >= 2^23, low 24 bits).
fn product_norm(a: u32, b: u32) -> Product {
    let ua = unpack(a);
    let ub = unpack(b);
    let pr = mul48(ua.m, ub.m);
    if (pr.x < 0x00800000u) {
        return Product(ua.e + ub.e - 1, (pr.x << 1u) | (pr.y >> 23u), (pr.y << 1u) & 0x00ffffffu);
    }
    return Product(ua.e + ub.e, pr.x, pr.y);
}

// Is coin * q < s * p in exact real arithmetic? (s = 1 gives `accepts`.)
fn accepts_scaled(coin_bits: u32, q_bits: u32, s_bits: u32, p_bits: u32) -> bool {
    let c = key(coin_bits);
    let q = key(q_bits);
    let s = key(s_bits);
    let p = key(p_bits);
    if (s == 0u || p == 0u) {
        return false;
    }
    if (c == 0u || q == 0u) {
        return true;
    }
    let l = product_norm(c, q);
    let r = product_norm(s, p);
    if (l.e != r.e) {
        return l.e < r.e;
    }
    if (l.hi != r.hi) {
        return l.hi < r.hi;
    }
    return l.lo < r.lo;
}
