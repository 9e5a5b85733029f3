//! `spectr` (SPEC §7; SpecTr's K-SEQ, Sun et al. NeurIPS 2023): children drawn i.i.d. from the
//! draft row, each tested against `min(1, t̂[x] / (ρ* q̂[x]))` with one ρ* per node, the smallest
//! ρ in [1, m] for which the correction below is a distribution:
//! `ρ β(ρ) − 1 + (1 − β(ρ))^m ≥ 0` with `β(ρ) = Σ_x min(q̂[x], t̂[x] / ρ)`, on the node's rows
//! divided by their sums (`t̂ = t / T`, `q̂ = q / Q`: the laws the rule draws from and must
//! reproduce), and the condition held to within the rounding of its sums (`−τ`,
//! `τ = (V + 4)·2^-52`), so that t = q gives ρ* = 1 whatever the rows' sums' last bits. With one
//! child it is the token rule on the rows as given.
//!
//! The f32 engines take the node's values from [`spectr_f32`]: `ρ* T / Q` rounded up to an f32
//! (any ρ at or above ρ* keeps the rule lossless, since the condition is increasing in ρ), and the
//! correction's coefficients computed in f64 at that ρ.

use super::rrs::{bottom_up, draw_sampled, rrs_node, rrs_positional, rrs_step};
use super::{TreeReference, token_like_chain_reads};
use crate::reference::tree::walk::{NodeTrace, Step, TreeInput, note_test, note_vector};
use crate::reference::{Values, argmax_f64};
use crate::rule::tree::Spectr;
use crate::topology::Tree;

impl TreeReference for Spectr {
    const NODE_VALUES: Option<super::NodeValues> = Some(spectr_f32);

    fn step_traced<V: Values + ?Sized, C: Values + ?Sized>(
        input: &TreeInput<'_, V, C>,
        u: usize,
        trace: &mut Option<NodeTrace>,
        _params: [f64; 2],
    ) -> Step {
        let children = input.tree.children(u);
        let m = children.len();
        if m == 1 {
            // One child: the token rule (rrs's first step), on the rows as given.
            return rrs_step(false, input, u, trace);
        }
        let t = input.target_row(u);
        let q = input.draft_row(u);
        let n = spectr_node_values(&t, &q, m);
        let (tm, qm, rho) = (n.t_mass, n.q_mass, n.rho);
        for &c in children {
            let x = input.token(c);
            let a = ((t[x] * qm) / (rho * tm * q[x])).min(1.0);
            let coin = input.coins.at(c as usize);
            note_test(trace, c, coin, a);
            if coin < a {
                return Step::Accept(c as usize);
            }
        }
        let c = correction_scale(n.beta, m);
        let w: Vec<f64> = t
            .iter()
            .zip(&q)
            .map(|(&t, &q)| (t - (q * (tm / qm)).min(t / rho) * c).max(0.0))
            .collect();
        if w.iter().all(|&x| x == 0.0) {
            note_vector(trace, &t);
            return Step::Stop(argmax_f64(t.iter().copied()) as u32);
        }
        note_vector(trace, &w);
        Step::Stop(argmax_f64(w.into_iter()) as u32)
    }

    /// Bottom-up (SPEC §9): P(child j accepted) = β (1 − β)^(j−1) with β = β(ρ*_m).
    fn expected_generated<V: Values + ?Sized>(
        tree: &Tree,
        d: &V,
        t: &V,
        _tokens: &[u32],
        v: usize,
        _params: [f64; 2],
    ) -> Option<f64> {
        bottom_up(tree, d, t, v, |_, t, q, gains| {
            Some(spectr_node(t, q, gains))
        })
    }

    /// `β (1 − β)^(j−1)` with `β = β(ρ*_width)` (SPEC §9); with one child, the token rule's.
    fn positional(t: &[f64], q: &[f64], width: usize, _params: [f64; 2]) -> Option<Vec<f64>> {
        if width == 1 {
            return Some(rrs_positional(t, q, 1));
        }
        let beta = spectr_node_values(t, q, width).beta;
        let mut survive = 1.0f64;
        Some(
            (0..width)
                .map(|_| {
                    let p = survive * beta;
                    survive *= 1.0 - beta;
                    p
                })
                .collect(),
        )
    }

    /// I.i.d. from the draft row.
    fn draw_children(q: &[f32], m: usize, random: &dyn Fn(usize) -> u64) -> Option<Vec<usize>> {
        draw_sampled(q, m, random, false)
    }

