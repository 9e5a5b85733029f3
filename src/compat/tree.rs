//! The profiles of the tree rules (SPEC §14): `greedy` and `target-only` decided exactly as
//! SGLang's tree kernels (`verify_tree_greedy`, `tree_speculative_sampling_target_only`) and
//! vLLM's greedy tree acceptance decide them, and as SPEC §7 does under `specsim`.
//!
//! A round is SPEC §7's tree: `parents`, n tokens (the root's not read), n coins (node u's coin
//! chooses among u's children), n target rows. Children are visited in increasing node index,
//! the order of SGLang's `retrive_next_sibling` lists when the tree is numbered as SGLang builds
//! it (parents before children, siblings in list order).
//!
//! What differs by profile:
//! - `target-only`: `specsim` accepts the first child j with `coin < S_j` (S_j the f64 running
//!   sum of the target's probabilities of the children's tokens) and refuses duplicate sibling
//!   tokens; `sglang` accepts a child of positive probability with `coin < S_j` where S_j is
//!   summed in f32 (its `prob_acc`), or whose probability is ≥ 1 (SGLang since its PR #35798;
//!   `coin ≤ S_j` before), and counts a duplicate token twice. After a rejection
//!   the correction comes from the target row with every child's token zeroed: its argmax
//!   (`specsim`; the target's argmax when that is all zero), or under `sglang` the inverse CDF
//!   with the round's final coin (argmax without one) and V − 1 when the row is all zero. The
//!   bonus at a leaf is the same selection on the leaf's target row.
//! - `greedy`: every profile accepts the first child whose token is the argmax of the node's
//!   target row (ties to the lowest id, 0 on an all-zero row) and emits that argmax at the
//!   stop. `sglang` and `vllm` compare token ids only, so an invalid id (vLLM's placeholder −1)
//!   never matches; `specsim` refuses it. Coins are not read there (validated under `specsim`).

use super::{Profile, Select, argmax, inverse_cdf};
use crate::error::{Error, Result};
use crate::rule::Rule;
use crate::topology::Tree;

impl Profile {
    /// The tree rules the profile decides: `specsim` and `sglang` `greedy` and `target-only`,
    /// `vllm` `greedy`; FlashInfer and transformers verify chains only.
    pub fn tree_rules(self) -> &'static [Rule] {
        match self {
            Profile::Specsim | Profile::Sglang => &[Rule::Greedy, Rule::TargetOnly],
            Profile::Vllm => &[Rule::Greedy],
            Profile::Flashinfer | Profile::Transformers => &[],
        }
    }

    /// The rules the profile decides (`token` and its tree rules), for messages.
    pub fn rule_names(self) -> String {
        std::iter::once("token")
            .chain(self.tree_rules().iter().map(|r| r.name()))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Refuses a rule the profile does not decide.
    pub fn check_rule(self, rule: Rule) -> Result<()> {
        if rule == Rule::Token || self.tree_rules().contains(&rule) {
            return Ok(());
        }
        Err(Error::Config(format!(
            "--rule {rule} under --compat {self}: the {self} profile decides {} (SPEC §14; docs/reference/compat.md)",
            self.rule_names()
        )))
    }
}

/// One tree round as a profile reads it (SPEC §7's layout).
#[derive(Clone, Debug)]
pub struct TreeRound<'a> {
    /// The topology.
    pub tree: &'a Tree,
    /// The vocabulary size.
    pub v: usize,
    /// Node u's token at `tokens[u]` (`tokens[0]` not read): any integer.
    pub tokens: &'a [i64],
    /// Node u's coin at `coins[u]`.
    pub coins: &'a [f32],
    /// Target rows `[n, V]`.
    pub target: &'a [f32],
    /// The round's final coin (`sglang`'s inverse-CDF correction and bonus).
    pub final_coin: Option<f32>,
}

/// A profile's answer on one tree round.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct TreeCompatOutcome {
    /// The accepted children's tokens, then the correction or bonus, padded with -1 to depth + 1.
    pub tokens: Vec<i32>,
    /// The accepted nodes, padded with -1 to the depth.
    pub nodes: Vec<i32>,
    /// Children accepted.
    pub num_accepted: u32,
}

