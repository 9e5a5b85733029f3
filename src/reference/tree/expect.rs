//! Exact expectations of the tree rules given the rows (SPEC §7), with the children's tokens
//! random as each rule assumes and the coins uniform: what the studies overlay. Rows are per node
//! (node u's draft row at `u * v` of `d`, its target row at `u * v` of `t`) and do not depend on
//! the tokens drawn.

use crate::reference::Values;

/// The `m` largest entries of `q`, largest first, ties to the lowest id: the children's tokens
/// `greedy` and `target-only` assume (the draft's top-m).
pub fn top_m<V: Values + ?Sized>(q: &V, len: usize, m: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..len).collect();
    let m = m.min(len);
    if m == 0 {
        return vec![];
    }
    let cmp = |a: &usize, b: &usize| q.at(*b).abs().total_cmp(&q.at(*a).abs()).then(a.cmp(b));
    idx.select_nth_unstable_by(m - 1, cmp);
    idx.truncate(m);
    idx.sort_by(cmp);
    idx
}

/// The top-k of a draft row as EAGLE-2's growth takes it ([`crate::topology::eagle2`]): (token,
/// q), largest first, ties to the lowest id.
pub fn row_top_k<V: Values + ?Sized>(q: &V, len: usize, k: usize) -> crate::topology::eagle2::TopK {
    top_m(q, len, k)
        .into_iter()
        .map(|x| (x as u32, q.at(x)))
        .collect()
}

pub use super::ENUMERATION_BUDGET;
/// `E[num_generated]` of one round given its rows, under `rule` (each rule's, in
/// `src/reference/tree/`).
pub use super::expected_generated;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_m_breaks_ties_to_the_lowest_id() {
        assert_eq!(top_m(&[0.25f32, 0.5, 0.25, 0.0][..], 4, 3), vec![1, 0, 2]);
        assert_eq!(top_m(&[0.1f32][..], 1, 3), vec![0]);
    }
}
