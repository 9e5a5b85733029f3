//! Benchmark helpers shared by `specsim bench` and the criterion benches: fast synthetic batches,
//! the naive all-rows algorithm (what vLLM and FlashInfer compute), byte accounting, and the
//! memory floors measured in the same run.

use std::time::Instant;

use rand::{Rng, SeedableRng, rngs::SmallRng};
use rayon::prelude::*;
use serde::Serialize;

use crate::batch::{Batch, ChainView, Outcomes};
use crate::cpu::CpuChainRule;
use crate::cpu::verify::{argmax_target, argmax_zip, lazy_bytes, residual_value};
use crate::exact::accepts_native;
use crate::rule::{Rule, match_rule};

/// A synthetic batch for timing: every round has its own rows (no cache reuse between rounds);
/// the draft is the target times (1 ± `noise`), so positions are accepted with probability
/// about 1 − noise/2. Rows are not normalised (the engines do not need it; the benches do not
/// validate).
pub fn timing_batch(n: usize, k: usize, v: usize, noise: f32, seed: u64) -> Batch {
    let mut b = Batch::zeros(n, k, v);
    b.target.par_chunks_mut(v).enumerate().for_each(|(i, row)| {
        let mut rng =
            SmallRng::seed_from_u64(seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        row.iter_mut().for_each(|x| *x = rng.random::<f32>() + 1e-3);
    });
    let target = &b.target;
    b.draft.par_chunks_mut(v).enumerate().for_each(|(j, row)| {
        let (r, i) = (j / k, j % k);
        let t = &target[(r * (k + 1) + i) * v..(r * (k + 1) + i + 1) * v];
        let mut rng =
            SmallRng::seed_from_u64(!seed ^ (j as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        for (x, &tx) in row.iter_mut().zip(t) {
            *x = tx * (1.0 + rng.random_range(-noise..noise));
        }
    });
    let mut rng = SmallRng::seed_from_u64(seed);
    for t in b.tokens.iter_mut() {
        *t = rng.random_range(0..v as u32);
    }
    for c in b.coins.iter_mut() {
        *c = rng.random();
    }
    b
}

/// The naive all-rows algorithm, as vLLM's and FlashInfer's rejection samplers do it: the
/// residual argmax at *every* position and the bonus argmax, then the selection. Reads all
/// (2K + 1)·V values of every round. Same results as the lazy engines.
pub fn naive_run(view: &ChainView) -> Outcomes {
    let (k, v) = (view.k, view.v);
    let mut result = Outcomes::chain(view.n, k);
    result
        .tokens
        .par_chunks_mut(k + 1)
        .zip(result.num_accepted.par_iter_mut())
        .enumerate()
        .for_each_init(
            || (Vec::new(), Vec::new()),
            |(tb, db), (r, (out, acc))| {
                let mut replacement = vec![0u32; k + 1];
                let mut accepted = vec![false; k];
                for i in 0..=k {
                    let t = view.target.slice((r * (k + 1) + i) * v, v);
                    let t = t.as_f32(tb);
                    let targmax = argmax_target(t);
                    if i == k {
                        replacement[i] = targmax;
                        break;
                    }
                    let d = view.draft.slice((r * k + i) * v, v);
                    let d = d.as_f32(db);
                    let (m, idx) = argmax_zip(t, d, residual_value);
                    replacement[i] = if m == 0 { targmax } else { idx as u32 };
                    let tok = view.token(r, i) as usize;
                    accepted[i] = accepts_native(view.coins.get_f32(r * k + i), d[tok], t[tok]);
                }
                let a = accepted.iter().take_while(|&&x| x).count();
                for (j, slot) in out.iter_mut().enumerate() {
                    *slot = if j < a {
                        view.token(r, j) as i32
                    } else if j == a {
                        replacement[a] as i32
                    } else {
                        -1
                    };
                }
                *acc = a as u32;
            },
        );
    result
}

/// Bytes the lazy algorithm must read for these results (f32 data).
pub fn lazy_bytes_total(result: &Outcomes, v: usize) -> u64 {
    result
        .num_accepted
        .iter()
        .map(|&a| lazy_bytes(result.depth, v, a as usize, 4) as u64)
        .sum()
}

/// Bytes the lazy algorithm of `rule` must read for the rounds of `result`, and the rows of V
/// among them.
pub fn lazy_totals(result: &Outcomes, v: usize, rule: Rule) -> (u64, u64) {
    let k = result.depth;
    result.num_accepted.iter().fold((0, 0), |(b, r), &a| {
        let a = a as usize;
        let (bytes, rows) = match_rule!(rule,
            chain R => <R as CpuChainRule>::lazy_reads(k, v, a),
            tree => tree_chain_reads(rule, k, v, a),
        );
        (b + bytes as u64, r + rows as u64)
    })
}

/// What a tree rule reads on a chain with `a` accepted (bytes, rows of V): its
/// `TreeReference::chain_reads`.
fn tree_chain_reads(rule: Rule, k: usize, v: usize, a: usize) -> (usize, usize) {
    let (rows, scalars) = crate::reference::tree::chain_reads(rule, k, a);
    (rows * v * 4 + scalars, rows)
}

/// Bytes under FlashInfer's convention: every draft and target row, N·K·V·4 + N·(K+1)·V·4.
pub fn all_rows_bytes(n: usize, k: usize, v: usize) -> u64 {
    (n * k * v * 4 + n * (k + 1) * v * 4) as u64
}

/// The CPU streaming-read floor in bytes/s: a parallel (vectorised integer) sum over `bytes` on
/// all threads
/// (the best of `reps` passes after one warm-up). Give more bytes than the caches hold
/// ([`beyond_cache_bytes`]) to measure memory.
pub fn cpu_read_floor(bytes: usize, reps: usize) -> f64 {
    let data: Vec<u32> = (0..bytes / 4).into_par_iter().map(|i| i as u32).collect();
    let pass = || {
        let t = Instant::now();
        // An integer sum vectorises (a float sum would be bound by the add latency, not memory).
        let s: u32 = data
            .par_chunks(1 << 16)
            .map(|c| c.iter().fold(0u32, |a, &x| a.wrapping_add(x)))
            .reduce(|| 0, u32::wrapping_add);
        std::hint::black_box(s);
        t.elapsed().as_secs_f64()
    };
    pass();
    let best = (0..reps.max(1))
        .map(|_| pass())
        .fold(f64::INFINITY, f64::min);
    data.len() as f64 * 4.0 / best
}

/// The size of the last-level cache in bytes (Linux sysfs; 32 MiB when unknown).
pub fn llc_bytes() -> usize {
    (0..8)
        .filter_map(|i| {
            let dir = format!("/sys/devices/system/cpu/cpu0/cache/index{i}");
            let size = std::fs::read_to_string(format!("{dir}/size")).ok()?;
            let size = size.trim();
            let (num, mult) = match size.chars().last()? {
                'K' => (&size[..size.len() - 1], 1 << 10),
                'M' => (&size[..size.len() - 1], 1 << 20),
                'G' => (&size[..size.len() - 1], 1 << 30),
                _ => (size, 1),
            };
            num.parse::<usize>().ok().map(|n| n * mult)
        })
        .max()
        .unwrap_or(32 << 20)
}

/// Working-set size that no cache holds: twice the last-level cache, at least 512 MiB.
pub fn beyond_cache_bytes() -> usize {
    (2 * llc_bytes()).max(512 << 20)
}

/// Evicts the caches between timed repetitions by streaming through a buffer larger than the
/// last-level cache (so each repetition reads its batch from memory, as a first run would).
pub struct CacheFlusher(Vec<u64>);

impl CacheFlusher {
    /// A flusher for this machine's caches.
    pub fn new() -> CacheFlusher {
        CacheFlusher(vec![1; beyond_cache_bytes() / 8])
    }

    /// Reads (and writes) the whole buffer once.
    pub fn flush(&mut self) {
        self.0.par_chunks_mut(1 << 16).for_each(|c| {
            for x in c.iter_mut() {
                *x = x.wrapping_add(1);
            }
        });
        std::hint::black_box(&self.0);
    }
}

impl Default for CacheFlusher {
    fn default() -> Self {
        CacheFlusher::new()
    }
}

/// One row of the `bench` table.
#[derive(Clone, Debug, Serialize)]
pub struct BenchRow {
    /// Engine (`cpu`, `cpu-1thread`, `cpu-naive`, `gpu-kernel`, `gpu-end-to-end`).
    pub engine: String,
    /// Verification rule.
    pub rule: Rule,
    /// Where it ran (CPU model or adapter name).
    pub device: String,
    /// Rounds, K, V.
    pub n: usize,
    /// Drafted tokens per round.
    pub k: usize,
    /// Vocabulary size.
    pub v: usize,
    /// Best wall time of the repetitions, seconds.
    pub seconds: f64,
    /// Rounds per second.
    pub rounds_per_s: f64,
    /// Bytes the lazy algorithm must read per round (mean).
    pub lazy_bytes_per_round: f64,
    /// Achieved GB/s on the lazy bytes.
    pub lazy_gb_s: f64,
    /// GB/s under FlashInfer's convention (all rows).
    pub all_rows_gb_s: f64,
    /// Floor in GB/s measured in the same run (CPU streaming read, or GPU buffer copy).
    pub floor_gb_s: f64,
    /// lazy_gb_s / floor_gb_s.
    pub floor_ratio: f64,
    /// Rows of V the rule reads per round (mean).
    pub rows_per_round: f64,
    /// Tree rows: the tree (its spec); `K` is then its node count.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tree: Option<String>,
}

/// Times `f` (best of `reps` after one warm-up, with the caches flushed before each) and builds
/// the row.
#[allow(clippy::too_many_arguments)]
pub fn measure(
    engine: &str,
    device: &str,
    view: &ChainView,
    lazy_bytes: u64,
    floor: f64,
    reps: usize,
    flusher: &mut CacheFlusher,
    f: impl FnMut() -> crate::Result<()>,
) -> crate::Result<BenchRow> {
    let all = all_rows_bytes(view.n, view.k, view.v);
    measure_shape(
        engine,
        device,
        (view.n, view.k, view.v),
        all,
        lazy_bytes,
        floor,
        reps,
        flusher,
        f,
    )
}

/// [`measure`] for any shape: `(n, k, v)` (for a tree, k is its node count) and the bytes of
/// every row (`all_rows`).
#[allow(clippy::too_many_arguments)]
pub fn measure_shape(
    engine: &str,
    device: &str,
    (n, k, v): (usize, usize, usize),
    all_rows: u64,
    lazy_bytes: u64,
    floor: f64,
    reps: usize,
    flusher: &mut CacheFlusher,
    mut f: impl FnMut() -> crate::Result<()>,
) -> crate::Result<BenchRow> {
    f()?;
    let mut best = f64::INFINITY;
    for _ in 0..reps.max(1) {
        flusher.flush();
        let t = Instant::now();
        f()?;
        best = best.min(t.elapsed().as_secs_f64());
    }
    let lazy_gb_s = lazy_bytes as f64 / best / 1e9;
    Ok(BenchRow {
        engine: engine.into(),
        rule: Rule::Token,
        device: device.into(),
        n,
        k,
        v,
        seconds: best,
        rounds_per_s: n as f64 / best,
        lazy_bytes_per_round: lazy_bytes as f64 / n as f64,
        lazy_gb_s,
        all_rows_gb_s: all_rows as f64 / best / 1e9,
        floor_gb_s: floor / 1e9,
        floor_ratio: lazy_gb_s / (floor / 1e9),
        rows_per_round: 0.0,
        tree: None,
    })
}

/// The CPU's model name (from /proc/cpuinfo) and thread count, for the tables.
pub fn cpu_name() -> String {
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|x| x.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string());
    format!("{model}, {} threads", rayon::current_num_threads())
}

/// Minor and major page faults of this process so far (Linux; zeros elsewhere).
pub fn page_faults() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat.rsplit_once(')').map(|x| x.1).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let get = |i: usize| f.get(i).and_then(|x| x.parse().ok()).unwrap_or(0);
    // After ')': state(0) ppid(1) pgrp(2) session(3) tty(4) tpgid(5) flags(6) minflt(7) cminflt(8) majflt(9)
    (get(7), get(9))
}

/// A synthetic tree batch for timing: random rows per node, the draft the target times
/// (1 ± `noise`), distinct sibling tokens (valid for every tree rule), uniform coins. Rows are not
/// normalised (the engines do not need it).
pub fn tree_timing_batch(
    tree: &crate::topology::Tree,
    n: usize,
    v: usize,
    noise: f32,
    seed: u64,
) -> crate::compare::adversarial_tree::TreeBatch {
    let nn = tree.len();
    let mut b = crate::compare::adversarial_tree::TreeBatch {
        per_round: None,
        tree: tree.clone(),
        n,
        v,
        draft: vec![0.0; n * nn * v],
        target: vec![0.0; n * nn * v],
        tokens: vec![0; n * nn],
        coins: vec![0.0; n * nn],
    };
    b.target
        .par_chunks_mut(v)
        .zip(b.draft.par_chunks_mut(v))
        .enumerate()
        .for_each(|(i, (t, d))| {
            let mut rng =
                SmallRng::seed_from_u64(seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
            for (tx, dx) in t.iter_mut().zip(d.iter_mut()) {
                *tx = rng.random::<f32>() + 1e-3;
                *dx = *tx * (1.0 + rng.random_range(-noise..noise));
            }
        });
    let mut rng = SmallRng::seed_from_u64(seed);
    for r in 0..n {
        for u in 0..nn {
            let base = rng.random_range(0..v as u32);
            for (j, &c) in tree.children(u).iter().enumerate() {
                b.tokens[r * nn + c as usize] = (base + j as u32) % v as u32;
            }
        }
    }
    for c in b.coins.iter_mut() {
        *c = rng.random();
    }
    b
}

/// Rows of V a tree rule reads in a round with these accepted nodes (distinct rows): its
/// `TreeReference::rows_read` over the walked path.
pub fn tree_rows_read(tree: &crate::topology::Tree, rule: Rule, nodes: &[i32], a: usize) -> usize {
    let path: Vec<usize> = std::iter::once(0)
        .chain(nodes[..a].iter().map(|&x| x as usize))
        .collect();
    crate::reference::tree::rows_read(rule, tree, &path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rule::chain::Token;

    /// `rrs`, `rrs-wor` and `spectr` on a chain read what the token rule reads: the tree layer's count
    /// equals the CPU twin's.
    #[test]
    fn tree_rules_on_a_chain_count_the_token_rules_reads() {
        for k in 0..6 {
            for a in 0..=k {
                let token = <Token as CpuChainRule>::lazy_reads(k, 100, a);
                for rule in [Rule::Rrs, Rule::RrsWor, Rule::Spectr] {
                    assert_eq!(
                        tree_chain_reads(rule, k, 100, a),
                        token,
                        "{rule} K = {k}, a = {a}"
                    );
                }
            }
        }
    }
}
