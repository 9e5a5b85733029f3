//! Running a list of study configurations on one engine, with every rule each asks for.

use std::time::Instant;

use super::options::Plan;
use super::report::{ConfigResult, Results};
use super::{Family, StudyConfig, run_study_rules};
use crate::engine::Engine;
use crate::error::Result;
use crate::npyio::BatchFile;
use crate::rule::Rule;

/// What a running study reports as it goes.
pub enum Progress<'a> {
    /// A configuration starts (its label).
    Config(&'a str),
    /// This many more rounds are done.
    Rounds(u64),
}

/// Runs every configuration on `engine`; one result per (configuration, rule), in order, each
/// rule on the same rounds.
pub fn run_configs(
    cfgs: Vec<StudyConfig>,
    engine: &mut dyn Engine,
    progress: &mut dyn FnMut(Progress),
) -> Result<Vec<ConfigResult>> {
    let engine_name = engine.describe();
    let mut results = Vec::new();
    for mut cfg in cfgs {
        let t = Instant::now();
        let (w, seed, rounds, k) = (cfg.workload.clone(), cfg.seed, cfg.rounds, cfg.stop_cap());
        let theory = super::stop::theory(&mut cfg.stop, &w, seed, rounds, k)?;
        let mut r = ConfigResult {
            config: cfg,
            engine: engine_name.clone(),
            rule: Rule::Token,
            tally: Default::default(),
            per_k: None,
            seconds: 0.0,
            stop: None,
        };
        progress(Progress::Config(&r.label()));
        let mut tallies = run_study_rules(&r.config, engine, |n| progress(Progress::Rounds(n)))?;
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
        for (tally, exact) in tallies.stop.drain(..).zip(&theory.policies) {
            results.push(ConfigResult {
                stop: Some(super::stop::StopResult {
                    tally,
                    exact: exact.clone(),
                    exact_rounds: theory.rounds,
                    bellman_rate: theory.bellman_rate,
                    cost: r.config.stop.cost.clone(),
                }),
                ..r.clone()
            });
        }
    }
    Ok(results)
}

/// Runs a study's plan on `engine`: its results, chain or tree, ready for the reports.
pub fn run_plan(
    plan: Plan,
    engine: &mut dyn Engine,
    progress: &mut dyn FnMut(Progress),
) -> Result<Results> {
    Ok(match plan {
        Plan::Chain(cfgs) => Results::Chain(run_configs(cfgs, engine, progress)?),
        Plan::Tree(cfgs) => Results::Tree(super::tree::run_tree_studies(
            &cfgs,
            engine,
            &mut |label, n| {
                progress(Progress::Config(label));
                progress(Progress::Rounds(n));
            },
        )?),
    })
}
