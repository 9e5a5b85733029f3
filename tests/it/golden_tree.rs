//! The tree rules' f64 reference (SPEC §7, and §13's lossy rules) against golden cases made by
//! independent numpy float64 implementations (tests/data/make_tree_golden.py and
//! make_lossy_tree_golden.py; the data is committed): every rule on random and edge-case trees
//! and chains, the refusals, and the exact expectations.

use crate::common;

use serde_json::Value;
use specsim::Rule;
use specsim::round::json::Decided;
use specsim::round::{FlatRound, RoundOptions};

fn doc() -> Value {
    common::tree_golden()
}

fn options(case: &Value) -> RoundOptions {
    RoundOptions {
        allow_unnormalized: case["options"]["allow_unnormalized"]
            .as_bool()
            .unwrap_or(false),
        allow_empty_draft: false,
    }
}

fn rule(case: &Value) -> Rule {
    case["rule"].as_str().unwrap().parse().unwrap()
}

#[test]
fn tree_reference_matches_numpy_golden_cases() {
    let doc = doc();
    let cases = doc["cases"].as_array().unwrap();
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let rule = rule(case);
        let input: FlatRound = serde_json::from_value(case["input"].clone()).unwrap();
        let got = input.decide(rule, &options(case));
        if let Some(kind) = case["error"].as_str() {
            let e = got.expect_err(name);
            assert_eq!(e.kind(), kind, "{name}: wrong refusal: {e}");
            *counts.entry(format!("refused {kind}")).or_default() += 1;
            continue;
        }
        let got = got.unwrap_or_else(|e| panic!("{name}: refused: {e}"));
        let want = &case["expected"];
        let Decided::Tree(got) = got else {
            panic!("{name}: a chain result")
        };
        let ints = |v: &Value| -> Vec<u32> { serde_json::from_value(v.clone()).unwrap() };
        assert_eq!(
            got.accepted_tokens,
            ints(&want["accepted_tokens"]),
            "{name}"
        );
        assert_eq!(got.accepted_nodes, ints(&want["accepted_nodes"]), "{name}");
        assert_eq!(
            got.num_generated as u64,
            want["num_generated"].as_u64().unwrap(),
            "{name}"
        );
        assert_eq!(
            got.acceptance_rate.to_bits(),
            want["acceptance_rate"].as_f64().unwrap().to_bits(),
            "{name}"
        );
        // On a chain, rrs, rrs-wor and spectr are the token rule.
        if let Some(tok) = case.get("token_expected") {
            let t = input.decode_rule(Rule::Token, &options(case)).unwrap();
            assert_eq!(t.accepted_tokens, ints(&tok["accepted_tokens"]), "{name}");
            assert_eq!(t.accepted_tokens, got.accepted_tokens, "{name}");
            *counts.entry(format!("{rule} = token")).or_default() += 1;
        }
        *counts.entry(rule.name().to_string()).or_default() += 1;
    }
    for r in Rule::TREE {
        assert!(
            counts.get(r.name()).copied().unwrap_or(0) >= 80,
            "{counts:?}"
        );
    }
    for kind in [
        "length",
        "bad_parent",
        "token_out_of_range",
        "coin_out_of_range",
        "not_normalized",
        "duplicate_sibling",
        "zero_draft_probability",
    ] {
        assert!(
            counts.contains_key(&format!("refused {kind}")),
            "{kind}: {counts:?}"
        );
    }
    for rule in ["rrs", "rrs-wor", "spectr"] {
        assert!(
            counts[&format!("{rule} = token")] >= 10,
            "{rule}: {counts:?}"
        );
    }
}

