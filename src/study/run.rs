//! Running a list of study configurations on one engine, with every rule each asks for.

use std::time::Instant;

use super::report::ConfigResult;
use super::{Family, StudyConfig, StudyEngine, run_study_rules};
use crate::error::Result;
use crate::gpu::GpuContext;
use crate::npyio::BatchFile;
use crate::rule::Rule;

/// What a running study reports as it goes.
pub enum Progress<'a> {
    /// A configuration starts (its label).
    Config(&'a str),
    /// This many more rounds are done.
    Rounds(u64),
}

/// Runs every configuration on the GPU given, or on the CPU engine when `None`; one result per
/// (configuration, rule), in order, each rule on the same rounds.
pub fn run_configs(
    cfgs: Vec<StudyConfig>,
    mut gpu: Option<&mut GpuContext>,
    progress: &mut dyn FnMut(Progress),
) -> Result<Vec<ConfigResult>> {
    let engine_name = match &gpu {
        Some(g) => format!("gpu: {}", crate::gpu::describe(g.adapter_info())),
        None => "cpu".to_string(),
    };
    let mut results = Vec::new();
    for cfg in cfgs {
        let t = Instant::now();
        let mut engine = match gpu.as_deref_mut() {
            Some(g) => StudyEngine::Gpu(g),
            None => StudyEngine::Cpu,
        };
        let mut r = ConfigResult {
            config: cfg,
            engine: engine_name.clone(),
            rule: Rule::Token,
            tally: Default::default(),
            per_k: None,
            seconds: 0.0,
        };
        progress(Progress::Config(&r.label()));
        let mut tallies =
            run_study_rules(&r.config, &mut engine, |n| progress(Progress::Rounds(n)))?;
        r.tally = std::mem::take(&mut tallies.token);
        r.seconds = t.elapsed().as_secs_f64();
        if let Family::File { path } = &r.config.workload.family {
            let file = BatchFile::open(std::path::Path::new(path))?;
            r.config.workload.vocab = file.view()?.v;
            r.config.rounds = r.tally.rounds;
        }
        for &rule in &r.config.rules {
            results.push(ConfigResult {
                rule,
                per_k: tallies.rule(rule).cloned(),
                ..r.clone()
            });
        }
    }
    Ok(results)
}
