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

use crate::batch::{ChainView, Floats, Ints};
use crate::error::{Error, Result};
use crate::reference::Values;
use crate::reference::tree::walk::{TreeInput, TreeOutcome, chain_coin_shift, decide_tree};
use crate::rule::Rule;
use crate::topology::Tree;

mod topology;
mod validate;

pub use topology::Topology;

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
