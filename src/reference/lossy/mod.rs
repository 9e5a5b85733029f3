//! The exact distortion of a verification rule on a chain (SPEC §13): per position, the law `o` of
//! the emitted token and its total-variation distance to the target's `p`, and over a round the
//! bracket `[max_k r_k TV_k, Σ_k r_k TV_k]`, exact by enumeration of the completed sequences where
//! V^(K+1) ≤ [`EXACT_BUDGET`].
//!
//! One position: draft law D (the draft row q, or its top-1), acceptance α(x), replacement law
//! ρ(·|x): `o(y) = D(y) α(y) + Σ_x D(x) (1 − α(x)) ρ(y|x)`. The rules:
//! - `token`: α = min(1, p/q), ρ = norm(max(p − q, 0)) (`sample`) or its argmax (`argmax`, §1);
//! - `lenient:l`: α = min(1, p/(l q)), ρ = norm(max(p − l q, 0)) or its argmax;
//! - `typical:eps:delta`: α = 1`[p(x) > min(eps, delta e^(−H))]`, H = −Σ p ln(p + 1e−5), ρ = p (vLLM's
//!   fresh sample) or δ(argmax p) (Medusa's `fast`);
//! - `sglang:ts:ta` (one child a position): α = 1 if p(x) ≥ ts, else min(1, p(x)/ta), ρ = p with x
//!   zeroed, normalised, or its argmax;
//! - `greedy` (the tree rule on a chain): α = 1`[x = argmax p]`, ρ as `sglang`'s.
//!
//! Where a rule's replacement has no mass (a residual of zeros, or p with x zeroed when p(x) = 1),
//! it is p (`sample`) or δ(argmax p) (`argmax`). All in f64 on rows divided by their sums.

use crate::error::{Error, Result};

mod laws;

use laws::{laws, position, replacement};

/// The largest V^(K+1) whose completed sequences are enumerated for the exact round TV.
pub const EXACT_BUDGET: f64 = 4096.0;

/// The lossy (and lossless) chain rules the meter knows.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LossyRule {
    /// The token rule of SPEC §1.
    Token,
    /// vLLM v0 / Medusa typical acceptance.
    Typical {
        /// The threshold's cap (0.09 by default, vLLM's `posterior_threshold`).
        eps: f64,
        /// The entropy factor (0.3 by default, vLLM's `posterior_alpha`).
        delta: f64,
    },
    /// Leviathan et al.'s lenience, l in (0, 1] (1: the token rule).
    Lenient {
        /// l.
        l: f64,
    },
    /// The greedy tree rule on a chain (SPEC §7): accept iff x is p's argmax; the correction
    /// from p with x zeroed (argmax p in `argmax` mode).
    Greedy,
    /// SGLang's relaxed thresholds (`--speculative-accept-threshold-single` ts,
    /// `--speculative-accept-threshold-acc` ta).
    Sglang {
        /// Accept outright when p(x) ≥ ts.
        ts: f64,
        /// Otherwise accept when coin ≤ p(x)/ta.
        ta: f64,
    },
}

/// How the position's drafted token is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DraftLaw {
    /// Sampled from the draft row q.
    Sample,
    /// The draft's top-1 (ties to the lowest id).
    Top1,
}

/// How the correction and the bonus are chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Replacement {
    /// Sampled from the rule's replacement law (the bonus from p).
    Sample,
    /// Its argmax (ties to the lowest id).
    Argmax,
}

impl std::fmt::Display for LossyRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            LossyRule::Token => write!(f, "token"),
            LossyRule::Greedy => write!(f, "greedy"),
            LossyRule::Typical { eps, delta } => write!(f, "typical:{eps}:{delta}"),
            LossyRule::Lenient { l } => write!(f, "lenient:{l}"),
            LossyRule::Sglang { ts, ta } => write!(f, "sglang:{ts}:{ta}"),
        }
    }
}

impl std::str::FromStr for LossyRule {
    type Err = Error;

