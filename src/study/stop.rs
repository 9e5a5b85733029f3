//! Stopping policies in chain studies (SPEC §11, `--stop`): each round's D (drafts verified), τ
//! (accepted) and draft steps under every policy, from the engine's per-position features
//! (`StudyChunk::features`: `q(x)`, `p(x)` of the drafted token, `max q`, the draft row's
//! entropy), decided here on the host the same way for both engines; and their exact values on
//! the study's first rounds, with the Bellman bound.
//!
//! Each round is generated at the cap K; the token rule's first rejection is the engine's, so
//! `τ = min(first rejection, D)` and a round generates `τ + 1` tokens (coins past D are drawn and
//! unused, SPEC §11). Rows are taken as generated (each sums to 1 within f32 rounding).

use serde::{Deserialize, Serialize};

use crate::cost::Cost;
use crate::error::{Error, Result};
use crate::reference::adaptive::{
    Bracketed, Policy, adaptive_exact, grid_bracket, specdecpp_threshold, threshold_exact,
};
use crate::reference::adaptive_grid::{RoundGrid, StepCosts, bellman_grid};
use crate::workload::Workload;

/// Rounds whose rows the exact values and the Bellman bound are computed on (the first ones).
pub const EXACT_ROUNDS: u64 = 256;

/// What `exact_mean_generated` of a stop row is: exact given the rows of the study's first
/// `stop_exact_rounds` rounds (not every round's).
pub const EXACT_GIVEN_FIRST_ROWS: &str = "first rows (stop_exact_rounds)";

/// A study's stopping settings.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StopSettings {
    /// The policies (`--stop`).
    pub policies: Vec<Policy>,
    /// The cost the rates and `bellman` are for (`None`: no cost given).
    pub cost: Option<StepCosts>,
    /// `bellman`'s thresholds on `L_s`, s = 1..K−1: the best ones for the pooled rows of the
    /// first rounds (set before the run).
    pub bellman_thresholds: Vec<f64>,
    /// The cap K (`--k-max`; 0: the study's largest K).
    #[serde(default)]
    pub cap: usize,
}

impl StopSettings {
    /// No policy asked for.
    pub fn is_empty(&self) -> bool {
        self.policies.is_empty()
    }
}

/// One round's D under `policy` at cap `k` from its features `[K, 4]`.
pub fn drafted(policy: Policy, k: usize, f: &[f32], bellman: &[f64]) -> usize {
    let a = |i: usize| {
        let (q, p) = (f[4 * i] as f64, f[4 * i + 1] as f64);
        if q > 0.0 { (p / q).min(1.0) } else { 1.0 }
    };
    let mut l = 1.0f64;
    for s in 1..k {
        // Go on after s drafts (0-based position s − 1 drafted)?
        let i = s - 1;
        l *= a(i);
        let go = match policy {
            Policy::Fixed(kk) => s < kk,
            Policy::Hf(t) => f[4 * i] >= t,
            Policy::Top1(t) => f[4 * s + 2] >= t,
            Policy::Entropy { gamma, lambda } => {
                1.0 - (gamma * f[4 * i + 3] as f64).sqrt() >= lambda
            }
            Policy::Oracle(t) => a(i) >= t,
            Policy::SpecDecPp(h) => s < 2 || l >= 1.0 - h,
            Policy::Bellman => l >= bellman[s - 1],
        };
        if !go {
            return s;
        }
    }
    k
}

/// Draft steps of a round that verified `d` of at most `k`: `top1` drafts one more it discards
/// when it stops early.
pub fn steps(policy: Policy, d: usize, k: usize) -> usize {
    match policy {
        Policy::Top1(_) if d < k => d + 1,
        _ => d,
    }
}

/// One policy's counts over a study's rounds: rounds by (D, τ).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StopTally {
    /// The policy.
    pub policy: Policy,
    /// The cap K.
    pub k: usize,
    /// Rounds.
    pub rounds: u64,
    /// Rounds with D = d and τ = t at `d · (K + 1) + t`.
    pub joint: Vec<u64>,
}

