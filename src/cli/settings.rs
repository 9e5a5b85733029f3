//! Resolved settings: the arguments turned into the library's options (which check them and
//! expand them into configurations, naming the flags in their refusals).

use anyhow::Result;

use specsim::Rule;
use specsim::study::StudyConfig;
use specsim::study::options::{FamilyKind, StudyOptions};

use super::args::{FamilyArg, WorkloadArgs};

pub use specsim::study::options::parse_k_list;

/// The library's study options for these arguments.
pub fn study_options(w: &WorkloadArgs) -> Result<StudyOptions> {
    Ok(StudyOptions {
        family: match w.family {
            FamilyArg::LogitNoise => FamilyKind::LogitNoise,
            FamilyArg::Mixture => FamilyKind::Mixture,
            FamilyArg::Quantized => FamilyKind::Quantized,
            FamilyArg::Rates => FamilyKind::Rates,
            FamilyArg::File => FamilyKind::File,
        },
        k: w.k.as_deref().map(parse_k_list).transpose()?,
        sigma: w.sigma.clone(),
        lambda: w.lambda.clone(),
        bits: w.bits.clone(),
        rates: w.rates.clone(),
        t_target: w.t_target.clone(),
        t_draft: w.t_draft.clone(),
        zipf: w.zipf.clone(),
        batch: w.batch_path.clone(),
        vocab: w.vocab,
        rounds: w.rounds,
        seed: w.seed,
        recovery: w.recovery.into(),
        rules: Rule::parse_list(&w.rule)?,
        allow_unnormalized: false,
    })
}

/// The cartesian product of the workload options, as study configurations.
pub fn study_configs(
    w: &WorkloadArgs,
    default_k: &str,
    default_vocab: usize,
    default_rounds: u64,
    seed: u64,
) -> Result<Vec<StudyConfig>> {
    Ok(study_options(w)?.configs(
        &parse_k_list(default_k)?,
        default_vocab,
        default_rounds,
        seed,
    )?)
}
