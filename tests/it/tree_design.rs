//! Tree design (SPEC §9, §10): the EAGLE-2 and Sequoia builders against their independent numpy
//! references and SGLang's own unit test, `eagle2` and family-vector `sequoia` trees in studies
//! and `verify` on both engines, the design study, and their refusals.

use crate::common;

use common::{assert_refused, data, specsim};
use serde_json::Value;
use specsim::reference::tree::expect::row_top_k;
use specsim::topology::Tree;
use specsim::topology::eagle2::Eagle2;
use specsim::topology::sequoia::{Positional, sequoia_tree};

fn json(path: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(data(path)).unwrap()).unwrap()
}

fn ints(v: &Value) -> Vec<i64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_i64().unwrap())
        .collect()
}

/// Grows a case's tree from rows keyed by path (`"3,1"`; `""` for the root), failing on a row
/// the reference did not read.
fn grow(
    case: &Value,
    rows: impl Fn(&[u32]) -> Option<Vec<f64>>,
) -> specsim::topology::eagle2::Grown {
    let e = Eagle2 {
        k: case["k"].as_u64().unwrap() as usize,
        depth: case["depth"].as_u64().unwrap() as usize,
        nodes: case["nodes"].as_u64().unwrap() as usize,
    };
    let v = case["vocab"].as_u64().unwrap() as usize;
    e.grow(v, |_, path| {
        let row = rows(path).unwrap_or_else(|| panic!("a row the reference never read: {path:?}"));
        Ok(row_top_k(&row[..], v, e.k))
    })
    .unwrap()
}

/// EAGLE-2's growth equals the numpy reference on 120 random cases with many exact ties: the
/// same parents, tokens and candidates, reading only the rows the reference read.
#[test]
fn eagle2_growth_equals_the_numpy_reference() {
    let golden = json("golden_design.json");
    let cases = golden["eagle2"].as_array().unwrap();
    assert!(cases.len() >= 100);
    for (i, case) in cases.iter().enumerate() {
        let rows = case["rows"].as_object().unwrap();
        let g = grow(case, |path| {
            let key: Vec<String> = path.iter().map(|x| x.to_string()).collect();
            rows.get(&key.join(",")).map(|r| {
                r.as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_f64().unwrap())
                    .collect()
            })
        });
        let parents: Vec<i64> = g.tree.parents().iter().map(|&p| p as i64).collect();
        assert_eq!(parents, ints(&case["parents"]), "case {i}");
        let tokens: Vec<i64> = g.tokens.iter().map(|&t| t as i64).collect();
        assert_eq!(tokens, ints(&case["tokens"]), "case {i}");
        let cands: Vec<i64> = g.candidates[1..].iter().map(|&c| c as i64).collect();
        assert_eq!(cands, ints(&case["candidates"]), "case {i}");
        // The rows read: the root and each expanded candidate, once.
        assert_eq!(g.expanded.len(), rows.len(), "case {i}");
    }
}

/// SGLang's `test_build_tree_kernel_efficient` (sgl-project/sglang,
/// test/srt/test_build_eagle_tree.py): rows rebuilt from its scores grow the trees its kernel
/// builds, with its `retrive_next_token`, `retrive_next_sibling` and positions.
#[test]
fn eagle2_reproduces_sglangs_build_tree_test() {
    let doc = json("sglang_eagle_tree.json");
    for case in doc["cases"].as_array().unwrap() {
        let v = case["vocab"].as_u64().unwrap() as usize;
        let rows: Vec<(Vec<u32>, Vec<f64>)> = case["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let mut row = vec![r["rest"]["value"].as_f64().unwrap(); v];
                for (t, p) in r["tokens"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .zip(r["probs"].as_array().unwrap())
                {
                    row[t.as_u64().unwrap() as usize] = p.as_f64().unwrap();
                }
                let path = r["path"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_u64().unwrap() as u32)
                    .collect();
                (path, row)
            })
            .collect();
        let g = grow(case, |path| {
            rows.iter().find(|(p, _)| p == path).map(|(_, r)| r.clone())
        });
        let name = case["name"].as_str().unwrap();
        let parents: Vec<i64> = g.tree.parents().iter().map(|&p| p as i64).collect();
        assert_eq!(parents, ints(&case["parents"]), "{name}");
        let mut drafted: Vec<i64> = g.tokens.iter().map(|&t| t as i64).collect();
        drafted[0] = case["verified_id"].as_i64().unwrap();
        assert_eq!(drafted, ints(&case["draft_tokens"]), "{name}");
        let (next, sibling) = g.tree.next_token_sibling();

        assert_eq!(next, ints(&case["retrive_next_token"]), "{name}");
        assert_eq!(sibling, ints(&case["retrive_next_sibling"]), "{name}");
        let seq = case["seq_len"].as_i64().unwrap();
        let positions: Vec<i64> = (0..g.tree.len())
            .map(|u| seq + g.tree.depth_of(u) as i64)
            .collect();
        assert_eq!(positions, ints(&case["positions"]), "{name}");
    }
}

