//! Studies: every family agrees with the exact theory (SPEC §5) on both engines, sampled recovery
//! is lossless (chi-square), the Rust and WGSL generators agree, runs are reproducible, and the
//! `study` command writes what it documents.

use crate::common;

use common::{assert_refused, specsim};
use rand::{Rng, SeedableRng, rngs::StdRng};
use specsim::Rule;
use specsim::batch::Batch;
use specsim::cpu::{CpuEngine, Recovery, RecoveryMode};
use specsim::study::{Family, StudyConfig, Tally, Workload, run_study};
use statrs::distribution::{ChiSquared, ContinuousCDF};

fn families() -> Vec<(Family, f32)> {
    vec![
        (Family::LogitNoise { sigma: 0.7 }, 0.5),
        (Family::Mixture { lambda: 0.4 }, 0.0),
        (Family::Quantized { bits: 3 }, 0.0),
        (
            Family::Rates {
                rates: vec![0.9, 0.6, 0.75],
            },
            0.0,
        ),
        (Family::File { path: file_batch() }, 0.0),
    ]
}

/// A batch file of 6000 rounds whose tokens are sampled from the draft and whose coins are
/// uniform (as the theory assumes), written once per test binary.
fn file_batch() -> String {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    let dir = DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let w = Workload {
            family: Family::LogitNoise { sigma: 0.8 },
            vocab: 64,
            t_target: 1.0,
            t_draft: 1.0,
            zipf: 0.0,
            spread: None,
        };
        let (b, _) = specsim::study::workload::generate_chunk(&w, 99, 0, 6000, 4);
        specsim::npyio::write_batch_dir(dir.path(), &b).unwrap();
        dir
    });
    dir.path().display().to_string()
}

fn config(family: Family, zipf: f32, rounds: u64, recovery: RecoveryMode) -> StudyConfig {
    StudyConfig {
        workload: Workload {
            family,
            vocab: 300,
            t_target: 1.0,
            t_draft: 1.0,
            zipf,
            spread: None,
        },
        k_values: vec![1, 2, 3, 4],
        rounds,
        seed: 11,
        recovery,
        rules: vec![specsim::Rule::Token],
        allow_unnormalized: false,
        stop: Default::default(),
    }
}

/// Every K's empirical mean generated lies inside its 99% interval around... the exact value.
fn assert_within(t: &Tally, what: &str) {
    for k in 1..=4 {
        let m = t.metrics(k);
        assert!(
            m.within_ci99,
            "{what} K={k}: empirical {} vs exact {} (99% CI [{}, {}])",
            m.mean_generated, m.exact_mean_generated, m.ci99_low, m.ci99_high
        );
        assert!(m.rounds > 0);
    }
}

#[test]
fn every_family_matches_theory_on_the_cpu_engine() {
    for (family, zipf) in families() {
        for recovery in [RecoveryMode::Argmax, RecoveryMode::Sample] {
            let cfg = config(family.clone(), zipf, 6000, recovery);
            let t = run_study(&cfg, &mut CpuEngine::default(), |_| {}).unwrap();
            assert_within(&t, &format!("cpu {family:?} {recovery:?}"));
        }
    }
}

#[test]
fn every_family_matches_theory_on_the_gpu_engine() {
    let Some(mut gpu) = common::gpu() else { return };
    gpu.config = Default::default();
    for (family, zipf) in families() {
        let cfg = config(family.clone(), zipf, 2500, RecoveryMode::Argmax);
        let t = run_study(&cfg, &mut *gpu, |_| {}).unwrap();
        assert_within(&t, &format!("gpu {family:?}"));
        // The device generates the family the CPU does (the same Philox numbers; exp and log
        // differ in their last bits), so the rows' betas agree closely: a family the device
        // generator lacks (falling back to another) would agree with its own theory above but
        // not here.
        let cpu = run_study(&cfg, &mut CpuEngine::default(), |_| {}).unwrap();
        assert_eq!(cpu.rounds, t.rounds);
        for (i, (g, c)) in t.beta_sum.iter().zip(&cpu.beta_sum).enumerate() {
            let (g, c) = (g.value() / t.rounds as f64, c.value() / cpu.rounds as f64);
            assert!(
                (g - c).abs() < 1e-4,
                "{family:?}: mean beta_{} on the device {g} but {c} on the CPU",
                i + 1
            );
        }
    }
}

