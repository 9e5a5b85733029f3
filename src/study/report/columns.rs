//! The column table of every study output: one [`Column`] per column of `results.csv`, in order,
//! each with the function that gives its value for a [`StudyRow`]. `results.csv` is the rows
//! through it, `results.json`'s rows are the same objects, and Python's `specsim.study` returns
//! them as dicts. A new column is one line here.

use serde_json::{Value, json};

use crate::cost::{Cost, Costs, RoundShape};
use crate::study::row::StudyRow;
use crate::study::walltime_improvement;

/// One output column: its name and its value in a row.
pub struct Column {
    /// The column's name (a CSV header, a JSON key, a Python dict key).
    pub name: &'static str,
    /// Its value in a row (`null`, an empty CSV cell, where it has none).
    pub value: fn(&StudyRow) -> Value,
}

/// A family parameter's column: the family's own, null for the others (and for the family's own
/// when it is drawn per position: the `spread` column says from what).
fn param(r: &StudyRow, name: &str) -> Value {
    if r.workload.spread.is_some() && matches!(name, "sigma" | "lambda") {
        return Value::Null;
    }
    r.workload
        .family
        .param_columns()
        .into_iter()
        .find(|(n, _)| *n == name)
        .map_or(Value::Null, |(_, v)| v)
}

