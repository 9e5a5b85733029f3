//! `results.json`.

use serde_json::{Value, json};

use super::{ConfigResult, best_k, rows};

/// The document written as `results.json`: the rows plus per-position arrays, histograms, the
/// best K per cost ratio and each configuration's tally.
pub fn json_doc(results: &[ConfigResult], cost_ratios: &[f64]) -> Value {
    let rows = rows(results, cost_ratios);
    let mut i = 0;
    let mut configs = Vec::new();
    for r in results {
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
            "tally": r.tally,
            "block_tally": r.per_k,
            "rows": per_k,
        }));
    }
    json!({
        "cost_ratios": cost_ratios,
        "configurations": configs,
        "best_k": best_k(results, cost_ratios),
    })
}
