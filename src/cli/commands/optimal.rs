//! `specsim optimal`: the optimal multi-draft bound alpha* (SPEC §8) at one node, or over a
//! family's generated rows.

use std::process::ExitCode;

use anyhow::{Context, Result};

use specsim::round::node::{
    NodeBound, NodeOptions, node_bounds_with, parse_drafts, parse_modes, read_node_json,
};
use specsim::study::StudyConfig;
use specsim::study::optimal::{OptimalRow, optimal_study, write_optimal_files};
use specsim::study::options::StudyOptions;

use super::emit;
use crate::cli::args::{OptimalArgs, TreeFormat};

pub fn cmd_optimal(a: OptimalArgs) -> Result<ExitCode> {
    let skip_impossible = a.drafts.is_none() && a.mode.is_none();
    let drafts = parse_drafts(a.drafts.as_deref().unwrap_or("1,2,4,8"))?;
    let modes = parse_modes(a.mode.as_deref().unwrap_or("iid,wor,top"))?;
    if a.family.is_some() {
        return family(a, &drafts, &modes, skip_impossible);
    }
    let opts = NodeOptions {
        allow_unnormalized: a.allow_unnormalized,
        skip_impossible,
    };
    let file = a.node.filter(|p| p.as_os_str() != "-");
    let origin = file
        .as_ref()
        .map_or_else(|| "<stdin>".to_string(), |p| p.display().to_string());
    let node = match &file {
        Some(p) => read_node_json(
            specsim::files::open_regular(p, "a node JSON file")?,
            &origin,
        )?,
        None => read_node_json(std::io::stdin().lock(), &origin)?,
    };
    let bounds = node_bounds_with(
        &node.target_probs,
        &node.draft_probs,
        &drafts,
        &modes,
        &opts,
    )
    .with_context(|| format!("{origin}: refused"))?;
    let text = match a.format {
        TreeFormat::Json => format!("{}\n", serde_json::to_string(&bounds)?),
        TreeFormat::Text => table(&bounds, node.target_probs.len()),
    };
    emit(&text)?;
    Ok(ExitCode::SUCCESS)
}

/// The configurations of `--family` and its options (each parameter a list: their product).
fn configs(a: &OptimalArgs) -> Result<Vec<StudyConfig>> {
    let opts = StudyOptions {
        family: a.family.unwrap_or_default(),
        sigma: a.sigma.clone(),
        lambda: a.lambda.clone(),
        bits: a.bits.clone(),
        t_target: a.t_target.clone(),
        t_draft: a.t_draft.clone(),
        zipf: a.zipf.clone(),
        vocab: Some(a.vocab),
        rounds: Some(a.rounds),
        seed: Some(a.seed),
        ..StudyOptions::default()
    };
    Ok(specsim::study::optimal::optimal_configs(&opts)?)
}

fn family(
    a: OptimalArgs,
    drafts: &[usize],
    modes: &[specsim::reference::optimal::DraftMode],
    skip_impossible: bool,
) -> Result<ExitCode> {
    let cfgs = configs(&a)?;
    let total: u64 = cfgs.iter().map(|c| c.rounds).sum();
    let mut progress = specsim::progress::Progress::new("optimal", total, a.quiet);
    let rows = optimal_study(&cfgs, drafts, modes, skip_impossible, |n| progress.inc(n))?;
    progress.finish();
    let text = match a.format {
        TreeFormat::Json => format!("{}\n", serde_json::to_string(&rows)?),
        TreeFormat::Text => family_table(&rows),
    };
    if let Some(dir) = &a.out {
        write_optimal_files(dir, &rows)?;
    }
    emit(&text)?;
    if let Some(dir) = &a.out {
        eprintln!(
            "wrote {}, {}",
            dir.join("optimal.csv").display(),
            dir.join("optimal.json").display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn table(bounds: &[NodeBound], v: usize) -> String {
    let mut s = format!(
        "alpha* at one node (V = {v}): the best acceptance of any lossless verifier given the draft law\n"
    );
    s += &format!(
        "{:>6} {:<5} {:>10} {:>6} {:>12} {:>10} {:>10}  {}\n",
        "drafts",
        "mode",
        "alpha*",
        "|H*|",
        "p/q at H*",
        "p(H*)",
        "q(H*)",
        "rules: acceptance (gap)"
    );
    for b in bounds {
        let o = &b.optimal;
        let ratio = o
            .threshold_ratio
            .map_or_else(|| "—".to_string(), |r| format!("{r:.6}"));
        let rules: Vec<String> = b
            .rules
            .iter()
            .map(|r| match (r.acceptance, r.gap, r.standard_error) {
                (Some(a), Some(g), Some(se)) => {
                    format!("{} ~{a:.6} ({g:+.6}; estimate, s.e. {se:.6})", r.rule)
                }
                (Some(a), Some(g), None) => format!("{} {a:.6} ({g:+.6})", r.rule),
                _ => format!("{} —", r.rule),
            })
            .collect();
        s += &format!(
            "{:>6} {:<5} {:>10.6} {:>6} {:>12} {:>10.6} {:>10.6}  {}\n",
            o.drafts,
            o.mode.name(),
            o.alpha_star,
            o.threshold_index,
            ratio,
            o.p_h,
            o.q_h,
            rules.join(", ")
        );
    }
    s
}

fn family_table(rows: &[OptimalRow]) -> String {
    let mut s = String::new();
    let mut label = None;
    for r in rows {
        if label.as_ref() != Some(&r.label) {
            s += &format!(
                "\n{}  (V = {}, {} rounds, seed {}: every round's first node)\n",
                r.label, r.vocab, r.rounds, r.seed
            );
            s += &format!(
                "{:>6} {:<5} {:>22}  {}\n",
                "drafts", "mode", "alpha* (99%)", "rule: acceptance, gap (99%)"
            );
            label = Some(r.label.clone());
        }
        let rules: Vec<String> = r
            .rules
            .iter()
            .map(|x| match (&x.acceptance, &x.gap) {
                (Some(a), Some(g)) => format!(
                    "{} {}{:.4}, gap {:.4} ± {}",
                    x.rule,
                    if x.estimated { "~" } else { "" },
                    a.mean,
                    g.mean,
                    half(g.ci99_low, g.ci99_high)
                ),
                _ => format!("{} —", x.rule),
            })
            .collect();
        s += &format!(
            "{:>6} {:<5} {:>12.4} ± {:<7}  {}\n",
            r.drafts,
            r.mode.name(),
            r.alpha_star.mean,
            half(r.alpha_star.ci99_low, r.alpha_star.ci99_high),
            rules.join(", ")
        );
    }
    s
}

/// An interval's half-width, or `n/a` (one round: no interval).
fn half(low: f64, high: f64) -> String {
    let h = (high - low) / 2.0;
    if h.is_finite() {
        format!("{h:.4}")
    } else {
        "n/a".to_string()
    }
}
