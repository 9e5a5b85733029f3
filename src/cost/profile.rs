//! A measured latency profile (SPEC §12): a CSV file with the header `kind,batch,tokens,context,ms`.
//! `verify` rows time one target forward over `tokens` query tokens in total (the whole batch's);
//! `draft` rows one draft step of a batch of `batch` sequences. `context` is optional (empty in
//! every row, or given in every row of a kind). Repeated keys take the median of their times.
//! Between profiled sizes the time is the running maximum of the sorted points (a larger forward
//! is never faster), linearly interpolated; below the first size it is the first time; past the
//! last size, the last segment's line extended (one point: constant). Between listed contexts
//! the times are linearly interpolated; outside them the nearest context's. Every bad row is
//! refused with its line number, its column and its value.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The largest profile file read (a profile is a few hundred lines).
pub const MAX_PROFILE_BYTES: u64 = 16 << 20;

/// The header a profile must start with.
pub const HEADER: &str = "kind,batch,tokens,context,ms";

/// Times at sizes: `(size, ms)` sorted by size, made non-decreasing by a running maximum.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Curve {
    /// The points.
    pub points: Vec<(f64, f64)>,
}

impl Curve {
    /// Builds a curve from (size, ms) samples: the median of repeated sizes, sorted, then the
    /// running maximum.
    fn from_samples(samples: &BTreeMap<u64, Vec<f64>>) -> Curve {
        let mut points = Vec::with_capacity(samples.len());
        let mut top = f64::NEG_INFINITY;
        for (&size, times) in samples {
            let mut t = times.clone();
            t.sort_by(f64::total_cmp);
            let m = t.len();
            let median = if m % 2 == 1 {
                t[m / 2]
            } else {
                (t[m / 2 - 1] + t[m / 2]) / 2.0
            };
            top = top.max(median);
            points.push((size as f64, top));
        }
        Curve { points }
    }

    /// The time at `x`: the first point's below it, linear between points, the last segment's
    /// line past the last point.
    pub fn at(&self, x: f64) -> f64 {
        let p = &self.points;
        let Some(&(x0, y0)) = p.first() else {
            return f64::NAN;
        };
        if x <= x0 || p.len() == 1 {
            return if x <= x0 { y0 } else { p[0].1 };
        }
        let i = p.partition_point(|&(xi, _)| xi < x).min(p.len() - 1).max(1);
        let ((xa, ya), (xb, yb)) = (p[i - 1], p[i]);
        ya + (yb - ya) * (x - xa) / (xb - xa)
    }
}

/// One kind's curves by context (`None`: no context column).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ByContext {
    /// `(context, curve)` sorted by context; one entry with context `None` when the profile
    /// has none.
    pub curves: Vec<(Option<f64>, Curve)>,
}

impl ByContext {
    /// The time at size `x` and `context` (interpolated between the two nearest listed
    /// contexts; the nearest one outside them; ignored when the profile has none).
    pub fn at(&self, x: f64, context: Option<f64>) -> f64 {
        let c = &self.curves;
        match (c.first(), context) {
            (None, _) => f64::NAN,
            (Some((None, curve)), _) => curve.at(x),
            (Some(_), None) => c[0].1.at(x),
            (Some(_), Some(ctx)) => {
                let i = c.partition_point(|(k, _)| k.unwrap_or(0.0) < ctx);
                if i == 0 {
                    return c[0].1.at(x);
                }
                if i == c.len() {
                    return c[c.len() - 1].1.at(x);
                }
                let (ka, ca) = (c[i - 1].0.unwrap_or(0.0), &c[i - 1].1);
                let (kb, cb) = (c[i].0.unwrap_or(0.0), &c[i].1);
                let (ya, yb) = (ca.at(x), cb.at(x));
                ya + (yb - ya) * (ctx - ka) / (kb - ka)
            }
        }
    }

    /// Whether the kind lists contexts.
    pub fn has_context(&self) -> bool {
        matches!(self.curves.first(), Some((Some(_), _)))
    }
}

/// A latency profile: the target's forward time by query tokens, the draft's step time by batch
/// size.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    /// Where it was read from (for labels).
    pub source: String,
    /// `verify` rows: one target forward, by total query tokens.
    pub verify: ByContext,
    /// `draft` rows: one draft step, by batch size.
    pub draft: ByContext,
}

impl Profile {
    /// Reads and checks a profile file.
    pub fn open(path: &Path) -> Result<Profile> {
        let text = crate::files::read_text(path, "a latency profile (CSV)", MAX_PROFILE_BYTES)?;
        Profile::parse(&text, &path.display().to_string())
    }

