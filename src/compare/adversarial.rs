//! Adversarial chain batches for `verify --generate` and the engine tests: argmax ties, coins on
//! or one ULP from the thresholds, p = q, one-hot, uniform, subnormal and tiny probabilities.

use rand::{Rng, SeedableRng, rngs::StdRng};
use rayon::prelude::*;

use super::ChainCompare;
use crate::batch::Batch;
use crate::rule::{Rule, match_rule};

/// The kinds of round [`adversarial_batch`] makes, in turn.
pub const SCENARIOS: [&str; 9] = [
    "random",
    "argmax_ties",
    "coin_at_ratio",
    "p_equals_q",
    "one_hot",
    "uniform",
    "subnormal",
    "tiny",
    "near_draft",
];

/// A reproducible adversarial batch of rounds `r0..r0 + n` (each round from its own seed, so
/// any chunk can be made alone): argmax ties, coins within one ULP of p/q, p = q (zero residual),
/// one-hot and uniform distributions, subnormal and tiny probabilities. Every round is valid
/// (normalised within 1e-3, q > 0 at every drafted token).
pub fn adversarial_batch(r0: u64, n: usize, k: usize, v: usize, seed: u64) -> Batch {
    adversarial_batch_rule(r0, n, k, v, seed, Rule::Token)
}

/// [`adversarial_batch`] aimed at a rule ([`ChainCompare::aim_adversarial`]; block's, in
/// `compare/block.rs`, puts the coins of `coin_at_ratio` rounds on its thresholds h_i). The rows
/// are the same for every rule.
pub fn adversarial_batch_rule(
    r0: u64,
    n: usize,
    k: usize,
    v: usize,
    seed: u64,
    rule: Rule,
) -> Batch {
    let mut b = adversarial_rows(r0, n, k, v, seed);
    match_rule!(rule,
        chain R => <R as ChainCompare>::aim_adversarial(&mut b, r0, seed),
        tree => {},
    );
    b
}

fn adversarial_rows(r0: u64, n: usize, k: usize, v: usize, seed: u64) -> Batch {
    let mut b = Batch::zeros(n, k, v);
    b.draft
        .par_chunks_mut((k * v).max(1))
        .zip(b.target.par_chunks_mut((k + 1) * v))
        .zip(b.tokens.par_chunks_mut(k.max(1)))
        .zip(b.coins.par_chunks_mut(k.max(1)))
        .enumerate()
        .for_each(|(i, (((d, t), tok), c))| {
            let round = r0 + i as u64;
            let mut rng = StdRng::seed_from_u64(seed ^ round.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            let scenario = (round % SCENARIOS.len() as u64) as usize;
            make_round(&mut rng, scenario, k, v, d, t, &mut tok[..k], &mut c[..k]);
        });
    b
}

fn normalise(row: &mut [f32]) {
    let s: f64 = row.iter().map(|&x| x as f64).sum();
    if s == 0.0 {
        // Every random weight underflowed (possible for tiny V): make the row uniform.
        row.fill(1.0);
        return normalise(row);
    }
    for x in row.iter_mut() {
        *x = (*x as f64 / s) as f32;
    }
}

/// A row of one kind, normalised.
fn make_row(rng: &mut StdRng, kind: usize, row: &mut [f32]) {
    let v = row.len();
    match kind {
        // ties: values from a tiny set
        1 => row
            .iter_mut()
            .for_each(|x| *x = [1.0, 2.0, 4.0][rng.random_range(0..3)]),
        // one-hot
        4 => {
            row.fill(0.0);
            row[rng.random_range(0..v)] = 1.0;
        }
        // uniform
        5 => row.fill(1.0),
        // subnormal: mass on a few entries, subnormal values elsewhere
        6 => {
            row.iter_mut()
                .for_each(|x| *x = f32::from_bits(rng.random_range(1..0x0080_0000)));
            let w: [f32; 3] = std::array::from_fn(|_| rng.random_range(0.1..1.0));
            let s: f32 = w.iter().sum();
            for wj in w {
                let x = rng.random_range(0..v);
                if row[x] < 1e-30 {
                    row[x] = 0.0;
                }
                row[x] += wj / s;
            }
            return; // the subnormals must survive: normalise only the big entries
        }
        // tiny: a Zipf-like spread over many orders of magnitude
        7 => row
            .iter_mut()
            .for_each(|x| *x = (-rng.random_range(0.0f32..90.0)).exp()),
        _ => row
            .iter_mut()
            .for_each(|x| *x = rng.random::<f32>().powi(3)),
    }
    normalise(row);
}

#[allow(clippy::too_many_arguments)]
fn make_round(
    rng: &mut StdRng,
    scenario: usize,
    k: usize,
    v: usize,
    draft: &mut [f32],
    target: &mut [f32],
    tokens: &mut [u32],
    coins: &mut [f32],
) {
    for row in target.chunks_mut(v) {
        make_row(rng, scenario, row);
    }
    for (i, row) in draft.chunks_mut(v).enumerate() {
        match scenario {
            // p = q everywhere: zero residual, fallback to the target's argmax
            3 => row.copy_from_slice(&target[i * v..(i + 1) * v]),
            // a draft close to the target: tiny residuals, near-ties
            8 => {
                row.copy_from_slice(&target[i * v..(i + 1) * v]);
                for x in row.iter_mut() {
                    *x *= 1.0 + rng.random_range(-1e-3f32..1e-3);
                }
                // Renormalised: a row perturbed by up to 1e-3 could sum beyond the tolerance
                // (at V = 1 it is one value 1 ± 1e-3).
                normalise(row);
            }
            s => make_row(rng, s, row),
        }
    }
    for i in 0..k {
        let row = &draft[i * v..(i + 1) * v];
        // The drafted token: sampled from the draft row (so q > 0).
        let u: f64 = rng.random::<f64>() * row.iter().map(|&x| x as f64).sum::<f64>();
        let mut acc = 0.0;
        let mut tok = row.iter().rposition(|&x| x > 0.0).unwrap_or(0);
        for (x, &q) in row.iter().enumerate() {
            acc += q as f64;
            if q > 0.0 && acc > u {
                tok = x;
                break;
            }
        }
        tokens[i] = tok as u32;
        let p = target[i * v + tok];
        let q = row[tok];
        coins[i] = if scenario == 2 {
            // within one ULP of p/q (as f32), either side, or exactly it
            let ratio = (p / q).min(0.999_999_94);
            let bits = ratio.to_bits() as i64 + rng.random_range(-1i64..=1);
            f32::from_bits(bits.clamp(0, 0x3f7f_ffff) as u32)
        } else {
            rng.random::<f32>()
        };
    }
    // The shapes that make the kernels loop longest: every coin just below 1 (block scans every
    // position, each a pass over its row) or every coin 0 (the whole chain accepted, the bonus
    // row read).
    match rng.random_range(0..8u32) {
        0 => coins.fill(0.999_999_94),
        1 => coins.fill(0.0),
        _ => {}
    }
}
