//! Study outputs: the table, `results.csv`, `results.json` and the SVG plots.

use std::path::Path;

use plotters::prelude::*;
use serde::Serialize;
use serde_json::{Value, json};

use super::block::BlockTally;
use super::{Family, Metrics, StudyConfig, Tally, leviathan_generated, walltime_improvement};
use crate::error::{Error, Result};
use crate::rule::Rule;

/// One configuration's result.
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
    /// Block verification's, for [`Rule::Block`].
    pub block: Option<BlockTally>,
    /// Wall time of the run, seconds (every rule of the configuration together).
    pub seconds: f64,
}

impl ConfigResult {
    /// A short label: family and its parameters (temperatures and zipf when not the defaults).
    pub fn label(&self) -> String {
        let w = &self.config.workload;
        let mut s = match &w.family {
            Family::LogitNoise { sigma } => format!("logit-noise sigma={sigma}"),
            Family::Mixture { lambda } => format!("mixture lambda={lambda}"),
            Family::Quantized { bits } => format!("quantized bits={bits}"),
            Family::Rates { rates } => format!(
                "rates {}",
                rates
                    .iter()
                    .map(|r| r.to_string())
                    .collect::<Vec<_>>()
                    .join("/")
            ),
            Family::File { path } => format!("file {path}"),
        };
        if w.t_target != 1.0 || w.t_draft != 1.0 {
            s += &format!(" T={}/{}", w.t_target, w.t_draft);
        }
        if w.zipf != 0.0 {
            s += &format!(" zipf={}", w.zipf);
        }
        if self.rule != Rule::Token {
            s += &format!(" ({})", self.rule);
        }
        s
    }

