//! A family's positional acceptance vector for a rule (SPEC §9), and the trees built from it:
//! `sequoia:n,d` without `vector=` (SPEC §10).
//!
//! The family's rows are random, so its mean positional vector is estimated: the exact vector
//! of each of [`VECTOR_ROWS`] rows (the rule's §9 formula; for `rrs-wor` beyond its enumeration
//! budget the unbiased Rao-Blackwellised estimate, [`VECTOR_WOR_SAMPLES`] samples a row), averaged,
//! with the standard error over the rows. The rows are rounds `0..VECTOR_ROWS` of the family at
//! position 0 under the seed `seed ^ VECTOR_SEED`, so they are not the rows the study then runs
//! the tree on (a tree chosen on the rows it is scored on would be flattered).

use rayon::prelude::*;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::round::node::{NodeOptions, positional_acceptance_or_estimate};
use crate::rule::Rule;
use crate::study::options::StudyOptions;
use crate::topology::sequoia::{Positional, sequoia_tree, value};
use crate::topology::shape::{Build, TreeShape};
use crate::workload::Workload;

/// Rows averaged for a family's vector.
pub const VECTOR_ROWS: usize = 512;
/// Samples per row of `rrs-wor`'s estimate, where its vector is estimated.
pub const VECTOR_WOR_SAMPLES: usize = 4;
/// The vector's rows are generated under `seed ^ VECTOR_SEED`.
pub const VECTOR_SEED: u64 = 0x5E90_1A00_7EC7_0125;

/// A family's mean positional vector for a rule.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FamilyVector {
    /// `P[j]`: the mean over the rows of P(the j-th child is the accepted one).
    pub vector: Vec<f64>,
    /// The standard error of each entry over the rows.
    pub standard_error: Vec<f64>,
    /// Rows averaged.
    pub rows: usize,
    /// Whether some row's vector was itself estimated (`rrs-wor` beyond its enumeration budget).
    pub estimated_rows: bool,
}

/// The mean positional vector of `w`'s rows for `rule` at `width` children. Refused: a chain
/// rule, `spectr` (its vector depends on the child count, so no single vector describes it), a
/// width the rule cannot give on these rows.
pub fn family_vector(w: &Workload, seed: u64, rule: Rule, width: usize) -> Result<FamilyVector> {
    if !w.family.has_distributions() || !w.family.is_generated() {
        return Err(Error::Config(format!(
            "a positional vector is computed from a generated family with distributions, not {}",
            w.family.name()
        )));
    }
    if rule == Rule::Spectr {
        return Err(Error::Config(
            "--rule spectr: its positional vector depends on how many children a node has (SPEC §9), so Sequoia's DP, which takes one vector for every node, does not apply; give vector=FILE or another rule".into(),
        ));
    }
    let (b, _) = crate::cpu::generate::generate_chunk(w, seed ^ VECTOR_SEED, 0, VECTOR_ROWS, 1);
    let v = w.vocab;
    let opts = NodeOptions::default();
    let rows: Vec<(Vec<f64>, bool)> = (0..VECTOR_ROWS)
        .into_par_iter()
        .map(|r| {
            let t: Vec<f64> = b.target[r * 2 * v..(r * 2 + 1) * v]
                .iter()
                .map(|&x| x as f64)
                .collect();
            let q: Vec<f64> = b.draft[r * v..(r + 1) * v]
                .iter()
                .map(|&x| x as f64)
                .collect();
            let key = (seed ^ VECTOR_SEED, r as u64);
            positional_acceptance_or_estimate(&t, &q, width, rule, &opts, VECTOR_WOR_SAMPLES, key)
                .map(|(p, se)| (p, se.is_some()))
                .map_err(|e| Error::Config(format!("the family's positional vector, row {r}: {e}")))
        })
        .collect::<Result<_>>()?;
    let n = rows.len() as f64;
    let vector: Vec<f64> = (0..width)
        .map(|j| rows.iter().map(|(p, _)| p[j]).sum::<f64>() / n)
        .collect();
    let standard_error = (0..width)
        .map(|j| {
            let m = vector[j];
            let ss: f64 = rows.iter().map(|(p, _)| (p[j] - m) * (p[j] - m)).sum();
            (ss / (n - 1.0).max(1.0) / n).sqrt()
        })
        .collect();
    Ok(FamilyVector {
        vector,
        standard_error,
        rows: rows.len(),
        estimated_rows: rows.iter().any(|r| r.1),
    })
}

