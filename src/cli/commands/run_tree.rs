//! `specsim run` on a tree batch (SPEC §7): `parents` [n], rows [N, n, V], tokens and coins
//! [N, n].

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Result, bail};
use serde_json::json;

use specsim::Rule;
use specsim::batch::Validation;
use specsim::batch::tree::{TreeResult, TreeView};
use specsim::cpu::Recovery;
use specsim::npyio::{BatchFile, write_tree_result_npz};
use specsim::round::tree::TreeRoundResult;

use super::{emit, emit_jsonl, in_chunks, open_engine, progress_bar};
use crate::cli::args::{EngineChoice, Format, InputOpts};

fn summary_json(view: &TreeView, res: &TreeResult, engine: &str, secs: f64) -> serde_json::Value {
    let n = res.n();
    let depth = view.tree.depth();
    let total: f64 = res.num_accepted.iter().fold(0.0, |s, &a| s + a as f64);
    let mean_acc = total / n.max(1) as f64;
    // P[the round accepted at least i + 1 nodes], per depth i.
    let mut reached = vec![0u64; depth + 1];
    for &a in &res.num_accepted {
        reached[a as usize] += 1;
    }
    let mut per_depth = Vec::new();
    let mut above = n as u64;
    for r in reached.iter().take(depth) {
        above -= r;
        per_depth.push(above as f64 / n.max(1) as f64);
    }
    let defined = n > 0;
    json!({
        "rounds": n,
        "nodes": view.tree.len(),
        "depth": depth,
        "vocab": view.v,
        "engine": engine,
        "mean_accepted": defined.then_some(mean_acc),
        "mean_generated": defined.then_some(mean_acc + 1.0),
        "mean_acceptance_rate": (defined && depth > 0).then(|| mean_acc / depth as f64),
        "accepted_per_node": defined.then(|| mean_acc / (view.tree.len().max(2) - 1) as f64),
        "per_depth_acceptance": if defined { per_depth } else { vec![] },
        "wall_seconds": secs,
        "rounds_per_second": n as f64 / secs.max(1e-12),
    })
}

#[allow(clippy::too_many_arguments)]
pub fn cmd_run_tree(
    batch: &Path,
    file: &BatchFile,
    engine: EngineChoice,
    out: Option<PathBuf>,
    format: Format,
    validate: Validation,
    rule: Rule,
    rec: Recovery,
    input: InputOpts,
) -> Result<ExitCode> {
    if !rule.is_tree() {
        bail!(
            "{} is a tree batch (it has parents): --rule {rule} verifies chains; use one of {}",
            batch.display(),
            Rule::TREE.map(Rule::name).join(", ")
        );
    }
    let tree = file.tree()?;
    let view = file.tree_view(&tree)?;
    let opts = input.round_options();
    // In chunks, with a bar on a terminal: every chunk validated (in order, so the first bad
    // round is the first reported), then every chunk run.
    let bar = progress_bar(false, view.n as u64);
    let l = view.layout;
    let per_round = (l.draft_rows + l.target_rows) * view.v * view.draft.item_size();
    let t0 = Instant::now();
    view.check_shapes()?;
    bar.set_message("validating");
    in_chunks(view.n, per_round, &bar, |r0, m| {
        let part = view.rounds(r0, m);
        let checked = match validate {
            Validation::Full => part.validate(&opts, rule),
            Validation::Touched => part.validate_touched(&opts, rule),
        };
        Ok(checked.map_err(|e| e.offset_round(r0 as u64))?)
    })?;
    let t_valid = t0.elapsed().as_secs_f64();
    let mut engine = open_engine(engine)?;
    let name = engine.describe();
    let t1 = Instant::now();
    let mut res = TreeResult::new(0, tree.depth());
    bar.reset();
    bar.set_message(name.clone());
    in_chunks(view.n, per_round, &bar, |r0, m| {
        res.append(engine.run_tree(&view.rounds(r0, m), rule, rec.shifted(r0 as u64))?);
        Ok(())
    })?;
    bar.finish_and_clear();
    let secs = t1.elapsed().as_secs_f64();
    if let Some(path) = &out {
        write_tree_result_npz(path, &res)?;
    }
    match format {
        Format::Jsonl => emit_jsonl(res.n(), |r| {
            let o = res.outcome(r);
            let one = TreeRoundResult::new(&tree, &view.round_tokens(r), &o.nodes, o.token);
            Ok(serde_json::to_string(&one)?)
        })?,
        Format::Json => {
            let mut j = summary_json(&view, &res, &name, secs);
            j["rule"] = json!(rule);
            j["parents"] = json!(tree.parents());
            j["validation_seconds"] = json!(t_valid);
            emit(&format!("{}\n", serde_json::to_string_pretty(&j)?))?;
        }
        Format::Table => {
            let j = summary_json(&view, &res, &name, secs);
            let shown = |key: &str, unit: &str| {
                j[key].as_f64().map_or_else(
                    || "n/a (no rounds)".to_string(),
                    |x| format!("{x:.4}{unit}"),
                )
            };
            let mut s = String::new();
            s += &format!("batch                 {}\n", batch.display());
            s += &format!(
                "rounds                {}  (tree of {} nodes, depth {}, V = {})\n",
                res.n(),
                tree.len(),
                tree.depth(),
                view.v
            );
            s += &format!("engine                {name}\n");
            s += &format!("rule                  {rule}\n");
            s += &format!(
                "mean acceptance rate  {}  (accepted / depth)\n",
                shown("mean_acceptance_rate", "")
            );
            s += &format!(
                "mean generated        {}\n",
                shown("mean_generated", " tokens/round")
            );
            s += "per-depth acceptance (P[a node at depth d accepted], d = 1..depth):\n";
            for (i, x) in j["per_depth_acceptance"]
                .as_array()
                .into_iter()
                .flatten()
                .enumerate()
            {
                s += &format!("  {:>3}  {:.4}\n", i + 1, x.as_f64().unwrap_or(0.0));
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
