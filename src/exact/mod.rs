//! Bit-exact f32 arithmetic shared by the batch engines. CPU twin of `shaders/shared/exact.wgsl`.
//!
//! GPUs may flush subnormals to zero, may fuse operations, and divide with 2.5 ULP error, so the
//! shader decides everything on the *bit patterns* of the f32 inputs with integer arithmetic:
//!
//! - acceptance `coin < min(1, p / q)` is decided as the exact real comparison `coin · q < p`
//!   (coins are < 1, so the `min` never matters); the 48-bit product is formed in integers;
//! - the residual `max(0, t − d)` is the IEEE-754 round-to-nearest-even f32 subtraction,
//!   emulated in integers where the hardware could flush (subnormal inputs or results);
//! - argmax compares the bit patterns of non-negative floats as u32 (same order), ties to the
//!   lowest index.
//!
//! On the CPU, Rust's f32/f64 arithmetic is IEEE-754 without flushing, so the CPU engine uses the
//! native forms ([`accepts_native`], [`residual_native`]); the tests prove them equal to the
//! integer forms ([`accepts`], [`residual_bits`]) that mirror the shader line by line.

/// Clears the sign bit. For validated (non-negative) probabilities this maps -0.0 to +0.0 and keeps
/// the order of the values: for non-negative floats, u32 order of the bits is float order.
#[inline]
pub fn key(bits: u32) -> u32 {
    bits & 0x7fff_ffff
}

/// Unpacks a nonzero finite non-negative f32 into (m, e) with value = m · 2^(e − 150) and m
/// normalised to [2^23, 2^24) (subnormals are shifted up and get e < 1).
#[inline]
fn unpack(bits: u32) -> (u32, i32) {
    let field = bits >> 23;
    let frac = bits & 0x007f_ffff;
    if field == 0 {
        let sh = frac.leading_zeros() - 8;
        (frac << sh, 1 - sh as i32)
    } else {
        (frac | 0x0080_0000, field as i32)
    }
}

/// Exact acceptance test of a renormalised ratio on f32 bit patterns: is `coin · q · n < u · w`
/// in real arithmetic? This is `coin < (u / n) / (q / w)` without forming either quotient (so
/// without overflow where w is tiny): `rrs-wor`'s test of a child against the residual `u / n`
/// and the remaining draft `q / w`. Integer twin of `accepts_ratio` in
/// `shaders/shared/exact.wgsl`.
pub fn accepts_ratio(coin_bits: u32, q_bits: u32, n_bits: u32, u_bits: u32, w_bits: u32) -> bool {
    let (c, q, n, u, w) = (
        key(coin_bits),
        key(q_bits),
        key(n_bits),
        key(u_bits),
        key(w_bits),
    );
    if u == 0 || w == 0 {
        return false;
    }
    if c == 0 || q == 0 || n == 0 {
        return true;
    }
    let ((mc, ec), (mq, eq), (mn, en)) = (unpack(c), unpack(q), unpack(n));
    let ((mu, eu), (mw, ew)) = (unpack(u), unpack(w));
    // lhs = mc·mq·mn in [2^69, 2^72) times 2^(ec + eq + en − 450); rhs = mu·mw in [2^46, 2^48)
    // times 2^(eu + ew − 300): lhs < rhs ⇔ mc·mq·mn < mu·mw · 2^d.
    let d = (eu + ew - 300) - (ec + eq + en - 450);
    if d >= 26 {
        return true;
    }
    if d <= 21 {
        return false;
    }
    let lhs = mc as u128 * mq as u128 * mn as u128;
    let rhs = (mu as u128 * mw as u128) << d;
    lhs < rhs
}

