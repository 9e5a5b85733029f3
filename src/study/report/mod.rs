//! Study outputs, one file per format as hyperfine's `export/`: the table (`table.rs`),
//! `results.csv` (`csv.rs`), `results.json` (`json.rs`) and the SVG plots (`plots.rs` for chains,
//! `tree.rs` for trees). Chain and tree studies write the same files with the same columns: the
//! rows are [`StudyRow`]s and the column table is `columns.rs`.

mod columns;
pub mod cost;
mod csv;
pub mod distortion;
mod figure;
mod json;
mod plots;
mod table;
pub mod tree;

pub use columns::{COLUMNS, Column, row_values, speedup, speedup_columns};
pub use csv::write_csv;
pub use json::json_doc;
pub use plots::plots;
pub use table::table;

use std::path::Path;

use serde::Serialize;
use serde_json::{Value, json};

use super::per_k::RuleTally;
use super::row::StudyRow;
use super::tree::TreeStudyResult;
use super::{Metrics, StudyConfig, Tally, walltime_improvement};
use crate::cost::{Cost, CostRow, Costs};
use crate::error::{Error, Result};
use crate::rule::Rule;
use columns::{cost_generated, round_shape};

/// A study's results: chain configurations (one result per configuration and rule, every K
/// inside) or tree configurations (one per workload, tree and rule).
#[derive(Clone, Debug)]
pub enum Results {
    /// A chain study (`--k`).
    Chain(Vec<ConfigResult>),
    /// A tree study (`--tree`).
    Tree(Vec<TreeStudyResult>),
}

impl Results {
    /// The output rows, in order.
    pub fn rows(&self) -> Vec<StudyRow> {
        match self {
            Results::Chain(rs) => rs.iter().flat_map(StudyRow::chain).collect(),
            Results::Tree(rs) => rs.iter().map(StudyRow::tree).collect(),
        }
    }

    /// The files [`write_files`] writes.
    pub fn files(&self) -> &'static [&'static str] {
        match self {
            Results::Chain(_) => &FILES,
            Results::Tree(r) if r.iter().any(|r| r.config.design.is_some()) => &DESIGN_FILES,
            Results::Tree(_) => &TREE_FILES,
        }
    }
}

/// The files a chain study writes into its directory.
pub const FILES: [&str; 5] = [
    "results.csv",
    "results.json",
    "mean_generated.svg",
    "per_position.svg",
    "speedup.svg",
];

/// The files a tree study writes: the same results files, and its plot.
pub const TREE_FILES: [&str; 3] = ["results.csv", "results.json", "mean_generated.svg"];

/// The files a design study (`--design`) writes: a tree study's, and `design.svg`.
pub const DESIGN_FILES: [&str; 4] = [
    "results.csv",
    "results.json",
    "mean_generated.svg",
    "design.svg",
];

/// Writes `results.csv`, `results.json` and the plots into `dir` (created if missing): all of
/// them or none ([`crate::output::FileSet`]).
pub fn write_files(dir: &Path, results: &Results, costs: &Costs) -> Result<()> {
    let mut set = crate::output::FileSet::create(dir)?;
    let rows = rows(results, costs);
    write_csv(&set.path("results.csv"), &rows).map_err(|e| e.with_path(dir.join("results.csv")))?;
    let doc = json_doc(results, costs);
    let text = serde_json::to_string_pretty(&doc)
        .map_err(|e| Error::output(dir.join("results.json"), e))?;
    set.write("results.json", text.as_bytes())?;
    match results {
        Results::Chain(results) => {
            let names = ["mean_generated.svg", "per_position.svg", "speedup.svg"];
            let paths = names.map(|n| set.path(n));
            plots::plots_at(&paths, results, &costs.ratios).map_err(|e| {
                // Name the plot by its final path, not its temporary one.
                let text = e.to_string();
                let shown = names
                    .iter()
                    .zip(&paths)
                    .find(|(_, p)| text.contains(&*p.display().to_string()))
                    .map_or_else(|| dir.to_path_buf(), |(n, _)| dir.join(n));
                e.with_path(shown)
            })?;
        }
        Results::Tree(results) => {
            let plot = set.path("mean_generated.svg");
            tree::plot_tree_means(&plot, results)
                .map_err(|e| e.with_path(dir.join("mean_generated.svg")))?;
            if results.iter().any(|r| r.config.design.is_some()) {
                tree::plot_design(&set.path("design.svg"), results)
                    .map_err(|e| e.with_path(dir.join("design.svg")))?;
            }
        }
    }
    set.commit()
}

