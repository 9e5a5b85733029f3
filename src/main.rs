//! The `specsim` command line. Arguments are defined in `cli/args.rs`, resolved into the
//! library's settings in `cli/settings.rs`, and run by one file per command in `cli/commands/`;
//! this file only wires them.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::args::Cli::parse();
    match cli::commands::run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("specsim: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
