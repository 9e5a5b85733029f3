//! `specsim round` through the real binary: files, standard input, and every refusal class.

use crate::common;

use common::{assert_refused, specsim_stdin as run};

const README_EXAMPLE: &str = r#"{"draft_probs": [[0.5, 0.5]], "target_probs": [[0.9, 0.1], [0.3, 0.7]], "draft_tokens": [1], "random_coins": [0.5]}"#;

#[test]
fn round_reads_stdin_dash_and_files() {
    let want = "{\"accepted_tokens\":[0],\"num_generated\":1,\"acceptance_rate\":0.0}\n";
    let a = run(&["round"], Some(README_EXAMPLE));
    assert_eq!(
        (a.code, a.stdout.as_str()),
        (0, want),
        "stderr: {}",
        a.stderr
    );
    let b = run(&["round", "-"], Some(README_EXAMPLE));
    assert_eq!((b.code, b.stdout.as_str()), (0, want));
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("round.json");
    std::fs::write(&p, README_EXAMPLE).unwrap();
    let c = run(&["round", p.to_str().unwrap()], None);
    assert_eq!((c.code, c.stdout.as_str()), (0, want));
}

#[test]
fn round_accepts_all_and_emits_bonus() {
    let j = r#"{"draft_probs": [[0.5, 0.5], [0.5, 0.5]], "target_probs": [[0.5, 0.5], [0.5, 0.5], [0.1, 0.9]], "draft_tokens": [1, 0], "random_coins": [0.2, 0.3]}"#;
    let o = run(&["round"], Some(j));
    assert_eq!(o.code, 0);
    assert_eq!(
        o.stdout,
        "{\"accepted_tokens\":[1,0,1],\"num_generated\":3,\"acceptance_rate\":1.0}\n"
    );
}

#[test]
fn round_options_unnormalized_and_plain_decode() {
    let raw = r#"{"draft_probs": [[2.0, 2.0]], "target_probs": [[1.0, 3.0], [5.0, 1.0]], "draft_tokens": [0], "random_coins": [0.4]}"#;
    let refused = run(&["round"], Some(raw));
    assert_ne!(refused.code, 0);
    assert!(
        refused.stderr.contains("--allow-unnormalized"),
        "{}",
        refused.stderr
    );
    let ok = run(&["round", "--allow-unnormalized"], Some(raw));
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    assert!(
        ok.stdout.contains("\"accepted_tokens\":[0,0]"),
        "{}",
        ok.stdout
    );
    let k0 = r#"{"draft_probs": [], "target_probs": [[0.1, 0.6, 0.3]], "draft_tokens": [], "random_coins": []}"#;
    assert_ne!(run(&["round"], Some(k0)).code, 0);
    let p = run(&["round", "--plain-decode"], Some(k0));
    assert_eq!(
        p.stdout,
        "{\"accepted_tokens\":[1],\"num_generated\":1,\"acceptance_rate\":0.0}\n"
    );
}

