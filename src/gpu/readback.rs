//! Reading results back from the device (mapped buffers, whole chunks for replay) and the
//! device's copy bandwidth, the GPU memory floor of the benchmarks.

use std::time::Instant;

use super::GpuContext;
use crate::batch::{Batch, Outcomes};
use crate::error::{Error, Result};

impl GpuContext {
    /// Copies `bytes` of the readback buffer out after the GPU wrote them.
    pub(super) fn read_back(&self, bytes: u64) -> Result<Vec<u32>> {
        let b = self.bufs.as_ref().expect("buffers exist");
        self.map_read(&b.readback, bytes)
    }

    /// Maps the first `bytes` of a MAP_READ buffer, copies them out as words, and unmaps it.
    pub(super) fn map_read(&self, buffer: &wgpu::Buffer, bytes: u64) -> Result<Vec<u32>> {
        let slice = buffer.slice(0..bytes);
        let (tx, rx) = std::sync::mpsc::channel();
        slice.map_async(wgpu::MapMode::Read, move |r| {
            let _ = tx.send(r);
        });
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| Error::Gpu(format!("waiting for the GPU failed: {e}")))?;
        rx.recv()
            .map_err(|_| Error::Gpu("readback was dropped".into()))?
            .map_err(|e| Error::Gpu(format!("cannot map the results: {e}")))?;
        let out = {
            let data = slice
                .get_mapped_range()
                .map_err(|e| Error::Gpu(format!("cannot read the results: {e}")))?;
            bytemuck::cast_slice::<u8, u32>(&data).to_vec()
        };
        buffer.unmap();
        self.take_errors()?;
        Ok(out)
    }

    pub(super) fn read_results(
        &self,
        n: usize,
        k: usize,
        out: &mut Outcomes,
        r0: usize,
    ) -> Result<()> {
        let words = self.read_back((n * (k + 2) * 4) as u64)?;
        let toks = &words[..n * (k + 1)];
        let acc = &words[n * (k + 1)..n * (k + 2)];
        for (dst, &src) in out.tokens[r0 * (k + 1)..(r0 + n) * (k + 1)]
            .iter_mut()
            .zip(toks)
        {
            *dst = src as i32;
        }
        out.num_accepted[r0..r0 + n].copy_from_slice(acc);
        Ok(())
    }

    /// Reads back the `m` rounds of (K, V) held in the device buffers and the kernel's results for
    /// them (for replaying a GPU study on the CPU).
    pub(crate) fn read_chunk(&self, m: usize, k: usize, v: usize) -> Result<(Batch, Outcomes)> {
        let b = self.bufs.as_ref().expect("buffers exist");
        let parts: [(&wgpu::Buffer, usize); 6] = [
            (&b.draft, m * k * v),
            (&b.target, m * (k + 1) * v),
            (&b.tokens, m * k),
            (&b.coins, m * k),
            (&b.out_tokens, m * (k + 1)),
            (&b.out_acc, m),
        ];
        let total: usize = parts.iter().map(|p| p.1).sum();
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("replay"),
            size: (total.max(1) * 4) as u64,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(Error::Gpu(format!(
                "cannot allocate the replay buffer: {e}"
            )));
        }
        let mut enc = self.device.create_command_encoder(&Default::default());
        let mut off = 0u64;
        for (buf, words) in parts {
            if words > 0 {
                enc.copy_buffer_to_buffer(buf, 0, &staging, off, (words * 4) as u64);
            }
            off += (words * 4) as u64;
        }
        self.submit_and_wait(enc)?;
        let words = self.map_read(&staging, (total.max(1) * 4) as u64)?;
        let mut at = 0;
        let mut take = |len: usize| {
            let s = &words[at..at + len];
            at += len;
            s
        };
        let f = |s: &[u32]| s.iter().map(|&x| f32::from_bits(x)).collect::<Vec<f32>>();
        let draft = f(take(m * k * v));
        let target = f(take(m * (k + 1) * v));
        let tokens = take(m * k).to_vec();
        let coins = f(take(m * k));
        let out_tokens = take(m * (k + 1)).iter().map(|&x| x as i32).collect();
        let num_accepted = take(m).to_vec();
        Ok((
            Batch {
                n: m,
                k,
                v,
                draft,
                target,
                tokens,
                coins,
            },
            Outcomes {
                depth: k,
                tokens: out_tokens,
                num_accepted,
                nodes: None,
            },
        ))
    }

    /// Measures device-to-device copy bandwidth (bytes read per second) with a buffer of `bytes`,
    /// `reps` copies after one warm-up: the GPU's memory floor for the benchmarks.
    pub fn copy_bandwidth(&self, bytes: u64, reps: u32) -> Result<f64> {
        let bytes = bytes
            .min(self.device.limits().max_buffer_size)
            .next_multiple_of(4);
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let mk = |usage| {
            self.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("copy floor"),
                size: bytes,
                usage,
                mapped_at_creation: false,
            })
        };
        let src = mk(wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST);
        let dst = mk(wgpu::BufferUsages::COPY_DST);
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(Error::Gpu(format!("cannot allocate {bytes} bytes: {e}")));
        }
        let run = |times: u32| -> Result<f64> {
            let mut enc = self.device.create_command_encoder(&Default::default());
            for _ in 0..times {
                enc.copy_buffer_to_buffer(&src, 0, &dst, 0, bytes);
            }
            let t = Instant::now();
            self.queue.submit([enc.finish()]);
            self.device
                .poll(wgpu::PollType::wait_indefinitely())
                .map_err(|e| Error::Gpu(e.to_string()))?;
            Ok(t.elapsed().as_secs_f64())
        };
        run(1)?;
        let secs = run(reps.max(1))?;
        self.take_errors()?;
        Ok(bytes as f64 * reps.max(1) as f64 / secs)
    }
}
