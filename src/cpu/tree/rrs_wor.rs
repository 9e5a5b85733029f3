//! CPU twin of `shaders/tree/rrs_wor.wgsl`: `rrs-wor` at one node: the walk of `rrs.rs`, each
//! rejected token's residual entry frozen and its draft mass removed from `W_j`.

use super::rrs::rrs_step;
use super::{CpuTreeRule, Scratch, Step};
use crate::batch::tree::TreeView;
use crate::cpu::Recovery;
use crate::rule::tree::RrsWor;

impl CpuTreeRule for RrsWor {
    fn step(view: &TreeView, r: usize, u: usize, rec: &Recovery, s: &mut Scratch) -> Step {
        rrs_step(true, view, r, u, rec, s)
    }
}
