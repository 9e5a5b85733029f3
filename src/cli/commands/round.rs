//! `specsim round`: one round from JSON.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};

use specsim::Rule;
use specsim::round::parse_round_json;

use super::emit;
use crate::cli::args::InputOpts;

pub fn cmd_round(path: Option<PathBuf>, rule: Rule, input: InputOpts) -> Result<ExitCode> {
    let (text, origin) = match path {
        Some(p) if p.as_os_str() != "-" => (
            std::fs::read_to_string(&p).with_context(|| format!("cannot read {}", p.display()))?,
            p.display().to_string(),
        ),
        _ => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .context("cannot read standard input")?;
            (s, "<stdin>".to_string())
        }
    };
    let round = parse_round_json(&text, &origin)?;
    let result = round
        .decode_rule(rule, &input.round_options())
        .with_context(|| format!("{origin}: refused"))?;
    emit(&format!("{}\n", serde_json::to_string(&result)?))?;
    Ok(ExitCode::SUCCESS)
}