/// Each refusal: non-zero exit, nothing on stdout, and a message naming field, position and value.
#[test]
fn round_refusals_name_field_position_and_value() {
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "lengths",
            r#"{"draft_probs": [[0.5, 0.5]], "target_probs": [[0.5, 0.5]], "draft_tokens": [0], "random_coins": [0.5]}"#,
            &["target_probs", "expected 2", "found 1"],
        ),
        (
            "K = 0",
            r#"{"draft_probs": [], "target_probs": [[1.0]], "draft_tokens": [], "random_coins": []}"#,
            &["K = 0"],
        ),
        (
            "row length",
            r#"{"draft_probs": [[0.5, 0.25, 0.25]], "target_probs": [[0.5, 0.5], [0.5, 0.5]], "draft_tokens": [0], "random_coins": [0.5]}"#,
            &["draft_probs[0]", "3", "V = 2"],
        ),
        (
            "V = 0",
            r#"{"draft_probs": [[]], "target_probs": [[], []], "draft_tokens": [0], "random_coins": [0.5]}"#,
            &["V"],
        ),
        (
            "token",
            r#"{"draft_probs": [[0.5, 0.5]], "target_probs": [[0.5, 0.5], [0.5, 0.5]], "draft_tokens": [-3], "random_coins": [0.5]}"#,
            &["draft_tokens[0]", "-3", "0..2"],
        ),
        (
            "coin",
            r#"{"draft_probs": [[0.5, 0.5]], "target_probs": [[0.5, 0.5], [0.5, 0.5]], "draft_tokens": [0], "random_coins": [1.0]}"#,
            &["random_coins[0]", "1"],
        ),
        (
            "negative",
            r#"{"draft_probs": [[0.5, 0.5]], "target_probs": [[0.5, 0.5], [1.5, -0.5]], "draft_tokens": [0], "random_coins": [0.5]}"#,
            &["target_probs[1][1]", "-0.5"],
        ),
        (
            "sum",
            r#"{"draft_probs": [[0.5, 0.6]], "target_probs": [[0.5, 0.5], [0.5, 0.5]], "draft_tokens": [0], "random_coins": [0.5]}"#,
            &["draft_probs[0]", "1.1"],
        ),
        (
            "q = 0",
            r#"{"draft_probs": [[0.0, 1.0]], "target_probs": [[0.5, 0.5], [0.5, 0.5]], "draft_tokens": [0], "random_coins": [0.5]}"#,
            &["draft_probs[0][0] = 0", "draft_tokens[0]"],
        ),
        (
            "NaN literal",
            r#"{"draft_probs": [[NaN, 0.5]], "target_probs": [[0.5, 0.5], [0.5, 0.5]], "draft_tokens": [0], "random_coins": [0.5]}"#,
            &["<stdin>", "line 1"],
        ),
        (
            "malformed",
            r#"{"draft_probs": [[0.5, 0.5]"#,
            &["<stdin>", "invalid round JSON"],
        ),
        (
            "missing key",
            r#"{"draft_probs": [[0.5, 0.5]], "target_probs": [[0.5, 0.5], [0.5, 0.5]], "draft_tokens": [0]}"#,
            &["random_coins"],
        ),
        (
            "float token",
            r#"{"draft_probs": [[0.5, 0.5]], "target_probs": [[0.5, 0.5], [0.5, 0.5]], "draft_tokens": [0.5], "random_coins": [0.5]}"#,
            &["invalid round JSON"],
        ),
        ("empty input", "", &["invalid round JSON"]),
    ];
    for (name, input, needles) in cases {
        assert_refused(&run(&["round"], Some(input)), name, needles);
    }
}

#[test]
fn round_missing_file_is_a_clear_error() {
    let o = run(&["round", "/nonexistent/round.json"], None);
    assert_ne!(o.code, 0);
    assert!(o.stdout.is_empty());
    assert!(o.stderr.contains("/nonexistent/round.json"), "{}", o.stderr);
}

#[test]
fn round_help_explains_semantics_with_an_example() {
    let o = run(&["round", "--help"], None);
    assert_eq!(o.code, 0);
    for n in ["min(1, p/q)", "argmax", "lowest", "round(x, 4)", "Example"] {
        assert!(o.stdout.contains(n), "help lacks {n:?}");
    }
}

/// On a headless machine (no XDG_RUNTIME_DIR) a plain study prints no line starting with
/// `error:` (Mesa's complaint when it probes an adapter), and a set variable is left alone.
#[test]
fn a_headless_study_prints_no_error_lines() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("s");
    let o = std::process::Command::new(common::BIN)
        .args([
            "study", "--rounds", "200", "--k", "1..2", "--vocab", "64", "--quiet",
        ])
        .arg("--out")
        .arg(&out)
        .env_remove("XDG_RUNTIME_DIR")
        .output()
        .unwrap();
    assert!(o.status.success());
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        !stderr.lines().any(|l| l.starts_with("error:")),
        "stderr: {stderr}"
    );
    assert!(out.join("results.csv").exists());
}

