//! Chain rules measured at every K (every chain rule but the token rule, whose result at any K
//! follows from K_max), on the same generated rounds as the token rule (common random numbers:
//! the generator is keyed by round, position and token, so a round generated at K is the first K
//! positions of the round generated at K_max).
//!
//! Per K and round it records the number accepted tau, `Σ_{i≤K} P_i` (the rule's survivals,
//! [`PerK`]), the paired gain over the token rule, and, where V^K_max is small, the exact
//! `E[tau | rows] = Σ_i E[P_i]` by enumerating every drafted sequence. `Σ_i P_i` is not `E[tau]`
//! given the drafts (for block's drafts (0, 1) of the paper's example, tau = 2 for every coin while
//! P_1 + P_2 = 1.5); averaged over rounds whose drafts are drawn from the draft rows it is an
//! unbiased estimate of `E[tau | rows]`, since `E[tau | rows] = Σ_i E[P_i]`.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::{
    ESTIMATE_SUM_OF_SURVIVALS, EXACT_GIVEN_ROWS, Gain, Metrics, StudyConfig, Tally, exact_tolerance,
};
use crate::batch::{Batch, ChainView, Rounds};
use crate::cpu::Recovery;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::exact::sum::ExactSum;
use crate::rule::{ChainRule, Rule, match_rule};

/// How studies measure a chain rule (this layer's trait; implemented in the rule's
/// `src/study/X.rs`, the token rule's in `study/mod.rs`).
pub trait ChainStudy: ChainRule {
    /// `None` only for the token rule, whose one run at K_max gives every K (the base tally of
    /// every study; any other rule saying `None` is refused by studies); every other rule is
    /// measured at every K, with this theory.
    const PER_K: Option<PerK>;
}

/// The theory of a rule measured at every K. Its per-position terms P_1..P_K of a round
/// (independent of K; the CPU twin's `CpuChainRule::survivals`, which the rule's kernel also
/// writes at binding 7) sum over i ≤ K to a value whose expectation is E[accepted at K | the
/// round's rows] when the drafts are drawn from the draft rows; the expectation itself, by
/// enumeration, is here.
#[derive(Clone, Copy)]
pub struct PerK {
    /// `E[P_1], …, E[P_K]` of round `r` with the drafts integrated out, by enumerating the
    /// V^K drafted sequences; `None` above `max_sequences`.
    pub expected_survivals: fn(&ChainView, usize, u64) -> Option<Vec<f64>>,
}

/// The study theory of `rule` if it is measured at every K (`None` for the token rule; an error
/// for a tree rule, which a chain study cannot run, and for another chain rule without a theory).
pub fn per_k(rule: Rule) -> Result<Option<PerK>> {
    let theory = match_rule!(rule,
        chain R => <R as ChainStudy>::PER_K,
        tree => {
            return Err(Error::Config(format!(
                "--rule {rule} is a tree rule: a tree study needs --tree SPEC (e.g. --tree chain:8 for a chain, --tree kary:2,3)"
            )));
        },
    );
    if theory.is_none() && rule != Rule::Token {
        return Err(Error::Config(format!(
            "--rule {rule}: studies cannot measure this rule yet (it has no per-K theory)"
        )));
    }
    Ok(theory)
}

/// Enumerate the drafted sequences of a round when V^K_max is at most this.
pub const ENUMERATION_LIMIT: u64 = 4096;

