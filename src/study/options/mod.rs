//! Every option of a study as values, checked and expanded into configurations in one place, for
//! the command line (`specsim study`, `verify --study`) and the Python package alike. Messages
//! name the command line's flags, which are also the Python keywords (`--t-target` is
//! `t_target`).

use std::path::PathBuf;

use super::{Family, StudyConfig, Workload};
use crate::error::{Error, Result};
use crate::rule::{RecoveryMode, Rule};

mod checks;
mod plan;

pub use checks::{
    MAX_NORMAL, MAX_ROUND_BYTES, check_cost_ratios, check_k, check_round_size, parse_k_list,
};
use checks::{check_finite_rows, to_f32};
pub use plan::Plan;

/// The workload family asked for, before its parameters are expanded (the command line's
/// `--family` values).
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    clap::ValueEnum,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum FamilyKind {
    /// target = softmax(z / T_target), draft = softmax((z + sigma·e) / T_draft) (--sigma).
    #[default]
    LogitNoise,
    /// draft = (1 − lambda)·target + lambda·(an unrelated distribution) (--lambda).
    Mixture,
    /// draft = the target's logits quantized to 2^bits levels (--bits).
    Quantized,
    /// No distributions: position i accepted with probability `rates[i]` (--rates; token rule).
    Rates,
    /// A batch from disk (--batch): its rounds, its K (or its trees, for a tree batch).
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
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct StudyOptions {
    /// Workload family.
    pub family: FamilyKind,
    /// K values (any order, repeats allowed); `None` for the default.
    pub k: Option<Vec<usize>>,
    /// `logit-noise`: noise scales.
    pub sigma: Vec<f64>,
    /// `mixture`: weights of the unrelated distribution.
    pub lambda: Vec<f64>,
    /// `quantized`: bits.
    pub bits: Vec<u32>,
    /// `rates`: per-position acceptance rates.
    pub rates: Vec<f64>,
    /// Target temperatures.
    pub t_target: Vec<f64>,
    /// Draft temperatures.
    pub t_draft: Vec<f64>,
    /// Zipf exponents.
    pub zipf: Vec<f64>,
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
    /// Verification rules, run on the same rounds; `None` for the default (the token rule, or
    /// every tree rule with trees).
    pub rules: Option<Vec<Rule>>,
    /// Tree specs (`--tree`): a tree study of these trees (and the chain of the same node count
    /// beside each); empty for a chain study over K.
    pub trees: Vec<String>,
    /// `file`: accept distributions that do not sum to 1.
    pub allow_unnormalized: bool,
    /// `--design`: the design study (builders compared per node budget).
    #[serde(default)]
    pub design: bool,
    /// `--nodes`: the design study's node budgets; `None` for [8, 16, 32, 64].
    #[serde(default)]
    pub nodes: Option<Vec<usize>>,
    /// `--sigma-dist`: logit-noise's sigma drawn per (round, position) from each of these
    /// laws (one configuration each), instead of `sigma`'s fixed values. (Not written when
    /// empty: shard files of studies without it read and check as before.)
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sigma_dist: Vec<crate::workload::Spread>,
    /// `--lambda-dist`: the same for mixture's lambda.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lambda_dist: Vec<crate::workload::Spread>,
    /// `--stop`: stopping policies run on the token rule's rounds (chain studies).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stop: Vec<crate::reference::adaptive::Policy>,
    /// `--k-max`: the policies' cap K (default the largest K; the rounds run at the larger).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub k_max: Option<usize>,
}

/// The K values of a study when none are given (a file's study takes 1..=its K instead).
pub const DEFAULT_K: std::ops::RangeInclusive<usize> = 1..=8;

/// The Zipf exponent of generated rows when none is given: logits decay by 2·ln(1 + token id),
/// so rows are peaked like a language model's (the target's top token has probability 0.56 on
/// average at V = 2048, sigma aside), not nearly flat as plain normal logits are (0.01).
/// `--zipf` takes the value of this constant as its default (checked by a test).
pub const DEFAULT_ZIPF: f64 = 2.0;

impl Default for StudyOptions {
    /// The study's defaults, for the command line and Python alike: logit-noise at sigma 0.5
    /// and 1, Zipf exponent 2 (LM-like rows), K = 1..8 (or the file's K), V = 2048, 10000
    /// rounds, seed 7.
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
            zipf: vec![DEFAULT_ZIPF],
            batch: None,
            vocab: Some(2048),
            rounds: Some(10_000),
            seed: Some(7),
            recovery: RecoveryMode::Argmax,
            rules: None,
            trees: Vec::new(),
            allow_unnormalized: false,
            design: false,
            nodes: None,
            sigma_dist: Vec::new(),
            lambda_dist: Vec::new(),
            stop: Vec::new(),
            k_max: None,
        }
    }
}

