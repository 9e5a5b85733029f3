//! Every option of a study as values, checked and expanded into configurations in one place, for
//! the command line (`specsim study`, `verify --study`) and the Python package alike. Messages
//! name the command line's flags, which are also the Python keywords (`--t-target` is
//! `t_target`).

use std::path::PathBuf;

use super::{Family, StudyConfig, Workload};
use crate::error::{Error, Result};
use crate::rule::{RecoveryMode, Rule};

/// The workload family asked for, before its parameters are expanded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FamilyKind {
    /// `logit-noise`.
    #[default]
    LogitNoise,
    /// `mixture`.
    Mixture,
    /// `quantized`.
    Quantized,
    /// `rates`.
    Rates,
    /// `file`.
    File,
}

impl std::str::FromStr for FamilyKind {
    type Err = Error;

    fn from_str(s: &str) -> Result<FamilyKind> {
        Ok(match s {
            "logit-noise" | "logit_noise" => FamilyKind::LogitNoise,
            "mixture" => FamilyKind::Mixture,
            "quantized" => FamilyKind::Quantized,
            "rates" => FamilyKind::Rates,
            "file" => FamilyKind::File,
            _ => {
                return Err(Error::Config(format!(
                    "--family: {s:?} is not a family (logit-noise, mixture, quantized, rates, file)"
                )));
            }
        })
    }
}

/// A study's options (lists where the command line takes lists). `None` takes the caller's
/// default (the study's and `verify`'s differ).
#[derive(Clone, Debug)]
pub struct StudyOptions {
    /// Workload family.
    pub family: FamilyKind,
    /// K values (any order, repeats allowed); `None` for the default.
    pub k: Option<Vec<usize>>,
    /// `logit-noise`: noise scales.
    pub sigma: Vec<f32>,
    /// `mixture`: weights of the unrelated distribution.
    pub lambda: Vec<f32>,
    /// `quantized`: bits.
    pub bits: Vec<u32>,
    /// `rates`: per-position acceptance rates.
    pub rates: Vec<f32>,
    /// Target temperatures.
    pub t_target: Vec<f32>,
    /// Draft temperatures.
    pub t_draft: Vec<f32>,
    /// Zipf exponents.
    pub zipf: Vec<f32>,
    /// `file`: the batch.
    pub batch: Option<PathBuf>,
    /// Vocabulary size.
    pub vocab: Option<usize>,
    /// Rounds per configuration.
    pub rounds: Option<u64>,
    /// Seed.
    pub seed: Option<u64>,
    /// Recovery mode.
    pub recovery: RecoveryMode,
    /// Verification rules, run on the same rounds.
    pub rules: Vec<Rule>,
}

impl Default for StudyOptions {
    /// The command line's defaults.
    fn default() -> StudyOptions {
        StudyOptions {
            family: FamilyKind::LogitNoise,
            k: None,
            sigma: vec![0.5, 1.0],
            lambda: vec![0.2, 0.5],
            bits: vec![4, 8],
            rates: vec![0.8],
            t_target: vec![1.0],
            t_draft: vec![1.0],
            zipf: vec![0.0],
            batch: None,
            vocab: None,
            rounds: None,
            seed: None,
            recovery: RecoveryMode::Argmax,
            rules: vec![Rule::Token],
        }
    }
}

/// Parses `1..16`, `1,2,4,8` or `1..4,8` into K values (checked by [`check_k`]).
pub fn parse_k_list(s: &str) -> Result<Vec<usize>> {
    let mut out = Vec::new();
    let bad = |what: String| Error::Config(format!("--k: {what}"));
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        if let Some((a, b)) = part.split_once("..") {
            let a: usize = a
                .trim()
                .parse()
                .map_err(|e| bad(format!("bad range start in {part:?}: {e}")))?;
            let b: usize = b
                .trim()
                .trim_start_matches('=')
                .parse()
                .map_err(|e| bad(format!("bad range end in {part:?}: {e}")))?;
            if a > b {
                return Err(bad(format!("empty range {part:?}")));
            }
            out.extend(a..=b);
        } else {
            out.push(
                part.parse()
                    .map_err(|e| bad(format!("{part:?} is not a number: {e}")))?,
            );
        }
    }
    check_k(out)
}

