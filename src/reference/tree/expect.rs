//! Exact expectations of the tree rules given the rows (SPEC §7), with the children's tokens
//! random as each rule assumes and the coins uniform: what the studies overlay. Rows are per node
//! (node u's draft row at `u * v` of `d`, its target row at `u * v` of `t`) and do not depend on
//! the tokens drawn.

use crate::reference::Values;

/// The `m` largest entries of `q`, largest first, ties to the lowest id: the children's tokens
/// `greedy` and `target-only` assume (the draft's top-m).
pub fn top_m<V: Values + ?Sized>(q: &V, len: usize, m: usize) -> Vec<usize> {
    let m = m.min(len);
    if m == 0 {
        return vec![];
    }
    if m > 32 {
        // Wide: a selection, then a sort of the m kept (the pass below is O(len · m) at worst).
        let mut idx: Vec<usize> = (0..len).collect();
        let cmp = |a: &usize, b: &usize| q.at(*b).abs().total_cmp(&q.at(*a).abs()).then(a.cmp(b));
        idx.select_nth_unstable_by(m - 1, cmp);
        idx.truncate(m);
        idx.sort_by(cmp);
        return idx;
    }
    // One pass over the row keeping the best m (|q| descending, id ascending) in order: ids come
    // ascending, so an entry enters only if strictly above the worst kept, and goes after the
    // kept entries it ties with.
    let mut best: Vec<(f64, usize)> = Vec::with_capacity(m + 1);
    for x in 0..len {
        let a = q.at(x).abs();
        if best.len() == m && a.total_cmp(&best[m - 1].0) != std::cmp::Ordering::Greater {
            continue;
        }
        let at = best.partition_point(|&(b, _)| b.total_cmp(&a) != std::cmp::Ordering::Less);
        best.insert(at, (a, x));
        best.truncate(m);
    }
    best.into_iter().map(|(_, x)| x).collect()
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
    fn top_m_is_the_sorted_prefix() {
        // Tie-heavy rows against a full sort by (|q| descending, id ascending).
        let mut state = 7u64;
        for len in [1usize, 2, 5, 17, 300] {
            for _ in 0..200 {
                let row: Vec<f32> = (0..len)
                    .map(|_| {
                        state = state
                            .wrapping_mul(6364136223846793005)
                            .wrapping_add(1442695040888963407);
                        ((state >> 60) as f32 - 4.0) * 0.125
                    })
                    .collect();
                let mut all: Vec<usize> = (0..len).collect();
                all.sort_by(|&a, &b| row[b].abs().total_cmp(&row[a].abs()).then(a.cmp(&b)));
                for m in [1, 3, 10, 40, len] {
                    assert_eq!(
                        top_m(&row[..], len, m),
                        all[..m.min(len)].to_vec(),
                        "{row:?} m = {m}"
                    );
                }
            }
        }
    }

    #[test]
    fn top_m_breaks_ties_to_the_lowest_id() {
        assert_eq!(top_m(&[0.25f32, 0.5, 0.25, 0.0][..], 4, 3), vec![1, 0, 2]);
        assert_eq!(top_m(&[0.1f32][..], 1, 3), vec![0]);
    }
}
