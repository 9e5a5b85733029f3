//! What a study measures: the token rule's sufficient statistics ([`Tally`]), the metrics at
//! each K ([`Metrics`]) with their intervals and exact values, and Leviathan's formulas.

use serde::{Deserialize, Serialize};

use crate::exact::sum::ExactSum;
use crate::rule::Rule;

/// Sufficient statistics of a run at K_max, from which every metric at every K ≤ K_max follows.
/// Its sums are [`ExactSum`]s: the same whatever the order and grouping of the rounds (chunks,
/// shards), so [`Tally::merge`] of the parts equals the tally of the whole.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Tally {
    /// K_max.
    pub k: usize,
    /// Rounds.
    pub rounds: u64,
    /// Rounds by number accepted at K_max (length K_max + 1).
    pub hist: Vec<u64>,
    /// Sum over rounds of beta_i (length K_max).
    pub beta_sum: Vec<ExactSum>,
    /// Sum over rounds of E[accepted at K | the round's distributions] for K = 0..=K_max:
    /// sum_{k<=K} prod_{i<k} beta_i (SPEC §5).
    pub exact_accepted_sum: Vec<ExactSum>,
}

impl Tally {
    /// An empty tally for K_max = k.
    pub fn new(k: usize) -> Tally {
        Tally {
            k,
            rounds: 0,
            hist: vec![0; k + 1],
            beta_sum: vec![ExactSum::ZERO; k],
            exact_accepted_sum: vec![ExactSum::ZERO; k + 1],
        }
    }

    /// Adds another tally of the same K_max (other rounds of the same configuration): exactly
    /// the tally of the rounds together.
    pub fn merge(&mut self, other: &Tally) {
        self.rounds += other.rounds;
        for (a, b) in self.hist.iter_mut().zip(&other.hist) {
            *a += b;
        }
        for (a, b) in self.beta_sum.iter_mut().zip(&other.beta_sum) {
            a.merge(b);
        }
        for (a, b) in self
            .exact_accepted_sum
            .iter_mut()
            .zip(&other.exact_accepted_sum)
        {
            a.merge(b);
        }
    }

    /// The tally as results.json shows it: its sums as numbers.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "k": self.k,
            "rounds": self.rounds,
            "hist": self.hist,
            "beta_sum": crate::exact::sum::values(&self.beta_sum),
            "exact_accepted_sum": crate::exact::sum::values(&self.exact_accepted_sum),
        })
    }

    /// Adds rounds with these numbers accepted and (rounds × K) betas.
    pub fn add(&mut self, accepted: &[u32], betas: &[f32]) {
        let k = self.k;
        for (r, &a) in accepted.iter().enumerate() {
            self.hist[a as usize] += 1;
            let mut prod = 1.0f64;
            let mut e = 0.0f64;
            for i in 0..k {
                let b = betas[r * k + i] as f64;
                self.beta_sum[i] += b;
                prod *= b;
                e += prod;
                self.exact_accepted_sum[i + 1] += e;
            }
        }
        self.rounds += accepted.len() as u64;
    }
}

