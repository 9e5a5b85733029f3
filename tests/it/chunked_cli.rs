//! `run` and `verify` go through a batch chunk by chunk (with a progress bar on a terminal): a
//! budget small enough to make dozens of chunks gives the same files, the same summaries and the
//! same first bad round as one chunk, on chains and trees, in both recovery modes.

use crate::common;

use common::{specsim, specsim_env};
use specsim::compare::adversarial_batch_rule;
use specsim::compare::adversarial_tree::adversarial_tree_batch;
use specsim::npyio::{write_batch_dir, write_tree_batch_dir};
use specsim::rule::Rule;
use specsim::topology::shape::TreeShape;

/// About 7 rounds a chunk for the batches below.
const SMALL: &[(&str, &str)] = &[("SPECSIM_CHUNK_BYTES", "6000")];

fn read(path: &std::path::Path) -> Vec<u8> {
    std::fs::read(path).unwrap()
}

#[test]
fn run_in_many_chunks_writes_the_same_results() {
    let dir = tempfile::tempdir().unwrap();
    let chain = dir.path().join("chain");
    write_batch_dir(
        &chain,
        &adversarial_batch_rule(0, 150, 4, 23, 5, Rule::Token),
    )
    .unwrap();
    let tree_shape: TreeShape = "kary:2,2".parse().unwrap();
    let tree = dir.path().join("tree");
    write_tree_batch_dir(
        &tree,
        &adversarial_tree_batch(&tree_shape.tree, 0, 120, 23, 6, Rule::Rrs),
    )
    .unwrap();
    let cases = [
        (chain.clone(), "token"),
        (chain.clone(), "block"),
        (chain, "rrs"),
        (tree, "rrs"),
    ];
    for (batch, rule) in cases {
        for recovery in ["argmax", "sample"] {
            for validate in ["full", "touched"] {
                let b = batch.to_str().unwrap();
                let (one, many) = (dir.path().join("one.npz"), dir.path().join("many.npz"));
                let args = |out: &std::path::Path| {
                    vec![
                        "run".to_string(),
                        b.to_string(),
                        "--engine".into(),
                        "cpu".into(),
                        "--rule".into(),
                        rule.into(),
                        "--recovery".into(),
                        recovery.into(),
                        "--validate".into(),
                        validate.into(),
                        "--format".into(),
                        "jsonl".into(),
                        "--out".into(),
                        out.to_str().unwrap().to_string(),
                    ]
                };
                let a1 = args(&one);
                let a2 = args(&many);
                let o1 = specsim(&a1.iter().map(String::as_str).collect::<Vec<_>>());
                let o2 = specsim_env(&a2.iter().map(String::as_str).collect::<Vec<_>>(), SMALL);
                let what = format!("{b} {rule} {recovery} {validate}");
                assert_eq!(o1.code, 0, "{what}: {}", o1.stderr);
                assert_eq!(o2.code, 0, "{what}: {}", o2.stderr);
                assert_eq!(o1.stdout, o2.stdout, "{what}: per-round output");
                assert_eq!(read(&one), read(&many), "{what}: result file");
                // Not a terminal: no bar, nothing on stderr.
                assert!(o2.stderr.is_empty(), "{what}: {}", o2.stderr);
            }
        }
    }
}

#[test]
fn the_first_bad_round_is_named_whatever_the_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = adversarial_batch_rule(0, 150, 4, 23, 5, Rule::Token);
    // Rounds 97 and 120 get a coin of 1 (refused); round 97 is in a later chunk than the first.
    for r in [120usize, 97] {
        b.coins[r * 4 + 2] = 1.0;
    }
    let path = dir.path().join("bad");
    write_batch_dir(&path, &b).unwrap();
    let p = path.to_str().unwrap();
    for validate in ["full", "touched"] {
        let args = ["run", p, "--engine", "cpu", "--validate", validate];
        let one = specsim(&args);
        let many = specsim_env(&args, SMALL);
        assert_ne!(one.code, 0);
        assert!(one.stderr.contains("round 97"), "{}", one.stderr);
        assert_eq!(one.stderr, many.stderr, "{validate}");
        assert!(many.stdout.is_empty());
    }
    let v = specsim_env(&["verify", p, "--cpu-only"], SMALL);
    assert_ne!(v.code, 0);
    assert!(v.stderr.contains("round 97"), "{}", v.stderr);
}

#[test]
fn verify_in_many_chunks_reports_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let chain = dir.path().join("chain");
    write_batch_dir(
        &chain,
        &adversarial_batch_rule(0, 150, 4, 23, 5, Rule::Block),
    )
    .unwrap();
    let c = chain.to_str().unwrap();
    for rule in ["token", "block"] {
        let args = ["verify", c, "--cpu-only", "--rule", rule, "--json"];
        let one = specsim(&args);
        let many = specsim_env(&args, SMALL);
        assert_eq!(one.code, 0, "{}", one.stderr);
        let strip = |s: &str| {
            let mut j: serde_json::Value = serde_json::from_str(s).unwrap();
            j.as_object_mut().unwrap().remove("seconds");
            j
        };
        assert_eq!(strip(&one.stdout), strip(&many.stdout), "{rule}");
        assert_eq!(strip(&many.stdout)["rounds"], 150);
    }
}
