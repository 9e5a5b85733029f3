//! The tree rules' compatibility profiles on every engine (SPEC §14): `Engine::compat_tree`
//! equals the reference (`specsim::compat::decide_tree_batch`) on adversarial tree batches of
//! every profile and rule, shared and per-round trees, with and without final coins (sums whose
//! f32 and f64 values part at the coin, f64 sums that round, subnormals, zero rows, duplicate
//! tokens where allowed, invalid ids under greedy, probabilities ≥ 1, overflowing sums, rows
//! past the GPU's loop budget), and refuses as it does.

use crate::common;
use rand::{Rng, SeedableRng, rngs::StdRng};
use specsim::Rule;
use specsim::compat::{
    PROFILES, Profile, TreeBatch, TreeRound, check_tree, decide_tree, decide_tree_batch,
};
use specsim::topology::Tree;

/// A target value: where f32 and f64 running sums part (2^-25 next to 0.5, 2^-54 and 2^-80 next
/// to 0.5 where f64 rounds, ties to even), subnormal, zero (either sign), ≥ 1, or plain. (Huge
/// values, whose row sums overflow, are placed per round by [`adversarial`].)
fn value(rng: &mut StdRng) -> f32 {
    let pow = |e: i32| 2f32.powi(e);
    match rng.random_range(0..24) {
        0..=2 => 0.0,
        3 => -0.0,
        4 => pow(-25),
        5 => pow(-54),
        6 => 3.0 * pow(-54),
        7 => pow(-80),
        8 => 1e-40,
        9 => f32::from_bits(1),
        10 => 1.0,
        11 | 12 => 1.5,
        13 => 0.1,
        14 => f32::from_bits(0.25f32.to_bits() + 1),
        _ => [0.125, 0.25, 0.5, 0.375][rng.random_range(0..4)],
    }
}

/// A random tree of `nn` nodes (parents before children).
fn parents(rng: &mut StdRng, nn: usize) -> Vec<i64> {
    (0..nn)
        .map(|i| {
            if i == 0 {
                -1
            } else {
                rng.random_range(0..i) as i64
            }
        })
        .collect()
}

/// `rounds` adversarial rounds of `rule` under `profile` that it accepts (the refused are drawn
/// again), on one shared tree or a tree per round.
fn adversarial(
    rng: &mut StdRng,
    profile: Profile,
    rule: Rule,
    rounds: usize,
    v: usize,
) -> TreeBatch {
    // A shape whose rounds are refused too often (distinct sibling tokens at a small V) is
    // drawn again.
    loop {
        if let Some(b) = try_adversarial(rng, profile, rule, rounds, v) {
            return b;
        }
    }
}

fn try_adversarial(
    rng: &mut StdRng,
    profile: Profile,
    rule: Rule,
    rounds: usize,
    v: usize,
) -> Option<TreeBatch> {
    let nn = rng.random_range(1..10);
    let shared = rng.random_bool(0.5);
    let finals = rng.random_range(0..4) != 0
        && rule == Rule::TargetOnly
        && profile.extra() == Some("final_coins");
    let mut b = TreeBatch {
        n: 0,
        nodes: nn,
        v,
        parents: if shared { parents(rng, nn) } else { vec![] },
        tokens: vec![],
        coins: vec![],
        target: vec![],
        final_coins: finals.then(Vec::new),
    };
    let coin_set: [f32; 7] = [0.0, 0.125, 0.25, 0.5, 1e-40, 0.999_999_94, 0.375];
    // Invalid ids are drawn often where they are decided (greedy under an engine's profile).
    let invalid = if rule == Rule::Greedy && profile != Profile::Specsim {
        14
    } else {
        200
    };
    let mut refused = 0;
    while b.n < rounds {
        let p = if shared {
            b.parents.clone()
        } else {
            parents(rng, nn)
        };
        let tree = Tree::from_parents(&p).unwrap();
        let mut target: Vec<f32> = (0..nn * v).map(|_| value(rng)).collect();
        // One round in eight has a huge entry (its row's f32 sum may overflow).
        if rng.random_range(0..8) == 0 {
            let at = rng.random_range(0..nn * v);
            target[at] = 3e38;
        }
        let tokens: Vec<i64> = (0..nn)
            .map(|c| match rng.random_range(0..invalid) {
                0 => -1,
                1 => v as i64,
                2 => (1i64 << 32) + (c % v) as i64,
                _ => rng.random_range(0..v) as i64,
            })
            .collect();
        let mut coins: Vec<f32> = (0..nn)
            .map(|_| coin_set[rng.random_range(0..coin_set.len())])
            .collect();
        // A coin at a running sum of the node's children (the bucket's edge), in f32.
        let u = rng.random_range(0..nn);
        let mut s = 0.0f32;
        for &c in tree.children(u) {
            if let Some(x) = usize::try_from(tokens[c as usize]).ok().filter(|&x| x < v) {
                s += target[u * v + x];
                if s < 1.0 && rng.random_bool(0.5) {
                    coins[u] = s;
                }
            }
        }
        let fc = [0.0f32, 0.37, 0.5, 0.999_999_94, 1e-40][rng.random_range(0..5)];
        let round = TreeRound {
            tree: &tree,
            v,
            tokens: &tokens,
            coins: &coins,
            target: &target,
            final_coin: finals.then_some(fc),
        };
        if check_tree(&round, profile, rule).is_err() {
            refused += 1;
            if refused > 20 * rounds {
                return None;
            }
            continue;
        }
        if !shared {
            b.parents.extend(&p);
        }
        b.tokens.extend(&tokens);
        b.coins.extend(&coins);
        b.target.extend(&target);
        if let Some(f) = &mut b.final_coins {
            f.push(fc);
        }
        b.n += 1;
    }
    Some(b)
}

