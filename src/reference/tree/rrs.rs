//! `rrs` (SPEC §7; SpecInfer): recursive rejection sampling, children drawn i.i.d. from the
//! draft row. The walk and the bottom-up expectation are shared with `rrs-wor` (`rrs_wor.rs`).

use super::{TreeReference, rows_read_rejecting, token_like_chain_reads};
use crate::exact::{key, sample_index};
use crate::reference::tree::walk::{NodeTrace, Step, TreeInput, note_test, note_vector};
use crate::reference::{Values, argmax_f64};
use crate::rule::tree::Rrs;
use crate::topology::Tree;

impl TreeReference for Rrs {
    fn step_traced<V: Values + ?Sized, C: Values + ?Sized>(
        input: &TreeInput<'_, V, C>,
        u: usize,
        trace: &mut Option<NodeTrace>,
        _params: [f64; 2],
    ) -> Step {
        rrs_step(false, input, u, trace)
    }

    fn expected_generated<V: Values + ?Sized>(
        tree: &Tree,
        d: &V,
        t: &V,
        _tokens: &[u32],
        v: usize,
        _params: [f64; 2],
    ) -> Option<f64> {
        bottom_up(tree, d, t, v, |_, t, q, gains| Some(rrs_node(t, q, gains)))
    }

    /// I.i.d. from the draft row.
    fn draw_children(q: &[f32], m: usize, random: &dyn Fn(usize) -> u64) -> Option<Vec<usize>> {
        draw_sampled(q, m, random, false)
    }

    /// `β_j Π_{i<j} (1 − β_i)` (SPEC §9), q normalised.
    fn positional(t: &[f64], q: &[f64], width: usize, _params: [f64; 2]) -> Option<Vec<f64>> {
        Some(rrs_positional(t, q, width))
    }

    fn rows_read(tree: &Tree, path: &[usize]) -> usize {
        rows_read_rejecting(tree, path)
    }

    /// What the token rule reads.
    fn chain_reads(k: usize, a: usize) -> (usize, usize) {
        token_like_chain_reads(k, a)
    }

    /// The normalisers N_j and W_j sum V entries after each rejection.
    fn vector_slack(tests: usize, v: usize) -> f64 {
        2.0 + tests as f64 * v as f64
    }
}

/// The walk of `rrs` and (`wor`) `rrs-wor` at internal node `u`, in SPEC §7's order.
pub(super) fn rrs_step<V: Values + ?Sized, C: Values + ?Sized>(
    wor: bool,
    input: &TreeInput<'_, V, C>,
    u: usize,
    trace: &mut Option<NodeTrace>,
) -> Step {
    let children = input.tree.children(u);
    let t = input.target_row(u);
    let mut q = input.draft_row(u);
    let mut r = t.clone();
    for (j, &c) in children.iter().enumerate() {
        let x = input.token(c);
        let a = (r[x] / q[x]).min(1.0);
        let coin = input.coins.at(c as usize);
        note_test(trace, c, coin, a);
        if coin < a {
            return Step::Accept(c as usize);
        }
        let res: Vec<f64> = r.iter().zip(&q).map(|(r, q)| (r - q).max(0.0)).collect();
        let s = res.iter().fold(0.0f64, |s, x| s + x);
        if let Some(tr) = trace.as_mut() {
            tr.residual_sums.push(s);
        }
        if s == 0.0 {
            note_vector(trace, &t);
            return Step::Stop(argmax_f64(t.iter().copied()) as u32);
        }
        if j + 1 == children.len() {
            note_vector(trace, &res);
            return Step::Stop(argmax_f64(res.into_iter()) as u32);
        }
        r = res.iter().map(|x| x / s).collect();
        if wor {
            q[x] = 0.0;
            let qs = q.iter().fold(0.0f64, |s, x| s + x);
            for e in &mut q {
                *e /= qs;
            }
        }
    }
    unreachable!("an internal node has a child")
}

/// Bottom-up: E(u) = Σ_j P(child j accepted) (1 + E(c_j)), with `node(u, t, q, gains)` the
/// rule's sum at node u (`None`: too costly).
pub(super) fn bottom_up<V: Values + ?Sized>(
    tree: &Tree,
    d: &V,
    t: &V,
    v: usize,
    node: impl Fn(usize, &[f64], &[f64], &[f64]) -> Option<f64>,
) -> Option<f64> {
    let row = |f: &V, u: usize| -> Vec<f64> { f.range(u * v, v).map(f64::abs).collect() };
    let mut e = vec![0.0f64; tree.len()];
    for u in (0..tree.len()).rev() {
        let ch: Vec<usize> = tree.children(u).iter().map(|&c| c as usize).collect();
        if ch.is_empty() {
            continue;
        }
        let gains: Vec<f64> = ch.iter().map(|&c| 1.0 + e[c]).collect();
        e[u] = node(u, &row(t, u), &row(d, u), &gains)?;
    }
    Some(1.0 + e[0])
}

/// `rrs`'s positional vector: `P[j] = β_j Π_{i<j} (1 − β_i)`, the recursion of [`rrs_node`].
pub(crate) fn rrs_positional(t: &[f64], q: &[f64], width: usize) -> Vec<f64> {
    (0..width)
        .map(|j| {
            let mut gains = vec![0.0; j + 1];
            gains[j] = 1.0;
            rrs_node(t, q, &gains)
        })
        .collect()
}

/// `rrs` at one node: Σ_j β_j Π_{i<j} (1 − β_i) · gain_j, with β_j = Σ_x min(r_j(x), q(x)) and
/// r_{j+1} = max(r_j − q, 0) normalised (children drawn i.i.d. from q, normalised).
pub(crate) fn rrs_node(t: &[f64], q: &[f64], gains: &[f64]) -> f64 {
    let qs: f64 = q.iter().sum();
    let q: Vec<f64> = q.iter().map(|x| x / qs).collect();
    let mut r = t.to_vec();
    let (mut survive, mut total) = (1.0f64, 0.0f64);
    for &g in gains {
        let beta: f64 = r.iter().zip(&q).map(|(a, b)| a.min(*b)).sum();
        total += survive * beta * g;
        survive *= 1.0 - beta;
        let res: Vec<f64> = r.iter().zip(&q).map(|(a, b)| (a - b).max(0.0)).collect();
        let s: f64 = res.iter().sum();
        if s <= 0.0 {
            break;
        }
        r = res.iter().map(|x| x / s).collect();
    }
    total
}

/// `m` tokens sampled from the f32 draft row `q` with the exact integer sampler, child j from
/// `random(j)`; `wor`: without replacement (`None` when fewer than `m` tokens have positive
/// probability).
pub(super) fn draw_sampled(
    q: &[f32],
    m: usize,
    random: &dyn Fn(usize) -> u64,
    wor: bool,
) -> Option<Vec<usize>> {
    let mut taken: Vec<usize> = Vec::with_capacity(m);
    for j in 0..m {
        let x = sample_index(
            q.len(),
            |x| {
                if wor && taken.contains(&x) {
                    0
                } else {
                    key(q[x].to_bits())
                }
            },
            random(j),
        )?;
        taken.push(x);
    }
    Some(taken)
}
