//! CPU twin of `shaders/tree/greedy.wgsl`: `greedy` at one node in f32: the argmax of the target
//! row (exact), compared with each child's token.

use super::{CpuTreeRule, Node, Scratch, Step};
use crate::cpu::Recovery;
use crate::cpu::verify::argmax_target;
use crate::rule::tree::Greedy;

impl CpuTreeRule for Greedy {
    fn step(node: &Node, rec: &Recovery, s: &mut Scratch) -> Step {
        node.fill_target(s);
        let best = argmax_target(&s.t) as usize;
        if let Some(&c) = node.children.iter().find(|&&c| node.token(c) == best) {
            return Step::Accept(c as usize);
        }
        node.stop_masked(rec, s)
    }
}
