//! `touched` validation inside the CPU engine's pass (`CpuEngine::run_touched`) is the same as
//! validating first and running after: the same results on valid batches, the same first error on
//! corrupted ones, whatever is corrupted and wherever.

use rand::{Rng, SeedableRng, rngs::StdRng};
use specsim::batch::{Batch, Validation};
use specsim::compare::adversarial_batch_rule;
use specsim::cpu::{CpuEngine, Recovery, RecoveryMode};
use specsim::round::RoundOptions;
use specsim::rule::Rule;

/// Both ways: `Ok(result)` or the error's message.
fn both(b: &Batch, rule: Rule, rec: Recovery, opts: &RoundOptions) -> (String, String) {
    let view = b.view();
    let cpu = CpuEngine {
        recovery: rec,
        ..Default::default()
    };
    let apart = view
        .validate_rule(opts, Validation::Touched, rule)
        .and_then(|_| cpu.run_chain(&view, rule));
    let fused = cpu.run_touched(&specsim::batch::Rounds::chain(&view), rule, opts);
    let show = |r: specsim::error::Result<specsim::batch::Outcomes>| match r {
        Ok(res) => format!("ok {:?} {:?}", res.tokens, res.num_accepted),
        Err(e) => format!("error {e}"),
    };
    (show(apart), show(fused))
}

#[test]
fn fused_touched_validation_is_validation_then_run() {
    let mut rng = StdRng::seed_from_u64(3);
    let mut token_errors = 0;
    for case in 0..300 {
        let (n, k, v) = [(40, 4, 17), (25, 1, 5), (30, 6, 64), (10, 0, 3)][case % 4];
        let rule = [Rule::Token, Rule::Block, Rule::Rrs][case % 3];
        let mut b = adversarial_batch_rule(case as u64 * 100, n, k, v, case as u64, rule);
        // Corrupt one value in two cases of three: anywhere, any kind.
        if (case / 3) % 3 != 0 && n > 0 {
            let bad = [f32::NAN, -0.25, f32::INFINITY, 7.0, 0.0, 1.0][rng.random_range(0..6)];
            match rng.random_range(0..4) {
                0 if !b.draft.is_empty() => {
                    let i = rng.random_range(0..b.draft.len());
                    b.draft[i] = bad;
                }
                1 => {
                    let i = rng.random_range(0..b.target.len());
                    b.target[i] = bad;
                }
                2 if !b.coins.is_empty() => {
                    let i = rng.random_range(0..b.coins.len());
                    b.coins[i] = bad;
                }
                _ if !b.tokens.is_empty() => {
                    let i = rng.random_range(0..b.tokens.len());
                    b.tokens[i] = v as u32 + 1;
                }
                _ => {}
            }
        }
        let rec = Recovery {
            mode: if case % 2 == 0 {
                RecoveryMode::Argmax
            } else {
                RecoveryMode::Sample
            },
            seed: 9,
            round_offset: 0,
        };
        for opts in [
            RoundOptions::default(),
            RoundOptions {
                allow_unnormalized: true,
                allow_empty_draft: true,
            },
        ] {
            let (apart, fused) = both(&b, rule, rec, &opts);
            assert_eq!(fused, apart, "case {case} ({rule}, N={n} K={k} V={v})");
            if rule == Rule::Token && apart.starts_with("error") {
                token_errors += 1;
            }
        }
    }
    // The corruptions reached the fused path (the token rule's): many of its cases are refusals.
    assert!(
        token_errors > 40,
        "only {token_errors} refusals under the token rule"
    );
}

/// Two bad rounds, far apart: the lower one is reported, whichever worker meets which first.
#[test]
fn the_lowest_bad_round_is_reported() {
    let opts = RoundOptions::default();
    for (lo, hi) in [(3usize, 2999usize), (2990, 2999), (0, 1)] {
        let mut b = adversarial_batch_rule(0, 3000, 4, 23, 5, Rule::Token);
        b.coins[hi * 4 + 1] = 1.0;
        b.target[lo * 5 * 23..(lo + 1) * 5 * 23].fill(f32::NAN);
        let (apart, fused) = both(&b, Rule::Token, Recovery::default(), &opts);
        assert_eq!(fused, apart, "rounds {lo} and {hi}");
        assert!(fused.contains(&format!("round {lo}")), "{fused}");
    }
}

/// Tree batches (`CpuEngine::run_touched` walks each round once, checking what it reads as it
/// goes): the same results and the same first error as `validate_touched` then the run, under
/// every tree rule, shared and per-round trees, both recovery modes, valid and corrupted.
#[test]
fn tree_batches_validate_and_decide_in_one_walk() {
    use specsim::compare::adversarial_tree::{adversarial_per_round_batch, adversarial_tree_batch};
    let mut rng = StdRng::seed_from_u64(11);
    let tree = "kary:2,3"
        .parse::<specsim::topology::shape::TreeShape>()
        .unwrap()
        .tree;
    let root = specsim::topology::Tree::from_parents(&[-1]).unwrap();
    let mut errors = 0;
    let mut oks = 0;
    for case in 0..160 {
        let rule = specsim::Rule::TREE[case % specsim::Rule::TREE.len()];
        let shape = (case / 4) % 3;
        let mut b = match shape {
            0 => adversarial_tree_batch(&tree, case as u64, 12, 40, case as u64, rule),
            1 if rule.verifies_branches() => {
                adversarial_per_round_batch(9, case as u64, 10, 30, case as u64, rule)
            }
            _ => adversarial_tree_batch(&root, case as u64, 6, 20, case as u64, rule),
        };
        if case % 3 != 0 {
            let bad = [f32::NAN, -0.25, f32::INFINITY, 7.0, 0.0, 1.0][rng.random_range(0..6)];
            match rng.random_range(0..4) {
                0 => {
                    let i = rng.random_range(0..b.draft.len());
                    b.draft[i] = bad;
                }
                1 => {
                    let i = rng.random_range(0..b.target.len());
                    b.target[i] = bad;
                }
                2 => {
                    let i = rng.random_range(0..b.coins.len());
                    b.coins[i] = bad;
                }
                _ => {
                    let i = rng.random_range(0..b.tokens.len());
                    b.tokens[i] = b.v as u32 + 1;
                }
            }
        }
        let rec = Recovery {
            mode: [RecoveryMode::Argmax, RecoveryMode::Sample][case % 2],
            seed: 4,
            round_offset: 0,
        };
        let view = b.view().unwrap();
        let cpu = CpuEngine {
            recovery: rec,
            ..Default::default()
        };
        let opts = RoundOptions::default();
        let show = |r: specsim::error::Result<specsim::batch::Outcomes>| match r {
            Ok(res) => format!("ok {:?} {:?} {:?}", res.tokens, res.num_accepted, res.nodes),
            Err(e) => format!("error {e}"),
        };
        let apart = show(
            view.validate(&opts, Validation::Touched, rule)
                .and_then(|_| cpu.run(&view, rule)),
        );
        let fused = show(cpu.run_touched(&view, rule, &opts));
        assert_eq!(fused, apart, "case {case} ({rule}, shape {shape})");
        if apart.starts_with("error") {
            errors += 1;
        } else {
            oks += 1;
        }
    }
    assert!(errors > 30 && oks > 30, "{errors} refusals, {oks} runs");
}
