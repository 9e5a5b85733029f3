//! EAGLE-2's per-round tree growth (SPEC §10; Li et al. 2024, as SGLang's and EAGLE's drafters
//! grow their trees): `eagle2:k,depth,n`.
//!
//! Level 1 is the root draft row's top-k tokens (candidate ids 0..k−1, score = q). At each level
//! L = 2..depth, the k beam nodes of level L−1, in beam order j, expand their own draft rows:
//! their top-k tokens become candidates `k + (L−2)k² + jk + c` with score = parent score · q
//! (f64 products), and the k best of those k² (score descending, id ascending) are level L's beam.
//! The tree is the n − 1 best candidates of all `k + (depth−1)k²` (score descending, id
//! ascending), numbered by candidate id, under the root.
//!
//! This module knows no rows: the caller's `expand` gives a node's top-k (token, probability)
//! pairs, so the same growth serves the studies (generated rows), `verify` (adversarial rows) and
//! Python (a user's draft model).

use super::{MAX_NODES, Tree};
use crate::error::{Error, Result};

/// The most candidates one round may consider (`k + (depth − 1)k²`): 2^20, far beyond what a
/// drafter grows, and a bound on the growth's memory.
pub const MAX_CANDIDATES: usize = 1 << 20;

/// The most draft rows one round may expand (`1 + k(depth − 1)`): 4096, far beyond what a
/// drafter grows (EAGLE's default expands 71), and a bound on a round's work.
pub const MAX_EXPANDED: usize = 4096;

/// The builder `eagle2:k,depth,n`: `k` tokens per expansion and beam width, `depth` levels,
/// `nodes` nodes with the root.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Eagle2 {
    /// Top-k per expanded node, and the beam width.
    pub k: usize,
    /// Levels of candidates (the deepest node is at depth `depth`).
    pub depth: usize,
    /// Nodes of the tree, the root included.
    pub nodes: usize,
}

/// One grown tree.
#[derive(Clone, Debug, PartialEq)]
pub struct Grown {
    /// The tree.
    pub tree: Tree,
    /// Node u's drafted token (entry 0, the root's, is 0).
    pub tokens: Vec<u32>,
    /// Node u's candidate id (entry 0, the root's, is `usize::MAX`).
    pub candidates: Vec<usize>,
    /// Each expanded candidate, in the order it was expanded (the root, `usize::MAX`, first).
    pub expanded: Vec<usize>,
}

/// A node's top-k as `expand` returns it: (token, draft probability), largest first, ties to the
/// lowest token id.
pub type TopK = Vec<(u32, f64)>;

impl Eagle2 {
    /// Checks the parameters against a vocabulary of `v` tokens (the refusals of SPEC §10).
    pub fn check(&self, v: usize) -> Result<()> {
        let Eagle2 { k, depth, nodes } = *self;
        if k == 0 || depth == 0 || nodes == 0 {
            return Err(Error::Config(format!(
                "eagle2:{k},{depth},{nodes}: k, depth and n must be at least 1"
            )));
        }
        if nodes > MAX_NODES {
            return Err(Error::Config(format!(
                "eagle2:{k},{depth},{nodes}: more than {MAX_NODES} nodes"
            )));
        }
        let cands = self.candidate_count().filter(|&c| c <= MAX_CANDIDATES);
        let Some(cands) = cands else {
            return Err(Error::Config(format!(
                "eagle2:{k},{depth},{nodes}: k + (depth - 1) k^2 candidates is more than {MAX_CANDIDATES}"
            )));
        };
        if self.max_expanded() > MAX_EXPANDED {
            return Err(Error::Config(format!(
                "eagle2:{k},{depth},{nodes}: 1 + k (depth - 1) = {} draft rows to expand per round is more than {MAX_EXPANDED}",
                self.max_expanded()
            )));
        }
        if nodes - 1 > cands {
            return Err(Error::Config(format!(
                "eagle2:{k},{depth},{nodes}: n - 1 = {} drafted nodes but only k + (depth - 1) k^2 = {cands} candidates",
                nodes - 1
            )));
        }
        if v > 0 && k > v {
            return Err(Error::Config(format!(
                "eagle2:{k},{depth},{nodes}: k = {k} tokens per node but V = {v}"
            )));
        }
        Ok(())
    }

    /// `k + (depth − 1)k²` (`None` on overflow).
    pub fn candidate_count(&self) -> Option<usize> {
        let k2 = self.k.checked_mul(self.k)?;
        self.k
            .checked_add(self.depth.saturating_sub(1).checked_mul(k2)?)
    }

    /// The deepest a grown tree can be: `min(depth, n − 1)`.
    pub fn max_depth(&self) -> usize {
        self.depth.min(self.nodes.saturating_sub(1))
    }

    /// The most draft rows a growth reads: the root's and `k(depth − 1)` beam nodes'.
    pub fn max_expanded(&self) -> usize {
        self.k
            .saturating_mul(self.depth.saturating_sub(1))
            .saturating_add(1)
    }

