//! Runs the CPU engine repeatedly on a timing batch (for profilers such as perf or callgrind):
//! `cargo run --release --example profile_cpu -- [N] [K] [V] [REPS]`.
use specsim::bench::timing_batch;
use specsim::cpu::CpuEngine;

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("numbers: N K V REPS"))
        .collect();
    let get = |i: usize, d: usize| args.get(i).copied().unwrap_or(d);
    let (n, k, v, reps) = (get(0, 256), get(1, 8), get(2, 32000), get(3, 50));
    let b = timing_batch(n, k, v, 0.5, 1);
    let engine = CpuEngine {
        threads: Some(1),
        ..Default::default()
    };
    let t = std::time::Instant::now();
    for _ in 0..reps {
        std::hint::black_box(
            engine
                .run_chain(&b.view(), specsim::Rule::Token)
                .expect("run"),
        );
    }
    let s = t.elapsed().as_secs_f64();
    println!("{} rounds/s on one thread", (n * reps) as f64 / s);
}
