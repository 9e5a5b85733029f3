//! `specsim study`: acceptance-rate studies and their reports.

use std::process::ExitCode;

use anyhow::Result;

use specsim::study::options::check_cost_ratios;

use super::{emit, open_engine, progress_bar as bar};
use crate::cli::args::{FamilyArg, StudyCmd};
use crate::cli::settings::{study_configs, tree_study_configs};

/// `study --tree SPEC ...`: the tree rules on the workloads, per tree.
fn cmd_tree_study(a: StudyCmd) -> Result<ExitCode> {
    use specsim::study::report::tree::{TREE_FILES, tree_table, write_tree_files};
    let seed = a.w.seed.unwrap_or(7);
    let cfgs = tree_study_configs(&a.w, 2048, 10_000, seed)?;
    let mut engine = open_engine(a.engine)?;
    let total: u64 = cfgs.iter().map(|c| c.rounds * c.rules.len() as u64).sum();
    let bar = bar(a.quiet, total);
    let results = specsim::study::tree::run_tree_studies(&cfgs, &mut *engine, &mut |label, n| {
        bar.set_message(label.to_string());
        bar.inc(n);
    })?;
    bar.finish_and_clear();
    write_tree_files(&a.out, &results)?;
    let mut s = tree_table(&results);
    s += &format!(
        "\nwrote {}\n",
        TREE_FILES
            .map(|f| format!("{}/{f}", a.out.display()))
            .join(", ")
    );
    emit(&s)?;
    Ok(ExitCode::SUCCESS)
}

pub fn cmd_study(a: StudyCmd) -> Result<ExitCode> {
    use specsim::study::report;
    use specsim::study::run::{Progress, run_configs};
    if !a.w.trees.is_empty() {
        return cmd_tree_study(a);
    }
    let seed = a.w.seed.unwrap_or(7);
    let mut cfgs = study_configs(&a.w, "1..8", 2048, 10_000, seed)?;
    for c in &mut cfgs {
        c.allow_unnormalized = a.allow_unnormalized;
    }
    if a.w.family == FamilyArg::File && (a.w.rounds.is_some() || a.w.vocab.is_some()) {
        eprintln!(
            "specsim: notice: --family file runs the file's rounds and vocabulary; --rounds and --vocab are not used"
        );
    }
    check_cost_ratios(&a.cost_ratio)?;
    let mut engine = open_engine(a.engine)?;
    let total: u64 = cfgs.iter().map(|c| c.rounds).sum();
    let bar = bar(a.quiet, total);
    let results = run_configs(cfgs, &mut *engine, &mut |p| match p {
        Progress::Config(label) => bar.set_message(label.to_string()),
        Progress::Rounds(n) => bar.inc(n),
    })?;
    bar.finish_and_clear();
    report::write_files(&a.out, &results, &a.cost_ratio)?;
    let mut s = report::table(&results, &a.cost_ratio);
    s += &format!(
        "\nwrote {}\n",
        report::FILES
            .map(|f| format!("{}/{f}", a.out.display()))
            .join(", ")
    );
    emit(&s)?;
    Ok(ExitCode::SUCCESS)
}
