//! Block verification (SPEC §6) on the batch engines: the CPU engine against the f64 reference
//! (every difference classified as rounding), the GPU engine identical to the CPU engine (random
//! and adversarial batches, several chunks, 2D dispatch, both recovery modes), K = 1 equal to the
//! token rule, and the numpy golden rounds through both engines.

use crate::common;

use std::io::Read;

use specsim::Rule;
use specsim::batch::{Batch, Outcomes, Validation};
use specsim::compare::{
    DiffClass, VerifyReport, adversarial_batch_rule, compare_engines, compare_reference_rule,
};
use specsim::cpu::{CpuEngine, Recovery, RecoveryMode};
use specsim::gpu::GpuConfig;
use specsim::round::{RoundInput, RoundOptions};

const SHAPES: &[(usize, usize, usize)] = &[
    // (N, K, V)
    (180, 8, 111),
    (90, 1, 1),
    (90, 16, 17),
    (45, 4, 2000),
    (18, 3, 128_256),
    (200, 3, 2),
    (27, 5, 300),
];

fn cpu(rec: Recovery) -> CpuEngine {
    CpuEngine {
        recovery: rec,
        ..Default::default()
    }
}

fn sample(seed: u64) -> Recovery {
    Recovery {
        mode: RecoveryMode::Sample,
        seed,
        round_offset: 0,
    }
}

#[test]
fn cpu_block_engine_matches_the_f64_reference() {
    let mut total = 0;
    for (seed, &(n, k, v)) in SHAPES.iter().enumerate() {
        let b = adversarial_batch_rule(0, n, k, v, seed as u64, Rule::Block);
        let view = b.view();
        view.validate(&RoundOptions::default(), Validation::Full)
            .unwrap();
        let res = cpu(Recovery::default())
            .run_chain(&view, Rule::Block)
            .unwrap();
        let mut report = VerifyReport::default();
        compare_reference_rule(&view, &res, Rule::Block, 0, &mut report);
        for d in &report.reference_diffs {
            assert_ne!(d.class, DiffClass::Unexplained, "N={n} K={k} V={v}: {d:?}");
        }
        // Differences come from the rounds whose coins sit on the thresholds, and near-ties.
        assert!(
            report.reference_diffs.len() * 5 <= n,
            "{:?}",
            report.diff_counts()
        );
        total += report.reference_diffs.len();
        for r in 0..n {
            let a = res.num_accepted[r] as usize;
            let row = &res.tokens[r * (k + 1)..(r + 1) * (k + 1)];
            assert!(
                row[..a]
                    .iter()
                    .zip(view.round_tokens(r))
                    .all(|(&x, y)| x as u32 == y)
            );
            assert!((row[a] as usize) < v);
            assert!(row[a + 1..].iter().all(|&x| x == -1));
        }
    }
    eprintln!("{total} classified reference differences");
}

fn golden_batches() -> Vec<(String, Batch, RoundOptions)> {
    let gz = std::fs::read(common::data("golden_block.json.gz")).unwrap();
    let mut text = String::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_string(&mut text)
        .unwrap();
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut out = Vec::new();
    for case in doc["cases"].as_array().unwrap() {
        if !case["expected"].is_object() {
            continue;
        }
        let input: RoundInput = serde_json::from_value(case["input"].clone()).unwrap();
        let (k, v) = (input.draft_tokens.len(), input.target_probs[0].len());
        let f = |rows: &[Vec<f64>]| rows.concat().iter().map(|&x| x as f32).collect();
        let b = Batch {
            n: 1,
            k,
            v,
            draft: f(&input.draft_probs),
            target: f(&input.target_probs),
            tokens: input.draft_tokens.iter().map(|&t| t as u32).collect(),
            coins: input.random_coins.iter().map(|&c| c as f32).collect(),
        };
        let opts = RoundOptions {
            allow_unnormalized: case["options"]["allow_unnormalized"].as_bool() == Some(true),
            ..Default::default()
        };
        out.push((case["name"].as_str().unwrap().to_string(), b, opts));
    }
    out
}

