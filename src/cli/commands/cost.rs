//! `specsim cost`: an existing study's E[generated] under a latency profile (SPEC §12).

use std::process::ExitCode;

use anyhow::Result;

use specsim::cost::{Cost, Costs, Profile};
use specsim::study::report::cost::{cost_doc, cost_table, study_rows, write_cost_files};

use super::emit;
use crate::cli::args::{CostArgs, TreeFormat};

pub fn cmd_cost(a: CostArgs) -> Result<ExitCode> {
    let cost = Cost::Profile {
        profile: Box::new(Profile::open(&a.profile)?),
        context: a.context,
    };
    let costs = Costs {
        ratios: Vec::new(),
        profile: Some(cost),
        batches: a.batch.clone(),
    };
    costs.check()?;
    let cost = costs.profile.as_ref().expect("set above");
    let rows = study_rows(&a.from_study)?;
    if let Some(dir) = &a.out {
        write_cost_files(dir, &rows, cost, &a.batch)?;
    }
    let text = match a.format {
        TreeFormat::Json => format!(
            "{}\n",
            serde_json::to_string_pretty(&cost_doc(&rows, cost, &a.batch))?
        ),
        TreeFormat::Text => cost_table(&rows, cost, &a.batch),
    };
    emit(&text)?;
    Ok(ExitCode::SUCCESS)
}