    /// Both rows of every visited node with two children or more (ρ* reads them whole), the
    /// rows of a single child's node where it was rejected (its residual), and the bonus row at a
    /// leaf.
    fn rows_read(tree: &Tree, path: &[usize]) -> usize {
        let stop = *path.last().unwrap_or(&0);
        let leaf = tree.is_leaf(stop);
        let mut rows = usize::from(leaf);
        for (i, &w) in path.iter().enumerate() {
            let m = tree.children(w).len();
            let rejected = match path.get(i + 1) {
                Some(_) => false,
                None => !leaf,
            };
            if m >= 2 || rejected {
                rows += 2;
            }
        }
        rows
    }

    /// What the token rule reads (ρ* = 1 with one child).
    fn chain_reads(k: usize, a: usize) -> (usize, usize) {
        token_like_chain_reads(k, a)
    }

    /// ρ* and the f32 ρ above it, `fl(ρ q)`: a few roundings, plus the sums over V behind ρ*
    /// when the batch's rows are f64 (the engines compute ρ* from their f32 values).
    fn test_slack(_j: usize, v: usize) -> f64 {
        4.0 + 2.0 * v as f64
    }

    /// `β` sums V entries; the scale and the products round a few times.
    fn vector_slack(_tests: usize, v: usize) -> f64 {
        4.0 + 2.0 * v as f64
    }
}

/// A node's SpecTr quantities (m ≥ 2): the rows' masses `T = Σ t` and `Q = Σ q` (ascending x),
/// ρ* on the normalised rows, and `β(ρ*)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SpectrNode {
    /// `T`.
    pub t_mass: f64,
    /// `Q`.
    pub q_mass: f64,
    /// ρ*.
    pub rho: f64,
    /// `β(ρ*) = Σ_x min(q[x] / Q, t[x] / (T ρ*))`.
    pub beta: f64,
}

/// `β(ρ) = Σ_x min(q[x] / Q, t[x] / (T ρ))`, in ascending x.
fn beta_normalised(t: &[f64], q: &[f64], tm: f64, qm: f64, rho: f64) -> f64 {
    t.iter().zip(q).fold(0.0f64, |s, (&t, &q)| {
        s + (q.abs() / qm).min(t.abs() / tm / rho)
    })
}

/// [`SpectrNode`] of rows `t`, `q` with `m ≥ 2` children.
pub fn spectr_node_values(t: &[f64], q: &[f64], m: usize) -> SpectrNode {
    let (rho, tm, qm) = rho_star_by(t.len(), |x| (t[x].abs(), q[x].abs()), m);
    SpectrNode {
        t_mass: tm,
        q_mass: qm,
        rho,
        // A probability: its sum's rounding may not take it past 1.
        beta: beta_normalised(t, q, tm, qm, rho).clamp(0.0, 1.0),
    }
}

/// The correction's scale `(1 − (1 − β)^m) / β`, as the sum `Σ_{k<m} (1 − β)^k` (no cancellation;
/// m at β = 0, its limit; exactly 1 for one child).
pub(crate) fn correction_scale(beta: f64, m: usize) -> f64 {
    let s = 1.0 - beta;
    let (mut total, mut power) = (0.0f64, 1.0f64);
    for _ in 0..m {
        total += power;
        power *= s;
    }
    total
}

/// The most bisection steps (the bracket [1, m] is exhausted in fewer: 52 halvings of an f64
/// mantissa plus log2(m)).
const MAX_BISECTIONS: usize = 200;

/// ρ* at a node with `m` children (SPEC §7): the smallest ρ in [1, m] with
/// `ρ β(ρ) − 1 + (1 − β(ρ))^m ≥ −τ` on the rows divided by their sums, by bisection that keeps
/// the upper end valid (the condition holds at m), until the bracket cannot be split. 1 for
/// m ≤ 1. `τ = (V + 4)·2^-52` bounds the rounding of the sums: t = q gives ρ* = 1.
///
/// Each step sums only the tokens whose ratio `t̂ / q̂` lies inside the bracket: the others
/// contribute `q̂` (ratio at or above the upper end) or `t̂ / ρ` (at or below the lower end) for
/// every ρ left, and are kept as two running sums, so the whole search reads the row a few
/// times, not once per step. Tokens with q = 0 contribute 0.
pub fn rho_star(t: &[f64], q: &[f64], m: usize) -> f64 {
    rho_star_by(t.len(), |x| (t[x].abs(), q[x].abs()), m).0
}

