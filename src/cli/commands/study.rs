//! `specsim study`: acceptance-rate studies and their reports (one run, or one shard of it);
//! `specsim merge`: a sharded study's files from its shards.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;

use specsim::cost::{Cost, Costs, Profile};
use specsim::study::report::{self, Results};
use specsim::study::shard;

use super::{emit, open_engine};
use crate::cli::args::{MergeCmd, StudyCmd};
use crate::cli::settings::study_options;

pub fn cmd_study(a: StudyCmd) -> Result<ExitCode> {
    use specsim::study::options::FamilyKind;
    use specsim::study::run::{Progress, run_plan};
    let mut opts = study_options(&a.w)?;
    opts.allow_unnormalized = a.allow_unnormalized;
    opts.design = a.design;
    opts.nodes = a.nodes.clone();
    opts.stop = a
        .stop
        .iter()
        .map(|s| s.parse())
        .collect::<specsim::Result<_>>()?;
    opts.k_max = a.k_max;
    if a.w.family == FamilyKind::File && (a.w.rounds.is_some() || a.w.vocab.is_some()) {
        eprintln!(
            "specsim: notice: --family file runs the file's rounds and vocabulary; --rounds and --vocab are not used"
        );
    }
    if !a.w.trees.is_empty() && a.w.k.is_some() {
        eprintln!("specsim: notice: a tree study's drafts are its trees: --k is not used");
    }
    let costs = costs(&a)?;
    if crate::cli::settings::batch_args(&a.w)?.0.is_some() && a.w.family != FamilyKind::File {
        anyhow::bail!(
            "--batch PATH is the batch of --family file, and this study's family is another; batch sizes are positive integers: --batch 1,8,64"
        );
    }
    if let Some(s) = &a.shard {
        let (index, count) = shard::parse_shard(s)?;
        return cmd_shard(&a, &opts, index, count);
    }
    let mut plan = opts.plan()?;
    plan.set_stop_costs(&costs);
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
    write_reports(&a.out, &results, &costs)
}

/// The cost settings of a study's reports: `--cost-ratio`, and `--cost-profile` read at
/// `--context` for the batch sizes of `--batch`.
pub fn costs(a: &StudyCmd) -> Result<Costs> {
    let (_, batches) = crate::cli::settings::batch_args(&a.w)?;
    let profile = match &a.cost_profile {
        Some(p) => Some(Cost::Profile {
            profile: Box::new(Profile::open(p)?),
            context: a.context,
        }),
        None if a.context.is_some() => {
            anyhow::bail!("--context reads a latency profile: give --cost-profile FILE")
        }
        None => None,
    };
    let costs = Costs {
        ratios: a.cost_ratio.clone(),
        profile,
        batches,
    };
    costs.check()?;
    Ok(costs)
}

/// Writes a study's files and prints its table.
fn write_reports(out: &Path, results: &Results, costs: &Costs) -> Result<ExitCode> {
    report::write_files(out, results, costs)?;
    let mut s = report::table(results, costs);
    s += &format!(
        "\nwrote {}\n",
        results
            .files()
            .iter()
            .map(|f| format!("{}/{f}", out.display()))
            .collect::<Vec<_>>()
            .join(", ")
    );
    emit(&s)?;
    Ok(ExitCode::SUCCESS)
}

/// `--shard I/N`: runs the shard and writes its file (`--out`: the file, or a directory for
/// `shard-I-of-N.json`).
fn cmd_shard(
    a: &StudyCmd,
    opts: &specsim::study::options::StudyOptions,
    index: u64,
    count: u64,
) -> Result<ExitCode> {
    let plan = opts.plan()?;
    let path = shard::shard_path(&a.out, index, count);
    // Checked before the work: an output that cannot be written is refused first.
    specsim::output::check_target(&path)?;
    let mut engine = open_engine(a.engine)?;
    let total = shard::shard_rounds(&plan, index, count);
    let mut progress = specsim::progress::Progress::new("study shard", total, a.quiet);
    let file = shard::run_shard(
        opts,
        &costs(a)?,
        (index, count),
        &mut *engine,
        &mut |label, n| {
            progress.set_message(label);
            progress.inc(n);
        },
    )?;
    progress.finish();
    for n in engine.notices() {
        eprintln!("specsim: notice: {n}");
    }
    shard::write_shard(&path, &file)?;
    let rounds: u64 = file.parts.iter().map(|p| p.end - p.start).sum();
    emit(&format!(
        "shard {index}/{count} of study {}: {} part(s), {rounds} rounds; wrote {}\n",
        file.study_id,
        file.parts.len(),
        path.display()
    ))?;
    Ok(ExitCode::SUCCESS)
}

pub fn cmd_merge(a: MergeCmd) -> Result<ExitCode> {
    let mut shards = Vec::new();
    for p in &a.shards {
        let name = p.display().to_string();
        let text = specsim::files::read_text(p, "a shard file", shard::MAX_FILE_BYTES)?;
        shards.push((name.clone(), shard::from_bytes(text.as_bytes(), &name)?));
    }
    let (results, costs) = shard::merge(&shards)?;
    write_reports(&a.out, &results, &costs)
}
