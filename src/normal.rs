//! Standard normals for the CPU study generator, a row at a time, eight Philox blocks at a time
//! so the compiler vectorises them (with AVX2 when the CPU has it, chosen at run time; one binary
//! runs everywhere and every CPU gives the same bits).
//!
//! Normal x of the stream (seed, round, position, stream) comes from the Philox4x32-10 block of
//! counter (x / 4, position, stream, round): its words (w0, w1) make normals 4b and 4b + 1,
//! (w2, w3) normals 4b + 2 and 4b + 3, by Box–Muller: with u1 from the first word and u2 from the
//! second, `sqrt(-2 ln u1) · cos(2π u2)` and `sqrt(-2 ln u1) · sin(2π u2)`. The same as `normal`
//! in `shaders/generate.wgsl`. `ln`, `sin` and `cos` are the polynomials of [`crate::vmath`],
//! which vectorise and give the same result on every CPU.

use crate::rng::{M0, M1, W0, W1, uniform_f32, uniform_open_f32};
use crate::vmath::{ln, sincos_2pi};

/// Lanes per block.
const LANES: usize = 8;

/// Normals from one call: eight blocks of four.
const PER_CALL: usize = 4 * LANES;

/// Fills `out[i]` with standard normal number `x0 + i` of the stream
/// (seed, round, position, stream).
pub fn normals(seed: u64, round: u32, position: u32, stream: u32, x0: u32, out: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2 (checked just above).
        unsafe { normals_avx2(seed, round, position, stream, x0, out) };
        return;
    }
    normals_lanes::<Portable>(seed, round, position, stream, x0, out);
}

/// [`normals`] compiled for AVX2, with Philox in AVX2 integer instructions.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn normals_avx2(
    seed: u64,
    round: u32,
    position: u32,
    stream: u32,
    x0: u32,
    out: &mut [f32],
) {
    normals_lanes::<Avx2>(seed, round, position, stream, x0, out);
}

/// Philox4x32-10 of eight consecutive counters `(b + j, position, stream, round)`: the four
/// words of each block, word-major.
trait Philox8 {
    fn words(key: [u32; 2], round: u32, position: u32, stream: u32, b: u32) -> [[u32; LANES]; 4];
}

/// [`philox8`], portable.
struct Portable;

impl Philox8 for Portable {
    #[inline(always)]
    fn words(key: [u32; 2], round: u32, position: u32, stream: u32, b: u32) -> [[u32; LANES]; 4] {
        philox8(key, round, position, stream, b)
    }
}

/// [`philox8_avx2`]; used only where the CPU has AVX2.
#[cfg(target_arch = "x86_64")]
struct Avx2;

#[cfg(target_arch = "x86_64")]
impl Philox8 for Avx2 {
    #[inline(always)]
    fn words(key: [u32; 2], round: u32, position: u32, stream: u32, b: u32) -> [[u32; LANES]; 4] {
        // SAFETY: `Avx2` is used only by normals_avx2, which runs on a CPU with AVX2.
        unsafe { philox8_avx2(key, round, position, stream, b) }
    }
}

/// Box–Muller on eight blocks: normals 4(b + j) + i into `out[4j + i]`.
#[inline(always)]
fn box_muller(w: [[u32; LANES]; 4], out: &mut [f32; PER_CALL]) {
    let mut n = [[0.0f32; LANES]; 4];
    for j in 0..LANES {
        for (pair, (a, b)) in [(0, 1), (2, 3)].into_iter().enumerate() {
            let r = (-2.0 * ln(uniform_open_f32(w[a][j]))).sqrt();
            let (sin, cos) = sincos_2pi(uniform_f32(w[b][j]));
            n[2 * pair][j] = r * cos;
            n[2 * pair + 1][j] = r * sin;
        }
    }
    for j in 0..LANES {
        for i in 0..4 {
            out[4 * j + i] = n[i][j];
        }
    }
}

/// The normals of a row, [`PER_CALL`] at a time: Philox (`P`), then Box–Muller.
#[inline(always)]
fn normals_lanes<P: Philox8>(
    seed: u64,
    round: u32,
    position: u32,
    stream: u32,
    x0: u32,
    out: &mut [f32],
) {
    let key = [seed as u32, (seed >> 32) as u32];
    // The first block holds normal x0; skip the normals before it.
    let mut b = x0 >> 2;
    let mut skip = (x0 & 3) as usize;
    let mut done = 0;
    let mut tmp = [0.0f32; PER_CALL];
    while done < out.len() {
        let w = P::words(key, round, position, stream, b);
        let left = out.len() - done;
        if skip == 0 && left >= PER_CALL {
            let dst: &mut [f32; PER_CALL] = (&mut out[done..done + PER_CALL])
                .try_into()
                .expect("PER_CALL values");
            box_muller(w, dst);
            done += PER_CALL;
        } else {
            box_muller(w, &mut tmp);
            let n = (PER_CALL - skip).min(left);
            out[done..done + n].copy_from_slice(&tmp[skip..skip + n]);
            done += n;
            skip = 0;
        }
        b = b.wrapping_add(LANES as u32);
    }
}

