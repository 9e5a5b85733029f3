//! No silent wrong answer from the GPU at any size: the shapes that make a kernel loop longest
//! (a chain accepted to K = 33000, block verification scanning 128 rejected rows of V = 128256,
//! a 64-wide node whose children are all rejected at V = 32000, paths 2000 deep, the bonus of a
//! row of 2^24 tokens) give exactly the CPU engine's results. Mesa's lavapipe stops a shader's
//! loops after 65,535 iterations: there the kernels leave such rounds unfinished, the engine
//! finishes them on the CPU twin and says so. A tiny loop budget forces that path everywhere.

use specsim::Rule;
use specsim::batch::{Batch, Rounds};
use specsim::compare::adversarial_tree::{TreeBatch, adversarial_tree_batch};
use specsim::cpu::{CpuEngine, Recovery};
use specsim::engine::Engine;
use specsim::topology::Tree;

use crate::common;

/// The GPU's and the CPU's outcomes on `rounds`, and the GPU's notices.
fn both(rounds: &Rounds, rule: Rule, budget: Option<u32>) -> Option<(bool, Vec<String>)> {
    let mut g = common::gpu()?;
    g.config.work_budget = budget;
    let rec = Recovery::default();
    let gpu = Engine::run(&mut *g, rounds, rule, rec).unwrap();
    let notices = g.notices();
    let cpu = Engine::run(&mut CpuEngine::default(), rounds, rule, rec).unwrap();
    Some((gpu == cpu, notices))
}

fn check(what: &str, rounds: &Rounds, rule: Rule) {
    for budget in [None, Some(40)] {
        let Some((equal, notices)) = both(rounds, rule, budget) else {
            return;
        };
        assert!(
            equal,
            "{what} (budget {budget:?}): the GPU differs from the CPU"
        );
        if budget.is_some() {
            // Forced: every round left unfinished on the GPU, finished on the CPU, said.
            assert!(
                notices.len() == 1 && notices[0].contains("finished"),
                "{what}: {notices:?}"
            );
        }
    }
}

#[test]
fn a_chain_accepted_to_k_33000() {
    let (k, v) = (33_000, 2);
    let mut b = Batch::zeros(2, k, v);
    b.draft.fill(0.5);
    b.target.fill(0.5);
    for r in 0..2 {
        let bonus = (r * (k + 1) + k) * v;
        b.target[bonus..bonus + 2].copy_from_slice(&[0.3, 0.7]);
    }
    for rule in [Rule::Token, Rule::Block] {
        check("chain K = 33000", &Rounds::chain(&b.view()), rule);
    }
}

#[test]
fn block_scanning_128_rejected_rows_of_v_128256() {
    let (k, v) = (128, 128_256);
    let mut b = Batch::zeros(1, k, v);
    // Every drafted token (0) has p/q = 0.1: every coin below 1 fails, every row is scanned.
    for i in 0..k {
        let d = &mut b.draft[i * v..(i + 1) * v];
        d.fill(0.5 / (v - 1) as f32);
        d[0] = 0.5;
    }
    for i in 0..=k {
        let t = &mut b.target[i * v..(i + 1) * v];
        t.fill(0.95 / (v - 1) as f32);
        t[0] = 0.05;
    }
    b.coins.fill(0.999_999_94);
    check(
        "block K = 128, V = 128256",
        &Rounds::chain(&b.view()),
        Rule::Block,
    );
}

#[test]
fn a_wide_node_all_rejected_and_deep_paths() {
    // 64 children of the root, all rejected under rrs-wor at V = 32000.
    let tree = Tree::from_parents(
        &std::iter::once(-1)
            .chain(std::iter::repeat_n(0, 64))
            .collect::<Vec<i64>>(),
    )
    .unwrap();
    let v = 32_000;
    let n = tree.len();
    let mut b = TreeBatch {
        per_round: None,
        tree: tree.clone(),
        n: 1,
        v,
        draft: vec![1.0 / v as f32; n * v],
        target: vec![0.0; n * v],
        tokens: (0..n as u32).collect(),
        coins: vec![0.999_999_94; n],
    };
    for u in 0..n {
        // The target puts its mass where no child is.
        b.target[u * v + v - 1] = 1.0;
    }
    check("kary:64,1 rejected", &b.view().unwrap(), Rule::RrsWor);
    // Paths 2000 deep, every coin 0: walks to the leaf.
    let path = Tree::path(2000);
    for rule in [Rule::Greedy, Rule::TargetOnly, Rule::Rrs] {
        let mut b = adversarial_tree_batch(&path, 0, 2, 16, 3, rule);
        b.coins.fill(0.0);
        check(&format!("chain:2000 {rule}"), &b.view().unwrap(), rule);
    }
}

#[test]
fn the_bonus_of_a_row_of_2_to_the_24_tokens() {
    let v = 1 << 24;
    let mut b = Batch::zeros(1, 0, v);
    b.target.fill(0.5 / (v - 1) as f32);
    b.target[v - 1] = 0.5;
    let rounds = Rounds::chain(&b.view());
    let Some((equal, _)) = both(&rounds, Rule::Token, None) else {
        return;
    };
    assert!(equal, "V = 2^24: the GPU's bonus differs from the CPU's");
}
