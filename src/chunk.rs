//! Chunking: every loop over a batch or a generated study goes chunk by chunk, so memory is
//! bounded by one chunk whatever N is. One iterator ([`chunks`]) and one host budget
//! ([`CHUNK_BYTES`]) for all of them. (The GPU engine also caps each device buffer, at 512 MiB by
//! default, `gpu::GpuConfig::max_buffer_bytes`: an allocation limit that refuses a round above it,
//! where the host budget always allows one round.)

/// The memory budget of one chunk: bytes of probability rows a chunk holds in host memory
/// (`run` and `verify` on files, generated studies, `verify --generate` batches).
pub const CHUNK_BYTES: usize = 256 << 20;

/// The most rounds in one chunk, however small its rounds.
pub const MAX_CHUNK_ROUNDS: usize = 65536;

/// The budget in force: `SPECSIM_CHUNK_BYTES` when set to a positive integer (a smaller budget
/// bounds memory tighter; tests use it to run many chunks), otherwise [`CHUNK_BYTES`].
pub fn chunk_bytes() -> usize {
    static BYTES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *BYTES.get_or_init(|| {
        std::env::var("SPECSIM_CHUNK_BYTES")
            .ok()
            .and_then(|s| s.trim().parse::<usize>().ok())
            .filter(|&b| b > 0)
            .unwrap_or(CHUNK_BYTES)
    })
}

/// Rounds per chunk for rounds of `bytes_per_round` bytes of rows: within [`chunk_bytes`], at
/// least 1, at most [`MAX_CHUNK_ROUNDS`].
pub fn rounds_within_budget(bytes_per_round: usize) -> usize {
    (chunk_bytes() / bytes_per_round.max(1)).clamp(1, MAX_CHUNK_ROUNDS)
}

/// The chunks `(first, len)` of `n` items, `cap` at a time (the last one shorter); none when
/// `n` is 0.
pub fn chunks(n: u64, cap: usize) -> impl Iterator<Item = (u64, usize)> {
    let cap = cap.max(1) as u64;
    (0..n.div_ceil(cap)).map(move |i| {
        let first = i * cap;
        (first, cap.min(n - first) as usize)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_every_item_once_in_order() {
        for n in [0u64, 1, 5, 64, 65, 1000] {
            for cap in [0usize, 1, 3, 64, 2000] {
                let c: Vec<(u64, usize)> = chunks(n, cap).collect();
                let mut next = 0u64;
                for &(first, len) in &c {
                    assert_eq!(first, next);
                    assert!(len >= 1 && len <= cap.max(1));
                    next += len as u64;
                }
                assert_eq!(next, n, "n = {n}, cap = {cap}");
            }
        }
    }

    #[test]
    fn the_budget_bounds_a_chunk() {
        assert_eq!(rounds_within_budget(usize::MAX), 1);
        assert_eq!(rounds_within_budget(0), MAX_CHUNK_ROUNDS);
        let per = 17 * 32000 * 4;
        assert!(rounds_within_budget(per) * per <= chunk_bytes());
        assert!((rounds_within_budget(per) + 1) * per > chunk_bytes());
    }
}
