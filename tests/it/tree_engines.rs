//! Tree rules (SPEC §7) on both engines, written once and expanded per engine: the golden cases
//! of the numpy implementation, adversarial tree batches in both recovery modes (equal to the CPU
//! engine bit for bit, and to the f64 reference up to classified rounding), and chains as path
//! trees, where `rrs` and `rrs-wor` are the token rule bit for bit.

use crate::common;

use serde_json::Value;
use specsim::Rule;
use specsim::batch::{Outcomes, Rounds};
use specsim::compare::DiffClass;
use specsim::compare::adversarial_batch_rule;
use specsim::compare::adversarial_tree::{
    TreeBatch, adversarial_per_round_batch, adversarial_tree_batch, random_tree,
};
use specsim::compare::tree::classify_tree;
use specsim::cpu::{CpuEngine, Recovery, RecoveryMode};
use specsim::engine::Engine;
use specsim::topology::Tree;
use specsim::topology::shape::TreeShape;

fn sample(seed: u64) -> Recovery {
    Recovery {
        mode: RecoveryMode::Sample,
        seed,
        round_offset: 0,
    }
}

/// Runs `b` under `rule` on `engine`: equal to the CPU engine, and (argmax mode) to the f64
/// reference except for classified rounding. Returns the result and the classified differences.
fn check(
    engine: &mut dyn Engine,
    b: &TreeBatch,
    rule: Rule,
    rec: Recovery,
    what: &str,
) -> (Outcomes, usize) {
    let view = b.view().unwrap();
    let got = engine
        .run(&view, rule, rec)
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let cpu = Engine::run(&mut CpuEngine::default(), &view, rule, rec).unwrap();
    assert_eq!(
        got,
        cpu,
        "{what}: {} differs from the CPU engine",
        engine.describe()
    );
    let mut diffs = 0;
    let mut scratch = Tree::default();
    if rec.mode == RecoveryMode::Argmax {
        for r in 0..view.n {
            let tree = view.tree(r, &mut scratch);
            let (e, f) = (got.tree_outcome(r), view.reference(r, tree, rule));
            if e != f {
                let (class, detail) = classify_tree(&view, r, tree, rule, &e, &f);
                assert_ne!(
                    class,
                    DiffClass::Unexplained,
                    "{what}: round {r}: {e:?} vs {f:?}: {detail}"
                );
                diffs += 1;
            }
        }
    }
    (got, diffs)
}

/// The golden case's round as a one-round tree batch in f32.
fn golden_batch(case: &Value) -> TreeBatch {
    let input = &case["input"];
    let rows = |k: &str| -> Vec<Vec<f64>> { serde_json::from_value(input[k].clone()).unwrap() };
    let (d, t) = (rows("draft_probs"), rows("target_probs"));
    let parents: Vec<i64> = serde_json::from_value(input["parents"].clone()).unwrap();
    let tree = Tree::from_parents(&parents).unwrap();
    let v = t[0].len();
    let flat = |r: &[Vec<f64>]| -> Vec<f32> { r.iter().flatten().map(|&x| x as f32).collect() };
    let toks: Vec<i64> = serde_json::from_value(input["draft_tokens"].clone()).unwrap();
    let coins: Vec<f64> = serde_json::from_value(input["random_coins"].clone()).unwrap();
    TreeBatch {
        per_round: None,
        tree,
        n: 1,
        v,
        draft: flat(&d),
        target: flat(&t),
        tokens: toks
            .iter()
            .enumerate()
            .map(|(i, &x)| if i == 0 { 0 } else { x as u32 })
            .collect(),
        coins: coins.iter().map(|&x| x as f32).collect(),
    }
}

