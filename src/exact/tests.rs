//! The integer forms against native IEEE-754 arithmetic and exact references.

use super::*;
use rand::{Rng, SeedableRng, rngs::StdRng};

/// A random non-negative finite f32 bit pattern, biased towards subnormals, tiny values,
/// exact neighbours and equal exponents.
fn interesting(rng: &mut StdRng, other: u32) -> u32 {
    match rng.random_range(0..8) {
        0 => rng.random_range(0..0x0080_0000),             // subnormal
        1 => rng.random_range(0..0x0100_0000),             // subnormal or smallest normals
        2 => other.saturating_add(rng.random_range(0..4)), // neighbour
        3 => other.saturating_sub(rng.random_range(0..4)),
        4 => (other & 0x7f80_0000) | rng.random_range(0..0x0080_0000), // same exponent
        5 => 0,
        _ => rng.random_range(0..0x3f80_0001), // [0, 1]
    }
}

#[test]
fn integer_residual_matches_native_subtraction() {
    let mut rng = StdRng::seed_from_u64(1);
    for _ in 0..2_000_000 {
        let near = rng.random_range(0..0x3f80_0001);
        let t = interesting(&mut rng, near);
        let d = interesting(&mut rng, t);
        let native = residual_native(f32::from_bits(t), f32::from_bits(d));
        assert_eq!(
            residual_bits(t, d),
            native,
            "t = {:e} ({t:#x}), d = {:e} ({d:#x})",
            f32::from_bits(t),
            f32::from_bits(d)
        );
    }
    // Negative zero behaves as zero.
    assert_eq!(residual_bits(0x8000_0000, 0), 0);
    assert_eq!(residual_bits(0x3f00_0000, 0x8000_0000), 0x3f00_0000);
}

#[test]
fn integer_acceptance_matches_exact_product() {
    let mut rng = StdRng::seed_from_u64(2);
    for _ in 0..2_000_000 {
        let near = rng.random_range(1..0x3f80_0001);
        let q = interesting(&mut rng, near);
        let near = rng.random_range(0..0x3f80_0000);
        let c = interesting(&mut rng, near).min(0x3f7f_ffff);
        // p near c·q so that the 48-bit comparison is exercised.
        let prod = f32::from_bits(c) * f32::from_bits(q);
        let p = interesting(&mut rng, prod.to_bits());
        let native = accepts_native(f32::from_bits(c), f32::from_bits(q), f32::from_bits(p));
        assert_eq!(
            accepts(c, q, p),
            native,
            "coin {:e}, q {:e}, p {:e}",
            f32::from_bits(c),
            f32::from_bits(q),
            f32::from_bits(p)
        );
    }
}

fn any_finite(rng: &mut StdRng, near: u32) -> u32 {
    match rng.random_range(0..10) {
        0 => rng.random_range(0..0x7f80_0000), // anywhere, huge included
        1 => rng.random_range(0x7e00_0000..0x7f80_0000), // near overflow
        _ => interesting(rng, near),
    }
}

#[test]
fn integer_product_and_sum_match_native_arithmetic() {
    let mut rng = StdRng::seed_from_u64(3);
    for _ in 0..2_000_000 {
        let near = rng.random_range(0..0x3f80_0001);
        let a = any_finite(&mut rng, near);
        let b = any_finite(&mut rng, a);
        let (fa, fb) = (f32::from_bits(a), f32::from_bits(b));
        assert_eq!(mul_bits(a, b), mul_native(fa, fb), "{fa:e} * {fb:e}");
        assert_eq!(add_bits(a, b), add_native(fa, fb), "{fa:e} + {fb:e}");
        // Products that land in the subnormal range and sums of subnormals.
        let c = rng.random_range(0x0080_0000..0x1a00_0000);
        let d = rng.random_range(0x0080_0000..0x2000_0000);
        assert_eq!(
            mul_bits(c, d),
            mul_native(f32::from_bits(c), f32::from_bits(d))
        );
    }
}

