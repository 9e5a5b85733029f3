//! `specsim conform`: a profile's golden vectors, one `.npz` per case and an index.

use std::process::ExitCode;

use anyhow::{Result, bail};

use specsim::compat::{PROFILES, Profile, golden};
use specsim::npyio::{NpzValues, write_npz};

use super::emit;
use crate::cli::args::ConformArgs;

pub fn cmd_conform(a: ConformArgs) -> Result<ExitCode> {
    if a.rule != "token" {
        bail!(
            "--rule {}: conformance profiles cover the chain token rule (`token`); block and the tree rules are not profiled yet",
            a.rule
        );
    }
    let mut profiles: Vec<Profile> = if a.profile.iter().any(|p| p == "all") {
        PROFILES.to_vec()
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
    let mut lines = String::new();
    for profile in profiles {
        let dir = a.out.join(profile.name());
        std::fs::create_dir_all(&dir).map_err(|e| specsim::Error::write(&dir, e))?;
        // An earlier run's cases go: the directory holds this set only.
        for e in std::fs::read_dir(&dir).map_err(|e| specsim::Error::io(&dir, e))? {
            let p = e.map_err(|e| specsim::Error::io(&dir, e))?.path();
            if p.extension().is_some_and(|x| x == "npz") {
                std::fs::remove_file(&p).map_err(|e| specsim::Error::write(&p, e))?;
            }
        }
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