    /// Metrics at every K asked for, in increasing K.
    pub fn metrics(&self) -> Vec<Metrics> {
        match (&self.block, self.rule) {
            (Some(bt), Rule::Block) => (0..bt.ks.len())
                .map(|ki| bt.metrics(ki, &self.tally))
                .collect(),
            _ => self
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
        let (sigma, lambda, bits, rates) = match &w.family {
            Family::LogitNoise { sigma } => (json!(sigma), Value::Null, Value::Null, Value::Null),
            Family::Mixture { lambda } => (Value::Null, json!(lambda), Value::Null, Value::Null),
            Family::Quantized { bits } => (Value::Null, Value::Null, json!(bits), Value::Null),
            Family::Rates { rates } => (
                Value::Null,
                Value::Null,
                Value::Null,
                json!(
                    rates
                        .iter()
                        .map(|x| x.to_string())
                        .collect::<Vec<_>>()
                        .join(" ")
                ),
            ),
            Family::File { .. } => (Value::Null, Value::Null, Value::Null, Value::Null),
        };
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
                ("sigma".into(), sigma.clone()),
                ("lambda".into(), lambda.clone()),
                ("bits".into(), bits.clone()),
                ("rates".into(), rates.clone()),
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
                ("within_ci99".into(), json!(m.within_ci99)),
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
            ];
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

/// Writes `results.csv`.
pub fn write_csv(path: &Path, rows: &[Vec<(String, Value)>]) -> Result<()> {
    let io = |e: csv::Error| Error::Io {
        path: path.display().to_string(),
        source: std::io::Error::other(e.to_string()),
    };
    let mut w = csv::Writer::from_path(path).map_err(io)?;
    if let Some(first) = rows.first() {
        w.write_record(first.iter().map(|(k, _)| k.as_str()))
            .map_err(io)?;
    }
    for row in rows {
        w.write_record(row.iter().map(|(_, v)| match v {
            Value::Null => String::new(),
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }))
        .map_err(io)?;
    }
    w.flush().map_err(|e| Error::io(path, e))
}

/// The document written as `results.json`: the rows plus per-position arrays, histograms, the
/// best K per cost ratio and each configuration's tally.
pub fn json_doc(results: &[ConfigResult], cost_ratios: &[f64]) -> Value {
    let rows = rows(results, cost_ratios);
    let mut i = 0;
    let mut configs = Vec::new();
    for r in results {
        let mut per_k = Vec::new();
        for m in r.metrics() {
            let mut obj: serde_json::Map<String, Value> = rows[i].iter().cloned().collect();
            obj.insert(
                "per_position_conditional".into(),
                json!(m.per_position_conditional),
            );
            obj.insert(
                "per_position_unconditional".into(),
                json!(m.per_position_unconditional),
            );
            obj.insert("empirical_beta".into(), json!(m.per_position_conditional));
            obj.insert("exact_beta".into(), json!(m.exact_beta));
            obj.insert("histogram".into(), json!(m.histogram));
            per_k.push(Value::Object(obj));
            i += 1;
        }
        configs.push(json!({
            "label": r.label(),
            "config": r.config,
            "engine": r.engine,
            "seconds": r.seconds,
            "rule": r.rule,
            "tally": r.tally,
            "block_tally": r.block,
            "rows": per_k,
        }));
    }
    json!({
        "cost_ratios": cost_ratios,
        "configurations": configs,
        "best_k": best_k(results, cost_ratios),
    })
}

/// The human-readable table.
pub fn table(results: &[ConfigResult], cost_ratios: &[f64]) -> String {
    let mut s = String::new();
    for r in results {
        s += &format!(
            "\n{}  (V = {}, {} rounds, {}, rule {}, recovery {:?}, {:.1} s)\n",
            r.label(),
            r.config.workload.vocab,
            r.tally.rounds,
            r.engine,
            r.rule,
            r.config.recovery,
            r.seconds
        );
        s += &format!(
            "{:>3} {:>9} {:>9} {:>19} {:>6} {:>7} {:>9}",
            "K", "mean gen", "exact", "99% CI", "in CI", "alpha", "Leviathan"
        );
        for c in cost_ratios {
            s += &format!(" {:>9}", format!("x c={c}"));
        }
        let block = r.rule == Rule::Block;
        if block {
            s += &format!("  {:>8} {:>19}", "gain", "gain 99% CI");
        }
        s += "\n";
        for m in r.metrics() {
            s += &format!(
                "{:>3} {:>9.4} {:>9.4} {:>19} {:>6} {:>7.4} {:>9.4}",
                m.k,
                m.mean_generated,
                m.exact_mean_generated,
                format!("[{:.4}, {:.4}]", m.ci99_low, m.ci99_high),
                if m.within_ci99 { "yes" } else { "NO" },
                m.alpha,
                m.leviathan_mean_generated
            );
            for &c in cost_ratios {
                s += &format!(" {:>9.4}", walltime_improvement(m.mean_generated, m.k, c));
            }
            if let Some(g) = m.gain_over_token {
                s += &format!(
                    "  {:>+8.4} {:>19}",
                    g.mean,
                    format!("[{:+.4}, {:+.4}]", g.ci99_low, g.ci99_high)
                );
            }
            s += "\n";
        }
        if block {
            s += &format!(
                "    exact (block): 1 + E[tau] given the {}\n",
                if r.block.as_ref().is_some_and(|b| b.enumerated_sum.is_some()) {
                    "rows (every drafted sequence enumerated)"
                } else {
                    "rows and the drafted tokens (1 + sum of P_i; 'in CI' tests tau - sum P_i)"
                }
            );
        }
    }
    s += "\nbest K (simulated walltime improvement = mean generated / (K c + 1)):\n";
    for b in best_k(results, cost_ratios) {
        s += &format!(
            "  {:<40} c = {:<6} K = {:<3} x{:.3}\n",
            b["label"].as_str().unwrap_or(""),
            b["cost_ratio"],
            b["best_k"],
            b["speedup"].as_f64().unwrap_or(0.0)
        );
    }
    s
}

fn plot_err(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Io {
        path: path.display().to_string(),
        source: std::io::Error::other(e.to_string()),
    }
}

/// Writes `mean_generated.svg`, `per_position.svg` and `speedup.svg` into `dir`.
pub fn plots(dir: &Path, results: &[ConfigResult], cost_ratios: &[f64]) -> Result<()> {
    plot_mean_generated(&dir.join("mean_generated.svg"), results)?;
    plot_per_position(&dir.join("per_position.svg"), results)?;
    plot_speedup(&dir.join("speedup.svg"), results, cost_ratios)?;
    Ok(())
}

fn k_range(results: &[ConfigResult]) -> std::ops::Range<f64> {
    let kmax = results.iter().map(|r| r.config.k_max()).max().unwrap_or(1);
    let kmin = results
        .iter()
        .flat_map(|r| r.config.k_values.iter().copied())
        .min()
        .unwrap_or(1);
    kmin as f64 - 0.2..kmax as f64 + 0.2
}

/// One SVG chart: its file, drawing area and axes; series are added with [`Plot::line`], and
/// [`Plot::finish`] draws the legend and writes the file.
struct Plot<'a> {
    path: &'a Path,
    root: DrawingArea<SVGBackend<'a>, plotters::coord::Shift>,
}

type Chart<'a, 'b> = ChartContext<
    'a,
    SVGBackend<'b>,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

/// How a series is drawn.
enum Style {
    /// A thick line with a dot at each point (simulated values).
    Points,
    /// A thin line.
    Thin,
    /// A dashed line with (dash, gap) in pixels.
    Dashed(u32, u32),
}

impl<'a> Plot<'a> {
    fn new(path: &'a Path) -> Result<Plot<'a>> {
        let root = SVGBackend::new(path, (900, 600)).into_drawing_area();
        root.fill(&WHITE).map_err(|x| plot_err(path, x))?;
        Ok(Plot { path, root })
    }

    fn chart<'p>(
        &'p self,
        caption: &str,
        x: std::ops::Range<f64>,
        y: std::ops::Range<f64>,
        (x_desc, y_desc): (&str, &str),
    ) -> Result<Chart<'p, 'a>> {
        let e = |x| plot_err(self.path, x);
        let mut chart = ChartBuilder::on(&self.root)
            .caption(caption, ("sans-serif", 22))
            .margin(15)
            .x_label_area_size(40)
            .y_label_area_size(55)
            .build_cartesian_2d(x, y)
            .map_err(e)?;
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_desc(y_desc)
            .draw()
            .map_err(e)?;
        Ok(chart)
    }

