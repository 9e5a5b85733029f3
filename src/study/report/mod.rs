//! Study outputs, one file per format as hyperfine's `export/`: the table (`table.rs`),
//! `results.csv` (`csv.rs`), `results.json` (`json.rs`) and the SVG plots (`plots.rs`); here, the
//! results they share and the rows of the CSV and JSON.

mod csv;
mod json;
mod plots;
mod table;
pub mod tree;

pub use csv::write_csv;
pub use json::json_doc;
pub use plots::plots;
pub use table::table;

use std::path::Path;

use serde::Serialize;
use serde_json::{Value, json};

use super::per_k::RuleTally;
use super::{Metrics, StudyConfig, Tally, walltime_improvement};
use crate::error::{Error, Result};
use crate::rule::Rule;

/// The files [`write_files`] writes into its directory.
pub const FILES: [&str; 5] = [
    "results.csv",
    "results.json",
    "mean_generated.svg",
    "per_position.svg",
    "speedup.svg",
];

/// Writes `results.csv`, `results.json` and the three plots into `dir` (created if missing):
/// all of them or none ([`crate::output::FileSet`]).
pub fn write_files(dir: &Path, results: &[ConfigResult], cost_ratios: &[f64]) -> Result<()> {
    let mut set = crate::output::FileSet::create(dir)?;
    let rows = rows(results, cost_ratios);
    write_csv(&set.path("results.csv"), &rows).map_err(|e| e.with_path(dir.join("results.csv")))?;
    let doc = json_doc(results, cost_ratios);
    let text = serde_json::to_string_pretty(&doc)
        .map_err(|e| Error::output(dir.join("results.json"), e))?;
    set.write("results.json", text.as_bytes())?;
    let names = ["mean_generated.svg", "per_position.svg", "speedup.svg"];
    let paths = names.map(|n| set.path(n));
    plots::plots_at(&paths, results, cost_ratios).map_err(|e| {
        // Name the plot by its final path, not its temporary one.
        let text = e.to_string();
        let shown = names
            .iter()
            .zip(&paths)
            .find(|(_, p)| text.contains(&*p.display().to_string()))
            .map_or_else(|| dir.to_path_buf(), |(n, _)| dir.join(n));
        e.with_path(shown)
    })?;
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

    /// Metrics at every K asked for, in increasing K.
    pub fn metrics(&self) -> Vec<Metrics> {
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

fn fmt_c(c: f64) -> String {
    format!("{c}")
}

/// One row per (configuration, K): the columns of `results.csv`, in order.
pub fn rows(results: &[ConfigResult], cost_ratios: &[f64]) -> Vec<Vec<(String, Value)>> {
    let mut out = Vec::new();
    for r in results {
        let w = &r.config.workload;
        for m in r.metrics() {
            let mut row: Vec<(String, Value)> = vec![
                ("family".into(), json!(w.family.name())),
                ("label".into(), json!(r.label())),
                ("engine".into(), json!(r.engine)),
                ("rule".into(), json!(r.rule)),
                ("recovery".into(), json!(r.config.recovery)),
                ("vocab".into(), json!(w.vocab)),
                ("t_target".into(), json!(w.t_target)),
                ("t_draft".into(), json!(w.t_draft)),
                ("zipf".into(), json!(w.zipf)),
            ];
            row.extend(
                w.family
                    .param_columns()
                    .map(|(name, value)| (name.to_string(), value)),
            );
            row.extend([
                ("seed".into(), json!(r.config.seed)),
                ("k".into(), json!(m.k)),
                ("rounds".into(), json!(m.rounds)),
                ("mean_accepted".into(), json!(m.mean_accepted)),
                ("mean_generated".into(), json!(m.mean_generated)),
                ("sd_generated".into(), json!(m.sd_generated)),
                ("ci99_low".into(), json!(m.ci99_low)),
                ("ci99_high".into(), json!(m.ci99_high)),
                ("exact_mean_generated".into(), json!(m.exact_mean_generated)),
                ("exact_given".into(), json!(m.exact_given)),
                (
                    "within_ci99".into(),
                    json!(m.ci_defined.then_some(m.within_ci99)),
                ),
                (
                    "gain_over_token".into(),
                    json!(m.gain_over_token.map(|g| g.mean)),
                ),
                (
                    "gain_ci99_low".into(),
                    json!(m.gain_over_token.map(|g| g.ci99_low)),
                ),
                (
                    "gain_ci99_high".into(),
                    json!(m.gain_over_token.map(|g| g.ci99_high)),
                ),
                ("mean_acceptance_rate".into(), json!(m.mean_acceptance_rate)),
                ("alpha".into(), json!(m.alpha)),
                (
                    "leviathan_mean_generated".into(),
                    json!(m.leviathan_mean_generated),
                ),
            ]);
            for &c in cost_ratios {
                let cs = fmt_c(c);
                row.push((
                    format!("speedup_c{cs}"),
                    json!(walltime_improvement(m.mean_generated, m.k, c)),
                ));
                row.push((
                    format!("exact_speedup_c{cs}"),
                    json!(walltime_improvement(m.exact_mean_generated, m.k, c)),
                ));
                row.push((
                    format!("leviathan_speedup_c{cs}"),
                    json!(walltime_improvement(m.leviathan_mean_generated, m.k, c)),
                ));
            }
            out.push(row);
        }
    }
    out
}

/// The best K per configuration and cost ratio (by the simulated speedup), with the speedup.
pub fn best_k(results: &[ConfigResult], cost_ratios: &[f64]) -> Vec<Value> {
    let mut out = Vec::new();
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
    out
}