/// [`rho_star`] on f32 rows (widened exactly).
pub fn rho_star_f32(t: &[f32], q: &[f32], m: usize) -> f64 {
    rho_star_by(t.len(), |x| (t[x].abs() as f64, q[x].abs() as f64), m).0
}

/// The tolerance of the condition on a row of V: the rounding of its sums.
fn tolerance(v: usize) -> f64 {
    (v as f64 + 4.0) * f64::EPSILON
}

/// (ρ*, T, Q).
fn rho_star_by(v: usize, at: impl Fn(usize) -> (f64, f64), m: usize) -> (f64, f64, f64) {
    let (mut tm, mut qm) = (0.0f64, 0.0f64);
    for x in 0..v {
        let (tx, qx) = at(x);
        if tx.is_finite() {
            tm += tx;
        }
        if qx.is_finite() {
            qm += qx;
        }
    }
    if m <= 1 || tm <= 0.0 || qm <= 0.0 || !tm.is_finite() || !qm.is_finite() {
        return (1.0, tm, qm);
    }
    let tau = tolerance(v);
    let (mut lo, mut hi) = (1.0f64, m as f64);
    let power = |beta: f64| (1.0 - beta).powi(m as i32);
    // `above`: Σ q̂ over ratios ≥ hi; `below`: Σ t̂ over ratios ≤ lo; `inside`: the rest.
    let (mut above, mut below) = (0.0f64, 0.0f64);
    let mut inside: Vec<(f64, f64, f64)> = Vec::new();
    for x in 0..v {
        let (tx, qx) = at(x);
        let (tx, qx) = (tx / tm, qx / qm);
        if qx.is_nan() || tx.is_nan() || qx <= 0.0 {
            continue;
        }
        let ratio = tx / qx;
        if ratio >= hi {
            above += qx;
        } else if ratio <= lo {
            below += tx;
        } else {
            inside.push((ratio, tx, qx));
        }
    }
    // β(ρ) = Σ q̂ over ratios ≥ ρ + (Σ t̂ over ratios < ρ) / ρ: min(q̂, t̂/ρ) = q̂ iff ρ ≤ t̂/q̂.
    let g = |rho: f64, above: f64, below: f64, inside: &[(f64, f64, f64)]| {
        let (mut qa, mut tb) = (above, below);
        for &(ratio, t, q) in inside {
            if ratio >= rho {
                qa += q;
            } else {
                tb += t;
            }
        }
        let beta = qa + tb / rho;
        rho * beta - 1.0 + power(beta)
    };
    if g(lo, above, below, &inside) >= -tau {
        return (lo, tm, qm);
    }
    for _ in 0..MAX_BISECTIONS {
        let mid = lo + (hi - lo) / 2.0;
        if mid <= lo || mid >= hi {
            break;
        }
        if g(mid, above, below, &inside) >= -tau {
            hi = mid;
            inside.retain(|&(ratio, _, q)| {
                let keep = ratio < mid;
                if !keep {
                    above += q;
                }
                keep
            });
        } else {
            lo = mid;
            inside.retain(|&(ratio, t, _)| {
                let keep = ratio > mid;
                if !keep {
                    below += t;
                }
                keep
            });
        }
    }
    (hi, tm, qm)
}

/// `spectr` at one node: Σ_j β (1 − β)^(j−1) · gain_j with β = β(ρ*_m); with one child, the
/// token rule's (`rrs`'s first β).
pub(crate) fn spectr_node(t: &[f64], q: &[f64], gains: &[f64]) -> f64 {
    if gains.len() <= 1 {
        return rrs_node(t, q, gains);
    }
    let beta = spectr_node_values(t, q, gains.len()).beta;
    let (mut survive, mut total) = (1.0f64, 0.0f64);
    for &g in gains {
        total += survive * beta * g;
        survive *= 1.0 - beta;
    }
    total
}

