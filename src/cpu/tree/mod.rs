//! CPU twin of `shaders/tree.wgsl`: the tree rules (SPEC §7) in f32, node by node along the
//! walked path, on the same values and in the same order of operations as the shader. The walk
//! is here; each rule's step at a node is in `STEM.rs`, the twin of `shaders/tree/STEM.wgsl`.
//!
//! Precision policy (the README's "Tree verification: precision"):
//! - `greedy`: the argmax of the target row (exact), compared with each child's token.
//! - `target-only`: `S_j` is the IEEE f32 running sum of `t[tok(c_i)]`; the coin is compared
//!   exactly with it. The correction is the argmax of the target row with the children's
//!   tokens set to 0 (or of the row when that is zero everywhere).
//! - `rrs` and `rrs-wor` are computed without normalising any row. With `a_0 = 0`,
//!   `N_0 = W_0 = 1`, the residual after j rejections is `u_j[x] = max(t[x] − fl(a·q[x]), 0)`
//!   (IEEE product, then IEEE subtraction), where `a` is `a_j` — or, under `rrs-wor`, for a
//!   token x rejected at step k, `a_{k+1}` (its entry stops moving) —, `N_j` is the f32 sum of
//!   `u_j` and `W_j` that of the draft row with the rejected tokens removed (`rrs`: `W_j = 1`),
//!   both in the fixed order of [`lane_sum`]. `g_j = fl(N_j / W_j)` is correctly rounded
//!   ([`crate::exact::quotient_bits`]; +∞ where it overflows, and `fl(∞ · 0) = 0`) and
//!   `a_{j+1} = fl(a_j + g_j)`. Child j with token x is accepted iff
//!   `coin · q[x] · N_j < u_j[x] · W_j`, decided exactly ([`crate::exact::accepts_ratio`]: no
//!   quotient, so no overflow where the remaining draft mass `W_j` is tiny). This is
//!   `coin < r_j[x] / q_j[x]` of SPEC §7 with `r_j = u_j / N_j` and `q_j = q / W_j`; at j = 0 it
//!   is `coin · q < t`, the token rule bit for bit. `N_{j+1} = 0` stops with the argmax of the target row; after
//!   the last child the correction is the argmax of `u_{j+1}`.
//! - `sample` mode draws the correction from that same vector (with the exact integer sampler
//!   of the chain rules) and the bonus from the leaf's target row; the randomness is addressed by
//!   (round, number accepted), as for a chain.

pub mod compat;
mod greedy;
mod lenient;
mod rrs;
mod rrs_wor;
mod sglang;
mod spectr;
mod sweep;
mod target_only;
mod touched;
mod typical;

pub use touched::run_touched;

use rayon::prelude::*;

use super::verify::{argmax_target, or_target, recovery_u64};
use super::{Recovery, RecoveryMode};
use crate::batch::{Outcomes, Rounds};
use crate::exact::{key, mul_native, residual_native, sample_index};
use crate::reference::tree::NodeValues;
use crate::rule::{Rule, TreeRule, match_rule};
use crate::topology::Tree;

/// Lanes of the fixed-order f32 sums (the shader's workgroup size).
pub const LANES: usize = 256;

/// The f32 sum of `f(0..len)` in the shader's order: lane l adds x = l, l + 256, … in ascending
/// x, then a pairwise tree over the lanes (l += l + s for s = 128, 64, …, 1).
///
/// The values are non-negative, so IEEE `+` here is `add_native` (no sign of zero to lose), and
/// 256 independent lanes per block let the compiler vectorise the pass.
pub fn lane_sum(len: usize, f: impl Fn(usize) -> f32) -> f32 {
    let mut lanes = [0.0f32; LANES];
    let mut base = 0;
    while base < len {
        let m = (len - base).min(LANES);
        for (l, lane) in lanes[..m].iter_mut().enumerate() {
            *lane += f(base + l);
        }
        base += LANES;
    }
    reduce_lanes(lanes)
}

/// [`lane_sum`] of a slice.
pub fn lane_sum_slice(values: &[f32]) -> f32 {
    let mut lanes = [0.0f32; LANES];
    for chunk in values.chunks(LANES) {
        for (lane, &x) in lanes.iter_mut().zip(chunk) {
            *lane += x;
        }
    }
    reduce_lanes(lanes)
}

/// The pairwise tree over the lanes: l += l + s for s = 128, 64, …, 1.
pub(crate) fn reduce_lanes(mut lanes: [f32; LANES]) -> f32 {
    let mut width = LANES / 2;
    while width > 0 {
        for l in 0..width {
            lanes[l] += lanes[l + width];
        }
        width /= 2;
    }
    lanes[0]
}

