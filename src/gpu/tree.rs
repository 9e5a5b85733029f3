//! The tree kernel's host side: `shaders/tree.wgsl` (entry point `verify_tree`) over a
//! [`TreeView`], chunk by chunk. Its bindings: the verify kernel's params, rows, tokens, coins
//! and outputs (0–6), the tree description (9, read-only) and the accepted nodes (10).

use super::{GpuContext, GpuParams};
use crate::batch::Floats;
use crate::error::{Error, Result};
use crate::rule::{Recovery, RecoveryMode, Rule};
use crate::tree::batch::{TreeResult, TreeView};

/// Words of the tree description's header (keep in sync with `TREE_HEADER` in the shader).
const TREE_HEADER: usize = 9;

/// The most children of one node the kernel handles (`MAX_CHILDREN` in the shader).
pub const MAX_CHILDREN: usize = 256;

/// The tree pipeline and its bind-group layout.
pub(crate) struct TreeKernel {
    layout: wgpu::BindGroupLayout,
    pipeline: wgpu::ComputePipeline,
}

/// (binding, kind) of the tree kernel: 0 uniform, then storage buffers (read-only or not).
const BINDINGS: [(u32, Option<bool>); 9] = [
    (0, None),
    (1, Some(false)),
    (2, Some(false)),
    (3, Some(false)),
    (4, Some(false)),
    (5, Some(false)),
    (6, Some(false)),
    (9, Some(true)),
    (10, Some(false)),
];

impl TreeKernel {
    pub(crate) fn new(device: &wgpu::Device, module: &wgpu::ShaderModule) -> TreeKernel {
        let entries: Vec<wgpu::BindGroupLayoutEntry> = BINDINGS
            .iter()
            .map(|&(binding, storage)| wgpu::BindGroupLayoutEntry {
                binding,
                visibility: wgpu::ShaderStages::COMPUTE,
                ty: wgpu::BindingType::Buffer {
                    ty: match storage {
                        None => wgpu::BufferBindingType::Uniform,
                        Some(read_only) => wgpu::BufferBindingType::Storage { read_only },
                    },
                    has_dynamic_offset: false,
                    min_binding_size: None,
                },
                count: None,
            })
            .collect();
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("verify_tree"),
            entries: &entries,
        });
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("verify_tree"),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some("verify_tree"),
            layout: Some(&pipeline_layout),
            module,
            entry_point: Some("verify_tree"),
            compilation_options: Default::default(),
            cache: None,
        });
        TreeKernel { layout, pipeline }
    }
}

fn rule_code(rule: Rule) -> Result<u32> {
    Ok(match rule {
        Rule::Greedy => 0,
        Rule::TargetOnly => 1,
        Rule::Rrs => 2,
        Rule::RrsWor => 3,
        r => return Err(Error::Config(format!("{r} is not a tree rule"))),
    })
}

/// The tree description the kernel reads: header, child_start, child_list.
fn describe_tree(view: &TreeView, rule: Rule) -> Result<Vec<u32>> {
    let t = view.tree;
    let l = &view.layout;
    let mut words = vec![
        t.len() as u32,
        t.depth() as u32,
        rule_code(rule)?,
        l.draft_rows as u32,
        l.target_rows as u32,
        l.tok_stride as u32,
        l.tok_shift as u32,
        l.coin_stride as u32,
        l.coin_shift as u32,
    ];
    debug_assert_eq!(words.len(), TREE_HEADER);
    let mut start = 0u32;
    for u in 0..t.len() {
        words.push(start);
        start += t.children(u).len() as u32;
    }
    words.push(start);
    for u in 0..t.len() {
        words.extend_from_slice(t.children(u));
    }
    Ok(words)
}

