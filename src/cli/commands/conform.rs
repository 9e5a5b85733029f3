//! `specsim conform`: a profile's golden vectors, one `.npz` per case and an index.

use std::process::ExitCode;

use anyhow::{Result, bail};

use std::path::Path;

use specsim::Rule;
use specsim::compat::{PROFILES, Profile, golden, golden_tree};
use specsim::npyio::{NpzValues, write_npz};

use super::emit;
use crate::cli::args::ConformArgs;

pub fn cmd_conform(a: ConformArgs) -> Result<ExitCode> {
    let rule: Rule = a
        .rule
        .parse()
        .map_err(|e: specsim::Error| anyhow::anyhow!("--rule {}: {e}", a.rule))?;
    if rule != Rule::Token && !PROFILES.iter().any(|p| p.tree_rules().contains(&rule)) {
        bail!(
            "--rule {rule}: the profiles decide token, greedy and target-only (block and the other tree rules have no engine profile: SPEC §14)"
        );
    }
    let all = a.profile.iter().any(|p| p == "all");
    let mut profiles: Vec<Profile> = if all {
        // `all`: the profiles that decide the rule.
        PROFILES
            .into_iter()
            .filter(|p| p.check_rule(rule).is_ok())
            .collect()
    } else {
        a.profile
            .iter()
            .map(|p| p.parse())
            .collect::<specsim::Result<_>>()?
    };
    // Each profile once, in the order given.
    let mut seen = Vec::new();
    profiles.retain(|p| {
        let new = !seen.contains(p);
        seen.push(*p);
        new
    });
    for p in &profiles {
        p.check_rule(rule)?;
    }
    if rule != Rule::Token {
        return write_tree_sets(&a.out, &profiles, rule);
    }
    let mut lines = String::new();
    for profile in profiles {
        let dir = a.out.join(profile.name());
        fresh_dir(&dir)?;
        let cases = golden::cases(profile)?;
        let mut index = Vec::new();
        for (i, c) in cases.iter().enumerate() {
            let file = format!("{i:03}-{}.npz", c.class);
            let (k, v) = (c.k as u64, c.v as u64);
            let expected_tokens = c.expected.tokens.clone();
            let acc = [c.expected.num_accepted as i32];
            let passed = [c.expected.num_passed as i32];
            let fc: Vec<f32> = c.final_coins.into_iter().collect();
            let mut arrays = vec![
                ("draft_probs", vec![1, k, v], NpzValues::F32(&c.draft_probs)),
                (
                    "target_probs",
                    vec![1, k + 1, v],
                    NpzValues::F32(&c.target_probs),
                ),
                ("draft_tokens", vec![1, k], NpzValues::I64(&c.draft_tokens)),
                ("random_coins", vec![1, k], NpzValues::F32(&c.random_coins)),
            ];
            if !fc.is_empty() {
                arrays.push(("final_coins", vec![1], NpzValues::F32(&fc)));
            }
            if let Some(e) = &c.exp_noise {
                arrays.push(("exp_noise", vec![1, v], NpzValues::F32(e)));
            }
            arrays.push((
                "expected_tokens",
                vec![1, k + 1],
                NpzValues::I32(&expected_tokens),
            ));
            arrays.push(("expected_num_accepted", vec![1], NpzValues::I32(&acc)));
            arrays.push(("expected_num_passed", vec![1], NpzValues::I32(&passed)));
            write_npz(&dir.join(&file), &arrays)?;
            index.push(serde_json::json!({
                "file": file,
                "class": c.class,
                "what": c.what,
                "k": c.k,
                "v": c.v,
                "expected_tokens": c.expected.tokens,
                "expected_num_accepted": c.expected.num_accepted,
                "expected_num_passed": c.expected.num_passed,
            }));
        }
        let doc = serde_json::json!({
            "profile": profile.name(),
            "rule": "token",
            "semantics": profile.semantics(),
            "extra": profile.extra(),
            "comparison": golden::comparison(profile),
            "cases": index,
        });
        let path = dir.join("index.json");
        specsim::output::write_file(&path, serde_json::to_string_pretty(&doc)?.as_bytes())?;
        lines += &format!(
            "{}: {} cases ({}) in {}\n",
            profile.name(),
            cases.len(),
            golden::comparison(profile),
            dir.display()
        );
    }
    emit(&lines)?;
    Ok(ExitCode::SUCCESS)
}

