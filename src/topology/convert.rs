//! A tree in the forms serving engines wire into their kernels, and back:
//! - EAGLE / Medusa / vLLM choice lists: each non-root node as the path of sibling ranks from the
//!   root (`[[0], [0, 0], [1], …]`), nodes numbered as EAGLE's `generate_tree_buffers` sorts
//!   them (by length, then lexicographically). A tree whose node ids are in another order reads
//!   back from its choice list renumbered into EAGLE's order ([`Tree::eagle_order`] says how);
//! - SGLang's `retrive_next_token` (first child, −1 for none) and `retrive_next_sibling` (next
//!   sibling, −1 for none);
//! - EAGLE's `retrieve_indices`: one row per leaf, the node ids on the path from the root, padded
//!   with −1 to depth + 1, the rows in EAGLE's order (`custom_sort`: lexicographic, −1 after
//!   every id);
//! - the ancestor attention mask: `mask[i][j] = 1` iff j is i or one of its ancestors.

use super::Tree;
use crate::error::{Error, Result};

fn bad(what: &str, message: String) -> Error {
    Error::Config(format!("{what}: {message}"))
}

impl Tree {
    /// Node u's choice: its sibling ranks from the root (`[]` for the root).
    fn choice_of(&self, u: usize) -> Vec<usize> {
        self.path_to(u)[1..]
            .iter()
            .map(|&x| self.sibling_rank(x))
            .collect()
    }

    /// The node ids in EAGLE's order: `order[k]` is the node EAGLE numbers k (the root first,
    /// then the nodes by depth, then by their choices lexicographically). The identity when the
    /// tree is in EAGLE's order ([`Tree::in_eagle_order`]).
    pub fn eagle_order(&self) -> Vec<usize> {
        let mut order: Vec<(Vec<usize>, usize)> =
            (0..self.len()).map(|u| (self.choice_of(u), u)).collect();
        order.sort_by(|a, b| (a.0.len(), &a.0).cmp(&(b.0.len(), &b.0)));
        order.into_iter().map(|(_, u)| u).collect()
    }

    /// Whether the node ids are EAGLE's: then the choice list reads back to this very tree.
    pub fn in_eagle_order(&self) -> bool {
        self.eagle_order().iter().enumerate().all(|(k, &u)| k == u)
    }

    /// The same tree with node `order[k]` renumbered k (`order` a permutation that keeps every
    /// parent before its children, as [`Tree::eagle_order`]'s does).
    pub fn renumbered(&self, order: &[usize]) -> Result<Tree> {
        let mut new_id = vec![usize::MAX; self.len()];
        for (k, &u) in order.iter().enumerate() {
            new_id[u] = k;
        }
        let parents: Vec<i64> = order
            .iter()
            .map(|&u| self.parent(u).map_or(-1, |p| new_id[p] as i64))
            .collect();
        Tree::from_parents(&parents)
    }

    /// The EAGLE choice list of this tree: each non-root node's sibling ranks from the root, in
    /// EAGLE's order (node by node when the tree is in EAGLE's order). [`Tree::from_choices`]
    /// reads it back to this tree renumbered by [`Tree::eagle_order`].
    pub fn choices(&self) -> Vec<Vec<usize>> {
        self.eagle_order()[1..]
            .iter()
            .map(|&u| self.choice_of(u))
            .collect()
    }

    /// The tree of an EAGLE choice list: nodes numbered in EAGLE's order (by length, then
    /// lexicographically). Every prefix of a choice must be a choice, and the ranks under one
    /// parent must be 0, 1, … without a gap.
    pub fn from_choices(choices: &[Vec<usize>]) -> Result<Tree> {
        let what = "eagle choice list";
        let mut sorted: Vec<&Vec<usize>> = choices.iter().collect();
        sorted.sort_by(|a, b| (a.len(), *a).cmp(&(b.len(), *b)));
        let mut id: std::collections::HashMap<&[usize], usize> = Default::default();
        id.insert(&[], 0);
        let mut parents = vec![-1i64];
        let mut next_rank: Vec<usize> = vec![0];
        for c in sorted {
            if c.is_empty() {
                return Err(bad(
                    what,
                    "an empty choice ([]) names the root, which is implicit".into(),
                ));
            }
            if id.contains_key(c.as_slice()) {
                return Err(bad(what, format!("{c:?} is listed twice")));
            }
            let prefix = &c[..c.len() - 1];
            let Some(&p) = id.get(prefix) else {
                return Err(bad(
                    what,
                    format!("{c:?} needs its parent {prefix:?} in the list"),
                ));
            };
            let rank = c[c.len() - 1];
            if rank != next_rank[p] {
                return Err(bad(
                    what,
                    format!(
                        "{c:?}: sibling ranks under {prefix:?} must be 0, 1, … without a gap (expected rank {})",
                        next_rank[p]
                    ),
                ));
            }
            next_rank[p] += 1;
            let u = parents.len();
            id.insert(c.as_slice(), u);
            parents.push(p as i64);
            next_rank.push(0);
        }
        Tree::from_parents(&parents)
    }

