//! The design study (`specsim study --design --nodes 8,16,32,64`): at each node budget n, the
//! builders a user chooses between, on the same family, rows and coins (SPEC §9, §10):
//! - `chain`: the chain of n − 1 drafts;
//! - `kary`: the best full k-ary tree `kary:w,d` of at most n nodes, by the exact value of the
//!   family's positional vector for the rule (ties to the smaller w);
//! - `sequoia`: Sequoia's tree `sequoia:n,n−1` for that vector (no depth limit but n);
//! - `eagle2`: `eagle2:k,depth,n` grown per round, k = min(8, n − 1) and depth = min(6, n − 1)
//!   ([`eagle2_shape`]), for the rules that verify top-m children (`greedy`, `target-only`), where
//!   V ≥ k.
//!
//! Every tree's node u takes position u's rows and coin (an `eagle2` candidate c position
//! c + 1), so the builders see the same rows where their positions meet. Each result carries
//! its builder and budget ([`DesignSlot`]); the plot `design.svg` draws `E[generated]` against the
//! budget, a line per builder and rule, with 99% bands.

use serde::{Deserialize, Serialize};

use super::TreeStudyConfig;
use super::vector::{family_vector, vector_width};
use crate::error::{Error, Result};
use crate::rule::Rule;
use crate::study::StudyConfig;
use crate::topology::eagle2::Eagle2;
use crate::topology::sequoia::{Positional, sequoia_tree, value};
use crate::topology::shape::{Build, TreeShape, kary};

/// The node budgets of a design study when none are given.
pub const DEFAULT_NODES: [usize; 4] = [8, 16, 32, 64];
/// The rules of a design study when none are given.
pub const DEFAULT_RULES: [Rule; 4] = [Rule::Greedy, Rule::TargetOnly, Rule::Rrs, Rule::RrsWor];
/// The builders, in the order results list them.
pub const BUILDERS: [&str; 4] = ["chain", "kary", "sequoia", "eagle2"];

/// Which builder and budget a design study's configuration is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DesignSlot {
    /// `chain`, `kary`, `sequoia` or `eagle2`.
    pub builder: String,
    /// The node budget n (the root included); a `kary` tree may have fewer nodes.
    pub budget: usize,
}

/// The `eagle2` tree of a budget: `eagle2:k,depth,n` with k = min(8, n − 1) and
/// depth = min(6, n − 1), deeper only where n − 1 exceeds the k + (depth − 1)k² candidates
/// (n > 329).
pub fn eagle2_shape(n: usize) -> Eagle2 {
    let mut e = Eagle2 {
        k: (n - 1).clamp(1, 8),
        depth: (n - 1).clamp(1, 6),
        nodes: n,
    };
    while e.candidate_count().is_some_and(|c| c < n - 1) {
        e.depth += 1;
    }
    e
}

/// The best full k-ary tree of at most `n` nodes for the vector `p` (w = 2..n − 1 and at most
/// `max_width`, each at the largest depth that fits; the chain when no such w exists, n = 2):
/// its spec and tree.
pub fn best_kary(n: usize, p: &Positional, max_width: usize) -> TreeShape {
    let mut best: Option<(f64, TreeShape)> = None;
    for w in 2..n.min(max_width + 1) {
        let mut d = 1;
        while kary(w, d + 1).is_some_and(|t| t.len() <= n) {
            d += 1;
        }
        let Some(tree) = kary(w, d).filter(|t| t.len() <= n) else {
            continue;
        };
        let val = value(&tree, p);
        if best.as_ref().is_none_or(|(b, _)| val > *b) {
            best = Some((val, TreeShape::fixed(format!("kary:{w},{d}"), tree)));
        }
    }
    best.map_or_else(
        || {
            TreeShape::fixed(
                format!("chain:{}", n - 1),
                crate::topology::Tree::path(n - 1),
            )
        },
        |(_, s)| s,
    )
}

/// The largest node budget of a design study: Sequoia's DP is O(n⁴) at depth n − 1 and the
/// family's vector O(n²·V) a row, and both run when the plan is made (by every shard too).
pub const MAX_DESIGN_NODES: usize = 128;

/// Checks a design study's budgets: each n in 2..=[`MAX_DESIGN_NODES`] (a drafted node at
/// least).
pub fn check_nodes(nodes: &[usize]) -> Result<()> {
    if nodes.is_empty() {
        return Err(Error::Config(
            "--nodes: give at least one node budget".into(),
        ));
    }
    let max = MAX_DESIGN_NODES;
    if let Some(n) = nodes.iter().find(|&&n| !(2..=max).contains(&n)) {
        return Err(Error::Config(format!(
            "--nodes: {n} is not a node budget in 2..={max} (the root included)"
        )));
    }
    Ok(())
}

