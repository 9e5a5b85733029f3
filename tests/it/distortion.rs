//! The distortion meter (SPEC §13) against the independent numpy walk of
//! tests/data/make_distortion_golden.py, and the law it computes against a Monte-Carlo simulation
//! of each rule's procedure (a chi-square test of the completed sequence).

use crate::common;

use common::{assert_refused, golden, specsim};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use specsim::reference::lossy::{DraftLaw, LossyRule, Replacement, distortion, sequence_law};
use statrs::distribution::{ChiSquared, ContinuousCDF};

fn rows(v: &Value) -> Vec<Vec<f64>> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect()
        })
        .collect()
}

fn law(s: &str) -> DraftLaw {
    s.parse().unwrap()
}

fn how(s: &str) -> Replacement {
    if s == "sample" {
        Replacement::Sample
    } else {
        Replacement::Argmax
    }
}

#[test]
fn distortion_equals_the_numpy_walk() {
    let doc = golden("golden_distortion.json.gz");
    let cases = doc["cases"].as_array().unwrap();
    assert!(cases.len() >= 1000);
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * (1.0 + b.abs());
    for (i, c) in cases.iter().enumerate() {
        let rule: LossyRule = c["rule"].as_str().unwrap().parse().unwrap();
        let d = distortion(
            &rows(&c["draft_probs"]),
            &rows(&c["target_probs"]),
            rule,
            law(c["draft"].as_str().unwrap()),
            how(c["recovery"].as_str().unwrap()),
        );
        let what = format!("case {i}: {} {} {}", c["rule"], c["draft"], c["recovery"]);
        assert_eq!(
            d.acceptance.len(),
            c["acceptance"].as_array().unwrap().len(),
            "{what}"
        );
        assert_eq!(d.tv.len(), c["tv"].as_array().unwrap().len(), "{what}");
        for (a, b) in d.acceptance.iter().zip(c["acceptance"].as_array().unwrap()) {
            assert!(
                close(*a, b.as_f64().unwrap()),
                "{what}: acceptance {a} vs {b}"
            );
        }
        for (a, b) in d.tv.iter().zip(c["tv"].as_array().unwrap()) {
            assert!(close(*a, b.as_f64().unwrap()), "{what}: tv {a} vs {b}");
        }
        for (a, key) in [
            (d.expected_accepted, "expected_accepted"),
            (d.tv_low, "tv_low"),
            (d.tv_high, "tv_high"),
        ] {
            assert!(
                close(a, c[key].as_f64().unwrap()),
                "{what}: {key} {a} vs {}",
                c[key]
            );
        }
        match (d.tv_exact, c["tv_exact"].as_f64()) {
            (Some(a), Some(b)) => assert!(close(a, b), "{what}: tv_exact {a} vs {b}"),
            (None, None) => {}
            (a, b) => panic!("{what}: tv_exact {a:?} vs {b:?}"),
        }
    }
}

/// Beyond V^(K+1) = 4096 there is no exact TV (and the bracket still is); V = 1 and a long chain
/// are cheap (the enumeration costs O(K) a sequence); a row that sums to 1 up to an ulp keeps
/// its values, so sglang's `p(x) >= ts` sees 0.4 (SPEC decisions).
#[test]
fn enumeration_limits_and_rows_as_given() {
    use specsim::round::lossy::round_distortion;
    use specsim::round::node::NodeOptions;
    let opts = NodeOptions::default();
    let row = |v: usize| vec![1.0 / v as f64; v];
    let (q, p): (Vec<f64>, Vec<f64>) = (row(16).repeat(3), row(16).repeat(4));
    let d = round_distortion(
        &q,
        &p,
        16,
        LossyRule::Token,
        DraftLaw::Sample,
        Replacement::Sample,
        &opts,
    )
    .unwrap();
    assert!(d.tv_exact.is_none() && d.tv_high == 0.0);
    let d = round_distortion(
        &vec![1.0; 5000],
        &vec![1.0; 5001],
        1,
        LossyRule::Token,
        DraftLaw::Sample,
        Replacement::Argmax,
        &opts,
    )
    .unwrap();
    assert_eq!((d.tv_exact, d.expected_accepted), (Some(0.0), 5000.0));
    // [0.2, 0.4, 0.3, 0.1] sums to 1.0000000000000002; its 0.4 stays 0.4 >= ts = 0.4.
    let t = [0.2, 0.4, 0.3, 0.1];
    let p: Vec<f64> = [t, t].concat();
    let q = [0.0, 1.0, 0.0, 0.0];
    let rule = LossyRule::Sglang { ts: 0.4, ta: 1.0 };
    let d = round_distortion(&q, &p, 4, rule, DraftLaw::Top1, Replacement::Sample, &opts).unwrap();
    assert_eq!(d.acceptance, vec![1.0]);
}