macro_rules! tree_engine_tests {
    ($name:ident, $with:expr) => {
        mod $name {
            use super::*;

            fn with_engine(f: impl FnOnce(&mut dyn Engine)) {
                common::with_engine($with, f);
            }

            /// A batch whose every round has its own tree (`parents` [N, n]): equal to the f64
            /// reference round by round (up to classified rounding), in both recovery modes, and
            /// to the same rounds run one by one as shared-tree batches.
            #[test]
            fn per_round_topologies() {
                with_engine(|e| {
                    // Random trees: the rules that verify branches.
                    for rule in Rule::TREE.into_iter().filter(|r| r.verifies_branches()) {
                        for (n, nodes, v) in [(40, 9, 50), (12, 24, 700), (30, 1, 5)] {
                            let b = adversarial_per_round_batch(nodes, 0, n, v, 5, rule);
                            let what = format!("{rule} per-round n={nodes} V={v}");
                            for rec in [Recovery::default(), sample(4)] {
                                let (got, _) = check(e, &b, rule, rec, &what);
                                assert!(got.nodes.is_some(), "{what}: accepted nodes");
                                let parents = b.per_round.as_ref().unwrap();
                                for r in 0..n {
                                    let one = adversarial_tree_batch(
                                        &random_tree(nodes, 5, r as u64),
                                        r as u64,
                                        1,
                                        v,
                                        5,
                                        rule,
                                    );
                                    assert_eq!(
                                        one.tree
                                            .parents()
                                            .iter()
                                            .map(|&p| p as i64)
                                            .collect::<Vec<_>>(),
                                        parents[r * nodes..(r + 1) * nodes],
                                    );
                                    let alone = e
                                        .run(&one.view().unwrap(), rule, rec.shifted(r as u64))
                                        .unwrap();
                                    assert_eq!(
                                        alone.tree_outcome(0),
                                        got.tree_outcome(r),
                                        "{what}: round {r} alone"
                                    );
                                }
                            }
                        }
                    }
                });
            }

            /// rrs-wor where the remaining draft mass is tiny: N / W = 0.5 / 1e-40 overflows
            /// float32, yet the second child's exact ratio is 1 and its coin 0.5 accepts it: the
            /// same answer as the f64 reference on every engine.
            #[test]
            fn rrs_wor_with_a_tiny_remaining_draft_mass() {
                with_engine(|e| {
                    let tree = Tree::from_parents(&[-1, 0, 0]).unwrap();
                    let b = TreeBatch {
                        per_round: None,
                        tree,
                        n: 1,
                        v: 2,
                        draft: vec![1.0, 1e-40, 0.5, 0.5, 0.5, 0.5],
                        target: vec![0.5, 0.5, 0.5, 0.5, 0.3, 0.7],
                        tokens: vec![0, 0, 1],
                        coins: vec![0.0, 0.9, 0.5],
                    };
                    let view = b.view().unwrap();
                    let got = e.run(&view, Rule::RrsWor, Recovery::default()).unwrap();
                    let mut scratch = Tree::default();
                    let want = view.reference(0, view.tree(0, &mut scratch), Rule::RrsWor);
                    assert_eq!(want.nodes, [2], "the reference accepts node 2");
                    assert_eq!(got.tree_outcome(0), want, "{}", e.describe());
                });
            }

            #[test]
            fn golden_cases_in_float32() {
                with_engine(|e| {
                    let doc = common::tree_golden();
                    let (mut ran, mut classified) = (0, 0);
                    for case in doc["cases"].as_array().unwrap() {
                        if case.get("error").is_some()
                            || !case["f32_exact"].as_bool().unwrap()
                            || case["input"].get("parents").is_none()
                            || case["options"]["allow_unnormalized"].as_bool() == Some(true)
                        {
                            continue;
                        }
                        let rule: Rule = case["rule"].as_str().unwrap().parse().unwrap();
                        let b = golden_batch(case);
                        let name = case["name"].as_str().unwrap();
                        let (got, diffs) = check(e, &b, rule, Recovery::default(), name);
                        let want: Vec<i64> =
                            serde_json::from_value(case["expected"]["accepted_nodes"].clone())
                                .unwrap();
                        if diffs == 0 {
                            let nodes: Vec<i64> = got
                                .tree_outcome(0)
                                .nodes
                                .iter()
                                .map(|&x| x as i64)
                                .collect();
                            assert_eq!(nodes, want, "{name}");
                        }
                        classified += diffs;
                        ran += 1;
                    }
                    assert!(ran >= 300, "{ran} golden cases ran");
                    assert!(
                        classified * 20 <= ran,
                        "{classified} of {ran} differ by rounding"
                    );
                });
            }

            #[test]
            fn adversarial_tree_batches() {
                with_engine(|e| {
                    let shapes = [
                        "kary:3,3",
                        "chain:5",
                        "eagle:[[0],[0,0],[1],[0,1],[2],[0,0,0],[1,0]]",
                        "kary:8,1",
                        "chain:0",
                    ];
                    for spec in shapes {
                        let tree = spec.parse::<TreeShape>().unwrap().tree;
                        for rule in Rule::TREE {
                            for v in [1usize, 5, 97, 1000] {
                                if (rule.needs_distinct_siblings() && tree.max_children() > v)
                                    || (!rule.verifies_branches() && tree.max_children() > 1)
                                {
                                    continue;
                                }
                                for rec in [Recovery::default(), sample(11)] {
                                    let b = adversarial_tree_batch(&tree, 0, 40, v, 5, rule);
                                    let what = format!("{spec} {rule} V={v} {:?}", rec.mode);
                                    check(e, &b, rule, rec, &what);
                                }
                            }
                        }
                    }
                });
            }

            /// SPEC §13's `sglang:ts:ta` away from its defaults (which no valid probability
            /// reaches: ts = 1), on adversarial rows whose probabilities sit on the thresholds.
            #[test]
            fn sglang_thresholds_at_their_edges() {
                with_engine(|e| {
                    for spec in ["kary:3,3", "kary:8,1", "chain:4"] {
                        let tree = spec.parse::<TreeShape>().unwrap().tree;
                        for rule in ["sglang:0.5:0.8", "sglang:0.25:1", "sglang:0.125:0.5"] {
                            let rule: Rule = rule.parse().unwrap();
                            for v in [8usize, 97] {
                                for rec in [Recovery::default(), sample(13)] {
                                    let b = adversarial_tree_batch(&tree, 0, 60, v, 5, rule);
                                    let what = format!("{spec} {rule} V={v} {:?}", rec.mode);
                                    check(e, &b, rule, rec, &what);
                                }
                            }
                        }
                    }
                });
            }

            #[test]
            fn chains_as_path_trees() {
                with_engine(|e| {
                    for (n, k, v) in [(60, 6, 97), (30, 1, 3), (20, 4, 1000)] {
                        for rec in [Recovery::default(), sample(3)] {
                            let b = adversarial_batch_rule(0, n, k, v, 8, Rule::Token);
                            let view = b.view();
                            let token = e.run(&Rounds::chain(&view), Rule::Token, rec).unwrap();
                            for rule in [Rule::Rrs, Rule::RrsWor, Rule::Spectr] {
                                let got = e.run(&Rounds::chain(&view), rule, rec).unwrap();
                                assert_eq!(got, token, "{rule} = token on a chain, K={k} V={v}");
                            }
                            // greedy accepts exactly the argmax matches.
                            let g = e.run(&Rounds::chain(&view), Rule::Greedy, rec).unwrap();
                            for r in 0..n {
                                let argmax = |i: usize| {
                                    let row =
                                        &b.target[(r * (k + 1) + i) * v..(r * (k + 1) + i + 1) * v];
                                    (0..v).fold(
                                        0,
                                        |best, x| if row[x] > row[best] { x } else { best },
                                    )
                                };
                                let want = (0..k)
                                    .take_while(|&i| b.tokens[r * k + i] as usize == argmax(i))
                                    .count();
                                assert_eq!(g.num_accepted[r] as usize, want, "greedy round {r}");
                            }
                        }
                    }
                });
            }

            /// `greedy` and `target-only` read no draft row: SGLang's all-zero draft rows (and
            /// any finite values) give the same answers as the real rows, on every engine, and
            /// pass both validation modes without --allow-unnormalized.
            #[test]
            fn rules_that_read_no_draft_ignore_the_draft_rows() {
                let tree = "kary:3,2".parse::<TreeShape>().unwrap().tree;
                for rule in [Rule::Greedy, Rule::TargetOnly] {
                    let b = adversarial_tree_batch(&tree, 0, 90, 40, 17, rule);
                    let mut zeroed = b.clone();
                    zeroed.draft.iter_mut().for_each(|x| *x = 0.0);
                    let mut odd = b.clone();
                    odd.draft
                        .iter_mut()
                        .enumerate()
                        .for_each(|(i, x)| *x = -(i as f32) * 1e30);
                    let rec = Recovery::default();
                    with_engine(|e| {
                        let want = e.run(&b.view().unwrap(), rule, rec).unwrap();
                        for other in [&zeroed, &odd] {
                            let view = other.view().unwrap();
                            let o = specsim::round::RoundOptions::default();
                            for mode in [
                                specsim::batch::Validation::Full,
                                specsim::batch::Validation::Touched,
                            ] {
                                view.validate(&o, mode, rule)
                                    .unwrap_or_else(|e| panic!("{rule} {mode:?}: {e}"));
                            }
                            assert_eq!(e.run(&view, rule, rec).unwrap(), want, "{rule}");
                        }
                    });
                }
            }
        }
    };
}

