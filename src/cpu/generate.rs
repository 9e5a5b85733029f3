//! CPU twin of `shaders/generate.wgsl`: the distribution families generated in Rust (same
//! families, streams and formulas; the transcendental functions of the two devices differ in
//! their last bits, so generated values are not bit-identical across engines, while decisions on
//! the same values are).

use rayon::prelude::*;

use crate::batch::Batch;
use crate::exact::{key, sample_index};
use crate::rng::{philox4x32_10, random_u32, random_u64, stream, uniform_f32, uniform_open_f32};
use crate::workload::{Family, Workload};

/// A standard normal from one Philox block (Box–Muller), as `normal` in the shader.
fn normal(seed: u64, round: u32, position: u32, stream: u32, x: u32) -> f32 {
    let b = philox4x32_10(
        [x, position, stream, round],
        [seed as u32, (seed >> 32) as u32],
    );
    let u1 = uniform_open_f32(b[0]);
    let u2 = uniform_f32(b[1]);
    (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
}

fn logit(w: &Workload, seed: u64, round: u32, position: u32, stream: u32, x: u32) -> f32 {
    let z = normal(seed, round, position, stream, x);
    if w.zipf != 0.0 {
        z - w.zipf * (1.0 + x as f32).ln()
    } else {
        z
    }
}

fn softmax_in_place(row: &mut [f32]) {
    let m = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut s = 0.0f32;
    for x in row.iter_mut() {
        *x = (*x - m).exp();
        s += *x;
    }
    let inv = 1.0 / s;
    row.iter_mut().for_each(|x| *x *= inv);
}

/// Generates rounds `r0..r0 + m` (global indices) of a distribution family with K positions:
/// the batch (rows, drafted tokens sampled from the draft rows, coins) and `beta[round][i] =
/// sum_x min(p(x), q(x))`. Parallel over rounds; memory is the chunk's.
pub fn generate_chunk(w: &Workload, seed: u64, r0: u64, m: usize, k: usize) -> (Batch, Vec<f32>) {
    let v = w.vocab;
    let mut b = Batch::zeros(m, k, v);
    let mut betas = vec![0.0f32; m * k];
    b.draft
        .par_chunks_mut((k * v).max(1))
        .zip(b.target.par_chunks_mut((k + 1) * v))
        .zip(b.tokens.par_chunks_mut(k.max(1)))
        .zip(b.coins.par_chunks_mut(k.max(1)))
        .zip(betas.par_chunks_mut(k.max(1)))
        .enumerate()
        .for_each_init(Vec::new, |z, (r, ((((d, t), tok), c), beta))| {
            let gr = (r0 + r as u64) as u32;
            for pos in 0..=k {
                let p = pos as u32;
                let trow = &mut t[pos * v..(pos + 1) * v];
                z.clear();
                z.extend((0..v as u32).map(|x| logit(w, seed, gr, p, stream::TARGET, x)));
                for (o, &zx) in trow.iter_mut().zip(z.iter()) {
                    *o = zx / w.t_target;
                }
                softmax_in_place(trow);
                if pos == k {
                    break;
                }
                let drow = &mut d[pos * v..(pos + 1) * v];
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
                        for (x, o) in drow.iter_mut().enumerate() {
                            *o = logit(w, seed, gr, p, stream::DRAFT, x as u32) / w.t_target;
                        }
                        softmax_in_place(drow);
                        for (o, &px) in drow.iter_mut().zip(trow.iter()) {
                            *o = (1.0 - lambda) * px + lambda * *o;
                        }
                    }
                    Family::LogitNoise { sigma } => {
                        for (x, (o, &zx)) in drow.iter_mut().zip(z.iter()).enumerate() {
                            let e = normal(seed, gr, p, stream::DRAFT, x as u32);
                            *o = (zx + sigma * e) / w.t_draft;
                        }
                        softmax_in_place(drow);
                    }
                    Family::Rates { .. } | Family::File { .. } => {
                        unreachable!("not a distribution family")
                    }
                }
                let trow = &t[pos * v..(pos + 1) * v];
                beta[pos] = trow.iter().zip(drow.iter()).map(|(&a, &b)| a.min(b)).sum();
                let u = random_u64(seed, gr, p, stream::DRAFT_TOKEN, 0);
                tok[pos] = sample_index(v, |x| key(drow[x].to_bits()), u).unwrap_or(0) as u32;
                c[pos] = uniform_f32(random_u32(seed, gr, p, stream::COIN, 0));
            }
        });
    (b, betas)
}
