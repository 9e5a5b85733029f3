//! Exact expectations of the tree rules given the rows (SPEC §7), with the children's tokens
//! random as each rule assumes and the coins uniform: what the studies overlay. Rows are per node
//! (node u's draft row at `u * v` of `d`, its target row at `u * v` of `t`) and do not depend on
//! the tokens drawn.

use super::Tree;
use super::reference::{TreeInput, decide_tree};
use crate::round::Values;
use crate::rule::{Rule, TreeRule};

/// The `m` largest entries of `q`, largest first, ties to the lowest id: the children's tokens
/// `greedy` and `target-only` assume (the draft's top-m).
pub fn top_m<V: Values + ?Sized>(q: &V, len: usize, m: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..len).collect();
    let m = m.min(len);
    if m == 0 {
        return vec![];
    }
    let cmp = |a: &usize, b: &usize| q.at(*b).abs().total_cmp(&q.at(*a).abs()).then(a.cmp(b));
    idx.select_nth_unstable_by(m - 1, cmp);
    idx.truncate(m);
    idx.sort_by(cmp);
    idx
}

/// The largest V^m · V an `rrs-wor` enumeration may take at one node.
pub const ENUMERATION_BUDGET: f64 = 4e6;

/// `E[num_generated]` of one round given its rows, under `rule`, with `tokens` the children's
/// tokens where the rule's are deterministic (`greedy`, `target-only`). `None` for `rrs-wor`
/// when a node's enumeration exceeds [`ENUMERATION_BUDGET`].
pub fn expected_generated<V: Values + ?Sized>(
    rule: Rule,
    tree: &Tree,
    d: &V,
    t: &V,
    tokens: &[u32],
    v: usize,
) -> Option<f64> {
    let row = |f: &V, u: usize| -> Vec<f64> { f.range(u * v, v).map(f64::abs).collect() };
    let n = tree.len();
    let tree_rule = rule.as_tree()?;
    match tree_rule {
        TreeRule::Greedy => {
            let coins = vec![0.0f64; n];
            let input = TreeInput {
                tree,
                tokens,
                draft: d,
                target: t,
                coins: &coins[..],
                v,
            };
            Some(decide_tree(rule, &input).nodes.len() as f64 + 1.0)
        }
        TreeRule::TargetOnly => {
            // P(reach c) = P(reach u) · P(the coin at u picks c), the coin uniform against the
            // running sums S_j (clipped at 1).
            let mut reach = vec![0.0f64; n];
            reach[0] = 1.0;
            let mut total = 0.0;
            for u in 0..n {
                let mut prev = 0.0f64;
                for &c in tree.children(u) {
                    let s = (prev + t.at(u * v + tokens[c as usize] as usize).abs()).min(1.0);
                    reach[c as usize] = reach[u] * (s - prev);
                    total += reach[c as usize];
                    prev = s;
                }
            }
            Some(1.0 + total)
        }
        TreeRule::Rrs | TreeRule::RrsWor => {
            // Bottom-up: E(u) = Σ_j P(child j accepted) (1 + E(c_j)).
            let mut e = vec![0.0f64; n];
            for u in (0..n).rev() {
                let ch: Vec<usize> = tree.children(u).iter().map(|&c| c as usize).collect();
                if ch.is_empty() {
                    continue;
                }
                let (tu, qu) = (row(t, u), row(d, u));
                let gains: Vec<f64> = ch.iter().map(|&c| 1.0 + e[c]).collect();
                e[u] = if tree_rule == TreeRule::Rrs {
                    rrs_node(&tu, &qu, &gains)
                } else {
                    let m = ch.len() as i32;
                    if (v as f64).powi(m) * v as f64 > ENUMERATION_BUDGET {
                        return None;
                    }
                    wor_node(&tu, &qu, &gains, 1.0, 0)
                };
            }
            Some(1.0 + e[0])
        }
    }
}

/// `rrs` at one node: Σ_j β_j Π_{i<j} (1 − β_i) · gain_j, with β_j = Σ_x min(r_j(x), q(x)) and
/// r_{j+1} = max(r_j − q, 0) normalised (children drawn i.i.d. from q, normalised).
fn rrs_node(t: &[f64], q: &[f64], gains: &[f64]) -> f64 {
    let qs: f64 = q.iter().sum();
    let q: Vec<f64> = q.iter().map(|x| x / qs).collect();
    let mut r = t.to_vec();
    let (mut survive, mut total) = (1.0f64, 0.0f64);
    for &g in gains {
        let beta: f64 = r.iter().zip(&q).map(|(a, b)| a.min(*b)).sum();
        total += survive * beta * g;
        survive *= 1.0 - beta;
        let res: Vec<f64> = r.iter().zip(&q).map(|(a, b)| (a - b).max(0.0)).collect();
        let s: f64 = res.iter().sum();
        if s <= 0.0 {
            break;
        }
        r = res.iter().map(|x| x / s).collect();
    }
    total
}

/// `rrs-wor` at one node, by enumeration over the children's tokens drawn without replacement:
/// child `j` with the draft row `q` (the rejected tokens removed, unnormalised) and the residual
/// `r`, reached with probability `reach`.
fn wor_node(r: &[f64], q: &[f64], gains: &[f64], reach: f64, j: usize) -> f64 {
    if j == gains.len() || reach == 0.0 {
        return 0.0;
    }
    let qs: f64 = q.iter().sum();
    if qs <= 0.0 {
        return 0.0;
    }
    let mut total = 0.0;
    for x in 0..q.len() {
        if q[x] <= 0.0 {
            continue;
        }
        let p_draw = q[x] / qs;
        let qn = q[x] / qs;
        let a = (r[x] / qn).min(1.0);
        total += reach * p_draw * a * gains[j];
        // Rejected: the residual against the normalised q, then q without x.
        let res: Vec<f64> = r
            .iter()
            .zip(q)
            .map(|(ri, qi)| (ri - qi / qs).max(0.0))
            .collect();
        let s: f64 = res.iter().sum();
        if s <= 0.0 || a >= 1.0 {
            continue;
        }
        let r2: Vec<f64> = res.iter().map(|v| v / s).collect();
        let mut q2 = q.to_vec();
        q2[x] = 0.0;
        total += wor_node(&r2, &q2, gains, reach * p_draw * (1.0 - a), j + 1);
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_m_breaks_ties_to_the_lowest_id() {
        assert_eq!(top_m(&[0.25f32, 0.5, 0.25, 0.0][..], 4, 3), vec![1, 0, 2]);
        assert_eq!(top_m(&[0.1f32][..], 1, 3), vec![0]);
    }
}
