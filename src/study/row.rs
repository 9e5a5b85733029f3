//! One schema for every study output: a [`StudyRow`] per (configuration, rule, K) of a chain
//! study and per (workload, tree, rule) of a tree study, with the same fields; a chain row's tree
//! is `chain:K`. The column table (`report/columns.rs`) turns rows into `results.csv`,
//! `results.json` and the terminal table.

use serde::Serialize;

use super::distortion::{RowDistortion, study_distortion, study_distortion_ks};
use super::report::ConfigResult;
use super::tree::TreeStudyResult;
use super::{ESTIMATE_WOR, EXACT_GIVEN_ROWS, Gain, Workload};
use crate::rule::{RecoveryMode, Rule};

/// One row of a study's results.
#[derive(Clone, Debug, Serialize)]
pub struct StudyRow {
    /// The verification rule.
    pub rule: Rule,
    /// The tree: its spec, or `chain:K` for a chain.
    pub tree: String,
    /// A short label of the tree for tables and plots.
    pub tree_label: String,
    /// Nodes per round, the root included (K + 1 for a chain).
    pub nodes: usize,
    /// The most drafted tokens a round can accept (K for a chain).
    pub depth: usize,
    /// K, for a chain (a path tree).
    pub k: Option<usize>,
    /// A design study's builder (`chain`, `kary`, `sequoia`, `eagle2`).
    pub builder: Option<String>,
    /// A design study's node budget.
    pub node_budget: Option<usize>,
    /// What was generated (or read: `file`).
    pub workload: Workload,
    /// The workload in words, and the rule when it is not the token rule.
    pub label: String,
    /// Engine (and adapter).
    pub engine: String,
    /// Recovery mode.
    pub recovery: RecoveryMode,
    /// Seed of every random number.
    pub seed: u64,
    /// Rounds.
    pub rounds: u64,
    /// Mean drafted tokens accepted per round.
    pub mean_accepted: f64,
    /// Mean tokens generated per round (accepted + 1).
    pub mean_generated: f64,
    /// Standard deviation of the tokens generated per round.
    pub sd_generated: f64,
    /// 99% interval of `mean_generated`, low end.
    pub ci99_low: f64,
    /// High end.
    pub ci99_high: f64,
    /// The interval is defined (at least 2 rounds).
    pub ci_defined: bool,
    /// The exact expectation given the rows (`None` where there is none).
    pub exact_mean_generated: Option<f64>,
    /// What the exact value is: `rows` (exact given the rows), or an estimate's name.
    pub exact_given: Option<&'static str>,
    /// Whether the exact value is consistent with the rounds at 99% (`None` without an exact
    /// value or an interval).
    pub within_ci99: Option<bool>,
    /// Tree rows: the paired z of the observed minus the per-round exact values.
    pub paired_z: Option<f64>,
    /// A chain rule measured at every K: its paired gain over the token rule.
    pub gain_over_token: Option<Gain>,
    /// Mean accepted / depth (K for a chain; `None` for a root alone).
    pub mean_acceptance_rate: Option<f64>,
    /// Chains: Leviathan's alpha, the mean exact beta.
    pub alpha: Option<f64>,
    /// Chains: Leviathan's expected tokens per round with that alpha.
    pub leviathan_mean_generated: Option<f64>,
    /// Mean generated per position the target evaluates (n nodes).
    pub generated_per_position: f64,
    /// Trees: the chain of the same node count under the same rule and workload, when the
    /// study ran it.
    pub chain_same_nodes: Option<f64>,
    /// Trees: the per-node bound on `E[generated]` of SPEC §8 for the rule's draft law
    /// (`study::tree::optimal_generated`), over the first `optimal_rounds` rounds.
    pub optimal_generated: Option<f64>,
    /// Trees: the bound minus the rule's exact expectation, over the same rounds.
    pub gap_to_optimal: Option<f64>,
    /// Trees: the rounds the bound was computed on.
    pub optimal_rounds: Option<u64>,
    /// P[accepted ≥ d] for d = 1..=depth (a chain's per-position acceptance).
    pub per_depth_acceptance: Vec<f64>,
    /// The distortion columns (SPEC §13; `None` where no exact value is known).
    pub distortion: Option<RowDistortion>,
    /// A stopping policy's row: its result (`None` for every other row).
    pub stop: Option<super::stop::StopResult>,
    /// Seconds (the configuration's rules together).
    pub seconds: f64,
}