/// The design study's configurations for the workloads `base` (one configuration per builder,
/// budget and set of rules that share a tree).
pub fn design_configs(
    base: &[StudyConfig],
    nodes: &[usize],
    rules: &[Rule],
) -> Result<Vec<TreeStudyConfig>> {
    check_nodes(nodes)?;
    if let Some(r) = rules.iter().find(|r| **r == Rule::Spectr || !r.is_tree()) {
        return Err(Error::Config(format!(
            "--design --rule {r}: the design study compares builders under greedy, target-only, rrs and rrs-wor (spectr's positional vector depends on the child count, so Sequoia's DP does not apply to it)"
        )));
    }
    let widest = nodes.iter().max().copied().unwrap_or(2);
    let mut out = Vec::new();
    for c in base {
        let v = c.workload.vocab;
        // One vector per rule, at the widest budget (narrower vectors are its prefixes).
        let vectors: Vec<Vec<f64>> = rules
            .iter()
            .map(|&r| {
                family_vector(&c.workload, c.seed, r, vector_width(widest, r, v)).map(|f| f.vector)
            })
            .collect::<Result<_>>()?;
        for &n in nodes {
            let slot = |builder: &str| {
                Some(DesignSlot {
                    builder: builder.into(),
                    budget: n,
                })
            };
            let config = |tree: TreeShape, rules: Vec<Rule>, design| TreeStudyConfig {
                workload: c.workload.clone(),
                tree,
                rules,
                rounds: c.rounds,
                seed: c.seed,
                recovery: c.recovery,
                allow_unnormalized: false,
                design,
            };
            out.push(config(
                format!("chain:{}", n - 1).parse()?,
                rules.to_vec(),
                slot("chain"),
            ));
            // k-ary: rules that pick the same tree share a configuration.
            let mut karys: Vec<(TreeShape, Vec<Rule>)> = Vec::new();
            let mut sequoias = Vec::new();
            for (&rule, p) in rules.iter().zip(&vectors) {
                let width = vector_width(n, rule, v);
                let p = Positional::uniform(p[..width.min(p.len())].to_vec())?;
                let k = best_kary(n, &p, width);
                match karys.iter_mut().find(|(s, _)| s.spec == k.spec) {
                    Some((_, rs)) => rs.push(rule),
                    None => karys.push((k, vec![rule])),
                }
                let (tree, _) = sequoia_tree(n, n - 1, &p)?;
                let shape = TreeShape::fixed(format!("sequoia:{n},{}", n - 1), tree);
                sequoias.push(config(shape, vec![rule], slot("sequoia")));
            }
            out.extend(karys.into_iter().map(|(s, rs)| config(s, rs, slot("kary"))));
            out.extend(sequoias);
            let top_m: Vec<Rule> = rules
                .iter()
                .copied()
                .filter(|r| r.verifies_top_m())
                .collect();
            let e = eagle2_shape(n);
            if !top_m.is_empty() && e.check(v).is_ok() {
                let shape = TreeShape {
                    spec: format!("eagle2:{},{},{}", e.k, e.depth, e.nodes),
                    tree: crate::topology::Tree::path(0),
                    build: Build::Eagle2(e),
                };
                out.push(config(shape, top_m, slot("eagle2")));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eagle2_shapes_fit_their_budgets() {
        for n in 2..=512 {
            let e = eagle2_shape(n);
            e.check(1000).unwrap();
            assert_eq!(e.nodes, n);
        }
    }

    /// The best k-ary tree beats (or ties) every full k-ary tree within the budget, by value.
    #[test]
    fn best_kary_is_the_best_full_tree() {
        let p = Positional::uniform(vec![0.6, 0.2, 0.1, 0.05]).unwrap();
        for n in 2..40 {
            let best = best_kary(n, &p, 10);
            assert!(best.tree.len() <= n);
            let bv = value(&best.tree, &p);
            for w in 2..n {
                for d in 1..8 {
                    if let Some(t) = kary(w, d).filter(|t| t.len() <= n) {
                        assert!(
                            value(&t, &p) <= bv + 1e-15,
                            "n = {n}: kary:{w},{d} beats {}",
                            best.spec
                        );
                    }
                }
            }
        }
        assert_eq!(best_kary(3, &p, 10).spec, "kary:2,1");
        assert_eq!(best_kary(2, &p, 10).spec, "chain:1");
    }
}
