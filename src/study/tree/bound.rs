//! The per-node bound on E[generated] in tree studies (SPEC §8, as decided in docs/SPEC.md):
//! the draft law each rule assumes, the bound of one round, and how many rounds it is computed
//! on within a work budget.

use rayon::prelude::*;

use crate::reference::Values;
use crate::reference::optimal::{DraftMode, alpha_star};
use crate::rule::Rule;
use crate::topology::Tree;

/// The work the per-node bound may take per (configuration, rule), in row entries: an `iid` or
/// `top` node costs V, a `wor` node 60·V (its exponential-clock integral; measured in
/// BENCHMARKS.md, "The optimal bound alpha*"). Beyond it, the bound is computed on the first
/// rounds only, and the study says on how many.
pub const OPTIMAL_BUDGET: f64 = 5e7;

/// The draft law a lossless tree rule assumes (`rrs`, `spectr`: iid; `rrs-wor`: wor;
/// `target-only`: top); `None` for `greedy`.
pub fn draft_mode(rule: Rule) -> Option<DraftMode> {
    DraftMode::ALL
        .into_iter()
        .find(|m| m.rules().contains(&rule))
}

/// How many of `rounds` rounds the bound of `rule` is computed on, within [`OPTIMAL_BUDGET`], for
/// trees of at most `internal` internal nodes (0 for greedy).
pub fn optimal_rounds(rule: Rule, internal: usize, v: usize, rounds: u64) -> u64 {
    let Some(mode) = draft_mode(rule) else {
        return 0;
    };
    let internal = internal.max(1);
    let unit = if mode == DraftMode::Wor { 60.0 } else { 1.0 } * v.max(1) as f64;
    ((OPTIMAL_BUDGET / (internal as f64 * unit)).floor() as u64).clamp(1, rounds.max(1))
}

/// The per-node bound on `E[generated]` of a round (SPEC §8, as decided in docs/SPEC.md): with
/// rows that do not depend on the drafted tokens, no lossless verifier accepts at node u with
/// probability above alpha*(t_u, q_u, m_u, mode), and once it accepts it gains at most one token
/// plus the best of u's children's subtrees: `B(leaf) = 0`,
/// `B(u) = alpha*_u · (1 + max_c B(c))`, `E[generated]` ≤ 1 + B(root). Rows are divided by their
/// sums; `None` when a node cannot be bounded (a row without mass, too few tokens for `wor`).
pub fn optimal_generated<V: Values + ?Sized>(
    tree: &Tree,
    d: &V,
    t: &V,
    v: usize,
    mode: DraftMode,
) -> Option<f64> {
    let row = |f: &V, u: usize| -> Option<Vec<f64>> {
        let x: Vec<f64> = f.range(u * v, v).map(f64::abs).collect();
        let s: f64 = x.iter().sum();
        (s > 0.0 && s.is_finite()).then(|| x.iter().map(|y| y / s).collect())
    };
    let mut b = vec![0.0f64; tree.len()];
    for u in (0..tree.len()).rev() {
        let ch = tree.children(u);
        if ch.is_empty() {
            continue;
        }
        let best = ch.iter().map(|&c| b[c as usize]).fold(0.0f64, f64::max);
        let a = alpha_star(&row(t, u)?, &row(d, u)?, ch.len(), mode).ok()?;
        b[u] = a.alpha_star * (1.0 + best);
    }
    Some(1.0 + b[0])
}

/// The bounds of the rounds of a chunk (rounds `r0..r0 + m`) that fall among the first `limit`,
/// `bound(r, scratch tree, mode)` giving chunk round r's (nothing for greedy).
pub(super) fn chunk_bounds(
    rule: Rule,
    r0: u64,
    m: usize,
    limit: u64,
    bound: impl Fn(usize, &mut Tree, DraftMode) -> Option<f64> + Sync + Send,
) -> Vec<Option<f64>> {
    let Some(mode) = draft_mode(rule) else {
        return Vec::new();
    };
    let count = (limit.saturating_sub(r0) as usize).min(m);
    (0..count)
        .into_par_iter()
        .map_init(Tree::default, |scratch, r| bound(r, scratch, mode))
        .collect()
}
