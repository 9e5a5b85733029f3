//! `specsim run --compat P`: a chain batch decided under a compatibility profile (SPEC §14) by
//! the reference (`specsim::compat::decide_batch`, all cores), chunk by chunk.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Result, bail};

use specsim::Rule;
use specsim::compat::{BatchRef, Profile, decide_batch};
use specsim::npyio::{BatchFile, NpzValues, write_npz};

use super::{Progress, emit, in_chunks};
use crate::cli::args::EngineChoice;

pub fn cmd_run_compat(
    batch: &Path,
    engine: EngineChoice,
    out: Option<PathBuf>,
    rule: Rule,
    profile: Profile,
    quiet: bool,
) -> Result<ExitCode> {
    if rule != Rule::Token {
        bail!("--compat profiles the chain token rule; --rule {rule} is not profiled yet");
    }
    if engine == EngineChoice::Gpu {
        bail!(
            "--compat runs on the CPU (the reference, all cores): the GPU engine does not implement the profiles yet; use --engine cpu or auto"
        );
    }
    if let Some(o) = &out {
        specsim::output::check_target(o)?;
    }
    let file = BatchFile::open(batch)?;
    let view = file.view()?;
    let (n, k, v) = (view.n, view.k, view.v);
    let extra = |name: &str, shape: &[usize]| -> Result<Option<specsim::batch::Floats<'_>>> {
        match file.extras.iter().find(|(x, _)| *x == name) {
            None => Ok(None),
            Some((_, a)) if a.shape != shape => bail!(
                "{}: {name} has shape {:?}, expected {shape:?}",
                a.origin,
                a.shape
            ),
            Some((_, a)) => Ok(Some(a.float_values()?)),
        }
    };
    let final_coins = extra("final_coins", &[n])?;
    let exp_noise = extra("exp_noise", &[n, v])?;
    let mut progress = Progress::new("run --compat", n as u64, quiet);
    progress.set_message(profile.name());
    let per_round = (2 * k + 1) * v * 4;
    let (mut tokens, mut acc, mut passed) = (Vec::new(), Vec::new(), Vec::new());
    let (mut d, mut t, mut c, mut fc, mut en) = (vec![], vec![], vec![], vec![], vec![]);
    in_chunks(n, per_round, &mut progress, |r0, m| {
        let part = view.rounds(r0, m);
        let draft = part.draft.as_f32(&mut d);
        let target = part.target.as_f32(&mut t);
        let coins = part.coins.as_f32(&mut c);
        let toks: Vec<i64> = (0..m * k).map(|i| part.tokens.get(i)).collect();
        let f = final_coins
            .as_ref()
            .map(|x| x.slice(r0, m).as_f32(&mut fc).to_vec());
        let e = exp_noise
            .as_ref()
            .map(|x| x.slice(r0 * v, m * v).as_f32(&mut en).to_vec());
        let outs = decide_batch(
            &BatchRef {
                n: m,
                k,
                v,
                draft,
                target,
                tokens: &toks,
                coins,
                final_coins: f.as_deref(),
                exp_noise: e.as_deref(),
            },
            profile,
        )
        .map_err(|e| anyhow::anyhow!("{}: {}", batch.display(), offset(e.to_string(), r0)))?;
        for o in outs {
            tokens.extend_from_slice(&o.tokens);
            acc.push(o.num_accepted as i32);
            passed.push(o.num_passed as i32);
        }
        Ok(())
    })?;
    progress.finish();
    let generated: Vec<i32> = acc.iter().map(|a| a + 1).collect();
    if let Some(o) = &out {
        let (n64, k64) = (n as u64, k as u64);
        write_npz(
            o,
            &[
                ("tokens", vec![n64, k64 + 1], NpzValues::I32(&tokens)),
                ("num_accepted", vec![n64], NpzValues::I32(&acc)),
                ("num_generated", vec![n64], NpzValues::I32(&generated)),
                ("num_passed", vec![n64], NpzValues::I32(&passed)),
            ],
        )?;
    }
    let mean = |x: &[i32]| x.iter().map(|&a| a as f64).sum::<f64>() / n.max(1) as f64;
    emit(&format!(
        "{n} rounds (K = {k}, V = {v}) under the {profile} profile: mean accepted {:.4}, mean generated {:.4}, mean passed {:.4}{}\n",
        mean(&acc),
        mean(&generated),
        mean(&passed),
        out.as_ref()
            .map_or(String::new(), |o| format!("; wrote {}", o.display()))
    ))?;
    Ok(ExitCode::SUCCESS)
}

/// A chunk's `round r: …` message with the batch's round index.
fn offset(msg: String, r0: usize) -> String {
    match msg
        .strip_prefix("invalid option: round ")
        .or_else(|| msg.strip_prefix("round "))
        .and_then(|rest| rest.split_once(':'))
        .and_then(|(r, tail)| r.parse::<usize>().ok().map(|r| (r, tail)))
    {
        Some((r, tail)) => format!("round {}:{tail}", r + r0),
        None => msg,
    }
}
