//! The best configuration per batch size (SPEC §12; `specsim cost`, the study's `best_k` under a
//! profile): among the rows of one group (a chain configuration's K, or one workload and rule's
//! trees), the largest speedup at each batch size.

use serde::Serialize;

use super::{Cost, RoundShape};

/// What one row of a study contributes: its group, its shape and `E[generated]`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CostRow {
    /// The group the row belongs to (a study's `label`: workload, and rule when not `token`).
    pub label: String,
    /// The tree (`chain:K` for a chain).
    pub tree: String,
    /// K for a chain.
    pub k: Option<usize>,
    /// Draft steps (the depth) and query tokens per sequence (the nodes).
    #[serde(skip)]
    pub shape: RoundShape,
    /// `E[generated]`: the exact value where there is one, else the simulated mean.
    pub generated: f64,
    /// `exact` or `simulated`.
    pub from: &'static str,
}

/// The best row of a group at one batch size.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Choice {
    /// The group.
    pub label: String,
    /// The batch size.
    pub batch: u64,
    /// The best row's K (a chain), or `None` (a tree with branches).
    pub best_k: Option<usize>,
    /// The best row's tree.
    pub best_tree: String,
    /// Its nodes (query tokens per sequence).
    pub best_nodes: usize,
    /// Its speedup against plain decoding at this batch size.
    pub speedup: f64,
    /// Its goodput (tokens per unit of time for the batch).
    pub goodput: f64,
    /// Where its `E[generated]` comes from.
    pub from: &'static str,
}

/// The groups' labels in the order they first appear.
pub fn labels(rows: &[CostRow]) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for r in rows {
        if !out.contains(&r.label.as_str()) {
            out.push(&r.label);
        }
    }
    out
}

/// Per group and batch size, the row of the largest speedup (the first of equal ones).
pub fn best_per_batch(rows: &[CostRow], cost: &Cost, batches: &[u64]) -> Vec<Choice> {
    let mut out = Vec::new();
    for label in labels(rows) {
        for &b in batches {
            let mut best: Option<(&CostRow, f64)> = None;
            for r in rows.iter().filter(|r| r.label == label) {
                let s = cost.speedup(r.generated, r.shape, b);
                if s.is_finite() && best.is_none_or(|(_, x)| s > x) {
                    best = Some((r, s));
                }
            }
            if let Some((r, s)) = best {
                out.push(Choice {
                    label: label.to_string(),
                    batch: b,
                    best_k: r.k,
                    best_tree: r.tree.clone(),
                    best_nodes: r.shape.tokens,
                    speedup: s,
                    goodput: cost.goodput(r.generated, r.shape, b),
                    from: r.from,
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cost::Profile;

    /// For a profile that is flat, then linear, the best K does not increase with the batch
    /// size (SPEC §12's fact), here on i.i.d. acceptance rates.
    #[test]
    fn the_best_k_does_not_increase_with_the_batch() {
        let mut csv = String::from("kind,batch,tokens,context,ms\n");
        for t in [1u64, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096] {
            let ms = if t <= 32 {
                20.0
            } else {
                20.0 * t as f64 / 32.0
            };
            csv += &format!("verify,1,{t},,{ms}\n");
        }
        csv += "draft,1,1,,1\ndraft,64,64,,1.5\ndraft,512,512,,4\n";
        let cost = Cost::Profile {
            profile: Box::new(Profile::parse(&csv, "flat-then-linear").unwrap()),
            context: None,
        };
        for alpha in [0.5f64, 0.7, 0.8, 0.9, 0.95] {
            let rows: Vec<CostRow> = (1..=12)
                .map(|k| CostRow {
                    label: format!("alpha {alpha}"),
                    tree: format!("chain:{k}"),
                    k: Some(k),
                    shape: RoundShape::chain(k),
                    generated: (1.0 - alpha.powi(k as i32 + 1)) / (1.0 - alpha),
                    from: "exact",
                })
                .collect();
            let batches = [1u64, 2, 4, 8, 16, 32, 64, 128, 256, 512];
            let best: Vec<usize> = best_per_batch(&rows, &cost, &batches)
                .iter()
                .map(|c| c.best_k.unwrap())
                .collect();
            assert!(
                best.windows(2).all(|w| w[1] <= w[0]),
                "alpha {alpha}: {best:?}"
            );
            assert!(best[0] > *best.last().unwrap(), "alpha {alpha}: {best:?}");
        }
    }
}
