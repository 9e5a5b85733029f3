//! CPU twin of `shaders/tree/target_only.wgsl`: `target-only` at one node in f32: `S_j` is the
//! IEEE f32 running sum of `t[tok(c_i)]`; the coin is compared exactly with it. The correction is
//! the argmax of the target row with the children's tokens set to 0 (or of the row when that is
//! zero everywhere).

use super::{CpuTreeRule, Node, Scratch, Step};
use crate::cpu::Recovery;
use crate::exact::add_native;
use crate::rule::tree::TargetOnly;

impl CpuTreeRule for TargetOnly {
    fn step(node: &Node, rec: &Recovery, s: &mut Scratch) -> Step {
        let (view, u) = (node.view, node.u);
        let mut sum = 0.0f32;
        for &c in node.children {
            let t = view.target.get_f32(node.t_at + node.token(c)).abs();
            sum = f32::from_bits(add_native(sum, t));
            if node.coin(u) < sum {
                return Step::Accept(c as usize);
            }
        }
        node.stop_masked(rec, s)
    }
}
