//! The optimal multi-draft bound over a family's generated rows (SPEC §8): per configuration and
//! (n, mode), the mean over rounds of alpha* at the round's first node (the target and draft
//! rows of position 0) with its 99% interval, and each lossless rule's mean acceptance and mean
//! gap to the bound (paired, round by round). `specsim optimal --family …` and Python's
//! `optimal_study`.

use rayon::prelude::*;
use serde::Serialize;
use serde_json::Value;

use super::options::{FamilyKind, StudyOptions};
use super::{Gain, StudyConfig};
use crate::error::{Error, Result};
use crate::reference::optimal::{
    DraftMode, WOR_ESTIMATE_SAMPLES_PER_ROUND, alpha_star, rrs_wor_estimate, rule_acceptance,
};
use crate::round::node::gap;
use crate::workload::Family;

/// Rounds generated and bounded at a time.
const CHUNK: usize = 64;

/// A mean over rounds with its 99% interval.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Mean {
    /// The mean.
    pub mean: f64,
    /// 99% interval, low end (NaN with one round).
    pub ci99_low: f64,
    /// High end.
    pub ci99_high: f64,
}

impl From<Gain> for Mean {
    fn from(g: Gain) -> Mean {
        Mean {
            mean: g.mean,
            ci99_low: g.ci99_low,
            ci99_high: g.ci99_high,
        }
    }
}

/// One rule's acceptance and gap over the rounds.
#[derive(Clone, Debug, Serialize)]
pub struct RuleMeans {
    /// The rule.
    pub rule: String,
    /// Its acceptance at the node.
    pub acceptance: Option<Mean>,
    /// alpha* − its acceptance.
    pub gap: Option<Mean>,
    /// Whether each round's acceptance is a Monte-Carlo estimate (`rrs-wor` beyond its
    /// enumeration budget, [`WOR_ESTIMATE_SAMPLES_PER_ROUND`] samples a round): the mean is
    /// unbiased and its interval includes the estimates' noise.
    pub estimated: bool,
}

/// One (configuration, n, mode) of the bound over generated rows.
#[derive(Clone, Debug, Serialize)]
pub struct OptimalRow {
    /// The configuration's label (family and parameters).
    pub label: String,
    /// The family's name.
    pub family: String,
    /// Its parameter columns (`sigma`, `lambda`, `bits`, `zipf`, …).
    pub params: serde_json::Map<String, Value>,
    /// V.
    pub vocab: usize,
    /// Rounds.
    pub rounds: u64,
    /// Seed.
    pub seed: u64,
    /// n.
    pub drafts: usize,
    /// The draft law.
    pub mode: DraftMode,
    /// alpha*.
    pub alpha_star: Mean,
    /// The rules that assume the law.
    pub rules: Vec<RuleMeans>,
}

/// One round's bounds: per (n, mode), alpha* and each rule's acceptance (NaN: none) with whether
/// it is estimated, or `None` where the round cannot have that (n, mode) and such cells are
/// skipped.
type RoundBounds = Vec<Option<(f64, Vec<(f64, bool)>)>>;

/// Per (n, mode): the sums of alpha* and its square, per rule the sums of acceptance, its
/// square, gap and its square, and how many rounds had an acceptance.
struct Cell {
    alpha: f64,
    alpha_sq: f64,
    rules: Vec<[f64; 4]>,
    counts: Vec<u64>,
    /// Per rule: some round's acceptance was estimated.
    estimated: Vec<bool>,
    /// A round could not have this (n, mode): left out.
    impossible: bool,
}

/// Per round: alpha* per (n, mode), and per rule of each its acceptance (NaN: none); with
/// `skip_impossible`, `None` for an (n, mode) the round cannot have.
fn bound_round(
    p: &[f64],
    q: &[f64],
    grid: &[(usize, DraftMode)],
    skip_impossible: bool,
    (seed, round): (u64, u64),
) -> Result<RoundBounds> {
    grid.iter()
        .map(|&(n, mode)| {
            if skip_impossible && !crate::round::node::possible(q, n, mode) {
                return Ok(None);
            }
            let a = alpha_star(p, q, n, mode)?.alpha_star;
            let accs = mode
                .rules()
                .iter()
                .map(|&r| match rule_acceptance(r, p, q, n) {
                    Some(a) => (a, false),
                    None if r == crate::rule::Rule::RrsWor => {
                        let samples = WOR_ESTIMATE_SAMPLES_PER_ROUND;
                        (rrs_wor_estimate(p, q, n, samples, seed, round).0, true)
                    }
                    None => (f64::NAN, false),
                })
                .collect();
            Ok(Some((a, accs)))
        })
        .collect()
}

