//! The `specsim` command line.

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};
use serde_json::json;

use specsim::Rule;
use specsim::batch::{BatchResult, BatchView, Validation};
use specsim::compare::{
    VerifyReport, adversarial_batch_rule, compare_engines, compare_reference_mode_rule,
};
use specsim::cpu::CpuEngine;
use specsim::cpu::{Recovery, RecoveryMode};
use specsim::gpu::{GpuContext, describe};
use specsim::npyio::{BatchFile, write_batch_dir, write_result_npz};
use specsim::round::{Outcome, RoundOptions, parse_round_json};
use specsim::study::{Family, StudyConfig, Workload};

const ROUND_HELP: &str = "\
Reads one round as JSON and prints the result as JSON.

Semantics (SPEC §1): for each drafted position i, with tok = draft_tokens[i],
p = target_probs[i][tok] and q = draft_probs[i][tok], the token is accepted iff
random_coins[i] < min(1, p/q) (strict). At the first rejection the replacement is
the argmax of max(0, target_probs[i] - draft_probs[i]) (ties to the lowest id; if that
residual is zero everywhere, the argmax of target_probs[i]) and the round stops. If all
K are accepted, the bonus token is the argmax of target_probs[K]. acceptance_rate is
accepted/K rounded like Python's round(x, 4). Computed in f64.

