//! Compatibility profiles (SPEC §14): the chain token rule decided exactly as vLLM, SGLang,
//! FlashInfer or HF transformers decide it, so that its answers serve as golden vectors for those
//! engines' kernels (`specsim conform`, Python's `specsim.conformance.check`).
//!
//! A profile fixes the acceptance comparison (`coin·q < p` or `coin·q ≤ p`, decided on the f32
//! values' exact products: an f32 product is exact in f64), whether q is read at all, what q = 0
//! and q > 1 do, the coin domain, what an invalid draft id does (refuse the round, or reject the
//! draft at its position), the correction's row, what an all-zero row gives, and how the
//! correction and the bonus are chosen (argmax; inverse CDF with a per-round final coin; an
//! exponential race with a per-round noise row). The sources each profile follows, and where
//! this differs from SPEC §14's one-line summaries, are in `docs/reference/compat.md`.

mod batch;
pub mod golden;
pub mod golden_tree;
pub mod json;
mod select;
pub mod tree;

pub use batch::{BatchRef, ChainBatch, check_batch, decide_batch};
pub use select::{argmax, exp_race, inverse_cdf};
pub use tree::{
    TreeBatch, TreeBatchRef, TreeCompatOutcome, TreeRound, check_tree, check_tree_batch,
    decide_tree, decide_tree_batch,
};

use serde::Serialize;

use crate::error::{Error, Result};

/// A compatibility profile.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// This contract (SPEC §1).
    #[default]
    Specsim,
    /// vLLM's rejection sampler.
    Vllm,
    /// SGLang's speculative sampling kernel.
    Sglang,
    /// FlashInfer's `chain_speculative_sampling`.
    Flashinfer,
    /// HF transformers' `_speculative_sampling`.
    Transformers,
}

/// Every profile, in the order of the docs.
pub const PROFILES: [Profile; 5] = [
    Profile::Specsim,
    Profile::Vllm,
    Profile::Sglang,
    Profile::Flashinfer,
    Profile::Transformers,
];

/// The acceptance comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Cmp {
    /// `coin·q < p`.
    Lt,
    /// `coin·q ≤ p` (`u ≤ p / q`).
    Le,
}

/// How the correction and the bonus are chosen when the profile's extra input is given.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Select {
    /// The argmax (ties to the lowest id).
    Argmax,
    /// The first token whose f32 running sum (ascending id) exceeds `u · sum` (`final_coins`).
    InverseCdf,
    /// The argmax of `row / E` (`exp_noise`, E > 0), compared exactly.
    ExpRace,
}

/// What a drafted token whose draft probability is 0 does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum QZero {
    /// Refused (a drafted token has q > 0).
    Refuse,
    /// Rejected at its position.
    Reject,
    /// `u ≤ p / 0`: accepted iff p > 0 (IEEE division: inf, or NaN when p = 0).
    AcceptIfP,
}

/// The row the correction is chosen from after a rejection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Residual {
    /// `max(p − q, 0)` (f32 subtraction).
    PMinusQ,
    /// The target row with the rejected token's entry set to 0 (SGLang's target-only kernel,
    /// whose draft row is zeros but for the rejected token's target probability).
    TargetWithoutDraft,
}

/// What an all-zero residual gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum ZeroResidual {
    /// The selection on the target row (SPEC §1).
    Target,
    /// Token 0 (vLLM's single-tile argmax of all-zero scores).
    Zero,
    /// Token V − 1 (SGLang's and FlashInfer's initial `sampled_id`).
    Last,
    /// The round is refused (HF transformers' `torch.multinomial` raises on a zero row).
    Refuse,
}