for_each_engine!(tree_engine_tests);

#[test]
fn gpu_tree_chunks_and_2d_dispatch() {
    let Some(mut g) = common::gpu() else { return };
    let tree = "kary:2,3".parse::<TreeShape>().unwrap().tree;
    let b = adversarial_tree_batch(&tree, 0, 301, 64, 2, Rule::Rrs);
    let view = b.view().unwrap();
    let whole = Engine::run(
        &mut CpuEngine::default(),
        &view,
        Rule::Rrs,
        Recovery::default(),
    )
    .unwrap();
    g.config.max_rounds_per_chunk = Some(37);
    g.config.max_groups_x = 5;
    let got = g.run(&view, Rule::Rrs, sample(0)).map(|_| ());
    let chunked = g.run(&view, Rule::Rrs, Recovery::default());
    g.config = Default::default();
    got.unwrap();
    assert_eq!(chunked.unwrap(), whole);
}

/// The tree buffers are kept from one call to the next: calls of other shapes in between (a
/// larger tree and V, then a smaller one, per-round topologies, `spectr`'s per-node values)
/// leave nothing behind that changes a later answer; every call equals the CPU engine.
#[test]
fn gpu_tree_buffers_are_reused_across_shapes() {
    let Some(mut g) = common::gpu() else { return };
    let big = "kary:3,3".parse::<TreeShape>().unwrap().tree;
    let small = "kary:2,2".parse::<TreeShape>().unwrap().tree;
    let batches = [
        (
            adversarial_tree_batch(&big, 1, 90, 300, 3, Rule::Rrs),
            Rule::Rrs,
        ),
        (
            adversarial_tree_batch(&small, 2, 7, 40, 2, Rule::Greedy),
            Rule::Greedy,
        ),
        (
            adversarial_per_round_batch(9, 3, 25, 60, 3, Rule::RrsWor),
            Rule::RrsWor,
        ),
        (
            adversarial_tree_batch(&small, 4, 11, 40, 2, Rule::Spectr),
            Rule::Spectr,
        ),
        (
            adversarial_tree_batch(&big, 1, 90, 300, 3, Rule::Rrs),
            Rule::Rrs,
        ),
        (
            adversarial_tree_batch(&small, 2, 7, 40, 2, Rule::TargetOnly),
            Rule::TargetOnly,
        ),
    ];
    for (i, (b, rule)) in batches.iter().enumerate() {
        let view = b.view().unwrap();
        for rec in [Recovery::default(), sample(i as u64)] {
            let cpu = Engine::run(&mut CpuEngine::default(), &view, *rule, rec).unwrap();
            assert_eq!(g.run(&view, *rule, rec).unwrap(), cpu, "call {i} ({rule})");
        }
    }
}

