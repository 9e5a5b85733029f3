//! The tree rules' compatibility profiles (SPEC §14): `specsim::compat::decide_tree` against an
//! independent numpy implementation (tests/data/make_compat_tree_golden.py), against the tree
//! reference (`specsim`) and the chain profile on paths (`sglang`), SGLang's own unit-test
//! vectors, each profile's distinctive cases, and `conform`, `round` and `run` with a tree rule.

use crate::common;
use crate::common::f32s;
use rand::{Rng, SeedableRng, rngs::StdRng};
use serde_json::Value;
use specsim::Rule;
use specsim::compat::golden_tree::{TreeCase, tree_cases};
use specsim::compat::{ChainRound, Profile, TreeRound, decide_chain, decide_tree};
use specsim::topology::Tree;

#[test]
fn tree_profiles_equal_the_numpy_implementation() {
    let doc = common::golden("golden_compat_tree.json.gz");
    let cases = doc["cases"].as_array().unwrap();
    assert!(cases.len() >= 1500);
    let (mut decided, mut refused, mut accepted) = (0, 0, 0);
    for (i, c) in cases.iter().enumerate() {
        let profile: Profile = c["profile"].as_str().unwrap().parse().unwrap();
        let rule: Rule = c["rule"].as_str().unwrap().parse().unwrap();
        let parents: Vec<i64> = serde_json::from_value(c["parents"].clone()).unwrap();
        let tree = Tree::from_parents(&parents).unwrap();
        let tokens: Vec<i64> = serde_json::from_value(c["tokens"].clone()).unwrap();
        let target = f32s(&c["target"]);
        let round = TreeRound {
            tree: &tree,
            v: target.len() / parents.len(),
            tokens: &tokens,
            coins: &f32s(&c["coins"]),
            target: &target,
            final_coin: c["final_coin"].as_f64().map(|u| u as f32),
        };
        let got = decide_tree(&round, profile, rule);
        let want = &c["expected"];
        let what = format!("case {i} ({profile} {rule})");
        if want.get("refused").is_some() {
            assert!(
                got.is_err(),
                "{what}: numpy refuses ({}), got {got:?}",
                want["refused"]
            );
            refused += 1;
            continue;
        }
        let got = got.unwrap_or_else(|e| panic!("{what}: refused: {e}"));
        let tokens: Vec<i32> = serde_json::from_value(want["tokens"].clone()).unwrap();
        let nodes: Vec<i32> = serde_json::from_value(want["nodes"].clone()).unwrap();
        assert_eq!(got.tokens, tokens, "{what}");
        assert_eq!(got.nodes, nodes, "{what}");
        assert_eq!(
            got.num_accepted as u64,
            want["num_accepted"].as_u64().unwrap(),
            "{what}"
        );
        decided += 1;
        accepted += usize::from(got.num_accepted > 1);
    }
    assert!(
        decided > 1200 && refused > 150 && accepted > 100,
        "{decided} decided ({accepted} accepting two or more), {refused} refused"
    );
}

/// A random tree round of small V with distinct sibling tokens, normalised rows and random coins.
fn random_round(rng: &mut StdRng) -> (Vec<i64>, Vec<i64>, Vec<f32>, Vec<f32>, usize) {
    let n = rng.random_range(1..10usize);
    let v = rng.random_range(2..7usize);
    let mut parents = vec![-1i64];
    let mut kids = vec![0usize; n];
    for c in 1..n {
        // A parent with room for another distinct token.
        let p = loop {
            let p = rng.random_range(0..c);
            if kids[p] < v {
                break p;
            }
        };
        kids[p] += 1;
        parents.push(p as i64);
    }
    let mut tokens = vec![0i64; n];
    for u in 0..n {
        let mut ids: Vec<i64> = (0..v as i64).collect();
        for (j, c) in (1..n).filter(|&c| parents[c] == u as i64).enumerate() {
            let k = rng.random_range(j..v);
            ids.swap(j, k);
            tokens[c] = ids[j];
        }
    }
    let mut target = Vec::new();
    for _ in 0..n {
        let w: Vec<f64> = (0..v).map(|_| rng.random_range(0..4) as f64).collect();
        let s: f64 = w.iter().sum::<f64>().max(1.0);
        let mut row: Vec<f32> = w.iter().map(|x| (x / s) as f32).collect();
        if s == 1.0 && w.iter().all(|&x| x == 0.0) {
            row[rng.random_range(0..v)] = 1.0;
        }
        target.extend(row);
    }
    let coins: Vec<f32> = (0..n)
        .map(|_| [0.0, 0.125, 0.25, 0.5, 0.75, 0.9][rng.random_range(0..6)])
        .collect();
    (parents, tokens, target, coins, v)
}

