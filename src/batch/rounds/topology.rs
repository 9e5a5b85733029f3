//! The topology of a batch's rounds ([`Topology`]): a chain's path, one tree shared by every
//! round, or a tree per round ([`PerRound`], every row checked when the view is made).

use rayon::prelude::*;

use crate::batch::Ints;
use crate::error::{Error, Result};
use crate::topology::Tree;

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
