//! Tree study reports: `tree_results.csv`, `tree_results.json`, `tree_mean_generated.svg` and
//! the table printed to the terminal.

use std::path::Path;

use plotters::prelude::*;
use serde_json::{Value, json};

use super::csv::write_csv;
use crate::error::{Error, Result};
use crate::study::tree::TreeStudyResult;

/// The files a tree study writes.
pub const TREE_FILES: [&str; 3] = [
    "tree_results.csv",
    "tree_results.json",
    "tree_mean_generated.svg",
];

/// The workload in words (`logit-noise sigma=0.5 V=500`).
pub fn workload_label(r: &TreeStudyResult) -> String {
    let w = &r.config.workload;
    format!("{} V={}", w.label(), w.vocab)
}

/// One row per (workload, tree, rule).
pub fn tree_rows(results: &[TreeStudyResult]) -> Vec<Vec<(String, Value)>> {
    results
        .iter()
        .map(|r| {
            let t = &r.config.tree;
            let w = &r.config.workload;
            let mut row: Vec<(String, Value)> = vec![
                ("rule".into(), json!(r.rule)),
                ("tree".into(), json!(t.spec)),
                ("nodes".into(), json!(t.tree.len())),
                ("depth".into(), json!(t.tree.depth())),
                ("family".into(), json!(w.family.name())),
            ];
            row.extend([
                ("param".into(), w.family.param()),
                ("vocab".into(), json!(w.vocab)),
                ("t_target".into(), json!(w.t_target)),
                ("t_draft".into(), json!(w.t_draft)),
                ("zipf".into(), json!(w.zipf)),
                ("rounds".into(), json!(r.rounds)),
                ("seed".into(), json!(r.config.seed)),
                ("engine".into(), json!(r.engine)),
                ("mean_generated".into(), json!(r.mean_generated)),
                ("ci99_low".into(), json!(r.mean_generated - r.ci99_half)),
                ("ci99_high".into(), json!(r.mean_generated + r.ci99_half)),
                ("exact_generated".into(), json!(r.exact_generated)),
                ("paired_z".into(), json!(r.paired_z)),
                ("exact_within_99".into(), json!(r.exact_within_99)),
                (
                    "generated_per_position".into(),
                    json!(r.generated_per_position),
                ),
                ("chain_same_nodes".into(), json!(r.chain_same_nodes)),
                (
                    "per_depth_acceptance".into(),
                    json!(
                        r.per_depth
                            .iter()
                            .map(|x| format!("{x:.6}"))
                            .collect::<Vec<_>>()
                            .join(";")
                    ),
                ),
                ("seconds".into(), json!(r.seconds)),
            ]);
            row
        })
        .collect()
}

/// Writes the three files into `dir`, all or none.
pub fn write_tree_files(dir: &Path, results: &[TreeStudyResult]) -> Result<()> {
    let mut set = crate::output::FileSet::create(dir)?;
    write_csv(&set.path(TREE_FILES[0]), &tree_rows(results))
        .map_err(|e| e.with_path(dir.join(TREE_FILES[0])))?;
    let doc = json!({ "results": results });
    let text = serde_json::to_string_pretty(&doc)
        .map_err(|e| Error::output(dir.join(TREE_FILES[1]), e))?;
    set.write(TREE_FILES[1], text.as_bytes())?;
    let plot = set.path(TREE_FILES[2]);
    plot_tree_means(&plot, results).map_err(|e| Error::output(dir.join(TREE_FILES[2]), e))?;
    set.commit()
}

/// The table printed after a tree study.
pub fn tree_table(results: &[TreeStudyResult]) -> String {
    let mut s = String::new();
    let mut last = String::new();
    for r in results {
        let w = workload_label(r);
        if w != last {
            s += &format!(
                "\n{w}, {} rounds, engine {}\n{:<22} {:>5} {:>5}  {:<11} {:>21}  {:>9}  {:>7}  {:>9}  {:>6}\n",
                r.rounds,
                r.engine,
                "tree",
                "nodes",
                "depth",
                "rule",
                "mean generated (99%)",
                "exact",
                "z",
                "per node",
                "chain"
            );
            last = w;
        }
        let opt = |x: Option<f64>, p: usize| x.map_or("—".to_string(), |v| format!("{v:.p$}"));
        s += &format!(
            "{:<22} {:>5} {:>5}  {:<11} {:>12.4} ± {:<6.4}  {:>9}  {:>7}  {:>9.4}  {:>6}\n",
            r.config.tree.label(),
            r.config.tree.tree.len(),
            r.config.tree.tree.depth(),
            r.rule.name(),
            r.mean_generated,
            r.ci99_half,
            opt(r.exact_generated, 4),
            opt(r.paired_z, 2),
            r.generated_per_position,
            opt(r.chain_same_nodes, 3),
        );
    }
    s
}