    /// `token`, `typical` (eps 0.09, delta 0.3), `typical:eps:delta`, `lenient:l`, `sglang:ts:ta`.
    fn from_str(s: &str) -> Result<LossyRule> {
        let s = s.trim();
        let mut parts = s.split(':');
        let name = parts.next().unwrap_or("");
        let args: Vec<&str> = parts.collect();
        let bad = |m: String| Error::Config(format!("rule {s:?}: {m}"));
        let num = |x: &str, what: &str| -> Result<f64> {
            x.trim()
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| bad(format!("{what} {x:?} is not a finite number")))
        };
        let rule = match (name, &args[..]) {
            ("token", []) => LossyRule::Token,
            ("greedy", []) => LossyRule::Greedy,
            ("typical", []) => LossyRule::Typical {
                eps: 0.09,
                delta: 0.3,
            },
            ("typical", [e, d]) => LossyRule::Typical {
                eps: num(e, "eps")?,
                delta: num(d, "delta")?,
            },
            ("lenient", [l]) => LossyRule::Lenient { l: num(l, "l")? },
            ("sglang", [ts, ta]) => LossyRule::Sglang {
                ts: num(ts, "ts")?,
                ta: num(ta, "ta")?,
            },
            _ => {
                return Err(bad(
                    "expected token, greedy, typical, typical:eps:delta, lenient:l or sglang:ts:ta (parameters after colons)".into(),
                ));
            }
        };
        match rule {
            LossyRule::Typical { eps, delta } if eps < 0.0 || delta < 0.0 => {
                Err(bad("eps and delta must be non-negative".into()))
            }
            LossyRule::Lenient { l } if !(l > 0.0 && l <= 1.0) => Err(bad(format!(
                "l = {l} is not in (0, 1] (1 is the token rule)"
            ))),
            LossyRule::Sglang { ts, ta }
                if !((0.0..=1.0).contains(&ts) && ta > 0.0 && ta <= 1.0) =>
            {
                Err(bad(format!(
                    "ts = {ts} must be in [0, 1] and ta = {ta} in (0, 1] (sglang:1:1 is lossless)"
                )))
            }
            r => Ok(r),
        }
    }
}

/// One position's terms, for assembling rounds of every K from the same rows: `A = Σ D α`,
/// `TV(o, p)` as a drafted position, and the TV of the bonus law at this row (`p` and `q` as
/// [`distortion`] takes them).
pub fn position_terms(
    p: &[f64],
    q: &[f64],
    rule: LossyRule,
    law: DraftLaw,
    how: Replacement,
) -> (f64, f64, f64) {
    let (a, o, _) = position(p, q, rule, law, how);
    (a, tv(&o, p), tv(&replacement(p, p, how), p))
}

/// The round's bracket `(max_k r_k TV_k, Σ_k r_k TV_k)` for a chain of K from the terms of
/// [`position_terms`] of positions 0..=K (the bonus's TV from position K's), as [`distortion`]
/// computes it.
pub fn bracket(terms: &[(f64, f64, f64)], k: usize) -> (f64, f64) {
    let (mut reach, mut low, mut high) = (1.0f64, 0.0f64, 0.0f64);
    for (i, &(a, tv_i, tv_bonus)) in terms.iter().enumerate().take(k + 1) {
        let t = if i < k { tv_i } else { tv_bonus };
        low = low.max(reach * t);
        high += reach * t;
        reach *= a;
    }
    (low, high)
}

/// Total variation `½ Σ |a − b|`.
pub fn tv(a: &[f64], b: &[f64]) -> f64 {
    0.5 * a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum::<f64>()
}

