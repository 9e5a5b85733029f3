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

#[test]
fn spectr_acceptance_equals_numpy_and_lies_within_its_bounds() {
    let doc = common::golden("golden_optimal.json.gz");
    let cases = doc["spectr"].as_array().unwrap();
    assert!(cases.len() >= 100);
    let mut above_rrs = 0;
    for c in cases {
        let (p, q) = normalized_rows(&floats(&c["p"]), &floats(&c["q"])).unwrap();
        let n = c["n"].as_u64().unwrap() as usize;
        let got = rule_acceptance(Rule::Spectr, &p, &q, n).unwrap();
        let want = c["acceptance"].as_f64().unwrap();
        assert!((got - want).abs() < 1e-12, "n = {n}: {got} vs {want}");
        let bound = node_alpha_star(&p, &q, n, DraftMode::Iid)
            .unwrap()
            .alpha_star;
        assert!(got <= bound + 1e-12, "spectr {got} > alpha*_iid {bound}");
        let floor = (1.0 - (-1.0f64).exp()) * bound;
        assert!(
            got >= floor - 1e-12,
            "spectr {got} < (1 - 1/e) alpha*_iid {floor}"
        );
        let rrs = rule_acceptance(Rule::Rrs, &p, &q, n).unwrap();
        above_rrs += usize::from(got > rrs + 1e-9);
    }
    // SpecTr's point: it beats rrs on some rows.
    assert!(above_rrs > 0);
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
            for (bound, rules) in [
                (iid, &["rrs", "spectr"][..]),
                (wor, &["rrs-wor"][..]),
                (top, &["target-only"][..]),
            ] {
                let names: Vec<&str> = bound.rules.iter().map(|r| r.rule.as_str()).collect();
                assert_eq!(names, rules);
                for r in &bound.rules {
                    if let Some(gap) = r.gap {
                        // An estimate (rrs-wor beyond its enumeration budget) within its noise.
                        let noise = 4.0 * r.standard_error.unwrap_or(0.0);
                        assert!(
                            gap >= -noise,
                            "{what}: {} above its bound by {}",
                            r.rule,
                            -gap
                        );
                        checked += 1;
                    }
                }
            }
            // SpecTr's guarantee: at least (1 - 1/e) of the optimum for i.i.d. drafts.
            let spectr = iid.rules[1].acceptance.unwrap();
            let floor = (1.0 - (-1.0f64).exp()) * iid.optimal.alpha_star;
            assert!(spectr >= floor - 1e-12, "{what}: spectr {spectr} < {floor}");
            // target-only's acceptance is the top-n bound itself.
            assert_eq!(top.rules[0].gap, Some(0.0), "{what}");
        }
    }
    assert!(checked > 1200, "{checked}");
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
    let tiny = r#"{"target_probs": [0.5, 0.5], "draft_probs": [1.0, 1e-310]}"#;
    let o = specsim_stdin(&["optimal", "--mode", "wor", "--drafts", "1"], Some(tiny));
    assert_refused(
        &o,
        "a q below the wor bound's range",
        &["draft_probs[1]", "1e-310"],
    );
    let o = specsim_stdin(&["optimal", "--mode", "iid", "--drafts", "2"], Some(tiny));
    assert_eq!(o.code, 0, "iid takes it: {}", o.stderr);
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

