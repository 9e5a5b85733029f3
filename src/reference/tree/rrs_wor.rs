//! `rrs-wor` (SPEC §7; Jeon et al. 2024, Sequoia): recursive rejection sampling without
//! replacement (the walk of `rrs.rs`, the rejected token removed from the draft row), and its unbiased Rao-Blackwellised estimates where
//! enumeration is beyond its budget.

use super::TreeReference;
use super::rrs::{bottom_up, draw_sampled, rrs_step};
use crate::reference::Values;
use crate::reference::tree::walk::{NodeTrace, Step, TreeInput};
use crate::rule::tree::{Rrs, RrsWor};
use crate::topology::Tree;

/// XORed into the seed of `rrs-wor`'s estimates, so their random words are never those of the
/// rows they estimate (which a study generates from the same seed).
pub const ESTIMATE_KEY: u64 = 0x3C6E_F372_FE94_F82B;

/// The largest V^m · V an `rrs-wor` enumeration may take at one node.
pub const ENUMERATION_BUDGET: f64 = 4e6;

/// Whether a node of `m` children over V = `v` is within [`ENUMERATION_BUDGET`] (V^m · V).
pub(crate) fn enumerable(v: usize, m: usize) -> bool {
    (v as f64).powi(m.min(64) as i32) * v as f64 <= ENUMERATION_BUDGET
}

impl TreeReference for RrsWor {
    fn step_traced<V: Values + ?Sized, C: Values + ?Sized>(
        input: &TreeInput<'_, V, C>,
        u: usize,
        trace: &mut Option<NodeTrace>,
        _params: [f64; 2],
    ) -> Step {
        rrs_step(true, input, u, trace)
    }

    /// By enumeration over the children's tokens at each node; `None` when a node's enumeration
    /// exceeds [`ENUMERATION_BUDGET`].
    fn expected_generated<V: Values + ?Sized>(
        tree: &Tree,
        d: &V,
        t: &V,
        _tokens: &[u32],
        v: usize,
        _params: [f64; 2],
    ) -> Option<f64> {
        bottom_up(tree, d, t, v, |_, t, q, gains| {
            enumerable(v, gains.len()).then(|| wor_node(t, q, gains, 1.0, 0))
        })
    }

    /// By enumeration of the rejected prefixes (children drawn without replacement), within
    /// [`ENUMERATION_BUDGET`]; `None` beyond it, or with more children than tokens of positive
    /// draft probability.
    fn positional(t: &[f64], q: &[f64], width: usize, _params: [f64; 2]) -> Option<Vec<f64>> {
        let v = q.len();
        let support = q.iter().filter(|&&x| x > 0.0).count();
        if width > support || !enumerable(v, width) {
            return None;
        }
        Some(
            (0..width)
                .map(|j| {
                    let mut gains = vec![0.0; j + 1];
                    gains[j] = 1.0;
                    wor_node(t, q, &gains, 1.0, 0)
                })
                .collect(),
        )
    }

    /// Without replacement from the draft row.
    fn draw_children(q: &[f32], m: usize, random: &dyn Fn(usize) -> u64) -> Option<Vec<usize>> {
        draw_sampled(q, m, random, true)
    }

    /// What `rrs` reads.
    fn rows_read(tree: &Tree, path: &[usize]) -> usize {
        <Rrs as TreeReference>::rows_read(tree, path)
    }

    /// What `rrs` reads.
    fn chain_reads(k: usize, a: usize) -> (usize, usize) {
        <Rrs as TreeReference>::chain_reads(k, a)
    }

    /// As `rrs`.
    fn vector_slack(tests: usize, v: usize) -> f64 {
        <Rrs as TreeReference>::vector_slack(tests, v)
    }
}

/// `rrs-wor` at one node, by enumeration over the children's tokens drawn without replacement:
/// child `j` with the draft row `q` (the rejected tokens removed, unnormalised) and the residual
/// `r`, reached with probability `reach`.
pub(crate) fn wor_node(r: &[f64], q: &[f64], gains: &[f64], reach: f64, j: usize) -> f64 {
    if j == gains.len() || reach == 0.0 {
        return 0.0;
    }
    let qs: f64 = q.iter().sum();
    if qs <= 0.0 {
        return 0.0;
    }
    let mut total = 0.0;
    for x in 0..q.len() {
        if q[x] <= 0.0 {
            continue;
        }
        let p_draw = q[x] / qs;
        let qn = q[x] / qs;
        let a = (r[x] / qn).min(1.0);
        total += reach * p_draw * a * gains[j];
        // Rejected: the residual against the normalised q, then q without x.
        let res: Vec<f64> = r
            .iter()
            .zip(q)
            .map(|(ri, qi)| (ri - qi / qs).max(0.0))
            .collect();
        let s: f64 = res.iter().sum();
        if s <= 0.0 || a >= 1.0 {
            continue;
        }
        let r2: Vec<f64> = res.iter().map(|v| v / s).collect();
        let mut q2 = q.to_vec();
        q2[x] = 0.0;
        total += wor_node(&r2, &q2, gains, reach * p_draw * (1.0 - a), j + 1);
    }
    total
}

