//! What an engine returns for N rounds, chain or tree: one type, [`Outcomes`].

use crate::reference::Outcome;
use crate::reference::tree::walk::TreeOutcome;

/// The results of N rounds: per round the accepted tokens, then the correction or bonus, padded
/// with -1 to `depth + 1`; the number accepted; and, for tree rounds, the accepted node ids.
///
/// `depth` is the most drafted tokens a round can accept: K for a chain, the tree's depth (the
/// largest over the rounds when each round has its own topology).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcomes {
    /// The most drafted tokens a round can accept.
    pub depth: usize,
    /// `[N, depth + 1]`: accepted tokens, then the correction or bonus, then -1.
    pub tokens: Vec<i32>,
    /// `[N]`: drafted tokens accepted.
    pub num_accepted: Vec<u32>,
    /// `[N, depth]`: the accepted node ids, then -1, for tree rounds (`None` for chains, whose
    /// accepted nodes are 1..=accepted).
    pub nodes: Option<Vec<i32>>,
}

/// The number accepted of a round an engine could not finish (a GPU kernel out of its loop
/// budget): the engine layer finishes it on the CPU twin before anyone reads it.
pub const UNFINISHED: u32 = u32::MAX;

impl Outcomes {
    /// The rounds marked [`UNFINISHED`].
    pub fn unfinished(&self) -> Vec<usize> {
        (0..self.n())
            .filter(|&r| self.num_accepted[r] == UNFINISHED)
            .collect()
    }

    /// Puts `one`'s round 0 (same depth and kind) in round `r`.
    pub fn set_round(&mut self, r: usize, one: &Outcomes) {
        let (d, d1) = (self.depth, self.depth + 1);
        self.tokens[r * d1..(r + 1) * d1].copy_from_slice(&one.tokens[..d1]);
        self.num_accepted[r] = one.num_accepted[0];
        if let (Some(a), Some(b)) = (&mut self.nodes, &one.nodes) {
            a[r * d..(r + 1) * d].copy_from_slice(&b[..d]);
        }
    }

    /// An all-empty result for `n` chain rounds of `k` drafts (tokens -1, nothing accepted).
    pub fn chain(n: usize, k: usize) -> Outcomes {
        Outcomes {
            depth: k,
            tokens: vec![-1; n * (k + 1)],
            num_accepted: vec![0; n],
            nodes: None,
        }
    }

    /// An all-empty result for `n` tree rounds of depth `depth` (tokens and nodes -1).
    pub fn tree(n: usize, depth: usize) -> Outcomes {
        Outcomes {
            nodes: Some(vec![-1; n * depth]),
            ..Outcomes::chain(n, depth)
        }
    }

    /// Rounds.
    pub fn n(&self) -> usize {
        self.num_accepted.len()
    }

    /// The chain outcome of round `r`: the number accepted and the correction or bonus.
    pub fn outcome(&self, r: usize) -> Outcome {
        let a = self.num_accepted[r];
        Outcome {
            num_accepted: a,
            token: self.tokens[r * (self.depth + 1) + a as usize] as u32,
        }
    }

    /// The accepted node ids of round `r` (1..=accepted for a chain).
    pub fn accepted_nodes(&self, r: usize) -> Vec<u32> {
        let a = self.num_accepted[r] as usize;
        match &self.nodes {
            Some(nodes) => nodes[r * self.depth..r * self.depth + a]
                .iter()
                .map(|&x| x as u32)
                .collect(),
            None => (1..=a as u32).collect(),
        }
    }

    /// The tree outcome of round `r`: the accepted nodes and the correction or bonus.
    pub fn tree_outcome(&self, r: usize) -> TreeOutcome {
        TreeOutcome {
            nodes: self.accepted_nodes(r),
            token: self.outcome(r).token,
        }
    }

    /// `num_generated` per round (accepted + 1).
    pub fn num_generated(&self) -> Vec<u32> {
        self.num_accepted.iter().map(|a| a + 1).collect()
    }

    /// Appends the rounds of `more` (same depth, same kind) after these; an empty result takes
    /// the kind of `more`.
    pub fn append(&mut self, more: Outcomes) {
        if self.n() == 0 {
            *self = more;
            return;
        }
        debug_assert_eq!(self.depth, more.depth);
        self.tokens.extend(more.tokens);
        self.num_accepted.extend(more.num_accepted);
        if let (Some(a), Some(b)) = (&mut self.nodes, more.nodes) {
            a.extend(b);
        }
    }

    /// The same outcomes without the node ids (a chain's result).
    pub fn into_chain(self) -> Outcomes {
        Outcomes {
            nodes: None,
            ..self
        }
    }
}
