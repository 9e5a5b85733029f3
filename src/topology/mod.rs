//! Draft-tree topology (SPEC §7, §10), the bottom of the layer graph beside the references: the
//! [`Tree`] itself, the shapes users name (`--tree SPEC`, [`shape`]) and the converters to and
//! from the arrays serving engines use ([`convert`]). It imports nothing but the error type.

pub mod convert;
mod document;
pub mod eagle2;
pub mod sequoia;
pub mod shape;

use crate::error::{Error, Result};

/// A draft tree of n ≥ 1 nodes: node 0 is the root (the last verified token), every other node's
/// parent comes before it, and children are visited in increasing node index.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tree {
    parents: Vec<i32>,
    /// Children of u: `child_list[child_start[u]..child_start[u + 1]]`, increasing.
    child_start: Vec<u32>,
    child_list: Vec<u32>,
    depth_of: Vec<u32>,
    /// The largest depth and child count, and whether it is the path 0 → 1 → … → n − 1.
    depth: u32,
    max_children: u32,
    path: bool,
}

/// The largest tree accepted: node ids, depths and per-round buffers stay small integers.
pub const MAX_NODES: usize = 1 << 16;

impl Tree {
    /// The tree of a parent array (`parents[0] = -1`, `0 <= parents[i] < i`), refused with the
    /// node named otherwise.
    pub fn from_parents(parents: &[i64]) -> Result<Tree> {
        let mut t = Tree::default();
        t.rebuild_checked(parents.iter().copied())?;
        Ok(t)
    }

    /// Makes this the tree of `parents`, checked as [`Tree::from_parents`] checks it (on error
    /// the tree is left empty). Reuses its buffers: no allocation once they have grown.
    pub fn rebuild_checked(&mut self, parents: impl ExactSizeIterator<Item = i64>) -> Result<()> {
        let n = parents.len();
        self.parents.clear();
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
        for (i, p) in parents.enumerate() {
            let ok = if i == 0 {
                p == -1
            } else {
                p >= 0 && (p as u64) < i as u64
            };
            if !ok {
                self.parents.clear();
                return Err(Error::BadParent {
                    index: i,
                    value: p,
                    why: if i == 0 {
                        "the root, node 0, must have parent -1"
                    } else {
                        "a parent must be an earlier node (0 <= parents[i] < i)"
                    },
                });
            }
            self.parents.push(p as i32);
        }
        self.index();
        Ok(())
    }

    /// Makes this the tree of `parents`, which must be a valid parent array (checked before, as
    /// by [`Topology::per_round`](crate::batch::Topology::per_round)). No allocation once the
    /// buffers have grown.
    pub fn rebuild(&mut self, parents: impl Iterator<Item = i64>) {
        self.parents.clear();
        self.parents.extend(parents.map(|p| p as i32));
        debug_assert!(
            self.parents.first() == Some(&-1)
                && self
                    .parents
                    .iter()
                    .enumerate()
                    .skip(1)
                    .all(|(i, &p)| p >= 0 && (p as usize) < i)
        );
        self.index();
    }

    /// A path of `k` drafted nodes: 0 → 1 → … → k (the chain of SPEC §1).
    pub fn path(k: usize) -> Tree {
        Tree::build((0..=k).map(|i| i as i32 - 1).collect())
    }

    fn build(parents: Vec<i32>) -> Tree {
        let mut t = Tree {
            parents,
            ..Tree::default()
        };
        t.index();
        t
    }

    /// Builds the child lists, depths and summary from `self.parents`.
    fn index(&mut self) {
        let n = self.parents.len();
        self.child_start.clear();
        self.child_start.resize(n + 1, 0);
        for &p in self.parents.iter().skip(1) {
            self.child_start[p as usize + 1] += 1;
        }
        let mut max_children = 0;
        for u in 0..n {
            max_children = max_children.max(self.child_start[u + 1]);
            self.child_start[u + 1] += self.child_start[u];
        }
        self.child_list.clear();
        self.child_list.resize(n.saturating_sub(1), 0);
        self.depth_of.clear();
        self.depth_of.resize(n, 0);
        let mut depth = 0;
        let mut path = true;
        for i in 1..n {
            let p = self.parents[i] as usize;
            path &= p == i - 1;
            self.depth_of[i] = self.depth_of[p] + 1;
            depth = depth.max(self.depth_of[i]);
        }
        // Children in increasing index: child_start[p] serves as p's cursor, which ends at the
        // next node's start; shifting by one node restores the starts.
        for i in 1..n {
            let p = self.parents[i] as usize;
            self.child_list[self.child_start[p] as usize] = i as u32;
            self.child_start[p] += 1;
        }
        for u in (1..=n).rev() {
            self.child_start[u] = self.child_start[u - 1];
        }
        self.child_start[0] = 0;
        self.depth = depth;
        self.max_children = max_children;
        self.path = path;
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
        self.depth as usize
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
        self.max_children as usize
    }

    /// Whether the tree is a path 0 → 1 → … → n − 1 (a chain).
    pub fn is_path(&self) -> bool {
        self.path && !self.parents.is_empty()
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