/// [`rrs_wor_positional_estimate`]'s result: per position and in all, each a mean and the
/// standard error of the mean.
#[derive(Clone, Debug, PartialEq)]
pub struct WorEstimate {
    /// `P[j]` (child j is the accepted one), j = 0..n.
    pub positional: Vec<f64>,
    /// The standard error of each `P[j]`.
    pub positional_se: Vec<f64>,
    /// P(a child is accepted) = `Σ_j P[j]`, and its standard error.
    pub total: (f64, f64),
}

/// `rrs-wor`'s positional vector at a node of `n` children (SPEC §9) by the Rao-Blackwellised
/// estimate of `reference::optimal::rrs_wor_estimate`: the same samples, each adding `a_j Π_{i<j} (1 − a_i)` at
/// position j (unbiased for `P[j]`); the total is
/// `reference::optimal::rrs_wor_estimate`'s, bit for bit.
pub fn rrs_wor_positional_estimate(
    p: &[f64],
    q: &[f64],
    n: usize,
    samples: usize,
    seed: u64,
    round: u64,
) -> WorEstimate {
    let v = p.len();
    let samples = samples.max(1);
    // The estimate's own Philox key: keyed by the study's seed alone, its words would be the
    // very blocks that generated the rows (seed, round, position, stream, index), and the
    // estimate would depend on the row it estimates (a bias found by the paired test).
    let seed = seed ^ ESTIMATE_KEY;
    let (mut sum, mut sum_sq) = (0.0f64, 0.0f64);
    let (mut pos, mut pos_sq) = (vec![0.0f64; n], vec![0.0f64; n]);
    let mut r = vec![0.0f64; v];
    let mut qq = vec![0.0f64; v];
    for k in 0..samples {
        r.copy_from_slice(p);
        qq.copy_from_slice(q);
        let mut qs: f64 = qq.iter().sum();
        let (mut survive, mut accepted) = (1.0f64, 0.0f64);
        for j in 0..n {
            if qs <= 0.0 || survive <= 0.0 {
                break;
            }
            // Draw x from qq / qs.
            let word = crate::rng::random_u64(
                seed,
                round as u32,
                k as u32,
                (round >> 32) as u32,
                j as u32,
            );
            let u = (word >> 11) as f64 * (1.0 / 9_007_199_254_740_992.0) * qs;
            let mut acc = 0.0f64;
            let mut x = v;
            for (y, &w) in qq.iter().enumerate() {
                if w > 0.0 {
                    acc += w;
                    x = y;
                    if u < acc {
                        break;
                    }
                }
            }
            if x == v {
                break;
            }
            let qx = qq[x] / qs;
            let a = (r[x] / qx).min(1.0);
            accepted += survive * a;
            pos[j] += survive * a;
            pos_sq[j] += (survive * a) * (survive * a);
            survive *= 1.0 - a;
            // Rejected: the residual against the normalised q, then q without x.
            let mut rs = 0.0f64;
            for (ri, &qi) in r.iter_mut().zip(&qq) {
                *ri = (*ri - qi / qs).max(0.0);
                rs += *ri;
            }
            if rs <= 0.0 {
                break;
            }
            r.iter_mut().for_each(|ri| *ri /= rs);
            qq[x] = 0.0;
            qs = qq.iter().sum();
        }
        sum += accepted;
        sum_sq += accepted * accepted;
    }
    let m = samples as f64;
    let mean_se = |sum: f64, sum_sq: f64| {
        let var = if samples > 1 {
            ((sum_sq - sum * sum / m) / (m - 1.0)).max(0.0)
        } else {
            0.0
        };
        (sum / m, (var / m).sqrt())
    };
    let (positional, positional_se) = pos
        .iter()
        .zip(&pos_sq)
        .map(|(&a, &b)| mean_se(a, b))
        .unzip();
    WorEstimate {
        positional,
        positional_se,
        total: mean_se(sum, sum_sq),
    }
}

