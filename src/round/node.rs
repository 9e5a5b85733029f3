//! One node's rows as a user gives them, and what the optimal bound says about them (SPEC §8):
//! alpha* per (number of drafts, draft law), and each lossless tree rule's acceptance at the node
//! with its gap to the alpha* of the law it assumes. Used by `specsim optimal` and Python's
//! `alpha_star` / `optimal`.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::reference::optimal::{
    DraftMode, Optimal, WOR_ESTIMATE_SAMPLES, alpha_star, rrs_wor_estimate, rule_acceptance,
};

/// A node's rows: the target's distribution p and the draft's q over one vocabulary.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeInput {
    /// p.
    pub target_probs: Vec<f64>,
    /// q.
    pub draft_probs: Vec<f64>,
}

/// Reads a node (`{"target_probs": [...], "draft_probs": [...]}`); `origin` names the source in
/// errors.
pub fn read_node_json(reader: impl std::io::Read, origin: &str) -> Result<NodeInput> {
    serde_json::from_reader(std::io::BufReader::new(reader)).map_err(|e| {
        Error::format(
            origin,
            format!(
                "invalid node JSON (expected {{\"target_probs\": [V numbers], \"draft_probs\": [V numbers]}}): {e}"
            ),
        )
    })
}

/// A lossless rule's acceptance at the node and its gap to alpha*.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RuleBound {
    /// The rule.
    pub rule: String,
    /// P(one of the n children is accepted), children drawn as the rule assumes; `None` where
    /// it is not computed exactly (`rrs-wor` with n ≥ 3 beyond its enumeration budget, V^n · V >
    /// 4·10^6).
    pub acceptance: Option<f64>,
    /// alpha* − acceptance (≥ 0; below 1e-12 reported as 0; an estimate's may be below 0 by
    /// its noise).
    pub gap: Option<f64>,
    /// Whether `acceptance` is a Monte-Carlo estimate (`rrs-wor` beyond its enumeration budget:
    /// `reference::optimal::rrs_wor_estimate`), not an exact value.
    pub estimated: bool,
    /// The estimate's standard error (`None` for an exact value).
    pub standard_error: Option<f64>,
}

/// One (n, mode) row of `specsim optimal`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NodeBound {
    /// alpha* and its minimising set.
    #[serde(flatten)]
    pub optimal: Optimal,
    /// The rules that assume this draft law.
    pub rules: Vec<RuleBound>,
}

/// How a node's bounds are asked for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodeOptions {
    /// Accept rows that do not sum to 1 (raw model dumps): they are divided by their sums anyway.
    pub allow_unnormalized: bool,
    /// Leave out the (n, mode) the node cannot have (wor with more drafts than tokens of
    /// positive draft probability, top with n > V) instead of refusing: for default lists.
    pub skip_impossible: bool,
}

/// Checks a node's rows as a round's are checked (SPEC §2: one length V ≥ 1, finite,
/// non-negative, each summing to 1 within the tolerance) and divides each by its f64 sum.
pub fn normalized_rows(target: &[f64], draft: &[f64]) -> Result<(Vec<f64>, Vec<f64>)> {
    normalized_rows_with(target, draft, &NodeOptions::default())
}

/// [`normalized_rows`], rows that do not sum to 1 accepted when `opts` says so (a row of zeros
/// is still refused: it has no distribution).
pub fn normalized_rows_with(
    target: &[f64],
    draft: &[f64],
    opts: &NodeOptions,
) -> Result<(Vec<f64>, Vec<f64>)> {
    if target.is_empty() {
        return Err(Error::EmptyVocabulary {
            field: "target_probs",
        });
    }
    if draft.len() != target.len() {
        return Err(Error::VocabMismatch {
            field: "draft_probs",
            index: 0,
            found: draft.len(),
            expected: target.len(),
            reference: "target_probs[0]",
        });
    }
    let round = super::RoundOptions {
        allow_unnormalized: opts.allow_unnormalized,
        ..super::RoundOptions::default()
    };
    super::check_row("target_probs", 0, target, &round)?;
    super::check_row("draft_probs", 0, draft, &round)?;
    for (field, row) in [("target_probs", target), ("draft_probs", draft)] {
        if row.iter().all(|&x| x == 0.0) {
            return Err(Error::Config(format!(
                "{field}: every probability is 0, so the row is no distribution"
            )));
        }
    }
    let norm = |row: &[f64]| {
        let s: f64 = row.iter().sum();
        row.iter().map(|x| x / s).collect::<Vec<f64>>()
    };
    Ok((norm(target), norm(draft)))
}

