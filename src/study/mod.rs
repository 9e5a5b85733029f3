//! Acceptance-rate studies (SPEC §4, §5): workloads generated on the device that runs them, the
//! lazy verification on either engine, and the metrics compared with the exact theory.
//!
//! One configuration is run once at K_max = the largest K asked for; the result at any smaller K
//! follows exactly (the number accepted at K is min(first rejection, K), and the bonus row of a
//! round at K is the target row at position K), so a sweep over K shares its rounds (common random
//! numbers). Rounds are streamed in chunks; memory does not grow with the number of rounds.

pub mod block;
pub mod options;
pub mod report;
pub mod run;
pub mod workload;

use serde::Serialize;

use crate::batch::{Batch, BatchResult};
use crate::compare::{VerifyReport, compare_engines, compare_reference_mode_rule};
use crate::cpu::{CpuEngine, Recovery, RecoveryMode};
use crate::error::{Error, Result};
use crate::gpu::GpuContext;
use crate::gpu::study::Generation;
use crate::npyio::BatchFile;
use crate::rule::Rule;
pub use workload::{Family, Workload};

/// Everything one study configuration needs.
#[derive(Clone, Debug, Serialize)]
pub struct StudyConfig {
    /// What is generated.
    pub workload: Workload,
    /// The K values reported (the run uses the largest).
    pub k_values: Vec<usize>,
    /// Rounds (ignored by `file`, which uses the file's N).
    pub rounds: u64,
    /// Seed of every random number.
    pub seed: u64,
    /// Recovery mode.
    pub recovery: RecoveryMode,
    /// The verification rules run on the same rounds (the token rule always runs: its tally
    /// carries the workload's betas and block's gain is measured against it).
    pub rules: Vec<Rule>,
    /// `file`: accept distributions that do not sum to 1 (raw model dumps).
    #[serde(default)]
    pub allow_unnormalized: bool,
}

impl StudyConfig {
    /// K_max.
    pub fn k_max(&self) -> usize {
        self.k_values.iter().copied().max().unwrap_or(1)
    }

    /// What the GPU generates for this configuration.
    pub fn generation(&self) -> Generation<'_> {
        Generation {
            workload: &self.workload,
            seed: self.seed,
            recovery: self.recovery,
        }
    }

    /// The K values, increasing, without repeats.
    pub fn sorted_ks(&self) -> Vec<usize> {
        let mut ks = self.k_values.clone();
        ks.sort_unstable();
        ks.dedup();
        ks
    }
}

/// What one study configuration measured: the token rule's tally, and block's when asked for.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct StudyTallies {
    /// The token rule at K_max (every smaller K follows).
    pub token: Tally,
    /// Block verification at every K.
    pub block: Option<block::BlockTally>,
}

/// Sufficient statistics of a run at K_max, from which every metric at every K ≤ K_max follows.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Tally {
    /// K_max.
    pub k: usize,
    /// Rounds.
    pub rounds: u64,
    /// Rounds by number accepted at K_max (length K_max + 1).
    pub hist: Vec<u64>,
    /// Sum over rounds of beta_i (length K_max).
    pub beta_sum: Vec<f64>,
    /// Sum over rounds of E[accepted at K | the round's distributions] for K = 0..=K_max:
    /// sum_{k<=K} prod_{i<k} beta_i (SPEC §5).
    pub exact_accepted_sum: Vec<f64>,
}

impl Tally {
    /// An empty tally for K_max = k.
    pub fn new(k: usize) -> Tally {
        Tally {
            k,
            rounds: 0,
            hist: vec![0; k + 1],
            beta_sum: vec![0.0; k],
            exact_accepted_sum: vec![0.0; k + 1],
        }
    }

    /// Adds rounds with these numbers accepted and (rounds × K) betas.
    pub fn add(&mut self, accepted: &[u32], betas: &[f32]) {
        let k = self.k;
        for (r, &a) in accepted.iter().enumerate() {
            self.hist[a as usize] += 1;
            let mut prod = 1.0f64;
            let mut e = 0.0f64;
            for i in 0..k {
                let b = betas[r * k + i] as f64;
                self.beta_sum[i] += b;
                prod *= b;
                e += prod;
                self.exact_accepted_sum[i + 1] += e;
            }
        }
        self.rounds += accepted.len() as u64;
    }
}

