//! `greedy` (SPEC §7): accept the child whose token is the target's argmax at the node; stop with
//! that argmax when no child carries it.

use super::TreeReference;
use crate::reference::tree::expect::top_m;
use crate::reference::tree::walk::{
    NodeTrace, Step, TreeInput, decide_tree, note_test, note_vector,
};
use crate::reference::{Values, argmax_f64};
use crate::rule::{TreeRule, tree::Greedy};
use crate::topology::Tree;

impl TreeReference for Greedy {
    const COINLESS: bool = true;

    fn step_traced<V: Values + ?Sized, C: Values + ?Sized>(
        input: &TreeInput<'_, V, C>,
        u: usize,
        trace: &mut Option<NodeTrace>,
        _params: [f64; 2],
    ) -> Step {
        let children = input.tree.children(u);
        let t = input.target_row(u);
        let s = argmax_f64(t.iter().copied());
        for &c in children {
            note_test(trace, c, 0.0, f64::from(u8::from(input.token(c) == s)));
        }
        note_vector(trace, &t);
        match children.iter().find(|&&c| input.token(c) == s) {
            Some(&c) => Step::Accept(c as usize),
            None => Step::Stop(s as u32),
        }
    }

    /// Deterministic: the walk itself.
    fn expected_generated<V: Values + ?Sized>(
        tree: &Tree,
        d: &V,
        t: &V,
        tokens: &[u32],
        v: usize,
        _params: [f64; 2],
    ) -> Option<f64> {
        let coins = vec![0.0f64; tree.len()];
        let input = TreeInput {
            tree,
            tokens,
            draft: d,
            target: t,
            coins: &coins[..],
            v,
        };
        Some(decide_tree(Self::RULE, &input).nodes.len() as f64 + 1.0)
    }

    /// The draft's top-m.
    fn draw_children(q: &[f32], m: usize, _random: &dyn Fn(usize) -> u64) -> Option<Vec<usize>> {
        Some(top_m(q, q.len(), m))
    }

    /// `1[top_j(q) = argmax t]`: the child carrying the target's argmax, if the draft's top-m has it.
    fn positional(t: &[f64], q: &[f64], width: usize, _params: [f64; 2]) -> Option<Vec<f64>> {
        let top = top_m(q, q.len(), width);
        if top.len() < width {
            return None;
        }
        let s = argmax_f64(t.iter().copied());
        Some(top.iter().map(|&x| f64::from(u8::from(x == s))).collect())
    }

    /// The target row of every node it visits.
    fn rows_read(_tree: &Tree, path: &[usize]) -> usize {
        path.len()
    }

    /// The target row at every node visited; each child's token and the accepted node.
    fn chain_reads(_k: usize, a: usize) -> (usize, usize) {
        (a + 1, a * 8)
    }
}
