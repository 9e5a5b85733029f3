//! Batches of N rounds (SPEC §3): views over row-major data, validation, and results.
//!
//! A batch is `draft [N, K, V]`, `target [N, K + 1, V]`, `tokens [N, K]` and `coins [N, K]`. The
//! data may live in memory or in memory-mapped `.npy` files, as f32 or f64 (little-endian bytes,
//! any alignment), with tokens as i32, i64 or u32. Nothing is copied to read a batch: the engines
//! read the values they need straight from the bytes.

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::round::{Outcome, RoundOptions, check_rows, validate_flat, validate_tokens_and_coins};
use crate::rule::Rule;

/// Little-endian floating-point data of a known type, as raw bytes (any alignment).
#[derive(Clone, Copy, Debug)]
pub enum Floats<'a> {
    /// float32 values.
    F32(&'a [u8]),
    /// float64 values.
    F64(&'a [u8]),
}

impl<'a> Floats<'a> {
    /// Bytes per element.
    pub fn item_size(&self) -> usize {
        match self {
            Floats::F32(_) => 4,
            Floats::F64(_) => 8,
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            Floats::F32(b) => b.len() / 4,
            Floats::F64(b) => b.len() / 8,
        }
    }

    /// True when there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Elements `start..start + len`.
    pub fn slice(&self, start: usize, len: usize) -> Floats<'a> {
        match *self {
            Floats::F32(b) => Floats::F32(&b[start * 4..(start + len) * 4]),
            Floats::F64(b) => Floats::F64(&b[start * 8..(start + len) * 8]),
        }
    }

    /// Element `i` as given (f64 for either type).
    #[inline]
    pub fn get_f64(&self, i: usize) -> f64 {
        match self {
            Floats::F32(b) => f32::from_le_bytes(b[i * 4..i * 4 + 4].try_into().unwrap()) as f64,
            Floats::F64(b) => f64::from_le_bytes(b[i * 8..i * 8 + 8].try_into().unwrap()),
        }
    }

    /// Element `i` as the f32 the batch engines compute with (f64 input is rounded to nearest).
    #[inline]
    pub fn get_f32(&self, i: usize) -> f32 {
        match self {
            Floats::F32(b) => f32::from_le_bytes(b[i * 4..i * 4 + 4].try_into().unwrap()),
            Floats::F64(b) => f64::from_le_bytes(b[i * 8..i * 8 + 8].try_into().unwrap()) as f32,
        }
    }

    /// The elements as an `&[f32]`: borrowed when the data is f32 and 4-byte aligned, otherwise
    /// converted into `buf`.
    pub fn as_f32<'b>(&self, buf: &'b mut Vec<f32>) -> &'b [f32]
    where
        'a: 'b,
    {
        if let Floats::F32(b) = self
            && let Ok(s) = bytemuck::try_cast_slice::<u8, f32>(b)
        {
            return s;
        }
        buf.clear();
        buf.extend((0..self.len()).map(|i| self.get_f32(i)));
        buf
    }

    /// The elements as f64 (a copy; used by the reference on single rounds).
    pub fn to_f64_vec(&self) -> Vec<f64> {
        (0..self.len()).map(|i| self.get_f64(i)).collect()
    }
}

/// Little-endian integer token ids, as raw bytes (any alignment).
#[derive(Clone, Copy, Debug)]
pub enum Ints<'a> {
    /// int32 ids.
    I32(&'a [u8]),
    /// int64 ids.
    I64(&'a [u8]),
    /// uint32 ids.
    U32(&'a [u8]),
}

impl Ints<'_> {
    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            Ints::I32(b) | Ints::U32(b) => b.len() / 4,
            Ints::I64(b) => b.len() / 8,
        }
    }

    /// Whether there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Element `i` widened to i64.
    #[inline]
    pub fn get(&self, i: usize) -> i64 {
        match self {
            Ints::I32(b) => i32::from_le_bytes(b[i * 4..i * 4 + 4].try_into().unwrap()) as i64,
            Ints::I64(b) => i64::from_le_bytes(b[i * 8..i * 8 + 8].try_into().unwrap()),
            Ints::U32(b) => u32::from_le_bytes(b[i * 4..i * 4 + 4].try_into().unwrap()) as i64,
        }
    }
}