#[test]
fn the_bound_over_a_family_averages_each_round_s_first_node() {
    use specsim::study::optimal::optimal_study;
    use specsim::study::options::{FamilyKind, StudyOptions};
    let opts = StudyOptions {
        family: FamilyKind::LogitNoise,
        sigma: vec![0.5],
        vocab: Some(48),
        rounds: Some(30),
        seed: Some(3),
        ..StudyOptions::default()
    };
    let cfgs = opts.configs(&[1], 48, 30, 3).unwrap();
    let modes = [DraftMode::Iid, DraftMode::Wor, DraftMode::Top];
    let rows = optimal_study(&cfgs, &[1, 2], &modes, false, |_| {}).unwrap();
    assert_eq!(rows.len(), 6);
    // Recomputed round by round from the generated rows (position 0).
    let (batch, betas) = specsim::cpu::generate::generate_chunk(&cfgs[0].workload, 3, 0, 30, 1);
    let v = batch.v;
    for row in &rows {
        let mut sum = 0.0;
        for r in 0..30 {
            let q: Vec<f64> = batch.draft[r * v..(r + 1) * v]
                .iter()
                .map(|&x| x as f64)
                .collect();
            let p: Vec<f64> = batch.target[2 * r * v..(2 * r + 1) * v]
                .iter()
                .map(|&x| x as f64)
                .collect();
            sum += node_alpha_star(&p, &q, row.drafts, row.mode)
                .unwrap()
                .alpha_star;
        }
        assert!((row.alpha_star.mean - sum / 30.0).abs() < 1e-12, "{row:?}");
        if row.drafts == 1 && row.mode != DraftMode::Top {
            // One draft: the overlap, which the chain study's betas hold (float32 sums).
            let beta = betas.iter().map(|&b| b as f64).sum::<f64>() / 30.0;
            assert!(
                (row.alpha_star.mean - beta).abs() < 1e-5,
                "{row:?} vs {beta}"
            );
        }
        for rule in &row.rules {
            let gap = rule.gap.as_ref().expect("enumerated at V = 48, n <= 2");
            assert!(gap.mean >= 0.0 && gap.ci99_low <= gap.mean, "{row:?}");
        }
    }
    let mean = |n: usize, m: DraftMode| {
        rows.iter()
            .find(|r| r.drafts == n && r.mode == m)
            .unwrap()
            .alpha_star
            .mean
    };
    assert!(mean(2, DraftMode::Wor) >= mean(2, DraftMode::Iid));
}

#[test]
fn optimal_family_mode_writes_its_files_and_refuses_what_it_cannot_bound() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bound");
    let args = [
        "optimal", "--family", "mixture", "--lambda", "0.3", "--vocab", "40", "--rounds", "20",
        "--drafts", "1,3", "--mode", "iid,wor", "--quiet", "--format", "json", "--out",
    ];
    let mut all: Vec<&str> = args.to_vec();
    all.push(out.to_str().unwrap());
    let o = specsim(&all);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let printed: Value = serde_json::from_str(&o.stdout).unwrap();
    let written: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("optimal.json")).unwrap()).unwrap();
    assert_eq!(printed, written);
    assert_eq!(printed.as_array().unwrap().len(), 4);
    let csv = std::fs::read_to_string(out.join("optimal.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    for col in [
        "family",
        "lambda",
        "zipf",
        "drafts",
        "mode",
        "alpha_star",
        "alpha_star_ci99_low",
        "rule",
        "acceptance",
        "gap",
        "gap_ci99_high",
    ] {
        assert!(header.contains(&col), "{col} missing from {header:?}");
    }
    // iid: rrs and spectr; wor: rrs-wor.
    assert_eq!(lines.count(), 6, "one line per (n, mode, rule)");
    // What cannot be bounded, or would be ignored, is refused.
    let o = specsim(&["optimal", "--family", "rates", "--rounds", "5"]);
    assert_refused(&o, "rates", &["--family rates", "node JSON"]);
    let o = specsim(&["optimal", "--sigma", "0.5"]);
    assert_refused(&o, "--sigma without --family", &["--family"]);
    let o = specsim(&["optimal", "node.json", "--family", "logit-noise"]);
    assert_refused(&o, "a node and a family", &["cannot be used with"]);
}

