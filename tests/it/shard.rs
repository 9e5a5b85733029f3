//! Sharded studies (`specsim study --shard I/N`, `specsim merge`): for chain and tree studies, on
//! the CPU engine and the GPU engine where one exists, with N below, equal to and above the number
//! of configurations, the merged files equal the unsharded study's byte for byte apart from the
//! timing column; bad shard sets are refused with their reason and nothing is written.

use std::path::Path;

use serde_json::Value;

use crate::common::{self, assert_refused, specsim};

/// A study's files with the timing column removed (CSV `seconds`, JSON `seconds` keys); SVGs as
/// bytes.
fn files_without_timing(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let bytes = std::fs::read(dir.join(&name)).unwrap();
            let kept = if name.ends_with(".csv") {
                let mut r = csv::Reader::from_reader(&bytes[..]);
                let header = r.headers().unwrap().clone();
                let drop = header.iter().position(|c| c == "seconds").unwrap();
                let keep = |rec: &csv::StringRecord| -> String {
                    rec.iter()
                        .enumerate()
                        .filter(|(i, _)| *i != drop)
                        .map(|(_, c)| c.to_string())
                        .collect::<Vec<_>>()
                        .join("\u{1f}")
                };
                let mut out = vec![keep(&header)];
                for rec in r.records() {
                    out.push(keep(&rec.unwrap()));
                }
                out.join("\n").into_bytes()
            } else if name.ends_with(".json") {
                fn strip(v: &mut Value) {
                    match v {
                        Value::Object(m) => {
                            m.remove("seconds");
                            m.values_mut().for_each(strip);
                        }
                        Value::Array(a) => a.iter_mut().for_each(strip),
                        _ => {}
                    }
                }
                let mut v: Value = serde_json::from_slice(&bytes).unwrap();
                strip(&mut v);
                serde_json::to_vec(&v).unwrap()
            } else {
                bytes
            };
            (name, kept)
        })
        .collect()
}

