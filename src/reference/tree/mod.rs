//! The tree rules (SPEC §7), one file per rule (`STEM.rs`, the stem of the rule's line in the
//! registry `rule::rules!`): each implements [`TreeReference`] for its marker type: its f64
//! reference step, literally in the spec's order of operations, its exact expectation, and the
//! properties the layers above read (the children's tokens it assumes, the rows it reads, the
//! rounding slack of its tests). Its f32 twin is `src/cpu/tree/STEM.rs`, its WGSL step
//! `shaders/tree/STEM.wgsl`.

pub mod expect;
mod greedy;
mod lenient;
mod rrs;
mod rrs_wor;
mod sglang;
mod spectr;
mod target_only;
mod typical;
pub mod walk;

/// One node's rule values, for the bound at a node (`reference::optimal`).
pub(crate) use rrs::rrs_node;
pub(crate) use rrs_wor::enumerable;
pub(crate) use rrs_wor::wor_node;
pub use rrs_wor::{
    ENUMERATION_BUDGET, WorEstimate, estimated_generated, rrs_wor_positional_estimate,
};
pub(crate) use spectr::spectr_node;
pub use spectr::{rho_star, rho_star_f32, spectr_f32};
pub use typical::typical_threshold_f32;

use crate::reference::Values;
use crate::rule::{Rule, TreeRule, match_rule};
use crate::topology::Tree;
use walk::{NodeTrace, Step, TreeInput};

/// A tree rule's f64 reference and properties (this layer's trait; implemented in the rule's
/// `src/reference/tree/STEM.rs`).
pub trait TreeReference: TreeRule {
    /// Which node's coin decides position i of a chain: node `i + CHAIN_COIN_SHIFT` (1: the
    /// child's; `target-only` tests the parent's, 0). SPEC §7: "the decision at position i uses
    /// `random_coins[i]` under every rule".
    const CHAIN_COIN_SHIFT: usize = 1;

    /// The rule uses no coin (`greedy`): a difference between precisions on the path can only be
    /// an argmax near-tie.
    const COINLESS: bool = false;

    /// The rule's decision at internal node `u`, recording each test and the correction's vector
    /// into `trace` when given; `params` are the rule's parameters (SPEC §13's rules; zeros for
    /// a rule without).
    fn step_traced<V: Values + ?Sized, C: Values + ?Sized>(
        input: &TreeInput<'_, V, C>,
        u: usize,
        trace: &mut Option<NodeTrace>,
        params: [f64; 2],
    ) -> Step;

    /// `E[num_generated]` of one round given its rows (node u's rows at `u * v`), with `tokens`
    /// the children's tokens where the rule's are deterministic, the coins uniform and the other
    /// tokens drawn as [`TreeReference::draw_children`] draws them; `None` when too costly.
    fn expected_generated<V: Values + ?Sized>(
        tree: &Tree,
        d: &V,
        t: &V,
        tokens: &[u32],
        v: usize,
        params: [f64; 2],
    ) -> Option<f64>;

    /// The tokens of a node's `m` children as the rule assumes them, from the node's f32 draft
    /// row `q`; `random(j)` is child j's random word. `None` when the row cannot give them
    /// (distinct tokens of positive probability).
    fn draw_children(q: &[f32], m: usize, random: &dyn Fn(usize) -> u64) -> Option<Vec<usize>>;

    /// The positional vector at a node (SPEC §9): `P[j]` = P(the j-th child in sibling order is
    /// the accepted one | the node is reached), with `width` children drawn as the rule assumes
    /// from the node's rows `t` and `q` (`q` as given; the coins uniform). `None` when it cannot
    /// be computed (more children than the row gives, or beyond an enumeration budget).
    fn positional(t: &[f64], q: &[f64], width: usize, params: [f64; 2]) -> Option<Vec<f64>>;

    /// The distinct rows of V the rule reads in a round whose walk visited `path` (the root
    /// first, the node where it stopped last).
    fn rows_read(tree: &Tree, path: &[usize]) -> usize;

    /// A chain of K with `a` accepted: (rows of V read, bytes of scalars read).
    fn chain_reads(k: usize, a: usize) -> (usize, usize);

    /// How many f32 roundings may separate the coin of the `j`-th test at a node from its f64
    /// threshold (the cross-check's slack, in units of its relative rounding).
    fn test_slack(j: usize, v: usize) -> f64 {
        1.0 + j as f64 * (v as f64 + 2.0)
    }

    /// The same for the entries of the correction's vector after `tests` tests.
    fn vector_slack(_tests: usize, _v: usize) -> f64 {
        1.0
    }

    /// Values the f32 engines need at each internal node before its step (`spectr`'s ρ* and
    /// correction coefficients, `typical`'s threshold), as three f32 bit patterns, from the
    /// node's f32 target and draft rows, its child count and the rule's parameters: the GPU's
    /// host computes them for every internal node and uploads them with the rows; the CPU twin
    /// computes them at the nodes it visits. `None` (the default): the rule has none.
    const NODE_VALUES: Option<NodeValues> = None;

    /// The child count from which [`TreeReference::NODE_VALUES`] reads the node's rows (below
    /// it, it is given empty rows).
    const NODE_VALUES_ROWS_FROM: usize = 2;
}

/// A rule's per-node values ([`TreeReference::NODE_VALUES`]): `(target row, draft row, children,
/// the rule's parameters)` to three f32 bit patterns.
pub type NodeValues = fn(&[f32], &[f32], usize, [f32; 2]) -> [u32; 3];

