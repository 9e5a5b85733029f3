//! A stopping policy (SPEC §11): its parameters, its spec string (`hf:0.4`), parsing and serde.

use crate::error::{Error, Result};

/// A stopping policy (SPEC §11); parameters after colons.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Policy {
    /// Draft K' positions (at most the cap K).
    Fixed(usize),
    /// HF transformers' `assistant_confidence_threshold`: continue iff `q_i(x_i) ≥ θ` (f32).
    Hf(f32),
    /// Verify position i + 1 iff `max q_{i+1} ≥ θ` (f32); a stop costs one discarded draft.
    Top1(f32),
    /// Continue iff `1 − sqrt(γ H(q_i)) ≥ λ` (H in nats, f64).
    Entropy {
        /// γ.
        gamma: f64,
        /// λ.
        lambda: f64,
    },
    /// SpecDec++: after one draft continue; after s ≥ 2 drafts continue iff the product of
    /// `min(1, p/q)` over the s drafts is ≥ 1 − h (SPEC §11's `L_{s−1}`, counted from 0).
    SpecDecPp(f64),
    /// Continue iff `min(1, p_i/q_i)(x_i) ≥ θ` (the oracle: it sees the target).
    Oracle(f64),
    /// The optimal thresholds on `L_i` for the cost (the Bellman bound's policy).
    Bellman,
}

impl std::str::FromStr for Policy {
    type Err = Error;

    /// `fixed:K`, `hf:θ`, `top1:θ`, `entropy:γ:λ`, `specdecpp:h`, `oracle:θ`, `bellman`.
    fn from_str(s: &str) -> Result<Policy> {
        let bad = |m: &str| {
            Error::Config(format!(
                "--stop {s:?}: {m} (fixed:K, hf:θ, top1:θ, entropy:γ:λ, specdecpp:h, oracle:θ or bellman)"
            ))
        };
        let parts: Vec<&str> = s.trim().split(':').map(str::trim).collect();
        let num = |x: &str| -> Result<f64> {
            x.parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| bad(&format!("{x:?} is not a finite number")))
        };
        let unit = |x: &str| -> Result<f64> {
            let v = num(x)?;
            if (0.0..=1.0).contains(&v) {
                Ok(v)
            } else {
                Err(bad(&format!("{x} is not in [0, 1]")))
            }
        };
        Ok(match parts[..] {
            ["fixed", k] => Policy::Fixed(
                k.parse::<usize>()
                    .ok()
                    .filter(|&k| k >= 1)
                    .ok_or_else(|| bad("K is not a positive integer"))?,
            ),
            ["hf", t] => Policy::Hf(unit(t)? as f32),
            ["top1", t] => Policy::Top1(unit(t)? as f32),
            ["entropy", g, l] => {
                let gamma = num(g)?;
                if gamma < 0.0 {
                    return Err(bad("γ must be >= 0"));
                }
                Policy::Entropy {
                    gamma,
                    lambda: num(l)?,
                }
            }
            ["specdecpp", h] => Policy::SpecDecPp(unit(h)?),
            ["oracle", t] => Policy::Oracle(unit(t)?),
            ["bellman"] => Policy::Bellman,
            _ => return Err(bad("not a policy")),
        })
    }
}

impl serde::Serialize for Policy {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Policy {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Policy, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl std::fmt::Display for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Policy::Fixed(k) => write!(f, "fixed:{k}"),
            Policy::Hf(t) => write!(f, "hf:{t}"),
            Policy::Top1(t) => write!(f, "top1:{t}"),
            Policy::Entropy { gamma, lambda } => write!(f, "entropy:{gamma}:{lambda}"),
            Policy::SpecDecPp(h) => write!(f, "specdecpp:{h}"),
            Policy::Oracle(t) => write!(f, "oracle:{t}"),
            Policy::Bellman => write!(f, "bellman"),
        }
    }
}
