//! The chain study's SVG plots: mean generated vs K (simulated with its 99% band, exact, and
//! Leviathan's formula), per-position acceptance, and the expected walltime improvement vs K per
//! cost ratio with the best K marked. Their shared look is [`super::figure`].

use std::path::Path;

use super::ConfigResult;
use super::figure::{Entry, Figure, Kind, Layout, Ticks, color};
use crate::error::Result;
use crate::study::{Metrics, Z99, leviathan_generated, walltime_improvement};

/// Writes `mean_generated.svg`, `per_position.svg` and `speedup.svg` into `dir`.
pub fn plots(dir: &Path, results: &[ConfigResult], cost_ratios: &[f64]) -> Result<()> {
    let paths = ["mean_generated.svg", "per_position.svg", "speedup.svg"].map(|f| dir.join(f));
    plots_at(&paths, results, cost_ratios).map(|_| ())
}

/// The three plots at these paths (mean generated, per position, speedup), and their layouts.
pub(super) fn plots_at(
    paths: &[std::path::PathBuf; 3],
    results: &[ConfigResult],
    cost_ratios: &[f64],
) -> Result<[Layout; 3]> {
    Ok([
        plot_mean_generated(&paths[0], results)?,
        plot_per_position(&paths[1], results)?,
        plot_speedup(&paths[2], results, cost_ratios)?,
    ])
}

fn k_range(results: &[ConfigResult]) -> std::ops::Range<f64> {
    let kmax = results.iter().map(|r| r.config.k_max()).max().unwrap_or(1);
    let kmin = results
        .iter()
        .flat_map(|r| r.config.k_values.iter().copied())
        .min()
        .unwrap_or(1);
    kmin as f64 - 0.3..kmax as f64 + 0.3
}

/// What the configurations share, for a title: the workload's label when they all have one
/// (`logit-noise sigma=0.5 zipf=2`), otherwise the families; then V and the rounds when shared.
pub fn workload_title(results: &[ConfigResult]) -> String {
    let Some(first) = results.first() else {
        return String::new();
    };
    let same = |f: &dyn Fn(&ConfigResult) -> String| results.iter().all(|r| f(r) == f(first));
    let mut parts = Vec::new();
    if same(&|r| r.config.workload.label()) {
        parts.push(first.config.workload.label());
    } else {
        let mut families: Vec<String> = Vec::new();
        for r in results {
            let f = r.config.workload.family.name().to_string();
            if !families.contains(&f) {
                families.push(f);
            }
        }
        parts.push(families.join(" / "));
    }
    if same(&|r| r.config.workload.vocab.to_string()) {
        parts.push(format!("V = {}", first.config.workload.vocab));
    }
    if same(&|r| r.config.rounds.to_string()) {
        parts.push(format!("{} rounds", first.config.rounds));
    }
    parts.join(", ")
}

/// The key of the curve kinds, after the configurations' colours.
fn kinds_key(entries: &mut Vec<Entry>, kinds: &[(Kind, &str)]) {
    let grey = plotters::style::RGBColor(90, 90, 90);
    for &(kind, label) in kinds {
        entries.push(Entry::new(grey, kind, label));
    }
}

fn plot_mean_generated(path: &Path, results: &[ConfigResult]) -> Result<Layout> {
    let ymax = results
        .iter()
        .flat_map(|r| r.metrics())
        .map(|m| {
            m.ci99_high
                .max(m.mean_generated)
                .max(m.exact_mean_generated)
                .max(m.leviathan_mean_generated)
        })
        .filter(|x| x.is_finite())
        .fold(1.0, f64::max);
    let mut entries: Vec<Entry> = results
        .iter()
        .enumerate()
        .map(|(i, r)| Entry::new(color(i), Kind::Simulated, r.label()))
        .collect();
    kinds_key(
        &mut entries,
        &[
            (Kind::Simulated, "simulated, 99% band"),
            (Kind::Exact, "exact (SPEC §5)"),
            (Kind::Leviathan, "Leviathan (1 - a^(K+1)) / (1 - a)"),
        ],
    );
    let fig = Figure::new(path, &entries)?;
    let mut chart = fig.chart(
        &format!(
            "Mean tokens generated per round vs K: {}",
            workload_title(results)
        ),
        k_range(results),
        0.0..ymax * 1.05,
        (
            "K (drafted tokens per round)",
            "mean generated (accepted + 1)",
        ),
        Ticks::Integers,
    )?;
    for (i, r) in results.iter().enumerate() {
        let c = color(i);
        let ms = r.metrics();
        let series = |f: &dyn Fn(&Metrics) -> f64| -> Vec<(f64, f64)> {
            ms.iter().map(|m| (m.k as f64, f(m))).collect()
        };
        if ms.iter().all(|m| m.ci_defined) {
            fig.band(
                &mut chart,
                &series(&|m| m.ci99_low),
                &series(&|m| m.ci99_high),
                c,
            )?;
        }
        fig.series(
            &mut chart,
            &series(&|m| m.mean_generated),
            c,
            Kind::Simulated,
        )?;
        fig.series(
            &mut chart,
            &series(&|m| m.exact_mean_generated),
            c,
            Kind::Exact,
        )?;
        let lev = series(&|m| leviathan_generated(m.alpha, m.k));
        fig.series(&mut chart, &lev, c, Kind::Leviathan)?;
    }
    fig.finish(&chart, &entries)
}