/// Every (profile, rule) the profiles decide on trees.
fn tree_profiles() -> Vec<(Profile, Rule)> {
    PROFILES
        .iter()
        .flat_map(|&p| p.tree_rules().iter().map(move |&r| (p, r)))
        .collect()
}

macro_rules! compat_tree_engine_tests {
    ($engine:ident, $with:expr) => {
        mod $engine {
            use super::*;

            #[test]
            fn every_tree_profile_equals_the_reference() {
                common::with_engine($with, |e| {
                    let mut rng = StdRng::seed_from_u64(24);
                    for (profile, rule) in tree_profiles() {
                        for v in [1, 2, 3, 7, 300] {
                            for _ in 0..4 {
                                let b = adversarial(&mut rng, profile, rule, 50, v);
                                let want = decide_tree_batch(&b.batch(), profile, rule).unwrap();
                                let got = e.compat_tree(&b.batch(), profile, rule).unwrap();
                                assert_eq!(got.len(), want.len());
                                if let Some(r) = (0..got.len()).find(|&r| got[r] != want[r]) {
                                    panic!(
                                        "{} {profile} {rule} V = {v} round {r}: {:?}, the reference {:?}",
                                        e.describe(),
                                        got[r],
                                        want[r]
                                    );
                                }
                            }
                        }
                    }
                    let _ = e.notices();
                });
            }

            #[test]
            fn tree_rows_past_the_loop_budget_are_finished_by_the_twin() {
                common::with_engine($with, |e| {
                    // SGLang's inverse CDF over V = 40000 runs 2V·(1 + m) iterations in one
                    // invocation (m children masked): past lavapipe's budget, so the GPU leaves
                    // those rounds to the reference.
                    let mut rng = StdRng::seed_from_u64(25);
                    let mut b = adversarial(&mut rng, Profile::Sglang, Rule::TargetOnly, 3, 40_000);
                    b.final_coins = Some(vec![0.5; 3]);
                    let want = decide_tree_batch(&b.batch(), Profile::Sglang, Rule::TargetOnly);
                    assert_eq!(
                        e.compat_tree(&b.batch(), Profile::Sglang, Rule::TargetOnly)
                            .unwrap(),
                        want.unwrap()
                    );
                    let _ = e.notices();
                });
            }

            #[test]
            fn trees_beyond_the_kernels_limits_are_decided_by_the_reference() {
                common::with_engine($with, |e| {
                    // A star of 300 children: more than the tree kernel's 256 per node.
                    let (nn, v) = (301, 4);
                    let mut rng = StdRng::seed_from_u64(31);
                    let mut parents = vec![0i64; nn];
                    parents[0] = -1;
                    let mut b = TreeBatch {
                        n: 3,
                        nodes: nn,
                        v,
                        parents,
                        tokens: (0..3 * nn).map(|i| (i % 7) as i64 - 1).collect(),
                        coins: vec![0.25; 3 * nn],
                        target: (0..3 * nn * v).map(|_| value(&mut rng)).collect(),
                        final_coins: None,
                    };
                    for p in [Profile::Sglang, Profile::Vllm, Profile::Specsim] {
                        if p == Profile::Specsim {
                            // specsim refuses invalid ids.
                            b.tokens.iter_mut().for_each(|t| *t = t.rem_euclid(v as i64));
                        }
                        let want = decide_tree_batch(&b.batch(), p, Rule::Greedy).unwrap();
                        let got = e.compat_tree(&b.batch(), p, Rule::Greedy).unwrap();
                        assert_eq!(got, want, "{p}");
                    }
                    let notes = e.notices().join(" ");
                    if e.describe().starts_with("gpu") {
                        assert!(notes.contains("more than 256 children"), "{notes}");
                    }
                });
            }

            #[test]
            fn tree_refusals_name_the_lowest_round() {
                common::with_engine($with, |e| {
                    let mut rng = StdRng::seed_from_u64(26);
                    let (p, r) = (Profile::Specsim, Rule::TargetOnly);
                    let mut b = adversarial(&mut rng, p, r, 8, 5);
                    let nn = b.nodes;
                    b.coins[5 * nn] = 1.0;
                    b.target[6 * nn * 5] = f32::NAN;
                    let want = decide_tree_batch(&b.batch(), p, r).unwrap_err().to_string();
                    let got = e.compat_tree(&b.batch(), p, r).unwrap_err().to_string();
                    assert_eq!(got, want);
                    assert!(
                        got.contains("round 5") && got.contains("random_coins[0] = 1"),
                        "{got}"
                    );
                    // A final coin where the rule selects by argmax.
                    let mut g = adversarial(&mut rng, Profile::Sglang, Rule::Greedy, 3, 4);
                    g.final_coins = Some(vec![0.5; 3]);
                    let want = decide_tree_batch(&g.batch(), Profile::Sglang, Rule::Greedy)
                        .unwrap_err()
                        .to_string();
                    let got = e
                        .compat_tree(&g.batch(), Profile::Sglang, Rule::Greedy)
                        .unwrap_err()
                        .to_string();
                    assert_eq!(got, want);
                    assert!(got.contains("round 0") && got.contains("argmax"), "{got}");
                });
            }
        }
    };
}

