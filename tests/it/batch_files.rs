//! Batch files written by numpy (every dtype), their refusals, and `run` / `verify` through the
//! real binary.

use crate::common;

use std::path::Path;

use common::{assert_refused, data, specsim};
use serde_json::Value;
use specsim::batch::{Validation, reference_outcomes};
use specsim::cpu::CpuEngine;
use specsim::npyio::{BatchFile, NpyArray};
use specsim::round::RoundOptions;

const FIXTURES: [&str; 3] = ["f32_i32_dir", "f64_i64.npz", "f32_u32_compressed.npz"];

fn expected(name: &str) -> (Vec<i32>, Vec<u32>) {
    let all: Value =
        serde_json::from_str(&std::fs::read_to_string(data("batches/expected.json")).unwrap())
            .unwrap();
    let e = &all[name];
    let tokens = e["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_i64().unwrap() as i32)
        })
        .collect();
    let acc = e["num_accepted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect();
    (tokens, acc)
}

#[test]
fn numpy_batches_of_every_dtype_match_numpy_results() {
    for name in FIXTURES {
        let file = BatchFile::open(Path::new(&data(&format!("batches/{name}")))).unwrap();
        let view = file.view().unwrap();
        view.validate(&RoundOptions::default(), Validation::Full)
            .unwrap();
        let (tokens, acc) = expected(name);
        // The f64 reference on the values as stored equals numpy's float64 implementation.
        let refs = reference_outcomes(&view);
        for (r, o) in refs.iter().enumerate() {
            assert_eq!(o.num_accepted, acc[r], "{name} round {r}");
            assert_eq!(
                o.token as i32,
                tokens[r * (view.k + 1) + acc[r] as usize],
                "{name} round {r}"
            );
        }
        // The f32 CPU engine agrees too on these (no near-ties in the fixtures).
        let cpu = CpuEngine::default()
            .run_chain(&view, specsim::Rule::Token)
            .unwrap();
        assert_eq!(cpu.tokens, tokens, "{name}");
        assert_eq!(cpu.num_accepted, acc, "{name}");
    }
}

#[test]
fn result_npz_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("result.npz");
    let o = specsim(&[
        "run",
        &data("batches/f32_i32_dir"),
        "--engine",
        "cpu",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let (tokens, acc) = expected("f32_i32_dir");
    let mut npz = common::Npz::open(&out);
    let (shape, t) = npz.i32s("tokens");
    assert_eq!(shape, [48, 5]);
    assert_eq!(t, tokens);
    let a = npz.i32s("num_accepted").1;
    assert_eq!(a, acc.iter().map(|&x| x as i32).collect::<Vec<_>>());
    let g = npz.i32s("num_generated").1;
    assert_eq!(g, acc.iter().map(|&x| x as i32 + 1).collect::<Vec<_>>());
    // The array reader reads what numpy wrote for the same values.
    let arr =
        NpyArray::open(&Path::new(&data("batches/f32_i32_dir")).join("draft_tokens.npy")).unwrap();
    assert_eq!(arr.shape, vec![48, 4]);
}

#[test]
fn malformed_batches_are_refused_clearly() {
    let cases: &[(&str, &[&str])] = &[
        (
            "wrong_shape",
            &[
                "target_probs.npy",
                "shape [6, 2, 11]",
                "[N, K + 1, V] = [6, 3, 11]",
            ],
        ),
        ("wrong_dtype", &["draft_probs.npy", "<f2", "not supported"]),
        ("float_tokens", &["draft_tokens.npy", "token ids"]),
        ("fortran_order", &["draft_probs.npy", "Fortran"]),
        ("big_endian", &["random_coins.npy", ">f4"]),
        (
            "truncated",
            &["target_probs.npy", "truncated", "needs 792 bytes"],
        ),
        ("missing_coins", &["random_coins.npy"]),
        (
            "token_out_of_range",
            &["round 4", "draft_tokens[1] = 11", "0..11"],
        ),
        ("coin_one", &["round 3", "random_coins[0] = 1"]),
        ("nan_prob", &["round 2", "draft_probs[1][5] = NaN"]),
        (
            "not_a_batch.npz",
            &[
                "not_a_batch.npz",
                "not a batch directory nor a readable .npz",
            ],
        ),
        ("does_not_exist", &["does_not_exist"]),
        (
            "lzma.npz",
            &["lzma.npz[draft_probs]", "cannot be read", "np.savez"],
        ),
        (
            "bad_header",
            &["draft_probs.npy", "not a valid .npy file", "expected value"],
        ),
    ];
    for (name, needles) in cases {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.npz");
        for engine in ["cpu", "auto"] {
            let o = specsim(&[
                "run",
                &data(&format!("batches/bad/{name}")),
                "--engine",
                engine,
                "--out",
                out.to_str().unwrap(),
            ]);
            assert_refused(&o, name, needles);
            assert!(!out.exists(), "{name}: a partial output file was left");
            // One line: a parser's multi-line message is folded (it was six lines).
            assert_eq!(
                o.stderr.trim_end().lines().count(),
                1,
                "{name}: {}",
                o.stderr
            );
            // An OS error's message appears once (it was repeated as the error's source).
            if let Some((_, rest)) = o.stderr.split_once("(os error") {
                assert!(!rest.contains("(os error"), "{name}: {}", o.stderr);
            }
        }
    }
}

#[test]
fn an_empty_npy_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "draft_probs",
        "target_probs",
        "draft_tokens",
        "random_coins",
    ] {
        let src = std::path::Path::new(&data("batches/f32_i32_dir")).join(format!("{name}.npy"));
        std::fs::copy(src, dir.path().join(format!("{name}.npy"))).unwrap();
    }
    std::fs::write(dir.path().join("draft_probs.npy"), b"").unwrap();
    let o = specsim(&["run", dir.path().to_str().unwrap(), "--engine", "cpu"]);
    assert_ne!(o.code, 0);
    assert!(o.stdout.is_empty());
    assert!(
        o.stderr.contains("draft_probs.npy: not a valid .npy file"),
        "{}",
        o.stderr
    );
}

