//! The optimal multi-draft bound alpha* (SPEC §8): the largest probability, under any coupling
//! that keeps the emitted token distributed as the target row p, that the emitted token is one of
//! n drafted tokens, drawn from the draft row q as `iid` (with replacement), `wor` (without
//! replacement) or `top` (the draft's top-n).
//!
//! `alpha*(p, q, n, mode) = min over H ⊆ V of p(H) + 1 − Q(S ⊆ H)` (Hu et al. ICLR 2025; Khisti
//! et al. ICLR 2025). For `iid` and `wor` the minimum is taken over the prefixes of the drafted
//! tokens sorted by p/q ascending (proved for `iid`; for `wor` checked against brute force over
//! every subset in the tests, where a counterexample fails loudly); for `top` it is p(top-n)
//! directly. All in f64, on the rows divided by their f64 sums.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use crate::error::{Error, Result};

mod rules;

pub use crate::reference::tree::{WorEstimate, rrs_wor_positional_estimate};
pub use rules::{
    WOR_ESTIMATE_SAMPLES, WOR_ESTIMATE_SAMPLES_PER_ROUND, rrs_wor_estimate, rrs_wor_two,
    rule_acceptance,
};

/// How the n drafts are drawn from the draft row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DraftMode {
    /// Independently, with replacement (what `rrs` and `spectr` assume).
    Iid,
    /// Without replacement (what `rrs-wor` assumes).
    Wor,
    /// The draft's n most probable tokens, ties to the lowest id (what `target-only` assumes).
    Top,
}

impl DraftMode {
    /// Every mode, in the order reports list them.
    pub const ALL: [DraftMode; 3] = [DraftMode::Iid, DraftMode::Wor, DraftMode::Top];

    /// The name `--mode` takes.
    pub fn name(self) -> &'static str {
        match self {
            DraftMode::Iid => "iid",
            DraftMode::Wor => "wor",
            DraftMode::Top => "top",
        }
    }

    /// The lossless tree rules that assume this draft law (their acceptance at a node is at most
    /// the mode's alpha*; `target-only`'s equals it).
    pub fn rules(self) -> &'static [crate::rule::Rule] {
        use crate::rule::Rule;
        match self {
            DraftMode::Iid => &[Rule::Rrs, Rule::Spectr],
            DraftMode::Wor => &[Rule::RrsWor],
            DraftMode::Top => &[Rule::TargetOnly],
        }
    }
}

impl fmt::Display for DraftMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for DraftMode {
    type Err = Error;
    fn from_str(s: &str) -> Result<DraftMode> {
        DraftMode::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| {
                Error::Config(format!(
                    "unknown draft mode '{s}': expected iid, wor or top"
                ))
            })
    }
}

/// alpha* at one node, with its minimising set H*.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Optimal {
    /// n, the number of drafts.
    pub drafts: usize,
    /// How they are drawn.
    pub mode: DraftMode,
    /// The bound.
    pub alpha_star: f64,
    /// |H*|: the number of tokens in the minimising set.
    pub threshold_index: usize,
    /// The largest p/q in H* (the threshold the prefix stops at); `None` when H* is empty.
    pub threshold_ratio: Option<f64>,
    /// p(H*).
    pub p_h: f64,
    /// q(H*).
    pub q_h: f64,
}

/// The wor containment probability's absolute error bound (the quadrature's tails and rule;
/// the tests hold it to exact enumeration).
pub const WOR_TOLERANCE: f64 = 1e-12;

/// Values of the objective within this of its minimum are ties: H* is the smallest of them.
pub const TIE_TOLERANCE: f64 = 1e-14;

/// The smallest positive draft probability the `wor` bound takes (its integral's range grows as
/// its inverse); smaller ones are refused, naming the token.
pub const WOR_SMALLEST_Q: f64 = 1e-300;

