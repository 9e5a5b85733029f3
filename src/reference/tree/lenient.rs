//! `lenient:l` (SPEC §13; Leviathan et al.'s lenience), on chains (path trees): the drafted token
//! x is accepted iff `coin < min(1, p(x) / (l q(x)))`; on a rejection the correction is the
//! argmax (or a sample) of `max(p − l q, 0)`, or of p where that has no mass. l = 1 is the token
//! rule.

use super::{TreeReference, rows_read_rejecting, token_like_chain_reads};
use crate::reference::tree::rrs::draw_sampled;
use crate::reference::tree::walk::{NodeTrace, Step, TreeInput, note_test, note_vector};
use crate::reference::{Values, argmax_f64};
use crate::rule::tree::Lenient;
use crate::topology::Tree;

impl TreeReference for Lenient {
    fn step_traced<V: Values + ?Sized, C: Values + ?Sized>(
        input: &TreeInput<'_, V, C>,
        u: usize,
        trace: &mut Option<NodeTrace>,
        params: [f64; 2],
    ) -> Step {
        let l = params[0];
        let t = input.target_row(u);
        let q = input.draft_row(u);
        // A path tree: one child (validation refuses branches).
        let c = input.tree.children(u)[0];
        let x = input.token(c);
        let a = (t[x] / (l * q[x])).min(1.0);
        let coin = input.coins.at(c as usize);
        note_test(trace, c, coin, a);
        if coin < a {
            return Step::Accept(c as usize);
        }
        let res: Vec<f64> = t
            .iter()
            .zip(&q)
            .map(|(t, q)| (t - l * q).max(0.0))
            .collect();
        if res.iter().any(|&r| r > 0.0) {
            note_vector(trace, &res);
            Step::Stop(argmax_f64(res.into_iter()) as u32)
        } else {
            note_vector(trace, &t);
            Step::Stop(argmax_f64(t.iter().copied()) as u32)
        }
    }

    /// On a path tree, tokens drawn from the draft row: `1 + Σ_k Π_{i≤k} A_i`, `A_i = Σ_x q̂(x)
    /// min(1, p(x) / (l q(x)))` (q̂ = q over its sum, the law the tokens are drawn from).
    fn expected_generated<V: Values + ?Sized>(
        tree: &Tree,
        d: &V,
        t: &V,
        _tokens: &[u32],
        v: usize,
        params: [f64; 2],
    ) -> Option<f64> {
        chain_expectation(tree, d, t, v, |t, q| lenient_acceptance(t, q, params[0]))
    }

    /// I.i.d. from the draft row (one child).
    fn draw_children(q: &[f32], m: usize, random: &dyn Fn(usize) -> u64) -> Option<Vec<usize>> {
        draw_sampled(q, m, random, false)
    }

    /// One child: its acceptance; more: none (a chain rule).
    fn positional(t: &[f64], q: &[f64], width: usize, params: [f64; 2]) -> Option<Vec<f64>> {
        (width == 1).then(|| vec![lenient_acceptance(t, q, params[0])])
    }

    fn rows_read(tree: &Tree, path: &[usize]) -> usize {
        rows_read_rejecting(tree, path)
    }

    /// What the token rule reads.
    fn chain_reads(k: usize, a: usize) -> (usize, usize) {
        token_like_chain_reads(k, a)
    }

    /// The f32 engines round l·q once before subtracting it.
    fn vector_slack(_tests: usize, _v: usize) -> f64 {
        2.0
    }
}

/// `Σ_x q̂(x) min(1, t(x) / (l q(x)))`, q̂ = q over its sum (entries of q = 0 are never drawn).
pub(crate) fn lenient_acceptance(t: &[f64], q: &[f64], l: f64) -> f64 {
    let qs: f64 = q.iter().map(|x| x.abs()).sum();
    if qs <= 0.0 {
        return 0.0;
    }
    t.iter()
        .zip(q)
        .filter(|(_, q)| q.abs() > 0.0)
        .map(|(t, q)| q.abs() / qs * (t.abs() / (l * q.abs())).min(1.0))
        .sum()
}

/// On a path tree: `1 + Σ_k Π_{i≤k} A_i` with `A_i = accept(t_i, q_i)` at node i; `None` on a
/// tree with branches.
pub(crate) fn chain_expectation<V: Values + ?Sized>(
    tree: &Tree,
    d: &V,
    t: &V,
    v: usize,
    accept: impl Fn(&[f64], &[f64]) -> f64,
) -> Option<f64> {
    if tree.max_children() > 1 {
        return None;
    }
    let row = |f: &V, u: usize| -> Vec<f64> { f.range(u * v, v).map(f64::abs).collect() };
    let (mut reach, mut total, mut u) = (1.0f64, 1.0f64, 0usize);
    while let Some(&c) = tree.children(u).first() {
        reach *= accept(&row(t, u), &row(d, u));
        total += reach;
        u = c as usize;
    }
    Some(total)
}