#[test]
fn run_prints_summary_json_and_jsonl() {
    let b = data("batches/f64_i64.npz");
    let t = specsim(&["run", &b, "--engine", "cpu"]);
    assert_eq!(t.code, 0, "{}", t.stderr);
    for n in [
        "rounds",
        "40",
        "engine",
        "cpu",
        "mean acceptance rate",
        "mean generated",
        "per-position",
        "wall time",
    ] {
        assert!(t.stdout.contains(n), "table lacks {n:?}:\n{}", t.stdout);
    }
    let j = specsim(&["run", &b, "--engine", "cpu", "--format", "json"]);
    let v: Value = serde_json::from_str(&j.stdout).unwrap();
    assert_eq!(v["rounds"], 40);
    let (tokens, acc) = expected("f64_i64.npz");
    let mean_gen = acc.iter().map(|&a| a as f64 + 1.0).sum::<f64>() / 40.0;
    assert!((v["mean_generated"].as_f64().unwrap() - mean_gen).abs() < 1e-12);
    let l = specsim(&["run", &b, "--engine", "cpu", "--format", "jsonl"]);
    let lines: Vec<Value> = l
        .stdout
        .lines()
        .map(|x| serde_json::from_str(x).unwrap())
        .collect();
    assert_eq!(lines.len(), 40);
    for (r, line) in lines.iter().enumerate() {
        let a = acc[r] as usize;
        let want: Vec<i64> = tokens[r * 4..r * 4 + a + 1]
            .iter()
            .map(|&x| x as i64)
            .collect();
        let got: Vec<i64> = line["accepted_tokens"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_i64().unwrap())
            .collect();
        assert_eq!(got, want, "round {r}");
        assert_eq!(line["num_generated"], a as u64 + 1);
        assert_eq!(
            line["acceptance_rate"].as_f64().unwrap(),
            specsim::round::acceptance_rate(a, 3)
        );
    }
}

#[test]
fn run_on_each_engine_gives_the_same_file() {
    if common::gpu().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for name in FIXTURES {
        let mut files = Vec::new();
        for engine in ["cpu", "gpu"] {
            let out = dir.path().join(format!("{engine}.npz"));
            let o = specsim(&[
                "run",
                &data(&format!("batches/{name}")),
                "--engine",
                engine,
                "--out",
                out.to_str().unwrap(),
            ]);
            assert_eq!(o.code, 0, "{name} {engine}: {}", o.stderr);
            if engine == "gpu" {
                assert!(o.stdout.contains("gpu:"), "{}", o.stdout);
            }
            files.push(std::fs::read(&out).unwrap());
        }
        assert_eq!(files[0], files[1], "{name}");
    }
}