/// Philox4x32-10 of the eight counters `(b + j, position, stream, round)`, portable.
#[inline(always)]
fn philox8(key: [u32; 2], round: u32, position: u32, stream: u32, b: u32) -> [[u32; LANES]; 4] {
    let mut c0: [u32; LANES] = std::array::from_fn(|j| b.wrapping_add(j as u32));
    let mut c1 = [position; LANES];
    let mut c2 = [stream; LANES];
    let mut c3 = [round; LANES];
    let (mut k0, mut k1) = (key[0], key[1]);
    for _ in 0..10 {
        for j in 0..LANES {
            let p0 = M0 as u64 * c0[j] as u64;
            let p1 = M1 as u64 * c2[j] as u64;
            let n0 = (p1 >> 32) as u32 ^ c1[j] ^ k0;
            let n2 = (p0 >> 32) as u32 ^ c3[j] ^ k1;
            c1[j] = p1 as u32;
            c3[j] = p0 as u32;
            c0[j] = n0;
            c2[j] = n2;
        }
        k0 = k0.wrapping_add(W0);
        k1 = k1.wrapping_add(W1);
    }
    [c0, c1, c2, c3]
}

/// [`philox8`] in AVX2: eight 32×32-bit products at once (two `vpmuludq`, for the even and the
/// odd lanes). The same integers, so the same bits.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn philox8_avx2(
    key: [u32; 2],
    round: u32,
    position: u32,
    stream: u32,
    b: u32,
) -> [[u32; LANES]; 4] {
    use std::arch::x86_64::*;
    // The high and low 32 bits of the eight products a[j] · m[j], from two 32×32 → 64-bit
    // multiplies (even lanes, odd lanes).
    #[inline(always)]
    fn mulhilo(a: __m256i, m: __m256i) -> (__m256i, __m256i) {
        // SAFETY: called only from philox8_avx2, which runs on a CPU with AVX2.
        unsafe {
            let even = _mm256_mul_epu32(a, m);
            let odd = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), m);
            let hi = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0b1010_1010);
            let lo = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0b1010_1010);
            (hi, lo)
        }
    }
    let m0 = _mm256_set1_epi32(M0 as i32);
    let m1 = _mm256_set1_epi32(M1 as i32);
    let mut c0 = _mm256_add_epi32(
        _mm256_set1_epi32(b as i32),
        _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
    );
    let mut c1 = _mm256_set1_epi32(position as i32);
    let mut c2 = _mm256_set1_epi32(stream as i32);
    let mut c3 = _mm256_set1_epi32(round as i32);
    let (mut k0, mut k1) = (key[0], key[1]);
    for _ in 0..10 {
        let (hi0, lo0) = mulhilo(c0, m0);
        let (hi1, lo1) = mulhilo(c2, m1);
        c0 = _mm256_xor_si256(_mm256_xor_si256(hi1, c1), _mm256_set1_epi32(k0 as i32));
        c2 = _mm256_xor_si256(_mm256_xor_si256(hi0, c3), _mm256_set1_epi32(k1 as i32));
        c1 = lo1;
        c3 = lo0;
        k0 = k0.wrapping_add(W0);
        k1 = k1.wrapping_add(W1);
    }
    let mut w = [[0u32; LANES]; 4];
    // SAFETY: each array holds eight u32, 32 bytes; storeu needs no alignment.
    unsafe {
        for (dst, c) in w.iter_mut().zip([c0, c1, c2, c3]) {
            _mm256_storeu_si256(dst.as_mut_ptr().cast(), c);
        }
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::philox4x32_10;

    /// Normal x by the definition, one at a time, with the platform's `ln`, `cos`, `sin` in f64.
    fn reference(seed: u64, round: u32, position: u32, stream: u32, x: u32) -> f64 {
        let b = philox4x32_10(
            [x >> 2, position, stream, round],
            [seed as u32, (seed >> 32) as u32],
        );
        let pair = ((x >> 1) & 1) as usize;
        let u1 = uniform_open_f32(b[2 * pair]) as f64;
        let u2 = uniform_f32(b[2 * pair + 1]) as f64;
        let th = std::f64::consts::TAU * u2;
        (-2.0 * u1.ln()).sqrt() * if x & 1 == 0 { th.cos() } else { th.sin() }
    }

    #[test]
    fn normals_follow_box_muller_on_the_philox_stream() {
        for (seed, round, position, stream, x0, n) in [
            (7u64, 3u32, 1u32, 0u32, 0u32, 2048usize),
            (u64::MAX, u32::MAX, 9, 1, 5, 13),
            (1, 0, 0, 1, u32::MAX - 3, 4),
            (3, 1, 2, 0, 6, 100),
        ] {
            let mut out = vec![0.0f32; n];
            normals(seed, round, position, stream, x0, &mut out);
            for (i, &z) in out.iter().enumerate() {
                let x = x0.wrapping_add(i as u32);
                let want = reference(seed, round, position, stream, x);
                assert!(
                    (z as f64 - want).abs() <= 4e-6 * (1.0 + want.abs()),
                    "x = {x}: {z} vs {want}"
                );
            }
            // Any chunking of the counters gives the same values.
            let mut parts = vec![0.0f32; n];
            let cut = n / 3;
            normals(seed, round, position, stream, x0, &mut parts[..cut]);
            normals(
                seed,
                round,
                position,
                stream,
                x0.wrapping_add(cut as u32),
                &mut parts[cut..],
            );
            assert_eq!(parts, out);
        }
    }

    /// The AVX2 build and the portable one give the same bits.
    #[test]
    fn every_cpu_gives_the_same_bits() {
        let mut a = vec![0.0f32; 4099];
        normals_lanes::<Portable>(99, 12, 3, 1, 17, &mut a);
        let mut b = vec![0.0f32; 4099];
        normals(99, 12, 3, 1, 17, &mut b);
        assert_eq!(
            a.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
            b.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
        );
    }
}
