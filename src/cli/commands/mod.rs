//! One file per command; `run` dispatches. Shared here: output to stdout and the engine choice.

mod bench;
mod round;
mod run;
mod study;
mod verify;

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;

use specsim::cpu::Recovery;
use specsim::gpu::GpuContext;

use super::args::{Cli, Command, EngineChoice};

pub fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Round { path, rule, input } => round::cmd_round(path, rule, input),
        Command::Run {
            batch,
            engine,
            out,
            format,
            validate,
            rule,
            recovery,
            seed,
            input,
        } => {
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
            )
        }
        Command::Bench {
            quick,
            json,
            engine,
        } => bench::cmd_bench(quick, json, engine),
        Command::Verify(a) => verify::cmd_verify(a),
        Command::Study(a) => study::cmd_study(a),
    }
}

/// Prints to stdout; a closed pipe (e.g. `| head`) ends quietly instead of panicking.
pub fn emit(text: &str) {
    let mut out = std::io::stdout().lock();
    if out
        .write_all(text.as_bytes())
        .and_then(|_| out.flush())
        .is_err()
    {
        std::process::exit(0);
    }
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
