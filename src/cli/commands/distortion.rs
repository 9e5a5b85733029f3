//! `specsim distortion`: the exact distortion of chain rules on a family's rows (SPEC §13).

use std::process::ExitCode;

use anyhow::{Result, bail};

use specsim::reference::lossy::{DraftLaw, LossyRule};
use specsim::study::distortion::family_distortion;

use super::emit;
use crate::cli::args::{DistortionArgs, TreeFormat};
use crate::cli::settings::{parse_k_list, study_options};

pub fn cmd_distortion(a: DistortionArgs) -> Result<ExitCode> {
    crate::cli::settings::no_batch_sizes(&a.w, "distortion")?;
    let rules: Vec<LossyRule> =
        a.w.rule
            .as_deref()
            .unwrap_or("token")
            .split(',')
            .map(|r| r.parse())
            .collect::<specsim::Result<_>>()?;
    let law: DraftLaw = a.draft.parse()?;
    let k = match a.w.k.as_deref().map(parse_k_list).transpose()?.as_deref() {
        None => 4,
        Some([k]) => *k,
        Some(ks) => bail!("--k: give one K (got {} values)", ks.len()),
    };
    if !a.w.trees.is_empty() {
        bail!("distortion measures chains: give no --tree");
    }
    // The workload flags as a study reads them (its --rule list is this command's own).
    let w = crate::cli::args::WorkloadArgs {
        rule: None,
        ..a.w.clone()
    };
    let mut opts = study_options(&w)?;
    opts.rounds = Some(a.w.rounds.unwrap_or(200));
    let mode: specsim::rule::RecoveryMode = a.w.recovery.into();
    let rows = family_distortion(&opts, k, &rules, law, mode.into())?;
    if let Some(dir) = &a.out {
        specsim::study::report::distortion::write_distortion_files(dir, &rows)?;
    }
    let text = match a.format {
        TreeFormat::Json => format!("{}\n", serde_json::to_string_pretty(&rows)?),
        TreeFormat::Text => {
            let mut s = String::new();
            if let Some(r) = rows.first() {
                s += &format!(
                    "{} V={}, K = {}, {} rounds, drafts {}, recovery {}\n",
                    r.workload, r.vocab, r.k, r.rounds, r.draft, r.recovery
                );
            }
            s += &format!(
                "{:<20} {:>14} {:>10} {:>16} {:>10}  {}\n",
                "rule",
                "E[generated]",
                "TV low",
                "tokens changed",
                "TV exact",
                "per position: acceptance / TV"
            );
            for r in &rows {
                let pos: Vec<String> = r
                    .acceptance
                    .iter()
                    .zip(&r.tv)
                    .map(|(a, t)| format!("{a:.3}/{t:.3}"))
                    .collect();
                s += &format!(
                    "{:<20} {:>14.4} {:>10.4} {:>16.4} {:>10}  {} | bonus TV {:.3}\n",
                    r.rule,
                    r.expected_generated,
                    r.tv_low,
                    r.tokens_changed,
                    r.tv_exact.map_or("—".to_string(), |x| format!("{x:.4}")),
                    pos.join(" "),
                    r.tv.last().copied().unwrap_or(0.0)
                );
            }
            s
        }
    };
    emit(&text)?;
    Ok(ExitCode::SUCCESS)
}
