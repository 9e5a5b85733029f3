//! Tree study reports: the plot `mean_generated.svg` and the table printed to the terminal
//! (`results.csv` and `results.json` are every study's, `mod.rs`).

use std::path::Path;

use plotters::prelude::*;

use super::figure::{Entry, Figure, Kind, Layout, Ticks, category_area, color};
use super::speedup;
use crate::cost::Costs;
use crate::error::Result;
use crate::study::row::StudyRow;
use crate::study::tree::TreeStudyResult;

/// The workload in words (`logit-noise sigma=0.5 V=500`).
pub fn workload_label(r: &TreeStudyResult) -> String {
    let w = &r.config.workload;
    format!("{} V={}", w.label(), w.vocab)
}

/// The table printed after a tree study: per workload, a line per (tree, rule), with the
/// speedup at each cost ratio (a round costs depth draft steps and one verification).
pub fn tree_table(results: &[TreeStudyResult], costs: &Costs) -> String {
    let mut s = String::new();
    let mut last = String::new();
    // The rule column fits the longest spec (`sglang:0.3:0.5`).
    let rw = results
        .iter()
        .map(|r| r.rule.to_string().len())
        .max()
        .unwrap_or(0)
        .max(11);
    for r in results {
        let row = StudyRow::tree(r);
        let w = workload_label(r);
        if w != last {
            s += &format!(
                "\n{w}, {} rounds, engine {}\n{:<22} {:>5} {:>5}  {:<rw$} {:>21}  {:>9}  {:>7}  {:>9}  {:>6}",
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
            for c in &costs.ratios {
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
            "{:<22} {:>5} {:>5}  {:<rw$} {:>12.4} ± {half}  {:>9}  {:>7}  {:>9.4}  {:>6}",
            row.tree_label,
            row.nodes,
            row.depth,
            row.rule.to_string(),
            row.mean_generated,
            opt(row.exact_mean_generated, 4),
            opt(row.paired_z, 2),
            row.generated_per_position,
            opt(row.chain_same_nodes, 3),
        );
        for &c in &costs.ratios {
            s += &format!(" {:>9.4}", speedup(row.mean_generated, &row, c));
        }
        s += "\n";
    }
    s
}

/// The tree study's plot: per (workload, tree) slot, each rule's mean generated with its 99%
/// interval (bars) and the exact value (hollow square), in the shared look of
/// [`super::figure`]; slot names are rotated, so any number of them stays readable.
pub(super) fn plot_tree_means(path: &Path, results: &[TreeStudyResult]) -> Result<Layout> {
    // One x slot per (workload, tree), in order of first appearance.
    let mut slots: Vec<String> = Vec::new();
    let one_workload = results
        .iter()
        .all(|r| workload_label(r) == workload_label(&results[0]));
    let slot_of = |r: &TreeStudyResult| {
        // A design study's trees are named by builder and budget too: two builders may give
        // the same spec (at n = 2 every one is chain:1), and sequoia's differ by rule.
        let tree = match &r.config.design {
            Some(d) if d.builder == "sequoia" => {
                format!(
                    "{} n={}: {} ({})",
                    d.builder,
                    d.budget,
                    r.config.tree.label(),
                    r.rule
                )
            }
            Some(d) => format!("{} n={}: {}", d.builder, d.budget, r.config.tree.label()),
            None => r.config.tree.label(),
        };
        if one_workload {
            tree
        } else {
            format!("{tree} | {}", workload_label(r))
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
        .filter(|x| x.is_finite())
        .fold(1.0, f64::max);
    let mut entries: Vec<Entry> = rules
        .iter()
        .enumerate()
        .map(|(i, rule)| Entry::new(color(i), Kind::Simulated, rule.to_string()))
        .collect();
    let grey = RGBColor(90, 90, 90);
    entries.push(Entry::new(grey, Kind::Simulated, "simulated, 99% interval"));
    entries.push(Entry::new(grey, Kind::Exact, "exact (SPEC §7)"));
    let fig = Figure::sized(path, &entries, 520 + category_area(&slots))?;
    let title = match results.first() {
        Some(r) if one_workload => format!(
            "Mean tokens generated per round by tree and rule: {}, {} rounds",
            workload_label(r),
            r.rounds
        ),
        _ => "Mean tokens generated per round by tree and rule".into(),
    };
    let n = slots.len().max(1) as f64;
    let mut chart = fig.chart(
        &title,
        -0.5..n - 0.5,
        0.0..ymax * 1.08,
        ("", "mean generated per round"),
        Ticks::Categories { labels: &slots },
    )?;
    let e = |x| fig.err(x);
    for (ri, rule) in rules.iter().enumerate() {
        let c = color(ri);
        let off = (ri as f64 - (rules.len() as f64 - 1.0) / 2.0) * 0.14;
        let mine: Vec<&TreeStudyResult> = results.iter().filter(|r| r.rule == *rule).collect();
        let pts: Vec<(f64, f64, f64)> = mine
            .iter()
            .map(|r| {
                let x = slots.iter().position(|s| *s == slot_of(r)).unwrap_or(0) as f64 + off;
                (x, r.mean_generated, r.ci99_half)
            })
            .collect();
        chart
            .draw_series(
                pts.iter().map(|&(x, m, h)| {
                    ErrorBar::new_vertical(x, m - h, m, m + h, c.stroke_width(2), 8)
                }),
            )
            .map_err(e)?;
        let dots: Vec<(f64, f64)> = pts.iter().map(|&(x, m, _)| (x, m)).collect();
        chart
            .draw_series(dots.iter().map(|&p| Circle::new(p, 4, c.filled())))
            .map_err(e)?;
        let exact: Vec<(f64, f64)> = mine
            .iter()
            .zip(&pts)
            .filter_map(|(r, &(x, _, _))| r.exact_mean_generated.map(|ex| (x, ex)))
            .collect();
        chart
            .draw_series(exact.iter().map(|&(x, y)| {
                EmptyElement::at((x, y)) + Rectangle::new([(-4, -4), (4, 4)], c.stroke_width(2))
            }))
            .map_err(e)?;
    }
    fig.finish(&chart, &entries)
}

/// The design study's plot (`design.svg`): E[generated] against the node budget, one line per
/// builder (colour) and rule (line style), the simulated mean with its 99% band and the exact
/// value (hollow squares) where there is one. Several workloads get their own lines, labelled.
pub(super) fn plot_design(path: &Path, results: &[TreeStudyResult]) -> Result<Layout> {
    use crate::study::tree::design::BUILDERS;
    let design: Vec<&TreeStudyResult> = results
        .iter()
        .filter(|r| r.config.design.is_some())
        .collect();
    let workloads: Vec<String> = design.iter().fold(Vec::new(), |mut v, r| {
        let w = workload_label(r);
        if !v.contains(&w) {
            v.push(w);
        }
        v
    });
    let mut rules: Vec<crate::rule::Rule> = Vec::new();
    for r in &design {
        if !rules.contains(&r.rule) {
            rules.push(r.rule);
        }
    }
    // One line per (workload, builder, rule) that the study ran.
    let mut lines: Vec<(String, &str, crate::rule::Rule)> = Vec::new();
    for w in &workloads {
        for b in BUILDERS {
            for &rule in &rules {
                if design.iter().any(|r| {
                    workload_label(r) == *w
                        && r.rule == rule
                        && r.config.design.as_ref().is_some_and(|d| d.builder == b)
                }) {
                    lines.push((w.clone(), b, rule));
                }
            }
        }
    }
    let style = |w: &str, b: &str, rule: crate::rule::Rule| {
        let bi = BUILDERS.iter().position(|x| *x == b).unwrap_or(0);
        let wi = workloads.iter().position(|x| x == w).unwrap_or(0);
        let ri = rules.iter().position(|x| *x == rule).unwrap_or(0);
        (color(bi + wi * BUILDERS.len()), Kind::Variant(ri))
    };
    let entries: Vec<Entry> = lines
        .iter()
        .map(|(w, b, rule)| {
            let (c, k) = style(w, b, *rule);
            let label = if workloads.len() > 1 {
                format!("{b}, {rule} ({w})")
            } else {
                format!("{b}, {rule}")
            };
            Entry::new(c, k, label)
        })
        .chain([Entry::new(
            RGBColor(90, 90, 90),
            Kind::Exact,
            "exact (SPEC §9)",
        )])
        .collect();
    let budgets: Vec<usize> = design
        .iter()
        .filter_map(|r| r.config.design.as_ref().map(|d| d.budget))
        .collect();
    let (lo, hi) = (
        budgets.iter().copied().min().unwrap_or(2) as f64,
        budgets.iter().copied().max().unwrap_or(2) as f64,
    );
    let ymax = design
        .iter()
        .map(|r| (r.mean_generated + r.ci99_half).max(r.exact_mean_generated.unwrap_or(0.0)))
        .filter(|x| x.is_finite())
        .fold(1.0, f64::max);
    let fig = Figure::new(path, &entries)?;
    let title = match (workloads.len(), design.first()) {
        (1, Some(r)) => format!(
            "Tree design: E[generated] by node budget: {}, {} rounds",
            workloads[0], r.rounds
        ),
        _ => "Tree design: E[generated] by node budget".into(),
    };
    let pad = ((hi - lo) * 0.04).max(0.5);
    let mut chart = fig.chart(
        &title,
        lo - pad..hi + pad,
        0.0..ymax * 1.08,
        (
            "node budget (nodes per round, the root included)",
            "E[generated] per round",
        ),
        Ticks::Integers,
    )?;
    for (w, b, rule) in &lines {
        let (c, kind) = style(w, b, *rule);
        let mut mine: Vec<&&TreeStudyResult> = design
            .iter()
            .filter(|r| {
                workload_label(r) == *w
                    && r.rule == *rule
                    && r.config.design.as_ref().is_some_and(|d| d.builder == *b)
            })
            .collect();
        mine.sort_by_key(|r| r.config.design.as_ref().map_or(0, |d| d.budget));
        let x = |r: &TreeStudyResult| r.config.design.as_ref().map_or(0.0, |d| d.budget as f64);
        let lo: Vec<(f64, f64)> = mine
            .iter()
            .map(|r| (x(r), r.mean_generated - r.ci99_half))
            .collect();
        let hi: Vec<(f64, f64)> = mine
            .iter()
            .map(|r| (x(r), r.mean_generated + r.ci99_half))
            .collect();
        fig.band(&mut chart, &lo, &hi, c)?;
        let pts: Vec<(f64, f64)> = mine.iter().map(|r| (x(r), r.mean_generated)).collect();
        fig.series(&mut chart, &pts, c, kind)?;
        let exact: Vec<(f64, f64)> = mine
            .iter()
            .filter_map(|r| r.exact_mean_generated.map(|e| (x(r), e)))
            .collect();
        chart
            .draw_series(exact.iter().map(|&(x, y)| {
                EmptyElement::at((x, y)) + Rectangle::new([(-4, -4), (4, 4)], c.stroke_width(1))
            }))
            .map_err(|e| fig.err(e))?;
    }
    fig.finish(&chart, &entries)
}