/// `E[generated]` of one round under `rrs-wor` (SPEC §9) with every node beyond the enumeration
/// budget estimated: at such a node, [`rrs_wor_positional_estimate`] with `samples` samples keyed
/// by (`seed`, `round`, the node), elsewhere the exact enumeration. The estimates of different
/// nodes are independent and each is unbiased, so `E(u) = Σ_j P̂_u[j] (1 + Ê(c_j))` is unbiased.
/// Returns (value, whether any node was estimated); `None` when a node has more children than
/// tokens of positive draft probability.
pub fn estimated_generated<V: Values + ?Sized>(
    tree: &Tree,
    d: &V,
    t: &V,
    v: usize,
    samples: usize,
    seed: u64,
    round: u32,
) -> Option<(f64, bool)> {
    let estimated = std::cell::Cell::new(false);
    let e = bottom_up(tree, d, t, v, |u, t, q, gains| {
        if enumerable(v, gains.len()) {
            return Some(wor_node(t, q, gains, 1.0, 0));
        }
        let (ts, qs): (f64, f64) = (t.iter().sum(), q.iter().sum());
        if ts <= 0.0 || qs <= 0.0 || q.iter().filter(|&&x| x > 0.0).count() < gains.len() {
            return None;
        }
        let tn: Vec<f64> = t.iter().map(|x| x / ts).collect();
        let qn: Vec<f64> = q.iter().map(|x| x / qs).collect();
        estimated.set(true);
        let key = round as u64 | (u as u64) << 32;
        let est = rrs_wor_positional_estimate(&tn, &qn, gains.len(), samples, seed, key);
        Some(est.positional.iter().zip(gains).map(|(p, g)| p * g).sum())
    })?;
    Some((e, estimated.get()))
}

#[cfg(test)]
mod estimate_tests {
    use super::*;

    /// The positional estimate agrees with the enumeration (within 5 standard errors at every
    /// position), and its total with the estimate of `reference::optimal`, bit for bit.
    #[test]
    fn positional_estimate_agrees_with_enumeration() {
        let t = [0.3, 0.25, 0.2, 0.1, 0.05, 0.05, 0.03, 0.02];
        let q = [0.05, 0.1, 0.3, 0.2, 0.15, 0.1, 0.05, 0.05];
        let est = rrs_wor_positional_estimate(&t, &q, 3, 40_000, 5, 9);
        for j in 0..3 {
            let mut gains = vec![0.0; j + 1];
            gains[j] = 1.0;
            let exact = wor_node(&t, &q, &gains, 1.0, 0);
            let (m, se) = (est.positional[j], est.positional_se[j]);
            assert!(
                se > 0.0 && (m - exact).abs() < 5.0 * se,
                "P[{j}] {m} ± {se} vs {exact}"
            );
        }
        let (total, _) = crate::reference::optimal::rrs_wor_estimate(&t, &q, 3, 40_000, 5, 9);
        assert_eq!(total.to_bits(), est.total.0.to_bits());
    }

    /// A tree's estimated E[generated] is the enumeration's where every node is enumerable (no
    /// flag), and an unbiased estimate of it otherwise: its mean over keys is within 5 standard
    /// errors of the exact value computed without the budget.
    #[test]
    fn estimated_generated_is_unbiased() {
        let v = 50; // 50^3 · 50 > 4e6: a node of 3 children is estimated
        let tree = Tree::from_parents(&[-1, 0, 0, 0, 1, 1]).unwrap();
        let row = |s: usize| -> Vec<f32> {
            let w: Vec<f32> = (0..v)
                .map(|x| (((x * 7 + s * 3) % 11) + 1) as f32)
                .collect();
            let sum: f32 = w.iter().sum();
            w.iter().map(|x| x / sum).collect()
        };
        let (mut d, mut t) = (Vec::new(), Vec::new());
        for u in 0..tree.len() {
            d.extend(row(u));
            t.extend(row(u + 5));
        }
        assert!(!enumerable(v, 3) && enumerable(v, 2));
        let exact = bottom_up(&tree, &d[..], &t[..], v, |_, t, q, gains| {
            Some(wor_node(t, q, gains, 1.0, 0))
        })
        .unwrap();
        let runs: Vec<f64> = (0..400)
            .map(|r| {
                let (e, est) = estimated_generated(&tree, &d[..], &t[..], v, 4, 3, r).unwrap();
                assert!(est);
                e
            })
            .collect();
        let n = runs.len() as f64;
        let m = runs.iter().sum::<f64>() / n;
        let sd = (runs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1.0)).sqrt();
        assert!(
            (m - exact).abs() < 5.0 * sd / n.sqrt(),
            "{m} ± {} vs {exact}",
            sd / n.sqrt()
        );
        let small = Tree::from_parents(&[-1, 0, 0, 1]).unwrap();
        let (e, est) = estimated_generated(&small, &d[..], &t[..], v, 4, 3, 0).unwrap();
        assert!(!est);
        assert_eq!(
            e,
            RrsWor::expected_generated(&small, &d[..], &t[..], &[], v, [0.0; 2]).unwrap()
        );
    }
}
