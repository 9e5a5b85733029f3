//! The chain kernels' buffers: one chunk of rounds (rows, tokens, coins), their outputs, the
//! study extras (betas or survivals, the `rates` family's rates) and the readback buffer, made
//! once for a shape and reused by every later chunk that fits; and the bind group of each kernel
//! that reads them. Also the upload of a chunk of a batch, f32 bytes as they are.

use super::GpuContext;
use super::kernel::KernelId;
use crate::batch::{ChainView, Floats};
use crate::error::{Error, Result};

pub(super) struct ChainBuffers {
    pub(super) cap_rounds: usize,
    k: usize,
    v: usize,
    pub(super) draft: wgpu::Buffer,
    pub(super) target: wgpu::Buffer,
    pub(super) tokens: wgpu::Buffer,
    pub(super) coins: wgpu::Buffer,
    pub(super) out_tokens: wgpu::Buffer,
    pub(super) out_acc: wgpu::Buffer,
    pub(super) betas: wgpu::Buffer,
    pub(super) rates: wgpu::Buffer,
    pub(super) readback: wgpu::Buffer,
    /// Bind groups, by kernel: every chain rule's, generate, rates_round.
    groups: Vec<(KernelId, wgpu::BindGroup)>,
}

impl ChainBuffers {
    /// The bind group of a kernel over these buffers (a chain rule's, generate, rates_round).
    pub(super) fn group(&self, id: KernelId) -> &wgpu::BindGroup {
        &self
            .groups
            .iter()
            .find(|(k, _)| *k == id)
            .expect("a kernel with chunk buffers")
            .1
    }
}

/// Creates a buffer of at least `bytes` (rounded up to 4, at least 4).
pub(super) fn buffer(
    device: &wgpu::Device,
    label: &str,
    bytes: usize,
    usage: wgpu::BufferUsages,
) -> wgpu::Buffer {
    device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size: (bytes.max(4) as u64).next_multiple_of(4),
        usage,
        mapped_at_creation: false,
    })
}

/// Usage of a buffer the host fills and the kernels read.
pub(super) const INPUT: wgpu::BufferUsages = wgpu::BufferUsages::STORAGE
    .union(wgpu::BufferUsages::COPY_DST)
    .union(wgpu::BufferUsages::COPY_SRC);
/// Usage of a buffer the kernels write and the host reads back.
pub(super) const OUTPUT: wgpu::BufferUsages =
    wgpu::BufferUsages::STORAGE.union(wgpu::BufferUsages::COPY_SRC);
/// Usage of a readback buffer.
pub(super) const READBACK: wgpu::BufferUsages =
    wgpu::BufferUsages::MAP_READ.union(wgpu::BufferUsages::COPY_DST);

/// Writes floats into a buffer as f32: f32 bytes as they are (aligned or not), f64 rounded.
pub(super) fn write_floats(queue: &wgpu::Queue, buf: &wgpu::Buffer, f: Floats) {
    match f {
        Floats::F32(bytes) if !bytes.is_empty() => queue.write_buffer(buf, 0, bytes),
        Floats::F32(_) => {}
        f64s => {
            let mut tmp = Vec::new();
            let data = f64s.as_f32(&mut tmp);
            if !data.is_empty() {
                queue.write_buffer(buf, 0, bytemuck::cast_slice(data));
            }
        }
    }
}

/// Writes token ids `range` of a view's tokens into a buffer as u32.
pub(super) fn write_tokens(
    queue: &wgpu::Queue,
    buf: &wgpu::Buffer,
    tokens: &crate::batch::Ints,
    range: std::ops::Range<usize>,
) {
    let toks: Vec<u32> = range.map(|i| tokens.get(i) as u32).collect();
    if !toks.is_empty() {
        queue.write_buffer(buf, 0, bytemuck::cast_slice(&toks));
    }
}

