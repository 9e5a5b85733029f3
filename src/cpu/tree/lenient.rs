//! CPU twin of `shaders/tree/lenient.wgsl`: `lenient:l` at a node of a path tree in f32: the
//! child's token x is accepted iff `coin · q[x] · l < p[x]`, decided exactly; the correction's
//! vector is `max(p − fl(l · q), 0)` (the IEEE product, then the subtraction, as the shader's
//! integer forms), the target row where that is zero everywhere.

use super::{CpuTreeRule, Node, Scratch, Step, choose, residual};
use crate::cpu::Recovery;
use crate::exact::{ONE_BITS, accepts_ratio};
use crate::rule::tree::Lenient;

impl CpuTreeRule for Lenient {
    fn step(node: &Node, rec: &Recovery, s: &mut Scratch) -> Step {
        let view = node.view;
        let l = s.params[0];
        // A path tree: one child (validation refuses branches).
        let c = node.children[0];
        let x = node.token(c);
        let tx = view.target.get_f32(node.t_at + x).abs();
        let qx = view.draft.get_f32(node.q_at + x).abs();
        let coin = node.coin(c as usize).to_bits();
        if accepts_ratio(coin, qx.to_bits(), l.to_bits(), tx.to_bits(), ONE_BITS) {
            return Step::Accept(c as usize);
        }
        // The rows where they lie in the batch (converted only where not aligned f32).
        let Scratch { t, q, u, .. } = s;
        let (t, q) = (node.target_row(t), node.draft_row(q));
        u.clear();
        u.extend(t.iter().zip(q).map(|(&t, &q)| residual(t, l, q)));
        Step::Stop(choose(u, t, rec, node.r as u64, node.pos))
    }
}