#[test]
fn the_specsim_profile_is_the_tree_reference() {
    use specsim::reference::tree::walk::{TreeInput, decide_tree as reference};
    let mut rng = StdRng::seed_from_u64(27);
    for i in 0..2000 {
        let (parents, tokens, target, coins, v) = random_round(&mut rng);
        let tree = Tree::from_parents(&parents).unwrap();
        let n = parents.len();
        let draft = vec![0.0f32; n * v];
        let toks: Vec<u32> = tokens.iter().map(|&x| x as u32).collect();
        for rule in [Rule::Greedy, Rule::TargetOnly] {
            let want = reference(
                rule,
                &TreeInput {
                    tree: &tree,
                    tokens: &toks,
                    draft: &draft[..],
                    target: &target[..],
                    coins: &coins[..],
                    v,
                },
            );
            let round = TreeRound {
                tree: &tree,
                v,
                tokens: &tokens,
                coins: &coins,
                target: &target,
                final_coin: None,
            };
            let got = decide_tree(&round, Profile::Specsim, rule).unwrap();
            let a = got.num_accepted as usize;
            let nodes: Vec<u32> = got.nodes[..a].iter().map(|&x| x as u32).collect();
            assert_eq!(nodes, want.nodes, "round {i} {rule}");
            assert_eq!(got.tokens[a] as u32, want.token, "round {i} {rule}");
        }
    }
}

#[test]
fn sglang_target_only_on_a_path_is_the_sglang_chain_profile() {
    let mut rng = StdRng::seed_from_u64(28);
    for i in 0..2000 {
        let k = rng.random_range(1..6usize);
        let v = rng.random_range(1..6usize);
        let target: Vec<f32> = (0..(k + 1) * v)
            .map(|_| [0.0, 0.125, 0.25, 0.5][rng.random_range(0..4)])
            .collect();
        let draft = vec![0.0f32; k * v];
        let drafted: Vec<i64> = (0..k).map(|_| rng.random_range(0..v as i64)).collect();
        let coins: Vec<f32> = (0..k)
            .map(|_| [0.0, 0.125, 0.25, 0.375, 0.5, 0.9][rng.random_range(0..6)])
            .collect();
        let final_coin = [None, Some(0.0f32), Some(0.3), Some(0.999)][rng.random_range(0..4)];
        let chain = decide_chain(
            &ChainRound {
                draft: &draft,
                target: &target,
                tokens: &drafted,
                coins: &coins,
                final_coin,
                exp_noise: None,
            },
            Profile::Sglang,
        )
        .unwrap();
        let tree = Tree::path(k);
        let tokens: Vec<i64> = std::iter::once(0).chain(drafted.iter().copied()).collect();
        let node_coins: Vec<f32> = coins.iter().copied().chain([0.0]).collect();
        let got = decide_tree(
            &TreeRound {
                tree: &tree,
                v,
                tokens: &tokens,
                coins: &node_coins,
                target: &target,
                final_coin,
            },
            Profile::Sglang,
            Rule::TargetOnly,
        )
        .unwrap();
        assert_eq!(got.tokens, chain.tokens, "round {i}");
        assert_eq!(got.num_accepted, chain.num_accepted, "round {i}");
    }
}

