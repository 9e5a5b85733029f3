//! `target-only` (SPEC §7; SGLang's tree rule): one coin per node against the running sum of the
//! target's probabilities of the children's tokens; the correction is the target's argmax with
//! the children's tokens masked.

use super::TreeReference;
use crate::reference::Values;
use crate::reference::tree::expect::top_m;
use crate::reference::tree::walk::{
    NodeTrace, Step, TreeInput, masked_argmax, note_test, note_vector,
};
use crate::rule::tree::TargetOnly;
use crate::topology::Tree;

impl TreeReference for TargetOnly {
    /// The coin of node i (the parent) decides position i.
    const CHAIN_COIN_SHIFT: usize = 0;

    fn step_traced<V: Values + ?Sized, C: Values + ?Sized>(
        input: &TreeInput<'_, V, C>,
        u: usize,
        trace: &mut Option<NodeTrace>,
        _params: [f64; 2],
    ) -> Step {
        let children = input.tree.children(u);
        let t = input.target_row(u);
        let coin = input.coins.at(u);
        let mut s = 0.0f64;
        for &c in children {
            s += t[input.token(c)];
            note_test(trace, c, coin, s);
            if coin < s {
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

    /// `min(S_j, 1) − min(S_{j−1}, 1)` with `S_j` the running sum of `t` over the draft's top-j.
    fn positional(t: &[f64], q: &[f64], width: usize, _params: [f64; 2]) -> Option<Vec<f64>> {
        let top = top_m(q, q.len(), width);
        if top.len() < width {
            return None;
        }
        let mut prev = 0.0f64;
        Some(
            top.iter()
                .map(|&x| {
                    let s = (prev + t[x].abs()).min(1.0);
                    let p = s - prev.min(1.0);
                    prev = s;
                    p
                })
                .collect(),
        )
    }

    /// P(reach c) = P(reach u) · P(the coin at u picks c), the coin uniform against the running
    /// sums S_j (clipped at 1).
    fn expected_generated<V: Values + ?Sized>(
        tree: &Tree,
        _d: &V,
        t: &V,
        tokens: &[u32],
        v: usize,
        _params: [f64; 2],
    ) -> Option<f64> {
        let n = tree.len();
        let mut reach = vec![0.0f64; n];
        reach[0] = 1.0;
        let mut total = 0.0;
        for u in 0..n {
            let mut prev = 0.0f64;
            for &c in tree.children(u) {
                let s = (prev + t.at(u * v + tokens[c as usize] as usize).abs()).min(1.0);
                reach[c as usize] = reach[u] * (s - prev);
                total += reach[c as usize];
                prev = s;
            }
        }
        Some(1.0 + total)
    }

    /// The draft's top-m (distinct).
    fn draw_children(q: &[f32], m: usize, _random: &dyn Fn(usize) -> u64) -> Option<Vec<usize>> {
        Some(top_m(q, q.len(), m))
    }

    /// The row of the node where it stops.
    fn rows_read(_tree: &Tree, _path: &[usize]) -> usize {
        1
    }

    /// The stopping node's target row; the tokens and the coin of each node visited.
    fn chain_reads(_k: usize, a: usize) -> (usize, usize) {
        (1, (a + 1) * 8)
    }

    /// The running sum S_j carries j + 1 roundings.
    fn test_slack(j: usize, _v: usize) -> f64 {
        j as f64 + 1.0
    }
}