/// What a profile decides.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Semantics {
    /// The acceptance comparison.
    pub cmp: Cmp,
    /// The draft probability is not read: q = 1 (SGLang's target-only kernel).
    pub ignores_q: bool,
    /// A drafted token with q = 0.
    pub q_zero: QZero,
    /// A draft probability above 1 is used as given (instead of refused).
    pub allows_q_above_one: bool,
    /// Coins in (0, 1] (FlashInfer's curand) instead of [0, 1).
    pub coins_open_closed: bool,
    /// A drafted id outside 0..V is rejected at its position (instead of refusing the round).
    pub rejects_invalid_id: bool,
    /// The correction's row.
    pub residual: Residual,
    /// An all-zero residual.
    pub zero_residual: ZeroResidual,
    /// The correction and bonus selection (with its extra input; argmax without it).
    pub select: Select,
    /// Also reports the number of positions that pass their own coin's test, after the first
    /// rejection too (FlashInfer's `output_accepted_token_num`).
    pub reports_passed: bool,
    /// The product `coin · q` is rounded to f32 before the comparison (FlashInfer's `u * p < q`
    /// in float), instead of compared exactly.
    pub product_f32: bool,
    /// The correction's coin is the next position's coin when there is one, the final coin
    /// otherwise (FlashInfer's caller-coin API: `uniform_samples[min(pos + 1, K)]`).
    pub correction_coin_next: bool,
}

impl Profile {
    /// The profile's decisions (SPEC §14 as the engines' sources have it:
    /// `docs/reference/compat.md`).
    pub fn semantics(self) -> Semantics {
        let base = Semantics {
            cmp: Cmp::Lt,
            ignores_q: false,
            q_zero: QZero::Refuse,
            allows_q_above_one: false,
            coins_open_closed: false,
            rejects_invalid_id: false,
            residual: Residual::PMinusQ,
            zero_residual: ZeroResidual::Target,
            select: Select::Argmax,
            reports_passed: false,
            product_f32: false,
            correction_coin_next: false,
        };
        match self {
            Profile::Specsim => base,
            Profile::Vllm => Semantics {
                cmp: Cmp::Le,
                q_zero: QZero::Reject,
                allows_q_above_one: true,
                rejects_invalid_id: true,
                zero_residual: ZeroResidual::Zero,
                select: Select::ExpRace,
                ..base
            },
            Profile::Sglang => Semantics {
                // `coin < p` (and p > 0, which `<` implies): SGLang since PR #35798
                // (2026-08-21); `coin <= p` before.
                ignores_q: true,
                allows_q_above_one: true,
                residual: Residual::TargetWithoutDraft,
                zero_residual: ZeroResidual::Last,
                select: Select::InverseCdf,
                ..base
            },
            Profile::Flashinfer => Semantics {
                q_zero: QZero::AcceptIfP,
                allows_q_above_one: true,
                coins_open_closed: true,
                zero_residual: ZeroResidual::Last,
                select: Select::InverseCdf,
                reports_passed: true,
                product_f32: true,
                correction_coin_next: true,
                ..base
            },
            Profile::Transformers => Semantics {
                cmp: Cmp::Le,
                q_zero: QZero::AcceptIfP,
                allows_q_above_one: true,
                zero_residual: ZeroResidual::Refuse,
                select: Select::ExpRace,
                ..base
            },
        }
    }

    /// The profile's name.
    pub fn name(self) -> &'static str {
        match self {
            Profile::Specsim => "specsim",
            Profile::Vllm => "vllm",
            Profile::Sglang => "sglang",
            Profile::Flashinfer => "flashinfer",
            Profile::Transformers => "transformers",
        }
    }

    /// The extra input the profile's selection reads (`final_coins` or `exp_noise`), if any.
    pub fn extra(self) -> Option<&'static str> {
        match self.semantics().select {
            Select::Argmax => None,
            Select::InverseCdf => Some("final_coins"),
            Select::ExpRace => Some("exp_noise"),
        }
    }
}

impl std::fmt::Display for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Profile {
    type Err = Error;

    fn from_str(s: &str) -> Result<Profile> {
        PROFILES
            .into_iter()
            .find(|p| p.name() == s.trim())
            .ok_or_else(|| {
                Error::Config(format!(
                    "profile {s:?}: not a profile (specsim, vllm, sglang, flashinfer, transformers)"
                ))
            })
    }
}

