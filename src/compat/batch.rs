//! A batch of chain rounds under a profile, decided in parallel.

use super::{ChainRound, CompatOutcome, Profile, decide_chain};
use crate::error::{Error, Result};

/// A batch of chain rounds in row-major arrays (what Python's `conformance.decide` passes).
#[derive(Clone, Copy, Debug)]
pub struct BatchRef<'a> {
    /// Rounds.
    pub n: usize,
    /// Drafted positions.
    pub k: usize,
    /// Vocabulary.
    pub v: usize,
    /// `[N, K, V]`.
    pub draft: &'a [f32],
    /// `[N, K + 1, V]`.
    pub target: &'a [f32],
    /// `[N, K]`.
    pub tokens: &'a [i64],
    /// `[N, K]`.
    pub coins: &'a [f32],
    /// `[N]`.
    pub final_coins: Option<&'a [f32]>,
    /// `[N, V]`.
    pub exp_noise: Option<&'a [f32]>,
}

/// A batch of chain rounds that owns its arrays (a chunk read from a file, a test's batch):
/// [`ChainBatch::batch`] is its [`BatchRef`].
#[derive(Clone, Debug, Default)]
pub struct ChainBatch {
    /// Rounds.
    pub n: usize,
    /// Drafted positions.
    pub k: usize,
    /// Vocabulary.
    pub v: usize,
    /// `[N, K, V]`.
    pub draft: Vec<f32>,
    /// `[N, K + 1, V]`.
    pub target: Vec<f32>,
    /// `[N, K]`.
    pub tokens: Vec<i64>,
    /// `[N, K]`.
    pub coins: Vec<f32>,
    /// `[N]`.
    pub final_coins: Option<Vec<f32>>,
    /// `[N, V]`.
    pub exp_noise: Option<Vec<f32>>,
}

impl ChainBatch {
    /// The batch as the deciders take it.
    pub fn batch(&self) -> BatchRef<'_> {
        BatchRef {
            n: self.n,
            k: self.k,
            v: self.v,
            draft: &self.draft,
            target: &self.target,
            tokens: &self.tokens,
            coins: &self.coins,
            final_coins: self.final_coins.as_deref(),
            exp_noise: self.exp_noise.as_deref(),
        }
    }
}

/// Every round of a batch under `profile`, in parallel; a refused round refuses the batch,
/// naming the round.
pub fn decide_batch(b: &BatchRef, profile: Profile) -> Result<Vec<CompatOutcome>> {
    use rayon::prelude::*;
    (0..b.n)
        .into_par_iter()
        .map(|r| {
            decide_chain(&b.round(r), profile).map_err(|e| Error::Config(format!("round {r}: {e}")))
        })
        .collect::<Vec<_>>()
        // In round order: the lowest refused round is named (rayon's collect into a Result
        // returns any of the errors).
        .into_iter()
        .collect()
}

impl BatchRef<'_> {
    /// Round r as a [`ChainRound`].
    pub fn round(&self, r: usize) -> ChainRound<'_> {
        let (k, v) = (self.k, self.v);
        ChainRound {
            draft: &self.draft[r * k * v..(r + 1) * k * v],
            target: &self.target[r * (k + 1) * v..(r + 1) * (k + 1) * v],
            tokens: &self.tokens[r * k..(r + 1) * k],
            coins: &self.coins[r * k..(r + 1) * k],
            final_coin: self.final_coins.map(|f| f[r]),
            exp_noise: self.exp_noise.map(|e| &e[r * v..(r + 1) * v]),
        }
    }
}

/// Checks every round of a batch as `profile` reads it ([`super::check_chain`]), in parallel;
/// the lowest refused round is named.
pub fn check_batch(b: &BatchRef, profile: Profile) -> Result<()> {
    use rayon::prelude::*;
    (0..b.n)
        .into_par_iter()
        .map(|r| {
            super::check_chain(&b.round(r), profile)
                .map_err(|e| Error::Config(format!("round {r}: {e}")))
        })
        .collect::<Vec<_>>()
        .into_iter()
        .collect()
}