/// A node's values for the f32 engines, as f32 bit patterns `[ρ, C', D]` on the rows as given:
/// ρ the smallest f32 at or above `ρ* T / Q` (so that `t / (ρ q) = t̂ / (ρ' q̂)` with
/// `ρ' = ρ Q / T ≥ ρ*`), `C = Σ_{k<m} (1 − β(ρ'))^k`, `C' = C T / Q` and `D = C' / ρ` (f64, each
/// rounded to nearest). With one child, `[1, 1, 1]` without reading the rows (the token rule).
/// Child x is accepted iff `coin · fl(ρ q[x]) < t[x]`; the correction's entry x is
/// `max(t − fl(C' q), 0)` where `fl(ρ q[x]) ≤ t[x]` and `max(t − fl(D t), 0)` elsewhere
/// (`T ŵ` of the normalised rows' vector, up to rounding).
pub fn spectr_f32(t: &[f32], q: &[f32], m: usize, _params: [f32; 2]) -> [u32; 3] {
    if m <= 1 {
        return [1.0f32.to_bits(); 3];
    }
    let (rho, tm, qm) = rho_star_by(t.len(), |x| (t[x].abs() as f64, q[x].abs() as f64), m);
    if tm <= 0.0 || qm <= 0.0 || !tm.is_finite() || !qm.is_finite() {
        return [1.0f32.to_bits(); 3];
    }
    let rho32 = round_up_f32(rho * tm / qm);
    let r = rho32 as f64;
    // β(ρ') = Σ min(q, t / ρ32) / Q.
    let beta = t.iter().zip(q).fold(0.0f64, |s, (&t, &q)| {
        s + (q.abs() as f64).min(t.abs() as f64 / r)
    }) / qm;
    let c = correction_scale(beta.clamp(0.0, 1.0), m) * tm / qm;
    let d = c / r;
    [rho32.to_bits(), (c as f32).to_bits(), (d as f32).to_bits()]
}

/// The smallest f32 at or above `x` (x finite, ≥ 1).
fn round_up_f32(x: f64) -> f32 {
    let f = x as f32;
    if (f as f64) < x {
        f32::from_bits(f.to_bits() + 1)
    } else {
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(t: &[f64], q: &[f64], m: usize, rho: f64) -> f64 {
        let (tm, qm) = (t.iter().sum::<f64>(), q.iter().sum::<f64>());
        let b = beta_normalised(t, q, tm, qm, rho);
        rho * b - 1.0 + (1.0 - b).powi(m as i32)
    }

    #[test]
    fn rho_star_is_the_smallest_valid_rho() {
        let t = [0.5, 0.3, 0.2, 0.0];
        let q = [0.1, 0.2, 0.3, 0.4];
        for m in 2..6 {
            let rho = rho_star(&t, &q, m);
            assert!((1.0..=m as f64).contains(&rho));
            assert!(g(&t, &q, m, rho) >= -tolerance(4), "valid at rho* ({m})");
            assert!(g(&t, &q, m, rho * (1.0 - 1e-9)) < 0.0, "not below ({m})");
        }
    }

    #[test]
    fn equal_rows_give_one_whatever_their_sums_last_bits() {
        // 0.1 ten times sums to 0.9999999999999999: the draft is the target, so every first
        // child is accepted (ρ* = 1), with 2 children or 64.
        let t = vec![0.1; 10];
        for m in [2, 4, 16, 64] {
            assert_eq!(rho_star(&t, &t, m), 1.0, "m = {m}");
            let [rho, _, _] = spectr_f32(&[0.1f32; 10], &[0.1f32; 10], m, [0.0; 2]);
            assert_eq!(f32::from_bits(rho), 1.0);
        }
        // Rows scaled by different constants are the same laws.
        let q: Vec<f64> = t.iter().map(|x| x * 0.999).collect();
        assert_eq!(rho_star(&t, &q, 8), 1.0);
    }

    #[test]
    fn one_child_and_equal_rows_give_one() {
        let t = [0.5, 0.5];
        assert_eq!(rho_star(&t, &t, 1), 1.0);
        assert_eq!(rho_star(&t, &t, 4), 1.0);
        assert_eq!(correction_scale(0.3, 1), 1.0);
        assert_eq!(correction_scale(0.0, 3), 3.0);
        assert_eq!(
            spectr_f32(&[0.5, 0.5], &[0.9, 0.1], 1, [0.0; 2]),
            [1.0f32.to_bits(); 3]
        );
    }

    #[test]
    fn the_f32_rho_is_at_or_above_rho_star() {
        let t = [0.7f32, 0.2, 0.1];
        let q = [0.2f32, 0.3, 0.5];
        let [rho, c, d] = spectr_f32(&t, &q, 3, [0.0; 2]);
        let exact = rho_star_f32(&t, &q, 3);
        let rho = f32::from_bits(rho) as f64;
        assert!(rho >= exact && rho - exact <= exact * f32::EPSILON as f64);
        let (c, d) = (f32::from_bits(c) as f64, f32::from_bits(d) as f64);
        assert!(c <= rho * (1.0 + 1e-6) && (d - c / rho).abs() <= 1e-6);
    }
}