/// Runs `args` unsharded and in `n` shards (merged in reverse order), and holds the files equal.
fn sharded_equals_unsharded(args: &[&str], n: u64) {
    let dir = tempfile::tempdir().unwrap();
    let whole = dir.path().join("whole");
    let mut a: Vec<&str> = args.to_vec();
    a.extend(["--quiet", "--out", whole.to_str().unwrap()]);
    let o = specsim(&a);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let mut shard_files = Vec::new();
    for i in 0..n {
        let path = dir.path().join(format!("s{i}.json"));
        let spec = format!("{i}/{n}");
        let mut a: Vec<&str> = args.to_vec();
        a.extend(["--quiet", "--shard", &spec, "--out", path.to_str().unwrap()]);
        let o = specsim(&a);
        assert_eq!(o.code, 0, "shard {spec}: {}", o.stderr);
        shard_files.push(path.to_str().unwrap().to_string());
    }
    let merged = dir.path().join("merged");
    let mut m = vec!["merge"];
    m.extend(shard_files.iter().rev().map(String::as_str));
    m.extend(["--out", merged.to_str().unwrap()]);
    let o = specsim(&m);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let (w, g) = (files_without_timing(&whole), files_without_timing(&merged));
    assert_eq!(
        w.iter().map(|f| &f.0).collect::<Vec<_>>(),
        g.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    for ((name, a), (_, b)) in w.iter().zip(&g) {
        assert!(a == b, "{args:?} in {n} shards: {name} differs");
    }
}

const CHAIN: &[&str] = &[
    "study",
    "--sigma",
    "0.5,1",
    "--vocab",
    "40",
    "--rounds",
    "700",
    "--k",
    "1..3",
    "--rule",
    "token,block",
];
const TREE: &[&str] = &[
    "study", "--tree", "kary:2,2", "--tree", "kary:3,1", "--vocab", "30", "--rounds", "500",
    "--sigma", "0.5",
];

#[test]
fn sharded_chain_and_tree_studies_merge_into_the_unsharded_files_on_the_cpu() {
    for n in [1, 2, 3, 7] {
        let mut chain = CHAIN.to_vec();
        chain.extend(["--engine", "cpu"]);
        sharded_equals_unsharded(&chain, n);
        let mut tree = TREE.to_vec();
        tree.extend(["--engine", "cpu"]);
        sharded_equals_unsharded(&tree, n);
    }
}

#[test]
fn sharded_studies_merge_exactly_on_the_gpu() {
    if common::gpu().is_none() {
        return;
    }
    let mut chain = CHAIN.to_vec();
    chain.extend(["--engine", "gpu"]);
    sharded_equals_unsharded(&chain, 3);
    let mut tree = TREE.to_vec();
    tree.extend(["--engine", "gpu"]);
    sharded_equals_unsharded(&tree, 3);
    // Shards of one study on two engines: refused (their rows differ in the last bits).
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    for (i, engine) in [(0, "cpu"), (1, "gpu")] {
        let mut a: Vec<&str> = CHAIN.to_vec();
        let spec = format!("{i}/2");
        let out = p(&format!("e{i}.json"));
        a.extend([
            "--engine", engine, "--quiet", "--shard", &spec, "--out", &out,
        ]);
        assert_eq!(specsim(&a).code, 0);
    }
    let out = p("merged");
    let o = specsim(&["merge", &p("e0.json"), &p("e1.json"), "--out", &out]);
    assert_refused(&o, "two engines", &["one engine", "e1.json"]);
    assert!(!Path::new(&out).exists());
}

#[test]
fn bad_shard_sets_are_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let shard = |args: &[&str], spec: &str, out: &str| {
        let mut a: Vec<&str> = args.to_vec();
        a.extend(["--engine", "cpu", "--quiet", "--shard", spec, "--out", out]);
        let o = specsim(&a);
        assert_eq!(o.code, 0, "{}", o.stderr);
    };
    for i in 0..4 {
        shard(CHAIN, &format!("{i}/4"), &p(&format!("c{i}.json")));
    }
    shard(TREE, "0/4", &p("t0.json"));
    shard(CHAIN, "0/3", &p("three0.json"));
    let out = p("merged");
    let merge = |files: &[&str]| {
        let mut a = vec!["merge"];
        let paths: Vec<String> = files.iter().map(|f| p(f)).collect();
        a.extend(paths.iter().map(String::as_str));
        a.extend(["--out", out.as_str()]);
        specsim(&a)
    };
    let cases: &[(&[&str], &str, &[&str])] = &[
        (
            &["c0.json", "c2.json"],
            "missing",
            &["2 of 4 shards missing", "1/4", "3/4"],
        ),
        (
            &["c0.json", "c1.json", "c1.json", "c2.json", "c3.json"],
            "duplicate",
            &["1/4", "given twice"],
        ),
        (
            &["c0.json", "c1.json", "t0.json"],
            "different studies",
            &["different studies"],
        ),
        (
            &["c0.json", "three0.json"],
            "different counts",
            &["shard of 4", "of 3"],
        ),
    ];
    for (files, what, needles) in cases {
        assert_refused(&merge(files), what, needles);
        assert!(!Path::new(&out).exists(), "{what}: nothing written");
    }
    // The same study with other cost ratios: the reports would differ, so it is refused.
    let mut other: Vec<&str> = CHAIN.to_vec();
    other.extend(["--cost-ratio", "0.5"]);
    shard(&other, "3/4", &p("cost3.json"));
    assert_refused(
        &merge(&["c0.json", "c1.json", "c2.json", "cost3.json"]),
        "cost ratio",
        &["cost-ratio", "cost3.json"],
    );
    assert!(!Path::new(&out).exists());
    // A shard of another version, a changed one, and one that is not a shard file.
    let text = std::fs::read_to_string(p("c3.json")).unwrap();
    std::fs::write(
        p("v2.json"),
        text.replacen("\"version\": 1", "\"version\": 2", 1),
    )
    .unwrap();
    assert_refused(
        &merge(&["c0.json", "c1.json", "c2.json", "v2.json"]),
        "version",
        &["v2.json", "version 2", "reads version 1"],
    );
    let changed = text.replacen("\"rounds\": ", "\"rounds\": 1", 1);
    assert_ne!(changed, text);
    std::fs::write(p("changed.json"), changed).unwrap();
    assert_refused(
        &merge(&["c0.json", "c1.json", "c2.json", "changed.json"]),
        "checksum",
        &["changed.json", "checksum"],
    );
    // An unknown key (the checksum is over the fields specsim reads: extra keys are refused).
    let extra = text.replacen("{", "{\n  \"extra\": 1,", 1);
    std::fs::write(p("extra.json"), extra).unwrap();
    assert_refused(
        &merge(&["c0.json", "c1.json", "c2.json", "extra.json"]),
        "unknown key",
        &["extra.json", "extra"],
    );
    std::fs::write(p("junk.json"), "{\"a\": 1}").unwrap();
    assert_refused(
        &merge(&["junk.json"]),
        "not a shard",
        &["junk.json", "not a shard"],
    );
    assert!(!Path::new(&out).exists());
    // The four together merge.
    let o = merge(&["c3.json", "c1.json", "c0.json", "c2.json"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    // What cannot be sharded, and bad specs.
    let batch = common::data("batches/f64_i64.npz");
    let o = specsim(&[
        "study",
        "--family",
        "file",
        "--batch",
        &batch,
        "--shard",
        "0/2",
        "--out",
        &p("f.json"),
    ]);
    assert_refused(&o, "file family", &["--family file"]);
    for bad in ["2/2", "x", "0/0"] {
        let o = specsim(&["study", "--shard", bad, "--out", &p("b.json")]);
        assert_refused(&o, bad, &["--shard", "I/N"]);
    }
}

/// `examples/slurm/`: the array script run by hand for each index (as Slurm would, with
/// `SLURM_ARRAY_TASK_ID` and `SLURM_ARRAY_TASK_COUNT` set), then the merge script, gives the
/// unsharded study's files; with a shard missing, the merge names it and writes nothing.
#[test]
fn the_slurm_scripts_shard_and_merge_a_study() {
    let dir = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_specsim");
    let examples = format!("{}/examples/slurm", env!("CARGO_MANIFEST_DIR"));
    let args = "--sigma 0.5,1 --vocab 40 --rounds 700 --k 1..3 --rule token,block --engine cpu";
    let run = |script: &str, env: &[(&str, String)]| {
        let mut c = std::process::Command::new("bash");
        c.arg(format!("{examples}/{script}"))
            .current_dir(dir.path())
            .env("SPECSIM", bin)
            .env("SPECSIM_STUDY_ARGS", args)
            .env_remove("N");
        for (k, v) in env {
            c.env(k, v);
        }
        c.output().unwrap()
    };
    let n = 3;
    for i in 0..n {
        let o = run(
            "study.sbatch",
            &[
                ("SLURM_ARRAY_TASK_ID", i.to_string()),
                ("SLURM_ARRAY_TASK_COUNT", n.to_string()),
            ],
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let o = run("merge.sbatch", &[("N", n.to_string())]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let whole = dir.path().join("whole");
    let mut a: Vec<&str> = vec!["study"];
    a.extend(args.split(' '));
    a.extend(["--quiet", "--out", whole.to_str().unwrap()]);
    assert_eq!(specsim(&a).code, 0);
    assert_eq!(
        files_without_timing(&whole),
        files_without_timing(&dir.path().join("study"))
    );
    // A shard lost: the merge names it and writes nothing.
    std::fs::remove_file(dir.path().join("shards/shard-1-of-3.json")).unwrap();
    let o = run(
        "merge.sbatch",
        &[("N", n.to_string()), ("OUT", "again".to_string())],
    );
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("1/3") && err.contains("missing"), "{err}");
    assert!(!dir.path().join("again").exists());
    // Without an array index the script says what it needs.
    let o = run("study.sbatch", &[("N", n.to_string())]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("SLURM_ARRAY_TASK_ID"));
}

/// `--out` with `--shard`: a path ending in `.json` is the shard file; any other path is a
/// directory (created) that gets `shard-I-of-N.json`.
#[test]
fn a_shard_s_out_is_a_file_or_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let run = |out: &Path| {
        let mut a: Vec<&str> = CHAIN.to_vec();
        a.extend(["--engine", "cpu", "--quiet", "--shard", "1/2", "--out"]);
        a.push(out.to_str().unwrap());
        let o = specsim(&a);
        assert_eq!(o.code, 0, "{}", o.stderr);
    };
    run(&dir.path().join("one.json"));
    assert!(dir.path().join("one.json").is_file());
    run(&dir.path().join("shards"));
    assert!(dir.path().join("shards/shard-1-of-2.json").is_file());
    let a = std::fs::read_to_string(dir.path().join("one.json")).unwrap();
    let b = std::fs::read_to_string(dir.path().join("shards/shard-1-of-2.json")).unwrap();
    let parts = |s: &str| -> Value {
        let mut v: Value = serde_json::from_str(s).unwrap();
        for p in v["parts"].as_array_mut().unwrap() {
            p.as_object_mut().unwrap().remove("seconds");
        }
        v["parts"].clone()
    };
    assert_eq!(parts(&a), parts(&b), "the same shard, whatever the path");
}
