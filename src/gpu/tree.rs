//! The tree kernel's host side: `shaders/tree.wgsl` (entry point `verify_tree`) over a
//! [`Rounds`], chunk by chunk. Its bindings (the kernel table's list): the round kernels'
//! params, rows, tokens, coins and outputs (0–6), the tree description (7, read-only) and the
//! accepted nodes (8).

use super::GpuContext;
use super::buffers::{INPUT, OUTPUT, READBACK, buffer, write_floats, write_tokens};
use super::kernel::KernelId;
use super::params::RoundParams;
use crate::batch::{Outcomes, Rounds, Topology};
use crate::chunk::chunks;
use crate::error::{Error, Result};
use crate::rule::{Recovery, Rule};
use crate::topology::Tree;

/// Words of the tree description's header (keep in sync with `TREE_HEADER` in the shader).
const TREE_HEADER: usize = 10;

/// The most children of one node the kernel handles (`MAX_CHILDREN` in the shader).
pub const MAX_CHILDREN: usize = 256;

/// A tree rule's code in the tree kernel (`H_RULE`; its generated `tree_step` calls the steps in
/// the registry's order): its index in [`Rule::TREE`].
fn rule_code(rule: Rule) -> Result<u32> {
    if !rule.is_tree() {
        return Err(Error::Config(format!("{rule} is not a tree rule")));
    }
    Ok(rule.index() as u32)
}

/// The tree description's header: nodes, depth, rule, the layout, and the words between two
/// rounds' topologies (`H_TOPO_STRIDE`: 0 when every round shares one, 2n when each has its own).
fn header(view: &Rounds, rule: Rule) -> Result<Vec<u32>> {
    let l = &view.layout;
    let nodes = view.topology.nodes();
    let stride = match view.topology {
        Topology::PerRound(_) => 2 * nodes,
        _ => 0,
    };
    let words = vec![
        nodes as u32,
        view.topology.depth() as u32,
        rule_code(rule)?,
        l.draft_rows as u32,
        l.target_rows as u32,
        l.tok_stride as u32,
        l.tok_shift as u32,
        l.coin_stride as u32,
        l.coin_shift as u32,
        stride as u32,
    ];
    debug_assert_eq!(words.len(), TREE_HEADER);
    Ok(words)
}

/// Appends one tree's topology as the kernel reads it: child_start[n + 1], child_list[n − 1].
fn push_tree(words: &mut Vec<u32>, t: &Tree) {
    let mut start = 0u32;
    for u in 0..t.len() {
        words.push(start);
        start += t.children(u).len() as u32;
    }
    words.push(start);
    for u in 0..t.len() {
        words.extend_from_slice(t.children(u));
    }
}

