//! The SVG plots: mean generated vs K, per-position acceptance, walltime improvement.

use std::path::Path;

use plotters::prelude::*;

use super::ConfigResult;
use crate::error::{Error, Result};
use crate::study::{Metrics, leviathan_generated, walltime_improvement};

fn plot_err(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::output(path, e)
}

/// Writes `mean_generated.svg`, `per_position.svg` and `speedup.svg` into `dir`.
pub fn plots(dir: &Path, results: &[ConfigResult], cost_ratios: &[f64]) -> Result<()> {
    let paths = ["mean_generated.svg", "per_position.svg", "speedup.svg"].map(|f| dir.join(f));
    plots_at(&paths, results, cost_ratios)
}

/// The three plots at these paths (mean generated, per position, speedup).
pub(super) fn plots_at(
    paths: &[std::path::PathBuf; 3],
    results: &[ConfigResult],
    cost_ratios: &[f64],
) -> Result<()> {
    plot_mean_generated(&paths[0], results)?;
    plot_per_position(&paths[1], results)?;
    plot_speedup(&paths[2], results, cost_ratios)?;
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
