//! CPU twin of `shaders/verify.wgsl`: the same lazy algorithm, phase by phase, on the same f32
//! values. Where the shader loops over the invocations of a workgroup, this loops over the
//! elements in order; the argmax has a unique answer (largest key, then lowest index) and the
//! sampler works in exact integers, so no reduction order can change a result.
//!
//! Arithmetic: the shader works on bit patterns with the integer helpers of
//! `shaders/shared/exact.wgsl`; this twin uses native IEEE-754 arithmetic ([`accepts_native`],
//! [`residual_native`]), which the tests of `src/exact.rs` prove equal to those helpers.

use rayon::prelude::*;

use crate::batch::{ChainView, Outcomes};
use crate::exact::{accepts_native, key, residual_native, sample_index};
use crate::rng::{random_u64, stream};
use crate::rule::{Recovery, RecoveryMode};

/// Elements per block of the CPU argmax: a vectorised block maximum, then a scan of the one block
/// that improves on the best so far. One pass over the row.
const BLOCK: usize = 64;

/// Argmax of `val(a[i], b[i])` over `i`, where `val` gives a non-negative, non-NaN f32 (largest
/// value, then lowest index); returns (the value's bits, index), `(0, 0)` when empty.
///
/// For non-negative floats, float order is the order of their bits, which the shader compares as
/// u32; comparing floats here lets the block maximum vectorise even on baseline x86-64 (SSE2 has
/// `maxps` but no unsigned 32-bit max). Rust does not flush subnormals, so they compare exactly.
#[inline]
pub fn argmax_zip(a: &[f32], b: &[f32], val: impl Fn(f32, f32) -> f32 + Copy) -> (u32, usize) {
    let mut best = 0.0f32;
    let mut best_i = 0usize;
    for (blk, (ca, cb)) in a.chunks(BLOCK).zip(b.chunks(BLOCK)).enumerate() {
        let block_max = block_max(ca, cb, val);
        if block_max > best || blk == 0 {
            best = block_max;
            let j = ca
                .iter()
                .zip(cb)
                .position(|(&x, &y)| val(x, y) == block_max)
                .unwrap_or(0);
            best_i = blk * BLOCK + j;
        }
    }
    (best.to_bits(), best_i)
}

/// Lanes of the block maximum: independent running maxima that the compiler keeps in vector
/// registers (a single running maximum would be a serial dependency chain).
const LANES: usize = 8;

/// The maximum of `val(a[i], b[i])` over a block (0 when empty).
#[inline]
fn block_max(a: &[f32], b: &[f32], val: impl Fn(f32, f32) -> f32 + Copy) -> f32 {
    let mut acc = [0.0f32; LANES];
    let (a8, b8) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (ra, rb) = (a8.remainder(), b8.remainder());
    for (xa, xb) in a8.zip(b8) {
        for l in 0..LANES {
            let v = val(xa[l], xb[l]);
            acc[l] = if v > acc[l] { v } else { acc[l] };
        }
    }
    for (&x, &y) in ra.iter().zip(rb) {
        let v = val(x, y);
        acc[0] = if v > acc[0] { v } else { acc[0] };
    }
    acc.iter().fold(0.0f32, |m, &v| if v > m { v } else { m })
}

/// The residual `max(0, t − d)` as a non-negative f32 (IEEE subtraction; +0 when t ≤ d). Its bits
/// are [`residual_native`]'s.
#[inline]
pub fn residual_value(t: f32, d: f32) -> f32 {
    if t > d { t - d } else { 0.0 }
}

/// Argmax of a row's keys (bonus token, or the zero-residual fallback). `argmax_row` of
/// `SRC_TARGET` in the shader (which compares `key(bits)`, i.e. |x|).
pub fn argmax_target(t: &[f32]) -> u32 {
    argmax_zip(t, t, |x, _| x.abs()).1 as u32
}