#[test]
fn rrs_wor_with_two_children_in_closed_form_equals_the_enumeration() {
    use specsim::reference::optimal::rrs_wor_two;
    let mut rng = rand::rngs::StdRng::seed_from_u64(12);
    for trial in 0..200 {
        let v = [2, 3, 5, 9, 20, 60][trial % 6];
        let (p, q) = (random_row(&mut rng, v), random_row(&mut rng, v));
        if q.iter().filter(|&&x| x > 0.0).count() < 2 {
            continue;
        }
        // The tree reference's enumeration on the star tree of two leaves.
        let tree = specsim::topology::Tree::from_parents(&[-1, 0, 0]).unwrap();
        let d: Vec<f64> = (0..3).flat_map(|_| q.iter().copied()).collect();
        let t: Vec<f64> = (0..3).flat_map(|_| p.iter().copied()).collect();
        let e = specsim::reference::tree::expected_generated(
            Rule::RrsWor,
            &tree,
            &d[..],
            &t[..],
            &[0, 0, 0],
            v,
        )
        .expect("enumerable at V <= 60")
            - 1.0;
        let c = rrs_wor_two(&p, &q);
        assert!(
            (c - e).abs() < 1e-12,
            "trial {trial} (V = {v}): closed form {c} vs enumeration {e}"
        );
    }
    // At V = 32000, where the enumeration is out of reach, the bound still holds.
    let v = 32000;
    let (p, q) = (random_row(&mut rng, v), random_row(&mut rng, v));
    let b = node_bounds(&p, &q, &[2], &[DraftMode::Wor]).unwrap();
    let gap = b[0].rules[0].gap.expect("closed form at any V");
    assert!(gap >= 0.0, "{gap}");
}

