//! The CPU twin of `shaders/compat.wgsl`: the chain token rule under a compatibility profile
//! (SPEC §14), every round decided by the reference (`specsim::compat::decide_chain`, which
//! computes on the f32 values exactly as the kernel does in integers: exact products, IEEE f32
//! sums, residuals and products), in parallel on the engine's threads.

use crate::compat::{BatchRef, CompatOutcome, Profile};
use crate::error::Result;

/// Every round of `b` under `profile`; the lowest refused round refuses the batch.
pub fn decide_batch(b: &BatchRef, profile: Profile) -> Result<Vec<CompatOutcome>> {
    crate::compat::decide_batch(b, profile)
}
