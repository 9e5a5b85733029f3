//! The tree rules under a compatibility profile on the GPU (SPEC §14): the tree kernel
//! (`shaders/tree.wgsl`) with the profile's step and selection (`shaders/tree/compat.wgsl`,
//! [`ProfileStep`]). Every round is checked on the host as the reference checks it; the rounds
//! the kernel leaves to the host (out of its loop budget, or an inverse CDF whose sum
//! overflows) are decided by the reference, so the answers are the reference's, bit for bit.
//!
//! The batch reaches the kernel in the tree layout with no draft rows, the drafted ids outside
//! 0..V as −1 (the kernel's NONE, which no argmax equals: `greedy` under `sglang` and `vllm`),
//! and n + 1 coins per round, the last the round's final coin (`sglang`'s inverse CDF).

use super::GpuContext;
use super::compat::HOST_ROUND;
use super::tree::{MAX_CHILDREN, ProfileStep};
use crate::batch::{Floats, Ints, Layout, Rounds, Topology, UNFINISHED};
use crate::compat::{
    Profile, Select, TreeBatchRef, TreeCompatOutcome, check_tree_batch, decide_tree_batch,
};
use crate::error::{Error, Result};
use crate::rule::{N_TREE, Recovery, Rule};
use crate::topology::Tree;

/// The kernel's step and selection for `rule` under `profile` (a rule the profile decides).
fn profile_step(profile: Profile, rule: Rule, final_coins: bool) -> ProfileStep {
    match (rule, profile) {
        // The registry's greedy step: ids compared, the target's argmax at the stop.
        (Rule::Greedy, _) => ProfileStep {
            code: Rule::Greedy.index() as u32,
            select: 0,
        },
        // shaders/tree/compat.wgsl's code 1: f64 sums; argmax corrections.
        (_, Profile::Specsim) => ProfileStep {
            code: N_TREE as u32 + 1,
            select: 0,
        },
        // Code 0: SGLang's f32 bucket; its inverse CDF (or argmax), V − 1 on a zero row.
        _ => ProfileStep {
            code: N_TREE as u32,
            select: if final_coins && profile.semantics().select == Select::InverseCdf {
                2
            } else {
                1
            },
        },
    }
}

impl GpuContext {
    /// Every round of the tree batch `b` under `profile` and `rule` (`greedy` or `target-only`):
    /// the outcomes, padded to the batch's depth; how many rounds the kernel left unfinished (out
    /// of its loop budget) for the reference to decide; and how many it could not take (a node
    /// of more than [`MAX_CHILDREN`] children, or one round larger than a storage binding: the
    /// whole batch, decided by the reference). Refuses as the reference does, naming the lowest
    /// refused round.
    pub fn run_compat_tree(
        &mut self,
        b: &TreeBatchRef,
        profile: Profile,
        rule: Rule,
    ) -> Result<(Vec<TreeCompatOutcome>, u64, u64)> {
        check_tree_batch(b, profile, rule)?;
        let (n, nn, v) = (b.n, b.nodes, b.v);
        if n == 0 {
            return Ok((Vec::new(), 0, 0));
        }
        let shared = if b.shared() {
            Some(Tree::from_parents(b.parents)?)
        } else {
            None
        };
        let topology = match &shared {
            Some(t) => Topology::Shared(t),
            None => Topology::per_round(Ints::I64(bytemuck::cast_slice(b.parents)), nn)?,
        };
        if topology.max_children() > MAX_CHILDREN || self.rounds_per_chunk(nn - 1, v).is_err() {
            return Ok((decide_tree_batch(b, profile, rule)?, 0, n as u64));
        }
        let tokens: Vec<i64> = b
            .tokens
            .iter()
            .map(|&t| if (0..v as i64).contains(&t) { t } else { -1 })
            .collect();
        let mut coins = Vec::with_capacity(n * (nn + 1));
        for r in 0..n {
            coins.extend_from_slice(&b.coins[r * nn..(r + 1) * nn]);
            coins.push(b.final_coins.map_or(0.0, |f| f[r]));
        }
        let view = Rounds {
            n,
            topology,
            v,
            draft: Floats::F32(&[]),
            target: Floats::F32(bytemuck::cast_slice(b.target)),
            tokens: Ints::I64(bytemuck::cast_slice(&tokens)),
            coins: Floats::F32(bytemuck::cast_slice(&coins)),
            layout: Layout {
                draft_rows: 0,
                coin_stride: nn + 1,
                ..Layout::tree(nn)
            },
        };
        let step = profile_step(profile, rule, b.final_coins.is_some());
        let got = self.run_tree_step(&view, rule, Recovery::default(), Some(step), None)?;
        let depth = view.topology.depth();
        let nodes = got.nodes.as_ref().expect("tree outcomes");
        let mut out = Vec::with_capacity(n);
        let mut unfinished = 0u64;
        let mut scratch = Tree::default();
        for r in 0..n {
            let a = got.num_accepted[r];
            if a == UNFINISHED || a == HOST_ROUND {
                let mut one = crate::compat::decide_tree(
                    &b.round(r, view.tree(r, &mut scratch)),
                    profile,
                    rule,
                )
                .map_err(|e| Error::Config(format!("round {r}: {e}")))?;
                one.tokens.resize(depth + 1, -1);
                one.nodes.resize(depth, -1);
                out.push(one);
                unfinished += u64::from(a == UNFINISHED);
                continue;
            }
            out.push(TreeCompatOutcome {
                tokens: got.tokens[r * (depth + 1)..(r + 1) * (depth + 1)].to_vec(),
                nodes: nodes[r * depth..(r + 1) * depth].to_vec(),
                num_accepted: a,
            });
        }
        Ok((out, unfinished, 0))
    }
}
