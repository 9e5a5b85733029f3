//! Explaining where an f32 engine and the f64 reference differ on a tree round: the walk is
//! replayed in f64 to the node where the two part, and the difference is classified by how
//! close the deciding values were there.

use crate::batch::ChainView;
use crate::batch::{Outcomes, Rounds};
use crate::compare::{DiffClass, F32_SLACK, ReferenceDiff};
use crate::reference::tree::walk::{NodeTrace, TreeInput, TreeOutcome, step_traced};
use crate::reference::{Outcome, Values};
use crate::rule::Rule;
use crate::topology::Tree;

/// The reference's trace at node `u` of round `r`.
fn trace_at(view: &Rounds, r: usize, tree: &Tree, rule: Rule, u: usize) -> NodeTrace {
    let v = view.v;
    let draft = view
        .draft
        .slice(view.draft_at(r, 0), view.layout.draft_rows * v);
    let target = view
        .target
        .slice(view.target_at(r, 0), view.layout.target_rows * v);
    let coins: Vec<f64> = (0..tree.len())
        .map(|c| {
            let i = c as i64 - view.layout.coin_shift as i64;
            if i < 0 || i as usize >= view.layout.coin_stride {
                0.0
            } else {
                view.coins.get_f64(view.coin_at(r, c))
            }
        })
        .collect();
    let tokens = view.round_tokens(r);
    let input = TreeInput {
        tree,
        tokens: &tokens,
        draft: &draft,
        target: &target,
        coins: &coins[..],
        v,
    };
    let mut trace = Some(NodeTrace::default());
    if tree.is_leaf(u) {
        trace = Some(NodeTrace {
            vector: target.range(u * v, v).collect(),
            ..Default::default()
        });
    } else {
        step_traced(rule, &input, u, &mut trace);
    }
    trace.unwrap_or_default()
}

fn close_within(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * a.abs().max(b.abs())
}

/// Classifies a difference between an engine's outcome `e` and the reference's `f` on round r.
pub fn classify_tree(
    view: &Rounds,
    r: usize,
    tree: &Tree,
    rule: Rule,
    e: &TreeOutcome,
    f: &TreeOutcome,
) -> (DiffClass, String) {
    let common = e
        .nodes
        .iter()
        .zip(&f.nodes)
        .take_while(|(a, b)| a == b)
        .count();
    let u = if common == 0 {
        0
    } else {
        f.nodes[common - 1] as usize
    };
    let trace = trace_at(view, r, tree, rule, u);
    if e.nodes != f.nodes && crate::reference::tree::coinless(rule) {
        // Greedy has no coin: the two argmaxes of u's target row differ, which only rounding of
        // near-tied entries can do. Compare the target's values at the two tokens chosen.
        let pick = |o: &TreeOutcome| match o.nodes.get(common) {
            Some(&c) => view.token(r, c as usize) as usize,
            None => o.token as usize,
        };
        let (a, b) = (pick(e), pick(f));
        let (va, vb) = (trace.vector[a], trace.vector[b]);
        let detail = format!("node {u}: t[{a}] = {va:e}, t[{b}] = {vb:e} (f64)");
        let class = if close_within(va, vb, F32_SLACK) {
            DiffClass::ResidualNearTie
        } else {
            DiffClass::Unexplained
        };
        return (class, detail);
    }
    // A residual whose mass is within f32 rounding of 0 (cancellation: a ratio within rounding of
    // 1 was rejected) is normalised by that mass: everything after it is rounding noise.
    let tiny = |s: f64| s <= F32_SLACK * (2.0 + (view.v * (trace.tests.len() + 1)) as f64);
    let cancelled = trace.residual_sums.iter().any(|&s| tiny(s));
    // Where the paths part, only the residuals before the first child accepted by either side
    // can have moved the decision.
    let first_accepted = [e.nodes.get(common), f.nodes.get(common)]
        .into_iter()
        .flatten()
        .filter_map(|&c| trace.tests.iter().position(|t| t.0 == c))
        .min()
        .unwrap_or(trace.tests.len());
    let cancelled_before = trace.residual_sums[..first_accepted.min(trace.residual_sums.len())]
        .iter()
        .any(|&s| tiny(s));
    if e.nodes != f.nodes && cancelled_before {
        return (
            DiffClass::ZeroResidualUnderRounding,
            format!(
                "node {u}: a residual sum of {:e} (f64) is within f32 rounding of 0",
                trace
                    .residual_sums
                    .iter()
                    .copied()
                    .fold(f64::INFINITY, f64::min)
            ),
        );
    }
    if e.nodes != f.nodes {
        // The paths part at u: how close was each test there?
        for (j, &(c, coin, thr)) in trace.tests.iter().enumerate() {
            let bound = F32_SLACK * crate::reference::tree::test_slack(rule, j, view.v);
            if close_within(coin, thr, bound) {
                return (
                    DiffClass::CoinNearTreeThreshold,
                    format!("node {u}, child {c}: coin {coin:e}, threshold {thr:e} (f64)"),
                );
            }
        }
        return (
            DiffClass::Unexplained,
            format!("node {u}: tests (child, coin, threshold) {:?}", trace.tests),
        );
    }
    let (a, b) = (e.token as usize, f.token as usize);
    let vec = &trace.vector;
    let (va, vb) = (
        vec.get(a).copied().unwrap_or(0.0),
        vec.get(b).copied().unwrap_or(0.0),
    );
    let detail = format!("node {u}: vector[{a}] = {va:e}, vector[{b}] = {vb:e} (f64)");
    let slack = F32_SLACK * crate::reference::tree::vector_slack(rule, trace.tests.len(), view.v);
    let class = if tree.is_leaf(u) && close_within(va, vb, F32_SLACK) {
        DiffClass::BonusNearTie
    } else if close_within(va, vb, slack) {
        DiffClass::ResidualNearTie
    } else if cancelled || vec.iter().all(|&x| x <= slack) {
        DiffClass::ZeroResidualUnderRounding
    } else {
        DiffClass::Unexplained
    };
    (class, detail)
}