/// Exact acceptance test on f32 bit patterns: is `coin · q < p` in real arithmetic?
/// Integer twin of `accepts` in `shaders/shared/exact.wgsl`.
pub fn accepts(coin_bits: u32, q_bits: u32, p_bits: u32) -> bool {
    let c = key(coin_bits);
    let q = key(q_bits);
    let p = key(p_bits);
    if p == 0 {
        return false; // coin · q >= 0 = p
    }
    if c == 0 || q == 0 {
        return true; // 0 < p
    }
    let (mc, ec) = unpack(c);
    let (mq, eq) = unpack(q);
    let (mp, ep) = unpack(p);
    // coin · q = P · 2^(ec + eq − 300) with P = mc · mq in [2^46, 2^48);
    // p = mp · 2^(ep − 150) with mp in [2^23, 2^24). Compare P with mp · 2^s.
    let s = ep - ec - eq + 150;
    if s <= 22 {
        return false; // mp · 2^s < 2^46 <= P
    }
    if s >= 25 {
        return true; // mp · 2^s >= 2^48 > P
    }
    let (hi, lo) = mul48(mc, mq);
    let (rh, rl) = if s == 24 {
        (mp, 0)
    } else {
        (mp >> 1, (mp & 1) << 23)
    };
    hi < rh || (hi == rh && lo < rl)
}

/// The same decision as [`accepts`] with native arithmetic: the product of two f32 values is exact
/// in f64 (48 significant bits, no underflow), so the comparison is the exact real one.
#[inline]
pub fn accepts_native(coin: f32, q: f32, p: f32) -> bool {
    (coin as f64) * (q as f64) < p as f64
}

/// Bits of the residual `max(0, t − d)` for f32 bit patterns, computed as IEEE-754 binary32
/// subtraction (round to nearest, ties to even, subnormals kept) entirely in integers.
/// Integer twin of `residual_slow` in `shaders/shared/exact.wgsl`.
pub fn residual_bits(t_bits: u32, d_bits: u32) -> u32 {
    let t = key(t_bits);
    let d = key(d_bits);
    if t <= d {
        return 0;
    }
    if d == 0 {
        return t;
    }
    let (ft, fd) = (t >> 23, d >> 23);
    let et = ft.max(1);
    let ed = fd.max(1);
    let mt = (t & 0x007f_ffff) | if ft > 0 { 0x0080_0000 } else { 0 };
    let md = (d & 0x007f_ffff) | if fd > 0 { 0x0080_0000 } else { 0 };
    // Three extra bits: guard, round, sticky.
    let a = mt << 3;
    let b = md << 3;
    let sh = et - ed;
    let bs = if sh >= 27 {
        1 // every bit of b is below the sticky position; b != 0
    } else {
        (b >> sh) | u32::from(b & ((1u32 << sh) - 1) != 0)
    };
    let mut diff = a - bs;
    let mut e = et;
    // Normalise the leading bit to position 26, but not below exponent 1 (subnormal result).
    let lz = diff.leading_zeros() - 5;
    let shift = lz.min(e - 1);
    diff <<= shift;
    e -= shift;
    let mant = diff >> 3;
    let rem = diff & 7;
    let up = u32::from(rem > 4 || (rem == 4 && (mant & 1) == 1));
    // The implicit bit of `mant` carries into the exponent field; a rounding overflow to 2^24
    // carries once more, which is the correct encoding in both cases.
    ((e - 1) << 23) + mant + up
}

/// The same value as [`residual_bits`] with native f32 subtraction (IEEE-754 on the CPU).
#[inline]
pub fn residual_native(t: f32, d: f32) -> u32 {
    let r = t - d;
    if r > 0.0 { r.to_bits() } else { 0 }
}

/// The 48-bit product of two 24-bit mantissas as (high 24 bits, low 24 bits), formed from 12-bit
/// halves so that no intermediate exceeds 32 bits (the shader has no 64-bit integers).
/// Twin of `mul48` in `shaders/shared/exact.wgsl`.
#[inline]
pub fn mul48(a: u32, b: u32) -> (u32, u32) {
    let (ah, al) = (a >> 12, a & 0xfff);
    let (bh, bl) = (b >> 12, b & 0xfff);
    let mid = ah * bl + al * bh;
    let lo_full = al * bl + ((mid & 0xfff) << 12);
    let hi = ah * bh + (mid >> 12) + (lo_full >> 24);
    (hi, lo_full & 0x00ff_ffff)
}