fn case(profile: Profile, rule: Rule, class: &str) -> Option<TreeCase> {
    tree_cases(profile, rule)
        .unwrap()
        .into_iter()
        .find(|c| c.class == class)
}

#[test]
fn sglang_unit_test_vectors_are_reproduced() {
    // sgl-kernel tests/speculative: `test_tree_speculative_sampling_target_only` (thresholds
    // 1, 1) and `test_verify_tree_greedy`: predicts [3, -1, -1, 4, 5, 18, 11, -1, -1, -1, 12,
    // 18], accept_index [[0, 3, 4, 5], [6, 10, 11, -1]], accept_token_num [3, 2]; round 1's
    // nodes renumbered (SGLang's 4, 5 are 1, 2 here).
    let pairs = [
        (Profile::Sglang, Rule::TargetOnly),
        (Profile::Sglang, Rule::Greedy),
        (Profile::Vllm, Rule::Greedy),
        (Profile::Specsim, Rule::Greedy),
        (Profile::Specsim, Rule::TargetOnly),
    ];
    for (profile, rule) in pairs {
        let r0 = case(profile, rule, "peer_sglang_tree_round0").unwrap();
        assert_eq!(r0.expected.tokens, [3, 4, 5, 18], "{profile} {rule}");
        assert_eq!(r0.expected.nodes, [3, 4, 5]);
        assert_eq!(r0.expected.num_accepted, 3);
        let r1 = case(profile, rule, "peer_sglang_tree_round1").unwrap();
        assert_eq!(r1.expected.tokens, [11, 12, 18, -1], "{profile} {rule}");
        assert_eq!(r1.expected.nodes, [1, 2, -1]);
        assert_eq!(r1.expected.num_accepted, 2);
    }
}

#[test]
fn sglang_boundary_tests_are_reproduced() {
    // SGLang's PR #35798 tests: accept_token_num 0, 1 and 1 with predicts[0] = 3.
    let acc = |class| {
        let c = case(Profile::Sglang, Rule::TargetOnly, class).unwrap();
        (c.expected.num_accepted, c.expected.tokens[0])
    };
    assert_eq!(acc("peer_sglang_zero_probability").0, 0);
    assert_eq!(acc("peer_sglang_zero_coin").0, 1);
    assert_eq!(acc("peer_sglang_bucket_boundary"), (1, 3));
}

