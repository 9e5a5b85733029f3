//! Adaptive draft length (SPEC §11): stopping policies, their exact `E[D]`, `E[τ]` and pmf of D
//! given one round's rows (the drafted tokens random), and the Bellman bound: the best rate any
//! policy that sees the rows and the drafted tokens can reach under Leviathan's cost.
//!
//! A round drafts positions 1, 2, …; after drafting position i < K it continues iff the policy
//! says so; D drafts are verified by the token rule (SPEC §1). With `q̂_i` the draft row over its
//! sum (the law the tokens are drawn from), `p_i` the target row over its sum, `a_i(x) =
//! min(1, p_i(x)/q̂_i(x))` and `c_i(x)` the policy's decision to continue after drafting x at
//! position i:
//! - `P(D ≥ 1) = 1`, `P(D ≥ i + 1) = P(D ≥ i) Σ_x q̂_i(x) c_i(x)` (i < K);
//! - `P(τ ≥ i) = β_i Π_{j<i} Σ_x min(p_j, q̂_j)(x) c_j(x)`, `β_i = Σ_x min(p_i, q̂_i)(x)`;
//!
//! for the policies whose decision depends on the position's own token only (`fixed`, `hf`,
//! `top1`, `entropy`, `oracle`). `specdecpp` and `bellman` decide on the running product
//! `L_i = Π_{j≤i} a_j(x_j)`: they are computed by enumerating the drafted sequences where
//! V^K ≤ [`ENUMERATION_BUDGET`], and bracketed beyond it ([`super::adaptive_grid`]).

use crate::error::{Error, Result};

/// The largest V^K whose drafted sequences are enumerated.
pub const ENUMERATION_BUDGET: f64 = 4096.0;

/// The largest K whose drafted sequences are enumerated (V = 1 passes any V^K budget).
pub const ENUMERATION_MAX_K: usize = 64;

/// Whether the drafted sequences of K positions over V tokens are enumerated.
pub fn enumerable(k: usize, v: usize) -> bool {
    k <= ENUMERATION_MAX_K && (v as f64).powi(k as i32) <= ENUMERATION_BUDGET
}

mod bracket;
mod policy;

use bracket::bracketed;
pub use bracket::{
    Bracketed, adaptive_bracket, grid_bracket, specdecpp_threshold, threshold_exact,
};
pub use policy::Policy;

/// A policy's exact values on one round (Python's `specsim.adaptive_exact`).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct AdaptiveExact {
    /// The policy.
    pub policy: String,
    /// `E[D]`: drafts verified.
    pub expected_drafted: f64,
    /// `E[τ]`: drafts accepted.
    pub expected_accepted: f64,
    /// `1 + E[τ]`.
    pub expected_generated: f64,
    /// `P(D = d)`, d = 0..K (d = 0 has probability 0: the first draft is always verified).
    pub pmf_drafted: Vec<f64>,
    /// Draft steps spent: `E[D]`, plus `top1`'s discarded draft when it stops before K.
    pub expected_draft_steps: f64,
    /// `E[generated] / E[draft steps · c + 1]` under Leviathan's c.
    pub rate: f64,
    /// Whether the values are exact; otherwise `expected_*` and `rate` are the midpoints of the
    /// certified brackets below, and `pmf_drafted` is empty.
    pub exact: bool,
    /// `E[generated]`, lower end (the value itself when exact).
    pub generated_low: f64,
    /// `E[generated]`, upper end.
    pub generated_high: f64,
    /// `E[D]`, lower end.
    pub drafted_low: f64,
    /// `E[D]`, upper end.
    pub drafted_high: f64,
    /// The rate, lower end.
    pub rate_low: f64,
    /// The rate, upper end.
    pub rate_high: f64,
}

/// Rows divided by their sums (refusing a row of no mass).
fn normalized(rows: &[Vec<f64>], name: &str) -> Result<Vec<Vec<f64>>> {
    rows.iter()
        .enumerate()
        .map(|(i, r)| {
            let s: f64 = r.iter().sum();
            if !(s > 0.0 && s.is_finite()) || r.iter().any(|x| !(x.is_finite() && *x >= 0.0)) {
                return Err(Error::Config(format!(
                    "{name}[{i}]: not a distribution (entries finite and >= 0, sum > 0)"
                )));
            }
            Ok(r.iter().map(|x| x / s).collect())
        })
        .collect()
}

