//! Block verification (SPEC §6; Sun, Mendlovic, Leviathan, Aharoni, Ro, Beirami, Suresh, 2025):
//! the f64 reference, and its exact expectations.
//!
//! With `p_i = target[i][tok_i]` and `q_i = draft[i][tok_i]`: `P_0 = 1`,
//! `P_i = min(1, P_{i-1} · (p_{i-1} / q_{i-1}))`; for `i < K`
//! `R_i = Σ_x max(P_i · target[i][x] − draft[i][x], 0)` (ascending x) and
//! `h_i = R_i / (R_i + (1 − P_i))` (1 when that denominator is 0); `h_K = P_K`. tau is the largest
//! i with `coin[i − 1] < h_i` (0 if none); the output is the first tau drafts, then the bonus
//! (tau = K) or the correction `argmax_x max(P_tau · target[tau][x] − draft[tau][x], 0)`.

use crate::reference::{Outcome, Values, argmax_f64};

/// `P_0..=P_K` of a round (f64, in the order of operations of SPEC §6): `P[i]` is the running
/// probability that the first i drafts survive.
pub fn survival_f64<V: Values + ?Sized>(
    draft: &V,
    target: &V,
    tokens: &[u32],
    v: usize,
) -> Vec<f64> {
    let mut out = Vec::with_capacity(tokens.len() + 1);
    let mut p_run = 1.0f64;
    out.push(p_run);
    for (i, &tok) in tokens.iter().enumerate() {
        let p = target.at(i * v + tok as usize);
        let q = draft.at(i * v + tok as usize);
        p_run = next_survival(p_run, p, q);
        out.push(p_run);
    }
    out
}

/// `min(1, P · (p / q))`, in that order of operations; a survival of 0 stays 0 (where `p / q`
/// overflows to infinity, `0 · inf` would be NaN: the spec's "P_{i-1} = 0" means no draft
/// survives, whatever follows).
pub fn next_survival(p_run: f64, p: f64, q: f64) -> f64 {
    if p_run == 0.0 {
        0.0
    } else {
        (p_run * (p / q)).min(1.0)
    }
}

/// The scaled residual `max(P · t[x] − d[x], 0)` of the row of V at `start`, entry by entry.
fn scaled_residual<'a, V: Values + ?Sized>(
    scale: f64,
    t: &'a V,
    d: &'a V,
    start: usize,
    v: usize,
) -> impl Iterator<Item = f64> + 'a {
    t.range(start, v)
        .zip(d.range(start, v))
        .map(move |(t, d)| (scale * t - d).max(0.0))
}

/// `h_i` for `1 <= i < K` from the rows of V at `start`: `R_i / (R_i + (1 − P_i))`, 1 when the
/// denominator is 0, with `R_i` summed in ascending x.
pub fn h_f64<V: Values + ?Sized>(p_i: f64, t: &V, d: &V, start: usize, v: usize) -> f64 {
    let r: f64 = scaled_residual(p_i, t, d, start, v).fold(0.0, |s, x| s + x);
    let den = r + (1.0 - p_i);
    if den == 0.0 { 1.0 } else { r / den }
}

/// Every threshold `h_1..=h_K` of a round (reads every row; for cross-checks and diagnostics).
pub fn thresholds_f64<V: Values + ?Sized>(
    draft: &V,
    target: &V,
    tokens: &[u32],
    v: usize,
) -> Vec<f64> {
    let k = tokens.len();
    let surv = survival_f64(draft, target, tokens, v);
    (1..=k)
        .map(|i| {
            if i == k {
                surv[k]
            } else {
                h_f64(surv[i], target, draft, i * v, v)
            }
        })
        .collect()
}

/// The correction at tau < K from the rows of V at `start`: the argmax of `max(P_tau · t − d, 0)`
/// (ties to the lowest id), or the argmax of `t` when that is zero everywhere.
pub fn correction_f64<V: Values + ?Sized>(
    p_tau: f64,
    t: &V,
    d: &V,
    start: usize,
    v: usize,
) -> usize {
    if scaled_residual(p_tau, t, d, start, v).all(|x| x == 0.0) {
        argmax_f64(t.range(start, v))
    } else {
        argmax_f64(scaled_residual(p_tau, t, d, start, v))
    }
}

