//! CPU twin of `shaders/tree/greedy.wgsl`: `greedy` at one node in f32: the argmax of the target
//! row (exact), compared with each child's token.

use super::{CpuTreeRule, Node, Scratch, Step};
use crate::cpu::verify::argmax_target;
use crate::cpu::{Recovery, RecoveryMode};
use crate::rule::tree::Greedy;

impl CpuTreeRule for Greedy {
    fn step(node: &Node, rec: &Recovery, s: &mut Scratch) -> Step {
        let best = argmax_target(node.target_row(&mut s.t)) as usize;
        if let Some(&c) = node.children.iter().find(|&&c| node.token(c) == best) {
            return Step::Accept(c as usize);
        }
        if rec.mode != RecoveryMode::Sample {
            // The masked argmax is `best` itself: no child holds it, and where the row is zero
            // everywhere the fallback is the row's argmax, `best` again. One pass in all.
            return Step::Stop(best as u32);
        }
        node.stop_masked(rec, s)
    }
}
