//! Runs the CPU engine's tree walk repeatedly on one thread on a tree timing batch (for profilers
//! such as perf, and for before/after figures of the tree rules):
//! `cargo run --release --example profile_tree -- [RULE] [TREE] [N] [V] [REPS]`.
use specsim::engine::Engine;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize, d: &str| args.get(i).cloned().unwrap_or_else(|| d.to_owned());
    let rule: specsim::Rule = arg(0, "rrs").parse().expect("a tree rule");
    let shape: specsim::topology::shape::TreeShape = arg(1, "kary:2,4").parse().expect("a tree");
    let num = |i: usize, d: &str| -> usize { arg(i, d).parse().expect("a number") };
    let (n, v, reps) = (num(2, "128"), num(3, "32000"), num(4, "100"));
    let b = specsim::bench::tree_timing_batch(&shape.tree, n, v, 0.5, 3);
    let view = b.view().expect("a tree batch");
    let mut engine = specsim::cpu::CpuEngine {
        threads: Some(1),
        ..Default::default()
    };
    let t = std::time::Instant::now();
    for _ in 0..reps {
        std::hint::black_box(
            Engine::run(&mut engine, &view, rule, specsim::cpu::Recovery::default()).expect("run"),
        );
    }
    let s = t.elapsed().as_secs_f64();
    println!(
        "{rule} on {}: {} rounds/s on one thread",
        arg(1, "kary:2,4"),
        (n * reps) as f64 / s
    );
}
