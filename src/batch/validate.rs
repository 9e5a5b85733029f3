//! Validating a batch (SPEC §2, plus what the f32 engines need), every round in parallel, the
//! first bad round named; `touched` validation reads only the rows the engine layer says a
//! round needs.

use rayon::prelude::*;

use super::{ChainView, Floats, RowsRead, Validation};
use crate::error::{Error, Result};
use crate::round::{RoundOptions, check_row_fast, validate_flat, validate_tokens_and_coins};

impl<'a> ChainView<'a> {
    /// Validates every round (in parallel) per SPEC §2, plus what the f32 engines need: no value
    /// that overflows f32, and no drafted q that becomes 0 when rounded to f32. The first bad
    /// round (lowest index) is named in the error. With [`Validation::Touched`], `rows_read(view,
    /// r)` gives the positions `(first, last)` whose rows round r reads (the engines know: see
    /// `ChainView::validate_rule` in `src/cpu/mod.rs`); [`Validation::Full`] never calls it.
    pub fn validate_reading(
        &self,
        opts: &RoundOptions,
        mode: Validation,
        rows_read: &RowsRead,
    ) -> Result<()> {
        let opts = self.check_batch(opts)?;
        lowest_bad_round((0..self.n).into_par_iter().filter_map(|r| {
            self.validate_round(r, &opts, mode, Some(rows_read))
                .err()
                .map(|e| (r, e))
        }))
    }

    /// The checks of the whole batch before any round's: shapes, and K = 0 unless allowed.
    /// Returns the options for the rounds (K = 0 decided).
    pub fn check_batch(&self, opts: &RoundOptions) -> Result<RoundOptions> {
        self.check_shapes()?;
        if self.k == 0 && !opts.allow_empty_draft {
            return Err(Error::EmptyDraft);
        }
        Ok(RoundOptions {
            allow_empty_draft: true, // K = 0 was decided above
            ..*opts
        })
    }

    /// `touched` validation of round `r`, for a caller that decides the round itself between the
    /// two steps: `scalars` checks the tokens, coins and drafted p and q; `rows(first, last)` then
    /// the rows of positions `first..=last` that the round reads. Together they are
    /// [`Validation::Touched`]'s checks of the round, in the same order (`opts` from
    /// [`ChainView::check_batch`]). The error is the round's own, not yet wrapped in its index.
    pub fn validate_touched_scalars(&self, r: usize, opts: &RoundOptions) -> Result<()> {
        self.validate_round(r, opts, Validation::Touched, None)
    }

    /// See [`ChainView::validate_touched_scalars`].
    pub fn validate_touched_rows(
        &self,
        r: usize,
        first: usize,
        last: usize,
        opts: &RoundOptions,
    ) -> Result<()> {
        let (k, v) = (self.k, self.v);
        let draft = self.draft_round(r);
        let target = self.target_round(r);
        for i in first..=last {
            check_f32_range("target_probs", target.slice(i * v, v), i * v, v)?;
            check_floats_row("target_probs", target.slice(i * v, v), i, opts)?;
            if i < k {
                check_f32_range("draft_probs", draft.slice(i * v, v), i * v, v)?;
                check_floats_row("draft_probs", draft.slice(i * v, v), i, opts)?;
            }
        }
        Ok(())
    }