    fn line(
        &self,
        chart: &mut Chart<'_, 'a>,
        pts: Vec<(f64, f64)>,
        color: RGBAColor,
        style: Style,
        label: String,
    ) -> Result<()> {
        let e = |x| plot_err(self.path, x);
        let width = if matches!(style, Style::Points) { 2 } else { 1 };
        let stroke = color.stroke_width(width);
        let series = match style {
            Style::Dashed(dash, gap) => chart
                .draw_series(DashedLineSeries::new(pts.clone(), dash, gap, stroke))
                .map_err(e)?,
            _ => chart
                .draw_series(LineSeries::new(pts.clone(), stroke))
                .map_err(e)?,
        };
        series
            .label(label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], stroke));
        if matches!(style, Style::Points) {
            chart
                .draw_series(pts.iter().map(|&p| Circle::new(p, 3, color.filled())))
                .map_err(e)?;
        }
        Ok(())
    }

    fn finish<'p>(
        &'p self,
        chart: &mut Chart<'p, 'a>,
        position: SeriesLabelPosition,
    ) -> Result<()> {
        let e = |x| plot_err(self.path, x);
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .position(position)
            .draw()
            .map_err(e)?;
        self.root.present().map_err(e)
    }
}

fn plot_mean_generated(path: &Path, results: &[ConfigResult]) -> Result<()> {
    let ymax = results
        .iter()
        .flat_map(|r| r.metrics())
        .map(|m| {
            m.mean_generated
                .max(m.exact_mean_generated)
                .max(m.leviathan_mean_generated)
        })
        .fold(1.0, f64::max);
    let plot = Plot::new(path)?;
    let mut chart = plot.chart(
        "Mean tokens generated per round vs K",
        k_range(results),
        0.0..ymax * 1.08,
        (
            "K (drafted tokens per round)",
            "mean generated (accepted + 1)",
        ),
    )?;
    for (i, r) in results.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let ms = r.metrics();
        let series = |f: &dyn Fn(&Metrics) -> f64| -> Vec<(f64, f64)> {
            ms.iter().map(|m| (m.k as f64, f(m))).collect()
        };
        let emp = series(&|m| m.mean_generated);
        let exact = series(&|m| m.exact_mean_generated);
        let lev = series(&|m| leviathan_generated(m.alpha, m.k));
        plot.line(
            &mut chart,
            emp,
            color,
            Style::Points,
            format!("{} (simulated)", r.label()),
        )?;
        plot.line(
            &mut chart,
            exact,
            color,
            Style::Dashed(6, 4),
            "exact (SPEC §5)".into(),
        )?;
        let lev_label = "Leviathan (1 - a^(K+1)) / (1 - a)".to_string();
        plot.line(&mut chart, lev, color, Style::Dashed(2, 3), lev_label)?;
    }
    plot.finish(&mut chart, SeriesLabelPosition::UpperLeft)
}