/// The widest vector a Sequoia tree of `nodes` nodes can use under `rule` at vocabulary `v`:
/// `nodes − 1` children, and no more than V where the rule's children are distinct.
pub fn vector_width(nodes: usize, rule: Rule, v: usize) -> usize {
    let w = nodes.saturating_sub(1).max(1);
    if rule.needs_distinct_siblings() || rule.verifies_top_m() {
        w.min(v)
    } else {
        w
    }
}

/// A shape made concrete for a workload and a rule: `sequoia:n,d` without a file gets its tree
/// from the family's vector (returned beside it); every other shape is returned as it is.
pub fn resolve(
    shape: &TreeShape,
    w: &Workload,
    seed: u64,
    rule: Rule,
) -> Result<(TreeShape, Option<FamilyVector>)> {
    let Build::SequoiaFamily { nodes, depth } = shape.build else {
        return Ok((shape.clone(), None));
    };
    let fv = family_vector(w, seed, rule, vector_width(nodes, rule, w.vocab))?;
    let p = Positional::uniform(fv.vector.clone())?;
    let (tree, _) = sequoia_tree(nodes, depth, &p)
        .map_err(|e| Error::Config(format!("--tree {}: {e}", shape.spec)))?;
    Ok((TreeShape::fixed(shape.spec.clone(), tree), Some(fv)))
}

/// `sequoia:n,d` (without a file) made concrete by study options of one workload and one rule:
/// what `specsim tree sequoia:n,d --rule R --family …` and Python's `specsim.tree` print.
#[derive(Clone, Debug)]
pub struct FamilyTree {
    /// The tree (its spec as given).
    pub shape: TreeShape,
    /// The vector it was built for.
    pub vector: FamilyVector,
    /// The rule.
    pub rule: Rule,
    /// The workload the vector's rows come from.
    pub workload: Workload,
}

impl FamilyTree {
    /// The tree for `opts`' one workload and `rule`, exactly as `study` builds it for the same
    /// options. Refused: several workloads (a list given to a workload flag), a shape that is not
    /// `sequoia:n,d`.
    pub fn build(shape: &TreeShape, opts: &StudyOptions, rule: Rule) -> Result<FamilyTree> {
        if !matches!(shape.build, Build::SequoiaFamily { .. }) {
            return Err(Error::Config(format!(
                "{}: only sequoia:n,d (without vector=FILE) takes its vector from a family",
                shape.spec
            )));
        }
        use crate::study::options::FamilyKind;
        if matches!(opts.family, FamilyKind::Rates | FamilyKind::File) {
            return Err(Error::Config(format!(
                "{}: the vector is computed from a generated family with distributions (logit-noise, mixture, quantized)",
                shape.spec
            )));
        }
        let cfg = &opts.one_workload(1, &shape.spec)?;
        let (shape, vector) = resolve(shape, &cfg.workload, cfg.seed, rule)?;
        Ok(FamilyTree {
            shape,
            vector: vector.expect("a sequoia:n,d shape has a family vector"),
            rule,
            workload: cfg.workload.clone(),
        })
    }

