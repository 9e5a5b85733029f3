//! `specsim study`: acceptance-rate studies and their reports.

use std::process::ExitCode;

use anyhow::Result;

use specsim::study::options::check_cost_ratios;

use super::{emit, open_engine};
use crate::cli::args::StudyCmd;
use crate::cli::settings::study_options;

pub fn cmd_study(a: StudyCmd) -> Result<ExitCode> {
    use specsim::study::options::FamilyKind;
    use specsim::study::report;
    use specsim::study::run::{Progress, run_plan};
    let mut opts = study_options(&a.w)?;
    opts.allow_unnormalized = a.allow_unnormalized;
    if a.w.family == FamilyKind::File && (a.w.rounds.is_some() || a.w.vocab.is_some()) {
        eprintln!(
            "specsim: notice: --family file runs the file's rounds and vocabulary; --rounds and --vocab are not used"
        );
    }
    if !a.w.trees.is_empty() && a.w.k.is_some() {
        eprintln!("specsim: notice: a tree study's drafts are its trees: --k is not used");
    }
    check_cost_ratios(&a.cost_ratio)?;
    let plan = opts.plan()?;
    let mut engine = open_engine(a.engine)?;
    let mut progress = specsim::progress::Progress::new("study", plan.rounds(), a.quiet);
    let results = run_plan(plan, &mut *engine, &mut |p| match p {
        Progress::Config(label) => progress.set_message(label),
        Progress::Rounds(n) => progress.inc(n),
    })?;
    progress.finish();
    for n in engine.notices() {
        eprintln!("specsim: notice: {n}");
    }
    report::write_files(&a.out, &results, &a.cost_ratio)?;
    let mut s = report::table(&results, &a.cost_ratio);
    s += &format!(
        "\nwrote {}\n",
        results
            .files()
            .iter()
            .map(|f| format!("{}/{f}", a.out.display()))
            .collect::<Vec<_>>()
            .join(", ")
    );
    emit(&s)?;
    Ok(ExitCode::SUCCESS)
}
