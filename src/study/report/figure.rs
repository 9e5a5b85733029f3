//! What every study plot shares, so they are fit for a paper: a colour-blind-safe palette
//! (Okabe & Ito), one line style and marker per kind of curve (simulated with its 99% band,
//! exact, Leviathan's formula), the legend in its own panel right of the data (never over it),
//! a frame around the data area, and titles that name the workload.
//!
//! The legend's frame and the data area's frame have their own stroke colours
//! ([`LEGEND_FRAME`], [`DATA_FRAME`]), so a test (and a reader of the SVG) can find both.

use std::path::Path;

use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use crate::error::{Error, Result};

/// Okabe & Ito's palette (Color Universal Design), without its yellow (too light on white):
/// blue, vermillion, bluish green, reddish purple, orange, sky blue, black.
pub const PALETTE: [RGBColor; 7] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(0, 0, 0),
];

/// The stroke of the legend panel's frame.
pub const LEGEND_FRAME: RGBColor = RGBColor(0x55, 0x55, 0x55);
/// The stroke of the data area's frame.
pub const DATA_FRAME: RGBColor = RGBColor(0x22, 0x22, 0x22);

/// The colour of series `i`.
pub fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// A kind of curve: its line style and marker.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Kind {
    /// Measured values: a solid 2-pixel line, filled circles (and a 99% band when given).
    Simulated,
    /// Exact theory: a dashed line, hollow squares.
    Exact,
    /// Leviathan et al.'s closed form: a dotted line, triangles.
    Leviathan,
    /// A second measured curve beside the first: a thin solid line, hollow circles.
    Secondary,
    /// The i-th of several measured curves of one colour (cost ratios): solid, dashed, dotted,
    /// dash-dotted in turn, filled circles.
    Variant(usize),
}

impl Kind {
    /// (dash, gap) in pixels; `None` for a solid line.
    fn dashes(self) -> Option<(u32, u32)> {
        match self {
            Kind::Simulated | Kind::Secondary => None,
            Kind::Exact => Some((7, 4)),
            Kind::Leviathan => Some((2, 3)),
            Kind::Variant(i) => [None, Some((7, 4)), Some((2, 3)), Some((10, 3))][i % 4],
        }
    }

    fn width(self) -> u32 {
        match self {
            Kind::Simulated | Kind::Variant(_) => 2,
            _ => 1,
        }
    }
}

/// One line of the legend.
pub struct Entry {
    /// Colour of the sample.
    pub color: RGBColor,
    /// Line style and marker of the sample.
    pub kind: Kind,
    /// Text.
    pub label: String,
}

impl Entry {
    /// An entry.
    pub fn new(color: RGBColor, kind: Kind, label: impl Into<String>) -> Entry {
        Entry {
            color,
            kind,
            label: label.into(),
        }
    }
}

/// Where the data and the legend landed, in the SVG's pixels: `[x0, y0, x1, y1]`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Layout {
    /// The data area (inside the axes).
    pub data: [i32; 4],
    /// The legend panel's frame.
    pub legend: [i32; 4],
}

/// A chart in data coordinates.
pub type Chart<'a, 'b> =
    ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// One figure: the chart's area left, the legend's panel right.
pub struct Figure<'a> {
    path: &'a Path,
    chart_area: DrawingArea<SVGBackend<'a>, Shift>,
    legend_area: DrawingArea<SVGBackend<'a>, Shift>,
    legend_x: i32,
}

const HEIGHT: u32 = 600;
const CHART_WIDTH: u32 = 760;
/// Approximate width of a character of the legend's 13-pixel sans-serif text.
const CHAR_PX: u32 = 7;

