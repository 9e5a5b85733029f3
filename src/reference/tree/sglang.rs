//! `sglang:ts:ta` (SPEC §13; SGLang's `tree_speculative_sampling_target_only` with
//! `--speculative-accept-threshold-single` ts and `--speculative-accept-threshold-acc` ta), on
//! chains and trees: at a node, with `S_j` the running sum of the target's probabilities of the
//! children's tokens in sibling order, child j is accepted first if `coin ≤ S_j / ta` or
//! `p(tok_j) ≥ ts` (node u's coin, as `target-only`); otherwise the correction is the argmax (or
//! a sample) of the target row with the children's tokens zeroed. `sglang:1:1` is `target-only`
//! with `≤` for `<`.

use super::TreeReference;
use crate::reference::Values;
use crate::reference::tree::expect::top_m;
use crate::reference::tree::walk::{
    NodeTrace, Step, TreeInput, masked_argmax, note_test, note_vector,
};
use crate::rule::tree::Sglang;
use crate::topology::Tree;

impl TreeReference for Sglang {
    /// The coin of node i (the parent) decides position i.
    const CHAIN_COIN_SHIFT: usize = 0;

    fn step_traced<V: Values + ?Sized, C: Values + ?Sized>(
        input: &TreeInput<'_, V, C>,
        u: usize,
        trace: &mut Option<NodeTrace>,
        params: [f64; 2],
    ) -> Step {
        let [ts, ta] = params;
        let children = input.tree.children(u);
        let t: Vec<f64> = input.target_row(u).into_iter().map(f64::abs).collect();
        let coin = input.coins.at(u);
        let mut s = 0.0f64;
        for &c in children {
            let p = t[input.token(c)];
            s += p;
            // p ≥ ts, recorded as the "coin" ts against the threshold p (its real margin).
            note_test(trace, c, ts, p);
            if p >= ts {
                return Step::Accept(c as usize);
            }
            // coin ≤ S/ta, recorded as the coin against the threshold S/ta.
            note_test(trace, c, coin, s / ta);
            if coin * ta <= s {
                return Step::Accept(c as usize);
            }
        }
        let masked = children.iter().map(|&c| input.token(c));
        let mut m = t.clone();
        for x in masked.clone() {
            m[x] = 0.0;
        }
        note_vector(trace, &m);
        Step::Stop(masked_argmax(&t, masked))
    }

    /// Given the children's tokens: P(reach c) = P(reach u) · P(c is the first child accepted),
    /// the coin uniform on [0, 1): child j takes `min(1, S_j/ta) − min(1, S_{j−1}/ta)`, and the
    /// first child with p ≥ ts takes all that is left.
    fn expected_generated<V: Values + ?Sized>(
        tree: &Tree,
        _d: &V,
        t: &V,
        tokens: &[u32],
        v: usize,
        params: [f64; 2],
    ) -> Option<f64> {
        let n = tree.len();
        let mut reach = vec![0.0f64; n];
        reach[0] = 1.0;
        let mut total = 1.0;
        for u in 0..n {
            let ps: Vec<f64> = tree
                .children(u)
                .iter()
                .map(|&c| t.at(u * v + tokens[c as usize] as usize).abs())
                .collect();
            for (&c, p) in tree.children(u).iter().zip(sglang_positional(&ps, params)) {
                reach[c as usize] = reach[u] * p;
                total += reach[c as usize];
            }
        }
        Some(total)
    }

    /// The draft's top-m (distinct), as `target-only`.
    fn draw_children(q: &[f32], m: usize, _random: &dyn Fn(usize) -> u64) -> Option<Vec<usize>> {
        let top = top_m(q, q.len(), m);
        (top.len() == m).then_some(top)
    }

    /// Over the draft's top-`width`: P(the j-th is the first accepted).
    fn positional(t: &[f64], q: &[f64], width: usize, params: [f64; 2]) -> Option<Vec<f64>> {
        let top = top_m(q, q.len(), width);
        if top.len() < width {
            return None;
        }
        let ps: Vec<f64> = top.iter().map(|&x| t[x].abs()).collect();
        Some(sglang_positional(&ps, params))
    }

    /// The target row where it stops (masked correction) or the bonus row.
    fn rows_read(_tree: &Tree, _path: &[usize]) -> usize {
        1
    }

    /// The stopping node's target row (or the bonus row); each decision's token, coin and p.
    fn chain_reads(k: usize, a: usize) -> (usize, usize) {
        (1, (a + usize::from(a < k)) * 12)
    }

    /// The running sum S_j carries j + 1 roundings.
    fn test_slack(j: usize, _v: usize) -> f64 {
        2.0 + j as f64
    }
}

/// P(child j is the first accepted) for children with target probabilities `ps` in sibling
/// order, the coin uniform on [0, 1): `min(1, S_j/ta) − min(1, S_{j−1}/ta)` up to the first child
/// with p ≥ ts, which takes `1 − min(1, S_{j−1}/ta)`.
pub(crate) fn sglang_positional(ps: &[f64], params: [f64; 2]) -> Vec<f64> {
    let [ts, ta] = params;
    let (mut s, mut prev, mut done) = (0.0f64, 0.0f64, false);
    ps.iter()
        .map(|&p| {
            if done {
                return 0.0;
            }
            s += p;
            let cur = if p >= ts {
                done = true;
                1.0
            } else {
                (s / ta).min(1.0)
            };
            let out = (cur - prev).max(0.0);
            prev = prev.max(cur);
            out
        })
        .collect()
}