/// The configurations of a bound over generated rows: the families that generate
/// distributions (`rates` and `file` are refused, naming the way to bound given rows), each
/// parameter list expanded as for a study.
pub fn optimal_configs(opts: &StudyOptions) -> Result<Vec<StudyConfig>> {
    if matches!(opts.family, FamilyKind::Rates | FamilyKind::File) {
        let name = if opts.family == FamilyKind::Rates {
            "rates"
        } else {
            "file"
        };
        return Err(Error::Config(format!(
            "--family {name}: the bound needs generated distributions (logit-noise, mixture or quantized); for given rows, pass a node JSON"
        )));
    }
    let d = StudyOptions::default();
    let vocab = opts.vocab.or(d.vocab).unwrap_or(2048);
    let rounds = opts.rounds.unwrap_or(1000);
    let seed = opts.seed.or(d.seed).unwrap_or(7);
    opts.configs(&[1], vocab, rounds, seed)
}

/// The bound over the rounds of each configuration (its K is not used: every round's first
/// node is bounded). With `skip_impossible`, an (n, mode) that one of a configuration's rounds
/// cannot have (wor beyond its tokens of positive draft probability, top with n > V) is left out
/// of that configuration; otherwise it is refused, naming the configuration and the round.
/// `progress(rounds)` after each chunk.
pub fn optimal_study(
    configs: &[StudyConfig],
    drafts: &[usize],
    modes: &[DraftMode],
    skip_impossible: bool,
    mut progress: impl FnMut(u64),
) -> Result<Vec<OptimalRow>> {
    let grid: Vec<(usize, DraftMode)> = drafts
        .iter()
        .flat_map(|&n| modes.iter().map(move |&m| (n, m)))
        .collect();
    let mut out = Vec::new();
    for cfg in configs {
        let w = &cfg.workload;
        if matches!(w.family, Family::Rates { .. } | Family::File { .. }) {
            return Err(Error::Config(format!(
                "--family {}: the bound needs generated distributions (logit-noise, mixture or quantized); for given rows, pass a node JSON",
                w.family.name()
            )));
        }
        let mut sums: Vec<Cell> = grid
            .iter()
            .map(|&(_, m)| {
                let r = m.rules().len();
                Cell {
                    alpha: 0.0,
                    alpha_sq: 0.0,
                    rules: vec![[0.0; 4]; r],
                    counts: vec![0; r],
                    estimated: vec![false; r],
                    impossible: false,
                }
            })
            .collect();
        let mut r0 = 0u64;
        while r0 < cfg.rounds {
            let m = (cfg.rounds - r0).min(CHUNK as u64) as usize;
            let (batch, _) = crate::cpu::generate::generate_chunk(w, cfg.seed, r0, m, 1);
            let v = batch.v;
            let row = |x: &[f32]| -> Vec<f64> {
                let s: f64 = x.iter().map(|&y| y as f64).sum();
                x.iter().map(|&y| y as f64 / s).collect()
            };
            let per_round: Vec<Result<RoundBounds>> = (0..m)
                .into_par_iter()
                .map(|r| {
                    let q = row(&batch.draft[r * v..(r + 1) * v]);
                    let p = row(&batch.target[r * 2 * v..(r * 2 + 1) * v]);
                    let at = (cfg.seed, r0 + r as u64);
                    bound_round(&p, &q, &grid, skip_impossible, at).map_err(|e| {
                        Error::Config(format!("{}, round {}: {e}", w.label(), r0 + r as u64))
                    })
                })
                .collect();
            // Summed in round order (identical run to run).
            for round in per_round {
                for (cell, bound) in sums.iter_mut().zip(round?) {
                    // An (n, mode) one round cannot have is left out of the configuration.
                    let Some((a, accs)) = bound else {
                        cell.impossible = true;
                        continue;
                    };
                    cell.alpha += a;
                    cell.alpha_sq += a * a;
                    for (j, (acc, estimated)) in accs.into_iter().enumerate() {
                        if acc.is_nan() {
                            continue;
                        }
                        cell.estimated[j] |= estimated;
                        let g = gap(a, acc);
                        let s = &mut cell.rules[j];
                        s[0] += acc;
                        s[1] += acc * acc;
                        s[2] += g;
                        s[3] += g * g;
                        cell.counts[j] += 1;
                    }
                }
            }
            r0 += m as u64;
            progress(m as u64);
        }
        let mut params: serde_json::Map<String, Value> = w
            .family
            .param_columns()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        params.insert("t_target".into(), serde_json::json!(w.t_target));
        params.insert("t_draft".into(), serde_json::json!(w.t_draft));
        params.insert("zipf".into(), serde_json::json!(w.zipf));
        for (&(n, mode), cell) in grid.iter().zip(sums) {
            if cell.impossible {
                continue;
            }
            let Cell {
                alpha: sa,
                alpha_sq: sa2,
                rules: rs,
                counts,
                estimated,
                ..
            } = cell;
            let rules = mode
                .rules()
                .iter()
                .zip(rs.iter().zip(&counts))
                .zip(&estimated)
                .map(|((r, (s, &c)), &estimated)| {
                    let full = c == cfg.rounds;
                    RuleMeans {
                        rule: r.to_string(),
                        acceptance: full.then(|| Gain::from_sums(s[0], s[1], c).into()),
                        gap: full.then(|| Gain::from_sums(s[2], s[3], c).into()),
                        estimated,
                    }
                })
                .collect();
            out.push(OptimalRow {
                label: w.label(),
                family: w.family.name().to_string(),
                params: params.clone(),
                vocab: w.vocab,
                rounds: cfg.rounds,
                seed: cfg.seed,
                drafts: n,
                mode,
                alpha_star: Gain::from_sums(sa, sa2, cfg.rounds).into(),
                rules,
            });
        }
    }
    Ok(out)
}

