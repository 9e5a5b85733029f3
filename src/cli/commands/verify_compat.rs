//! `specsim verify BATCH --compat P`: the chain token rule under a compatibility profile on both
//! engines, compared round by round (tokens, counts and FlashInfer's passes): the CPU engine is
//! the reference itself, so the GPU kernel (`shaders/compat.wgsl`) must equal it exactly.

use anyhow::{Result, bail};

use specsim::Rule;
use specsim::compare::{EngineMismatch, VerifyReport};
use specsim::compat::Profile;
use specsim::gpu::describe;
use specsim::npyio::BatchFile;

use super::run_compat::{CompatSource, offset};
use super::{Progress, in_chunks, open_gpu};
use crate::cli::args::{EngineChoice, VerifyArgs};

pub fn verify_compat(
    a: &VerifyArgs,
    profile: Profile,
    rule: Rule,
    report: &mut VerifyReport,
) -> Result<()> {
    if rule != Rule::Token {
        bail!(
            "verify --compat compares the engines on the token rule's profiles; --rule {rule}: the tree rules' profiles are decided by the reference on the CPU (specsim run --compat)"
        );
    }
    if a.study || a.generate.is_some() {
        bail!(
            "verify --compat checks a batch file (with its final_coins or exp_noise): give BATCH, not --generate or --study"
        );
    }
    let Some(path) = &a.batch else {
        bail!("verify --compat: give a BATCH");
    };
    let file = BatchFile::open(path)?;
    let src = CompatSource::open(&file)?;
    let mut gpu = if a.cpu_only {
        None
    } else {
        open_gpu(EngineChoice::Auto, true)?
    };
    report.compat = Some(profile.name().into());
    if let Some(g) = &gpu {
        report.engines.push("gpu".into());
        report.adapter = Some(describe(g.adapter_info()));
    }
    let k = src.view.k;
    let mut progress = Progress::new("verify --compat", src.view.n as u64, a.quiet);
    in_chunks(src.view.n, src.bytes_per_round(), &mut progress, |r0, m| {
        let chunk = src.chunk(r0, m);
        let b = chunk.batch();
        let named = |e: specsim::Error| {
            anyhow::anyhow!("{}: {}", path.display(), offset(e.to_string(), r0))
        };
        let cpu = specsim::cpu::compat::decide_batch(&b, profile).map_err(named)?;
        if let Some(g) = gpu.as_mut() {
            let (res, unfinished) = g.run_compat(&b, profile).map_err(named)?;
            report.gpu_rounds_finished_on_cpu += unfinished;
            for (r, (c, g)) in cpu.iter().zip(&res).enumerate() {
                if c == g {
                    continue;
                }
                // The first token that differs, or K + 1 when only the counts do.
                let position = (0..=k)
                    .find(|&j| c.tokens[j] != g.tokens[j])
                    .unwrap_or(k + 1);
                let at = |o: &specsim::compat::CompatOutcome| {
                    (
                        o.num_accepted,
                        o.tokens.get(position).copied().unwrap_or(-1),
                    )
                };
                report.engine_mismatches.push(EngineMismatch {
                    round: (r0 + r) as u64,
                    position,
                    cpu: at(c),
                    gpu: at(g),
                });
            }
        }
        report.rounds += m as u64;
        Ok(())
    })?;
    progress.finish();
    Ok(())
}
