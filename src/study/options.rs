//! Every option of a study as values, checked and expanded into configurations in one place, for
//! the command line (`specsim study`, `verify --study`) and the Python package alike. Messages
//! name the command line's flags, which are also the Python keywords (`--t-target` is
//! `t_target`).

use std::path::PathBuf;

use super::{Family, StudyConfig, Workload};
use crate::error::{Error, Result};
use crate::rule::{RecoveryMode, Rule};

/// The workload family asked for, before its parameters are expanded (the command line's
/// `--family` values).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
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
#[derive(Clone, Debug)]
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
        }
    }
}

/// What a study runs: chain configurations over K, or tree configurations.
#[derive(Clone, Debug)]
pub enum Plan {
    /// A chain study.
    Chain(Vec<StudyConfig>),
    /// A tree study.
    Tree(Vec<crate::study::tree::TreeStudyConfig>),
}

impl Plan {
    /// Rounds run in all (each rule of a tree configuration counted).
    pub fn rounds(&self) -> u64 {
        match self {
            Plan::Chain(c) => c.iter().map(|c| c.rounds).sum(),
            Plan::Tree(c) => c.iter().map(|c| c.rounds * c.rules.len() as u64).sum(),
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
            if b > 1024 {
                return Err(bad(format!("K = {b} is too large (at most 1024)")));
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

/// `x` as the float32 the generators compute with; refused where float32 cannot hold it.
fn to_f32(name: &str, x: f64) -> Result<f32> {
    let y = x as f32;
    if x.is_finite() && y.is_infinite() {
        return Err(Error::Config(format!(
            "--{name}: {x:e} overflows float32 (the largest float32 is 3.4028235e38)"
        )));
    }
    if x != 0.0 && y == 0.0 {
        return Err(Error::Config(format!(
            "--{name}: {x:e} underflows float32 to 0 (the smallest positive float32 is 1e-45)"
        )));
    }
    Ok(y)
}

/// The largest |standard normal| the generators can draw: Box–Muller on a 32-bit uniform
/// u1 ≥ 2^-32 gives at most sqrt(−2 ln 2^-32) = 6.66.
pub const MAX_NORMAL: f64 = 6.7;

/// Refuses parameters for which a generated logit could leave float32 (which would make the
/// generated rows NaN): |z| ≤ [`MAX_NORMAL`], plus sigma · [`MAX_NORMAL`] and zipf · ln(1 + V),
/// divided by the temperature, must stay below float32's largest value (with a margin of 4 for
/// the softmax's subtraction).
fn check_finite_rows(
    family: &Family,
    vocab: usize,
    t_target: f32,
    t_draft: f32,
    zipf: f32,
) -> Result<()> {
    let tail = zipf as f64 * (1.0 + vocab as f64).ln();
    let sigma = match family {
        Family::LogitNoise { sigma } => *sigma,
        _ => 0.0,
    };
    let limit = f32::MAX as f64 / 4.0;
    for (name, t, reach) in [
        ("t-target", t_target, MAX_NORMAL + tail),
        ("t-draft", t_draft, MAX_NORMAL * (1.0 + sigma as f64) + tail),
    ] {
        let top = reach / t as f64;
        if top.is_nan() || top >= limit {
            let with_sigma = match family {
                Family::LogitNoise { .. } => format!(" --sigma {}", short(sigma)),
                _ => String::new(),
            };
            return Err(Error::Config(format!(
                "--{name} {t} with{with_sigma} --zipf {zipf}: the generated logits would reach {top:.3e}, beyond float32 (3.4e38), and the rows would not be finite",
                t = short(t),
                zipf = short(zipf),
            )));
        }
    }
    Ok(())
}

/// A float32 in its shortest form, in scientific notation when very large or small.
fn short(x: f32) -> String {
    if x == 0.0 || (1e-4..1e6).contains(&x.abs()) {
        format!("{x}")
    } else {
        format!("{x:e}")
    }
}

/// The most bytes one round's rows may take in a generated workload (studies and `verify
/// --generate` hold at least one round in memory at a time).
pub const MAX_ROUND_BYTES: u64 = 1 << 30;

/// Refuses a K and V whose one round, `(2K + 1)·V` float32 values, would not fit
/// [`MAX_ROUND_BYTES`] (checked arithmetic: no size wraps around).
pub fn check_round_size(k: usize, vocab: usize) -> Result<()> {
    if vocab == 0 {
        return Err(Error::Config("--vocab must be at least 1".into()));
    }
    let bytes = (2 * k as u64 + 1)
        .checked_mul(vocab as u64)
        .and_then(|x| x.checked_mul(4));
    match bytes {
        Some(b) if b <= MAX_ROUND_BYTES => Ok(()),
        _ => Err(Error::Config(format!(
            "--vocab {vocab} with K = {k}: one round's {} float32 rows would take more than {} MiB (at most V = {} at this K)",
            2 * k + 1,
            MAX_ROUND_BYTES >> 20,
            MAX_ROUND_BYTES / 4 / (2 * k as u64 + 1)
        ))),
    }
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
        let rules = self.rules.clone().unwrap_or_else(|| vec![Rule::Token]);
        if let Some(r) = rules.iter().find(|r| r.is_tree()) {
            return cfg(format!(
                "--rule {r} is a tree rule: a tree study needs --tree SPEC (e.g. --tree chain:8 for a chain, --tree kary:2,3)"
            ));
        }
        let k_values = check_k(self.k.clone().unwrap_or_else(|| default_k.to_vec()))?;
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
        let families: Vec<Family> = match self.family {
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
        let mut out = Vec::new();
        for family in &families {
            for &t_target in &t_targets {
                for &t_draft in &t_drafts {
                    for &zipf in &zipfs {
                        check_finite_rows(family, vocab, t_target, t_draft, zipf)?;
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
                            rules: rules.clone(),
                            allow_unnormalized: self.allow_unnormalized,
                        });
                    }
                }
            }
        }
        Ok(out)
    }
}

impl StudyOptions {
    /// The study these options ask for: a tree study when trees are given or the `file` family's
    /// batch is a tree batch (its rounds, its trees), otherwise a chain study over K (a file's
    /// study over 1..=its K unless `k` says otherwise). Every default is
    /// [`StudyOptions::default`]'s.
    pub fn plan(&self) -> Result<Plan> {
        let d = StudyOptions::default();
        let vocab = self.vocab.or(d.vocab).unwrap_or(2048);
        let rounds = self.rounds.or(d.rounds).unwrap_or(10_000);
        let seed = self.seed.or(d.seed).unwrap_or(7);
        let file = match (self.family, &self.batch) {
            (FamilyKind::File, Some(p)) => Some(crate::npyio::BatchFile::open(p)?),
            _ => None,
        };
        if let Some(f) = &file
            && f.is_tree()
        {
            return self.file_tree_plan(f, seed);
        }
        if !self.trees.is_empty() {
            return self.tree_plan(vocab, rounds, seed);
        }
        let default_k: Vec<usize> = match &file {
            Some(f) => (1..=f.view()?.k).collect(),
            None => DEFAULT_K.collect(),
        };
        Ok(Plan::Chain(self.configs(&default_k, vocab, rounds, seed)?))
    }

    /// The rules of a tree study: those given (tree rules only) or every tree rule.
    fn tree_rules(&self) -> Result<Vec<Rule>> {
        let rules = self.rules.clone().unwrap_or_else(|| Rule::TREE.to_vec());
        if let Some(r) = rules.iter().find(|r| !r.is_tree()) {
            return Err(Error::Config(format!(
                "--rule {r} is a chain rule: a tree study runs the tree rules ({})",
                Rule::TREE.map(Rule::name).join(", ")
            )));
        }
        Ok(rules)
    }

    /// A tree study of generated rows: every workload × every tree (and, beside each tree, the
    /// chain of the same node count).
    fn tree_plan(&self, vocab: usize, rounds: u64, seed: u64) -> Result<Plan> {
        use crate::topology::shape::TreeShape;
        if matches!(self.family, FamilyKind::Rates | FamilyKind::File) {
            return Err(Error::Config(
                "a tree study generates its rows: use --family logit-noise, mixture or quantized (or --family file with a tree batch, without --tree)".into(),
            ));
        }
        let rules = self.tree_rules()?;
        let mut shapes: Vec<TreeShape> = self
            .trees
            .iter()
            .map(|s| s.parse())
            .collect::<Result<_>>()?;
        let base = StudyOptions {
            rules: Some(vec![Rule::Token]),
            k: None,
            ..self.clone()
        }
        .configs(&[1], vocab, rounds, seed)?;
        let largest = shapes.iter().map(|s| s.tree.len()).max().unwrap_or(1);
        check_round_size(largest, vocab)?;
        let mut seen = std::collections::HashSet::new();
        shapes.retain(|s| seen.insert(s.spec.clone()));
        // The chain of the same node count beside each tree, for comparison.
        for i in 0..shapes.len() {
            let n = shapes[i].tree.len();
            if !shapes[i].tree.is_path()
                && !shapes.iter().any(|s| s.tree.is_path() && s.tree.len() == n)
            {
                shapes.push(format!("chain:{}", n - 1).parse()?);
            }
        }
        let mut out = Vec::new();
        for c in base {
            for shape in &shapes {
                out.push(crate::study::tree::TreeStudyConfig {
                    workload: c.workload.clone(),
                    tree: shape.clone(),
                    rules: rules.clone(),
                    rounds: c.rounds,
                    seed: c.seed,
                    recovery: c.recovery,
                    allow_unnormalized: false,
                });
            }
        }
        Ok(Plan::Tree(out))
    }

    /// A tree study of a tree batch file: its rounds under every tree rule asked for.
    fn file_tree_plan(&self, file: &crate::npyio::BatchFile, seed: u64) -> Result<Plan> {
        use crate::batch::Topology;
        use crate::topology::shape::TreeShape;
        if !self.trees.is_empty() {
            return Err(Error::Config(
                "--tree: a tree batch file carries its own parents; give no --tree with it".into(),
            ));
        }
        let rules = self.tree_rules()?;
        let rounds = file.rounds()?;
        let path = self.batch.as_ref().map(|p| p.display().to_string());
        let path = path.unwrap_or_default();
        let mut scratch = crate::topology::Tree::default();
        let tree = match rounds.topology {
            Topology::PerRound(_) => TreeShape {
                spec: crate::study::tree::PER_ROUND.into(),
                tree: rounds.tree(0, &mut scratch).clone(),
            },
            t => {
                let tree = t.shared(&mut scratch).expect("a shared tree").clone();
                TreeShape {
                    spec: format!("file:{path}"),
                    tree,
                }
            }
        };
        Ok(Plan::Tree(vec![crate::study::tree::TreeStudyConfig {
            workload: Workload {
                family: Family::File { path },
                vocab: rounds.v,
                t_target: 1.0,
                t_draft: 1.0,
                zipf: 0.0,
            },
            tree,
            rules,
            rounds: rounds.n as u64,
            seed,
            recovery: self.recovery,
            allow_unnormalized: self.allow_unnormalized,
        }]))
    }
}
