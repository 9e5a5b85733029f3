//! Sequoia's optimal static tree (SPEC §10; Chen et al. 2024): the tree of n nodes (the root
//! included) and depth at most d that maximises `Σ_v Π_{w on path(v)} P_{depth(parent(w))}[rank(w)]`
//! for a positional acceptance vector P, by Sequoia's dynamic programme (`tree_search.py` in
//! Infini-AI-Lab/Sequoia), written here over depths counted in edges.

use serde_json::Value;

use super::Tree;
use crate::error::{Error, Result};

/// A positional acceptance vector: `P[j]`, the probability that the j-th child (j = 0 first) in
/// sibling order is the accepted one, one vector for every depth or one per parent depth (the
/// last repeated below it).
#[derive(Clone, Debug, PartialEq)]
pub struct Positional {
    by_depth: Vec<Vec<f64>>,
}

impl Positional {
    /// One vector for every depth.
    pub fn uniform(p: Vec<f64>) -> Result<Positional> {
        Positional::per_depth(vec![p])
    }

    /// One vector per parent depth (0: the root's children), the last repeated deeper. Entries
    /// must be finite and in [0, 1], each vector non-empty with a sum at most 1 (within 1e-9).
    pub fn per_depth(by_depth: Vec<Vec<f64>>) -> Result<Positional> {
        if by_depth.is_empty() {
            return Err(Error::Config(
                "vector: empty (expected [P_1, ..., P_W] or one such list per depth)".into(),
            ));
        }
        for (d, p) in by_depth.iter().enumerate() {
            if p.is_empty() {
                return Err(Error::Config(format!("vector: depth {d}'s list is empty")));
            }
            if let Some((j, x)) = p
                .iter()
                .enumerate()
                .find(|(_, x)| !x.is_finite() || **x < 0.0 || **x > 1.0)
            {
                return Err(Error::Config(format!(
                    "vector: entry {j} of depth {d} is {x}, not a probability in [0, 1]"
                )));
            }
            let s: f64 = p.iter().sum();
            if s > 1.0 + 1e-9 {
                return Err(Error::Config(format!(
                    "vector: depth {d}'s entries sum to {s}, more than 1 (they are the probabilities of exclusive events)"
                )));
            }
        }
        Ok(Positional { by_depth })
    }

    /// Reads a JSON document: `[P_1, ..., P_W]` or `[[...], [...], ...]` (one per parent depth).
    pub fn from_json(doc: &Value) -> Result<Positional> {
        let bad = || {
            Error::Config(
                "vector: expected a JSON list of probabilities [P_1, ..., P_W], or a list of such lists (one per depth)".into(),
            )
        };
        let list = doc.as_array().ok_or_else(bad)?;
        let num = |v: &Value| v.as_f64().ok_or_else(bad);
        if list.first().is_some_and(Value::is_array) {
            let by_depth = list
                .iter()
                .map(|row| row.as_array().ok_or_else(bad)?.iter().map(num).collect())
                .collect::<Result<Vec<Vec<f64>>>>()?;
            Positional::per_depth(by_depth)
        } else {
            Positional::uniform(list.iter().map(num).collect::<Result<Vec<f64>>>()?)
        }
    }

    /// `P_depth[rank]` (0 past the vector's width).
    pub fn at(&self, depth: usize, rank: usize) -> f64 {
        let p = &self.by_depth[depth.min(self.by_depth.len() - 1)];
        p.get(rank).copied().unwrap_or(0.0)
    }

    /// The widest vector's width: no node of an optimal tree has more children.
    pub fn width(&self) -> usize {
        self.by_depth.iter().map(Vec::len).max().unwrap_or(0)
    }
}

/// Reads a vector file: a JSON list `[P_1, …, P_W]`, or a list of such lists (one per parent
/// depth). Sequoia's saved `.pt` vectors convert with
/// `python -c "import torch, json, sys; p = torch.load(sys.argv[1]).tolist(); print(json.dumps(p[1:-1]))" acc.pt > acc.json`
/// (its entry 0 is unused and its last is "none accepted").
pub fn read_vector(path: &std::path::Path) -> Result<Positional> {
    let text = crate::files::read_text(path, "a JSON positional acceptance vector", 1 << 24)?;
    let doc: Value = serde_json::from_str(&text)
        .map_err(|e| Error::format(path.display().to_string(), format!("invalid JSON: {e}")))?;
    Positional::from_json(&doc)
        .map_err(|e| Error::format(path.display().to_string(), e.to_string()))
}