/// A read-only view of a batch of N rounds with one K and one V.
#[derive(Clone, Copy, Debug)]
pub struct BatchView<'a> {
    /// Rounds.
    pub n: usize,
    /// Drafted tokens per round.
    pub k: usize,
    /// Vocabulary size.
    pub v: usize,
    /// `[N, K, V]` draft probabilities.
    pub draft: Floats<'a>,
    /// `[N, K + 1, V]` target probabilities.
    pub target: Floats<'a>,
    /// `[N, K]` drafted token ids.
    pub tokens: Ints<'a>,
    /// `[N, K]` coins.
    pub coins: Floats<'a>,
}

/// Which positions' rows a round reads, `(first, last)` (the draft row of position K does not
/// exist): given by the engine layer, which knows each rule's decisions.
pub type RowsRead = dyn Fn(&BatchView, usize) -> (usize, usize) + Sync;

/// How much of a batch to validate before running it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Validation {
    /// Every value of every round (SPEC §2). Reads the whole batch.
    #[default]
    Full,
    /// Only what the algorithm reads: tokens, coins, the drafted p and q, and the one row each
    /// round needs. Keeps `run` on memory-mapped files from touching rows it does not need.
    Touched,
}

impl<'a> BatchView<'a> {
    /// Checks that the arrays hold N·K·V, N·(K+1)·V, N·K and N·K elements.
    pub fn check_shapes(&self) -> Result<()> {
        let (n, k, v) = (self.n, self.k, self.v);
        let want = [
            ("draft_probs", self.draft.len(), n * k * v),
            ("target_probs", self.target.len(), n * (k + 1) * v),
            ("random_coins", self.coins.len(), n * k),
        ];
        for (field, found, expected) in want {
            if found != expected {
                return Err(Error::Length {
                    field,
                    expected,
                    found,
                    why: format!("N = {n}, K = {k}, V = {v}"),
                });
            }
        }
        if v == 0 {
            return Err(Error::EmptyVocabulary {
                field: "target_probs",
            });
        }
        Ok(())
    }

