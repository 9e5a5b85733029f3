//! `specsim run`: a batch on one engine.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;
use serde_json::json;

use specsim::Rule;
use specsim::batch::{BatchResult, BatchView, Validation};
use specsim::cpu::{CpuEngine, Recovery};
use specsim::npyio::{BatchFile, write_result_npz};
use specsim::reference::Outcome;
use specsim::round::RoundOptions;

use super::{emit, emit_jsonl, in_chunks, open_engine, progress_bar};
use crate::cli::args::{EngineChoice, Format, InputOpts};

fn summary_json(view: &BatchView, res: &BatchResult, engine: &str, secs: f64) -> serde_json::Value {
    let n = res.n().max(1) as f64;
    let k = view.k;
    // fold from +0.0: an empty f64 sum is -0.0, which would print as "-0.0000".
    let total: f64 = res.num_accepted.iter().fold(0.0, |s, &a| s + a as f64);
    let mean_acc = total / n;
    let mean_rate = if k == 0 { 0.0 } else { mean_acc / k as f64 };
    // P[position i accepted], from a histogram whose size is bounded by the data (an empty batch
    // with a huge K in its header allocates nothing).
    let max_acc = res
        .num_accepted
        .iter()
        .copied()
        .max()
        .map_or(0, |m| m as usize);
    let mut passed = vec![0u64; max_acc + 1];
    for &a in &res.num_accepted {
        passed[a as usize] += 1;
    }
    let mut per_position = Vec::new();
    if res.n() > 0 {
        let mut above = res.n() as u64 - passed[0];
        for i in 0..k {
            per_position.push(above as f64 / n);
            above -= passed.get(i + 1).copied().unwrap_or(0);
        }
    }
    json!({
        "rounds": res.n(),
        "k": k,
        "vocab": view.v,
        "engine": engine,
        // Means over no rounds are undefined: null (n/a in the table), not made-up values.
        "mean_acceptance_rate": (res.n() > 0).then_some(mean_rate),
        "mean_accepted": (res.n() > 0).then_some(mean_acc),
        "mean_generated": (res.n() > 0).then_some(mean_acc + 1.0),
        "per_position_acceptance": per_position,
        "wall_seconds": secs,
        "rounds_per_second": res.n() as f64 / secs.max(1e-12),
    })
}

/// `run --engine cpu --validate touched`: the checks inside the engine's pass
/// ([`CpuEngine::run_touched`]), chunk by chunk; `validation_seconds` is then 0 and the engine's
/// time covers both.
fn run_touched_cpu(
    batch: &Path,
    view: &BatchView,
    out: Option<PathBuf>,
    format: Format,
    rule: Rule,
    rec: Recovery,
    opts: &RoundOptions,
) -> Result<ExitCode> {
    let bar = progress_bar(false, view.n as u64);
    let per_round = (2 * view.k + 1) * view.v * view.draft.item_size();
    let t1 = Instant::now();
    view.check_shapes()?;
    let mut res = BatchResult::new(0, view.k);
    bar.set_message("cpu");
    in_chunks(view.n, per_round, &bar, |r0, m| {
        let part = view.rounds(r0, m);
        let cpu = CpuEngine {
            recovery: rec.shifted(r0 as u64),
            ..Default::default()
        };
        let part_res = cpu
            .run_touched(&part, rule, opts)
            .map_err(|e| e.offset_round(r0 as u64))?;
        res.append(part_res);
        Ok(())
    })?;
    bar.finish_and_clear();
    let secs = t1.elapsed().as_secs_f64();
    report(batch, view, &res, "cpu", rule, out, format, secs, 0.0)
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
    if file.is_tree() {
        return super::run_tree::cmd_run_tree(
            batch, &file, engine, out, format, validate, rule, rec, input,
        );
    }
    let view = file.view()?;
    let opts = input.round_options();
    if validate == Validation::Touched && engine == EngineChoice::Cpu {
        return run_touched_cpu(batch, &view, out, format, rule, rec, &opts);
    }
    // In chunks, with a bar on a terminal: every chunk validated (in order, so the first bad
    // round is the first reported), then every chunk run.
    let bar = progress_bar(false, view.n as u64);
    let per_round = (2 * view.k + 1) * view.v * view.draft.item_size();
    let t0 = Instant::now();
    view.check_shapes()?;
    bar.set_message("validating");
    in_chunks(view.n, per_round, &bar, |r0, m| {
        let part = view.rounds(r0, m);
        Ok(part
            .validate_rule(&opts, validate, rule)
            .map_err(|e| e.offset_round(r0 as u64))?)
    })?;
    let t_valid = t0.elapsed().as_secs_f64();
    let mut engine = open_engine(engine)?;
    let name = engine.describe();
    let t1 = Instant::now();
    let mut res = BatchResult::new(0, view.k);
    bar.reset();
    bar.set_message(name.clone());
    in_chunks(view.n, per_round, &bar, |r0, m| {
        res.append(engine.run_batch(&view.rounds(r0, m), rule, rec.shifted(r0 as u64))?);
        Ok(())
    })?;
    bar.finish_and_clear();
    let secs = t1.elapsed().as_secs_f64();
    report(batch, &view, &res, &name, rule, out, format, secs, t_valid)
}

/// Writes `--out` and prints the summary (or the rounds) of a finished run.
#[allow(clippy::too_many_arguments)]
fn report(
    batch: &Path,
    view: &BatchView,
    res: &BatchResult,
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
    match format {
        Format::Jsonl => emit_jsonl(res.n(), |r| {
            let o: Outcome = res.outcome(r);
            Ok(serde_json::to_string(&o.to_result(&view.round_tokens(r)))?)
        })?,
        Format::Json => {
            let mut j = summary_json(view, res, name, secs);
            j["rule"] = json!(rule);
            j["validation_seconds"] = json!(t_valid);
            emit(&format!("{}\n", serde_json::to_string_pretty(&j)?))?;
        }
        Format::Table => {
            let j = summary_json(view, res, name, secs);
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
            let shown = |key: &str, unit: &str| {
                j[key].as_f64().map_or_else(
                    || "n/a (no rounds)".to_string(),
                    |x| format!("{x:.4}{unit}"),
                )
            };
            s += &format!(
                "mean acceptance rate  {}\n",
                shown("mean_acceptance_rate", "")
            );
            s += &format!(
                "mean generated        {}\n",
                shown("mean_generated", " tokens/round")
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
            emit(&s)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