#[test]
fn studies_are_identical_run_to_run() {
    let cfg = config(
        Family::LogitNoise { sigma: 0.5 },
        0.0,
        700,
        RecoveryMode::Sample,
    );
    let a = run_study(&cfg, &mut CpuEngine::default(), |_| {}).unwrap();
    let b = run_study(&cfg, &mut CpuEngine::default(), |_| {}).unwrap();
    assert_eq!(a, b);
    if let Some(mut gpu) = common::gpu() {
        gpu.config = Default::default();
        let a = run_study(&cfg, &mut *gpu, |_| {}).unwrap();
        let b = run_study(&cfg, &mut *gpu, |_| {}).unwrap();
        assert_eq!(a, b);
    }
}

#[test]
fn gpu_studies_do_not_depend_on_chunking() {
    let Some(mut gpu) = common::gpu() else { return };
    let cfg = config(
        Family::Mixture { lambda: 0.5 },
        0.0,
        300,
        RecoveryMode::Sample,
    );
    gpu.config = Default::default();
    let whole = run_study(&cfg, &mut *gpu, |_| {}).unwrap();
    // Bindings that hold 7 rounds of (K + 1) x V target rows: 43 chunks.
    gpu.config.max_buffer_bytes = 7 * 5 * 300 * 4;
    let mut chunks = 0;
    let small = run_study(&cfg, &mut *gpu, |_| chunks += 1).unwrap();
    gpu.config = Default::default();
    assert_eq!(chunks, 43);
    assert_eq!(whole, small);
}

#[test]
fn rates_family_is_identical_across_engines() {
    let Some(mut gpu) = common::gpu() else { return };
    let cfg = config(
        Family::Rates {
            rates: vec![0.8, 0.5],
        },
        0.0,
        50_000,
        RecoveryMode::Argmax,
    );
    let c = run_study(&cfg, &mut CpuEngine::default(), |_| {}).unwrap();
    let g = run_study(&cfg, &mut *gpu, |_| {}).unwrap();
    assert_eq!(c, g);
}

#[test]
fn gpu_studies_replay_on_the_cpu_with_no_mismatch() {
    let Some(mut gpu) = common::gpu() else { return };
    gpu.config = Default::default();
    for (family, zipf) in families()
        .into_iter()
        .filter(|(f, _)| !matches!(f, Family::File { .. }))
    {
        for recovery in [RecoveryMode::Argmax, RecoveryMode::Sample] {
            let cfg = config(family.clone(), zipf, 400, recovery);
            let report = specsim::study::replay(&cfg, &mut gpu, 400).unwrap();
            assert_eq!(report.rounds, 400);
            assert!(
                report.engine_mismatches.is_empty(),
                "{family:?} {recovery:?}: {:?}",
                report.engine_mismatches
            );
            assert!(
                report.passed(),
                "{family:?} {recovery:?}: {:?}",
                report.reference_diffs
            );
        }
    }
}

/// N rounds with the same fixed draft and target distributions (K = 1), drafted tokens sampled
/// from the draft, uniform coins.
fn fixed_batch(n: usize) -> (Batch, Vec<f64>) {
    let p = [0.30f32, 0.05, 0.25, 0.10, 0.20, 0.10];
    let q = [0.10f32, 0.40, 0.05, 0.25, 0.15, 0.05];
    let v = p.len();
    let mut rng = StdRng::seed_from_u64(3);
    let mut b = Batch {
        n,
        k: 1,
        v,
        ..Default::default()
    };
    for _ in 0..n {
        b.draft.extend_from_slice(&q);
        b.target.extend_from_slice(&p);
        b.target.extend_from_slice(&p);
        let u: f32 = rng.random();
        let mut acc = 0.0;
        let tok = q.iter().position(|&x| {
            acc += x;
            u < acc
        });
        b.tokens.push(tok.unwrap_or(v - 1) as u32);
        b.coins.push(rng.random());
    }
    (b, p.iter().map(|&x| x as f64).collect())
}