/// Refuses what `profile` refuses of one round under `rule` (`greedy` or `target-only`), with
/// the node and value: every refusal of [`decide_tree`], which decides nothing until it passes.
pub fn check_tree(r: &TreeRound, profile: Profile, rule: Rule) -> Result<()> {
    let bad = |m: String| Err(Error::Config(format!("{profile} {rule}: {m}")));
    if rule == Rule::Token || !profile.tree_rules().contains(&rule) {
        profile.check_rule(rule)?;
        return bad("not a tree rule".into());
    }
    let (tree, v) = (r.tree, r.v);
    let n = tree.len();
    if v == 0 || r.tokens.len() != n || r.coins.len() != n || r.target.len() != n * v {
        return bad(format!(
            "a tree of n = {n} nodes over V = {v} needs n tokens, n coins and n · V target values (got {}, {} and {})",
            r.tokens.len(),
            r.coins.len(),
            r.target.len()
        ));
    }
    let specsim = profile == Profile::Specsim;
    let target_only = rule == Rule::TargetOnly;
    // The coins are read by target-only; specsim validates them under every rule (SPEC §7).
    let coins_read = target_only || specsim;
    if let Some(i) = r
        .coins
        .iter()
        .position(|c| coins_read && !(0.0..1.0).contains(c))
    {
        return bad(format!(
            "random_coins[{i}] = {} is outside [0, 1)",
            r.coins[i]
        ));
    }
    if let Some(j) = r.target.iter().position(|x| !(x.is_finite() && *x >= 0.0)) {
        return bad(format!(
            "target_probs[{}, {}] = {} is not a probability",
            j / v,
            j % v,
            r.target[j]
        ));
    }
    let sampled = profile.semantics().select == Select::InverseCdf && target_only;
    match r.final_coin {
        Some(u) if !sampled => {
            return bad(format!(
                "final_coins = {u}: this rule and profile select the correction by argmax"
            ));
        }
        Some(u) if !(0.0..1.0).contains(&u) => {
            return bad(format!("final_coins = {u} is outside [0, 1)"));
        }
        _ => {}
    }
    // Every drafted id: valid, or (greedy under an engine that compares ids) never matching.
    let token = |c: usize| usize::try_from(r.tokens[c]).ok().filter(|&x| x < v);
    for c in 1..n {
        if token(c).is_none() && (target_only || specsim) {
            return bad(format!(
                "draft_tokens[{c}] = {} is not a token id in 0..{v}",
                r.tokens[c]
            ));
        }
    }
    if target_only && specsim {
        for u in 0..n {
            let ch = tree.children(u);
            for (i, &a) in ch.iter().enumerate() {
                if let Some(&b) = ch[..i]
                    .iter()
                    .find(|&&b| token(b as usize) == token(a as usize))
                {
                    return bad(format!(
                        "siblings {b} and {a} both carry token {} (target-only needs distinct sibling tokens)",
                        r.tokens[a as usize]
                    ));
                }
            }
        }
    }
    Ok(())
}

/// The tree rule `rule` (`greedy` or `target-only`) on one round under `profile`. Refuses what
/// the profile refuses ([`check_tree`]), with the node and value.
pub fn decide_tree(r: &TreeRound, profile: Profile, rule: Rule) -> Result<TreeCompatOutcome> {
    check_tree(r, profile, rule)?;
    let (tree, v) = (r.tree, r.v);
    let specsim = profile == Profile::Specsim;
    let target_only = rule == Rule::TargetOnly;
    let token = |c: usize| usize::try_from(r.tokens[c]).ok().filter(|&x| x < v);
    let row = |u: usize| &r.target[u * v..(u + 1) * v];
    // The correction or bonus from `w` (the node's row, masked after a rejection) under the
    // profile; `t` is the node's own row.
    let select = |w: &[f32], t: &[f32]| -> usize {
        if specsim || !target_only {
            return argmax(w).or_else(|| argmax(t)).unwrap_or(0);
        }
        let pick = match r.final_coin {
            Some(u) => inverse_cdf(w, u),
            None => argmax(w),
        };
        pick.unwrap_or(v - 1)
    };
    let depth = tree.depth();
    let mut out = TreeCompatOutcome {
        tokens: vec![-1; depth + 1],
        nodes: vec![-1; depth],
        num_accepted: 0,
    };
    let mut u = 0usize;
    loop {
        let ch = tree.children(u);
        let t = row(u);
        let next = if ch.is_empty() {
            None
        } else if target_only {
            let coin = r.coins[u];
            let (mut s64, mut s32) = (0.0f64, 0.0f32);
            ch.iter().map(|&c| c as usize).find(|&c| {
                let p = t[token(c).expect("checked")];
                if specsim {
                    s64 += p as f64;
                    (coin as f64) < s64
                } else {
                    // SGLang since PR #35798 (2026-08-21): a half-open bucket, and no
                    // zero-probability child by either path (`coin <= S_j` before).
                    s32 += p;
                    p > 0.0 && (coin < s32 || p >= 1.0)
                }
            })
        } else {
            let s = argmax(t).unwrap_or(0);
            ch.iter()
                .map(|&c| c as usize)
                .find(|&c| token(c) == Some(s))
        };
        let a = out.num_accepted as usize;
        match next {
            Some(c) => {
                out.tokens[a] = r.tokens[c] as i32;
                out.nodes[a] = c as i32;
                out.num_accepted += 1;
                u = c;
            }
            None => {
                let chosen = if target_only && !ch.is_empty() {
                    let mut w = t.to_vec();
                    for &c in ch {
                        w[token(c as usize).expect("checked")] = 0.0;
                    }
                    select(&w, t)
                } else {
                    select(t, t)
                };
                out.tokens[a] = chosen as i32;
                return Ok(out);
            }
        }
    }
}

