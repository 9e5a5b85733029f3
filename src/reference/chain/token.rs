//! The token rule's f64 reference (SPEC §1).

use crate::reference::{ChainReference, Outcome, Values, argmax_f64};

/// The replacement token at a rejected position: the argmax of the residual
/// `max(0, t − d)` (f64) over the row of V at `start`, or of `t` when the residual is zero
/// everywhere.
pub fn replacement_f64<V: Values + ?Sized>(t: &V, d: &V, start: usize, v: usize) -> usize {
    let residual = || {
        t.range(start, v)
            .zip(d.range(start, v))
            .map(|(t, d)| (t - d).max(0.0))
    };
    if residual().all(|r| r == 0.0) {
        argmax_f64(t.range(start, v))
    } else {
        argmax_f64(residual())
    }
}

/// Decides one *valid* round in f64 (SPEC §1), on flat row-major rows: `draft` holds K rows of V,
/// `target` K + 1 rows of V. Only the values the algorithm needs are read.
pub fn decide_f64<V: Values + ?Sized, C: Values + ?Sized>(
    draft: &V,
    target: &V,
    tokens: &[u32],
    coins: &C,
    v: usize,
) -> Outcome {
    let k = tokens.len();
    for (i, &tok) in tokens.iter().enumerate() {
        let tok = tok as usize;
        let p = target.at(i * v + tok);
        let q = draft.at(i * v + tok);
        let a = (p / q).min(1.0);
        let accept = coins.at(i) < a;
        if !accept {
            return Outcome {
                num_accepted: i as u32,
                token: replacement_f64(target, draft, i * v, v) as u32,
            };
        }
    }
    Outcome {
        num_accepted: k as u32,
        token: argmax_f64(target.range(k * v, v)) as u32,
    }
}

impl ChainReference for crate::rule::chain::Token {
    fn decide<V: Values + ?Sized, C: Values + ?Sized>(
        draft: &V,
        target: &V,
        tokens: &[u32],
        coins: &C,
        v: usize,
    ) -> Outcome {
        decide_f64(draft, target, tokens, coins, v)
    }
}