/// The law of the completed sequence y_1..y_{K+1} of one round (the emitted tokens, then the
/// target's own draws up to K + 1) and the target's law `Π p_j(y_j)`, over the V^(K+1) sequences
/// (index `Σ_j y_j V^j`), where V^(K+1) ≤ [`EXACT_BUDGET`]: the sum over the position i of the
/// rejection (or the bonus, i = K + 1) of `Π_{j<i} D_j(y_j) α_j(y_j) · R_i(y_i) · Π_{j>i} p_j(y_j)`,
/// `R_i(y) = Σ_x D_i(x) (1 − α_i(x)) ρ_i(y|x)`.
pub fn sequence_law(
    q: &[Vec<f64>],
    p: &[Vec<f64>],
    rule: LossyRule,
    law: DraftLaw,
    how: Replacement,
) -> Option<(Vec<f64>, Vec<f64>)> {
    let k = q.len();
    let v = p.first().map_or(0, Vec::len);
    if (v as f64).powi(k as i32 + 1) > EXACT_BUDGET || p.len() != k + 1 {
        return None;
    }
    let (mut acc, mut rejects) = (Vec::with_capacity(k), Vec::with_capacity(k));
    for i in 0..k {
        let l = laws(&p[i], &q[i], rule, law, how);
        acc.push(
            l.d.iter()
                .zip(&l.alpha)
                .map(|(d, a)| d * a)
                .collect::<Vec<f64>>(),
        );
        rejects.push(l.reject);
    }
    let bonus = replacement(&p[k], &p[k], how);
    let total = v.pow(k as u32 + 1);
    let (mut out, mut target) = (vec![0.0; total], vec![0.0; total]);
    let mut seq = vec![0usize; k + 1];
    for idx in 0..total {
        let mut rest = idx;
        for s in seq.iter_mut() {
            *s = rest % v;
            rest /= v;
        }
        target[idx] = (0..=k).map(|j| p[j][seq[j]]).product();
        let mut prefix = 1.0;
        for i in 0..=k {
            let here = if i < k {
                rejects[i][seq[i]]
            } else {
                bonus[seq[i]]
            };
            let after: f64 = (i + 1..=k).map(|j| p[j][seq[j]]).product();
            out[idx] += prefix * here * after;
            if i < k {
                prefix *= acc[i][seq[i]];
            }
        }
    }
    Some((out, target))
}

/// A round's distortion (SPEC §13; Python's `specsim.distortion`).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Distortion {
    /// Per position k = 1..K: `A_k = Σ_x D(x) α(x)`.
    pub acceptance: Vec<f64>,
    /// Per position k = 1..K+1: TV(o_k, p_k) (the bonus last).
    pub tv: Vec<f64>,
    /// `E[τ] = Σ_k Π_{i≤k} A_i`.
    pub expected_accepted: f64,
    /// `E[generated] = 1 + E[τ]`.
    pub expected_generated: f64,
    /// `max_k r_k TV_k`, `r_k = Π_{i<k} A_i`: no round's distortion is below it.
    pub tv_low: f64,
    /// `Σ_k r_k TV_k`: no round's distortion is above it.
    pub tv_high: f64,
    /// The same sum, read as the expected number of positions whose token law is changed.
    pub tokens_changed: f64,
    /// The TV between the law of the completed sequence (the emitted tokens, then the target's
    /// own draws to K + 1) and the target's, where V^(K+1) ≤ [`EXACT_BUDGET`].
    pub tv_exact: Option<f64>,
}

/// The distortion of `rule` on one chain round: `q` = K draft rows, `p` = K + 1 target rows (each
/// a distribution over V, already divided by its sum), drafts drawn by `law`, corrections and the
/// bonus by `how`.
pub fn distortion(
    q: &[Vec<f64>],
    p: &[Vec<f64>],
    rule: LossyRule,
    law: DraftLaw,
    how: Replacement,
) -> Distortion {
    let k = q.len();
    let mut acceptance = Vec::with_capacity(k);
    let mut tvs = Vec::with_capacity(k + 1);
    for i in 0..k {
        let (a, o, _) = position(&p[i], &q[i], rule, law, how);
        acceptance.push(a);
        tvs.push(tv(&o, &p[i]));
    }
    let bonus = replacement(&p[k], &p[k], how);
    tvs.push(tv(&bonus, &p[k]));
    let (mut reach, mut expected, mut low, mut high) = (1.0f64, 0.0f64, 0.0f64, 0.0f64);
    for (i, t) in tvs.iter().enumerate() {
        low = low.max(reach * t);
        high += reach * t;
        if i < k {
            reach *= acceptance[i];
            expected += reach;
        }
    }
    let exact = sequence_law(q, p, rule, law, how).map(|(law_p, target)| tv(&law_p, &target));
    Distortion {
        acceptance,
        tv: tvs,
        expected_accepted: expected,
        expected_generated: 1.0 + expected,
        tv_low: low,
        tv_high: high,
        tokens_changed: high,
        tv_exact: exact,
    }
}

#[cfg(test)]
mod tests;
