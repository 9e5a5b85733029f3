//! Certified brackets for the stopping policies that decide on the running product `L_s =
//! Π_{j≤s} a_j(x_j)` (`specdecpp`, `bellman`) where the drafted sequences are too many to
//! enumerate (SPEC §11), and the Bellman bound over many rounds.
//!
//! Each `a = min(1, p/q)` is placed on the grid `exp(−j δ)`, `δ = 1/32`, rounded down (index
//! `j↓ = ⌈−ln a / δ⌉`) and up (`j↑ = ⌊−ln a / δ⌋`); products of grid values stay on the grid, so
//! the running product is carried as an index. Below `exp(−M δ)` (M = [`GRID_LEN`] − 1, about
//! 10⁻⁴) the index is capped: the rounded-down product counts as 0 there, the rounded-up one as
//! `exp(−M δ)`. Every policy here continues after s drafts iff `L_s ≥ θ_s`:
//! - deciding on the rounded-down index continues in a subset of the sequences where the policy
//!   does, and on the rounded-up one in a superset; the number drafted and the weight `Π a` of
//!   every sequence (carried exactly, not on the grid) are non-negative, so the two passes bound
//!   `E[D]`, `E[generated]` and the expected time from below and above;
//! - the optimal value `J(λ) = max E[generated − λ·time]` only grows when every `a` grows, so
//!   backward induction on the rounded-up grid bounds it from above; the policy found on the
//!   rounded-down grid is a real policy (its decisions are a function of the drafted tokens),
//!   whose rate the exact-weight pass gives: the bound's lower end.

/// Grid step δ.
pub const GRID_STEP: f64 = 1.0 / 32.0;

/// Grid indices 0..=M, `exp(−M δ)` ≈ 1e-4.
pub const GRID_LEN: usize = 296;

const M: usize = GRID_LEN - 1;

/// One position's `a = min(1, p/q)` values on the grid: for each index its draft mass
/// `π = Σ q(x)` and its weight `ρ = Σ q(x) a(x)` (exact), for the rounded-down and rounded-up
/// placements (sparse: the indices with mass only).
#[derive(Clone, Debug, Default)]
pub struct PositionBins {
    /// (index, π, ρ), a rounded down.
    pub down: Vec<(usize, f64, f64)>,
    /// (index, π, ρ), a rounded up.
    pub up: Vec<(usize, f64, f64)>,
}

/// A round's positions on the grid.
#[derive(Clone, Debug, Default)]
pub struct RoundGrid {
    /// Positions 1..K.
    pub positions: Vec<PositionBins>,
}

/// A round's time: `base + Σ_{i<D} step[i]` for D drafts verified (`step[i] ≥ 0`, one per
/// position). Leviathan's ratio c: `base = 1`, `step[i] = c`.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StepCosts {
    /// The time of a round before any draft (the target's forward).
    pub base: f64,
    /// The extra time of the i-th draft (0-based), drafting and verifying it.
    pub step: Vec<f64>,
    /// The time of drafting alone (a draft made and not verified: `top1`'s stop).
    pub draft: f64,
}

impl StepCosts {
    /// Leviathan's cost ratio c at K positions.
    pub fn ratio(c: f64, k: usize) -> StepCosts {
        StepCosts {
            base: 1.0,
            step: vec![c; k],
            draft: c,
        }
    }

    /// The time of the shortest round (one draft).
    fn min_time(&self) -> f64 {
        self.base + self.step.first().copied().unwrap_or(0.0)
    }
}

fn value(j: usize, up: bool) -> f64 {
    if j >= M && !up {
        0.0
    } else {
        (-(j.min(M) as f64) * GRID_STEP).exp()
    }
}

impl RoundGrid {
    /// The grid of a round from its normalized rows (K draft rows, at least K target rows).
    pub fn new(q: &[Vec<f64>], p: &[Vec<f64>]) -> RoundGrid {
        let positions = q
            .iter()
            .zip(p)
            .map(|(qr, pr)| {
                let (mut down, mut up) = (vec![(0.0, 0.0); GRID_LEN], vec![(0.0, 0.0); GRID_LEN]);
                for (&qx, &px) in qr.iter().zip(pr) {
                    if qx <= 0.0 {
                        continue;
                    }
                    let a = (px / qx).min(1.0);
                    let (jd, ju) = if a >= 1.0 {
                        (0, 0)
                    } else if a <= 0.0 {
                        (M, M)
                    } else {
                        let t = -a.ln() / GRID_STEP;
                        // A margin for the logarithm's rounding keeps each placement on its side.
                        let jd = ((t + 1e-9).ceil() as usize).min(M);
                        let ju = ((t - 1e-9).floor().max(0.0) as usize).min(M);
                        (jd, ju)
                    };
                    down[jd].0 += qx;
                    down[jd].1 += qx * a;
                    up[ju].0 += qx;
                    up[ju].1 += qx * a;
                }
                let sparse = |v: Vec<(f64, f64)>| -> Vec<(usize, f64, f64)> {
                    v.into_iter()
                        .enumerate()
                        .filter(|(_, (m, _))| *m > 0.0)
                        .map(|(j, (m, w))| (j, m, w))
                        .collect()
                };
                PositionBins {
                    down: sparse(down),
                    up: sparse(up),
                }
            })
            .collect();
        RoundGrid { positions }
    }