impl GpuContext {
    /// Verifies every round of a validated tree batch under a tree rule, chunk by chunk.
    pub fn run_tree(&mut self, view: &TreeView, rule: Rule, rec: Recovery) -> Result<TreeResult> {
        let topo = describe_tree(view, rule)?;
        let (depth, v, l) = (view.tree.depth(), view.v, view.layout);
        let mut out = TreeResult::new(view.n, depth);
        if view.n == 0 {
            return Ok(out);
        }
        if view.tree.max_children() > MAX_CHILDREN {
            return Err(Error::Config(format!(
                "the GPU engine verifies trees with at most {MAX_CHILDREN} children per node; this one has {} (use --engine cpu)",
                view.tree.max_children()
            )));
        }
        let rows = l.draft_rows.max(l.target_rows).max(1);
        // The readback holds tokens, nodes and counts: 2·depth + 2 words per round.
        let max_buffer = self.device.limits().max_buffer_size;
        let readback_cap = (max_buffer / (4 * (2 * depth as u64 + 2))).max(1) as usize;
        let cap = self
            .rounds_per_chunk(rows - 1, v)?
            .min(view.n)
            .min(readback_cap);
        let dev = &self.device;
        let scope = dev.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let mk = |label: &str, words: usize, usage: wgpu::BufferUsages| {
            dev.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size: (words.max(1) * 4) as u64,
                usage,
                mapped_at_creation: false,
            })
        };
        let input = wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST;
        let output = wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC;
        let draft = mk("tree draft", cap * l.draft_rows * v, input);
        let target = mk("tree target", cap * l.target_rows * v, input);
        let tokens = mk("tree tokens", cap * l.tok_stride, input);
        let coins = mk("tree coins", cap * l.coin_stride, input);
        let topo_buf = mk("tree topology", topo.len(), input);
        let out_tokens = mk("tree out_tokens", cap * (depth + 1), output);
        let out_acc = mk("tree out_accepted", cap, output);
        let out_nodes = mk("tree out_nodes", cap * depth, output);
        let result_words = cap * (depth + 1) + cap * depth + cap;
        let readback = mk(
            "tree readback",
            result_words,
            wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        );
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(Error::Gpu(format!(
                "cannot allocate buffers for {cap} tree rounds at V = {v}: {e}"
            )));
        }
        self.queue
            .write_buffer(&topo_buf, 0, bytemuck::cast_slice(&topo));
        let buffers = [
            (0, &self.params),
            (1, &draft),
            (2, &target),
            (3, &tokens),
            (4, &coins),
            (5, &out_tokens),
            (6, &out_acc),
            (9, &topo_buf),
            (10, &out_nodes),
        ];
        let group = dev.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("verify_tree"),
            layout: &self.tree.layout,
            entries: &buffers.map(|(binding, b)| wgpu::BindGroupEntry {
                binding,
                resource: b.as_entire_binding(),
            }),
        });
        let upload = |buf: &wgpu::Buffer, f: Floats| {
            if f.is_empty() {
                return;
            }
            match f {
                Floats::F32(bytes) => self.queue.write_buffer(buf, 0, bytes),
                f64s => {
                    let mut tmp = Vec::new();
                    let data = f64s.as_f32(&mut tmp);
                    self.queue.write_buffer(buf, 0, bytemuck::cast_slice(data));
                }
            }
        };
        let mut r0 = 0;
        while r0 < view.n {
            let n = cap.min(view.n - r0);
            upload(
                &draft,
                view.draft
                    .slice(r0 * l.draft_rows * v, n * l.draft_rows * v),
            );
            upload(
                &target,
                view.target
                    .slice(r0 * l.target_rows * v, n * l.target_rows * v),
            );
            upload(
                &coins,
                view.coins.slice(r0 * l.coin_stride, n * l.coin_stride),
            );
            let toks: Vec<u32> = (r0 * l.tok_stride..(r0 + n) * l.tok_stride)
                .map(|i| view.tokens.get(i) as u32)
                .collect();
            if !toks.is_empty() {
                self.queue
                    .write_buffer(&tokens, 0, bytemuck::cast_slice(&toks));
            }
            let params = GpuParams {
                n_rounds: n as u32,
                vocab: v as u32,
                mode: u32::from(rec.mode == RecoveryMode::Sample),
                seed_lo: rec.seed as u32,
                seed_hi: (rec.seed >> 32) as u32,
                round_offset: (rec.round_offset + r0 as u64) as u32,
                ..GpuParams::default()
            };
            let mut enc = self.device.create_command_encoder(&Default::default());
            self.record_group(&mut enc, &self.tree.pipeline, &group, params, n);
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
            for (dst, &w) in out.nodes[r0 * depth..(r0 + n) * depth]
                .iter_mut()
                .zip(nodes)
            {
                *dst = w as i32;
            }
            out.num_accepted[r0..r0 + n].copy_from_slice(acc);
            r0 += n;
        }
        Ok(out)
    }
}