    /// One round's checks; under `touched`, the rows of `rows_read` too when given.
    fn validate_round(
        &self,
        r: usize,
        opts: &RoundOptions,
        mode: Validation,
        rows_read: Option<&RowsRead>,
    ) -> Result<()> {
        let (k, v) = (self.k, self.v);
        let draft = self.draft_round(r);
        let target = self.target_round(r);
        let coins = self.coins.slice(r * k, k).to_f64_vec();
        let tokens = (0..k).map(|i| self.token(r, i));
        if mode == Validation::Full {
            // First, so that a value float32 cannot hold is named as such (its row's sum would
            // otherwise be reported first).
            for (field, rows) in [("draft_probs", draft), ("target_probs", target)] {
                check_f32_range(field, rows, 0, v)?;
            }
        }
        let ids = match mode {
            Validation::Full => match (draft, target) {
                // float32 rows are checked in place (widened exactly as they are read).
                (Floats::F32(_), Floats::F32(_)) => {
                    let (mut bd, mut bt) = (Vec::new(), Vec::new());
                    let d = draft.as_f32(&mut bd);
                    let t = target.as_f32(&mut bt);
                    validate_flat(d, t, tokens, &coins, v, opts)?
                }
                _ => {
                    let d = draft.to_f64_vec();
                    let t = target.to_f64_vec();
                    validate_flat(&d, &t, tokens, &coins, v, opts)?
                }
            },
            Validation::Touched => {
                // Tokens, coins and the drafted p and q only; the needed row is checked below.
                let ids = validate_tokens_and_coins(tokens, &coins, v, opts)?;
                for (i, &tok) in ids.iter().enumerate() {
                    for (field, x) in [
                        ("draft_probs", draft.get_f64(i * v + tok as usize)),
                        ("target_probs", target.get_f64(i * v + tok as usize)),
                    ] {
                        if !x.is_finite() || x < 0.0 {
                            return Err(Error::BadProbability {
                                field,
                                dist: i,
                                token: tok as usize,
                                value: x,
                            });
                        }
                    }
                    if draft.get_f64(i * v + tok as usize) == 0.0 {
                        return Err(Error::ZeroDraftProbability {
                            index: i,
                            token: tok,
                            note: "",
                        });
                    }
                }
                ids
            }
        };
        // What the f32 engines need beyond SPEC §2: coins below 1 in float32, no value that
        // overflows float32, no drafted q that becomes 0 in float32.
        for (i, &value) in coins.iter().enumerate() {
            if self.coins.get_f32(r * k + i) >= 1.0 {
                return Err(Error::CoinRoundsToOne { index: i, value });
            }
        }
        for (i, &tok) in ids.iter().enumerate() {
            let idx = i * v + tok as usize;
            for (field, rows) in [("draft_probs", draft), ("target_probs", target)] {
                check_f32_range(field, rows.slice(idx, 1), idx, v)?;
            }
            if draft.get_f32(idx) == 0.0 {
                return Err(Error::ZeroDraftProbability {
                    index: i,
                    token: tok,
                    note: " (after rounding to float32, which the batch engines compute in)",
                });
            }
        }
        if mode == Validation::Touched
            && let Some(rows_read) = rows_read
        {
            // The rows the round will read.
            let (first, last) = rows_read(self, r);
            self.validate_touched_rows(r, first, last, opts)?;
        }
        Ok(())
    }
}

/// Refuses a float64 value of `values` that overflows float32 (float32 data cannot). `values`
/// start at flat index `start` of a round's rows of V.
pub fn check_f32_range(field: &'static str, values: Floats, start: usize, v: usize) -> Result<()> {
    if let Floats::F64(_) = values {
        for j in 0..values.len() {
            // Finite in float64 but not in float32 (NaN and infinities are refused as such).
            if values.get_f64(j).is_finite() && values.get_f32(j).is_infinite() {
                return Err(Error::Float32Overflow {
                    field,
                    dist: (start + j) / v,
                    token: (start + j) % v,
                    value: values.get_f64(j),
                });
            }
        }
    }
    Ok(())
}

/// Checks one row, `field[dist]`, where it lies: aligned float32 in place, anything else widened.
fn check_floats_row(
    field: &'static str,
    row: Floats,
    dist: usize,
    opts: &RoundOptions,
) -> Result<()> {
    if let Floats::F32(b) = row
        && let Ok(x) = bytemuck::try_cast_slice::<u8, f32>(b)
    {
        return check_row_fast(field, dist, x, opts);
    }
    check_row_fast(field, dist, &row.to_f64_vec(), opts)
}