/// The metrics of one configuration at one K.
#[derive(Clone, Debug, Serialize)]
pub struct Metrics {
    /// K.
    pub k: usize,
    /// Rounds.
    pub rounds: u64,
    /// Mean accepted drafts per round.
    pub mean_accepted: f64,
    /// Mean tokens generated per round (the mean acceptance length): accepted + 1.
    pub mean_generated: f64,
    /// Standard deviation of the tokens generated per round.
    pub sd_generated: f64,
    /// 99% confidence interval of `mean_generated` (normal approximation).
    pub ci99_low: f64,
    /// Upper end.
    pub ci99_high: f64,
    /// `1 + E[accepted]` from the exact betas of the generated distributions (SPEC §5).
    pub exact_mean_generated: f64,
    /// Whether the exact value lies inside the 99% interval.
    pub within_ci99: bool,
    /// Whether the interval is defined: it needs at least 2 rounds (with one, the standard
    /// deviation is unknown and `within_ci99` is false; reports show "n/a").
    pub ci_defined: bool,
    /// Mean of accepted / K.
    pub mean_acceptance_rate: f64,
    /// Leviathan's alpha: the mean exact beta over positions 0..K.
    pub alpha: f64,
    /// Leviathan's expected generated tokens (1 − alpha^(K+1)) / (1 − alpha).
    pub leviathan_mean_generated: f64,
    /// P[position i accepted | position i reached], i < K.
    pub per_position_conditional: Vec<f64>,
    /// P[position i accepted], i < K.
    pub per_position_unconditional: Vec<f64>,
    /// Exact beta_i averaged over rounds, i < K.
    pub exact_beta: Vec<f64>,
    /// Rounds by number accepted (length K + 1).
    pub histogram: Vec<u64>,
    /// The verification rule.
    pub rule: Rule,
    /// What `exact_mean_generated` is: [`EXACT_GIVEN_ROWS`] (exact given the rounds' rows;
    /// drafted tokens and coins integrated out) or [`ESTIMATE_SUM_OF_SURVIVALS`] (block without
    /// enumeration: an unbiased estimate of that, not an exact value).
    pub exact_given: &'static str,
    /// Block verification: the mean gain over the token rule on the same rounds, in tokens
    /// generated per round, with its 99% interval (paired differences).
    pub gain_over_token: Option<Gain>,
}

/// `exact_mean_generated` given the rows: drafted tokens and coins integrated out.
pub const EXACT_GIVEN_ROWS: &str = "rows";
/// Block without enumeration: `exact_mean_generated` is `1 + Σ_{i≤K} P_i` averaged over the
/// rounds, an unbiased estimate of the expectation given the rows (E[tau | rows] = Σ_i E[P_i],
/// the drafts drawn from the draft rows), not an exact value.
pub const ESTIMATE_SUM_OF_SURVIVALS: &str = "estimate:sum_P";

/// A paired difference between two rules on the same rounds.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Gain {
    /// Mean difference (tokens per round).
    pub mean: f64,
    /// 99% interval, low end.
    pub ci99_low: f64,
    /// High end.
    pub ci99_high: f64,
}

impl Gain {
    /// From the sum and the sum of squares of `n` paired differences; with fewer than 2 the
    /// interval is undefined (NaN ends, shown as n/a).
    pub fn from_sums(sum: f64, sum_sq: f64, n: u64) -> Gain {
        let nf = n.max(1) as f64;
        let mean = sum / nf;
        let var = ((sum_sq - nf * mean * mean) / (nf - 1.0).max(1.0)).max(0.0);
        let half = if n < 2 {
            f64::NAN
        } else {
            Z99 * var.sqrt() / nf.sqrt()
        };
        Gain {
            mean,
            ci99_low: mean - half,
            ci99_high: mean + half,
        }
    }
}

/// How far the float32 rounding of the generated rows' betas (each a sum of V float32 terms) may
/// move an exact expectation, per position: `within_ci99` accepts |mean − exact| ≤ the interval's
/// half-width plus K times this. It matters only where the interval has (nearly) zero width, as
/// when every round accepts every draft (sigma = 0, lambda = 0, or one round).
pub const EXACT_TOLERANCE_PER_POSITION: f64 = 1.0 / 65536.0;

/// [`EXACT_TOLERANCE_PER_POSITION`] times K.
pub fn exact_tolerance(k: usize) -> f64 {
    k as f64 * EXACT_TOLERANCE_PER_POSITION
}

