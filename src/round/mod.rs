//! One round of speculative decoding as a user gives it: the API ([`speculative_decode`] and its
//! variants), the checks of SPEC §2 (`validate.rs`), the round JSON (`json.rs`) and one tree
//! round (`tree.rs`). The decisions are the f64 references of [`crate::reference`].

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::reference::{Outcome, decide};
use crate::rule::Rule;
pub use json::{FlatRound, RoundInput, parse_round_json, read_round_json};

pub mod json;
pub mod lossy;
pub mod node;
pub mod tree;
mod validate;
pub use validate::{
    check_chain_rows, check_row, check_row_fast, check_rows, check_unread_row, validate_flat,
    validate_flat_rule, validate_tokens_and_coins, vocab_of,
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
