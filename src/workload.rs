//! The workloads a study generates: the families and their parameters. Generated on the CPU by
//! `src/cpu/generate.rs` and on the GPU by `shaders/generate.wgsl` (through `src/gpu/study.rs`).
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
}

impl Workload {
    /// The family's label, then the temperatures and zipf when not the defaults
    /// (`logit-noise sigma=0.5 T=1/0.8 zipf=1`).
    pub fn label(&self) -> String {
        let mut s = self.family.label();
        if self.t_target != 1.0 || self.t_draft != 1.0 {
            s += &format!(" T={}/{}", self.t_target, self.t_draft);
        }
        if self.zipf != 0.0 {
            s += &format!(" zipf={}", self.zipf);
        }
        s
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
}