#[test]
fn each_tree_profile_decides_its_distinctive_cases() {
    let (s, g) = (Profile::Specsim, Profile::Sglang);
    let to = Rule::TargetOnly;
    let first = |p, class| case(p, to, class).unwrap().expected.nodes[0];
    // coin = S_1: `coin < prob_acc` (SGLang since its PR #35798, and specsim) takes the second.
    assert_eq!(
        (first(g, "coin_at_threshold"), first(s, "coin_at_threshold")),
        (2, 2)
    );
    // coin 0 and p = 0: never accepted.
    assert_eq!(
        (first(g, "coin_zero_p_zero"), first(s, "coin_zero_p_zero")),
        (2, 2)
    );
    // A coin on a bucket boundary skips the zero-mass bucket.
    assert_eq!(
        (first(g, "zero_mass_bucket"), first(s, "zero_mass_bucket")),
        (3, 3)
    );
    // 0.25 + 2^-30 rounds to 0.25 in f32: SGLang's f32 running sum rejects at coin 0.25, the f64
    // sum accepts.
    assert_eq!(
        (first(g, "running_sum_f32"), first(s, "running_sum_f32")),
        (-1, 2)
    );
    // Duplicate sibling tokens: counted twice by SGLang; refused under specsim.
    assert_eq!(first(g, "duplicate_siblings"), 2);
    assert!(case(s, to, "duplicate_siblings").is_none());
    // The masked row all zero: V - 1 (SGLang's initial sampled_id), or the target's argmax.
    assert_eq!(case(g, to, "zero_residual").unwrap().expected.tokens[0], 7);
    assert_eq!(case(s, to, "zero_residual").unwrap().expected.tokens[0], 1);
    // Inverse CDF with a strict >, and the final coin read for the bonus.
    assert_eq!(
        case(g, to, "selection_boundary").unwrap().expected.tokens[0],
        4
    );
    assert_eq!(
        case(s, to, "selection_boundary").unwrap().expected.tokens[0],
        5
    );
    assert_eq!(
        case(g, to, "bonus_at_leaf").unwrap().expected.tokens,
        [2, 0]
    );
    assert_eq!(
        case(s, to, "bonus_at_leaf").unwrap().expected.tokens,
        [2, 5]
    );
    // Greedy: invalid ids never match under the engines, are refused under specsim.
    for class in ["invalid_token_id", "invalid_token_id_negative"] {
        for p in [Profile::Vllm, g] {
            assert_eq!(
                case(p, Rule::Greedy, class).unwrap().expected.nodes,
                [2],
                "{p} {class}"
            );
        }
        assert!(case(s, Rule::Greedy, class).is_none());
    }
    assert_eq!(
        case(g, Rule::Greedy, "argmax_tie").unwrap().expected.nodes,
        [2]
    );
    assert_eq!(
        case(g, Rule::Greedy, "first_matching_child")
            .unwrap()
            .expected
            .nodes,
        [1, -1]
    );
    // Only sglang's target-only sets carry final coins.
    for p in [s, g, Profile::Vllm] {
        for r in p.tree_rules() {
            let sampled = p == g && *r == to;
            for c in tree_cases(p, *r).unwrap() {
                assert_eq!(c.final_coins.is_some(), sampled, "{p} {r} {}", c.class);
            }
        }
    }
}

#[test]
fn tree_profiles_refuse_what_their_engine_lacks_or_refuses() {
    let tree = Tree::from_parents(&[-1, 0, 0]).unwrap();
    let target = vec![0.5f32, 0.5, 0.0, 1.0, 1.0, 0.0];
    let ok = TreeRound {
        tree: &tree,
        v: 2,
        tokens: &[0, 0, 1],
        coins: &[0.5, 0.0, 0.0],
        target: &target,
        final_coin: None,
    };
    for (p, r, needle) in [
        (
            Profile::Vllm,
            Rule::TargetOnly,
            "the vllm profile decides token, greedy",
        ),
        (
            Profile::Flashinfer,
            Rule::Greedy,
            "the flashinfer profile decides token",
        ),
        (Profile::Transformers, Rule::TargetOnly, "decides token"),
        (
            Profile::Sglang,
            Rule::Rrs,
            "the sglang profile decides token, greedy, target-only",
        ),
    ] {
        let e = decide_tree(&ok, p, r).unwrap_err().to_string();
        assert!(e.contains(needle), "{p} {r}: {e}");
    }
    let mut bad = ok.clone();
    bad.final_coin = Some(0.5);
    let e = decide_tree(&bad, Profile::Sglang, Rule::Greedy)
        .unwrap_err()
        .to_string();
    assert!(e.contains("final_coins = 0.5"), "{e}");
    bad.final_coin = Some(1.0);
    let e = decide_tree(&bad, Profile::Sglang, Rule::TargetOnly)
        .unwrap_err()
        .to_string();
    assert!(e.contains("outside [0, 1)"), "{e}");
    let coins = [0.5f32, 1.0, 0.0];
    let bad = TreeRound {
        coins: &coins,
        ..ok.clone()
    };
    let e = decide_tree(&bad, Profile::Sglang, Rule::TargetOnly)
        .unwrap_err()
        .to_string();
    assert!(e.contains("random_coins[1] = 1"), "{e}");
    // Greedy under the engines does not read the coins.
    assert!(decide_tree(&bad, Profile::Sglang, Rule::Greedy).is_ok());
    let toks = [0i64, 0, 2];
    let bad = TreeRound {
        tokens: &toks,
        ..ok.clone()
    };
    let e = decide_tree(&bad, Profile::Sglang, Rule::TargetOnly)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("draft_tokens[2] = 2 is not a token id in 0..2"),
        "{e}"
    );
    let t = [0.5f32, f32::NAN, 0.0, 1.0, 1.0, 0.0];
    let bad = TreeRound { target: &t, ..ok };
    let e = decide_tree(&bad, Profile::Vllm, Rule::Greedy)
        .unwrap_err()
        .to_string();
    assert!(e.contains("target_probs[0, 1] = NaN"), "{e}");
}

