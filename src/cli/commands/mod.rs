//! One file per command; `run` dispatches. Shared here: output to stdout and the engine choice.

mod bench;
mod bench_paths;
mod compat_source;
mod conform;
mod cost;
mod distortion;
mod optimal;
mod round;
mod run;
mod run_compat;
mod study;
mod tree;
mod verify;
mod verify_compat;

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;

use specsim::cpu::Recovery;
use specsim::gpu::GpuContext;

use super::args::{Cli, Command, EngineChoice};

pub fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Round {
            path,
            rule,
            compat,
            input,
        } => round::cmd_round(path, rule, compat, input),
        Command::Run {
            batch,
            engine,
            out,
            format,
            validate,
            rule,
            recovery,
            seed,
            quiet,
            compat,
            input,
        } => {
            if let Some(profile) = compat {
                return run_compat::cmd_run_compat(&batch, engine, out, rule, profile, quiet);
            }
            let rec = Recovery {
                mode: recovery.into(),
                seed,
                round_offset: 0,
            };
            run::cmd_run(
                &batch,
                engine,
                out,
                format,
                validate.into(),
                rule,
                rec,
                input,
                quiet,
            )
        }
        Command::Bench {
            quick,
            json,
            engine,
        } => bench::cmd_bench(quick, json, engine),
        Command::Verify(a) => verify::cmd_verify(a),
        Command::Study(a) => study::cmd_study(a),
        Command::Merge(a) => study::cmd_merge(a),
        Command::Tree { spec, format, w } => tree::cmd_tree(&spec, format, &w),
        Command::Optimal(a) => optimal::cmd_optimal(a),
        Command::Distortion(a) => distortion::cmd_distortion(a),
        Command::Cost(a) => cost::cmd_cost(a),
        Command::Conform(a) => conform::cmd_conform(a),
    }
}

/// Prints to stdout. A closed pipe (e.g. `| head`) ends the process quietly, with the exit status
/// the command would have had (`ok`); any other write error (a full disk, `> /dev/full`) is an
/// error and a non-zero exit.
pub fn emit_status(text: &str, ok: bool) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            specsim::output::remove_temporaries();
            std::process::exit(if ok { 0 } else { 1 })
        }
        Err(e) => Err(anyhow::anyhow!("cannot write to standard output: {e}")),
    }
}

/// [`emit_status`] for a command that succeeded so far.
pub fn emit(text: &str) -> Result<()> {
    emit_status(text, true)
}

/// A GPU context, or `None` (the CPU engine) with the library's notice on stderr when `auto`
/// falls back (see [`specsim::engine::select`]).
pub fn open_gpu(choice: EngineChoice, allow_software: bool) -> Result<Option<GpuContext>> {
    let sel = specsim::engine::select(choice.into(), allow_software)?;
    if let Some(n) = &sel.notice {
        eprintln!("specsim: notice: {n}");
    }
    Ok(sel.gpu)
}

/// The engine to run on: a GPU, or the CPU engine (see [`open_gpu`]).
pub fn open_engine(choice: EngineChoice) -> Result<Box<dyn specsim::engine::Engine>> {
    Ok(match open_gpu(choice, false)? {
        Some(g) => Box::new(g),
        None => Box::new(specsim::cpu::CpuEngine::default()),
    })
}

/// Prints one JSON object per round (`line(r)`), in pieces of about 1 MiB.
pub fn emit_jsonl(n: usize, mut line: impl FnMut(usize) -> Result<String>) -> Result<()> {
    let mut s = String::new();
    for r in 0..n {
        s.push_str(&line(r)?);
        s.push('\n');
        if s.len() > 1 << 20 {
            emit(&s)?;
            s.clear();
        }
    }
    emit(&s)
}

pub use specsim::progress::Progress;

/// Runs `step(first, len)` over the chunks of `n` rounds of `bytes_per_round` bytes of rows (the
/// library's chunk budget), in order, advancing `progress` after each; stops at the first error. A
/// batch of no rounds is one empty chunk, so its checks still run.
pub fn in_chunks(
    n: usize,
    bytes_per_round: usize,
    progress: &mut Progress,
    mut step: impl FnMut(usize, usize) -> Result<()>,
) -> Result<()> {
    if n == 0 {
        return step(0, 0);
    }
    let cap = specsim::chunk::rounds_within_budget(bytes_per_round);
    for (first, len) in specsim::chunk::chunks(n as u64, cap) {
        step(first as usize, len)?;
        progress.inc(len as u64);
    }
    Ok(())
}