/// The columns of `results.csv`, in order (the speedup columns of each cost ratio follow:
/// [`speedup_columns`]).
pub const COLUMNS: &[Column] = &[
    Column {
        name: "family",
        value: |r| json!(r.workload.family.name()),
    },
    Column {
        name: "label",
        value: |r| json!(r.label),
    },
    Column {
        name: "engine",
        value: |r| json!(r.engine),
    },
    Column {
        name: "rule",
        value: |r| json!(r.rule),
    },
    Column {
        name: "recovery",
        value: |r| json!(r.recovery),
    },
    Column {
        name: "vocab",
        value: |r| json!(r.workload.vocab),
    },
    Column {
        name: "t_target",
        value: |r| json!(r.workload.t_target),
    },
    Column {
        name: "t_draft",
        value: |r| json!(r.workload.t_draft),
    },
    Column {
        name: "zipf",
        value: |r| json!(r.workload.zipf),
    },
    Column {
        name: "sigma",
        value: |r| param(r, "sigma"),
    },
    Column {
        name: "lambda",
        value: |r| param(r, "lambda"),
    },
    Column {
        name: "bits",
        value: |r| param(r, "bits"),
    },
    Column {
        name: "rates",
        value: |r| param(r, "rates"),
    },
    Column {
        name: "seed",
        value: |r| json!(r.seed),
    },
    Column {
        name: "tree",
        value: |r| json!(r.tree),
    },
    Column {
        name: "nodes",
        value: |r| json!(r.nodes),
    },
    Column {
        name: "depth",
        value: |r| json!(r.depth),
    },
    Column {
        name: "k",
        value: |r| json!(r.k),
    },
    Column {
        name: "builder",
        value: |r| json!(r.builder),
    },
    Column {
        name: "node_budget",
        value: |r| json!(r.node_budget),
    },
    Column {
        name: "rounds",
        value: |r| json!(r.rounds),
    },
    Column {
        name: "mean_accepted",
        value: |r| json!(r.mean_accepted),
    },
    Column {
        name: "mean_generated",
        value: |r| json!(r.mean_generated),
    },
    Column {
        name: "sd_generated",
        value: |r| json!(r.sd_generated),
    },
    Column {
        name: "ci99_low",
        value: |r| json!(r.ci99_low),
    },
    Column {
        name: "ci99_high",
        value: |r| json!(r.ci99_high),
    },
    Column {
        name: "exact_mean_generated",
        value: |r| json!(r.exact_mean_generated),
    },
    Column {
        name: "exact_given",
        value: |r| json!(r.exact_given),
    },
    Column {
        name: "within_ci99",
        value: |r| json!(r.within_ci99),
    },
    Column {
        name: "paired_z",
        value: |r| json!(r.paired_z),
    },
    Column {
        name: "gain_over_token",
        value: |r| json!(r.gain_over_token.map(|g| g.mean)),
    },
    Column {
        name: "gain_ci99_low",
        value: |r| json!(r.gain_over_token.map(|g| g.ci99_low)),
    },
    Column {
        name: "gain_ci99_high",
        value: |r| json!(r.gain_over_token.map(|g| g.ci99_high)),
    },
    Column {
        name: "mean_acceptance_rate",
        value: |r| json!(r.mean_acceptance_rate),
    },
    Column {
        name: "alpha",
        value: |r| json!(r.alpha),
    },
    Column {
        name: "leviathan_mean_generated",
        value: |r| json!(r.leviathan_mean_generated),
    },
    Column {
        name: "generated_per_position",
        value: |r| json!(r.generated_per_position),
    },
    Column {
        name: "chain_same_nodes",
        value: |r| json!(r.chain_same_nodes),
    },
    Column {
        name: "optimal_generated",
        value: |r| json!(r.optimal_generated),
    },
    Column {
        name: "gap_to_optimal",
        value: |r| json!(r.gap_to_optimal),
    },
    Column {
        name: "optimal_rounds",
        value: |r| json!(r.optimal_rounds),
    },
    Column {
        name: "per_depth_acceptance",
        value: |r| {
            json!(
                r.per_depth_acceptance
                    .iter()
                    .map(|x| format!("{x:.6}"))
                    .collect::<Vec<_>>()
                    .join(";")
            )
        },
    },
    Column {
        name: "tv_low",
        value: |r| json!(r.distortion.as_ref().map(|d| d.tv_low)),
    },
    Column {
        name: "tv_high",
        value: |r| json!(r.distortion.as_ref().map(|d| d.tv_high)),
    },
    Column {
        name: "tokens_changed",
        value: |r| json!(r.distortion.as_ref().map(|d| d.tokens_changed)),
    },
    Column {
        name: "tv_exact",
        value: |r| json!(r.distortion.as_ref().and_then(|d| d.tv_exact)),
    },
    Column {
        name: "distortion_given",
        value: |r| json!(r.distortion.as_ref().map(|d| d.given.clone())),
    },
    Column {
        name: "spread",
        value: |r| json!(r.workload.spread.map(|s| s.to_string())),
    },
    Column {
        name: "stop",
        value: |r| json!(r.stop.as_ref().map(|s| s.tally.policy.to_string())),
    },
    Column {
        name: "mean_drafted",
        value: |r| json!(r.stop.as_ref().map(|s| s.tally.mean_drafted())),
    },
    Column {
        name: "exact_mean_drafted",
        value: |r| {
            json!(
                r.stop
                    .as_ref()
                    .filter(|s| s.exact.exact)
                    .map(|s| s.exact.drafted)
            )
        },
    },
    Column {
        name: "exact_low",
        value: |r| json!(r.stop.as_ref().map(|s| s.exact.generated_low)),
    },
    Column {
        name: "exact_high",
        value: |r| json!(r.stop.as_ref().map(|s| s.exact.generated_high)),
    },
    Column {
        name: "mean_draft_steps",
        value: |r| json!(r.stop.as_ref().map(|s| s.tally.mean_steps())),
    },
    Column {
        name: "rate_per_cost",
        value: |r| json!(r.stop.as_ref().and_then(|s| s.rate_per_cost())),
    },
    Column {
        name: "exact_rate_low",
        value: |r| json!(r.stop.as_ref().and_then(|s| s.exact.rate_low)),
    },
    Column {
        name: "exact_rate_high",
        value: |r| json!(r.stop.as_ref().and_then(|s| s.exact.rate_high)),
    },
    Column {
        name: "bellman_rate_low",
        value: |r| json!(r.stop.as_ref().and_then(|s| s.bellman_rate).map(|b| b.0)),
    },
    Column {
        name: "bellman_rate_high",
        value: |r| json!(r.stop.as_ref().and_then(|s| s.bellman_rate).map(|b| b.1)),
    },
    Column {
        name: "bellman_gap_low",
        value: |r| json!(r.stop.as_ref().and_then(|s| s.bellman_gap()).map(|g| g.0)),
    },
    Column {
        name: "bellman_gap_high",
        value: |r| json!(r.stop.as_ref().and_then(|s| s.bellman_gap()).map(|g| g.1)),
    },
    Column {
        name: "stop_exact_rounds",
        value: |r| json!(r.stop.as_ref().map(|s| s.exact_rounds)),
    },
    Column {
        name: "seconds",
        value: |r| json!(r.seconds),
    },
];

