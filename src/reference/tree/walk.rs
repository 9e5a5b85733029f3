//! The f64 reference of the tree rules (SPEC §7), literally in the spec's order of operations:
//! sums in ascending token id, `r[x] / q[x]` before the `min`, argmax ties to the lowest id. The
//! walk is here; each rule's step at a node is in `src/reference/tree/STEM.rs`. `round` and the
//! batch cross-checks run this one function.

use crate::reference::{Values, argmax_f64};
use crate::rule::Rule;
use crate::topology::Tree;

/// One tree round as the reference reads it: node u's draft and target rows start at
/// `u * v` in `draft` and `target` (leaves' draft rows are never read), `tokens[c]` is child
/// c's token (entry 0 is not read) and `coins[u]` node u's coin.
pub struct TreeInput<'a, V: Values + ?Sized, C: Values + ?Sized> {
    /// The topology.
    pub tree: &'a Tree,
    /// n token ids (validated: in `0..V` for every non-root node).
    pub tokens: &'a [u32],
    /// n draft rows of V, flat.
    pub draft: &'a V,
    /// n target rows of V, flat.
    pub target: &'a V,
    /// n coins.
    pub coins: &'a C,
    /// The vocabulary size V.
    pub v: usize,
}

/// What one round of a tree rule decides: the accepted nodes on the walked path, then the
/// correction (at the node where the walk stopped) or the bonus (at a leaf).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TreeOutcome {
    /// The accepted nodes, from the root's child down.
    pub nodes: Vec<u32>,
    /// The correction or bonus token.
    pub token: u32,
}

/// What a rule does at one internal node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Accept this child and go on from it.
    Accept(usize),
    /// Stop with this correction token.
    Stop(u32),
}

impl<V: Values + ?Sized, C: Values + ?Sized> TreeInput<'_, V, C> {
    pub(crate) fn target_row(&self, u: usize) -> Vec<f64> {
        self.target.range(u * self.v, self.v).collect()
    }

    pub(crate) fn draft_row(&self, u: usize) -> Vec<f64> {
        self.draft.range(u * self.v, self.v).collect()
    }

    pub(crate) fn token(&self, c: u32) -> usize {
        self.tokens[c as usize] as usize
    }
}

/// Decides one *valid* tree round under a tree rule (SPEC §7). A chain rule (`token`, `block`) is
/// a caller error: it panics.
pub fn decide_tree<V: Values + ?Sized, C: Values + ?Sized>(
    rule: Rule,
    input: &TreeInput<'_, V, C>,
) -> TreeOutcome {
    let mut nodes = Vec::new();
    let mut u = 0usize;
    loop {
        if input.tree.is_leaf(u) {
            let bonus = argmax_f64(input.target.range(u * input.v, input.v)) as u32;
            return TreeOutcome {
                nodes,
                token: bonus,
            };
        }
        match step(rule, input, u) {
            Step::Accept(c) => {
                nodes.push(c as u32);
                u = c;
            }
            Step::Stop(token) => return TreeOutcome { nodes, token },
        }
    }
}

/// What the reference computed at one node, for explaining a difference with an f32 engine.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NodeTrace {
    /// Each child tested: (child, its coin, the threshold the coin had to be below).
    pub tests: Vec<(u32, f64, f64)>,
    /// The vector whose argmax is the correction (or the bonus row at a leaf).
    pub vector: Vec<f64>,
    /// `rrs`, `rrs-wor`: the residual sum `s` after each rejection (the residual is normalised
    /// by it; one within f32 rounding of 0 makes everything after it rounding noise).
    pub residual_sums: Vec<f64>,
}

/// The rule's decision at internal node `u`.
pub fn step<V: Values + ?Sized, C: Values + ?Sized>(
    rule: Rule,
    input: &TreeInput<'_, V, C>,
    u: usize,
) -> Step {
    step_traced(rule, input, u, &mut None)
}

/// [`step`], recording the thresholds and the correction's vector into `trace` when given: the
/// rule's own step (`src/reference/tree/STEM.rs`).
pub use super::step_traced;

/// Coins of a chain read as a path tree's node coins: node `i + shift`'s coin is `coins[i]`.
struct ShiftedCoins<'a, C: Values + ?Sized> {
    coins: &'a C,
    shift: usize,
}

impl<C: Values + ?Sized> Values for ShiftedCoins<'_, C> {
    fn at(&self, i: usize) -> f64 {
        self.coins.at(i - self.shift)
    }
}

/// The node whose coin decides position `i` of a chain under `rule` (node i + shift).
pub use super::chain_coin_shift;

