//! One pass over a node's rows, at streaming speed: the masked argmax of `greedy`'s and
//! `target-only`'s correction, and `rrs`'s residual pass fused with its sums and argmax. Both
//! read the batch's rows where they lie (no copy) and give the bits of the plain forms in
//! `mod.rs` ([`super::lane_sum`], [`crate::cpu::verify::argmax_target`]); the tests below check
//! that on random and adversarial rows.

use super::{LANES, reduce_lanes, residual};
use crate::cpu::verify::argmax_zip;

/// The lowest index of the largest `|t[x]|` over the x not in `masked` (sorted, ascending;
/// duplicates allowed), or `None` when every such entry is 0: the argmax of the target row with
/// the children's tokens set to 0. One vectorised pass, split at the masked entries.
pub fn argmax_masked(t: &[f32], masked: &[usize]) -> Option<usize> {
    let (mut best, mut best_i) = (0u32, None);
    let mut from = 0usize;
    let mut consider = |from: usize, to: usize| {
        if from < to {
            let (bits, i) = argmax_zip(&t[from..to], &t[from..to], |x, _| x.abs());
            if bits > best {
                (best, best_i) = (bits, Some(from + i));
            }
        }
    };
    for &m in masked {
        if m >= from {
            consider(from, m.min(t.len()));
            from = m + 1;
        }
    }
    consider(from.min(t.len()), t.len());
    best_i
}

/// What one residual pass gives: the f32 sums `N` (of the residual) and `W` (of the draft row
/// without the frozen tokens; 1 unless asked) in [`super::lane_sum`]'s order, and the argmax of
/// the residual (lowest index of the largest entry; 0 unless asked).
pub struct Sums {
    pub n: f32,
    pub w: f32,
    pub argmax: usize,
}

/// The residual `u[y] = max(|t[y]| − fl(c_y · |q[y]|), 0)` with `c_y = a`, except for the tokens
/// of `frozen` (sorted by token, distinct), whose entries keep their own coefficient; its sums
/// and argmax in one pass over the rows (see [`Sums`]). `with_w`: also `W`, the sum of `|q|`
/// without the frozen tokens (`rrs-wor`); `with_argmax`: also the argmax (the last child).
pub fn residual_sums(
    t: &[f32],
    q: &[f32],
    a: f32,
    frozen: &[(usize, f32)],
    with_w: bool,
    with_argmax: bool,
) -> Sums {
    let mut n_lanes = [0.0f32; LANES];
    let mut w_lanes = [0.0f32; LANES];
    let (mut best, mut best_i) = (0.0f32, 0usize);
    let mut f = 0usize;
    let mut u = [0.0f32; LANES];
    for (b, (tb, qb)) in t.chunks(LANES).zip(q.chunks(LANES)).enumerate() {
        let (base, m) = (b * LANES, tb.len().min(qb.len()));
        let frozen_here = f < frozen.len() && frozen[f].0 < base + m;
        if !(with_argmax || frozen_here) {
            // No argmax asked and no frozen token in the block: each entry straight into its
            // lane (the same sums, bit for bit: each lane adds its entries in the same order).
            for ((lane, &tl), &ql) in n_lanes.iter_mut().zip(tb).zip(qb) {
                *lane += residual(tl, a, ql);
            }
            if with_w {
                for (lane, &ql) in w_lanes.iter_mut().zip(qb) {
                    *lane += ql.abs();
                }
            }
            continue;
        }
        let u = &mut u[..m];
        for ((ul, &tl), &ql) in u.iter_mut().zip(tb).zip(qb) {
            *ul = residual(tl, a, ql);
        }
        let first_frozen = f;
        while f < frozen.len() && frozen[f].0 < base + m {
            let (x, c) = frozen[f];
            u[x - base] = residual(tb[x - base], c, qb[x - base]);
            f += 1;
        }
        for (lane, &ul) in n_lanes.iter_mut().zip(u.iter()) {
            *lane += ul;
        }
        if with_w {
            if first_frozen == f {
                for (lane, &ql) in w_lanes.iter_mut().zip(qb) {
                    *lane += ql.abs();
                }
            } else {
                // Adding 0 for a frozen token is leaving its lane as it is.
                let mut wb = [0.0f32; LANES];
                for (wl, &ql) in wb.iter_mut().zip(qb) {
                    *wl = ql.abs();
                }
                for &(x, _) in &frozen[first_frozen..f] {
                    wb[x - base] = 0.0;
                }
                for (lane, &wl) in w_lanes.iter_mut().zip(&wb[..m]) {
                    *lane += wl;
                }
            }
        }
        if with_argmax {
            let (bits, i) = argmax_zip(u, u, |x, _| x);
            let top = f32::from_bits(bits);
            if top > best || b == 0 {
                (best, best_i) = (top, base + i);
            }
        }
    }
    Sums {
        n: reduce_lanes(n_lanes),
        w: if with_w { reduce_lanes(w_lanes) } else { 1.0 },
        argmax: best_i,
    }
}

