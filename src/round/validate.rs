//! Input validation of one round (SPEC §2): lengths, vocabulary, token ids, coins, and every
//! row's values, in a fixed order so the first error is the same whatever the input's size.

use super::{NORMALIZATION_TOLERANCE, RoundOptions, Rows};
use crate::error::{Error, Result};
use crate::reference::Real;
use crate::rule::Rule;

/// Checks the drafted token ids (in `0..V`) and the coins (in `[0, 1)`) of one round, and K = 0
/// unless allowed. Returns the token ids as u32.
pub fn validate_tokens_and_coins<C: Real>(
    tokens: impl ExactSizeIterator<Item = i64>,
    coins: &[C],
    v: usize,
    opts: &RoundOptions,
) -> Result<Vec<u32>> {
    let k = tokens.len();
    if k == 0 && !opts.allow_empty_draft {
        return Err(Error::EmptyDraft);
    }
    let mut ids = Vec::with_capacity(k);
    for (index, value) in tokens.enumerate() {
        if value < 0 || value as u64 >= v as u64 {
            return Err(Error::TokenOutOfRange {
                index,
                value,
                vocab: v,
            });
        }
        ids.push(value as u32);
    }
    for (index, c) in coins.iter().enumerate() {
        let value = c.to_f64();
        if !(0.0..1.0).contains(&value) {
            return Err(Error::CoinOutOfRange { index, value });
        }
    }
    Ok(ids)
}

/// Checks one round laid out flat (K rows of V in `draft`, K + 1 rows in `target`) against SPEC §2,
/// except the lengths, which the caller has checked. Returns the token ids as u32.
pub fn validate_flat<P: Real, C: Real>(
    draft: &[P],
    target: &[P],
    tokens: impl ExactSizeIterator<Item = i64>,
    coins: &[C],
    v: usize,
    opts: &RoundOptions,
) -> Result<Vec<u32>> {
    validate_flat_rule(draft, target, tokens, coins, v, opts, Rule::Token)
}

/// [`validate_flat`] for `rule`: a drafted token of draft probability 0 is refused only by the
/// rules that read the draft probabilities ([`Rule::reads_draft`]).
pub fn validate_flat_rule<P: Real, C: Real>(
    draft: &[P],
    target: &[P],
    tokens: impl ExactSizeIterator<Item = i64>,
    coins: &[C],
    v: usize,
    opts: &RoundOptions,
    rule: Rule,
) -> Result<Vec<u32>> {
    let ids = validate_tokens_and_coins(tokens, coins, v, opts)?;
    if rule.reads_draft() {
        check_rows("draft_probs", draft, v, opts)?;
    } else {
        for (dist, row) in draft.chunks_exact(v).enumerate() {
            check_unread_row("draft_probs", dist, row)?;
        }
    }
    check_rows("target_probs", target, v, opts)?;
    if !rule.reads_draft() {
        return Ok(ids);
    }
    for (index, &tok) in ids.iter().enumerate() {
        if draft[index * v + tok as usize].to_f64() == 0.0 {
            return Err(Error::ZeroDraftProbability {
                index,
                token: tok,
                note: "",
            });
        }
    }
    Ok(ids)
}

/// Checks a row the rule does not read (a draft row under `greedy` or `target-only`): anything
/// finite is accepted (SGLang passes all-zero draft rows to target-only verification); NaN and
/// infinities are refused, since they mean the input is broken.
pub fn check_unread_row<P: Real>(field: &'static str, dist: usize, row: &[P]) -> Result<()> {
    match row.iter().position(|x| !x.to_f64().is_finite()) {
        Some(token) => Err(Error::BadProbability {
            field,
            dist,
            token,
            value: row[token].to_f64(),
        }),
        None => Ok(()),
    }
}

/// Checks every row of `rows` (each of length `v`): finite, non-negative, and (unless opted out)
/// summing to 1 within [`NORMALIZATION_TOLERANCE`].
pub fn check_rows<P: Real>(
    field: &'static str,
    rows: &[P],
    v: usize,
    opts: &RoundOptions,
) -> Result<()> {
    for (dist, row) in rows.chunks_exact(v).enumerate() {
        check_row_fast(field, dist, row, opts)?;
    }
    Ok(())
}

