//! The chain token rule under a compatibility profile on the GPU (`shaders/compat.wgsl`): every
//! round checked on the host as the reference checks it, then decided by the kernel chunk by
//! chunk; the rounds the kernel leaves to the host (out of its loop budget, an all-zero row the
//! profile refuses, a row sum that overflows) are decided by the reference, so the answers are
//! the reference's, bit for bit.

use super::GpuContext;
use super::buffers::{INPUT, OUTPUT, buffer};
use super::kernel::KernelId;
use super::params::RoundParams;
use crate::batch::UNFINISHED;
use crate::chunk::chunks;
use crate::compat::{
    BatchRef, CompatOutcome, Profile, QZero, Residual, Select, ZeroResidual, check_batch,
    decide_chain,
};
use crate::error::{Error, Result};
use crate::rule::Recovery;

/// The kernel's count of a round it leaves to the host (`HOST_ROUND` in `shaders/shared/select.wgsl`).
pub(super) const HOST_ROUND: u32 = 0xffff_fffe;

/// The profile's semantics as the kernel reads them (`PROFILE_*` in `shaders/compat.wgsl`).
pub(crate) fn profile_bits(profile: Profile) -> u32 {
    let s = profile.semantics();
    let mut b = u32::from(s.cmp == crate::compat::Cmp::Le);
    b |= u32::from(s.ignores_q) << 1;
    b |= match s.q_zero {
        QZero::Refuse => 0,
        QZero::Reject => 1,
        QZero::AcceptIfP => 2,
    } << 2;
    b |= u32::from(s.residual == Residual::TargetWithoutDraft) << 4;
    b |= match s.zero_residual {
        ZeroResidual::Target => 0,
        ZeroResidual::Zero => 1,
        ZeroResidual::Last => 2,
        ZeroResidual::Refuse => 3,
    } << 6;
    b |= match s.select {
        Select::Argmax => 0,
        Select::InverseCdf => 1,
        Select::ExpRace => 2,
    } << 8;
    b |= u32::from(s.product_f32) << 10;
    b |= u32::from(s.correction_coin_next) << 11;
    b
}

impl GpuContext {
    /// Every round of `b` under `profile` (the chain token rule): the outcomes, and how many
    /// rounds the kernel left unfinished (out of its loop budget) for the reference to decide.
    /// Refuses as the reference does, naming the lowest refused round.
    pub fn run_compat(
        &mut self,
        b: &BatchRef,
        profile: Profile,
    ) -> Result<(Vec<CompatOutcome>, u64)> {
        if let Err(first) = check_batch(b, profile) {
            // A round before the first one the checks refuse may be refused only when it is
            // decided (HF's all-zero row): the reference names the lowest refused round.
            return Err(crate::compat::decide_batch(b, profile)
                .err()
                .unwrap_or(first));
        }
        let (n, k, v) = (b.n, b.k, b.v);
        let sem = profile.semantics();
        let mut out = Vec::with_capacity(n);
        let mut host = 0u64;
        if n == 0 {
            return Ok((out, 0));
        }
        let cap = self.rounds_per_chunk(k, v)?;
        for (r0, m) in chunks(n as u64, cap) {
            let r0 = r0 as usize;
            self.ensure_buffers(m, k, v)?;
            let dev = &self.device;
            let q = &self.queue;
            let bufs = self.bufs();
            let f32s = |x: &[f32]| bytemuck::cast_slice::<f32, u8>(x).to_vec();
            q.write_buffer(
                &bufs.draft,
                0,
                &f32s(&b.draft[r0 * k * v..(r0 + m) * k * v]),
            );
            q.write_buffer(
                &bufs.target,
                0,
                &f32s(&b.target[r0 * (k + 1) * v..(r0 + m) * (k + 1) * v]),
            );
            q.write_buffer(&bufs.coins, 0, &f32s(&b.coins[r0 * k..(r0 + m) * k]));
            // Ids outside 0..V (which the profile rejects) as NONE.
            let toks: Vec<u32> = b.tokens[r0 * k..(r0 + m) * k]
                .iter()
                .map(|&t| {
                    u32::try_from(t)
                        .ok()
                        .filter(|&x| (x as usize) < v)
                        .unwrap_or(u32::MAX)
                })
                .collect();
            q.write_buffer(&bufs.tokens, 0, bytemuck::cast_slice(&toks));
            let scope = dev.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
            let finals = buffer(dev, "final_coins", m * 4, INPUT);
            let noise_len = if b.exp_noise.is_some() { m * v } else { 1 };
            let noise = buffer(dev, "exp_noise", noise_len * 4, INPUT);
            let passed = buffer(dev, "out_passed", m * 4, OUTPUT);
            if let Some(e) = pollster::block_on(scope.pop()) {
                return Err(Error::Gpu(format!(
                    "cannot allocate the profile's buffers for {m} rounds of V = {v}: {e}"
                )));
            }
            if let Some(f) = b.final_coins {
                q.write_buffer(&finals, 0, &f32s(&f[r0..r0 + m]));
            }
            if let Some(e) = b.exp_noise {
                q.write_buffer(&noise, 0, &f32s(&e[r0 * v..(r0 + m) * v]));
            }
            let kernel = self.kernels.get(KernelId::COMPAT);
            let group = kernel.bind(
                dev,
                &[
                    &bufs.draft,
                    &bufs.target,
                    &bufs.tokens,
                    &bufs.coins,
                    &bufs.out_tokens,
                    &bufs.out_acc,
                    &finals,
                    &noise,
                    &passed,
                ],
            );
            let mut params = RoundParams::new(m, k, v, &Recovery::default(), r0 as u64);
            params.mode = profile_bits(profile);
            params.pad0 =
                u32::from(b.final_coins.is_some()) | u32::from(b.exp_noise.is_some()) << 1;
            let mut enc = self.encoder();
            self.record(&mut enc, KernelId::COMPAT, &group, params, m)?;
            let tok_bytes = (m * (k + 1) * 4) as u64;
            let bufs = self.bufs();
            enc.copy_buffer_to_buffer(&bufs.out_tokens, 0, &bufs.readback, 0, tok_bytes);
            enc.copy_buffer_to_buffer(&bufs.out_acc, 0, &bufs.readback, tok_bytes, (m * 4) as u64);
            enc.copy_buffer_to_buffer(
                &passed,
                0,
                &bufs.readback,
                tok_bytes + (m * 4) as u64,
                (m * 4) as u64,
            );
            self.submit_and_wait(enc)?;
            let words = self.read_back((m * (k + 3) * 4) as u64)?;
            let (toks, rest) = words.split_at(m * (k + 1));
            let (acc, pass) = rest.split_at(m);
            for r in 0..m {
                if acc[r] == UNFINISHED || acc[r] == HOST_ROUND {
                    // The reference decides it (and refuses it where the profile does).
                    let one = decide_chain(&b.round(r0 + r), profile)
                        .map_err(|e| Error::Config(format!("round {}: {e}", r0 + r)))?;
                    out.push(one);
                    host += u64::from(acc[r] == UNFINISHED);
                    continue;
                }
                let a = acc[r];
                out.push(CompatOutcome {
                    tokens: toks[r * (k + 1)..(r + 1) * (k + 1)]
                        .iter()
                        .map(|&t| t as i32)
                        .collect(),
                    num_accepted: a,
                    num_passed: if sem.reports_passed { pass[r] } else { a },
                });
            }
        }
        Ok((out, host))
    }
}
