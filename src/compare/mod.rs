//! Cross-checks between the engines and the f64 reference (classifying every difference), and
//! adversarial batches for them (`adversarial.rs`).

use rayon::prelude::*;
use serde::Serialize;

use crate::batch::{ChainView, Outcomes, Rounds, reference_outcome_rule};

mod adversarial;
pub mod adversarial_tree;
mod block;
pub mod tree;
use crate::reference::Outcome;
use crate::rule::{ChainRule, Rule, match_rule};
pub use adversarial::{adversarial_batch, adversarial_batch_rule};

/// A round where the two batch engines disagree (must never happen).
#[derive(Clone, Debug, Serialize)]
pub struct EngineMismatch {
    /// Round index in the batch.
    pub round: u64,
    /// First output position (0..=K) where the tokens differ, or K + 1 if only the counts do.
    pub position: usize,
    /// CPU engine's (num_accepted, token at `position`).
    pub cpu: (u32, i32),
    /// GPU engine's (num_accepted, token at `position`).
    pub gpu: (u32, i32),
    /// What else differs where the tokens and counts do not tell (`verify --compat`: FlashInfer's
    /// passes, a tree's accepted nodes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Why an f32 engine and the f64 reference may differ on a round.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DiffClass {
    /// The coin lies within f32 rounding of p/q (f64 inputs rounded to f32 moved the decision).
    CoinWithinRoundingOfRatio,
    /// Block verification: the coin lies between the engine's f32 threshold h_i and the f64
    /// reference's (rounding of P_i, of R_i's f32 sum, or of the inputs moved the decision).
    CoinBetweenThresholds,
    /// Block verification: a survival `P_j` (j ≤ the position decided differently) is below
    /// float32's smallest value (2^-149) in the engine, which keeps 0, while the f64 reference
    /// keeps it and a later tiny q lifts it back (float32's range, not its rounding).
    SurvivalBelowFloat32,
    /// Tree rules: the coin lies within the f32 rounding bound of the rule's threshold at the
    /// node where the engine's and the reference's paths part (running sums, normalisers).
    CoinNearTreeThreshold,
    /// The residual's top two entries are within f32 rounding of each other.
    ResidualNearTie,
    /// The bonus row's top two entries are within f32 rounding of each other.
    BonusNearTie,
    /// The residual is zero everywhere in one precision and not in the other.
    ZeroResidualUnderRounding,
    /// Not explained by rounding: a bug.
    Unexplained,
}

/// A round where an f32 engine and the f64 reference differ.
#[derive(Clone, Debug, Serialize)]
pub struct ReferenceDiff {
    /// Round index in the batch.
    pub round: u64,
    /// The class of the difference.
    pub class: DiffClass,
    /// The engine's (num_accepted, token).
    pub engine: (u32, u32),
    /// The reference's (num_accepted, token).
    pub reference: (u32, u32),
    /// The values involved, in words.
    pub detail: String,
}

/// The result of `specsim verify`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct VerifyReport {
    /// The verification rule checked.
    pub rule: Rule,
    /// The compatibility profile the engines decided under (`verify --compat`), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compat: Option<String>,
    /// What was generated (`--generate`: the tree, V and seed), if anything.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generated: Option<String>,
    /// Rounds compared.
    pub rounds: u64,
    /// Engines run (e.g. `["cpu", "gpu"]`).
    pub engines: Vec<String>,
    /// GPU adapter, if the GPU engine ran.
    pub adapter: Option<String>,
    /// Every engine mismatch (must be empty).
    pub engine_mismatches: Vec<EngineMismatch>,
    /// Every difference from the f64 reference, classified.
    pub reference_diffs: Vec<ReferenceDiff>,
    /// Rounds the GPU kernels left unfinished (more loop iterations than the adapter runs per
    /// invocation), or could not take (a profile's tree with a node of more than 256 children),
    /// and the CPU twin or the reference decided; counted, never hidden.
    #[serde(skip_serializing_if = "is_zero")]
    pub gpu_rounds_finished_on_cpu: u64,
}

fn is_zero(x: &u64) -> bool {
    *x == 0
}

impl VerifyReport {
    /// True when the engines agree and every reference difference is explained by rounding.
    pub fn passed(&self) -> bool {
        self.engine_mismatches.is_empty()
            && self
                .reference_diffs
                .iter()
                .all(|d| d.class != DiffClass::Unexplained)
    }