/// One position of a rule, as its procedure runs (coins and draws, not laws): the emitted token
/// and whether the draft was accepted.
fn step(rng: &mut StdRng, rule: LossyRule, draft: DraftLaw, p: &[f64], q: &[f64]) -> (usize, bool) {
    let draw = |rng: &mut StdRng, w: &[f64]| -> usize {
        let s: f64 = w.iter().sum();
        let u = rng.random::<f64>() * s;
        let mut acc = 0.0;
        for (i, &x) in w.iter().enumerate() {
            acc += x;
            if u < acc {
                return i;
            }
        }
        w.iter().rposition(|&x| x > 0.0).unwrap()
    };
    let x = match draft {
        DraftLaw::Sample => draw(rng, q),
        DraftLaw::Top1 => (0..q.len()).fold(0, |b, i| if q[i] > q[b] { i } else { b }),
    };
    let coin = rng.random::<f64>();
    match rule {
        LossyRule::Token | LossyRule::Lenient { .. } => {
            let l = if let LossyRule::Lenient { l } = rule {
                l
            } else {
                1.0
            };
            if coin * l * q[x] < p[x] {
                return (x, true);
            }
            let res: Vec<f64> = p.iter().zip(q).map(|(a, b)| (a - l * b).max(0.0)).collect();
            let src = if res.iter().sum::<f64>() > 0.0 {
                res
            } else {
                p.to_vec()
            };
            (draw(rng, &src), false)
        }
        LossyRule::Typical { eps, delta } => {
            let h: f64 = -p.iter().map(|&y| y * (y + 1e-5).ln()).sum::<f64>();
            if p[x] > eps.min(delta * (-h).exp()) {
                (x, true)
            } else {
                (draw(rng, p), false)
            }
        }
        LossyRule::Sglang { .. } | LossyRule::Greedy => {
            let top = (0..p.len()).fold(0, |b, i| if p[i] > p[b] { i } else { b });
            let accepted = match rule {
                LossyRule::Sglang { ts, ta } => p[x] >= ts || coin <= p[x] / ta,
                _ => x == top,
            };
            if accepted {
                return (x, true);
            }
            let mut w = p.to_vec();
            w[x] = 0.0;
            let src = if w.iter().sum::<f64>() > 0.0 {
                w
            } else {
                p.to_vec()
            };
            (draw(rng, &src), false)
        }
    }
}

