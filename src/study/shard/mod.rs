//! Sharded studies: `specsim study … --shard I/N` runs the I-th of N shards of a study and writes
//! its sufficient statistics to a shard file; `specsim merge` sums the shards of a study into
//! exactly the files of the unsharded study.
//!
//! **Why it is exact.** Every random number is keyed by (seed, round, position, stream), so a
//! round is the same whichever process runs it; every sum of a study's statistics is an
//! [`ExactSum`](crate::exact::sum::ExactSum) (order-independent) and every count an integer, so
//! the statistics of a configuration's parts add up to exactly the whole's. The reports are then
//! made from the merged statistics by the same code as an unsharded study's: equal byte for
//! byte, apart from the timing column `seconds` (the shards' seconds added up).
//!
//! **How a study is split.** The study's configurations are laid end to end by their rounds
//! (a tree configuration's rules run on the same rounds, so it counts its rounds once), and shard
//! I of N takes the rounds `[I·T/N, (I+1)·T/N)` of the T in all: whole configurations when there
//! are many, round ranges of a configuration when it alone is large. `--family file` studies
//! cannot be split.
//!
//! **The shard file** (JSON): `format` (`"specsim-shard"`), `version` ([`VERSION`]), `specsim`
//! (the version that wrote it), `study_id` (a CRC-32 of the study's configurations: shards of
//! one study share it), `options` (the study's options, from which `merge` rebuilds it),
//! `cost_ratio`, `index`, `count`, `parts` (per configuration touched: `config`, `start`,
//! `end`, `engine`, `seconds`, and `stats`: the chain tallies or the tree sums, their sums as
//! decimal fixed-point integers), and `checksum` (a CRC-32 of the file with an empty checksum).

use std::ops::Range;

mod file;
mod merge;

pub use file::{from_bytes, shard_path, to_bytes, write_shard};
pub use merge::merge;

use serde::{Deserialize, Serialize};

use super::metrics::Tally;
use super::options::{Plan, StudyOptions};
use super::per_k::RuleTally;
use super::tree::{Sums, tree_config_sums};
use super::{Family, run_study_rules_in};
use crate::engine::Engine;
use crate::error::{Error, Result};

/// The `format` of a shard file.
pub const FORMAT: &str = "specsim-shard";

/// The version of the shard file's layout this build writes and reads.
pub const VERSION: u32 = 1;

/// The largest shard file `merge` reads.
pub const MAX_FILE_BYTES: u64 = 1 << 30;

/// The most shards a study may be split into.
pub const MAX_SHARDS: u64 = 1 << 20;

/// One shard's statistics (the shard file).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShardFile {
    /// [`FORMAT`].
    pub format: String,
    /// [`VERSION`].
    pub version: u32,
    /// The specsim version that wrote it.
    pub specsim: String,
    /// A CRC-32 (hex) of the study's configurations ([`study_id`]).
    pub study_id: String,
    /// The study's options (`merge` rebuilds the study from them).
    pub options: StudyOptions,
    /// The cost ratios of the reports.
    pub cost_ratio: Vec<f64>,
    /// The latency profile of the reports (`--cost-profile`, read at `--context`), whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_profile: Option<crate::cost::Cost>,
    /// The batch sizes the profile is read at (`--batch`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub batches: Vec<u64>,
    /// I, of `I/N`.
    pub index: u64,
    /// N, of `I/N`.
    pub count: u64,
    /// The configurations this shard ran (part of), in order.
    pub parts: Vec<Part>,
    /// A CRC-32 (hex) of the file written with this field empty.
    #[serde(default)]
    pub checksum: String,
}

/// What one shard ran of one configuration: its rounds `start..end` and their statistics.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Part {
    /// The configuration's index in the study.
    pub config: usize,
    /// The first round.
    pub start: u64,
    /// One past the last round.
    pub end: u64,
    /// The engine (and adapter) that ran it.
    pub engine: String,
    /// Seconds it took.
    pub seconds: f64,
    /// The statistics.
    pub stats: Stats,
}

/// A part's sufficient statistics.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Stats {
    /// A chain configuration: the token rule's tally and each other rule's at every K.
    Chain {
        /// The token rule at K_max.
        tally: Tally,
        /// The other chain rules.
        per_k: Vec<RuleTally>,
    },
    /// A tree configuration: the sums of each rule, in the configuration's order.
    Tree {
        /// One per rule.
        sums: Vec<Sums>,
    },
}

/// Parses `--shard I/N` (0 ≤ I < N ≤ [`MAX_SHARDS`]).
pub fn parse_shard(s: &str) -> Result<(u64, u64)> {
    let bad = || {
        Error::Config(format!(
            "--shard: '{s}' is not I/N with 0 <= I < N (e.g. 0/4 for the first of four shards)"
        ))
    };
    let (i, n) = s.split_once('/').ok_or_else(bad)?;
    let (i, n): (u64, u64) = (
        i.trim().parse().map_err(|_| bad())?,
        n.trim().parse().map_err(|_| bad())?,
    );
    if n == 0 || i >= n {
        return Err(bad());
    }
    if n > MAX_SHARDS {
        return Err(Error::Config(format!(
            "--shard: N = {n} exceeds {MAX_SHARDS} shards"
        )));
    }
    Ok((i, n))
}

