//! The GPU engine: wgpu + WGSL. A context (device, queue, pipeline, reusable buffers) is built once
//! and reused for every chunk of every batch. Adapter selection is split from the GPU work, so a
//! test can hand in its own device ([`GpuContext::from_device`]).
//!
//! Adapter selection honours `WGPU_BACKEND` (e.g. `vulkan`), `WGPU_ADAPTER_NAME` (a substring of
//! the adapter's name, case-insensitive) and `WGPU_POWER_PREF` (`low` or `high`).

use std::sync::{Arc, Mutex};

use bytemuck::{Pod, Zeroable};
use wgpu::util::DeviceExt;

mod adapter;
mod readback;
pub mod study;
pub mod tree;

pub use adapter::{describe, select_adapter};

use crate::batch::{BatchResult, BatchView, Floats};
use crate::error::{Error, Result};
use crate::rule::Rule;
use crate::rule::{Recovery, RecoveryMode};

/// Invocations per workgroup of `shaders/verify.wgsl` (keep in sync with `WG` there).
pub const WORKGROUP_SIZE: u32 = 256;

/// WGSL source of the GPU engine: `shaders/exact.wgsl`, `shaders/rng.wgsl`, `shaders/verify.wgsl`,
/// `shaders/block.wgsl`, `shaders/tree.wgsl` and `shaders/study.wgsl`, in that order (one module;
/// the tree kernel adds two bindings of its own).
pub const VERIFY_WGSL: &str = concat!(
    include_str!("../../shaders/exact.wgsl"),
    "\n",
    include_str!("../../shaders/rng.wgsl"),
    "\n",
    include_str!("../../shaders/verify.wgsl"),
    "\n",
    include_str!("../../shaders/block.wgsl"),
    "\n",
    include_str!("../../shaders/tree.wgsl"),
    "\n",
    include_str!("../../shaders/study.wgsl")
);

/// Uniform parameters of one dispatch. Keep in sync with `Params` in `shaders/verify.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct GpuParams {
    /// Rounds in this chunk.
    pub n_rounds: u32,
    /// Drafted tokens per round.
    pub k: u32,
    /// Vocabulary size.
    pub vocab: u32,
    /// Workgroups along x of the 2D dispatch (item = y · groups_x + x).
    pub groups_x: u32,
    /// Recovery: 0 = argmax, 1 = sample.
    pub mode: u32,
    /// Seed, low 32 bits.
    pub seed_lo: u32,
    /// Seed, high 32 bits.
    pub seed_hi: u32,
    /// Global index of the chunk's first round.
    pub round_offset: u32,
    /// Study workload family (`shaders/study.wgsl`).
    pub family: u32,
    /// `quantized`: bits of the draft's logits.
    pub bits: u32,
    /// 1 when `zipf` is nonzero.
    pub zipf_on: u32,
    /// Padding.
    pub pad0: u32,
    /// Target temperature.
    pub t_target: f32,
    /// Draft temperature.
    pub t_draft: f32,
    /// `logit-noise`: noise scale.
    pub sigma: f32,
    /// `mixture`: weight of the unrelated distribution.
    pub lambda: f32,
    /// Zipf exponent of the logits' decay with the token id.
    pub zipf: f32,
    /// Padding.
    pub pad1: f32,
    /// Padding.
    pub pad2: f32,
    /// Padding.
    pub pad3: f32,
}
const _: () = {
    use std::mem::{offset_of, size_of};
    assert!(size_of::<GpuParams>() == 80);
    assert!(offset_of!(GpuParams, n_rounds) == 0);
    assert!(offset_of!(GpuParams, groups_x) == 12);
    assert!(offset_of!(GpuParams, mode) == 16);
    assert!(offset_of!(GpuParams, round_offset) == 28);
    assert!(offset_of!(GpuParams, family) == 32);
    assert!(offset_of!(GpuParams, t_target) == 48);
    assert!(offset_of!(GpuParams, zipf) == 64);
};

/// Knobs for chunking (tests make them small to exercise several chunks and 2D dispatch).
#[derive(Clone, Debug)]
pub struct GpuConfig {
    /// At most this many rounds per chunk (besides the adapter's limits).
    pub max_rounds_per_chunk: Option<usize>,
    /// Workgroups per dispatch dimension (the WebGPU limit is 65535).
    pub max_groups_x: u32,
    /// Upper bound on one input buffer, so memory stays bounded whatever N is.
    pub max_buffer_bytes: u64,
}