impl StopTally {
    /// An empty tally.
    pub fn new(policy: Policy, k: usize) -> StopTally {
        StopTally {
            policy,
            k,
            rounds: 0,
            joint: vec![0; (k + 1) * (k + 1)],
        }
    }

    /// Adds a chunk generated at K_max ≥ the cap: the token rule's first rejection per round
    /// (`accepted`) and the features `[m, K_max, 4]` (a round's first positions are the round
    /// at the cap).
    pub fn add(&mut self, accepted: &[u32], features: &[f32], k_max: usize, bellman: &[f64]) {
        let k = self.k;
        for (r, &acc) in accepted.iter().enumerate() {
            let f = &features[r * k_max * 4..r * k_max * 4 + k * 4];
            let d = drafted(self.policy, k, f, bellman);
            let t = (acc as usize).min(d);
            self.joint[d * (k + 1) + t] += 1;
            self.rounds += 1;
        }
    }

    /// Adds another tally of the same policy and K (other rounds).
    pub fn merge(&mut self, o: &StopTally) {
        self.rounds += o.rounds;
        for (a, b) in self.joint.iter_mut().zip(&o.joint) {
            *a += b;
        }
    }

    fn mean(&self, f: impl Fn(usize, usize) -> f64) -> f64 {
        let k1 = self.k + 1;
        let s: f64 = self
            .joint
            .iter()
            .enumerate()
            .map(|(i, &n)| n as f64 * f(i / k1, i % k1))
            .sum();
        s / self.rounds.max(1) as f64
    }

    /// Mean D.
    pub fn mean_drafted(&self) -> f64 {
        self.mean(|d, _| d as f64)
    }

    /// Mean tokens generated (τ + 1).
    pub fn mean_generated(&self) -> f64 {
        self.mean(|_, t| t as f64 + 1.0)
    }

    /// Standard deviation of the tokens generated.
    pub fn sd_generated(&self) -> f64 {
        let m = self.mean_generated();
        let n = self.rounds as f64;
        if n < 2.0 {
            return 0.0;
        }
        (self.mean(|_, t| (t as f64 + 1.0 - m).powi(2)) * n / (n - 1.0)).sqrt()
    }

    /// Mean draft steps.
    pub fn mean_steps(&self) -> f64 {
        let (p, k) = (self.policy, self.k);
        self.mean(|d, _| steps(p, d, k) as f64)
    }

    /// Mean round time under `cost`.
    pub fn mean_time(&self, cost: &StepCosts) -> f64 {
        let (p, k) = (self.policy, self.k);
        self.mean(|d, _| time(cost, p, d, k))
    }
}

/// A round's time with D = d under `cost` (`top1`'s discarded draft at the draft's own time).
pub fn time(cost: &StepCosts, p: Policy, d: usize, k: usize) -> f64 {
    let extra = steps(p, d, k) - d;
    cost.base + cost.step[..d].iter().sum::<f64>() + extra as f64 * cost.draft
}

/// `StepCosts` of a round at batch size `b` under a cost: Leviathan's c, or a profile's draft
/// step plus the verification's growth with each query token (`t_verify(B (d + 1))`).
pub fn step_costs(cost: &Cost, b: u64, k: usize) -> StepCosts {
    let b = b as f64;
    let tv = |n: usize| cost.t_verify(b * n as f64);
    StepCosts {
        base: tv(1),
        step: (0..k)
            .map(|i| cost.t_draft(b) + (tv(i + 2) - tv(i + 1)).max(0.0))
            .collect(),
        draft: cost.t_draft(b),
    }
}

/// A stopping policy's result in a study: its counts, its exact values on the first rounds and
/// the Bellman bound there.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StopResult {
    /// The counts over every round.
    pub tally: StopTally,
    /// Its values on the first `exact_rounds` rounds.
    pub exact: StopExact,
    /// Rounds the exact values and the bound are on.
    pub exact_rounds: u64,
    /// The Bellman bound's rate bracket there (`None` without a cost).
    pub bellman_rate: Option<(f64, f64)>,
    /// The cost (`None`: none given).
    pub cost: Option<StepCosts>,
}

