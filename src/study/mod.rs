//! Acceptance-rate studies (SPEC §4, §5): workloads generated on the device that runs them, the
//! lazy verification on either engine, and the metrics compared with the exact theory.
//!
//! One configuration is run once at K_max = the largest K asked for; the result at any smaller K
//! follows exactly (the number accepted at K is min(first rejection, K), and the bonus row of a
//! round at K is the target row at position K), so a sweep over K shares its rounds (common random
//! numbers). Rounds are streamed in chunks; memory does not grow with the number of rounds.
//!
//! That holds for the token rule, the base of every study. Every other chain rule (block) is
//! measured at every K on the same rounds (`per_k.rs`), with the theory its `ChainStudy` gives.

mod block;
pub mod distortion;
mod metrics;
pub mod optimal;
pub mod options;
pub mod per_k;
pub mod report;
pub mod row;
pub mod run;
pub mod shard;
pub mod stop;
pub mod tree;
pub mod workload;

use serde::Serialize;

use crate::batch::Rounds;
use crate::batch::{Batch, Outcomes};
use crate::chunk::chunks;
use crate::compare::{VerifyReport, compare_engines, compare_reference_mode_rule};
use crate::cpu::{CpuEngine, Recovery, RecoveryMode};
use crate::engine::{Engine, StudyRequest};
use crate::error::{Error, Result};
use crate::gpu::GpuContext;
use crate::npyio::BatchFile;
use crate::rule::Rule;
use crate::workload::Generation;
pub use metrics::*;
pub use per_k::{ChainStudy, RuleTally};
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
    /// Stopping policies run on the token rule's rounds at K_max (`--stop`).
    #[serde(default, skip_serializing_if = "stop::StopSettings::is_empty")]
    pub stop: stop::StopSettings,
}

impl StudyConfig {
    /// K_max.
    pub fn k_max(&self) -> usize {
        let k = self.k_values.iter().copied().max().unwrap_or(1);
        k.max(self.stop.cap)
    }