/// Chi-square goodness-of-fit p-value of the first emitted token against `p`.
fn first_token_p_value(tokens: &[i32], k: usize, p: &[f64]) -> f64 {
    let n = tokens.len() / (k + 1);
    let mut counts = vec![0f64; p.len()];
    for r in 0..n {
        counts[tokens[r * (k + 1)] as usize] += 1.0;
    }
    let stat: f64 = counts
        .iter()
        .zip(p)
        .map(|(&o, &pe)| {
            let e = pe * n as f64;
            (o - e).powi(2) / e
        })
        .sum();
    1.0 - ChiSquared::new((p.len() - 1) as f64).unwrap().cdf(stat)
}

/// The threshold of the goodness-of-fit test: sample mode must not be rejected at this level.
const ALPHA: f64 = 1e-3;

#[test]
fn sample_recovery_emits_tokens_distributed_as_the_target() {
    let (b, p) = fixed_batch(40_000);
    let rec = Recovery {
        mode: RecoveryMode::Sample,
        seed: 5,
        round_offset: 0,
    };
    let cpu = CpuEngine {
        recovery: rec,
        ..Default::default()
    }
    .run_chain(&b.view(), Rule::Token)
    .unwrap();
    let pv = first_token_p_value(&cpu.tokens, 1, &p);
    assert!(
        pv > ALPHA,
        "sample mode: chi-square p-value {pv} <= {ALPHA}"
    );
    if let Some(mut gpu) = common::gpu() {
        gpu.config = Default::default();
        let g = gpu.run_chain(&b.view(), Rule::Token, rec).unwrap();
        assert_eq!(g, cpu, "sampled tokens differ between engines");
    }
    // The seed's argmax mode is deterministic at recovery: not distributed as the target.
    let arg = CpuEngine::default()
        .run_chain(&b.view(), Rule::Token)
        .unwrap();
    let pv = first_token_p_value(&arg.tokens, 1, &p);
    assert!(
        pv < 1e-12,
        "argmax mode unexpectedly fits the target: p-value {pv}"
    );
}

#[test]
fn study_command_writes_the_documented_files() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("study");
    let o = specsim(&[
        "study",
        "--engine",
        "cpu",
        "--k",
        "1..3",
        "--sigma",
        "0.5,1",
        "--vocab",
        "64",
        "--rounds",
        "500",
        "--cost-ratio",
        "0.1",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.contains("best K"), "{}", o.stdout);
    let csv = std::fs::read_to_string(out.join("results.csv")).unwrap();
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    for col in [
        "family",
        "k",
        "rounds",
        "mean_generated",
        "exact_mean_generated",
        "ci99_low",
        "ci99_high",
        "mean_acceptance_rate",
        "alpha",
        "sigma",
        "leviathan_mean_generated",
        "speedup_c0.1",
    ] {
        assert!(header.contains(&col), "results.csv lacks {col}: {header:?}");
    }
    assert_eq!(csv.lines().count(), 1 + 2 * 3);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    let cfgs = json["configurations"].as_array().unwrap();
    assert_eq!(cfgs.len(), 2);
    let row = &cfgs[0]["rows"][2];
    assert_eq!(row["k"], 3);
    assert_eq!(row["per_position_conditional"].as_array().unwrap().len(), 3);
    assert_eq!(row["exact_beta"].as_array().unwrap().len(), 3);
    assert_eq!(
        row["histogram"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap())
            .sum::<u64>(),
        500
    );
    assert_eq!(json["best_k"].as_array().unwrap().len(), 2);
    for svg in ["mean_generated.svg", "per_position.svg", "speedup.svg"] {
        let text = std::fs::read_to_string(out.join(svg)).unwrap();
        let doc = roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("{svg}: {e}"));
        assert_eq!(doc.root_element().tag_name().name(), "svg");
        assert!(
            doc.descendants()
                .filter(|n| n.has_tag_name("polyline") || n.has_tag_name("path"))
                .count()
                >= 3,
            "{svg} has no lines"
        );
    }
}

