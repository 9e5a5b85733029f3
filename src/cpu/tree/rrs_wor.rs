//! CPU twin of `shaders/tree/rrs_wor.wgsl`: `rrs-wor` at one node: the walk of `rrs.rs`, each
//! rejected token's residual entry frozen and its draft mass removed from `W_j`.

use super::rrs::rrs_step;
use super::{CpuTreeRule, Node, Scratch, Step};
use crate::cpu::Recovery;
use crate::rule::tree::RrsWor;

impl CpuTreeRule for RrsWor {
    fn step(node: &Node, rec: &Recovery, s: &mut Scratch) -> Step {
        rrs_step(true, node, rec, s)
    }
}