    /// The draft rows of round `r` (K·V values).
    pub fn draft_round(&self, r: usize) -> Floats<'a> {
        self.draft.slice(r * self.k * self.v, self.k * self.v)
    }

    /// The target rows of round `r` ((K + 1)·V values).
    pub fn target_round(&self, r: usize) -> Floats<'a> {
        self.target
            .slice(r * (self.k + 1) * self.v, (self.k + 1) * self.v)
    }

    /// Token `i` of round `r`, unchecked (as i64).
    #[inline]
    pub fn token(&self, r: usize, i: usize) -> i64 {
        self.tokens.get(r * self.k + i)
    }

    /// The tokens of round `r` as u32 (call on validated batches only).
    pub fn round_tokens(&self, r: usize) -> Vec<u32> {
        (0..self.k).map(|i| self.token(r, i) as u32).collect()
    }

    /// Validates every round (in parallel) per SPEC §2, plus what the f32 engines need: no value
    /// that overflows f32, and no drafted q that becomes 0 when rounded to f32. The first bad
    /// round (lowest index) is named in the error. With [`Validation::Touched`], `rows_read(view,
    /// r)` gives the positions `(first, last)` whose rows round r reads (the engines know: see
    /// `BatchView::validate_rule` in `src/cpu/mod.rs`); [`Validation::Full`] never calls it.
    pub fn validate_reading(
        &self,
        opts: &RoundOptions,
        mode: Validation,
        rows_read: &RowsRead,
    ) -> Result<()> {
        self.check_shapes()?;
        if self.k == 0 && !opts.allow_empty_draft {
            return Err(Error::EmptyDraft);
        }
        let opts = RoundOptions {
            allow_empty_draft: true, // K = 0 was decided above
            ..*opts
        };
        let first_bad = (0..self.n)
            .into_par_iter()
            .filter_map(|r| {
                self.validate_round(r, &opts, mode, rows_read)
                    .err()
                    .map(|e| (r, e))
            })
            .min_by_key(|(r, _)| *r);
        match first_bad {
            Some((r, e)) => Err(e.in_round(r as u64)),
            None => Ok(()),
        }
    }

    fn validate_round(
        &self,
        r: usize,
        opts: &RoundOptions,
        mode: Validation,
        rows_read: &RowsRead,
    ) -> Result<()> {
        let (k, v) = (self.k, self.v);
        let draft = self.draft_round(r);
        let target = self.target_round(r);
        let coins = self.coins.slice(r * k, k).to_f64_vec();
        let tokens = (0..k).map(|i| self.token(r, i));
        if mode == Validation::Full {
            // First, so that a value float32 cannot hold is named as such (its row's sum would
            // otherwise be reported first).
            for (field, rows) in [("draft_probs", draft), ("target_probs", target)] {
                check_f32_range(field, rows, 0, v)?;
            }
        }
        let ids = match mode {
            Validation::Full => match (draft, target) {
                // float32 rows are checked in place (widened exactly as they are read).
                (Floats::F32(_), Floats::F32(_)) => {
                    let (mut bd, mut bt) = (Vec::new(), Vec::new());
                    let d = draft.as_f32(&mut bd);
                    let t = target.as_f32(&mut bt);
                    validate_flat(d, t, tokens, &coins, v, opts)?
                }
                _ => {
                    let d = draft.to_f64_vec();
                    let t = target.to_f64_vec();
                    validate_flat(&d, &t, tokens, &coins, v, opts)?
                }
            },
            Validation::Touched => {
                // Tokens, coins and the drafted p and q only; the needed row is checked below.
                let ids = validate_tokens_and_coins(tokens, &coins, v, opts)?;
                for (i, &tok) in ids.iter().enumerate() {
                    for (field, x) in [
                        ("draft_probs", draft.get_f64(i * v + tok as usize)),
                        ("target_probs", target.get_f64(i * v + tok as usize)),
                    ] {
                        if !x.is_finite() || x < 0.0 {
                            return Err(Error::BadProbability {
                                field,
                                dist: i,
                                token: tok as usize,
                                value: x,
                            });
                        }
                    }
                    if draft.get_f64(i * v + tok as usize) == 0.0 {
                        return Err(Error::ZeroDraftProbability {
                            index: i,
                            token: tok,
                            note: "",
                        });
                    }
                }
                ids
            }
        };
        // What the f32 engines need beyond SPEC §2: coins below 1 in float32, no value that
        // overflows float32, no drafted q that becomes 0 in float32.
        for (i, &value) in coins.iter().enumerate() {
            if self.coins.get_f32(r * k + i) >= 1.0 {
                return Err(Error::CoinRoundsToOne { index: i, value });
            }
        }
        for (i, &tok) in ids.iter().enumerate() {
            let idx = i * v + tok as usize;
            for (field, rows) in [("draft_probs", draft), ("target_probs", target)] {
                check_f32_range(field, rows.slice(idx, 1), idx, v)?;
            }
            if draft.get_f32(idx) == 0.0 {
                return Err(Error::ZeroDraftProbability {
                    index: i,
                    token: tok,
                    note: " (after rounding to float32, which the batch engines compute in)",
                });
            }
        }
        if mode == Validation::Touched {
            // The rows the round will read.
            let (first, last) = rows_read(self, r);
            for i in first..=last {
                let row = |f: Floats<'a>| f.slice(i * v, v).to_f64_vec();
                check_f32_range("target_probs", target.slice(i * v, v), i * v, v)?;
                let t = row(target);
                check_rows("target_probs", &t, v, opts).map_err(|e| shift_dist(e, i))?;
                if i < k {
                    check_f32_range("draft_probs", draft.slice(i * v, v), i * v, v)?;
                    let d = row(draft);
                    check_rows("draft_probs", &d, v, opts).map_err(|e| shift_dist(e, i))?;
                }
            }
        }
        Ok(())
    }
}

/// Refuses a float64 value of `values` that overflows float32 (float32 data cannot). `values`
/// start at flat index `start` of a round's rows of V.
pub fn check_f32_range(field: &'static str, values: Floats, start: usize, v: usize) -> Result<()> {
    if let Floats::F64(_) = values {
        for j in 0..values.len() {
            // Finite in float64 but not in float32 (NaN and infinities are refused as such).
            if values.get_f64(j).is_finite() && values.get_f32(j).is_infinite() {
                return Err(Error::Float32Overflow {
                    field,
                    dist: (start + j) / v,
                    token: (start + j) % v,
                    value: values.get_f64(j),
                });
            }
        }
    }
    Ok(())
}