/// The rounds of each configuration of a plan (a tree configuration's rules share them).
fn config_rounds(plan: &Plan) -> Vec<u64> {
    match plan {
        Plan::Chain(c) => c.iter().map(|c| c.rounds).collect(),
        Plan::Tree(c) => c.iter().map(|c| c.rounds).collect(),
    }
}

/// Refuses what cannot be split: `--family file`.
fn check_shardable(plan: &Plan) -> Result<()> {
    let file = match plan {
        Plan::Chain(c) => c
            .iter()
            .any(|c| matches!(c.workload.family, Family::File { .. })),
        Plan::Tree(c) => c
            .iter()
            .any(|c| matches!(c.workload.family, Family::File { .. })),
    };
    if file {
        return Err(Error::Config(
            "--shard: a --family file study runs its whole file on one machine; shard studies of generated families".into(),
        ));
    }
    Ok(())
}

/// The configurations and round ranges shard `index` of `count` runs: the configurations laid
/// end to end by their rounds, shard I taking rounds `[I·T/N, (I+1)·T/N)` of the T in all.
pub fn shard_ranges(plan: &Plan, index: u64, count: u64) -> Vec<(usize, Range<u64>)> {
    let rounds = config_rounds(plan);
    let total: u128 = rounds.iter().map(|&r| r as u128).sum();
    let at = |i: u64| (total * i as u128 / count as u128) as u64;
    let (a, b) = (at(index), at(index + 1));
    let mut out = Vec::new();
    let mut offset = 0u64;
    for (c, &r) in rounds.iter().enumerate() {
        let (lo, hi) = (a.max(offset), b.min(offset + r));
        if lo < hi {
            out.push((c, lo - offset..hi - offset));
        }
        offset += r;
    }
    out
}

/// The study's identity: a CRC-32 (hex) of its configurations as JSON (and of every tree's
/// parent array, so a `file:` tree that changed is another study).
pub fn study_id(plan: &Plan) -> Result<String> {
    let json = match plan {
        Plan::Chain(c) => serde_json::to_vec(c),
        Plan::Tree(c) => {
            let parents: Vec<&[i32]> = c.iter().map(|c| c.tree.tree.parents()).collect();
            serde_json::to_vec(&(c, parents))
        }
    }
    .map_err(|e| Error::Config(format!("the study cannot be described: {e}")))?;
    Ok(format!("{:08x}", crc32fast::hash(&json)))
}

/// Runs shard `index` of `count` of the study `opts` asks for on `engine`.
pub fn run_shard(
    opts: &StudyOptions,
    costs: &crate::cost::Costs,
    (index, count): (u64, u64),
    engine: &mut dyn Engine,
    progress: &mut dyn FnMut(&str, u64),
) -> Result<ShardFile> {
    if !opts.stop.is_empty() {
        return Err(Error::Config(
            "--stop is not sharded yet: its exact values and bellman's thresholds come from the study's first rounds; run it on one machine".into(),
        ));
    }
    let plan = opts.plan()?;
    check_shardable(&plan)?;
    let id = study_id(&plan)?;
    let engine_name = engine.describe();
    let mut parts = Vec::new();
    for (c, range) in shard_ranges(&plan, index, count) {
        let t0 = std::time::Instant::now();
        let stats = match &plan {
            Plan::Chain(cfgs) => {
                let cfg = &cfgs[c];
                let label = cfg.workload.label();
                let t = run_study_rules_in(cfg, engine, range.clone(), |n| progress(&label, n))?;
                Stats::Chain {
                    tally: t.token,
                    per_k: t.per_k,
                }
            }
            Plan::Tree(cfgs) => Stats::Tree {
                sums: tree_config_sums(&cfgs[c], engine, range.clone(), progress)?,
            },
        };
        parts.push(Part {
            config: c,
            start: range.start,
            end: range.end,
            engine: engine_name.clone(),
            seconds: t0.elapsed().as_secs_f64(),
            stats,
        });
    }
    Ok(ShardFile {
        format: FORMAT.into(),
        version: VERSION,
        specsim: env!("CARGO_PKG_VERSION").into(),
        study_id: id,
        options: opts.clone(),
        cost_ratio: costs.ratios.clone(),
        cost_profile: costs.profile.clone(),
        batches: costs.batches.clone(),
        index,
        count,
        parts,
        checksum: String::new(),
    })
}

/// The rounds a shard of a plan runs (for progress).
pub fn shard_rounds(plan: &Plan, index: u64, count: u64) -> u64 {
    let per_round = |c: usize| match plan {
        Plan::Chain(_) => 1,
        Plan::Tree(cfgs) => cfgs[c].rules.len() as u64,
    };
    shard_ranges(plan, index, count)
        .iter()
        .map(|(c, r)| (r.end - r.start) * per_round(*c))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_specs_parse_and_refuse() {
        assert_eq!(parse_shard("0/4").unwrap(), (0, 4));
        assert_eq!(parse_shard(" 3 / 4 ").unwrap(), (3, 4));
        for bad in ["4/4", "1", "a/2", "0/0", "-1/2", "1/2/3"] {
            assert!(parse_shard(bad).is_err(), "{bad}");
        }
    }
}
