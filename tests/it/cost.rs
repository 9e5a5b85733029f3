//! Cost and goodput (SPEC §12): Leviathan et al.'s published numbers reproduced through studies,
//! latency profiles in studies and `specsim cost`, and their refusals.

use crate::common;

use common::{assert_refused, specsim};
use serde_json::Value;

/// A study's `results.json` rows (every configuration's).
fn rows(dir: &std::path::Path) -> (Vec<Value>, Value) {
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("results.json")).unwrap()).unwrap();
    let rows = doc["configurations"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["rows"].as_array().unwrap().clone())
        .collect();
    (rows, doc)
}

/// A `rates` study (i.i.d. acceptance alpha at every position) over K.
fn rates_study(
    dir: &std::path::Path,
    alpha: &str,
    ks: &str,
    extra: &[&str],
) -> (Vec<Value>, Value) {
    let out = dir.join(format!("rates-{alpha}-{}", extra.join("_")));
    let mut args = vec![
        "study",
        "--family",
        "rates",
        "--rates",
        alpha,
        "--k",
        ks,
        "--rounds",
        "200",
        "--engine",
        "cpu",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let o = specsim(&args);
    assert_eq!(o.code, 0, "{}", o.stderr);
    rows(&out)
}

/// Leviathan et al. 2023, Table 1 ("The total number of arithmetic operations and the inference
/// speed vs the baseline, for various values of γ and α, assuming c = ĉ = 0"), to its printed
/// digits: the speed is the study's exact E[generated] at K = γ, the operations (γ + 1) / speed
/// (Theorem 3.11 with ĉ = 0: the target evaluates γ + 1 positions per round).
#[test]
fn leviathan_table_1_to_its_printed_digits() {
    let dir = tempfile::tempdir().unwrap();
    let table = [
        ("0.6", 2, "1.53", "1.96"),
        ("0.7", 3, "1.58", "2.53"),
        ("0.8", 2, "1.23", "2.44"),
        ("0.8", 5, "1.63", "3.69"),
        ("0.9", 2, "1.11", "2.71"),
        ("0.9", 10, "1.60", "6.86"),
    ];
    for (alpha, gamma, ops, speed) in table {
        let (rows, _) = rates_study(
            dir.path(),
            alpha,
            &gamma.to_string(),
            &["--cost-ratio", "0"],
        );
        let e = rows[0]["exact_mean_generated"].as_f64().unwrap();
        assert_eq!(format!("{e:.2}"), speed, "alpha {alpha} gamma {gamma}");
        assert_eq!(rows[0]["exact_speedup_c0"].as_f64().unwrap(), e);
        assert_eq!(
            format!("{:.2}", (gamma + 1) as f64 / e),
            ops,
            "alpha {alpha} gamma {gamma}"
        );
    }
}

/// Theorem 3.8 (the expected walltime improvement `(1 − α^(γ+1)) / ((1 − α)(γ c + 1))`) is the
/// study's `exact_speedup_cC`, and the best K under Leviathan's cost is the paper's optimal γ:
/// the argmax of that expression (its Figure 3), for a grid of α and c.
#[test]
fn leviathans_theorem_and_optimal_gamma() {
    let dir = tempfile::tempdir().unwrap();
    let cs = [0.01f64, 0.05, 0.1, 0.2, 0.5];
    let list = cs.map(|c| c.to_string()).join(",");
    for alpha in ["0.5", "0.7", "0.8", "0.9", "0.95"] {
        let (rows, doc) = rates_study(dir.path(), alpha, "1..24", &["--cost-ratio", &list]);
        let a = f64::from(alpha.parse::<f32>().unwrap());
        let theorem =
            |g: usize, c: f64| (1.0 - a.powi(g as i32 + 1)) / ((1.0 - a) * (g as f64 * c + 1.0));
        for r in &rows {
            let g = r["k"].as_u64().unwrap() as usize;
            for &c in &cs {
                let got = r[format!("exact_speedup_c{c}")].as_f64().unwrap();
                assert!(
                    (got - theorem(g, c)).abs() < 1e-12,
                    "alpha {alpha} gamma {g} c {c}"
                );
            }
        }
        for &c in &cs {
            let optimal = (1..=24)
                .max_by(|&x, &y| theorem(x, c).total_cmp(&theorem(y, c)))
                .unwrap();
            let best = doc["best_k"]
                .as_array()
                .unwrap()
                .iter()
                .find(|b| b["cost_ratio"].as_f64() == Some(c))
                .unwrap();
            assert_eq!(best["exact_best_k"], optimal, "alpha {alpha} c {c}");
        }
    }
}

/// A profile in a study: every row gets `goodput_bB`, `speedup_bB` and `goodput_from`, results.json
/// the best K per batch size; `specsim cost` on the study's directory prints the same choices;
/// with the example profile (flat, then rising) the best K does not grow with B.
#[test]
fn profiles_in_studies_and_the_cost_command() {
    let dir = tempfile::tempdir().unwrap();
    let profile = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/profile-sequoia-demo.csv"
    );
    let out = dir.path().join("s");
    let o = specsim(&[
        "study",
        "--k",
        "1..8",
        "--vocab",
        "200",
        "--rounds",
        "500",
        "--sigma",
        "0.5",
        "--engine",
        "cpu",
        "--cost-profile",
        profile,
        "--batch",
        "1,4,16,64",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.contains("best per batch size"), "{}", o.stdout);
    let (rows, doc) = rows(&out);
    for r in &rows {
        for b in [1, 4, 16, 64] {
            assert!(r[format!("goodput_b{b}")].as_f64().unwrap() > 0.0);
            assert!(r[format!("speedup_b{b}")].as_f64().unwrap() > 0.0);
        }
        assert_eq!(r["goodput_from"], "exact");
    }
    // The example: at B = 1 a round of K costs 0.3 K + t_verify(K + 1).
    let r4 = rows.iter().find(|r| r["k"] == 4).unwrap();
    let e = r4["exact_mean_generated"].as_f64().unwrap();
    let t = 0.3 * 4.0 + (10.0 + 2.0 * (5.0 - 4.0) / 4.0);
    assert!((r4["speedup_b1"].as_f64().unwrap() - e / t * 10.0).abs() < 1e-12);
    let best: Vec<(u64, u64)> = doc["best_k"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b.get("batch").is_some())
        .map(|b| (b["batch"].as_u64().unwrap(), b["best_k"].as_u64().unwrap()))
        .collect();
    assert_eq!(best.len(), 4);
    assert!(best.windows(2).all(|w| w[1].1 <= w[0].1), "{best:?}");
    assert!(best[0].1 > best[3].1, "{best:?}");
    // `specsim cost` on the study: the same choices.
    let o = specsim(&[
        "cost",
        "--profile",
        profile,
        "--batch",
        "1,4,16,64",
        "--from-study",
        out.to_str().unwrap(),
        "--format",
        "json",
        "--out",
        dir.path().join("c").to_str().unwrap(),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let c: Value = serde_json::from_str(&o.stdout).unwrap();
    let from_cost: Vec<(u64, u64)> = c["best"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| (b["batch"].as_u64().unwrap(), b["best_k"].as_u64().unwrap()))
        .collect();
    assert_eq!(from_cost, best);
    assert_eq!(c["candidates"].as_array().unwrap().len(), 8);
    assert!(dir.path().join("c/cost.svg").exists() && dir.path().join("c/cost.json").exists());
}

/// Bad profiles and options are refused, naming the line and the value, with nothing written.
#[test]
fn bad_profiles_and_options_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "kind,batch,tokens,context,ms\nverify,1,1,,10\ndraft,1,x,,1\n",
    )
    .unwrap();
    let out = dir.path().join("never");
    let base = [
        "study", "--k", "1,2", "--vocab", "50", "--rounds", "50", "--engine", "cpu",
    ];
    let with = |more: &[&str]| {
        let mut a = base.to_vec();
        a.extend_from_slice(more);
        a.extend_from_slice(&["--out", out.to_str().unwrap()]);
        specsim(&a)
    };
    let bad_s = bad.to_str().unwrap();
    assert_refused(
        &with(&["--cost-profile", bad_s, "--batch", "1"]),
        "a bad row",
        &["bad.csv:3", "tokens = \"x\""],
    );
    let good = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/profile-sequoia-demo.csv"
    );
    assert_refused(
        &with(&["--cost-profile", good]),
        "no batch sizes",
        &["--batch"],
    );
    assert_refused(
        &with(&["--batch", "1,8"]),
        "no profile",
        &["--cost-profile"],
    );
    assert_refused(
        &with(&["--cost-profile", good, "--batch", "1", "--context", "512"]),
        "no context column",
        &["--context 512", "no context column"],
    );
    assert_refused(
        &with(&["--cost-profile", good, "--batch", "8,8"]),
        "a size twice",
        &["given twice"],
    );
    assert_refused(
        &with(&["--batch", "8,"]),
        "an empty size",
        &["not a batch size"],
    );
    assert_refused(
        &with(&["--batch", "0,8"]),
        "a zero size",
        &["not a batch size"],
    );
    assert_refused(
        &with(&["--batch", "./8"]),
        "a path without --family file",
        &["--family file"],
    );
    // A profile saved with a byte-order mark reads as without.
    let bom = dir.path().join("bom.csv");
    std::fs::write(
        &bom,
        "\u{feff}kind,batch,tokens,context,ms\nverify,1,1,,10\ndraft,1,1,,1\n",
    )
    .unwrap();
    let o = with(&["--cost-profile", bom.to_str().unwrap(), "--batch", "1,4"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    std::fs::remove_dir_all(&out).unwrap();
    assert!(!out.exists());
    let o = specsim(&[
        "cost",
        "--profile",
        good,
        "--batch",
        "1",
        "--from-study",
        dir.path().to_str().unwrap(),
    ]);
    assert_refused(&o, "no study", &["results.json"]);
}

/// Shards carry the profile and the batch sizes: merged, their goodput columns and choices are
/// one run's.
#[test]
fn shards_carry_the_profile() {
    let dir = tempfile::tempdir().unwrap();
    let profile = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/profile-sequoia-demo.csv"
    );
    let common_args = [
        "study",
        "--k",
        "1..4",
        "--vocab",
        "100",
        "--rounds",
        "300",
        "--engine",
        "cpu",
        "--cost-profile",
        profile,
        "--batch",
        "1,32",
    ];
    let run = |more: &[&str]| {
        let mut a = common_args.to_vec();
        a.extend_from_slice(more);
        let o = specsim(&a);
        assert_eq!(o.code, 0, "{}", o.stderr);
    };
    let one = dir.path().join("one");
    run(&["--out", one.to_str().unwrap()]);
    let shards = dir.path().join("shards");
    for i in 0..2 {
        run(&[
            "--shard",
            &format!("{i}/2"),
            "--out",
            shards.to_str().unwrap(),
        ]);
    }
    let merged = dir.path().join("merged");
    let o = specsim(&[
        "merge",
        shards.join("shard-0-of-2.json").to_str().unwrap(),
        shards.join("shard-1-of-2.json").to_str().unwrap(),
        "--out",
        merged.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let (a, da) = rows(&one);
    let (b, db) = rows(&merged);
    for (x, y) in a.iter().zip(&b) {
        for key in ["goodput_b1", "speedup_b32", "goodput_from"] {
            assert_eq!(x[key], y[key], "{key}");
        }
    }
    assert_eq!(da["best_k"], db["best_k"]);
    assert_eq!(da["cost_profile"], db["cost_profile"]);
}
