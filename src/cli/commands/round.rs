//! `specsim round`: one round from JSON.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};

use specsim::Rule;
use specsim::round::read_round_json;

use super::emit;
use crate::cli::args::InputOpts;

pub fn cmd_round(
    path: Option<PathBuf>,
    rule: Rule,
    compat: Option<specsim::compat::Profile>,
    input: InputOpts,
) -> Result<ExitCode> {
    let file = path.filter(|p| p.as_os_str() != "-");
    let origin = file
        .as_ref()
        .map_or_else(|| "<stdin>".to_string(), |p| p.display().to_string());
    if let Some(profile) = compat {
        let text = match &file {
            Some(p) => {
                std::fs::read_to_string(p).with_context(|| format!("cannot read {origin}"))?
            }
            None => std::io::read_to_string(std::io::stdin().lock())
                .with_context(|| format!("cannot read {origin}"))?,
        };
        let out = specsim::compat::json::decide_json_rule(&text, profile, rule)
            .with_context(|| format!("{origin}: refused"))?;
        emit(&format!("{out}\n"))?;
        return Ok(ExitCode::SUCCESS);
    }
    let round = match &file {
        Some(p) => {
            let f = std::fs::File::open(p).with_context(|| format!("cannot read {origin}"))?;
            read_round_json(f, &origin)?
        }
        None => read_round_json(std::io::stdin().lock(), &origin)?,
    };
    let result = round
        .decide(rule, &input.round_options())
        .with_context(|| format!("{origin}: refused"))?;
    emit(&format!("{}\n", serde_json::to_string(&result)?))?;
    Ok(ExitCode::SUCCESS)
}
