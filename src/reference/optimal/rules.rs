//! Each lossless tree rule's acceptance at one node, for its gap to alpha*: exact where it can be
//! computed (`rrs-wor` in closed form with two children, by enumeration within its budget), and
//! otherwise `rrs-wor`'s Rao-Blackwellised estimate.

/// A lossless rule's acceptance at one node with n children drawn as the rule assumes:
/// `target-only` p(top-n of q); `rrs` by the tree reference's node value (SPEC §7's residual
/// recursion, stopping once the residual is spent); `spectr` `1 − (1 − β(ρ*))^n`; `rrs-wor` in
/// closed form for n ≤ 2 and for
/// n ≥ 3 by the tree reference's enumeration within its budget (V^n · V ≤ 4·10^6; `None`
/// beyond, and for any other rule). Every child is a leaf: each gains one token.
pub fn rule_acceptance(rule: crate::rule::Rule, p: &[f64], q: &[f64], n: usize) -> Option<f64> {
    use crate::reference::tree::{enumerable, expect::top_m, rrs_node, spectr_node, wor_node};
    use crate::rule::Rule;
    let v = p.len();
    let leaves = vec![1.0; n];
    match rule {
        Rule::TargetOnly => {
            let top = top_m(q, v, n);
            (top.len() == n).then(|| top.iter().map(|&x| p[x]).sum())
        }
        Rule::Rrs => Some(rrs_node(p, q, &leaves)),
        Rule::Spectr => Some(spectr_node(p, q, &leaves)),
        Rule::RrsWor if n == 1 => Some(rrs_node(p, q, &leaves)),
        Rule::RrsWor if n == 2 => Some(rrs_wor_two(p, q)),
        Rule::RrsWor => enumerable(v, n).then(|| wor_node(p, q, &leaves, 1.0, 0)),
        _ => None,
    }
}

/// Samples of `rrs-wor`'s estimate at one node given as a node JSON (its standard error is
/// reported beside it).
pub const WOR_ESTIMATE_SAMPLES: usize = 1024;

/// Samples per round of `rrs-wor`'s estimate over a family's rounds (each round's estimate is
/// unbiased, so the 99% interval over the rounds includes their noise).
pub const WOR_ESTIMATE_SAMPLES_PER_ROUND: usize = 16;

/// `rrs-wor`'s acceptance at a node with `n` children drawn without replacement, where
/// [`rule_acceptance`] does not compute it exactly (n ≥ 3 beyond the enumeration budget): a
/// Rao-Blackwellised Monte-Carlo estimate (SPEC §9). Each of `samples` samples draws the n
/// tokens sequentially without replacement from q (Philox keyed by `seed`, `round` and the
/// sample; inverse CDF over ascending ids) and adds P(a child is accepted | the tokens) with the
/// coins integrated: `Σ_j a_j Π_{i<j} (1 − a_i)`, `a_j = min(1, r_j[x_j] / q_j[x_j])` along SPEC
/// §7's walk (the residual `r` normalised after each rejection, q without the rejected tokens,
/// renormalised). Unbiased; returns (mean, standard error of the mean). Rows divided by their
/// sums, as [`super::alpha_star`] takes them.
pub fn rrs_wor_estimate(
    p: &[f64],
    q: &[f64],
    n: usize,
    samples: usize,
    seed: u64,
    round: u64,
) -> (f64, f64) {
    crate::reference::tree::rrs_wor_positional_estimate(p, q, n, samples, seed, round).total
}

/// `rrs-wor`'s acceptance at a node with two children (SPEC §7), in O(V log V) instead of the
/// V³ enumeration: child 1 (token x ~ q) is accepted with probability `Σ min(p, q)`; rejected
/// (probability `max(q(x) − p(x), 0)` with x), child 2 is drawn from q without x, renormalised
/// (`c·q` off x, `c = 1 / (1 − q(x))`), and tested against the residual `r = norm(max(p − q, 0))`,
/// which does not depend on x: it is accepted with probability `G(c) − min(r(x), c·q(x))`,
/// `G(c) = Σ_y min(r(y), c·q(y))`, a piecewise-linear function of c read from the tokens sorted by
/// r/q and their prefix sums.
pub fn rrs_wor_two(p: &[f64], q: &[f64]) -> f64 {
    let beta1: f64 = p.iter().zip(q).map(|(a, b)| a.min(*b)).sum();
    let res: Vec<f64> = p.iter().zip(q).map(|(a, b)| (a - b).max(0.0)).collect();
    let s: f64 = res.iter().sum();
    if s <= 0.0 {
        return beta1;
    }
    let r: Vec<f64> = res.iter().map(|x| x / s).collect();
    // Tokens with q > 0 by r/q ascending; R_k = Σ r over the first k, Q_k = Σ q over the rest.
    let mut order: Vec<usize> = (0..q.len()).filter(|&y| q[y] > 0.0).collect();
    super::sort_by_ratio(&mut order, &r, q);
    let m = order.len();
    let mut rk = vec![0.0; m + 1];
    for i in 0..m {
        rk[i + 1] = rk[i] + r[order[i]];
    }
    let mut qk = vec![0.0; m + 1];
    for i in (0..m).rev() {
        qk[i] = qk[i + 1] + q[order[i]];
    }
    let ratios: Vec<f64> = order.iter().map(|&y| r[y] / q[y]).collect();
    let g = |c: f64| {
        // Tokens with r/q <= c give r; the others c·q.
        let k = ratios.partition_point(|&x| x <= c);
        rk[k] + c * qk[k]
    };
    let mut second = 0.0;
    for x in 0..q.len() {
        let w = q[x] - p[x];
        if w <= 0.0 || q[x] >= 1.0 {
            continue;
        }
        let c = 1.0 / (1.0 - q[x]);
        second += w * (g(c) - r[x].min(c * q[x]));
    }
    beta1 + second
}
