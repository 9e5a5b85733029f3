//! Block verification's cross-check (SPEC §6): a difference with the f64 reference explained by
//! its thresholds h_i, and adversarial coins on them.

use rand::{Rng, SeedableRng, rngs::StdRng};
use rayon::prelude::*;

use super::adversarial::SCENARIOS;
use super::{ChainCompare, DiffClass, F32_SLACK, close};
use crate::batch::{Batch, ChainView};
use crate::reference::Outcome;
use crate::rule::chain::Block;

/// The index of the `coin_at_ratio` scenario in [`SCENARIOS`].
const COIN_AT_RATIO: u64 = 2;

impl ChainCompare for Block {
    fn classify(view: &ChainView, r: usize, e: Outcome, f: Outcome) -> (DiffClass, String) {
        classify(view, r, e, f)
    }

    /// The `coin_at_ratio` rounds put every coin within one ULP of the engine's own threshold
    /// h_i (or exactly on it); the `p_equals_q` rounds already have P_i = 1 with R_i = 0 (a zero
    /// denominator, h_i = 1).
    fn aim_adversarial(b: &mut Batch, r0: u64, seed: u64) {
        debug_assert_eq!(SCENARIOS[COIN_AT_RATIO as usize], "coin_at_ratio");
        let (n, k) = (b.n, b.k);
        if k == 0 {
            return;
        }
        let coin_rounds: Vec<usize> = (0..n)
            .filter(|&i| (r0 + i as u64) % SCENARIOS.len() as u64 == COIN_AT_RATIO)
            .collect();
        let coins: Vec<(usize, Vec<f32>)> = {
            let view = b.view();
            coin_rounds
                .par_iter()
                .map(|&i| {
                    let round = r0 + i as u64;
                    let mut rng =
                        StdRng::seed_from_u64(seed ^ round.wrapping_mul(0x2545_F491_4F6C_DD1D));
                    let hs = crate::cpu::block::thresholds(&view, i);
                    let coins = hs
                        .iter()
                        .map(|&h| {
                            let h = (h as f32).min(0.999_999_94);
                            let bits = h.to_bits() as i64 + rng.random_range(-1i64..=1);
                            f32::from_bits(bits.clamp(0, 0x3f7f_ffff) as u32)
                        })
                        .collect();
                    (i, coins)
                })
                .collect()
        };
        for (i, c) in coins {
            b.coins[i * k..(i + 1) * k].copy_from_slice(&c);
        }
    }
}

/// Classifies a difference between a block-verification engine and the f64 reference.
fn classify(view: &ChainView, r: usize, e: Outcome, f: Outcome) -> (DiffClass, String) {
    let (k, v) = (view.k, view.v);
    let d = view.draft_round(r).to_f64_vec();
    let t = view.target_round(r).to_f64_vec();
    let tokens = view.round_tokens(r);
    let (class, detail) = if e.num_accepted != f.num_accepted {
        // The larger tau is the position whose test the two precisions decide differently.
        let i = e.num_accepted.max(f.num_accepted) as usize;
        let h64 = crate::reference::chain::block::thresholds_f64(&d[..], &t[..], &tokens, v)[i - 1];
        let h32 = crate::cpu::block::thresholds(view, r)[i - 1];
        let coin = view.coins.get_f64(r * k + i - 1);
        let coin32 = view.coins.get_f32(r * k + i - 1) as f64;
        let (lo, hi) = (h64.min(h32), h64.max(h32));
        let slack = F32_SLACK * hi;
        let between = |c: f64| c >= lo - slack && c <= hi + slack;
        let class = if between(coin) || between(coin32) {
            DiffClass::CoinBetweenThresholds
        } else {
            DiffClass::Unexplained
        };
        (
            class,
            format!(
                "position {i}: coin {coin:e} (f32 {coin32:e}), h (f64) {h64:e}, h (f32 engine) {h32:e}"
            ),
        )
    } else {
        let tau = e.num_accepted as usize;
        let (a, b) = (e.token as usize, f.token as usize);
        if tau == k {
            let tr = |x: usize| t[k * v + x];
            let class = if close(tr(a), tr(b)) {
                DiffClass::BonusNearTie
            } else {
                DiffClass::Unexplained
            };
            (
                class,
                format!(
                    "bonus: target[{a}] = {:e}, target[{b}] = {:e}",
                    tr(a),
                    tr(b)
                ),
            )
        } else {
            let surv =
                crate::reference::chain::block::survival_f64(&d[..], &t[..], &tokens, v)[tau];
            let scaled = |x: usize| surv * t[tau * v + x];
            let res = |x: usize| (scaled(x) - d[tau * v + x]).max(0.0);
            // P_tau carries up to K roundings; P·t − d loses its relative precision to
            // cancellation, so the slack is relative to P·t.
            let slack = F32_SLACK * (k as f64 + 2.0) * scaled(a).max(scaled(b));
            let class = if (res(a) - res(b)).abs() <= slack {
                DiffClass::ResidualNearTie
            } else if res(a) <= slack || res(b) <= slack {
                DiffClass::ZeroResidualUnderRounding
            } else {
                DiffClass::Unexplained
            };
            (
                class,
                format!(
                    "position {tau}: P = {surv:e}, residual[{a}] = {:e}, residual[{b}] = {:e} (f64)",
                    res(a),
                    res(b)
                ),
            )
        }
    };
    (class, detail)
}
