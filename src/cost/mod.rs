//! Cost and goodput (SPEC §12): a round's time from Leviathan et al.'s cost ratio c or from a
//! measured latency profile ([`Profile`]), and the goodput and speedup of a configuration at a
//! batch size.
//!
//! Round time for a batch of B sequences, with `d` draft steps and `n` query tokens per sequence
//! (a chain of K: d = K, n = K + 1; a tree of n nodes and depth d, its edges; an `eagle2` tree
//! its growth's depth): `T = d · t_draft(B) + t_verify(B · n)`; plain decoding `T = t_verify(B)`.
//! `goodput = B · E[generated] / T`, `speedup = goodput / goodput(plain)`. Under Leviathan's
//! ratio, `t_verify` is flat (one unit) and `t_draft = c`, so the speedup is his
//! `E[generated] / (d c + 1)` at every B (Theorem 3.8 with `E[generated]` = (1 − α^(K+1))/(1 − α)).

mod profile;
mod select;

use serde::{Deserialize, Serialize};

pub use profile::{ByContext, Curve, HEADER, MAX_PROFILE_BYTES, Profile};
pub use select::{Choice, CostRow, best_per_batch, labels};

use crate::error::{Error, Result};

/// How a round's time is counted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Cost {
    /// Leviathan et al.'s c: a draft step costs c target forwards, whatever their size.
    Ratio(f64),
    /// A measured profile, read at a context length (`None`: the profile has none, or its first).
    Profile {
        /// The profile.
        profile: Box<Profile>,
        /// The context length it is read at.
        context: Option<f64>,
    },
}

/// What one verification round of a configuration costs: its draft steps and query tokens per
/// sequence.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RoundShape {
    /// Draft forwards before the verification (K for a chain, the tree's depth).
    pub draft_steps: usize,
    /// Query tokens per sequence in the verification (K + 1 for a chain, a tree's nodes).
    pub tokens: usize,
}

impl RoundShape {
    /// A chain of K drafts.
    pub fn chain(k: usize) -> RoundShape {
        RoundShape {
            draft_steps: k,
            tokens: k + 1,
        }
    }
}

impl Cost {
    /// The time of one draft step at batch size `b` (in ms, or in target forwards under a ratio).
    pub fn t_draft(&self, b: f64) -> f64 {
        match self {
            Cost::Ratio(c) => *c,
            Cost::Profile { profile, context } => profile.draft.at(b, *context),
        }
    }

    /// The time of one target forward over `tokens` query tokens in total.
    pub fn t_verify(&self, tokens: f64) -> f64 {
        match self {
            Cost::Ratio(_) => 1.0,
            Cost::Profile { profile, context } => profile.verify.at(tokens, *context),
        }
    }

    /// A round's time at batch size `b`: `d · t_draft(B) + t_verify(B · n)`.
    pub fn round_time(&self, shape: RoundShape, b: u64) -> f64 {
        let b = b as f64;
        shape.draft_steps as f64 * self.t_draft(b) + self.t_verify(b * shape.tokens as f64)
    }

    /// Tokens per unit of time at batch size `b`: `B · E[generated] / T`.
    pub fn goodput(&self, generated: f64, shape: RoundShape, b: u64) -> f64 {
        b as f64 * generated / self.round_time(shape, b)
    }

    /// Plain decoding's goodput at batch size `b`: `B / t_verify(B)`.
    pub fn plain_goodput(&self, b: u64) -> f64 {
        b as f64 / self.t_verify(b as f64)
    }

    /// `goodput / goodput(plain)` at batch size `b`.
    pub fn speedup(&self, generated: f64, shape: RoundShape, b: u64) -> f64 {
        self.goodput(generated, shape, b) / self.plain_goodput(b)
    }

    /// The unit of times (`ms` for a profile, a target forward for a ratio): goodputs are tokens
    /// per this unit.
    pub fn unit(&self) -> &'static str {
        match self {
            Cost::Ratio(_) => "target forward",
            Cost::Profile { .. } => "ms",
        }
    }
}

/// Refuses cost ratios that are negative or not finite.
pub fn check_cost_ratios(c: &[f64]) -> Result<()> {
    match c.iter().find(|c| !(c.is_finite() && **c >= 0.0)) {
        Some(c) => Err(Error::Config(format!(
            "--cost-ratio: {c} is not a non-negative number"
        ))),
        None => Ok(()),
    }
}