Example:
  echo '{\"draft_probs\": [[0.5, 0.5]], \"target_probs\": [[0.9, 0.1], [0.3, 0.7]],
         \"draft_tokens\": [1], \"random_coins\": [0.5]}' | specsim round
  {\"accepted_tokens\":[0],\"num_generated\":1,\"acceptance_rate\":0.0}";

#[derive(Parser)]
#[command(
    name = "specsim",
    version,
    about = "Exact CPU/GPU simulation of the speculative-decoding verification step"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum EngineChoice {
    /// A hardware GPU when one exists, otherwise the CPU (with a notice on stderr). (`verify` and
    /// `bench` also take a software adapter such as Mesa's lavapipe.)
    Auto,
    /// The CPU engine (all cores).
    Cpu,
    /// The GPU engine (an error when no adapter exists).
    Gpu,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Format {
    /// A human-readable summary.
    Table,
    /// The summary as one JSON object.
    Json,
    /// One seed-style JSON object per round.
    Jsonl,
}

#[derive(clap::Args, Clone, Copy)]
struct InputOpts {
    /// Accept distributions that do not sum to 1 (raw model dumps).
    #[arg(long)]
    allow_unnormalized: bool,
    /// Accept K = 0: a plain decode step (the output is the argmax of target_probs[0]).
    #[arg(long)]
    plain_decode: bool,
}

impl InputOpts {
    fn round_options(&self) -> RoundOptions {
        RoundOptions {
            allow_unnormalized: self.allow_unnormalized,
            allow_empty_draft: self.plain_decode,
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// One round from JSON (a file, or standard input when PATH is omitted or `-`).
    #[command(long_about = ROUND_HELP)]
    Round {
        /// The JSON file; `-` or nothing for standard input.
        path: Option<PathBuf>,
        /// Verification rule: `token` (SPEC §1) or `block` (block verification, SPEC §6).
        #[arg(long, default_value = "token", value_parser = parse_rule)]
        rule: Rule,
        #[command(flatten)]
        input: InputOpts,
    },
    /// Runs a batch (a directory of .npy files or an .npz) on one engine.
    Run {
        /// Batch directory (draft_probs.npy, target_probs.npy, draft_tokens.npy, random_coins.npy) or .npz.
        batch: PathBuf,
        /// Which engine computes.
        #[arg(long, value_enum, default_value_t = EngineChoice::Auto)]
        engine: EngineChoice,
        /// Write tokens [N, K+1] (padded with -1), num_accepted [N] and num_generated [N] here.
        #[arg(long)]
        out: Option<PathBuf>,
        /// What to print.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// `full` checks every value (SPEC §2); `touched` only what the algorithm reads.
        #[arg(long, value_enum, default_value_t = Validation::Full)]
        validate: Validation,
        /// Verification rule: `token` (SPEC §1) or `block` (block verification, SPEC §6).
        #[arg(long, default_value = "token", value_parser = parse_rule)]
        rule: Rule,
        /// Recovery at the first rejection and for the bonus: argmax (the seed's) or sample.
        #[arg(long, value_enum, default_value_t = RecoveryMode::Argmax)]
        recovery: RecoveryMode,
        /// Seed of the recovery randomness in `sample` mode.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        #[command(flatten)]
        input: InputOpts,
    },
    /// Measures the engines: rounds/s, GB/s and the ratio to the memory floor measured in the same run.
    Bench {
        /// A small grid (one shape, fewer repetitions): seconds, not minutes.
        #[arg(long)]
        quick: bool,
        /// Print the rows as JSON.
        #[arg(long)]
        json: bool,
        /// Engines to measure: `auto` measures the GPU too when an adapter exists.
        #[arg(long, value_enum, default_value_t = EngineChoice::Auto)]
        engine: EngineChoice,
    },
    /// Runs both engines and the f64 reference on a batch and reports every disagreement.
    Verify(VerifyArgs),
    /// Acceptance-rate studies: sweeps over K and workload parameters, checked against theory.
    #[command(long_about = STUDY_HELP)]
    Study(StudyCmd),
}

const STUDY_HELP: &str = "\
Sweeps the cartesian product of the given values, runs every configuration on one engine
(workloads generated on the device that runs them), and writes OUT/results.csv,
OUT/results.json and SVG plots (mean generated vs K with the exact and Leviathan curves,
per-position acceptance, expected speedup vs K per cost ratio). Without arguments it runs a
small default study (logit-noise, K = 1..8, sigma = 0.5,1, V = 2048, 10000 rounds).

Families: logit-noise (target = softmax(z/T_target), draft = softmax((z + sigma*e)/T_draft)),
mixture (draft = (1-lambda)*target + lambda*unrelated), quantized (draft = softmax of the
target's logits quantized to --bits), rates (per-position acceptance rates given directly),
file (a batch directory or .npz given with --batch). --zipf s adds -s*ln(1+id) to the logits.

Example:
  specsim study --family logit-noise --k 1..16 --sigma 0.25,0.5,1 --vocab 32000 \\
      --rounds 100000 --engine auto --seed 7 --cost-ratio 0.05,0.2 --out study/";

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum FamilyArg {
    LogitNoise,
    Mixture,
    Quantized,
    Rates,
    File,
}

/// Workload options shared by `study` and `verify --study` / `verify --generate`.
#[derive(clap::Args, Clone, Debug)]
struct WorkloadArgs {
    /// Workload family.
    #[arg(long, value_enum, default_value_t = FamilyArg::LogitNoise)]
    family: FamilyArg,
    /// K values: a list and/or ranges, e.g. `1..16` or `1,2,4,8` (study default 1..8; one value
    /// for verify, default 8).
    #[arg(long, value_name = "LIST")]
    k: Option<String>,
    /// logit-noise: noise scales of the draft's logits.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "0.5,1",
        value_name = "LIST"
    )]
    sigma: Vec<f32>,
    /// mixture: weights of the unrelated distribution.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "0.2,0.5",
        value_name = "LIST"
    )]
    lambda: Vec<f32>,
    /// quantized: bits of the quantized logits.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "4,8",
        value_name = "LIST"
    )]
    bits: Vec<u32>,
    /// rates: conditional acceptance rate of each position (the last repeats).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "0.8",
        value_name = "LIST"
    )]
    rates: Vec<f32>,
    /// Target temperatures.
    #[arg(long, value_delimiter = ',', default_value = "1", value_name = "LIST")]
    t_target: Vec<f32>,
    /// Draft temperatures.
    #[arg(long, value_delimiter = ',', default_value = "1", value_name = "LIST")]
    t_draft: Vec<f32>,
    /// Zipf exponents: the logits decay by s·ln(1 + token id), like an LM's (0 = off).
    #[arg(long, value_delimiter = ',', default_value = "0", value_name = "LIST")]
    zipf: Vec<f32>,
    /// file: the batch directory or .npz.
    #[arg(long = "batch", value_name = "PATH")]
    batch_path: Option<PathBuf>,
    /// Vocabulary size (study default 2048; verify default 32000).
    #[arg(long)]
    vocab: Option<usize>,
    /// Rounds per configuration (study default 10000).
    #[arg(long)]
    rounds: Option<u64>,
    /// Seed of every random number (study default 7; verify default 1).
    #[arg(long)]
    seed: Option<u64>,
    /// Recovery at the first rejection and for the bonus: argmax (the seed's) or sample (lossless).
    #[arg(long, value_enum, default_value_t = RecoveryMode::Argmax)]
    recovery: RecoveryMode,
    /// Verification rules: `token` (SPEC §1) and/or `block` (SPEC §6), e.g. `token,block`
    /// (a study runs every rule on the same rounds; verify takes one).
    #[arg(long, default_value = "token", value_name = "LIST")]
    rule: String,
}

