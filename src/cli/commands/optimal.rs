//! `specsim optimal`: the optimal multi-draft bound alpha* at one node (SPEC §8).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};

use specsim::round::node::{NodeBound, node_bounds, parse_drafts, parse_modes, read_node_json};

use super::emit;
use crate::cli::args::TreeFormat;

pub fn cmd_optimal(
    path: Option<PathBuf>,
    drafts: &str,
    modes: &str,
    format: TreeFormat,
) -> Result<ExitCode> {
    let drafts = parse_drafts(drafts)?;
    let modes = parse_modes(modes)?;
    let file = path.filter(|p| p.as_os_str() != "-");
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
    let bounds = node_bounds(&node.target_probs, &node.draft_probs, &drafts, &modes)
        .with_context(|| format!("{origin}: refused"))?;
    let text = match format {
        TreeFormat::Json => format!("{}\n", serde_json::to_string(&bounds)?),
        TreeFormat::Text => table(&bounds, node.target_probs.len()),
    };
    emit(&text)?;
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
            .map(|r| match (r.acceptance, r.gap) {
                (Some(a), Some(g)) => format!("{} {a:.6} ({g:+.6})", r.rule),
                _ => format!("{} — (not enumerated: V^n·V > 4e6)", r.rule),
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