/// The completed sequences of 200 000 simulated rounds (K = 3, V = 3, sample recovery) against
/// the exact law of `sequence_law`: a chi-square test per rule and draft law (p > 1e-4 each).
#[test]
fn the_completed_sequence_follows_the_exact_law() {
    let norm = |w: &[f64]| -> Vec<f64> {
        let s: f64 = w.iter().sum();
        w.iter().map(|x| x / s).collect()
    };
    let q = vec![
        norm(&[1.0, 4.0, 2.0]),
        norm(&[3.0, 1.0, 1.0]),
        norm(&[1.0, 1.0, 3.0]),
    ];
    let p = vec![
        norm(&[3.0, 2.0, 1.0]),
        norm(&[2.0, 2.0, 3.0]),
        norm(&[1.0, 4.0, 1.0]),
        norm(&[2.0, 1.0, 2.0]),
    ];
    let (k, v, n) = (3usize, 3usize, 200_000usize);
    for rule in [
        "token",
        "typical:0.3:0.5",
        "lenient:0.6",
        "sglang:0.45:0.7",
        "greedy",
    ] {
        let rule: LossyRule = rule.parse().unwrap();
        for draft in [DraftLaw::Sample, DraftLaw::Top1] {
            let (exact, _) = sequence_law(&q, &p, rule, draft, Replacement::Sample).unwrap();
            let mut rng = StdRng::seed_from_u64(17);
            let mut counts = vec![0u64; v.pow(k as u32 + 1)];
            for _ in 0..n {
                let mut seq = Vec::with_capacity(k + 1);
                let mut rejected = false;
                for i in 0..=k {
                    if rejected || i == k {
                        // The target's own draws after a rejection; the bonus from p_{K+1}.
                        let u = rng.random::<f64>();
                        let mut acc = 0.0;
                        let y = p[i].iter().position(|&x| {
                            acc += x;
                            u < acc
                        });
                        seq.push(y.unwrap_or(v - 1));
                        continue;
                    }
                    let (y, accepted) = step(&mut rng, rule, draft, &p[i], &q[i]);
                    seq.push(y);
                    rejected = !accepted;
                }
                let idx: usize = seq.iter().rev().fold(0, |a, &y| a * v + y);
                counts[idx] += 1;
            }
            // Cells with an expected count of at least 5; the rest pooled.
            let (mut chi, mut cells, mut pooled_e, mut pooled_o) = (0.0, 0usize, 0.0, 0.0);
            for (c, &o) in counts.iter().enumerate() {
                let e = exact[c] * n as f64;
                if e >= 5.0 {
                    chi += (o as f64 - e).powi(2) / e;
                    cells += 1;
                } else {
                    pooled_e += e;
                    pooled_o += o as f64;
                }
            }
            if pooled_e >= 5.0 {
                chi += (pooled_o - pooled_e).powi(2) / pooled_e;
                cells += 1;
            }
            let pv = 1.0 - ChiSquared::new((cells - 1) as f64).unwrap().cdf(chi);
            assert!(
                pv > 1e-4,
                "{rule} {draft:?}: chi-square {chi} on {cells} cells, p = {pv}"
            );
        }
    }
}

#[test]
fn distortion_command_prints_every_rule_and_refuses_bad_rules() {
    let o = specsim(&[
        "distortion",
        "--rule",
        "token,typical,lenient:0.5,sglang:1:1",
        "--k",
        "3",
        "--vocab",
        "6",
        "--sigma",
        "0.5",
        "--rounds",
        "50",
        "--format",
        "json",
    ]);
    assert!(o.code == 0, "{}", o.stderr);
    let doc: Value = serde_json::from_str(&o.stdout).unwrap();
    let list = doc.as_array().unwrap();
    assert_eq!(list.len(), 4);
    for r in list {
        for key in [
            "rule",
            "acceptance",
            "tv",
            "expected_accepted",
            "expected_generated",
            "tv_low",
            "tv_high",
            "tokens_changed",
            "tv_exact",
        ] {
            assert!(r.get(key).is_some(), "{key}: {r}");
        }
        assert_eq!(r["tv"].as_array().unwrap().len(), 4);
    }
    // Argmax recovery (the default) is lossy for the token rule; sample recovery is not.
    let token = &list[0];
    assert!(token["tv_high"].as_f64().unwrap() > 0.0);
    let o = specsim(&[
        "distortion",
        "--rule",
        "token",
        "--k",
        "2",
        "--vocab",
        "5",
        "--sigma",
        "0.5",
        "--rounds",
        "20",
        "--recovery",
        "sample",
        "--format",
        "json",
    ]);
    let doc: Value = serde_json::from_str(&o.stdout).unwrap();
    assert!(doc[0]["tv_high"].as_f64().unwrap() < 1e-12, "{doc}");
    assert!(doc[0]["tv_exact"].as_f64().unwrap() < 1e-12, "{doc}");
    // --out writes the rows and the trade-off plot, the same rows as --format json.
    let dir = tempfile::tempdir().unwrap();
    let o = specsim(&[
        "distortion",
        "--rule",
        "token,lenient:0.5",
        "--k",
        "2",
        "--vocab",
        "5",
        "--sigma",
        "0.5",
        "--rounds",
        "20",
        "--format",
        "json",
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert!(o.code == 0, "{}", o.stderr);
    let written: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("distortion.json")).unwrap())
            .unwrap();
    assert_eq!(written, serde_json::from_str::<Value>(&o.stdout).unwrap());
    let svg = std::fs::read_to_string(dir.path().join("tradeoff.svg")).unwrap();
    assert!(svg.contains("lenient:0.5") && svg.contains("tokens changed per round"));
    let o = specsim(&[
        "distortion",
        "--rule",
        "lenient:2",
        "--k",
        "2",
        "--rounds",
        "5",
    ]);
    assert_refused(&o, "l outside (0, 1]", &["lenient:2", "(0, 1]"]);
    let o = specsim(&["distortion", "--rule", "rrs", "--k", "2", "--rounds", "5"]);
    assert_refused(&o, "a tree rule", &["typical", "lenient"]);
    let o = specsim(&[
        "distortion",
        "--rule",
        "token",
        "--draft",
        "best",
        "--rounds",
        "5",
    ]);
    assert!(o.code != 0 && o.stderr.contains("best"), "{}", o.stderr);
}

