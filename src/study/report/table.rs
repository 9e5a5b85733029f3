//! The table printed on stdout.

use super::{ConfigResult, Results, best_k};
use crate::cost::Costs;
use crate::study::walltime_improvement;

/// The human-readable table of a study's results.
pub fn table(results: &Results, costs: &Costs) -> String {
    match results {
        Results::Chain(rs) => chain_table(rs, results, costs),
        Results::Tree(rs) => super::tree::tree_table(rs, costs) + &batch_lines(results, costs),
    }
}

/// With a profile: the best configuration per batch size.
fn batch_lines(results: &Results, costs: &Costs) -> String {
    let Some(cost) = &costs.profile else {
        return String::new();
    };
    let mut s = format!(
        "
best per batch size (speedup against plain decoding, {}):
",
        super::profile_source(cost)
    );
    for b in best_k(results, costs)
        .iter()
        .filter(|b| b.get("batch").is_some())
    {
        s += &format!(
            "  {:<40} B = {:<5} {:<14} x{:.3}  ({:.4} tokens/ms, {})\n",
            b["label"].as_str().unwrap_or(""),
            b["batch"].as_u64().unwrap_or(0),
            b["best_tree"].as_str().unwrap_or(""),
            b["speedup"].as_f64().unwrap_or(0.0),
            b["goodput"].as_f64().unwrap_or(0.0),
            b["from"].as_str().unwrap_or("")
        );
    }
    s
}

/// A chain study's table: one block per configuration, a line per K.
fn chain_table(rs: &[ConfigResult], results: &Results, costs: &Costs) -> String {
    let mut s = String::new();
    let stops: Vec<&ConfigResult> = rs.iter().filter(|r| r.stop.is_some()).collect();
    for r in rs.iter().filter(|r| r.stop.is_none()) {
        s += &format!(
            "\n{}  (V = {}, {} rounds, {}, rule {}, recovery {:?}, {:.1} s)\n",
            r.label(),
            r.config.workload.vocab,
            r.tally.rounds,
            r.engine,
            r.rule,
            r.config.recovery,
            r.seconds
        );
        s += &format!(
            "{:>3} {:>9} {:>9} {:>19} {:>6} {:>7} {:>9}",
            "K", "mean gen", "exact", "99% CI", "in CI", "alpha", "Leviathan"
        );
        for c in &costs.ratios {
            s += &format!(" {:>9}", format!("x c={c}"));
        }
        let per_k = r.per_k.as_ref();
        if per_k.is_some() {
            s += &format!("  {:>8} {:>19}", "gain", "gain 99% CI");
        }
        s += "\n";
        for m in r.metrics() {
            s += &format!(
                "{:>3} {:>9.4} {:>9.4} {:>19} {:>6} {:>7.4} {:>9.4}",
                m.k,
                m.mean_generated,
                m.exact_mean_generated,
                format!("[{:.4}, {:.4}]", m.ci99_low, m.ci99_high),
                match (m.ci_defined, m.within_ci99) {
                    (false, _) => "n/a",
                    (true, true) => "yes",
                    (true, false) => "NO",
                },
                m.alpha,
                m.leviathan_mean_generated
            );
            for &c in &costs.ratios {
                s += &format!(" {:>9.4}", walltime_improvement(m.mean_generated, m.k, c));
            }
            if let Some(g) = m.gain_over_token {
                let ci = if g.ci99_low.is_nan() {
                    "n/a".to_string()
                } else {
                    format!("[{:+.4}, {:+.4}]", g.ci99_low, g.ci99_high)
                };
                s += &format!("  {:>+8.4} {:>19}", g.mean, ci);
            }
            s += "\n";
        }
        if let Some(bt) = per_k {
            s += &format!(
                "    exact ({}): 1 + E[tau] given the {}\n",
                r.rule,
                if bt.enumerated_sum.is_some() {
                    "rows (every drafted sequence enumerated)"
                } else {
                    "rows, estimated by 1 + sum of P_i over the rounds (an unbiased estimate, not exact; 'in CI' tests tau - sum P_i against 0)"
                }
            );
        }
    }
    if !stops.is_empty() {
        s += &stop_table(&stops);
    }
    s += "\nbest K (simulated walltime improvement = mean generated / (K c + 1)):\n";
    for b in best_k(results, costs)
        .iter()
        .filter(|b| b.get("cost_ratio").is_some())
    {
        s += &format!(
            "  {:<40} c = {:<6} K = {:<3} x{:.3}\n",
            b["label"].as_str().unwrap_or(""),
            b["cost_ratio"],
            b["best_k"],
            b["speedup"].as_f64().unwrap_or(0.0)
        );
    }
    s + &batch_lines(results, costs)
}

/// The stopping policies' lines: per policy its mean D and tokens generated, the exact values (or
/// their bracket) on the first rounds, and its rate against the Bellman bound.
fn stop_table(stops: &[&ConfigResult]) -> String {
    let mut s = String::new();
    let mut last = String::new();
    for r in stops {
        let Some(st) = &r.stop else { continue };
        let label = r.config.workload.label();
        if label != last {
            s += &format!(
                "\nstopping policies, {label}  (V = {}, cap K = {}, {} rounds; rate = generated per unit of time, simulated on every round; exact values and the bound on the first {} rounds)\n",
                r.config.workload.vocab, st.tally.k, st.tally.rounds, st.exact_rounds
            );
            s += &format!(
                "{:<18} {:>7} {:>9} {:>19} {:>9} {:>19} {:>19}\n",
                "policy", "mean D", "mean gen", "exact gen", "rate", "exact rate", "Bellman bound"
            );
            last = label;
        }
        let e = &st.exact;
        let pair = |lo: Option<f64>, hi: Option<f64>| match (lo, hi) {
            (Some(a), Some(b)) if (a - b).abs() <= 1e-12 * a.abs().max(1.0) => format!("{a:.4}"),
            (Some(a), Some(b)) => format!("[{a:.4}, {b:.4}]"),
            _ => "n/a".into(),
        };
        s += &format!(
            "{:<18} {:>7.3} {:>9.4} {:>19} {:>9} {:>19} {:>19}\n",
            st.tally.policy.to_string(),
            st.tally.mean_drafted(),
            st.tally.mean_generated(),
            pair(Some(e.generated_low), Some(e.generated_high)),
            st.rate_per_cost()
                .map_or("n/a".into(), |x| format!("{x:.4}")),
            pair(e.rate_low, e.rate_high),
            pair(st.bellman_rate.map(|b| b.0), st.bellman_rate.map(|b| b.1)),
        );
    }
    s
}