/// [`check_row`] in one vectorisable pass: eight f64 lanes accumulate the sum while every value
/// is tested. The pass only decides when its answer is certain; otherwise (a bad value, a sum
/// outside the tolerance, or a sum within rounding of its edge) [`check_row`] runs, so the outcome
/// and every error's values (the first bad token, the sequential sum) are exactly its.
pub fn check_row_fast<P: Real>(
    field: &'static str,
    dist: usize,
    row: &[P],
    opts: &RoundOptions,
) -> Result<()> {
    let (sum, bad) = P::row_stats(row);
    if bad {
        return check_row(field, dist, row, opts);
    }
    if opts.allow_unnormalized {
        return Ok(());
    }
    // Both sums of n non-negative terms are within n·2^-53 (relative) of the exact one.
    let slack = 4.0 * (row.len() + 64) as f64 * f64::EPSILON * sum;
    let off = (sum - 1.0).abs();
    if off + slack < NORMALIZATION_TOLERANCE {
        Ok(())
    } else {
        check_row(field, dist, row, opts)
    }
}

/// Checks one distribution, `field[dist]`: finite, non-negative, and (unless opted out) summing
/// to 1 within [`NORMALIZATION_TOLERANCE`].
pub fn check_row<P: Real>(
    field: &'static str,
    dist: usize,
    row: &[P],
    opts: &RoundOptions,
) -> Result<()> {
    let mut sum = 0.0f64;
    for (token, x) in row.iter().enumerate() {
        let value = x.to_f64();
        // NaN and infinities are not finite; -0.0 counts as 0.
        if !value.is_finite() || value < 0.0 {
            return Err(Error::BadProbability {
                field,
                dist,
                token,
                value,
            });
        }
        sum += value;
    }
    if !opts.allow_unnormalized && (sum - 1.0).abs() > NORMALIZATION_TOLERANCE {
        return Err(Error::NotNormalized {
            field,
            dist,
            sum,
            tolerance: NORMALIZATION_TOLERANCE,
        });
    }
    Ok(())
}

/// V of a round's rows: the length of `target[0]`, at least 1, and every row's length (draft and
/// target) equal to it.
pub fn vocab_of(draft: &Rows, target: &Rows) -> Result<usize> {
    let v = target.lens.first().copied().unwrap_or(0);
    if v == 0 {
        return Err(Error::EmptyVocabulary {
            field: "target_probs",
        });
    }
    for (field, rows) in [("draft_probs", draft), ("target_probs", target)] {
        for (index, &found) in rows.lens.iter().enumerate() {
            if found != v {
                return Err(Error::VocabMismatch {
                    field,
                    index,
                    found,
                    expected: v,
                    reference: "target_probs[0]",
                });
            }
        }
    }
    Ok(v)
}