/// vLLM #8639's shape: at K = 5, V = 4096 with the default eps and delta, typical acceptance
/// accepts fewer tokens than the lossless token rule on a good draft, and its E[τ] moves far less
/// with the draft's noise while the token rule's falls.
#[test]
fn typical_acceptance_barely_moves_with_the_drafts_noise() {
    let run = |sigma: &str| -> (f64, f64) {
        let o = specsim(&[
            "distortion",
            "--rule",
            "token,typical",
            "--k",
            "5",
            "--vocab",
            "4096",
            "--sigma",
            sigma,
            "--rounds",
            "60",
            "--recovery",
            "sample",
            "--format",
            "json",
        ]);
        assert!(o.code == 0, "{}", o.stderr);
        let doc: Value = serde_json::from_str(&o.stdout).unwrap();
        (
            doc[0]["expected_accepted"].as_f64().unwrap(),
            doc[1]["expected_accepted"].as_f64().unwrap(),
        )
    };
    let (token_good, typical_good) = run("0.25");
    let (token_bad, typical_bad) = run("1");
    assert!(typical_good < token_good, "{typical_good} vs {token_good}");
    let (dt, dy) = (token_good - token_bad, typical_good - typical_bad);
    assert!(dt > 1.0 && dy < dt / 3.0, "token falls {dt}, typical {dy}");
}

