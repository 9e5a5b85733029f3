//! Rows of chosen positions of a family's rounds, one position at a time ([`PositionRows`]):
//! what round-by-round tree studies and `eagle2`'s growth read, keyed by (round, position) as
//! [`super::generate_chunk`] keys them.

use super::Generator;
use crate::rng::{random_u32, stream, uniform_f32};
use crate::workload::{Family, Workload};

/// Rows of chosen positions of a family's rounds, generated one position at a time: what the
/// per-round trees of `eagle2` read (each candidate's rows keyed by (round, its position)).
pub struct PositionRows<'a> {
    g: Generator<'a>,
    z: Vec<f32>,
    e: Vec<f32>,
}

impl<'a> PositionRows<'a> {
    /// A generator of `w`'s rows under `seed` (with its own scratch; one per thread).
    pub fn new(w: &'a Workload, seed: u64) -> PositionRows<'a> {
        let v = w.vocab;
        PositionRows {
            g: Generator::new(w, seed),
            z: vec![0.0; v],
            e: vec![0.0; v],
        }
    }

    /// Round `gr`'s target and draft rows at position `p` into `t` and `d` (V each): the rows
    /// [`super::generate_chunk`] gives that position at any K > p.
    pub fn rows(&mut self, gr: u32, p: u32, t: &mut [f32], d: &mut [f32]) {
        self.g.rows_at(gr, p, &mut self.z, &mut self.e, t, d);
    }

    /// Whether the draft row can be made without the target row ([`PositionRows::draft`]): every
    /// family but `mixture`, whose draft mixes the target row in.
    pub fn defers_target(&self) -> bool {
        !matches!(self.g.w.family, Family::Mixture { .. })
    }

    /// Round `gr`'s draft row at position `p` into `d` and its target logits into `z` (V each),
    /// without the target row where the family [`PositionRows::defers_target`] (with it, in
    /// scratch, otherwise): [`PositionRows::target`] makes it from `z` later, so the two give
    /// [`PositionRows::rows`]' rows bit for bit.
    pub fn draft(&mut self, gr: u32, p: u32, z: &mut [f32], d: &mut [f32]) {
        if self.defers_target() {
            self.g.draft_at(gr, p, z, &mut self.e, d);
        } else {
            let mut t = std::mem::take(&mut self.z);
            self.g.rows_at(gr, p, z, &mut self.e, &mut t, d);
            self.z = t;
        }
    }

    /// The target row from the logits `z` that [`PositionRows::draft`] left.
    pub fn target(&self, z: &[f32], t: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2 (checked just above).
            unsafe { self.g.target_avx2(z, t) };
            return;
        }
        self.g.target_from_logits(z, t);
    }

    /// Round `gr`'s coin at position `p` (as [`super::generate_chunk`]'s).
    pub fn coin(&self, gr: u32, p: u32) -> f32 {
        uniform_f32(random_u32(self.g.seed, gr, p, stream::COIN, 0))
    }
}
