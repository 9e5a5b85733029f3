//! Tree verification from the command line, as a new user meets it: `specsim tree` to see and
//! convert a shape, `round` on a tree written by hand from its output, `run` on tree batches
//! written by numpy (against the numpy implementation's outputs), `verify --generate --tree`,
//! and the refusals.

use crate::common;

use common::{assert_refused, data, specsim, specsim_stdin};
use serde_json::Value;

/// The rules `tests/data/make_tree_batches.py` wrote expected outputs for (`spectr`'s batch
/// outputs are held to the f64 reference and between engines by `verify`, below, and its single
/// rounds to numpy by `golden_tree`).
const RULES: [&str; 4] = ["greedy", "target-only", "rrs", "rrs-wor"];
const FIXTURES: [&str; 3] = ["tree_kary22.npz", "tree_eagle_dir", "tree_per_round.npz"];

fn read_i32(npz: &mut common::Npz, name: &str) -> Vec<i64> {
    npz.i32s(name).1.into_iter().map(i64::from).collect()
}

#[test]
fn numpy_tree_batches_match_the_numpy_implementation_on_every_engine() {
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(data("batches/tree_expected.json")).unwrap())
            .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let engines: &[&str] = if common::gpu().is_some() {
        &["cpu", "gpu"]
    } else {
        &["cpu"]
    };
    for name in FIXTURES {
        for rule in RULES {
            for validate in ["full", "touched"] {
                let mut files = Vec::new();
                for engine in engines {
                    let out = dir.path().join(format!("{engine}.npz"));
                    let o = specsim(&[
                        "run",
                        &data(&format!("batches/{name}")),
                        "--rule",
                        rule,
                        "--engine",
                        engine,
                        "--validate",
                        validate,
                        "--out",
                        out.to_str().unwrap(),
                    ]);
                    assert_eq!(o.code, 0, "{name} {rule} {engine}: {}", o.stderr);
                    let mut npz = common::Npz::open(&out);
                    let want = &expected[name][rule];
                    let flat = |k: &str| -> Vec<i64> {
                        want[k]
                            .as_array()
                            .unwrap()
                            .iter()
                            .flat_map(|x| match x.as_array() {
                                Some(row) => row.iter().map(|y| y.as_i64().unwrap()).collect(),
                                None => vec![x.as_i64().unwrap()],
                            })
                            .collect()
                    };
                    assert_eq!(
                        read_i32(&mut npz, "tokens"),
                        flat("tokens"),
                        "{name} {rule} {engine}"
                    );
                    assert_eq!(
                        read_i32(&mut npz, "accepted_nodes"),
                        flat("accepted_nodes"),
                        "{name} {rule} {engine}"
                    );
                    assert_eq!(read_i32(&mut npz, "num_accepted"), flat("num_accepted"));
                    let generated: Vec<i64> = flat("num_accepted").iter().map(|a| a + 1).collect();
                    assert_eq!(read_i32(&mut npz, "num_generated"), generated);
                    files.push(std::fs::read(&out).unwrap());
                }
                assert!(
                    files.windows(2).all(|w| w[0] == w[1]),
                    "{name} {rule}: engines differ"
                );
            }
        }
    }
}