crate::for_each_engine!(compat_tree_engine_tests);

/// The cases where the `specsim` profile's f64 sum and `sglang`'s f32 sum decide differently are
/// drawn: the test above compares the engines on them, not on sums where the two agree.
#[test]
fn the_adversarial_trees_part_f32_from_f64_sums() {
    let mut rng = StdRng::seed_from_u64(27);
    let mut parted = 0;
    for _ in 0..40 {
        let b = adversarial(&mut rng, Profile::Specsim, Rule::TargetOnly, 50, 3);
        let f64s = decide_tree_batch(&b.batch(), Profile::Specsim, Rule::TargetOnly).unwrap();
        // The CPU engine's own target-only sums in f32.
        let f32s: Vec<u32> = b
            .batch()
            .each_round(|r| {
                let mut u = 0usize;
                let mut a = 0u32;
                loop {
                    let ch = r.tree.children(u);
                    let coin = r.coins[u];
                    let mut s = 0.0f32;
                    let next = ch.iter().map(|&c| c as usize).find(|&c| {
                        s += r.target[u * r.v + r.tokens[c] as usize];
                        coin < s
                    });
                    match next {
                        Some(c) => {
                            a += 1;
                            u = c;
                        }
                        None => return Ok(a),
                    }
                }
            })
            .unwrap();
        parted += f64s
            .iter()
            .zip(&f32s)
            .filter(|(o, a)| o.num_accepted != **a)
            .count();
    }
    assert!(parted > 0, "no round where f32 and f64 sums decide apart");
}