/// alpha* of one (n, mode) on a user's rows (checked and normalised first).
pub fn node_alpha_star(
    target: &[f64],
    draft: &[f64],
    n: usize,
    mode: DraftMode,
) -> Result<Optimal> {
    let (p, q) = normalized_rows(target, draft)?;
    alpha_star(&p, &q, n, mode)
}

/// Every (n, mode) of the lists, n outer, with each rule's acceptance and gap.
pub fn node_bounds(
    target: &[f64],
    draft: &[f64],
    drafts: &[usize],
    modes: &[DraftMode],
) -> Result<Vec<NodeBound>> {
    node_bounds_with(target, draft, drafts, modes, &NodeOptions::default())
}

/// Whether a node of these rows can have n drafts drawn as `mode` (wor: n tokens of positive
/// draft probability; top: n tokens).
pub fn possible(q: &[f64], n: usize, mode: DraftMode) -> bool {
    match mode {
        DraftMode::Iid => true,
        DraftMode::Wor => q.iter().filter(|&&x| x > 0.0).count() >= n,
        DraftMode::Top => q.len() >= n,
    }
}

/// [`node_bounds`] with options.
pub fn node_bounds_with(
    target: &[f64],
    draft: &[f64],
    drafts: &[usize],
    modes: &[DraftMode],
    opts: &NodeOptions,
) -> Result<Vec<NodeBound>> {
    let (p, q) = normalized_rows_with(target, draft, opts)?;
    let mut out = Vec::new();
    for &n in drafts {
        for &mode in modes {
            if opts.skip_impossible && !possible(&q, n, mode) {
                continue;
            }
            let optimal = alpha_star(&p, &q, n, mode)?;
            let rules = mode
                .rules()
                .iter()
                .map(|&rule| {
                    let exact = rule_acceptance(rule, &p, &q, n);
                    let estimate = (exact.is_none() && rule == crate::rule::Rule::RrsWor)
                        .then(|| rrs_wor_estimate(&p, &q, n, WOR_ESTIMATE_SAMPLES, 0, 0));
                    let acceptance = exact.or(estimate.map(|e| e.0));
                    RuleBound {
                        rule: rule.name().to_string(),
                        acceptance,
                        gap: acceptance.map(|a| gap(optimal.alpha_star, a)),
                        estimated: estimate.is_some(),
                        standard_error: estimate.map(|e| e.1),
                    }
                })
                .collect();
            out.push(NodeBound { optimal, rules });
        }
    }
    Ok(out)
}

/// alpha* − acceptance, with differences below 1e-12 (summation order: `target-only`'s
/// acceptance is alpha*_top itself) reported as 0.
pub fn gap(alpha_star: f64, acceptance: f64) -> f64 {
    let g = alpha_star - acceptance;
    if g.abs() <= 1e-12 { 0.0 } else { g }
}

/// Parses `--drafts` (`1,2,4,8`): positive integers.
pub fn parse_drafts(s: &str) -> Result<Vec<usize>> {
    s.split(',')
        .map(|x| match x.trim().parse::<usize>() {
            Ok(n) if n >= 1 => Ok(n),
            _ => Err(Error::Config(format!(
                "--drafts: '{x}' is not a positive integer (expected a list such as 1,2,4,8)"
            ))),
        })
        .collect()
}

/// Parses `--mode` (`iid,wor,top`).
pub fn parse_modes(s: &str) -> Result<Vec<DraftMode>> {
    s.split(',').map(|x| x.trim().parse()).collect()
}

/// The positional vector of a tree rule at one node (SPEC §9): `P[j]` = P(the j-th of `width`
/// children, drawn as the rule assumes, is the accepted one), the coins uniform. Rows are
/// checked as a round's and divided by their sums. Refused: a chain rule, `width` = 0, and what
/// the rule cannot give (more children than the draft row's tokens for the top-m rules, `rrs-wor`
/// beyond its enumeration budget V^width · V ≤ 4·10^6).
pub fn positional_acceptance(
    target: &[f64],
    draft: &[f64],
    width: usize,
    rule: crate::rule::Rule,
    opts: &NodeOptions,
) -> Result<Vec<f64>> {
    if !rule.is_tree() {
        return Err(Error::Config(format!(
            "rule: {rule} is a chain rule; a positional vector is a tree rule's ({})",
            crate::rule::Rule::tree_names()
        )));
    }
    if width == 0 {
        return Err(Error::Config(
            "width: 0 children have no positional vector (expected 1 or more)".into(),
        ));
    }
    rule.check_branches(width, &format!("a node of width {width}"))?;
    let (p, q) = normalized_rows_with(target, draft, opts)?;
    crate::reference::tree::positional(rule, &p, &q, width).ok_or_else(|| {
        Error::Config(format!(
            "width: {rule} cannot give {width} children here (V = {}, {} tokens of positive draft probability; rrs-wor enumerates only where V^width * V <= 4e6)",
            q.len(),
            q.iter().filter(|&&x| x > 0.0).count()
        ))
    })
}

