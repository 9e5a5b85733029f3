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
    match k {
        Some(k) => study_distortion_ks(w, seed, rounds, &[k], rule, rec).pop()?,
        None => lossless(rule, rec),
    }
}

/// Zeros for a lossless rule in `sample` mode.
fn lossless(rule: Rule, rec: RecoveryMode) -> Option<RowDistortion> {
    (rec == RecoveryMode::Sample && !rule.is_lossy() && rule != Rule::Greedy).then(|| {
        RowDistortion {
            tv_low: 0.0,
            tv_high: 0.0,
            tokens_changed: 0.0,
            tv_exact: Some(0.0),
            given: "lossless".into(),
        }
    })
}

/// [`study_distortion`] on chains of every K of `ks` at once: the rows are generated once, at the
/// largest K (a round's rows at K are the first of its rows at any larger K), and each
/// position's terms computed once ([`crate::reference::lossy::position_terms`]).
pub fn study_distortion_ks(
    w: &Workload,
    seed: u64,
    rounds: u64,
    ks: &[usize],
    rule: Rule,
    rec: RecoveryMode,
) -> Vec<Option<RowDistortion>> {
    if let Some(d) = lossless(rule, rec) {
        return vec![Some(d); ks.len()];
    }
    let none = vec![None; ks.len()];
    let n = rounds.min(STUDY_DISTORTION_ROUNDS);
    let k_max = ks.iter().copied().max().unwrap_or(0);
    if n == 0 || k_max == 0 || matches!(w.family, Family::Rates { .. } | Family::File { .. }) {
        return none;
    }
    let Some((lossy, law)) = chain_form(rule) else {
        return none;
    };
    let how = match rec {
        RecoveryMode::Sample => Replacement::Sample,
        RecoveryMode::Argmax => Replacement::Argmax,
    };
    // Every output of a study (CSV, JSON, table, Python) builds its rows: the values are kept,
    // per (workload, seed, rounds, K values, rule, recovery), for the process's later calls.
    let key = format!("{w:?}|{seed}|{n}|{ks:?}|{rule}|{rec:?}");
    let memo = MEMO.get_or_init(Default::default);
    if let Some(d) = memo.lock().ok().and_then(|m| m.get(&key).cloned()) {
        return d;
    }
    let d = rows_distortion(w, seed, n, ks, k_max, lossy, law, how);
    if let Ok(mut m) = memo.lock() {
        if m.len() >= 4096 {
            m.clear();
        }
        m.insert(key, d.clone());
    }
    d
}

/// The kept values of [`study_distortion_ks`].
static MEMO: std::sync::OnceLock<
    std::sync::Mutex<std::collections::HashMap<String, Vec<Option<RowDistortion>>>>,
> = std::sync::OnceLock::new();

/// A generated row as the meter reads it: as given where it sums to 1 within 1e-12, otherwise
/// divided by its sum (as `round::lossy::round_distortion`).
fn meter_row(row: &[f32]) -> Vec<f64> {
    let r: Vec<f64> = row.iter().map(|&x| f64::from(x)).collect();
    let s: f64 = r.iter().sum();
    if (s - 1.0).abs() <= 1e-12 || s.is_nan() || s <= 0.0 {
        r
    } else {
        r.iter().map(|x| x / s).collect()
    }
}

/// [`study_distortion_ks`]'s computation: the first `n` rounds at `k_max`, generated chunk by
/// chunk within the memory budget; per round, each position's terms once, then every K's
/// bracket (and, where V^(K+1) ≤ 4096, its exact round TV).
#[allow(clippy::too_many_arguments)]
fn rows_distortion(
    w: &Workload,
    seed: u64,
    n: u64,
    ks: &[usize],
    k_max: usize,
    lossy: LossyRule,
    law: DraftLaw,
    how: Replacement,
) -> Vec<Option<RowDistortion>> {
    use crate::reference::lossy::{EXACT_BUDGET, bracket, distortion, position_terms};
    let v = w.vocab;
    let exact_at: Vec<bool> = ks
        .iter()
        .map(|&k| (v as f64).powi(k as i32 + 1) <= EXACT_BUDGET)
        .collect();
    // Per K: sums of the low and high ends and of the exact TV.
    let mut sums = vec![(0.0f64, 0.0f64, 0.0f64); ks.len()];
    let chunk = crate::chunk::rounds_within_budget((2 * k_max + 1) * v * 4);
    for (r0, m) in crate::chunk::chunks(n, chunk) {
        let (b, _) = crate::cpu::generate::generate_chunk(w, seed, r0, m, k_max);
        let per: Vec<Vec<(f64, f64, f64)>> = (0..m)
            .into_par_iter()
            .map(|r| {
                let p: Vec<Vec<f64>> = (0..=k_max)
                    .map(|i| meter_row(&b.target[(r * (k_max + 1) + i) * v..][..v]))
                    .collect();
                let q: Vec<Vec<f64>> = (0..k_max)
                    .map(|i| meter_row(&b.draft[(r * k_max + i) * v..][..v]))
                    .collect();
                let terms: Vec<(f64, f64, f64)> = (0..=k_max)
                    .map(|i| {
                        if i < k_max {
                            position_terms(&p[i], &q[i], lossy, law, how)
                        } else {
                            // The last row is only ever a bonus row.
                            let (_, _, tb) = position_terms(&p[i], &p[i], lossy, law, how);
                            (0.0, 0.0, tb)
                        }
                    })
                    .collect();
                ks.iter()
                    .zip(&exact_at)
                    .map(|(&k, &exact)| {
                        let (low, high) = bracket(&terms, k);
                        let tv = if exact {
                            distortion(&q[..k], &p[..=k], lossy, law, how)
                                .tv_exact
                                .unwrap_or(f64::NAN)
                        } else {
                            0.0
                        };
                        (low, high, tv)
                    })
                    .collect()
            })
            .collect();
        for round in &per {
            for (s, x) in sums.iter_mut().zip(round) {
                s.0 += x.0;
                s.1 += x.1;
                s.2 += x.2;
            }
        }
    }
    let m = n as f64;
    sums.iter()
        .zip(&exact_at)
        .map(|(&(low, high, tv), &exact)| {
            Some(RowDistortion {
                tv_low: low / m,
                tv_high: high / m,
                tokens_changed: high / m,
                tv_exact: (exact && tv.is_finite()).then_some(tv / m),
                given: format!("rows:{n}"),
            })
        })
        .collect()
}