/// The half-width used when every round gave the same count (the sample's standard deviation is
/// 0, so the normal interval has no width): the rule of three at 99%. Seeing no other count in N
/// rounds bounds the probability of any other count by ln(100)/N, and so the mean's distance from
/// its expectation by K·ln(100)/N.
pub fn zero_width_half(k: usize, rounds: u64) -> f64 {
    k as f64 * 100f64.ln() / rounds.max(1) as f64
}

/// z for a two-sided 99% interval.
pub const Z99: f64 = 2.575_829_303_548_901;

/// Leviathan et al.'s expected tokens per round with acceptance rate `alpha`.
pub fn leviathan_generated(alpha: f64, k: usize) -> f64 {
    if (1.0 - alpha).abs() < 1e-12 {
        (k + 1) as f64
    } else {
        (1.0 - alpha.powi(k as i32 + 1)) / (1.0 - alpha)
    }
}

/// Expected walltime improvement with `generated` tokens per round, K drafts and cost ratio c.
pub fn walltime_improvement(generated: f64, k: usize, c: f64) -> f64 {
    generated / (k as f64 * c + 1.0)
}

impl Tally {
    /// The token rule's metrics at K (≤ K_max).
    pub fn metrics(&self, k: usize) -> Metrics {
        let mut hist = vec![0u64; k + 1];
        for (a, &c) in self.hist.iter().enumerate() {
            hist[a.min(k)] += c;
        }
        self.metrics_with(k, hist, self.exact_accepted_sum[k])
    }

    /// Metrics at K from a histogram of the number accepted at K (any rule, on this tally's
    /// rounds) and the sum over rounds of that rule's exact expected number accepted; alpha, the
    /// exact betas and Leviathan's curve come from this tally (properties of the workload).
    pub fn metrics_with(&self, k: usize, hist: Vec<u64>, exact_accepted_sum: f64) -> Metrics {
        let n = self.rounds.max(1) as f64;
        let mean_acc = hist
            .iter()
            .enumerate()
            .map(|(a, &c)| a as f64 * c as f64)
            .sum::<f64>()
            / n;
        let var = hist
            .iter()
            .enumerate()
            .map(|(a, &c)| (a as f64 - mean_acc).powi(2) * c as f64)
            .sum::<f64>()
            / (n - 1.0).max(1.0);
        let sd = var.sqrt();
        let half = if sd == 0.0 {
            zero_width_half(k, self.rounds)
        } else {
            Z99 * sd / n.sqrt()
        };
        let mean_gen = mean_acc + 1.0;
        let exact = 1.0 + exact_accepted_sum / n;
        let reached = |i: usize| hist[i..].iter().sum::<u64>() as f64;
        let passed = |i: usize| hist[i + 1..].iter().sum::<u64>() as f64;
        let exact_beta: Vec<f64> = self.beta_sum[..k].iter().map(|b| b / n).collect();
        let alpha = if k == 0 {
            0.0
        } else {
            exact_beta.iter().sum::<f64>() / k as f64
        };
        Metrics {
            k,
            rounds: self.rounds,
            mean_accepted: mean_acc,
            mean_generated: mean_gen,
            sd_generated: sd,
            ci99_low: mean_gen - half,
            ci99_high: mean_gen + half,
            exact_mean_generated: exact,
            within_ci99: self.rounds >= 2 && (mean_gen - exact).abs() <= half + exact_tolerance(k),
            ci_defined: self.rounds >= 2,
            mean_acceptance_rate: if k == 0 { 0.0 } else { mean_acc / k as f64 },
            alpha,
            leviathan_mean_generated: leviathan_generated(alpha, k),
            per_position_conditional: (0..k)
                .map(|i| {
                    let r = reached(i);
                    if r > 0.0 { passed(i) / r } else { f64::NAN }
                })
                .collect(),
            per_position_unconditional: (0..k).map(|i| passed(i) / n).collect(),
            exact_beta,
            histogram: hist,
            rule: Rule::Token,
            exact_given: EXACT_GIVEN_ROWS,
            gain_over_token: None,
        }
    }
}

/// Which engine runs a study.
pub enum StudyEngine<'a> {
    /// The CPU engine (workloads generated in Rust).
    Cpu,
    /// The GPU engine (workloads generated on the device).
    Gpu(&'a mut GpuContext),
}

/// Rounds per chunk for (K, V): about 128 MiB of rows, at least 1, at most 65536.
pub fn chunk_rounds(k: usize, v: usize) -> usize {
    ((128usize << 20) / ((2 * k + 1) * v * 4).max(1)).clamp(1, 65536)
}

