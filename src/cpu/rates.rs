//! CPU twin of `shaders/rates.wgsl`: the `rates` study family, whose position i is accepted with
//! probability `rates[i]` until the first rejection (no distributions).

use rayon::prelude::*;

use crate::rng::{random_u32, stream, uniform_f32};
use crate::workload::Workload;

/// The `rates` family on the CPU: the number accepted in each of rounds `r0..r0 + m`. The same
/// coins as `rates_round` in `shaders/rates.wgsl`, compared exactly, so both engines agree bit for bit.
pub fn rates_chunk(w: &Workload, seed: u64, r0: u64, m: usize, k: usize) -> Vec<u32> {
    (0..m)
        .into_par_iter()
        .map(|r| {
            let gr = (r0 + r as u64) as u32;
            (0..k)
                .find(|&i| {
                    let c = uniform_f32(random_u32(seed, gr, i as u32, stream::COIN, 0));
                    c >= w.rate(i)
                })
                .unwrap_or(k) as u32
        })
        .collect()
}
