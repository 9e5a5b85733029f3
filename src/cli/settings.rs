//! Resolved settings: the arguments turned into the library's configurations, with every
//! refusal of a bad value named by its flag.

use anyhow::{Context, Result, bail};

use specsim::Rule;
use specsim::study::{Family, StudyConfig, Workload};

use super::args::{FamilyArg, WorkloadArgs};

/// Parses `1..16`, `1,2,4,8` or `1..4,8` into a sorted list of distinct K ≥ 1.
pub fn parse_k_list(s: &str) -> Result<Vec<usize>> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        if let Some((a, b)) = part.split_once("..") {
            let a: usize = a
                .trim()
                .parse()
                .with_context(|| format!("--k: bad range start in {part:?}"))?;
            let b: usize = b
                .trim()
                .trim_start_matches('=')
                .parse()
                .with_context(|| format!("--k: bad range end in {part:?}"))?;
            if a > b {
                bail!("--k: empty range {part:?}");
            }
            out.extend(a..=b);
        } else {
            out.push(
                part.parse()
                    .with_context(|| format!("--k: {part:?} is not a number"))?,
            );
        }
    }
    out.sort_unstable();
    out.dedup();
    if out.is_empty() || out[0] == 0 {
        bail!("--k: give values of K >= 1 (e.g. 1..16 or 1,2,4)");
    }
    if *out.last().unwrap_or(&0) > 1024 {
        bail!(
            "--k: K = {} is too large (at most 1024)",
            out.last().unwrap_or(&0)
        );
    }
    Ok(out)
}

/// The cartesian product of the workload options, as study configurations.
pub fn study_configs(
    w: &WorkloadArgs,
    default_k: &str,
    default_vocab: usize,
    default_rounds: u64,
    seed: u64,
) -> Result<Vec<StudyConfig>> {
    let k_values = parse_k_list(w.k.as_deref().unwrap_or(default_k))?;
    let vocab = w.vocab.unwrap_or(default_vocab);
    let rounds = w.rounds.unwrap_or(default_rounds);
    if vocab == 0 {
        bail!("--vocab must be at least 1");
    }
    if rounds == 0 || rounds > u32::MAX as u64 {
        bail!("--rounds must be in 1..={}", u32::MAX);
    }
    let positive = |name: &str, xs: &[f32]| -> Result<()> {
        match xs.iter().find(|x| !(x.is_finite() && **x > 0.0)) {
            Some(x) => bail!("--{name}: {x} is not a positive number"),
            None => Ok(()),
        }
    };
    positive("t-target", &w.t_target)?;
    positive("t-draft", &w.t_draft)?;
    let families: Vec<Family> = match w.family {
        FamilyArg::LogitNoise => {
            if let Some(x) = w.sigma.iter().find(|x| !(x.is_finite() && **x >= 0.0)) {
                bail!("--sigma: {x} is not a non-negative number");
            }
            w.sigma
                .iter()
                .map(|&sigma| Family::LogitNoise { sigma })
                .collect()
        }
        FamilyArg::Mixture => {
            if let Some(x) = w.lambda.iter().find(|x| !(0.0..=1.0).contains(*x)) {
                bail!("--lambda: {x} is not in [0, 1]");
            }
            w.lambda
                .iter()
                .map(|&lambda| Family::Mixture { lambda })
                .collect()
        }
        FamilyArg::Quantized => {
            if let Some(x) = w.bits.iter().find(|x| !(1..=24).contains(*x)) {
                bail!("--bits: {x} is not in 1..=24");
            }
            w.bits
                .iter()
                .map(|&bits| Family::Quantized { bits })
                .collect()
        }
        FamilyArg::Rates => {
            if let Some(x) = w.rates.iter().find(|x| !(0.0..=1.0).contains(*x)) {
                bail!("--rates: {x} is not in [0, 1]");
            }
            vec![Family::Rates {
                rates: w.rates.clone(),
            }]
        }
        FamilyArg::File => {
            let Some(p) = &w.batch_path else {
                bail!("--family file needs --batch PATH (a batch directory or .npz)");
            };
            vec![Family::File {
                path: p.display().to_string(),
            }]
        }
    };
    if let Some(z) = w.zipf.iter().find(|x| !(x.is_finite() && **x >= 0.0)) {
        bail!("--zipf: {z} is not a non-negative number");
    }
    let rules = Rule::parse_list(&w.rule)?;
    if w.family == FamilyArg::Rates && rules.iter().any(|&r| r != Rule::Token) {
        bail!(
            "--rule {}: the rates family has no distributions, so only the token rule applies (use logit-noise, mixture, quantized or file)",
            w.rule
        );
    }
    let mut out = Vec::new();
    for family in &families {
        for &t_target in &w.t_target {
            for &t_draft in &w.t_draft {
                for &zipf in &w.zipf {
                    out.push(StudyConfig {
                        workload: Workload {
                            family: family.clone(),
                            vocab,
                            t_target,
                            t_draft,
                            zipf,
                        },
                        k_values: k_values.clone(),
                        rounds,
                        seed,
                        recovery: w.recovery.into(),
                        rules: rules.clone(),
                    });
                }
            }
        }
    }
    Ok(out)
}
