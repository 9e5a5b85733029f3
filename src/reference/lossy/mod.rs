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
//!   zeroed, normalised, or its argmax.
//!
//! Where a rule's replacement has no mass (a residual of zeros, or p with x zeroed when p(x) = 1),
//! it is p (`sample`) or δ(argmax p) (`argmax`). All in f64 on rows divided by their sums.

use crate::error::{Error, Result};

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
                    "expected token, typical, typical:eps:delta, lenient:l or sglang:ts:ta (parameters after colons)".into(),
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

/// The lowest index of the largest entry.
fn argmax(x: &[f64]) -> usize {
    let mut best = 0;
    for (i, &v) in x.iter().enumerate() {
        if v > x[best] {
            best = i;
        }
    }
    best
}

/// A law from non-negative weights: normalised, or, with no mass, p (sample) / δ(argmax p);
/// under `Argmax`, δ at the weights' argmax.
fn replacement(w: &[f64], p: &[f64], how: Replacement) -> Vec<f64> {
    let s: f64 = w.iter().sum();
    let src = if s > 0.0 { w } else { p };
    match how {
        Replacement::Sample => {
            let s: f64 = src.iter().sum();
            src.iter().map(|x| x / s).collect()
        }
        Replacement::Argmax => {
            let mut d = vec![0.0; src.len()];
            d[argmax(src)] = 1.0;
            d
        }
    }
}

/// One position's laws: the drafted token's law D, the acceptance α(x) of each token, and the
/// rejected mass by replacement token, `R(y) = Σ_x D(x) (1 − α(x)) ρ(y|x)`, in O(V).
struct Laws {
    d: Vec<f64>,
    alpha: Vec<f64>,
    reject: Vec<f64>,
}

fn laws(p: &[f64], q: &[f64], rule: LossyRule, law: DraftLaw, how: Replacement) -> Laws {
    let v = p.len();
    let d = match law {
        DraftLaw::Sample => q.to_vec(),
        DraftLaw::Top1 => {
            let mut d = vec![0.0; v];
            d[argmax(q)] = 1.0;
            d
        }
    };
    // Typical acceptance's threshold min(eps, delta e^(−H)), H = −Σ p ln(p + 1e−5).
    let threshold = match rule {
        LossyRule::Typical { eps, delta } => {
            let h: f64 = -p.iter().map(|&y| y * (y + 1e-5).ln()).sum::<f64>();
            eps.min(delta * (-h).exp())
        }
        _ => 0.0,
    };
    let alpha: Vec<f64> = (0..v)
        .map(|x| match rule {
            LossyRule::Token => {
                if q[x] > 0.0 {
                    (p[x] / q[x]).min(1.0)
                } else {
                    1.0
                }
            }
            LossyRule::Lenient { l } => {
                if q[x] > 0.0 {
                    (p[x] / (l * q[x])).min(1.0)
                } else {
                    1.0
                }
            }
            LossyRule::Typical { .. } => {
                if p[x] > threshold {
                    1.0
                } else {
                    0.0
                }
            }
            LossyRule::Sglang { ts, ta } => {
                if p[x] >= ts {
                    1.0
                } else {
                    (p[x] / ta).min(1.0)
                }
            }
        })
        .collect();
    // m(x) = D(x)(1 − α(x)): the mass rejected with x drafted.
    let miss: Vec<f64> = (0..v).map(|x| d[x] * (1.0 - alpha[x])).collect();
    let total: f64 = miss.iter().sum();
    let reject = match rule {
        // ρ does not depend on x: R = (Σ m) ρ.
        LossyRule::Token | LossyRule::Lenient { .. } | LossyRule::Typical { .. } => {
            let rho = match rule {
                LossyRule::Typical { .. } => replacement(p, p, how),
                LossyRule::Lenient { l } => {
                    let res: Vec<f64> =
                        p.iter().zip(q).map(|(a, b)| (a - l * b).max(0.0)).collect();
                    replacement(&res, p, how)
                }
                _ => {
                    let res: Vec<f64> = p.iter().zip(q).map(|(a, b)| (a - b).max(0.0)).collect();
                    replacement(&res, p, how)
                }
            };
            rho.iter().map(|r| total * r).collect()
        }
        // ρ(·|x) = p with x zeroed: sampled, R(y) = p(y) (S − m(y)/(1 − p(y))) with
        // S = Σ_x m(x)/(1 − p(x)); by argmax, δ(a1) for x ≠ a1 and δ(a2) for x = a1 (a1, a2 the
        // first and second argmax of p; a1 again where p has no other mass).
        LossyRule::Sglang { .. } => match how {
            Replacement::Sample => {
                let c = |x: usize| {
                    if p[x] < 1.0 {
                        miss[x] / (1.0 - p[x])
                    } else {
                        0.0
                    }
                };
                let s: f64 = (0..v).map(c).sum();
                // A token with p(x) = 1 is always accepted (p(x) ≥ ts), so no mass falls back.
                (0..v).map(|y| p[y] * (s - c(y))).collect()
            }
            Replacement::Argmax => {
                let a1 = argmax(p);
                let mut w = p.to_vec();
                w[a1] = 0.0;
                let a2 = if w.iter().any(|&x| x > 0.0) {
                    argmax(&w)
                } else {
                    a1
                };
                let mut r = vec![0.0; v];
                r[a1] += total - miss[a1];
                r[a2] += miss[a1];
                r
            }
        },
    };
    Laws { d, alpha, reject }
}