/// A study's cost settings: Leviathan's ratios (the `speedup_cC` columns), and optionally a
/// profile with the batch sizes it is read at (the `goodput_bB`, `speedup_bB` columns and the
/// best configuration per batch size).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Costs {
    /// `--cost-ratio`.
    pub ratios: Vec<f64>,
    /// `--cost-profile` (with `--context`).
    pub profile: Option<Cost>,
    /// `--batch`.
    pub batches: Vec<u64>,
}

impl Costs {
    /// Leviathan's ratios only.
    pub fn ratios(ratios: &[f64]) -> Costs {
        Costs {
            ratios: ratios.to_vec(),
            ..Costs::default()
        }
    }

    /// Checks the settings: non-negative ratios, batch sizes ≥ 1 given with a profile (and a
    /// profile given with batch sizes), a context only with a profile that lists contexts.
    pub fn check(&self) -> Result<()> {
        check_cost_ratios(&self.ratios)?;
        match (&self.profile, self.batches.is_empty()) {
            (Some(_), true) => {
                return Err(Error::Config(
                    "--cost-profile needs --batch B,…: the batch sizes to read it at".into(),
                ));
            }
            (None, false) => {
                return Err(Error::Config(
                    "--batch needs --cost-profile FILE: under Leviathan's ratio the speedup does not depend on the batch size".into(),
                ));
            }
            _ => {}
        }
        if let Some(b) = self.batches.iter().find(|&&b| b == 0) {
            return Err(Error::Config(format!(
                "--batch: {b} is not a batch size (>= 1)"
            )));
        }
        if let Some((i, b)) = self
            .batches
            .iter()
            .enumerate()
            .find(|(i, b)| self.batches[..*i].contains(b))
        {
            return Err(Error::Config(format!(
                "--batch: {b} is given twice (entries {} and {})",
                self.batches.iter().position(|x| x == b).unwrap_or(0) + 1,
                i + 1
            )));
        }
        if let Some(Cost::Profile { profile, context }) = &self.profile {
            let listed = profile.verify.has_context() || profile.draft.has_context();
            match context {
                Some(c) if !listed => {
                    return Err(Error::Config(format!(
                        "--context {c}: {} has no context column to read",
                        profile.source
                    )));
                }
                Some(c) if !(c.is_finite() && *c >= 0.0) => {
                    return Err(Error::Config(format!("--context {c} is not a length")));
                }
                None if listed => {
                    return Err(Error::Config(format!(
                        "{} times forwards at several context lengths: give --context N",
                        profile.source
                    )));
                }
                _ => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Under Leviathan's ratio the speedup is his Theorem 3.8 at every batch size:
    /// `(1 − α^(γ+1)) / ((1 − α)(γ c + 1))`.
    #[test]
    fn the_ratio_gives_leviathans_theorem() {
        for (alpha, gamma, c) in [(0.8f64, 4usize, 0.05f64), (0.6, 7, 0.2), (0.9, 1, 0.0)] {
            let generated = (1.0 - alpha.powi(gamma as i32 + 1)) / (1.0 - alpha);
            let want = generated / (gamma as f64 * c + 1.0);
            for b in [1u64, 8, 256] {
                let got = Cost::Ratio(c).speedup(generated, RoundShape::chain(gamma), b);
                assert!((got - want).abs() < 1e-15, "{alpha} {gamma} {c} {b}");
            }
        }
    }

    #[test]
    fn settings_are_checked() {
        let p = Profile::parse(
            "kind,batch,tokens,context,ms\nverify,1,1,,10\ndraft,1,1,,1\n",
            "p.csv",
        )
        .unwrap();
        let with = |batches: Vec<u64>, context| Costs {
            ratios: vec![0.05],
            profile: Some(Cost::Profile {
                profile: Box::new(p.clone()),
                context,
            }),
            batches,
        };
        assert!(with(vec![1, 8], None).check().is_ok());
        assert!(with(vec![], None).check().is_err());
        assert!(with(vec![0], None).check().is_err());
        assert!(with(vec![1], Some(100.0)).check().is_err());
        let no_profile = Costs {
            batches: vec![1],
            ..Costs::ratios(&[0.1])
        };
        assert!(no_profile.check().is_err());
        assert!(Costs::ratios(&[-1.0]).check().is_err());
    }
}
