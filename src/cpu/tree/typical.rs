//! CPU twin of `shaders/tree/typical.wgsl`: `typical:eps:delta` at a node of a path tree in f32:
//! the child's token x is accepted iff `p[x] > threshold`, the node's f32 threshold from
//! [`typical_threshold_f32`] (the value the GPU's host uploads); a rejection takes the target
//! row itself (sampled, or its argmax).

use super::{CpuTreeRule, Node, Scratch, Step};
use crate::cpu::Recovery;
use crate::cpu::verify::or_target;
use crate::reference::tree::typical_threshold_f32;
use crate::rule::tree::Typical;

impl CpuTreeRule for Typical {
    fn step(node: &Node, rec: &Recovery, s: &mut Scratch) -> Step {
        let t = node.target_row(&mut s.t);
        let values_of = s.node_values.unwrap_or(typical_threshold_f32);
        let threshold = f32::from_bits(values_of(t, &[], node.children.len(), s.params)[0]);
        // A path tree: one child (validation refuses branches).
        let c = node.children[0];
        let px = t[node.token(c)].abs();
        if px > threshold {
            return Step::Accept(c as usize);
        }
        Step::Stop(or_target(None, t, rec, node.r as u64, node.pos))
    }
}
