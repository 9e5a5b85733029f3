//! One position's laws under each rule (SPEC §13): the drafted token's law D, the acceptance
//! α(x), and the rejected mass by replacement token, each in O(V).

use super::{DraftLaw, LossyRule, Replacement};

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
pub(super) fn replacement(w: &[f64], p: &[f64], how: Replacement) -> Vec<f64> {
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
pub(super) struct Laws {
    pub(super) d: Vec<f64>,
    pub(super) alpha: Vec<f64>,
    pub(super) reject: Vec<f64>,
}

pub(super) fn laws(p: &[f64], q: &[f64], rule: LossyRule, law: DraftLaw, how: Replacement) -> Laws {
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
    let top = argmax(p);
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
            LossyRule::Greedy => f64::from(u8::from(x == top)),
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
        LossyRule::Sglang { .. } | LossyRule::Greedy => match how {
            Replacement::Sample => {
                let c = |x: usize| {
                    if p[x] < 1.0 {
                        miss[x] / (1.0 - p[x])
                    } else {
                        0.0
                    }
                };
                let s: f64 = (0..v).map(c).sum();
                // A token with p(x) = 1 is always accepted (p(x) ≥ ts; greedy: it is the
                // argmax), so no mass falls back.
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
pub(super) fn position(
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