/// Renumbers the distribution index of a row error checked in isolation.
fn shift_dist(e: Error, by: usize) -> Error {
    match e {
        Error::BadProbability {
            field,
            dist,
            token,
            value,
        } => Error::BadProbability {
            field,
            dist: dist + by,
            token,
            value,
        },
        Error::NotNormalized {
            field,
            dist,
            sum,
            tolerance,
        } => Error::NotNormalized {
            field,
            dist: dist + by,
            sum,
            tolerance,
        },
        e => e,
    }
}

/// Checks the shapes of a batch's four arrays, each given as (name for errors, shape): draft
/// `[N, K, V]`, target `[N, K + 1, V]`, tokens and coins `[N, K]`, V ≥ 1. Returns (N, K, V).
pub fn check_batch_shapes(
    draft: (&str, &[usize]),
    target: (&str, &[usize]),
    tokens: (&str, &[usize]),
    coins: (&str, &[usize]),
) -> Result<(usize, usize, usize)> {
    let shape_err = |(origin, shape): (&str, &[usize]), want: String| {
        Error::format(
            origin,
            format!("shape {shape:?} does not fit the batch: expected {want}"),
        )
    };
    let [n, k, v] = draft.1[..] else {
        return Err(shape_err(draft, "3 dimensions [N, K, V]".into()));
    };
    if k >= u32::MAX as usize || v > u32::MAX as usize {
        return Err(shape_err(
            draft,
            format!("K < {} and V <= {}", u32::MAX, u32::MAX),
        ));
    }
    let dims = format!("(N, K, V) = ({n}, {k}, {v}) from draft_probs");
    if target.1 != [n, k + 1, v] {
        return Err(shape_err(
            target,
            format!("[N, K + 1, V] = [{n}, {}, {v}] for {dims}", k + 1),
        ));
    }
    for a in [tokens, coins] {
        if a.1 != [n, k] {
            return Err(shape_err(a, format!("[N, K] = [{n}, {k}] for {dims}")));
        }
    }
    if v == 0 {
        return Err(Error::format(draft.0, "V = 0: the vocabulary is empty"));
    }
    Ok((n, k, v))
}

/// A batch held in memory, in the engines' own types.
#[derive(Clone, Debug, Default)]
pub struct Batch {
    /// Rounds.
    pub n: usize,
    /// Drafted tokens per round.
    pub k: usize,
    /// Vocabulary size.
    pub v: usize,
    /// `[N, K, V]`.
    pub draft: Vec<f32>,
    /// `[N, K + 1, V]`.
    pub target: Vec<f32>,
    /// `[N, K]`.
    pub tokens: Vec<u32>,
    /// `[N, K]`.
    pub coins: Vec<f32>,
}

impl Batch {
    /// A batch of `n` rounds of (K, V), all zeros (to be filled in).
    pub fn zeros(n: usize, k: usize, v: usize) -> Batch {
        Batch {
            n,
            k,
            v,
            draft: vec![0.0; n * k * v],
            target: vec![0.0; n * (k + 1) * v],
            tokens: vec![0; n * k],
            coins: vec![0.0; n * k],
        }
    }

    /// Rounds `r0..r0 + m` of `view` with their first `k` positions (k ≤ the view's K), in f32:
    /// the same rounds seen at a smaller K (the bonus row at k is target row k). For running one
    /// batch at several K on common random numbers.
    pub fn from_view(view: &BatchView, r0: usize, m: usize, k: usize) -> Batch {
        assert!(k <= view.k && r0 + m <= view.n, "prefix out of range");
        let (vk, v) = (view.k, view.v);
        let mut b = Batch::zeros(m, k, v);
        let mut buf = Vec::new();
        for r in 0..m {
            let g = r0 + r;
            let d = view.draft.slice(g * vk * v, k * v);
            b.draft[r * k * v..(r + 1) * k * v].copy_from_slice(d.as_f32(&mut buf));
            let t = view.target.slice(g * (vk + 1) * v, (k + 1) * v);
            b.target[r * (k + 1) * v..(r + 1) * (k + 1) * v].copy_from_slice(t.as_f32(&mut buf));
            for i in 0..k {
                b.tokens[r * k + i] = view.token(g, i) as u32;
                b.coins[r * k + i] = view.coins.get_f32(g * vk + i);
            }
        }
        b
    }