#[test]
fn verify_passes_on_files_and_generated_batches() {
    if common::gpu().is_none() {
        return;
    }
    for name in FIXTURES {
        let o = specsim(&["verify", &data(&format!("batches/{name}"))]);
        assert_eq!(o.code, 0, "{name}: {}{}", o.stdout, o.stderr);
        assert!(
            o.stdout.contains("engine mismatches         0"),
            "{}",
            o.stdout
        );
        assert!(o.stdout.contains("PASS"));
    }
    for (n, k, v, seed) in [
        ("400", "8", "111", "1"),
        ("300", "1", "1", "2"),
        ("200", "32", "64", "3"),
        ("20", "2", "128256", "4"),
    ] {
        let o = specsim(&[
            "verify",
            "--generate",
            n,
            "--k",
            k,
            "--vocab",
            v,
            "--seed",
            seed,
            "--chunk",
            "64",
            "--json",
        ]);
        assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
        let j: Value = serde_json::from_str(&o.stdout).unwrap();
        assert_eq!(j["rounds"].as_u64().unwrap().to_string(), n);
        assert_eq!(j["engine_mismatches"].as_array().unwrap().len(), 0);
    }
}

#[test]
fn verify_save_writes_a_batch_that_run_reads() {
    let dir = tempfile::tempdir().unwrap();
    let save = dir.path().join("adv");
    let o = specsim(&[
        "verify",
        "--generate",
        "50",
        "--k",
        "3",
        "--vocab",
        "40",
        "--cpu-only",
        "--save",
        save.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let file = BatchFile::open(&save).unwrap();
    assert_eq!((file.view().unwrap().n, file.view().unwrap().k), (50, 3));
    let r = specsim(&[
        "run",
        save.to_str().unwrap(),
        "--engine",
        "cpu",
        "--validate",
        "touched",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

/// Inputs that are not regular files are refused before they are opened: a FIFO in place of an
/// `.npy` used to block forever, a directory gave "No such device".
#[test]
fn non_regular_input_files_are_refused_at_once() {
    let src = Path::new(&data("batches/f32_i32_dir")).to_path_buf();
    for (kind, needle) in [("fifo", "FIFO"), ("dir", "is a directory")] {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "draft_probs",
            "target_probs",
            "draft_tokens",
            "random_coins",
        ] {
            let to = dir.path().join(format!("{name}.npy"));
            if name == "target_probs" {
                match kind {
                    "fifo" => {
                        let ok = std::process::Command::new("mkfifo")
                            .arg(&to)
                            .status()
                            .is_ok_and(|s| s.success());
                        if !ok {
                            eprintln!("!!! SKIPPING the FIFO case: mkfifo failed");
                            return;
                        }
                    }
                    _ => std::fs::create_dir(&to).unwrap(),
                }
            } else {
                std::fs::copy(src.join(format!("{name}.npy")), &to).unwrap();
            }
        }
        let mut child = std::process::Command::new(common::BIN)
            .args(["run", "--engine", "cpu"])
            .arg(dir.path())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while child.try_wait().unwrap().is_none() {
            if std::time::Instant::now() > deadline {
                child.kill().unwrap();
                panic!("{kind}: specsim run did not finish within 30 s");
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let o = child.wait_with_output().unwrap();
        let out = common::Out {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        };
        assert_refused(&out, kind, &["target_probs.npy", needle]);
    }
}

/// Writes a batch as an uncompressed (stored) `.npz`, as `np.savez` does.
fn write_stored_npz(path: &Path, b: &specsim::batch::Batch) {
    use npyz::WriterBuilder;
    fn member<T: npyz::AutoSerialize + Copy>(
        zip: &mut zip::ZipWriter<std::io::BufWriter<std::fs::File>>,
        name: &str,
        shape: &[u64],
        data: &[T],
    ) {
        let opts =
            zip::write::FileOptions::default().compression_method(zip::CompressionMethod::Stored);
        zip.start_file(format!("{name}.npy"), opts).unwrap();
        let mut w = npyz::WriteOptions::new()
            .default_dtype()
            .shape(shape)
            .writer(&mut *zip)
            .begin_nd()
            .unwrap();
        w.extend(data.iter().copied()).unwrap();
        w.finish().unwrap();
    }
    let f = std::fs::File::create(path).unwrap();
    let mut zip = zip::ZipWriter::new(std::io::BufWriter::new(f));
    let (n, k, v) = (b.n as u64, b.k as u64, b.v as u64);
    member(&mut zip, "draft_probs", &[n, k, v], &b.draft);
    member(&mut zip, "target_probs", &[n, k + 1, v], &b.target);
    member(&mut zip, "random_coins", &[n, k], &b.coins);
    member(&mut zip, "draft_tokens", &[n, k], &b.tokens);
    zip.finish().unwrap();
}

/// A stored `.npz` member whose bytes do not match its CRC-32 is refused, as numpy refuses it
/// (reliability class 12); the intact archive runs.
#[test]
fn a_stored_npz_member_with_a_bad_crc_is_refused() {
    let b = specsim::compare::adversarial_batch(0, 8, 3, 17, 2);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stored.npz");
    write_stored_npz(&path, &b);
    let o = specsim(&["run", path.to_str().unwrap(), "--engine", "cpu"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    // Flip one byte in the middle of the archive (inside target_probs' data).
    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x40;
    std::fs::write(&path, &bytes).unwrap();
    let o = specsim(&["run", path.to_str().unwrap(), "--engine", "cpu"]);
    assert_refused(&o, "bad CRC", &["stored.npz[", "CRC-32", "corrupt"]);
}

/// A header-only `.npy` (no data) of float32 or int64 with this shape, as numpy writes it.
fn write_header_only(path: &Path, descr: &str, shape: &[u64]) {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let mut header = format!(
        "{{'descr': '{descr}', 'fortran_order': False, 'shape': ({},), }}",
        dims.join(", ")
    );
    while !(10 + header.len() + 1).is_multiple_of(64) {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    std::fs::write(path, bytes).unwrap();
}

/// An empty batch (N = 0) whose headers claim a huge K runs in bounded memory, or is refused
/// when K cannot be a drafted length, never panics or aborts (reliability class 5); its means are
/// undefined and say so (they printed -0.0000).
#[test]
fn an_empty_batch_with_a_huge_k_is_bounded() {
    for (k, ok) in [(3u64, true), (50_000_000, true), (1 << 40, false)] {
        let dir = tempfile::tempdir().unwrap();
        let p = |name: &str| dir.path().join(format!("{name}.npy"));
        write_header_only(&p("draft_probs"), "<f4", &[0, k, 7]);
        write_header_only(&p("target_probs"), "<f4", &[0, k + 1, 7]);
        write_header_only(&p("draft_tokens"), "<i8", &[0, k]);
        write_header_only(&p("random_coins"), "<f4", &[0, k]);
        let o = specsim(&["run", dir.path().to_str().unwrap(), "--engine", "cpu"]);
        if ok {
            assert_eq!(o.code, 0, "K = {k}: {}", o.stderr);
            assert!(o.stdout.contains("rounds                0"), "{}", o.stdout);
            assert!(!o.stdout.contains("-0.0000"), "{}", o.stdout);
            assert!(
                o.stdout.contains("mean acceptance rate  n/a (no rounds)"),
                "{}",
                o.stdout
            );
            assert!(
                o.stdout.contains("mean generated        n/a (no rounds)"),
                "{}",
                o.stdout
            );
        } else {
            assert_refused(&o, "huge K", &["draft_probs.npy", "K < 4294967295"]);
        }
    }
}

/// numpy accepts a header whose dict spans lines (its `literal_eval` does); so does specsim.
#[test]
fn a_header_with_newlines_inside_its_dict_is_read() {
    let mut header = "{'descr': '<f8',\n 'fortran_order': False,\n 'shape': (2,), }".to_string();
    while !(10 + header.len() + 1).is_multiple_of(64) {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(&0.25f64.to_le_bytes());
    bytes.extend_from_slice(&0.75f64.to_le_bytes());
    let a = NpyArray::from_bytes(&bytes, "multiline.npy").unwrap();
    assert_eq!(a.shape, [2]);
    assert_eq!(a.bytes().len(), 16);
}