impl StopResult {
    /// The policy's distance to the Bellman bound in rate on the first rounds, bracketed: (the
    /// bound's lower end less the policy's upper end, at least 0; the bound's upper end less the
    /// policy's lower end).
    pub fn bellman_gap(&self) -> Option<(f64, f64)> {
        let (lo, hi) = self.bellman_rate?;
        let (rl, rh) = (self.exact.rate_low?, self.exact.rate_high?);
        Some(((lo - rh).max(0.0), hi - rl))
    }

    /// The policy's simulated rate: mean generated over mean time (`None` without a cost).
    pub fn rate_per_cost(&self) -> Option<f64> {
        self.cost
            .as_ref()
            .map(|c| self.tally.mean_generated() / self.tally.mean_time(c))
    }
}

/// The cost of a study's stopping policies: its profile at its first batch size when it has one,
/// otherwise its first `--cost-ratio` (`None` without either).
pub fn stop_costs(costs: &crate::cost::Costs, k: usize) -> Option<StepCosts> {
    match (&costs.profile, costs.batches.first(), costs.ratios.first()) {
        (Some(p), Some(&b), _) => Some(step_costs(p, b, k)),
        (_, _, Some(&c)) => Some(StepCosts::ratio(c, k)),
        _ => None,
    }
}

/// One policy's values on the first rounds' rows: exact, or a certified bracket.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StopExact {
    /// Mean `E[D]` (midpoint when bracketed).
    pub drafted: f64,
    /// Whether the values are exact.
    pub exact: bool,
    /// Mean `E[generated]`, lower end.
    pub generated_low: f64,
    /// Upper end.
    pub generated_high: f64,
    /// `Σ E[generated] / Σ E[time]`, lower end (`None` without a cost).
    pub rate_low: Option<f64>,
    /// Upper end.
    pub rate_high: Option<f64>,
}

/// The exact side of a stop study: per policy its values, and the Bellman bound, on the first
/// `rounds` rounds' rows.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct StopTheory {
    /// Rounds the values are on.
    pub rounds: u64,
    /// Per policy, in the order of the settings.
    pub policies: Vec<StopExact>,
    /// The Bellman bound's rate (`None` without a cost).
    pub bellman_rate: Option<(f64, f64)>,
}

/// One round's rows, normalized, in f64: (K draft rows, K + 1 target rows).
type Rows = (Vec<Vec<f64>>, Vec<Vec<f64>>);

/// Calls `each(round's rows)` for the first `n` rounds of a generated workload at K (the CPU
/// twin's rows), generated chunk by chunk within the chunk budget.
fn for_each_round(
    w: &Workload,
    seed: u64,
    n: u64,
    k: usize,
    mut each: impl FnMut(Rows) -> Result<()>,
) -> Result<()> {
    let v = w.vocab;
    let norm = |r: &[f32]| -> Vec<f64> {
        let s: f64 = r.iter().map(|&x| x as f64).sum();
        r.iter().map(|&x| x as f64 / s).collect()
    };
    for (r0, m) in crate::chunk::chunks(n, super::chunk_rounds(k, v)) {
        let (b, _) = crate::cpu::generate::generate_chunk(w, seed, r0, m, k);
        for r in 0..m {
            let q = (0..k)
                .map(|i| norm(&b.draft[(r * k + i) * v..(r * k + i + 1) * v]))
                .collect();
            let p = (0..=k)
                .map(|i| norm(&b.target[(r * (k + 1) + i) * v..(r * (k + 1) + i + 1) * v]))
                .collect();
            each((q, p))?;
        }
    }
    Ok(())
}

/// Sums of one policy's per-round values.
#[derive(Default)]
struct Sums {
    d: f64,
    g_lo: f64,
    g_hi: f64,
    t_lo: f64,
    t_hi: f64,
    inexact: bool,
}