/// The CSV of the rows: one line per (configuration, n, mode, rule).
pub fn optimal_csv(rows: &[OptimalRow]) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let param_names: Vec<String> = rows
        .first()
        .map(|r| r.params.keys().cloned().collect())
        .unwrap_or_default();
    let mut header: Vec<String> = vec!["label".into(), "family".into()];
    header.extend(param_names.iter().cloned());
    header.extend(
        [
            "vocab",
            "rounds",
            "seed",
            "drafts",
            "mode",
            "alpha_star",
            "alpha_star_ci99_low",
            "alpha_star_ci99_high",
            "rule",
            "acceptance",
            "acceptance_ci99_low",
            "acceptance_ci99_high",
            "gap",
            "gap_ci99_low",
            "gap_ci99_high",
            "estimated",
        ]
        .map(String::from),
    );
    let csv_err = |e: csv::Error| Error::Config(format!("optimal.csv: {e}"));
    w.write_record(&header).map_err(csv_err)?;
    let num = |x: f64| {
        if x.is_finite() {
            x.to_string()
        } else {
            String::new()
        }
    };
    for r in rows {
        for rule in &r.rules {
            let mut rec: Vec<String> = vec![r.label.clone(), r.family.clone()];
            for k in &param_names {
                rec.push(match r.params.get(k) {
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Null) | None => String::new(),
                    Some(v) => v.to_string(),
                });
            }
            rec.extend([
                r.vocab.to_string(),
                r.rounds.to_string(),
                r.seed.to_string(),
                r.drafts.to_string(),
                r.mode.name().to_string(),
                num(r.alpha_star.mean),
                num(r.alpha_star.ci99_low),
                num(r.alpha_star.ci99_high),
                rule.rule.clone(),
            ]);
            for m in [&rule.acceptance, &rule.gap] {
                match m {
                    Some(m) => rec.extend([num(m.mean), num(m.ci99_low), num(m.ci99_high)]),
                    None => rec.extend([String::new(), String::new(), String::new()]),
                }
            }
            rec.push(rule.estimated.to_string());
            w.write_record(&rec).map_err(csv_err)?;
        }
    }
    w.into_inner()
        .map_err(|e| Error::Config(format!("optimal.csv: {e}")))
}

/// Writes `DIR/optimal.csv` and `DIR/optimal.json` (the rows as the command's `--format json`
/// prints them), both or neither.
pub fn write_optimal_files(dir: &std::path::Path, rows: &[OptimalRow]) -> Result<()> {
    let mut set = crate::output::FileSet::create(dir)?;
    set.write("optimal.csv", &optimal_csv(rows)?)?;
    let text = serde_json::to_string_pretty(rows)
        .map_err(|e| Error::output(dir.join("optimal.json"), e))?;
    set.write("optimal.json", text.as_bytes())?;
    set.commit()
}