/// The residual of [`residual_sums`] written into `out` (for a sampled correction).
pub fn residual_row(t: &[f32], q: &[f32], a: f32, frozen: &[(usize, f32)], out: &mut Vec<f32>) {
    out.clear();
    out.extend(t.iter().zip(q).map(|(&t, &q)| residual(t, a, q)));
    for &(x, c) in frozen {
        out[x] = residual(t[x], c, q[x]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::tree::{lane_sum, lane_sum_slice};
    use crate::cpu::verify::argmax_target;
    use rand::{Rng, SeedableRng};

    /// Rows with ties, zeros, subnormals and a few large entries, at lengths around the blocks.
    fn row(rng: &mut rand::rngs::StdRng, v: usize) -> Vec<f32> {
        (0..v)
            .map(|_| match rng.random_range(0..8) {
                0 => 0.0,
                1 => 0.25,
                2 => f32::from_bits(rng.random_range(1..1 << 23)),
                3 => rng.random::<f32>() * 4.0,
                _ => rng.random::<f32>() * 1e-3,
            })
            .collect()
    }

    #[test]
    fn argmax_masked_is_the_argmax_of_the_masked_copy() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for v in [1, 2, 63, 64, 65, 255, 256, 257, 1000] {
            for _ in 0..50 {
                let t = row(&mut rng, v);
                let mut masked: Vec<usize> = (0..rng.random_range(0..4))
                    .map(|_| rng.random_range(0..v))
                    .collect();
                masked.sort_unstable();
                let mut copy: Vec<f32> = t.iter().map(|x| x.abs()).collect();
                for &m in &masked {
                    copy[m] = 0.0;
                }
                let x = argmax_target(&copy) as usize;
                let want = (copy[x] != 0.0).then_some(x);
                assert_eq!(argmax_masked(&t, &masked), want, "v {v} masked {masked:?}");
            }
        }
    }

    #[test]
    fn residual_sums_equal_the_plain_passes() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(8);
        for v in [1, 2, 255, 256, 257, 700, 2048] {
            for _ in 0..40 {
                let (t, q) = (row(&mut rng, v), row(&mut rng, v));
                let a = [0.0, 1.0, 1.5, rng.random::<f32>() * 3.0, f32::INFINITY]
                    [rng.random_range(0..5)];
                let mut frozen: Vec<(usize, f32)> = (0..rng.random_range(0..4))
                    .map(|_| (rng.random_range(0..v), rng.random::<f32>() * 2.0))
                    .collect();
                frozen.sort_unstable_by_key(|f| f.0);
                frozen.dedup_by_key(|f| f.0);
                let mut u = Vec::new();
                residual_row(&t, &q, a, &frozen, &mut u);
                let plain: Vec<f32> = (0..v)
                    .map(|y| match frozen.iter().find(|f| f.0 == y) {
                        Some(&(_, c)) => residual(t[y], c, q[y]),
                        None => residual(t[y], a, q[y]),
                    })
                    .collect();
                assert_eq!(u, plain);
                let s = residual_sums(&t, &q, a, &frozen, true, true);
                assert_eq!(s.n.to_bits(), lane_sum_slice(&plain).to_bits());
                let w = lane_sum(v, |y| {
                    if frozen.iter().any(|f| f.0 == y) {
                        0.0
                    } else {
                        q[y].abs()
                    }
                });
                assert_eq!(s.w.to_bits(), w.to_bits());
                assert_eq!(s.argmax, argmax_target(&plain) as usize);
                let s = residual_sums(&t, &q, a, &frozen, false, false);
                assert_eq!(s.n.to_bits(), lane_sum_slice(&plain).to_bits());
                assert_eq!(s.w, 1.0);
                // rrs-wor before its last child: both sums, no argmax (the fused blocks).
                let s = residual_sums(&t, &q, a, &frozen, true, false);
                assert_eq!(s.n.to_bits(), lane_sum_slice(&plain).to_bits());
                assert_eq!(s.w.to_bits(), w.to_bits());
            }
        }
    }
}