/// Sequoia's DP equals the numpy reference (written in another formulation) on 150 random
/// vectors, ties and per-depth lists included: the same tree and value.
#[test]
fn sequoia_dp_equals_the_numpy_reference() {
    let golden = json("golden_design.json");
    let cases = golden["sequoia"].as_array().unwrap();
    assert!(cases.len() >= 100);
    for (i, case) in cases.iter().enumerate() {
        let p = Positional::from_json(&case["vector"]).unwrap();
        let n = case["n"].as_u64().unwrap() as usize;
        let d = case["depth"].as_u64().unwrap() as usize;
        let (tree, value) = sequoia_tree(n, d, &p).unwrap();
        let parents: Vec<i64> = tree.parents().iter().map(|&x| x as i64).collect();
        assert_eq!(
            parents,
            ints(&case["parents"]),
            "case {i}: {}",
            case["vector"]
        );
        assert!(
            (value - case["value"].as_f64().unwrap()).abs() < 1e-12,
            "case {i}"
        );
    }
}

fn csv_rows(path: &std::path::Path) -> Vec<std::collections::HashMap<String, String>> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut r = csv_split(&text);
    let header = r.remove(0);
    r.into_iter()
        .map(|row| header.iter().cloned().zip(row).collect())
        .collect()
}

/// Splits CSV text (quoted fields may hold commas).
fn csv_split(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .map(|line| {
            let (mut out, mut cur, mut quoted) = (Vec::new(), String::new(), false);
            for ch in line.chars() {
                match ch {
                    '"' => quoted = !quoted,
                    ',' if !quoted => out.push(std::mem::take(&mut cur)),
                    c => cur.push(c),
                }
            }
            out.push(cur);
            out
        })
        .collect()
}

/// `study --tree eagle2:…` and `--tree sequoia:n,d` (the vector from the family): every exact
/// value inside its 99% interval, on every engine, with equal results on CPU and GPU for the
/// grown trees (their rows come from the host) and within a few rounds' counts for the static
/// ones (the GPU generates their rows on the device, equal to the host's up to rounding).
#[test]
fn eagle2_and_family_sequoia_studies_hold_their_exact_values_on_every_engine() {
    let dir = tempfile::tempdir().unwrap();
    let engines: &[&str] = if common::gpu().is_some() {
        &["cpu", "gpu"]
    } else {
        &["cpu"]
    };
    let mut means: Vec<Vec<String>> = Vec::new();
    for engine in engines {
        let mut rows = Vec::new();
        for (tree, rules) in [
            ("eagle2:4,4,16", "greedy,target-only"),
            ("sequoia:12,4", "greedy,target-only,rrs"),
        ] {
            let out = dir.path().join(format!("{engine}-{}", &tree[..6]));
            let o = specsim(&[
                "study",
                "--tree",
                tree,
                "--rule",
                rules,
                "--sigma",
                "0.7",
                "--vocab",
                "300",
                "--rounds",
                "1500",
                "--engine",
                engine,
                "--quiet",
                "--out",
                out.to_str().unwrap(),
            ]);
            assert!(o.code == 0, "{}", o.stderr);
            rows.extend(csv_rows(&out.join("results.csv")));
        }
        let trees: Vec<&str> = rows.iter().map(|r| r["tree"].as_str()).collect();
        // eagle2 runs its two rules on one configuration; sequoia:12,4 one configuration per rule;
        // each beside the chain of the same node count.
        assert_eq!(
            trees.iter().filter(|t| **t == "eagle2:4,4,16").count(),
            2,
            "{trees:?}"
        );
        assert_eq!(
            trees.iter().filter(|t| **t == "sequoia:12,4").count(),
            3,
            "{trees:?}"
        );
        for r in &rows {
            assert_eq!(
                r["within_ci99"], "true",
                "{} {}: {:?}",
                r["tree"], r["rule"], r
            );
            assert_eq!(r["exact_given"], "rows");
        }
        assert!(
            rows.iter()
                .any(|r| r["tree"] == "eagle2:4,4,16" && r["depth"] == "4")
        );
        means.push(
            rows.iter()
                .map(|r| format!("{} {}", r["tree"], r["mean_generated"]))
                .collect(),
        );
    }
    for w in means.windows(2) {
        for (a, b) in w[0].iter().zip(&w[1]) {
            let (ta, ma) = a.split_once(' ').unwrap();
            let (tb, mb) = b.split_once(' ').unwrap();
            assert_eq!(ta, tb);
            if ta.starts_with("eagle2") {
                assert_eq!(ma, mb, "{ta}");
            } else {
                let (x, y): (f64, f64) = (ma.parse().unwrap(), mb.parse().unwrap());
                assert!((x - y).abs() <= 3.0 / 1500.0, "{ta}: {x} vs {y}");
            }
        }
    }
}

