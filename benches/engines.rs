//! Criterion benches of the batch engines: the CPU engine (one thread and all threads), the naive
//! all-rows algorithm (every position's residual, as vLLM and FlashInfer compute it), and the GPU
//! engine kernel-only (batch already on the device) and end-to-end (upload, verify, read back).
//!
//! Shapes: N ∈ {256, 4096} × K ∈ {4, 8} × V ∈ {32000, 128256}, skipping any whose batch would
//! exceed `SPECSIM_BENCH_MAX_BYTES` (default 3 GiB; the machine must hold it in RAM). With `CI` set,
//! one tiny shape runs so the benches stay smoke-fast. Two throughputs are reported: rounds
//! (group `rounds`) and the bytes the lazy algorithm must read (group `lazy-bytes`).

use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use specsim::Rule;
use specsim::bench::{all_rows_bytes, lazy_bytes_total, naive_run, timing_batch};
use specsim::cpu::CpuEngine;
use specsim::gpu::GpuContext;

fn shapes() -> Vec<(usize, usize, usize)> {
    if std::env::var_os("CI").is_some() {
        return vec![(64, 4, 1000)];
    }
    let max: u64 = std::env::var("SPECSIM_BENCH_MAX_BYTES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3 << 30);
    let mut out = Vec::new();
    for n in [256, 4096] {
        for k in [4, 8] {
            for v in [32000, 128_256] {
                if all_rows_bytes(n, k, v) <= max {
                    out.push((n, k, v));
                } else {
                    eprintln!(
                        "skipping N={n} K={k} V={v}: {} GiB > SPECSIM_BENCH_MAX_BYTES",
                        all_rows_bytes(n, k, v) >> 30
                    );
                }
            }
        }
    }
    out
}

fn engines(c: &mut Criterion) {
    let mut gpu = match GpuContext::new() {
        Ok(g) => Some(g),
        Err(e) => {
            eprintln!("!!! no GPU adapter ({e}): GPU benches skipped");
            None
        }
    };
    let one = CpuEngine {
        threads: Some(1),
        ..Default::default()
    };
    let all = CpuEngine::default();
    for (n, k, v) in shapes() {
        let batch = timing_batch(n, k, v, 0.5, 1);
        let view = batch.view();
        let reference = all.run_chain(&view, Rule::Token).unwrap();
        let lazy = lazy_bytes_total(&reference, v);
        let id = |name: &str| BenchmarkId::new(name, format!("N{n}-K{k}-V{v}"));

        let mut g = c.benchmark_group("rounds");
        g.sample_size(10)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(2));
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(id("cpu-all-threads"), |b| {
            b.iter(|| all.run_chain(&view, Rule::Token).unwrap())
        });
        g.bench_function(id("cpu-1-thread"), |b| {
            b.iter(|| one.run_chain(&view, Rule::Token).unwrap())
        });
        g.bench_function(id("cpu-naive-all-rows"), |b| b.iter(|| naive_run(&view)));
        if let Some(gpu) = gpu.as_mut() {
            assert_eq!(
                gpu.run_chain(&view, Rule::Token, specsim::cpu::Recovery::default())
                    .unwrap(),
                reference,
                "GPU and CPU disagree"
            );
            g.bench_function(id("gpu-end-to-end"), |b| {
                b.iter(|| {
                    gpu.run_chain(&view, Rule::Token, specsim::cpu::Recovery::default())
                        .unwrap()
                })
            });
        }
        g.finish();

        let mut g = c.benchmark_group("lazy-bytes");
        g.sample_size(10)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(2));
        g.throughput(Throughput::BytesDecimal(lazy));
        g.bench_function(id("cpu-all-threads"), |b| {
            b.iter(|| all.run_chain(&view, Rule::Token).unwrap())
        });
        if let Some(gpu) = gpu.as_mut() {
            // Kernel only: as many rounds as one chunk holds, already on the device.
            let m = gpu.upload_for_bench(&view).unwrap();
            let sub = specsim::batch::Outcomes {
                tokens: Vec::new(),
                num_accepted: reference.num_accepted[..m].to_vec(),
                ..specsim::batch::Outcomes::chain(0, k)
            };
            g.throughput(Throughput::BytesDecimal(lazy_bytes_total(&sub, v)));
            g.bench_function(
                BenchmarkId::new("gpu-kernel", format!("N{m}-K{k}-V{v}")),
                |b| b.iter(|| gpu.run_uploaded_rule(Rule::Token, m, k, v).unwrap()),
            );
        }
        g.finish();
    }
}

criterion_group!(benches, engines);
criterion_main!(benches);
