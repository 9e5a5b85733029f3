//! The optimal multi-draft bound alpha* (SPEC §8) against an independent numpy implementation
//! (tests/data/make_optimal_golden.py): brute force over every subset (so the prefix property the
//! reference relies on is tested, for `wor` with n ≥ 3 too), the coupling linear program behind
//! it (checked by the generator), the exact without-replacement containment of every prefix at
//! V = 200, rrs's acceptance; then the facts every bound obeys on random rows, and the command.

use crate::common;

use common::{assert_refused, specsim, specsim_stdin};
use rand::{Rng, SeedableRng};
use serde_json::Value;
use specsim::Rule;
use specsim::reference::optimal::{DraftMode, WOR_TOLERANCE, rule_acceptance, wor_containment};
use specsim::round::node::{node_alpha_star, node_bounds, normalized_rows};

fn floats(v: &Value) -> Vec<f64> {
    serde_json::from_value(v.clone()).unwrap()
}

#[test]
fn alpha_star_equals_brute_force_over_every_subset() {
    let doc = common::golden("golden_optimal.json.gz");
    let cases = doc["brute"].as_array().unwrap();
    assert!(cases.len() > 400);
    for (i, c) in cases.iter().enumerate() {
        let (p, q) = (floats(&c["p"]), floats(&c["q"]));
        let n = c["n"].as_u64().unwrap() as usize;
        let mode: DraftMode = c["mode"].as_str().unwrap().parse().unwrap();
        let want = c["alpha_star"].as_f64().unwrap();
        let got = node_alpha_star(&p, &q, n, mode).unwrap();
        assert!(
            (got.alpha_star - want).abs() < 1e-12,
            "case {i} ({mode}, n = {n}, V = {}): alpha* {} but brute force over every subset gives {want}{}",
            p.len(),
            got.alpha_star,
            if mode == DraftMode::Wor {
                ": the prefix property FAILS here (a counterexample)"
            } else {
                ""
            }
        );
        // Its set is a minimiser: p(H*) + 1 − Q(S ⊆ H*) is the bound.
        assert!(got.p_h >= -1e-15 && got.q_h <= 1.0 + 1e-12, "case {i}");
    }
}

#[test]
fn wor_containment_is_within_its_tolerance_of_the_exact_sums() {
    let doc = common::golden("golden_optimal.json.gz");
    for c in doc["wor_prefix"].as_array().unwrap() {
        let q = floats(&c["q"]);
        let n = c["n"].as_u64().unwrap() as usize;
        let want = floats(&c["contained"]);
        let got = wor_containment(&q, n);
        for (k, (g, w)) in got.iter().zip(&want).enumerate() {
            assert!(
                (g - w).abs() < WOR_TOLERANCE,
                "n = {n}, prefix {k}: {g} vs exact {w}"
            );
        }
    }
}

#[test]
fn rrs_acceptance_equals_numpy_and_never_exceeds_alpha_star_iid() {
    let doc = common::golden("golden_optimal.json.gz");
    for c in doc["rrs"].as_array().unwrap() {
        let (p, q) = normalized_rows(&floats(&c["p"]), &floats(&c["q"])).unwrap();
        let n = c["n"].as_u64().unwrap() as usize;
        let got = rule_acceptance(Rule::Rrs, &p, &q, n).unwrap();
        let want = c["acceptance"].as_f64().unwrap();
        assert!((got - want).abs() < 1e-12, "n = {n}: {got} vs {want}");
        let bound = node_alpha_star(&p, &q, n, DraftMode::Iid)
            .unwrap()
            .alpha_star;
        assert!(got <= bound + 1e-12, "rrs {got} > alpha*_iid {bound}");
    }
}

/// A random row: Dirichlet-like, sometimes with zeros, sometimes Zipf-peaked.
fn random_row(rng: &mut rand::rngs::StdRng, v: usize) -> Vec<f64> {
    let kind = rng.random_range(0..3);
    let mut x: Vec<f64> = (0..v)
        .map(|i| {
            let u: f64 = rng.random::<f64>().max(1e-300);
            match kind {
                0 => -u.ln(),
                1 if rng.random::<f64>() < 0.3 => 0.0,
                1 => -u.ln(),
                _ => (-u.ln()) / ((1 + i) as f64).powi(2),
            }
        })
        .collect();
    if x.iter().sum::<f64>() == 0.0 {
        x[0] = 1.0;
    }
    let s: f64 = x.iter().sum();
    x.iter_mut().for_each(|y| *y /= s);
    x
}