#[test]
fn a_round_written_from_specsim_tree_output() {
    // The user's flow: show an EAGLE choice list, then write one round on its parent array.
    let o = specsim(&["tree", "eagle:[[0],[0,0],[1]]", "--format", "json"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let t: Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(t["parents"], serde_json::json!([-1, 0, 0, 1]));
    assert_eq!(t["retrive_next_token"], serde_json::json!([1, 3, -1, -1]));
    assert_eq!(
        t["retrive_next_sibling"],
        serde_json::json!([-1, 2, -1, -1])
    );
    // In EAGLE's row order (its custom_sort: the padding -1 after every id).
    assert_eq!(
        t["retrieve_indices"],
        serde_json::json!([[0, 1, 3], [0, 2, -1]])
    );
    assert_eq!(t["depth"], 2);
    // Node 1 (token 0) and node 2 (token 1) are the root's children; node 3 (token 2) is node
    // 1's child. V = 3.
    let round = serde_json::json!({
        "parents": t["parents"],
        "draft_tokens": [-1, 0, 1, 2],
        "draft_probs": [[0.5, 0.5, 0.0], [0.0, 0.0, 1.0], [0, 0, 0], [0, 0, 0]],
        "target_probs": [[0.25, 0.75, 0.0], [0.0, 0.5, 0.5], [1, 0, 0], [0, 0, 1]],
        "random_coins": [0.1, 0.6, 0.0, 0.3],
    })
    .to_string();
    let run = |rule: &str| -> Value {
        let o = specsim_stdin(&["round", "--rule", rule], Some(&round));
        assert_eq!(o.code, 0, "{rule}: {}", o.stderr);
        serde_json::from_str(&o.stdout).unwrap()
    };
    // greedy: argmax t[0] = 1 = node 2's token; node 2 is a leaf: bonus argmax t[2] = 0.
    assert_eq!(run("greedy")["accepted_tokens"], serde_json::json!([1, 0]));
    assert_eq!(run("greedy")["accepted_nodes"], serde_json::json!([2]));
    // target-only: coin[0] = 0.1 < S_1 = t[0][0] = 0.25: node 1; at node 1, coin 0.6 >= t[1][2]
    // = 0.5: correction argmax of t[1] with token 2 zeroed = 1.
    assert_eq!(
        run("target-only")["accepted_tokens"],
        serde_json::json!([0, 1])
    );
    // rrs: node 1: coin 0.6 >= 0.25 / 0.5: rejected; res = (0, 0.25, 0) / 0.25; node 2: r[1] / q[1]
    // = 2: accepted (coin 0); bonus argmax t[2] = 0.
    let r = run("rrs");
    assert_eq!(r["accepted_tokens"], serde_json::json!([1, 0]));
    assert_eq!(r["acceptance_rate"], 0.5);
    assert_eq!(run("rrs-wor")["accepted_nodes"], serde_json::json!([2]));
}

#[test]
fn tree_shapes_convert_and_read_back() {
    let dir = tempfile::tempdir().unwrap();
    for spec in [
        "kary:2,3",
        "chain:4",
        "eagle:[[0],[1],[0,0],[0,1],[2],[0,0,0]]",
        "kary:1,0",
    ] {
        let o = specsim(&["tree", spec, "--format", "json"]);
        assert_eq!(o.code, 0, "{spec}: {}", o.stderr);
        let path = dir.path().join("t.json");
        std::fs::write(&path, &o.stdout).unwrap();
        let file = format!("file:{}", path.display());
        let back = specsim(&["tree", &file, "--format", "json"]);
        assert_eq!(back.code, 0, "{}", back.stderr);
        let (a, b): (Value, Value) = (
            serde_json::from_str(&o.stdout).unwrap(),
            serde_json::from_str(&back.stdout).unwrap(),
        );
        for key in [
            "parents",
            "retrive_next_token",
            "retrieve_indices",
            "attention_mask",
            "choices",
        ] {
            assert_eq!(a[key], b[key], "{spec} {key}");
        }
        // Each converter alone reads back too.
        for key in ["choices", "retrieve_indices", "attention_mask"] {
            std::fs::write(&path, serde_json::json!({ key: a[key] }).to_string()).unwrap();
            let o = specsim(&["tree", &file, "--format", "json"]);
            let c: Value = serde_json::from_str(&o.stdout).unwrap();
            assert_eq!(c["widths"], a["widths"], "{spec} from {key}");
        }
    }
    let o = specsim(&["tree", "kary:2,2"]);
    assert!(o.stdout.contains("attention mask") && o.stdout.contains("retrive_next_sibling"));
    for (bad, needle) in [
        ("kary:2", "kary:W,D"),
        ("eagle:[[1]]", "without a gap"),
        ("eagle:[[0,0]]", "needs its parent"),
        ("tree:3", "unknown shape"),
        ("file:/nonexistent/t.json", "/nonexistent/t.json"),
    ] {
        assert_refused(&specsim(&["tree", bad]), bad, &[needle]);
    }
}

#[test]
fn verify_generates_tree_rounds_under_every_rule() {
    for r in specsim::Rule::TREE {
        let rule = &r.to_string();
        let specs: &[&str] = if r == specsim::Rule::Spectr {
            &["kary:3,2", "chain:3", "kary:3,3"]
        } else if !r.verifies_branches() {
            &["chain:3"]
        } else {
            &["kary:3,2", "chain:3"]
        };
        for &spec in specs {
            let o = specsim(&[
                "verify",
                "--generate",
                "300",
                "--tree",
                spec,
                "--rule",
                rule,
                "--vocab",
                "50",
                "--json",
            ]);
            assert_eq!(o.code, 0, "{rule} {spec}: {}{}", o.stdout, o.stderr);
            let r: Value = serde_json::from_str(&o.stdout).unwrap();
            assert_eq!(r["rounds"], 300);
            assert_eq!(r["engine_mismatches"].as_array().unwrap().len(), 0);
        }
    }
}

#[test]
fn tree_input_is_refused_clearly() {
    let b = data("batches/tree_kary22.npz");
    assert_refused(
        &specsim(&["run", &b, "--rule", "token"]),
        "chain rule on a tree batch",
        &["tree batch", "--rule token", "rrs"],
    );
    let c = data("batches/f64_i64.npz");
    assert_refused(
        &specsim(&["verify", &c, "--tree", "kary:2,2", "--rule", "token"]),
        "--tree with a chain rule",
        &["--tree needs a tree rule"],
    );
    let round = r#"{"parents":[-1,0,0],"draft_tokens":[-1,1,1],"draft_probs":[[0.5,0.5],[0,0],[0,0]],"target_probs":[[0.5,0.5],[1,0],[0,1]],"random_coins":[0.1,0.2,0.3]}"#;
    for (rule, needles) in [
        (
            "rrs-wor",
            vec!["draft_tokens[1] = draft_tokens[2] = 1", "rrs-wor"],
        ),
        ("target-only", vec!["distinct sibling tokens"]),
        ("block", vec!["this round is a tree"]),
    ] {
        assert_refused(
            &specsim_stdin(&["round", "--rule", rule], Some(round)),
            rule,
            &needles,
        );
    }
    // Duplicates are fine under rrs and greedy.
    for rule in ["rrs", "greedy"] {
        assert_eq!(
            specsim_stdin(&["round", "--rule", rule], Some(round)).code,
            0
        );
    }
    assert_refused(
        &specsim(&[
            "verify",
            "--generate",
            "10",
            "--tree",
            "chain:1",
            "--rule",
            "rrs",
            "--vocab",
            "0",
        ]),
        "V = 0",
        &["--vocab must be at least 1"],
    );
    assert_refused(
        &specsim(&["verify", &b, "--tree", "kary:2,2", "--rule", "rrs"]),
        "--tree with a batch",
        &["carries its own parents"],
    );
    assert_refused(
        &specsim(&["tree", "kary:2,12"]),
        "a huge tree",
        &["8191 nodes", "at most 4096"],
    );
    assert_refused(
        &specsim(&["tree", "chain:18446744073709551615"]),
        "K beyond usize",
        &["more than 65535 nodes"],
    );
    let bad_parent = round.replace("[-1,0,0]", "[-1,0,2]");
    assert_refused(
        &specsim_stdin(&["round", "--rule", "rrs"], Some(&bad_parent)),
        "bad parent",
        &["parents[2] = 2", "earlier node"],
    );
}

/// Per-round parents [N, n]: a bad row is refused naming its round and node, and so is a
/// parents array whose N is not the batch's.
#[test]
fn bad_per_round_parents_are_refused() {
    use specsim::compare::adversarial_tree::adversarial_per_round_batch;
    let dir = tempfile::tempdir().unwrap();
    let mut b = adversarial_per_round_batch(6, 0, 10, 20, 3, specsim::Rule::Rrs);
    let good = dir.path().join("good");
    specsim::npyio::write_tree_batch_dir(&good, &b).unwrap();
    let o = specsim(&[
        "run",
        good.to_str().unwrap(),
        "--rule",
        "rrs",
        "--format",
        "json",
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let j: Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(j["topology"], "per-round");
    assert_eq!(j["rounds"], 10);
    let p = b.per_round.as_mut().unwrap();
    p[3 * 6 + 4] = 4; // round 3, node 4: its own parent
    let bad = dir.path().join("bad");
    specsim::npyio::write_tree_batch_dir(&bad, &b).unwrap();
    assert_refused(
        &specsim(&["run", bad.to_str().unwrap(), "--rule", "rrs"]),
        "a bad per-round parent",
        &["parents.npy", "round 3", "parents[4] = 4", "earlier node"],
    );
    let mut b = adversarial_per_round_batch(6, 0, 10, 20, 3, specsim::Rule::Rrs);
    b.per_round.as_mut().unwrap().extend([-1, 0, 1, 2, 3, 4]);
    let extra = dir.path().join("extra");
    specsim::npyio::write_tree_batch_dir(&extra, &b).unwrap();
    assert_refused(
        &specsim(&["run", extra.to_str().unwrap(), "--rule", "rrs"]),
        "per-round parents of another N",
        &["parents.npy", "[11, 6]", "N = 10 rounds"],
    );
}

#[test]
fn verify_save_writes_a_tree_batch_that_run_reads() {
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("tree_batch");
    let o = specsim(&[
        "verify",
        "--generate",
        "40",
        "--tree",
        "kary:2,2",
        "--rule",
        "target-only",
        "--vocab",
        "30",
        "--save",
        saved.to_str().unwrap(),
        "--cpu-only",
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    for f in [
        "parents",
        "draft_probs",
        "target_probs",
        "draft_tokens",
        "random_coins",
    ] {
        assert!(saved.join(format!("{f}.npy")).exists(), "{f}");
    }
    let o = specsim(&[
        "run",
        saved.to_str().unwrap(),
        "--rule",
        "target-only",
        "--engine",
        "cpu",
        "--format",
        "json",
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let j: Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(
        (
            j["rounds"].as_u64(),
            j["nodes"].as_u64(),
            j["depth"].as_u64()
        ),
        (Some(40), Some(7), Some(2))
    );
    assert_eq!(j["parents"], serde_json::json!([-1, 0, 0, 1, 1, 2, 2]));
    let o = specsim(&[
        "verify",
        saved.to_str().unwrap(),
        "--rule",
        "target-only",
        "--cpu-only",
    ]);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
}

#[test]
fn a_parents_array_beyond_the_node_limit_is_refused() {
    // 65537 parents (one more than the limit): refused from the shape, before they are read.
    let dir = tempfile::tempdir().unwrap();
    let src = data("batches/tree_eagle_dir");
    for f in [
        "draft_probs",
        "target_probs",
        "draft_tokens",
        "random_coins",
    ] {
        std::fs::copy(
            format!("{src}/{f}.npy"),
            dir.path().join(format!("{f}.npy")),
        )
        .unwrap();
    }
    let n = 65537usize;
    let header = format!("{{'descr': '<i8', 'fortran_order': False, 'shape': ({n},), }}");
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    let pad = 64 - (10 + header.len() + 1) % 64;
    let text = format!("{header}{}\n", " ".repeat(pad));
    bytes.extend_from_slice(&(text.len() as u16).to_le_bytes());
    bytes.extend_from_slice(text.as_bytes());
    bytes.resize(bytes.len() + n * 8, 0);
    std::fs::write(dir.path().join("parents.npy"), &bytes).unwrap();
    let o = specsim(&["run", dir.path().to_str().unwrap(), "--rule", "rrs"]);
    assert_refused(
        &o,
        "65537 parents",
        &["parents.npy", "65537 nodes", "at most 65536"],
    );
}

/// `sequoia:n,d,vector=FILE` (SPEC §10): Sequoia's DP over a vector file, printed with its
/// value; the DP itself is held to brute force over every tree of up to 8 nodes in
/// `topology::sequoia`'s unit tests.
#[test]
fn sequoia_trees_come_from_a_vector_file() {
    let dir = tempfile::tempdir().unwrap();
    let vec = dir.path().join("acc.json");
    std::fs::write(&vec, "[0.6, 0.2, 0.1]").unwrap();
    let spec = format!("sequoia:8,3,vector={}", vec.display());
    let o = specsim(&["tree", &spec, "--format", "json"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let doc: Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(doc["nodes"], 8);
    assert!(doc["depth"].as_u64().unwrap() <= 3);
    // 1 + 0.9 (the root's three) + 0.36 + 0.12 (node 1's two) + 0.12 + 0.216 = 2.716.
    assert!((doc["expected_generated"].as_f64().unwrap() - 2.716).abs() < 1e-12);
    // Per-depth vectors, and refusals.
    std::fs::write(&vec, "[[0.5, 0.3], [0.9]]").unwrap();
    assert_eq!(specsim(&["tree", &spec]).code, 0);
    std::fs::write(&vec, "[0.7, 0.7]").unwrap();
    assert_refused(
        &specsim(&["tree", &spec]),
        "sum > 1",
        &["sum", "more than 1"],
    );
    // Without a file, the vector comes from a family for one rule: refused without a rule.
    assert_refused(
        &specsim(&["tree", "sequoia:8,3"]),
        "no vector and no rule",
        &["sequoia:8,3", "--rule"],
    );
    assert_refused(
        &specsim(&["tree", "sequoia:8,3,vectr=x.json"]),
        "a misspelt vector",
        &["sequoia:n,d,vector=FILE"],
    );
}
