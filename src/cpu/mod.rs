//! The CPU engine: f32, parallel over rounds on all cores. One module per shader, same name
//! (`verify.rs` ↔ `shaders/verify.wgsl`), so that the two read side by side.

pub mod verify;

pub use verify::{Recovery, RecoveryMode};

use crate::batch::{BatchResult, BatchView};
use crate::error::{Error, Result};

/// The CPU batch engine.
#[derive(Clone, Copy, Debug, Default)]
pub struct CpuEngine {
    /// Worker threads; `None` uses rayon's global pool (all cores).
    pub threads: Option<usize>,
    /// Recovery mode (argmax by default) and its randomness.
    pub recovery: Recovery,
}

impl CpuEngine {
    /// Runs a validated batch.
    pub fn run(&self, view: &BatchView) -> Result<BatchResult> {
        match self.threads {
            None => Ok(verify::run(view, &self.recovery)),
            Some(t) => {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(t)
                    .build()
                    .map_err(|e| Error::Config(format!("cannot start {t} CPU threads: {e}")))?;
                Ok(pool.install(|| verify::run(view, &self.recovery)))
            }
        }
    }
}