/// The metrics of one configuration at one K.
#[derive(Clone, Debug, Serialize)]
pub struct Metrics {
    /// K.
    pub k: usize,
    /// Rounds.
    pub rounds: u64,
    /// Mean accepted drafts per round.
    pub mean_accepted: f64,
    /// Mean tokens generated per round (the mean acceptance length): accepted + 1.
    pub mean_generated: f64,
    /// Standard deviation of the tokens generated per round.
    pub sd_generated: f64,
    /// 99% confidence interval of `mean_generated` (normal approximation).
    pub ci99_low: f64,
    /// Upper end.
    pub ci99_high: f64,
    /// `1 + E[accepted]` from the exact betas of the generated distributions (SPEC §5).
    pub exact_mean_generated: f64,
    /// Whether the exact value lies inside the 99% interval.
    pub within_ci99: bool,
    /// Whether the interval is defined: it needs at least 2 rounds (with one, the standard
    /// deviation is unknown and `within_ci99` is false; reports show "n/a").
    pub ci_defined: bool,
    /// Mean of accepted / K.
    pub mean_acceptance_rate: f64,
    /// Leviathan's alpha: the mean exact beta over positions 0..K.
    pub alpha: f64,
    /// Leviathan's expected generated tokens (1 − alpha^(K+1)) / (1 − alpha).
    pub leviathan_mean_generated: f64,
    /// P[position i accepted | position i reached], i < K.
    pub per_position_conditional: Vec<f64>,
    /// P[position i accepted], i < K.
    pub per_position_unconditional: Vec<f64>,
    /// Exact beta_i averaged over rounds, i < K.
    pub exact_beta: Vec<f64>,
    /// Rounds by number accepted (length K + 1).
    pub histogram: Vec<u64>,
    /// The verification rule.
    pub rule: Rule,
    /// What `exact_mean_generated` is: [`EXACT_GIVEN_ROWS`] (exact given the rounds' rows;
    /// drafted tokens and coins integrated out) or [`ESTIMATE_SUM_OF_SURVIVALS`] (block without
    /// enumeration: an unbiased estimate of that, not an exact value).
    pub exact_given: &'static str,
    /// Block verification: the mean gain over the token rule on the same rounds, in tokens
    /// generated per round, with its 99% interval (paired differences).
    pub gain_over_token: Option<Gain>,
}

/// `exact_mean_generated` given the rows: drafted tokens and coins integrated out.
pub const EXACT_GIVEN_ROWS: &str = "rows";

/// `exact_given` of a tree study's `rrs-wor` row whose value averages, for rounds beyond the
/// enumeration budget, unbiased Rao-Blackwellised estimates (SPEC §9).
pub const ESTIMATE_WOR: &str = "rows (rrs-wor estimate)";
/// Block without enumeration: `exact_mean_generated` is `1 + Σ_{i≤K} P_i` averaged over the
/// rounds, an unbiased estimate of the expectation given the rows (`E[tau | rows] = Σ_i E[P_i]`,
/// the drafts drawn from the draft rows), not an exact value.
pub const ESTIMATE_SUM_OF_SURVIVALS: &str = "estimate:sum_P";

/// A paired difference between two rules on the same rounds.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Gain {
    /// Mean difference (tokens per round).
    pub mean: f64,
    /// 99% interval, low end.
    pub ci99_low: f64,
    /// High end.
    pub ci99_high: f64,
}

impl Gain {
    /// From the sum and the sum of squares of `n` paired differences; with fewer than 2 the
    /// interval is undefined (NaN ends, shown as n/a).
    pub fn from_sums(sum: f64, sum_sq: f64, n: u64) -> Gain {
        let nf = n.max(1) as f64;
        let mean = sum / nf;
        let var = ((sum_sq - nf * mean * mean) / (nf - 1.0).max(1.0)).max(0.0);
        let half = if n < 2 {
            f64::NAN
        } else {
            Z99 * var.sqrt() / nf.sqrt()
        };
        Gain {
            mean,
            ci99_low: mean - half,
            ci99_high: mean + half,
        }
    }
}

/// How far the float32 rounding of the generated rows' betas (each a sum of V float32 terms) may
/// move an exact expectation, per position: `within_ci99` accepts |mean − exact| ≤ the interval's
/// half-width plus K times this. It matters only where the interval has (nearly) zero width, as
/// when every round accepts every draft (sigma = 0, lambda = 0, or one round).
pub const EXACT_TOLERANCE_PER_POSITION: f64 = 1.0 / 65536.0;

/// [`EXACT_TOLERANCE_PER_POSITION`] times K.
pub fn exact_tolerance(k: usize) -> f64 {
    k as f64 * EXACT_TOLERANCE_PER_POSITION
}