    /// Counts of reference differences per class.
    pub fn diff_counts(&self) -> std::collections::BTreeMap<DiffClass, u64> {
        let mut m = std::collections::BTreeMap::new();
        for d in &self.reference_diffs {
            *m.entry(d.class).or_insert(0) += 1;
        }
        m
    }
}

/// Adds the mismatches between two engines' outcomes (`cpu` and `gpu`, rounds offset by `r0`)
/// to `report`: the first output token that differs, or the accepted nodes of tree rounds.
pub fn compare_engines(cpu: &Outcomes, gpu: &Outcomes, r0: u64, report: &mut VerifyReport) {
    let (d, d1) = (cpu.depth, cpu.depth + 1);
    for r in 0..cpu.n() {
        let a = &cpu.tokens[r * d1..(r + 1) * d1];
        let b = &gpu.tokens[r * d1..(r + 1) * d1];
        let (na, nb) = (cpu.num_accepted[r], gpu.num_accepted[r]);
        let (x, y) = (
            cpu.nodes.as_ref().map(|x| &x[r * d..(r + 1) * d]),
            gpu.nodes.as_ref().map(|x| &x[r * d..(r + 1) * d]),
        );
        let detail = (x != y).then(|| {
            format!(
                "accepted nodes: cpu {:?}, gpu {:?}",
                x.unwrap_or_default(),
                y.unwrap_or_default()
            )
        });
        push_mismatch(report, r0 + r as u64, (na, a), (nb, b), detail);
    }
}

/// Compares an f32 engine's outcomes on `rounds` with the f64 reference and adds each difference,
/// classified, to `report` (rounds offset by `r0`). In `sample` mode a sampled token has no f64
/// twin, so only the acceptance decisions are compared. The one comparison of `verify`, chain
/// or tree.
pub fn compare_reference(
    rounds: &Rounds,
    engine: &Outcomes,
    rule: Rule,
    mode: crate::rule::RecoveryMode,
    r0: u64,
    report: &mut VerifyReport,
) {
    match rounds.as_chain() {
        Some(chain) => compare_reference_mode_rule(&chain, engine, rule, mode, r0, report),
        None => tree::compare_tree_reference(rounds, engine, rule, mode, r0, report),
    }
}

/// Adds round `round` to `report` when the two engines' (accepted, tokens) differ, or when
/// something else does (`detail`, e.g. the accepted tree nodes): the first differing token
/// position, and each engine's accepted count and token there (-1 past the end).
pub fn push_mismatch(
    report: &mut VerifyReport,
    round: u64,
    (na, a): (u32, &[i32]),
    (nb, b): (u32, &[i32]),
    detail: Option<String>,
) {
    if a == b && na == nb && detail.is_none() {
        return;
    }
    let position = (0..a.len().min(b.len()))
        .find(|&j| a[j] != b[j])
        .unwrap_or(a.len());
    let at = |t: &[i32]| t.get(position).copied().unwrap_or(-1);
    report.engine_mismatches.push(EngineMismatch {
        detail,
        round,
        position,
        cpu: (na, at(a)),
        gpu: (nb, at(b)),
    });
}

/// The chain half of [`compare_reference`] in argmax mode: every round of a chain batch under
/// `rule` (chain or tree), each difference classified.
pub fn compare_reference_rule(
    view: &ChainView,
    engine: &Outcomes,
    rule: Rule,
    r0: u64,
    report: &mut VerifyReport,
) {
    let diffs: Vec<ReferenceDiff> = (0..view.n)
        .into_par_iter()
        .filter_map(|r| {
            let e = engine.outcome(r);
            let f = reference_outcome_rule(view, r, rule);
            (e != f).then(|| {
                let (class, detail) = match_rule!(rule,
                    chain R => <R as ChainCompare>::classify(view, r, e, f),
                    tree => crate::compare::tree::classify_chain(view, r, rule, e, f),
                );
                ReferenceDiff {
                    round: r0 + r as u64,
                    class,
                    engine: (e.num_accepted, e.token),
                    reference: (f.num_accepted, f.token),
                    detail,
                }
            })
        })
        .collect();
    report.reference_diffs.extend(diffs);
}