    /// The stopping policies' cap K (`--k-max`, or the largest K).
    pub fn stop_cap(&self) -> usize {
        if self.stop.cap > 0 {
            self.stop.cap
        } else {
            self.k_max()
        }
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

/// What one study configuration measured: the token rule's tally, and every other chain rule's
/// asked for.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct StudyTallies {
    /// The token rule at K_max (every smaller K follows).
    pub token: Tally,
    /// Every other chain rule of the configuration, measured at every K, in the order asked for.
    pub per_k: Vec<RuleTally>,
    /// Every stopping policy's, in the order asked for (cap K_max).
    pub stop: Vec<stop::StopTally>,
}

impl StudyTallies {
    /// The tally of `rule`, if it was measured at every K.
    pub fn rule(&self, rule: Rule) -> Option<&RuleTally> {
        self.per_k.iter().find(|t| t.rule == rule)
    }
}

/// The token rule is every study's base: one run at K_max gives every K.
impl per_k::ChainStudy for crate::rule::chain::Token {
    const PER_K: Option<per_k::PerK> = None;
}

/// Rounds per chunk for (K, V): the chunk budget's worth of rows
/// ([`crate::chunk::rounds_within_budget`]).
pub fn chunk_rounds(k: usize, v: usize) -> usize {
    crate::chunk::rounds_within_budget((2 * k + 1) * v * 4)
}

/// Runs one configuration with the token rule and returns its tally; `progress(rounds_done)` is
/// called per chunk.
pub fn run_study(
    cfg: &StudyConfig,
    engine: &mut dyn Engine,
    progress: impl FnMut(u64),
) -> Result<Tally> {
    let token_only = StudyConfig {
        rules: vec![Rule::Token],
        ..cfg.clone()
    };
    Ok(run_study_rules(&token_only, engine, progress)?.token)
}

/// Runs one configuration under every rule of `cfg.rules` on the same rounds, on any engine:
/// the engine generates and decides each chunk ([`Engine::study_chunk`]); only counts and
/// per-position terms come back.
pub fn run_study_rules(
    cfg: &StudyConfig,
    engine: &mut dyn Engine,
    progress: impl FnMut(u64),
) -> Result<StudyTallies> {
    run_study_rules_in(cfg, engine, 0..cfg.rounds, progress)
}

/// [`run_study_rules`] on the rounds `range` of the configuration only (a shard's part,
/// `study::shard`): the rounds are the same as in the whole run (every number is keyed by its
/// round), and the tallies' sums are order-independent, so the tallies of a configuration's
/// parts merge into exactly the whole's. `--family file` runs its whole file only.
pub fn run_study_rules_in(
    cfg: &StudyConfig,
    engine: &mut dyn Engine,
    range: std::ops::Range<u64>,
    mut progress: impl FnMut(u64),
) -> Result<StudyTallies> {
    let k = cfg.k_max();
    let w = &cfg.workload;
    let mut tally = Tally::new(k);
    let mut tallies: Vec<RuleTally> = Vec::new();
    for &rule in &cfg.rules {
        if per_k::per_k(rule)?.is_some() {
            if !w.family.has_distributions() {
                return Err(Error::Config(format!(
                    "--rule {rule} needs distributions: the rates family has none (use logit-noise, mixture, quantized or file)"
                )));
            }
            tallies.push(RuleTally::new(rule, &cfg.sorted_ks(), w.vocab));
        }
    }
    if let Family::File { path } = &w.family {
        if range != (0..cfg.rounds) {
            return Err(Error::Config(
                "--family file runs its whole file: it cannot be split into round ranges (shards)"
                    .into(),
            ));
        }
        return run_file(cfg, path, engine, tally, tallies, progress);
    }
    let rates_family = !w.family.has_distributions();
    // The rates family has no rows: a chunk is bounded by its counts.
    let v = if rates_family { 1 } else { w.vocab };
    let budget = if rates_family {
        1 << 20
    } else {
        chunk_rounds(k, w.vocab)
    };
    // Never more rounds than the engine's bindings hold.
    let chunk = budget.min(engine.study_cap(k, v)?);
    let per_k: Vec<(Rule, Vec<usize>)> = tallies.iter().map(|t| (t.rule, t.ks.clone())).collect();
    let keep_rows = tallies.iter().any(|t| t.enumerated_sum.is_some());
    let mut stops: Vec<stop::StopTally> = cfg
        .stop
        .policies
        .iter()
        .map(|&p| stop::StopTally::new(p, cfg.stop_cap()))
        .collect();
    if cfg
        .stop
        .policies
        .contains(&crate::reference::adaptive::Policy::Bellman)
        && cfg.stop.bellman_thresholds.len() + 1 != cfg.stop_cap()
    {
        return Err(Error::Config(
            "--stop bellman: its thresholds are set from the study's first rounds (study::run::run_configs, or stop::theory) before the run".into(),
        ));
    }
    if !stops.is_empty() && !w.family.has_distributions() {
        return Err(Error::Config(
            "--stop needs distributions: the rates family has none (use logit-noise, mixture or quantized)".into(),
        ));
    }
    for (r0, m) in chunks(range.end.saturating_sub(range.start), chunk) {
        let r0 = range.start + r0;
        let out = engine.study_chunk(&StudyRequest {
            generation: cfg.generation(),
            r0,
            m,
            k_max: k,
            per_k: &per_k,
            keep_rows,
            stop_features: !stops.is_empty(),
        })?;
        tally.add(&out.accepted, &out.betas);
        for s in &mut stops {
            s.add(
                &out.accepted,
                &out.features,
                k,
                &cfg.stop.bellman_thresholds,
            );
        }
        for (bt, at) in tallies.iter_mut().zip(&out.per_k) {
            if let Some(rows) = &out.rows {
                bt.add_enumerated(&rows.view())?;
            }
            for (ki, (taus, surv)) in at.iter().enumerate() {
                bt.add(ki, taus, surv, &out.accepted);
            }
            bt.rounds += m as u64;
        }
        progress(m as u64);
    }
    Ok(StudyTallies {
        token: tally,
        per_k: tallies,
        stop: stops,
    })
}

/// [`run_study_rules`] on a batch file's rounds (`--family file`): the token rule at the file's
/// K (counted up to K_max), every other rule at every K on prefixes, in chunks.
fn run_file(
    cfg: &StudyConfig,
    path: &str,
    engine: &mut dyn Engine,
    mut tally: Tally,
    mut tallies: Vec<RuleTally>,
    mut progress: impl FnMut(u64),
) -> Result<StudyTallies> {
    let k = cfg.k_max();
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
    for bt in &mut tallies {
        // The file's vocabulary decides whether its rounds can be enumerated.
        *bt = RuleTally::new(bt.rule, &cfg.sorted_ks(), view.v);
    }
    let rec = Recovery {
        mode: cfg.recovery,
        seed: cfg.seed,
        round_offset: 0,
    };
    let res = engine.run(&Rounds::chain(&view), Rule::Token, rec)?;
    let betas = crate::batch::exact_betas(&view);
    // Accepted at the file's K, capped at K_max; betas of the first K_max positions.
    let acc: Vec<u32> = res.num_accepted.iter().map(|&a| a.min(k as u32)).collect();
    let b: Vec<f32> = betas
        .chunks(view.k.max(1))
        .flat_map(|row| row[..k].iter().map(|&x| x as f32))
        .collect();
    tally.add(&acc, &b);
    // In chunks, so that memory stays bounded by the chunk, not the file.
    for (r0, m) in chunks(view.n as u64, chunk_rounds(k, view.v)) {
        if tallies.is_empty() {
            break;
        }
        let r0 = r0 as usize;
        let part = Batch::from_view(&view, r0, m, k);
        for bt in &mut tallies {
            per_k::add_view(bt, cfg, engine, &part.view(), r0 as u64, &acc[r0..r0 + m])?;
            bt.rounds += m as u64;
        }
    }
    progress(view.n as u64);
    if !cfg.stop.policies.is_empty() {
        return Err(Error::Config(
            "--stop runs on generated families: a file's rounds carry no drafted-token features (use logit-noise, mixture or quantized)".into(),
        ));
    }
    Ok(StudyTallies {
        token: tally,
        per_k: tallies,
        stop: Vec::new(),
    })
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
    if rule != Rule::Token && !w.family.has_distributions() {
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
    if !w.family.is_generated() {
        return Err(Error::Config(
            "--study replays generated workloads; for a file use `specsim verify FILE`".into(),
        ));
    }
    let chunk = chunk_rounds(k, w.vocab).min(g.rounds_per_chunk(k, w.vocab)?);
    for (r0, m) in chunks(n, chunk) {
        if let Family::Rates { .. } = w.family {
            let gpu = g.study_rates(&cfg.generation(), r0, m, k)?;
            let cpu = workload::rates_chunk(w, cfg.seed, r0, m, k);
            let as_result = |acc: Vec<u32>| Outcomes {
                num_accepted: acc,
                ..Outcomes::chain(m, k)
            };
            compare_engines(&as_result(cpu), &as_result(gpu), r0, &mut report);
        } else {
            g.check_generation(w.vocab)?;
            let (_, _, kept) = g.study_chunk(
                &cfg.generation(),
                rule,
                r0,
                m,
                k,
                crate::gpu::study::Reads {
                    keep: true,
                    features: false,
                },
            )?;
            let (batch, mut gpu_res) = kept.expect("kept");
            let view = batch.view();
            let cpu = CpuEngine {
                recovery: Recovery {
                    mode: cfg.recovery,
                    seed: cfg.seed,
                    round_offset: r0,
                },
                ..Default::default()
            }
            .run_chain(&view, rule)?;
            // Rounds beyond the adapter's loop budget, finished by the CPU twin (counted).
            for r in gpu_res.unfinished() {
                let mut one = Outcomes::chain(1, k);
                one.tokens
                    .copy_from_slice(&cpu.tokens[r * (k + 1)..(r + 1) * (k + 1)]);
                one.num_accepted[0] = cpu.num_accepted[r];
                gpu_res.set_round(r, &one);
                report.gpu_rounds_finished_on_cpu += 1;
            }
            compare_engines(&cpu, &gpu_res, r0, &mut report);
            compare_reference_mode_rule(&view, &cpu, rule, cfg.recovery, r0, &mut report);
        }
        report.rounds += m as u64;
    }
    Ok(report)
}
