//! The profiles' correction and bonus selections on one row: argmax, inverse CDF and the
//! exponential race.

/// The argmax of a non-negative row, ties to the lowest id (`None` when all zero).
pub fn argmax(row: &[f32]) -> Option<usize> {
    let mut best: Option<usize> = None;
    for (x, &w) in row.iter().enumerate() {
        if w > 0.0 && best.is_none_or(|b| w > row[b]) {
            best = Some(x);
        }
    }
    best
}

/// The first id whose f32 running sum (ascending id) exceeds `u · sum` (f32), the sum itself in
/// f32 in ascending id; the last id of positive weight when rounding leaves none (`None` when all
/// zero).
pub fn inverse_cdf(row: &[f32], u: f32) -> Option<usize> {
    let sum: f32 = row.iter().sum();
    if sum <= 0.0 {
        return None;
    }
    let thr = u * sum;
    let mut acc = 0.0f32;
    for (x, &w) in row.iter().enumerate() {
        acc += w;
        if acc > thr {
            return Some(x);
        }
    }
    row.iter().rposition(|&w| w > 0.0)
}

/// The argmax of `row[x] / e[x]` over the ids of positive weight, compared exactly as
/// `row[a]·e[b]` against `row[b]·e[a]` (f32 products, exact in f64); ties to the lowest id.
pub fn exp_race(row: &[f32], e: &[f32]) -> Option<usize> {
    let mut best: Option<usize> = None;
    for (x, (&w, &n)) in row.iter().zip(e).enumerate() {
        if w <= 0.0 {
            continue;
        }
        if best.is_none_or(|b| (w as f64) * (e[b] as f64) > (row[b] as f64) * (n as f64)) {
            best = Some(x);
        }
    }
    best
}