/// `recover` in the shader: the token chosen from the target row `t` (and the draft row `d` when
/// `residual`), by argmax or by an exact integer-domain sample; a zero residual falls back to the
/// target row.
pub(crate) fn recover(
    t: &[f32],
    d: Option<&[f32]>,
    rec: &Recovery,
    round: u64,
    position: u32,
) -> u32 {
    let sample = rec.mode == RecoveryMode::Sample;
    let mut chosen = None;
    if let Some(d) = d {
        let v = t.len().min(d.len());
        chosen = if sample {
            sample_index(
                v,
                |x| residual_native(t[x], d[x]),
                recovery_u64(rec, round, position, 0),
            )
        } else {
            let (top, idx) = argmax_zip(&t[..v], &d[..v], residual_value);
            (top != 0).then_some(idx)
        };
    }
    or_target(chosen, t, rec, round, position)
}

/// The `j`-th 64-bit uniform of the recovery stream of a round and position.
pub(crate) fn recovery_u64(rec: &Recovery, round: u64, position: u32, j: u32) -> u64 {
    let gr = (rec.round_offset + round) as u32;
    random_u64(rec.seed, gr, position, stream::RECOVERY, j)
}

/// The end of `recover`: `chosen` if a residual gave one, otherwise a sample (sample mode) or the
/// argmax of the target row `t`.
pub(crate) fn or_target(
    mut chosen: Option<usize>,
    t: &[f32],
    rec: &Recovery,
    round: u64,
    position: u32,
) -> u32 {
    if chosen.is_none() && rec.mode == RecoveryMode::Sample {
        chosen = sample_index(
            t.len(),
            |x| key(t[x].to_bits()),
            recovery_u64(rec, round, position, 1),
        );
    }
    chosen.map_or_else(|| argmax_target(t), |x| x as u32)
}

/// Phase 1 of the shader: the acceptance decisions of round `round`, the first rejected position
/// (K if none). The shader decides all K in parallel and takes the minimum; stopping early is the
/// same.
pub fn first_rejection(view: &ChainView, round: usize) -> usize {
    let (k, v) = (view.k, view.v);
    for i in 0..k {
        let tok = view.token(round, i) as usize;
        let p = view.target.get_f32((round * (k + 1) + i) * v + tok);
        let q = view.draft.get_f32((round * k + i) * v + tok);
        if !accepts_native(view.coins.get_f32(round * k + i), q, p) {
            return i;
        }
    }
    k
}

/// Decides round `round` of a batch whose tokens are in range (no other check is needed for
/// safety; garbage probabilities give a deterministic answer). `buf` is scratch space for
/// converting f64 rows. Returns (number accepted, chosen token).
pub fn verify_round_unchecked(
    view: &ChainView,
    round: usize,
    rec: &Recovery,
    buf: &mut (Vec<f32>, Vec<f32>),
) -> (u32, u32) {
    // Phase 1: acceptance decisions; the first rejected position (K if none).
    recover_round(view, round, first_rejection(view, round), rec, buf)
}

/// Phases 2 and 3 of round `round`, whose first rejected position `n_acc` is decided: its one row
/// read for the replacement or the bonus. Returns (number accepted, chosen token).
fn recover_round(
    view: &ChainView,
    round: usize,
    n_acc: usize,
    rec: &Recovery,
    buf: &mut (Vec<f32>, Vec<f32>),
) -> (u32, u32) {
    let (k, v) = (view.k, view.v);

    // Phase 2: the one row that is needed: the residual at the first rejected position, or the
    // bonus row target[K].
    let t = view.target.slice((round * (k + 1) + n_acc) * v, v);
    let t = t.as_f32(&mut buf.0);
    let d = (n_acc < k).then(|| view.draft.slice((round * k + n_acc) * v, v));
    let d = d.as_ref().map(|d| d.as_f32(&mut buf.1));
    let chosen = recover(t, d, rec, round as u64, n_acc as u32);
    (n_acc as u32, chosen)
}

/// Phase 3 of the shader: the round's outputs, padded with -1.
pub(crate) fn write_outputs(
    view: &ChainView,
    round: usize,
    n_acc: u32,
    chosen: u32,
    out: &mut [i32],
) {
    for (j, slot) in out.iter_mut().enumerate() {
        *slot = match (j as u32).cmp(&n_acc) {
            std::cmp::Ordering::Less => view.token(round, j) as i32,
            std::cmp::Ordering::Equal => chosen as i32,
            std::cmp::Ordering::Greater => -1,
        };
    }
}