/// Shannon entropy in nats.
fn entropy(q: &[f64]) -> f64 {
    -q.iter()
        .filter(|&&x| x > 0.0)
        .map(|&x| x * x.ln())
        .sum::<f64>()
}

/// Checks one round's rows: K draft rows and K + 1 target rows of one V, K ≥ 1.
fn check(q: &[Vec<f64>], p: &[Vec<f64>]) -> Result<(usize, usize)> {
    let k = q.len();
    if k == 0 || p.len() != k + 1 {
        return Err(Error::Config(format!(
            "rows: expected K >= 1 draft rows and K + 1 target rows, got {} and {}",
            q.len(),
            p.len()
        )));
    }
    let v = p[0].len();
    if v == 0 || q.iter().chain(p).any(|r| r.len() != v) {
        return Err(Error::Config(
            "rows: every row must have the same V >= 1 entries".into(),
        ));
    }
    Ok((k, v))
}

/// The exact values of `policy` on the round `q` (K draft rows), `p` (K + 1 target rows), under
/// Leviathan's cost ratio `c` (used by `bellman` and for `rate`).
pub fn adaptive_exact(
    q: &[Vec<f64>],
    p: &[Vec<f64>],
    policy: Policy,
    c: f64,
) -> Result<AdaptiveExact> {
    let (k, v) = check(q, p)?;
    if !(c.is_finite() && c >= 0.0) {
        return Err(Error::Config(format!("cost_ratio: {c} is not >= 0")));
    }
    let q = normalized(q, "draft")?;
    let p = normalized(p, "target")?;
    let (reach_d, reach_tau) = match policy {
        Policy::SpecDecPp(_) | Policy::Bellman if !enumerable(k, v) => {
            return Ok(bracketed(&q, &p, policy, c));
        }
        Policy::SpecDecPp(_) | Policy::Bellman => {
            let thresholds = match policy {
                Policy::Bellman => bellman_thresholds(&q, &p, c).thresholds,
                _ => Vec::new(),
            };
            enumerate(&q, &p, |i, _l_prev, l_i| match policy {
                // After one draft go on; after s = i ≥ 2 drafts go on iff the product over all
                // s drafts (SPEC §11's L_{s−1}, counted from 0) is ≥ 1 − h.
                Policy::SpecDecPp(h) => i < 2 || l_i >= 1.0 - h,
                _ => l_i >= thresholds[i - 1],
            })
        }
        _ => product_reaches(&q, &p, policy, k),
    };
    let pmf: Vec<f64> = (0..=k)
        .map(|d| {
            let x = if d == 0 {
                0.0
            } else {
                reach_d[d - 1] - reach_d.get(d).copied().unwrap_or(0.0)
            };
            // +0 where the difference is a zero of either sign.
            if x == 0.0 { 0.0 } else { x }
        })
        .collect();
    let expected_drafted: f64 = reach_d.iter().sum();
    let expected_accepted: f64 = reach_tau.iter().sum();
    let discarded = match policy {
        Policy::Top1(_) => 1.0 - reach_d[k - 1],
        _ => 0.0,
    };
    let steps = expected_drafted + discarded;
    let rate = (1.0 + expected_accepted) / (steps * c + 1.0);
    Ok(AdaptiveExact {
        policy: policy.to_string(),
        expected_drafted,
        expected_accepted,
        expected_generated: 1.0 + expected_accepted,
        pmf_drafted: pmf,
        expected_draft_steps: steps,
        rate,
        exact: true,
        generated_low: 1.0 + expected_accepted,
        generated_high: 1.0 + expected_accepted,
        drafted_low: expected_drafted,
        drafted_high: expected_drafted,
        rate_low: rate,
        rate_high: rate,
    })
}

