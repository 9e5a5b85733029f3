//! `specsim study`: acceptance-rate studies and their reports.

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};

use specsim::Rule;
use specsim::gpu::describe;
use specsim::npyio::BatchFile;
use specsim::study::Family;

use super::{emit, open_gpu};
use crate::cli::args::StudyCmd;
use crate::cli::settings::study_configs;

pub fn cmd_study(a: StudyCmd) -> Result<ExitCode> {
    use specsim::study::report;
    use specsim::study::{StudyEngine, run_study_rules};
    let seed = a.w.seed.unwrap_or(7);
    let cfgs = study_configs(&a.w, "1..8", 2048, 10_000, seed)?;
    if let Some(c) = a.cost_ratio.iter().find(|c| !(c.is_finite() && **c >= 0.0)) {
        bail!("--cost-ratio: {c} is not a non-negative number");
    }
    let mut gpu = open_gpu(a.engine, false)?;
    let engine_name = match &gpu {
        Some(g) => format!("gpu: {}", describe(g.adapter_info())),
        None => "cpu".to_string(),
    };
    let total: u64 = cfgs.iter().map(|c| c.rounds).sum();
    let bar = if a.quiet || !std::io::stderr().is_terminal() {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new(total)
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{msg} [{bar:30}] {pos}/{len} rounds, {per_sec}, ETA {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    let mut results = Vec::new();
    for cfg in cfgs {
        let t = Instant::now();
        let mut engine = match gpu.as_mut() {
            Some(g) => StudyEngine::Gpu(g),
            None => StudyEngine::Cpu,
        };
        let mut r = report::ConfigResult {
            config: cfg,
            engine: engine_name.clone(),
            rule: Rule::Token,
            tally: Default::default(),
            block: None,
            seconds: 0.0,
        };
        bar.set_message(r.label());
        let tallies = run_study_rules(&r.config, &mut engine, |n| bar.inc(n))?;
        r.tally = tallies.token;
        r.seconds = t.elapsed().as_secs_f64();
        if let Family::File { path } = &r.config.workload.family {
            let file = BatchFile::open(Path::new(path))?;
            r.config.workload.vocab = file.view()?.v;
            r.config.rounds = r.tally.rounds;
        }
        // One result per rule, in the order asked for, all on the same rounds.
        for &rule in &r.config.rules {
            results.push(report::ConfigResult {
                rule,
                block: (rule == Rule::Block)
                    .then(|| tallies.block.clone())
                    .flatten(),
                ..r.clone()
            });
        }
    }
    bar.finish_and_clear();
    std::fs::create_dir_all(&a.out)
        .with_context(|| format!("cannot create {}", a.out.display()))?;
    let rows = report::rows(&results, &a.cost_ratio);
    report::write_csv(&a.out.join("results.csv"), &rows)?;
    let doc = report::json_doc(&results, &a.cost_ratio);
    std::fs::write(
        a.out.join("results.json"),
        serde_json::to_string_pretty(&doc)?,
    )
    .with_context(|| format!("cannot write {}", a.out.join("results.json").display()))?;
    report::plots(&a.out, &results, &a.cost_ratio)?;
    let mut s = report::table(&results, &a.cost_ratio);
    s += &format!(
        "\nwrote {0}/results.csv, {0}/results.json, {0}/mean_generated.svg, {0}/per_position.svg, {0}/speedup.svg\n",
        a.out.display()
    );
    emit(&s);
    Ok(ExitCode::SUCCESS)
}