#[test]
fn golden_block_rounds_on_the_cpu_engine_agree_with_the_reference_or_are_classified() {
    let mut agree = 0;
    let cases = golden_batches();
    for (name, b, opts) in &cases {
        let view = b.view();
        if view.validate(opts, Validation::Full).is_err() {
            continue; // a value that float32 cannot hold
        }
        let res = cpu(Recovery::default())
            .run_chain(&view, Rule::Block)
            .unwrap();
        let mut report = VerifyReport::default();
        compare_reference_rule(&view, &res, Rule::Block, 0, &mut report);
        match report.reference_diffs.first() {
            None => agree += 1,
            Some(d) => assert_ne!(d.class, DiffClass::Unexplained, "{name}: {d:?}"),
        }
    }
    assert!(agree * 10 >= cases.len() * 8, "{agree} of {}", cases.len());
}

fn assert_identical(a: &Outcomes, b: &Outcomes, what: &str) {
    let mut report = VerifyReport::default();
    compare_engines(a, b, 0, &mut report);
    assert!(
        report.engine_mismatches.is_empty(),
        "{what}: {:?}",
        &report.engine_mismatches[..report.engine_mismatches.len().min(5)]
    );
    assert_eq!(a, b, "{what}");
}

#[test]
fn k_one_block_is_the_token_rule_on_the_cpu_engine() {
    for rec in [Recovery::default(), sample(3)] {
        let b = adversarial_batch_rule(0, 400, 1, 57, 11, Rule::Token);
        let view = b.view();
        let token = cpu(rec).run_chain(&view, Rule::Token).unwrap();
        let block = cpu(rec).run_chain(&view, Rule::Block).unwrap();
        assert_identical(&token, &block, "K = 1");
    }
}

#[test]
fn gpu_block_engine_matches_cpu() {
    let Some(mut gpu) = common::gpu() else { return };
    gpu.config = GpuConfig::default();
    for rec in [Recovery::default(), sample(5)] {
        for (seed, &(n, k, v)) in SHAPES.iter().enumerate() {
            let b = adversarial_batch_rule(3000, n, k, v, 200 + seed as u64, Rule::Block);
            let view = b.view();
            let c = cpu(rec).run_chain(&view, Rule::Block).unwrap();
            let g = gpu.run_chain(&view, Rule::Block, rec).unwrap();
            assert_identical(&c, &g, &format!("{:?} N={n} K={k} V={v}", rec.mode));
        }
        // K = 1: the GPU's block kernel is the token rule too.
        let b = adversarial_batch_rule(0, 300, 1, 40, 8, Rule::Token);
        let t = gpu.run_chain(&b.view(), Rule::Token, rec).unwrap();
        let bl = gpu.run_chain(&b.view(), Rule::Block, rec).unwrap();
        assert_identical(&t, &bl, "K = 1 on the GPU");
    }
}

#[test]
fn gpu_block_engine_matches_cpu_across_chunks_and_2d_dispatch() {
    let Some(mut gpu) = common::gpu() else { return };
    let b = adversarial_batch_rule(0, 103, 6, 77, 42, Rule::Block);
    let c = cpu(Recovery::default())
        .run_chain(&b.view(), Rule::Block)
        .unwrap();
    for (chunk, gx) in [(7usize, 3u32), (50, 4), (1, 1), (103, 65535)] {
        gpu.config = GpuConfig {
            max_rounds_per_chunk: Some(chunk),
            max_groups_x: gx,
            ..GpuConfig::default()
        };
        let g = gpu
            .run_chain(&b.view(), Rule::Block, Recovery::default())
            .unwrap();
        assert_identical(&c, &g, &format!("chunk {chunk}, groups_x {gx}"));
    }
    gpu.config = GpuConfig::default();
}

#[test]
fn golden_block_rounds_are_identical_on_both_engines() {
    let Some(mut gpu) = common::gpu() else { return };
    gpu.config = GpuConfig::default();
    for (name, b, opts) in golden_batches() {
        let view = b.view();
        if view.validate(&opts, Validation::Full).is_err() {
            continue;
        }
        let c = cpu(Recovery::default())
            .run_chain(&view, Rule::Block)
            .unwrap();
        let g = gpu
            .run_chain(&view, Rule::Block, Recovery::default())
            .unwrap();
        assert_identical(&c, &g, &name);
    }
}
