//! The `specsim` command line. Arguments are defined in `cli/args.rs`, resolved into the
//! library's settings in `cli/settings.rs`, and run by one file per command in `cli/commands/`;
//! this file only wires them.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let _runtime_dir = private_runtime_dir();
    // SIGINT, SIGTERM and SIGHUP (one handler): delete the temporary files of outputs being
    // written, so an interrupted `--out` leaves nothing behind, then exit with status 130.
    let _ = ctrlc::set_handler(|| {
        specsim::output::remove_temporaries();
        std::process::exit(130);
    });
    let args = match cli::args::Cli::try_parse() {
        Ok(a) => a,
        Err(e) => {
            // Help, version and usage errors: clap's text and exit code, but a failed write
            // (e.g. `--help > /dev/full`) is an error too.
            if let Err(w) = e.print() {
                eprintln!("specsim: error: cannot write to standard output: {w}");
                return ExitCode::FAILURE;
            }
            return ExitCode::from(e.exit_code().clamp(0, 255) as u8);
        }
    };
    match cli::commands::run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("specsim: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Mesa prints `error: XDG_RUNTIME_DIR is invalid or not set in the environment` when it probes
/// an adapter on a headless machine, so the first thing a new user saw was the word "error".
/// When the variable is unset, the process gets a private runtime directory (mode 0700, removed
/// at exit); a set variable, valid or not, is left alone, so real errors still show.
fn private_runtime_dir() -> Option<tempfile::TempDir> {
    if std::env::var_os("XDG_RUNTIME_DIR").is_some() {
        return None;
    }
    let dir = tempfile::Builder::new()
        .prefix("specsim-runtime-")
        .tempdir()
        .ok()?;
    // SAFETY: the first statement of `main`, before any other thread exists.
    unsafe { std::env::set_var("XDG_RUNTIME_DIR", dir.path()) };
    specsim::output::register_temporary(dir.path());
    Some(dir)
}