/// The exact expectations the studies overlay (each rule's, src/reference/tree/) against the numpy script's
/// brute-force enumeration over the children's tokens (drawn as each rule assumes) and the
/// coins, on small trees and vocabularies.
#[test]
fn exact_expectations_match_numpy_enumeration() {
    use specsim::reference::tree::expect::{expected_generated, top_m};
    use specsim::topology::Tree;
    let doc = doc();
    let cases = doc["expectations"].as_array().unwrap();
    let mut checked = std::collections::BTreeMap::<String, usize>::new();
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let rule = rule(case);
        let parents: Vec<i64> = serde_json::from_value(case["parents"].clone()).unwrap();
        let tree = Tree::from_parents(&parents).unwrap();
        let rows = |k: &str| -> Vec<f64> {
            let r: Vec<Vec<f64>> = serde_json::from_value(case[k].clone()).unwrap();
            r.concat()
        };
        let (d, t) = (rows("draft_probs"), rows("target_probs"));
        let v = t.len() / tree.len();
        // greedy and target-only: the draft's top-m children (ties to the lowest id).
        let mut tokens = vec![0u32; tree.len()];
        for u in 0..tree.len() {
            let ch = tree.children(u);
            let row = &d[u * v..(u + 1) * v];
            for (&c, x) in ch.iter().zip(top_m(row, v, ch.len())) {
                tokens[c as usize] = x as u32;
            }
        }
        let got = expected_generated(rule, &tree, &d[..], &t[..], &tokens, v)
            .unwrap_or_else(|| panic!("{name}: no exact value"));
        let want = case["e_generated"].as_f64().unwrap();
        assert!(
            (got - want).abs() <= 1e-9 * want.max(1.0),
            "{name}: {got} vs numpy {want}"
        );
        *checked.entry(rule.name().to_string()).or_default() += 1;
    }
    for r in Rule::TREE {
        assert!(
            checked.get(r.name()).copied().unwrap_or(0) >= 10,
            "{checked:?}"
        );
    }
}

/// `round::node::tree_expectation` (the checked entry Python's `specsim.tree_expectation`
/// calls) equals the numpy enumeration on every golden expectation, and each rule's positional
/// vector (`positional_acceptance`) gives a star tree's expectation: `1 + Σ_j P[j]`.
#[test]
fn tree_expectation_and_positional_vectors_match_numpy() {
    use specsim::round::node::{NodeOptions, positional_acceptance, tree_expectation};
    use specsim::topology::Tree;
    let doc = doc();
    let opts = NodeOptions {
        allow_unnormalized: true,
        skip_impossible: false,
    };
    let mut checked = 0;
    for case in doc["expectations"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let rule = rule(case);
        let parents: Vec<i64> = serde_json::from_value(case["parents"].clone()).unwrap();
        let rows = |k: &str| -> Vec<Vec<f64>> { serde_json::from_value(case[k].clone()).unwrap() };
        let (d, t) = (rows("draft_probs"), rows("target_probs"));
        let v = t[0].len();
        // Leaves' draft rows are all zeros in the golden file: not read.
        let got = tree_expectation(&parents, &t.concat(), &d.concat(), v, rule, &opts)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let want = case["e_generated"].as_f64().unwrap();
        assert!(
            (got - want).abs() <= 1e-9 * want.max(1.0),
            "{name}: {got} vs numpy {want}"
        );
        // The root's positional vector against the root as a star of leaves.
        let tree = Tree::from_parents(&parents).unwrap();
        let m = tree.children(0).len();
        let p = positional_acceptance(&t[0], &d[0], m, rule, &opts).unwrap();
        let star: Vec<i64> = std::iter::once(-1)
            .chain(std::iter::repeat_n(0, m))
            .collect();
        let mut st = vec![t[0].clone()];
        let mut sd = vec![d[0].clone()];
        for _ in 0..m {
            st.push(vec![1.0 / v as f64; v]);
            sd.push(vec![0.0; v]);
        }
        let e = tree_expectation(&star, &st.concat(), &sd.concat(), v, rule, &opts).unwrap();
        assert!(
            (1.0 + p.iter().sum::<f64>() - e).abs() < 1e-12,
            "{name}: 1 + sum {p:?} vs {e}"
        );
        assert!(p.iter().all(|&x| (-1e-15..=1.0 + 1e-15).contains(&x)));
        checked += 1;
    }
    assert!(checked >= 50, "{checked}");
    // Refusals: a chain rule, no children, rrs-wor beyond its budget.
    let t = vec![0.5, 0.5];
    let o = NodeOptions::default();
    assert!(positional_acceptance(&t, &t, 2, Rule::Token, &o).is_err());
    assert!(positional_acceptance(&t, &t, 0, Rule::Rrs, &o).is_err());
    let big = vec![1.0 / 2000.0; 2000];
    assert!(positional_acceptance(&big, &big, 3, Rule::RrsWor, &o).is_err());
    assert!(positional_acceptance(&big, &big, 3, Rule::Rrs, &o).is_ok());
}
