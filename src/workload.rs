//! The workloads a study generates: the families and their parameters. Generated on the CPU by
//! `src/cpu/generate/` and on the GPU by `shaders/generate.wgsl` (through `src/gpu/study.rs`).
//!
//! A family owns what is said about it: its name, its label, its parameter columns, whether it
//! has distributions. Reports and studies ask it; they do not match on it.

use serde::Serialize;

use crate::batch::Batch;
use crate::rule::{RecoveryMode, Rule};
use serde_json::{Value, json};

/// A workload family and its parameters.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "family", rename_all = "kebab-case")]
pub enum Family {
    /// target = softmax(z / T_target), draft = softmax((z + sigma·e) / T_draft).
    LogitNoise {
        /// Noise scale of the draft's logits.
        sigma: f32,
    },
    /// draft = (1 − lambda)·target + lambda·softmax(w / T_target), w independent of z.
    Mixture {
        /// Weight of the unrelated distribution.
        lambda: f32,
    },
    /// draft = softmax(quantize(z, bits) / T_draft): the target's logits quantized to 2^bits
    /// levels over the row's range (a quantized self-draft).
    Quantized {
        /// Bits per logit.
        bits: u32,
    },
    /// No distributions: position i is accepted with probability `rates[i]` (the last rate
    /// repeats beyond the list), as vLLM's synthetic mode.
    Rates {
        /// Conditional acceptance rate per position.
        rates: Vec<f32>,
    },
    /// A batch from disk (directory of .npy or .npz).
    File {
        /// Its path.
        path: String,
    },
}

impl Family {
    /// The family's name as on the command line.
    pub fn name(&self) -> &'static str {
        match self {
            Family::LogitNoise { .. } => "logit-noise",
            Family::Mixture { .. } => "mixture",
            Family::Quantized { .. } => "quantized",
            Family::Rates { .. } => "rates",
            Family::File { .. } => "file",
        }
    }

    /// The family and its own parameter, in words: `logit-noise sigma=0.5`, `mixture lambda=0.3`,
    /// `quantized bits=4`, `rates 0.8/0.7`, `file PATH`.
    pub fn label(&self) -> String {
        match self {
            Family::LogitNoise { sigma } => format!("logit-noise sigma={sigma}"),
            Family::Mixture { lambda } => format!("mixture lambda={lambda}"),
            Family::Quantized { bits } => format!("quantized bits={bits}"),
            Family::Rates { rates } => format!(
                "rates {}",
                rates
                    .iter()
                    .map(|r| r.to_string())
                    .collect::<Vec<_>>()
                    .join("/")
            ),
            Family::File { path } => format!("file {path}"),
        }
    }

    /// The parameter columns of every family, this family's filled and the others null:
    /// `sigma`, `lambda`, `bits`, `rates` (space-separated).
    pub fn param_columns(&self) -> [(&'static str, Value); 4] {
        let mut cols = [
            ("sigma", Value::Null),
            ("lambda", Value::Null),
            ("bits", Value::Null),
            ("rates", Value::Null),
        ];
        match self {
            Family::LogitNoise { sigma } => cols[0].1 = json!(sigma),
            Family::Mixture { lambda } => cols[1].1 = json!(lambda),
            Family::Quantized { bits } => cols[2].1 = json!(bits),
            Family::Rates { rates } => {
                cols[3].1 = json!(
                    rates
                        .iter()
                        .map(|x| x.to_string())
                        .collect::<Vec<_>>()
                        .join(" ")
                )
            }
            Family::File { .. } => {}
        }
        cols
    }

    /// The family's one numeric parameter (sigma, lambda or bits), null for the others.
    pub fn param(&self) -> Value {
        match self {
            Family::LogitNoise { sigma } => json!(sigma),
            Family::Mixture { lambda } => json!(lambda),
            Family::Quantized { bits } => json!(bits),
            Family::Rates { .. } | Family::File { .. } => Value::Null,
        }
    }

    /// Whether the family has draft and target distributions (every family but `rates`).
    pub fn has_distributions(&self) -> bool {
        !matches!(self, Family::Rates { .. })
    }

    /// Whether the rounds are generated (every family but `file`).
    pub fn is_generated(&self) -> bool {
        !matches!(self, Family::File { .. })
    }

    /// Its code in `shaders/generate.wgsl` (`FAMILY_*`).
    pub fn code(&self) -> u32 {
        match self {
            Family::LogitNoise { .. } => 0,
            Family::Mixture { .. } => 1,
            Family::Quantized { .. } => 2,
            Family::Rates { .. } => 3,
            Family::File { .. } => 4,
        }
    }
}