/// A write error on standard output (a full device) is an error with a non-zero exit, for a
/// result and for a verdict; only a closed pipe ends quietly.
#[test]
fn write_errors_on_stdout_are_errors() {
    let Ok(full) = std::fs::OpenOptions::new().write(true).open("/dev/full") else {
        eprintln!("!!! SKIPPING: no /dev/full on this machine");
        return;
    };
    let round = r#"{"draft_probs": [[0.5, 0.5]], "target_probs": [[0.9, 0.1], [0.3, 0.7]], "draft_tokens": [1], "random_coins": [0.5]}"#;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.json");
    std::fs::write(&path, round).unwrap();
    for args in [
        vec!["--help".to_string()],
        vec!["round".to_string(), path.display().to_string()],
        vec![
            "verify".into(),
            "--generate".into(),
            "20".into(),
            "--vocab".into(),
            "9".into(),
            "--cpu-only".into(),
        ],
    ] {
        let o = std::process::Command::new(common::BIN)
            .args(&args)
            .stdout(full.try_clone().unwrap())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_ne!(o.status.code(), Some(0), "{args:?}: {stderr}");
        assert!(
            stderr.contains("cannot write to standard output"),
            "{args:?}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

/// Values print in their shortest round-trip form: -1e-300, not 300 digits (part of class 14).
#[test]
fn tiny_and_huge_values_print_short() {
    let o = run(
        &["round"],
        Some(
            r#"{"draft_probs": [[-1e-300, 1.0]], "target_probs": [[0.9, 0.1], [0.3, 0.7]], "draft_tokens": [1], "random_coins": [0.5]}"#,
        ),
    );
    assert_refused(&o, "tiny", &["draft_probs[0][0] = -1e-300"]);
    let o = run(
        &["round"],
        Some(
            r#"{"draft_probs": [[0.5, 0.5]], "target_probs": [[0.9, 0.1], [0.3, 0.7]], "draft_tokens": [1], "random_coins": [1e300]}"#,
        ),
    );
    assert_refused(&o, "huge", &["random_coins[0] = 1e300 is not in [0, 1)"]);
}

/// `round` parses as it reads: `/dev/zero` fails at its first byte instead of growing without
/// bound, unknown keys are refused, and many short rows take memory proportional to the numbers
/// (reliability class 15).
#[test]
fn round_parsing_is_streamed_flat_and_strict() {
    let t = std::time::Instant::now();
    let o = common::specsim(&["round", "/dev/zero"]);
    assert_refused(
        &o,
        "/dev/zero",
        &["/dev/zero", "invalid round JSON", "column 1"],
    );
    assert!(t.elapsed().as_secs() < 10);
    let o = run(
        &["round"],
        Some(
            r#"{"draft_probs": [[0.5, 0.5]], "target_probs": [[0.9, 0.1], [0.3, 0.7]], "draft_tokens": [1], "random_coins": [0.5], "coins": [0.1]}"#,
        ),
    );
    assert_refused(&o, "unknown key", &["unknown field `coins`"]);
    // 200000 rows of one value: the flat rows hold 16 bytes per row (value and length).
    let k = 200_000;
    let rows = |n: usize| format!("[{}]", vec!["[1.0]"; n].join(","));
    let text = format!(
        r#"{{"draft_probs": {}, "target_probs": {}, "draft_tokens": [{}], "random_coins": [{}]}}"#,
        rows(k),
        rows(k + 1),
        vec!["0"; k].join(","),
        vec!["0.5"; k].join(",")
    );
    let r = specsim::round::read_round_json(text.as_bytes(), "test").unwrap();
    let held = (r.draft_probs.data.capacity() + r.draft_probs.lens.capacity()) * 8
        + (r.target_probs.data.capacity() + r.target_probs.lens.capacity()) * 8;
    assert!(
        held <= 3 * text.len(),
        "{held} bytes held for {} bytes of JSON",
        text.len()
    );
    let res = r
        .decode_rule(specsim::Rule::Token, &Default::default())
        .unwrap();
    assert_eq!(res.num_generated, k + 1);
}

/// `verify --chunk` and `--k` ranges are bounded before anything is allocated (review findings).
#[test]
fn chunk_and_k_ranges_are_bounded() {
    let o = common::specsim(&[
        "verify",
        "--generate",
        "10",
        "--chunk",
        "100000000000",
        "--cpu-only",
    ]);
    assert_refused(&o, "chunk", &["--chunk 100000000000", "2 GiB"]);
    let dir = tempfile::tempdir().unwrap();
    let o = common::specsim(&[
        "study",
        "--engine",
        "cpu",
        "--k",
        "1..100000000000",
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert_refused(&o, "k range", &["--k", "at most 1024"]);
}