/// The lossy rules as verification rules of the engines (SPEC §13) emit the meter's law: on both
/// engines, in `sample` mode, the completed sequence (the emitted tokens, then the target's own
/// draws) of K = 2, V = 3 rounds follows [`sequence_law`] (chi-square), with each rule's drafts
/// drawn as a study draws them (`typical`, `lenient`: from q; `sglang`, `target-only`: q's top-1).
#[test]
fn the_engines_emit_the_meters_law() {
    use specsim::Rule;
    use specsim::batch::{Batch, Rounds};
    use specsim::engine::Engine;
    use specsim::rule::{Recovery, RecoveryMode};
    let norm = |w: &[f64]| -> Vec<f64> {
        let s: f64 = w.iter().sum();
        w.iter().map(|x| x / s).collect()
    };
    let q = vec![norm(&[1.0, 4.0, 2.0]), norm(&[3.0, 1.0, 1.0])];
    let p = vec![
        norm(&[3.0, 2.0, 1.0]),
        norm(&[2.0, 2.0, 3.0]),
        norm(&[1.0, 4.0, 1.0]),
    ];
    let (k, v, n) = (2usize, 3usize, 30_000usize);
    let draw = |rng: &mut StdRng, row: &[f64]| -> u32 {
        let u = rng.random::<f64>();
        let mut acc = 0.0;
        row.iter()
            .position(|&x| {
                acc += x;
                u < acc
            })
            .unwrap_or(row.len() - 1) as u32
    };
    let cases = [
        ("typical:0.3:0.5", DraftLaw::Sample),
        ("lenient:0.6", DraftLaw::Sample),
        ("sglang:0.45:0.7", DraftLaw::Top1),
        ("target-only", DraftLaw::Top1),
        ("greedy", DraftLaw::Top1),
    ];
    type RunOn = Box<dyn FnMut(&Batch, Rule) -> Vec<i32>>;
    let mut engines: Vec<(&str, RunOn)> = vec![(
        "cpu",
        Box::new(|b: &Batch, rule: Rule| {
            let rec = Recovery {
                mode: RecoveryMode::Sample,
                seed: 5,
                round_offset: 0,
            };
            let view = b.view();
            Engine::run(
                &mut specsim::cpu::CpuEngine::default(),
                &Rounds::chain(&view),
                rule,
                rec,
            )
            .unwrap()
            .tokens
        }),
    )];
    if let Some(g) = common::gpu() {
        let g = std::cell::RefCell::new(g);
        engines.push((
            "gpu",
            Box::new(move |b: &Batch, rule: Rule| {
                let rec = Recovery {
                    mode: RecoveryMode::Sample,
                    seed: 5,
                    round_offset: 0,
                };
                let view = b.view();
                let mut g = g.borrow_mut();
                Engine::run(&mut **g, &Rounds::chain(&view), rule, rec)
                    .unwrap()
                    .tokens
            }),
        ));
    }
    for (spec, law) in cases {
        let rule: Rule = spec.parse().unwrap();
        let meter: LossyRule = if spec == "target-only" {
            "sglang:1:1".parse().unwrap()
        } else {
            spec.parse().unwrap()
        };
        let (exact, _) = sequence_law(&q, &p, meter, law, Replacement::Sample).unwrap();
        let mut rng = StdRng::seed_from_u64(23);
        let mut b = Batch::zeros(n, k, v);
        for r in 0..n {
            for (i, qi) in q.iter().enumerate() {
                for (x, &qx) in qi.iter().enumerate() {
                    b.draft[(r * k + i) * v + x] = qx as f32;
                }
                b.tokens[r * k + i] = match law {
                    DraftLaw::Sample => draw(&mut rng, qi),
                    DraftLaw::Top1 => 1 - i as u32, // q's top-1: 1, then 0
                };
                b.coins[r * k + i] = rng.random::<f32>();
            }
            for (i, pi) in p.iter().enumerate() {
                for (x, &px) in pi.iter().enumerate() {
                    b.target[(r * (k + 1) + i) * v + x] = px as f32;
                }
            }
        }
        for (name, run) in engines.iter_mut() {
            let tokens = run(&b, rule);
            let mut counts = vec![0u64; v.pow(k as u32 + 1)];
            let mut rng = StdRng::seed_from_u64(29);
            for r in 0..n {
                let row = &tokens[r * (k + 1)..(r + 1) * (k + 1)];
                let seq: Vec<usize> = (0..=k)
                    .map(|i| {
                        if row[i] >= 0 {
                            row[i] as usize
                        } else {
                            draw(&mut rng, &p[i]) as usize
                        }
                    })
                    .collect();
                counts[seq.iter().rev().fold(0, |a, &y| a * v + y)] += 1;
            }
            let (mut chi, mut cells) = (0.0, 0usize);
            for (c, &o) in counts.iter().enumerate() {
                let e = exact[c] * n as f64;
                if e >= 5.0 {
                    chi += (o as f64 - e).powi(2) / e;
                    cells += 1;
                } else {
                    assert!(o as f64 <= 5.0 + 10.0 * e.sqrt(), "{spec} {name}: cell {c}");
                }
            }
            let pv = 1.0 - ChiSquared::new((cells - 1) as f64).unwrap().cdf(chi);
            assert!(
                pv > 1e-4,
                "{spec} on {name}: chi-square {chi} on {cells} cells, p = {pv}"
            );
        }
    }
}