    /// SGLang's `(retrive_next_token, retrive_next_sibling)`: each node's first child and next
    /// sibling, −1 where there is none.
    pub fn next_token_sibling(&self) -> (Vec<i64>, Vec<i64>) {
        let n = self.len();
        let mut next_token = vec![-1i64; n];
        let mut next_sibling = vec![-1i64; n];
        for (u, first) in next_token.iter_mut().enumerate() {
            let ch = self.children(u);
            if let Some(&c) = ch.first() {
                *first = c as i64;
            }
            for w in ch.windows(2) {
                next_sibling[w[0] as usize] = w[1] as i64;
            }
        }
        (next_token, next_sibling)
    }

    /// The tree of SGLang's arrays (the inverse of [`Tree::next_token_sibling`]). Every node but
    /// the root must be reached exactly once, from an earlier node.
    pub fn from_next_token_sibling(next_token: &[i64], next_sibling: &[i64]) -> Result<Tree> {
        let what = "retrive_next_token/retrive_next_sibling";
        let n = next_token.len();
        if next_sibling.len() != n {
            return Err(bad(
                what,
                format!("lengths differ ({n} and {})", next_sibling.len()),
            ));
        }
        if n == 0 {
            return Tree::from_parents(&[]);
        }
        if next_sibling[0] != -1 {
            return Err(bad(
                what,
                format!(
                    "retrive_next_sibling[0] = {}: the root has no siblings (-1)",
                    next_sibling[0]
                ),
            ));
        }
        let mut parents = vec![i64::MIN; n];
        parents[0] = -1;
        let node = |x: i64, at: &str| -> Result<Option<usize>> {
            if x == -1 {
                Ok(None)
            } else if x <= 0 || x as u64 >= n as u64 {
                Err(bad(
                    what,
                    format!("{at} = {x} is not a node in 1..{n} or -1"),
                ))
            } else {
                Ok(Some(x as usize))
            }
        };
        for (u, &first) in next_token.iter().enumerate() {
            let mut c = node(first, &format!("retrive_next_token[{u}]"))?;
            let mut prev = u;
            while let Some(x) = c {
                if parents[x] != i64::MIN {
                    return Err(bad(what, format!("node {x} is reached twice")));
                }
                if x <= prev {
                    return Err(bad(
                        what,
                        format!("node {x} must come after its parent {u} and its earlier siblings"),
                    ));
                }
                parents[x] = u as i64;
                prev = x;
                c = node(next_sibling[x], &format!("retrive_next_sibling[{x}]"))?;
            }
        }
        if let Some(x) = parents.iter().position(|&p| p == i64::MIN) {
            return Err(bad(what, format!("node {x} is not reached from the root")));
        }
        Tree::from_parents(&parents)
    }

    /// EAGLE's `retrieve_indices`: one row per leaf, the node ids from the root to the leaf,
    /// padded with −1 to depth + 1 entries, the rows in the order EAGLE's `generate_tree_buffers`
    /// gives them (its `custom_sort`: lexicographic, a padding −1 counting as more than every
    /// id).
    pub fn retrieve_indices(&self) -> Vec<Vec<i64>> {
        let width = self.depth() + 1;
        let mut rows: Vec<Vec<i64>> = (0..self.len())
            .filter(|&u| self.is_leaf(u))
            .map(|u| {
                let mut row: Vec<i64> = self.path_to(u).into_iter().map(|x| x as i64).collect();
                row.resize(width, -1);
                row
            })
            .collect();
        let key = |row: &Vec<i64>| -> Vec<i64> {
            row.iter()
                .map(|&x| if x < 0 { i64::MAX } else { x })
                .collect()
        };
        rows.sort_by_key(key);
        rows
    }

    /// The tree of `retrieve_indices` rows (the inverse of [`Tree::retrieve_indices`]): every row
    /// starts at the root, and the rows must agree on every node's parent and cover 0..n.
    pub fn from_retrieve_indices(rows: &[Vec<i64>]) -> Result<Tree> {
        let what = "retrieve_indices";
        let n = rows
            .iter()
            .flatten()
            .copied()
            .max()
            .map_or(0, |m| m.clamp(-1, super::MAX_NODES as i64) + 1) as usize;
        if n == 0 || n > super::MAX_NODES {
            return Err(bad(what, format!("names {n} nodes")));
        }
        let mut parents = vec![i64::MIN; n];
        parents[0] = -1;
        for (r, row) in rows.iter().enumerate() {
            if row.first() != Some(&0) {
                return Err(bad(what, format!("row {r} does not start at the root, 0")));
            }
            let path: Vec<i64> = row.iter().copied().take_while(|&x| x != -1).collect();
            if row[path.len()..].iter().any(|&x| x != -1) {
                return Err(bad(what, format!("row {r}: a node after the padding -1")));
            }
            for w in path.windows(2) {
                let (p, c) = (w[0], w[1]);
                if c <= 0 {
                    return Err(bad(what, format!("row {r}: {c} is not a node")));
                }
                let slot = &mut parents[c as usize];
                if *slot != i64::MIN && *slot != p {
                    return Err(bad(
                        what,
                        format!("node {c} has two parents ({} and {p})", *slot),
                    ));
                }
                *slot = p;
            }
        }
        if let Some(x) = parents.iter().position(|&p| p == i64::MIN) {
            return Err(bad(what, format!("node {x} is on no row")));
        }
        Tree::from_parents(&parents)
    }