/// One position's acceptance `A = Σ D α`, the law `o` of the emitted token, and `R`.
fn position(
    p: &[f64],
    q: &[f64],
    rule: LossyRule,
    law: DraftLaw,
    how: Replacement,
) -> (f64, Vec<f64>, Vec<f64>) {
    let l = laws(p, q, rule, law, how);
    let accepted: Vec<f64> = l.d.iter().zip(&l.alpha).map(|(d, a)| d * a).collect();
    let o: Vec<f64> = accepted.iter().zip(&l.reject).map(|(a, r)| a + r).collect();
    (accepted.iter().sum(), o, l.reject)
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
mod tests {
    use super::*;

    fn norm(w: &[f64]) -> Vec<f64> {
        let s: f64 = w.iter().sum();
        w.iter().map(|x| x / s).collect()
    }

    #[test]
    fn the_spec_facts_hold() {
        let p = norm(&[5.0, 3.0, 1.0, 1.0]);
        let q = norm(&[1.0, 4.0, 4.0, 1.0]);
        let one = |rule, law, how| {
            distortion(
                std::slice::from_ref(&q),
                &[p.clone(), p.clone()],
                rule,
                law,
                how,
            )
        };
        // token in sample mode: TV 0, exactly lossless.
        let t = one(LossyRule::Token, DraftLaw::Sample, Replacement::Sample);
        assert!(t.tv[0].abs() < 1e-15 && t.tv_exact.unwrap().abs() < 1e-15);
        // token with argmax recovery: (1 − β) − max(p − q)+.
        let a = one(LossyRule::Token, DraftLaw::Sample, Replacement::Argmax);
        let beta: f64 = p.iter().zip(&q).map(|(x, y)| x.min(*y)).sum();
        let m = p
            .iter()
            .zip(&q)
            .map(|(x, y)| (x - y).max(0.0))
            .fold(0.0, f64::max);
        assert!((a.tv[0] - ((1.0 - beta) - m)).abs() < 1e-15);
        // sglang:1:1: TV 0 for sampled and top-1 drafts.
        for law in [DraftLaw::Sample, DraftLaw::Top1] {
            let s = one(
                LossyRule::Sglang { ts: 1.0, ta: 1.0 },
                law,
                Replacement::Sample,
            );
            assert!(s.tv[0] < 1e-15, "{law:?}: {}", s.tv[0]);
        }
        // lenient: acceptance Σ min(q, p/l).
        let l = one(
            LossyRule::Lenient { l: 0.5 },
            DraftLaw::Sample,
            Replacement::Sample,
        );
        let want: f64 = p.iter().zip(&q).map(|(x, y)| y.min(x / 0.5)).sum();
        assert!((l.acceptance[0] - want).abs() < 1e-15);
        // typical with q = p: TV p(S)(1 − p(S)).
        let ty = distortion(
            std::slice::from_ref(&p),
            &[p.clone(), p.clone()],
            LossyRule::Typical {
                eps: 0.2,
                delta: 0.3,
            },
            DraftLaw::Sample,
            Replacement::Sample,
        );
        let h: f64 = -p.iter().map(|x| x * (x + 1e-5).ln()).sum::<f64>();
        let th = 0.2f64.min(0.3 * (-h).exp());
        let ps: f64 = p.iter().filter(|&&x| x > th).sum();
        assert!((ty.tv[0] - ps * (1.0 - ps)).abs() < 1e-15);
    }

    /// The exact round TV lies within the bracket.
    #[test]
    fn exact_tv_is_within_the_bracket() {
        let rows = [
            norm(&[3.0, 1.0, 1.0]),
            norm(&[1.0, 2.0, 2.0]),
            norm(&[1.0, 1.0, 5.0]),
            norm(&[2.0, 2.0, 1.0]),
        ];
        let q = vec![rows[1].clone(), rows[2].clone(), rows[0].clone()];
        let p = vec![
            rows[0].clone(),
            rows[3].clone(),
            rows[1].clone(),
            rows[2].clone(),
        ];
        for rule in ["token", "typical", "lenient:0.6", "sglang:0.5:0.7"] {
            let rule: LossyRule = rule.parse().unwrap();
            for law in [DraftLaw::Sample, DraftLaw::Top1] {
                for how in [Replacement::Sample, Replacement::Argmax] {
                    let d = distortion(&q, &p, rule, law, how);
                    let e = d.tv_exact.unwrap();
                    assert!(
                        d.tv_low <= e + 1e-12 && e <= d.tv_high + 1e-12,
                        "{rule} {law:?} {how:?}: {d:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn rules_parse_and_refuse() {
        assert_eq!(
            "typical".parse::<LossyRule>().unwrap(),
            LossyRule::Typical {
                eps: 0.09,
                delta: 0.3
            }
        );
        assert_eq!(
            "lenient:0.5".parse::<LossyRule>().unwrap(),
            LossyRule::Lenient { l: 0.5 }
        );
        for bad in [
            "lenient:0",
            "lenient:2",
            "sglang:1",
            "sglang:2:1",
            "typical:-1:0.3",
            "typical:0.1",
            "rrs",
            "lenient:nan",
        ] {
            assert!(bad.parse::<LossyRule>().is_err(), "{bad}");
        }
    }
}