#[test]
fn scaled_acceptance_matches_exact_products() {
    let mut rng = StdRng::seed_from_u64(4);
    for _ in 0..1_000_000 {
        let near = rng.random_range(1..0x3f80_0001);
        let c = interesting(&mut rng, near).min(0x3f7f_ffff);
        let q = interesting(&mut rng, near);
        let s = interesting(&mut rng, ONE_BITS).min(ONE_BITS);
        // p near c·q/s so that the products are close.
        let target = f32::from_bits(c) * f32::from_bits(q) / f32::from_bits(s).max(1e-30);
        let p = interesting(&mut rng, target.to_bits().min(0x7f7f_ffff));
        let f = f32::from_bits;
        assert_eq!(
            accepts_scaled(c, q, s, p),
            accepts_scaled_native(f(c), f(q), f(s), f(p)),
            "coin {:e}, q {:e}, s {:e}, p {:e}",
            f(c),
            f(q),
            f(s),
            f(p)
        );
        // s = 1 is the token rule's test.
        assert_eq!(accepts_scaled(c, q, ONE_BITS, p), accepts(c, q, p));
    }
}

#[test]
fn quotient_is_correctly_rounded_above_one_too() {
    let mut rng = StdRng::seed_from_u64(9);
    let f = |b: u32| f32::from_bits(b) as f64;
    for _ in 0..300_000 {
        let s = interesting(&mut rng, ONE_BITS).clamp(1, 0x4f00_0000);
        let near = rng.random_range(1..0x3f80_0001);
        let q = interesting(&mut rng, near).max(1);
        let got = quotient_bits(s, ONE_BITS, q);
        let exact = f(s) / f(q);
        if !(1e-37..1e37).contains(&exact) {
            continue;
        }
        let r = f(got);
        for nb in [got - 1, got + 1] {
            let tol = exact * 2f64.powi(-50);
            assert!(
                (r - exact).abs() <= (f(nb) - exact).abs() + tol,
                "{s:#x}/{q:#x}"
            );
        }
    }
    assert_eq!(
        quotient_bits(0x3f00_0000, ONE_BITS, 0x3e80_0000),
        0x4000_0000
    ); // 0.5/0.25
    assert_eq!(quotient_bits(ONE_BITS, ONE_BITS, 0), INF_BITS);
    assert_eq!(quotient_bits(0, ONE_BITS, 0), 0);
}

#[test]
fn survival_is_the_correctly_rounded_quotient() {
    let mut rng = StdRng::seed_from_u64(5);
    let mut checked = 0;
    for _ in 0..1_000_000 {
        let pr = interesting(&mut rng, ONE_BITS).min(ONE_BITS);
        let near = rng.random_range(1..0x3f80_0001);
        let q = interesting(&mut rng, near).max(1);
        let p = interesting(&mut rng, q);
        let got = survival_bits(pr, p, q);
        let f = |b: u32| f32::from_bits(b) as f64;
        let exact = f(pr) * f(p) / f(q); // f64: within 2^-53 relative of the real quotient
        if pr == 0 || p == 0 {
            assert_eq!(got, 0);
            continue;
        }
        if f(pr) * f(p) >= f(q) {
            assert_eq!(got, ONE_BITS, "clamp");
            continue;
        }
        // got is the nearest f32: no neighbour is nearer (ties aside, which the f64
        // quotient cannot resolve).
        let r = f(got);
        for nb in [got.saturating_sub(1), got + 1] {
            let dn = (f(nb) - exact).abs();
            let dr = (r - exact).abs();
            let tol = exact.abs() * 2f64.powi(-50) + 1e-320;
            assert!(
                dr <= dn + tol,
                "P {:e}, p {:e}, q {:e}: got {r:e}, neighbour {:e} is nearer to {exact:e}",
                f(pr),
                f(p),
                f(q),
                f(nb)
            );
        }
        checked += 1;
    }
    assert!(checked > 100_000);
    assert_eq!(survival_bits(ONE_BITS, 0x3f00_0000, 0x3f00_0000), ONE_BITS);
    assert_eq!(
        survival_bits(ONE_BITS, 0x3e80_0000, 0x3f00_0000),
        0x3f00_0000,
        "0.25 / 0.5"
    );
}