    /// K.
    pub fn k(&self) -> usize {
        self.positions.len()
    }

    /// The mean of rounds' grids of the same K (positions drawn independently of each other, as
    /// in the generated families): the grid of a round drawn at random from them.
    pub fn pooled(rounds: &[RoundGrid]) -> RoundGrid {
        let k = rounds.iter().map(RoundGrid::k).min().unwrap_or(0);
        let n = rounds.len().max(1) as f64;
        let positions = (0..k)
            .map(|s| {
                let pool = |pick: fn(&PositionBins) -> &Vec<(usize, f64, f64)>| {
                    let mut v = vec![(0.0, 0.0); GRID_LEN];
                    for r in rounds {
                        for &(j, m, w) in pick(&r.positions[s]) {
                            v[j].0 += m / n;
                            v[j].1 += w / n;
                        }
                    }
                    v.into_iter()
                        .enumerate()
                        .filter(|(_, (m, _))| *m > 0.0)
                        .map(|(j, (m, w))| (j, m, w))
                        .collect()
                };
                PositionBins {
                    down: pool(|b| &b.down),
                    up: pool(|b| &b.up),
                }
            })
            .collect();
        RoundGrid { positions }
    }
}

/// One pass's sums: `P(D ≥ i)` and `P(τ ≥ i)`, i = 1..K, and the expected time.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PassSums {
    /// `P(D ≥ i)`.
    pub reach_d: Vec<f64>,
    /// `P(τ ≥ i)`.
    pub reach_tau: Vec<f64>,
    /// `E[time]`.
    pub time: f64,
}

impl PassSums {
    /// `E[D]`.
    pub fn drafted(&self) -> f64 {
        self.reach_d.iter().sum()
    }

    /// `E[generated] = 1 + E[τ]`.
    pub fn generated(&self) -> f64 {
        1.0 + self.reach_tau.iter().sum::<f64>()
    }
}

/// The pass over a round's grid (rounded down or up) with exact weights, continuing after s
/// drafts in state j iff `go(s, j)`.
pub fn pass(
    g: &RoundGrid,
    up: bool,
    cost: &StepCosts,
    go: impl Fn(usize, usize) -> bool,
) -> PassSums {
    let k = g.k();
    let bins = |s: usize| {
        if up {
            &g.positions[s].up
        } else {
            &g.positions[s].down
        }
    };
    let mut out = PassSums {
        reach_d: vec![0.0; k],
        reach_tau: vec![0.0; k],
        time: cost.base,
    };
    if k == 0 {
        return out;
    }
    // (mass, weight) per state after s drafts.
    let mut state = vec![(0.0f64, 0.0f64); GRID_LEN];
    for &(j, m, w) in bins(0) {
        state[j].0 += m;
        state[j].1 += w;
    }
    out.reach_d[0] = 1.0;
    out.reach_tau[0] = state.iter().map(|x| x.1).sum();
    out.time += cost.step[0];
    for s in 1..k {
        let mut next = vec![(0.0f64, 0.0f64); GRID_LEN];
        let mut reach = 0.0;
        for (j, &(m, w)) in state.iter().enumerate() {
            if m == 0.0 || !go(s, j) {
                continue;
            }
            reach += m;
            for &(b, pm, pw) in bins(s) {
                let t = (j + b).min(M);
                next[t].0 += m * pm;
                next[t].1 += w * pw;
            }
        }
        out.reach_d[s] = reach;
        out.reach_tau[s] = next.iter().map(|x| x.1).sum();
        out.time += reach * cost.step[s];
        state = next;
    }
    out
}

/// Lower and upper bounds of a threshold policy's values: it continues after s drafts iff
/// `L_s ≥ threshold(s)`.
pub fn threshold_bracket(
    g: &RoundGrid,
    cost: &StepCosts,
    threshold: impl Fn(usize) -> f64,
) -> (PassSums, PassSums) {
    let low = pass(g, false, cost, |s, j| value(j, false) >= threshold(s));
    let high = pass(g, true, cost, |s, j| value(j, true) >= threshold(s));
    (low, high)
}

