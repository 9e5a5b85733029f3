//! CPU twin of `shaders/tree/sglang.wgsl`: `sglang:ts:ta` at one node in f32: `S_j` is the IEEE
//! f32 running sum of `p[tok(c_i)]`; child j is accepted iff `p[tok(c_j)] ≥ ts` or `coin · ta ≤
//! S_j` (decided exactly, as the negation of `S_j < coin · ta`). The correction is the target row
//! with the children's tokens set to 0 (argmax or sampled; the row itself when that is zero
//! everywhere).

use super::{CpuTreeRule, Node, Scratch, Step};
use crate::cpu::Recovery;
use crate::exact::{accepts_scaled_native, add_native};
use crate::rule::tree::Sglang;

impl CpuTreeRule for Sglang {
    fn step(node: &Node, rec: &Recovery, s: &mut Scratch) -> Step {
        let (view, u) = (node.view, node.u);
        let [ts, ta] = s.params;
        let coin = node.coin(u);
        let mut sum = 0.0f32;
        for &c in node.children {
            let p = view.target.get_f32(node.t_at + node.token(c)).abs();
            sum = f32::from_bits(add_native(sum, p));
            if p >= ts || !accepts_scaled_native(sum, 1.0, coin, ta) {
                return Step::Accept(c as usize);
            }
        }
        node.stop_masked(rec, s)
    }
}
