//! The distortion meter over a family's rows (`specsim distortion`, SPEC §13): each rule's exact
//! per-round distortion ([`crate::round::lossy::round_distortion`]) on the same generated rounds,
//! averaged, generated chunk by chunk within the memory budget. Each round's exact TV lies in its
//! own bracket, so the mean exact TV lies in the mean bracket.

use rayon::prelude::*;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::reference::lossy::{DraftLaw, LossyRule, Replacement};
use crate::round::node::NodeOptions;
use crate::rule::{RecoveryMode, Rule, RuleKind};
use crate::study::options::{FamilyKind, StudyOptions};
use crate::workload::{Family, Workload};

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
    let opts = StudyOptions {
        rounds: Some(opts.rounds.unwrap_or(200)),
        ..opts.clone()
    };
    let cfg = &opts.one_workload(k, "distortion")?;
    let (w, v, n) = (&cfg.workload, cfg.workload.vocab, cfg.rounds);
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
    // Per rule, the sums of every reported quantity (and of the exact TV while every round has
    // one), over chunks of rounds generated within the memory budget.
    struct Acc {
        acceptance: Vec<f64>,
        tv: Vec<f64>,
        scalars: [f64; 5],
        exact: Option<f64>,
    }
    let mut acc: Vec<Acc> = rules
        .iter()
        .map(|_| Acc {
            acceptance: vec![0.0; k],
            tv: vec![0.0; k + 1],
            scalars: [0.0; 5],
            exact: Some(0.0),
        })
        .collect();
    let chunk = crate::chunk::rounds_within_budget((2 * k + 1) * v * 4);
    for (r0, m) in crate::chunk::chunks(n, chunk) {
        let (b, _) = crate::cpu::generate::generate_chunk(w, cfg.seed, r0, m, k);
        for (ri, &rule) in rules.iter().enumerate() {
            let per: Vec<crate::round::lossy::Distortion> = (0..m)
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
                    let opts = NodeOptions::default();
                    crate::round::lossy::round_distortion(&q, &p, v, rule, law, how, &opts)
                        .map_err(|e| Error::Config(format!("round {}: {e}", r0 + r as u64)))
                })
                .collect::<Result<_>>()?;
            let a = &mut acc[ri];
            for d in &per {
                for (s, x) in a.acceptance.iter_mut().zip(&d.acceptance) {
                    *s += x;
                }
                for (s, x) in a.tv.iter_mut().zip(&d.tv) {
                    *s += x;
                }
                let xs = [
                    d.expected_accepted,
                    d.expected_generated,
                    d.tv_low,
                    d.tv_high,
                    d.tokens_changed,
                ];
                for (s, x) in a.scalars.iter_mut().zip(xs) {
                    *s += x;
                }
                a.exact = a.exact.zip(d.tv_exact).map(|(s, x)| s + x);
            }
        }
    }
    let m = n as f64;
    Ok(rules
        .iter()
        .zip(acc)
        .map(|(rule, a)| FamilyDistortion {
            rule: rule.to_string(),
            draft: name(law),
            recovery: rec,
            workload: w.label(),
            vocab: v,
            k,
            rounds: n,
            acceptance: a.acceptance.iter().map(|x| x / m).collect(),
            tv: a.tv.iter().map(|x| x / m).collect(),
            expected_accepted: a.scalars[0] / m,
            expected_generated: a.scalars[1] / m,
            tv_low: a.scalars[2] / m,
            tv_high: a.scalars[3] / m,
            tokens_changed: a.scalars[4] / m,
            tv_exact: a.exact.map(|x| x / m),
        })
        .collect())
}

/// How many of a configuration's first rounds a study's distortion columns average over.
pub const STUDY_DISTORTION_ROUNDS: u64 = 256;

/// A study row's distortion columns (SPEC §13): the means over the configuration's first rounds
/// of each round's exact bracket `[max_k r_k TV_k, Σ_k r_k TV_k]` (the sum is "tokens changed
/// per round") and of its exact round TV where V^(K+1) ≤ 4096; or zeros where the rule is
/// lossless in its recovery mode (a theorem, not a computation).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RowDistortion {
    /// Mean lower end of the round's TV.
    pub tv_low: f64,
    /// Mean upper end of the round's TV (= `tokens_changed`).
    pub tv_high: f64,
    /// Mean number of positions whose token law is changed.
    pub tokens_changed: f64,
    /// Mean exact round TV, where every round's could be enumerated.
    pub tv_exact: Option<f64>,
    /// How the values are given: `rows:N` (the first N rounds' rows) or `lossless`.
    pub given: String,
}