/// Scratch space of one worker.
#[derive(Default)]
pub struct Scratch {
    pub(crate) t: Vec<f32>,
    pub(crate) q: Vec<f32>,
    pub(crate) u: Vec<f32>,
    /// `rrs-wor`: the tokens rejected at the current node with the coefficient their entries
    /// keep (sorted by token).
    pub(crate) frozen: Vec<(usize, f32)>,
    /// The children's tokens, sorted (the masked argmax of a correction).
    pub(crate) mask: Vec<usize>,
    /// A rule's per-node values in place of its own ([`run_overriding_node_values`]).
    pub(crate) node_values: Option<NodeValues>,
    /// The rule's parameters (SPEC §13's rules), set by the walk's entry points.
    pub(crate) params: [f32; 2],
}

/// What the rule does at an internal node.
pub enum Step {
    /// Accept this child and go on from it.
    Accept(usize),
    /// Stop with this correction token.
    Stop(u32),
}

/// The residual entry `max(t − fl(a · q), 0)` (non-negative f32).
#[inline]
pub(crate) fn residual(t: f32, a: f32, q: f32) -> f32 {
    f32::from_bits(residual_native(
        t.abs(),
        f32::from_bits(mul_native(a, q.abs())),
    ))
}

/// argmax or sample of `weights` (non-negative f32), falling back to the target row `t` when it
/// is zero everywhere: the correction at a stop.
pub(crate) fn choose(weights: &[f32], t: &[f32], rec: &Recovery, round: u64, pos: u32) -> u32 {
    let chosen = if rec.mode == RecoveryMode::Sample {
        sample_index(
            weights.len(),
            |x| key(weights[x].to_bits()),
            recovery_u64(rec, round, pos, 0),
        )
    } else {
        let x = argmax_target(weights) as usize;
        (weights[x] != 0.0).then_some(x)
    };
    or_target(chosen, t, rec, round, pos)
}

/// A tree rule's CPU twin (this layer's trait; implemented in the rule's `src/cpu/tree/STEM.rs`,
/// the twin of `shaders/tree/STEM.wgsl`).
pub trait CpuTreeRule: TreeRule {
    /// The rule's decision at an internal node (of a round), in f32.
    fn step(node: &Node, rec: &Recovery, s: &mut Scratch) -> Step;
}

/// What one node of round `r` is: its children, their tokens and coins, its rows and depth.
pub struct Node<'v, 'a> {
    pub(crate) view: &'v Rounds<'a>,
    pub(crate) r: usize,
    pub(crate) u: usize,
    pub(crate) children: &'v [u32],
    pub(crate) t_at: usize,
    pub(crate) q_at: usize,
    pub(crate) pos: u32,
}

impl<'v, 'a> Node<'v, 'a> {
    pub(crate) fn new(view: &'v Rounds<'a>, tree: &'v Tree, r: usize, u: usize) -> Node<'v, 'a> {
        Node {
            view,
            r,
            u,
            children: tree.children(u),
            t_at: view.target_at(r, u),
            q_at: view.draft_at(r, u),
            pos: tree.depth_of(u) as u32,
        }
    }

    /// Child c's token.
    pub(crate) fn token(&self, c: u32) -> usize {
        self.view.token(self.r, c as usize) as usize
    }

    /// Node c's coin.
    pub(crate) fn coin(&self, c: usize) -> f32 {
        self.view.coins.get_f32(self.view.coin_at(self.r, c)).abs()
    }

    /// The node's target row: borrowed from the batch where it is f32 and aligned (no copy),
    /// converted into `buf` otherwise.
    pub(crate) fn target_row<'s>(&self, buf: &'s mut Vec<f32>) -> &'s [f32]
    where
        'a: 's,
    {
        self.view.target.slice(self.t_at, self.view.v).as_f32(buf)
    }

    /// The node's draft row, as [`Node::target_row`].
    pub(crate) fn draft_row<'s>(&self, buf: &'s mut Vec<f32>) -> &'s [f32]
    where
        'a: 's,
    {
        self.view.draft.slice(self.q_at, self.view.v).as_f32(buf)
    }

    /// Stops with the target row masked at the children's tokens (argmax or sampled, the row
    /// itself when that is zero everywhere): `greedy`'s, `target-only`'s and `sglang`'s
    /// correction. The argmax is one pass over the row where it lies
    /// ([`sweep::argmax_masked`]); a sample reads a masked copy.
    pub(crate) fn stop_masked(&self, rec: &Recovery, s: &mut Scratch) -> Step {
        let Scratch { t, u, mask, .. } = s;
        let t = self.target_row(t);
        let (r, pos) = (self.r as u64, self.pos);
        if rec.mode != RecoveryMode::Sample {
            mask.clear();
            mask.extend(self.children.iter().map(|&c| self.token(c)));
            mask.sort_unstable();
            return Step::Stop(or_target(sweep::argmax_masked(t, mask), t, rec, r, pos));
        }
        u.clear();
        u.extend(t.iter().map(|x| x.abs()));
        for &c in self.children {
            u[self.token(c)] = 0.0;
        }
        Step::Stop(choose(u, t, rec, r, pos))
    }
}

