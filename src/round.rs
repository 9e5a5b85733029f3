//! One round of speculative decoding: the exact f64 reference (SPEC §1) and input validation (SPEC §2).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
pub use crate::round_json::{FlatRound, RoundInput, parse_round_json, read_round_json};
use crate::rule::Rule;

/// How far a distribution's sum may be from 1 before it is refused (SPEC §2).
pub const NORMALIZATION_TOLERANCE: f64 = 1e-3;

/// Options that relax the refusals of SPEC §2 where the caller asks for it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RoundOptions {
    /// Skip the check that every distribution sums to 1 (within 1e-3), for raw model dumps.
    pub allow_unnormalized: bool,
    /// Accept K = 0: a plain decode step whose only output is the bonus token.
    pub allow_empty_draft: bool,
}

/// The result of one round, serialised with exactly the seed's JSON keys.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RoundResult {
    /// The accepted draft tokens, then the replacement (at the first rejection) or the bonus token.
    pub accepted_tokens: Vec<u32>,
    /// `accepted_tokens.len()`: the number accepted plus one.
    pub num_generated: usize,
    /// accepted / K, rounded to 4 decimals as Python's `round(x, 4)` does (0 when K = 0).
    pub acceptance_rate: f64,
}

/// The decisions of one round in compact form, shared by the reference and the batch engines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Outcome {
    /// How many drafted tokens were accepted (0..=K).
    pub num_accepted: u32,
    /// The replacement token (when `num_accepted < K`) or the bonus token (when `num_accepted == K`).
    pub token: u32,
}

impl Outcome {
    /// Expands the outcome into the seed's result, given the round's drafted tokens.
    pub fn to_result(self, draft_tokens: &[u32]) -> RoundResult {
        let k = draft_tokens.len();
        let n = self.num_accepted as usize;
        let mut accepted_tokens = draft_tokens[..n].to_vec();
        accepted_tokens.push(self.token);
        RoundResult {
            num_generated: accepted_tokens.len(),
            accepted_tokens,
            acceptance_rate: acceptance_rate(n, k),
        }
    }
}

/// accepted / K rounded like Python's `round(x, 4)`; 0 for K = 0.
pub fn acceptance_rate(accepted: usize, k: usize) -> f64 {
    if k == 0 {
        0.0
    } else {
        python_round4(accepted as f64 / k as f64)
    }
}

/// Rounds `x` to 4 decimal places exactly as Python's `round(x, 4)`: on the exact binary value of
/// `x`, ties to even (1/32 → 0.0312, 3/32 → 0.0938).
///
/// Rust's `{:.4}` formatting is exact and rounds half to even on the exact value, which is what
/// CPython's `round` does; parsing the decimal string back gives the nearest double, as Python does.
pub fn python_round4(x: f64) -> f64 {
    if !x.is_finite() {
        return x;
    }
    format!("{x:.4}").parse().unwrap_or(x)
}

/// A probability or coin value that can be read as f64 (f32 or f64).
pub trait Real: Copy + Send + Sync + 'static {
    /// Widen (exactly) to f64.
    fn to_f64(self) -> f64;
}
impl Real for f32 {
    #[inline]
    fn to_f64(self) -> f64 {
        self as f64
    }
}
impl Real for f64 {
    #[inline]
    fn to_f64(self) -> f64 {
        self
    }
}

/// The argmax of `values`, ties to the lowest index (numpy's `argmax`). `values` must not be empty.
pub fn argmax_f64(values: impl Iterator<Item = f64>) -> usize {
    let mut best = f64::NEG_INFINITY;
    let mut best_i = 0;
    for (i, x) in values.enumerate() {
        if x > best || i == 0 {
            best = x;
            best_i = i;
        }
    }
    best_i
}

/// Probabilities or coins read as f64 wherever they live: a slice of f32 or f64, or a batch's
/// little-endian bytes ([`crate::batch::Floats`]). The one f64 reference reads through this, so
/// `round` and the batch cross-checks run the same code, reading only what the rule needs.
pub trait Values: Sync {
    /// Element `i`, widened exactly to f64.
    fn at(&self, i: usize) -> f64;

    /// Elements `start..start + len`, as f64.
    fn range(&self, start: usize, len: usize) -> impl Iterator<Item = f64> + '_ {
        (start..start + len).map(move |i| self.at(i))
    }
}

impl<P: Real> Values for [P] {
    #[inline]
    fn at(&self, i: usize) -> f64 {
        self[i].to_f64()
    }
}

impl<P: Real> Values for Vec<P> {
    #[inline]
    fn at(&self, i: usize) -> f64 {
        self[i].to_f64()
    }
}

/// The replacement token at a rejected position: the argmax of the residual
/// `max(0, t − d)` (f64) over the row of V at `start`, or of `t` when the residual is zero
/// everywhere.
pub fn replacement_f64<V: Values + ?Sized>(t: &V, d: &V, start: usize, v: usize) -> usize {
    let residual = || {
        t.range(start, v)
            .zip(d.range(start, v))
            .map(|(t, d)| (t - d).max(0.0))
    };
    if residual().all(|r| r == 0.0) {
        argmax_f64(t.range(start, v))
    } else {
        argmax_f64(residual())
    }
}