impl<'a> Figure<'a> {
    /// A figure whose legend will hold `entries` (its panel is as wide as their longest label).
    pub fn new(path: &'a Path, entries: &[Entry]) -> Result<Figure<'a>> {
        Figure::sized(path, entries, HEIGHT)
    }

    /// [`Figure::new`] with another height (room for rotated labels).
    pub fn sized(path: &'a Path, entries: &[Entry], height: u32) -> Result<Figure<'a>> {
        let longest = entries.iter().map(|e| e.label.chars().count()).max();
        let legend_w = (longest.unwrap_or(10) as u32 * CHAR_PX + 70).clamp(170, 520);
        let root = SVGBackend::new(path, (CHART_WIDTH + legend_w, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|x| Error::output(path, x))?;
        let (chart_area, legend_area) = root.split_horizontally(CHART_WIDTH);
        Ok(Figure {
            path,
            chart_area,
            legend_area,
            legend_x: CHART_WIDTH as i32,
        })
    }

    /// An error of this figure's file.
    pub fn err(&self, e: impl std::fmt::Display) -> Error {
        Error::output(self.path, e)
    }

    /// The chart: its title, ranges and axis descriptions; `x_label` formats the x ticks, and
    /// `rotate` turns them a quarter turn (for long category names) in an area of that many
    /// pixels.
    pub fn chart<'p>(
        &'p self,
        caption: &str,
        x: std::ops::Range<f64>,
        y: std::ops::Range<f64>,
        (x_desc, y_desc): (&str, &str),
        ticks: Ticks<'_>,
    ) -> Result<Chart<'p, 'a>> {
        let e = |x| self.err(x);
        let x_area = match ticks {
            Ticks::Categories { labels } => category_area(labels),
            _ => 45,
        };
        let mut chart = ChartBuilder::on(&self.chart_area)
            .caption(caption, ("sans-serif", 17))
            .margin(12)
            .x_label_area_size(x_area)
            .y_label_area_size(58)
            .build_cartesian_2d(x, y)
            .map_err(e)?;
        let mut mesh = chart.configure_mesh();
        mesh.x_desc(x_desc)
            .y_desc(y_desc)
            .label_style(("sans-serif", 13))
            .axis_desc_style(("sans-serif", 14))
            .max_light_lines(2)
            .light_line_style(RGBColor(235, 235, 235))
            .bold_line_style(RGBColor(215, 215, 215));
        let no_label = |_: &f64| String::new();
        let fmt_real = |x: &f64| format!("{x:.2}");
        let fmt_int = |x: &f64| {
            if (x - x.round()).abs() < 1e-6 {
                format!("{x:.0}")
            } else {
                String::new()
            }
        };
        let categories = match ticks {
            Ticks::Integers => {
                mesh.x_label_formatter(&fmt_int);
                &[][..]
            }
            Ticks::Reals => {
                mesh.x_label_formatter(&fmt_real);
                &[][..]
            }
            Ticks::Categories { labels } => {
                // Ticks only: the names are drawn below, turned a quarter turn (the mesh would
                // centre them on the tick, across the data).
                mesh.x_labels(labels.len().max(1))
                    .x_label_formatter(&no_label);
                labels
            }
        };
        mesh.draw().map_err(e)?;
        // The data area's frame.
        let (xs, ys) = chart.plotting_area().get_pixel_range();
        {
            use plotters::style::text_anchor::{HPos, Pos, VPos};
            let style = ("sans-serif", 13)
                .into_font()
                .transform(FontTransform::Rotate90)
                .into_text_style(&self.chart_area)
                .pos(Pos::new(HPos::Left, VPos::Center));
            let y0 = chart.y_range().start;
            for (i, label) in categories.iter().enumerate() {
                let (px, _) = chart.backend_coord(&(i as f64, y0));
                self.chart_area
                    .draw(&Text::new(label.clone(), (px, ys.end + 8), style.clone()))
                    .map_err(e)?;
            }
        }
        self.chart_area
            .draw(&Rectangle::new(
                [(xs.start, ys.start), (xs.end - 1, ys.end - 1)],
                DATA_FRAME.stroke_width(1),
            ))
            .map_err(e)?;
        Ok(chart)
    }

    /// A curve of `kind`; the markers sit on the points.
    pub fn series(
        &self,
        chart: &mut Chart<'_, 'a>,
        pts: &[(f64, f64)],
        color: RGBColor,
        kind: Kind,
    ) -> Result<()> {
        let e = |x| self.err(x);
        let stroke = color.stroke_width(kind.width());
        match kind.dashes() {
            Some((dash, gap)) => chart
                .draw_series(DashedLineSeries::new(pts.to_vec(), dash, gap, stroke))
                .map(|_| ())
                .map_err(e)?,
            None => chart
                .draw_series(LineSeries::new(pts.to_vec(), stroke))
                .map(|_| ())
                .map_err(e)?,
        }
        let area = chart.plotting_area();
        for &p in pts {
            draw_marker(area, p, color, kind).map_err(e)?;
        }
        Ok(())
    }

    /// A 99% band between `lo` and `hi` (the same x values), filled lightly in `color`.
    pub fn band(
        &self,
        chart: &mut Chart<'_, 'a>,
        lo: &[(f64, f64)],
        hi: &[(f64, f64)],
        color: RGBColor,
    ) -> Result<()> {
        if lo.len() < 2 {
            return Ok(());
        }
        let mut poly: Vec<(f64, f64)> = lo.to_vec();
        poly.extend(hi.iter().rev());
        chart
            .draw_series(std::iter::once(Polygon::new(
                poly,
                color.mix(0.18).filled(),
            )))
            .map_err(|x| self.err(x))?;
        Ok(())
    }

    /// Text at a data point (e.g. `best K = 4`), a little above and right of it.
    pub fn note(
        &self,
        chart: &mut Chart<'_, 'a>,
        at: (f64, f64),
        text: &str,
        color: RGBColor,
    ) -> Result<()> {
        use plotters::style::text_anchor::{HPos, Pos, VPos};
        let (x, y) = chart.backend_coord(&at);
        let (xs, ys) = chart.plotting_area().get_pixel_range();
        // Inside the data area: left of points in its right half, below points near its top.
        let right = x > (xs.start + xs.end) / 2;
        let top = y < ys.start + 30;
        let (h, dx) = if right {
            (HPos::Right, -12)
        } else {
            (HPos::Left, 12)
        };
        let (v, dy) = if top {
            (VPos::Top, 10)
        } else {
            (VPos::Bottom, -10)
        };
        let style = ("sans-serif", 13)
            .into_font()
            .color(&color)
            .pos(Pos::new(h, v));
        self.chart_area
            .draw(&Text::new(text.to_string(), (x + dx, y + dy), style))
            .map_err(|x| self.err(x))?;
        self.chart_area
            .draw(&Circle::new((x, y), 8, color.stroke_width(2)))
            .map_err(|x| self.err(x))
    }

    /// Draws the legend panel and writes the file. Returns where the data and the legend are.
    pub fn finish(&self, chart: &Chart<'_, 'a>, entries: &[Entry]) -> Result<Layout> {
        let e = |x| self.err(x);
        let (xs, ys) = chart.plotting_area().get_pixel_range();
        let (w, _) = self.legend_area.dim_in_pixel();
        let top = ys.start;
        let line_h = 20;
        let bottom = top + 12 + line_h * entries.len() as i32;
        let (x0, x1) = (8, w as i32 - 8);
        self.legend_area
            .draw(&Rectangle::new([(x0, top), (x1, bottom)], WHITE.filled()))
            .map_err(e)?;
        self.legend_area
            .draw(&Rectangle::new(
                [(x0, top), (x1, bottom)],
                LEGEND_FRAME.stroke_width(1),
            ))
            .map_err(e)?;
        for (i, entry) in entries.iter().enumerate() {
            let y = top + 16 + line_h * i as i32;
            let (a, b) = (x0 + 10, x0 + 40);
            let stroke = entry.color.stroke_width(entry.kind.width());
            match entry.kind.dashes() {
                None => self
                    .legend_area
                    .draw(&PathElement::new(vec![(a, y), (b, y)], stroke))
                    .map_err(e)?,
                Some((dash, gap)) => {
                    let mut s = a;
                    while s < b {
                        let t = (s + dash as i32).min(b);
                        self.legend_area
                            .draw(&PathElement::new(vec![(s, y), (t, y)], stroke))
                            .map_err(e)?;
                        s = t + gap as i32;
                    }
                }
            }
            draw_marker(&self.legend_area, ((a + b) / 2, y), entry.color, entry.kind).map_err(e)?;
            self.legend_area
                .draw(&Text::new(
                    entry.label.clone(),
                    (b + 8, y - 7),
                    ("sans-serif", 13).into_font(),
                ))
                .map_err(e)?;
        }
        self.chart_area.present().map_err(e)?;
        self.legend_area.present().map_err(e)?;
        Ok(Layout {
            data: [xs.start, ys.start, xs.end - 1, ys.end - 1],
            legend: [self.legend_x + x0, top, self.legend_x + x1, bottom],
        })
    }
}

/// The height of the x axis's area for category names turned a quarter turn.
pub fn category_area(labels: &[String]) -> u32 {
    let longest = labels.iter().map(|l| l.chars().count()).max().unwrap_or(1);
    (longest as u32 * CHAR_PX + 20).clamp(50, 420)
}

/// How the x axis is labelled.
pub enum Ticks<'l> {
    /// Integer positions (K, positions).
    Integers,
    /// Real values, labelled to two decimals (a distortion).
    Reals,
    /// One category per integer position, named, rotated a quarter turn.
    Categories {
        /// Names of positions 0, 1, ….
        labels: &'l [String],
    },
}

/// Draws the marker of a curve of `kind` at `p`, in `area`'s coordinates (data or pixels).
fn draw_marker<DB, X>(
    area: &DrawingArea<DB, X>,
    p: X::From,
    color: RGBColor,
    kind: Kind,
) -> std::result::Result<(), DrawingAreaErrorKind<DB::ErrorType>>
where
    DB: DrawingBackend,
    X: CoordTranslate,
    X::From: Clone,
{
    match kind {
        Kind::Simulated | Kind::Variant(_) => area.draw(&Circle::new(p, 3, color.filled())),
        Kind::Secondary => area.draw(&Circle::new(p, 3, color.stroke_width(1))),
        Kind::Exact => area.draw(
            &(EmptyElement::at(p) + Rectangle::new([(-3, -3), (3, 3)], color.stroke_width(1))),
        ),
        Kind::Leviathan => area.draw(&TriangleMarker::new(p, 4, color.filled())),
    }
}
