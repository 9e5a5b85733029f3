//! `results.json`.

use serde_json::{Value, json};

use super::{Results, best_k, profile_source, rows};
use crate::cost::Costs;

/// The document written as `results.json`: per configuration its rows (the columns of
/// `results.csv`; a chain row adds per-position arrays and its histogram), the best K per cost
/// ratio (chains) and each chain configuration's tally.
pub fn json_doc(results: &Results, costs: &Costs) -> Value {
    let rows = rows(results, costs);
    let mut i = 0;
    let mut configs = Vec::new();
    match results {
        Results::Chain(rs) => {
            for r in rs {
                if let Some(s) = &r.stop {
                    // A stopping policy's one row, with its rounds by D and τ.
                    let mut obj: serde_json::Map<String, Value> = rows[i].iter().cloned().collect();
                    i += 1;
                    let k1 = s.tally.k + 1;
                    let pmf: Vec<f64> = (0..k1)
                        .map(|d| {
                            s.tally.joint[d * k1..(d + 1) * k1].iter().sum::<u64>() as f64
                                / s.tally.rounds.max(1) as f64
                        })
                        .collect();
                    obj.insert("pmf_drafted".into(), json!(pmf));
                    obj.insert("stop_exact".into(), json!(s.exact));
                    configs.push(json!({
                        "label": r.label(),
                        "config": r.config,
                        "engine": r.engine,
                        "seconds": r.seconds,
                        "rule": r.rule,
                        "stop": s.tally.policy,
                        "stop_tally": s.tally,
                        "rows": [obj],
                    }));
                    continue;
                }
                let mut per_k = Vec::new();
                for m in r.metrics() {
                    let mut obj: serde_json::Map<String, Value> = rows[i].iter().cloned().collect();
                    obj.insert(
                        "per_position_conditional".into(),
                        json!(m.per_position_conditional),
                    );
                    obj.insert(
                        "per_position_unconditional".into(),
                        json!(m.per_position_unconditional),
                    );
                    obj.insert("empirical_beta".into(), json!(m.per_position_conditional));
                    obj.insert("exact_beta".into(), json!(m.exact_beta));
                    obj.insert("histogram".into(), json!(m.histogram));
                    per_k.push(Value::Object(obj));
                    i += 1;
                }
                configs.push(json!({
                    "label": r.label(),
                    "config": r.config,
                    "engine": r.engine,
                    "seconds": r.seconds,
                    "rule": r.rule,
                    "tally": r.tally.to_json(),
                    "block_tally": r.per_k.as_ref().map(|t| t.to_json()),
                    "rows": per_k,
                }));
            }
        }
        Results::Tree(rs) => {
            for r in rs {
                let obj: serde_json::Map<String, Value> = rows[i].iter().cloned().collect();
                i += 1;
                configs.push(json!({
                    "label": super::tree::workload_label(r),
                    "config": r.config,
                    "engine": r.engine,
                    "seconds": r.seconds,
                    "rule": r.rule,
                    "rows": [obj],
                }));
            }
        }
    }
    json!({
        "cost_ratios": costs.ratios,
        "cost_profile": costs.profile.as_ref().map(profile_source),
        "batch_sizes": costs.batches,
        "configurations": configs,
        "best_k": best_k(results, costs),
    })
}