/// Decides one *valid* round in f64 (SPEC §1), on flat row-major rows: `draft` holds K rows of V,
/// `target` K + 1 rows of V. Only the values the algorithm needs are read.
pub fn decide_f64<V: Values + ?Sized, C: Values + ?Sized>(
    draft: &V,
    target: &V,
    tokens: &[u32],
    coins: &C,
    v: usize,
) -> Outcome {
    let k = tokens.len();
    for (i, &tok) in tokens.iter().enumerate() {
        let tok = tok as usize;
        let p = target.at(i * v + tok);
        let q = draft.at(i * v + tok);
        let a = (p / q).min(1.0);
        let accept = coins.at(i) < a;
        if !accept {
            return Outcome {
                num_accepted: i as u32,
                token: replacement_f64(target, draft, i * v, v) as u32,
            };
        }
    }
    Outcome {
        num_accepted: k as u32,
        token: argmax_f64(target.range(k * v, v)) as u32,
    }
}

/// Decides one *valid* round under `rule` in f64, on flat row-major rows (see [`decide_f64`]):
/// the one f64 reference of every chain rule, used by `round` and by the batch cross-checks.
pub fn decide<V: Values + ?Sized, C: Values + ?Sized>(
    rule: Rule,
    draft: &V,
    target: &V,
    tokens: &[u32],
    coins: &C,
    v: usize,
) -> Outcome {
    match rule {
        Rule::Token => decide_f64(draft, target, tokens, coins, v),
        Rule::Block => crate::block::decide_block_f64(draft, target, tokens, coins, v),
        Rule::Greedy | Rule::TargetOnly | Rule::Rrs | Rule::RrsWor => {
            crate::tree::reference::decide_chain(rule, draft, target, tokens, coins, v)
        }
    }
}

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
    check_rows("draft_probs", draft, v, opts)?;
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

/// Checks every row of `rows` (each of length `v`): finite, non-negative, and (unless opted out)
/// summing to 1 within [`NORMALIZATION_TOLERANCE`].
pub fn check_rows<P: Real>(
    field: &'static str,
    rows: &[P],
    v: usize,
    opts: &RoundOptions,
) -> Result<()> {
    for (dist, row) in rows.chunks_exact(v).enumerate() {
        check_row(field, dist, row, opts)?;
    }
    Ok(())
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

/// One round of speculative decoding, the seed problem (SPEC §1), with the default refusals of
/// SPEC §2 (K ≥ 1, distributions normalised).
///
/// ```
/// let r = specsim::speculative_decode(
///     &[vec![0.5, 0.5]],
///     &[vec![0.9, 0.1], vec![0.3, 0.7]],
///     &[1],
///     &[0.5],
/// ).unwrap();
/// // p/q = 0.1/0.5 = 0.2 <= 0.5: rejected; residual max(0, t - d) = [0.4, 0] → token 0.
/// assert_eq!(r.accepted_tokens, vec![0]);
/// assert_eq!(r.num_generated, 1);
/// assert_eq!(r.acceptance_rate, 0.0);
/// ```
pub fn speculative_decode(
    draft_probs: &[Vec<f64>],
    target_probs: &[Vec<f64>],
    draft_tokens: &[i64],
    random_coins: &[f64],
) -> Result<RoundResult> {
    speculative_decode_with(
        draft_probs,
        target_probs,
        draft_tokens,
        random_coins,
        &RoundOptions::default(),
    )
}

/// [`speculative_decode`] with options: validates every input of SPEC §2 (naming field, position
/// and value in the error) and decides the round in f64.
pub fn speculative_decode_with(
    draft_probs: &[Vec<f64>],
    target_probs: &[Vec<f64>],
    draft_tokens: &[i64],
    random_coins: &[f64],
    opts: &RoundOptions,
) -> Result<RoundResult> {
    speculative_decode_rule(
        draft_probs,
        target_probs,
        draft_tokens,
        random_coins,
        Rule::Token,
        opts,
    )
}

/// One round under any chain rule ([`Rule::Token`], SPEC §1, or [`Rule::Block`], SPEC §6): the
/// same refusals (SPEC §2), the same output keys, decided in f64.
pub fn speculative_decode_rule(
    draft_probs: &[Vec<f64>],
    target_probs: &[Vec<f64>],
    draft_tokens: &[i64],
    random_coins: &[f64],
    rule: Rule,
    opts: &RoundOptions,
) -> Result<RoundResult> {
    let flat = |rows: &[Vec<f64>]| Rows {
        data: rows.concat(),
        lens: rows.iter().map(Vec::len).collect(),
    };
    decode_rows(
        &flat(draft_probs),
        &flat(target_probs),
        draft_tokens,
        random_coins,
        rule,
        opts,
    )
}

/// Distributions stored flat: every row's values in one vector, and each row's length. What the
/// JSON parser builds (memory proportional to the numbers, whatever the row lengths).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Rows {
    /// The values, row after row.
    pub data: Vec<f64>,
    /// The length of each row.
    pub lens: Vec<usize>,
}

/// [`speculative_decode_rule`] on flat rows: the lengths of SPEC §2 checked, then the values,
/// then the round decided in f64.
pub fn decode_rows(
    draft: &Rows,
    target: &Rows,
    draft_tokens: &[i64],
    random_coins: &[f64],
    rule: Rule,
    opts: &RoundOptions,
) -> Result<RoundResult> {
    let (tokens, v) = check_chain_rows(draft, target, draft_tokens, random_coins, rule, opts)?;
    Ok(decide(
        rule,
        &draft.data[..],
        &target.data[..],
        &tokens,
        random_coins,
        v,
    )
    .to_result(&tokens))
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