fn plot_per_position(path: &Path, results: &[ConfigResult]) -> Result<Layout> {
    // The per-position rates are the token rule's (every rule of a configuration shares its
    // tally): one curve per configuration.
    let mut shown: Vec<&ConfigResult> = Vec::new();
    for r in results {
        if !shown
            .iter()
            .any(|s| s.config.workload == r.config.workload && s.config.seed == r.config.seed)
        {
            shown.push(r);
        }
    }
    let kmax = shown.iter().map(|r| r.config.k_max()).max().unwrap_or(1);
    let mut entries: Vec<Entry> = shown
        .iter()
        .enumerate()
        .map(|(i, r)| Entry::new(color(i), Kind::Simulated, r.config.workload.label()))
        .collect();
    kinds_key(
        &mut entries,
        &[
            (Kind::Simulated, "P[accept i | reached i], 99% band"),
            (Kind::Secondary, "P[accept i]"),
            (Kind::Exact, "exact beta_i = sum min(p, q)"),
        ],
    );
    let fig = Figure::new(path, &entries)?;
    let mut chart = fig.chart(
        &format!(
            "Per-position acceptance of the token rule at the largest K: {}",
            workload_title(results)
        ),
        -0.3..(kmax as f64 - 0.7),
        0.0..1.05,
        ("position i", "acceptance"),
        Ticks::Integers,
    )?;
    for (i, r) in shown.iter().enumerate() {
        let c = color(i);
        let m = r.tally.metrics(r.config.k_max());
        let by_position = |xs: &[f64]| -> Vec<(f64, f64)> {
            xs.iter()
                .enumerate()
                .filter(|(_, x)| x.is_finite())
                .map(|(i, &x)| (i as f64, x))
                .collect()
        };
        // The band of the conditional rate at position i: a binomial proportion over the rounds
        // that reached i (N · P[accept i − 1], N at position 0), normal approximation.
        let n = m.rounds as f64;
        let reached = |i: usize| {
            if i == 0 {
                n
            } else {
                n * m.per_position_unconditional[i - 1]
            }
        };
        let half = |i: usize, p: f64| Z99 * (p * (1.0 - p) / reached(i).max(1.0)).sqrt();
        let cond = &m.per_position_conditional;
        let ok: Vec<usize> = (0..cond.len()).filter(|&i| cond[i].is_finite()).collect();
        let lo: Vec<(f64, f64)> = ok
            .iter()
            .map(|&i| (i as f64, (cond[i] - half(i, cond[i])).max(0.0)))
            .collect();
        let hi: Vec<(f64, f64)> = ok
            .iter()
            .map(|&i| (i as f64, (cond[i] + half(i, cond[i])).min(1.0)))
            .collect();
        fig.band(&mut chart, &lo, &hi, c)?;
        fig.series(&mut chart, &by_position(cond), c, Kind::Simulated)?;
        let uncond = by_position(&m.per_position_unconditional);
        fig.series(&mut chart, &uncond, c, Kind::Secondary)?;
        fig.series(&mut chart, &by_position(&m.exact_beta), c, Kind::Exact)?;
    }
    fig.finish(&chart, &entries)
}

fn plot_speedup(path: &Path, results: &[ConfigResult], cost_ratios: &[f64]) -> Result<Layout> {
    let speedup = |m: &Metrics, c: f64, x: f64| walltime_improvement(x, m.k, c);
    let ymax = results
        .iter()
        .flat_map(|r| r.metrics())
        .flat_map(|m| {
            cost_ratios
                .iter()
                .map(move |&c| speedup(&m, c, m.ci99_high.max(m.mean_generated)))
        })
        .filter(|x| x.is_finite())
        .fold(1.0, f64::max);
    let mut entries: Vec<Entry> = results
        .iter()
        .enumerate()
        .map(|(i, r)| Entry::new(color(i), Kind::Simulated, r.label()))
        .collect();
    let grey = plotters::style::RGBColor(90, 90, 90);
    for (j, c) in cost_ratios.iter().enumerate() {
        entries.push(Entry::new(
            grey,
            Kind::Variant(j),
            format!("c = {c} (draft / target cost), 99% band"),
        ));
    }
    entries.push(Entry::new(
        grey,
        Kind::Secondary,
        "best K (ringed, labelled)",
    ));
    let fig = Figure::new(path, &entries)?;
    let mut chart = fig.chart(
        &format!(
            "Expected walltime improvement vs K: {}",
            workload_title(results)
        ),
        k_range(results),
        0.0..ymax * 1.12,
        ("K", "mean generated / (K c + 1)"),
        Ticks::Integers,
    )?;
    for (i, r) in results.iter().enumerate() {
        let col = color(i);
        let ms = r.metrics();
        for (j, &c) in cost_ratios.iter().enumerate() {
            let at = |f: &dyn Fn(&Metrics) -> f64| -> Vec<(f64, f64)> {
                ms.iter()
                    .map(|m| (m.k as f64, speedup(m, c, f(m))))
                    .collect()
            };
            if ms.iter().all(|m| m.ci_defined) {
                fig.band(&mut chart, &at(&|m| m.ci99_low), &at(&|m| m.ci99_high), col)?;
            }
            let pts = at(&|m| m.mean_generated);
            fig.series(&mut chart, &pts, col, Kind::Variant(j))?;
            if let Some(&(k, best)) = pts
                .iter()
                .filter(|p| p.1.is_finite())
                .max_by(|a, b| a.1.total_cmp(&b.1))
            {
                let text = format!("best K = {k:.0} (x{best:.2}, c = {c})");
                fig.note(&mut chart, (k, best), &text, col)?;
            }
        }
    }
    fig.finish(&chart, &entries)
}
