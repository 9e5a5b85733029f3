//! A round as JSON under a profile (`specsim round --compat P`, Python's
//! `speculative_decode(compat=)`): the round file's keys (`draft_probs` `[K][V]`,
//! `target_probs` `[K + 1][V]`, `draft_tokens` `[K]`, `random_coins` `[K]`) read as the f32
//! values an engine's kernel holds, plus the profile's optional `final_coins` (a number) or
//! `exp_noise` (`[V]`). Under a tree rule (`greedy`, `target-only`) the round is SPEC §7's
//! (`parents`, n tokens, coins and target rows; `draft_probs` may be given and is not read), or a
//! chain read as the path tree (node i's coin `random_coins[i]`).

use serde::Deserialize;

use super::{ChainRound, Profile, TreeRound, decide_chain, decide_tree};
use crate::error::{Error, Result};
use crate::rule::Rule;
use crate::topology::Tree;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RoundJson {
    draft_probs: Vec<Vec<f64>>,
    target_probs: Vec<Vec<f64>>,
    draft_tokens: Vec<i64>,
    random_coins: Vec<f64>,
    #[serde(default)]
    final_coins: Option<f64>,
    #[serde(default)]
    exp_noise: Option<Vec<f64>>,
}

fn rows(name: &str, rows: &[Vec<f64>], v: usize) -> Result<Vec<f32>> {
    let mut out = Vec::with_capacity(rows.len() * v);
    for (i, r) in rows.iter().enumerate() {
        if r.len() != v {
            return Err(Error::Config(format!(
                "{name}[{i}] has {} values, not V = {v}",
                r.len()
            )));
        }
        out.extend(r.iter().map(|&x| x as f32));
    }
    Ok(out)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TreeJson {
    #[serde(default)]
    parents: Option<Vec<i64>>,
    /// Accepted and not read (SGLang passes zeros).
    #[serde(default, rename = "draft_probs")]
    _draft_probs: Option<serde::de::IgnoredAny>,
    target_probs: Vec<Vec<f64>>,
    draft_tokens: Vec<i64>,
    random_coins: Vec<f64>,
    #[serde(default)]
    final_coins: Option<f64>,
}

/// Decides the round of `text` under `profile` and `rule` (`token`, or a tree rule the profile
/// decides: [`Profile::tree_rules`]); returns the output JSON of [`decide_json`], plus
/// `accepted_nodes` and `rule` under a tree rule.
pub fn decide_json_rule(text: &str, profile: Profile, rule: Rule) -> Result<String> {
    profile.check_rule(rule)?;
    if rule == Rule::Token {
        return decide_json(text, profile);
    }
    let r: TreeJson =
        serde_json::from_str(text).map_err(|e| Error::Config(format!("not a round: {e}")))?;
    let v = r.target_probs.first().map_or(0, Vec::len);
    let (tree, tokens, coins) = match &r.parents {
        Some(p) => (
            Tree::from_parents(p)?,
            r.draft_tokens.clone(),
            r.random_coins
                .iter()
                .map(|&c| c as f32)
                .collect::<Vec<f32>>(),
        ),
        None => {
            // A chain as the path tree: node i + 1 carries draft_tokens[i], node i the coin
            // random_coins[i] (the leaf's coin is not read).
            let k = r.draft_tokens.len();
            if r.random_coins.len() != k {
                return Err(Error::Config(format!(
                    "K = {k} drafted tokens need K coins (got {})",
                    r.random_coins.len()
                )));
            }
            let mut coins: Vec<f32> = r.random_coins.iter().map(|&c| c as f32).collect();
            coins.push(0.0);
            let tokens = std::iter::once(0)
                .chain(r.draft_tokens.iter().copied())
                .collect();
            (Tree::path(k), tokens, coins)
        }
    };
    let n = tree.len();
    if r.target_probs.len() != n {
        return Err(Error::Config(format!(
            "a tree of n = {n} nodes needs n target rows (got {})",
            r.target_probs.len()
        )));
    }
    let target = rows("target_probs", &r.target_probs, v)?;
    let out = decide_tree(
        &TreeRound {
            tree: &tree,
            v,
            tokens: &tokens,
            coins: &coins,
            target: &target,
            final_coin: r.final_coins.map(|u| u as f32),
        },
        profile,
        rule,
    )?;
    let a = out.num_accepted as usize;
    let depth = tree.depth();
    let rate = if depth == 0 {
        0.0
    } else {
        (a as f64 / depth as f64 * 1e4).round() / 1e4
    };
    Ok(serde_json::json!({
        "accepted_tokens": out.tokens[..=a],
        "accepted_nodes": out.nodes[..a],
        "num_generated": a + 1,
        "acceptance_rate": rate,
        "num_accepted": a,
        "compat": profile.name(),
        "rule": rule.name(),
    })
    .to_string())
}

/// Decides the round of `text` under `profile`; returns the output JSON: `accepted_tokens` (the
/// accepted drafts, then the correction or bonus), `num_generated`, `acceptance_rate` (as
/// `specsim round`), `num_accepted`, `num_passed` and `compat`.
pub fn decide_json(text: &str, profile: Profile) -> Result<String> {
    let r: RoundJson =
        serde_json::from_str(text).map_err(|e| Error::Config(format!("not a round: {e}")))?;
    let v = r.target_probs.first().map_or(0, Vec::len);
    let k = r.draft_tokens.len();
    if r.draft_probs.len() != k || r.target_probs.len() != k + 1 {
        return Err(Error::Config(format!(
            "K = {k} drafted tokens need K draft rows and K + 1 target rows (got {} and {})",
            r.draft_probs.len(),
            r.target_probs.len()
        )));
    }
    let draft = rows("draft_probs", &r.draft_probs, v)?;
    let target = rows("target_probs", &r.target_probs, v)?;
    let coins: Vec<f32> = r.random_coins.iter().map(|&c| c as f32).collect();
    let noise: Option<Vec<f32>> = r
        .exp_noise
        .as_ref()
        .map(|e| e.iter().map(|&x| x as f32).collect());
    let out = decide_chain(
        &ChainRound {
            draft: &draft,
            target: &target,
            tokens: &r.draft_tokens,
            coins: &coins,
            final_coin: r.final_coins.map(|u| u as f32),
            exp_noise: noise.as_deref(),
        },
        profile,
    )?;
    let n = out.num_accepted as usize;
    let accepted: Vec<i32> = out.tokens[..=n].to_vec();
    let rate = if k == 0 {
        0.0
    } else {
        (n as f64 / k as f64 * 1e4).round() / 1e4
    };
    Ok(serde_json::json!({
        "accepted_tokens": accepted,
        "num_generated": n + 1,
        "acceptance_rate": rate,
        "num_accepted": n,
        "num_passed": out.num_passed,
        "compat": profile.name(),
    })
    .to_string())
}
