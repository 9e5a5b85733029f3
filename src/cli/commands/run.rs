//! `specsim run`: a batch, chain or tree, on one engine.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;
use serde_json::json;

use specsim::Rule;
use specsim::batch::{Outcomes, Rounds, Validation};
use specsim::cpu::{CpuEngine, Recovery};
use specsim::npyio::{BatchFile, write_result_npz};
use specsim::round::RoundOptions;
use specsim::summary::{Summary, round_json};
use specsim::topology::Tree;

use super::{Progress, emit, emit_jsonl, in_chunks, open_engine};
use crate::cli::args::{EngineChoice, Format, InputOpts};

/// Bytes of rows per round (the chunk budget's unit).
pub fn bytes_per_round(rounds: &Rounds) -> usize {
    let l = rounds.layout;
    (l.draft_rows + l.target_rows) * rounds.v * rounds.draft.item_size()
}

#[allow(clippy::too_many_arguments)]
pub fn cmd_run(
    batch: &Path,
    engine: EngineChoice,
    out: Option<PathBuf>,
    format: Format,
    validate: Validation,
    rule: Rule,
    rec: Recovery,
    input: InputOpts,
    quiet: bool,
) -> Result<ExitCode> {
    if let Some(o) = &out
        && let (Ok(a), Ok(b)) = (std::fs::canonicalize(o), std::fs::canonicalize(batch))
        && a == b
    {
        eprintln!(
            "specsim: notice: --out {} is the input batch: it is read first, then replaced whole",
            o.display()
        );
    }
    let file = BatchFile::open(batch)?;
    let rounds = file.rounds()?;
    if !rounds.is_chain() && !rule.is_tree() {
        anyhow::bail!(
            "{} is a tree batch (it has parents): --rule {rule} verifies chains; use one of {}",
            batch.display(),
            Rule::tree_names()
        );
    }
    let opts = input.round_options();
    rounds.check_shapes()?;
    let mut progress = Progress::new("run", rounds.n as u64, quiet);
    let per_round = bytes_per_round(&rounds);
    let mut res = Outcomes::default();
    let (name, secs, t_valid) = if validate == Validation::Touched && engine == EngineChoice::Cpu {
        // The checks inside the engine's pass (CpuEngine::run_touched), chunk by chunk;
        // `validation_seconds` is then 0 and the engine's time covers both.
        let t1 = Instant::now();
        progress.set_message("cpu");
        in_chunks(rounds.n, per_round, &mut progress, |r0, m| {
            let cpu = CpuEngine {
                recovery: rec.shifted(r0 as u64),
                ..Default::default()
            };
            let part = cpu
                .run_touched(&rounds.rounds(r0, m), rule, &opts)
                .map_err(|e| e.offset_round(r0 as u64))?;
            res.append(part);
            Ok(())
        })?;
        ("cpu".to_string(), t1.elapsed().as_secs_f64(), 0.0)
    } else {
        // Every chunk validated (in order, so the first bad round is the first reported), then
        // every chunk run.
        let t0 = Instant::now();
        progress.set_message("validating");
        validate_chunks(&rounds, &opts, validate, rule, &mut progress)?;
        let t_valid = t0.elapsed().as_secs_f64();
        let mut engine = open_engine(engine)?;
        let name = engine.describe();
        let t1 = Instant::now();
        progress.finish();
        progress = Progress::new("run", rounds.n as u64, quiet);
        progress.set_message(&name);
        in_chunks(rounds.n, per_round, &mut progress, |r0, m| {
            res.append(engine.run(&rounds.rounds(r0, m), rule, rec.shifted(r0 as u64))?);
            Ok(())
        })?;
        for n in engine.notices() {
            eprintln!("specsim: notice: {n}");
        }
        (name, t1.elapsed().as_secs_f64(), t_valid)
    };
    progress.finish();
    if res.n() == 0 {
        // No rounds: the empty outcomes of this batch's kind.
        res = if rounds.is_chain() {
            Outcomes::chain(0, rounds.topology.depth())
        } else {
            Outcomes::tree(0, rounds.topology.depth())
        };
    }
    report(
        batch, &rounds, &res, &name, rule, out, format, secs, t_valid,
    )
}

