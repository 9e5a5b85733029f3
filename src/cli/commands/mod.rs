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
use specsim::gpu::{GpuContext, describe};

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
                mode: recovery,
                seed,
                round_offset: 0,
            };
            run::cmd_run(&batch, engine, out, format, validate, rule, rec, input)
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

/// A GPU context, or `None` with a notice when `auto` finds no usable adapter. With
/// `allow_software` false, `auto` passes over a software adapter (e.g. Mesa's llvmpipe, which runs
/// on the CPU and is slower than the CPU engine) and uses the CPU engine instead; `gpu` always
/// takes the adapter it finds.
pub fn open_gpu(choice: EngineChoice, allow_software: bool) -> Result<Option<GpuContext>> {
    match choice {
        EngineChoice::Cpu => Ok(None),
        EngineChoice::Gpu => Ok(Some(GpuContext::new()?)),
        EngineChoice::Auto => match GpuContext::new() {
            Ok(g) if !allow_software && g.adapter_info().device_type == wgpu::DeviceType::Cpu => {
                eprintln!(
                    "specsim: notice: the only GPU adapter is a software one ({}); using the CPU engine (--engine gpu runs on it anyway)",
                    describe(g.adapter_info())
                );
                Ok(None)
            }
            Ok(g) => Ok(Some(g)),
            Err(e) => {
                eprintln!("specsim: notice: no usable GPU ({e}); using the CPU engine");
                Ok(None)
            }
        },
    }
}
