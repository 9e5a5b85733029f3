//! Batches of tree rounds: one topology, N rounds of rows, tokens and coins. Two layouts share one
//! view ([`TreeView`]):
//! - a tree batch (SPEC §7 keys): `draft_probs` and `target_probs` [N, n, V], `draft_tokens` and
//!   `random_coins` [N, n] (entry 0 of each round's tokens is not read);
//! - a chain batch ([`BatchView`]) seen as the path tree: draft rows [N, K, V], target rows
//!   [N, K + 1, V], node i + 1's token at `draft_tokens[i]`, and the coin of position i at
//!   `random_coins[i]` for every rule ([`crate::reference::tree::walk::chain_coin_shift`]).

use rayon::prelude::*;

use crate::batch::{BatchView, Floats, Ints, check_f32_range};
use crate::error::{Error, Result};
use crate::reference::Values;
use crate::reference::tree::walk::{TreeInput, TreeOutcome, chain_coin_shift, decide_tree};
use crate::round::tree::check_siblings;
use crate::round::{RoundOptions, check_row};
use crate::rule::Rule;
use crate::topology::Tree;

/// Where a round's rows, tokens and coins are, per node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TreeLayout {
    /// Draft rows per round (n, or K for a chain).
    pub draft_rows: usize,
    /// Target rows per round (n, or K + 1).
    pub target_rows: usize,
    /// Token entries per round (n, or K).
    pub tok_stride: usize,
    /// Node c's token is entry `c − tok_shift` (0, or 1 for a chain).
    pub tok_shift: usize,
    /// Coin entries per round (n, or K).
    pub coin_stride: usize,
    /// Node c's coin is entry `c − coin_shift`.
    pub coin_shift: usize,
}

/// A batch of tree rounds, read in place.
#[derive(Clone, Copy, Debug)]
pub struct TreeView<'a> {
    /// Rounds.
    pub n: usize,
    /// The topology of every round.
    pub tree: &'a Tree,
    /// Vocabulary size.
    pub v: usize,
    /// Draft rows.
    pub draft: Floats<'a>,
    /// Target rows.
    pub target: Floats<'a>,
    /// Token ids.
    pub tokens: Ints<'a>,
    /// Coins.
    pub coins: Floats<'a>,
    /// Where each node's data is.
    pub layout: TreeLayout,
}