#[derive(clap::Args)]
struct StudyCmd {
    #[command(flatten)]
    w: WorkloadArgs,
    /// Which engine runs the study.
    #[arg(long, value_enum, default_value_t = EngineChoice::Auto)]
    engine: EngineChoice,
    /// Draft/target cost ratios c for the expected walltime improvement.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "0.05,0.2",
        value_name = "LIST"
    )]
    cost_ratio: Vec<f64>,
    /// Output directory.
    #[arg(long, default_value = "study")]
    out: PathBuf,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

#[derive(clap::Args)]
struct VerifyArgs {
    /// Batch directory or .npz (omit with --generate or --study).
    batch: Option<PathBuf>,
    /// Generate this many adversarial rounds instead of reading a batch.
    #[arg(long, value_name = "N")]
    generate: Option<u64>,
    /// Replay a GPU study: run the configuration given by the workload options on the GPU, read
    /// back its first --sample rounds and re-decide them on the CPU (0 mismatches required).
    #[arg(long)]
    study: bool,
    /// Rounds replayed with --study.
    #[arg(long, default_value_t = 2000)]
    sample: u64,
    #[command(flatten)]
    w: WorkloadArgs,
    /// Rounds generated and checked at a time (memory stays bounded).
    #[arg(long, default_value_t = 0, hide_default_value = true)]
    chunk: usize,
    /// Save the generated batch as a directory of .npy files (only with --generate).
    #[arg(long)]
    save: Option<PathBuf>,
    /// Compare the CPU engine with the reference only (no GPU). Without this flag the GPU
    /// engine is compared too when an adapter exists (otherwise a notice says it was not).
    #[arg(long)]
    cpu_only: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    input: InputOpts,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("specsim: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Prints to stdout; a closed pipe (e.g. `| head`) ends quietly instead of panicking.
fn emit(text: &str) {
    let mut out = std::io::stdout().lock();
    if out
        .write_all(text.as_bytes())
        .and_then(|_| out.flush())
        .is_err()
    {
        std::process::exit(0);
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Round { path, rule, input } => cmd_round(path, rule, input),
        Command::Run {
            batch,
            engine,
            out,
            format,
            validate,
            rule,
            recovery,
            seed,
            input,
        } => {
            let rec = Recovery {
                mode: recovery,
                seed,
                round_offset: 0,
            };
            cmd_run(&batch, engine, out, format, validate, rule, rec, input)
        }
        Command::Bench {
            quick,
            json,
            engine,
        } => cmd_bench(quick, json, engine),
        Command::Verify(a) => cmd_verify(a),
        Command::Study(a) => cmd_study(a),
    }
}

/// Parses one rule name for clap.
fn parse_rule(s: &str) -> Result<Rule, String> {
    s.parse().map_err(|e: specsim::Error| e.to_string())
}

fn cmd_round(path: Option<PathBuf>, rule: Rule, input: InputOpts) -> Result<ExitCode> {
    let (text, origin) = match path {
        Some(p) if p.as_os_str() != "-" => (
            std::fs::read_to_string(&p).with_context(|| format!("cannot read {}", p.display()))?,
            p.display().to_string(),
        ),
        _ => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .context("cannot read standard input")?;
            (s, "<stdin>".to_string())
        }
    };
    let round = parse_round_json(&text, &origin)?;
    let result = round
        .decode_rule(rule, &input.round_options())
        .with_context(|| format!("{origin}: refused"))?;
    emit(&format!("{}\n", serde_json::to_string(&result)?));
    Ok(ExitCode::SUCCESS)
}

/// A GPU context, or `None` with a notice when `auto` finds no usable adapter. With
/// `allow_software` false, `auto` passes over a software adapter (e.g. Mesa's llvmpipe, which runs
/// on the CPU and is slower than the CPU engine) and uses the CPU engine instead; `gpu` always
/// takes the adapter it finds.
fn open_gpu(choice: EngineChoice, allow_software: bool) -> Result<Option<GpuContext>> {
    match choice {
        EngineChoice::Cpu => Ok(None),
        EngineChoice::Gpu => Ok(Some(GpuContext::new()?)),
        EngineChoice::Auto => match GpuContext::new() {
            Ok(g) if !allow_software && g.adapter_info().device_type == wgpu::DeviceType::Cpu => {
                eprintln!(
                    "specsim: notice: the only GPU adapter is a software one ({}); using the CPU engine (--engine gpu runs on it anyway)",
                    describe(g.adapter_info())
                );
                Ok(None)
            }
            Ok(g) => Ok(Some(g)),
            Err(e) => {
                eprintln!("specsim: notice: no usable GPU ({e}); using the CPU engine");
                Ok(None)
            }
        },
    }
}

fn summary_json(view: &BatchView, res: &BatchResult, engine: &str, secs: f64) -> serde_json::Value {
    let n = res.n().max(1) as f64;
    let k = view.k;
    let mean_acc: f64 = res.num_accepted.iter().map(|&a| a as f64).sum::<f64>() / n;
    let mean_rate = if k == 0 {
        0.0
    } else {
        res.num_accepted
            .iter()
            .map(|&a| a as f64 / k as f64)
            .sum::<f64>()
            / n
    };
    let per_position: Vec<f64> = (0..k)
        .map(|i| res.num_accepted.iter().filter(|&&a| a as usize > i).count() as f64 / n)
        .collect();
    json!({
        "rounds": res.n(),
        "k": k,
        "vocab": view.v,
        "engine": engine,
        "mean_acceptance_rate": mean_rate,
        "mean_accepted": mean_acc,
        "mean_generated": mean_acc + 1.0,
        "per_position_acceptance": per_position,
        "wall_seconds": secs,
        "rounds_per_second": res.n() as f64 / secs.max(1e-12),
    })
}

#[allow(clippy::too_many_arguments)]
fn cmd_run(
    batch: &Path,
    engine: EngineChoice,
    out: Option<PathBuf>,
    format: Format,
    validate: Validation,
    rule: Rule,
    rec: Recovery,
    input: InputOpts,
) -> Result<ExitCode> {
    let file = BatchFile::open(batch)?;
    let view = file.view()?;
    let t0 = Instant::now();
    view.validate_rule(&input.round_options(), validate, rule)?;
    let t_valid = t0.elapsed().as_secs_f64();
    let gpu = open_gpu(engine, false)?;
    let t1 = Instant::now();
    let (res, name) = match gpu {
        Some(mut g) => {
            let name = format!("gpu: {}", describe(g.adapter_info()));
            g.recovery = rec;
            (g.run_rule(&view, rule)?, name)
        }
        None => (
            CpuEngine {
                recovery: rec,
                ..Default::default()
            }
            .run_rule(&view, rule)?,
            "cpu".to_string(),
        ),
    };
    let secs = t1.elapsed().as_secs_f64();
    if let Some(path) = &out {
        write_result_npz(path, &res)?;
    }
    match format {
        Format::Jsonl => {
            let mut s = String::new();
            for r in 0..res.n() {
                let toks = view.round_tokens(r);
                let o: Outcome = res.outcome(r);
                s.push_str(&serde_json::to_string(&o.to_result(&toks))?);
                s.push('\n');
                if s.len() > 1 << 20 {
                    emit(&s);
                    s.clear();
                }
            }
            emit(&s);
        }
        Format::Json => {
            let mut j = summary_json(&view, &res, &name, secs);
            j["rule"] = json!(rule);
            j["validation_seconds"] = json!(t_valid);
            emit(&format!("{}\n", serde_json::to_string_pretty(&j)?));
        }
        Format::Table => {
            let j = summary_json(&view, &res, &name, secs);
            let mut s = String::new();
            s += &format!("batch                 {}\n", batch.display());
            s += &format!(
                "rounds                {}  (K = {}, V = {})\n",
                res.n(),
                view.k,
                view.v
            );
            s += &format!("engine                {name}\n");
            s += &format!("rule                  {rule}\n");
            s += &format!(
                "mean acceptance rate  {:.4}\n",
                j["mean_acceptance_rate"].as_f64().unwrap_or(0.0)
            );
            s += &format!(
                "mean generated        {:.4} tokens/round\n",
                j["mean_generated"].as_f64().unwrap_or(0.0)
            );
            s += "per-position acceptance (P[position i accepted]):\n";
            for (i, x) in j["per_position_acceptance"]
                .as_array()
                .into_iter()
                .flatten()
                .enumerate()
            {
                s += &format!("  {i:>3}  {:.4}\n", x.as_f64().unwrap_or(0.0));
            }
            s += &format!(
                "wall time             {secs:.3} s engine ({:.0} rounds/s), {t_valid:.3} s validation\n",
                res.n() as f64 / secs.max(1e-12)
            );
            if let Some(p) = &out {
                s += &format!("results               {}\n", p.display());
            }
            emit(&s);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs the engines and the reference on one (validated) chunk.
fn verify_chunk(
    view: &BatchView,
    gpu: Option<&mut GpuContext>,
    rule: Rule,
    rec: Recovery,
    report: &mut VerifyReport,
) -> Result<()> {
    let r0 = rec.round_offset;
    let cpu = CpuEngine {
        recovery: rec,
        ..Default::default()
    }
    .run_rule(view, rule)?;
    if let Some(g) = gpu {
        g.recovery = rec;
        let gres = g.run_rule(view, rule)?;
        compare_engines(&cpu, &gres, r0, report);
    }
    compare_reference_mode_rule(view, &cpu, rule, rec.mode, r0, report);
    report.rounds += view.n as u64;
    Ok(())
}

fn cmd_verify(a: VerifyArgs) -> Result<ExitCode> {
    let opts = a.input.round_options();
    let seed = a.w.seed.unwrap_or(1);
    let rules = Rule::parse_list(&a.w.rule)?;
    let [rule] = rules[..] else {
        bail!("verify checks one rule at a time: give --rule token or --rule block");
    };
    let mut report = VerifyReport {
        rule,
        engines: vec!["cpu".into()],
        ..Default::default()
    };
    let t0 = Instant::now();
    if a.study {
        if a.batch.is_some() || a.generate.is_some() {
            bail!("--study replays a generated study: give no BATCH and no --generate");
        }
        let mut g = GpuContext::new().context("--study replays a GPU study and needs a GPU")?;
        let cfgs = study_configs(&a.w, "8", 2048, a.sample.max(1), seed)?;
        report.engines.push("gpu".into());
        report.adapter = Some(describe(g.adapter_info()));
        for cfg in &cfgs {
            let r = specsim::study::replay(cfg, &mut g, a.sample)?;
            report.rounds += r.rounds;
            report.engine_mismatches.extend(r.engine_mismatches);
            report.reference_diffs.extend(r.reference_diffs);
        }
    } else {
        let mut gpu = if a.cpu_only {
            None
        } else {
            open_gpu(EngineChoice::Auto, true)?
        };
        if let Some(g) = &gpu {
            report.engines.push("gpu".into());
            report.adapter = Some(describe(g.adapter_info()));
        }
        let rec = |round_offset| Recovery {
            mode: a.w.recovery,
            seed,
            round_offset,
        };
        match (&a.batch, a.generate) {
            (Some(_), Some(_)) => bail!("give either a BATCH or --generate N, not both"),
            (None, None) => bail!("give a BATCH to verify, --generate N, or --study"),
            (Some(path), None) => {
                let file = BatchFile::open(path)?;
                let view = file.view()?;
                view.validate_rule(&opts, Validation::Full, rule)?;
                verify_chunk(&view, gpu.as_mut(), rule, rec(0), &mut report)?;
            }
            (None, Some(n)) => {
                let ks = parse_k_list(a.w.k.as_deref().unwrap_or("8"))?;
                let [k] = ks[..] else {
                    bail!("--generate takes one --k value, not {ks:?}");
                };
                let vocab = a.w.vocab.unwrap_or(32000);
                if vocab == 0 {
                    bail!("--vocab must be at least 1");
                }
                let per_round = (2 * k + 1) * vocab * 4;
                let chunk = if a.chunk > 0 {
                    a.chunk
                } else {
                    ((256usize << 20) / per_round).clamp(1, 65536)
                } as u64;
                if a.save.is_some() && n > chunk {
                    bail!("--save writes one chunk: use --generate N with N <= --chunk ({chunk})");
                }
                let mut r0 = 0;
                while r0 < n {
                    let m = chunk.min(n - r0);
                    let b = adversarial_batch_rule(r0, m as usize, k, vocab, seed, rule);
                    if let Some(dir) = &a.save {
                        write_batch_dir(dir, &b)?;
                    }
                    let view = b.view();
                    view.validate(&opts, Validation::Full)
                        .context("the generator made an invalid round (a bug)")?;
                    verify_chunk(&view, gpu.as_mut(), rule, rec(r0), &mut report)?;
                    r0 += m;
                }
            }
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    if a.json {
        emit(&format!("{}\n", serde_json::to_string_pretty(&report)?));
    } else {
        let mut s = String::new();
        s += &format!("rule                      {}\n", report.rule);
        s += &format!("rounds compared           {}\n", report.rounds);
        s += &format!("engines                   {}\n", report.engines.join(", "));
        if let Some(ad) = &report.adapter {
            s += &format!("adapter                   {ad}\n");
        }
        s += &format!(
            "engine mismatches         {}\n",
            report.engine_mismatches.len()
        );
        for m in report.engine_mismatches.iter().take(20) {
            s += &format!(
                "  round {} position {}: cpu (accepted {}, token {}) vs gpu (accepted {}, token {})\n",
                m.round, m.position, m.cpu.0, m.cpu.1, m.gpu.0, m.gpu.1
            );
        }
        s += &format!(
            "f32 vs f64 reference      {} rounds differ\n",
            report.reference_diffs.len()
        );
        for (class, count) in report.diff_counts() {
            s += &format!(
                "  {:<28} {count}\n",
                serde_json::to_string(&class)?.trim_matches('"')
            );
        }
        for d in report.reference_diffs.iter().take(10) {
            s += &format!(
                "  round {}: engine (accepted {}, token {}) vs reference (accepted {}, token {}): {}\n",
                d.round, d.engine.0, d.engine.1, d.reference.0, d.reference.1, d.detail
            );
        }
        s += &format!("time                      {secs:.2} s\n");
        s += &format!(
            "verdict                   {}\n",
            if report.passed() { "PASS" } else { "FAIL" }
        );
        emit(&s);
    }
    Ok(if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn cmd_bench(quick: bool, as_json: bool, engine: EngineChoice) -> Result<ExitCode> {
    use specsim::bench::*;
    let shapes: &[(usize, usize, usize)] = if quick {
        &[(256, 8, 32000)]
    } else {
        &[(256, 4, 32000), (1024, 8, 32000), (256, 8, 128_256)]
    };
    let reps = if quick { 3 } else { 5 };
    let cpu_dev = cpu_name();
    eprintln!("specsim bench: measuring the CPU streaming-read floor...");
    let cpu_floor = cpu_read_floor(beyond_cache_bytes(), reps);
    let mut flusher = CacheFlusher::new();
    let mut gpu = if engine == EngineChoice::Cpu {
        None
    } else {
        open_gpu(engine, true)?
    };
    let gpu_floor = match &gpu {
        Some(g) => {
            eprintln!("specsim bench: measuring the GPU buffer-copy floor...");
            Some(g.copy_bandwidth(beyond_cache_bytes() as u64, if quick { 4 } else { 10 })?)
        }
        None => None,
    };
    let mut rows = Vec::new();
    let mut mmap_note = None;
    for &(n, k, v) in shapes {
        eprintln!("specsim bench: N = {n}, K = {k}, V = {v}");
        let batch = timing_batch(n, k, v, 0.5, 1);
        let view = batch.view();
        let reference = CpuEngine::default().run(&view)?;
        let lazy = lazy_bytes_total(&reference, v);
        let first_row = rows.len();
        if engine != EngineChoice::Gpu {
            rows.push(measure(
                "cpu",
                &cpu_dev,
                &view,
                lazy,
                cpu_floor,
                reps,
                &mut flusher,
                || CpuEngine::default().run(&view).map(|_| ()),
            )?);
            let one = CpuEngine {
                threads: Some(1),
                ..Default::default()
            };
            rows.push(measure(
                "cpu-1thread",
                &cpu_dev,
                &view,
                lazy,
                cpu_floor,
                reps.min(2),
                &mut flusher,
                || one.run(&view).map(|_| ()),
            )?);
            let naive = naive_run(&view);
            if naive != reference {
                bail!("the naive all-rows algorithm disagrees with the lazy engine (a bug)");
            }
            rows.push(measure(
                "cpu-naive-all-rows",
                &cpu_dev,
                &view,
                lazy,
                cpu_floor,
                reps.min(2),
                &mut flusher,
                || {
                    std::hint::black_box(naive_run(&view));
                    Ok(())
                },
            )?);
        }
        if let (Some(g), Some(floor)) = (gpu.as_mut(), gpu_floor) {
            let dev = describe(g.adapter_info());
            let res = g.run(&view)?;
            if res != reference {
                bail!("GPU and CPU engines disagree on the benchmark batch (run `specsim verify`)");
            }
            rows.push(measure(
                "gpu-end-to-end",
                &dev,
                &view,
                lazy,
                floor,
                reps,
                &mut flusher,
                || g.run(&view).map(|_| ()),
            )?);
            let m = g.upload_for_bench(&view)?;
            let sub = specsim::batch::BatchResult {
                k,
                tokens: Vec::new(),
                num_accepted: reference.num_accepted[..m].to_vec(),
            };
            let sub_view = BatchView { n: m, ..view };
            let lazy_m = lazy_bytes_total(&sub, v);
            rows.push(measure(
                "gpu-kernel",
                &dev,
                &sub_view,
                lazy_m,
                floor,
                reps,
                &mut flusher,
                || g.run_uploaded(m, k, v),
            )?);
        }
        let (_, token_rows) = lazy_totals(&reference, v, Rule::Token);
        for r in &mut rows[first_row..] {
            r.rows_per_round = token_rows as f64 / n as f64;
        }
        // Block verification on the same batch: its rows, its engines.
        let block_ref = CpuEngine::default().run_rule(&view, Rule::Block)?;
        let (block_lazy, block_rows) = lazy_totals(&block_ref, v, Rule::Block);
        let mut block_rows_out = Vec::new();
        if engine != EngineChoice::Gpu {
            block_rows_out.push(measure(
                "cpu",
                &cpu_dev,
                &view,
                block_lazy,
                cpu_floor,
                reps,
                &mut flusher,
                || {
                    CpuEngine::default()
                        .run_rule(&view, Rule::Block)
                        .map(|_| ())
                },
            )?);
        }
        if let (Some(g), Some(floor)) = (gpu.as_mut(), gpu_floor) {
            let dev = describe(g.adapter_info());
            if g.run_rule(&view, Rule::Block)? != block_ref {
                bail!(
                    "GPU and CPU block engines disagree on the benchmark batch (run `specsim verify --rule block`)"
                );
            }
            block_rows_out.push(measure(
                "gpu-end-to-end",
                &dev,
                &view,
                block_lazy,
                floor,
                reps,
                &mut flusher,
                || g.run_rule(&view, Rule::Block).map(|_| ()),
            )?);
            let m = g.upload_for_bench(&view)?;
            let sub = specsim::batch::BatchResult {
                k,
                tokens: Vec::new(),
                num_accepted: block_ref.num_accepted[..m].to_vec(),
            };
            let sub_view = BatchView { n: m, ..view };
            let (lazy_m, _) = lazy_totals(&sub, v, Rule::Block);
            block_rows_out.push(measure(
                "gpu-kernel",
                &dev,
                &sub_view,
                lazy_m,
                floor,
                reps,
                &mut flusher,
                || g.run_uploaded_rule(Rule::Block, m, k, v),
            )?);
        }
        for mut r in block_rows_out {
            r.rule = Rule::Block;
            r.rows_per_round = block_rows as f64 / n as f64;
            rows.push(r);
        }
        if mmap_note.is_none() && engine != EngineChoice::Gpu {
            mmap_note = Some(mmap_touch(&batch)?);
        }
    }
    if as_json {
        emit(&format!(
            "{}\n",
            serde_json::to_string_pretty(&json!({
                "cpu_floor_gb_s": cpu_floor / 1e9,
                "gpu_floor_gb_s": gpu_floor.map(|f| f / 1e9),
                "rows": rows,
                "mmap": mmap_note,
            }))?
        ));
        return Ok(ExitCode::SUCCESS);
    }
    let mut s = String::new();
    s += &format!(
        "CPU streaming-read floor: {:.2} GB/s ({cpu_dev})\n",
        cpu_floor / 1e9
    );
    if let (Some(f), Some(g)) = (gpu_floor, &gpu) {
        s += &format!(
            "GPU buffer-copy floor:    {:.2} GB/s read ({})\n",
            f / 1e9,
            describe(g.adapter_info())
        );
    }
    s += &format!(
        "\n{:<20} {:<5} {:>6} {:>3} {:>7} {:>12} {:>8} {:>12} {:>9} {:>10} {:>7}  device\n",
        "engine",
        "rule",
        "N",
        "K",
        "V",
        "rounds/s",
        "rows/rnd",
        "lazy B/rnd",
        "lazy GB/s",
        "all-rows",
        "floor"
    );
    for r in &rows {
        s += &format!(
            "{:<20} {:<5} {:>6} {:>3} {:>7} {:>12.0} {:>8.2} {:>12.0} {:>9.2} {:>10.2} {:>7.2}  {}\n",
            r.engine,
            r.rule,
            r.n,
            r.k,
            r.v,
            r.rounds_per_s,
            r.rows_per_round,
            r.lazy_bytes_per_round,
            r.lazy_gb_s,
            r.all_rows_gb_s,
            r.floor_ratio,
            r.device
        );
    }
    s += "\nlazy GB/s: bytes the lazy algorithm must read / time; all-rows: FlashInfer's convention\n(N·K·V·4 + N·(K+1)·V·4) / time; floor: lazy GB/s / the floor measured above.\n";
    if let Some(m) = &mmap_note {
        s += &format!("{}\n", m["summary"].as_str().unwrap_or(""));
    }
    emit(&s);
    Ok(ExitCode::SUCCESS)
}

/// Writes `batch` as .npy files, runs it memory-mapped on the CPU engine with `touched`
/// validation, and reports how much of the files the process touched (page faults × page size).
fn mmap_touch(batch: &specsim::batch::Batch) -> Result<serde_json::Value> {
    let dir = tempfile::tempdir()?;
    write_batch_dir(dir.path(), batch)?;
    let file_bytes: u64 = std::fs::read_dir(dir.path())?
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum();
    let file = BatchFile::open(dir.path())?;
    let view = file.view()?;
    let (min0, maj0) = specsim::bench::page_faults();
    let raw = RoundOptions {
        allow_unnormalized: true, // timing batches are not normalised
        ..RoundOptions::default()
    };
    view.validate(&raw, Validation::Touched)?;
    let res = CpuEngine::default().run(&view)?;
    let (min1, maj1) = specsim::bench::page_faults();
    std::hint::black_box(res);
    let touched = (min1 - min0 + maj1 - maj0) * 4096;
    Ok(json!({
        "file_bytes": file_bytes,
        "touched_bytes": touched,
        "fraction": touched as f64 / file_bytes as f64,
        "summary": format!(
            "mmap: `run --validate touched` on the {} MiB of .npy files of the first shape faulted in {:.1} MiB ({:.1}%): only the rows it needs.",
            file_bytes >> 20,
            touched as f64 / 1048576.0,
            100.0 * touched as f64 / file_bytes as f64
        ),
    }))
}

/// Parses `1..16`, `1,2,4,8` or `1..4,8` into a sorted list of distinct K ≥ 1.
fn parse_k_list(s: &str) -> Result<Vec<usize>> {
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
fn study_configs(
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
                        recovery: w.recovery,
                        rules: rules.clone(),
                    });
                }
            }
        }
    }
    Ok(out)
}

fn cmd_study(a: StudyCmd) -> Result<ExitCode> {
    use specsim::study::report;
    use specsim::study::{StudyEngine, run_study_rules};
    let seed = a.w.seed.unwrap_or(7);
    let cfgs = study_configs(&a.w, "1..8", 2048, 10_000, seed)?;
    if let Some(c) = a.cost_ratio.iter().find(|c| !(c.is_finite() && **c >= 0.0)) {
        bail!("--cost-ratio: {c} is not a non-negative number");
    }
    let mut gpu = open_gpu(a.engine, false)?;
    let engine_name = match &gpu {
        Some(g) => format!("gpu: {}", describe(g.adapter_info())),
        None => "cpu".to_string(),
    };
    let total: u64 = cfgs.iter().map(|c| c.rounds).sum();
    let bar = if a.quiet || !std::io::stderr().is_terminal() {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new(total)
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{msg} [{bar:30}] {pos}/{len} rounds, {per_sec}, ETA {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    let mut results = Vec::new();
    for cfg in cfgs {
        let t = Instant::now();
        let mut engine = match gpu.as_mut() {
            Some(g) => StudyEngine::Gpu(g),
            None => StudyEngine::Cpu,
        };
        let mut r = report::ConfigResult {
            config: cfg,
            engine: engine_name.clone(),
            rule: Rule::Token,
            tally: Default::default(),
            block: None,
            seconds: 0.0,
        };
        bar.set_message(r.label());
        let tallies = run_study_rules(&r.config, &mut engine, |n| bar.inc(n))?;
        r.tally = tallies.token;
        r.seconds = t.elapsed().as_secs_f64();
        if let Family::File { path } = &r.config.workload.family {
            let file = BatchFile::open(Path::new(path))?;
            r.config.workload.vocab = file.view()?.v;
            r.config.rounds = r.tally.rounds;
        }
        // One result per rule, in the order asked for, all on the same rounds.
        for &rule in &r.config.rules {
            results.push(report::ConfigResult {
                rule,
                block: (rule == Rule::Block)
                    .then(|| tallies.block.clone())
                    .flatten(),
                ..r.clone()
            });
        }
    }
    bar.finish_and_clear();
    std::fs::create_dir_all(&a.out)
        .with_context(|| format!("cannot create {}", a.out.display()))?;
    let rows = report::rows(&results, &a.cost_ratio);
    report::write_csv(&a.out.join("results.csv"), &rows)?;
    let doc = report::json_doc(&results, &a.cost_ratio);
    std::fs::write(
        a.out.join("results.json"),
        serde_json::to_string_pretty(&doc)?,
    )
    .with_context(|| format!("cannot write {}", a.out.join("results.json").display()))?;
    report::plots(&a.out, &results, &a.cost_ratio)?;
    let mut s = report::table(&results, &a.cost_ratio);
    s += &format!(
        "\nwrote {0}/results.csv, {0}/results.json, {0}/mean_generated.svg, {0}/per_position.svg, {0}/speedup.svg\n",
        a.out.display()
    );
    emit(&s);
    Ok(ExitCode::SUCCESS)
}