impl Sums {
    fn add(&mut self, e: &Bracketed) {
        self.d += 0.5 * (e.drafted_low + e.drafted_high);
        self.g_lo += e.generated_low;
        self.g_hi += e.generated_high;
        self.t_lo += e.time_low;
        self.t_hi += e.time_high;
        self.inexact |= !e.exact;
    }
}

/// Sets `bellman`'s thresholds (when asked for) from the first rounds and computes every
/// policy's exact values and the Bellman bound there, at the cap `k`. The rows are generated
/// chunk by chunk; only each round's grid is kept (and its rows where V^K is small enough to
/// enumerate `bellman`'s drafted sequences).
pub fn theory(
    st: &mut StopSettings,
    w: &Workload,
    seed: u64,
    rounds: u64,
    k: usize,
) -> Result<StopTheory> {
    if st.policies.is_empty() {
        return Ok(StopTheory::default());
    }
    let n = rounds.min(EXACT_ROUNDS);
    let zero = StepCosts::ratio(0.0, k);
    let cost = st.cost.clone();
    let c = cost.as_ref().unwrap_or(&zero);
    let wants_bellman = st.policies.contains(&Policy::Bellman);
    if wants_bellman && cost.is_none() {
        return Err(Error::Config(
            "--stop bellman needs a cost to be optimal for: --cost-ratio c or --cost-profile FILE with --batch"
                .into(),
        ));
    }
    let keep_rows = wants_bellman && crate::reference::adaptive::enumerable(k, w.vocab);
    let mut grids: Vec<RoundGrid> = Vec::new();
    let mut kept: Vec<Rows> = Vec::new();
    let mut sums: Vec<Sums> = st.policies.iter().map(|_| Sums::default()).collect();
    for_each_round(w, seed, n, k, |(q, p)| {
        for (s, &pol) in sums.iter_mut().zip(&st.policies) {
            let e = match pol {
                Policy::Bellman => continue,
                Policy::SpecDecPp(h) => threshold_exact(&q, &p, c, |s| specdecpp_threshold(h, s)),
                _ => {
                    let e = adaptive_exact(&q, &p, pol, 0.0)?;
                    let t: f64 = (1..=k)
                        .map(|dd| e.pmf_drafted[dd] * time(c, pol, dd, k))
                        .sum();
                    Bracketed::exact(e.expected_drafted, e.expected_generated, t)
                }
            };
            s.add(&e);
        }
        grids.push(RoundGrid::new(&q, &p));
        if keep_rows {
            kept.push((q, p));
        }
        Ok(())
    })?;
    let bound = cost.as_ref().map(|c| bellman_grid(&grids, c));
    if wants_bellman {
        let pooled = RoundGrid::pooled(&grids);
        st.bellman_thresholds = bellman_grid(std::slice::from_ref(&pooled), c)
            .thresholds
            .remove(0);
        let thr = st.bellman_thresholds.clone();
        let i = st
            .policies
            .iter()
            .position(|&p| p == Policy::Bellman)
            .unwrap_or(0);
        for (r, g) in grids.iter().enumerate() {
            let e = match kept.get(r) {
                Some((q, p)) => threshold_exact(q, p, c, |s| thr[s - 1]),
                None => grid_bracket(g, c, |s| thr[s - 1]),
            };
            sums[i].add(&e);
        }
    }
    let nf = n.max(1) as f64;
    let policies = sums
        .iter()
        .map(|s| StopExact {
            drafted: s.d / nf,
            exact: !s.inexact,
            generated_low: s.g_lo / nf,
            generated_high: s.g_hi / nf,
            rate_low: cost.as_ref().map(|_| s.g_lo / s.t_hi),
            rate_high: cost.as_ref().map(|_| s.g_hi / s.t_lo),
        })
        .collect();
    Ok(StopTheory {
        rounds: n,
        policies,
        bellman_rate: bound.map(|b| (b.rate_low, b.rate_high)),
    })
}
