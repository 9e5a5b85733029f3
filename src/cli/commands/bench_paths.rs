//! `specsim bench`'s product-path rows: what a user runs, timed as a user sees it. `run` is this
//! binary started as a subprocess on memory-mapped `.npy` files in the page cache, once per
//! validation mode (whole process: start, open, validate, verify, exit); the CPU study generator
//! is timed in process (rounds/s and rows/s) and as a whole `study` command.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Result, bail};
use serde::Serialize;

use specsim::npyio::write_batch_dir;
use specsim::study::{Family, Workload};

/// One product path.
#[derive(Clone, Debug, Serialize)]
pub struct PathRow {
    /// What ran.
    pub path: String,
    /// `whole process` or `in process`.
    pub timed: &'static str,
    /// Rounds, (K, V).
    pub rounds: u64,
    /// Drafted tokens per round.
    pub k: usize,
    /// Vocabulary.
    pub v: usize,
    /// Best wall time of the repetitions.
    pub seconds: f64,
    /// Rounds per second.
    pub rounds_per_s: f64,
    /// Rows of V generated per second (study generation).
    pub rows_per_s: Option<f64>,
    /// The batch files' bytes per second (runs on files).
    pub file_gb_s: Option<f64>,
    /// `file_gb_s` over the CPU streaming-read floor (full validation reads every byte).
    pub floor: Option<f64>,
}

fn workload(v: usize) -> Workload {
    Workload {
        family: Family::LogitNoise { sigma: 0.5 },
        vocab: v,
        t_target: 1.0,
        t_draft: 1.0,
        zipf: 0.0,
        spread: None,
    }
}

/// The best wall time of `reps` runs of `work` in this process (its result kept from the
/// optimiser by `black_box`).
fn best_in_process<T>(reps: usize, mut work: impl FnMut() -> Result<T>) -> Result<f64> {
    let mut best = f64::INFINITY;
    for _ in 0..reps.max(1) {
        let t = Instant::now();
        std::hint::black_box(work()?);
        best = best.min(t.elapsed().as_secs_f64());
    }
    Ok(best)
}

