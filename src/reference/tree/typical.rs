//! `typical:eps:delta` (SPEC §13; vLLM v0's `TypicalAcceptanceSampler`, Medusa's typical
//! acceptance), on chains (path trees): the drafted token x is accepted iff `p(x) > min(eps,
//! delta · exp(−H))` with `H = −Σ_y p(y) ln(p(y) + 1e−5)` over the node's target row as given; on
//! a rejection the correction is a fresh sample of p (vLLM) or its argmax (Medusa's `fast`). No
//! coin is read.
//!
//! The f32 engines read the threshold from [`typical_threshold_f32`]: computed in f64 from the
//! node's f32 row (ascending token id) and rounded to f32 once, by the host for the GPU and by
//! the CPU twin at the nodes it visits, so both compare the same two f32 values.

use super::TreeReference;
use super::lenient::chain_expectation;
use crate::reference::tree::rrs::draw_sampled;
use crate::reference::tree::walk::{NodeTrace, Step, TreeInput, note_test, note_vector};
use crate::reference::{Values, argmax_f64};
use crate::rule::tree::Typical;
use crate::topology::Tree;

impl TreeReference for Typical {
    fn step_traced<V: Values + ?Sized, C: Values + ?Sized>(
        input: &TreeInput<'_, V, C>,
        u: usize,
        trace: &mut Option<NodeTrace>,
        params: [f64; 2],
    ) -> Step {
        let t: Vec<f64> = input.target_row(u).into_iter().map(f64::abs).collect();
        let threshold = typical_threshold(&t, params);
        // A path tree: one child (validation refuses branches).
        let c = input.tree.children(u)[0];
        let x = input.token(c);
        // Accepted iff threshold < p(x): recorded as the coin `threshold` against `p(x)`.
        note_test(trace, c, threshold, t[x]);
        if t[x] > threshold {
            return Step::Accept(c as usize);
        }
        note_vector(trace, &t);
        Step::Stop(argmax_f64(t.iter().copied()) as u32)
    }

    /// On a path tree, tokens drawn from the draft row: `1 + Σ_k Π_{i≤k} A_i`, `A_i = Σ_x q̂(x)
    /// 1[p(x) > threshold]`.
    fn expected_generated<V: Values + ?Sized>(
        tree: &Tree,
        d: &V,
        t: &V,
        _tokens: &[u32],
        v: usize,
        params: [f64; 2],
    ) -> Option<f64> {
        chain_expectation(tree, d, t, v, |t, q| typical_acceptance(t, q, params))
    }

    /// I.i.d. from the draft row (one child).
    fn draw_children(q: &[f32], m: usize, random: &dyn Fn(usize) -> u64) -> Option<Vec<usize>> {
        draw_sampled(q, m, random, false)
    }

    /// One child: its acceptance; more: none (a chain rule).
    fn positional(t: &[f64], q: &[f64], width: usize, params: [f64; 2]) -> Option<Vec<f64>> {
        (width == 1).then(|| vec![typical_acceptance(t, q, params)])
    }

    /// The target row of every node it visits (and the bonus row).
    fn rows_read(_tree: &Tree, path: &[usize]) -> usize {
        path.len()
    }

    /// The target row at every node visited; the token of each child decided.
    fn chain_reads(k: usize, a: usize) -> (usize, usize) {
        (a + 1, (a + usize::from(a < k)) * 4)
    }

    /// The threshold is `e^(−H)` of a sum of V terms: rows rounded to f32 move H by about
    /// `(1 + H) 2^−24`, H ≤ ln V.
    fn test_slack(_j: usize, v: usize) -> f64 {
        3.0 + (v.max(1) as f64).ln()
    }

    const NODE_VALUES: Option<super::NodeValues> = Some(typical_threshold_f32);
    const NODE_VALUES_ROWS_FROM: usize = 1;
}

/// `min(eps, delta · exp(−H))`, `H = −Σ_y t(y) ln(t(y) + 1e−5)` summed in ascending y, in f64.
pub(crate) fn typical_threshold(t: &[f64], params: [f64; 2]) -> f64 {
    let [eps, delta] = params;
    let mut h = 0.0f64;
    for &y in t {
        h -= y * (y + 1e-5).ln();
    }
    eps.min(delta * (-h).exp())
}

/// `typical_threshold` (min(eps, delta·exp(−H))) of a node's f32 target row (as f64, absolute values) and the f32
/// parameters, rounded to f32: the value both f32 engines compare p(x) with (word 0; words 1
/// and 2 are 0). Its rows are read from one child on.
pub fn typical_threshold_f32(t: &[f32], _q: &[f32], _m: usize, params: [f32; 2]) -> [u32; 3] {
    let row: Vec<f64> = t.iter().map(|&x| f64::from(x.abs())).collect();
    let th = typical_threshold(&row, params.map(f64::from)) as f32;
    // Non-negative, +0 for 0: the shader compares bit patterns.
    let th = if th > 0.0 { th } else { 0.0 };
    [th.to_bits(), 0, 0]
}

/// `Σ_x q̂(x) 1[t(x) > threshold(t)]`, q̂ = q over its sum.
pub(crate) fn typical_acceptance(t: &[f64], q: &[f64], params: [f64; 2]) -> f64 {
    let qs: f64 = q.iter().map(|x| x.abs()).sum();
    if qs <= 0.0 {
        return 0.0;
    }
    let th = typical_threshold(t, params);
    t.iter()
        .zip(q)
        .filter(|(t, _)| t.abs() > th)
        .map(|(_, q)| q.abs() / qs)
        .sum()
}
