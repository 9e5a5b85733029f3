//! Deciding a chunk of tree rounds and the exact values beside it: each round's `E[generated]`
//! given its rows (SPEC §7, §9; `rrs-wor` beyond its enumeration budget by its unbiased
//! estimate) and the per-node bound of its first rounds.

use rayon::prelude::*;

use super::Sums;
use super::bound::{chunk_bounds, optimal_generated, optimal_rounds};
use crate::batch::Rounds;
use crate::cpu::Recovery;
use crate::engine::Engine;
use crate::error::Result;
use crate::reference::tree::expect::expected_generated;
use crate::rule::Rule;
use crate::topology::Tree;

/// Decides the rounds `part` (rounds `rec.round_offset..` of `total`) under `rule` on `engine`
/// and adds to `sums` their outcomes, each round's exact expectation given its rows and, for the
/// first rounds within the budget, the per-node bound: what every tree study does with rounds
/// that carry their own rows and topology (a file's, or grown per round).
pub(super) fn decide(
    part: &Rounds<'_>,
    rule: Rule,
    rec: Recovery,
    engine: &mut dyn Engine,
    total: u64,
    sums: &mut Sums,
) -> Result<()> {
    let (m, v, r0) = (part.n, part.v, rec.round_offset);
    let res = engine.run(part, rule, rec)?;
    let rows = |r: usize| {
        let l = &part.layout;
        let d = part.draft.slice(part.draft_at(r, 0), l.draft_rows * v);
        let t = part.target.slice(part.target_at(r, 0), l.target_rows * v);
        (d, t)
    };
    let fits = wor_estimate_fits(part.topology.nodes(), v, total);
    let (exact, estimated): (Vec<Option<f64>>, Vec<bool>) = (0..m)
        .into_par_iter()
        .map_init(Tree::default, |t, r| {
            let tree = part.tree(r, t);
            let (d, tt) = rows(r);
            let key = fits.then_some((rec.seed, r0 + r as u64));
            round_expectation(rule, tree, &d, &tt, &part.round_tokens(r), v, key)
        })
        .unzip();
    sums.add(&res, &exact);
    sums.mark_estimated(estimated.iter().any(|&e| e));
    let limit = optimal_rounds(rule, part.topology.nodes().saturating_sub(1), v, total);
    let bounds = chunk_bounds(rule, r0, m, limit, |r, t, mode| {
        let tree = part.tree(r, t);
        let (d, tt) = rows(r);
        optimal_generated(tree, &d, &tt, v, mode)
    });
    sums.add_optimal(&res, &exact, &bounds);
    Ok(())
}

/// Samples per node of `rrs-wor`'s estimate of a round's `E[generated]` where a node is beyond
/// its enumeration budget ([`crate::reference::tree::estimated_generated`]).
pub const WOR_TREE_SAMPLES: usize = 4;

/// The most row entries `rrs-wor`'s estimates may read per (configuration, rule):
/// `WOR_TREE_SAMPLES · (n − 1) · V` per round. Beyond it the study has no exact value for
/// `rrs-wor` (as before estimates existed), rather than a study that takes hours.
pub const WOR_ESTIMATE_BUDGET: f64 = 4e9;

/// Whether `rrs-wor`'s estimates fit [`WOR_ESTIMATE_BUDGET`] for `rounds` rounds of `nodes`
/// nodes at vocabulary `v`.
pub fn wor_estimate_fits(nodes: usize, v: usize, rounds: u64) -> bool {
    (WOR_TREE_SAMPLES * nodes.saturating_sub(1) * v) as f64 * rounds as f64 <= WOR_ESTIMATE_BUDGET
}

/// A round's `E[generated]` given its rows (SPEC §9): exact, or for `rrs-wor` beyond its
/// enumeration budget (when `estimate`) the unbiased estimate (the flag says which), keyed by
/// (`seed`, `round`).
#[allow(clippy::too_many_arguments)]
pub(super) fn round_expectation<V: crate::reference::Values + ?Sized>(
    rule: Rule,
    tree: &Tree,
    d: &V,
    t: &V,
    tokens: &[u32],
    v: usize,
    estimate: Option<(u64, u64)>,
) -> (Option<f64>, bool) {
    match expected_generated(rule, tree, d, t, tokens, v) {
        Some(e) => (Some(e), false),
        None if rule == Rule::RrsWor => estimate
            .and_then(|(seed, round)| {
                crate::reference::tree::estimated_generated(
                    tree,
                    d,
                    t,
                    v,
                    WOR_TREE_SAMPLES,
                    seed,
                    round as u32,
                )
            })
            .map_or((None, false), |(e, est)| (Some(e), est)),
        None => (None, false),
    }
}