/// The classification of f32/f64 differences is not vacuous: a wrong decision at the root (a
/// different child, or a stop) on random rows is `unexplained` for every rule.
#[test]
fn a_wrong_outcome_is_not_explained_away() {
    for rule in Rule::TREE {
        // A rule that verifies chains only, on a chain.
        let spec = if rule.verifies_branches() {
            "kary:3,2"
        } else {
            "chain:4"
        };
        let tree = spec.parse::<TreeShape>().unwrap().tree;
        let b = specsim::bench::tree_timing_batch(&tree, 200, 64, 0.5, 9);
        let view = b.view().unwrap();
        let mut unexplained = 0;
        for r in 0..view.n {
            let f = view.reference(r, &tree, rule);
            let mut e = f.clone();
            if e.nodes.is_empty() {
                // The reference stopped at the root: pretend its first child was accepted.
                e.nodes = vec![tree.children(0)[0]];
            } else {
                // It accepted a child: pretend it stopped there with another token.
                e.nodes.clear();
                e.token = (f.token + 1) % 64;
            }
            let (class, _) = classify_tree(&view, r, &tree, rule, &e, &f);
            unexplained += usize::from(class == DiffClass::Unexplained);
        }
        assert!(
            unexplained >= 190,
            "{rule}: only {unexplained} of 200 wrong outcomes are unexplained"
        );
    }
}

