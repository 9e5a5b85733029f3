//! The distortion meter over a family's rows (`specsim distortion`, SPEC §13): each rule's exact
//! per-round distortion ([`crate::round::lossy::round_distortion`]) on the same generated rounds,
//! averaged. Every averaged quantity is linear in the rounds' laws, so the mean bracket still
//! holds the mean exact TV.

use rayon::prelude::*;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::reference::lossy::{DraftLaw, LossyRule, Replacement};
use crate::round::node::NodeOptions;
use crate::rule::Rule;
use crate::study::options::{FamilyKind, StudyOptions};

/// One rule's distortion over a family's rounds: the means of [`crate::round::lossy::Distortion`]'s
/// fields.
#[derive(Clone, Debug, Serialize)]
pub struct FamilyDistortion {
    /// The rule, as given (`token`, `typical:0.09:0.3`, …).
    pub rule: String,
    /// `sample` or `top1`.
    pub draft: &'static str,
    /// `sample` or `argmax`.
    pub recovery: &'static str,
    /// The workload in words.
    pub workload: String,
    /// V.
    pub vocab: usize,
    /// K.
    pub k: usize,
    /// Rounds averaged.
    pub rounds: u64,
    /// Mean acceptance per position `[K]`.
    pub acceptance: Vec<f64>,
    /// Mean TV(o_k, p_k) per position `[K + 1]` (the bonus last).
    pub tv: Vec<f64>,
    /// Mean `E[τ]`.
    pub expected_accepted: f64,
    /// Mean `E[generated]`.
    pub expected_generated: f64,
    /// Mean of `max_k r_k TV_k`.
    pub tv_low: f64,
    /// Mean of `Σ_k r_k TV_k`.
    pub tv_high: f64,
    /// The same: tokens changed per round.
    pub tokens_changed: f64,
    /// Mean exact round TV, where V^(K+1) ≤ 4096.
    pub tv_exact: Option<f64>,
}

/// Every rule's distortion on the rounds of `opts`' one workload at K = `k`.
pub fn family_distortion(
    opts: &StudyOptions,
    k: usize,
    rules: &[LossyRule],
    law: DraftLaw,
    how: Replacement,
) -> Result<Vec<FamilyDistortion>> {
    if matches!(opts.family, FamilyKind::Rates | FamilyKind::File) {
        return Err(Error::Config(
            "distortion: give a generated family with distributions (logit-noise, mixture, quantized)".into(),
        ));
    }
    if k == 0 {
        return Err(Error::Config(
            "--k: the distortion of a round needs K >= 1".into(),
        ));
    }
    let d = StudyOptions::default();
    let base = StudyOptions {
        rules: Some(vec![Rule::Token]),
        k: None,
        trees: Vec::new(),
        design: false,
        nodes: None,
        ..opts.clone()
    }
    .configs(
        &[k],
        opts.vocab.or(d.vocab).unwrap_or(2048),
        opts.rounds.or(d.rounds).unwrap_or(200),
        opts.seed.or(d.seed).unwrap_or(7),
    )?;
    let [cfg] = &base[..] else {
        return Err(Error::Config(format!(
            "distortion: the workload options name {} workloads (--sigma defaults to 0.5,1): give one value of each, e.g. --sigma 0.5",
            base.len()
        )));
    };
    let (w, v, n) = (&cfg.workload, cfg.workload.vocab, cfg.rounds);
    let (b, _) = crate::cpu::generate::generate_chunk(w, cfg.seed, 0, n as usize, k);
    let name = |l: DraftLaw| {
        if l == DraftLaw::Sample {
            "sample"
        } else {
            "top1"
        }
    };
    let rec = if how == Replacement::Sample {
        "sample"
    } else {
        "argmax"
    };
    rules
        .iter()
        .map(|&rule| {
            let per: Vec<crate::round::lossy::Distortion> = (0..n as usize)
                .into_par_iter()
                .map(|r| {
                    let q: Vec<f64> = b.draft[r * k * v..(r + 1) * k * v]
                        .iter()
                        .map(|&x| x as f64)
                        .collect();
                    let p: Vec<f64> = b.target[r * (k + 1) * v..(r + 1) * (k + 1) * v]
                        .iter()
                        .map(|&x| x as f64)
                        .collect();
                    crate::round::lossy::round_distortion(
                        &q,
                        &p,
                        v,
                        rule,
                        law,
                        how,
                        &NodeOptions::default(),
                    )
                    .map_err(|e| Error::Config(format!("round {r}: {e}")))
                })
                .collect::<Result<_>>()?;
            let m = per.len() as f64;
            let mean = |f: &dyn Fn(&crate::round::lossy::Distortion) -> f64| {
                per.iter().map(f).sum::<f64>() / m
            };
            let tv_exact = per
                .iter()
                .map(|d| d.tv_exact)
                .collect::<Option<Vec<f64>>>()
                .map(|x| x.iter().sum::<f64>() / m);
            Ok(FamilyDistortion {
                rule: rule.to_string(),
                draft: name(law),
                recovery: rec,
                workload: w.label(),
                vocab: v,
                k,
                rounds: n,
                acceptance: (0..k).map(|i| mean(&|d| d.acceptance[i])).collect(),
                tv: (0..=k).map(|i| mean(&|d| d.tv[i])).collect(),
                expected_accepted: mean(&|d| d.expected_accepted),
                expected_generated: mean(&|d| d.expected_generated),
                tv_low: mean(&|d| d.tv_low),
                tv_high: mean(&|d| d.tv_high),
                tokens_changed: mean(&|d| d.tokens_changed),
                tv_exact,
            })
        })
        .collect()
}
