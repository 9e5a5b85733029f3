//! f32 math that vectorises: `ln`, `sin` and `cos` of 2πu, and `exp` as polynomials (Cephes' `logf`,
//! `sinf`/`cosf` and `expf` coefficients), and sums and maxima over eight lanes, all in plain
//! IEEE-754 f32 operations with no fused ones, so a loop over them vectorises and gives the same
//! bits on every CPU, whatever its vector width. For the CPU study generator (the device has its
//! own `log`, `cos` and `exp`; generated values agree across engines only to the last bits).

/// Lanes of the sums and maxima.
const LANES: usize = 8;

/// ln(x) for a normal, positive, finite f32 (Cephes `logf`): x = m · 2^e with m in
/// [√½, √2), ln x = e·ln 2 + ln m, ln m by a polynomial in m − 1.
#[inline(always)]
pub fn ln(x: f32) -> f32 {
    let bits = x.to_bits();
    let e = ((bits >> 23) as i32) - 126;
    let m = f32::from_bits((bits & 0x007f_ffff) | 0x3f00_0000); // [0.5, 1)
    let small = m < std::f32::consts::FRAC_1_SQRT_2;
    let e = (if small { e - 1 } else { e }) as f32;
    let m = if small { m + m - 1.0 } else { m - 1.0 };
    let z = m * m;
    let mut y = 7.037_683_6e-2_f32;
    y = y * m - 1.151_461e-1;
    y = y * m + 1.167_699_9e-1;
    y = y * m - 1.242_014_1e-1;
    y = y * m + 1.424_932_3e-1;
    y = y * m - 1.666_805_8e-1;
    y = y * m + 2.000_071_4e-1;
    y = y * m - 2.499_999_4e-1;
    y = y * m + 3.333_333e-1;
    y = y * m * z;
    y += -2.121_944_4e-4 * e;
    y += -0.5 * z;
    (m + y) + 0.693_359_4 * e
}

/// (sin 2πu, cos 2πu) for u in [0, 1): reduced exactly to θ = 2π r with r in [−⅛, ⅛] and a
/// quadrant, then Cephes' `sinf`/`cosf` polynomials on θ.
#[inline(always)]
pub fn sincos_2pi(u: f32) -> (f32, f32) {
    // 1-periodic in u: s = u − round(u) in [−½, ½) (exact); cos is even, sin odd.
    let s = if u >= 0.5 { u - 1.0 } else { u };
    let a = s.abs();
    let q = (a * 4.0 + 0.5) as u32; // 0, 1 or 2 (exact: 4a is exact)
    let r = a - q as f32 * 0.25; // [−⅛, ⅛], exact
    let t = r * std::f32::consts::TAU;
    let z = t * t;
    let cos_t =
        ((2.443_315_7e-5_f32 * z - 1.388_731_6e-3) * z + 4.166_664_6e-2) * z * z - 0.5 * z + 1.0;
    let sin_t = ((-1.951_529_6e-4_f32 * z + 8.332_161e-3) * z - 1.666_665_5e-1) * z * t + t;
    // 2πa = θ + qπ/2.
    let (sin_a, cos) = match q {
        0 => (sin_t, cos_t),
        1 => (cos_t, -sin_t),
        _ => (-sin_t, -cos_t),
    };
    (if s < 0.0 { -sin_a } else { sin_a }, cos)
}

/// exp(x) for x ≤ 0 (Cephes `expf`): x = n·ln 2 + r with |r| ≤ ½ ln 2, e^r by a polynomial,
/// scaled by 2^n; 0 below −87 (e^−87 ≈ 1.6e-38, just above f32's smallest normal, so the scale
/// 2^n stays normal; values that small are nothing next to a softmax row's maximum of 1).
#[inline(always)]
pub fn exp_nonpositive(x: f32) -> f32 {
    const ROUND: f32 = 12_582_912.0; // 1.5 · 2^23: adding and subtracting it rounds to an integer
    let xc = x.max(-87.0);
    let n = (xc * std::f32::consts::LOG2_E + ROUND) - ROUND;
    let r = xc - n * 0.693_359_4 - n * -2.121_944_4e-4;
    let z = r * r;
    let mut y = 1.987_569_1e-4_f32;
    y = y * r + 1.398_199_9e-3;
    y = y * r + 8.333_452e-3;
    y = y * r + 4.166_579_6e-2;
    y = y * r + 1.666_666_5e-1;
    y = y * r + 0.5; // Cephes: 5.0000001201e-1, which is 0.5 in f32
    let p = y * z + r + 1.0;
    let scale = f32::from_bits(((n as i32 + 127) as u32) << 23);
    if x < -87.0 { 0.0 } else { p * scale }
}

