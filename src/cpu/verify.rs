//! CPU twin of `shaders/verify.wgsl`: the same lazy algorithm, phase by phase, on the same f32
//! values. Where the shader loops over the invocations of a workgroup, this loops over the
//! elements in order; the argmax has a unique answer (largest key, then lowest index), so the
//! order of the reduction cannot change it.
//!
//! Arithmetic: the shader works on bit patterns with the integer helpers of
//! `shaders/exact.wgsl`; this twin uses native IEEE-754 arithmetic ([`accepts_native`],
//! [`residual_native`]), which the tests of `src/exact.rs` prove equal to those helpers.

use rayon::prelude::*;

use crate::batch::{BatchResult, BatchView, Floats};
use crate::exact::{accepts_native, key, residual_native};
use crate::round::Outcome;

/// Elements per block of the CPU argmax: a vectorised block maximum, then a scan of the one block
/// that improves on the best so far. One pass over the row.
const BLOCK: usize = 64;

/// Argmax of `key(i)` for `i` in `0..len` (largest key, then lowest index); `(0, 0)` when empty.
#[inline]
pub fn argmax_blocks(len: usize, key: impl Fn(usize) -> u32) -> (u32, usize) {
    let mut best = 0u32;
    let mut best_i = 0usize;
    let mut keys = [0u32; BLOCK];
    let mut base = 0;
    while base < len {
        let m = BLOCK.min(len - base);
        for (j, slot) in keys[..m].iter_mut().enumerate() {
            *slot = key(base + j);
        }
        let block_max = keys[..m].iter().copied().max().unwrap_or(0);
        if block_max > best || base == 0 {
            best = block_max;
            best_i = base + keys[..m].iter().position(|&x| x == block_max).unwrap_or(0);
        }
        base += m;
    }
    (best, best_i)
}

/// Argmax of a target row (bonus token, or the zero-residual fallback). `argmax_target` in the shader.
pub fn argmax_target(t: &[f32]) -> u32 {
    argmax_blocks(t.len(), |i| key(t[i].to_bits())).1 as u32
}

/// Decides round `round` of a batch whose tokens are in range (no other check is needed for
/// safety; garbage probabilities give a deterministic answer). `bufs` is scratch space for
/// converting f64 rows.
pub fn verify_round_unchecked(view: &BatchView, round: usize, bufs: &mut Vec<f32>) -> Outcome {
    let (k, v) = (view.k, view.v);

    // Phase 1: acceptance decisions; the first rejected position (K if none).
    // (The shader decides all K in parallel and takes the minimum; stopping early is the same.)
    let mut n_acc = k;
    for i in 0..k {
        let tok = view.token(round, i) as usize;
        let p = view.target.get_f32((round * (k + 1) + i) * v + tok);
        let q = view.draft.get_f32((round * k + i) * v + tok);
        if !accepts_native(view.coins.get_f32(round * k + i), q, p) {
            n_acc = i;
            break;
        }
    }

    // Phase 2: the one row that is needed.
    let tbase = (round * (k + 1) + n_acc) * v;
    let mut tbuf = std::mem::take(bufs);
    let t = view.target.slice(tbase, v);
    let t = t.as_f32(&mut tbuf);
    let chosen = if n_acc < k {
        // Residual argmax at the first rejected position.
        let mut dbuf = Vec::new();
        let d = view.draft.slice((round * k + n_acc) * v, v);
        let d = d.as_f32(&mut dbuf);
        let (best, idx) = argmax_blocks(t.len().min(d.len()), |i| residual_native(t[i], d[i]));
        if best == 0 {
            // Zero residual everywhere: fall back to the target's argmax.
            argmax_target(t)
        } else {
            idx as u32
        }
    } else {
        // Bonus token: argmax of target[K].
        argmax_target(t)
    };
    *bufs = tbuf;
    Outcome {
        num_accepted: n_acc as u32,
        token: chosen,
    }
}

/// Phase 3 of the shader: the round's outputs, padded with -1.
fn write_outputs(view: &BatchView, round: usize, o: Outcome, out: &mut [i32]) {
    for (j, slot) in out.iter_mut().enumerate() {
        *slot = match (j as u32).cmp(&o.num_accepted) {
            std::cmp::Ordering::Less => view.token(round, j) as i32,
            std::cmp::Ordering::Equal => o.token as i32,
            std::cmp::Ordering::Greater => -1,
        };
    }
}

/// Runs every round of a validated batch, in parallel over rounds (the current rayon pool).
pub fn run(view: &BatchView) -> BatchResult {
    let mut result = BatchResult::new(view.n, view.k);
    let k1 = view.k + 1;
    result
        .tokens
        .par_chunks_mut(k1)
        .zip(result.num_accepted.par_iter_mut())
        .enumerate()
        .for_each_init(Vec::new, |buf, (round, (out, acc))| {
            let o = verify_round_unchecked(view, round, buf);
            write_outputs(view, round, o, out);
            *acc = o.num_accepted;
        });
    result
}

/// Bytes the lazy algorithm must read for one round with `n_acc` accepted: 2·4·K scalars for the
/// decisions (p and q), K coins and tokens, and one row of V (bonus) or two (residual).
pub fn lazy_bytes(k: usize, v: usize, n_acc: usize, item: usize) -> usize {
    let rows = if n_acc < k { 2 } else { 1 };
    let decisions = (n_acc + usize::from(n_acc < k)).min(k);
    decisions * (2 * item + 4 + 4) + rows * v * item
}

/// Whether `f` holds float32 data (the engines' own type, read in place).
pub fn is_native(f: &Floats) -> bool {
    matches!(f, Floats::F32(_))
}