/// `verify --generate --tree eagle2:4,4,16`: adversarial rows with exact ties grow per-round
/// trees that both engines and the reference decide alike; other rules are refused.
#[test]
fn verify_checks_eagle2_trees_and_refuses_the_rules_that_cannot_verify_them() {
    for rule in ["greedy", "target-only"] {
        let o = specsim(&[
            "verify",
            "--generate",
            "400",
            "--tree",
            "eagle2:4,4,16",
            "--rule",
            rule,
            "--vocab",
            "40",
        ]);
        assert!((o.code == 0), "{rule}: {}{}", o.stdout, o.stderr);
        assert!(
            o.stdout.contains("verdict                   PASS"),
            "{}",
            o.stdout
        );
        assert!(o.stdout.contains("grown per round"), "{}", o.stdout);
    }
    for rule in ["rrs", "rrs-wor", "spectr"] {
        let o = specsim(&[
            "verify",
            "--generate",
            "10",
            "--tree",
            "eagle2:4,4,16",
            "--rule",
            rule,
        ]);
        assert_refused(
            &o,
            "eagle2 with a rule that assumes random children",
            &["top-m", rule, "greedy, target-only"],
        );
    }
    let o = specsim(&[
        "study",
        "--tree",
        "eagle2:4,4,16",
        "--rule",
        "rrs",
        "--rounds",
        "10",
    ]);
    assert_refused(&o, "an eagle2 study under rrs", &["top-m", "rrs"]);
    let o = specsim(&["study", "--tree", "eagle2:4,2,40", "--rounds", "10"]);
    assert_refused(
        &o,
        "more nodes than candidates",
        &["only k + (depth - 1) k^2 = 20"],
    );
    let o = specsim(&[
        "study",
        "--tree",
        "sequoia:8,3",
        "--rule",
        "spectr",
        "--rounds",
        "10",
    ]);
    assert_refused(&o, "a family vector for spectr", &["spectr", "vector=FILE"]);
    let o = specsim(&[
        "study",
        "--tree",
        "kary:2,2",
        "--tree",
        "eagle2:16,3,20",
        "--vocab",
        "8",
        "--rounds",
        "10",
    ]);
    assert_refused(&o, "k > V, when the plan is made", &["k = 16", "V = 8"]);
    let o = specsim(&["study", "--tree", "eagle2:1,5000,3", "--rounds", "10"]);
    assert_refused(&o, "too many expansions", &["4096"]);
    let o = specsim(&["study", "--design", "--nodes", "8,200", "--rounds", "10"]);
    assert_refused(&o, "a design budget past 128", &["--nodes", "200"]);
    // A depth beyond n − 1 is n − 1 (not a DP of that size).
    let o = specsim(&[
        "tree",
        "sequoia:8,1000000000",
        "--rule",
        "rrs",
        "--sigma",
        "0.5",
        "--vocab",
        "50",
    ]);
    assert!(o.code == 0, "{}", o.stderr);
    let o = specsim(&["tree", "eagle2:4,4,16"]);
    assert_refused(&o, "a static view of a grown tree", &["grown per round"]);
    let o = specsim(&["tree", "sequoia:8,3"]);
    assert_refused(&o, "a family vector without a rule", &["--rule"]);
    let o = specsim(&["study", "--nodes", "8", "--rounds", "10"]);
    assert!(o.code != 0 && o.stderr.contains("--design"), "{}", o.stderr);
    let o = specsim(&["study", "--design", "--nodes", "1", "--rounds", "10"]);
    assert_refused(&o, "a budget without a drafted node", &["--nodes", "1"]);
    let o = specsim(&["study", "--design", "--tree", "kary:2,2", "--rounds", "10"]);
    assert_refused(&o, "a design study with a tree", &["--design", "--tree"]);
}