/// The f32 sum of `xs`, in eight lanes (lane j adds `xs[j]`, `xs[j + 8]`, …), then the lanes in
/// order: a fixed order, so the same bits everywhere.
#[inline(always)]
pub fn lane_sum(xs: &[f32]) -> f32 {
    let mut acc = [0.0f32; LANES];
    let chunks = xs.chunks_exact(LANES);
    let rest = chunks.remainder();
    for c in chunks {
        for j in 0..LANES {
            acc[j] += c[j];
        }
    }
    for (j, &x) in rest.iter().enumerate() {
        acc[j] += x;
    }
    acc.iter().sum()
}

/// The largest of `xs` (−∞ for none; NaN is not expected).
#[inline(always)]
pub fn lane_max(xs: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; LANES];
    let chunks = xs.chunks_exact(LANES);
    let rest = chunks.remainder();
    for c in chunks {
        for j in 0..LANES {
            acc[j] = if c[j] > acc[j] { c[j] } else { acc[j] };
        }
    }
    for (j, &x) in rest.iter().enumerate() {
        acc[j] = if x > acc[j] { x } else { acc[j] };
    }
    acc.iter()
        .copied()
        .fold(f32::NEG_INFINITY, |a, b| if b > a { b } else { a })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ln_sin_and_cos_are_within_2e_7() {
        // Every u the generator can produce for ln: k · 2^-24, k = 1..2^24 (a stride through them).
        for k in (1u32..=1 << 24).step_by(97).chain([1, 2, 3, 1 << 24]) {
            let x = k as f32 / 16_777_216.0;
            let got = ln(x) as f64;
            let want = (x as f64).ln();
            assert!(
                (got - want).abs() <= 2e-7 * want.abs().max(1e-30) + 1e-12,
                "ln({x}) = {got}, want {want}"
            );
        }
        for k in (0u32..1 << 24).step_by(89).chain([
            0,
            1 << 21,
            1 << 22,
            3 << 21,
            1 << 23,
            5 << 21,
            3 << 22,
            7 << 21,
        ]) {
            let u = k as f32 / 16_777_216.0;
            let (sin, cos) = sincos_2pi(u);
            let th = std::f64::consts::TAU * u as f64;
            assert!((cos as f64 - th.cos()).abs() <= 2e-7, "cos(2π·{u}) = {cos}");
            assert!((sin as f64 - th.sin()).abs() <= 2e-7, "sin(2π·{u}) = {sin}");
        }
    }

    #[test]
    fn exp_is_within_2e_7_relative() {
        for i in 0..2_000_000u32 {
            let x = -(i as f32) * (87.0 / 2_000_000.0);
            let got = exp_nonpositive(x) as f64;
            let want = (x as f64).exp();
            assert!(
                (got - want).abs() <= 2e-7 * want,
                "exp({x}) = {got}, want {want}"
            );
        }
        assert_eq!(exp_nonpositive(0.0), 1.0);
        assert_eq!(exp_nonpositive(-100.0), 0.0);
        assert_eq!(exp_nonpositive(f32::NEG_INFINITY), 0.0);
    }

    #[test]
    fn lane_sum_and_max_see_every_value() {
        let xs: Vec<f32> = (0..1003).map(|i| (i % 17) as f32 * 0.25).collect();
        assert_eq!(
            lane_sum(&xs),
            xs.iter().map(|&x| x as f64).sum::<f64>() as f32
        );
        assert_eq!(lane_max(&xs), 4.0);
        assert_eq!(lane_max(&[]), f32::NEG_INFINITY);
        assert_eq!(lane_sum(&[]), 0.0);
    }
}