/// Bits of +infinity.
pub const INF_BITS: u32 = 0x7f80_0000;
/// Bits of 1.0.
pub const ONE_BITS: u32 = 0x3f80_0000;

/// Rounds `m · 2^(e − 150) + rest · 2^(e − 174)` (m in [2^23, 2^24), `rest` the 24 bits below
/// m's last) to the nearest f32, ties to even, subnormals kept, overflow to +infinity.
/// Twin of `round_pack` in `shaders/shared/exact.wgsl`.
fn round_pack(m: u32, rest: u32, e: i32) -> u32 {
    if e >= 255 {
        return INF_BITS;
    }
    if e >= 1 {
        let up = rest > 0x0080_0000 || (rest == 0x0080_0000 && (m & 1) == 1);
        // The implicit bit of m carries into the exponent field; so does a rounding overflow.
        return (((e - 1) as u32) << 23) + m + u32::from(up);
    }
    let sh = 1 - e;
    if sh > 24 {
        return 0; // below half the smallest subnormal
    }
    let sh = sh as u32;
    let mant = m >> sh;
    let rhi = m & ((1u32 << sh) - 1);
    let half = 1u32 << (sh - 1);
    let up = rhi > half || (rhi == half && (rest != 0 || (mant & 1) == 1));
    mant + u32::from(up)
}

/// Bits of the IEEE-754 binary32 product `a · b` of two non-negative finite floats (round to
/// nearest even, subnormals kept, overflow to +infinity), entirely in integers: a GPU may flush
/// subnormals and may fuse a product into a following subtraction. Twin of `mul_bits` in
/// `shaders/shared/exact.wgsl`; equal to [`mul_native`].
pub fn mul_bits(a_bits: u32, b_bits: u32) -> u32 {
    let (a, b) = (key(a_bits), key(b_bits));
    if a == 0 || b == 0 {
        return 0;
    }
    let (ma, ea) = unpack(a);
    let (mb, eb) = unpack(b);
    let (mut hi, mut lo) = mul48(ma, mb);
    let mut e = ea + eb - 126;
    if hi < 0x0080_0000 {
        hi = (hi << 1) | (lo >> 23);
        lo = (lo << 1) & 0x00ff_ffff;
        e -= 1;
    }
    round_pack(hi, lo, e)
}

/// [`mul_bits`] with native f32 multiplication (IEEE-754 on the CPU).
#[inline]
pub fn mul_native(a: f32, b: f32) -> u32 {
    // 0 times anything is 0, an infinite coefficient included (as in `mul_bits`).
    if a == 0.0 || b == 0.0 {
        return 0;
    }
    (a.abs() * b.abs()).to_bits()
}

/// Bits of the IEEE-754 binary32 sum `a + b` of two non-negative finite floats (round to
/// nearest even, subnormals kept, overflow to +infinity), in integers. Twin of `add_slow` in
/// `shaders/shared/exact.wgsl`; equal to [`add_native`].
pub fn add_bits(a_bits: u32, b_bits: u32) -> u32 {
    let (a, b) = (key(a_bits).max(key(b_bits)), key(a_bits).min(key(b_bits)));
    if b == 0 {
        return a;
    }
    let (fa, fb) = (a >> 23, b >> 23);
    let (ea, eb) = (fa.max(1), fb.max(1));
    let ma = (a & 0x007f_ffff) | if fa > 0 { 0x0080_0000 } else { 0 };
    let mb = (b & 0x007f_ffff) | if fb > 0 { 0x0080_0000 } else { 0 };
    // Three extra bits: guard, round, sticky.
    let b3 = mb << 3;
    let sh = ea - eb;
    let bs = if sh >= 27 {
        1
    } else {
        (b3 >> sh) | u32::from(b3 & ((1u32 << sh) - 1) != 0)
    };
    let mut sum = (ma << 3) + bs;
    let mut e = ea;
    if sum >= 1 << 27 {
        sum = (sum >> 1) | (sum & 1);
        e += 1;
    }
    if e >= 255 {
        return INF_BITS;
    }
    let mant = sum >> 3;
    let rem = sum & 7;
    let up = u32::from(rem > 4 || (rem == 4 && (mant & 1) == 1));
    (((e - 1) << 23) + mant + up).min(INF_BITS)
}

