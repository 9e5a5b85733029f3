//! Draft-tree topology (SPEC §7, §10), the bottom of the layer graph beside the references: the
//! [`Tree`] itself, the shapes users name (`--tree SPEC`, [`shape`]) and the converters to and
//! from the arrays serving engines use ([`convert`]). It imports nothing but the error type.

pub mod convert;
pub mod shape;

use crate::error::{Error, Result};

/// A draft tree of n ≥ 1 nodes: node 0 is the root (the last verified token), every other node's
/// parent comes before it, and children are visited in increasing node index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tree {
    parents: Vec<i32>,
    /// Children of u: `child_list[child_start[u]..child_start[u + 1]]`, increasing.
    child_start: Vec<u32>,
    child_list: Vec<u32>,
    depth_of: Vec<u32>,
}

/// The largest tree accepted: node ids, depths and per-round buffers stay small integers.
pub const MAX_NODES: usize = 1 << 16;

impl Tree {
    /// The tree of a parent array (`parents[0] = -1`, `0 <= parents[i] < i`), refused with the
    /// node named otherwise.
    pub fn from_parents(parents: &[i64]) -> Result<Tree> {
        let n = parents.len();
        if n == 0 {
            return Err(Error::Length {
                field: "parents",
                expected: 1,
                found: 0,
                why: "a tree has at least its root, node 0".into(),
            });
        }
        if n > MAX_NODES {
            return Err(Error::Config(format!(
                "parents: {n} nodes; at most {MAX_NODES} are supported"
            )));
        }
        if parents[0] != -1 {
            return Err(Error::BadParent {
                index: 0,
                value: parents[0],
                why: "the root, node 0, must have parent -1",
            });
        }
        let mut out = Vec::with_capacity(n);
        out.push(-1);
        for (i, &p) in parents.iter().enumerate().skip(1) {
            if p < 0 || p as u64 >= i as u64 {
                return Err(Error::BadParent {
                    index: i,
                    value: p,
                    why: "a parent must be an earlier node (0 <= parents[i] < i)",
                });
            }
            out.push(p as i32);
        }
        Ok(Tree::build(out))
    }

    /// A path of `k` drafted nodes: 0 → 1 → … → k (the chain of SPEC §1).
    pub fn path(k: usize) -> Tree {
        Tree::build((0..=k).map(|i| i as i32 - 1).collect())
    }

    fn build(parents: Vec<i32>) -> Tree {
        let n = parents.len();
        let mut count = vec![0u32; n + 1];
        for &p in &parents[1..] {
            count[p as usize + 1] += 1;
        }
        for u in 0..n {
            count[u + 1] += count[u];
        }
        let child_start = count.clone();
        let mut fill = count;
        let mut child_list = vec![0u32; n.saturating_sub(1)];
        let mut depth_of = vec![0u32; n];
        for (i, &p) in parents.iter().enumerate().skip(1) {
            let p = p as usize;
            child_list[fill[p] as usize] = i as u32;
            fill[p] += 1;
            depth_of[i] = depth_of[p] + 1;
        }
        Tree {
            parents,
            child_start,
            child_list,
            depth_of,
        }
    }

    /// The number of nodes n, root included.
    pub fn len(&self) -> usize {
        self.parents.len()
    }

    /// Never true: a tree has its root.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The parent array (`-1` for the root).
    pub fn parents(&self) -> &[i32] {
        &self.parents
    }

    /// The parent of node `u` (`None` for the root).
    pub fn parent(&self, u: usize) -> Option<usize> {
        usize::try_from(self.parents[u]).ok()
    }

    /// The children of `u`, in increasing node index.
    pub fn children(&self, u: usize) -> &[u32] {
        &self.child_list[self.child_start[u] as usize..self.child_start[u + 1] as usize]
    }

    /// Whether `u` has no children.
    pub fn is_leaf(&self, u: usize) -> bool {
        self.children(u).is_empty()
    }

    /// The number of edges from the root to `u`.
    pub fn depth_of(&self, u: usize) -> usize {
        self.depth_of[u] as usize
    }

    /// The tree's depth: the most edges from the root to a node (0 for a root alone). The most
    /// drafted tokens a round can accept.
    pub fn depth(&self) -> usize {
        self.depth_of.iter().copied().max().unwrap_or(0) as usize
    }

    /// The number of nodes at each depth 0..=depth (1 at depth 0).
    pub fn widths(&self) -> Vec<usize> {
        let mut w = vec![0usize; self.depth() + 1];
        for &d in &self.depth_of {
            w[d as usize] += 1;
        }
        w
    }

    /// The largest number of children of one node.
    pub fn max_children(&self) -> usize {
        (0..self.len())
            .map(|u| self.children(u).len())
            .max()
            .unwrap_or(0)
    }

    /// Whether the tree is a path 0 → 1 → … → n − 1 (a chain).
    pub fn is_path(&self) -> bool {
        self.parents
            .iter()
            .enumerate()
            .all(|(i, &p)| p == i as i32 - 1)
    }

    /// The position of `c` among its parent's children (0 for the first); 0 for the root.
    pub fn sibling_rank(&self, c: usize) -> usize {
        match self.parent(c) {
            None => 0,
            Some(p) => self
                .children(p)
                .iter()
                .position(|&x| x as usize == c)
                .unwrap_or(0),
        }
    }

    /// The nodes on the path from the root to `u`, both included.
    pub fn path_to(&self, u: usize) -> Vec<usize> {
        let mut path = vec![u];
        let mut x = u;
        while let Some(p) = self.parent(x) {
            path.push(p);
            x = p;
        }
        path.reverse();
        path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parents_are_checked_and_children_ordered() {
        let t = Tree::from_parents(&[-1, 0, 0, 1, 2, 1]).unwrap();
        assert_eq!(t.children(0), &[1, 2]);
        assert_eq!(t.children(1), &[3, 5]);
        assert_eq!(t.children(2), &[4]);
        assert!(t.is_leaf(3) && t.is_leaf(4) && t.is_leaf(5));
        assert_eq!((t.depth(), t.widths()), (2, vec![1, 2, 3]));
        assert_eq!(t.path_to(5), vec![0, 1, 5]);
        assert_eq!(t.sibling_rank(5), 1);
        for (bad, kind) in [
            (vec![], "length"),
            (vec![0], "bad_parent"),
            (vec![-1, 1], "bad_parent"),
            (vec![-1, 0, 3, 0], "bad_parent"),
            (vec![-1, -1], "bad_parent"),
        ] {
            assert_eq!(
                Tree::from_parents(&bad).unwrap_err().kind(),
                kind,
                "{bad:?}"
            );
        }
        assert!(Tree::path(3).is_path() && Tree::path(0).len() == 1);
        assert_eq!(Tree::path(0).depth(), 0);
    }
}
