//! The GPU engine: wgpu + WGSL. A context (device, queue, the kernel table, reusable buffers) is
//! built once and reused for every chunk of every batch. Adapter selection is split from the GPU
//! work, so a test can hand in its own device ([`GpuContext::from_device`]).
//!
//! By role: `adapter.rs` (which adapter), `kernel/` (the kernel table: sources, binding lists,
//! pipelines, dispatch), `params.rs` (each kernel's uniform struct), `buffers.rs` (the chain
//! kernels' chunk buffers and upload), `chain.rs` (the chain rules over a batch), `tree.rs` (the
//! tree rules), `study.rs` (workloads generated on the device), `readback.rs` (results back and
//! the copy floor). Nothing outside `gpu/` reaches these internals.
//!
//! Adapter selection honours `WGPU_BACKEND` (e.g. `vulkan`), `WGPU_ADAPTER_NAME` (a substring of
//! the adapter's name, case-insensitive) and `WGPU_POWER_PREF` (`low` or `high`).

use std::sync::{Arc, Mutex};

mod adapter;
mod buffers;
mod chain;
mod compat;
mod compat_tree;
mod kernel;
mod params;
mod readback;
pub mod study;
pub mod tree;

pub use adapter::{describe, select_adapter};

use crate::error::{Error, Result};
use kernel::{KernelId, Kernels};
use params::KernelParams;

/// Invocations per workgroup of every kernel (keep in sync with `WG` in
/// `shaders/shared/reduce.wgsl`).
pub const WORKGROUP_SIZE: u32 = 256;

/// Every kernel's entry point and whole WGSL source (the shared helpers it includes, then its
/// own file), as the GPU engine compiles them.
pub fn kernel_sources() -> impl Iterator<Item = (&'static str, &'static str)> {
    kernel::KERNELS.iter().map(|k| (k.entry, k.source))
}

/// Knobs for chunking (tests make them small to exercise several chunks and 2D dispatch).
#[derive(Clone, Debug)]
pub struct GpuConfig {
    /// At most this many rounds per chunk (besides the adapter's limits).
    pub max_rounds_per_chunk: Option<usize>,
    /// Workgroups per dispatch dimension (the WebGPU limit is 65535).
    pub max_groups_x: u32,
    /// Upper bound on one input buffer, so device memory stays bounded whatever N is (512 MiB by
    /// default; a round whose target rows exceed it is refused, so it is not the host's chunk
    /// budget, which always allows one round).
    pub max_buffer_bytes: u64,
    /// Loop iterations one kernel invocation may run before its round is left unfinished (and
    /// finished on the CPU by the engine layer); `None`: [`GpuContext::loop_budget`]'s default
    /// for the adapter.
    pub work_budget: Option<u32>,
}

/// The loop iterations a software adapter's invocation may run: Mesa's lavapipe stops a
/// shader's loops after 65,535 iterations (shared by every loop of an invocation), less a margin
/// for the few small loops the kernels do not charge.
pub const SOFTWARE_LOOP_BUDGET: u32 = 60_000;

impl Default for GpuConfig {
    fn default() -> Self {
        GpuConfig {
            max_rounds_per_chunk: None,
            max_groups_x: 65535,
            max_buffer_bytes: 512 << 20,
            work_budget: None,
        }
    }
}

/// A GPU ready to verify batches.
pub struct GpuContext {
    device: wgpu::Device,
    queue: wgpu::Queue,
    info: wgpu::AdapterInfo,
    kernels: Kernels,
    bufs: Option<buffers::ChainBuffers>,
    tree_bufs: Option<tree::TreeBuffers>,
    errors: Arc<Mutex<Vec<String>>>,
    /// Chunking knobs.
    pub config: GpuConfig,
    /// Rounds the kernels left unfinished (out of their loop budget) that the engine layer
    /// finished on the CPU twin, since the last report.
    pub finished_on_cpu: u64,
    /// Rounds the kernels cannot take (a profile's tree with a node of more than
    /// [`tree::MAX_CHILDREN`] children, or one round larger than a storage binding) that were
    /// decided by the reference instead, since the last report.
    pub beyond_limits_on_cpu: u64,
    /// The id of the rows a tree study generated into the chain buffers
    /// ([`GpuContext::generate_tree_rows`]) while they are still there; 0 once anything else
    /// has taken the buffers (every writer goes through `bufs()`, which clears it).
    resident: std::sync::atomic::AtomicU64,
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
        let kernels = Kernels::build(&device)?;
        Ok(GpuContext {
            device,
            queue,
            info,
            kernels,
            bufs: None,
            tree_bufs: None,
            errors,
            config: GpuConfig::default(),
            finished_on_cpu: 0,
            beyond_limits_on_cpu: 0,
            resident: Default::default(),
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

    /// How many rounds of shape (K, V) fit in one chunk on this adapter: a chunk's target rows
    /// within one storage binding and within `config.max_buffer_bytes`.
    pub fn rounds_per_chunk(&self, k: usize, v: usize) -> Result<usize> {
        let limits = self.device.limits();
        let max_bind = limits
            .max_storage_buffer_binding_size
            .min(limits.max_buffer_size)
            .min(self.config.max_buffer_bytes);
        // The target rows, or the betas and stopping features read back (5 K + 2 words).
        let per_round = ((k + 1) * v).max(5 * k + 2) as u64 * 4;
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

    /// Compiles every kernel's pipeline now (each is otherwise compiled when first
    /// dispatched): a WGSL or pipeline error is an `Err` naming the kernel.
    pub fn compile_kernels(&self) -> Result<()> {
        self.kernels.compile_all(&self.device)
    }

    /// Records a dispatch of kernel `id` with `params` over `items` workgroups.
    fn record<P: KernelParams>(
        &self,
        enc: &mut wgpu::CommandEncoder,
        id: KernelId,
        group: &wgpu::BindGroup,
        params: P,
        items: usize,
    ) -> Result<()> {
        let mut params = params;
        params.set_work_budget(self.loop_budget());
        self.kernels.get(id).record(
            &self.device,
            &self.queue,
            enc,
            group,
            params,
            items,
            self.config.max_groups_x,
        )
    }

    /// The loop iterations one kernel invocation may run: [`SOFTWARE_LOOP_BUDGET`] on a
    /// software adapter (whose loops stop after a fixed count), unlimited on hardware, or the
    /// configured value.
    pub fn loop_budget(&self) -> u32 {
        self.config.work_budget.unwrap_or(if self.is_software() {
            SOFTWARE_LOOP_BUDGET
        } else {
            u32::MAX
        })
    }

    /// A command encoder.
    fn encoder(&self) -> wgpu::CommandEncoder {
        self.device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("specsim"),
            })
    }

    /// Submits `enc` inside a validation error scope and waits for the GPU.
    fn submit_and_wait(&self, enc: wgpu::CommandEncoder) -> Result<()> {
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

    /// The device errors reported since the last call, as one `Err`.
    fn take_errors(&self) -> Result<()> {
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
}