impl StudyRow {
    /// The rows of a chain study's result, one per K.
    pub fn chain(r: &ConfigResult) -> Vec<StudyRow> {
        if let Some(s) = &r.stop {
            return vec![StudyRow::stop(r, s)];
        }
        let metrics = r.metrics();
        let ks: Vec<usize> = metrics.iter().map(|m| m.k).collect();
        let rounds = metrics.first().map_or(0, |m| m.rounds);
        let mut distortions = study_distortion_ks(
            &r.config.workload,
            r.config.seed,
            rounds,
            &ks,
            r.rule,
            r.config.recovery,
        )
        .into_iter();
        metrics
            .into_iter()
            .map(|m| StudyRow {
                rule: r.rule,
                tree: format!("chain:{}", m.k),
                tree_label: format!("chain:{}", m.k),
                nodes: m.k + 1,
                depth: m.k,
                k: Some(m.k),
                builder: None,
                node_budget: None,
                workload: r.config.workload.clone(),
                label: r.label(),
                engine: r.engine.clone(),
                recovery: r.config.recovery,
                seed: r.config.seed,
                rounds: m.rounds,
                mean_accepted: m.mean_accepted,
                mean_generated: m.mean_generated,
                sd_generated: m.sd_generated,
                ci99_low: m.ci99_low,
                ci99_high: m.ci99_high,
                ci_defined: m.ci_defined,
                exact_mean_generated: Some(m.exact_mean_generated),
                exact_given: Some(m.exact_given),
                within_ci99: m.ci_defined.then_some(m.within_ci99),
                paired_z: None,
                gain_over_token: m.gain_over_token,
                mean_acceptance_rate: Some(m.mean_acceptance_rate),
                alpha: Some(m.alpha),
                leviathan_mean_generated: Some(m.leviathan_mean_generated),
                generated_per_position: m.mean_generated / (m.k + 1) as f64,
                chain_same_nodes: None,
                optimal_generated: None,
                gap_to_optimal: None,
                optimal_rounds: None,
                per_depth_acceptance: m.per_position_unconditional.clone(),
                distortion: distortions.next().flatten(),
                stop: None,
                seconds: r.seconds,
            })
            .collect()
    }

