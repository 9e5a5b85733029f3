//! The CPU twin of `shaders/tree/compat.wgsl`: the tree rules under a compatibility profile
//! (SPEC §14), every round decided by the reference (`specsim::compat::decide_tree`, which sums
//! in f32 under `sglang` and in f64 under `specsim`, as the kernel does in integers), in parallel
//! on the engine's threads.

use crate::compat::{Profile, TreeBatchRef, TreeCompatOutcome};
use crate::error::Result;
use crate::rule::Rule;

/// Every round of `b` under `profile` and `rule`; the lowest refused round refuses the batch.
pub fn decide_batch(
    b: &TreeBatchRef,
    profile: Profile,
    rule: Rule,
) -> Result<Vec<TreeCompatOutcome>> {
    crate::compat::decide_tree_batch(b, profile, rule)
}