/// [`positional_acceptance`], or, for `rrs-wor` beyond its enumeration budget, its unbiased
/// Rao-Blackwellised estimate from `samples` samples keyed by `(seed, key)` (SPEC §9):
/// `(P, None)` when exact, `(P, Some(standard errors))` when estimated. Everything else is
/// refused as there.
pub fn positional_acceptance_or_estimate(
    target: &[f64],
    draft: &[f64],
    width: usize,
    rule: crate::rule::Rule,
    opts: &NodeOptions,
    samples: usize,
    (seed, key): (u64, u64),
) -> Result<(Vec<f64>, Option<Vec<f64>>)> {
    match positional_acceptance(target, draft, width, rule, opts) {
        Ok(p) => Ok((p, None)),
        Err(e) => {
            let (p, q) = normalized_rows_with(target, draft, opts)?;
            let support = q.iter().filter(|&&x| x > 0.0).count();
            if rule != crate::rule::Rule::RrsWor || width > support {
                return Err(e);
            }
            let est = crate::reference::optimal::rrs_wor_positional_estimate(
                &p, &q, width, samples, seed, key,
            );
            Ok((est.positional, Some(est.positional_se)))
        }
    }
}

/// `E[generated]` of one tree under a tree rule (SPEC §9): node u's target and draft rows are
/// rows u of `target` and `draft` (flat, `v` each), the children's tokens drawn as the rule
/// assumes (the draft's top-m for `greedy` and `target-only`), the coins uniform. The rows of
/// internal nodes are checked as a round's and divided by their sums (leaves' rows are not read).
pub fn tree_expectation(
    parents: &[i64],
    target: &[f64],
    draft: &[f64],
    v: usize,
    rule: crate::rule::Rule,
    opts: &NodeOptions,
) -> Result<f64> {
    use crate::reference::tree::expect::{expected_generated, top_m};
    if !rule.is_tree() {
        return Err(Error::Config(format!(
            "rule: {rule} is a chain rule; tree_expectation takes a tree rule ({})",
            crate::rule::Rule::tree_names()
        )));
    }
    let tree = crate::topology::Tree::from_parents(parents)?;
    rule.check_branches(tree.max_children(), "the tree")?;
    let n = tree.len();
    if v == 0 || target.len() != n * v || draft.len() != n * v {
        return Err(Error::Config(format!(
            "rows: expected {n} target and {n} draft rows of V = {v} (the tree has {n} nodes), got {} and {} values",
            target.len(),
            draft.len()
        )));
    }
    let (mut t, mut d) = (vec![0.0f64; n * v], vec![0.0f64; n * v]);
    let mut tokens = vec![0u32; n];
    for u in 0..n {
        let ch = tree.children(u);
        if ch.is_empty() {
            continue;
        }
        let (p, q) = normalized_rows_with(
            &target[u * v..(u + 1) * v],
            &draft[u * v..(u + 1) * v],
            opts,
        )?;
        let top = top_m(&q[..], v, ch.len());
        if (rule.needs_distinct_siblings() || !rule.reads_draft()) && top.len() < ch.len() {
            return Err(Error::Config(format!(
                "node {u}: {} children but V = {v}: {rule} needs distinct children",
                ch.len()
            )));
        }
        for (&c, &x) in ch.iter().zip(&top) {
            tokens[c as usize] = x as u32;
        }
        t[u * v..(u + 1) * v].copy_from_slice(&p);
        d[u * v..(u + 1) * v].copy_from_slice(&q);
    }
    expected_generated(rule, &tree, &d[..], &t[..], &tokens, v).ok_or_else(|| {
        Error::Config(format!(
            "{rule}: the exact expectation is beyond its enumeration budget here (V^m * V > 4e6 at a node)"
        ))
    })
}
