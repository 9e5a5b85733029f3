//! Tree study reports: the plot `mean_generated.svg` and the table printed to the terminal
//! (`results.csv` and `results.json` are every study's, `mod.rs`).

use std::path::Path;

use plotters::prelude::*;

use super::speedup;
use crate::study::row::StudyRow;
use crate::study::tree::TreeStudyResult;

/// The workload in words (`logit-noise sigma=0.5 V=500`).
pub fn workload_label(r: &TreeStudyResult) -> String {
    let w = &r.config.workload;
    format!("{} V={}", w.label(), w.vocab)
}

/// The table printed after a tree study: per workload, a line per (tree, rule), with the
/// speedup at each cost ratio (a round costs depth draft steps and one verification).
pub fn tree_table(results: &[TreeStudyResult], cost_ratios: &[f64]) -> String {
    let mut s = String::new();
    let mut last = String::new();
    for r in results {
        let row = StudyRow::tree(r);
        let w = workload_label(r);
        if w != last {
            s += &format!(
                "\n{w}, {} rounds, engine {}\n{:<22} {:>5} {:>5}  {:<11} {:>21}  {:>9}  {:>7}  {:>9}  {:>6}",
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
            for c in cost_ratios {
                s += &format!(" {:>9}", format!("x c={c}"));
            }
            s += "\n";
            last = w;
        }
        let opt = |x: Option<f64>, p: usize| x.map_or("—".to_string(), |v| format!("{v:.p$}"));
        let half = if row.ci_defined {
            format!("{:<6.4}", r.ci99_half)
        } else {
            format!("{:<6}", "n/a")
        };
        s += &format!(
            "{:<22} {:>5} {:>5}  {:<11} {:>12.4} ± {half}  {:>9}  {:>7}  {:>9.4}  {:>6}",
            row.tree_label,
            row.nodes,
            row.depth,
            row.rule.name(),
            row.mean_generated,
            opt(row.exact_mean_generated, 4),
            opt(row.paired_z, 2),
            row.generated_per_position,
            opt(row.chain_same_nodes, 3),
        );
        for &c in cost_ratios {
            s += &format!(" {:>9.4}", speedup(row.mean_generated, &row, c));
        }
        s += "\n";
    }
    s
}

const COLORS: [RGBColor; 4] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
];

pub(super) fn plot_tree_means(
    path: &Path,
    results: &[TreeStudyResult],
) -> std::result::Result<(), String> {
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
        .map(|r| (r.mean_generated + r.ci99_half).max(r.exact_mean_generated.unwrap_or(0.0)))
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
                r.exact_mean_generated
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