/// Checks the shapes of a chain batch's four arrays, each given as (name for errors, shape):
/// draft `[N, K, V]`, target `[N, K + 1, V]`, tokens and coins `[N, K]`, V ≥ 1. Returns
/// (N, K, V). When they disagree, the array named is the one whose shape the others contradict:
/// N, K and V are what most arrays say (a transposed draft `[N, V, K]` beside a target
/// `[N, K + 1, V]` is the draft's fault, not the target's).
pub fn check_batch_shapes(
    draft: (&str, &[usize]),
    target: (&str, &[usize]),
    tokens: (&str, &[usize]),
    coins: (&str, &[usize]),
) -> Result<(usize, usize, usize)> {
    for (a, dims, what) in [
        (draft, 3, "3 dimensions [N, K, V]"),
        (target, 3, "3 dimensions [N, K + 1, V]"),
        (tokens, 2, "2 dimensions [N, K]"),
        (coins, 2, "2 dimensions [N, K]"),
    ] {
        if a.1.len() != dims {
            return Err(shape_err(a, what.into()));
        }
    }
    // What each array says of (N, K, V) (a target of K + 1 = 0 rows says nothing of K).
    let said: [(Option<usize>, Option<usize>, Option<usize>); 4] = [
        (Some(draft.1[0]), Some(draft.1[1]), Some(draft.1[2])),
        (
            Some(target.1[0]),
            target.1[1].checked_sub(1),
            Some(target.1[2]),
        ),
        (Some(tokens.1[0]), Some(tokens.1[1]), None),
        (Some(coins.1[0]), Some(coins.1[1]), None),
    ];
    let vote = |pick: &dyn Fn(usize) -> Option<usize>, agree: &dyn Fn(usize) -> bool| {
        let mut best: Option<(usize, usize)> = None;
        for i in 0..4 {
            let Some(x) = pick(i) else { continue };
            let votes = (0..4).filter(|&j| agree(j) && pick(j) == Some(x)).count();
            if best.is_none_or(|(_, b)| votes > b) {
                best = Some((x, votes));
            }
        }
        best.map_or(0, |(x, _)| x)
    };
    let n = vote(&|i| said[i].0, &|_| true);
    let k = vote(&|i| said[i].1, &|_| true);
    // V from the arrays that agree on N and K (the draft's when none does).
    let v = vote(&|i| said[i].2, &|j| {
        said[j].0 == Some(n) && said[j].1 == Some(k)
    });
    if k >= u32::MAX as usize || v > u32::MAX as usize {
        return Err(shape_err(
            draft,
            format!("K < {} and V <= {}", u32::MAX, u32::MAX),
        ));
    }
    let fits =
        |i: usize| said[i].0 == Some(n) && said[i].1 == Some(k) && said[i].2.is_none_or(|x| x == v);
    let others = |i: usize| {
        let names: Vec<&str> = [draft.0, target.0, tokens.0, coins.0]
            .iter()
            .enumerate()
            .filter(|&(j, _)| j != i && fits(j))
            .map(|(_, name)| short_name(name))
            .collect();
        format!("(N, K, V) = ({n}, {k}, {v}) from {}", names.join(", "))
    };
    let wants = [
        format!("[N, K, V] = [{n}, {k}, {v}]"),
        format!("[N, K + 1, V] = [{n}, {}, {v}]", k + 1),
        format!("[N, K] = [{n}, {k}]"),
        format!("[N, K] = [{n}, {k}]"),
    ];
    for (i, a) in [draft, target, tokens, coins].into_iter().enumerate() {
        if !fits(i) {
            return Err(shape_err(a, format!("{} for {}", wants[i], others(i))));
        }
    }
    if v == 0 {
        return Err(Error::format(draft.0, "V = 0: the vocabulary is empty"));
    }
    Ok((n, k, v))
}

/// The array's name without its directory (`.../draft_probs.npy` → `draft_probs`).
/// An array (its name for errors, its shape) whose shape does not fit the batch.
fn shape_err((origin, shape): (&str, &[usize]), want: String) -> Error {
    Error::format(
        origin,
        format!("shape {shape:?} does not fit the batch: expected {want}"),
    )
}

fn short_name(origin: &str) -> &str {
    let base = origin.rsplit(['/', '[']).next().unwrap_or(origin);
    base.trim_end_matches(']').trim_end_matches(".npy")
}

