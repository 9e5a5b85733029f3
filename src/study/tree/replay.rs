//! `verify --study --tree`: a tree study's first rounds replayed on both engines and the
//! reference.

use super::{Rows, TreeStudyConfig, eagle2};
use crate::batch::Rounds;
use crate::cpu::Recovery;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::rule::Rule;
use crate::topology::shape::Build;

/// `verify --study --tree`: the first `sample` rounds of a tree study under `rule`, its rows and
/// children's tokens exactly as the GPU study makes them (a static tree's rows generated on the
/// device where the adapter can, and verified there; an `eagle2` tree's grown on the host),
/// decided by the GPU and by the CPU engine (equal required) and by the f64 reference (every
/// difference classified).
pub fn replay(
    cfg: &TreeStudyConfig,
    rule: Rule,
    g: &mut crate::gpu::GpuContext,
    sample: u64,
) -> Result<crate::compare::VerifyReport> {
    let (n, v) = (cfg.tree.nodes(), cfg.workload.vocab);
    let grown = match cfg.tree.build {
        Build::Eagle2(e) => {
            eagle2::check_rule(&cfg.tree.spec, rule)?;
            Some(e)
        }
        _ => None,
    };
    let tree = match grown {
        Some(_) => &cfg.tree.tree,
        None => cfg.tree.static_tree()?,
    };
    if rule.needs_distinct_siblings() && tree.max_children() > v {
        return Err(Error::Config(format!(
            "--rule {rule} needs distinct sibling tokens: {} has a node with {} children, more than V = {v}",
            cfg.tree.spec,
            tree.max_children()
        )));
    }
    let mut report = crate::compare::VerifyReport {
        rule,
        engines: vec!["cpu".into(), "gpu".into()],
        adapter: Some(crate::gpu::describe(g.adapter_info())),
        ..Default::default()
    };
    // Static trees' rows as the study makes them: on the device where the adapter can generate
    // rows of V (verified there), else on the host.
    let on_device = grown.is_none() && g.check_generation(v).is_ok();
    let mut chunk = crate::chunk::rounds_within_budget((2 * n + 1) * v * 4);
    if on_device {
        chunk = chunk.min(g.rounds_per_chunk(n, v)?);
    }
    for (r0, m) in crate::chunk::chunks(sample.min(cfg.rounds), chunk) {
        let rec = Recovery {
            mode: cfg.recovery,
            seed: cfg.seed,
            round_offset: r0,
        };
        let mut check =
            |view: &Rounds<'_>, g: &mut crate::gpu::GpuContext, resident| -> Result<()> {
                let cpu = Engine::run(&mut crate::cpu::CpuEngine::default(), view, rule, rec)?;
                let gpu = match resident {
                    Some(rows) => crate::engine::run_resident(g, view, rule, rec, rows)?,
                    None => Engine::run(g, view, rule, rec)?,
                };
                report.gpu_rounds_finished_on_cpu += std::mem::take(&mut g.finished_on_cpu);
                crate::compare::compare_engines(&cpu, &gpu, r0, &mut report);
                crate::compare::compare_reference(view, &cpu, rule, cfg.recovery, r0, &mut report);
                Ok(())
            };
        match grown {
            Some(e) => {
                let b = eagle2::grow_chunk(&cfg.workload, cfg.seed, e, r0, m)?;
                check(&b.view()?, g, None)?
            }
            None if on_device => {
                let (batch, resident) =
                    g.generate_tree_rows(&super::device::generation(cfg), r0, m, n)?;
                let rows = Rows { batch };
                let tokens = rows.tokens(tree, rule, cfg.seed, r0)?;
                check(&rows.rounds(tree, &tokens), g, Some(&resident))?;
            }
            None => {
                let rows = Rows::generate(cfg, r0, m);
                let tokens = rows.tokens(tree, rule, cfg.seed, r0)?;
                check(&rows.rounds(tree, &tokens), g, None)?;
            }
        }
        report.rounds += m as u64;
    }
    Ok(report)
}
