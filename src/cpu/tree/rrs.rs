//! CPU twin of `shaders/tree/rrs.wgsl`: `rrs` at one node in f32, without normalising any row
//! (the precision policy in `mod.rs`); the walk is shared with `rrs-wor` (`rrs_wor.rs`).

use super::sweep::{residual_row, residual_sums};
use super::{CpuTreeRule, Node, Scratch, Step, choose, or_target, residual};
use crate::cpu::{Recovery, RecoveryMode};
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
    let (t_at, q_at) = (node.t_at, node.q_at);
    let (mut a, mut n_j, mut w_j) = (0.0f32, 1.0f32, 1.0f32);
    let Scratch {
        t: t_buf,
        q: q_buf,
        u,
        frozen,
        ..
    } = s;
    frozen.clear();
    // The rows, read at the first rejection (borrowed where the batch is f32: no copy).
    let mut bufs = Some((t_buf, q_buf));
    let mut rows: Option<(&[f32], &[f32])> = None;
    let sample = rec.mode == RecoveryMode::Sample;
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
            match frozen.binary_search_by_key(&x, |f| f.0) {
                Ok(i) => frozen[i].1 = a,
                Err(i) => frozen.insert(i, (x, a)),
            }
        }
        if let Some((tb, qb)) = bufs.take() {
            rows = Some((node.target_row(tb), node.draft_row(qb)));
        }
        let (t, q) = rows.expect("read at the first rejection");
        // One pass: the residual's sum (and the draft's without the rejected tokens), and at
        // the last child its argmax.
        let last = j + 1 == node.children.len();
        let sums = residual_sums(t, q, a, frozen, wor, last && !sample);
        (n_j, w_j) = (sums.n, sums.w);
        if n_j == 0.0 {
            return Step::Stop(or_target(None, t, rec, r as u64, node.pos));
        }
        if last {
            if sample {
                residual_row(t, q, a, frozen, u);
                return Step::Stop(choose(u, t, rec, r as u64, node.pos));
            }
            // N > 0, so the largest entry is positive: `choose`'s argmax, without its fallback.
            return Step::Stop(sums.argmax as u32);
        }
    }
    unreachable!("an internal node has a child")
}