/// [`classify_tree`] for a tree rule on a chain batch.
pub fn classify_chain(
    view: &ChainView,
    r: usize,
    rule: Rule,
    e: Outcome,
    f: Outcome,
) -> (DiffClass, String) {
    let tv = Rounds::chain(view).for_rule(rule);
    let as_tree = |o: Outcome| TreeOutcome {
        nodes: (1..=o.num_accepted).collect(),
        token: o.token,
    };
    classify_tree(&tv, r, &Tree::path(view.k), rule, &as_tree(e), &as_tree(f))
}

/// Compares an f32 engine's tree results with the f64 reference on every round and adds each
/// difference, classified, to `report`. In `sample` mode only the accepted nodes are compared
/// (a sampled token has no f64 twin).
pub fn compare_tree_reference(
    view: &Rounds,
    engine: &Outcomes,
    rule: Rule,
    mode: crate::rule::RecoveryMode,
    r0: u64,
    report: &mut crate::compare::VerifyReport,
) {
    use rayon::prelude::*;
    let view = &view.for_rule(rule);
    let diffs: Vec<ReferenceDiff> = (0..view.n)
        .into_par_iter()
        .map_init(Tree::default, |t, r| {
            let tree = view.tree(r, t);
            let mut e = engine.tree_outcome(r);
            let f = view.reference(r, tree, rule);
            if mode == crate::rule::RecoveryMode::Sample && e.nodes == f.nodes {
                e.token = f.token;
            }
            (e != f).then(|| {
                let (class, detail) = classify_tree(view, r, tree, rule, &e, &f);
                let detail = format!(
                    "engine nodes {:?} then {}, reference nodes {:?} then {}; {detail}",
                    e.nodes, e.token, f.nodes, f.token
                );
                ReferenceDiff {
                    round: r0 + r as u64,
                    class,
                    engine: (e.nodes.len() as u32, e.token),
                    reference: (f.nodes.len() as u32, f.token),
                    detail,
                }
            })
        })
        .flatten()
        .collect();
    report.reference_diffs.extend(diffs);
}