    /// The ancestor attention mask: `mask[i][j] = 1` iff j is i or an ancestor of i.
    pub fn attention_mask(&self) -> Vec<Vec<u8>> {
        let n = self.len();
        let mut mask = vec![vec![0u8; n]; n];
        for (i, row) in mask.iter_mut().enumerate() {
            for j in self.path_to(i) {
                row[j] = 1;
            }
        }
        mask
    }

    /// The tree of an ancestor mask (the inverse of [`Tree::attention_mask`]): a node's parent is
    /// its deepest proper ancestor, and the mask must be exactly the ancestor relation.
    pub fn from_attention_mask(mask: &[Vec<u8>]) -> Result<Tree> {
        let what = "attention_mask";
        let n = mask.len();
        if n > super::MAX_NODES {
            return Err(bad(what, format!("{n} rows")));
        }
        let mut parents = Vec::with_capacity(n);
        for (i, row) in mask.iter().enumerate() {
            if row.len() != n {
                return Err(bad(
                    what,
                    format!("row {i} has {} entries, expected {n}", row.len()),
                ));
            }
            if row[i] != 1 {
                return Err(bad(what, format!("mask[{i}][{i}] must be 1")));
            }
            if let Some(j) = (i + 1..n).find(|&j| row[j] != 0) {
                return Err(bad(
                    what,
                    format!(
                        "mask[{i}][{j}] = {}: a node attends only to earlier nodes",
                        row[j]
                    ),
                ));
            }
            // The parent is the latest ancestor (ancestors come first in id order).
            parents.push((0..i).rev().find(|&j| row[j] != 0).map_or(-1, |j| j as i64));
        }
        let tree = Tree::from_parents(&parents)?;
        if tree.attention_mask() != mask {
            return Err(bad(
                what,
                "is not an ancestor relation (a row must hold exactly the node's ancestors)".into(),
            ));
        }
        Ok(tree)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_trees() -> Vec<Tree> {
        let mut v = vec![
            Tree::path(0),
            Tree::path(5),
            Tree::from_parents(&[-1, 0, 0, 1, 2, 1, 0, 3]).unwrap(),
        ];
        let mut state = 7u64;
        for n in [2usize, 9, 30, 64] {
            let parents: Vec<i64> = (0..n)
                .map(|i| {
                    state = state
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    if i == 0 {
                        -1
                    } else {
                        ((state >> 33) % i as u64) as i64
                    }
                })
                .collect();
            v.push(Tree::from_parents(&parents).unwrap());
        }
        v
    }

    #[test]
    fn converters_round_trip() {
        for t in sample_trees() {
            let (nt, ns) = t.next_token_sibling();
            assert_eq!(Tree::from_next_token_sibling(&nt, &ns).unwrap(), t);
            assert_eq!(
                Tree::from_retrieve_indices(&t.retrieve_indices()).unwrap(),
                t
            );
            assert_eq!(Tree::from_attention_mask(&t.attention_mask()).unwrap(), t);
            // A choice list reads back to the tree in EAGLE's numbering: this tree itself when
            // it is in EAGLE's order.
            let eagle = t.renumbered(&t.eagle_order()).unwrap();
            assert!(eagle.in_eagle_order());
            assert_eq!(Tree::from_choices(&t.choices()).unwrap(), eagle);
            assert_eq!(eagle.choices(), t.choices());
            if t.in_eagle_order() {
                assert_eq!(eagle, t);
            }
        }
    }

    #[test]
    fn eagle_order_and_refusals() {
        let t = Tree::from_choices(&[vec![0], vec![0, 0], vec![1], vec![0, 1], vec![2]]).unwrap();
        assert_eq!(t.parents(), &[-1, 0, 0, 0, 1, 1]);
        assert_eq!(t.choices()[3], vec![0, 0]);
        assert!(Tree::from_choices(&[vec![1]]).is_err());
        assert!(Tree::from_choices(&[vec![0, 0]]).is_err());
        assert!(Tree::from_choices(&[vec![0], vec![0]]).is_err());
        assert!(Tree::from_attention_mask(&[vec![1, 0], vec![0, 1]]).is_err());
        assert!(Tree::from_next_token_sibling(&[1, -1], &[-1, 1]).is_err());
        assert!(Tree::from_next_token_sibling(&[1, -1], &[1, -1]).is_err());
        assert!(Tree::from_retrieve_indices(&[vec![0, i64::MAX]]).is_err());
    }
}