fn plot_per_position(path: &Path, results: &[ConfigResult]) -> Result<()> {
    let kmax = results.iter().map(|r| r.config.k_max()).max().unwrap_or(1);
    let plot = Plot::new(path)?;
    let mut chart = plot.chart(
        "Per-position acceptance at the largest K",
        -0.2..(kmax as f64 - 0.8),
        0.0..1.05,
        ("position i", "acceptance"),
    )?;
    for (i, r) in results.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let m = r.tally.metrics(r.config.k_max());
        let by_position = |xs: &[f64]| -> Vec<(f64, f64)> {
            xs.iter()
                .enumerate()
                .filter(|(_, x)| x.is_finite())
                .map(|(i, &x)| (i as f64, x))
                .collect()
        };
        let cond_label = format!("{}: P[accept i | reached i]", r.label());
        plot.line(
            &mut chart,
            by_position(&m.per_position_conditional),
            color,
            Style::Points,
            cond_label,
        )?;
        let uncond = by_position(&m.per_position_unconditional);
        plot.line(
            &mut chart,
            uncond,
            color.mix(0.5),
            Style::Thin,
            "P[accept i]".into(),
        )?;
        let beta_label = "exact beta_i = sum min(p, q)".to_string();
        plot.line(
            &mut chart,
            by_position(&m.exact_beta),
            color,
            Style::Dashed(6, 4),
            beta_label,
        )?;
    }
    plot.finish(&mut chart, SeriesLabelPosition::LowerLeft)
}

fn plot_speedup(path: &Path, results: &[ConfigResult], cost_ratios: &[f64]) -> Result<()> {
    let ymax = results
        .iter()
        .flat_map(|r| r.metrics())
        .flat_map(|m| {
            cost_ratios
                .iter()
                .map(move |&c| walltime_improvement(m.mean_generated, m.k, c))
        })
        .fold(1.0, f64::max);
    let plot = Plot::new(path)?;
    let mut chart = plot.chart(
        "Expected walltime improvement vs K, per cost ratio c",
        k_range(results),
        0.0..ymax * 1.35,
        ("K", "mean generated / (K c + 1)"),
    )?;
    let mut idx = 0;
    for r in results {
        for &c in cost_ratios {
            let color = Palette99::pick(idx).to_rgba();
            idx += 1;
            let pts: Vec<(f64, f64)> = r
                .metrics()
                .iter()
                .map(|m| (m.k as f64, walltime_improvement(m.mean_generated, m.k, c)))
                .collect();
            plot.line(
                &mut chart,
                pts,
                color,
                Style::Points,
                format!("{}, c = {c}", r.label()),
            )?;
        }
    }
    plot.finish(&mut chart, SeriesLabelPosition::UpperRight)
}
