//! Batches of N rounds (SPEC §3): views over row-major data and results; validation is in
//! `validate.rs`.
//!
//! A batch is `draft [N, K, V]`, `target [N, K + 1, V]`, `tokens [N, K]` and `coins [N, K]`. The
//! data may live in memory or in memory-mapped `.npy` files, as f32 or f64 (little-endian bytes,
//! any alignment), with tokens as i32, i64 or u32. Nothing is copied to read a batch: the engines
//! read the values they need straight from the bytes.

use rayon::prelude::*;

use crate::error::{Error, Result};

mod outcomes;
mod rounds;
mod validate;
use crate::reference::Outcome;
use crate::rule::Rule;
pub use outcomes::{Outcomes, UNFINISHED};
pub use rounds::{Layout, Rounds, Topology};
pub use validate::{check_batch_shapes, check_f32_range, check_tree_shapes, lowest_bad_round};

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

impl<'a> Ints<'a> {
    /// Elements `start..start + len`.
    pub fn slice(&self, start: usize, len: usize) -> Ints<'a> {
        match *self {
            Ints::I32(b) => Ints::I32(&b[start * 4..(start + len) * 4]),
            Ints::I64(b) => Ints::I64(&b[start * 8..(start + len) * 8]),
            Ints::U32(b) => Ints::U32(&b[start * 4..(start + len) * 4]),
        }
    }

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
pub struct ChainView<'a> {
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
pub type RowsRead = dyn Fn(&ChainView, usize) -> (usize, usize) + Sync;

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

impl<'a> ChainView<'a> {
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

    /// Rounds `r0..r0 + m` as a batch of their own, in place (their round 0 is round r0 here).
    /// For a view whose shapes are checked ([`ChainView::check_shapes`]).
    pub fn rounds(&self, r0: usize, m: usize) -> ChainView<'a> {
        let (k, v) = (self.k, self.v);
        ChainView {
            n: m,
            k,
            v,
            draft: self.draft.slice(r0 * k * v, m * k * v),
            target: self.target.slice(r0 * (k + 1) * v, m * (k + 1) * v),
            tokens: self.tokens.slice(r0 * k, m * k),
            coins: self.coins.slice(r0 * k, m * k),
        }
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
    pub fn from_view(view: &ChainView, r0: usize, m: usize, k: usize) -> Batch {
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
    pub fn view(&self) -> ChainView<'_> {
        ChainView {
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

/// Decides every round of a validated batch with the f64 reference of SPEC §1, from the values as
/// given (f64 input stays f64). In parallel over rounds.
pub fn reference_outcomes(view: &ChainView) -> Vec<Outcome> {
    reference_outcomes_rule(view, Rule::Token)
}

/// [`reference_outcomes`] under any chain rule.
pub fn reference_outcomes_rule(view: &ChainView, rule: Rule) -> Vec<Outcome> {
    (0..view.n)
        .into_par_iter()
        .map(|r| reference_outcome_rule(view, r, rule))
        .collect()
}

impl crate::reference::Values for Floats<'_> {
    #[inline]
    fn at(&self, i: usize) -> f64 {
        self.get_f64(i)
    }
}

/// The f64 reference outcome of round `r` of a validated batch under `rule`: the one reference
/// ([`crate::reference::decide`]) reading the batch's values in place, only those the rule needs.
pub fn reference_outcome_rule(view: &ChainView, r: usize, rule: Rule) -> Outcome {
    let tokens = view.round_tokens(r);
    let coins = view.coins.slice(r * view.k, view.k);
    crate::reference::decide(
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
pub fn exact_betas(view: &ChainView) -> Vec<f64> {
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
pub fn reference_outcome(view: &ChainView, r: usize) -> Outcome {
    reference_outcome_rule(view, r, Rule::Token)
}
