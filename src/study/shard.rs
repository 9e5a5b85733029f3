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

use serde::{Deserialize, Serialize};

use super::metrics::Tally;
use super::options::{Plan, StudyOptions};
use super::per_k::RuleTally;
use super::report::{ConfigResult, Results};
use super::tree::{Sums, fill_chain_same_nodes, tree_config_sums, tree_results};
use super::{Family, StudyTallies, run_study_rules_in};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::rule::Rule;

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
    cost_ratio: &[f64],
    (index, count): (u64, u64),
    engine: &mut dyn Engine,
    progress: &mut dyn FnMut(&str, u64),
) -> Result<ShardFile> {
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
        cost_ratio: cost_ratio.to_vec(),
        index,
        count,
        parts,
        checksum: String::new(),
    })
}

/// Where a shard's file goes for `--out PATH`: PATH itself when it ends in `.json` (and is not a
/// directory, nor written with a trailing `/`), otherwise `PATH/shard-I-of-N.json`.
pub fn shard_path(out: &std::path::Path, index: u64, count: u64) -> std::path::PathBuf {
    let is_json = out.extension().is_some_and(|e| e == "json");
    let slash = out.as_os_str().to_string_lossy().ends_with('/');
    if is_json && !slash && !out.is_dir() {
        out.to_path_buf()
    } else {
        out.join(format!("shard-{index}-of-{count}.json"))
    }
}

/// Writes a shard's file at `path` (whole or not at all; its directory created if missing).
pub fn write_shard(path: &std::path::Path, shard: &ShardFile) -> Result<()> {
    let bytes = to_bytes(shard)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| Error::write(dir, e))?;
    }
    crate::output::write_file(path, &bytes)
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

/// The shard file's bytes, with its checksum.
pub fn to_bytes(shard: &ShardFile) -> Result<Vec<u8>> {
    let err = |e: serde_json::Error| Error::Config(format!("the shard cannot be written: {e}"));
    let mut s = shard.clone();
    s.checksum = String::new();
    let body = serde_json::to_vec(&s).map_err(err)?;
    s.checksum = format!("{:08x}", crc32fast::hash(&body));
    let mut out = serde_json::to_vec_pretty(&s).map_err(err)?;
    out.push(b'\n');
    Ok(out)
}

/// Reads a shard file's bytes (`name` for messages): its format, version and checksum checked.
pub fn from_bytes(bytes: &[u8], name: &str) -> Result<ShardFile> {
    let v: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| Error::format(name, format!("not a shard file (invalid JSON): {e}")))?;
    if v.get("format").and_then(|f| f.as_str()) != Some(FORMAT) {
        return Err(Error::format(
            name,
            format!("not a shard file (its \"format\" is not \"{FORMAT}\")"),
        ));
    }
    let version = v.get("version").and_then(|x| x.as_u64());
    if version != Some(VERSION as u64) {
        let writer = v.get("specsim").and_then(|x| x.as_str()).unwrap_or("?");
        return Err(Error::format(
            name,
            format!(
                "shard version {} (written by specsim {writer}), but this specsim {} reads version {VERSION}: merge with the version that wrote it",
                version.map_or("?".to_string(), |v| v.to_string()),
                env!("CARGO_PKG_VERSION"),
            ),
        ));
    }
    let shard: ShardFile = serde_json::from_value(v)
        .map_err(|e| Error::format(name, format!("a malformed shard file: {e}")))?;
    if shard.count == 0 || shard.count > MAX_SHARDS || shard.index >= shard.count {
        return Err(Error::format(
            name,
            format!(
                "shard {}/{} is not I/N with 0 <= I < N <= {MAX_SHARDS}",
                shard.index, shard.count
            ),
        ));
    }
    let mut blank = shard.clone();
    blank.checksum = String::new();
    let body = serde_json::to_vec(&blank)
        .map_err(|e| Error::format(name, format!("a malformed shard file: {e}")))?;
    let sum = format!("{:08x}", crc32fast::hash(&body));
    if sum != shard.checksum {
        return Err(Error::format(
            name,
            format!(
                "checksum mismatch (the file says {}, its contents give {sum}): the shard was changed or damaged",
                shard.checksum
            ),
        ));
    }
    Ok(shard)
}