/// `1 + Σ_v Π_{w on path(v)} P_{depth(parent(w))}[rank(w)]` of any tree: its expected tokens
/// generated when a node's j-th child is accepted with probability `P[j]` (SPEC §9).
pub fn value(tree: &Tree, p: &Positional) -> f64 {
    let mut reach = vec![0.0f64; tree.len()];
    let mut total = 0.0;
    for u in 0..tree.len() {
        if u == 0 {
            reach[0] = 1.0;
            total += 1.0;
        }
        for (j, &c) in tree.children(u).iter().enumerate() {
            let r = reach[u] * p.at(tree.depth_of(u), j);
            reach[c as usize] = r;
            total += r;
        }
    }
    total
}

/// The most nodes a Sequoia tree may have (the DP is O(n³ · d)).
pub const MAX_SEQUOIA_NODES: usize = 512;

/// Sequoia's tree of `n` nodes (root included) and depth at most `d` for the vector `p`, and its
/// value ([`value`]). The DP: `T[m][l]` the best value of a subtree of m nodes whose root is at
/// depth `d − l` (so its depth is at most l), `F[m][l][b]` the same with exactly b children:
/// `F[1][l][0] = 1`, `F[m][l][b] = max_y F[y][l][b−1] + P_{d−l}[b−1] · T[m−y][l−1]` (the first
/// b − 1 children's subtrees and the root take y nodes, child b's subtree the rest). Ties go to
/// the fewest children, then the smallest y. Nodes are numbered breadth-first, each node's
/// children consecutive in rank order.
pub fn sequoia_tree(n: usize, d: usize, p: &Positional) -> Result<(Tree, f64)> {
    if n == 0 || n > MAX_SEQUOIA_NODES {
        return Err(Error::Config(format!(
            "sequoia: n = {n} nodes is outside 1..={MAX_SEQUOIA_NODES} (the root included)"
        )));
    }
    // No tree of n nodes is deeper than n − 1: a larger d changes nothing but the DP's size.
    let d = d.min(n - 1);
    // Ranks past the vector's width have probability 0 (nodes there add nothing, but fill n).
    let w = n - 1;
    let neg = f64::NEG_INFINITY;
    // f[l][m][b], t[l][m] (l = 0..=d, m = 0..=n, b = 0..=w).
    let mut f = vec![vec![vec![neg; w + 1]; n + 1]; d + 1];
    let mut t = vec![vec![neg; n + 1]; d + 1];
    for l in 0..=d {
        f[l][1][0] = 1.0;
        t[l][1] = 1.0;
        let depth = d - l;
        for m in 2..=n {
            if l == 0 {
                continue; // depth 0 left: a leaf only
            }
            for b in 1..=w.min(m - 1) {
                let pb = p.at(depth, b - 1);
                let mut best = neg;
                for y in 1..m {
                    let (a, c) = (f[l][y][b - 1], t[l - 1][m - y]);
                    if a == neg || c == neg {
                        continue;
                    }
                    let v = a + pb * c;
                    if v > best {
                        best = v;
                    }
                }
                f[l][m][b] = best;
                if best > t[l][m] {
                    t[l][m] = best;
                }
            }
        }
    }
    if t[d][n] == neg {
        return Err(Error::Config(format!(
            "sequoia: no tree of {n} nodes has depth at most {d} (depth 0 is the root alone)"
        )));
    }
    // Rebuild: a subtree (m, l) takes the fewest children reaching T, then the smallest split.
    #[derive(Clone, Copy)]
    struct Sub {
        m: usize,
        l: usize,
    }
    let children_of = |s: Sub| -> Vec<Sub> {
        let (m, l) = (s.m, s.l);
        if m == 1 {
            return Vec::new();
        }
        let target = t[l][m];
        let mut b = (1..=w.min(m - 1))
            .find(|&b| f[l][m][b] == target)
            .expect("a maximum is reached");
        let mut rest = m;
        let mut kids = Vec::with_capacity(b);
        while b > 0 {
            let pb = p.at(d - l, b - 1);
            let goal = f[l][rest][b];
            let y = (1..rest)
                .find(|&y| {
                    let (a, c) = (f[l][y][b - 1], t[l - 1][rest - y]);
                    a != neg && c != neg && a + pb * c == goal
                })
                .expect("a split is reached");
            kids.push(Sub {
                m: rest - y,
                l: l - 1,
            });
            rest = y;
            b -= 1;
        }
        kids.reverse();
        kids
    };
    // Breadth-first numbering, children consecutive in rank order.
    let mut parents: Vec<i64> = vec![-1];
    let mut queue = std::collections::VecDeque::from([(0usize, Sub { m: n, l: d })]);
    while let Some((u, s)) = queue.pop_front() {
        for k in children_of(s) {
            let id = parents.len();
            parents.push(u as i64);
            queue.push_back((id, k));
        }
    }
    let tree = Tree::from_parents(&parents)?;
    let v = value(&tree, p);
    Ok((tree, v))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every parent array of n nodes (parents[i] < i), depth ≤ d: the best value by brute force.
    fn brute(n: usize, d: usize, p: &Positional) -> f64 {
        fn go(parents: &mut Vec<i64>, n: usize, d: usize, p: &Positional, best: &mut f64) {
            if parents.len() == n {
                let t = Tree::from_parents(parents).unwrap();
                if t.depth() <= d {
                    *best = best.max(value(&t, p));
                }
                return;
            }
            for q in 0..parents.len() {
                parents.push(q as i64);
                go(parents, n, d, p, best);
                parents.pop();
            }
        }
        let mut best = f64::NEG_INFINITY;
        go(&mut vec![-1], n, d, p, &mut best);
        best
    }

    #[test]
    fn the_dp_equals_brute_force_over_every_tree_up_to_8_nodes() {
        let vectors = [
            Positional::uniform(vec![0.6, 0.2, 0.1]).unwrap(),
            Positional::uniform(vec![0.3, 0.25, 0.2, 0.15]).unwrap(),
            Positional::uniform(vec![0.9]).unwrap(),
            Positional::per_depth(vec![vec![0.5, 0.3], vec![0.8, 0.1], vec![0.2, 0.2]]).unwrap(),
        ];
        for p in &vectors {
            for n in 1..=8 {
                for d in 1..=4 {
                    let want = brute(n, d, p);
                    let (t, v) = sequoia_tree(n, d, p).unwrap();
                    assert!((v - want).abs() < 1e-12, "n {n} d {d}: {v} vs {want}");
                    assert_eq!(t.len(), n);
                    assert!(t.depth() <= d);
                    // Breadth-first: parents never decrease.
                    assert!(t.parents().windows(2).all(|w| w[0] <= w[1]));
                }
            }
        }
    }

    #[test]
    fn a_chain_and_a_star_come_out_where_they_should() {
        // One rank only: the chain.
        let (t, v) = sequoia_tree(5, 8, &Positional::uniform(vec![0.5]).unwrap()).unwrap();
        assert_eq!(t.parents(), &[-1, 0, 1, 2, 3]);
        assert!((v - (1.0 + 0.5 + 0.25 + 0.125 + 0.0625)).abs() < 1e-15);
        // Depth 1: a star.
        let (t, _) =
            sequoia_tree(4, 1, &Positional::uniform(vec![0.4, 0.3, 0.2]).unwrap()).unwrap();
        assert_eq!(t.parents(), &[-1, 0, 0, 0]);
        assert!(Positional::uniform(vec![0.7, 0.7]).is_err());
        assert!(Positional::uniform(vec![]).is_err());
        assert!(sequoia_tree(0, 3, &Positional::uniform(vec![0.5]).unwrap()).is_err());
        assert!(sequoia_tree(3, 0, &Positional::uniform(vec![0.5]).unwrap()).is_err());
    }
}
