//! Counter-based randomness: Philox4x32-10 (Salmon et al., 2011), keyed by the seed and addressed
//! by (round, position, stream, index), so any value of any round can be regenerated anywhere.
//! CPU twin of `shaders/shared/rng.wgsl`; the two give identical u32 streams (tested on the GPU).

/// Independent streams of one (round, position).
pub mod stream {
    /// Target logits.
    pub const TARGET: u32 = 0;
    /// Draft noise / the unrelated distribution of `mixture`.
    pub const DRAFT: u32 = 1;
    /// Drafting the token from the draft distribution.
    pub const DRAFT_TOKEN: u32 = 2;
    /// Acceptance coins.
    pub const COIN: u32 = 3;
    /// Recovery sampling (replacement or bonus) in `sample` mode, separate from the coins.
    pub const RECOVERY: u32 = 4;
    /// A workload's parameter drawn per (round, position) (`Spread`).
    pub const SPREAD: u32 = 5;
}

pub(crate) const M0: u32 = 0xD251_1F53;
pub(crate) const M1: u32 = 0xCD9E_8D57;
pub(crate) const W0: u32 = 0x9E37_79B9;
pub(crate) const W1: u32 = 0xBB67_AE85;

#[inline]
fn mulhilo(a: u32, b: u32) -> (u32, u32) {
    let p = a as u64 * b as u64;
    ((p >> 32) as u32, p as u32)
}

/// Philox4x32 with 10 rounds: 4 random u32 for a 128-bit counter and a 64-bit key.
pub fn philox4x32_10(mut c: [u32; 4], key: [u32; 2]) -> [u32; 4] {
    let (mut k0, mut k1) = (key[0], key[1]);
    for _ in 0..10 {
        let (hi0, lo0) = mulhilo(M0, c[0]);
        let (hi1, lo1) = mulhilo(M1, c[2]);
        c = [hi1 ^ c[1] ^ k0, lo1, hi0 ^ c[3] ^ k1, lo0];
        k0 = k0.wrapping_add(W0);
        k1 = k1.wrapping_add(W1);
    }
    c
}

/// The u32 number `index` of the stream (seed, round, position, stream).
#[inline]
pub fn random_u32(seed: u64, round: u32, position: u32, stream: u32, index: u32) -> u32 {
    let block = philox4x32_10(
        [index >> 2, position, stream, round],
        [seed as u32, (seed >> 32) as u32],
    );
    block[(index & 3) as usize]
}

/// A uniform f32 in [0, 1) with 24 random bits (exact: k · 2^-24).
#[inline]
pub fn uniform_f32(x: u32) -> f32 {
    (x >> 8) as f32 * (1.0 / 16_777_216.0)
}

/// A uniform f32 in (0, 1] (for logarithms).
#[inline]
pub fn uniform_open_f32(x: u32) -> f32 {
    ((x >> 8) + 1) as f32 * (1.0 / 16_777_216.0)
}

/// A 64-bit uniform integer from two consecutive u32 of a stream (index 2j, 2j + 1).
#[inline]
pub fn random_u64(seed: u64, round: u32, position: u32, stream: u32, j: u32) -> u64 {
    let block = philox4x32_10(
        [j >> 1, position, stream, round],
        [seed as u32, (seed >> 32) as u32],
    );
    let o = ((j & 1) * 2) as usize;
    ((block[o + 1] as u64) << 32) | block[o] as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn philox_known_answer() {
        // Random123's known-answer test for philox4x32_10 (counter and key all ones... zeros).
        assert_eq!(
            philox4x32_10([0, 0, 0, 0], [0, 0]),
            [0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8]
        );
        assert_eq!(
            philox4x32_10([u32::MAX; 4], [u32::MAX; 2]),
            [0x408f_276d, 0x41c8_3b0e, 0xa20b_c7c6, 0x6d54_51fd]
        );
    }

    #[test]
    fn uniforms_are_in_range() {
        assert_eq!(uniform_f32(0), 0.0);
        assert!(uniform_f32(u32::MAX) < 1.0);
        assert!(uniform_open_f32(0) > 0.0);
        assert_eq!(uniform_open_f32(u32::MAX), 1.0);
    }
}
