//! Times a CPU tree study (`target-only`, logit-noise σ = 0.5, V = 2048, 2000 rounds) on its two
//! paths, the round-by-round one (`Engine::as_cpu`) and the chunked one (the GPU engine's where its
//! adapter cannot generate rows of V, and `eagle2`'s on the GPU),
//! beside the token study's generation at the same positions (K = nodes − 1); best of 3:
//! `cargo run --release --example tree_study_paths -- eagle2:10,8,60 kary:2,4`.
use specsim::engine::Engine;
use specsim::study::tree::{TreeStudyConfig, run_tree_studies};
use specsim::workload::{Family, Workload};

/// The CPU engine behind the chunked path (no `as_cpu`).
struct Chunked(specsim::cpu::CpuEngine);

impl Engine for Chunked {
    fn describe(&self) -> String {
        self.0.describe()
    }
    fn run(
        &mut self,
        rounds: &specsim::batch::Rounds,
        rule: specsim::Rule,
        rec: specsim::cpu::Recovery,
    ) -> specsim::Result<specsim::batch::Outcomes> {
        Engine::run(&mut self.0, rounds, rule, rec)
    }
    fn study_cap(&mut self, k: usize, v: usize) -> specsim::Result<usize> {
        self.0.study_cap(k, v)
    }
    fn study_chunk(
        &mut self,
        req: &specsim::workload::StudyRequest,
    ) -> specsim::Result<specsim::workload::StudyChunk> {
        self.0.study_chunk(req)
    }
}

/// The best of three wall times of `f`, in seconds.
fn best(mut f: impl FnMut()) -> f64 {
    (0..3)
        .map(|_| {
            let t = std::time::Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .fold(f64::MAX, f64::min)
}

fn main() {
    let v = 2048;
    let rounds = 2000u64;
    let w = Workload {
        family: Family::LogitNoise { sigma: 0.5 },
        vocab: v,
        t_target: 1.0,
        t_draft: 1.0,
        zipf: 0.0,
        spread: None,
    };
    println!("tree study (target-only, V = {v}, {rounds} rounds): rounds/s");
    println!("tree, round by round, chunked, token study at K = nodes - 1, ratio");
    for spec in std::env::args().skip(1) {
        let tree: specsim::topology::shape::TreeShape = spec.parse().expect("a --tree spec");
        let nodes = tree.nodes();
        let cfg = TreeStudyConfig {
            workload: w.clone(),
            tree,
            rules: vec![specsim::Rule::TargetOnly],
            rounds,
            seed: 7,
            recovery: Default::default(),
            allow_unnormalized: false,
            design: None,
        };
        let cfgs = std::slice::from_ref(&cfg);
        let fused = best(|| {
            let mut cpu = specsim::cpu::CpuEngine::default();
            std::hint::black_box(run_tree_studies(cfgs, &mut cpu, &mut |_, _| {}).unwrap());
        });
        let chunked = best(|| {
            let mut e = Chunked(specsim::cpu::CpuEngine::default());
            std::hint::black_box(run_tree_studies(cfgs, &mut e, &mut |_, _| {}).unwrap());
        });
        let token = best(|| {
            std::hint::black_box(specsim::cpu::generate::accepted_chunk(
                &w,
                7,
                0,
                rounds as usize,
                nodes - 1,
                false,
            ));
        });
        let rate = |s: f64| rounds as f64 / s;
        println!(
            "{spec}: {:.0}, {:.0}, {:.0}, {:.2}",
            rate(fused),
            rate(chunked),
            rate(token),
            fused / token
        );
    }
}
