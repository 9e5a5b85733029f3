//! What a batch's outcomes say in numbers, chain or tree: the means and the acceptance per
//! position (a chain's positions are its depths), and one round's result as the `round` JSON.
//! The one summary of `specsim run`, `specsim verify` and the Python package.

use serde_json::{Value, json};

use crate::batch::{Outcomes, Rounds, Topology};
use crate::reference::Outcome;
use crate::round::tree::TreeRoundResult;
use crate::topology::Tree;

/// The numbers of a batch's outcomes.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// Rounds.
    pub rounds: usize,
    /// The most drafted tokens a round can accept (K, or the tree's depth).
    pub depth: usize,
    /// Mean drafted tokens accepted per round (`None` without rounds).
    pub mean_accepted: Option<f64>,
    /// `P[accepted ≥ d]` for d = 1..=depth: for a chain, the probability that position d − 1
    /// is accepted; for a tree, that a node at depth d is (empty without rounds).
    pub acceptance: Vec<f64>,
}

impl Summary {
    /// The summary of `outcomes` (a histogram of the accepted counts, bounded by the data: an
    /// empty batch with a huge depth in its header allocates nothing).
    pub fn of(outcomes: &Outcomes) -> Summary {
        let n = outcomes.n();
        // fold from +0.0: an empty f64 sum is -0.0, which would print as "-0.0000".
        let total: f64 = outcomes.num_accepted.iter().fold(0.0, |s, &a| s + a as f64);
        let max_acc = outcomes.num_accepted.iter().copied().max().unwrap_or(0) as usize;
        let mut reached = vec![0u64; max_acc + 1];
        for &a in &outcomes.num_accepted {
            reached[a as usize] += 1;
        }
        let mut acceptance = Vec::new();
        if n > 0 {
            let mut above = n as u64;
            for d in 0..outcomes.depth {
                above -= reached.get(d).copied().unwrap_or(0);
                acceptance.push(above as f64 / n as f64);
            }
        }
        Summary {
            rounds: n,
            depth: outcomes.depth,
            mean_accepted: (n > 0).then(|| total / n as f64),
            acceptance,
        }
    }

    /// Mean tokens generated per round (accepted + 1).
    pub fn mean_generated(&self) -> Option<f64> {
        self.mean_accepted.map(|a| a + 1.0)
    }

    /// The summary as `specsim run --format json` prints it (without timings), for `rounds`:
    /// a chain's keys (`k`, `per_position_acceptance`, `mean_acceptance_rate` = accepted / K)
    /// or a tree's (`nodes`, `depth`, `per_depth_acceptance`, `mean_acceptance_rate` =
    /// accepted / depth, `accepted_per_node`, and the shared tree's `parents`).
    pub fn to_json(&self, rounds: &Rounds, engine: &str) -> Value {
        let defined = self.rounds > 0;
        let mean_acc = self.mean_accepted.unwrap_or(0.0);
        if rounds.is_chain() {
            let k = self.depth;
            json!({
                "rounds": self.rounds,
                "k": k,
                "vocab": rounds.v,
                "engine": engine,
                // Means over no rounds are undefined: null (n/a in the table).
                "mean_acceptance_rate": defined.then_some(if k == 0 { 0.0 } else { mean_acc / k as f64 }),
                "mean_accepted": self.mean_accepted,
                "mean_generated": self.mean_generated(),
                "per_position_acceptance": self.acceptance,
            })
        } else {
            let nodes = rounds.topology.nodes();
            let depth = self.depth;
            let mut j = json!({
                "rounds": self.rounds,
                "nodes": nodes,
                "depth": depth,
                "vocab": rounds.v,
                "engine": engine,
                "mean_accepted": self.mean_accepted,
                "mean_generated": self.mean_generated(),
                "mean_acceptance_rate": (defined && depth > 0).then(|| mean_acc / depth as f64),
                "accepted_per_node": defined.then(|| mean_acc / (nodes.max(2) - 1) as f64),
                "per_depth_acceptance": self.acceptance,
            });
            match rounds.topology {
                Topology::PerRound(_) => j["topology"] = json!("per-round"),
                t => {
                    let mut scratch = Tree::default();
                    if let Some(tree) = t.shared(&mut scratch) {
                        j["parents"] = json!(tree.parents());
                    }
                }
            }
            j
        }
    }
}

/// Round `r`'s result as `specsim round` prints it (one line of JSON, keys in the seed's order):
/// the seed's keys for a chain, with `accepted_nodes` for a tree (its `acceptance_rate` is
/// accepted / the round's tree depth).
pub fn round_json(rounds: &Rounds, outcomes: &Outcomes, r: usize, scratch: &mut Tree) -> String {
    let tokens = rounds.round_tokens(r);
    let text = if rounds.is_chain() {
        let o: Outcome = outcomes.outcome(r);
        serde_json::to_string(&o.to_result(&tokens[1..]))
    } else {
        let o = outcomes.tree_outcome(r);
        let tree = rounds.tree(r, scratch);
        serde_json::to_string(&TreeRoundResult::new(tree, &tokens, &o.nodes, o.token))
    };
    text.expect("a round's result serialises")
}