/// `P(D ≥ i)` and `P(τ ≥ i)`, i = 1..K, by the product formulas.
fn product_reaches(
    q: &[Vec<f64>],
    p: &[Vec<f64>],
    policy: Policy,
    k: usize,
) -> (Vec<f64>, Vec<f64>) {
    // The decisions that do not depend on the token, once per position (j < K − 1).
    let per_position: Vec<bool> = (0..k.saturating_sub(1))
        .map(|j| match policy {
            Policy::Top1(t) => (q[j + 1].iter().copied().fold(0.0f64, f64::max) as f32) >= t,
            Policy::Entropy { gamma, lambda } => 1.0 - (gamma * entropy(&q[j])).sqrt() >= lambda,
            _ => true,
        })
        .collect();
    // c_i(x) for i = 1..K−1 (0-based j = i − 1).
    let cont = |j: usize, x: usize| -> bool {
        let i = j + 1;
        match policy {
            Policy::Fixed(kk) => i < kk,
            Policy::Hf(t) => (q[j][x] as f32) >= t,
            Policy::Top1(_) | Policy::Entropy { .. } => per_position[j],
            Policy::Oracle(t) => accept(p[j][x], q[j][x]) >= t,
            Policy::SpecDecPp(_) | Policy::Bellman => unreachable!("enumerated"),
        }
    };
    let beta = |j: usize| -> f64 { p[j].iter().zip(&q[j]).map(|(a, b)| a.min(*b)).sum() };
    let (mut rd, mut rt) = (vec![0.0f64; k], vec![0.0f64; k]);
    let (mut d, mut t) = (1.0f64, 1.0f64);
    for j in 0..k {
        rd[j] = d;
        rt[j] = t * beta(j);
        if j + 1 < k {
            let v = q[j].len();
            d *= (0..v).filter(|&x| cont(j, x)).map(|x| q[j][x]).sum::<f64>();
            t *= (0..v)
                .filter(|&x| cont(j, x))
                .map(|x| p[j][x].min(q[j][x]))
                .sum::<f64>();
        }
    }
    (rd, rt)
}

/// `min(1, p/q)` (1 where q = 0: such a token is never drafted).
fn accept(p: f64, q: f64) -> f64 {
    if q > 0.0 { (p / q).min(1.0) } else { 1.0 }
}

/// `P(D ≥ i)` and `P(τ ≥ i)` by enumerating the drafted sequences: `go(i, L_{i−1}, L_i)` says
/// whether to continue after i drafts.
fn enumerate(
    q: &[Vec<f64>],
    p: &[Vec<f64>],
    go: impl Fn(usize, f64, f64) -> bool,
) -> (Vec<f64>, Vec<f64>) {
    let k = q.len();
    let mut w = Walk {
        q,
        p,
        go: &go,
        rd: vec![0.0f64; k],
        rt: vec![0.0f64; k],
    };
    w.walk(0, 1.0, 1.0);
    (w.rd, w.rt)
}

/// The depth-first walk of [`enumerate`] and its sums.
struct Walk<'a> {
    q: &'a [Vec<f64>],
    p: &'a [Vec<f64>],
    go: &'a dyn Fn(usize, f64, f64) -> bool,
    rd: Vec<f64>,
    rt: Vec<f64>,
}

impl Walk<'_> {
    /// Position `j + 1` is drafted with probability `prob`; `l_prev` = `L_j`.
    fn walk(&mut self, j: usize, prob: f64, l_prev: f64) {
        let (q, p) = (self.q, self.p);
        self.rd[j] += prob;
        for x in 0..q[j].len() {
            let w = prob * q[j][x];
            if w == 0.0 {
                continue;
            }
            let l = l_prev * accept(p[j][x], q[j][x]);
            self.rt[j] += w * l;
            if j + 1 < q.len() && (self.go)(j + 1, l_prev, l) {
                self.walk(j + 1, w, l);
            }
        }
    }
}

/// The Bellman bound (SPEC §11) on one round under Leviathan's cost ratio c.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct BellmanBound {
    /// Lower end of the best rate `E[generated] / E[D c + 1]`: the rate of the policy found.
    pub rate_low: f64,
    /// Upper end: `λ + max(0, J(λ))` at the last rate λ (any policy's `gen − λ time ≤ J(λ)` and
    /// time ≥ 1), so no policy's rate exceeds it.
    pub rate_high: f64,
    /// The optimal policy's thresholds: after i drafts (i = 1..K−1) continue iff `L_i ≥
    /// thresholds[i − 1]` (`inf`: never).
    pub thresholds: Vec<f64>,
    /// Dinkelbach iterations.
    pub iterations: usize,
    /// Exact by enumeration (`rate_low = rate_high` up to the iteration's tolerance); otherwise
    /// the grid's certified bracket.
    pub exact: bool,
}

