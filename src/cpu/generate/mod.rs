//! CPU twin of `shaders/generate.wgsl`: the distribution families generated in Rust (same
//! families, streams and formulas; the transcendental functions of the two devices differ in
//! their last bits, so generated values are not bit-identical across engines, while decisions on
//! the same values are).

use rayon::prelude::*;

use crate::batch::Batch;
use crate::exact::{accepts_native, key, sample_index};
use crate::normal::normals;
use crate::rng::{random_u32, random_u64, stream, uniform_f32};
use crate::vmath::{exp_nonpositive, lane_max, lane_sum};
use crate::workload::{Family, Workload};

mod position;

pub use position::PositionRows;

/// The logits of a stream's row: standard normals ([`normals`], as `normal` in the shader), less
/// the Zipf decay `zipf · ln(1 + x)` when asked (`decay`, the same for every row).
fn logits(seed: u64, round: u32, position: u32, stream: u32, decay: &[f32], out: &mut [f32]) {
    normals(seed, round, position, stream, 0, out);
    if !decay.is_empty() {
        for (z, &d) in out.iter_mut().zip(decay) {
            *z -= d;
        }
    }
}

/// Softmax in place: exp(x − max), each divided by the sum ([`crate::vmath`]'s `exp` and eight-lane
/// sum and max, so the loops vectorise).
#[inline(always)]
fn softmax_in_place(row: &mut [f32]) {
    let m = lane_max(row);
    for x in row.iter_mut() {
        *x = exp_nonpositive(*x - m);
    }
    let inv = 1.0 / lane_sum(row);
    row.iter_mut().for_each(|x| *x *= inv);
}

/// sum_x min(p(x), q(x)), in eight lanes.
#[inline(always)]
fn overlap(p: &[f32], q: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (pc, qc) = (p.chunks_exact(8), q.chunks_exact(8));
    let (pr, qr) = (pc.remainder(), qc.remainder());
    for (a, b) in pc.zip(qc) {
        for j in 0..8 {
            acc[j] += if a[j] < b[j] { a[j] } else { b[j] };
        }
    }
    for (j, (&a, &b)) in pr.iter().zip(qr).enumerate() {
        acc[j] += if a < b { a } else { b };
    }
    acc.iter().sum()
}

/// One generated round's buffers: draft rows [K, V], target rows [K + 1, V], the drafted
/// tokens, the coins and the betas [K].
struct RoundBufs<'a> {
    d: &'a mut [f32],
    t: &'a mut [f32],
    tok: &'a mut [u32],
    c: &'a mut [f32],
    beta: &'a mut [f32],
}

/// What every round of a chunk shares: the workload, the seed, and the Zipf decay
/// `zipf · ln(1 + x)` for x in 0..V (the same for every row; empty without a decay).
struct Generator<'a> {
    w: &'a Workload,
    seed: u64,
    decay: Vec<f32>,
}

impl<'a> Generator<'a> {
    fn new(w: &'a Workload, seed: u64) -> Generator<'a> {
        let decay = if w.zipf != 0.0 {
            (0..w.vocab)
                .map(|x| w.zipf * (1.0 + x as f32).ln())
                .collect()
        } else {
            Vec::new()
        };
        Generator { w, seed, decay }
    }

    /// Generates global round `gr` at K positions into `b` (`z`, `e`: scratch rows of V); the
    /// AVX2 build is taken when the CPU has it (the same bits either way).
    fn round(&self, gr: u32, k: usize, z: &mut [f32], e: &mut [f32], b: RoundBufs) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2 (checked just above).
            unsafe { self.round_avx2(gr, k, z, e, b) };
            return;
        }
        self.round_body(gr, k, z, e, b);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn round_avx2(&self, gr: u32, k: usize, z: &mut [f32], e: &mut [f32], b: RoundBufs) {
        self.round_body(gr, k, z, e, b);
    }

    #[inline(always)]
    fn round_body(&self, gr: u32, k: usize, z: &mut [f32], e: &mut [f32], b: RoundBufs) {
        let (seed, v) = (self.seed, self.w.vocab);
        let RoundBufs { d, t, tok, c, beta } = b;
        for pos in 0..=k {
            let p = pos as u32;
            let trow = &mut t[pos * v..(pos + 1) * v];
            if pos == k {
                self.target_row(gr, p, z, trow);
                break;
            }
            let drow = &mut d[pos * v..(pos + 1) * v];
            self.rows_body(gr, p, z, e, trow, drow);
            beta[pos] = overlap(trow, drow);
            let u = random_u64(seed, gr, p, stream::DRAFT_TOKEN, 0);
            tok[pos] = sample_index(v, |x| key(drow[x].to_bits()), u).unwrap_or(0) as u32;
            c[pos] = uniform_f32(random_u32(seed, gr, p, stream::COIN, 0));
        }
    }