/// One chain round as a profile reads it: K drafted positions over V tokens.
#[derive(Clone, Debug)]
pub struct ChainRound<'a> {
    /// Draft rows `[K, V]`.
    pub draft: &'a [f32],
    /// Target rows `[K + 1, V]`.
    pub target: &'a [f32],
    /// Drafted token ids `[K]` (any integer: a profile may reject an invalid one).
    pub tokens: &'a [i64],
    /// Coins `[K]`.
    pub coins: &'a [f32],
    /// The round's final coin (inverse-CDF selection).
    pub final_coin: Option<f32>,
    /// The round's exponential noise `[V]` (the race).
    pub exp_noise: Option<&'a [f32]>,
}

/// A profile's answer on one round.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CompatOutcome {
    /// The accepted drafts, then the correction or the bonus, padded with -1 to K + 1.
    pub tokens: Vec<i32>,
    /// Drafts accepted.
    pub num_accepted: u32,
    /// Positions whose own test passes, after the first rejection too (FlashInfer's count;
    /// `num_accepted` for the other profiles).
    pub num_passed: u32,
}

/// Checks one chain round as `profile` reads it: shapes, the coin domain, finite non-negative
/// rows, the extra inputs, and every drafted position's id and draft probability as the profile
/// allows them; refuses with the position and value. The batch engines check every round with
/// it before deciding (the refusals of [`decide_chain`], which calls it).
pub fn check_chain(r: &ChainRound, profile: Profile) -> Result<()> {
    let sem = profile.semantics();
    let k = r.tokens.len();
    let bad = |m: String| Err(Error::Config(format!("{profile}: {m}")));
    if k == 0 || r.coins.len() != k || !r.draft.len().is_multiple_of(k) {
        return bad(format!(
            "K = {k} drafted tokens need K coins (got {}) and K draft rows",
            r.coins.len()
        ));
    }
    let v = r.draft.len() / k;
    if v == 0 || r.target.len() != (k + 1) * v {
        return bad(format!(
            "V = {v}: the target rows must be (K + 1) · V = {} values (got {})",
            (k + 1) * v,
            r.target.len()
        ));
    }
    let in_domain = |c: f32| {
        if sem.coins_open_closed {
            c > 0.0 && c <= 1.0
        } else {
            (0.0..1.0).contains(&c)
        }
    };
    let dom = if sem.coins_open_closed {
        "(0, 1]"
    } else {
        "[0, 1)"
    };
    if let Some(i) = r.coins.iter().position(|&c| !in_domain(c)) {
        return bad(format!(
            "random_coins[{i}] = {} is outside {dom}",
            r.coins[i]
        ));
    }
    for (name, rows) in [("target_probs", r.target), ("draft_probs", r.draft)] {
        if let Some(j) = rows.iter().position(|x| !(x.is_finite() && *x >= 0.0)) {
            return bad(format!(
                "{name}[{}, {}] = {} is not a probability",
                j / v,
                j % v,
                rows[j]
            ));
        }
    }
    match (r.final_coin, sem.select) {
        // The final coin is drawn as the coins are: (0, 1] or [0, 1).
        (Some(u), Select::InverseCdf) if !in_domain(u) => {
            return bad(format!("final_coins = {u} is outside {dom}"));
        }
        (Some(_), s) if s != Select::InverseCdf => {
            return bad("final_coins: this profile does not sample by inverse CDF".into());
        }
        _ => {}
    }
    if let Some(e) = r.exp_noise {
        if sem.select != Select::ExpRace {
            return bad("exp_noise: this profile does not sample by exponential race".into());
        }
        if e.len() != v {
            return bad(format!("exp_noise has {} values, not V = {v}", e.len()));
        }
        if let Some(x) = e.iter().position(|x| !(x.is_finite() && *x > 0.0)) {
            return bad(format!("exp_noise[{x}] = {} is not > 0", e[x]));
        }
    }
    for (i, &tok) in r.tokens.iter().enumerate() {
        if !(tok >= 0 && (tok as usize) < v) {
            if sem.rejects_invalid_id {
                continue;
            }
            return bad(format!(
                "draft_tokens[{i}] = {tok} is not a token id in 0..{v}"
            ));
        }
        if sem.ignores_q {
            continue;
        }
        let x = tok as usize;
        let q = r.draft[i * v + x];
        if q > 1.0 && !sem.allows_q_above_one {
            return bad(format!("draft_probs[{i}, {x}] = {q} is above 1"));
        }
        if q == 0.0 && sem.q_zero == QZero::Refuse {
            return bad(format!(
                "draft_probs[{i}, {x}] = 0: a drafted token has a positive draft probability"
            ));
        }
    }
    Ok(())
}