/// The best rate over policies that see the rows and the drafted tokens, by Dinkelbach's
/// iteration with backward induction over the drafted sequences (V^K ≤ the budget): for a rate
/// λ, `J(λ) = max_policy E[generated − λ (D c + 1)]`; the optimum is the λ with `J(λ) = 0`.
pub fn bellman_bound(q: &[Vec<f64>], p: &[Vec<f64>], c: f64) -> Result<BellmanBound> {
    let (k, v) = check(q, p)?;
    if !(c.is_finite() && c >= 0.0) {
        return Err(Error::Config(format!("cost_ratio: {c} is not >= 0")));
    }
    let q = normalized(q, "draft")?;
    let p = normalized(p, "target")?;
    if !enumerable(k, v) {
        use super::adaptive_grid::{RoundGrid, StepCosts, bellman_grid};
        let g = RoundGrid::new(&q, &p);
        let mut b = bellman_grid(std::slice::from_ref(&g), &StepCosts::ratio(c, k));
        return Ok(BellmanBound {
            rate_low: b.rate_low,
            rate_high: b.rate_high,
            thresholds: b.thresholds.remove(0),
            iterations: b.iterations,
            exact: false,
        });
    }
    Ok(bellman_thresholds(&q, &p, c))
}

/// Dinkelbach on normalized rows.
fn bellman_thresholds(q: &[Vec<f64>], p: &[Vec<f64>], c: f64) -> BellmanBound {
    let k = q.len();
    // For a rate λ: the optimal decisions and the (E[generated], E[D]) they give.
    let solve = |lambda: f64| -> (f64, f64, Vec<f64>) {
        // value(j, L) = max(0, Σ_x q_{j}(x) [L a_j(x) − λ c + value(j + 1, L a_j(x))]) for the
        // decision to draft position j + 1 (0-based j) with L = L_j; value(K, ·) = 0.
        fn value(j: usize, l: f64, lambda: f64, c: f64, q: &[Vec<f64>], p: &[Vec<f64>]) -> f64 {
            if j == q.len() {
                return 0.0;
            }
            let mut s = 0.0;
            for x in 0..q[j].len() {
                if q[j][x] == 0.0 {
                    continue;
                }
                let l2 = l * accept(p[j][x], q[j][x]);
                s += q[j][x] * (l2 - lambda * c + value(j + 1, l2, lambda, c, q, p));
            }
            s.max(0.0)
        }
        // Thresholds: continue after i drafts iff the continuation value at L_i is > 0; found
        // as the smallest reachable L_i with a positive value (values increase with L).
        let mut thresholds = vec![f64::INFINITY; k.saturating_sub(1)];
        fn reach(j: usize, l: f64, q: &[Vec<f64>], p: &[Vec<f64>], out: &mut Vec<Vec<f64>>) {
            if j == q.len() {
                return;
            }
            for x in 0..q[j].len() {
                if q[j][x] == 0.0 {
                    continue;
                }
                let l2 = l * accept(p[j][x], q[j][x]);
                out[j].push(l2);
                reach(j + 1, l2, q, p, out);
            }
        }
        let mut ls = vec![Vec::new(); k];
        reach(0, 1.0, q, p, &mut ls);
        for i in 1..k {
            for &l in &ls[i - 1] {
                if value(i, l, lambda, c, q, p) > 0.0 && l < thresholds[i - 1] {
                    thresholds[i - 1] = l;
                }
            }
        }
        let (rd, rt) = enumerate(q, p, |i, _, l| l >= thresholds[i - 1]);
        (
            1.0 + rt.iter().sum::<f64>(),
            rd.iter().sum::<f64>(),
            thresholds,
        )
    };
    // Dinkelbach: start from the rate of drafting one token; λ ← E[gen] / E[time] of the best
    // policy at λ, until it stops rising.
    let mut lambda = {
        let (g, d, _) = solve(f64::INFINITY.min(1e300));
        g / (d * c + 1.0)
    };
    let mut best = solve(lambda);
    let mut iterations = 1;
    loop {
        let next = best.0 / (best.1 * c + 1.0);
        if next <= lambda * (1.0 + 1e-15) || iterations >= 100 {
            lambda = lambda.max(next);
            break;
        }
        lambda = next;
        best = solve(lambda);
        iterations += 1;
    }
    // J(λ): the best policy's E[generated − λ time] at the last λ.
    let j = best.0 - lambda * (best.1 * c + 1.0);
    BellmanBound {
        rate_low: best.0 / (best.1 * c + 1.0),
        rate_high: lambda + j.max(0.0),
        thresholds: best.2,
        iterations,
        exact: true,
    }
}
