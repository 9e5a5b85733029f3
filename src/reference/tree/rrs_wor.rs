//! `rrs-wor` (SPEC §7; Jeon et al. 2024, Sequoia): recursive rejection sampling without
//! replacement (the walk of `rrs.rs`, the rejected token removed from the draft row).

use super::TreeReference;
use super::rrs::{bottom_up, draw_sampled, rrs_step};
use crate::reference::Values;
use crate::reference::tree::walk::{NodeTrace, Step, TreeInput};
use crate::rule::tree::{Rrs, RrsWor};
use crate::topology::Tree;

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
    ) -> Option<f64> {
        bottom_up(tree, d, t, v, |t, q, gains| {
            enumerable(v, gains.len()).then(|| wor_node(t, q, gains, 1.0, 0))
        })
    }

    /// By enumeration of the rejected prefixes (children drawn without replacement), within
    /// [`ENUMERATION_BUDGET`]; `None` beyond it, or with more children than tokens of positive
    /// draft probability.
    fn positional(t: &[f64], q: &[f64], width: usize) -> Option<Vec<f64>> {
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