impl crate::reference::ChainReference for crate::rule::chain::Block {
    fn decide<V: Values + ?Sized, C: Values + ?Sized>(
        draft: &V,
        target: &V,
        tokens: &[u32],
        coins: &C,
        v: usize,
    ) -> Outcome {
        decide_block_f64(draft, target, tokens, coins, v)
    }
}

/// Decides one *valid* round with block verification in f64 (SPEC §6), on flat row-major rows:
/// `draft` holds K rows of V, `target` K + 1. Scans from position K downward and stops at the
/// first passing coin, so only rows tau..K are read.
pub fn decide_block_f64<V: Values + ?Sized, C: Values + ?Sized>(
    draft: &V,
    target: &V,
    tokens: &[u32],
    coins: &C,
    v: usize,
) -> Outcome {
    let k = tokens.len();
    let surv = survival_f64(draft, target, tokens, v);
    let tau = if k > 0 && coins.at(k - 1) < surv[k] {
        k
    } else {
        (1..k)
            .rev()
            .find(|&i| coins.at(i - 1) < h_f64(surv[i], target, draft, i * v, v))
            .unwrap_or(0)
    };
    let token = if tau == k {
        argmax_f64(target.range(k * v, v))
    } else {
        correction_f64(surv[tau], target, draft, tau * v, v)
    };
    Outcome {
        num_accepted: tau as u32,
        token: token as u32,
    }
}

/// The exact expected number of accepted drafts of block verification given the rows, by
/// enumerating every drafted sequence (token `i` drawn from draft row `i`):
/// `E[tau] = Σ_i E[P_i]` (SPEC §6). `None` when V^K exceeds `max_sequences`.
pub fn expected_accepted_block<V: Values + ?Sized>(
    draft: &V,
    target: &V,
    k: usize,
    v: usize,
    max_sequences: u64,
) -> Option<f64> {
    Some(
        expected_survivals(draft, target, k, v, max_sequences)?
            .iter()
            .sum(),
    )
}

/// `E[P_1], …, E[P_K]` over the drafted sequences (token `i` drawn from draft row `i`), by
/// enumeration; `E[tau]` at any K' ≤ K is the sum of the first K' (P_i does not depend on K).
/// `None` when V^K exceeds `max_sequences`.
pub fn expected_survivals<V: Values + ?Sized>(
    draft: &V,
    target: &V,
    k: usize,
    v: usize,
    max_sequences: u64,
) -> Option<Vec<f64>> {
    let count = (v as u64).checked_pow(k as u32)?;
    if count > max_sequences {
        return None;
    }
    // Depth-first over prefixes: (probability of the prefix, P after it).
    #[allow(clippy::too_many_arguments)]
    fn walk<V: Values + ?Sized>(
        draft: &V,
        target: &V,
        v: usize,
        i: usize,
        k: usize,
        prob: f64,
        p_run: f64,
        out: &mut [f64],
    ) {
        if i == k || prob == 0.0 {
            return;
        }
        for x in 0..v {
            let q = draft.at(i * v + x);
            if q == 0.0 {
                continue;
            }
            let p = target.at(i * v + x);
            let next = next_survival(p_run, p, q);
            out[i] += prob * q * next;
            walk(draft, target, v, i + 1, k, prob * q, next, out);
        }
    }
    let mut out = vec![0.0; k];
    walk(draft, target, v, 0, k, 1.0, 1.0, &mut out);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_papers_example_gives_eleven_ninths() {
        // V = 2, p = (1/3, 2/3), q = (2/3, 1/3), K = 2.
        let p = [1.0 / 3.0, 2.0 / 3.0];
        let q = [2.0 / 3.0, 1.0 / 3.0];
        let draft: Vec<f64> = [q, q].concat();
        let target: Vec<f64> = [p, p, p].concat();
        let e = expected_accepted_block(&draft[..], &target[..], 2, 2, 100).unwrap();
        assert!((e - 11.0 / 9.0).abs() < 1e-12, "{e}");
    }

    #[test]
    fn k_one_is_the_token_rule() {
        let draft = [0.6, 0.4];
        let target = [0.3, 0.7, 0.5, 0.5];
        for coin in [0.0, 0.2, 0.49, 0.5, 0.51, 0.99] {
            let b = decide_block_f64(&draft[..], &target[..], &[0], &[coin][..], 2);
            let t = crate::reference::decide_f64(&draft[..], &target[..], &[0], &[coin][..], 2);
            assert_eq!(b, t, "coin {coin}");
        }
    }
}