    /// Position `p`'s target row of round `gr` (its logits left in `z`).
    #[inline(always)]
    fn target_row(&self, gr: u32, p: u32, z: &mut [f32], trow: &mut [f32]) {
        logits(self.seed, gr, p, stream::TARGET, &self.decay, z);
        self.target_from_logits(z, trow);
    }

    /// The target row from its logits `z`.
    #[inline(always)]
    fn target_from_logits(&self, z: &[f32], trow: &mut [f32]) {
        for (o, &zx) in trow.iter_mut().zip(z.iter()) {
            *o = zx / self.w.t_target;
        }
        softmax_in_place(trow);
    }

    /// Position `p`'s draft row of round `gr` and its target logits (left in `z`), without the
    /// target row, for the families whose draft does not read it (all but `mixture`).
    #[inline(always)]
    fn draft_body(&self, gr: u32, p: u32, z: &mut [f32], e: &mut [f32], drow: &mut [f32]) {
        logits(self.seed, gr, p, stream::TARGET, &self.decay, z);
        self.draft_from_logits(gr, p, z, e, &[], drow);
    }

    /// Position `p`'s target and draft rows of round `gr`.
    #[inline(always)]
    fn rows_body(
        &self,
        gr: u32,
        p: u32,
        z: &mut [f32],
        e: &mut [f32],
        trow: &mut [f32],
        drow: &mut [f32],
    ) {
        self.target_row(gr, p, z, trow);
        self.draft_from_logits(gr, p, z, e, trow, drow);
    }

    /// Position `p`'s draft row from its target logits `z` (and, for `mixture`, its target row).
    #[inline(always)]
    fn draft_from_logits(
        &self,
        gr: u32,
        p: u32,
        z: &[f32],
        e: &mut [f32],
        trow: &[f32],
        drow: &mut [f32],
    ) {
        let (w, seed, decay) = (self.w, self.seed, &self.decay[..]);
        match w.family {
            Family::Quantized { bits } => {
                let lo = z.iter().copied().fold(f32::INFINITY, f32::min);
                let hi = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let step = (hi - lo) / ((1u32 << bits) - 1) as f32;
                for (o, &zx) in drow.iter_mut().zip(z.iter()) {
                    let q = if step > 0.0 {
                        lo + ((zx - lo) / step).round() * step
                    } else {
                        zx
                    };
                    *o = q / w.t_draft;
                }
                softmax_in_place(drow);
            }
            Family::Mixture { lambda } => {
                logits(seed, gr, p, stream::DRAFT, decay, e);
                for (o, &ex) in drow.iter_mut().zip(e.iter()) {
                    *o = ex / w.t_target;
                }
                softmax_in_place(drow);
                let lambda = w.param_at(lambda, seed, gr, p);
                for (o, &px) in drow.iter_mut().zip(trow.iter()) {
                    *o = (1.0 - lambda) * px + lambda * *o;
                }
            }
            Family::LogitNoise { sigma } => {
                normals(seed, gr, p, stream::DRAFT, 0, e);
                let sigma = w.param_at(sigma, seed, gr, p);
                for (o, (&zx, &ex)) in drow.iter_mut().zip(z.iter().zip(e.iter())) {
                    *o = (zx + sigma * ex) / w.t_draft;
                }
                softmax_in_place(drow);
            }
            Family::Rates { .. } | Family::File { .. } => {
                unreachable!("not a distribution family")
            }
        }
    }

