//! Adaptive draft length (SPEC §11): the exact values of every stopping policy and the Bellman
//! bound against an independent numpy implementation (tests/data/make_adaptive_golden.py), which
//! runs each policy as a procedure on every drafted sequence and finds the bound by trying every
//! deterministic policy.

use serde_json::Value;
use specsim::reference::adaptive::{Policy, adaptive_bracket, adaptive_exact, bellman_bound};
use specsim::reference::adaptive_grid::{RoundGrid, StepCosts, bellman_grid};

fn rows(v: &Value) -> Vec<Vec<f64>> {
    serde_json::from_value(v.clone()).unwrap()
}

#[test]
fn policies_and_the_bellman_bound_equal_the_numpy_enumeration() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/golden_adaptive.json"
    ))
    .unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    let cases = doc["cases"].as_array().unwrap();
    assert!(cases.len() >= 40);
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * b.abs().max(1.0);
    let mut checked = 0;
    for (n, case) in cases.iter().enumerate() {
        let (q, p) = (rows(&case["draft"]), rows(&case["target"]));
        let c = case["cost_ratio"].as_f64().unwrap();
        let bound = bellman_bound(&q, &p, c).unwrap();
        let want = case["bellman_rate"].as_f64().unwrap();
        assert!(
            close(bound.rate_high, want),
            "case {n}: bound {} vs {want}",
            bound.rate_high
        );
        assert!(
            close(bound.rate_low, want),
            "case {n}: policy {} vs {want}",
            bound.rate_low
        );
        assert!(bound.rate_low <= bound.rate_high, "case {n}");
        // The bound's own policy reaches it.
        let b = adaptive_exact(&q, &p, Policy::Bellman, c).unwrap();
        assert!(
            close(b.rate, want),
            "case {n}: bellman policy {} vs {want}",
            b.rate
        );
        for (name, w) in case["policies"].as_object().unwrap() {
            let policy: Policy = name.parse().unwrap();
            let got = adaptive_exact(&q, &p, policy, c).unwrap();
            for key in [
                "expected_drafted",
                "expected_accepted",
                "expected_draft_steps",
                "rate",
            ] {
                let g = serde_json::to_value(&got).unwrap()[key].as_f64().unwrap();
                let e = w[key].as_f64().unwrap();
                assert!(close(g, e), "case {n} {name} {key}: {g} vs numpy {e}");
            }
            let pmf: Vec<f64> = serde_json::from_value(w["pmf_drafted"].clone()).unwrap();
            for (a, b) in got.pmf_drafted.iter().zip(&pmf) {
                assert!(
                    close(*a, *b),
                    "case {n} {name} pmf: {:?} vs {pmf:?}",
                    got.pmf_drafted
                );
            }
            // No policy (that spends no discarded draft) beats the bound.
            if !name.starts_with("top1") {
                assert!(
                    got.rate <= bound.rate_high * (1.0 + 1e-12),
                    "case {n} {name}"
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 500, "{checked}");
}

/// `fixed:K` is SPEC §5's `1 + Σ_k Π_{i≤k} β_i`; parsing and refusals.
#[test]
fn fixed_k_is_the_theory_and_bad_policies_are_refused() {
    let q = vec![
        vec![0.5, 0.3, 0.2],
        vec![0.2, 0.2, 0.6],
        vec![0.6, 0.3, 0.1],
    ];
    let p = vec![
        vec![0.4, 0.4, 0.2],
        vec![0.1, 0.3, 0.6],
        vec![0.3, 0.3, 0.4],
        vec![0.2, 0.5, 0.3],
    ];
    let beta = |i: usize| -> f64 {
        q[i].iter()
            .zip(&p[i])
            .map(|(a, b): (&f64, &f64)| a.min(*b))
            .sum()
    };
    let want = 1.0 + beta(0) + beta(0) * beta(1) + beta(0) * beta(1) * beta(2);
    let got = adaptive_exact(&q, &p, "fixed:3".parse().unwrap(), 0.1).unwrap();
    assert!((got.expected_generated - want).abs() < 1e-15);
    assert_eq!(got.expected_drafted, 3.0);
    assert_eq!(got.pmf_drafted, vec![0.0, 0.0, 0.0, 1.0]);
    for bad in [
        "fixed:0",
        "hf:2",
        "top1",
        "entropy:-1:0",
        "specdecpp:x",
        "never",
    ] {
        assert!(bad.parse::<Policy>().is_err(), "{bad}");
    }
    for good in [
        "fixed:4",
        "hf:0.5",
        "top1:0.9",
        "entropy:0.5:0.2",
        "specdecpp:0.3",
        "oracle:0.8",
        "bellman",
    ] {
        let p: Policy = good.parse().unwrap();
        assert_eq!(p.to_string().parse::<Policy>().unwrap(), p);
    }
    // Beyond the enumeration budget the path-dependent policies are bracketed, and say so.
    let big = vec![vec![1.0 / 64.0; 64]; 3];
    let bigp = vec![vec![1.0 / 64.0; 64]; 4];
    let b = bellman_bound(&big, &bigp, 0.1).unwrap();
    assert!(!b.exact);
    // q = p: every draft is accepted; drafting all three is best: rate 4 / 1.3.
    assert!(
        b.rate_low <= 4.0 / 1.3 + 1e-12 && 4.0 / 1.3 <= b.rate_high + 1e-12,
        "{b:?}"
    );
    let e = adaptive_exact(&big, &bigp, "specdecpp:0.5".parse().unwrap(), 0.1).unwrap();
    assert!(!e.exact && e.pmf_drafted.is_empty());
    assert!(
        adaptive_exact(&big, &bigp, "hf:0.01".parse().unwrap(), 0.1)
            .unwrap()
            .exact
    );
    // V = 1 passes any V^K budget: K beyond the enumeration's cap is bracketed, not walked
    // 100000 deep.
    let one = vec![vec![1.0]; 100_000];
    let onep = vec![vec![1.0]; 100_001];
    let b = bellman_bound(&one, &onep, 0.1).unwrap();
    let want = 100_001.0 / 10_001.0;
    assert!(!b.exact && b.rate_low <= want * (1.0 + 1e-9) && want <= b.rate_high * (1.0 + 1e-9));
    let e = adaptive_exact(&one, &onep, "specdecpp:0.5".parse().unwrap(), 0.1).unwrap();
    assert!(
        !e.exact && e.generated_low <= 100_001.0 + 1e-6 && e.generated_high >= 100_001.0 - 1e-6
    );
    assert!(adaptive_exact(&one, &onep, "hf:0.5".parse().unwrap(), 0.1).is_ok());
}

/// Beyond enumeration: the grid's brackets (`specsim::reference::adaptive_grid`) contain the
/// enumerated values on every golden case: specdecpp's `E[D]`, `E[generated]` and rate, and the
/// Bellman bound; and the grid's Bellman policy is a real policy (its rate is at most the
/// bound).
#[test]
fn grid_brackets_contain_the_enumerated_values() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/golden_adaptive.json"
    ))
    .unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    let tol = 1e-12;
    let mut widths = Vec::new();
    for (n, case) in doc["cases"].as_array().unwrap().iter().enumerate() {
        let (q, p) = (rows(&case["draft"]), rows(&case["target"]));
        let c = case["cost_ratio"].as_f64().unwrap();
        for h in [0.1, 0.3, 0.6] {
            let pol = Policy::SpecDecPp(h);
            let ex = adaptive_exact(&q, &p, pol, c).unwrap();
            let br = adaptive_bracket(&q, &p, pol, c).unwrap();
            assert!(ex.exact && !br.exact);
            let inside = |lo: f64, x: f64, hi: f64| lo <= x + tol && x <= hi + tol;
            assert!(
                inside(br.drafted_low, ex.expected_drafted, br.drafted_high),
                "case {n} {pol}: {br:?} vs {ex:?}"
            );
            assert!(
                inside(br.generated_low, ex.expected_generated, br.generated_high),
                "case {n} {pol}"
            );
            assert!(inside(br.rate_low, ex.rate, br.rate_high), "case {n} {pol}");
            widths.push(br.generated_high - br.generated_low);
        }
        let exact = bellman_bound(&q, &p, c).unwrap();
        let g = RoundGrid::new(&normalized(&q), &normalized(&p));
        let grid = bellman_grid(std::slice::from_ref(&g), &StepCosts::ratio(c, q.len()));
        assert!(
            grid.rate_low <= exact.rate_low * (1.0 + tol)
                && exact.rate_high <= grid.rate_high * (1.0 + tol),
            "case {n}: grid {grid:?} vs exact {exact:?}"
        );
        let pol = adaptive_bracket(&q, &p, Policy::Bellman, c).unwrap();
        assert!(pol.rate_low <= exact.rate_high * (1.0 + tol), "case {n}");
    }
    // Not vacuous and not loose: the brackets are narrow on most cases.
    widths.sort_by(f64::total_cmp);
    assert!(
        widths[widths.len() / 2] < 0.05,
        "median width {}",
        widths[widths.len() / 2]
    );
}

fn normalized(rows: &[Vec<f64>]) -> Vec<Vec<f64>> {
    rows.iter()
        .map(|r| {
            let s: f64 = r.iter().sum();
            r.iter().map(|x| x / s).collect()
        })
        .collect()
}
