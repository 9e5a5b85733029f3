//! CPU twin of `shaders/block.wgsl`: block verification (SPEC §6) in f32, phase by phase, on the
//! same values and in the same order of operations as the shader, so that the two engines give
//! identical results.
//!
//! Precision policy (the README's "Block verification: precision"):
//! - `P_i` is the f32 nearest to the exact real `min(1, P_{i−1} · p / q)` ([`survival_bits`],
//!   integer long division: WGSL's division is not correctly rounded);
//! - the last threshold is compared exactly: `coin · q < P_{K−1} · p` ([`accepts_scaled`]), so
//!   K = 1 is the token rule bit for bit;
//! - the scaled residual `max(P · t − d, 0)` is an IEEE f32 product, then an IEEE f32 subtraction
//!   (the shader forms both in integers: a GPU may fuse them or flush subnormals);
//! - `R_i` is summed in f32 in one fixed order: [`LANES`] strided partial sums (lane l adds
//!   x = l, l + 256, … ascending), then a pairwise tree over the lanes (l += l + s for
//!   s = 128, 64, …, 1) — the shader's workgroup reduction;
//! - `coin < h_i = R / (R + (1 − P))` is decided without division, as the exact real comparison
//!   `coin · D < R` with `D = fl(R + fl(1 − P))` (and passes when D = 0).

use rayon::prelude::*;

use super::verify::{argmax_zip, or_target, recover, recovery_u64, run_rounds};
use super::{Recovery, RecoveryMode};
use crate::batch::{ChainView, Outcomes};
use crate::exact::{
    ONE_BITS, accepts, accepts_scaled, add_bits, residual_native, sample_index, survival_bits,
};

/// Partial sums of `R_i`: the shader's workgroup size.
pub const LANES: usize = 256;

/// Scratch space of one worker: f32 copies of f64 rows, the survivals, the lanes.
#[derive(Default)]
pub struct Scratch {
    t: Vec<f32>,
    d: Vec<f32>,
    surv: Vec<u32>,
}

/// `max(fl(s · t) − d, 0)` as a non-negative f32 (IEEE product, then IEEE subtraction).
#[inline]
pub fn scaled_residual(s: f32, t: f32, d: f32) -> f32 {
    let prod = s * t.abs();
    let d = d.abs();
    if prod > d { prod - d } else { 0.0 }
}

/// `R` of one row in the shader's order: lanes, then the tree. Returns its f32 bits.
pub fn residual_sum(s: f32, t: &[f32], d: &[f32]) -> u32 {
    let mut lanes = [0.0f32; LANES];
    for (ct, cd) in t.chunks(LANES).zip(d.chunks(LANES)) {
        for ((acc, &x), &y) in lanes.iter_mut().zip(ct).zip(cd) {
            *acc += scaled_residual(s, x, y);
        }
    }
    let mut width = LANES / 2;
    while width > 0 {
        for l in 0..width {
            lanes[l] += lanes[l + width];
        }
        width /= 2;
    }
    lanes[0].to_bits()
}

/// The survivals `P_1..=P_K` of a round, as f32 bits, into `out`.
fn survivals(view: &ChainView, round: usize, out: &mut Vec<u32>) {
    let (k, v) = (view.k, view.v);
    out.clear();
    let mut pr = ONE_BITS;
    for i in 0..k {
        let tok = view.token(round, i) as usize;
        let p = view.target.get_f32((round * (k + 1) + i) * v + tok);
        let q = view.draft.get_f32((round * k + i) * v + tok);
        pr = survival_bits(pr, p.to_bits(), q.to_bits());
        out.push(pr);
    }
}

/// Decides round `round` of a batch whose tokens are in range. Returns (tau, chosen token).
pub fn verify_round_unchecked(
    view: &ChainView,
    round: usize,
    rec: &Recovery,
    buf: &mut Scratch,
) -> (u32, u32) {
    let (k, v) = (view.k, view.v);
    let coin = |i: usize| view.coins.get_f32(round * k + i).to_bits();
    let trow = |i: usize| view.target.slice((round * (k + 1) + i) * v, v);
    let drow = |i: usize| view.draft.slice((round * k + i) * v, v);

    // Phase 1: the survivals (scalars).
    survivals(view, round, &mut buf.surv);
    let surv_at = |surv: &[u32], i: usize| if i == 0 { ONE_BITS } else { surv[i - 1] };

    // Phase 2: tau, scanning from K downward; stop at the first passing coin.
    let mut tau = 0;
    if k > 0 {
        let tok = view.token(round, k - 1) as usize;
        let p = view.target.get_f32((round * (k + 1) + k - 1) * v + tok);
        let q = view.draft.get_f32((round * k + k - 1) * v + tok);
        let s = surv_at(&buf.surv, k - 1);
        if accepts_scaled(coin(k - 1), q.to_bits(), s, p.to_bits()) {
            tau = k;
        }
    }
    if tau < k {
        for i in (1..k).rev() {
            let s = f32::from_bits(buf.surv[i - 1]);
            let t = trow(i).as_f32(&mut buf.t);
            let d = drow(i).as_f32(&mut buf.d);
            let r = residual_sum(s, t, d);
            let den = add_bits(r, residual_native(1.0, s));
            if den == 0 || accepts(coin(i - 1), den, r) {
                tau = i;
                break;
            }
        }
    }

    // Phase 3: the bonus row, or the correction at tau.
    let chosen = if tau == k {
        let t = trow(k).as_f32(&mut buf.t);
        recover(t, None, rec, round as u64, k as u32)
    } else {
        let s = f32::from_bits(surv_at(&buf.surv, tau));
        let t = trow(tau).as_f32(&mut buf.t);
        let d = drow(tau).as_f32(&mut buf.d);
        correction(s, t, d, rec, round as u64, tau as u32)
    };
    (tau as u32, chosen)
}

