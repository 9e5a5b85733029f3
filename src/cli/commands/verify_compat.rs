//! `specsim verify BATCH --compat P [--rule R]`: a batch under a compatibility profile on both
//! engines, compared round by round: the CPU engine is the reference itself, so the GPU kernels
//! (`shaders/compat.wgsl` for the token rule, the tree kernel with the profile's step for
//! `greedy` and `target-only`) must equal it exactly: tokens, counts, FlashInfer's passes and a
//! tree's accepted nodes.

use anyhow::{Result, bail};

use specsim::Rule;
use specsim::compare::{VerifyReport, push_mismatch};
use specsim::compat::Profile;
use specsim::gpu::{GpuContext, describe};
use specsim::npyio::BatchFile;

use super::compat_source::{CompatSource, TreeSource, offset};
use super::{Progress, in_chunks, open_gpu};
use crate::cli::args::{EngineChoice, VerifyArgs};

pub fn verify_compat(
    a: &VerifyArgs,
    profile: Profile,
    rule: Rule,
    report: &mut VerifyReport,
) -> Result<()> {
    profile.check_rule(rule)?;
    if a.study || a.generate.is_some() {
        bail!(
            "verify --compat checks a batch file (with its final_coins or exp_noise): give BATCH, not --generate or --study"
        );
    }
    let Some(path) = &a.batch else {
        bail!("verify --compat: give a BATCH");
    };
    let file = BatchFile::open(path)?;
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
    let named = |e: specsim::Error, r0: usize| {
        anyhow::anyhow!("{}: {}", path.display(), offset(e.to_string(), r0))
    };
    if rule != Rule::Token {
        return verify_tree(&file, profile, rule, gpu.as_mut(), a.quiet, report, &named);
    }
    let src = CompatSource::open(&file)?;
    let mut progress = Progress::new("verify --compat", src.view.n as u64, a.quiet);
    in_chunks(src.view.n, src.bytes_per_round(), &mut progress, |r0, m| {
        let chunk = src.chunk(r0, m);
        let b = chunk.batch();
        let cpu = specsim::cpu::compat::decide_batch(&b, profile).map_err(|e| named(e, r0))?;
        if let Some(g) = gpu.as_mut() {
            let (res, unfinished) = g.run_compat(&b, profile).map_err(|e| named(e, r0))?;
            report.gpu_rounds_finished_on_cpu += unfinished;
            compare_rounds(
                report,
                r0,
                &cpu,
                &res,
                |c| (c.num_accepted, &c.tokens),
                |c, g| {
                    (c.num_passed != g.num_passed)
                        .then(|| format!("passed: cpu {}, gpu {}", c.num_passed, g.num_passed))
                },
            );
        }
        report.rounds += m as u64;
        Ok(())
    })?;
    progress.finish();
    Ok(())
}

/// `greedy` or `target-only` under the profile on a tree batch (or a chain read as the path
/// tree): the reference against the tree kernel with the profile's step.
fn verify_tree(
    file: &BatchFile,
    profile: Profile,
    rule: Rule,
    mut gpu: Option<&mut GpuContext>,
    quiet: bool,
    report: &mut VerifyReport,
    named: &dyn Fn(specsim::Error, usize) -> anyhow::Error,
) -> Result<()> {
    let src = TreeSource::open(file, rule)?;
    let n = src.rounds.n;
    let mut progress = Progress::new("verify --compat", n as u64, quiet);
    in_chunks(n, src.bytes_per_round(), &mut progress, |r0, m| {
        let chunk = src.chunk(r0, m);
        let b = chunk.batch();
        let cpu = specsim::cpu::tree::compat::decide_batch(&b, profile, rule)
            .map_err(|e| named(e, r0))?;
        if let Some(g) = gpu.as_deref_mut() {
            let (res, unfinished, beyond) = g
                .run_compat_tree(&b, profile, rule)
                .map_err(|e| named(e, r0))?;
            report.gpu_rounds_finished_on_cpu += unfinished + beyond;
            compare_rounds(
                report,
                r0,
                &cpu,
                &res,
                |c| (c.num_accepted, &c.tokens),
                |c, g| {
                    (c.nodes != g.nodes)
                        .then(|| format!("accepted nodes: cpu {:?}, gpu {:?}", c.nodes, g.nodes))
                },
            );
        }
        report.rounds += m as u64;
        Ok(())
    })?;
    progress.finish();
    Ok(())
}

/// Adds to `report` each round of a chunk (from round `r0`) where the GPU's outcome differs from
/// the CPU's: its count and tokens (`key`), and what else differs (`detail`).
fn compare_rounds<T>(
    report: &mut VerifyReport,
    r0: usize,
    cpu: &[T],
    gpu: &[T],
    key: impl Fn(&T) -> (u32, &[i32]),
    detail: impl Fn(&T, &T) -> Option<String>,
) {
    for (r, (c, g)) in cpu.iter().zip(gpu).enumerate() {
        push_mismatch(report, (r0 + r) as u64, key(c), key(g), detail(c, g));
    }
}