/// A round's cost in units of one target step with draft/target cost ratio c: `depth` draft
/// steps and one verification (K for a chain, Leviathan's `K c + 1`).
pub fn speedup(generated: f64, r: &StudyRow, c: f64) -> f64 {
    match &r.stop {
        // A stopping policy's round: its mean draft steps.
        Some(s) => generated / (s.tally.mean_steps() * c + 1.0),
        None => walltime_improvement(generated, r.depth, c),
    }
}

/// The columns of cost ratio c: `speedup_cC` (simulated), `exact_speedup_cC` and
/// `leviathan_speedup_cC` (where those exist).
pub fn speedup_columns(r: &StudyRow, c: f64) -> [(String, Value); 3] {
    [
        (
            format!("speedup_c{c}"),
            json!(speedup(r.mean_generated, r, c)),
        ),
        (
            format!("exact_speedup_c{c}"),
            // A stopping policy's exact rate is its `exact_rate_*` (on its first rounds).
            json!(
                r.exact_mean_generated
                    .filter(|_| r.stop.is_none())
                    .map(|e| speedup(e, r, c))
            ),
        ),
        (
            format!("leviathan_speedup_c{c}"),
            json!(r.leviathan_mean_generated.map(|e| speedup(e, r, c))),
        ),
    ]
}

/// A row as (column, value) pairs, in the order of `results.csv`.
pub fn row_values(r: &StudyRow, costs: &Costs) -> Vec<(String, Value)> {
    let mut out: Vec<(String, Value)> = COLUMNS
        .iter()
        .map(|c| (c.name.to_string(), (c.value)(r)))
        .collect();
    for &c in &costs.ratios {
        out.extend(speedup_columns(r, c));
    }
    if let Some(cost) = &costs.profile {
        for &b in &costs.batches {
            out.extend(goodput_columns(r, cost, b));
        }
        out.push(("goodput_from".into(), json!(generated_from(r))));
    }
    out
}

/// Where a row's `E[generated]` for costs comes from: `exact`, `estimate` (rrs-wor's unbiased
/// estimate beyond its enumeration budget) or `simulated` (no exact value).
pub fn generated_from(r: &StudyRow) -> &'static str {
    if r.stop.is_some() {
        // A policy's goodput: its simulated tokens over its simulated time, on every round.
        return "simulated";
    }
    match (r.exact_mean_generated, r.exact_given) {
        (None, _) => "simulated",
        (Some(_), Some(g)) if g == crate::study::ESTIMATE_WOR => "estimate",
        (Some(_), _) => "exact",
    }
}

/// `E[generated]` for costs: the exact value where there is one, otherwise the simulated mean.
pub fn cost_generated(r: &StudyRow) -> f64 {
    r.exact_mean_generated.unwrap_or(r.mean_generated)
}

/// A row's round: its draft steps (the depth) and query tokens per sequence (its nodes).
pub fn round_shape(r: &StudyRow) -> RoundShape {
    RoundShape {
        draft_steps: r.depth,
        tokens: r.nodes,
    }
}

/// The columns of batch size B under a profile: `goodput_bB` (tokens per ms for the batch) and
/// `speedup_bB` (against plain decoding at B), from [`cost_generated`].
pub fn goodput_columns(r: &StudyRow, cost: &Cost, b: u64) -> [(String, Value); 2] {
    if let Some(s) = &r.stop {
        // A stopping policy's rounds: the mean time over its D (the verification grows with
        // each drafted token).
        let t = s
            .tally
            .mean_time(&crate::study::stop::step_costs(cost, b, s.tally.k));
        let g = b as f64 * s.tally.mean_generated() / t;
        return [
            (format!("goodput_b{b}"), json!(g)),
            (format!("speedup_b{b}"), json!(g / cost.plain_goodput(b))),
        ];
    }
    let (e, shape) = (cost_generated(r), round_shape(r));
    [
        (format!("goodput_b{b}"), json!(cost.goodput(e, shape, b))),
        (format!("speedup_b{b}"), json!(cost.speedup(e, shape, b))),
    ]
}