/// Sorts and deduplicates K values; refuses none, 0 and more than 1024.
pub fn check_k(mut k: Vec<usize>) -> Result<Vec<usize>> {
    k.sort_unstable();
    k.dedup();
    if k.is_empty() || k[0] == 0 {
        return Err(Error::Config(
            "--k: give values of K >= 1 (e.g. 1..16 or 1,2,4)".into(),
        ));
    }
    if let Some(&top) = k.last()
        && top > 1024
    {
        return Err(Error::Config(format!(
            "--k: K = {top} is too large (at most 1024)"
        )));
    }
    Ok(k)
}

/// Refuses cost ratios that are negative or not finite.
pub fn check_cost_ratios(c: &[f64]) -> Result<()> {
    match c.iter().find(|c| !(c.is_finite() && **c >= 0.0)) {
        Some(c) => Err(Error::Config(format!(
            "--cost-ratio: {c} is not a non-negative number"
        ))),
        None => Ok(()),
    }
}

impl StudyOptions {
    /// The cartesian product of the options, as study configurations (`default_k` etc. where an
    /// option is `None`).
    pub fn configs(
        &self,
        default_k: &[usize],
        default_vocab: usize,
        default_rounds: u64,
        default_seed: u64,
    ) -> Result<Vec<StudyConfig>> {
        let cfg = |msg: String| Err(Error::Config(msg));
        let k_values = check_k(self.k.clone().unwrap_or_else(|| default_k.to_vec()))?;
        let vocab = self.vocab.unwrap_or(default_vocab);
        let rounds = self.rounds.unwrap_or(default_rounds);
        let seed = self.seed.unwrap_or(default_seed);
        if vocab == 0 {
            return cfg("--vocab must be at least 1".into());
        }
        if rounds == 0 || rounds > u32::MAX as u64 {
            return cfg(format!("--rounds must be in 1..={}", u32::MAX));
        }
        for (name, xs) in [("t-target", &self.t_target), ("t-draft", &self.t_draft)] {
            if let Some(x) = xs.iter().find(|x| !(x.is_finite() && **x > 0.0)) {
                return cfg(format!("--{name}: {x} is not a positive number"));
            }
        }
        let families: Vec<Family> = match self.family {
            FamilyKind::LogitNoise => {
                if let Some(x) = self.sigma.iter().find(|x| !(x.is_finite() && **x >= 0.0)) {
                    return cfg(format!("--sigma: {x} is not a non-negative number"));
                }
                self.sigma
                    .iter()
                    .map(|&sigma| Family::LogitNoise { sigma })
                    .collect()
            }
            FamilyKind::Mixture => {
                if let Some(x) = self.lambda.iter().find(|x| !(0.0..=1.0).contains(*x)) {
                    return cfg(format!("--lambda: {x} is not in [0, 1]"));
                }
                self.lambda
                    .iter()
                    .map(|&lambda| Family::Mixture { lambda })
                    .collect()
            }
            FamilyKind::Quantized => {
                if let Some(x) = self.bits.iter().find(|x| !(1..=24).contains(*x)) {
                    return cfg(format!("--bits: {x} is not in 1..=24"));
                }
                self.bits
                    .iter()
                    .map(|&bits| Family::Quantized { bits })
                    .collect()
            }
            FamilyKind::Rates => {
                if let Some(x) = self.rates.iter().find(|x| !(0.0..=1.0).contains(*x)) {
                    return cfg(format!("--rates: {x} is not in [0, 1]"));
                }
                vec![Family::Rates {
                    rates: self.rates.clone(),
                }]
            }
            FamilyKind::File => {
                let Some(p) = &self.batch else {
                    return cfg(
                        "--family file needs --batch PATH (a batch directory or .npz)".into(),
                    );
                };
                vec![Family::File {
                    path: p.display().to_string(),
                }]
            }
        };
        if let Some(z) = self.zipf.iter().find(|x| !(x.is_finite() && **x >= 0.0)) {
            return cfg(format!("--zipf: {z} is not a non-negative number"));
        }
        if self.rules.is_empty() {
            return cfg(format!("--rule: give one or more of {}", Rule::names()));
        }
        if self.family == FamilyKind::Rates && self.rules.iter().any(|&r| r != Rule::Token) {
            let names: Vec<&str> = self.rules.iter().map(|r| r.name()).collect();
            return cfg(format!(
                "--rule {}: the rates family has no distributions, so only the token rule applies (use logit-noise, mixture, quantized or file)",
                names.join(",")
            ));
        }
        let mut out = Vec::new();
        for family in &families {
            for &t_target in &self.t_target {
                for &t_draft in &self.t_draft {
                    for &zipf in &self.zipf {
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
                            recovery: self.recovery,
                            rules: self.rules.clone(),
                        });
                    }
                }
            }
        }
        Ok(out)
    }
}
