//! A tree study's sufficient statistics per (configuration, rule), and its result from them.

use serde::{Deserialize, Serialize};

use super::{TreeStudyConfig, TreeStudyResult};
use crate::exact::sum::ExactSum;
use crate::rule::Rule;
use crate::study::{Z99, exact_tolerance, zero_width_half};

/// Sums for the mean and the paired test (one rule on one configuration's rounds): the
/// sufficient statistics of a [`TreeStudyResult`], order-independent ([`ExactSum`]), so the sums
/// of a configuration's parts ([`Sums::merge`], shards) are the sums of the whole.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Sums {
    n: u64,
    g: ExactSum,
    g2: ExactSum,
    d: ExactSum,
    d2: ExactSum,
    exact: ExactSum,
    exact_missing: bool,
    /// Some rounds' values are `rrs-wor`'s unbiased estimates (SPEC §9).
    #[serde(default)]
    exact_estimated: bool,
    depth_hits: Vec<u64>,
    /// The bound's rounds, their sum and the sum of their gaps; a round without a bound.
    opt_n: u64,
    opt: ExactSum,
    opt_gap: ExactSum,
    opt_missing: bool,
}

impl Sums {
    /// Empty sums for rounds of depth at most `depth`.
    pub fn new(depth: usize) -> Sums {
        Sums {
            depth_hits: vec![0; depth + 1],
            ..Default::default()
        }
    }

    /// Adds the sums of other rounds of the same configuration and rule.
    pub fn merge(&mut self, o: &Sums) {
        self.n += o.n;
        for (a, b) in [
            (&mut self.g, &o.g),
            (&mut self.g2, &o.g2),
            (&mut self.d, &o.d),
            (&mut self.d2, &o.d2),
            (&mut self.exact, &o.exact),
            (&mut self.opt, &o.opt),
            (&mut self.opt_gap, &o.opt_gap),
        ] {
            a.merge(b);
        }
        self.exact_missing |= o.exact_missing;
        self.exact_estimated |= o.exact_estimated;
        if self.depth_hits.len() < o.depth_hits.len() {
            self.depth_hits.resize(o.depth_hits.len(), 0);
        }
        for (a, b) in self.depth_hits.iter_mut().zip(&o.depth_hits) {
            *a += b;
        }
        self.opt_n += o.opt_n;
        self.opt_missing |= o.opt_missing;
    }

    /// Adds a chunk's outcomes and each round's exact expectation (`None`: none).
    pub(super) fn add(&mut self, res: &crate::batch::Outcomes, exact: &[Option<f64>]) {
        for (&a, &e) in res.num_accepted.iter().zip(exact) {
            self.add_round(a, e);
        }
    }

    /// Adds one round: its number accepted and its exact expectation (`None`: none).
    pub(super) fn add_round(&mut self, accepted: u32, exact: Option<f64>) {
        let g = accepted as f64 + 1.0;
        self.n += 1;
        self.g += g;
        self.g2 += g * g;
        self.depth_hits[accepted as usize] += 1;
        match exact {
            Some(e) => {
                self.exact += e;
                self.d += g - e;
                self.d2 += (g - e) * (g - e);
            }
            None => self.exact_missing = true,
        }
    }

    /// Records that some rounds' values were estimated.
    pub(super) fn mark_estimated(&mut self, estimated: bool) {
        self.exact_estimated |= estimated;
    }

    /// Adds the bounds of a chunk's first `bounds.len()` rounds (`None`: none), with their gaps
    /// to the exact expectations (or to the rounds' counts).
    pub(super) fn add_optimal(
        &mut self,
        res: &crate::batch::Outcomes,
        exact: &[Option<f64>],
        bounds: &[Option<f64>],
    ) {
        for (r, &b) in bounds.iter().enumerate() {
            self.add_bound(b, exact[r], res.num_accepted[r]);
        }
    }

    /// Adds one round's bound (`None`: none), with its gap to the round's exact expectation (or
    /// to its count, `accepted + 1`).
    pub(super) fn add_bound(&mut self, bound: Option<f64>, exact: Option<f64>, accepted: u32) {
        match bound {
            Some(b) => {
                let e = exact.unwrap_or(accepted as f64 + 1.0);
                self.opt_n += 1;
                self.opt += b;
                self.opt_gap += b - e;
            }
            None => self.opt_missing = true,
        }
    }

    /// The result of `rule` on a configuration whose rounds have `nodes` nodes and depth at most
    /// `depth`.
    pub(super) fn result(
        &self,
        cfg: &TreeStudyConfig,
        rule: Rule,
        engine: &str,
        seconds: f64,
        nodes: usize,
        depth: usize,
    ) -> TreeStudyResult {
        let s = self;
        let nn = s.n.max(1) as f64;
        let (g, g2, d, d2) = (s.g.value(), s.g2.value(), s.d.value(), s.d2.value());
        let mean = g / nn;
        let var = ((g2 - g * g / nn) / (nn - 1.0).max(1.0)).max(0.0);
        // As the chain studies: a sample without spread bounds the mean by the rule of three,
        // and float32 rounding of the rows may move an exact value by a little per position.
        let half = if var > 0.0 {
            Z99 * (var / nn).sqrt()
        } else {
            zero_width_half(depth, s.n)
        };
        let exact = (!s.exact_missing && s.n > 0).then(|| s.exact.value() / nn);
        let (paired_z, within) = match exact {
            Some(_) if s.n < 2 => (None, None),
            Some(_) => {
                let dm = d / nn;
                let dv = ((d2 - d * d / nn) / (nn - 1.0).max(1.0)).max(0.0);
                let se = (dv / nn).sqrt();
                let tol = exact_tolerance(depth);
                if se > 0.0 {
                    let z = dm / se;
                    (Some(z), Some(z.abs() <= Z99 || dm.abs() <= tol))
                } else {
                    (None, Some(dm.abs() <= zero_width_half(depth, s.n) + tol))
                }
            }
            None => (None, None),
        };
        let mut above = s.n;
        let per_depth = (0..depth)
            .map(|d| {
                above -= s.depth_hits[d];
                above as f64 / nn
            })
            .collect();
        TreeStudyResult {
            config: cfg.clone(),
            rule,
            engine: engine.to_string(),
            rounds: s.n,
            nodes,
            depth,
            mean_generated: mean,
            sd_generated: var.sqrt(),
            ci99_half: half,
            exact_mean_generated: exact,
            paired_z,
            within_ci99: within,
            exact_estimated: s.exact_estimated && exact.is_some(),
            generated_per_position: mean / nodes as f64,
            per_depth,
            chain_same_nodes: None,
            optimal_generated: (!s.opt_missing && s.opt_n > 0)
                .then(|| s.opt.value() / s.opt_n as f64),
            gap_to_optimal: (!s.opt_missing && s.opt_n > 0)
                .then(|| s.opt_gap.value() / s.opt_n as f64),
            optimal_rounds: if s.opt_missing { 0 } else { s.opt_n },
            seconds,
        }
    }
}
