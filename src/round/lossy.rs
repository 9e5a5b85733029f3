//! The distortion meter on rows a user gives (SPEC §13; `specsim distortion`, Python's
//! `specsim.distortion`): rows checked as a round's and divided by their sums, then
//! [`crate::reference::lossy::distortion`].

use crate::error::{Error, Result};
use crate::reference::lossy::{DraftLaw, LossyRule, Replacement, distortion};

pub use crate::reference::lossy::Distortion;

impl std::str::FromStr for DraftLaw {
    type Err = Error;

    fn from_str(s: &str) -> Result<DraftLaw> {
        match s {
            "sample" => Ok(DraftLaw::Sample),
            "top1" => Ok(DraftLaw::Top1),
            _ => Err(Error::Config(format!(
                "draft: {s:?} is not a draft law (sample: drawn from the draft row; top1: its top token)"
            ))),
        }
    }
}

impl From<crate::rule::RecoveryMode> for Replacement {
    fn from(m: crate::rule::RecoveryMode) -> Replacement {
        match m {
            crate::rule::RecoveryMode::Argmax => Replacement::Argmax,
            crate::rule::RecoveryMode::Sample => Replacement::Sample,
        }
    }
}

/// The distortion of `rule` on one chain round given as flat rows: `draft` K rows and `target`
/// K + 1 rows of `v` entries each (K ≥ 1), checked as a round's rows (SPEC §2); a row whose sum is
/// within 1e-12 of 1 is used as given, any other (allowed unnormalised) divided by its sum.
pub fn round_distortion(
    draft: &[f64],
    target: &[f64],
    v: usize,
    rule: LossyRule,
    law: DraftLaw,
    how: Replacement,
    opts: &super::node::NodeOptions,
) -> Result<Distortion> {
    if v == 0 {
        return Err(Error::EmptyVocabulary {
            field: "target_probs",
        });
    }
    if !draft.len().is_multiple_of(v) || draft.is_empty() || target.len() != draft.len() + v {
        return Err(Error::Config(format!(
            "rows: expected K draft rows and K + 1 target rows of V = {v} (K >= 1), got {} and {} values",
            draft.len(),
            target.len()
        )));
    }
    let k = draft.len() / v;
    let (mut q, mut p) = (Vec::with_capacity(k), Vec::with_capacity(k + 1));
    // A row that sums to 1 within 1e-12 is used as given: dividing it by a sum of
    // 1.0000000000000002 would move its entries by an ulp, and a threshold such as sglang's
    // `p(x) >= ts` could flip. Others (unnormalised rows, where allowed) are divided by their sums.
    let as_given = |row: &[f64], n: Vec<f64>| -> Result<Vec<f64>> {
        let s: f64 = row.iter().sum();
        if !(s.is_finite() && s > 0.0) || n.iter().any(|x| !x.is_finite()) {
            return Err(Error::Config(format!(
                "a row sums to {s}: not a distribution, even divided by its sum"
            )));
        }
        Ok(if (s - 1.0).abs() <= 1e-12 {
            row.to_vec()
        } else {
            n
        })
    };
    for i in 0..=k {
        let t = &target[i * v..(i + 1) * v];
        let d = if i < k { &draft[i * v..(i + 1) * v] } else { t };
        let at = |e: Error| Error::Config(format!("position {i}: {e}"));
        let (tn, dn) = super::node::normalized_rows_with(t, d, opts).map_err(&at)?;
        p.push(as_given(t, tn).map_err(&at)?);
        if i < k {
            q.push(as_given(d, dn).map_err(&at)?);
        }
    }
    Ok(distortion(&q, &p, rule, law, how))
}