/// A tree rule on a chain (the seed's layout: K draft rows, K + 1 target rows, K tokens and
/// coins): the path tree 0 → 1 → … → K, node i + 1 carrying `tokens[i]`, the decision at
/// position i using `coins[i]`. The outcome in the chain's form.
pub fn decide_chain<V: Values + ?Sized, C: Values + ?Sized>(
    rule: Rule,
    draft: &V,
    target: &V,
    tokens: &[u32],
    coins: &C,
    v: usize,
) -> crate::reference::Outcome {
    let k = tokens.len();
    let tree = Tree::path(k);
    let mut node_tokens = Vec::with_capacity(k + 1);
    node_tokens.push(0);
    node_tokens.extend_from_slice(tokens);
    let coins = ShiftedCoins {
        coins,
        shift: chain_coin_shift(rule),
    };
    let out = decide_tree(
        rule,
        &TreeInput {
            tree: &tree,
            tokens: &node_tokens,
            draft,
            target,
            coins: &coins,
            v,
        },
    );
    crate::reference::Outcome {
        num_accepted: out.nodes.len() as u32,
        token: out.token,
    }
}

pub(crate) fn note_test(trace: &mut Option<NodeTrace>, c: u32, coin: f64, threshold: f64) {
    if let Some(t) = trace.as_mut() {
        t.tests.push((c, coin, threshold));
    }
}

pub(crate) fn note_vector(trace: &mut Option<NodeTrace>, v: &[f64]) {
    if let Some(t) = trace.as_mut() {
        t.vector = v.to_vec();
    }
}

/// The argmax of `t` with the entries of `masked` set to 0, or of `t` when that is zero
/// everywhere: the correction of `target-only` and `greedy`.
pub fn masked_argmax(t: &[f64], masked: impl Iterator<Item = usize> + Clone) -> u32 {
    let value = |x: usize, v: f64| {
        if masked.clone().any(|m| m == x) {
            0.0
        } else {
            v
        }
    };
    let any = t.iter().enumerate().any(|(x, &v)| value(x, v) != 0.0);
    if any {
        argmax_f64(t.iter().enumerate().map(|(x, &v)| value(x, v))) as u32
    } else {
        argmax_f64(t.iter().copied()) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(
        rule: Rule,
        parents: &[i64],
        tokens: &[u32],
        d: &[f64],
        t: &[f64],
        c: &[f64],
    ) -> TreeOutcome {
        let tree = Tree::from_parents(parents).unwrap();
        let v = t.len() / tree.len();
        decide_tree(
            rule,
            &TreeInput {
                tree: &tree,
                tokens,
                draft: d,
                target: t,
                coins: c,
                v,
            },
        )
    }

    #[test]
    fn a_star_under_each_rule() {
        // Root with children tokens 0 and 1, V = 3; leaves' rows are the bonus rows.
        let d = [0.5, 0.25, 0.25, 0., 0., 0., 0., 0., 0.];
        let t = [0.25, 0.25, 0.5, 1., 0., 0., 0., 1., 0.];
        let tok = [0, 0, 1];
        // greedy: argmax t = 2 is no child's token: correction 2.
        let g = run(Rule::Greedy, &[-1, 0, 0], &tok, &d, &t, &[0.; 3]);
        assert_eq!(
            g,
            TreeOutcome {
                nodes: vec![],
                token: 2
            }
        );
        // target-only: S = 0.25, 0.5; coin 0.3 takes the second child, whose bonus is 1.
        let o = run(Rule::TargetOnly, &[-1, 0, 0], &tok, &d, &t, &[0.3, 0., 0.]);
        assert_eq!(
            o,
            TreeOutcome {
                nodes: vec![2],
                token: 1
            }
        );
        let o = run(Rule::TargetOnly, &[-1, 0, 0], &tok, &d, &t, &[0.5, 0., 0.]);
        assert_eq!(
            o,
            TreeOutcome {
                nodes: vec![],
                token: 2
            }
        );
        // rrs: child 1 (token 0): r/q = 0.5, coin 0.6 rejects; res = (0, 0, 0.25), r = (0, 0, 1):
        // child 2 (token 1) has r = 0: rejected; res = (0, 0, 0.75): correction 2.
        let o = run(Rule::Rrs, &[-1, 0, 0], &tok, &d, &t, &[0., 0.6, 0.]);
        assert_eq!(
            o,
            TreeOutcome {
                nodes: vec![],
                token: 2
            }
        );
        let o = run(Rule::Rrs, &[-1, 0, 0], &tok, &d, &t, &[0., 0.4, 0.]);
        assert_eq!(
            o,
            TreeOutcome {
                nodes: vec![1],
                token: 0
            }
        );
    }
}
