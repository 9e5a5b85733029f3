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
        // The thresholds the f32 inputs allow: h at its f64 inputs (P_i, R_i) moved by their
        // worst rounding (P after i roundings, with float32's absolute floor near underflow; R a
        // float32 sum of V terms). Only a coin inside that range is explained: a gap wider than
        // rounding (an engine error) is not.
        let surv = crate::reference::chain::block::survival_f64(&d[..], &t[..], &tokens, v);
        let p = surv[i];
        let eps = F32_SLACK;
        let tiny = f32::MIN_POSITIVE as f64;
        let dp = eps * (i as f64 + 2.0) * p + tiny;
        let range = if i == k {
            // h_K = P_K.
            ((p - dp).max(0.0), (p + dp).min(1.0))
        } else {
            let row = |x: usize| (p * t[i * v + x], d[i * v + x]);
            let rsum: f64 = (0..v).map(|x| (row(x).0 - row(x).1).max(0.0)).sum();
            let scale: f64 = (0..v).map(|x| row(x).0 + row(x).1).sum();
            let dr = eps * (8.0 + v.div_ceil(256) as f64 + i as f64) * scale + tiny * v as f64;
            let h = |r: f64, p: f64| {
                let (r, p) = (r.max(0.0), p.clamp(0.0, 1.0));
                let den = r + (1.0 - p);
                if den <= 0.0 { 1.0 } else { r / den }
            };
            (h(rsum - dr, p - dp), h(rsum + dr, p + dp))
        };
        let within = |c: f64| c >= range.0 && c <= range.1;
        // A survival the engine's float32 flushed to 0 where f64 keeps it (SPEC §6's P_j below
        // 2^-149): the thresholds from there on are float32's range's, not its rounding's.
        let p32 = crate::cpu::block::round_survivals(view, r);
        let flushed = (1..=i).find(|&j| p32[j - 1] == 0.0 && surv[j] > 0.0);
        let class = if within(coin) || within(coin32) {
            DiffClass::CoinBetweenThresholds
        } else if let Some(j) = flushed {
            return (
                DiffClass::SurvivalBelowFloat32,
                format!(
                    "position {i}: P_{j} = {:e} in f64 is 0 in the engine's float32 (below 2^-149); h (f64) {h64:e}, h (f32 engine) {h32:e}",
                    surv[j]
                ),
            );
        } else {
            DiffClass::Unexplained
        };
        (
            class,
            format!(
                "position {i}: coin {coin:e} (f32 {coin32:e}), h (f64) {h64:e}, h (f32 engine) {h32:e}, h within rounding [{:e}, {:e}]",
                range.0, range.1
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

#[cfg(test)]
mod tests {
    use super::*;

    /// One round of K = 2 over V = 4 with the first draft token proposed; its coins set below.
    fn round(coin: f32) -> Batch {
        let mut b = Batch::zeros(1, 2, 4);
        b.draft
            .copy_from_slice(&[0.7, 0.1, 0.1, 0.1, 0.25, 0.25, 0.25, 0.25]);
        b.target.copy_from_slice(&[
            0.4, 0.2, 0.2, 0.2, 0.1, 0.6, 0.2, 0.1, 0.25, 0.25, 0.25, 0.25,
        ]);
        b.tokens.copy_from_slice(&[0, 1]);
        b.coins.copy_from_slice(&[coin, 0.999]);
        b
    }

    fn h1(b: &Batch) -> f64 {
        let view = b.view();
        let d = view.draft_round(0).to_f64_vec();
        let t = view.target_round(0).to_f64_vec();
        crate::reference::chain::block::thresholds_f64(&d, &t, &view.round_tokens(0), 4)[0]
    }

    /// A survival that float32 flushes to 0 (P_2 = 2^-149 · 1e-10) and a tiny q lifts back to 1
    /// in f64 (P_4 = 1): the reference accepts all four drafts, the engines none; classified as
    /// float32's range, not as an engine error.
    #[test]
    fn a_survival_below_float32_is_classified() {
        let tiny = f32::from_bits(1);
        let mut b = Batch::zeros(1, 4, 2);
        b.draft
            .copy_from_slice(&[1.0, 0.0, 1.0, 0.0, tiny, 1.0, tiny, 1.0]);
        b.target
            .copy_from_slice(&[tiny, 1.0, 1e-10, 1.0, 1.0, 0.0, 1.0, 0.0, 0.5, 0.5]);
        b.coins.copy_from_slice(&[0.5; 4]);
        let view = b.view();
        let d = view.draft_round(0).to_f64_vec();
        let t = view.target_round(0).to_f64_vec();
        let reference = crate::reference::decide(
            crate::rule::Rule::Block,
            &d,
            &t,
            &view.round_tokens(0),
            &[0.5f64; 4][..],
            2,
        );
        let engine = crate::cpu::block::run(&view, &Default::default());
        let engine = Outcome {
            num_accepted: engine.num_accepted[0],
            token: engine.tokens[engine.num_accepted[0] as usize] as u32,
        };
        assert_eq!(reference.num_accepted, 4);
        assert_eq!(engine.num_accepted, 0);
        let (class, detail) = classify(&view, 0, reference, engine);
        assert_eq!(class, DiffClass::SurvivalBelowFloat32, "{detail}");
    }

    /// A coin on the threshold explains a difference at that position; a coin far from it (an
    /// engine that decided the position wrongly) does not, whatever the engines computed.
    #[test]
    fn only_a_coin_within_rounding_of_h_explains_a_difference() {
        let b = round(0.5);
        let h = h1(&b);
        assert!(h > 0.05 && h < 0.95, "h_1 = {h}");
        let (reject, accept) = (
            Outcome {
                num_accepted: 0,
                token: 1,
            },
            Outcome {
                num_accepted: 1,
                token: 3,
            },
        );
        let on = round(h as f32);
        let (class, detail) = classify(&on.view(), 0, reject, accept);
        assert_eq!(class, DiffClass::CoinBetweenThresholds, "{detail}");
        for coin in [h * 0.9, (h * 1.1).min(0.999)] {
            let far = round(coin as f32);
            let (class, detail) = classify(&far.view(), 0, reject, accept);
            assert_eq!(class, DiffClass::Unexplained, "coin {coin}: {detail}");
        }
    }
}
