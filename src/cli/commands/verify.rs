//! `specsim verify`: both engines and the f64 reference on a batch, generated rounds or a study.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};

use specsim::Rule;
use specsim::batch::{Rounds, Validation};
use specsim::chunk::{chunks, rounds_within_budget};
use specsim::compare::adversarial_tree::{adversarial_eagle2_batch, adversarial_tree_batch};
use specsim::compare::{VerifyReport, adversarial_batch_rule, compare_engines, compare_reference};
use specsim::cpu::{CpuEngine, Recovery};
use specsim::engine::Engine;
use specsim::gpu::{GpuContext, describe};
use specsim::npyio::{BatchFile, write_batch_dir, write_tree_batch_dir};
use specsim::study::tree::vector::FamilyTree;
use specsim::topology::shape::{Build, TreeShape};

use super::run::bytes_per_round;
use super::{Progress, emit_status, in_chunks, open_gpu};
use crate::cli::args::{EngineChoice, VerifyArgs};
use crate::cli::settings::{parse_k_list, replay_configs, replay_tree_configs};

/// Runs the engines and the reference on one (validated) chunk of rounds, chain or tree.
fn verify_chunk(
    rounds: &Rounds,
    gpu: Option<&mut GpuContext>,
    rule: Rule,
    rec: Recovery,
    report: &mut VerifyReport,
) -> Result<()> {
    let r0 = rec.round_offset;
    let cpu = Engine::run(&mut CpuEngine::default(), rounds, rule, rec)?;
    if let Some(g) = gpu {
        let gres = Engine::run(g, rounds, rule, rec)?;
        report.gpu_rounds_finished_on_cpu += std::mem::take(&mut g.finished_on_cpu);
        compare_engines(&cpu, &gres, r0, report);
    }
    compare_reference(rounds, &cpu, rule, rec.mode, r0, report);
    report.rounds += rounds.n as u64;
    Ok(())
}

/// Rounds generated and checked at a time by `--generate N` for rounds of `per_round` bytes of
/// rows (`what` names them): `--chunk`, or the chunk budget's worth
/// ([`specsim::chunk::CHUNK_BYTES`]); at most 2 GiB of rows whatever `--chunk` says; one chunk
/// with `--save`.
fn generate_chunk(a: &VerifyArgs, n: u64, per_round: usize, what: &str) -> Result<usize> {
    let max_chunk = ((2usize << 30) / per_round).max(1);
    if a.chunk > max_chunk {
        bail!(
            "--chunk {}: {} rounds of {what} would hold more than 2 GiB of rows (at most {max_chunk})",
            a.chunk,
            a.chunk
        );
    }
    let chunk = if a.chunk > 0 {
        a.chunk
    } else {
        rounds_within_budget(per_round)
    };
    if a.save.is_some() && n > chunk as u64 {
        bail!("--save writes one chunk: use --generate N with N <= --chunk ({chunk})");
    }
    Ok(chunk)
}

