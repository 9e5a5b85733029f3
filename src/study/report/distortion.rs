//! The distortion meter's files (`specsim distortion --out DIR`): `distortion.json` (one object per
//! rule) and `tradeoff.svg`, `E[generated]` against the tokens changed per round, one point per rule
//! and parameter: the trade-off curve a user picks a rule from.

use std::path::Path;

use plotters::prelude::*;

use super::figure::{Entry, Figure, Kind, Layout, Ticks, color};
use crate::error::{Error, Result};
use crate::study::distortion::FamilyDistortion;

/// Writes `distortion.json` and `tradeoff.svg` into `dir` (created if missing): both or neither.
pub fn write_distortion_files(dir: &Path, rows: &[FamilyDistortion]) -> Result<()> {
    let mut set = crate::output::FileSet::create(dir)?;
    let text = serde_json::to_string_pretty(rows)
        .map_err(|e| Error::output(dir.join("distortion.json"), e))?;
    set.write("distortion.json", text.as_bytes())?;
    plot_tradeoff(&set.path("tradeoff.svg"), rows)
        .map_err(|e| e.with_path(dir.join("tradeoff.svg")))?;
    set.commit()
}

/// `tradeoff.svg`: per rule, a point at (tokens changed per round, E[generated]) with a bar from
/// the round's lower bound `max_k r_k TV_k` to it, and the exact round TV (hollow square) where
/// there is one.
fn plot_tradeoff(path: &Path, rows: &[FamilyDistortion]) -> Result<Layout> {
    let mut entries: Vec<Entry> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| Entry::new(color(i), Kind::Simulated, r.rule.clone()))
        .collect();
    let grey = RGBColor(90, 90, 90);
    entries.push(Entry::new(
        grey,
        Kind::Secondary,
        "bar: [TV low, tokens changed]",
    ));
    entries.push(Entry::new(grey, Kind::Exact, "exact round TV"));
    let fig = Figure::new(path, &entries)?;
    let xmax = rows
        .iter()
        .map(|r| r.tokens_changed)
        .filter(|x| x.is_finite())
        .fold(0.1, f64::max);
    let ymax = rows
        .iter()
        .map(|r| r.expected_generated)
        .filter(|x| x.is_finite())
        .fold(1.0, f64::max);
    let title = match rows.first() {
        Some(r) => format!(
            "E[generated] against distortion: {} V={}, K = {}, drafts {}, recovery {}",
            r.workload, r.vocab, r.k, r.draft, r.recovery
        ),
        None => "E[generated] against distortion".into(),
    };
    let mut chart = fig.chart(
        &title,
        -0.03 * xmax..xmax * 1.1,
        0.0..ymax * 1.1,
        (
            "tokens changed per round (Σ r_k TV_k)",
            "E[generated] per round",
        ),
        Ticks::Reals,
    )?;
    let e = |x| fig.err(x);
    for (i, r) in rows.iter().enumerate() {
        let c = color(i);
        let y = r.expected_generated;
        chart
            .draw_series(std::iter::once(ErrorBar::new_horizontal(
                y,
                r.tv_low,
                r.tokens_changed,
                r.tokens_changed,
                c.stroke_width(1),
                8,
            )))
            .map_err(e)?;
        chart
            .draw_series(std::iter::once(Circle::new(
                (r.tokens_changed, y),
                5,
                c.filled(),
            )))
            .map_err(e)?;
        if let Some(x) = r.tv_exact {
            chart
                .draw_series(std::iter::once(
                    EmptyElement::at((x, y))
                        + Rectangle::new([(-4, -4), (4, 4)], c.stroke_width(2)),
                ))
                .map_err(e)?;
        }
    }
    fig.finish(&chart, &entries)
}