impl Default for GpuConfig {
    fn default() -> Self {
        GpuConfig {
            max_rounds_per_chunk: None,
            max_groups_x: 65535,
            max_buffer_bytes: 512 << 20,
        }
    }
}

pub(crate) struct Buffers {
    pub(crate) cap_rounds: usize,
    k: usize,
    v: usize,
    pub(crate) draft: wgpu::Buffer,
    pub(crate) target: wgpu::Buffer,
    pub(crate) tokens: wgpu::Buffer,
    pub(crate) coins: wgpu::Buffer,
    pub(crate) out_tokens: wgpu::Buffer,
    pub(crate) out_acc: wgpu::Buffer,
    pub(crate) betas: wgpu::Buffer,
    pub(crate) rates: wgpu::Buffer,
    pub(crate) readback: wgpu::Buffer,
    pub(crate) bind_group: wgpu::BindGroup,
}

/// A GPU ready to verify batches.
pub struct GpuContext {
    pub(crate) device: wgpu::Device,
    pub(crate) queue: wgpu::Queue,
    info: wgpu::AdapterInfo,
    pub(crate) pipeline: wgpu::ComputePipeline,
    pub(crate) block: wgpu::ComputePipeline,
    pub(crate) generate: wgpu::ComputePipeline,
    pub(crate) rates_round: wgpu::ComputePipeline,
    pub(crate) tree: tree::TreeKernel,
    layout: wgpu::BindGroupLayout,
    pub(crate) params: wgpu::Buffer,
    pub(crate) bufs: Option<Buffers>,
    errors: Arc<Mutex<Vec<String>>>,
    /// Chunking knobs.
    pub config: GpuConfig,
    /// Recovery mode and its randomness (argmax by default).
    pub recovery: Recovery,
}

impl GpuContext {
    /// Selects an adapter from the environment and builds a context on it.
    pub fn new() -> Result<GpuContext> {
        GpuContext::from_adapter(&select_adapter()?)
    }