    /// The row of a stopping policy: the token rule's rounds at the cap K, each verifying D ≤ K
    /// drafts; its exact values over the first rounds (`rows:N`).
    fn stop(r: &ConfigResult, s: &super::stop::StopResult) -> StudyRow {
        let t = &s.tally;
        let (k, n) = (t.k, t.rounds);
        let (mean, sd) = (t.mean_generated(), t.sd_generated());
        let half = if n >= 2 {
            super::Z99 * sd / (n as f64).sqrt()
        } else {
            0.0
        };
        let e = &s.exact;
        // Comparable only on the same rounds: every round's rows were the exact values' rows.
        let within = (n >= 2 && n <= s.exact_rounds).then_some(
            e.generated_low <= mean + half + 1e-9 && mean - half <= e.generated_high + 1e-9,
        );
        let per_depth: Vec<f64> = (1..=k)
            .map(|d| {
                let reached: u64 = (0..=k)
                    .flat_map(|dd| (d..=k).map(move |tt| (dd, tt)))
                    .map(|(dd, tt)| t.joint[dd * (k + 1) + tt])
                    .sum();
                reached as f64 / n.max(1) as f64
            })
            .collect();
        StudyRow {
            rule: Rule::Token,
            tree: format!("chain:{k}"),
            tree_label: format!("chain:{k}"),
            nodes: k + 1,
            depth: k,
            k: Some(k),
            builder: None,
            node_budget: None,
            workload: r.config.workload.clone(),
            label: format!("{} (stop {})", r.config.workload.label(), t.policy),
            engine: r.engine.clone(),
            recovery: r.config.recovery,
            seed: r.config.seed,
            rounds: n,
            mean_accepted: mean - 1.0,
            mean_generated: mean,
            sd_generated: sd,
            ci99_low: mean - half,
            ci99_high: mean + half,
            ci_defined: n >= 2,
            exact_mean_generated: e.exact.then_some(e.generated_low),
            exact_given: e.exact.then_some(super::stop::EXACT_GIVEN_FIRST_ROWS),
            within_ci99: within,
            paired_z: None,
            gain_over_token: None,
            mean_acceptance_rate: Some((mean - 1.0) / t.mean_drafted().max(f64::MIN_POSITIVE)),
            alpha: None,
            leviathan_mean_generated: None,
            generated_per_position: mean / (t.mean_drafted() + 1.0),
            chain_same_nodes: None,
            optimal_generated: None,
            gap_to_optimal: None,
            optimal_rounds: None,
            per_depth_acceptance: per_depth,
            distortion: None,
            stop: Some(s.clone()),
            seconds: r.seconds,
        }
    }

    /// The row of a tree study's result.
    pub fn tree(r: &TreeStudyResult) -> StudyRow {
        let t = &r.config.tree;
        let (nodes, depth) = (r.nodes, r.depth);
        let mut label = r.config.workload.label();
        if r.rule != Rule::Token {
            label += &format!(" ({})", r.rule);
        }
        StudyRow {
            rule: r.rule,
            tree: t.spec.clone(),
            tree_label: t.label(),
            nodes,
            depth,
            k: (t.is_chain() && t.spec != super::tree::PER_ROUND).then_some(depth),
            builder: r.config.design.as_ref().map(|d| d.builder.clone()),
            node_budget: r.config.design.as_ref().map(|d| d.budget),
            workload: r.config.workload.clone(),
            label,
            engine: r.engine.clone(),
            recovery: r.config.recovery,
            seed: r.config.seed,
            rounds: r.rounds,
            mean_accepted: r.mean_generated - 1.0,
            mean_generated: r.mean_generated,
            sd_generated: r.sd_generated,
            ci99_low: r.mean_generated - r.ci99_half,
            ci99_high: r.mean_generated + r.ci99_half,
            ci_defined: r.rounds >= 2,
            exact_mean_generated: r.exact_mean_generated,
            exact_given: r.exact_mean_generated.map(|_| {
                if r.exact_estimated {
                    ESTIMATE_WOR
                } else {
                    EXACT_GIVEN_ROWS
                }
            }),
            within_ci99: r.within_ci99,
            paired_z: r.paired_z,
            gain_over_token: None,
            mean_acceptance_rate: (depth > 0).then(|| (r.mean_generated - 1.0) / depth as f64),
            alpha: None,
            leviathan_mean_generated: None,
            generated_per_position: r.generated_per_position,
            chain_same_nodes: r.chain_same_nodes,
            optimal_generated: r.optimal_generated,
            gap_to_optimal: r.gap_to_optimal,
            optimal_rounds: r.optimal_generated.map(|_| r.optimal_rounds),
            per_depth_acceptance: r.per_depth.clone(),
            // A file's rounds (`per-round` or a file's tree) are not regenerated.
            distortion: if t.spec == super::tree::PER_ROUND {
                None
            } else {
                study_distortion(
                    &r.config.workload,
                    r.config.seed,
                    r.rounds,
                    t.is_chain().then_some(depth),
                    r.rule,
                    r.config.recovery,
                )
            },
            stop: None,
            seconds: r.seconds,
        }
    }
}
