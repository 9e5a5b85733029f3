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
use crate::reference::tree;
use crate::rule::{Recovery, Rule};
use crate::topology::Tree;
use rayon::prelude::*;

/// Words of the tree description's header (keep in sync with `TREE_HEADER` in the shader).
const TREE_HEADER: usize = 14;

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
/// rounds' topologies (`H_TOPO_STRIDE`: 0 when every round shares one, 2n when each has its own),
/// where a rule's per-node values start (`H_PARAMS`, word 10), and the rule's two f32 parameters
/// bits (`H_RULE_P0`, `H_RULE_P1`, words 11 and 12; SPEC §13's rules), and the selection of the
/// correction and bonus (`H_SELECT`, word 13: 0, the engine's recovery, unless a profile's
/// [`ProfileStep`] says otherwise).
fn header(view: &Rounds, rule: Rule, profile: Option<ProfileStep>) -> Result<Vec<u32>> {
    let l = &view.layout;
    let nodes = view.topology.nodes();
    let stride = match view.topology {
        Topology::PerRound(_) => 2 * nodes,
        _ => 0,
    };
    let words = vec![
        nodes as u32,
        view.topology.depth() as u32,
        match profile {
            Some(p) => p.code,
            None => rule_code(rule)?,
        },
        l.draft_rows as u32,
        l.target_rows as u32,
        l.tok_stride as u32,
        l.tok_shift as u32,
        l.coin_stride as u32,
        l.coin_shift as u32,
        stride as u32,
        0, // H_PARAMS: set once the chunk size is known
        rule.params()[0].to_bits(),
        rule.params()[1].to_bits(),
        profile.map_or(0, |p| p.select),
    ];
    debug_assert_eq!(words.len(), TREE_HEADER);
    Ok(words)
}

/// A compatibility profile's step in the tree kernel (SPEC §14; built by `src/gpu/compat_tree.rs`):
/// the kernel's rule code (`H_RULE`: a registry rule's, or past them a step of
/// `shaders/tree/compat.wgsl`) and the selection of the correction and bonus (`H_SELECT`).
#[derive(Clone, Copy, Debug)]
pub(super) struct ProfileStep {
    pub(super) code: u32,
    pub(super) select: u32,
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

/// Where the per-node values start in the header (`H_PARAMS` in the shader).
const H_PARAMS: usize = 10;

/// A rule's values at every internal node of rounds `r0..r0 + n` (3 words per node, `n` nodes
/// per round, leaves zero), from each node's rows as f32 (read from `rows_from` children on;
/// the draft row only for a rule that reads it), in parallel over rounds.
fn node_values_of(view: &Rounds, r0: usize, n: usize, rule: Rule, f: tree::NodeValues) -> Vec<u32> {
    let (rows_from, params) = (tree::node_values_rows_from(rule), rule.params());
    let (nodes, v) = (view.topology.nodes(), view.v);
    let mut vals = vec![0u32; 3 * nodes * n];
    vals.par_chunks_mut(3 * nodes.max(1))
        .enumerate()
        .for_each_init(
            || (Tree::default(), Vec::new(), Vec::new()),
            |(scratch, tb, db), (i, out)| {
                let r = r0 + i;
                let tree = view.tree(r, scratch);
                for u in 0..tree.len() {
                    let m = tree.children(u).len();
                    if m == 0 {
                        continue;
                    }
                    // The rows where they lie in the batch (converted only where they are not
                    // aligned f32); none below `rows_from` children.
                    let (mut t, mut d): (&[f32], &[f32]) = (&[], &[]);
                    if m >= rows_from {
                        t = view.target.slice(view.target_at(r, u), v).as_f32(tb);
                        if rule.reads_draft() {
                            d = view.draft.slice(view.draft_at(r, u), v).as_f32(db);
                        }
                    }
                    out[3 * u..3 * u + 3].copy_from_slice(&f(t, d, m, params));
                }
            },
        );
    vals
}

/// The tree kernel's buffers (its bindings' order, then the readback) and their bind group, made
/// once and reused by every later call whose chunk fits them: a call that needs more grows each
/// buffer to the larger of the two sizes, so alternating shapes do not reallocate. Where that
/// runs out of device memory, the chain kernels' buffers are given back and the call's own sizes
/// tried once more (and the chain path gives these back the same way).
pub(super) struct TreeBuffers {
    /// Words of each buffer.
    words: [usize; 9],
    buffers: [wgpu::Buffer; 9],
    group: wgpu::BindGroup,
}

/// Labels and usages of the tree buffers, in [`TreeBuffers`]' order.
const TREE_BUFFERS: [(&str, wgpu::BufferUsages); 9] = [
    ("tree draft", INPUT),
    ("tree target", INPUT),
    ("tree tokens", INPUT),
    ("tree coins", INPUT),
    ("tree topology", INPUT),
    ("tree out_tokens", OUTPUT),
    ("tree out_accepted", OUTPUT),
    ("tree out_nodes", OUTPUT),
    ("tree readback", READBACK),
];

impl GpuContext {
    /// Makes sure the tree buffers hold `words` words each (see [`TreeBuffers`]); `(cap, v)`
    /// names the chunk in an allocation error.
    fn ensure_tree_buffers(&mut self, words: [usize; 9], (cap, v): (usize, usize)) -> Result<()> {
        if let Some(tb) = &self.tree_bufs
            && tb.words.iter().zip(&words).all(|(have, need)| have >= need)
        {
            return Ok(());
        }
        let mut grown = words;
        if let Some(tb) = self.tree_bufs.take() {
            for (g, &had) in grown.iter_mut().zip(&tb.words) {
                *g = (*g).max(had);
            }
        }
        let dev = &self.device;
        let scope = dev.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let buffers: [wgpu::Buffer; 9] = std::array::from_fn(|i| {
            buffer(dev, TREE_BUFFERS[i].0, grown[i] * 4, TREE_BUFFERS[i].1)
        });
        if let Some(e) = pollster::block_on(scope.pop()) {
            // Out of memory: give back the chain kernels' buffers and the growth, and try once
            // more at the sizes this call needs.
            if self.bufs.is_some() || grown != words {
                drop(buffers);
                self.bufs = None;
                self.resident.store(0, std::sync::atomic::Ordering::Relaxed);
                return self.ensure_tree_buffers(words, (cap, v));
            }
            return Err(Error::Gpu(format!(
                "cannot allocate buffers for {cap} tree rounds at V = {v}: {e}"
            )));
        }
        let [d, t, tok, c, topo, out_t, out_a, out_n, _] = &buffers;
        let group = self
            .kernels
            .get(KernelId::VERIFY_TREE)
            .bind(dev, &[d, t, tok, c, out_t, out_a, topo, out_n]);
        self.tree_bufs = Some(TreeBuffers {
            words: grown,
            buffers,
            group,
        });
        Ok(())
    }

