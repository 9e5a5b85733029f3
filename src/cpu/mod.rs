//! The CPU engine: f32, parallel over rounds on all cores. One module per shader, same name
//! (`verify.rs` ↔ `shaders/verify.wgsl`, `block.rs` ↔ `shaders/block.wgsl`), so that the two
//! read side by side.

pub mod block;
pub mod verify;

pub use verify::{Recovery, RecoveryMode};

use crate::batch::{BatchResult, BatchView};
use crate::error::{Error, Result};
use crate::rule::Rule;

/// The CPU batch engine.
#[derive(Clone, Copy, Debug, Default)]
pub struct CpuEngine {
    /// Worker threads; `None` uses rayon's global pool (all cores).
    pub threads: Option<usize>,
    /// Recovery mode (argmax by default) and its randomness.
    pub recovery: Recovery,
}

impl CpuEngine {
    /// Runs a validated batch with the token rule.
    pub fn run(&self, view: &BatchView) -> Result<BatchResult> {
        self.run_rule(view, Rule::Token)
    }

    /// Runs a validated batch under `rule`.
    pub fn run_rule(&self, view: &BatchView, rule: Rule) -> Result<BatchResult> {
        let work = || match rule {
            Rule::Token => verify::run(view, &self.recovery),
            Rule::Block => block::run(view, &self.recovery),
        };
        match self.threads {
            None => Ok(work()),
            Some(t) => {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(t)
                    .build()
                    .map_err(|e| Error::Config(format!("cannot start {t} CPU threads: {e}")))?;
                Ok(pool.install(work))
            }
        }
    }
}