    /// Grows one round's tree. `expand(candidate, path)` gives the top-k of the draft row of the
    /// root (`None`, empty path) or of a candidate (its id, and the tokens from the root's child
    /// down to it): k pairs (token, probability in [0, 1]), largest first. Errors from `expand`
    /// are passed on; a probability outside [0, 1] or the wrong count is refused.
    pub fn grow(
        &self,
        vocab: usize,
        mut expand: impl FnMut(Option<usize>, &[u32]) -> Result<TopK>,
    ) -> Result<Grown> {
        self.check(vocab)?;
        let Eagle2 { k, depth, nodes } = *self;
        let total = self.candidate_count().expect("checked");
        let mut parent: Vec<usize> = vec![usize::MAX; total];
        let mut token = vec![0u32; total];
        let mut score = vec![f64::NEG_INFINITY; total];
        let mut expanded = vec![usize::MAX];
        let path_of = |c: usize, parent: &[usize], token: &[u32]| -> Vec<u32> {
            let mut p = Vec::new();
            let mut u = c;
            while u != usize::MAX {
                p.push(token[u]);
                u = parent[u];
            }
            p.reverse();
            p
        };
        let checked = |who: Option<usize>, top: TopK| -> Result<TopK> {
            let name = who.map_or("the root".to_string(), |c| format!("candidate {c}"));
            if top.len() != k {
                return Err(Error::Config(format!(
                    "eagle2: {name}'s draft row gave {} tokens, expected its top k = {k}",
                    top.len()
                )));
            }
            if let Some((x, q)) = top.iter().find(|(_, q)| !(0.0..=1.0).contains(q)) {
                return Err(Error::Config(format!(
                    "eagle2: {name}'s draft probability of token {x} is {q}, not in [0, 1]"
                )));
            }
            if top.windows(2).any(|w| w[1].1 > w[0].1) {
                return Err(Error::Config(format!(
                    "eagle2: {name}'s top-k is not in decreasing order of probability"
                )));
            }
            // −0 is 0 (scores are ordered by total_cmp, which would put −0 below +0).
            Ok(top.into_iter().map(|(x, q)| (x, q + 0.0)).collect())
        };
        let root = checked(None, expand(None, &[])?)?;
        for (c, &(x, q)) in root.iter().enumerate() {
            (token[c], score[c]) = (x, q);
        }
        let mut beam: Vec<usize> = (0..k).collect();
        for level in 2..=depth {
            let base = k + (level - 2) * k * k;
            for (j, &b) in beam.iter().enumerate() {
                let path = path_of(b, &parent, &token);
                let top = checked(Some(b), expand(Some(b), &path)?)?;
                expanded.push(b);
                for (c, &(x, q)) in top.iter().enumerate() {
                    let id = base + j * k + c;
                    (parent[id], token[id], score[id]) = (b, x, score[b] * q);
                }
            }
            let mut level_ids: Vec<usize> = (base..base + k * k).collect();
            level_ids.sort_by(|&a, &b| score[b].total_cmp(&score[a]).then(a.cmp(&b)));
            level_ids.truncate(k);
            beam = level_ids;
        }
        let mut order: Vec<usize> = (0..total).collect();
        let by_score = |a: &usize, b: &usize| score[*b].total_cmp(&score[*a]).then(a.cmp(b));
        if nodes - 1 < total && nodes > 1 {
            order.select_nth_unstable_by(nodes - 2, by_score);
        }
        order.truncate(nodes - 1);
        order.sort_unstable();
        let mut node_of = std::collections::HashMap::with_capacity(order.len());
        let mut parents = vec![-1i64];
        let mut tokens = vec![0u32];
        let mut candidates = vec![usize::MAX];
        for (i, &c) in order.iter().enumerate() {
            let p = match parent[c] {
                usize::MAX => 0,
                pc => *node_of.get(&pc).ok_or_else(|| {
                    Error::Config(format!(
                        "eagle2: candidate {c} was selected without its parent {pc} (a score above its parent's: a draft probability above 1?)"
                    ))
                })?,
            };
            node_of.insert(c, i + 1);
            parents.push(p as i64);
            tokens.push(token[c]);
            candidates.push(c);
        }
        Ok(Grown {
            tree: Tree::from_parents(&parents)?,
            tokens,
            candidates,
            expanded,
        })
    }
}

impl std::str::FromStr for Eagle2 {
    type Err = Error;