    /// Verifies every round of a validated tree batch under a tree rule (in the rule's view,
    /// [`Rounds::for_rule`]), chunk by chunk, in buffers kept from one call to the next
    /// (`TreeBuffers`). A shared topology is uploaded once per call; per-round topologies are
    /// uploaded with each chunk's rows and read at each round's offset.
    pub fn run_tree(&mut self, view: &Rounds, rule: Rule, rec: Recovery) -> Result<Outcomes> {
        self.run_tree_step(view, rule, rec, None, None)
    }

    /// [`GpuContext::run_tree`] on rows a tree study generated on the device
    /// ([`GpuContext::generate_tree_rows`]) and left in the chain buffers: `view` must be those
    /// rows read back (with the children's tokens drawn from them), so only the tokens and the
    /// topology are uploaded. Refused (an internal error) if anything has written the chain
    /// buffers since, or if `view` is not of the generated chunk's shape.
    pub fn run_tree_resident(
        &mut self,
        view: &Rounds,
        rule: Rule,
        rec: Recovery,
        rows: &super::study::ResidentRows,
    ) -> Result<Outcomes> {
        self.run_tree_step(view, rule, rec, None, Some(rows))
    }

    /// [`GpuContext::run_tree`], or under a profile its step (`rule` then names the rule whose
    /// checks and per-node values apply), or on `resident` rows (see
    /// [`GpuContext::run_tree_resident`]). Rounds the kernel leaves to the host are counted
    /// `UNFINISHED` or `HOST_ROUND`.
    pub(super) fn run_tree_step(
        &mut self,
        view: &Rounds,
        rule: Rule,
        rec: Recovery,
        profile: Option<ProfileStep>,
        resident: Option<&super::study::ResidentRows>,
    ) -> Result<Outcomes> {
        let head = header(view, rule, profile)?;
        let nodes = view.topology.nodes();
        let per_round = matches!(view.topology, Topology::PerRound(_));
        let (depth, v, l) = (view.topology.depth(), view.v, view.layout);
        let mut out = Outcomes::tree(view.n, depth);
        if view.n == 0 {
            return Ok(out);
        }
        rule.check_branches(view.topology.max_children(), "the batch's tree")?;
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
        // A rule's per-node values (`spectr`) follow the topologies: 3 words per node per round.
        let values = tree::node_values(rule);
        if values.is_some() {
            cap = cap.min((max_buffer / (4 * 5 * nodes.max(1) as u64)).max(1) as usize);
        }
        if let Some(rows) = resident {
            // The generated chunk, whole: it fits the chain buffers it was generated into.
            self.check_resident(rows, view)?;
            cap = view.n;
        }
        let params_at = TREE_HEADER + 2 * nodes * if per_round { cap } else { 1 };
        let topo_words = params_at + if values.is_some() { 3 * nodes * cap } else { 0 };
        let result_words = cap * (depth + 1) + cap * depth + cap;
        // Resident rows are read from the chain buffers: the tree's own row buffers stay as they are.
        let rows_at = usize::from(resident.is_none());
        self.ensure_tree_buffers(
            [
                rows_at * cap * l.draft_rows * v,
                rows_at * cap * l.target_rows * v,
                rows_at * cap * l.tok_stride,
                rows_at * cap * l.coin_stride,
                topo_words,
                cap * (depth + 1),
                cap,
                cap * depth,
                result_words,
            ],
            (cap, v),
        )?;
        let tb = self.tree_bufs.as_ref().expect("made just above");
        let [
            draft,
            target,
            tokens,
            coins,
            topo_buf,
            out_tokens,
            out_acc,
            out_nodes,
            readback,
        ] = &tb.buffers;
        let mut topo = head;
        topo[H_PARAMS] = if values.is_some() {
            params_at as u32
        } else {
            0
        };
        let mut scratch = Tree::default();
        if let Some(t) = view.topology.shared(&mut scratch) {
            push_tree(&mut topo, t);
            self.queue
                .write_buffer(topo_buf, 0, bytemuck::cast_slice(&topo));
        }
        // On resident rows: the chain buffers' rows, tokens and outputs, the tree's topology and
        // accepted nodes.
        let chain_group;
        let (draft, target, tokens, coins, out_tokens, out_acc, group) = match resident {
            None => (draft, target, tokens, coins, out_tokens, out_acc, &tb.group),
            Some(rows) => {
                self.check_resident(rows, view)?;
                let cb = self.bufs.as_ref().expect("checked resident");
                let (d, t, tok, c) = (&cb.draft, &cb.target, &cb.tokens, &cb.coins);
                let (ot, oa) = (&cb.out_tokens, &cb.out_acc);
                chain_group = self
                    .kernels
                    .get(KernelId::VERIFY_TREE)
                    .bind(&self.device, &[d, t, tok, c, ot, oa, topo_buf, out_nodes]);
                (d, t, tok, c, ot, oa, &chain_group)
            }
        };
        let q = &self.queue;
        for (r0, n) in chunks(view.n as u64, cap) {
            let r0 = r0 as usize;
            if per_round {
                topo.truncate(TREE_HEADER);
                for r in r0..r0 + n {
                    push_tree(&mut topo, view.tree(r, &mut scratch));
                }
                q.write_buffer(topo_buf, 0, bytemuck::cast_slice(&topo));
            }
            if let Some(f) = values {
                let vals = node_values_of(view, r0, n, rule, f);
                q.write_buffer(
                    topo_buf,
                    (params_at * 4) as u64,
                    bytemuck::cast_slice(&vals),
                );
            }
            if resident.is_none() {
                write_floats(
                    q,
                    draft,
                    view.draft
                        .slice(r0 * l.draft_rows * v, n * l.draft_rows * v),
                );
                write_floats(
                    q,
                    target,
                    view.target
                        .slice(r0 * l.target_rows * v, n * l.target_rows * v),
                );
                write_floats(
                    q,
                    coins,
                    view.coins.slice(r0 * l.coin_stride, n * l.coin_stride),
                );
            }
            write_tokens(
                q,
                tokens,
                &view.tokens,
                r0 * l.tok_stride..(r0 + n) * l.tok_stride,
            );
            let params = RoundParams::new(n, 0, v, &rec, r0 as u64);
            let mut enc = self.encoder();
            self.record(&mut enc, KernelId::VERIFY_TREE, group, params, n)?;
            let (wt, wn, wa) = (n * (depth + 1), n * depth, n);
            enc.copy_buffer_to_buffer(out_tokens, 0, readback, 0, (wt * 4) as u64);
            if wn > 0 {
                enc.copy_buffer_to_buffer(out_nodes, 0, readback, (wt * 4) as u64, (wn * 4) as u64);
            }
            enc.copy_buffer_to_buffer(
                out_acc,
                0,
                readback,
                ((wt + wn) * 4) as u64,
                (wa * 4) as u64,
            );
            self.submit_and_wait(enc)?;
            let words = self.map_read(readback, ((wt + wn + wa) * 4) as u64)?;
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

#[cfg(test)]
mod tests {
    /// The header's layout here is the shader's: `TREE_HEADER` and `H_PARAMS` as
    /// `shaders/tree.wgsl` declares them, the rule's parameters, then the selection, last.
    #[test]
    fn the_header_matches_the_shader() {
        let src = include_str!("../../shaders/tree.wgsl");
        let constant = |name: &str| -> usize {
            let decl = format!("const {name}: u32 = ");
            let at = src
                .find(&decl)
                .unwrap_or_else(|| panic!("{name} in tree.wgsl"));
            let rest = &src[at + decl.len()..];
            rest[..rest.find('u').unwrap()].parse().unwrap()
        };
        assert_eq!(constant("TREE_HEADER"), super::TREE_HEADER);
        assert_eq!(constant("H_PARAMS"), super::H_PARAMS);
        assert_eq!(constant("H_RULE_P0"), super::TREE_HEADER - 3);
        assert_eq!(constant("H_RULE_P1"), super::TREE_HEADER - 2);
        assert_eq!(constant("H_SELECT"), super::TREE_HEADER - 1);
    }
}