/// A batch of tree rounds in row-major arrays (what Python's `conformance.decide` passes).
#[derive(Clone, Copy, Debug)]
pub struct TreeBatchRef<'a> {
    /// Rounds N.
    pub n: usize,
    /// Nodes per tree.
    pub nodes: usize,
    /// Vocabulary.
    pub v: usize,
    /// `[n]` (one tree for every round) or `[N, n]` (a tree per round).
    pub parents: &'a [i64],
    /// `[N, n]`.
    pub tokens: &'a [i64],
    /// `[N, n]`.
    pub coins: &'a [f32],
    /// `[N, n, V]`.
    pub target: &'a [f32],
    /// `[N]`.
    pub final_coins: Option<&'a [f32]>,
}

/// A batch of tree rounds that owns its arrays (a chunk read from a file, a test's batch):
/// [`TreeBatch::batch`] is its [`TreeBatchRef`].
#[derive(Clone, Debug, Default)]
pub struct TreeBatch {
    /// Rounds N.
    pub n: usize,
    /// Nodes per tree.
    pub nodes: usize,
    /// Vocabulary.
    pub v: usize,
    /// `[n]` (one tree for every round) or `[N, n]` (a tree per round).
    pub parents: Vec<i64>,
    /// `[N, n]`.
    pub tokens: Vec<i64>,
    /// `[N, n]`.
    pub coins: Vec<f32>,
    /// `[N, n, V]`.
    pub target: Vec<f32>,
    /// `[N]`.
    pub final_coins: Option<Vec<f32>>,
}

impl TreeBatch {
    /// The batch as the deciders take it.
    pub fn batch(&self) -> TreeBatchRef<'_> {
        TreeBatchRef {
            n: self.n,
            nodes: self.nodes,
            v: self.v,
            parents: &self.parents,
            tokens: &self.tokens,
            coins: &self.coins,
            target: &self.target,
            final_coins: self.final_coins.as_deref(),
        }
    }
}

impl<'a> TreeBatchRef<'a> {
    /// Whether every round shares one tree (`parents` `[n]`).
    pub fn shared(&self) -> bool {
        self.parents.len() == self.nodes
    }

    /// Checks `parents`' length: n (one tree) or N · n (a tree per round).
    pub fn check_parents(&self) -> Result<()> {
        let nn = self.nodes;
        if nn == 0 || !(self.shared() || self.parents.len() == self.n * nn) {
            return Err(Error::Config(format!(
                "parents: {} values, expected n = {nn} (one tree) or N · n = {} (a tree per round)",
                self.parents.len(),
                self.n * nn
            )));
        }
        Ok(())
    }

    /// Round r on its tree `tree`.
    pub fn round<'s>(&'s self, r: usize, tree: &'s Tree) -> TreeRound<'s> {
        let (nn, v) = (self.nodes, self.v);
        TreeRound {
            tree,
            v,
            tokens: &self.tokens[r * nn..(r + 1) * nn],
            coins: &self.coins[r * nn..(r + 1) * nn],
            target: &self.target[r * nn * v..(r + 1) * nn * v],
            final_coin: self.final_coins.map(|f| f[r]),
        }
    }

    /// `f` on every round in parallel, each on its tree; a refused round (or tree) refuses the
    /// batch, naming the lowest refused round.
    pub fn each_round<T: Send>(
        &self,
        f: impl Fn(&TreeRound) -> Result<T> + Sync,
    ) -> Result<Vec<T>> {
        use rayon::prelude::*;
        self.check_parents()?;
        let nn = self.nodes;
        let shared_tree = if self.shared() {
            Some(Tree::from_parents(self.parents)?)
        } else {
            None
        };
        (0..self.n)
            .into_par_iter()
            .map(|r| {
                let own;
                let tree = match &shared_tree {
                    Some(t) => t,
                    None => {
                        own = Tree::from_parents(&self.parents[r * nn..(r + 1) * nn])?;
                        &own
                    }
                };
                f(&self.round(r, tree))
            })
            .collect::<Vec<_>>()
            .into_iter()
            .enumerate()
            // In round order: the lowest refused round is named.
            .map(|(r, o)| o.map_err(|e| Error::Config(format!("round {r}: {e}"))))
            .collect()
    }
}

/// Refuses what `profile` refuses of a tree batch under `rule` ([`check_tree`] on every round),
/// naming the lowest refused round.
pub fn check_tree_batch(b: &TreeBatchRef, profile: Profile, rule: Rule) -> Result<()> {
    b.each_round(|r| check_tree(r, profile, rule)).map(drop)
}

/// Every round of a tree batch under `profile` and `rule`, in parallel, padded to the batch's
/// depth; a refused round (or tree) refuses the batch, naming the round.
pub fn decide_tree_batch(
    b: &TreeBatchRef,
    profile: Profile,
    rule: Rule,
) -> Result<Vec<TreeCompatOutcome>> {
    let mut outs = b.each_round(|r| decide_tree(r, profile, rule))?;
    let depth = outs.iter().map(|o| o.nodes.len()).max().unwrap_or(0);
    for o in &mut outs {
        o.tokens.resize(depth + 1, -1);
        o.nodes.resize(depth, -1);
    }
    Ok(outs)
}