/// Checks the shapes of a tree batch's arrays (SPEC §7) against its `parents`, `[n]` (one tree)
/// or `[N, n]` (a tree per round): draft and target `[N, n, V]`, tokens and coins `[N, n]`.
/// Returns (N, n, V).
pub fn check_tree_shapes(
    parents: (&str, &[usize]),
    draft: (&str, &[usize]),
    target: (&str, &[usize]),
    tokens: (&str, &[usize]),
    coins: (&str, &[usize]),
) -> Result<(usize, usize, usize)> {
    let (per_round_n, nn) = match parents.1 {
        [nn] => (None, *nn),
        [n, nn] => (Some(*n), *nn),
        _ => {
            return Err(shape_err(
                parents,
                "[n] (one tree) or [N, n] (a tree per round)".into(),
            ));
        }
    };
    let [n, dn, v] = draft.1[..] else {
        return Err(shape_err(draft, "[N, n, V] for a tree batch".into()));
    };
    if dn != nn {
        return Err(shape_err(
            draft,
            format!("[N, n, V] with n = {nn}, the nodes of parents"),
        ));
    }
    if let Some(pn) = per_round_n
        && pn != n
    {
        return Err(shape_err(
            parents,
            format!(
                "[N, n] = [{n}, {nn}]: per-round parents for the N = {n} rounds of draft_probs"
            ),
        ));
    }
    if v == 0 || v > u32::MAX as usize {
        return Err(Error::format(
            draft.0,
            format!("V = {v} must be in 1..=2^32-1"),
        ));
    }
    let dims = format!("(N, n, V) = ({n}, {nn}, {v}) from draft_probs and parents");
    for (a, want) in [
        (target, vec![n, nn, v]),
        (tokens, vec![n, nn]),
        (coins, vec![n, nn]),
    ] {
        if a.1 != want {
            return Err(shape_err(a, format!("{want:?} for {dims}")));
        }
    }
    Ok((n, nn, v))
}

/// The error of the lowest round among `(round, error)` pairs found in parallel (whichever worker
/// met which first), named with its round; `Ok` when there is none.
pub fn lowest_bad_round(bad: impl ParallelIterator<Item = (usize, Error)>) -> Result<()> {
    match bad.min_by_key(|(r, _)| *r) {
        Some((r, e)) => Err(e.in_round(r as u64)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::check_batch_shapes;

    /// The array named is the one the others contradict: a transposed draft `[N, V, K]` beside a
    /// target `[N, K + 1, V]` is the draft's fault (it used to be blamed on the target), and so
    /// is each other array's own mistake.
    #[test]
    fn a_shape_mismatch_names_the_array_that_is_wrong() {
        let (n, k, v) = (4, 3, 7);
        let ok = (
            ("draft_probs", vec![n, k, v]),
            ("target_probs", vec![n, k + 1, v]),
            ("draft_tokens", vec![n, k]),
            ("random_coins", vec![n, k]),
        );
        let check = |d: &[usize], t: &[usize], tok: &[usize], c: &[usize]| {
            check_batch_shapes(
                ("draft_probs", d),
                ("target_probs", t),
                ("draft_tokens", tok),
                ("random_coins", c),
            )
        };
        assert_eq!(
            check(&ok.0.1, &ok.1.1, &ok.2.1, &ok.3.1).unwrap(),
            (n, k, v)
        );
        let e = check(&[n, v, k], &ok.1.1, &ok.2.1, &ok.3.1)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("draft_probs"), "{e}");
        assert!(e.contains("[N, K, V] = [4, 3, 7]"), "{e}");
        let e = check(&ok.0.1, &[n, v, k + 1], &ok.2.1, &ok.3.1)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("target_probs"), "{e}");
        let e = check(&ok.0.1, &ok.1.1, &[k, n], &ok.3.1)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("draft_tokens"), "{e}");
        let e = check(&ok.0.1, &ok.1.1, &ok.2.1, &[n + 1, k])
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("random_coins"), "{e}");
    }
}