/// One configuration's result under one rule.
#[derive(Clone, Debug, Serialize)]
pub struct ConfigResult {
    /// What was run.
    pub config: StudyConfig,
    /// Engine (and adapter) that ran it.
    pub engine: String,
    /// The rule these results are for.
    pub rule: Rule,
    /// The token rule's sufficient statistics (the workload's betas; the token rule's results).
    pub tally: Tally,
    /// The rule's own, for a rule measured at every K (every chain rule but the token rule).
    pub per_k: Option<RuleTally>,
    /// Wall time of the run, seconds (every rule of the configuration together).
    pub seconds: f64,
    /// A stopping policy's result (the row is the policy's, at the cap K_max).
    pub stop: Option<crate::study::stop::StopResult>,
}

impl ConfigResult {
    /// A short label: family and its parameters (temperatures and zipf when not the defaults).
    pub fn label(&self) -> String {
        let mut s = self.config.workload.label();
        if self.rule != Rule::Token {
            s += &format!(" ({})", self.rule);
        }
        s
    }

    /// Metrics at every K asked for, in increasing K (none for a stopping policy's result: its
    /// one row is `StudyRow::chain`'s).
    pub fn metrics(&self) -> Vec<Metrics> {
        if self.stop.is_some() {
            return Vec::new();
        }
        match &self.per_k {
            Some(bt) => (0..bt.ks.len())
                .map(|ki| bt.metrics(ki, &self.tally))
                .collect(),
            None => self
                .config
                .sorted_ks()
                .into_iter()
                .map(|k| self.tally.metrics(k))
                .collect(),
        }
    }
}

/// The rows of `results.csv`: (column, value) pairs in the column table's order
/// ([`COLUMNS`], then the speedups of each cost ratio).
pub fn rows(results: &Results, costs: &Costs) -> Vec<Vec<(String, Value)>> {
    results
        .rows()
        .iter()
        .map(|r| row_values(r, costs))
        .collect()
}

/// The best K per chain configuration and cost ratio (by the simulated speedup), with the
/// speedup; then, with a profile, the best configuration per batch size ([`best_by_batch`]).
pub fn best_k(results: &Results, costs: &Costs) -> Vec<Value> {
    let mut out = Vec::new();
    if let Results::Chain(results) = results {
        best_k_by_ratio(results, &costs.ratios, &mut out);
    }
    if let Some(cost) = &costs.profile {
        out.extend(best_by_batch(&results.rows(), cost, &costs.batches));
    }
    out
}

/// The source a profile was read from (for outputs).
pub fn profile_source(cost: &Cost) -> String {
    match cost {
        Cost::Profile { profile, context } => match context {
            Some(c) => format!("{} (context {c})", profile.source),
            None => profile.source.clone(),
        },
        Cost::Ratio(c) => format!("ratio {c}"),
    }
}

/// A study row as the cost selection reads it: its group (`label`), shape and `E[generated]` (the
/// exact value where there is one).
pub fn cost_row(r: &StudyRow) -> CostRow {
    CostRow {
        label: r.label.clone(),
        tree: r.tree.clone(),
        k: r.k,
        shape: round_shape(r),
        generated: cost_generated(r),
        from: columns::generated_from(r),
    }
}

/// Per group of rows (a chain configuration's K, or one workload and rule's trees) and batch
/// size, the best row under `cost` ([`crate::cost::best_per_batch`]) as JSON: `label`,
/// `cost_profile`, `batch`, `best_k` (null for a tree with branches), `best_tree`, `best_nodes`,
/// `speedup`, `goodput`, `from`.
pub fn best_by_batch(rows: &[StudyRow], cost: &Cost, batches: &[u64]) -> Vec<Value> {
    // A stopping policy's row is not a K to choose (its goodput is in its own columns).
    let rows: Vec<CostRow> = rows
        .iter()
        .filter(|r| r.stop.is_none())
        .map(cost_row)
        .collect();
    crate::cost::best_per_batch(&rows, cost, batches)
        .into_iter()
        .map(|c| {
            let mut v = json!(c);
            v["cost_profile"] = json!(profile_source(cost));
            v
        })
        .collect()
}

/// The best K per chain configuration and cost ratio.
fn best_k_by_ratio(results: &[ConfigResult], cost_ratios: &[f64], out: &mut Vec<Value>) {
    for r in results {
        let ms = r.metrics();
        for &c in cost_ratios {
            if let Some(best) = ms.iter().max_by(|a, b| {
                walltime_improvement(a.mean_generated, a.k, c).total_cmp(&walltime_improvement(
                    b.mean_generated,
                    b.k,
                    c,
                ))
            }) {
                let exact_best = ms
                    .iter()
                    .max_by(|a, b| {
                        walltime_improvement(a.exact_mean_generated, a.k, c)
                            .total_cmp(&walltime_improvement(b.exact_mean_generated, b.k, c))
                    })
                    .map(|m| m.k);
                out.push(json!({
                    "label": r.label(),
                    "cost_ratio": c,
                    "best_k": best.k,
                    "speedup": walltime_improvement(best.mean_generated, best.k, c),
                    "exact_best_k": exact_best,
                }));
            }
        }
    }
}