impl GpuContext {
    /// Makes sure the buffers hold `n` rounds of (K, V) (or as many as one chunk holds).
    pub(super) fn ensure_buffers(&mut self, n: usize, k: usize, v: usize) -> Result<()> {
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
        self.resident.store(0, std::sync::atomic::Ordering::Relaxed);
        let dev = &self.device;
        let scope = dev.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let draft = buffer(dev, "draft", cap * k * v * 4, INPUT);
        let target = buffer(dev, "target", cap * (k + 1) * v * 4, INPUT);
        let tokens = buffer(dev, "tokens", cap * k * 4, INPUT);
        let coins = buffer(dev, "coins", cap * k * 4, INPUT);
        let out_tokens = buffer(dev, "out_tokens", cap * (k + 1) * 4, OUTPUT);
        let out_acc = buffer(dev, "out_accepted", cap * 4, OUTPUT);
        // Betas, then the stopping features (4 words a position).
        let betas = buffer(dev, "betas", cap * k * 5 * 4, OUTPUT);
        let rates = buffer(dev, "rates", k * 4, INPUT);
        // Tokens and counts (K + 2 words a round), or counts, betas and features (5 K + 1).
        let readback = buffer(dev, "readback", cap * (5 * k + 2) * 4, READBACK);
        let kernels = &self.kernels;
        let (d, t, tok, c) = (&draft, &target, &tokens, &coins);
        // Every chain kernel: the inputs, tokens and counts, and a per-position output (block's
        // survivals) if it has one.
        let mut groups: Vec<(KernelId, wgpu::BindGroup)> = KernelId::chains()
            .map(|id| {
                let kernel = kernels.get(id);
                let bufs = [d, t, tok, c, &out_tokens, &out_acc, &betas];
                (id, kernel.bind(dev, &bufs[..kernel.buffers()]))
            })
            .collect();
        groups.push((
            KernelId::GENERATE,
            kernels
                .get(KernelId::GENERATE)
                .bind(dev, &[d, t, tok, c, &betas]),
        ));
        groups.push((
            KernelId::RATES_ROUND,
            kernels
                .get(KernelId::RATES_ROUND)
                .bind(dev, &[&rates, &out_acc]),
        ));
        if let Some(e) = pollster::block_on(scope.pop()) {
            // Out of memory: give back the tree kernel's buffers and try once more.
            if self.tree_bufs.is_some() {
                self.tree_bufs = None;
                return self.ensure_buffers(n, k, v);
            }
            return Err(Error::Gpu(format!(
                "cannot allocate buffers for {cap} rounds of K = {k}, V = {v}: {e}"
            )));
        }
        self.bufs = Some(ChainBuffers {
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
            groups,
        });
        Ok(())
    }

    /// The buffers made by [`GpuContext::ensure_buffers`], for a caller that may write them: the
    /// rows a tree study left there are no longer known to be there.
    pub(super) fn bufs(&self) -> &ChainBuffers {
        self.resident.store(0, std::sync::atomic::Ordering::Relaxed);
        self.bufs
            .as_ref()
            .expect("ensure_buffers runs before any use of the buffers")
    }

    /// Uploads rounds `r0..r0 + n` of a validated batch into the device buffers.
    pub(super) fn upload(&mut self, view: &ChainView, r0: usize, n: usize) -> Result<()> {
        let (k, v) = (view.k, view.v);
        self.ensure_buffers(n, k, v)?;
        let b = self.bufs();
        let q = &self.queue;
        write_floats(q, &b.draft, view.draft.slice(r0 * k * v, n * k * v));
        write_floats(
            q,
            &b.target,
            view.target.slice(r0 * (k + 1) * v, n * (k + 1) * v),
        );
        write_floats(q, &b.coins, view.coins.slice(r0 * k, n * k));
        write_tokens(q, &b.tokens, &view.tokens, r0 * k..(r0 + n) * k);
        Ok(())
    }
}
