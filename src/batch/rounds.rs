//! The one view of N rounds ([`Rounds`]), chain or tree: the rows, the tokens and the coins, read
//! in place, and a topology ([`Topology`]) that is a chain's path, one tree shared by every round,
//! or a tree per round. Two layouts of the arrays share it ([`Layout`]):
//! - a tree batch (SPEC §7 keys): `draft_probs` and `target_probs` [N, n, V], `draft_tokens` and
//!   `random_coins` [N, n] (entry 0 of each round's tokens is not read), `parents` [n] or [N, n];
//! - a chain batch (SPEC §3, [`ChainView`]) as the path tree: draft rows [N, K, V], target rows
//!   [N, K + 1, V], node i + 1's token at `draft_tokens[i]`, and the coin of position i at
//!   `random_coins[i]` for every rule ([`crate::reference::tree::walk::chain_coin_shift`]).
//!
//! The engines take a [`Rounds`]; the chain rules' fast path reads its chain view
//! ([`Rounds::as_chain`]).

use rayon::prelude::*;

use crate::batch::{ChainView, Floats, Ints, check_f32_range};
use crate::error::{Error, Result};
use crate::reference::Values;
use crate::reference::tree::walk::{TreeInput, TreeOutcome, chain_coin_shift, decide_tree};
use crate::round::tree::check_siblings;
use crate::round::{RoundOptions, check_row};
use crate::rule::Rule;
use crate::topology::Tree;

/// Where a round's rows, tokens and coins are, per node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
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

impl Layout {
    /// SPEC §7's layout for trees of n nodes: n rows, tokens and coins per round, node u's at u.
    pub fn tree(n: usize) -> Layout {
        Layout {
            draft_rows: n,
            target_rows: n,
            tok_stride: n,
            tok_shift: 0,
            coin_stride: n,
            coin_shift: 0,
        }
    }

    /// A chain of K drafts (SPEC §3): K draft rows, K + 1 target rows, K tokens and coins; node
    /// i + 1's token is entry i, and its coin too (the token rule's; see [`Rounds::for_rule`]).
    pub fn chain(k: usize) -> Layout {
        Layout {
            draft_rows: k,
            target_rows: k + 1,
            tok_stride: k,
            tok_shift: 1,
            coin_stride: k,
            coin_shift: 1,
        }
    }
}

/// The topology of a batch's rounds.
#[derive(Clone, Copy, Debug)]
pub enum Topology<'a> {
    /// A chain of K drafts: the path 0 → 1 → … → K.
    Path(usize),
    /// One tree, shared by every round.
    Shared(&'a Tree),
    /// A tree per round: `parents` [N, n] (each row a valid parent array, checked by
    /// [`Topology::per_round`]).
    PerRound(PerRound<'a>),
}

/// Per-round parent arrays, checked, with what the engines size their outputs by.
#[derive(Clone, Copy, Debug)]
pub struct PerRound<'a> {
    /// `[N, n]` parent arrays.
    pub parents: Ints<'a>,
    /// Nodes per round (n).
    pub nodes: usize,
    /// The largest depth over the rounds.
    pub depth: usize,
    /// The most children of one node over the rounds.
    pub max_children: usize,
}