/// Sufficient statistics of a chain rule at every K of a study (block verification's, in
/// outputs `block_tally`); order-independent sums, as [`crate::study::metrics::Tally`]'s.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RuleTally {
    /// The rule.
    pub rule: Rule,
    /// The K values, increasing.
    pub ks: Vec<usize>,
    /// Rounds.
    pub rounds: u64,
    /// Per K: rounds by tau (length K + 1).
    pub hist: Vec<Vec<u64>>,
    /// Per K: Σ over rounds of Σ_{i≤K} P_i.
    pub survival_sum: Vec<ExactSum>,
    /// Per K: Σ over rounds of (tau − Σ_{i≤K} P_i) and of its square (the paired test of the
    /// simulation against the expectation given the drafts).
    pub residual_sum: Vec<ExactSum>,
    /// Per K: Σ of the squared residuals.
    pub residual_sq: Vec<ExactSum>,
    /// Per K: Σ over rounds of the exact E[tau | rows] (enumerated), when V^K_max is small.
    pub enumerated_sum: Option<Vec<ExactSum>>,
    /// Per K: Σ over rounds of (tau − the token rule's number accepted) and of its square.
    pub gain_sum: Vec<ExactSum>,
    /// Per K: Σ of the squared gains.
    pub gain_sq: Vec<ExactSum>,
}

impl RuleTally {
    /// An empty tally of `rule` for these K values (sorted, distinct) and vocabulary.
    pub fn new(rule: Rule, ks: &[usize], vocab: usize) -> RuleTally {
        let k_max = ks.iter().copied().max().unwrap_or(0);
        let enumerate = (vocab as u64)
            .checked_pow(k_max as u32)
            .is_some_and(|c| c <= ENUMERATION_LIMIT);
        let z = vec![ExactSum::ZERO; ks.len()];
        RuleTally {
            rule,
            ks: ks.to_vec(),
            rounds: 0,
            hist: ks.iter().map(|&k| vec![0; k + 1]).collect(),
            survival_sum: z.clone(),
            residual_sum: z.clone(),
            residual_sq: z.clone(),
            enumerated_sum: enumerate.then(|| z.clone()),
            gain_sum: z.clone(),
            gain_sq: z,
        }
    }

    /// Adds another tally of the same rule and K values (other rounds of the same
    /// configuration): exactly the tally of the rounds together.
    pub fn merge(&mut self, other: &RuleTally) {
        self.rounds += other.rounds;
        for (a, b) in self.hist.iter_mut().zip(&other.hist) {
            for (x, y) in a.iter_mut().zip(b) {
                *x += y;
            }
        }
        let pairs = [
            (&mut self.survival_sum, &other.survival_sum),
            (&mut self.residual_sum, &other.residual_sum),
            (&mut self.residual_sq, &other.residual_sq),
            (&mut self.gain_sum, &other.gain_sum),
            (&mut self.gain_sq, &other.gain_sq),
        ];
        for (a, b) in pairs {
            a.iter_mut().zip(b).for_each(|(x, y)| x.merge(y));
        }
        if let (Some(a), Some(b)) = (&mut self.enumerated_sum, &other.enumerated_sum) {
            a.iter_mut().zip(b).for_each(|(x, y)| x.merge(y));
        }
    }

    /// The tally as results.json shows it (`block_tally`): its sums as numbers.
    pub fn to_json(&self) -> serde_json::Value {
        use crate::exact::sum::values;
        serde_json::json!({
            "ks": self.ks,
            "rounds": self.rounds,
            "hist": self.hist,
            "survival_sum": values(&self.survival_sum),
            "residual_sum": values(&self.residual_sum),
            "residual_sq": values(&self.residual_sq),
            "enumerated_sum": self.enumerated_sum.as_deref().map(values),
            "gain_sum": values(&self.gain_sum),
            "gain_sq": values(&self.gain_sq),
        })
    }

    /// Adds the rounds of one K (index `ki`): tau per round, the survivals `[m, K]`, and the token
    /// rule's number accepted at K_max on the same rounds.
    pub(crate) fn add(&mut self, ki: usize, taus: &[u32], surv: &[f32], token_acc: &[u32]) {
        let k = self.ks[ki];
        for (r, &tau) in taus.iter().enumerate() {
            self.hist[ki][tau as usize] += 1;
            let s: f64 = surv[r * k..(r + 1) * k].iter().map(|&x| x as f64).sum();
            self.survival_sum[ki] += s;
            let res = tau as f64 - s;
            self.residual_sum[ki] += res;
            self.residual_sq[ki] += res * res;
            let gain = tau as f64 - token_acc[r].min(k as u32) as f64;
            self.gain_sum[ki] += gain;
            self.gain_sq[ki] += gain * gain;
        }
    }