pub fn cmd_verify(a: VerifyArgs) -> Result<ExitCode> {
    crate::cli::settings::no_batch_sizes(&a.w, "verify")?;
    let opts = a.input.round_options();
    let seed = a.w.seed.unwrap_or(1);
    let rules = Rule::parse_list(a.w.rule.as_deref().unwrap_or("token"))?;
    let [rule] = rules[..] else {
        bail!("verify checks one rule at a time: give one --rule");
    };
    let tree = match &a.w.trees[..] {
        [] => None,
        [one] => {
            if !rule.is_tree() {
                bail!(
                    "--tree needs a tree rule ({}), not --rule {rule}",
                    Rule::tree_names()
                );
            }
            let shape = one.parse::<TreeShape>()?;
            if let Build::Static = shape.build {
                rule.check_branches(shape.tree.max_children(), &format!("--tree {one}"))?;
            }
            Some(shape)
        }
        _ => bail!("verify checks one tree at a time: give one --tree"),
    };
    let mut report = VerifyReport {
        rule,
        engines: vec!["cpu".into()],
        ..Default::default()
    };
    let t0 = Instant::now();
    if let Some(profile) = a.compat {
        super::verify_compat::verify_compat(&a, profile, rule, &mut report)?;
    } else if a.study {
        if a.batch.is_some() || a.generate.is_some() {
            bail!("--study replays a generated study: give no BATCH and no --generate");
        }
        let mut g = GpuContext::new().context("--study replays a GPU study and needs a GPU")?;
        report.engines.push("gpu".into());
        report.adapter = Some(describe(g.adapter_info()));
        if let Some(shape) = &tree {
            for cfg in replay_tree_configs(&a.w, shape, a.sample.max(1), seed)? {
                let r = specsim::study::tree::replay(&cfg, rule, &mut g, a.sample)?;
                report.generated = Some(format!(
                    "tree study {} ({} nodes), V = {}, seed {}",
                    shape.spec,
                    shape.nodes(),
                    cfg.workload.vocab,
                    cfg.seed
                ));
                report.rounds += r.rounds;
                report.gpu_rounds_finished_on_cpu += r.gpu_rounds_finished_on_cpu;
                report.engine_mismatches.extend(r.engine_mismatches);
                report.reference_diffs.extend(r.reference_diffs);
            }
        }
        let cfgs = match tree {
            Some(_) => Vec::new(),
            None => replay_configs(&a.w, a.sample.max(1), seed)?,
        };
        for cfg in &cfgs {
            let r = specsim::study::replay(cfg, &mut g, a.sample)?;
            report.rounds += r.rounds;
            report.engine_mismatches.extend(r.engine_mismatches);
            report.reference_diffs.extend(r.reference_diffs);
        }
    } else {
        let mut gpu = if a.cpu_only {
            None
        } else {
            open_gpu(EngineChoice::Auto, true)?
        };
        if let Some(g) = &gpu {
            report.engines.push("gpu".into());
            report.adapter = Some(describe(g.adapter_info()));
        }
        let rec = |round_offset| Recovery {
            mode: a.w.recovery.into(),
            seed,
            round_offset,
        };
        match (&a.batch, a.generate) {
            (Some(_), Some(_)) => bail!("give either a BATCH or --generate N, not both"),
            (None, None) => bail!("give a BATCH to verify, --generate N, or --study"),
            (Some(_), None) if tree.is_some() => {
                bail!(
                    "--tree shapes generated rounds (--generate N); a batch file carries its own parents"
                )
            }
            (None, Some(n)) if tree.is_some() => {
                let mut shape = tree.clone().expect("checked");
                let vocab = a.w.vocab.unwrap_or(32000);
                if let Build::SequoiaFamily { .. } = shape.build {
                    // The vector from the workload flags' family at this V (as `study` and
                    // `specsim tree` build it).
                    let opts = specsim::study::options::StudyOptions {
                        vocab: Some(vocab),
                        seed: Some(seed),
                        ..crate::cli::settings::study_options(&a.w)?
                    };
                    shape = FamilyTree::build(&shape, &opts, rule)?.shape;
                }
                let grown = match shape.build {
                    Build::Eagle2(e) => {
                        specsim::study::tree::eagle2::check_rule(&shape.spec, rule)?;
                        e.check(vocab)?;
                        Some(e)
                    }
                    _ => None,
                };
                let nodes = shape.nodes();
                report.generated = Some(match grown {
                    Some(e) => format!(
                        "trees {} grown per round ({nodes} nodes, depth <= {}), V = {vocab}, seed {seed}",
                        shape.spec,
                        e.max_depth()
                    ),
                    None => format!(
                        "tree {} ({nodes} nodes, depth {}), V = {vocab}, seed {seed}",
                        shape.spec,
                        shape.tree.depth()
                    ),
                });
                if rule.needs_distinct_siblings() && shape.tree.max_children() > vocab {
                    bail!(
                        "--rule {rule} needs distinct sibling tokens: a node of {} has {} children, more than V = {vocab}",
                        shape.spec,
                        shape.tree.max_children()
                    );
                }
                specsim::study::options::check_round_size(nodes, vocab)?;
                let what = format!("a {nodes}-node tree at V = {vocab}");
                let chunk = generate_chunk(&a, n, 2 * nodes * vocab * 4, &what)?;
                let mut progress = Progress::new("verify", n, a.quiet);
                for (r0, m) in chunks(n, chunk) {
                    let b = match grown {
                        Some(e) => adversarial_eagle2_batch(e, r0, m, vocab, seed)?,
                        None => adversarial_tree_batch(&shape.tree, r0, m, vocab, seed, rule),
                    };
                    if let Some(dir) = &a.save {
                        write_tree_batch_dir(dir, &b)?;
                    }
                    let view = b.view()?;
                    view.validate(&opts, Validation::Full, rule)
                        .map_err(|e| e.offset_round(r0))
                        .context("the generator made an invalid round (a bug)")?;
                    verify_chunk(&view, gpu.as_mut(), rule, rec(r0), &mut report)?;
                    progress.inc(m as u64);
                }
                progress.finish();
            }
            (Some(path), None) => {
                let file = BatchFile::open(path)?;
                let rounds = file.rounds()?;
                if !rounds.is_chain() && !rule.is_tree() {
                    bail!(
                        "{} is a tree batch: give a tree rule (--rule {})",
                        path.display(),
                        Rule::tree_names()
                    );
                }
                rounds.check_shapes()?;
                let mut progress = Progress::new("verify", rounds.n as u64, a.quiet);
                in_chunks(
                    rounds.n,
                    bytes_per_round(&rounds),
                    &mut progress,
                    |r0, m| {
                        let part = rounds.rounds(r0, m);
                        part.validate(&opts, Validation::Full, rule)
                            .map_err(|e| e.offset_round(r0 as u64))?;
                        verify_chunk(&part, gpu.as_mut(), rule, rec(r0 as u64), &mut report)
                    },
                )?;
                progress.finish();
            }
            (None, Some(n)) => {
                let ks = parse_k_list(a.w.k.as_deref().unwrap_or("8"))?;
                let [k] = ks[..] else {
                    bail!("--generate takes one --k value, not {ks:?}");
                };
                let vocab = a.w.vocab.unwrap_or(32000);
                report.generated = Some(format!("K = {k}, V = {vocab}, seed {seed}"));
                specsim::study::options::check_round_size(k, vocab)?;
                let what = format!("K = {k}, V = {vocab}");
                let chunk = generate_chunk(&a, n, (2 * k + 1) * vocab * 4, &what)?;
                let mut progress = Progress::new("verify", n, a.quiet);
                for (r0, m) in chunks(n, chunk) {
                    let b = adversarial_batch_rule(r0, m, k, vocab, seed, rule);
                    if let Some(dir) = &a.save {
                        write_batch_dir(dir, &b)?;
                    }
                    let view = Rounds::chain(&b.view());
                    view.validate(&opts, Validation::Full, rule)
                        .map_err(|e| e.offset_round(r0))
                        .context("the generator made an invalid round (a bug)")?;
                    verify_chunk(&view, gpu.as_mut(), rule, rec(r0), &mut report)?;
                    progress.inc(m as u64);
                }
                progress.finish();
            }
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    if a.json {
        emit_status(
            &format!("{}\n", serde_json::to_string_pretty(&report)?),
            report.passed(),
        )?;
    } else {
        let mut s = String::new();
        s += &format!("rule                      {}\n", report.rule);
        if let Some(p) = &report.compat {
            s += &format!("compat profile            {p}\n");
        }
        if let Some(g) = &report.generated {
            s += &format!("generated                 {g}\n");
        }
        s += &format!("rounds compared           {}\n", report.rounds);
        s += &format!("engines                   {}\n", report.engines.join(", "));
        if let Some(ad) = &report.adapter {
            s += &format!("adapter                   {ad}\n");
        }
        s += &format!(
            "engine mismatches         {}\n",
            report.engine_mismatches.len()
        );
        if report.gpu_rounds_finished_on_cpu > 0 {
            s += &format!(
                "gpu rounds finished on cpu {} (beyond the adapter's loop budget per invocation, or the kernels' limits)\n",
                report.gpu_rounds_finished_on_cpu
            );
        }
        for m in report.engine_mismatches.iter().take(20) {
            s += &format!(
                "  round {} position {}: cpu (accepted {}, token {}) vs gpu (accepted {}, token {}){}\n",
                m.round,
                m.position,
                m.cpu.0,
                m.cpu.1,
                m.gpu.0,
                m.gpu.1,
                m.detail
                    .as_ref()
                    .map_or(String::new(), |d| format!("; {d}"))
            );
        }
        s += &format!(
            "f32 vs f64 reference      {} rounds differ\n",
            report.reference_diffs.len()
        );
        for (class, count) in report.diff_counts() {
            s += &format!(
                "  {:<28} {count}\n",
                serde_json::to_string(&class)?.trim_matches('"')
            );
        }
        for d in report.reference_diffs.iter().take(10) {
            s += &format!(
                "  round {}: engine (accepted {}, token {}) vs reference (accepted {}, token {}): {}\n",
                d.round, d.engine.0, d.engine.1, d.reference.0, d.reference.1, d.detail
            );
        }
        s += &format!("time                      {secs:.2} s\n");
        s += &format!(
            "verdict                   {}\n",
            if report.passed() { "PASS" } else { "FAIL" }
        );
        emit_status(&s, report.passed())?;
    }
    Ok(if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