/// alpha*(p, q, n, mode) of SPEC §8 on rows already checked and divided by
/// their sums (`round::node` does both).
pub fn alpha_star(p: &[f64], q: &[f64], n: usize, mode: DraftMode) -> Result<Optimal> {
    let v = p.len();
    if n == 0 || n > MAX_DRAFTS {
        return Err(Error::Config(format!(
            "--drafts: n = {n} is outside 1..={MAX_DRAFTS} (a node's children; alpha* of no drafts is 0)"
        )));
    }
    if mode == DraftMode::Top {
        if n > v {
            return Err(Error::Config(format!(
                "drafts: n = {n} exceeds V = {v}: the draft's top-n needs n tokens"
            )));
        }
        let top = crate::reference::tree::expect::top_m(q, v, n);
        let p_h: f64 = top.iter().map(|&x| p[x]).sum();
        let q_h: f64 = top.iter().map(|&x| q[x]).sum();
        // Over H*'s tokens the draft can draw (a top-n may hold tokens with q = 0).
        let ratio = top
            .iter()
            .filter(|&&x| q[x] > 0.0)
            .map(|&x| p[x] / q[x])
            .fold(None, |m: Option<f64>, r| Some(m.map_or(r, |m| m.max(r))));
        return Ok(Optimal {
            drafts: n,
            mode,
            alpha_star: p_h.min(1.0),
            threshold_index: n,
            threshold_ratio: ratio,
            p_h,
            q_h,
        });
    }
    // The tokens the draft can draw, by p/q ascending (ties to the lowest id). Tokens with
    // q = 0 are never drafted: in H they would add p and no containment, so H* never holds them.
    let mut order: Vec<usize> = (0..v).filter(|&x| q[x] > 0.0).collect();
    let m = order.len();
    if mode == DraftMode::Wor && n > m {
        return Err(Error::Config(format!(
            "drafts: n = {n} draws without replacement, but the draft row gives only {m} tokens a positive probability"
        )));
    }
    // The wor integral runs out to t = 37 / (the smallest positive q): below 1e-300 that range
    // leaves f64 (f32 rows never come near it).
    if mode == DraftMode::Wor
        && let Some(&x) = order.iter().find(|&&x| q[x] < WOR_SMALLEST_Q)
    {
        return Err(Error::Config(format!(
            "draft_probs[{x}] = {:e} (normalised): wor's bound cannot resolve a positive probability below {WOR_SMALLEST_Q:e}; set it to 0 or use iid",
            q[x]
        )));
    }
    sort_by_ratio(&mut order, p, q);
    let qs: Vec<f64> = order.iter().map(|&x| q[x]).collect();
    let mut pk = vec![0.0; m + 1];
    let mut qk = vec![0.0; m + 1];
    for i in 0..m {
        pk[i + 1] = pk[i] + p[order[i]];
        qk[i + 1] = qk[i] + qs[i];
    }
    let contained: Vec<f64> = match mode {
        DraftMode::Iid => qk
            .iter()
            .enumerate()
            .map(|(k, &s)| {
                if k == m {
                    1.0
                } else {
                    s.min(1.0).powi(n as i32)
                }
            })
            .collect(),
        DraftMode::Wor => wor_containment(&qs, n),
        DraftMode::Top => unreachable!(),
    };
    let values: Vec<f64> = (0..=m).map(|k| pk[k] + 1.0 - contained[k]).collect();
    let best_value = values.iter().copied().fold(f64::INFINITY, f64::min);
    // H*: the smallest prefix whose value is the minimum up to rounding (TIE_TOLERANCE).
    let best = values
        .iter()
        .position(|&x| x <= best_value + TIE_TOLERANCE)
        .unwrap_or(0);
    Ok(Optimal {
        drafts: n,
        mode,
        alpha_star: best_value.clamp(0.0, 1.0),
        threshold_index: best,
        threshold_ratio: (best > 0).then(|| p[order[best - 1]] / q[order[best - 1]]),
        p_h: pk[best],
        q_h: qk[best],
    })
}

/// `F_k` = P(the first n draws without replacement from `q` all lie among its first k tokens),
/// for k = 0..=m (`q` the positive probabilities in prefix order, summing to 1), by the
/// exponential-clock integral: token x arrives at an exponential time of rate q_x, draws are the
/// arrival order, so `F_k = ∫ a_k e^{−a_k t} P(N_k(t) ≥ n) dt` with a_k the mass outside the
/// prefix and N_k(t) the prefix's arrivals by t (a Poisson-binomial count). The integral runs in
/// s = ln t with 12-point Gauss–Legendre panels of width 1 over the range outside which either
/// tail is below 1e-16; each node's counts are built up token by token, so one pass over the
/// nodes gives every prefix (O(m · n · nodes)).
pub fn wor_containment(q: &[f64], n: usize) -> Vec<f64> {
    let m = q.len();
    let mut f = vec![0.0; m + 1];
    if m == 0 || n > m {
        return f;
    }
    f[m] = 1.0;
    // a_k, from the end (no cancellation).
    let mut a = vec![0.0; m + 1];
    for k in (0..m).rev() {
        a[k] = a[k + 1] + q[k];
    }
    // Below t_lo: P(N ≥ n) ≤ (Qt)^n / n! ≤ t^n / n!, so the integral there is ≤ t_lo^(n+1)/n!.
    let log_fact: f64 = (1..=n).map(|i| (i as f64).ln()).sum();
    let s_lo = ((1e-16f64).ln() + log_fact) / (n as f64 + 1.0);
    // Beyond t_hi the exponential's tail is e^{−a t_hi} ≤ e^{−37} < 1e-16 for every a_k > 0.
    let a_min = a[m - 1];
    let s_hi = (37.0 / a_min).ln();
    let panels = (s_hi - s_lo).ceil().max(1.0) as usize;
    let (xs, ws) = gauss_legendre_12();
    let nodes: Vec<(f64, f64)> = (0..panels)
        .flat_map(|i| {
            let mid = s_lo + i as f64 + 0.5;
            xs.iter()
                .zip(ws.iter())
                .map(move |(&x, &w)| {
                    let s = mid + 0.5 * x;
                    let t = s.exp();
                    (t, 0.5 * w * t)
                })
                .collect::<Vec<_>>()
        })
        .collect();
    use rayon::prelude::*;
    // Groups of nodes in parallel; their sums are added in node order (deterministic).
    let partial: Vec<Vec<f64>> = nodes
        .par_chunks(16)
        .map(|group| {
            let mut acc = vec![0.0; m + 1];
            let mut c = vec![0.0; n + 1];
            for &(t, w) in group {
                c.iter_mut().for_each(|x| *x = 0.0);
                c[0] = 1.0;
                for k in 0..m {
                    // The prefix of k tokens (k ≥ n: fewer cannot hold n draws).
                    if k >= n {
                        acc[k] += w * a[k] * (-a[k] * t).exp() * c[n];
                    }
                    let stay = (-q[k] * t).exp();
                    let come = -(-q[k] * t).exp_m1();
                    c[n] += c[n - 1] * come;
                    for j in (1..n).rev() {
                        c[j] = c[j] * stay + c[j - 1] * come;
                    }
                    c[0] *= stay;
                }
            }
            acc
        })
        .collect();
    for acc in partial {
        for k in n..m {
            f[k] += acc[k];
        }
    }
    for x in f.iter_mut().take(m) {
        *x = x.clamp(0.0, 1.0);
    }
    f
}