    /// `k,depth,n` (what follows `eagle2:`).
    fn from_str(arg: &str) -> Result<Eagle2> {
        let parts: Vec<&str> = arg.split(',').map(str::trim).collect();
        let bad = || {
            Error::Config(format!(
                "eagle2:{arg}: expected eagle2:k,depth,n (top-k per node, levels, nodes with the root)"
            ))
        };
        let [k, depth, nodes] = parts[..] else {
            return Err(bad());
        };
        let int = |s: &str| s.parse::<usize>().map_err(|_| bad());
        let e = Eagle2 {
            k: int(k)?,
            depth: int(depth)?,
            nodes: int(nodes)?,
        };
        e.check(0)?;
        Ok(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows from a table: each candidate's top-k is a function of its path.
    fn top(path: &[u32], k: usize) -> TopK {
        // Deterministic, decreasing with exact ties (ranks 2i and 2i + 1 equal), tokens after
        // the path's sum.
        let s: u32 = path.iter().sum();
        (0..k)
            .map(|c| (s + c as u32, (k + 1 - c / 2) as f64 / ((k + 1) * k) as f64))
            .collect()
    }

    #[test]
    fn grown_trees_are_closed_numbered_and_top_m() {
        for (k, depth, nodes) in [(1, 1, 2), (2, 3, 7), (3, 4, 20), (4, 4, 16), (10, 8, 60)] {
            let e = Eagle2 { k, depth, nodes };
            let g = e.grow(1000, |_, p| Ok(top(p, k))).unwrap();
            assert_eq!(g.tree.len(), nodes);
            assert!(g.tree.depth() <= depth);
            for u in 1..nodes {
                let p = g.tree.parent(u).unwrap();
                assert!(p < u);
                assert!(p == 0 || g.candidates[p] < g.candidates[u]);
            }
            // Each node's children are its row's top-m, in rank order.
            for u in 0..nodes {
                let ch = g.tree.children(u);
                let path: Vec<u32> = g.tree.path_to(u)[1..]
                    .iter()
                    .map(|&w| g.tokens[w])
                    .collect();
                let want: Vec<u32> = top(&path, k).iter().take(ch.len()).map(|t| t.0).collect();
                let got: Vec<u32> = ch.iter().map(|&c| g.tokens[c as usize]).collect();
                assert_eq!(got, want, "eagle2:{k},{depth},{nodes} node {u}");
            }
        }
    }

    #[test]
    fn refusals_name_the_parameter() {
        let e = Eagle2 {
            k: 2,
            depth: 2,
            nodes: 8,
        };
        assert!(
            e.check(100)
                .unwrap_err()
                .to_string()
                .contains("only k + (depth - 1) k^2 = 6")
        );
        let e = Eagle2 {
            k: 5,
            depth: 2,
            nodes: 4,
        };
        assert!(e.check(4).unwrap_err().to_string().contains("V = 4"));
        assert!("3,2".parse::<Eagle2>().is_err());
        assert!("0,2,3".parse::<Eagle2>().is_err());
        let e = Eagle2 {
            k: 2,
            depth: 2,
            nodes: 3,
        };
        let err = e.grow(10, |_, _| Ok(vec![(0, 1.5), (1, 0.1)])).unwrap_err();
        assert!(err.to_string().contains("not in [0, 1]"), "{err}");
    }

    /// A probability of −0 is 0: ties between −0 and +0 go to the lower id, so no candidate is
    /// selected without its parent.
    #[test]
    fn negative_zero_is_zero() {
        let e = Eagle2 {
            k: 2,
            depth: 2,
            nodes: 4,
        };
        let g = e.grow(2, |_, _| Ok(vec![(0, 1.0), (1, -0.0)])).unwrap();
        assert_eq!(g.candidates[1..], [0, 1, 2]);
        assert!(
            "1,4097,2"
                .parse::<Eagle2>()
                .unwrap_err()
                .to_string()
                .contains("4096")
        );
    }

    /// The growth by hand on a small case: k = 2, depth = 3, n = 6.
    #[test]
    fn a_small_growth_by_hand() {
        // Root: tokens 5 (0.6), 7 (0.3). Candidate rows: 0 (token 5) gives 1 (0.9), 2 (0.1);
        // 1 (token 7) gives 3 (0.5), 4 (0.5).
        let rows = |c: Option<usize>| -> TopK {
            match c {
                None => vec![(5, 0.6), (7, 0.3)],
                Some(0) => vec![(1, 0.9), (2, 0.1)],
                Some(1) => vec![(3, 0.5), (4, 0.5)],
                Some(_) => vec![(8, 0.5), (9, 0.25)],
            }
        };
        let e = Eagle2 {
            k: 2,
            depth: 3,
            nodes: 6,
        };
        let g = e.grow(10, |c, _| Ok(rows(c))).unwrap();
        // Level 2: ids 2..6 with scores 0.54, 0.06, 0.15, 0.15; beam = [2, 4].
        // Level 3: ids 6..10: 2→ 0.27, 0.135; 4→ 0.075, 0.0375.
        // Best 5: 0 (0.6), 2 (0.54), 1 (0.3), 6 (0.27), 4 (0.15; ties 5 by id).
        assert_eq!(g.candidates[1..], [0, 1, 2, 4, 6]);
        assert_eq!(g.tree.parents(), &[-1, 0, 0, 1, 2, 3]);
        assert_eq!(g.tokens, vec![0, 5, 7, 1, 3, 8]);
        assert_eq!(g.expanded, vec![usize::MAX, 0, 1, 2, 4]);
    }
}