/// Decides round r of a validated tree batch under `rule` (its tree `tree`): writes the accepted
/// nodes into `nodes` (in order) and returns (number accepted, correction or bonus).
pub fn decide_round(
    view: &Rounds,
    tree: &Tree,
    r: usize,
    rule: Rule,
    rec: &Recovery,
    s: &mut Scratch,
    nodes: &mut [i32],
) -> (u32, u32) {
    s.params = rule.params();
    match_rule!(rule,
        chain R => panic!("{rule} is a chain rule"),
        tree T => decide_round_with::<T>(view, tree, r, rec, s, nodes),
    )
}

/// [`decide_round`] under the tree rule `T`.
fn decide_round_with<T: CpuTreeRule>(
    view: &Rounds,
    tree: &Tree,
    r: usize,
    rec: &Recovery,
    s: &mut Scratch,
    nodes: &mut [i32],
) -> (u32, u32) {
    let mut u = 0usize;
    let mut a = 0usize;
    loop {
        if tree.is_leaf(u) {
            let t = view.target.slice(view.target_at(r, u), view.v);
            return (
                a as u32,
                or_target(None, t.as_f32(&mut s.t), rec, r as u64, a as u32),
            );
        }
        match T::step(&Node::new(view, tree, r, u), rec, s) {
            Step::Accept(c) => {
                nodes[a] = c as i32;
                a += 1;
                u = c;
            }
            Step::Stop(token) => return (a as u32, token),
        }
    }
}

/// Runs every round of a validated tree batch (in the rule's view, [`Rounds::for_rule`]) in
/// parallel over rounds; the accepted nodes are kept.
pub fn run(view: &Rounds, rule: Rule, rec: &Recovery) -> Outcomes {
    match_rule!(rule,
        chain R => panic!("{rule} is a chain rule"),
        tree T => run_with::<T>(view, rec, None, rule.params()),
    )
}

/// [`run`] with the rule's per-node values ([`crate::reference::tree::node_values`], `spectr`'s
/// ρ and coefficients) replaced by `values`: for tests that show what a wrong value does (a
/// `spectr` with ρ = 1 at three children is not lossless).
#[doc(hidden)]
pub fn run_overriding_node_values(
    view: &Rounds,
    rule: Rule,
    rec: &Recovery,
    values: NodeValues,
) -> Outcomes {
    match_rule!(rule,
        chain R => panic!("{rule} is a chain rule"),
        tree T => run_with::<T>(view, rec, Some(values), rule.params()),
    )
}

/// [`run`] under the tree rule `T`.
fn run_with<T: CpuTreeRule>(
    view: &Rounds,
    rec: &Recovery,
    node_values: Option<NodeValues>,
    params: [f32; 2],
) -> Outcomes {
    let depth = view.topology.depth();
    let mut result = Outcomes::tree(view.n, depth);
    let d1 = depth + 1;
    let mut nodes = result.nodes.take().unwrap_or_default();
    // Per worker: the scratch rows, and the round's tree (built there for per-round topologies).
    let init = || {
        let s = Scratch {
            node_values,
            params,
            ..Scratch::default()
        };
        (s, Tree::default())
    };
    if depth == 0 {
        // A root alone: every round is its bonus.
        result
            .tokens
            .par_iter_mut()
            .enumerate()
            .for_each_init(init, |(s, t), (r, out)| {
                let tree = view.tree(r, t);
                *out = decide_round_with::<T>(view, tree, r, rec, s, &mut []).1 as i32;
            });
        result.nodes = Some(nodes);
        return result;
    }
    result
        .tokens
        .par_chunks_mut(d1)
        .zip(nodes.par_chunks_mut(depth))
        .zip(result.num_accepted.par_iter_mut())
        .enumerate()
        .for_each_init(init, |(s, t), (r, ((out, nodes), acc))| {
            let tree = view.tree(r, t);
            let (a, token) = decide_round_with::<T>(view, tree, r, rec, s, nodes);
            write_round(view, r, (a, token), nodes, out);
            *acc = a;
        });
    result.nodes = Some(nodes);
    result
}

/// Writes round r's outcome row: the accepted nodes' tokens, then the correction or bonus, then
/// -1 padding.
pub(crate) fn write_round(
    view: &Rounds,
    r: usize,
    (a, token): (u32, u32),
    nodes: &[i32],
    out: &mut [i32],
) {
    for (j, slot) in out.iter_mut().enumerate() {
        *slot = match j.cmp(&(a as usize)) {
            std::cmp::Ordering::Less => view.token(r, nodes[j] as usize) as i32,
            std::cmp::Ordering::Equal => token as i32,
            std::cmp::Ordering::Greater => -1,
        };
    }
}