/// Backward induction on a round's grid at rate λ: for s = 1..K−1 the largest state index at
/// which going on is optimal (`None`: never), and the optimal value `J(λ)` of the grid problem.
fn best_response(
    g: &RoundGrid,
    up: bool,
    lambda: f64,
    cost: &StepCosts,
) -> (Vec<Option<usize>>, f64) {
    let k = g.k();
    let bins = |s: usize| {
        if up {
            &g.positions[s].up
        } else {
            &g.positions[s].down
        }
    };
    let mut v_next = vec![0.0f64; GRID_LEN];
    let mut last = vec![None; k.saturating_sub(1)];
    for s in (1..k).rev() {
        let mut v = vec![0.0f64; GRID_LEN];
        for (j, vj) in v.iter_mut().enumerate() {
            // The gain of drafting position s + 1: `L_s · E[a]`, with `L_s` the state's value
            // (at least the true product on the rounded-up grid) and `E[a]` exact.
            let lj = value(j, up);
            let c: f64 = bins(s)
                .iter()
                .map(|&(b, m, w)| {
                    let t = (j + b).min(M);
                    lj * w + m * v_next[t]
                })
                .sum::<f64>()
                - lambda * cost.step[s];
            if c > 0.0 {
                *vj = c;
                last[s - 1] = Some(last[s - 1].map_or(j, |x: usize| x.max(j)));
            }
        }
        v_next = v;
    }
    let first: f64 = bins(0).iter().map(|&(b, m, w)| w + m * v_next[b]).sum();
    (last, 1.0 + first - lambda * cost.min_time())
}

/// The Bellman bound over rounds (each round's policy sees its rows), on the grid.
#[derive(Clone, Debug, PartialEq)]
pub struct GridBellman {
    /// The rate of the policies found (exact: a real policy's `Σ generated / Σ time`).
    pub rate_low: f64,
    /// No policy's rate exceeds it.
    pub rate_high: f64,
    /// Per round, for s = 1..K−1: go on iff `L_s ≥` this (`inf`: never).
    pub thresholds: Vec<Vec<f64>>,
    /// Dinkelbach iterations.
    pub iterations: usize,
}

/// Dinkelbach's iteration over rounds on the grid: `λ ← Σ generated / Σ time` of the policies
/// found on the rounded-down grid (their exact values), until it stops rising; then the upper end
/// `λ + max(0, Σ J↑(λ)) / (n · min time)` from the rounded-up grid.
pub fn bellman_grid(rounds: &[RoundGrid], cost: &StepCosts) -> GridBellman {
    let eval = |lambda: f64| -> (f64, f64, Vec<Vec<f64>>) {
        let (mut gen_sum, mut time_sum, mut thr) = (0.0, 0.0, Vec::new());
        for g in rounds {
            let (last, _) = best_response(g, false, lambda, cost);
            let sums = pass(g, false, cost, |s, j| last[s - 1].is_some_and(|t| j <= t));
            gen_sum += sums.generated();
            time_sum += sums.time;
            thr.push(
                last.iter()
                    .map(|t| t.map_or(f64::INFINITY, |t| value(t, false)))
                    .collect(),
            );
        }
        (gen_sum, time_sum, thr)
    };
    // The policy that never goes on (one draft per round) starts; then the best response at
    // the best rate so far, kept only while it improves that rate (on the grid a best response
    // need not improve the true rate: the best policy found is kept).
    let mut best = {
        let (g, t) = rounds.iter().fold((0.0, 0.0), |(g, t), r| {
            let s = pass(r, false, cost, |_, _| false);
            (g + s.generated(), t + s.time)
        });
        let never = rounds
            .iter()
            .map(|r| vec![f64::INFINITY; r.k().saturating_sub(1)])
            .collect();
        (g, t, never)
    };
    let mut iterations = 0;
    let lambda = loop {
        let lambda = best.0 / best.1;
        if iterations >= 100 {
            break lambda;
        }
        let next = eval(lambda);
        iterations += 1;
        if next.0 / next.1 <= lambda * (1.0 + 1e-12) {
            break lambda;
        }
        best = next;
    };
    let j_up: f64 = rounds
        .iter()
        .map(|g| best_response(g, true, lambda, cost).1)
        .sum();
    let n = rounds.len().max(1) as f64;
    GridBellman {
        rate_low: lambda,
        rate_high: lambda + j_up.max(0.0) / (n * cost.min_time()),
        thresholds: best.2,
        iterations,
    }
}