impl GpuContext {
    /// Verifies every round of a validated tree batch under a tree rule (in the rule's view,
    /// [`Rounds::for_rule`]), chunk by chunk. A shared topology is uploaded once; per-round
    /// topologies are uploaded with each chunk's rows and read at each round's offset.
    pub fn run_tree(&mut self, view: &Rounds, rule: Rule, rec: Recovery) -> Result<Outcomes> {
        let head = header(view, rule)?;
        let nodes = view.topology.nodes();
        let per_round = matches!(view.topology, Topology::PerRound(_));
        let (depth, v, l) = (view.topology.depth(), view.v, view.layout);
        let mut out = Outcomes::tree(view.n, depth);
        if view.n == 0 {
            return Ok(out);
        }
        if view.topology.max_children() > MAX_CHILDREN {
            return Err(Error::Config(format!(
                "the GPU engine verifies trees with at most {MAX_CHILDREN} children per node; this one has {} (run it with --engine cpu; `verify --cpu-only` checks the CPU engine against the reference alone)",
                view.topology.max_children()
            )));
        }
        let rows = l.draft_rows.max(l.target_rows).max(1);
        // The readback holds tokens, nodes and counts: 2·depth + 2 words per round.
        let max_buffer = self.device.limits().max_buffer_size;
        let readback_cap = (max_buffer / (4 * (2 * depth as u64 + 2))).max(1) as usize;
        let mut cap = self
            .rounds_per_chunk(rows - 1, v)?
            .min(view.n)
            .min(readback_cap);
        if per_round {
            // Each round's topology is 2n words.
            cap = cap.min((max_buffer / (8 * nodes as u64)).max(1) as usize);
        }
        let topo_words = TREE_HEADER + 2 * nodes * if per_round { cap } else { 1 };
        let dev = &self.device;
        let scope = dev.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let words = |label: &str, words: usize, usage| buffer(dev, label, words * 4, usage);
        let draft = words("tree draft", cap * l.draft_rows * v, INPUT);
        let target = words("tree target", cap * l.target_rows * v, INPUT);
        let tokens = words("tree tokens", cap * l.tok_stride, INPUT);
        let coins = words("tree coins", cap * l.coin_stride, INPUT);
        let topo_buf = words("tree topology", topo_words, INPUT);
        let out_tokens = words("tree out_tokens", cap * (depth + 1), OUTPUT);
        let out_acc = words("tree out_accepted", cap, OUTPUT);
        let out_nodes = words("tree out_nodes", cap * depth, OUTPUT);
        let result_words = cap * (depth + 1) + cap * depth + cap;
        let readback = words("tree readback", result_words, READBACK);
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(Error::Gpu(format!(
                "cannot allocate buffers for {cap} tree rounds at V = {v}: {e}"
            )));
        }
        let mut topo = head;
        let mut scratch = Tree::default();
        if let Some(t) = view.topology.shared(&mut scratch) {
            push_tree(&mut topo, t);
            self.queue
                .write_buffer(&topo_buf, 0, bytemuck::cast_slice(&topo));
        }
        let group = self.kernels.get(KernelId::VERIFY_TREE).bind(
            dev,
            &[
                &draft,
                &target,
                &tokens,
                &coins,
                &out_tokens,
                &out_acc,
                &topo_buf,
                &out_nodes,
            ],
        );
        let q = &self.queue;
        for (r0, n) in chunks(view.n as u64, cap) {
            let r0 = r0 as usize;
            if per_round {
                topo.truncate(TREE_HEADER);
                for r in r0..r0 + n {
                    push_tree(&mut topo, view.tree(r, &mut scratch));
                }
                q.write_buffer(&topo_buf, 0, bytemuck::cast_slice(&topo));
            }
            write_floats(
                q,
                &draft,
                view.draft
                    .slice(r0 * l.draft_rows * v, n * l.draft_rows * v),
            );
            write_floats(
                q,
                &target,
                view.target
                    .slice(r0 * l.target_rows * v, n * l.target_rows * v),
            );
            write_floats(
                q,
                &coins,
                view.coins.slice(r0 * l.coin_stride, n * l.coin_stride),
            );
            write_tokens(
                q,
                &tokens,
                &view.tokens,
                r0 * l.tok_stride..(r0 + n) * l.tok_stride,
            );
            let params = RoundParams::new(n, 0, v, &rec, r0 as u64);
            let mut enc = self.encoder();
            self.record(&mut enc, KernelId::VERIFY_TREE, &group, params, n)?;
            let (wt, wn, wa) = (n * (depth + 1), n * depth, n);
            enc.copy_buffer_to_buffer(&out_tokens, 0, &readback, 0, (wt * 4) as u64);
            if wn > 0 {
                enc.copy_buffer_to_buffer(
                    &out_nodes,
                    0,
                    &readback,
                    (wt * 4) as u64,
                    (wn * 4) as u64,
                );
            }
            enc.copy_buffer_to_buffer(
                &out_acc,
                0,
                &readback,
                ((wt + wn) * 4) as u64,
                (wa * 4) as u64,
            );
            self.submit_and_wait(enc)?;
            let words = self.map_read(&readback, ((wt + wn + wa) * 4) as u64)?;
            let (t, rest) = words.split_at(wt);
            let (nodes, acc) = rest.split_at(wn);
            let d1 = depth + 1;
            for (dst, &w) in out.tokens[r0 * d1..(r0 + n) * d1].iter_mut().zip(t) {
                *dst = w as i32;
            }
            let out_nodes = out.nodes.as_mut().expect("tree outcomes");
            for (dst, &w) in out_nodes[r0 * depth..(r0 + n) * depth]
                .iter_mut()
                .zip(nodes)
            {
                *dst = w as i32;
            }
            out.num_accepted[r0..r0 + n].copy_from_slice(acc);
        }
        Ok(out)
    }
}