/// A rule on a chain in the meter's terms: its chain form and the law a study draws its tokens
/// from (the tree rules take a path tree's one child: `rrs`, `rrs-wor` and `spectr` are the token
/// rule; `target-only` is `sglang:1:1` with `<` for `≤`, a difference of probability 0; the
/// rules that read no draft take the draft's top-1). `None`: no chain form (`block`).
fn chain_form(rule: Rule) -> Option<(LossyRule, DraftLaw)> {
    let [a, b] = rule.params_f64();
    Some(match rule.kind() {
        RuleKind::Token | RuleKind::Rrs | RuleKind::RrsWor | RuleKind::Spectr => {
            (LossyRule::Token, DraftLaw::Sample)
        }
        RuleKind::TargetOnly => (LossyRule::Sglang { ts: 1.0, ta: 1.0 }, DraftLaw::Top1),
        RuleKind::Sglang => (LossyRule::Sglang { ts: a, ta: b }, DraftLaw::Top1),
        RuleKind::Typical => (LossyRule::Typical { eps: a, delta: b }, DraftLaw::Sample),
        RuleKind::Lenient => (LossyRule::Lenient { l: a }, DraftLaw::Sample),
        RuleKind::Greedy => (LossyRule::Greedy, DraftLaw::Top1),
        RuleKind::Block => return None,
    })
}

/// The distortion columns of a study row: rule `rule` with recovery `rec` on workload `w`'s
/// rounds under `seed`, on a chain of `k` drafts (`None`: a tree with branches). Zeros, `lossless`,
/// for a lossless rule in `sample` mode (every rule but `greedy` and the lossy ones, SPEC §4, §6,
/// §7); otherwise on chains the exact values averaged over the first
/// [`STUDY_DISTORTION_ROUNDS`] rounds' rows (the CPU generator's, which the study's CPU engine
/// decides); `None` where no exact value is known (a tree with branches unless lossless, `block`
/// in `argmax` mode, a family without rows).
pub fn study_distortion(
    w: &Workload,
    seed: u64,
    rounds: u64,
    k: Option<usize>,
    rule: Rule,
    rec: RecoveryMode,
) -> Option<RowDistortion> {
    let lossless = !rule.is_lossy() && rule != Rule::Greedy;
    if rec == RecoveryMode::Sample && lossless {
        return Some(RowDistortion {
            tv_low: 0.0,
            tv_high: 0.0,
            tokens_changed: 0.0,
            tv_exact: Some(0.0),
            given: "lossless".into(),
        });
    }
    let k = k.filter(|&k| k > 0)?;
    if matches!(w.family, Family::Rates { .. } | Family::File { .. }) {
        return None;
    }
    let (lossy, law) = chain_form(rule)?;
    let how = match rec {
        RecoveryMode::Sample => Replacement::Sample,
        RecoveryMode::Argmax => Replacement::Argmax,
    };
    let n = rounds.min(STUDY_DISTORTION_ROUNDS);
    if n == 0 {
        return None;
    }
    // Every output of a study (CSV, JSON, table, Python) builds its rows: the values are kept,
    // per (workload, seed, rounds, K, rule, recovery), for the process's later calls.
    let key = format!("{w:?}|{seed}|{n}|{k}|{rule}|{rec:?}");
    let memo = MEMO.get_or_init(Default::default);
    if let Some(d) = memo.lock().ok().and_then(|m| m.get(&key).cloned()) {
        return d;
    }
    let d = row_distortion(w, seed, n, k, lossy, law, how);
    if let Ok(mut m) = memo.lock() {
        if m.len() >= 4096 {
            m.clear();
        }
        m.insert(key, d.clone());
    }
    d
}

/// The kept values of [`study_distortion`].
static MEMO: std::sync::OnceLock<
    std::sync::Mutex<std::collections::HashMap<String, Option<RowDistortion>>>,
> = std::sync::OnceLock::new();

/// [`study_distortion`]'s computation: the first `n` rounds, generated chunk by chunk within the
/// memory budget.
fn row_distortion(
    w: &Workload,
    seed: u64,
    n: u64,
    k: usize,
    lossy: LossyRule,
    law: DraftLaw,
    how: Replacement,
) -> Option<RowDistortion> {
    let v = w.vocab;
    let (mut low, mut high, mut changed, mut exact) = (0.0f64, 0.0f64, 0.0f64, Some(0.0f64));
    let chunk = crate::chunk::rounds_within_budget((2 * k + 1) * v * 4);
    for (r0, m) in crate::chunk::chunks(n, chunk) {
        let (b, _) = crate::cpu::generate::generate_chunk(w, seed, r0, m, k);
        let per: Vec<crate::round::lossy::Distortion> = (0..m)
            .into_par_iter()
            .map(|r| {
                let q: Vec<f64> = b.draft[r * k * v..(r + 1) * k * v]
                    .iter()
                    .map(|&x| f64::from(x))
                    .collect();
                let p: Vec<f64> = b.target[r * (k + 1) * v..(r + 1) * (k + 1) * v]
                    .iter()
                    .map(|&x| f64::from(x))
                    .collect();
                crate::round::lossy::round_distortion(
                    &q,
                    &p,
                    v,
                    lossy,
                    law,
                    how,
                    &NodeOptions::default(),
                )
            })
            .collect::<Result<_>>()
            .ok()?;
        for d in &per {
            low += d.tv_low;
            high += d.tv_high;
            changed += d.tokens_changed;
            exact = exact.zip(d.tv_exact).map(|(s, x)| s + x);
        }
    }
    let m = n as f64;
    Some(RowDistortion {
        tv_low: low / m,
        tv_high: high / m,
        tokens_changed: changed / m,
        tv_exact: exact.map(|x| x / m),
        given: format!("rows:{n}"),
    })
}
