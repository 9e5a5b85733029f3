//! `specsim tree`: a tree shape in the forms serving engines wire into their kernels.

use std::process::ExitCode;

use anyhow::Result;
use serde_json::json;

use specsim::Rule;
use specsim::study::tree::vector::FamilyTree;
use specsim::topology::shape::{Build, TreeShape};

use super::emit;
use crate::cli::args::{TreeFormat, WorkloadArgs};
use crate::cli::settings::study_options;

/// `sequoia:n,d` without a file: the tree for the vector of the workload flags' family under the
/// one --rule, exactly as `study` builds it.
fn resolve_family(shape: &TreeShape, w: &WorkloadArgs) -> Result<FamilyTree> {
    let rules = Rule::parse_list(w.rule.as_deref().unwrap_or("")).map_err(|_| {
        anyhow::anyhow!(
            "{}: give one tree --rule to compute the vector for ({})",
            shape.spec,
            Rule::tree_names()
        )
    })?;
    let [rule] = rules[..] else {
        anyhow::bail!("{}: give one --rule (the vector is the rule's)", shape.spec);
    };
    if !w.trees.is_empty() {
        anyhow::bail!("`specsim tree` takes its shape as its argument, not --tree");
    }
    Ok(FamilyTree::build(shape, &study_options(w)?, rule)?)
}

pub fn cmd_tree(spec: &str, format: TreeFormat, w: &WorkloadArgs) -> Result<ExitCode> {
    let mut shape: TreeShape = spec.parse()?;
    let mut family = None;
    match shape.build {
        Build::SequoiaFamily { .. } => {
            let ft = resolve_family(&shape, w)?;
            shape = ft.shape.clone();
            family = Some(ft);
        }
        Build::Eagle2(_) => {
            shape.static_tree()?;
        }
        Build::Static => {}
    }
    let t = &shape.tree;
    // The mask is n² entries and the choice lists n·depth: shown for trees a kernel would use.
    const MAX_SHOWN: usize = 4096;
    if t.len() > MAX_SHOWN {
        anyhow::bail!(
            "{}: {} nodes; `specsim tree` shows trees of at most {MAX_SHOWN} nodes (its attention mask alone would be {} entries)",
            shape.spec,
            t.len(),
            t.len() * t.len()
        );
    }
    let doc = match &family {
        Some(ft) => ft.forms()?,
        None => shape.forms(),
    };
    let text = match format {
        TreeFormat::Json => format!("{}\n", serde_json::to_string(&doc)?),
        TreeFormat::Text => {
            let list = |v: &serde_json::Value| v.to_string();
            let mut s = String::new();
            s += &format!("tree                  {}\n", shape.spec);
            s += &format!(
                "nodes                 {} (root included; {} drafted)\n",
                t.len(),
                t.len() - 1
            );
            s += &format!("depth                 {}\n", t.depth());
            s += &format!("width per level       {}\n", list(&doc["widths"]));
            s += &format!("parents               {}\n", list(&doc["parents"]));
            if let Some(ft) = &family {
                let fv = &ft.vector;
                let shown: Vec<f64> = fv.vector.iter().map(|p| (p * 1e6).round() / 1e6).collect();
                s += &format!(
                    "vector                {} ({} on {}, V = {}: the mean over {} rows{})\n",
                    json!(shown),
                    ft.rule,
                    ft.workload.label(),
                    ft.workload.vocab,
                    fv.rows,
                    if fv.estimated_rows {
                        ", each row's vector estimated"
                    } else {
                        ""
                    }
                );
            }
            if let Some(e) = doc["expected_generated"].as_f64() {
                s += &format!(
                    "expected_generated    {e:.6} (1 + sum over nodes of the vector's path products)\n"
                );
            }
            s += &format!(
                "retrive_next_token    {}\n",
                list(&doc["retrive_next_token"])
            );
            s += &format!(
                "retrive_next_sibling  {}\n",
                list(&doc["retrive_next_sibling"])
            );
            s += &format!("choices (EAGLE)       {}\n", list(&doc["choices"]));
            if doc["eagle_order"] == false {
                s += &format!(
                    "                      (EAGLE numbers the nodes otherwise: its node k is node {} here)\n",
                    list(&doc["eagle_node_ids"])
                );
            }
            s += "retrieve_indices (one row per leaf):\n";
            for row in t.retrieve_indices() {
                s += &format!("  {}\n", json!(row));
            }
            s += "attention mask (row i: the nodes node i attends to):\n";
            if t.len() <= 64 {
                for row in t.attention_mask() {
                    let line: String = row
                        .iter()
                        .map(|&b| if b == 1 { '1' } else { '.' })
                        .collect();
                    s += &format!("  {line}\n");
                }
            } else {
                s += "  (more than 64 nodes: see --format json)\n";
            }
            s
        }
    };
    emit(&text)?;
    Ok(ExitCode::SUCCESS)
}