const COLORS: [RGBColor; 4] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
];

fn plot_tree_means(path: &Path, results: &[TreeStudyResult]) -> std::result::Result<(), String> {
    let e = |x: &dyn std::fmt::Display| x.to_string();
    // One x slot per (workload, tree), in order of first appearance.
    let mut slots: Vec<String> = Vec::new();
    let one_workload = results
        .iter()
        .all(|r| workload_label(r) == workload_label(&results[0]));
    let slot_of = |r: &TreeStudyResult| {
        if one_workload {
            r.config.tree.label()
        } else {
            format!("{} | {}", r.config.tree.label(), workload_label(r))
        }
    };
    for r in results {
        let s = slot_of(r);
        if !slots.contains(&s) {
            slots.push(s);
        }
    }
    let mut rules: Vec<crate::rule::Rule> = Vec::new();
    for r in results {
        if !rules.contains(&r.rule) {
            rules.push(r.rule);
        }
    }
    let ymax = results
        .iter()
        .map(|r| (r.mean_generated + r.ci99_half).max(r.exact_generated.unwrap_or(0.0)))
        .fold(1.0, f64::max);
    let root = SVGBackend::new(path, (1000, 620)).into_drawing_area();
    root.fill(&WHITE).map_err(|x| e(&x))?;
    let n = slots.len().max(1) as f64;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            match results.first() {
                Some(r) if one_workload => format!(
                    "Mean generated per round by tree and rule, {} (bars: 99% interval, x: exact)",
                    workload_label(r)
                ),
                _ => "Mean generated per round by tree and rule (bars: 99% interval, x: exact)"
                    .into(),
            },
            ("sans-serif", 18),
        )
        .margin(15)
        .x_label_area_size(60)
        .y_label_area_size(55)
        .build_cartesian_2d(-0.5..n - 0.5, 0.0..ymax * 1.1)
        .map_err(|x| e(&x))?;
    let labels = slots.clone();
    chart
        .configure_mesh()
        .x_labels(slots.len())
        .x_label_formatter(&|x| {
            let i = x.round();
            if (x - i).abs() < 1e-6 && i >= 0.0 {
                labels.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .y_desc("mean generated per round")
        .draw()
        .map_err(|x| e(&x))?;
    for (ri, rule) in rules.iter().enumerate() {
        let color = COLORS[ri % COLORS.len()];
        let off = (ri as f64 - (rules.len() as f64 - 1.0) / 2.0) * 0.12;
        let mine: Vec<&TreeStudyResult> = results.iter().filter(|r| r.rule == *rule).collect();
        let pts: Vec<(f64, f64, f64)> = mine
            .iter()
            .map(|r| {
                let x = slots.iter().position(|s| *s == slot_of(r)).unwrap_or(0) as f64 + off;
                (x, r.mean_generated, r.ci99_half)
            })
            .collect();
        chart
            .draw_series(pts.iter().map(|&(x, m, h)| {
                ErrorBar::new_vertical(x, m - h, m, m + h, color.stroke_width(2), 8)
            }))
            .map_err(|x| e(&x))?
            .label(rule.name())
            .legend(move |(x, y)| Circle::new((x + 8, y), 4, color.filled()));
        chart
            .draw_series(
                pts.iter()
                    .map(|&(x, m, _)| Circle::new((x, m), 4, color.filled())),
            )
            .map_err(|x| e(&x))?;
        chart
            .draw_series(mine.iter().zip(&pts).filter_map(|(r, &(x, _, _))| {
                r.exact_generated
                    .map(|ex| Cross::new((x, ex), 6, BLACK.stroke_width(2)))
            }))
            .map_err(|x| e(&x))?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperLeft)
        .draw()
        .map_err(|x| e(&x))?;
    root.present().map_err(|x| e(&x))
}
