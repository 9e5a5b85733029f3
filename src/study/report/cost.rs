//! `specsim cost` (SPEC §12): an existing study's `E[generated]` (its `results.json`) read under a
//! latency profile at batch sizes: the speedup of every configuration, the best per batch size,
//! and the plot of speedup against K (or nodes) per batch size with the best marked.

use std::path::Path;

use serde_json::{Value, json};

use super::figure::{Entry, Figure, Kind, Ticks, color};
use super::profile_source;
use crate::cost::{Cost, CostRow, RoundShape, best_per_batch, labels};
use crate::error::{Error, Result};

/// The largest `results.json` read.
pub const MAX_RESULTS_BYTES: u64 = 1 << 30;

/// The rows of a study's `results.json` (in `dir`, or the file itself) as the cost selection reads
/// them: `label`, `tree`, `k`, `depth`, `nodes`, and `exact_mean_generated` (or, where it is
/// null, `mean_generated`).
pub fn study_rows(dir: &Path) -> Result<Vec<CostRow>> {
    let path = if dir.is_dir() {
        dir.join("results.json")
    } else {
        dir.to_path_buf()
    };
    if !path.exists() {
        return Err(Error::Config(format!(
            "{}: no study there (give a study's output directory, or its results.json)",
            path.display()
        )));
    }
    let text = crate::files::read_text(&path, "a study's results.json", MAX_RESULTS_BYTES)?;
    let shown = path.display().to_string();
    let doc: Value = serde_json::from_str(&text)
        .map_err(|e| Error::Config(format!("{shown}: not a study's results.json: {e}")))?;
    let configs = doc["configurations"].as_array().ok_or_else(|| {
        Error::Config(format!(
            "{shown}: no `configurations` list: not a study's results.json"
        ))
    })?;
    let mut out = Vec::new();
    for (i, c) in configs.iter().enumerate() {
        for (j, r) in c["rows"].as_array().into_iter().flatten().enumerate() {
            // A stopping policy's row drafts D ≤ K per round, not K: its goodput is its own
            // column, and it is not a K to choose.
            if r["stop"].is_string() {
                continue;
            }
            let at = || format!("{shown}: configurations[{i}].rows[{j}]");
            let text = |key: &str| -> Result<String> {
                r[key].as_str().map(str::to_string).ok_or_else(|| {
                    Error::Config(format!("{}: `{key}` is missing or not text", at()))
                })
            };
            let count = |key: &str| -> Result<usize> {
                r[key].as_u64().map(|x| x as usize).ok_or_else(|| {
                    Error::Config(format!("{}: `{key}` is missing or not a count", at()))
                })
            };
            let estimate = r["exact_given"]
                .as_str()
                .is_some_and(|g| g == crate::study::ESTIMATE_WOR);
            let (generated, from) = match (
                r["exact_mean_generated"].as_f64(),
                r["mean_generated"].as_f64(),
            ) {
                (Some(e), _) if estimate => (e, "estimate"),
                (Some(e), _) => (e, "exact"),
                (None, Some(m)) => (m, "simulated"),
                _ => {
                    return Err(Error::Config(format!("{}: no `mean_generated`", at())));
                }
            };
            if !(generated.is_finite() && generated >= 1.0) {
                return Err(Error::Config(format!(
                    "{}: E[generated] = {generated} is not a number of tokens >= 1",
                    at()
                )));
            }
            let (depth, nodes) = (count("depth")?, count("nodes")?);
            if nodes == 0 {
                return Err(Error::Config(format!("{}: `nodes` is 0", at())));
            }
            out.push(CostRow {
                label: text("label")?,
                tree: text("tree")?,
                k: r["k"].as_u64().map(|k| k as usize),
                shape: RoundShape {
                    draft_steps: depth,
                    tokens: nodes,
                },
                generated,
                from,
            });
        }
    }
    if out.is_empty() {
        return Err(Error::Config(format!("{shown}: the study has no rows")));
    }
    Ok(out)
}

/// The document `specsim cost --format json` prints (and writes as `cost.json`): the profile,
/// the batch sizes, the best configuration per group and batch size, and every candidate's
/// speedup and goodput at each batch size.
pub fn cost_doc(rows: &[CostRow], cost: &Cost, batches: &[u64]) -> Value {
    let candidates: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({
                "label": r.label,
                "tree": r.tree,
                "k": r.k,
                "depth": r.shape.draft_steps,
                "nodes": r.shape.tokens,
                "generated": r.generated,
                "from": r.from,
                "speedup": batches.iter().map(|&b| cost.speedup(r.generated, r.shape, b)).collect::<Vec<_>>(),
                "goodput": batches.iter().map(|&b| cost.goodput(r.generated, r.shape, b)).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "cost_profile": profile_source(cost),
        "unit": cost.unit(),
        "batch_sizes": batches,
        "best": best_per_batch(rows, cost, batches),
        "candidates": candidates,
    })
}