#[test]
fn every_bound_obeys_its_facts_on_random_rows() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(8);
    let mut checked = 0;
    for trial in 0..300 {
        let v = [3, 5, 8, 12, 40][trial % 5];
        let (p, q) = (random_row(&mut rng, v), random_row(&mut rng, v));
        let support = q.iter().filter(|&&x| x > 0.0).count();
        let overlap: f64 = p.iter().zip(&q).map(|(a, b)| a.min(*b)).sum();
        for n in 1..=4.min(support) {
            let b = node_bounds(&p, &q, &[n], &DraftMode::ALL).unwrap();
            let (iid, wor, top) = (&b[0], &b[1], &b[2]);
            let what = format!("trial {trial}, V = {v}, n = {n}");
            if n == 1 {
                assert!((iid.optimal.alpha_star - overlap).abs() < 1e-12, "{what}");
                assert!((wor.optimal.alpha_star - overlap).abs() < 1e-12, "{what}");
            }
            assert!(
                wor.optimal.alpha_star >= iid.optimal.alpha_star - 1e-12,
                "{what}: alpha*_wor {} < alpha*_iid {}",
                wor.optimal.alpha_star,
                iid.optimal.alpha_star
            );
            for (bound, rule) in [(iid, "rrs"), (wor, "rrs-wor"), (top, "target-only")] {
                let r = &bound.rules[0];
                assert_eq!(r.rule, rule);
                if let Some(gap) = r.gap {
                    assert!(gap >= 0.0, "{what}: {rule} above its bound by {}", -gap);
                    checked += 1;
                }
            }
            // target-only's acceptance is the top-n bound itself.
            assert_eq!(top.rules[0].gap, Some(0.0), "{what}");
        }
    }
    assert!(checked > 900, "{checked}");
}

#[test]
fn wor_at_large_vocabularies_stays_between_iid_and_one() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    let v = 5000;
    let (p, q) = (random_row(&mut rng, v), random_row(&mut rng, v));
    for n in [2, 4, 8] {
        let iid = node_alpha_star(&p, &q, n, DraftMode::Iid).unwrap();
        let wor = node_alpha_star(&p, &q, n, DraftMode::Wor).unwrap();
        assert!(wor.alpha_star >= iid.alpha_star - 1e-12 && wor.alpha_star <= 1.0);
        let f = {
            let (pn, qn) = normalized_rows(&p, &q).unwrap();
            let _ = pn;
            let mut s: Vec<f64> = qn.into_iter().filter(|&x| x > 0.0).collect();
            s.sort_by(f64::total_cmp);
            wor_containment(&s, n)
        };
        // Containment grows with the prefix.
        assert!(
            f.windows(2).all(|w| w[1] >= w[0] - WOR_TOLERANCE),
            "n = {n}"
        );
    }
}

#[test]
fn the_optimal_command_prints_the_library_s_bounds_and_refuses_bad_input() {
    let p = [0.5, 0.3, 0.2, 0.0];
    let q = [0.1, 0.6, 0.0, 0.3];
    let node = serde_json::json!({"target_probs": p, "draft_probs": q}).to_string();
    let o = specsim_stdin(
        &["optimal", "--drafts", "1,2", "--format", "json"],
        Some(&node),
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    let got: Value = serde_json::from_str(&o.stdout).unwrap();
    let want =
        serde_json::to_value(node_bounds(&p, &q, &[1, 2], &DraftMode::ALL).unwrap()).unwrap();
    assert_eq!(got, want);
    let rows = got.as_array().unwrap();
    assert_eq!(rows.len(), 6);
    for r in rows {
        for key in [
            "drafts",
            "mode",
            "alpha_star",
            "threshold_ratio",
            "p_h",
            "q_h",
        ] {
            assert!(r.get(key).is_some(), "{key} missing: {r}");
        }
        let rule = &r["rules"][0];
        assert!(
            rule["acceptance"].is_number() && rule["gap"].is_number(),
            "{r}"
        );
    }
    // The text table names every mode and rule.
    let o = specsim_stdin(&["optimal", "--drafts", "1,2,3"], Some(&node));
    assert_eq!(o.code, 0, "{}", o.stderr);
    for needle in [
        "alpha*",
        "iid",
        "wor",
        "top",
        "rrs",
        "rrs-wor",
        "target-only",
    ] {
        assert!(o.stdout.contains(needle), "{needle}: {}", o.stdout);
    }
    // Refusals: what, where, which value.
    let o = specsim_stdin(&["optimal", "--drafts", "0"], Some(&node));
    assert_refused(&o, "n = 0", &["--drafts", "'0'"]);
    let o = specsim_stdin(&["optimal", "--mode", "wor", "--drafts", "4"], Some(&node));
    assert_refused(&o, "wor beyond the support", &["n = 4", "only 3 tokens"]);
    let o = specsim_stdin(&["optimal", "--mode", "best"], Some(&node));
    assert_refused(&o, "unknown mode", &["'best'", "iid, wor or top"]);
    let bad = r#"{"target_probs": [0.5, 0.5], "draft_probs": [1.0, -0.1]}"#;
    let o = specsim_stdin(&["optimal"], Some(bad));
    assert_refused(&o, "negative probability", &["draft_probs[0][1]", "-0.1"]);
    let bad = r#"{"target_probs": [0.5, 0.5], "draft_probs": [1.0]}"#;
    let o = specsim_stdin(&["optimal"], Some(bad));
    assert_refused(&o, "lengths", &["draft_probs", "V = 2"]);
    let bad = r#"{"target_probs": [0.5, 0.5], "draft": [1.0, 0.0]}"#;
    let o = specsim_stdin(&["optimal"], Some(bad));
    assert_refused(&o, "unknown key", &["<stdin>", "draft"]);
    let o = specsim(&["optimal", "/nonexistent/node.json"]);
    assert_refused(&o, "missing file", &["/nonexistent/node.json"]);
}
