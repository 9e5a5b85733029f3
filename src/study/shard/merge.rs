//! `specsim merge`: a sharded study's results from its shards, checked as one set.

use super::{Part, ShardFile, Stats, config_rounds, study_id};
use crate::cost::Costs;
use crate::error::{Error, Result};
use crate::rule::Rule;
use crate::study::StudyTallies;
use crate::study::metrics::Tally;
use crate::study::options::Plan;
use crate::study::report::{ConfigResult, Results};
use crate::study::tree::{Sums, fill_chain_same_nodes, tree_results};

/// Merges the shards of one study (`(name, shard)`, any order) into the study's results and
/// cost ratios, exactly as the unsharded study gives them (apart from `seconds`, the shards'
/// sum). Refused, with the reason and nothing produced: no shards; shards of different studies,
/// of different counts, of different cost ratios or run on different engines; a duplicate
/// shard; missing shards (named); a study that can no longer be rebuilt as it was (a changed
/// `file:` tree); and parts that do not tile a configuration.
pub fn merge(shards: &[(String, ShardFile)]) -> Result<(Results, Costs)> {
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
        if s.cost_profile != first.cost_profile || s.batches != first.batches {
            return Err(Error::Config(format!(
                "merge: {first_name} and {name} ask for different --cost-profile, --context or --batch; run every shard with the same options"
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
                                stop: Vec::new(),
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
                    stop: Vec::new(),
                });
                let base = ConfigResult {
                    engine: engine_of(list),
                    rule: Rule::Token,
                    tally: tallies.token.clone(),
                    per_k: None,
                    stop: None,
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
                let depth = cfg.tree.max_depth();
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
    let costs = Costs {
        ratios: first.cost_ratio.clone(),
        profile: first.cost_profile.clone(),
        batches: first.batches.clone(),
    };
    costs.check()?;
    Ok((results, costs))
}