/// [`TreeReference::NODE_VALUES_ROWS_FROM`] of `rule` (2 for a chain rule).
pub fn node_values_rows_from(rule: Rule) -> usize {
    match_rule!(rule,
        chain R => 2,
        tree T => <T as TreeReference>::NODE_VALUES_ROWS_FROM,
    )
}

/// [`TreeReference::NODE_VALUES`] of `rule` (`None` for a chain rule).
pub fn node_values(rule: Rule) -> Option<NodeValues> {
    match_rule!(rule,
        chain R => None,
        tree T => <T as TreeReference>::NODE_VALUES,
    )
}

/// [`TreeReference::step_traced`] of `rule`. A chain rule is a caller error: it panics.
pub fn step_traced<V: Values + ?Sized, C: Values + ?Sized>(
    rule: Rule,
    input: &TreeInput<'_, V, C>,
    u: usize,
    trace: &mut Option<NodeTrace>,
) -> Step {
    match_rule!(rule,
        chain R => panic!("{rule} is a chain rule, not a tree rule"),
        tree T => <T as TreeReference>::step_traced(input, u, trace, rule.params_f64()),
    )
}

/// [`TreeReference::CHAIN_COIN_SHIFT`] of `rule` (1 for a chain rule: the child's coin).
pub fn chain_coin_shift(rule: Rule) -> usize {
    match_rule!(rule,
        chain R => 1,
        tree T => <T as TreeReference>::CHAIN_COIN_SHIFT,
    )
}

/// [`TreeReference::expected_generated`] of `rule` (`None` for a chain rule).
pub fn expected_generated<V: Values + ?Sized>(
    rule: Rule,
    tree: &Tree,
    d: &V,
    t: &V,
    tokens: &[u32],
    v: usize,
) -> Option<f64> {
    match_rule!(rule,
        chain R => None,
        tree T => <T as TreeReference>::expected_generated(tree, d, t, tokens, v, rule.params_f64()),
    )
}

/// [`TreeReference::draw_children`] of `rule` (`None` for a chain rule).
pub fn draw_children(
    rule: Rule,
    q: &[f32],
    m: usize,
    random: &dyn Fn(usize) -> u64,
) -> Option<Vec<usize>> {
    match_rule!(rule,
        chain R => None,
        tree T => <T as TreeReference>::draw_children(q, m, random),
    )
}

/// [`TreeReference::positional`] of `rule` (`None` for a chain rule).
pub fn positional(rule: Rule, t: &[f64], q: &[f64], width: usize) -> Option<Vec<f64>> {
    match_rule!(rule,
        chain R => None,
        tree T => <T as TreeReference>::positional(t, q, width, rule.params_f64()),
    )
}

/// [`TreeReference::rows_read`] of `rule` (0 for a chain rule).
pub fn rows_read(rule: Rule, tree: &Tree, path: &[usize]) -> usize {
    match_rule!(rule,
        chain R => 0,
        tree T => <T as TreeReference>::rows_read(tree, path),
    )
}

/// [`TreeReference::chain_reads`] of `rule` (zeros for a chain rule).
pub fn chain_reads(rule: Rule, k: usize, a: usize) -> (usize, usize) {
    match_rule!(rule,
        chain R => (0, 0),
        tree T => <T as TreeReference>::chain_reads(k, a),
    )
}

/// [`TreeReference::COINLESS`] of `rule` (false for a chain rule).
pub fn coinless(rule: Rule) -> bool {
    match_rule!(rule,
        chain R => false,
        tree T => <T as TreeReference>::COINLESS,
    )
}

/// [`TreeReference::test_slack`] of `rule` (1 for a chain rule).
pub fn test_slack(rule: Rule, j: usize, v: usize) -> f64 {
    match_rule!(rule,
        chain R => 1.0,
        tree T => <T as TreeReference>::test_slack(j, v),
    )
}

/// [`TreeReference::vector_slack`] of `rule` (1 for a chain rule).
pub fn vector_slack(rule: Rule, tests: usize, v: usize) -> f64 {
    match_rule!(rule,
        chain R => 1.0,
        tree T => <T as TreeReference>::vector_slack(tests, v),
    )
}

/// The rows a token-rule-like walk reads (`rrs`, `rrs-wor`): the target and draft rows of every
/// visited node where a child was rejected (the accepted child is not the first, or none was),
/// and the bonus row at a leaf.
pub(crate) fn rows_read_rejecting(tree: &Tree, path: &[usize]) -> usize {
    let stop = *path.last().unwrap_or(&0);
    let leaf = tree.is_leaf(stop);
    let rejected = path
        .windows(2)
        .filter(|w| tree.sibling_rank(w[1]) > 0)
        .count()
        + usize::from(!leaf);
    2 * rejected + usize::from(leaf)
}

/// What the token rule reads on a chain of K with `a` accepted: (rows, bytes of scalars): p, q,
/// the coin and the token of each decision made, and one row of V (bonus) or two (residual).
/// The same count as `cpu::verify::lazy_bytes` (f32); a test in `bench.rs` holds them equal.
pub(crate) fn token_like_chain_reads(k: usize, a: usize) -> (usize, usize) {
    let rows = if a < k { 2 } else { 1 };
    let decisions = (a + usize::from(a < k)).min(k);
    (rows, decisions * 16)
}