/// A difficulty that varies from round to round (issue 25): the family's parameter (logit-noise's
/// sigma, mixture's lambda) drawn anew for every (round, position) from this law, with the
/// Philox stream `SPREAD` (word 0 of the block of (round, position)), the same on both engines
/// (`lognormal`'s `exp` and its normal's `ln`, `cos` differ in their last bits between devices,
/// as the rows' do). A mixture's lambda is clamped to [0, 1].
#[derive(Clone, Copy, Debug, PartialEq, Serialize, serde::Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum Spread {
    /// Uniform on [lo, hi): `lo + (hi − lo) u`, u the f32 uniform of 24 bits.
    Uniform {
        /// Lower end.
        lo: f32,
        /// Upper end.
        hi: f32,
    },
    /// Log-normal: `exp(mu + s N)`, N the stream's standard normal 0.
    LogNormal {
        /// Mean of the logarithm.
        mu: f32,
        /// Standard deviation of the logarithm.
        s: f32,
    },
}

impl Spread {
    /// The value for (round `gr`, position `p`) under `seed`.
    pub fn draw(self, seed: u64, gr: u32, p: u32) -> f32 {
        use crate::rng::{random_u32, stream, uniform_f32};
        match self {
            Spread::Uniform { lo, hi } => {
                lo + (hi - lo) * uniform_f32(random_u32(seed, gr, p, stream::SPREAD, 0))
            }
            Spread::LogNormal { mu, s } => {
                let mut n = [0.0f32];
                crate::normal::normals(seed, gr, p, stream::SPREAD, 0, &mut n);
                // The vectorising polynomial (the same bits on every CPU), not the platform's exp.
                let y = mu + s * n[0];
                if y <= 0.0 {
                    crate::vmath::exp_nonpositive(y)
                } else {
                    1.0 / crate::vmath::exp_nonpositive(-y)
                }
            }
        }
    }

    /// Its code and two parameters for `shaders/generate.wgsl` (`SPREAD_*`; 0: none).
    pub fn code(s: Option<Spread>) -> (u32, f32, f32) {
        match s {
            None => (0, 0.0, 0.0),
            Some(Spread::Uniform { lo, hi }) => (1, lo, hi),
            Some(Spread::LogNormal { mu, s }) => (2, mu, s),
        }
    }

    /// The largest value it takes (for the rows' finiteness check): `hi`, or `exp(mu + 8 s)`.
    pub fn upper(self) -> f32 {
        match self {
            Spread::Uniform { hi, .. } => hi,
            Spread::LogNormal { mu, s } => (mu + 8.0 * s).exp(),
        }
    }
}

impl std::fmt::Display for Spread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Spread::Uniform { lo, hi } => write!(f, "uniform:{lo}:{hi}"),
            Spread::LogNormal { mu, s } => write!(f, "lognormal:{mu}:{s}"),
        }
    }
}

impl std::str::FromStr for Spread {
    type Err = crate::error::Error;

    /// `uniform:LO:HI` (0 <= LO <= HI, finite) or `lognormal:MU:S` (finite, S >= 0).
    fn from_str(text: &str) -> crate::error::Result<Spread> {
        let bad = |m: &str| {
            crate::error::Error::Config(format!(
                "{text:?}: {m} (expected uniform:LO:HI or lognormal:MU:S)"
            ))
        };
        let parts: Vec<&str> = text.trim().split(':').map(str::trim).collect();
        let num = |x: &str| -> crate::error::Result<f32> {
            x.parse::<f32>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| bad(&format!("{x:?} is not a finite number")))
        };
        match parts[..] {
            ["uniform", lo, hi] => {
                let (lo, hi) = (num(lo)?, num(hi)?);
                if !(lo >= 0.0 && hi >= lo) {
                    return Err(bad("uniform needs 0 <= LO <= HI"));
                }
                Ok(Spread::Uniform { lo, hi })
            }
            ["lognormal", mu, s] => {
                let (mu, s) = (num(mu)?, num(s)?);
                if s < 0.0 {
                    return Err(bad("lognormal needs S >= 0"));
                }
                Ok(Spread::LogNormal { mu, s })
            }
            _ => Err(bad("not a distribution")),
        }
    }
}

impl From<Spread> for String {
    fn from(s: Spread) -> String {
        s.to_string()
    }
}

impl TryFrom<String> for Spread {
    type Error = crate::error::Error;
    fn try_from(s: String) -> crate::error::Result<Spread> {
        s.parse()
    }
}

/// A generated workload: family plus the shape and temperatures shared by all families.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Workload {
    /// Family and its own parameters.
    #[serde(flatten)]
    pub family: Family,
    /// Vocabulary size.
    pub vocab: usize,
    /// Target temperature.
    pub t_target: f32,
    /// Draft temperature.
    pub t_draft: f32,
    /// Zipf exponent: logits decay by `zipf · ln(1 + token id)` (0 = plain normal logits).
    pub zipf: f32,
    /// The family's parameter drawn per (round, position) instead of fixed (`--sigma-dist`,
    /// `--lambda-dist`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spread: Option<Spread>,
}