/// Validates `rounds` chunk by chunk, in order (the first bad round is the first reported),
/// advancing `progress`.
pub fn validate_chunks(
    rounds: &Rounds,
    opts: &RoundOptions,
    mode: Validation,
    rule: Rule,
    progress: &mut Progress,
) -> Result<()> {
    in_chunks(rounds.n, bytes_per_round(rounds), progress, |r0, m| {
        Ok(rounds
            .rounds(r0, m)
            .validate(opts, mode, rule)
            .map_err(|e| e.offset_round(r0 as u64))?)
    })
}

/// Writes `--out` and prints the summary (or the rounds) of a finished run.
#[allow(clippy::too_many_arguments)]
fn report(
    batch: &Path,
    rounds: &Rounds,
    res: &Outcomes,
    name: &str,
    rule: Rule,
    out: Option<PathBuf>,
    format: Format,
    secs: f64,
    t_valid: f64,
) -> Result<ExitCode> {
    if let Some(path) = &out {
        write_result_npz(path, res)?;
    }
    let summary = Summary::of(res);
    let mut j = summary.to_json(rounds, name);
    j["wall_seconds"] = json!(secs);
    j["rounds_per_second"] = json!(res.n() as f64 / secs.max(1e-12));
    match format {
        Format::Jsonl => {
            let mut scratch = Tree::default();
            emit_jsonl(res.n(), |r| Ok(round_json(rounds, res, r, &mut scratch)))?
        }
        Format::Json => {
            j["rule"] = json!(rule);
            j["validation_seconds"] = json!(t_valid);
            emit(&format!("{}\n", serde_json::to_string_pretty(&j)?))?;
        }
        Format::Table => {
            let shown = |key: &str, unit: &str| {
                j[key].as_f64().map_or_else(
                    || "n/a (no rounds)".to_string(),
                    |x| format!("{x:.4}{unit}"),
                )
            };
            let mut s = String::new();
            s += &format!("batch                 {}\n", batch.display());
            if rounds.is_chain() {
                s += &format!(
                    "rounds                {}  (K = {}, V = {})\n",
                    res.n(),
                    res.depth,
                    rounds.v
                );
            } else {
                let per_round = if j["topology"] == "per-round" {
                    ", a tree per round"
                } else {
                    ""
                };
                s += &format!(
                    "rounds                {}  (tree of {} nodes, depth {}{per_round}, V = {})\n",
                    res.n(),
                    rounds.topology.nodes(),
                    res.depth,
                    rounds.v
                );
            }
            s += &format!("engine                {name}\n");
            s += &format!("rule                  {rule}\n");
            if rounds.is_chain() {
                s += &format!(
                    "mean acceptance rate  {}\n",
                    shown("mean_acceptance_rate", "")
                );
            } else {
                s += &format!(
                    "mean acceptance rate  {}  (accepted / depth)\n",
                    shown("mean_acceptance_rate", "")
                );
            }
            s += &format!(
                "mean generated        {}\n",
                shown("mean_generated", " tokens/round")
            );
            let first = if rounds.is_chain() {
                s += "per-position acceptance (P[position i accepted]):\n";
                0
            } else {
                s += "per-depth acceptance (P[a node at depth d accepted], d = 1..depth):\n";
                1
            };
            for (i, x) in summary.acceptance.iter().enumerate() {
                s += &format!("  {:>3}  {x:.4}\n", i + first);
            }
            s += &format!(
                "wall time             {secs:.3} s engine ({:.0} rounds/s), {t_valid:.3} s validation\n",
                res.n() as f64 / secs.max(1e-12)
            );
            if let Some(p) = &out {
                s += &format!("results               {}\n", p.display());
            }
            emit(&s)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
