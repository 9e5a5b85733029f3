//! The workloads a study generates: the families and their parameters. Generated on the CPU by
//! `src/cpu/study.rs` and on the GPU by `shaders/study.wgsl` (through `src/gpu/study.rs`).

use serde::Serialize;

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

    /// Its code in `shaders/study.wgsl`.
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
    /// The rate of position `i` for the `rates` family.
    pub fn rate(&self, i: usize) -> f32 {
        match &self.family {
            Family::Rates { rates } => rates.get(i).or(rates.last()).copied().unwrap_or(0.0),
            _ => 0.0,
        }
    }
}