impl<'a> Topology<'a> {
    /// Per-round topologies from `parents` (`[N, n]`, row-major): every row is checked as a
    /// parent array (SPEC §7; the first bad round is named) in one pass, which also finds the
    /// largest depth and child count.
    pub fn per_round(parents: Ints<'a>, nodes: usize) -> Result<Topology<'a>> {
        if nodes == 0 || nodes > crate::topology::MAX_NODES {
            return Err(Error::Config(format!(
                "parents: {nodes} nodes per round; a tree has 1 to {} nodes",
                crate::topology::MAX_NODES
            )));
        }
        if !parents.len().is_multiple_of(nodes) {
            return Err(Error::Config(format!(
                "parents: {} values is not a whole number of rounds of {nodes} nodes",
                parents.len()
            )));
        }
        let n = parents.len() / nodes;
        let stats = (0..n)
            .into_par_iter()
            .map_init(Tree::default, |t, r| {
                t.rebuild_checked((0..nodes).map(|i| parents.get(r * nodes + i)))
                    .map(|()| (t.depth(), t.max_children()))
                    .map_err(|e| (r, e))
            })
            .try_reduce(|| (0, 0), |a, b| Ok((a.0.max(b.0), a.1.max(b.1))));
        let (depth, max_children) = match stats {
            Ok(s) => s,
            Err((_, _)) => {
                // The first bad round, named (the parallel pass stops at any one).
                let mut t = Tree::default();
                let bad = (0..n).find_map(|r| {
                    t.rebuild_checked((0..nodes).map(|i| parents.get(r * nodes + i)))
                        .err()
                        .map(|e| (r, e))
                });
                let (r, e) = bad.expect("a round failed");
                return Err(e.in_round(r as u64));
            }
        };
        Ok(Topology::PerRound(PerRound {
            parents,
            nodes,
            depth,
            max_children,
        }))
    }

    /// Nodes per round, the root included (K + 1 for a chain).
    pub fn nodes(&self) -> usize {
        match self {
            Topology::Path(k) => k + 1,
            Topology::Shared(t) => t.len(),
            Topology::PerRound(p) => p.nodes,
        }
    }

    /// The most drafted tokens a round can accept (the largest depth over the rounds).
    pub fn depth(&self) -> usize {
        match self {
            Topology::Path(k) => *k,
            Topology::Shared(t) => t.depth(),
            Topology::PerRound(p) => p.depth,
        }
    }

    /// The most children of one node.
    pub fn max_children(&self) -> usize {
        match self {
            Topology::Path(k) => (*k > 0) as usize,
            Topology::Shared(t) => t.max_children(),
            Topology::PerRound(p) => p.max_children,
        }
    }

    /// The shared tree, if every round has the same one (a path is built into `scratch`).
    pub fn shared<'s>(&'s self, scratch: &'s mut Tree) -> Option<&'s Tree> {
        match self {
            Topology::Path(k) => {
                if !(scratch.is_path() && scratch.len() == k + 1) {
                    *scratch = Tree::path(*k);
                }
                Some(scratch)
            }
            Topology::Shared(t) => Some(t),
            Topology::PerRound(_) => None,
        }
    }

    /// The tree of round `r` (of this view): the shared one, or round r's built into `scratch`
    /// (no allocation once `scratch` has grown to n nodes).
    pub fn tree<'s>(&'s self, r: usize, scratch: &'s mut Tree) -> &'s Tree {
        match self {
            Topology::PerRound(p) => {
                let n = p.nodes;
                scratch.rebuild((0..n).map(|i| p.parents.get(r * n + i)));
                scratch
            }
            _ => self.shared(scratch).expect("a shared topology"),
        }
    }

    /// Rounds `r0..r0 + m` of this topology.
    pub fn rounds(&self, r0: usize, m: usize) -> Topology<'a> {
        match *self {
            Topology::PerRound(p) => Topology::PerRound(PerRound {
                parents: p.parents.slice(r0 * p.nodes, m * p.nodes),
                ..p
            }),
            other => other,
        }
    }
}

/// A batch of N rounds, chain or tree, read in place.
#[derive(Clone, Copy, Debug)]
pub struct Rounds<'a> {
    /// Rounds.
    pub n: usize,
    /// The topology of the rounds.
    pub topology: Topology<'a>,
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
    pub layout: Layout,
}

