//! The f64 references (SPEC §1, §6, §7): the bottom layer every engine and check is compared
//! with. Chain rules in [`chain`] (one file per rule), tree rules in [`tree`] (the walk and one
//! file per rule). They read probabilities and coins through [`Values`], wherever those live.

pub mod adaptive;
pub mod adaptive_grid;
pub mod chain;
pub mod lossy;
pub mod optimal;
pub mod tree;

pub use chain::token::{decide_f64, replacement_f64};

use crate::rule::Rule;

/// The decisions of one round in compact form, shared by the reference and the batch engines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Outcome {
    /// How many drafted tokens were accepted (0..=K).
    pub num_accepted: u32,
    /// The replacement token (when `num_accepted < K`) or the bonus token (when `num_accepted == K`).
    pub token: u32,
}

/// A probability or coin value that can be read as f64 (f32 or f64).
pub trait Real: Copy + Send + Sync + 'static {
    /// Widen (exactly) to f64.
    fn to_f64(self) -> f64;

    /// One pass over a row: the f64 sum of its values, accumulated in eight lanes (so the loop
    /// vectorises; not the sequential sum), and whether any value is refused by
    /// `round::check_row` (not finite, or negative; -0.0 counts as 0).
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
        tree => tree::walk::decide_chain(rule, draft, target, tokens, coins, v),
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