/// Every study row carries the distortion columns (SPEC §13): on a chain, the meter's values
/// over the configuration's first rounds (`specsim distortion` on the same family and seed gives
/// the same numbers), zeros for a lossless rule in `sample` mode, nothing where no exact value is
/// known (a tree with branches in `argmax` mode, or under a lossy rule).
#[test]
fn studies_carry_the_distortion_columns() {
    let dir = tempfile::tempdir().unwrap();
    let study = |recovery: &str| -> Vec<Value> {
        let out = dir.path().join(recovery);
        let o = specsim(&[
            "study",
            "--tree",
            "chain:3",
            "--tree",
            "kary:2,1",
            "--rule",
            "rrs,target-only,greedy,typical,lenient:0.5,sglang:0.3:0.5",
            "--vocab",
            "60",
            "--rounds",
            "400",
            "--sigma",
            "0.7",
            "--engine",
            "cpu",
            "--recovery",
            recovery,
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_eq!(o.code, 0, "{}", o.stderr);
        let j: Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap())
                .unwrap();
        j["configurations"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|c| c["rows"].as_array().unwrap().clone())
            .collect()
    };
    let meter = |rules: &str, draft: &str, recovery: &str| -> Vec<Value> {
        let o = specsim(&[
            "distortion",
            "--rule",
            rules,
            "--k",
            "3",
            "--vocab",
            "60",
            "--rounds",
            "256",
            "--sigma",
            "0.7",
            "--draft",
            draft,
            "--recovery",
            recovery,
            "--format",
            "json",
        ]);
        assert_eq!(o.code, 0, "{}", o.stderr);
        serde_json::from_str::<Value>(&o.stdout)
            .unwrap()
            .as_array()
            .unwrap()
            .clone()
    };
    for recovery in ["argmax", "sample"] {
        let rows = study(recovery);
        let sampled = meter("token,typical,lenient:0.5", "sample", recovery);
        let top1 = meter("sglang:1:1,sglang:0.3:0.5,greedy", "top1", recovery);
        let want = |rule: &str| -> &Value {
            match rule {
                "rrs" => &sampled[0],
                "typical:0.09:0.3" => &sampled[1],
                "lenient:0.5" => &sampled[2],
                "target-only" => &top1[0],
                "sglang:0.3:0.5" => &top1[1],
                "greedy" => &top1[2],
                _ => unreachable!(),
            }
        };
        let mut checked = 0;
        for r in &rows {
            let (rule, tree) = (r["rule"].as_str().unwrap(), r["tree"].as_str().unwrap());
            let lossless = ["rrs", "target-only"].contains(&rule);
            if recovery == "sample" && lossless {
                assert_eq!(r["tv_high"], 0.0, "{rule} {tree}");
                assert_eq!(r["distortion_given"], "lossless");
                checked += 1;
            } else if tree == "chain:3" {
                let w = want(rule);
                for key in ["tv_low", "tv_high", "tokens_changed"] {
                    let (a, b) = (r[key].as_f64().unwrap(), w[key].as_f64().unwrap());
                    assert!(
                        (a - b).abs() <= 1e-6 * b.max(1e-3),
                        "{rule} {recovery} {key}: {a} vs {b}"
                    );
                }
                assert_eq!(r["distortion_given"], "rows:256");
                checked += 1;
            } else if tree == "chain:2" {
                // The chain beside kary:2,1: its own values.
                assert!(r["tv_high"].as_f64().is_some(), "{rule} {tree} {recovery}");
            } else {
                assert!(r["tv_high"].is_null(), "{rule} {tree} {recovery}: {r}");
            }
        }
        assert!(checked >= 6, "{checked}");
        // A lossy rule is lossy in sample mode too; the token rule in argmax mode is lossy.
        let tv = |rule: &str| {
            rows.iter()
                .find(|r| r["rule"] == rule && r["tree"] == "chain:3")
                .unwrap()["tv_high"]
                .as_f64()
                .unwrap()
        };
        assert!(tv("lenient:0.5") > 0.01 && tv("typical:0.09:0.3") > 0.01);
        if recovery == "argmax" {
            assert!(tv("rrs") > 0.01);
        }
    }
}