impl<'a> Rounds<'a> {
    /// A tree batch over arrays in §7's layout (n rows, tokens and coins per round), its shapes
    /// checked.
    pub fn new(
        topology: Topology<'a>,
        v: usize,
        draft: Floats<'a>,
        target: Floats<'a>,
        tokens: Ints<'a>,
        coins: Floats<'a>,
    ) -> Result<Rounds<'a>> {
        let nn = topology.nodes();
        let n = coins.len() / nn.max(1);
        let view = Rounds {
            n,
            topology,
            v,
            draft,
            target,
            tokens,
            coins,
            layout: Layout::tree(nn),
        };
        if let Topology::PerRound(p) = topology
            && p.parents.len() != n * nn
        {
            return Err(Error::Config(format!(
                "parents: {} rounds of {nn} nodes, but random_coins has {n} rounds",
                p.parents.len() / nn
            )));
        }
        view.check_shapes()?;
        Ok(view)
    }

    /// A chain batch as the path tree's rounds (the chain layout; tree rules read it through
    /// [`Rounds::for_rule`]).
    pub fn chain(view: &ChainView<'a>) -> Rounds<'a> {
        Rounds {
            n: view.n,
            topology: Topology::Path(view.k),
            v: view.v,
            draft: view.draft,
            target: view.target,
            tokens: view.tokens,
            coins: view.coins,
            layout: Layout::chain(view.k),
        }
    }

    /// Whether the rounds are in the chain layout (a chain batch, SPEC §3).
    pub fn is_chain(&self) -> bool {
        self.layout.tok_shift == 1
    }

    /// The chain view of a chain batch (the chain rules' fast path), `None` for a tree batch.
    pub fn as_chain(&self) -> Option<ChainView<'a>> {
        match self.topology {
            Topology::Path(k) if self.is_chain() => Some(ChainView {
                n: self.n,
                k,
                v: self.v,
                draft: self.draft,
                target: self.target,
                tokens: self.tokens,
                coins: self.coins,
            }),
            _ => None,
        }
    }

    /// The view as `rule` reads it: on a chain, node i + 1's coin is position i's under every
    /// rule (SPEC §7), so the coin of node c is entry `c − chain_coin_shift(rule)`.
    pub fn for_rule(&self, rule: Rule) -> Rounds<'a> {
        let mut r = *self;
        if self.is_chain() && rule.is_tree() {
            r.layout.coin_shift = chain_coin_shift(rule);
        }
        r
    }

    /// The tree of round r (see [`Topology::tree`]).
    #[inline]
    pub fn tree<'s>(&'s self, r: usize, scratch: &'s mut Tree) -> &'s Tree {
        self.topology.tree(r, scratch)
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
                    self.topology.nodes()
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
            .chain((1..self.topology.nodes()).map(|c| self.token(r, c) as u32))
            .collect()
    }

    /// Rounds `r0..r0 + m` as a batch of their own, in place (their round 0 is round r0 here).
    /// For a view whose shapes are checked.
    pub fn rounds(&self, r0: usize, m: usize) -> Rounds<'a> {
        let (v, l) = (self.v, self.layout);
        Rounds {
            n: m,
            draft: self
                .draft
                .slice(r0 * l.draft_rows * v, m * l.draft_rows * v),
            target: self
                .target
                .slice(r0 * l.target_rows * v, m * l.target_rows * v),
            tokens: self.tokens.slice(r0 * l.tok_stride, m * l.tok_stride),
            coins: self.coins.slice(r0 * l.coin_stride, m * l.coin_stride),
            topology: self.topology.rounds(r0, m),
            ..*self
        }
    }

    /// Validates every round (in parallel) per SPEC §7, plus what the f32 engines need; the
    /// first bad round is named. Checks, per round: token ids, coins (each entry of the round's
    /// coins), target rows, internal nodes' draft rows, the rule's sibling constraints.
    pub fn validate_all(&self, opts: &RoundOptions, rule: Rule) -> Result<()> {
        self.check_shapes()?;
        let first_bad = (0..self.n)
            .into_par_iter()
            .map_init(Tree::default, |t, r| {
                self.validate_round(r, self.tree(r, t), opts, rule)
                    .err()
                    .map(|e| (r, e))
            })
            .flatten()
            .min_by_key(|(r, _)| *r);
        match first_bad {
            Some((r, e)) => Err(e.in_round(r as u64)),
            None => Ok(()),
        }
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
        match row {
            Floats::F32(_) => check_row(field, u, row.as_f32(&mut Vec::new()), opts),
            Floats::F64(_) => check_row(field, u, &row.to_f64_vec(), opts),
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

    /// The f64 reference outcome of round r (the one reference, reading the values in place).
    pub fn reference(&self, r: usize, tree: &Tree, rule: Rule) -> TreeOutcome {
        let tokens = self.round_tokens(r);
        let rows = |f: Floats<'a>, start: usize, rows: usize| f.slice(start, rows * self.v);
        let draft = rows(self.draft, self.draft_at(r, 0), self.layout.draft_rows);
        let target = rows(self.target, self.target_at(r, 0), self.layout.target_rows);
        let coins = NodeCoins { view: self, r };
        decide_tree(
            rule,
            &TreeInput {
                tree,
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
    view: &'v Rounds<'a>,
    r: usize,
}

impl Values for NodeCoins<'_, '_> {
    fn at(&self, c: usize) -> f64 {
        self.view.coins.get_f64(self.view.coin_at(self.r, c))
    }
}