    /// Builds a context on `adapter`, asking for the adapter's real limits (not the defaults).
    pub fn from_adapter(adapter: &wgpu::Adapter) -> Result<GpuContext> {
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("specsim"),
            required_features: wgpu::Features::empty(),
            required_limits: adapter.limits(),
            ..Default::default()
        }))
        .map_err(|e| Error::Gpu(format!("cannot open the device: {e}")))?;
        GpuContext::from_device(device, queue, adapter.get_info())
    }

    /// Builds a context on a device the caller already has (tests share one device this way).
    pub fn from_device(
        device: wgpu::Device,
        queue: wgpu::Queue,
        info: wgpu::AdapterInfo,
    ) -> Result<GpuContext> {
        let errors = Arc::new(Mutex::new(Vec::new()));
        let sink = errors.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            if let Ok(mut v) = sink.lock() {
                v.push(e.to_string());
            }
        }));
        let lost = errors.clone();
        device.set_device_lost_callback(move |reason, msg| {
            if let Ok(mut v) = lost.lock() {
                v.push(format!("device lost ({reason:?}): {msg}"));
            }
        });
        let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("verify.wgsl"),
            source: wgpu::ShaderSource::Wgsl(VERIFY_WGSL.into()),
        });
        let storage = |binding: u32, read_only: bool| wgpu::BindGroupLayoutEntry {
            binding,
            visibility: wgpu::ShaderStages::COMPUTE,
            ty: wgpu::BindingType::Buffer {
                ty: wgpu::BufferBindingType::Storage { read_only },
                has_dynamic_offset: false,
                min_binding_size: None,
            },
            count: None,
        };
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("verify"),
            entries: &[
                wgpu::BindGroupLayoutEntry {
                    binding: 0,
                    visibility: wgpu::ShaderStages::COMPUTE,
                    ty: wgpu::BindingType::Buffer {
                        ty: wgpu::BufferBindingType::Uniform,
                        has_dynamic_offset: false,
                        min_binding_size: None,
                    },
                    count: None,
                },
                storage(1, false),
                storage(2, false),
                storage(3, false),
                storage(4, false),
                storage(5, false),
                storage(6, false),
                storage(7, false),
                storage(8, false),
            ],
        });
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("verify"),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let make = |entry: &str| {
            device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(entry),
                layout: Some(&pipeline_layout),
                module: &module,
                entry_point: Some(entry),
                compilation_options: Default::default(),
                cache: None,
            })
        };
        let pipeline = make("verify");
        let block = make("verify_block");
        let generate = make("generate");
        let rates_round = make("rates_round");
        let tree = tree::TreeKernel::new(&device, &module);
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(Error::Gpu(format!("cannot build the verify pipeline: {e}")));
        }
        let params = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("params"),
            contents: bytemuck::bytes_of(&GpuParams::default()),
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
        });
        Ok(GpuContext {
            device,
            queue,
            info,
            pipeline,
            block,
            generate,
            rates_round,
            tree,
            layout,
            params,
            bufs: None,
            errors,
            config: GpuConfig::default(),
            recovery: Recovery::default(),
        })
    }

    /// Whether the adapter is a software one (e.g. Mesa's llvmpipe), which runs on the CPU.
    pub fn is_software(&self) -> bool {
        self.info.device_type == wgpu::DeviceType::Cpu
    }

    /// The adapter's description.
    pub fn adapter_info(&self) -> &wgpu::AdapterInfo {
        &self.info
    }

    /// The device (e.g. to share it between tests).
    pub fn device(&self) -> &wgpu::Device {
        &self.device
    }

    /// The queue (e.g. for tests that run their own probes on the shared device).
    pub fn queue(&self) -> &wgpu::Queue {
        &self.queue
    }

    /// How many rounds of shape (K, V) fit in one chunk on this adapter.
    pub fn rounds_per_chunk(&self, k: usize, v: usize) -> Result<usize> {
        let limits = self.device.limits();
        let max_bind = limits
            .max_storage_buffer_binding_size
            .min(limits.max_buffer_size)
            .min(self.config.max_buffer_bytes);
        let per_round = ((k + 1) * v * 4) as u64;
        let mut cap = (max_bind / per_round) as usize;
        if cap == 0 {
            return Err(Error::Gpu(format!(
                "one round of K = {k}, V = {v} needs {per_round} bytes of target probabilities, more than this adapter's storage binding limit of {max_bind} bytes; use --engine cpu"
            )));
        }
        cap = cap.min(self.config.max_groups_x as usize * 65535);
        if let Some(m) = self.config.max_rounds_per_chunk {
            cap = cap.min(m.max(1));
        }
        Ok(cap)
    }

    pub(crate) fn ensure_buffers(&mut self, n: usize, k: usize, v: usize) -> Result<()> {
        let cap = self.rounds_per_chunk(k, v)?.min(n.max(1));
        // Buffers for a larger K (same V) hold any round of a smaller K.
        if let Some(b) = &self.bufs
            && b.k >= k
            && b.v == v
            && b.cap_rounds >= cap
        {
            return Ok(());
        }
        self.bufs = None;
        let dev = &self.device;
        let mk = |label: &str, bytes: usize, usage: wgpu::BufferUsages| {
            dev.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size: (bytes.max(4) as u64).next_multiple_of(4),
                usage,
                mapped_at_creation: false,
            })
        };
        let input = wgpu::BufferUsages::STORAGE
            | wgpu::BufferUsages::COPY_DST
            | wgpu::BufferUsages::COPY_SRC;
        let output = wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC;
        let scope = dev.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let draft = mk("draft", cap * k * v * 4, input);
        let target = mk("target", cap * (k + 1) * v * 4, input);
        let tokens = mk("tokens", cap * k * 4, input);
        let coins = mk("coins", cap * k * 4, input);
        let out_tokens = mk("out_tokens", cap * (k + 1) * 4, output);
        let out_acc = mk("out_accepted", cap * 4, output);
        let betas = mk("betas", cap * k * 4, output);
        let rates = mk("rates", k * 4, input);
        let readback = mk(
            "readback",
            cap * (k + 2).max(k + 1 + k) * 4,
            wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        );
        let bind_group = dev.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("verify"),
            layout: &self.layout,
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: self.params.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: draft.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 2,
                    resource: target.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 3,
                    resource: tokens.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 4,
                    resource: coins.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 5,
                    resource: out_tokens.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 6,
                    resource: out_acc.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 7,
                    resource: betas.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 8,
                    resource: rates.as_entire_binding(),
                },
            ],
        });
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(Error::Gpu(format!(
                "cannot allocate buffers for {cap} rounds of K = {k}, V = {v}: {e}"
            )));
        }
        self.bufs = Some(Buffers {
            cap_rounds: cap,
            k,
            v,
            draft,
            target,
            tokens,
            coins,
            out_tokens,
            out_acc,
            betas,
            rates,
            readback,
            bind_group,
        });
        Ok(())
    }

    pub(crate) fn take_errors(&self) -> Result<()> {
        let mut errs = self
            .errors
            .lock()
            .map_err(|_| Error::Gpu("poisoned".into()))?;
        if errs.is_empty() {
            Ok(())
        } else {
            let msg = errs.join("; ");
            errs.clear();
            Err(Error::Gpu(msg))
        }
    }

    /// Uploads rounds `r0..r0 + n` of a validated batch into the device buffers.
    fn upload(&mut self, view: &BatchView, r0: usize, n: usize) -> Result<()> {
        let (k, v) = (view.k, view.v);
        self.ensure_buffers(n, k, v)?;
        let b = self.bufs.as_ref().expect("buffers were just made");
        let write_floats = |buf: &wgpu::Buffer, f: Floats| {
            let mut tmp = Vec::new();
            let data = f.as_f32(&mut tmp);
            self.queue.write_buffer(buf, 0, bytemuck::cast_slice(data));
        };
        let write_raw_f32 = |buf: &wgpu::Buffer, f: Floats| match f {
            // Unaligned or not, float32 bytes are uploaded as they are.
            Floats::F32(bytes) if !bytes.is_empty() => self.queue.write_buffer(buf, 0, bytes),
            Floats::F32(_) => {}
            f64s => write_floats(buf, f64s),
        };
        write_raw_f32(&b.draft, view.draft.slice(r0 * k * v, n * k * v));
        write_raw_f32(
            &b.target,
            view.target.slice(r0 * (k + 1) * v, n * (k + 1) * v),
        );
        write_raw_f32(&b.coins, view.coins.slice(r0 * k, n * k));
        let toks: Vec<u32> = (r0 * k..(r0 + n) * k)
            .map(|i| view.tokens.get(i) as u32)
            .collect();
        if !toks.is_empty() {
            self.queue
                .write_buffer(&b.tokens, 0, bytemuck::cast_slice(&toks));
        }
        Ok(())
    }

    /// The dispatch parameters for `n` rounds of (K, V) starting at global round `r0`.
    pub(crate) fn params_for(&self, n: usize, k: usize, v: usize, r0: u64) -> GpuParams {
        let rec = &self.recovery;
        GpuParams {
            n_rounds: n as u32,
            k: k as u32,
            vocab: v as u32,
            mode: u32::from(rec.mode == RecoveryMode::Sample),
            seed_lo: rec.seed as u32,
            seed_hi: (rec.seed >> 32) as u32,
            round_offset: (rec.round_offset + r0) as u32,
            t_target: 1.0,
            t_draft: 1.0,
            ..GpuParams::default()
        }
    }

    /// Writes `params` (with `groups_x` set for `items` workgroups) and records a dispatch of
    /// `pipeline` over `items` workgroups (2D when more than `max_groups_x`).
    pub(crate) fn record(
        &self,
        enc: &mut wgpu::CommandEncoder,
        pipeline: &wgpu::ComputePipeline,
        params: GpuParams,
        items: usize,
    ) {
        let b = self
            .bufs
            .as_ref()
            .expect("buffers are made before dispatch");
        self.record_group(enc, pipeline, &b.bind_group, params, items);
    }

    /// [`GpuContext::record`] with a bind group of the caller's.
    pub(crate) fn record_group(
        &self,
        enc: &mut wgpu::CommandEncoder,
        pipeline: &wgpu::ComputePipeline,
        group: &wgpu::BindGroup,
        mut params: GpuParams,
        items: usize,
    ) {
        let gx = (items as u32).clamp(1, self.config.max_groups_x);
        let gy = (items as u32).div_ceil(gx).max(1);
        params.groups_x = gx;
        self.queue
            .write_buffer(&self.params, 0, bytemuck::bytes_of(&params));
        let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("specsim"),
            timestamp_writes: None,
        });
        pass.set_pipeline(pipeline);
        pass.set_bind_group(0, group, &[]);
        pass.dispatch_workgroups(gx, gy, 1);
    }

    /// Submits `enc` inside a validation error scope and waits for the GPU.
    pub(crate) fn submit_and_wait(&self, enc: wgpu::CommandEncoder) -> Result<()> {
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        self.queue.submit([enc.finish()]);
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(Error::Gpu(format!("dispatch failed: {e}")));
        }
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| Error::Gpu(format!("waiting for the GPU failed: {e}")))?;
        self.take_errors()
    }

    /// Dispatches the verify kernel over the `n` uploaded rounds (global index `r0` onwards) and,
    /// if `readback`, copies the results into the mappable buffer. Waits for the GPU.
    fn dispatch(
        &self,
        rule: Rule,
        n: usize,
        k: usize,
        v: usize,
        r0: u64,
        readback: bool,
    ) -> Result<()> {
        let b = self.bufs.as_ref().expect("upload made the buffers");
        let mut enc = self
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("verify"),
            });
        self.record(
            &mut enc,
            self.pipeline_for(rule),
            self.params_for(n, k, v, r0),
            n,
        );
        if readback {
            let tok_bytes = (n * (k + 1) * 4) as u64;
            enc.copy_buffer_to_buffer(&b.out_tokens, 0, &b.readback, 0, tok_bytes);
            enc.copy_buffer_to_buffer(&b.out_acc, 0, &b.readback, tok_bytes, (n * 4) as u64);
        }
        self.submit_and_wait(enc)
    }

    /// The verification kernel of a rule.
    pub(crate) fn pipeline_for(&self, rule: Rule) -> &wgpu::ComputePipeline {
        match rule {
            Rule::Token => &self.pipeline,
            Rule::Block => &self.block,
            _ => unreachable!("tree rules run through run_tree"),
        }
    }

    /// Verifies every round of a validated batch with the token rule, chunk by chunk.
    pub fn run(&mut self, view: &BatchView) -> Result<BatchResult> {
        self.run_rule(view, Rule::Token)
    }

    /// Verifies every round of a validated batch under `rule`, chunk by chunk.
    pub fn run_rule(&mut self, view: &BatchView, rule: Rule) -> Result<BatchResult> {
        if rule.is_tree() {
            let path = crate::tree::Tree::path(view.k);
            let tv = crate::tree::batch::TreeView::from_chain(view, &path, rule);
            return Ok(self.run_tree(&tv, rule, self.recovery)?.into_chain());
        }
        let (k, v) = (view.k, view.v);
        let mut out = BatchResult::new(view.n, k);
        if view.n == 0 {
            return Ok(out);
        }
        let cap = self.rounds_per_chunk(k, v)?;
        let mut r0 = 0;
        while r0 < view.n {
            let n = cap.min(view.n - r0);
            self.upload(view, r0, n)?;
            self.dispatch(rule, n, k, v, r0 as u64, true)?;
            self.read_results(n, k, &mut out, r0)?;
            r0 += n;
        }
        Ok(out)
    }

    /// For kernel-only benchmarks: uploads the first chunk of `view` and returns how many rounds
    /// it holds; then [`GpuContext::run_uploaded`] runs the kernel on them without transfers.
    pub fn upload_for_bench(&mut self, view: &BatchView) -> Result<usize> {
        let n = self.rounds_per_chunk(view.k, view.v)?.min(view.n);
        self.upload(view, 0, n)?;
        Ok(n)
    }

    /// Runs the kernel on the `n` rounds uploaded by [`GpuContext::upload_for_bench`] and waits.
    pub fn run_uploaded(&self, n: usize, k: usize, v: usize) -> Result<()> {
        self.run_uploaded_rule(Rule::Token, n, k, v)
    }

    /// [`GpuContext::run_uploaded`] under `rule`.
    pub fn run_uploaded_rule(&self, rule: Rule, n: usize, k: usize, v: usize) -> Result<()> {
        self.dispatch(rule, n, k, v, 0, false)
    }
}