/// Runs one configuration with the token rule and returns its tally; `progress(rounds_done)` is
/// called per chunk.
pub fn run_study(
    cfg: &StudyConfig,
    engine: &mut StudyEngine,
    progress: impl FnMut(u64),
) -> Result<Tally> {
    let token_only = StudyConfig {
        rules: vec![Rule::Token],
        ..cfg.clone()
    };
    Ok(run_study_rules(&token_only, engine, progress)?.token)
}

/// Runs one configuration under every rule of `cfg.rules` on the same rounds.
pub fn run_study_rules(
    cfg: &StudyConfig,
    engine: &mut StudyEngine,
    mut progress: impl FnMut(u64),
) -> Result<StudyTallies> {
    let k = cfg.k_max();
    let w = &cfg.workload;
    let mut tally = Tally::new(k);
    let mut btally = if cfg.rules.contains(&Rule::Block) {
        if matches!(w.family, Family::Rates { .. }) {
            return Err(Error::Config(
                "--rule block needs distributions: the rates family has none (use logit-noise, mixture, quantized or file)".into(),
            ));
        }
        Some(block::BlockTally::new(&cfg.sorted_ks(), w.vocab))
    } else {
        None
    };
    if let Family::File { path } = &w.family {
        let file = BatchFile::open(std::path::Path::new(path))?;
        let view = file.view()?;
        if view.k < k {
            return Err(Error::Config(format!(
                "{path} has K = {}, less than the largest K asked for ({k})",
                view.k
            )));
        }
        if view.n == 0 {
            return Err(Error::Config(format!(
                "{path} has no rounds (N = 0): a study needs at least one"
            )));
        }
        let opts = crate::round::RoundOptions {
            allow_unnormalized: cfg.allow_unnormalized,
            ..Default::default()
        };
        view.validate(&opts, crate::batch::Validation::Full)?;
        if let Some(bt) = &mut btally {
            // The file's vocabulary decides whether its rounds can be enumerated.
            *bt = block::BlockTally::new(&cfg.sorted_ks(), view.v);
        }
        let rec = Recovery {
            mode: cfg.recovery,
            seed: cfg.seed,
            round_offset: 0,
        };
        let res = match engine {
            StudyEngine::Cpu => CpuEngine {
                recovery: rec,
                ..Default::default()
            }
            .run(&view)?,
            StudyEngine::Gpu(g) => {
                g.recovery = rec;
                g.run(&view)?
            }
        };
        let betas = crate::batch::exact_betas(&view);
        // Accepted at the file's K, capped at K_max; betas of the first K_max positions.
        let acc: Vec<u32> = res.num_accepted.iter().map(|&a| a.min(k as u32)).collect();
        let b: Vec<f32> = betas
            .chunks(view.k.max(1))
            .flat_map(|row| row[..k].iter().map(|&x| x as f32))
            .collect();
        tally.add(&acc, &b);
        if let Some(bt) = &mut btally {
            // In chunks, so that memory stays bounded by the chunk, not the file.
            let chunk = chunk_rounds(k, view.v);
            let mut r0 = 0;
            while r0 < view.n {
                let m = chunk.min(view.n - r0);
                let part = Batch::from_view(&view, r0, m, k);
                let gpu = match engine {
                    StudyEngine::Gpu(g) => Some(&mut **g),
                    StudyEngine::Cpu => None,
                };
                block::add_view(bt, cfg, gpu, &part.view(), r0 as u64, &acc[r0..r0 + m])?;
                bt.rounds += m as u64;
                r0 += m;
            }
        }
        progress(view.n as u64);
        return Ok(StudyTallies {
            token: tally,
            block: btally,
        });
    }
    let rates_family = matches!(w.family, Family::Rates { .. });
    let mut chunk = if rates_family {
        1 << 20
    } else {
        chunk_rounds(k, w.vocab)
    } as u64;
    if let StudyEngine::Gpu(g) = engine {
        // Never more rounds than the adapter's bindings hold.
        chunk = chunk.min(g.rounds_per_chunk(k, if rates_family { 1 } else { w.vocab })? as u64);
    }
    let mut r0 = 0u64;
    while r0 < cfg.rounds {
        let m = chunk.min(cfg.rounds - r0) as usize;
        let (acc, betas, batch) = run_chunk(cfg, engine, r0, m, btally.is_some())?;
        tally.add(&acc, &betas);
        if let Some(bt) = &mut btally {
            block::add_chunk(bt, cfg, engine, r0, m, batch.as_ref(), &acc)?;
        }
        r0 += m as u64;
        progress(m as u64);
    }
    Ok(StudyTallies {
        token: tally,
        block: btally,
    })
}