/// Merges the shards of one study (`(name, shard)`, any order) into the study's results and
/// cost ratios, exactly as the unsharded study gives them (apart from `seconds`, the shards'
/// sum). Refused, with the reason and nothing produced: no shards; shards of different studies,
/// of different counts, of different cost ratios or run on different engines; a duplicate
/// shard; missing shards (named); a study that can no longer be rebuilt as it was (a changed
/// `file:` tree); and parts that do not tile a configuration.
pub fn merge(shards: &[(String, ShardFile)]) -> Result<(Results, Vec<f64>)> {
    let Some((first_name, first)) = shards.first() else {
        return Err(Error::Config("merge: no shard files given".into()));
    };
    for (name, s) in shards {
        if s.study_id != first.study_id {
            return Err(Error::Config(format!(
                "merge: {first_name} and {name} are shards of different studies (study {} and study {}); merge the shards of one study",
                first.study_id, s.study_id
            )));
        }
        if s.count != first.count {
            return Err(Error::Config(format!(
                "merge: {first_name} is a shard of {} and {name} of {}: shards of one split into N are merged together",
                first.count, s.count
            )));
        }
        if s.cost_ratio != first.cost_ratio {
            return Err(Error::Config(format!(
                "merge: {first_name} and {name} ask for different --cost-ratio lists ({:?} and {:?}); run every shard with the same options",
                first.cost_ratio, s.cost_ratio
            )));
        }
    }
    // One engine: the CPU and the GPU generate rows whose transcendental functions differ in
    // their last bits, so a study mixing them equals neither unsharded study.
    let engines: Vec<(&str, &str)> = shards
        .iter()
        .flat_map(|(name, s)| {
            s.parts
                .iter()
                .map(move |p| (name.as_str(), p.engine.as_str()))
        })
        .collect();
    if let Some(&(other_name, other)) = engines.iter().find(|(_, e)| *e != engines[0].1) {
        return Err(Error::Config(format!(
            "merge: {} ran on {} and {other_name} on {other}: shards of one study run on one engine (pass --engine cpu, or --engine gpu on machines with the same GPU), so that the merge equals the unsharded study",
            engines[0].0, engines[0].1
        )));
    }
    let n = first.count;
    let mut seen: Vec<Option<&str>> = vec![None; n as usize];
    for (name, s) in shards {
        match seen.get_mut(s.index as usize) {
            Some(Some(other)) => {
                return Err(Error::Config(format!(
                    "merge: shard {}/{n} is given twice ({other} and {name})",
                    s.index
                )));
            }
            Some(slot) => *slot = Some(name),
            None => {
                return Err(Error::Config(format!(
                    "merge: {name} claims shard {}/{n}, which does not exist",
                    s.index
                )));
            }
        }
    }
    let missing: Vec<String> = seen
        .iter()
        .enumerate()
        .filter(|(_, s)| s.is_none())
        .map(|(i, _)| format!("{i}/{n}"))
        .collect();
    if !missing.is_empty() {
        let shown: Vec<&str> = missing.iter().take(20).map(String::as_str).collect();
        return Err(Error::Config(format!(
            "merge: {} of {n} shards missing: {}{}",
            missing.len(),
            shown.join(", "),
            if missing.len() > 20 { ", …" } else { "" }
        )));
    }
    let plan = first.options.plan()?;
    let id = study_id(&plan)?;
    if id != first.study_id {
        return Err(Error::Config(format!(
            "merge: the study rebuilt from the shards' options is not the one they ran (study {id}, not {}): a file it reads (a file: tree) changed since",
            first.study_id
        )));
    }
    let rounds = config_rounds(&plan);
    // Every configuration's parts, in round order.
    let mut parts: Vec<Vec<&Part>> = vec![Vec::new(); rounds.len()];
    for (name, s) in shards {
        for p in &s.parts {
            let Some(list) = parts.get_mut(p.config) else {
                return Err(Error::Config(format!(
                    "merge: {name} has a part of configuration {}, which the study does not have",
                    p.config
                )));
            };
            list.push(p);
        }
    }
    for (c, list) in parts.iter_mut().enumerate() {
        list.sort_by_key(|p| p.start);
        let mut at = 0u64;
        for p in list.iter() {
            if p.start != at || p.end < p.start {
                return Err(Error::Config(format!(
                    "merge: configuration {c}'s rounds are not covered exactly once (a part starts at round {} where {at} was expected)",
                    p.start
                )));
            }
            at = p.end;
        }
        if at != rounds[c] {
            return Err(Error::Config(format!(
                "merge: configuration {c}'s parts end at round {at}, not at its {} rounds",
                rounds[c]
            )));
        }
    }
    let engine_of =
        |list: &[&Part]| -> String { list.first().map(|p| p.engine.clone()).unwrap_or_default() };
    let results = match plan {
        Plan::Chain(cfgs) => {
            let mut out = Vec::new();
            for (cfg, list) in cfgs.into_iter().zip(&parts) {
                let mut tallies: Option<StudyTallies> = None;
                for p in list {
                    let Stats::Chain { tally, per_k } = &p.stats else {
                        return Err(Error::Config("merge: a tree part in a chain study".into()));
                    };
                    match &mut tallies {
                        None => {
                            tallies = Some(StudyTallies {
                                token: tally.clone(),
                                per_k: per_k.clone(),
                            });
                        }
                        Some(t) => {
                            t.token.merge(tally);
                            for (a, b) in t.per_k.iter_mut().zip(per_k) {
                                a.merge(b);
                            }
                        }
                    }
                }
                let tallies = tallies.unwrap_or_else(|| StudyTallies {
                    token: Tally::new(cfg.k_max()),
                    per_k: Vec::new(),
                });
                let base = ConfigResult {
                    engine: engine_of(list),
                    rule: Rule::Token,
                    tally: tallies.token.clone(),
                    per_k: None,
                    seconds: list.iter().map(|p| p.seconds).sum(),
                    config: cfg,
                };
                for &rule in &base.config.rules {
                    out.push(ConfigResult {
                        rule,
                        per_k: tallies.rule(rule).cloned(),
                        ..base.clone()
                    });
                }
            }
            Results::Chain(out)
        }
        Plan::Tree(cfgs) => {
            let mut out = Vec::new();
            for (cfg, list) in cfgs.iter().zip(&parts) {
                let depth = cfg.tree.tree.depth();
                let mut sums: Vec<Sums> = cfg.rules.iter().map(|_| Sums::new(depth)).collect();
                for p in list {
                    let Stats::Tree { sums: s } = &p.stats else {
                        return Err(Error::Config("merge: a chain part in a tree study".into()));
                    };
                    for (a, b) in sums.iter_mut().zip(s) {
                        a.merge(b);
                    }
                }
                let seconds = list.iter().map(|p| p.seconds).sum();
                out.extend(tree_results(cfg, &sums, &engine_of(list), seconds));
            }
            fill_chain_same_nodes(&mut out);
            Results::Tree(out)
        }
    };
    Ok((results, first.cost_ratio.clone()))
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