/// Checks one chain round on flat rows against SPEC §2 for `rule` (lengths, then values); returns
/// the token ids and V.
pub fn check_chain_rows(
    draft: &Rows,
    target: &Rows,
    draft_tokens: &[i64],
    random_coins: &[f64],
    rule: Rule,
    opts: &RoundOptions,
) -> Result<(Vec<u32>, usize)> {
    let k = draft_tokens.len();
    if k == 0 && !opts.allow_empty_draft {
        return Err(Error::EmptyDraft);
    }
    let len = |field: &'static str, found: usize, expected: usize, why: String| {
        if found == expected {
            Ok(())
        } else {
            Err(Error::Length {
                field,
                expected,
                found,
                why,
            })
        }
    };
    len(
        "draft_probs",
        draft.lens.len(),
        k,
        format!("K = {k}, one per drafted token"),
    )?;
    len(
        "target_probs",
        target.lens.len(),
        k + 1,
        format!("K + 1 = {} for K = {k} drafted tokens", k + 1),
    )?;
    len(
        "random_coins",
        random_coins.len(),
        k,
        format!("K = {k}, one per drafted token"),
    )?;
    let v = vocab_of(draft, target)?;
    let tokens = validate_flat_rule(
        &draft.data,
        &target.data,
        draft_tokens.iter().copied(),
        random_coins,
        v,
        opts,
        rule,
    )?;
    Ok((tokens, v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng, rngs::StdRng};

    /// Rows whose sums sit on, just inside and just outside the tolerance's edges, with refused
    /// values sprinkled in: the one-pass check agrees with `check_row` on every outcome and on
    /// every error's values (first bad token, the sequential sum).
    #[test]
    fn the_fast_check_is_check_row() {
        let mut rng = StdRng::seed_from_u64(11);
        let specials = [
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            -1e-30,
            -0.0,
            0.0,
            1e-45,
            f64::MAX,
        ];
        let mut checked = 0;
        for case in 0..4000 {
            let v = [1, 2, 7, 8, 9, 63, 1000, 32000][case % 8];
            let mut row: Vec<f64> = (0..v).map(|_| rng.random::<f64>()).collect();
            // Scale to a target sum: 1, the edges 1 ± tol (± a few ULPs), or far away.
            let edge = 1.0
                + [0.0, 1.0, -1.0][rng.random_range(0..3)] * NORMALIZATION_TOLERANCE
                + (rng.random_range(-4i32..=4) as f64) * f64::EPSILON;
            let s: f64 = row.iter().sum();
            row.iter_mut().for_each(|x| *x *= edge / s);
            if rng.random_bool(0.2) {
                let at = rng.random_range(0..v);
                row[at] = specials[rng.random_range(0..specials.len())];
            }
            // The f32 row's own f64 sum put on the same target: its last entry absorbs the
            // rounding, so for a long row the sum lands within the fast pass's slack of the edge.
            let mut row32: Vec<f32> = row.iter().map(|&x| x as f32).collect();
            if row32.iter().all(|x| x.is_finite()) {
                let s32: f64 = row32.iter().map(|&x| x as f64).sum();
                let last = row32.len() - 1;
                row32[last] = (row32[last] as f64 + (edge - s32)) as f32;
            }
            for allow_unnormalized in [false, true] {
                let opts = RoundOptions {
                    allow_unnormalized,
                    ..Default::default()
                };
                let slow = check_row("draft_probs", 3, &row, &opts).map_err(|e| e.to_string());
                let fast = check_row_fast("draft_probs", 3, &row, &opts).map_err(|e| e.to_string());
                assert_eq!(fast, slow, "f64 row of {v}, sum target {edge}");
                let slow = check_row("target_probs", 1, &row32, &opts).map_err(|e| e.to_string());
                let fast =
                    check_row_fast("target_probs", 1, &row32, &opts).map_err(|e| e.to_string());
                assert_eq!(fast, slow, "f32 row of {v}, sum target {edge}");
                checked += 1;
            }
        }
        assert_eq!(checked, 8000);
        // The exact path near the edge was taken for f32 rows too: a long row put on 1 + tol
        // is decided by the sequential sum, on whichever side it falls.
        let v = 32000;
        let mut row: Vec<f32> = (0..v).map(|i| 1.0 + (i % 7) as f32).collect();
        let s: f64 = row.iter().map(|&x| x as f64).sum();
        let scale = (1.0 + NORMALIZATION_TOLERANCE) / s;
        row.iter_mut().for_each(|x| *x = (*x as f64 * scale) as f32);
        let s: f64 = row.iter().map(|&x| x as f64).sum();
        row[v - 1] = (row[v - 1] as f64 + (1.0 + NORMALIZATION_TOLERANCE - s)) as f32;
        let (fast_sum, _) = f32::row_stats(&row);
        let off = (fast_sum - 1.0).abs();
        let slack = 4.0 * (v + 64) as f64 * f64::EPSILON * fast_sum;
        assert!(
            off + slack >= NORMALIZATION_TOLERANCE,
            "not at the edge: {off}"
        );
        let opts = RoundOptions::default();
        assert_eq!(
            check_row_fast("draft_probs", 0, &row, &opts).map_err(|e| e.to_string()),
            check_row("draft_probs", 0, &row, &opts).map_err(|e| e.to_string())
        );
    }

    /// The f32 pass refuses exactly the bit patterns `check_row` refuses: -0.0 is fine, any
    /// other negative, infinity or NaN is not.
    #[test]
    fn the_f32_pattern_test_matches_the_float_test() {
        let mut rng = StdRng::seed_from_u64(12);
        let mut patterns: Vec<u32> = (0..100_000).map(|_| rng.random()).collect();
        patterns.extend([
            0,
            0x8000_0000,
            0x8000_0001,
            0x7f7f_ffff,
            0x7f80_0000,
            0x7fc0_0000,
            0xff80_0000,
            0xffff_ffff,
            1,
        ]);
        for b in patterns {
            let x = f32::from_bits(b);
            let refused = !(x.to_f64().is_finite() && x.to_f64() >= 0.0);
            let (_, bad) = f32::row_stats(&[0.5, x, 0.25]);
            assert_eq!(bad, refused, "{b:#x}");
        }
    }
}