    /// Parses a profile's text (`source` names it in errors).
    pub fn parse(text: &str, source: &str) -> Result<Profile> {
        let bad = |line: usize, m: String| Error::Config(format!("{source}:{line}: {m}"));
        // A byte-order mark (spreadsheets write one) is not part of the header.
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l.trim()));
        let header = lines
            .by_ref()
            .find(|(_, l)| !l.is_empty() && !l.starts_with('#'));
        match header {
            Some((_, h)) if h.split(',').map(str::trim).eq(HEADER.split(',')) => {}
            Some((n, h)) => {
                return Err(bad(
                    n,
                    format!("the header is {h:?}; a latency profile starts with {HEADER:?}"),
                ));
            }
            None => {
                return Err(bad(
                    1,
                    format!("empty: expected the header {HEADER:?} and rows"),
                ));
            }
        }
        // (kind, context bits or None) → size → times.
        type Samples = BTreeMap<Option<u64>, BTreeMap<u64, Vec<f64>>>;
        let (mut verify, mut draft): (Samples, Samples) = Default::default();
        let mut context_seen: [Option<bool>; 2] = [None, None];
        for (n, line) in lines {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let cells: Vec<&str> = line.split(',').map(str::trim).collect();
            if cells.len() != 5 {
                return Err(bad(
                    n,
                    format!("{} columns in {line:?}; expected 5 ({HEADER})", cells.len()),
                ));
            }
            let int = |col: &str, v: &str| -> Result<u64> {
                v.parse::<u64>()
                    .ok()
                    .filter(|&x| x > 0)
                    .ok_or_else(|| bad(n, format!("{col} = {v:?} is not a positive integer")))
            };
            let kind = match cells[0] {
                "verify" => 0,
                "draft" => 1,
                k => {
                    return Err(bad(n, format!("kind = {k:?}; expected verify or draft")));
                }
            };
            let batch = int("batch", cells[1])?;
            let tokens = int("tokens", cells[2])?;
            if kind == 0 && tokens < batch {
                return Err(bad(
                    n,
                    format!(
                        "tokens = {tokens} is below batch = {batch}: a verify row's tokens are the whole batch's query tokens"
                    ),
                ));
            }
            let context =
                if cells[3].is_empty() {
                    None
                } else {
                    Some(cells[3].parse::<u64>().map_err(|_| {
                        bad(n, format!("context = {:?} is not an integer", cells[3]))
                    })?)
                };
            match context_seen[kind] {
                Some(had) if had != context.is_some() => {
                    return Err(bad(
                        n,
                        "context is given in some rows of this kind and not in others: give it in all or none".into(),
                    ));
                }
                _ => context_seen[kind] = Some(context.is_some()),
            }
            let ms = cells[4]
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite() && *x > 0.0)
                .ok_or_else(|| bad(n, format!("ms = {:?} is not a positive number", cells[4])))?;
            let (map, size) = if kind == 0 {
                (&mut verify, tokens)
            } else {
                (&mut draft, batch)
            };
            map.entry(context)
                .or_default()
                .entry(size)
                .or_default()
                .push(ms);
        }
        let build = |s: &Samples, kind: &str| -> Result<ByContext> {
            if s.is_empty() {
                return Err(Error::Config(format!(
                    "{source}: no {kind} rows: a profile times both the target's forward (verify) and the draft's step (draft)"
                )));
            }
            Ok(ByContext {
                curves: s
                    .iter()
                    .map(|(c, sizes)| (c.map(|c| c as f64), Curve::from_samples(sizes)))
                    .collect(),
            })
        };
        Ok(Profile {
            source: source.to_string(),
            verify: build(&verify, "verify")?,
            draft: build(&draft, "draft")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_running_maximum_interpolation_and_extrapolation() {
        let p = Profile::parse(
            "kind,batch,tokens,context,ms\n\
             verify,1,1,,10\nverify,1,1,,12\nverify,1,1,,30\n\
             verify,4,8,,9\nverify,16,32,,20\n# a comment\n\ndraft,1,1,,2\ndraft,8,8,,4\n",
            "p.csv",
        )
        .unwrap();
        // Median of 10, 12, 30 is 12; 9 at 8 tokens is raised to 12 (running maximum).
        assert_eq!(p.verify.at(1.0, None), 12.0);
        assert_eq!(p.verify.at(8.0, None), 12.0);
        assert_eq!(p.verify.at(20.0, None), 16.0);
        assert_eq!(p.verify.at(0.5, None), 12.0);
        // Past the last point: the last segment (8 → 12, 32 → 20) extended.
        assert_eq!(p.verify.at(56.0, None), 28.0);
        assert_eq!(p.draft.at(4.5, None), 3.0);
    }

    #[test]
    fn contexts_interpolate_and_clamp() {
        let p = Profile::parse(
            "kind,batch,tokens,context,ms\nverify,1,1,1000,10\nverify,1,1,3000,20\ndraft,1,1,,1\n",
            "c.csv",
        )
        .unwrap();
        assert!(p.verify.has_context() && !p.draft.has_context());
        assert_eq!(p.verify.at(1.0, Some(2000.0)), 15.0);
        assert_eq!(p.verify.at(1.0, Some(10.0)), 10.0);
        assert_eq!(p.verify.at(1.0, Some(9000.0)), 20.0);
        assert_eq!(p.draft.at(1.0, Some(2000.0)), 1.0);
    }

    #[test]
    fn bad_rows_are_refused_naming_the_line() {
        let bad = |body: &str| {
            Profile::parse(&format!("kind,batch,tokens,context,ms\n{body}"), "b.csv")
                .unwrap_err()
                .to_string()
        };
        assert!(bad("verify,1,1,,10\ndrift,1,1,,2\n").contains("b.csv:3: kind"));
        assert!(bad("verify,0,1,,10\ndraft,1,1,,1\n").contains("b.csv:2: batch"));
        assert!(bad("verify,1,1,,-3\ndraft,1,1,,1\n").contains("b.csv:2: ms"));
        assert!(bad("verify,1,1,,nan\ndraft,1,1,,1\n").contains("ms"));
        assert!(bad("verify,1,1,,10,7\n").contains("6 columns"));
        assert!(bad("verify,8,4,,10\ndraft,1,1,,1\n").contains("below batch"));
        assert!(bad("verify,1,1,5,10\nverify,2,2,,10\n").contains("b.csv:3: context"));
        assert!(bad("verify,1,1,,10\n").contains("no draft rows"));
        assert!(
            Profile::parse("batch,kind,tokens,context,ms\n", "h.csv")
                .unwrap_err()
                .to_string()
                .contains("h.csv:1: the header")
        );
        assert!(Profile::parse("", "e.csv").is_err());
    }
}