/// Runs rounds `r0..r0 + m` of a generated configuration with the token rule: (accepted per
/// round, betas, and the CPU-generated batch when `keep`).
fn run_chunk(
    cfg: &StudyConfig,
    engine: &mut StudyEngine,
    r0: u64,
    m: usize,
    keep: bool,
) -> Result<(Vec<u32>, Vec<f32>, Option<Batch>)> {
    let k = cfg.k_max();
    let w = &cfg.workload;
    if matches!(w.family, Family::Rates { .. }) {
        let acc = match engine {
            StudyEngine::Cpu => workload::rates_chunk(w, cfg.seed, r0, m, k),
            StudyEngine::Gpu(g) => g.study_rates(&cfg.generation(), r0, m, k)?,
        };
        let betas: Vec<f32> = (0..m).flat_map(|_| (0..k).map(|i| w.rate(i))).collect();
        return Ok((acc, betas, None));
    }
    match engine {
        StudyEngine::Cpu => {
            let (batch, betas) = workload::generate_chunk(w, cfg.seed, r0, m, k);
            let res = cpu_engine(cfg, r0).run(&batch.view())?;
            Ok((res.num_accepted, betas, keep.then_some(batch)))
        }
        StudyEngine::Gpu(g) => {
            let (acc, betas, _) = g.study_chunk(&cfg.generation(), Rule::Token, r0, m, k, false)?;
            Ok((acc, betas, None))
        }
    }
}

fn cpu_engine(cfg: &StudyConfig, r0: u64) -> CpuEngine {
    CpuEngine {
        recovery: Recovery {
            mode: cfg.recovery,
            seed: cfg.seed,
            round_offset: r0,
        },
        ..Default::default()
    }
}

/// Replay (`specsim verify --study`): runs the first `sample` rounds of a configuration on the GPU,
/// reads back every generated round and the GPU's decisions, and re-decides them with the CPU
/// engine (same recovery mode) and the f64 reference (acceptance decisions; tokens too in argmax
/// mode). For the `rates` family the CPU recomputes the same coins. The rule is the first of
/// `cfg.rules`, at K_max.
pub fn replay(cfg: &StudyConfig, g: &mut GpuContext, sample: u64) -> Result<VerifyReport> {
    let k = cfg.k_max();
    let w = &cfg.workload;
    let rule = cfg.rules.first().copied().unwrap_or_default();
    if rule != Rule::Token && matches!(w.family, Family::Rates { .. }) {
        return Err(Error::Config(format!(
            "--rule {rule} needs distributions: the rates family has none"
        )));
    }
    let mut report = VerifyReport {
        rule,
        engines: vec!["cpu".into(), "gpu".into()],
        adapter: Some(crate::gpu::describe(g.adapter_info())),
        ..Default::default()
    };
    let n = sample.min(cfg.rounds);
    if matches!(w.family, Family::File { .. }) {
        return Err(Error::Config(
            "--study replays generated workloads; for a file use `specsim verify FILE`".into(),
        ));
    }
    let chunk = (chunk_rounds(k, w.vocab) as u64).min(g.rounds_per_chunk(k, w.vocab)? as u64);
    let mut r0 = 0;
    while r0 < n {
        let m = chunk.min(n - r0) as usize;
        if let Family::Rates { .. } = w.family {
            let gpu = g.study_rates(&cfg.generation(), r0, m, k)?;
            let cpu = workload::rates_chunk(w, cfg.seed, r0, m, k);
            let as_result = |acc: Vec<u32>| BatchResult {
                k,
                tokens: acc.iter().flat_map(|_| vec![-1; k + 1]).collect(),
                num_accepted: acc,
            };
            compare_engines(&as_result(cpu), &as_result(gpu), r0, &mut report);
        } else {
            let (_, _, kept) = g.study_chunk(&cfg.generation(), rule, r0, m, k, true)?;
            let (batch, gpu_res) = kept.expect("kept");
            let view = batch.view();
            let cpu = cpu_engine(cfg, r0).run_rule(&view, rule)?;
            compare_engines(&cpu, &gpu_res, r0, &mut report);
            compare_reference_mode_rule(&view, &cpu, rule, cfg.recovery, r0, &mut report);
        }
        report.rounds += m as u64;
        r0 += m as u64;
    }
    Ok(report)
}