/// The best wall time of `reps` runs of this binary with `args` (each must succeed).
fn best_of(reps: usize, args: &[&str]) -> Result<f64> {
    let exe = std::env::current_exe()?;
    let mut best = f64::INFINITY;
    for _ in 0..reps.max(1) {
        let t = Instant::now();
        let out = Command::new(&exe)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()?;
        let secs = t.elapsed().as_secs_f64();
        if !out.status.success() {
            bail!(
                "bench: `specsim {}` failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        best = best.min(secs);
    }
    Ok(best)
}

/// Reads every file of `dir` once, so the timed runs find them in the page cache.
fn warm(dir: &Path) -> Result<u64> {
    let mut bytes = 0;
    for e in std::fs::read_dir(dir)? {
        let data = std::fs::read(e?.path())?;
        bytes += data.len() as u64;
        std::hint::black_box(&data);
    }
    Ok(bytes)
}

/// The product-path rows: `run` with each validation mode on a normalised batch of logit-noise
/// rounds written as `.npy` files, and the CPU study generator.
pub fn bench_paths(quick: bool, cpu_floor: f64, reps: usize) -> Result<Vec<PathRow>> {
    let mut rows = Vec::new();
    let (n, k, v) = if quick {
        (128, 8, 32000)
    } else {
        (512, 8, 32000)
    };
    eprintln!("specsim bench: whole-process run on .npy files, N = {n}, K = {k}, V = {v}");
    let dir = tempfile::tempdir()?;
    {
        let (batch, _) = specsim::cpu::generate::generate_chunk(&workload(v), 1, 0, n, k);
        write_batch_dir(dir.path(), &batch)?;
    }
    let file_bytes = warm(dir.path())?;
    let path = dir.path().to_str().unwrap_or_default();
    for mode in ["touched", "full"] {
        let args = ["run", path, "--engine", "cpu", "--validate", mode];
        let secs = best_of(reps, &args)?;
        let gb_s = file_bytes as f64 / secs / 1e9;
        rows.push(PathRow {
            path: format!("run --validate {mode}"),
            timed: "whole process",
            rounds: n as u64,
            k,
            v,
            seconds: secs,
            rounds_per_s: n as f64 / secs,
            rows_per_s: None,
            file_gb_s: Some(gb_s),
            floor: (mode == "full").then_some(gb_s * 1e9 / cpu_floor),
        });
    }
    let (rounds, k, v) = if quick {
        (2000, 8, 2048)
    } else {
        (10_000, 8, 2048)
    };
    eprintln!("specsim bench: CPU study generation, logit-noise sigma 0.5, K = {k}, V = {v}");
    let w = workload(v);
    let best = best_in_process(reps, || {
        Ok(specsim::cpu::generate::accepted_chunk(
            &w, 7, 0, rounds, k, false,
        ))
    })?;
    let per_round_rows = (2 * k + 1) as f64;
    rows.push(PathRow {
        path: "study generation (token rule, cpu)".into(),
        timed: "in process",
        rounds: rounds as u64,
        k,
        v,
        seconds: best,
        rounds_per_s: rounds as f64 / best,
        rows_per_s: Some(rounds as f64 * per_round_rows / best),
        file_gb_s: None,
        floor: None,
    });
    rows.extend(tree_study_rows(quick, reps)?);
    let out = tempfile::tempdir()?;
    let r = rounds.to_string();
    let args = [
        "study",
        "--family",
        "logit-noise",
        "--sigma",
        "0.5",
        "--vocab",
        "2048",
        "--k",
        "8",
        "--rounds",
        &r,
        "--engine",
        "cpu",
        "--quiet",
        "--out",
        out.path().to_str().unwrap_or_default(),
    ];
    let secs = best_of(reps, &args)?;
    rows.push(PathRow {
        path: "study (one configuration, cpu)".into(),
        timed: "whole process",
        rounds: rounds as u64,
        k,
        v,
        seconds: secs,
        rounds_per_s: rounds as f64 / secs,
        rows_per_s: Some(rounds as f64 * per_round_rows / secs),
        file_gb_s: None,
        floor: None,
    });
    Ok(rows)
}

/// Tree studies in process on the CPU engine (`target-only`, logit-noise σ = 0.5, V = 2048):
/// `kary:2,4`, `mc_sim_7b_63` and `eagle2:10,8,60` (only the first when quick), each beside the
/// token rule's study generation at the same positions verified per round (K = nodes − 1).
/// Rows/s counts the rows of V generated (2 per node; 2K + 1 for the token rule).
fn tree_study_rows(quick: bool, reps: usize) -> Result<Vec<PathRow>> {
    let shapes: &[(&str, u64)] = if quick {
        &[("kary:2,4", 500)]
    } else {
        &[
            ("kary:2,4", 4000),
            ("eagle:mc_sim_7b_63", 2000),
            ("eagle2:10,8,60", 2000),
        ]
    };
    let mut rows = Vec::new();
    for &(spec, rounds) in shapes {
        let mut cpu = specsim::cpu::CpuEngine::default();
        let (tree_row, k) = tree_study_row(spec, rounds, reps, &mut cpu, "cpu")?;
        rows.push(tree_row);
        let w = workload(TREE_STUDY_V);
        let best = best_in_process(reps, || {
            Ok(specsim::cpu::generate::accepted_chunk(
                &w,
                7,
                0,
                rounds as usize,
                k,
                false,
            ))
        })?;
        rows.push(token_study_row("generation", rounds, k, best));
    }
    Ok(rows)
}

/// Tree studies in process on the GPU engine (as [`tree_study_rows`]; a static tree's rows
/// generated on the device, `eagle2`'s grown on the host), each beside the GPU token study at the
/// same positions verified per round (K = nodes − 1, generated and decided on the device): the
/// shapes of [`tree_study_rows`] on a hardware adapter (more rounds); on a software one
/// (lavapipe) only `kary:2,4` over a few rounds, so the path is exercised but not measured.
pub fn gpu_tree_study_rows(
    quick: bool,
    reps: usize,
    g: &mut specsim::gpu::GpuContext,
) -> Result<Vec<PathRow>> {
    use specsim::engine::{Engine, StudyRequest};
    let shapes: &[(&str, u64)] = if g.is_software() {
        &[("kary:2,4", 16)]
    } else if quick {
        &[("kary:2,4", 2000)]
    } else {
        &[
            ("kary:2,4", 20_000),
            ("eagle:mc_sim_7b_63", 10_000),
            ("eagle2:10,8,60", 2000),
        ]
    };
    let mut rows = Vec::new();
    for &(spec, rounds) in shapes {
        let (tree_row, k) = tree_study_row(spec, rounds, reps, &mut *g, "gpu")?;
        rows.push(tree_row);
        let w = workload(TREE_STUDY_V);
        let cap = g.study_cap(k, TREE_STUDY_V)?;
        let best = best_in_process(reps, || {
            let mut accepted = 0u64;
            for (r0, m) in specsim::chunk::chunks(rounds, cap) {
                let req = StudyRequest {
                    generation: specsim::workload::Generation {
                        workload: &w,
                        seed: 7,
                        recovery: Default::default(),
                    },
                    r0,
                    m,
                    k_max: k,
                    per_k: &[],
                    keep_rows: false,
                    stop_features: false,
                };
                let chunk = Engine::study_chunk(&mut *g, &req)?;
                accepted += chunk.accepted.iter().map(|&a| u64::from(a)).sum::<u64>();
            }
            Ok(accepted)
        })?;
        rows.push(token_study_row("on the gpu", rounds, k, best));
    }
    Ok(rows)
}

/// The vocabulary of the tree-study product paths.
const TREE_STUDY_V: usize = 2048;

/// One tree study (`target-only`, [`workload`] at [`TREE_STUDY_V`], seed 7) timed in process on
/// `engine` (named `name`): its row, and the K of the token study at the same positions verified
/// (nodes − 1).
fn tree_study_row(
    spec: &str,
    rounds: u64,
    reps: usize,
    engine: &mut dyn specsim::engine::Engine,
    name: &str,
) -> Result<(PathRow, usize)> {
    use specsim::study::tree::{TreeStudyConfig, run_tree_studies};
    let v = TREE_STUDY_V;
    let tree: specsim::topology::shape::TreeShape = spec.parse()?;
    let nodes = tree.nodes();
    eprintln!(
        "specsim bench: tree study, {spec}, target-only, V = {v} ({})",
        engine.describe()
    );
    let cfg = TreeStudyConfig {
        workload: workload(v),
        tree,
        rules: vec![specsim::Rule::TargetOnly],
        rounds,
        seed: 7,
        recovery: Default::default(),
        allow_unnormalized: false,
        design: None,
    };
    let best = best_in_process(reps, || {
        Ok(run_tree_studies(
            std::slice::from_ref(&cfg),
            &mut *engine,
            &mut |_, _| {},
        )?)
    })?;
    let row = PathRow {
        path: format!("tree study {spec} (target-only, {name})"),
        timed: "in process",
        rounds,
        k: nodes,
        v,
        seconds: best,
        rounds_per_s: rounds as f64 / best,
        rows_per_s: Some(rounds as f64 * (2 * nodes) as f64 / best),
        file_gb_s: None,
        floor: None,
    };
    Ok((row, nodes - 1))
}

/// The token study's row beside a tree study's (`  token study WHAT, K = k`): `best` seconds for
/// `rounds` rounds at K = k, V = [`TREE_STUDY_V`] (2K + 1 rows a round).
fn token_study_row(what: &str, rounds: u64, k: usize, best: f64) -> PathRow {
    PathRow {
        path: format!("  token study {what}, K = {k}"),
        timed: "in process",
        rounds,
        k,
        v: TREE_STUDY_V,
        seconds: best,
        rounds_per_s: rounds as f64 / best,
        rows_per_s: Some(rounds as f64 * (2 * k + 1) as f64 / best),
        file_gb_s: None,
        floor: None,
    }
}

/// The rows as a table.
pub fn paths_table(rows: &[PathRow]) -> String {
    let mut s = format!(
        "\nproduct paths\n{:<46} {:<14} {:>6} {:>3} {:>6} {:>9} {:>11} {:>12} {:>9} {:>6}\n",
        "path", "timed", "rounds", "K", "V", "seconds", "rounds/s", "rows/s", "file GB/s", "floor"
    );
    let opt = |x: Option<f64>, w: usize, p: usize| {
        x.map_or_else(|| format!("{:>w$}", "-"), |x| format!("{x:>w$.p$}"))
    };
    for r in rows {
        s += &format!(
            "{:<46} {:<14} {:>6} {:>3} {:>6} {:>9.3} {:>11.0} {} {} {}\n",
            r.path,
            r.timed,
            r.rounds,
            r.k,
            r.v,
            r.seconds,
            r.rounds_per_s,
            opt(r.rows_per_s, 12, 0),
            opt(r.file_gb_s, 9, 2),
            opt(r.floor, 6, 2),
        );
    }
    s += "whole process: this binary as a subprocess (files in the page cache); file GB/s: the batch files' bytes / time;\nfloor: that over the CPU streaming-read floor (full validation reads every byte);\ntree study rows: K = the tree's nodes, beside the token rule's generation at the same positions verified per round.\n";
    s
}