    /// The tree's forms ([`TreeShape::forms`]) with `expected_generated` (the vector's value of
    /// the tree, SPEC §9), `rule`, `workload`, `vocab`, `vector`, `vector_standard_error`,
    /// `vector_rows` and `vector_estimated_rows`.
    pub fn forms(&self) -> Result<serde_json::Value> {
        let p = Positional::uniform(self.vector.vector.clone())?;
        let mut doc = self.shape.forms();
        doc["expected_generated"] = serde_json::json!(value(&self.shape.tree, &p));
        doc["rule"] = serde_json::json!(self.rule.to_string());
        doc["workload"] = serde_json::json!(self.workload.label());
        doc["vocab"] = serde_json::json!(self.workload.vocab);
        doc["vector"] = serde_json::json!(self.vector.vector);
        doc["vector_standard_error"] = serde_json::json!(self.vector.standard_error);
        doc["vector_rows"] = serde_json::json!(self.vector.rows);
        doc["vector_estimated_rows"] = serde_json::json!(self.vector.estimated_rows);
        Ok(doc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::Family;

    fn workload(sigma: f32, vocab: usize) -> Workload {
        Workload {
            family: Family::LogitNoise { sigma },
            vocab,
            t_target: 1.0,
            t_draft: 1.0,
            zipf: 2.0,
            spread: None,
        }
    }

    /// The vector is a mean of per-row vectors: entries in [0, 1], summing to at most 1, falling
    /// with the noise; target-only's first entry is E[t(top-1 of q)].
    #[test]
    fn family_vectors_are_means_of_row_vectors() {
        let lo = family_vector(&workload(0.2, 50), 3, Rule::Rrs, 4).unwrap();
        let hi = family_vector(&workload(1.5, 50), 3, Rule::Rrs, 4).unwrap();
        for fv in [&lo, &hi] {
            assert!(fv.vector.iter().all(|&p| (0.0..=1.0).contains(&p)));
            assert!(fv.vector.iter().sum::<f64>() <= 1.0 + 1e-12);
            assert_eq!(fv.rows, VECTOR_ROWS);
            assert!(!fv.estimated_rows);
        }
        assert!(lo.vector[0] > hi.vector[0] + 10.0 * (lo.standard_error[0] + hi.standard_error[0]));
        let w = workload(0.5, 30);
        let fv = family_vector(&w, 9, Rule::TargetOnly, 1).unwrap();
        let (b, _) = crate::cpu::generate::generate_chunk(&w, 9 ^ VECTOR_SEED, 0, VECTOR_ROWS, 1);
        let mean: f64 = (0..VECTOR_ROWS)
            .map(|r| {
                let q = &b.draft[r * 30..(r + 1) * 30];
                let t = &b.target[r * 60..r * 60 + 30];
                let top = crate::reference::tree::expect::top_m(q, 30, 1)[0];
                let s: f64 = t.iter().map(|&x| x as f64).sum();
                t[top] as f64 / s
            })
            .sum::<f64>()
            / VECTOR_ROWS as f64;
        assert!(
            (fv.vector[0] - mean).abs() < 1e-12,
            "{} {mean}",
            fv.vector[0]
        );
        assert!(family_vector(&w, 9, Rule::Spectr, 3).is_err());
    }

    /// `sequoia:n,d` resolves to Sequoia's tree for the family's vector, and other shapes pass.
    #[test]
    fn sequoia_family_shapes_resolve() {
        let w = workload(0.5, 64);
        let shape: TreeShape = "sequoia:12,4".parse().unwrap();
        assert!(shape.static_tree().is_err());
        let (s, fv) = resolve(&shape, &w, 1, Rule::Rrs).unwrap();
        let fv = fv.unwrap();
        assert_eq!(s.tree.len(), 12);
        assert!(s.tree.depth() <= 4);
        let p = Positional::uniform(fv.vector).unwrap();
        assert_eq!(s.tree, sequoia_tree(12, 4, &p).unwrap().0);
        let k: TreeShape = "kary:2,2".parse().unwrap();
        assert_eq!(resolve(&k, &w, 1, Rule::Rrs).unwrap().0, k);
    }
}