/// `specsim tree sequoia:n,d --rule R --family …`: the tree for the family's vector, its
/// `expected_generated` its value under that vector, the same tree a study builds.
#[test]
fn tree_prints_a_family_sequoia_tree_with_its_vector() {
    let o = specsim(&[
        "tree",
        "sequoia:16,4",
        "--rule",
        "rrs",
        "--family",
        "logit-noise",
        "--sigma",
        "0.5",
        "--vocab",
        "500",
        "--format",
        "json",
    ]);
    assert!((o.code == 0), "{}", o.stderr);
    let doc: Value = serde_json::from_str(&o.stdout).unwrap();
    let vector: Vec<f64> = doc["vector"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    assert_eq!(vector.len(), 15);
    assert_eq!(doc["vector_rows"], 512);
    assert_eq!(doc["rule"], "rrs");
    let p = Positional::uniform(vector).unwrap();
    let (tree, value) = sequoia_tree(16, 4, &p).unwrap();
    let parents: Vec<i64> = tree.parents().iter().map(|&x| x as i64).collect();
    assert_eq!(ints(&doc["parents"]), parents);
    assert!((doc["expected_generated"].as_f64().unwrap() - value).abs() < 1e-12);
    // The study builds the same tree for the same options (its rows: `--rounds 1` is enough).
    let dir = tempfile::tempdir().unwrap();
    let o = specsim(&[
        "study",
        "--tree",
        "sequoia:16,4",
        "--rule",
        "rrs",
        "--sigma",
        "0.5",
        "--vocab",
        "500",
        "--rounds",
        "50",
        "--quiet",
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert!((o.code == 0), "{}", o.stderr);
    let res: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("results.json")).unwrap())
            .unwrap();
    let text = res.to_string();
    assert!(text.contains("sequoia:16,4"), "{text}");
    let _ = Tree::path(0);
}

/// The design study at a small size: every builder at every budget under every rule it can
/// verify, exact values within their 99% intervals, `design.svg` written, and the best k-ary
/// tree no worse by the vector than any full k-ary tree in the budget.
#[test]
fn design_study_compares_the_builders() {
    let dir = tempfile::tempdir().unwrap();
    let o = specsim(&[
        "study",
        "--design",
        "--nodes",
        "4,8",
        "--rule",
        "greedy,target-only,rrs,rrs-wor",
        "--sigma",
        "0.6",
        "--vocab",
        "48",
        "--rounds",
        "600",
        "--engine",
        "cpu",
        "--quiet",
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert!((o.code == 0), "{}", o.stderr);
    for f in [
        "results.csv",
        "results.json",
        "mean_generated.svg",
        "design.svg",
    ] {
        assert!(dir.path().join(f).exists(), "{f}");
    }
    let svg = std::fs::read_to_string(dir.path().join("design.svg")).unwrap();
    assert!(
        svg.contains("node budget") && svg.contains("eagle2, target-only"),
        "design.svg"
    );
    let rows = csv_rows(&dir.path().join("results.csv"));
    for budget in ["4", "8"] {
        for builder in ["chain", "kary", "sequoia", "eagle2"] {
            let rules: Vec<&str> = rows
                .iter()
                .filter(|r| r["node_budget"] == budget && r["builder"] == builder)
                .map(|r| r["rule"].as_str())
                .collect();
            let want: &[&str] = if builder == "eagle2" {
                &["greedy", "target-only"]
            } else {
                &["greedy", "target-only", "rrs", "rrs-wor"]
            };
            let mut got = rules.clone();
            got.sort();
            let mut w = want.to_vec();
            w.sort();
            assert_eq!(got, w, "{builder} at {budget}");
        }
    }
    // Every exact value against its rounds: 28 paired tests on shared rows, so each is held at
    // Bonferroni's |z| <= 3.5 (p = 4.7e-4 each, a family-wise 1.3%), not at 2.576.
    let mut tested = 0;
    for r in &rows {
        assert!(r["nodes"].parse::<usize>().unwrap() <= r["node_budget"].parse::<usize>().unwrap());
        if let Ok(z) = r["paired_z"].parse::<f64>() {
            assert!(z.abs() <= 3.5, "{} {}: z = {z}", r["tree"], r["rule"]);
            tested += 1;
        }
    }
    assert!(tested >= 20, "{tested} paired tests");
}