impl StudyOptions {
    /// The one workload these options name, as a study expands them (at K = `k`, the study's
    /// defaults for V, rounds and seed); `what` names the caller in the refusal of several.
    pub fn one_workload(&self, k: usize, what: &str) -> Result<StudyConfig> {
        let d = StudyOptions::default();
        let base = StudyOptions {
            rules: Some(vec![Rule::Token]),
            k: None,
            trees: Vec::new(),
            design: false,
            nodes: None,
            ..self.clone()
        }
        .configs(
            &[k],
            self.vocab.or(d.vocab).unwrap_or(2048),
            self.rounds.or(d.rounds).unwrap_or(10_000),
            self.seed.or(d.seed).unwrap_or(7),
        )?;
        match <[StudyConfig; 1]>::try_from(base) {
            Ok([cfg]) => Ok(cfg),
            Err(base) => Err(Error::Config(format!(
                "{what}: the workload options name {} workloads (--sigma defaults to 0.5,1 and --lambda to 0.2,0.5): give one value of each, e.g. --sigma 0.5",
                base.len()
            ))),
        }
    }

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
        let rules = self.rules.clone().unwrap_or_else(|| vec![Rule::Token]);
        if let Some(r) = rules.iter().find(|r| r.is_tree()) {
            return cfg(format!(
                "--rule {r} is a tree rule: a tree study needs --tree SPEC (e.g. --tree chain:8 for a chain, --tree kary:2,3)"
            ));
        }
        let ks = self.k.clone().unwrap_or_else(|| default_k.to_vec());
        match (self.k_max, self.stop.is_empty()) {
            (Some(_), true) => {
                return cfg("--k-max is the stopping policies' cap: give it with --stop".into());
            }
            (Some(0), false) => return cfg("--k-max must be at least 1".into()),
            _ => {}
        }
        let k_values = check_k(ks)?;
        let cap = self.k_max.unwrap_or(0);
        if self.family != FamilyKind::File && self.family != FamilyKind::Rates && cap > 0 {
            check_round_size(cap, self.vocab.unwrap_or(default_vocab))?;
        }
        let vocab = self.vocab.unwrap_or(default_vocab);
        let rounds = self.rounds.unwrap_or(default_rounds);
        let seed = self.seed.unwrap_or(default_seed);
        if self.family != FamilyKind::File && self.family != FamilyKind::Rates {
            check_round_size(k_values.last().copied().unwrap_or(1), vocab)?;
        } else if vocab == 0 {
            return cfg("--vocab must be at least 1".into());
        }
        if rounds == 0 || rounds > u32::MAX as u64 {
            return cfg(format!("--rounds must be in 1..={}", u32::MAX));
        }
        // Every parameter as the float32 the generators compute with: refused if float32
        // cannot hold it (it would overflow, or a nonzero value would become 0).
        let f32s = |name: &str, xs: &[f64]| -> Result<Vec<f32>> {
            xs.iter().map(|&x| to_f32(name, x)).collect()
        };
        let (t_targets, t_drafts) = (
            f32s("t-target", &self.t_target)?,
            f32s("t-draft", &self.t_draft)?,
        );
        for (name, xs) in [("t-target", &t_targets), ("t-draft", &t_drafts)] {
            if let Some(x) = xs.iter().find(|x| !(x.is_finite() && **x > 0.0)) {
                return cfg(format!("--{name}: {x} is not a positive number"));
            }
        }
        let zipfs = f32s("zipf", &self.zipf)?;
        if let Some(z) = zipfs.iter().find(|x| !(x.is_finite() && **x >= 0.0)) {
            return cfg(format!("--zipf: {z} is not a non-negative number"));
        }
        let spreads = match self.family {
            FamilyKind::LogitNoise => &self.sigma_dist,
            FamilyKind::Mixture => &self.lambda_dist,
            _ => &Vec::new(),
        };
        if !self.sigma_dist.is_empty() && self.family != FamilyKind::LogitNoise {
            return cfg("--sigma-dist draws logit-noise's sigma: give --family logit-noise".into());
        }
        if !self.lambda_dist.is_empty() && self.family != FamilyKind::Mixture {
            return cfg("--lambda-dist draws mixture's lambda: give --family mixture".into());
        }
        let families: Vec<Family> = match self.family {
            FamilyKind::LogitNoise if !spreads.is_empty() => {
                vec![Family::LogitNoise { sigma: 0.0 }]
            }
            FamilyKind::Mixture if !spreads.is_empty() => vec![Family::Mixture { lambda: 0.0 }],
            FamilyKind::LogitNoise => {
                let sigmas = f32s("sigma", &self.sigma)?;
                if let Some(x) = sigmas.iter().find(|x| !(x.is_finite() && **x >= 0.0)) {
                    return cfg(format!("--sigma: {x} is not a non-negative number"));
                }
                sigmas
                    .iter()
                    .map(|&sigma| Family::LogitNoise { sigma })
                    .collect()
            }
            FamilyKind::Mixture => {
                let lambdas = f32s("lambda", &self.lambda)?;
                if let Some(x) = lambdas.iter().find(|x| !(0.0..=1.0).contains(*x)) {
                    return cfg(format!("--lambda: {x} is not in [0, 1]"));
                }
                lambdas
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
                let rates = f32s("rates", &self.rates)?;
                if let Some(x) = rates.iter().find(|x| !(0.0..=1.0).contains(*x)) {
                    return cfg(format!("--rates: {x} is not in [0, 1]"));
                }
                vec![Family::Rates { rates }]
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
        if rules.is_empty() {
            return cfg(format!("--rule: give one or more of {}", Rule::names()));
        }
        if self.family == FamilyKind::Rates && rules.iter().any(|&r| r != Rule::Token) {
            let names: Vec<&str> = rules.iter().map(|r| r.name()).collect();
            return cfg(format!(
                "--rule {}: the rates family has no distributions, so only the token rule applies (use logit-noise, mixture, quantized or file)",
                names.join(",")
            ));
        }
        // Each family with its spread (one configuration per law), or fixed.
        let mut variants: Vec<(Family, Option<crate::workload::Spread>)> = Vec::new();
        for family in &families {
            if spreads.is_empty() {
                variants.push((family.clone(), None));
            }
            for &d in spreads {
                variants.push((family.clone(), Some(d)));
            }
        }
        let mut out = Vec::new();
        for (family, spread) in &variants {
            for &t_target in &t_targets {
                for &t_draft in &t_drafts {
                    for &zipf in &zipfs {
                        // The rows must be finite at the spread's largest value.
                        let at = match (spread, family) {
                            (Some(d), Family::LogitNoise { .. }) => {
                                Family::LogitNoise { sigma: d.upper() }
                            }
                            _ => family.clone(),
                        };
                        check_finite_rows(&at, vocab, t_target, t_draft, zipf)?;
                        out.push(StudyConfig {
                            workload: Workload {
                                family: family.clone(),
                                vocab,
                                t_target,
                                t_draft,
                                zipf,
                                spread: *spread,
                            },
                            k_values: k_values.clone(),
                            rounds,
                            seed,
                            recovery: self.recovery,
                            rules: rules.clone(),
                            allow_unnormalized: self.allow_unnormalized,
                            stop: crate::study::stop::StopSettings {
                                policies: self.stop.clone(),
                                cap,
                                ..Default::default()
                            },
                        });
                    }
                }
            }
        }
        Ok(out)
    }
}
