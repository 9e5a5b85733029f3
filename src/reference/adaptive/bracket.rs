//! Brackets of the threshold policies (`specdecpp`, `bellman`): exact by enumeration where V^K
//! is small, certified on the grid of [`crate::reference::adaptive_grid`] beyond.

use super::{AdaptiveExact, Policy, check, enumerable, enumerate, normalized};
use crate::error::{Error, Result};
use crate::reference::adaptive_grid::{RoundGrid, StepCosts, threshold_bracket};

/// The thresholds on `L_s` (s = 1..K−1) `specdecpp:h` goes on at: none after one draft, `1 − h`
/// after s ≥ 2.
pub fn specdecpp_threshold(h: f64, s: usize) -> f64 {
    if s < 2 { f64::NEG_INFINITY } else { 1.0 - h }
}

/// `specdecpp` or `bellman`'s certified bracket on the grid ([`crate::reference::adaptive_grid`]), as
/// [`super::adaptive_exact`] gives it beyond enumeration (for tests at any size).
pub fn adaptive_bracket(
    q: &[Vec<f64>],
    p: &[Vec<f64>],
    policy: Policy,
    c: f64,
) -> Result<AdaptiveExact> {
    check(q, p)?;
    if !matches!(policy, Policy::SpecDecPp(_) | Policy::Bellman) {
        return Err(Error::Config(format!(
            "{policy}: exact by its product formula; only specdecpp and bellman are bracketed"
        )));
    }
    let q = normalized(q, "draft")?;
    let p = normalized(p, "target")?;
    Ok(bracketed(&q, &p, policy, c))
}

/// A threshold policy's values on one round: exact (by enumeration) or bracketed (on the grid).
#[derive(Clone, Debug, PartialEq)]
pub struct Bracketed {
    /// `E[D]`, lower end.
    pub drafted_low: f64,
    /// `E[D]`, upper end.
    pub drafted_high: f64,
    /// `E[generated]`, lower end.
    pub generated_low: f64,
    /// `E[generated]`, upper end.
    pub generated_high: f64,
    /// `E[time]`, lower end.
    pub time_low: f64,
    /// `E[time]`, upper end.
    pub time_high: f64,
    /// Whether the ends are equal (enumerated).
    pub exact: bool,
}

impl Bracketed {
    /// Exact values: `E[D]`, `E[generated]` and `E[time]`, each end equal to the value.
    pub fn exact(drafted: f64, generated: f64, time: f64) -> Bracketed {
        Bracketed {
            drafted_low: drafted,
            drafted_high: drafted,
            generated_low: generated,
            generated_high: generated,
            time_low: time,
            time_high: time,
            exact: true,
        }
    }
}

/// The policy that goes on after s drafts iff `L_s ≥ threshold(s)` on one round of normalized
/// rows under `cost`: by enumeration where V^K is small, otherwise its grid bracket.
pub fn threshold_exact(
    q: &[Vec<f64>],
    p: &[Vec<f64>],
    cost: &StepCosts,
    threshold: impl Fn(usize) -> f64,
) -> Bracketed {
    let (k, v) = (q.len(), q.first().map_or(0, Vec::len));
    if enumerable(k, v) {
        let (rd, rt) = enumerate(q, p, |i, _, l| l >= threshold(i));
        let d: f64 = rd.iter().sum();
        let g = 1.0 + rt.iter().sum::<f64>();
        let t = cost.base + rd.iter().zip(&cost.step).map(|(r, s)| r * s).sum::<f64>();
        return Bracketed::exact(d, g, t);
    }
    grid_bracket(&RoundGrid::new(q, p), cost, threshold)
}

/// A threshold policy's bracket on a round's grid ([`threshold_bracket`]'s two passes).
pub fn grid_bracket(
    g: &RoundGrid,
    cost: &StepCosts,
    threshold: impl Fn(usize) -> f64,
) -> Bracketed {
    let (lo, hi) = threshold_bracket(g, cost, threshold);
    Bracketed {
        drafted_low: lo.drafted(),
        drafted_high: hi.drafted(),
        generated_low: lo.generated(),
        generated_high: hi.generated(),
        time_low: lo.time,
        time_high: hi.time,
        exact: false,
    }
}

/// `specdecpp` and `bellman` beyond enumeration: their certified brackets on the grid.
pub(super) fn bracketed(q: &[Vec<f64>], p: &[Vec<f64>], policy: Policy, c: f64) -> AdaptiveExact {
    use crate::reference::adaptive_grid::{RoundGrid, StepCosts, bellman_grid, threshold_bracket};
    let k = q.len();
    let g = RoundGrid::new(q, p);
    let cost = StepCosts::ratio(c, k);
    let thresholds = match policy {
        Policy::Bellman => bellman_grid(std::slice::from_ref(&g), &cost)
            .thresholds
            .remove(0),
        _ => Vec::new(),
    };
    let (lo, hi) = threshold_bracket(&g, &cost, |s| match policy {
        Policy::SpecDecPp(h) => specdecpp_threshold(h, s),
        _ => thresholds[s - 1],
    });
    let (g_lo, g_hi) = (lo.generated(), hi.generated());
    let (d_lo, d_hi) = (lo.drafted(), hi.drafted());
    let (r_lo, r_hi) = (g_lo / hi.time, g_hi / lo.time);
    AdaptiveExact {
        policy: policy.to_string(),
        expected_drafted: 0.5 * (d_lo + d_hi),
        expected_accepted: 0.5 * (g_lo + g_hi) - 1.0,
        expected_generated: 0.5 * (g_lo + g_hi),
        pmf_drafted: Vec::new(),
        expected_draft_steps: 0.5 * (d_lo + d_hi),
        rate: 0.5 * (r_lo + r_hi),
        exact: false,
        generated_low: g_lo,
        generated_high: g_hi,
        drafted_low: d_lo,
        drafted_high: d_hi,
        rate_low: r_lo,
        rate_high: r_hi,
    }
}