/// The nodes and weights of 12-point Gauss–Legendre quadrature on [−1, 1], by Newton's method
/// on the Legendre polynomial (to machine precision).
fn gauss_legendre_12() -> ([f64; 12], [f64; 12]) {
    const N: usize = 12;
    let mut xs = [0.0; N];
    let mut ws = [0.0; N];
    for i in 0..N {
        let mut x = (std::f64::consts::PI * (i as f64 + 0.75) / (N as f64 + 0.5)).cos();
        let mut dp = 0.0;
        for _ in 0..100 {
            let (mut p0, mut p1) = (1.0, x);
            for k in 2..=N {
                let p2 = ((2 * k - 1) as f64 * x * p1 - (k - 1) as f64 * p0) / k as f64;
                p0 = p1;
                p1 = p2;
            }
            dp = N as f64 * (x * p1 - p0) / (x * x - 1.0);
            let dx = p1 / dp;
            x -= dx;
            if dx.abs() < 1e-16 {
                break;
            }
        }
        xs[i] = x;
        ws[i] = 2.0 / ((1.0 - x * x) * dp * dp);
    }
    (xs, ws)
}

/// The most drafts a bound takes: a star tree of n children has n + 1 ≤ 65536 nodes (the tree
/// limit of the engines).
pub const MAX_DRAFTS: usize = 65535;

/// Sorts the tokens `order` by `p[x] / q[x]` ascending, ties to the lowest id: a total order, so
/// one unstable sort of the precomputed (ratio, id) keys gives the order a stable sort by the
/// ratio would (and divides once per token, not twice per comparison).
pub(crate) fn sort_by_ratio(order: &mut [usize], p: &[f64], q: &[f64]) {
    let mut keyed: Vec<(f64, usize)> = order.iter().map(|&x| (p[x] / q[x], x)).collect();
    keyed.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    for (o, (_, x)) in order.iter_mut().zip(keyed) {
        *o = x;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gauss_legendre_integrates_polynomials_of_degree_23_exactly() {
        let (xs, ws) = gauss_legendre_12();
        assert!((ws.iter().sum::<f64>() - 2.0).abs() < 1e-14);
        let i22: f64 = xs.iter().zip(ws).map(|(x, w)| w * x.powi(22)).sum();
        assert!((i22 - 2.0 / 23.0).abs() < 1e-14, "{i22}");
    }

    #[test]
    fn one_draft_is_the_overlap() {
        let p = [0.5, 0.3, 0.2, 0.0];
        let q = [0.1, 0.6, 0.0, 0.3];
        let overlap: f64 = p.iter().zip(q).map(|(a, b): (&f64, f64)| a.min(b)).sum();
        for mode in [DraftMode::Iid, DraftMode::Wor] {
            let o = alpha_star(&p, &q, 1, mode).unwrap();
            assert!((o.alpha_star - overlap).abs() < 1e-12, "{mode}: {o:?}");
        }
    }

    #[test]
    fn wor_of_uniform_draws_matches_the_hypergeometric_count() {
        // Uniform q over 6 tokens: P(first 2 draws among the first k) = C(k,2)/C(6,2).
        let q = [1.0 / 6.0; 6];
        let f = wor_containment(&q, 2);
        for (k, fk) in f.iter().enumerate() {
            let exact = (k * k.saturating_sub(1)) as f64 / 30.0;
            assert!(
                (fk - exact).abs() < WOR_TOLERANCE,
                "k = {k}: {fk} vs {exact}"
            );
        }
    }
}