impl<'a> TreeView<'a> {
    /// A tree batch of `tree` over arrays in §7's layout.
    pub fn new(
        tree: &'a Tree,
        v: usize,
        draft: Floats<'a>,
        target: Floats<'a>,
        tokens: Ints<'a>,
        coins: Floats<'a>,
    ) -> Result<TreeView<'a>> {
        let nn = tree.len();
        let n = coins.len() / nn.max(1);
        let view = TreeView {
            n,
            tree,
            v,
            draft,
            target,
            tokens,
            coins,
            layout: TreeLayout {
                draft_rows: nn,
                target_rows: nn,
                tok_stride: nn,
                tok_shift: 0,
                coin_stride: nn,
                coin_shift: 0,
            },
        };
        view.check_shapes()?;
        Ok(view)
    }

    /// A chain batch as path-tree rounds under `rule` (`tree` must be `Tree::path(view.k)`).
    pub fn from_chain(view: &BatchView<'a>, tree: &'a Tree, rule: Rule) -> TreeView<'a> {
        debug_assert!(tree.is_path() && tree.len() == view.k + 1);
        TreeView {
            n: view.n,
            tree,
            v: view.v,
            draft: view.draft,
            target: view.target,
            tokens: view.tokens,
            coins: view.coins,
            layout: TreeLayout {
                draft_rows: view.k,
                target_rows: view.k + 1,
                tok_stride: view.k,
                tok_shift: 1,
                coin_stride: view.k,
                coin_shift: chain_coin_shift(rule),
            },
        }
    }

    /// Checks that the arrays hold N rounds of the layout.
    pub fn check_shapes(&self) -> Result<()> {
        let (n, v, l) = (self.n, self.v, &self.layout);
        let want = [
            ("draft_probs", self.draft.len(), n * l.draft_rows * v),
            ("target_probs", self.target.len(), n * l.target_rows * v),
            ("draft_tokens", self.tokens.len(), n * l.tok_stride),
            ("random_coins", self.coins.len(), n * l.coin_stride),
        ];
        for (field, found, expected) in want {
            if found != expected {
                return Err(Error::Config(format!(
                    "{field}: {found} values, expected {expected} for N = {n} rounds of a {}-node tree at V = {v}",
                    self.tree.len()
                )));
            }
        }
        if v == 0 {
            return Err(Error::EmptyVocabulary {
                field: "target_probs",
            });
        }
        Ok(())
    }

    /// Offset of node u's draft row in round r.
    #[inline]
    pub fn draft_at(&self, r: usize, u: usize) -> usize {
        (r * self.layout.draft_rows + u) * self.v
    }

    /// Offset of node u's target row in round r.
    #[inline]
    pub fn target_at(&self, r: usize, u: usize) -> usize {
        (r * self.layout.target_rows + u) * self.v
    }

    /// Node c's token in round r (c ≥ 1).
    #[inline]
    pub fn token(&self, r: usize, c: usize) -> i64 {
        self.tokens
            .get(r * self.layout.tok_stride + c - self.layout.tok_shift)
    }

    /// Index of node c's coin in round r.
    #[inline]
    pub fn coin_at(&self, r: usize, c: usize) -> usize {
        r * self.layout.coin_stride + c - self.layout.coin_shift
    }

    /// Node tokens of round r (entry 0 is 0).
    pub fn round_tokens(&self, r: usize) -> Vec<u32> {
        std::iter::once(0)
            .chain((1..self.tree.len()).map(|c| self.token(r, c) as u32))
            .collect()
    }

    /// Rounds `r0..r0 + m` as a batch of their own, in place (their round 0 is round r0 here).
    /// For a view whose shapes are checked.
    pub fn rounds(&self, r0: usize, m: usize) -> TreeView<'a> {
        let (v, l) = (self.v, self.layout);
        TreeView {
            n: m,
            draft: self
                .draft
                .slice(r0 * l.draft_rows * v, m * l.draft_rows * v),
            target: self
                .target
                .slice(r0 * l.target_rows * v, m * l.target_rows * v),
            tokens: self.tokens.slice(r0 * l.tok_stride, m * l.tok_stride),
            coins: self.coins.slice(r0 * l.coin_stride, m * l.coin_stride),
            ..*self
        }
    }

    /// Validates every round (in parallel) per SPEC §7, plus what the f32 engines need; the
    /// first bad round is named. Checks, per round: token ids, coins (each entry of the round's
    /// coins), target rows, internal nodes' draft rows, the rule's sibling constraints.
    pub fn validate(&self, opts: &RoundOptions, rule: Rule) -> Result<()> {
        self.check_shapes()?;
        let first_bad = (0..self.n)
            .into_par_iter()
            .filter_map(|r| self.validate_round(r, opts, rule).err().map(|e| (r, e)))
            .min_by_key(|(r, _)| *r);
        match first_bad {
            Some((r, e)) => Err(e.in_round(r as u64)),
            None => Ok(()),
        }
    }

    fn validate_round(&self, r: usize, opts: &RoundOptions, rule: Rule) -> Result<()> {
        let (tree, l) = (self.tree, &self.layout);
        self.check_scalars(r)?;
        for u in 0..l.draft_rows.min(tree.len()) {
            if !tree.is_leaf(u) || l.tok_shift == 1 {
                self.check_row(r, "draft_probs", u, opts)?;
            }
        }
        for u in 0..l.target_rows {
            self.check_row(r, "target_probs", u, opts)?;
        }
        self.check_siblings(r, rule)
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
        match row {
            Floats::F32(_) => check_row(field, u, row.as_f32(&mut Vec::new()), opts),
            Floats::F64(_) => check_row(field, u, &row.to_f64_vec(), opts),
        }
    }

    /// Checks round r's token ids and coins.
    pub fn check_scalars(&self, r: usize) -> Result<()> {
        let (tree, v, l) = (self.tree, self.v, &self.layout);
        for c in 1..tree.len() {
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
    /// read at single positions; `touched` validation checks these before any row).
    pub fn check_drafted_entries(&self, r: usize) -> Result<()> {
        let (tree, v) = (self.tree, self.v);
        for c in 1..tree.len() {
            let u = tree.parent(c).unwrap_or(0);
            let x = self.token(r, c) as usize;
            for (field, f, at) in [
                ("target_probs", self.target, self.target_at(r, u)),
                ("draft_probs", self.draft, self.draft_at(r, u)),
            ] {
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
    pub fn check_siblings(&self, r: usize, rule: Rule) -> Result<()> {
        let (tree, l) = (self.tree, &self.layout);
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

    /// The f64 reference outcome of round r (the one reference, reading the values in place).
    pub fn reference(&self, r: usize, rule: Rule) -> TreeOutcome {
        let tokens = self.round_tokens(r);
        let rows = |f: Floats<'a>, start: usize, rows: usize| f.slice(start, rows * self.v);
        let draft = rows(self.draft, self.draft_at(r, 0), self.layout.draft_rows);
        let target = rows(self.target, self.target_at(r, 0), self.layout.target_rows);
        let coins = NodeCoins { view: self, r };
        decide_tree(
            rule,
            &TreeInput {
                tree: self.tree,
                tokens: &tokens,
                draft: &draft,
                target: &target,
                coins: &coins,
                v: self.v,
            },
        )
    }
}

/// Round r's coins by node.
struct NodeCoins<'v, 'a> {
    view: &'v TreeView<'a>,
    r: usize,
}

impl Values for NodeCoins<'_, '_> {
    fn at(&self, c: usize) -> f64 {
        self.view.coins.get_f64(self.view.coin_at(self.r, c))
    }
}

/// The results of a tree batch: per round, the accepted nodes and tokens, padded with -1.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TreeResult {
    /// The tree's depth (the most nodes a round can accept).
    pub depth: usize,
    /// `[N, depth + 1]`: accepted tokens, then the correction or bonus, then -1.
    pub tokens: Vec<i32>,
    /// `[N, depth]`: accepted node ids, then -1.
    pub nodes: Vec<i32>,
    /// `[N]`: nodes accepted.
    pub num_accepted: Vec<u32>,
}

impl TreeResult {
    /// An all-empty result for `n` rounds of a tree of depth `depth`.
    pub fn new(n: usize, depth: usize) -> TreeResult {
        TreeResult {
            depth,
            tokens: vec![-1; n * (depth + 1)],
            nodes: vec![-1; n * depth],
            num_accepted: vec![0; n],
        }
    }

    /// Rounds.
    pub fn n(&self) -> usize {
        self.num_accepted.len()
    }

    /// Appends the rounds of `more` (same tree depth) after these.
    pub fn append(&mut self, more: TreeResult) {
        debug_assert_eq!(self.depth, more.depth);
        self.tokens.extend(more.tokens);
        self.nodes.extend(more.nodes);
        self.num_accepted.extend(more.num_accepted);
    }

    /// Round r's outcome.
    pub fn outcome(&self, r: usize) -> TreeOutcome {
        let a = self.num_accepted[r] as usize;
        TreeOutcome {
            nodes: self.nodes[r * self.depth..r * self.depth + a]
                .iter()
                .map(|&x| x as u32)
                .collect(),
            token: self.tokens[r * (self.depth + 1) + a] as u32,
        }
    }

    /// `num_generated` per round.
    pub fn num_generated(&self) -> Vec<u32> {
        self.num_accepted.iter().map(|a| a + 1).collect()
    }

    /// The chain result of a path tree (tokens [N, K + 1], accepted counts).
    pub fn into_chain(self) -> crate::batch::BatchResult {
        crate::batch::BatchResult {
            k: self.depth,
            tokens: self.tokens,
            num_accepted: self.num_accepted,
        }
    }
}