/// [`add_bits`] with native f32 addition.
#[inline]
pub fn add_native(a: f32, b: f32) -> u32 {
    (a.abs() + b.abs()).to_bits()
}

/// Block verification's running survival in f32 (SPEC §6): the f32 nearest to the exact real
/// `min(1, P · p / q)` (one rounding, ties to even, subnormals kept); 0 when P or p is 0, 1 when
/// q is 0. Integer long division, the same on every device (WGSL's division is not correctly
/// rounded). Twin of `survival_bits` in `shaders/shared/exact.wgsl`.
pub fn survival_bits(pr_bits: u32, p_bits: u32, q_bits: u32) -> u32 {
    let (pr, p, q) = (key(pr_bits), key(p_bits), key(q_bits));
    if pr == 0 || p == 0 {
        return 0;
    }
    if q == 0 || !accepts(pr, p, q) {
        return ONE_BITS; // P · p >= q
    }
    quotient_bits(pr, p, q)
}

/// The f32 nearest to the exact real `s · p / q` (one rounding, ties to even, subnormals kept,
/// overflow to +infinity); 0 when s or p is 0, +infinity when q is 0. Integer long division, the
/// same on every device. Twin of `quotient_bits` in `shaders/shared/exact.wgsl`.
pub fn quotient_bits(s_bits: u32, p_bits: u32, q_bits: u32) -> u32 {
    let (s, p, q) = (key(s_bits), key(p_bits), key(q_bits));
    if s == 0 || p == 0 {
        return 0;
    }
    if q == 0 {
        return INF_BITS;
    }
    let (mr, er) = unpack(s);
    let (mp, ep) = unpack(p);
    let (mq, eq) = unpack(q);
    let (hi, lo) = mul48(mr, mp);
    let n = ((hi as u64) << 24) | lo as u64;
    // The quotient with four extra bits, in [2^26, 2^29), and whether it is inexact.
    let quot = ((n << 4) / mq as u64) as u32;
    let inexact = !(n << 4).is_multiple_of(mq as u64);
    let lead = 31 - quot.leading_zeros();
    let s = lead - 26;
    let x = (quot >> s) | u32::from(inexact || quot & ((1u32 << s) - 1) != 0);
    round_guarded(x, s as i32 + er + ep - eq - 1)
}

/// Rounds `x · 2^(e − 153)` (x in [2^26, 2^27): 24 bits, then guard, round and sticky) to the
/// nearest f32, ties to even, subnormals kept. Twin of `round_guarded` in `shaders/shared/exact.wgsl`.
fn round_guarded(x: u32, e: i32) -> u32 {
    let rnd = |x: u32| (x >> 3) + u32::from((x & 7) > 4 || ((x & 7) == 4 && (x >> 3) & 1 == 1));
    if e >= 255 {
        return INF_BITS;
    }
    if e >= 1 {
        return ((((e - 1) as u32) << 23) + rnd(x)).min(INF_BITS);
    }
    let sh = 1 - e;
    if sh > 27 {
        return 0;
    }
    let sh = sh as u32;
    rnd((x >> sh) | u32::from(x & ((1u32 << sh) - 1) != 0))
}