/// The table `specsim cost` prints: per group, each candidate's speedup at every batch size, the
/// best marked `*`.
pub fn cost_table(rows: &[CostRow], cost: &Cost, batches: &[u64]) -> String {
    let best = best_per_batch(rows, cost, batches);
    let mut s = format!(
        "speedup against plain decoding at each batch size ({}; E[generated] exact where the study has it)\n",
        profile_source(cost)
    );
    for label in labels(rows) {
        s += &format!("\n{label}\n{:<16} {:>9} {:>9}", "tree", "E[gen]", "from");
        for b in batches {
            s += &format!(" {:>9}", format!("B={b}"));
        }
        s += "\n";
        for r in rows.iter().filter(|r| r.label == label) {
            s += &format!("{:<16} {:>9.4} {:>9}", r.tree, r.generated, r.from);
            for &b in batches {
                let x = cost.speedup(r.generated, r.shape, b);
                let mark = best
                    .iter()
                    .any(|c| c.label == label && c.batch == b && c.best_tree == r.tree);
                s += &format!(" {:>9}", format!("{x:.3}{}", if mark { "*" } else { " " }));
            }
            s += "\n";
        }
    }
    s += "\nbest per batch size:\n";
    for c in &best {
        s += &format!(
            "  {:<40} B = {:<5} {:<14} x{:.3}  ({:.4} tokens per {})\n",
            c.label,
            c.batch,
            c.best_tree,
            c.speedup,
            c.goodput,
            cost.unit()
        );
    }
    s
}

/// The plot: speedup against K (chains; nodes for trees with branches) per batch size, one
/// colour per batch size, one line style per group, the best of each marked.
pub fn plot_cost(path: &Path, rows: &[CostRow], cost: &Cost, batches: &[u64]) -> Result<()> {
    let chains = rows.iter().all(|r| r.k.is_some());
    let x_of = |r: &CostRow| {
        if chains {
            r.shape.draft_steps as f64
        } else {
            r.shape.tokens as f64
        }
    };
    let groups = labels(rows);
    let mut entries = Vec::new();
    for (i, b) in batches.iter().enumerate() {
        entries.push(Entry::new(color(i), Kind::Simulated, format!("B = {b}")));
    }
    if groups.len() > 1 {
        for (g, label) in groups.iter().enumerate() {
            entries.push(Entry::new(
                plotters::style::RGBColor(90, 90, 90),
                Kind::Variant(g),
                label.to_string(),
            ));
        }
    }
    let ymax = rows
        .iter()
        .flat_map(|r| {
            batches
                .iter()
                .map(|&b| cost.speedup(r.generated, r.shape, b))
        })
        .filter(|x| x.is_finite())
        .fold(1.0, f64::max);
    let (x0, x1) = rows
        .iter()
        .map(x_of)
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
            (a.min(x), b.max(x))
        });
    let fig = Figure::new(path, &entries)?;
    let mut chart = fig.chart(
        &format!(
            "Speedup vs {} per batch size: {}",
            if chains { "K" } else { "nodes" },
            profile_source(cost)
        ),
        (x0 - 0.5).min(x1 - 1.0)..x1 + 0.5,
        0.0..ymax * 1.15,
        (
            if chains { "K" } else { "nodes per tree" },
            "goodput / plain decoding's",
        ),
        Ticks::Integers,
    )?;
    let best = best_per_batch(rows, cost, batches);
    for (g, label) in groups.iter().enumerate() {
        let mut group: Vec<&CostRow> = rows.iter().filter(|r| r.label == *label).collect();
        group.sort_by(|a, b| x_of(a).total_cmp(&x_of(b)));
        for (i, &b) in batches.iter().enumerate() {
            let pts: Vec<(f64, f64)> = group
                .iter()
                .map(|r| (x_of(r), cost.speedup(r.generated, r.shape, b)))
                .collect();
            fig.series(&mut chart, &pts, color(i), Kind::Variant(g))?;
            if let Some(c) = best.iter().find(|c| c.label == *label && c.batch == b)
                && let Some(r) = group.iter().find(|r| r.tree == c.best_tree)
            {
                let text = match c.best_k {
                    Some(k) if chains => format!("B = {b}: K = {k} (x{:.2})", c.speedup),
                    _ => format!("B = {b}: {} (x{:.2})", c.best_tree, c.speedup),
                };
                fig.note(&mut chart, (x_of(r), c.speedup), &text, color(i))?;
            }
        }
    }
    fig.finish(&chart, &entries).map(|_| ())
}

/// Writes `cost.json` ([`cost_doc`]) and `cost.svg` ([`plot_cost`]) into `dir`, both or neither.
pub fn write_cost_files(dir: &Path, rows: &[CostRow], cost: &Cost, batches: &[u64]) -> Result<()> {
    let mut set = crate::output::FileSet::create(dir)?;
    let text = serde_json::to_string_pretty(&cost_doc(rows, cost, batches))
        .map_err(|e| Error::output(dir.join("cost.json"), e))?;
    set.write("cost.json", text.as_bytes())?;
    plot_cost(&set.path("cost.svg"), rows, cost, batches)
        .map_err(|e| e.with_path(dir.join("cost.svg")))?;
    set.commit()
}
