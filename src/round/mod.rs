//! One round of speculative decoding: the exact f64 reference (SPEC §1) and the one-round API;
//! input validation (SPEC §2) is in `validate.rs`.

use serde::{Deserialize, Serialize};

use crate::error::Result;
pub use crate::round_json::{FlatRound, RoundInput, parse_round_json, read_round_json};
use crate::rule::Rule;

mod validate;
pub use validate::{
    check_chain_rows, check_row, check_row_fast, check_rows, validate_flat, validate_flat_rule,
    validate_tokens_and_coins, vocab_of,
};

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

    /// One pass over a row: the f64 sum of its values, accumulated in eight lanes (so the loop
    /// vectorises; not the sequential sum), and whether any value is refused by
    /// [`check_row`] (not finite, or negative; -0.0 counts as 0).
    fn row_stats(row: &[Self]) -> (f64, bool);
}

/// Lanes of [`Real::row_stats`].
const LANES: usize = 8;

impl Real for f32 {
    #[inline]
    fn to_f64(self) -> f64 {
        self as f64
    }

    fn row_stats(row: &[f32]) -> (f64, bool) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2 (checked just above).
            return unsafe { row_stats_f32_avx2(row) };
        }
        row_stats_f32(row)
    }
}

/// [`Real::row_stats`] of f32 values, compiled for AVX2 (one binary runs everywhere: the caller
/// checks the CPU first).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn row_stats_f32_avx2(row: &[f32]) -> (f64, bool) {
    row_stats_f32(row)
}

#[inline(always)]
fn row_stats_f32(row: &[f32]) -> (f64, bool) {
    let mut acc = [0.0f64; LANES];
    // The largest bit pattern per lane, -0.0 counted as +0.0: a value is refused (infinite,
    // NaN, or negative) exactly when its pattern is above f32::MAX's. Integer max, so the loop
    // vectorises.
    let mut top = [0u32; LANES];
    let pattern = |x: f32| {
        let b = x.to_bits();
        if b == 0x8000_0000 { 0 } else { b }
    };
    let chunks = row.chunks_exact(LANES);
    let rest = chunks.remainder();
    for c in chunks {
        for j in 0..LANES {
            top[j] = top[j].max(pattern(c[j]));
            acc[j] += c[j] as f64;
        }
    }
    for (j, &x) in rest.iter().enumerate() {
        top[j] = top[j].max(pattern(x));
        acc[j] += x as f64;
    }
    let top = top.iter().copied().max().unwrap_or(0);
    (acc.iter().sum(), top > f32::MAX.to_bits())
}

impl Real for f64 {
    #[inline]
    fn to_f64(self) -> f64 {
        self
    }

    fn row_stats(row: &[f64]) -> (f64, bool) {
        let mut acc = [0.0f64; LANES];
        let mut bad = [false; LANES];
        let chunks = row.chunks_exact(LANES);
        let rest = chunks.remainder();
        for c in chunks {
            for j in 0..LANES {
                bad[j] |= !(0.0..f64::INFINITY).contains(&c[j]);
                acc[j] += c[j];
            }
        }
        for (j, &x) in rest.iter().enumerate() {
            bad[j] |= !(0.0..f64::INFINITY).contains(&x);
            acc[j] += x;
        }
        (acc.iter().sum(), bad.iter().any(|&b| b))
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
    crate::rule::match_rule!(rule,
        chain R => R::decide(draft, target, tokens, coins, v),
        tree => crate::tree::reference::decide_chain(rule, draft, target, tokens, coins, v),
    )
}

/// A chain rule's f64 reference (its layer's trait; [`decide`] dispatches to it).
pub trait ChainReference: crate::rule::ChainRule {
    /// Decides one *valid* round in f64, on flat row-major rows: `draft` holds K rows of V,
    /// `target` K + 1, `tokens` and `coins` K.
    fn decide<V: Values + ?Sized, C: Values + ?Sized>(
        draft: &V,
        target: &V,
        tokens: &[u32],
        coins: &C,
        v: usize,
    ) -> Outcome;
}

impl ChainReference for crate::rule::chain::Token {
    fn decide<V: Values + ?Sized, C: Values + ?Sized>(
        draft: &V,
        target: &V,
        tokens: &[u32],
        coins: &C,
        v: usize,
    ) -> Outcome {
        decide_f64(draft, target, tokens, coins, v)
    }
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
