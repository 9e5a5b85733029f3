//! CPU twin of `shaders/tree/rrs.wgsl`: `rrs` at one node in f32, without normalising any row
//! (the precision policy in `mod.rs`); the walk is shared with `rrs-wor` (`rrs_wor.rs`).

use super::{CpuTreeRule, Node, Scratch, Step, fill, lane_sum, lane_sum_slice, residual};
use super::{choose, or_target};
use crate::cpu::Recovery;
use crate::exact::{ONE_BITS, accepts_ratio, add_native, quotient_bits};
use crate::rule::tree::Rrs;

impl CpuTreeRule for Rrs {
    fn step(node: &Node, rec: &Recovery, s: &mut Scratch) -> Step {
        rrs_step(false, node, rec, s)
    }
}

/// The walk of `rrs` and (`wor`) `rrs-wor` at node `u`: with `a_0 = 0`, `N_0 = W_0 = 1`, child
/// j with token x is accepted iff `coin · q[x] · N_j < u_j[x] · W_j`, decided exactly (no
/// quotient: `N_j / W_j` may overflow where the remaining draft mass is tiny).
pub(super) fn rrs_step(wor: bool, node: &Node, rec: &Recovery, s: &mut Scratch) -> Step {
    let (view, r) = (node.view, node.r);
    let v = view.v;
    let (t_at, q_at) = (node.t_at, node.q_at);
    let (mut a, mut n_j, mut w_j) = (0.0f32, 1.0f32, 1.0f32);
    if s.frozen.len() != v {
        s.frozen.clear();
        s.frozen.resize(v, -1.0);
        s.rejected.clear();
    }
    for &y in &s.rejected {
        s.frozen[y] = -1.0;
    }
    s.rejected.clear();
    let mut rows_read = false;
    for (j, &c) in node.children.iter().enumerate() {
        let x = node.token(c);
        let (tx, qx) = (
            view.target.get_f32(t_at + x).abs(),
            view.draft.get_f32(q_at + x).abs(),
        );
        let ux = residual(tx, a, qx);
        let coin = node.coin(c as usize).to_bits();
        if accepts_ratio(
            coin,
            qx.to_bits(),
            n_j.to_bits(),
            ux.to_bits(),
            w_j.to_bits(),
        ) {
            return Step::Accept(c as usize);
        }
        let g = f32::from_bits(quotient_bits(n_j.to_bits(), ONE_BITS, w_j.to_bits()));
        a = f32::from_bits(add_native(a, g));
        if wor {
            s.rejected.push(x);
            s.frozen[x] = a;
        }
        if !rows_read {
            fill(view.target, t_at, v, &mut s.t);
            fill(view.draft, q_at, v, &mut s.q);
            rows_read = true;
        }
        let (t, q, frozen) = (&s.t, &s.q, &s.frozen);
        s.u.clear();
        if wor {
            s.u.extend((0..v).map(|y| {
                let c = if frozen[y] >= 0.0 { frozen[y] } else { a };
                residual(t[y], c, q[y])
            }));
        } else {
            s.u.extend((0..v).map(|y| residual(t[y], a, q[y])));
        }
        n_j = lane_sum_slice(&s.u);
        w_j = if wor {
            lane_sum(v, |y| if frozen[y] >= 0.0 { 0.0 } else { q[y].abs() })
        } else {
            1.0
        };
        if n_j == 0.0 {
            return Step::Stop(or_target(None, &s.t, rec, r as u64, node.pos));
        }
        if j + 1 == node.children.len() {
            return Step::Stop(choose(&s.u, &s.t, rec, r as u64, node.pos));
        }
    }
    unreachable!("an internal node has a child")
}
