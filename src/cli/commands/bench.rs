//! `specsim bench`: the engines against the memory floors measured in the same run.

use std::process::ExitCode;

use anyhow::{Result, bail};
use serde_json::json;

use specsim::Rule;
use specsim::batch::{ChainView, Validation};
use specsim::cpu::{CpuEngine, Recovery};
use specsim::gpu::describe;
use specsim::npyio::{BatchFile, write_batch_dir};
use specsim::round::RoundOptions;

use super::{emit, open_gpu};
use crate::cli::args::EngineChoice;

pub fn cmd_bench(quick: bool, as_json: bool, engine: EngineChoice) -> Result<ExitCode> {
    use specsim::bench::*;
    let shapes: &[(usize, usize, usize)] = if quick {
        &[(256, 8, 32000)]
    } else {
        &[(256, 4, 32000), (1024, 8, 32000), (256, 8, 128_256)]
    };
    let reps = if quick { 3 } else { 5 };
    let cpu_dev = cpu_name();
    eprintln!("specsim bench: measuring the CPU streaming-read floor...");
    let cpu_floor = cpu_read_floor(beyond_cache_bytes(), reps);
    let mut flusher = CacheFlusher::new();
    let mut gpu = if engine == EngineChoice::Cpu {
        None
    } else {
        open_gpu(engine, true)?
    };
    let gpu_floor = match &gpu {
        Some(g) => {
            eprintln!("specsim bench: measuring the GPU buffer-copy floor...");
            Some(g.copy_bandwidth(beyond_cache_bytes() as u64, if quick { 4 } else { 10 })?)
        }
        None => None,
    };
    let mut rows = Vec::new();
    let mut mmap_note = None;
    for &(n, k, v) in shapes {
        eprintln!("specsim bench: N = {n}, K = {k}, V = {v}");
        let batch = timing_batch(n, k, v, 0.5, 1);
        let view = batch.view();
        for rule in Rule::CHAIN {
            let reference = CpuEngine::default().run_chain(&view, rule)?;
            let (lazy, rows_read) = lazy_totals(&reference, v, rule);
            let first_row = rows.len();
            let run_cpu = |threads: Option<usize>| {
                let cpu = CpuEngine {
                    threads,
                    ..Default::default()
                };
                cpu.run_chain(&view, rule).map(|_| ())
            };
            if engine != EngineChoice::Gpu {
                rows.push(measure(
                    "cpu",
                    &cpu_dev,
                    &view,
                    lazy,
                    cpu_floor,
                    reps,
                    &mut flusher,
                    || run_cpu(None),
                )?);
            }
            // The one-thread and all-rows baselines, for the token rule.
            if engine != EngineChoice::Gpu && rule == Rule::Token {
                rows.push(measure(
                    "cpu-1thread",
                    &cpu_dev,
                    &view,
                    lazy,
                    cpu_floor,
                    reps.min(2),
                    &mut flusher,
                    || run_cpu(Some(1)),
                )?);
                let naive = naive_run(&view);
                if naive != reference {
                    bail!("the naive all-rows algorithm disagrees with the lazy engine (a bug)");
                }
                rows.push(measure(
                    "cpu-naive-all-rows",
                    &cpu_dev,
                    &view,
                    lazy,
                    cpu_floor,
                    reps.min(2),
                    &mut flusher,
                    || {
                        std::hint::black_box(naive_run(&view));
                        Ok(())
                    },
                )?);
            }
            if let (Some(g), Some(floor)) = (gpu.as_mut(), gpu_floor) {
                let dev = describe(g.adapter_info());
                let rec = Recovery::default();
                if g.run_chain(&view, rule, rec)? != reference {
                    bail!(
                        "GPU and CPU engines disagree under --rule {rule} on the benchmark batch (run `specsim verify --rule {rule}`)"
                    );
                }
                rows.push(measure(
                    "gpu-end-to-end",
                    &dev,
                    &view,
                    lazy,
                    floor,
                    reps,
                    &mut flusher,
                    || g.run_chain(&view, rule, rec).map(|_| ()),
                )?);
                let m = g.upload_for_bench(&view)?;
                let sub = specsim::batch::Outcomes {
                    tokens: Vec::new(),
                    num_accepted: reference.num_accepted[..m].to_vec(),
                    ..specsim::batch::Outcomes::chain(0, k)
                };
                let sub_view = ChainView { n: m, ..view };
                let (lazy_m, _) = lazy_totals(&sub, v, rule);
                rows.push(measure(
                    "gpu-kernel",
                    &dev,
                    &sub_view,
                    lazy_m,
                    floor,
                    reps,
                    &mut flusher,
                    || g.run_uploaded_rule(rule, m, k, v),
                )?);
            }
            for r in &mut rows[first_row..] {
                r.rule = rule;
                r.rows_per_round = rows_read as f64 / n as f64;
            }
        }
        if mmap_note.is_none() && engine != EngineChoice::Gpu {
            mmap_note = Some(mmap_touch(&batch)?);
        }
    }
    let tree_rows = bench_trees(
        quick,
        engine,
        &cpu_dev,
        cpu_floor,
        gpu.as_mut(),
        gpu_floor,
        reps,
        &mut flusher,
    )?;
    rows.extend(tree_rows);
    let mut paths = if engine == EngineChoice::Gpu {
        Vec::new()
    } else {
        super::bench_paths::bench_paths(quick, cpu_floor, reps.min(3))?
    };
    if let Some(g) = gpu.as_mut() {
        paths.extend(super::bench_paths::gpu_tree_study_rows(
            quick,
            reps.min(3),
            g,
        )?);
    }
    let optimal = if engine == EngineChoice::Gpu {
        Vec::new()
    } else {
        bench_optimal(quick, reps.min(3))?
    };
    if as_json {
        emit(&format!(
            "{}\n",
            serde_json::to_string_pretty(&json!({
                "cpu_floor_gb_s": cpu_floor / 1e9,
                "gpu_floor_gb_s": gpu_floor.map(|f| f / 1e9),
                "rows": rows,
                "mmap": mmap_note,
                "paths": paths,
                "optimal": optimal,
            }))?
        ))?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut s = String::new();
    s += &format!(
        "CPU streaming-read floor: {:.2} GB/s ({cpu_dev})\n",
        cpu_floor / 1e9
    );
    if let (Some(f), Some(g)) = (gpu_floor, &gpu) {
        s += &format!(
            "GPU buffer-copy floor:    {:.2} GB/s read ({})\n",
            f / 1e9,
            describe(g.adapter_info())
        );
    }
    s += &format!(
        "\n{:<20} {:<5} {:>6} {:>3} {:>7} {:>12} {:>8} {:>12} {:>9} {:>10} {:>7}  device\n",
        "engine",
        "rule",
        "N",
        "K",
        "V",
        "rounds/s",
        "rows/rnd",
        "lazy B/rnd",
        "lazy GB/s",
        "all-rows",
        "floor"
    );
    for r in rows.iter().filter(|r| r.tree.is_none()) {
        s += &format!(
            "{:<20} {:<5} {:>6} {:>3} {:>7} {:>12.0} {:>8.2} {:>12.0} {:>9.2} {:>10.2} {:>7.2}  {}\n",
            r.engine,
            r.rule,
            r.n,
            r.k,
            r.v,
            r.rounds_per_s,
            r.rows_per_round,
            r.lazy_bytes_per_round,
            r.lazy_gb_s,
            r.all_rows_gb_s,
            r.floor_ratio,
            r.device
        );
    }
    s += "\nlazy GB/s: bytes the lazy algorithm must read / time; all-rows: FlashInfer's convention\n(N·K·V·4 + N·(K+1)·V·4) / time; floor: lazy GB/s / the floor measured above.\n";
    s += &format!(
        "\ntree rules (SPEC §7)\n{:<20} {:<11} {:<22} {:>5} {:>5} {:>7} {:>12} {:>8} {:>9} {:>10} {:>7}  device\n",
        "engine",
        "rule",
        "tree",
        "nodes",
        "N",
        "V",
        "rounds/s",
        "rows/rnd",
        "lazy GB/s",
        "all-rows",
        "floor"
    );
    for r in rows.iter().filter(|r| r.tree.is_some()) {
        s += &format!(
            "{:<20} {:<11} {:<22} {:>5} {:>5} {:>7} {:>12.0} {:>8.2} {:>9.2} {:>10.2} {:>7.2}  {}\n",
            r.engine,
            r.rule.name(),
            r.tree.as_deref().unwrap_or(""),
            r.k,
            r.n,
            r.v,
            r.rounds_per_s,
            r.rows_per_round,
            r.lazy_gb_s,
            r.all_rows_gb_s,
            r.floor_ratio,
            r.device
        );
    }
    s += "tree all-rows: every row of every node (N·2·nodes·V·4) / time; rows/rnd: distinct rows of V the rule reads.\n";
    if let Some(m) = &mmap_note {
        s += &format!("{}\n", m["summary"].as_str().unwrap_or(""));
    }
    if !paths.is_empty() {
        s += &super::bench_paths::paths_table(&paths);
    }
    if !optimal.is_empty() {
        s += "\noptimal bound alpha* (SPEC §8) at one node (Zipf-like rows), CPU\n";
        for o in &optimal {
            s += &format!(
                "  {:<4} n = {:<2} V = {:<7} {:>10.2} ms\n",
                o["mode"].as_str().unwrap_or(""),
                o["drafts"],
                o["vocab"],
                o["seconds"].as_f64().unwrap_or(f64::NAN) * 1e3
            );
        }
    }
    emit(&s)?;
    Ok(ExitCode::SUCCESS)
}

/// Writes `batch` as .npy files, runs it memory-mapped on the CPU engine with `touched`
/// validation, and reports how much of the files the process touched (page faults × page size).
fn mmap_touch(batch: &specsim::batch::Batch) -> Result<serde_json::Value> {
    let dir = tempfile::tempdir()?;
    write_batch_dir(dir.path(), batch)?;
    let file_bytes: u64 = std::fs::read_dir(dir.path())?
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum();
    let file = BatchFile::open(dir.path())?;
    let view = file.view()?;
    let (min0, maj0) = specsim::bench::page_faults();
    let raw = RoundOptions {
        allow_unnormalized: true, // timing batches are not normalised
        ..RoundOptions::default()
    };
    view.validate(&raw, Validation::Touched)?;
    let res = CpuEngine::default().run_chain(&view, Rule::Token)?;
    let (min1, maj1) = specsim::bench::page_faults();
    std::hint::black_box(res);
    let touched = (min1 - min0 + maj1 - maj0) * 4096;
    Ok(json!({
        "file_bytes": file_bytes,
        "touched_bytes": touched,
        "fraction": touched as f64 / file_bytes as f64,
        "summary": format!(
            "mmap: `run --validate touched` on the {} MiB of .npy files of the first shape faulted in {:.1} MiB ({:.1}%): only the rows it needs.",
            file_bytes >> 20,
            touched as f64 / 1048576.0,
            100.0 * touched as f64 / file_bytes as f64
        ),
    }))
}

/// Tree rows: every tree rule on `kary:2,4` and EAGLE's 64-node `mc_sim_7b_63`, at V = 32000
/// (and 128256 unless quick), and the rules that verify top-m children on `eagle2:10,8,60`
/// (trees grown per round from logit-noise rows, σ = 0.5, zipf 1), on the CPU engine and the
/// GPU end to end.
#[allow(clippy::too_many_arguments)]
fn bench_trees(
    quick: bool,
    engine: EngineChoice,
    cpu_dev: &str,
    cpu_floor: f64,
    mut gpu: Option<&mut specsim::gpu::GpuContext>,
    gpu_floor: Option<f64>,
    reps: usize,
    flusher: &mut specsim::bench::CacheFlusher,
) -> Result<Vec<specsim::bench::BenchRow>> {
    use specsim::bench::{measure_shape, tree_rows_read, tree_timing_batch};
    use specsim::engine::Engine;
    use specsim::topology::shape::{Build, TreeShape};
    use specsim::workload::{Family, Workload};
    let shapes: &[(&str, usize, usize)] = if quick {
        &[("kary:2,4", 32, 32000)]
    } else {
        &[
            ("kary:2,4", 128, 32000),
            ("eagle:mc_sim_7b_63", 64, 32000),
            ("kary:2,4", 32, 128_256),
            ("eagle:mc_sim_7b_63", 16, 128_256),
            ("eagle2:10,8,60", 64, 32000),
        ]
    };
    let mut rows = Vec::new();
    for &(spec, n, v) in shapes {
        let shape: TreeShape = spec.parse()?;
        let nodes = shape.nodes();
        eprintln!("specsim bench: tree {spec} ({nodes} nodes), N = {n}, V = {v}");
        let batch = match shape.build {
            Build::Eagle2(e) => {
                let w = Workload {
                    family: Family::LogitNoise { sigma: 0.5 },
                    vocab: v,
                    t_target: 1.0,
                    t_draft: 1.0,
                    zipf: 1.0,
                    spread: None,
                };
                specsim::study::tree::eagle2::grow_chunk(&w, 3, e, 0, n)?
            }
            _ => tree_timing_batch(&shape.tree, n, v, 0.5, 3),
        };
        let view = batch.view()?;
        let all = (n * 2 * nodes * v * 4) as u64;
        let grown = matches!(shape.build, Build::Eagle2(_));
        let rules = Rule::default_tree()
            .into_iter()
            .filter(|r| !grown || r.verifies_top_m());
        for rule in rules {
            let rec = specsim::cpu::Recovery::default();
            let reference = Engine::run(&mut CpuEngine::default(), &view, rule, rec)?;
            let mut scratch = specsim::topology::Tree::default();
            let read: usize = (0..n)
                .map(|r| {
                    let a = reference.num_accepted[r] as usize;
                    tree_rows_read(
                        view.tree(r, &mut scratch),
                        rule,
                        &reference.nodes.as_deref().unwrap_or_default()
                            [r * view.topology.depth()..],
                        a,
                    )
                })
                .sum();
            let lazy = (read * v * 4) as u64;
            let mut out = Vec::new();
            if engine != EngineChoice::Gpu {
                out.push(measure_shape(
                    "cpu",
                    cpu_dev,
                    (n, nodes, v),
                    all,
                    lazy,
                    cpu_floor,
                    reps,
                    flusher,
                    || Engine::run(&mut CpuEngine::default(), &view, rule, rec).map(|_| ()),
                )?);
            }
            if let (Some(g), Some(floor)) = (gpu.as_deref_mut(), gpu_floor) {
                if g.run(&view, rule, rec)? != reference {
                    bail!(
                        "GPU and CPU tree engines disagree on the benchmark batch ({rule}, {spec}): run `specsim verify`"
                    );
                }
                let dev = describe(g.adapter_info());
                out.push(measure_shape(
                    "gpu-end-to-end",
                    &dev,
                    (n, nodes, v),
                    all,
                    lazy,
                    floor,
                    reps,
                    flusher,
                    || g.run(&view, rule, rec).map(|_| ()),
                )?);
            }
            for mut r in out {
                r.rule = rule;
                r.tree = Some(shape.label());
                r.rows_per_round = read as f64 / n as f64;
                rows.push(r);
            }
        }
    }
    Ok(rows)
}

/// alpha* at one node: `iid` by one sort and prefix sums, `wor` by the exponential-clock
/// integral over every prefix (V = 10^5 unless quick, n = 8); the median of `reps` runs.
fn bench_optimal(quick: bool, reps: usize) -> Result<Vec<serde_json::Value>> {
    use rand::{Rng, SeedableRng};
    use specsim::reference::optimal::{DraftMode, alpha_star};
    let v = if quick { 32_000 } else { 100_000 };
    eprintln!("specsim bench: optimal bound, V = {v}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(5);
    let mut row = |noise: f64| -> Vec<f64> {
        let x: Vec<f64> = (0..v)
            .map(|i| {
                let g: f64 = rng.random::<f64>().max(1e-300);
                (-2.0 * ((1 + i) as f64).ln() + noise * (-g.ln()).ln()).exp()
            })
            .collect();
        let s: f64 = x.iter().sum();
        x.into_iter().map(|y| y / s).collect()
    };
    let (p, q) = (row(1.0), row(1.5));
    let mut out = Vec::new();
    for mode in [DraftMode::Iid, DraftMode::Wor] {
        let mut times = Vec::new();
        for _ in 0..reps.max(1) {
            let t0 = std::time::Instant::now();
            std::hint::black_box(alpha_star(&p, &q, 8, mode)?);
            times.push(t0.elapsed().as_secs_f64());
        }
        times.sort_by(f64::total_cmp);
        out.push(json!({
            "mode": mode.name(),
            "drafts": 8,
            "vocab": v,
            "seconds": times[times.len() / 2],
        }));
    }
    Ok(out)
}
