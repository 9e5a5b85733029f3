//! The checks of a batch's rounds (SPEC §2, §7, and what the f32 engines need), round by round,
//! reading the values in place: every round, or the rows, scalars and siblings of one.

use super::Rounds;
use rayon::prelude::*;

use crate::batch::{Floats, check_f32_range, lowest_bad_round};
use crate::error::{Error, Result};
use crate::round::tree::check_siblings;
use crate::round::{RoundOptions, check_row_fast};
use crate::rule::Rule;
use crate::topology::Tree;

impl<'a> Rounds<'a> {
    /// Validates every round (in parallel) per SPEC §7, plus what the f32 engines need; the
    /// first bad round is named. Checks, per round: token ids, coins (each entry of the round's
    /// coins), target rows, internal nodes' draft rows, the rule's sibling constraints.
    pub fn validate_all(&self, opts: &RoundOptions, rule: Rule) -> Result<()> {
        self.check_shapes()?;
        lowest_bad_round(
            (0..self.n)
                .into_par_iter()
                .map_init(Tree::default, |t, r| {
                    self.validate_round(r, self.tree(r, t), opts, rule)
                        .err()
                        .map(|e| (r, e))
                })
                .flatten(),
        )
    }

    fn validate_round(&self, r: usize, tree: &Tree, opts: &RoundOptions, rule: Rule) -> Result<()> {
        let l = &self.layout;
        self.check_scalars(r)?;
        for u in 0..l.draft_rows.min(tree.len()) {
            if !tree.is_leaf(u) || l.tok_shift == 1 {
                if rule.reads_draft() {
                    self.check_row(r, "draft_probs", u, opts)?;
                } else {
                    self.check_unread_row(r, "draft_probs", u)?;
                }
            }
        }
        for u in 0..l.target_rows {
            self.check_row(r, "target_probs", u, opts)?;
        }
        self.check_siblings(r, tree, rule)
    }

    /// Checks node u's row of `field` in round r: float32 range, then SPEC §2's row checks.
    pub fn check_row(
        &self,
        r: usize,
        field: &'static str,
        u: usize,
        opts: &RoundOptions,
    ) -> Result<()> {
        let v = self.v;
        let (floats, at) = if field == "draft_probs" {
            (self.draft, self.draft_at(r, u))
        } else {
            (self.target, self.target_at(r, u))
        };
        let row = floats.slice(at, v);
        check_f32_range(field, row, u * v, v)?;
        // The vectorised pass, which defers to the sequential check whenever its answer is not
        // certain: the same outcome and errors.
        match row {
            Floats::F32(_) => check_row_fast(field, u, row.as_f32(&mut Vec::new()), opts),
            Floats::F64(_) => check_row_fast(field, u, &row.to_f64_vec(), opts),
        }
    }

    /// Checks node u's row of `field` in round r where the rule does not read it: finite only
    /// (see [`crate::round::check_unread_row`]).
    pub fn check_unread_row(&self, r: usize, field: &'static str, u: usize) -> Result<()> {
        let (floats, at) = if field == "draft_probs" {
            (self.draft, self.draft_at(r, u))
        } else {
            (self.target, self.target_at(r, u))
        };
        let row = floats.slice(at, self.v);
        match row {
            Floats::F32(_) => crate::round::check_unread_row(field, u, row.as_f32(&mut Vec::new())),
            Floats::F64(_) => crate::round::check_unread_row(field, u, &row.to_f64_vec()),
        }
    }

    /// Checks round r's token ids and coins.
    pub fn check_scalars(&self, r: usize) -> Result<()> {
        let (v, l) = (self.v, &self.layout);
        for c in 1..self.topology.nodes() {
            let value = self.token(r, c);
            if value < 0 || value as u64 >= v as u64 {
                return Err(Error::TokenOutOfRange {
                    index: c - l.tok_shift,
                    value,
                    vocab: v,
                });
            }
        }
        for i in 0..l.coin_stride {
            let value = self.coins.get_f64(r * l.coin_stride + i);
            if !(0.0..1.0).contains(&value) {
                return Err(Error::CoinOutOfRange { index: i, value });
            }
            if self.coins.get_f32(r * l.coin_stride + i) >= 1.0 {
                return Err(Error::CoinRoundsToOne { index: i, value });
            }
        }
        Ok(())
    }

    /// Checks the target and draft probabilities of round r's drafted tokens (what the rules
    /// read at single positions; `touched` validation checks these before any row): the draft's
    /// only under a rule that reads it.
    pub fn check_drafted_entries(&self, r: usize, tree: &Tree, rule: Rule) -> Result<()> {
        let v = self.v;
        for c in 1..tree.len() {
            let u = tree.parent(c).unwrap_or(0);
            let x = self.token(r, c) as usize;
            for (field, f, at) in [
                ("target_probs", self.target, self.target_at(r, u)),
                ("draft_probs", self.draft, self.draft_at(r, u)),
            ] {
                if field == "draft_probs" && !rule.reads_draft() {
                    continue; // greedy and target-only never read a draft probability
                }
                let value = f.get_f64(at + x);
                if !value.is_finite() || value < 0.0 {
                    return Err(Error::BadProbability {
                        field,
                        dist: u,
                        token: x,
                        value,
                    });
                }
                check_f32_range(field, f.slice(at + x, 1), u * v + x, v)?;
            }
        }
        Ok(())
    }

    /// Checks round r against the rule's sibling constraints (SPEC §7): distinct tokens
    /// (`target-only`, `rrs-wor`), non-zero draft probabilities (`rrs`, `rrs-wor`).
    pub fn check_siblings(&self, r: usize, tree: &Tree, rule: Rule) -> Result<()> {
        let l = &self.layout;
        let tokens = self.round_tokens(r);
        check_siblings(tree, &tokens, rule, |u, x| {
            self.draft.get_f32(self.draft_at(r, u) + x) as f64
        })
        .map_err(|e| match e {
            Error::ZeroDraftProbabilityInTree {
                node,
                parent,
                token,
            } => {
                let note = if self
                    .draft
                    .get_f64(self.draft_at(r, parent) + token as usize)
                    != 0.0
                {
                    " (after rounding to float32, which the batch engines compute in)"
                } else {
                    ""
                };
                if l.tok_shift == 1 || !note.is_empty() {
                    // A chain names its position; a value float32 rounds to 0 says so.
                    Error::ZeroDraftProbability {
                        index: node - l.tok_shift,
                        token,
                        note,
                    }
                } else {
                    Error::ZeroDraftProbabilityInTree {
                        node,
                        parent,
                        token,
                    }
                }
            }
            e => e,
        })
    }
}