#[test]
fn study_refuses_bad_arguments_clearly() {
    for (args, needle) in [
        (&["--k", "0"][..], "--k"),
        (&["--k", "5..2"][..], "empty range"),
        (&["--family", "mixture", "--lambda", "2"][..], "--lambda"),
        (&["--family", "quantized", "--bits", "0"][..], "--bits"),
        (&["--family", "file"][..], "--batch"),
        (&["--rounds", "0"][..], "--rounds"),
        (&["--t-draft", "0"][..], "--t-draft"),
        (
            &["--family", "file", "--batch", "/nonexistent"][..],
            "/nonexistent",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let mut all = vec![
            "study",
            "--engine",
            "cpu",
            "--quiet",
            "--out",
            dir.path().to_str().unwrap(),
        ];
        all.extend_from_slice(args);
        assert_refused(&specsim(&all), &format!("{args:?}"), &[needle]);
    }
}

#[test]
fn verify_study_replays_through_the_binary() {
    if common::gpu().is_none() {
        return;
    }
    let o = specsim(&[
        "verify",
        "--study",
        "--family",
        "quantized",
        "--bits",
        "4",
        "--k",
        "3",
        "--vocab",
        "200",
        "--sample",
        "150",
    ]);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    assert!(
        o.stdout.contains("engine mismatches         0"),
        "{}",
        o.stdout
    );
}

/// `verify --study --tree` replays the tree study's own rows and children's tokens on both
/// engines (it used to say a tree rule needs --tree); a GPU too narrow for a wide tree says how
/// to check it on the CPU with a flag `verify` has.
#[test]
fn verify_study_replays_a_tree_study_and_wide_trees_hint_cpu_only() {
    if common::gpu().is_none() {
        return;
    }
    for rule in ["rrs-wor", "greedy"] {
        let o = specsim(&[
            "verify", "--study", "--tree", "kary:3,2", "--rule", rule, "--sigma", "0.5", "--vocab",
            "300", "--sample", "120",
        ]);
        assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
        assert!(
            o.stdout.contains("tree study kary:3,2 (13 nodes), V = 300"),
            "{}",
            o.stdout
        );
        assert!(
            o.stdout.contains("rounds compared           120"),
            "{}",
            o.stdout
        );
        assert!(
            o.stdout.contains("engine mismatches         0"),
            "{}",
            o.stdout
        );
    }
    let wide = [
        "verify",
        "--generate",
        "2",
        "--tree",
        "kary:300,1",
        "--rule",
        "greedy",
        "--vocab",
        "400",
    ];
    let o = specsim(&wide);
    assert_refused(
        &o,
        "a 300-wide tree on the GPU",
        &["at most 256 children", "verify --cpu-only"],
    );
    let mut cpu = wide.to_vec();
    cpu.push("--cpu-only");
    let o = specsim(&cpu);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
}

/// A zero-width interval (every round gives the same count) is replaced by the rule of three's
/// bound, K · ln(100) / N, instead of marking exact agreement "NO" (reliability class 8; with
/// temperatures and zipf the float32 betas drift by more than any fixed tolerance); a real
/// disagreement is still caught.
#[test]
fn zero_width_intervals_use_the_stated_tolerance() {
    use specsim::study::{StudyConfig, exact_tolerance, run_study_rules};
    for (family, rounds) in [
        (Family::LogitNoise { sigma: 0.0 }, 500),
        (Family::Mixture { lambda: 0.0 }, 300),
    ] {
        let cfg = StudyConfig {
            rules: vec![specsim::Rule::Token, specsim::Rule::Block],
            ..config(family.clone(), 0.0, rounds, RecoveryMode::Argmax)
        };
        let t = run_study_rules(&cfg, &mut CpuEngine::default(), |_| {}).unwrap();
        let bt = t.rule(Rule::Block).unwrap();
        for (ki, &k) in bt.ks.iter().enumerate() {
            assert!(t.token.metrics(k).within_ci99, "{family:?} token K = {k}");
            assert!(
                bt.metrics(ki, &t.token).within_ci99,
                "{family:?} block K = {k}"
            );
        }
    }
    // Every round accepted both drafts, but the exact value says 2.5: outside even the rule of
    // three's bound (2 · ln 100 / 100 = 0.09).
    let mut t = Tally::new(2);
    t.add(&[2; 100], &[1.0; 200]);
    assert!(t.metrics(2).within_ci99);
    t.exact_accepted_sum[2] = specsim::exact::sum::ExactSum::ZERO;
    t.exact_accepted_sum[2] += 150.0;
    let m = t.metrics(2);
    assert!(!m.within_ci99, "{m:?}");
    assert!(exact_tolerance(2) < 1e-4);
    // One round: the interval is undefined, and said to be.
    let mut one = Tally::new(2);
    one.add(&[1], &[0.8, 0.8]);
    let m = one.metrics(2);
    assert!(!m.ci_defined && !m.within_ci99, "{m:?}");
}

/// Parameters whose generated rows float32 cannot hold are refused, naming the flags, in
/// `study` and `verify --study` alike (reliability class 7): they used to give NaN rows reported as
/// ordinary results. Values float32 cannot represent are named as such.
#[test]
fn parameters_whose_rows_overflow_float32_are_refused() {
    for (args, needles) in [
        (
            &["--sigma", "3e38"][..],
            &["--sigma 3e38", "not be finite"][..],
        ),
        (
            &["--t-target", "1e-45"][..],
            &["--t-target 1e-45", "not be finite"][..],
        ),
        (
            &["--t-draft", "1e-38"][..],
            &["--t-draft 1e-38", "not be finite"][..],
        ),
        (
            &["--t-target", "1e-50"][..],
            &["--t-target: 1e-50 underflows float32"][..],
        ),
        (
            &["--sigma", "1e39"][..],
            &["--sigma: 1e39 overflows float32"][..],
        ),
        (
            &["--zipf", "1e38", "--vocab", "64"][..],
            &["--zipf 1e38", "not be finite"][..],
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        for cmd in [
            vec![
                "study",
                "--engine",
                "cpu",
                "--quiet",
                "--out",
                dir.path().to_str().unwrap(),
            ],
            vec!["verify", "--study", "--sample", "10"],
        ] {
            let mut all = cmd.clone();
            all.extend_from_slice(args);
            let o = specsim(&all);
            if cmd[0] == "verify" && o.stderr.contains("needs a GPU") {
                continue; // replay needs an adapter; the options are checked the same way
            }
            assert_refused(&o, &format!("{all:?}"), needles);
        }
    }
    // Large but representable parameters still run, with finite results.
    let dir = tempfile::tempdir().unwrap();
    let o = specsim(&[
        "study",
        "--engine",
        "cpu",
        "--quiet",
        "--sigma",
        "1e30",
        "--k",
        "1..2",
        "--rounds",
        "50",
        "--vocab",
        "16",
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(!o.stdout.contains("NaN"), "{}", o.stdout);
}

/// Sizes are checked with checked arithmetic against real limits and refused with the flag's
/// name, never a panic, an abort or a wrapped size (reliability class 4).
#[test]
fn huge_vocabularies_are_refused_with_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    for vocab in ["4611686018427387904", "4294967296", "20000000"] {
        for args in [
            vec![
                "study", "--engine", "cpu", "--quiet", "--out", out, "--vocab", vocab,
            ],
            vec!["verify", "--generate", "10", "--cpu-only", "--vocab", vocab],
            vec!["verify", "--study", "--sample", "10", "--vocab", vocab],
        ] {
            let o = specsim(&args);
            if args[1] == "--study" && o.stderr.contains("needs a GPU") {
                continue;
            }
            assert_refused(&o, &format!("{args:?}"), &["--vocab", vocab, "MiB"]);
        }
    }
}

/// `study --family file` takes `--allow-unnormalized` (its refusal suggests it), and says that
/// `--rounds` and `--vocab` are not used with a file (reliability class 14, also seen).
#[test]
fn file_studies_take_allow_unnormalized_and_say_what_they_ignore() {
    let dir = tempfile::tempdir().unwrap();
    let w = Workload {
        family: Family::LogitNoise { sigma: 0.5 },
        vocab: 16,
        t_target: 1.0,
        t_draft: 1.0,
        zipf: 0.0,
        spread: None,
    };
    let (mut b, _) = specsim::study::workload::generate_chunk(&w, 5, 0, 500, 2);
    b.target.iter_mut().for_each(|x| *x *= 1.5);
    let path = dir.path().join("raw");
    specsim::npyio::write_batch_dir(&path, &b).unwrap();
    let out = dir.path().join("s");
    let base = [
        "study",
        "--engine",
        "cpu",
        "--quiet",
        "--family",
        "file",
        "--k",
        "1..2",
        "--batch",
        path.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    let o = specsim(&base);
    assert_refused(
        &o,
        "unnormalized file",
        &["sums to", "--allow-unnormalized"],
    );
    let mut ok = base.to_vec();
    ok.extend(["--allow-unnormalized", "--rounds", "10"]);
    let o = specsim(&ok);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stderr.contains("--rounds and --vocab are not used"),
        "{}",
        o.stderr
    );
}

/// Generated rows default to LM-like peaks (`--zipf 2`, the library's `DEFAULT_ZIPF`, on the
/// command line and in `StudyOptions::default`): a defaulted tree study's `target-only` accepts at
/// a realistic rate (about half a token per round on `kary:2,3`; it was 1% with flat rows).
#[test]
fn defaulted_studies_have_lm_like_rows() {
    use specsim::study::options::{DEFAULT_ZIPF, StudyOptions};
    assert_eq!(StudyOptions::default().zipf, vec![DEFAULT_ZIPF]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let o = specsim(&[
        "study", "--tree", "kary:2,3", "--rounds", "2000", "--engine", "cpu", "--quiet", "--out",
        out,
    ]);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    let mut csv = csv::Reader::from_path(dir.path().join("results.csv")).unwrap();
    let header = csv.headers().unwrap().clone();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let mut seen = 0;
    for row in csv.records() {
        let row = row.unwrap();
        if &row[col("rule")] != "target-only" || !row[col("tree")].starts_with("kary") {
            continue;
        }
        assert_eq!(
            row[col("zipf")].parse::<f64>().unwrap(),
            DEFAULT_ZIPF,
            "{row:?}"
        );
        let accepted: f64 = row[col("mean_accepted")].parse().unwrap();
        assert!(
            accepted > 0.3,
            "target-only accepts {accepted} per round: {row:?}"
        );
        seen += 1;
    }
    assert!(seen >= 1);
}

/// Families whose parameter is drawn per (round, position) (`--sigma-dist`, `--lambda-dist`):
/// each engine's study agrees with its exact values, the device generates the CPU's rows (mean
/// betas within 1e-4), and a degenerate law (`uniform:0.5:0.5`) is the fixed family bit for bit.
#[test]
fn spread_families_on_both_engines() {
    use specsim::workload::Spread;
    let spreads = [
        (Family::LogitNoise { sigma: 0.0 }, "uniform:0.1:2"),
        (Family::LogitNoise { sigma: 0.0 }, "lognormal:-0.7:0.8"),
        (Family::Mixture { lambda: 0.0 }, "uniform:0:0.9"),
        (Family::Mixture { lambda: 0.0 }, "lognormal:-1:1"),
    ];
    let gpu = common::gpu();
    let mut gpu = gpu;
    for (family, law) in spreads {
        let mut cfg = config(family.clone(), 0.5, 2500, RecoveryMode::Argmax);
        cfg.workload.spread = Some(law.parse::<Spread>().unwrap());
        let cpu = run_study(&cfg, &mut CpuEngine::default(), |_| {}).unwrap();
        assert_within(&cpu, &format!("cpu {family:?} {law}"));
        if let Some(g) = gpu.as_mut() {
            g.config = Default::default();
            let t = run_study(&cfg, &mut **g, |_| {}).unwrap();
            assert_within(&t, &format!("gpu {family:?} {law}"));
            for (g, c) in t.beta_sum.iter().zip(&cpu.beta_sum) {
                let (g, c) = (g.value() / t.rounds as f64, c.value() / cpu.rounds as f64);
                assert!((g - c).abs() < 1e-4, "{law}: device {g}, CPU {c}");
            }
        }
    }
    // The degenerate law is the fixed family.
    let fixed = config(
        Family::LogitNoise { sigma: 0.5 },
        0.5,
        300,
        RecoveryMode::Argmax,
    );
    let mut drawn = config(
        Family::LogitNoise { sigma: 0.0 },
        0.5,
        300,
        RecoveryMode::Argmax,
    );
    drawn.workload.spread = Some("uniform:0.5:0.5".parse().unwrap());
    let a = specsim::cpu::generate::generate_chunk(&fixed.workload, 11, 0, 50, 4).0;
    let b = specsim::cpu::generate::generate_chunk(&drawn.workload, 11, 0, 50, 4).0;
    assert_eq!(a.draft, b.draft);
    assert_eq!(a.target, b.target);
}

/// `--sigma-dist` and `--lambda-dist` from the command line: a configuration per law, the
/// `spread` column, the label; bad laws and the wrong family refused.
#[test]
fn spread_flags() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("s");
    let o = common::specsim(&[
        "study",
        "--sigma-dist",
        "uniform:0.2:1.5,lognormal:-1:0.5",
        "--k",
        "2",
        "--vocab",
        "64",
        "--rounds",
        "200",
        "--engine",
        "cpu",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.contains("sigma~uniform:0.2:1.5"), "{}", o.stdout);
    let csv = std::fs::read_to_string(out.join("results.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let (si, sp) = (
        header.iter().position(|c| *c == "sigma").unwrap(),
        header.iter().position(|c| *c == "spread").unwrap(),
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 2);
    assert_eq!((rows[0][si], rows[0][sp]), ("", "uniform:0.2:1.5"));
    assert_eq!(rows[1][sp], "lognormal:-1:0.5");
    for (args, needle) in [
        (vec!["--sigma-dist", "uniform:2:1"], "LO <= HI"),
        (vec!["--sigma-dist", "gamma:1:2"], "not a distribution"),
        (vec!["--sigma-dist", "lognormal:0:-1"], "S >= 0"),
        (
            vec!["--family", "mixture", "--sigma-dist", "uniform:0:1"],
            "--family logit-noise",
        ),
        (vec!["--lambda-dist", "uniform:0:1"], "--family mixture"),
    ] {
        let mut a = vec![
            "study", "--k", "1", "--vocab", "16", "--rounds", "10", "--engine", "cpu",
        ];
        a.extend(args.iter().copied());
        let never = dir.path().join("never");
        a.extend(["--out", never.to_str().unwrap()]);
        common::assert_refused(&common::specsim(&a), needle, &[needle]);
        assert!(!never.exists());
    }
}