impl Workload {
    /// The family's label, then the temperatures and zipf when not the defaults
    /// (`logit-noise sigma=0.5 T=1/0.8 zipf=1`).
    pub fn label(&self) -> String {
        let mut s = match (self.spread, &self.family) {
            (Some(d), Family::LogitNoise { .. }) => format!("logit-noise sigma~{d}"),
            (Some(d), Family::Mixture { .. }) => format!("mixture lambda~{d}"),
            _ => self.family.label(),
        };
        if self.t_target != 1.0 || self.t_draft != 1.0 {
            s += &format!(" T={}/{}", self.t_target, self.t_draft);
        }
        if self.zipf != 0.0 {
            s += &format!(" zipf={}", self.zipf);
        }
        s
    }

    /// The family's parameter at (round `gr`, position `p`): drawn from the spread, or fixed.
    pub fn param_at(&self, fixed: f32, seed: u64, gr: u32, p: u32) -> f32 {
        match (self.spread, &self.family) {
            (Some(d), Family::Mixture { .. }) => d.draw(seed, gr, p).clamp(0.0, 1.0),
            (Some(d), _) => d.draw(seed, gr, p),
            (None, _) => fixed,
        }
    }

    /// The rate of position `i` for the `rates` family.
    pub fn rate(&self, i: usize) -> f32 {
        match &self.family {
            Family::Rates { rates } => rates.get(i).or(rates.last()).copied().unwrap_or(0.0),
            _ => 0.0,
        }
    }
}

/// What a study generates and decides: a workload, the seed of every random number, and the
/// recovery mode of the verification.
#[derive(Clone, Copy, Debug)]
pub struct Generation<'a> {
    /// Family, vocabulary, temperatures.
    pub workload: &'a Workload,
    /// Seed.
    pub seed: u64,
    /// Recovery mode.
    pub recovery: RecoveryMode,
}

/// One chunk of a generated study: what to make and decide.
#[derive(Clone, Copy, Debug)]
pub struct StudyRequest<'a> {
    /// The workload, its seed and the recovery mode.
    pub generation: Generation<'a>,
    /// The first round's global index.
    pub r0: u64,
    /// Rounds.
    pub m: usize,
    /// The largest K (the token rule runs there).
    pub k_max: usize,
    /// Chain rules measured at every K, each with its K values (increasing).
    pub per_k: &'a [(Rule, Vec<usize>)],
    /// Return the rows at K_max too (enumeration of small vocabularies).
    pub keep_rows: bool,
    /// Return the stopping policies' features of every position (`StudyChunk::features`).
    pub stop_features: bool,
}

/// What a study chunk gives back: counts and per-position terms, the rows only when asked.
#[derive(Clone, Debug, Default)]
pub struct StudyChunk {
    /// The token rule's number accepted per round at K_max.
    pub accepted: Vec<u32>,
    /// `beta[round][i]` `[m, K_max]` (the `rates` family: its rates).
    pub betas: Vec<f32>,
    /// Per requested rule, per K: the number accepted per round and the rule's survivals
    /// `[m, K]` (the CPU twin's `CpuChainRule::survivals`, the kernel's binding 7).
    pub per_k: Vec<Vec<(Vec<u32>, Vec<f32>)>>,
    /// The rows at K_max, when asked for.
    pub rows: Option<Batch>,
    /// When asked for, per (round, position) `[m, K_max, 4]`: the draft and target
    /// probabilities of the drafted token `q(x)`, `p(x)`, the draft row's largest probability and
    /// its entropy in nats (f32, as each engine computes it).
    pub features: Vec<f32>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The drawn values follow their laws: means within 5 standard errors over 20000 draws.
    #[test]
    fn spreads_follow_their_laws() {
        let n = 20_000u32;
        for (law, mean, var) in [
            ("uniform:0.2:1.4", 0.8f64, 1.2f64 * 1.2 / 12.0),
            ("lognormal:-0.5:0.4", (-0.5f64 + 0.08).exp(), {
                let m = (-0.5f64 + 0.08).exp();
                m * m * (0.16f64.exp() - 1.0)
            }),
        ] {
            let d: Spread = law.parse().unwrap();
            let xs: Vec<f64> = (0..n).map(|i| f64::from(d.draw(9, i / 4, i % 4))).collect();
            let m = xs.iter().sum::<f64>() / f64::from(n);
            let se = (var / f64::from(n)).sqrt();
            assert!((m - mean).abs() < 5.0 * se, "{law}: mean {m} vs {mean}");
            assert_eq!(law.parse::<Spread>().unwrap().to_string(), law);
        }
        // Positions and rounds draw different values.
        let d: Spread = "uniform:0:1".parse().unwrap();
        assert_ne!(d.draw(1, 0, 0), d.draw(1, 0, 1));
        assert_ne!(d.draw(1, 0, 0), d.draw(1, 1, 0));
    }
}