#[test]
fn conform_round_and_run_take_a_tree_rule() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let o = common::specsim(&["conform", "--rule", "target-only", "--out", out]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    // `all`: the profiles that decide the rule.
    assert!(o.stdout.contains("specsim target-only") && o.stdout.contains("sglang target-only"));
    assert!(!o.stdout.contains("vllm"), "{}", o.stdout);
    let idx: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("sglang/target-only/index.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(idx["rule"], "target-only");
    assert_eq!(idx["extra"], "final_coins");
    let cases = idx["cases"].as_array().unwrap();
    assert_eq!(
        cases.len(),
        tree_cases(Profile::Sglang, Rule::TargetOnly).unwrap().len()
    );
    // Every case file is a tree batch that `run --compat` decides as its index says.
    for c in cases {
        let file = dir
            .path()
            .join("sglang/target-only")
            .join(c["file"].as_str().unwrap());
        let res = dir.path().join("r.npz");
        let o = common::specsim(&[
            "run",
            file.to_str().unwrap(),
            "--compat",
            "sglang",
            "--rule",
            "target-only",
            "--out",
            res.to_str().unwrap(),
            "--quiet",
        ]);
        assert_eq!(o.code, 0, "{}: {}", c["class"], o.stderr);
        let mut z = common::Npz::open(&res);
        let want: Vec<i32> = serde_json::from_value(c["expected_tokens"].clone()).unwrap();
        assert_eq!(z.i32s("tokens").1, want, "{}", c["class"]);
        let nodes: Vec<i32> = serde_json::from_value(c["expected_accepted_nodes"].clone()).unwrap();
        assert_eq!(z.i32s("accepted_nodes").1, nodes, "{}", c["class"]);
    }
    let o = common::specsim(&[
        "conform",
        "--profile",
        "flashinfer",
        "--rule",
        "greedy",
        "--out",
        out,
    ]);
    common::assert_refused(
        &o,
        "flashinfer greedy",
        &["the flashinfer profile decides token"],
    );
    let o = common::specsim(&["conform", "--rule", "rrs", "--out", out]);
    common::assert_refused(&o, "rrs", &["--rule rrs", "greedy and target-only"]);
    // `round`: SGLang's round 0 as JSON.
    let round = r#"{"parents":[-1,0,1,0,3,4],"draft_tokens":[0,1,2,3,4,0],
        "random_coins":[0.5,0.5,0.5,0.5,0.5,0.5],"final_coins":0.5,
        "target_probs":[[0,0,0,1,0],[0,0,0,0,1],[0,0,0,0,1],[0,0,0,0,1],[1,0,0,0,0],[0,0,0,1,0]]}"#;
    let o = common::specsim_stdin(
        &["round", "-", "--compat", "sglang", "--rule", "target-only"],
        Some(round),
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    let v: Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(v["accepted_tokens"], serde_json::json!([3, 4, 0, 3]));
    assert_eq!(v["accepted_nodes"], serde_json::json!([3, 4, 5]));
    assert_eq!(v["rule"], "target-only");
    let o = common::specsim_stdin(
        &["round", "-", "--compat", "vllm", "--rule", "target-only"],
        Some(round),
    );
    common::assert_refused(
        &o,
        "vllm target-only",
        &["the vllm profile decides token, greedy"],
    );
}