/// The half-width used when every round gave the same count (the sample's standard deviation is
/// 0, so the normal interval has no width): the rule of three at 99%. Seeing no other count in N
/// rounds bounds the probability of any other count by ln(100)/N, and so the mean's distance from
/// its expectation by K·ln(100)/N.
pub fn zero_width_half(k: usize, rounds: u64) -> f64 {
    k as f64 * 100f64.ln() / rounds.max(1) as f64
}

/// z for a two-sided 99% interval.
pub const Z99: f64 = 2.575_829_303_548_901;

/// Leviathan et al.'s expected tokens per round with acceptance rate `alpha`.
pub fn leviathan_generated(alpha: f64, k: usize) -> f64 {
    if (1.0 - alpha).abs() < 1e-12 {
        (k + 1) as f64
    } else {
        (1.0 - alpha.powi(k as i32 + 1)) / (1.0 - alpha)
    }
}

/// Expected walltime improvement with `generated` tokens per round, K drafts and cost ratio c.
pub fn walltime_improvement(generated: f64, k: usize, c: f64) -> f64 {
    generated / (k as f64 * c + 1.0)
}

impl Tally {
    /// The token rule's metrics at K (≤ K_max).
    pub fn metrics(&self, k: usize) -> Metrics {
        let mut hist = vec![0u64; k + 1];
        for (a, &c) in self.hist.iter().enumerate() {
            hist[a.min(k)] += c;
        }
        self.metrics_with(k, hist, self.exact_accepted_sum[k].value())
    }

    /// Metrics at K from a histogram of the number accepted at K (any rule, on this tally's
    /// rounds) and the sum over rounds of that rule's exact expected number accepted; alpha, the
    /// exact betas and Leviathan's curve come from this tally (properties of the workload).
    pub fn metrics_with(&self, k: usize, hist: Vec<u64>, exact_accepted_sum: f64) -> Metrics {
        let n = self.rounds.max(1) as f64;
        let mean_acc = hist
            .iter()
            .enumerate()
            .map(|(a, &c)| a as f64 * c as f64)
            .sum::<f64>()
            / n;
        let var = hist
            .iter()
            .enumerate()
            .map(|(a, &c)| (a as f64 - mean_acc).powi(2) * c as f64)
            .sum::<f64>()
            / (n - 1.0).max(1.0);
        let sd = var.sqrt();
        let half = if sd == 0.0 {
            zero_width_half(k, self.rounds)
        } else {
            Z99 * sd / n.sqrt()
        };
        let mean_gen = mean_acc + 1.0;
        let exact = 1.0 + exact_accepted_sum / n;
        let reached = |i: usize| hist[i..].iter().sum::<u64>() as f64;
        let passed = |i: usize| hist[i + 1..].iter().sum::<u64>() as f64;
        let exact_beta: Vec<f64> = self.beta_sum[..k].iter().map(|b| b.value() / n).collect();
        let alpha = if k == 0 {
            0.0
        } else {
            exact_beta.iter().sum::<f64>() / k as f64
        };
        Metrics {
            k,
            rounds: self.rounds,
            mean_accepted: mean_acc,
            mean_generated: mean_gen,
            sd_generated: sd,
            ci99_low: mean_gen - half,
            ci99_high: mean_gen + half,
            exact_mean_generated: exact,
            within_ci99: self.rounds >= 2 && (mean_gen - exact).abs() <= half + exact_tolerance(k),
            ci_defined: self.rounds >= 2,
            mean_acceptance_rate: if k == 0 { 0.0 } else { mean_acc / k as f64 },
            alpha,
            leviathan_mean_generated: leviathan_generated(alpha, k),
            per_position_conditional: (0..k)
                .map(|i| {
                    let r = reached(i);
                    if r > 0.0 { passed(i) / r } else { f64::NAN }
                })
                .collect(),
            per_position_unconditional: (0..k).map(|i| passed(i) / n).collect(),
            exact_beta,
            histogram: hist,
            rule: Rule::Token,
            exact_given: EXACT_GIVEN_ROWS,
            gain_over_token: None,
        }
    }
}