/// `--validate touched` checks the draft rows rrs reads at a node where a child was rejected,
/// even when the walk goes on past it (review finding: the root's unnormalised draft row).
#[test]
fn touched_validation_checks_the_rows_a_rejection_reads() {
    use specsim::round::RoundOptions;
    let tree = Tree::from_parents(&[-1, 0, 0]).unwrap();
    let b = TreeBatch {
        per_round: None,
        tree,
        n: 1,
        v: 3,
        draft: vec![0.4, 0.3, 5.0, 0., 0., 0., 0., 0., 0.],
        target: vec![0.3, 0.32, 0.38, 1., 0., 0., 0., 1., 0.],
        tokens: vec![0, 0, 1],
        coins: vec![0.0, 0.9, 0.8],
    };
    let view = b.view().unwrap();
    let o = RoundOptions::default();
    for rule in [Rule::Rrs, Rule::RrsWor] {
        let e = view.validate_touched(&o, rule).unwrap_err();
        assert_eq!(e.kind(), "not_normalized", "{rule}: {e}");
        assert!(e.to_string().contains("draft_probs[0]"), "{e}");
    }
}

/// Validation checks exactly the rows a rule reads: under `greedy` and `target-only` a draft row
/// need only be finite (`full`) and is not read at all (`touched`), wherever the walk stops; a
/// NaN is still refused by `full`; `rrs` still refuses an all-zero draft row. The one-round path
/// (`round`, Python's `speculative_decode`) decides the same.
#[test]
fn validation_reads_exactly_the_rows_a_rule_reads() {
    use specsim::batch::Validation;
    use specsim::round::RoundOptions;
    let o = RoundOptions::default();
    // Round 0 stops at the root's child 1 (an internal node), round 1 at a leaf: the touched
    // check used to read the stop node's draft row in the first only.
    let tree = Tree::from_parents(&[-1, 0, 1, 0]).unwrap();
    let b = TreeBatch {
        per_round: None,
        tree,
        n: 2,
        v: 3,
        draft: vec![0.0; 2 * 4 * 3],
        target: vec![
            0.1, 0.8, 0.1, 0.2, 0.2, 0.6, 1., 0., 0., 1., 0., 0., //
            0.1, 0.8, 0.1, 0.2, 0.7, 0.1, 1., 0., 0., 1., 0., 0.,
        ],
        tokens: vec![0, 1, 0, 0, 0, 1, 1, 0],
        coins: vec![0.5; 8],
    };
    let view = b.view().unwrap();
    for rule in [Rule::Greedy, Rule::TargetOnly] {
        for mode in [Validation::Full, Validation::Touched] {
            view.validate(&o, mode, rule)
                .unwrap_or_else(|e| panic!("{rule} {mode:?}: {e}"));
        }
    }
    for rule in [Rule::Rrs, Rule::RrsWor] {
        let e = view.validate(&o, Validation::Full, rule).unwrap_err();
        assert!(e.to_string().contains("draft_probs"), "{rule}: {e}");
    }
    let mut nan = b.clone();
    nan.draft[4] = f32::NAN;
    let view = nan.view().unwrap();
    let e = view
        .validate(&o, Validation::Full, Rule::Greedy)
        .unwrap_err();
    assert_eq!(e.kind(), "bad_probability", "{e}");
    view.validate(&o, Validation::Touched, Rule::Greedy)
        .unwrap();
    // One round through `round`: all-zero draft rows under target-only, refused under rrs.
    let round = serde_json::json!({
        "parents": [-1, 0, 1, 0],
        "draft_probs": vec![vec![0.0; 3]; 4],
        "target_probs": [[0.1, 0.8, 0.1], [0.2, 0.2, 0.6], [1., 0., 0.], [1., 0., 0.]],
        "draft_tokens": [0, 1, 2, 0],
        "random_coins": [0.5, 0.5, 0.5, 0.5],
    })
    .to_string();
    for (rule, ok) in [("target-only", true), ("greedy", true), ("rrs", false)] {
        let out = common::specsim_stdin(&["round", "--rule", rule, "-"], Some(&round));
        assert_eq!(out.code == 0, ok, "{rule}: {}{}", out.stdout, out.stderr);
    }
}
