//! CPU twin of `shaders/tree/spectr.wgsl`: `spectr` at one node in f32. The node's values
//! `[ρ, C, D]` come from [`spectr_f32`] (f64, from the node's f32 rows; `[1, 1, 1]` with one
//! child, without reading them). Child x is accepted iff `coin · fl(ρ q[x]) < t[x]`, decided
//! exactly; the correction's vector is `max(t − fl(C q), 0)` where `fl(ρ q) ≤ t` and
//! `max(t − fl(D t), 0)` elsewhere (IEEE products and subtractions, as the shader's integer
//! forms).

use super::{CpuTreeRule, Node, Scratch, Step, choose, residual};
use crate::cpu::Recovery;
use crate::exact::{accepts_native, mul_native};
use crate::reference::tree::spectr_f32;
use crate::rule::tree::Spectr;

impl CpuTreeRule for Spectr {
    fn step(node: &Node, rec: &Recovery, s: &mut Scratch) -> Step {
        let view = node.view;
        let m = node.children.len();
        let values_of = s.node_values.unwrap_or(spectr_f32);
        let Scratch {
            t: tb,
            q: qb,
            u,
            params,
            ..
        } = s;
        // The node's rows where they lie in the batch (converted into the scratch only where
        // they are not aligned f32), read where the values or the correction need them.
        let values = if m >= 2 {
            values_of(node.target_row(tb), node.draft_row(qb), m, *params)
        } else {
            values_of(&[], &[], m, *params)
        };
        let [rho, c, d] = values.map(f32::from_bits);
        for &ch in node.children {
            let x = node.token(ch);
            let tx = view.target.get_f32(node.t_at + x).abs();
            let qx = view.draft.get_f32(node.q_at + x).abs();
            let y = f32::from_bits(mul_native(rho, qx));
            if accepts_native(node.coin(ch as usize), y, tx) {
                return Step::Accept(ch as usize);
            }
        }
        let (t, q) = (node.target_row(tb), node.draft_row(qb));
        u.clear();
        u.extend(t.iter().zip(q).map(|(&t, &q)| {
            let (t, q) = (t.abs(), q.abs());
            if mul_native(rho, q) <= t.to_bits() {
                residual(t, c, q)
            } else {
                residual(t, d, t)
            }
        }));
        Step::Stop(choose(u, t, rec, node.r as u64, node.pos))
    }
}
