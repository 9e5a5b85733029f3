//! `specsim run --compat P`: a batch decided under a compatibility profile (SPEC §14), chunk by
//! chunk, on the engine asked for: the chain token rule (`Engine::compat_chain`: the reference on
//! all cores, or the GPU kernel `shaders/compat.wgsl`), `greedy` and `target-only` on a tree or
//! chain batch (`Engine::compat_tree`: the reference, or the tree kernel with the profile's step).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;

use specsim::Rule;
use specsim::compat::Profile;
use specsim::npyio::{BatchFile, NpzValues, write_npz};

use super::compat_source::{CompatSource, TreeSource, offset};
use super::{Progress, emit, in_chunks, open_engine};
use crate::cli::args::EngineChoice;

pub fn cmd_run_compat(
    batch: &Path,
    engine: EngineChoice,
    out: Option<PathBuf>,
    rule: Rule,
    profile: Profile,
    quiet: bool,
) -> Result<ExitCode> {
    profile.check_rule(rule)?;
    if let Some(o) = &out {
        specsim::output::check_target(o)?;
    }
    let file = BatchFile::open(batch)?;
    if rule != Rule::Token {
        return run_tree(batch, &file, engine, out, rule, profile, quiet);
    }
    let src = CompatSource::open(&file)?;
    let (n, k, v) = (src.view.n, src.view.k, src.view.v);
    // The token rule's profiles on the engine asked for (`auto`: a hardware GPU, else the CPU).
    let mut eng = open_engine(engine)?;
    let mut progress = Progress::new("run --compat", n as u64, quiet);
    progress.set_message(profile.name());
    let (mut tokens, mut acc, mut passed) = (Vec::new(), Vec::new(), Vec::new());
    in_chunks(n, src.bytes_per_round(), &mut progress, |r0, m| {
        let chunk = src.chunk(r0, m);
        let outs = eng
            .compat_chain(&chunk.batch(), profile)
            .map_err(|e| anyhow::anyhow!("{}: {}", batch.display(), offset(e.to_string(), r0)))?;
        for o in outs {
            tokens.extend_from_slice(&o.tokens);
            acc.push(o.num_accepted as i32);
            passed.push(o.num_passed as i32);
        }
        Ok(())
    })?;
    progress.finish();
    for note in eng.notices() {
        eprintln!("specsim: {note}");
    }
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
        "{n} rounds (K = {k}, V = {v}) under the {profile} profile ({}): mean accepted {:.4}, mean generated {:.4}, mean passed {:.4}{}\n",
        eng.describe(),
        mean(&acc),
        mean(&generated),
        mean(&passed),
        out.as_ref()
            .map_or(String::new(), |o| format!("; wrote {}", o.display()))
    ))?;
    Ok(ExitCode::SUCCESS)
}

/// `greedy` or `target-only` under the profile, on a tree batch or a chain read as the path tree,
/// on the engine asked for (`Engine::compat_tree`).
fn run_tree(
    batch: &Path,
    file: &BatchFile,
    engine: EngineChoice,
    out: Option<PathBuf>,
    rule: Rule,
    profile: Profile,
    quiet: bool,
) -> Result<ExitCode> {
    let src = TreeSource::open(file, rule)?;
    let (n, v, nn) = (src.rounds.n, src.rounds.v, src.rounds.topology.nodes());
    let depth = src.rounds.topology.depth();
    let mut eng = open_engine(engine)?;
    let mut progress = Progress::new("run --compat", n as u64, quiet);
    progress.set_message(profile.name());
    let (mut tokens, mut nodes, mut acc) = (Vec::new(), Vec::new(), Vec::new());
    in_chunks(n, src.bytes_per_round(), &mut progress, |r0, m| {
        let chunk = src.chunk(r0, m);
        let outs = eng
            .compat_tree(&chunk.batch(), profile, rule)
            .map_err(|e| anyhow::anyhow!("{}: {}", batch.display(), offset(e.to_string(), r0)))?;
        for mut o in outs {
            // A chunk of per-round trees pads to its own depth; the batch to its.
            o.tokens.resize(depth + 1, -1);
            o.nodes.resize(depth, -1);
            tokens.extend_from_slice(&o.tokens);
            nodes.extend_from_slice(&o.nodes);
            acc.push(o.num_accepted as i32);
        }
        Ok(())
    })?;
    progress.finish();
    for note in eng.notices() {
        eprintln!("specsim: {note}");
    }
    let generated: Vec<i32> = acc.iter().map(|a| a + 1).collect();
    if let Some(o) = &out {
        let (n64, d64) = (n as u64, depth as u64);
        write_npz(
            o,
            &[
                ("tokens", vec![n64, d64 + 1], NpzValues::I32(&tokens)),
                ("accepted_nodes", vec![n64, d64], NpzValues::I32(&nodes)),
                ("num_accepted", vec![n64], NpzValues::I32(&acc)),
                ("num_generated", vec![n64], NpzValues::I32(&generated)),
            ],
        )?;
    }
    let mean = |x: &[i32]| x.iter().map(|&a| a as f64).sum::<f64>() / n.max(1) as f64;
    emit(&format!(
        "{n} rounds ({nn}-node trees, depth {depth}, V = {v}) under the {profile} profile, rule {rule} ({}): mean accepted {:.4}, mean generated {:.4}{}\n",
        eng.describe(),
        mean(&acc),
        mean(&generated),
        out.as_ref()
            .map_or(String::new(), |o| format!("; wrote {}", o.display()))
    ))?;
    Ok(ExitCode::SUCCESS)
}
