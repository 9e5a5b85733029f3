//! The rows of `eagle2:k,depth,n` rounds in a study (SPEC §10): each round's tree grown from its
//! candidates' draft rows, every row drawn from the family and keyed by (round, candidate): the
//! root at position 0, candidate c at position c + 1 (as `generate_chunk` keys positions), so a
//! round is the same on every engine and in every chunk or shard.

use rayon::prelude::*;

use crate::compare::adversarial_tree::TreeBatch;
use crate::cpu::generate::PositionRows;
use crate::error::{Error, Result};
use crate::reference::tree::expect::row_top_k;
use crate::rule::Rule;
use crate::topology::eagle2::Eagle2;
use crate::workload::Workload;

/// The position of a candidate's rows (the root's is 0).
pub(super) fn position(cand: Option<usize>) -> u32 {
    cand.map_or(0, |c| c as u32 + 1)
}

/// Refuses a rule that cannot verify grown trees (their children are the draft's top-m).
pub fn check_rule(spec: &str, rule: Rule) -> Result<()> {
    if rule.verifies_top_m() {
        return Ok(());
    }
    let ok: Vec<&str> = Rule::TREE
        .iter()
        .filter(|r| r.verifies_top_m())
        .map(|r| r.name())
        .collect();
    Err(Error::Config(format!(
        "--tree {spec} --rule {rule}: {}; these trees are verified by {}",
        if rule.is_tree() && !rule.verifies_branches() {
            format!("{rule} verifies chains only")
        } else {
            format!(
                "an eagle2 tree's children are its draft's top-m tokens, not draws from the draft row as {rule} assumes, so {rule} would not be lossless on it"
            )
        },
        ok.join(", ")
    )))
}

/// Rounds `r0..r0 + m` of an `eagle2` study: per-round parents, node u's rows (target and draft)
/// its candidate's, its token the candidate's, its coin the candidate position's.
pub fn grow_chunk(w: &Workload, seed: u64, e: Eagle2, r0: u64, m: usize) -> Result<TreeBatch> {
    let (n, v) = (e.nodes, w.vocab);
    e.check(v)?;
    let mut b = TreeBatch {
        tree: crate::topology::Tree::path(0),
        per_round: Some(vec![0; m * n]),
        n: m,
        v,
        draft: vec![0.0; m * n * v],
        target: vec![0.0; m * n * v],
        tokens: vec![0; m * n],
        coins: vec![0.0; m * n],
    };
    let parents = b.per_round.as_mut().expect("set above");
    parents
        .par_chunks_mut(n)
        .zip(b.draft.par_chunks_mut(n * v))
        .zip(b.target.par_chunks_mut(n * v))
        .zip(b.tokens.par_chunks_mut(n))
        .zip(b.coins.par_chunks_mut(n))
        .enumerate()
        .try_for_each_init(
            || PositionRows::new(w, seed),
            |g, (r, ((((par, d), t), tok), c))| -> Result<()> {
                let gr = (r0 + r as u64) as u32;
                // Growth reads each expanded candidate's draft row once and keeps only its top-k;
                // the selected nodes' rows are generated again below, so a round holds n rows,
                // not 1 + k(depth − 1).
                let (mut tr, mut dr) = (vec![0.0f32; v], vec![0.0f32; v]);
                let grown = e.grow(v, |cand, _| {
                    g.rows(gr, position(cand), &mut tr, &mut dr);
                    Ok(row_top_k(&dr[..], v, e.k))
                })?;
                for u in 0..n {
                    let p = position((u > 0).then(|| grown.candidates[u]));
                    g.rows(
                        gr,
                        p,
                        &mut t[u * v..(u + 1) * v],
                        &mut d[u * v..(u + 1) * v],
                    );
                    tok[u] = grown.tokens[u];
                    c[u] = g.coin(gr, p);
                    par[u] = grown.tree.parents()[u] as i64;
                }
                Ok(())
            },
        )?;
    if m > 0 {
        b.tree = crate::topology::Tree::from_parents(&parents[..n])?;
    }
    Ok(b)
}