    /// The rule's theory.
    fn theory(&self) -> Result<PerK> {
        per_k(self.rule)?.ok_or_else(|| {
            Error::Config(format!(
                "{}: measured from K_max, not at every K (a bug)",
                self.rule
            ))
        })
    }

    /// Adds the enumerated E[P_i] of every round of a batch at K_max.
    pub(crate) fn add_enumerated(&mut self, view: &ChainView) -> Result<()> {
        let theory = self.theory()?;
        let Some(sums) = &mut self.enumerated_sum else {
            return Ok(());
        };
        // Enumerated in parallel, summed in round order (the same sums as one thread's).
        let per_round: Vec<Option<Vec<f64>>> = (0..view.n)
            .into_par_iter()
            .map(|r| (theory.expected_survivals)(view, r, ENUMERATION_LIMIT))
            .collect();
        for e in per_round.into_iter().flatten() {
            for (ki, &kk) in self.ks.iter().enumerate() {
                sums[ki] += e[..kk].iter().sum::<f64>();
            }
        }
        Ok(())
    }

    /// The rule's metrics at the `ki`-th K; `token` is the token rule's tally of the same rounds.
    pub fn metrics(&self, ki: usize, token: &Tally) -> Metrics {
        let k = self.ks[ki];
        let n = self.rounds;
        let (exact_sum, given) = match &self.enumerated_sum {
            Some(e) => (e[ki].value(), EXACT_GIVEN_ROWS),
            None => (self.survival_sum[ki].value(), ESTIMATE_SUM_OF_SURVIVALS),
        };
        let mut m = token.metrics_with(k, self.hist[ki].clone(), exact_sum);
        m.rule = self.rule;
        // beta_i is the token rule's per-position acceptance: no theory for this rule's positions.
        m.exact_beta.clear();
        m.exact_given = given;
        if self.enumerated_sum.is_none() {
            // The expectation given the drafts moves with the drafts: test the paired residual
            // tau − Σ P_i (mean 0) instead of a fixed value against the interval.
            let g = Gain::from_sums(
                self.residual_sum[ki].value(),
                self.residual_sq[ki].value(),
                n,
            );
            let half = if g.ci99_high > g.ci99_low {
                (g.ci99_high - g.ci99_low) / 2.0
            } else {
                super::zero_width_half(k, n)
            };
            m.within_ci99 = m.ci_defined && g.mean.abs() <= half + exact_tolerance(k);
        }
        m.gain_over_token = Some(Gain::from_sums(
            self.gain_sum[ki].value(),
            self.gain_sq[ki].value(),
            n,
        ));
        m
    }
}

/// The tally's rule at every K on the rounds of `view` (at K_max or more), on `engine`.
pub(crate) fn add_view(
    bt: &mut RuleTally,
    cfg: &StudyConfig,
    engine: &mut dyn Engine,
    view: &ChainView,
    r0: u64,
    token_acc: &[u32],
) -> Result<()> {
    let k_max = cfg.k_max();
    bt.theory()?;
    if bt.enumerated_sum.is_some() {
        bt.add_enumerated(&Batch::from_view(view, 0, view.n, k_max).view())?;
    }
    let rec = Recovery {
        mode: cfg.recovery,
        seed: cfg.seed,
        round_offset: r0,
    };
    for ki in 0..bt.ks.len() {
        let k = bt.ks[ki];
        let prefix = Batch::from_view(view, 0, view.n, k);
        let pv = prefix.view();
        let res = engine.run(&Rounds::chain(&pv), bt.rule, rec)?;
        let surv = crate::cpu::survivals(bt.rule, &pv);
        bt.add(ki, &res.num_accepted, &surv, token_acc);
    }
    Ok(())
}