/// The chain token rule on one round under `profile` (K ≥ 1, V ≥ 1). Refuses what the profile
/// refuses ([`check_chain`]), with the position and value.
pub fn decide_chain(r: &ChainRound, profile: Profile) -> Result<CompatOutcome> {
    check_chain(r, profile)?;
    let sem = profile.semantics();
    let k = r.tokens.len();
    let v = r.draft.len() / k;
    let bad = |m: String| Err(Error::Config(format!("{profile}: {m}")));
    let mut passes = Vec::with_capacity(k);
    for i in 0..k {
        let tok = r.tokens[i];
        if !(tok >= 0 && (tok as usize) < v) {
            // Checked: an engine that rejects invalid ids.
            passes.push(false);
            continue;
        }
        let x = tok as usize;
        let p = r.target[i * v + x] as f64;
        let q = if sem.ignores_q {
            1.0
        } else {
            r.draft[i * v + x]
        };
        let pass = if q == 0.0 {
            match sem.q_zero {
                QZero::Refuse => unreachable!("checked"),
                QZero::Reject => false,
                QZero::AcceptIfP => p > 0.0,
            }
        } else {
            // Exact (an f32 product is exact in f64), or rounded to f32 as the engine does.
            let exact = r.coins[i] as f64 * q as f64;
            let lhs = if sem.product_f32 {
                (r.coins[i] * q) as f64
            } else {
                exact
            };
            match sem.cmp {
                Cmp::Lt => lhs < p,
                Cmp::Le => lhs <= p,
            }
        };
        passes.push(pass);
    }
    let n = passes.iter().position(|&x| !x).unwrap_or(k);
    let t = &r.target[n * v..(n + 1) * v];
    let row: Vec<f32> = match (n < k, sem.residual) {
        (false, _) => t.to_vec(),
        (true, Residual::PMinusQ) => {
            let d = &r.draft[n * v..(n + 1) * v];
            t.iter()
                .zip(d)
                .map(|(&a, &b)| if a > b { a - b } else { 0.0 })
                .collect()
        }
        (true, Residual::TargetWithoutDraft) => {
            let mut row = t.to_vec();
            if let Ok(x) = usize::try_from(r.tokens[n])
                && x < v
            {
                row[x] = 0.0;
            }
            row
        }
    };
    // The selection's coin: the final coin, or (FlashInfer's caller-coin API) the next
    // position's coin when the rejection is not at the last position.
    let final_coin = match (sem.correction_coin_next, r.final_coin) {
        (true, Some(_)) if n + 1 < k => Some(r.coins[n + 1]),
        (_, u) => u,
    };
    let pick = |row: &[f32]| -> Option<usize> {
        match (sem.select, final_coin, r.exp_noise) {
            (Select::InverseCdf, Some(u), _) => inverse_cdf(row, u),
            (Select::ExpRace, _, Some(e)) => exp_race(row, e),
            _ => argmax(row),
        }
    };
    let chosen = match pick(&row) {
        Some(x) => x,
        None => match sem.zero_residual {
            // SPEC §1: the target row's (an all-zero target row: token 0).
            ZeroResidual::Target => pick(t).unwrap_or(0),
            ZeroResidual::Zero => 0,
            ZeroResidual::Last => v - 1,
            ZeroResidual::Refuse => {
                return bad(format!(
                    "the row to sample at position {n} is all zero (the engine raises there)"
                ));
            }
        },
    };
    let mut tokens = vec![-1i32; k + 1];
    for (o, &x) in tokens.iter_mut().zip(&r.tokens[..n]) {
        *o = x as i32;
    }
    tokens[n] = chosen as i32;
    Ok(CompatOutcome {
        tokens,
        num_accepted: n as u32,
        num_passed: if sem.reports_passed {
            passes.iter().filter(|&&x| x).count() as u32
        } else {
            n as u32
        },
    })
}