#[test]
fn acceptance_edges() {
    let b = f32::to_bits;
    assert!(
        !accepts(b(0.0), b(0.5), b(0.0)),
        "a coin of 0 never accepts p = 0"
    );
    assert!(
        accepts(b(0.0), b(0.5), b(1e-45)),
        "coin 0 accepts any p > 0"
    );
    assert!(
        !accepts(b(0.5), b(0.5), b(0.25)),
        "strict: coin = p/q rejects"
    );
    assert!(accepts(
        b(0.5),
        b(0.5),
        f32::from_bits(b(0.25) + 1).to_bits()
    ));
    assert!(
        accepts(b(0.999_999_94), b(0.3), b(0.3)),
        "p >= q always accepts"
    );
}

/// `accepts_ratio` against the two products formed exactly in u128 (values whose exponents are
/// close enough for one common scale), and the edges: the token rule at n = w = 1, and the
/// overflowing quotient of a tiny remaining draft mass.
#[test]
fn ratio_acceptance_matches_exact_products() {
    let mut rng = StdRng::seed_from_u64(17);
    let value = |rng: &mut StdRng| -> u32 {
        // Normal floats in [2^-8, 2^8): (2^23 + frac) · 2^(e − 150).
        let e = rng.random_range(119..135u32);
        (e << 23) | rng.random_range(0..0x0080_0000)
    };
    let exact = |bits: u32| -> (u128, i32) {
        let (m, e) = unpack(bits);
        (m as u128, e)
    };
    for i in 0..200_000 {
        let (c, q, n, u, w) = (
            value(&mut rng),
            value(&mut rng),
            value(&mut rng),
            value(&mut rng),
            value(&mut rng),
        );
        // A fifth of the cases on the boundary: u · w set to the product itself, ± one ULP.
        let u = if i % 5 == 0 {
            let p = f32::from_bits(c) * f32::from_bits(q) * f32::from_bits(n) / f32::from_bits(w);
            (p.to_bits() as i64 + rng.random_range(-1i64..=1)).max(1) as u32
        } else {
            u
        };
        let ((mc, ec), (mq, eq), (mn, en)) = (exact(c), exact(q), exact(n));
        let ((mu, eu), (mw, ew)) = (exact(u), exact(w));
        // lhs · 2^(el) vs rhs · 2^(er): scale both to the smaller exponent.
        let (el, er) = (ec + eq + en - 450, eu + ew - 300);
        let e0 = el.min(er);
        let lhs = (mc * mq * mn) << (el - e0);
        let rhs = (mu * mw) << (er - e0);
        assert_eq!(
            accepts_ratio(c, q, n, u, w),
            lhs < rhs,
            "{c:#x} {q:#x} {n:#x} {u:#x} {w:#x}"
        );
    }
    let b = f32::to_bits;
    // n = w = 1 is the token rule.
    for (c, q, p) in [
        (0.5, 0.5, 0.25),
        (0.1, 0.3, 0.2),
        (0.0, 0.5, 0.0),
        (0.3, 0.3, 0.3),
    ] {
        assert_eq!(
            accepts_ratio(b(c), b(q), b(1.0), b(p), b(1.0)),
            accepts(b(c), b(q), b(p))
        );
    }
    // N / W = 0.5 / 1e-40 overflows float32; the ratio (0.5 / 0.5) / (1e-40 / 1e-40) is 1.
    assert!(accepts_ratio(b(0.5), b(1e-40), b(0.5), b(0.5), b(1e-40)));
    assert!(!accepts_ratio(
        b(0.999_999_94),
        b(1e-40),
        b(0.5),
        b(0.49),
        b(1e-40)
    ));
}
