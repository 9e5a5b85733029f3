//! `specsim tree`: a tree shape in the forms serving engines wire into their kernels.

use std::process::ExitCode;

use anyhow::Result;
use serde_json::json;

use specsim::topology::shape::TreeShape;

use super::emit;
use crate::cli::args::TreeFormat;

pub fn cmd_tree(spec: &str, format: TreeFormat) -> Result<ExitCode> {
    let shape: TreeShape = spec.parse()?;
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
    let doc = shape.forms();
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
