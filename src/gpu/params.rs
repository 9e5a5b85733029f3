//! The uniform parameters of each kernel: `#[repr(C)]` + `Pod`, one struct per WGSL struct of
//! the same name. A naga test (`kernel::tests`) checks every member's offset against the WGSL.

use bytemuck::{Pod, Zeroable};

use crate::rule::{Recovery, RecoveryMode};

/// A params struct of a kernel: its WGSL name, its members' offsets, and the one field the
/// dispatch fills in (workgroups along x of the 2D dispatch).
pub(crate) trait KernelParams: Pod {
    /// The struct's name in the kernel's WGSL.
    const WGSL_NAME: &'static str;
    /// (member, byte offset), in declaration order, for the naga test.
    fn layout() -> Vec<(&'static str, usize)>;
    /// Sets the workgroups along x of the dispatch.
    fn set_groups_x(&mut self, gx: u32);

    /// Sets the loop budget of one invocation, for the kernels that have one.
    fn set_work_budget(&mut self, _budget: u32) {}
}

/// Lists `(name, offset_of!(T, name))` for the given members.
macro_rules! members {
    ($t:ty, [$($m:ident),* $(,)?]) => {
        vec![$((stringify!($m), std::mem::offset_of!($t, $m))),*]
    };
}

/// `RoundParams` of `shaders/shared/round.wgsl`: the round kernels (verify, verify_block,
/// verify_tree).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct RoundParams {
    /// Rounds in this chunk.
    pub n_rounds: u32,
    /// Drafted tokens per round (the chain kernels).
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
    /// Loop iterations one invocation may run before the round is left unfinished (see
    /// `charge` in `shaders/shared/reduce.wgsl`); set by the dispatch.
    pub work_budget: u32,
    /// Padding (uniform structs are 16-byte multiples).
    pub pad0: u32,
    /// Padding.
    pub pad1: u32,
    /// Padding.
    pub pad2: u32,
}

impl RoundParams {
    /// `n` rounds of (K, V) from chunk-local round 0 = global round `rec.round_offset + r0`.
    pub fn new(n: usize, k: usize, v: usize, rec: &Recovery, r0: u64) -> RoundParams {
        RoundParams {
            n_rounds: n as u32,
            k: k as u32,
            vocab: v as u32,
            groups_x: 0,
            mode: u32::from(rec.mode == RecoveryMode::Sample),
            seed_lo: rec.seed as u32,
            seed_hi: (rec.seed >> 32) as u32,
            round_offset: (rec.round_offset + r0) as u32,
            work_budget: u32::MAX,
            ..RoundParams::default()
        }
    }
}

impl KernelParams for RoundParams {
    const WGSL_NAME: &'static str = "RoundParams";
    fn layout() -> Vec<(&'static str, usize)> {
        members!(
            RoundParams,
            [
                n_rounds,
                k,
                vocab,
                groups_x,
                mode,
                seed_lo,
                seed_hi,
                round_offset,
                work_budget,
                pad0,
                pad1,
                pad2
            ]
        )
    }
    fn set_groups_x(&mut self, gx: u32) {
        self.groups_x = gx;
    }

    fn set_work_budget(&mut self, budget: u32) {
        self.work_budget = budget;
    }
}

/// `GenerateParams` of `shaders/generate.wgsl`: a study chunk generated on the device.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct GenerateParams {
    /// Rounds in this chunk.
    pub n_rounds: u32,
    /// Drafted positions per round.
    pub k: u32,
    /// Vocabulary size.
    pub vocab: u32,
    /// Workgroups along x of the 2D dispatch.
    pub groups_x: u32,
    /// Seed, low 32 bits.
    pub seed_lo: u32,
    /// Seed, high 32 bits.
    pub seed_hi: u32,
    /// Global index of the chunk's first round.
    pub round_offset: u32,
    /// Workload family (`Family::code`).
    pub family: u32,
    /// `quantized`: bits of the draft's logits.
    pub bits: u32,
    /// 1 when `zipf` is nonzero.
    pub zipf_on: u32,
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
    /// The family's parameter drawn per (round, position): 0 none, 1 uniform, 2 log-normal
    /// (`Spread::code`).
    pub spread: u32,
    /// Its first parameter (lo, or mu).
    pub spread_a: f32,
    /// Its second (hi, or s).
    pub spread_b: f32,
    /// 1: also write the stopping policies' features of each position after the betas
    /// (`StudyChunk::features`).
    pub features: u32,
    /// Padding.
    pub pad1: u32,
}

impl KernelParams for GenerateParams {
    const WGSL_NAME: &'static str = "GenerateParams";
    fn layout() -> Vec<(&'static str, usize)> {
        members!(
            GenerateParams,
            [
                n_rounds,
                k,
                vocab,
                groups_x,
                seed_lo,
                seed_hi,
                round_offset,
                family,
                bits,
                zipf_on,
                t_target,
                t_draft,
                sigma,
                lambda,
                zipf,
                spread,
                spread_a,
                spread_b,
                features,
                pad1
            ]
        )
    }
    fn set_groups_x(&mut self, gx: u32) {
        self.groups_x = gx;
    }
}

/// `RatesParams` of `shaders/rates.wgsl`: the `rates` study family.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct RatesParams {
    /// Rounds in this chunk.
    pub n_rounds: u32,
    /// Drafted positions per round.
    pub k: u32,
    /// Workgroups along x of the 2D dispatch.
    pub groups_x: u32,
    /// Global index of the chunk's first round.
    pub round_offset: u32,
    /// Seed, low 32 bits.
    pub seed_lo: u32,
    /// Seed, high 32 bits.
    pub seed_hi: u32,
    /// Padding.
    pub pad0: u32,
    /// Padding.
    pub pad1: u32,
}

impl KernelParams for RatesParams {
    const WGSL_NAME: &'static str = "RatesParams";
    fn layout() -> Vec<(&'static str, usize)> {
        members!(
            RatesParams,
            [
                n_rounds,
                k,
                groups_x,
                round_offset,
                seed_lo,
                seed_hi,
                pad0,
                pad1
            ]
        )
    }
    fn set_groups_x(&mut self, gx: u32) {
        self.groups_x = gx;
    }
}