    /// Position `p`'s target and draft rows of round `gr`, as a round generated at K > p has
    /// them (the AVX2 build when the CPU has it; the same bits either way).
    fn rows_at(&self, gr: u32, p: u32, z: &mut [f32], e: &mut [f32], t: &mut [f32], d: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2 (checked just above).
            unsafe { self.rows_avx2(gr, p, z, e, t, d) };
            return;
        }
        self.rows_body(gr, p, z, e, t, d);
    }

    /// [`Generator::draft_body`] (the AVX2 build when the CPU has it; the same bits either way).
    fn draft_at(&self, gr: u32, p: u32, z: &mut [f32], e: &mut [f32], d: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2 (checked just above).
            unsafe { self.draft_avx2(gr, p, z, e, d) };
            return;
        }
        self.draft_body(gr, p, z, e, d);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn draft_avx2(&self, gr: u32, p: u32, z: &mut [f32], e: &mut [f32], d: &mut [f32]) {
        self.draft_body(gr, p, z, e, d);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn target_avx2(&self, z: &[f32], t: &mut [f32]) {
        self.target_from_logits(z, t);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn rows_avx2(
        &self,
        gr: u32,
        p: u32,
        z: &mut [f32],
        e: &mut [f32],
        t: &mut [f32],
        d: &mut [f32],
    ) {
        self.rows_body(gr, p, z, e, t, d);
    }
}

/// Generates rounds `r0..r0 + m` (global indices) of a distribution family with K positions:
/// the batch (rows, drafted tokens sampled from the draft rows, coins) and `beta[round][i] =
/// sum_x min(p(x), q(x))`. Parallel over rounds; memory is the chunk's.
pub fn generate_chunk(w: &Workload, seed: u64, r0: u64, m: usize, k: usize) -> (Batch, Vec<f32>) {
    let v = w.vocab;
    let mut b = Batch::zeros(m, k, v);
    let mut betas = vec![0.0f32; m * k];
    let g = Generator::new(w, seed);
    b.draft
        .par_chunks_mut((k * v).max(1))
        .zip(b.target.par_chunks_mut((k + 1) * v))
        .zip(b.tokens.par_chunks_mut(k.max(1)))
        .zip(b.coins.par_chunks_mut(k.max(1)))
        .zip(betas.par_chunks_mut(k.max(1)))
        .enumerate()
        .for_each_init(
            || (vec![0.0f32; v], vec![0.0f32; v]),
            |(z, e), (r, ((((d, t), tok), c), beta))| {
                let gr = (r0 + r as u64) as u32;
                let bufs = RoundBufs { d, t, tok, c, beta };
                g.round(gr, k, z, e, bufs);
            },
        );
    (b, betas)
}

/// The stopping policies' features of one round's K positions (the twin of the `features` part
/// of `shaders/generate.wgsl`): per position `q(x)`, `p(x)` at the drafted token x, `max q` and
/// the draft row's entropy `−Σ q ln q` in nats, in f32 (4 values a position into `out`).
pub fn stop_features(d: &[f32], t: &[f32], tok: &[u32], v: usize, out: &mut [f32]) {
    for (i, f) in out.chunks_exact_mut(4).enumerate() {
        let row = &d[i * v..(i + 1) * v];
        let x = tok[i] as usize;
        let h: f32 = row.iter().filter(|&&q| q > 0.0).map(|&q| -q * q.ln()).sum();
        f.copy_from_slice(&[row[x], t[i * v + x], lane_max(row), h]);
    }
}

/// The stopping features of every round of a generated batch `[m, K, 4]`.
pub fn batch_stop_features(b: &Batch) -> Vec<f32> {
    let (k, v) = (b.k, b.v);
    let mut out = vec![0.0f32; b.n * k * 4];
    out.par_chunks_mut((k * 4).max(1))
        .enumerate()
        .for_each(|(r, f)| {
            let d = &b.draft[r * k * v..(r + 1) * k * v];
            let t = &b.target[r * (k + 1) * v..(r + 1) * (k + 1) * v];
            stop_features(d, t, &b.tokens[r * k..(r + 1) * k], v, f);
        });
    out
}

/// The token rule's study work on rounds `r0..r0 + m`: each round generated as by
/// [`generate_chunk`] into scratch rows and decided at once (the first rejected position, as the
/// CPU engine decides it), nothing else kept. Returns (accepted per round, betas [m, K], and when
/// `features` the stopping features [m, K, 4]): what `generate_chunk` then the engine give,
/// without the chunk's rows in memory or the recovery token nobody reads.
pub fn accepted_chunk(
    w: &Workload,
    seed: u64,
    r0: u64,
    m: usize,
    k: usize,
    features: bool,
) -> (Vec<u32>, Vec<f32>, Vec<f32>) {
    let v = w.vocab;
    let g = Generator::new(w, seed);
    let mut acc = vec![0u32; m];
    let mut betas = vec![0.0f32; m * k];
    // Without features, a chunk of 0 entries per round.
    let fw = if features { k * 4 } else { 0 };
    let mut feats = vec![0.0f32; (m * fw).max(m)];
    acc.par_iter_mut()
        .zip(betas.par_chunks_mut(k.max(1)))
        .zip(feats.par_chunks_mut(fw.max(1)))
        .enumerate()
        .for_each_init(
            || {
                (
                    vec![0.0f32; v],
                    vec![0.0f32; v],
                    vec![0.0f32; k * v],
                    vec![0.0f32; (k + 1) * v],
                    vec![0u32; k],
                    vec![0.0f32; k],
                )
            },
            |(z, e, d, t, tok, c), (r, ((a, beta), f))| {
                let gr = (r0 + r as u64) as u32;
                let bufs = RoundBufs { d, t, tok, c, beta };
                g.round(gr, k, z, e, bufs);
                if features {
                    stop_features(d, t, tok, v, f);
                }
                *a = (0..k)
                    .find(|&i| {
                        let x = tok[i] as usize;
                        !accepts_native(c[i], d[i * v + x], t[i * v + x])
                    })
                    .unwrap_or(k) as u32;
            },
        );
    feats.truncate(m * fw);
    (acc, betas, feats)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::CpuEngine;

    /// One position's rows alone are that position's rows of a generated round.
    #[test]
    fn position_rows_are_the_rounds_rows() {
        for family in [
            Family::LogitNoise { sigma: 0.7 },
            Family::Mixture { lambda: 0.4 },
            Family::Quantized { bits: 3 },
        ] {
            let w = Workload {
                family,
                vocab: 37,
                t_target: 0.9,
                t_draft: 1.1,
                zipf: 1.0,
                spread: None,
            };
            let (b, _) = generate_chunk(&w, 11, 5, 3, 4);
            let mut g = PositionRows::new(&w, 11);
            let (mut t, mut d) = (vec![0.0f32; 37], vec![0.0f32; 37]);
            for r in 0..3 {
                for p in 0..4 {
                    g.rows(5 + r as u32, p as u32, &mut t, &mut d);
                    let at = (r * 4 + p) * 37;
                    assert_eq!(d, b.draft[at..at + 37], "{w:?} round {r} position {p}");
                    let at = (r * 5 + p) * 37;
                    assert_eq!(t, b.target[at..at + 37], "{w:?} round {r} position {p}");
                    assert_eq!(g.coin(5 + r as u32, p as u32), b.coins[r * 4 + p]);
                }
            }
        }
    }

    /// The fused study path gives what the batch generator then the engine give: the same betas
    /// and the same number accepted in every round, for every family.
    #[test]
    fn accepted_chunk_is_generate_then_verify() {
        let families = [
            Family::LogitNoise { sigma: 0.7 },
            Family::Mixture { lambda: 0.4 },
            Family::Quantized { bits: 3 },
        ];
        for (i, family) in families.into_iter().enumerate() {
            for (k, vocab, zipf) in [(5, 37, 0.0), (1, 300, 1.0), (2, 8, 0.0)] {
                let w = Workload {
                    family: family.clone(),
                    vocab,
                    t_target: 0.9,
                    t_draft: 1.1,
                    zipf,
                    spread: None,
                };
                let (b, betas) = generate_chunk(&w, 5 + i as u64, 40, 200, k);
                let res = CpuEngine::default()
                    .run_chain(&b.view(), crate::rule::Rule::Token)
                    .unwrap();
                let (acc, betas2, feats) = accepted_chunk(&w, 5 + i as u64, 40, 200, k, true);
                assert_eq!(acc, res.num_accepted, "{w:?} K = {k}");
                assert_eq!(betas, betas2, "{w:?} K = {k}");
                assert_eq!(feats, batch_stop_features(&b), "{w:?} K = {k}");
                assert_eq!(accepted_chunk(&w, 5 + i as u64, 40, 200, k, false).0, acc);
                // Not vacuous: rounds were generated and decided both ways.
                assert!(b.target.iter().any(|&x| x > 0.0) && betas.iter().all(|&x| x > 0.0));
                assert!(acc.iter().any(|&a| a > 0) && acc.iter().any(|&a| (a as usize) < k));
            }
        }
    }
}