/// Runs every round of a validated batch, in parallel over rounds (the current rayon pool).
pub fn run(view: &ChainView, rec: &Recovery) -> Outcomes {
    run_rounds(view, |round, buf| {
        verify_round_unchecked(view, round, rec, buf)
    })
}

/// [`run`] with `touched` validation in the same pass: each round's tokens, coins, p and q are
/// checked, its acceptance decided, the one row it needs checked and then read for the argmax
/// while in cache. The checks and the first bad round reported (lowest index) are exactly
/// `validate(opts, Validation::Touched)`'s; no result comes out of an invalid batch.
pub fn run_touched(
    view: &ChainView,
    rec: &Recovery,
    opts: &crate::round::RoundOptions,
) -> crate::error::Result<Outcomes> {
    let opts = view.check_batch(opts)?;
    let bad = std::sync::Mutex::new(None::<(usize, crate::error::Error)>);
    let result = run_rounds(view, |round, buf| {
        let checked = view.validate_touched_scalars(round, &opts).and_then(|_| {
            let n_acc = first_rejection(view, round);
            view.validate_touched_rows(round, n_acc, n_acc, &opts)
                .map(|_| n_acc)
        });
        match checked {
            Ok(n_acc) => recover_round(view, round, n_acc, rec, buf),
            Err(e) => {
                let mut slot = bad.lock().unwrap_or_else(|p| p.into_inner());
                if slot.as_ref().is_none_or(|(r, _)| round < *r) {
                    *slot = Some((round, e));
                }
                (0, 0)
            }
        }
    });
    match bad.into_inner().unwrap_or_else(|p| p.into_inner()) {
        Some((r, e)) => Err(e.in_round(r as u64)),
        None => Ok(result),
    }
}

/// Runs `decide` (round → (number accepted, chosen token), with per-worker scratch space) on
/// every round in parallel and writes the outputs, padded with -1: the driver of every rule.
pub(crate) fn run_rounds<S: Default + Send>(
    view: &ChainView,
    decide: impl Fn(usize, &mut S) -> (u32, u32) + Sync,
) -> Outcomes {
    let mut result = Outcomes::chain(view.n, view.k);
    let k1 = view.k + 1;
    result
        .tokens
        .par_chunks_mut(k1)
        .zip(result.num_accepted.par_iter_mut())
        .enumerate()
        .for_each_init(S::default, |buf, (round, (out, acc))| {
            let (n_acc, chosen) = decide(round, buf);
            write_outputs(view, round, n_acc, chosen, out);
            *acc = n_acc;
        });
    result
}

impl super::CpuChainRule for crate::rule::chain::Token {
    fn run(view: &ChainView, rec: &Recovery) -> Outcomes {
        run(view, rec)
    }

    fn rows_read(view: &ChainView, r: usize) -> (usize, usize) {
        let n_acc = first_rejection(view, r);
        (n_acc, n_acc)
    }

    fn run_touched(
        view: &ChainView,
        rec: &Recovery,
        opts: &crate::round::RoundOptions,
    ) -> crate::error::Result<Outcomes> {
        run_touched(view, rec, opts)
    }

    fn lazy_reads(k: usize, v: usize, accepted: usize) -> (usize, usize) {
        (
            lazy_bytes(k, v, accepted, 4),
            if accepted < k { 2 } else { 1 },
        )
    }
}

/// Bytes the lazy algorithm must read for one round with `n_acc` accepted: p, q, the coin and
/// the token for each decision made, and one row of V (bonus) or two (residual).
pub fn lazy_bytes(k: usize, v: usize, n_acc: usize, item: usize) -> usize {
    let rows = if n_acc < k { 2 } else { 1 };
    let decisions = (n_acc + usize::from(n_acc < k)).min(k);
    decisions * (2 * item + 4 + 4) + rows * v * item
}