/// The `decide_tree` of one round equals the batch's (the batch pads to its depth).
#[test]
fn one_round_equals_its_batch_row() {
    let mut rng = StdRng::seed_from_u64(28);
    let b = adversarial(&mut rng, Profile::Sglang, Rule::TargetOnly, 20, 6);
    let all = decide_tree_batch(&b.batch(), Profile::Sglang, Rule::TargetOnly).unwrap();
    let bb = b.batch();
    let mut scratch = Vec::new();
    for (r, o) in all.iter().enumerate() {
        let p = if bb.shared() {
            b.parents.clone()
        } else {
            b.parents[r * b.nodes..(r + 1) * b.nodes].to_vec()
        };
        scratch.push(Tree::from_parents(&p).unwrap());
        let one = decide_tree(
            &bb.round(r, scratch.last().unwrap()),
            Profile::Sglang,
            Rule::TargetOnly,
        )
        .unwrap();
        assert_eq!(one.num_accepted, o.num_accepted);
        assert_eq!(one.tokens[..], o.tokens[..one.tokens.len()]);
    }
}

/// Writes a tree batch (zero draft rows; `final_coins` where it has them) as an `.npz`.
fn write_tree_batch(path: &std::path::Path, b: &TreeBatch) {
    use specsim::npyio::{NpzValues, write_npz};
    let (n, nn, v) = (b.n as u64, b.nodes as u64, b.v as u64);
    let zeros = vec![0f32; b.target.len()];
    let parents_shape = if b.batch().shared() {
        vec![nn]
    } else {
        vec![n, nn]
    };
    let mut arrays = vec![
        ("parents", parents_shape, NpzValues::I64(&b.parents)),
        ("draft_probs", vec![n, nn, v], NpzValues::F32(&zeros)),
        ("target_probs", vec![n, nn, v], NpzValues::F32(&b.target)),
        ("draft_tokens", vec![n, nn], NpzValues::I64(&b.tokens)),
        ("random_coins", vec![n, nn], NpzValues::F32(&b.coins)),
    ];
    if let Some(f) = &b.final_coins {
        arrays.push(("final_coins", vec![n], NpzValues::F32(f)));
    }
    write_npz(path, &arrays).unwrap();
}

/// `verify BATCH --compat P --rule R` compares the engines on tree batches; `run --compat P
/// --rule R` writes the same file on both.
#[test]
fn verify_and_run_take_a_tree_profile_on_both_engines() {
    let gpu = common::gpu().is_some();
    let dir = tempfile::tempdir().unwrap();
    let mut rng = StdRng::seed_from_u64(30);
    for (profile, rule) in tree_profiles() {
        let b = adversarial(&mut rng, profile, rule, 120, 6);
        let path = dir.path().join(format!("{profile}-{rule}.npz"));
        write_tree_batch(&path, &b);
        let p = path.to_str().unwrap();
        let (pn, rn) = (profile.name(), rule.name());
        let o = common::specsim(&[
            "verify", p, "--compat", pn, "--rule", rn, "--json", "--quiet",
        ]);
        assert_eq!(o.code, 0, "{profile} {rule}: {}", o.stderr);
        let r: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
        assert_eq!(r["compat"], pn);
        assert_eq!(r["rounds"], 120);
        assert_eq!(r["engine_mismatches"].as_array().unwrap().len(), 0);
        let mut files = Vec::new();
        for e in ["cpu", "gpu"].into_iter().take(1 + usize::from(gpu)) {
            let out = dir.path().join(format!("{profile}-{rule}-{e}.npz"));
            let o = common::specsim(&[
                "run",
                p,
                "--compat",
                pn,
                "--rule",
                rn,
                "--engine",
                e,
                "--out",
                out.to_str().unwrap(),
                "--quiet",
            ]);
            assert_eq!(o.code, 0, "{profile} {rule} {e}: {}", o.stderr);
            let mut z = common::Npz::open(&out);
            let want = decide_tree_batch(&b.batch(), profile, rule).unwrap();
            let toks: Vec<i32> = want.iter().flat_map(|o| o.tokens.clone()).collect();
            assert_eq!(z.i32s("tokens").1, toks, "{profile} {rule} {e}");
            files.push(std::fs::read(&out).unwrap());
        }
        if gpu {
            assert_eq!(r["engines"], serde_json::json!(["cpu", "gpu"]));
            assert_eq!(
                files[0], files[1],
                "{profile} {rule}: run --engine cpu and gpu"
            );
        }
    }
}
