//! `touched` validation of tree batches, and the run that validates and decides in one walk: the
//! walk decides which rows a round reads, so this lives beside the engine.

use rayon::prelude::*;

use super::{Scratch, decide_round, write_round};
use crate::batch::{Outcomes, Rounds, lowest_bad_round};
use crate::cpu::Recovery;
use crate::error::Result;
use crate::round::RoundOptions;
use crate::rule::Rule;
use crate::topology::Tree;

impl Rounds<'_> {
    /// Validates what the walk reads, round by round (the first bad round named): token ids,
    /// coins, the drafted tokens' probabilities, the rule's sibling constraints, then the target
    /// rows of the nodes the walk visits and the draft rows `rrs` and `rrs-wor` read (every
    /// visited node where a child was rejected, the node where the walk stops included; `spectr`
    /// both rows of every visited node with two children or more);
    /// `greedy` and `target-only` read no draft row, so none is checked. The walk is the
    /// engine's (deterministic on any values); rows off the path are not read.
    pub fn validate_touched(&self, opts: &RoundOptions, rule: Rule) -> Result<()> {
        self.check_shapes()?;
        let depth = self.topology.depth();
        lowest_bad_round(
            (0..self.n)
                .into_par_iter()
                .map_init(
                    || (Scratch::default(), Tree::default(), vec![0i32; depth]),
                    |(s, t, nodes), r| {
                        let tree = self.tree(r, t);
                        let rec = Recovery::default();
                        self.touched_round(r, tree, rule, &rec, opts, s, nodes)
                            .err()
                            .map(|e| (r, e))
                    },
                )
                .flatten(),
        )
    }

    /// Round r's `touched` checks and its walk under `rule` (see [`Rounds::validate_touched`]):
    /// the scalars, drafted entries and siblings, then the walk (which writes the accepted nodes
    /// into `nodes` and gives the outcome), then the rows it read. The round's first error.
    #[allow(clippy::too_many_arguments)]
    fn touched_round(
        &self,
        r: usize,
        tree: &Tree,
        rule: Rule,
        rec: &Recovery,
        opts: &RoundOptions,
        s: &mut Scratch,
        nodes: &mut [i32],
    ) -> Result<(u32, u32)> {
        self.check_scalars(r)?;
        self.check_drafted_entries(r, tree, rule)?;
        self.check_siblings(r, tree, rule)?;
        let (a, token) = decide_round(self, tree, r, rule, rec, s, nodes);
        let a = a as usize;
        let spectr = crate::reference::tree::node_values(rule).is_some();
        for i in 0..=a {
            let w = if i == 0 { 0 } else { nodes[i - 1] as usize };
            self.check_row(r, "target_probs", w, opts)?;
            // rrs and rrs-wor read the whole draft row of a node where a child was rejected (the
            // accepted child is not the first, or none was).
            let rejected = match nodes[..a].get(i) {
                Some(&c) => tree.sibling_rank(c as usize) > 0,
                None => !tree.is_leaf(w),
            };
            // spectr reads both rows of every visited node with two children or more (its ρ*).
            let whole = spectr && tree.children(w).len() >= 2;
            if (rejected || whole) && rule.reads_draft() {
                self.check_row(r, "draft_probs", w, opts)?;
            }
        }
        Ok((a as u32, token))
    }
}

/// Validates a tree batch with `touched` and runs it under `rule` in one walk per round: the
/// checks of [`Rounds::validate_touched`] and the decision of [`super::run`] together, each row
/// checked and read while in cache. Same checks, same first error (the lowest bad round), same
/// outcomes as validating then running.
pub fn run_touched(
    view: &Rounds,
    rule: Rule,
    rec: &Recovery,
    opts: &RoundOptions,
) -> Result<Outcomes> {
    view.check_shapes()?;
    let depth = view.topology.depth();
    if depth == 0 {
        // A root alone: no walk to share.
        view.validate_touched(opts, rule)?;
        return Ok(super::run(view, rule, rec));
    }
    let mut result = Outcomes::tree(view.n, depth);
    let mut nodes = result.nodes.take().unwrap_or_default();
    let bad = result
        .tokens
        .par_chunks_mut(depth + 1)
        .zip(nodes.par_chunks_mut(depth))
        .zip(result.num_accepted.par_iter_mut())
        .enumerate()
        .map_init(
            || (Scratch::default(), Tree::default()),
            |(s, t), (r, ((out, nodes), acc))| {
                let tree = view.tree(r, t);
                match view.touched_round(r, tree, rule, rec, opts, s, nodes) {
                    Ok((a, token)) => {
                        write_round(view, r, (a, token), nodes, out);
                        *acc = a;
                        None
                    }
                    Err(e) => Some((r, e)),
                }
            },
        )
        .flatten();
    lowest_bad_round(bad)?;
    result.nodes = Some(nodes);
    Ok(result)
}