/// The correction at tau < K from `max(s · t − d, 0)`: argmax or exact sample, then the target
/// row's fallback (the shader's `recover` with the block source).
fn correction(s: f32, t: &[f32], d: &[f32], rec: &Recovery, round: u64, position: u32) -> u32 {
    let chosen = if rec.mode == RecoveryMode::Sample {
        sample_index(
            t.len(),
            |x| scaled_residual(s, t[x], d[x]).to_bits(),
            recovery_u64(rec, round, position, 0),
        )
    } else {
        let (top, idx) = argmax_zip(t, d, |x, y| scaled_residual(s, x, y));
        (top != 0).then_some(idx)
    };
    or_target(chosen, t, rec, round, position)
}

/// Runs every round of a validated batch with block verification, in parallel over rounds.
pub fn run(view: &ChainView, rec: &Recovery) -> Outcomes {
    run_rounds(view, |round, buf: &mut Scratch| {
        verify_round_unchecked(view, round, rec, buf)
    })
}

impl super::CpuChainRule for crate::rule::chain::Block {
    fn run(view: &ChainView, rec: &Recovery) -> Outcomes {
        run(view, rec)
    }

    fn rows_read(view: &ChainView, r: usize) -> (usize, usize) {
        let rec = Recovery::default();
        let (tau, _) = verify_round_unchecked(view, r, &rec, &mut Default::default());
        let tau = tau as usize;
        (tau, if tau == view.k { tau } else { view.k - 1 })
    }

    fn lazy_reads(k: usize, v: usize, accepted: usize) -> (usize, usize) {
        (lazy_bytes(k, v, accepted, 4), rows_read(k, accepted))
    }

    fn survivals(view: &ChainView) -> Vec<f32> {
        survivals_batch(view)
    }
}

/// The rows of V a block round with `tau` accepted reads: the bonus row when tau = K, otherwise
/// the target and draft rows of positions tau..K (the scan from K down to the passing coin,
/// whose rows also give the correction; position 0's when nothing passes).
pub fn rows_read(k: usize, tau: usize) -> usize {
    if tau == k { 1 } else { 2 * (k - tau) }
}

/// Bytes a block round must read: p, q, the token and the coin of every position (the
/// survivals), then [`rows_read`] rows of V.
pub fn lazy_bytes(k: usize, v: usize, tau: usize, item: usize) -> usize {
    k * (2 * item + 8) + rows_read(k, tau) * v * item
}

/// The f32 survivals `P_1..=P_K` of one round, as this engine computes them.
pub fn round_survivals(view: &ChainView, round: usize) -> Vec<f32> {
    let mut bits = Vec::new();
    survivals(view, round, &mut bits);
    bits.into_iter().map(f32::from_bits).collect()
}

/// The f32 survivals `P_1..=P_K` of every round of a batch (row-major `[N, K]`): the terms of
/// block verification's study estimate `Σ_i P_i` (see `src/study/block.rs`).
pub fn survivals_batch(view: &ChainView) -> Vec<f32> {
    let mut out = vec![0.0f32; view.n * view.k];
    out.par_chunks_mut(view.k.max(1))
        .enumerate()
        .for_each_init(Vec::new, |buf, (round, row)| {
            survivals(view, round, buf);
            for (o, &b) in row.iter_mut().zip(buf.iter()) {
                *o = f32::from_bits(b);
            }
        });
    out
}

/// The thresholds `h_1..=h_K` of round `round` as this engine decides them, as f64 ratios of its
/// f32 quantities: `R / D` for i < K (1 when D = 0) and `P_{K−1} · p / q` for K (reads every row;
/// for diagnostics and adversarial coins).
pub fn thresholds(view: &ChainView, round: usize) -> Vec<f64> {
    let (k, v) = (view.k, view.v);
    let mut buf = Scratch::default();
    survivals(view, round, &mut buf.surv);
    (1..=k)
        .map(|i| {
            let s = if i == 1 {
                1.0
            } else {
                f32::from_bits(buf.surv[i - 2])
            };
            if i == k {
                let tok = view.token(round, k - 1) as usize;
                let p = view.target.get_f32((round * (k + 1) + k - 1) * v + tok) as f64;
                let q = view.draft.get_f32((round * k + k - 1) * v + tok) as f64;
                (s as f64 * p / q).min(1.0)
            } else {
                let s = f32::from_bits(buf.surv[i - 1]);
                let t = view
                    .target
                    .slice((round * (k + 1) + i) * v, v)
                    .as_f32(&mut buf.t);
                let d = view.draft.slice((round * k + i) * v, v).as_f32(&mut buf.d);
                let r = residual_sum(s, t, d);
                let den = add_bits(r, residual_native(1.0, s));
                if den == 0 {
                    1.0
                } else {
                    f32::from_bits(r) as f64 / f32::from_bits(den) as f64
                }
            }
        })
        .collect()
}