    /// A view of this batch.
    pub fn view(&self) -> BatchView<'_> {
        BatchView {
            n: self.n,
            k: self.k,
            v: self.v,
            draft: Floats::F32(bytemuck::cast_slice(&self.draft)),
            target: Floats::F32(bytemuck::cast_slice(&self.target)),
            tokens: Ints::U32(bytemuck::cast_slice(&self.tokens)),
            coins: Floats::F32(bytemuck::cast_slice(&self.coins)),
        }
    }
}

/// The results of a batch: tokens `[N, K + 1]` padded with -1 and the number accepted per round.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BatchResult {
    /// Drafted tokens per round.
    pub k: usize,
    /// `[N, K + 1]`: accepted tokens, then the replacement or bonus, then -1.
    pub tokens: Vec<i32>,
    /// `[N]`: drafted tokens accepted.
    pub num_accepted: Vec<u32>,
}

impl BatchResult {
    /// An all-empty result for `n` rounds of `k` drafts (tokens -1, nothing accepted).
    pub fn new(n: usize, k: usize) -> Self {
        BatchResult {
            k,
            tokens: vec![-1; n * (k + 1)],
            num_accepted: vec![0; n],
        }
    }

    /// Rounds.
    pub fn n(&self) -> usize {
        self.num_accepted.len()
    }

    /// The outcome of round `r`.
    pub fn outcome(&self, r: usize) -> Outcome {
        let a = self.num_accepted[r];
        Outcome {
            num_accepted: a,
            token: self.tokens[r * (self.k + 1) + a as usize] as u32,
        }
    }

    /// `num_generated` per round (accepted + 1).
    pub fn num_generated(&self) -> Vec<u32> {
        self.num_accepted.iter().map(|a| a + 1).collect()
    }
}

/// Decides every round of a validated batch with the f64 reference of SPEC §1, from the values as
/// given (f64 input stays f64). In parallel over rounds.
pub fn reference_outcomes(view: &BatchView) -> Vec<Outcome> {
    reference_outcomes_rule(view, Rule::Token)
}

/// [`reference_outcomes`] under any chain rule.
pub fn reference_outcomes_rule(view: &BatchView, rule: Rule) -> Vec<Outcome> {
    (0..view.n)
        .into_par_iter()
        .map(|r| reference_outcome_rule(view, r, rule))
        .collect()
}

impl crate::round::Values for Floats<'_> {
    #[inline]
    fn at(&self, i: usize) -> f64 {
        self.get_f64(i)
    }
}

/// The f64 reference outcome of round `r` of a validated batch under `rule`: the one reference
/// ([`crate::round::decide`]) reading the batch's values in place, only those the rule needs.
pub fn reference_outcome_rule(view: &BatchView, r: usize, rule: Rule) -> Outcome {
    let tokens = view.round_tokens(r);
    let coins = view.coins.slice(r * view.k, view.k);
    crate::round::decide(
        rule,
        &view.draft_round(r),
        &view.target_round(r),
        &tokens,
        &coins,
        view.v,
    )
}

/// `beta[round][i] = sum_x min(p_i(x), q_i(x))` in f64 for every round and position (SPEC §5): the
/// exact probability that position i is accepted given the round's distributions.
pub fn exact_betas(view: &BatchView) -> Vec<f64> {
    let (k, v) = (view.k, view.v);
    (0..view.n)
        .into_par_iter()
        .flat_map_iter(|r| {
            let d = view.draft_round(r);
            let t = view.target_round(r);
            (0..k).map(move |i| {
                (0..v)
                    .map(|x| t.get_f64(i * v + x).min(d.get_f64(i * v + x)))
                    .sum::<f64>()
            })
        })
        .collect()
}

/// The f64 reference outcome of one round of a validated batch under the token rule.
pub fn reference_outcome(view: &BatchView, r: usize) -> Outcome {
    reference_outcome_rule(view, r, Rule::Token)
}
