//! The command line's own code (the binary, not the library): arguments → settings → commands.

pub mod args;
pub mod commands;
pub mod settings;