/// [`compare_reference_rule`] for either recovery mode: in `sample` mode the sampled tokens
/// have no f64 twin, so only the acceptance decisions are compared (the reference's token is put
/// in the engine's place where the decisions agree).
pub fn compare_reference_mode_rule(
    view: &ChainView,
    engine: &Outcomes,
    rule: Rule,
    mode: crate::rule::RecoveryMode,
    r0: u64,
    report: &mut VerifyReport,
) {
    if mode == crate::rule::RecoveryMode::Argmax {
        compare_reference_rule(view, engine, rule, r0, report);
        return;
    }
    let mut decisions = engine.clone();
    let k1 = engine.depth + 1;
    let refs = crate::batch::reference_outcomes_rule(view, rule);
    for (r, o) in refs.iter().enumerate() {
        if o.num_accepted == engine.num_accepted[r] {
            decisions.tokens[r * k1 + o.num_accepted as usize] = o.token as i32;
        }
    }
    compare_reference_rule(view, &decisions, rule, r0, report);
}

/// Relative closeness that f32 rounding of the inputs (or of t − d) can explain.
pub(crate) const F32_SLACK: f64 = 4.0 * f32::EPSILON as f64;

pub(crate) fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= F32_SLACK * a.abs().max(b.abs())
}

/// A chain rule's cross-check (this layer's trait; implemented in the rule's `src/compare/X.rs`,
/// the token rule's here): how a difference between an f32 engine and the f64 reference is
/// explained, and how adversarial batches aim at the rule's thresholds.
pub trait ChainCompare: ChainRule {
    /// Classifies round `r`, where the engine's outcome `e` and the reference's `f` differ: the
    /// class and the values involved, in words.
    fn classify(view: &ChainView, r: usize, e: Outcome, f: Outcome) -> (DiffClass, String);

    /// Moves the coins of an adversarial batch (rounds `r0..`, seed `seed`) onto this rule's own
    /// thresholds where the rows alone do not; by default nothing (the rows already put the
    /// coins of `coin_at_ratio` rounds on p/q).
    fn aim_adversarial(_batch: &mut crate::batch::Batch, _r0: u64, _seed: u64) {}
}

impl ChainCompare for crate::rule::chain::Token {
    fn classify(view: &ChainView, r: usize, e: Outcome, f: Outcome) -> (DiffClass, String) {
        classify_token(view, r, e, f)
    }
}

fn classify_token(view: &ChainView, r: usize, e: Outcome, f: Outcome) -> (DiffClass, String) {
    let (k, v) = (view.k, view.v);
    let d = view.draft_round(r);
    let t = view.target_round(r);
    let (class, detail) = if e.num_accepted != f.num_accepted {
        let i = e.num_accepted.min(f.num_accepted) as usize;
        let tok = view.token(r, i) as usize;
        let p = t.get_f64(i * v + tok);
        let q = d.get_f64(i * v + tok);
        let coin = view.coins.get_f64(r * k + i);
        let detail = format!(
            "position {i}: coin {coin:e}, p {p:e}, q {q:e}, p/q {:e}; f32: coin {:e}, p {:e}, q {:e}",
            p / q,
            view.coins.get_f32(r * k + i),
            t.get_f32(i * v + tok),
            d.get_f32(i * v + tok)
        );
        let class = if close(coin * q, p) {
            DiffClass::CoinWithinRoundingOfRatio
        } else {
            DiffClass::Unexplained
        };
        (class, detail)
    } else {
        let i = e.num_accepted as usize;
        let (a, b) = (e.token as usize, f.token as usize);
        let tr = |x: usize| t.get_f64(i * v + x);
        if i < k {
            let res = |x: usize| (tr(x) - d.get_f64(i * v + x)).max(0.0);
            let detail = format!(
                "position {i}: residual[{a}] = {:e}, residual[{b}] = {:e} (f64)",
                res(a),
                res(b)
            );
            let class = if close(res(a), res(b)) {
                DiffClass::ResidualNearTie
            } else if res(a) == 0.0 || res(b) == 0.0 {
                DiffClass::ZeroResidualUnderRounding
            } else {
                DiffClass::Unexplained
            };
            (class, detail)
        } else {
            let detail = format!(
                "bonus: target[{a}] = {:e}, target[{b}] = {:e}",
                tr(a),
                tr(b)
            );
            let class = if close(tr(a), tr(b)) {
                DiffClass::BonusNearTie
            } else {
                DiffClass::Unexplained
            };
            (class, detail)
        }
    };
    (class, detail)
}