/// What a hostile review found: sizes that crashed, defaults that refused a small node, messages
/// that named options `optimal` lacks, ties, and refusals without their configuration.
#[test]
fn optimal_refuses_sizes_clearly_and_defaults_fit_the_node() {
    let node6 = common::data("../../docs/examples/node6.json");
    // n beyond a node's children: a refusal naming --drafts (it was a panic or an abort).
    for n in ["65536", "4000000000", "18446744073709551615"] {
        let o = specsim(&["optimal", &node6, "--drafts", n, "--mode", "iid"]);
        assert_refused(&o, n, &["--drafts", "1..=65535"]);
    }
    // The largest n still answers, rrs included, in bounded memory.
    let o = specsim(&[
        "optimal", &node6, "--drafts", "65535", "--mode", "iid", "--format", "json",
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let rows: Value = serde_json::from_str(&o.stdout).unwrap();
    assert!(rows[0]["rules"][0]["acceptance"].is_number(), "{rows}");
    // Defaults leave out what a 6-token node cannot have (wor and top with n = 8)...
    let o = specsim(&["optimal", &node6, "--format", "json"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let rows: Value = serde_json::from_str(&o.stdout).unwrap();
    let pairs: Vec<(u64, String)> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["drafts"].as_u64().unwrap(),
                r["mode"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(pairs.len(), 10, "{pairs:?}");
    assert!(pairs.contains(&(8, "iid".into())) && !pairs.contains(&(8, "wor".into())));
    // ...and asked for, it is refused.
    let o = specsim(&["optimal", &node6, "--drafts", "8", "--mode", "top"]);
    assert_refused(&o, "top beyond V", &["n = 8", "V = 6"]);
    // Rows that do not sum to 1: refused, or divided by their sums with the flag it names.
    let raw = r#"{"target_probs": [1.0, 1.0], "draft_probs": [3.0, 1.0]}"#;
    let o = specsim_stdin(&["optimal", "--drafts", "1"], Some(raw));
    assert_refused(&o, "unnormalised", &["--allow-unnormalized"]);
    let o = specsim_stdin(
        &[
            "optimal",
            "--drafts",
            "1",
            "--mode",
            "iid",
            "--allow-unnormalized",
            "--format",
            "json",
        ],
        Some(raw),
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    let rows: Value = serde_json::from_str(&o.stdout).unwrap();
    assert!((rows[0]["alpha_star"].as_f64().unwrap() - 0.75).abs() < 1e-15);
    let zero = r#"{"target_probs": [0.0, 0.0], "draft_probs": [0.5, 0.5]}"#;
    let o = specsim_stdin(&["optimal", "--allow-unnormalized"], Some(zero));
    assert_refused(
        &o,
        "a zero row",
        &["target_probs", "every probability is 0"],
    );
    // --family file names no option optimal lacks.
    let o = specsim(&["optimal", "--family", "file"]);
    assert_refused(&o, "file", &["--family file", "node JSON"]);
    assert!(!o.stderr.contains("--batch"), "{}", o.stderr);
    // A round's refusal names its configuration and round.
    let o = specsim(&[
        "optimal",
        "--family",
        "logit-noise",
        "--t-draft",
        "0.01",
        "--vocab",
        "2048",
        "--rounds",
        "3",
        "--drafts",
        "4",
        "--mode",
        "wor",
        "--quiet",
    ]);
    assert_refused(
        &o,
        "a round without 4 drawable tokens",
        &["logit-noise", "round 0", "n = 4"],
    );
    // One round: no interval, said as n/a.
    let o = specsim(&[
        "optimal", "--family", "mixture", "--lambda", "0.5", "--vocab", "16", "--rounds", "1",
        "--drafts", "1", "--mode", "iid", "--quiet",
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stdout.contains("n/a") && !o.stdout.contains("NaN"),
        "{}",
        o.stdout
    );
}

#[test]
fn ties_report_the_smallest_minimising_set() {
    // Prefixes 2 and 3 tie exactly in real arithmetic (2/3); rounding made prefix 2 one ulp
    // larger, and the larger set was reported.
    let p = [1.0 / 6.0, 1.0 / 3.0, 1.0 / 6.0, 0.0, 1.0 / 3.0];
    let q = [0.0, 1.0 / 3.0, 1.0 / 3.0, 1.0 / 6.0, 1.0 / 6.0];
    let o = node_alpha_star(&p, &q, 1, DraftMode::Iid).unwrap();
    assert!((o.alpha_star - 2.0 / 3.0).abs() < 1e-15);
    assert_eq!(o.threshold_index, 2, "{o:?}");
    // top with a drafted token of q = 0: the ratio is over the tokens q can draw.
    let o = node_alpha_star(&[0.5, 0.5], &[1.0, 0.0], 2, DraftMode::Top).unwrap();
    assert_eq!(o.threshold_ratio, Some(0.5));
}

/// `rrs-wor`'s Monte-Carlo estimate (used beyond the enumeration budget) agrees with the
/// enumeration where both exist, within 4 standard errors, and is reproducible; beyond the
/// budget the node's output marks it as estimated, with its standard error.
#[test]
fn rrs_wor_estimate_agrees_with_the_enumeration_and_is_marked() {
    use specsim::reference::optimal::rrs_wor_estimate;
    let mut rng = rand::rngs::StdRng::seed_from_u64(21);
    let mut compared = 0;
    for trial in 0..12 {
        let v = [5, 8, 12][trial % 3];
        let (p, q) = (random_row(&mut rng, v), random_row(&mut rng, v));
        let support = q.iter().filter(|&&x| x > 0.0).count();
        for n in 3..=4.min(support) {
            let exact = rule_acceptance(Rule::RrsWor, &p, &q, n).unwrap();
            let (est, se) = rrs_wor_estimate(&p, &q, n, 4096, 5, trial as u64);
            assert!(
                (est - exact).abs() <= 4.0 * se + 1e-12,
                "V = {v}, n = {n}: estimate {est} ± {se} vs exact {exact}"
            );
            assert_eq!(
                (est, se),
                rrs_wor_estimate(&p, &q, n, 4096, 5, trial as u64)
            );
            compared += 1;
        }
    }
    assert!(compared >= 12, "{compared}");
    // V = 400, n = 4: 400^5 > 4e6, so the node's rrs-wor acceptance is estimated.
    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    let (p, q) = (random_row(&mut rng, 400), random_row(&mut rng, 400));
    let b = node_bounds(&p, &q, &[4], &[DraftMode::Wor]).unwrap();
    let r = &b[0].rules[0];
    assert_eq!(r.rule, "rrs-wor");
    assert!(r.estimated && r.standard_error.unwrap() > 0.0, "{r:?}");
    let se = r.standard_error.unwrap();
    assert!(r.acceptance.unwrap() <= b[0].optimal.alpha_star + 4.0 * se);
    // Exact values are marked as such.
    let b = node_bounds(&p, &q, &[2], &[DraftMode::Wor, DraftMode::Iid]).unwrap();
    assert!(
        b.iter()
            .flat_map(|x| &x.rules)
            .all(|r| !r.estimated && r.standard_error.is_none())
    );
}