/// Creates `dir`; an earlier run's cases there go (the directory holds this set only).
fn fresh_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| specsim::Error::write(dir, e))?;
    for e in std::fs::read_dir(dir).map_err(|e| specsim::Error::io(dir, e))? {
        let p = e.map_err(|e| specsim::Error::io(dir, e))?.path();
        if p.extension().is_some_and(|x| x == "npz") {
            std::fs::remove_file(&p).map_err(|e| specsim::Error::write(&p, e))?;
        }
    }
    Ok(())
}

/// A tree rule's golden sets: `OUT/P/RULE/NNN-CLASS.npz` (a tree batch of one round, with its
/// expected outputs) and `OUT/P/RULE/index.json`.
fn write_tree_sets(out: &Path, profiles: &[Profile], rule: Rule) -> Result<ExitCode> {
    let mut lines = String::new();
    for &profile in profiles {
        let dir = out.join(profile.name()).join(rule.name());
        fresh_dir(&dir)?;
        let cases = golden_tree::tree_cases(profile, rule)?;
        let mut index = Vec::new();
        for (i, c) in cases.iter().enumerate() {
            let file = format!("{i:03}-{}.npz", c.class);
            let (n, v) = (c.parents.len() as u64, c.v as u64);
            let depth = c.expected.nodes.len() as u64;
            let zeros = vec![0.0f32; c.target_probs.len()];
            let acc = [c.expected.num_accepted as i32];
            let fc: Vec<f32> = c.final_coins.into_iter().collect();
            let mut arrays = vec![
                ("parents", vec![1, n], NpzValues::I64(&c.parents)),
                ("draft_probs", vec![1, n, v], NpzValues::F32(&zeros)),
                (
                    "target_probs",
                    vec![1, n, v],
                    NpzValues::F32(&c.target_probs),
                ),
                ("draft_tokens", vec![1, n], NpzValues::I64(&c.draft_tokens)),
                ("random_coins", vec![1, n], NpzValues::F32(&c.random_coins)),
            ];
            if !fc.is_empty() {
                arrays.push(("final_coins", vec![1], NpzValues::F32(&fc)));
            }
            arrays.push((
                "expected_tokens",
                vec![1, depth + 1],
                NpzValues::I32(&c.expected.tokens),
            ));
            arrays.push((
                "expected_accepted_nodes",
                vec![1, depth],
                NpzValues::I32(&c.expected.nodes),
            ));
            arrays.push(("expected_num_accepted", vec![1], NpzValues::I32(&acc)));
            write_npz(&dir.join(&file), &arrays)?;
            index.push(serde_json::json!({
                "file": file,
                "class": c.class,
                "what": c.what,
                "n": c.parents.len(),
                "v": c.v,
                "depth": depth,
                "expected_tokens": c.expected.tokens,
                "expected_accepted_nodes": c.expected.nodes,
                "expected_num_accepted": c.expected.num_accepted,
            }));
        }
        let doc = serde_json::json!({
            "profile": profile.name(),
            "rule": rule.name(),
            "semantics": golden_tree::semantics(profile, rule),
            "extra": (golden_tree::samples(profile, rule)).then_some("final_coins"),
            "cases": index,
        });
        let path = dir.join("index.json");
        specsim::output::write_file(&path, serde_json::to_string_pretty(&doc)?.as_bytes())?;
        lines += &format!(
            "{} {rule}: {} cases ({}) in {}\n",
            profile.name(),
            cases.len(),
            golden_tree::semantics(profile, rule),
            dir.display()
        );
    }
    emit(&lines)?;
    Ok(ExitCode::SUCCESS)
}