/// Exact comparison `coin · q < s · p` of products of f32 values (block verification's last
/// threshold, `coin < h_K = min(1, P_{K−1} · p / q)`, with `s = P_{K−1}`; with `s = 1` it is
/// [`accepts`], the token rule's test). Twin of `accepts_scaled` in `shaders/shared/exact.wgsl`.
pub fn accepts_scaled(coin_bits: u32, q_bits: u32, s_bits: u32, p_bits: u32) -> bool {
    let (c, q, s, p) = (key(coin_bits), key(q_bits), key(s_bits), key(p_bits));
    if s == 0 || p == 0 {
        return false;
    }
    if c == 0 || q == 0 {
        return true;
    }
    let product = |a: u32, b: u32| {
        let (ma, ea) = unpack(a);
        let (mb, eb) = unpack(b);
        let (hi, lo) = mul48(ma, mb);
        if hi < 0x0080_0000 {
            (ea + eb - 1, (hi << 1) | (lo >> 23), (lo << 1) & 0x00ff_ffff)
        } else {
            (ea + eb, hi, lo)
        }
    };
    product(c, q) < product(s, p)
}

/// [`accepts_scaled`] with native arithmetic: products of two f32 values are exact in f64.
#[inline]
pub fn accepts_scaled_native(coin: f32, q: f32, s: f32, p: f32) -> bool {
    (coin.abs() as f64) * (q.abs() as f64) < (s.abs() as f64) * (p.abs() as f64)
}

/// Weight scale S for a row of `len` entries: every weight is below 2^(24 + S) and their sum
/// below 2^63 (`ceil(log2(len)) + 24 + S = 63`).
pub fn sample_shift(len: usize) -> i32 {
    let lg = if len <= 1 {
        0
    } else {
        usize::BITS - (len - 1).leading_zeros()
    };
    39 - lg as i32
}

/// The integer weight of a non-negative f32 (bits) in a row whose largest key has exponent field
/// `emax` (at least 1): the 24-bit mantissa shifted left by `e − emax + s`, where `e` is the
/// value's exponent field (right when negative, dropping bits), i.e. the value times a power of
/// two that is the same for the whole row. Entries within
/// 2^-S of the row's maximum keep every bit; smaller ones are truncated, by at most 2^-(S + 23) of
/// the maximum each. Twin of `weight` in `shaders/shared/rng.wgsl`.
pub fn weight(bits: u32, emax: u32, s: i32) -> u64 {
    let b = key(bits);
    if b == 0 {
        return 0;
    }
    let field = b >> 23;
    let e = field.max(1);
    let m = (b & 0x007f_ffff) | if field > 0 { 0x0080_0000 } else { 0 };
    let sh = e as i32 - emax as i32 + s;
    if sh >= 0 {
        (m as u64) << sh
    } else if sh > -32 {
        (m >> -sh) as u64
    } else {
        0
    }
}

/// floor(total · u / 2^64): a uniform threshold in `0..total` from a 64-bit uniform `u`.
/// Twin of `u64_mulhi` in `shaders/shared/rng.wgsl`.
pub fn sample_threshold(total: u64, u: u64) -> u64 {
    ((total as u128 * u as u128) >> 64) as u64
}

/// Samples an index of a row with probability proportional to `key_of(x)` (f32 bits of a
/// non-negative value), exactly in integers: the first x whose cumulative integer weight exceeds
/// the threshold. `None` when every weight is 0. The answer does not depend on any summation
/// order, so the CPU and the GPU (which sums blocks in parallel) agree bit for bit.
pub fn sample_index(len: usize, key_of: impl Fn(usize) -> u32, u: u64) -> Option<usize> {
    let kmax = (0..len).map(&key_of).max().unwrap_or(0);
    let emax = (key(kmax) >> 23).max(1);
    let s = sample_shift(len);
    let total: u64 = (0..len).map(|x| weight(key_of(x), emax, s)).sum();
    if total == 0 {
        return None;
    }
    let thr = sample_threshold(total, u);
    let mut cum = 0u64;
    for x in 0..len {
        cum += weight(key_of(x), emax, s);
        if thr < cum {
            return Some(x);
        }
    }
    None
}

pub mod sum;

#[cfg(test)]
mod tests;
