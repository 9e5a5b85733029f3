//! The checks of a study's options: K lists, float32-representable parameters and rows, the
//! size of a generated round, cost ratios. Each refusal names the flag (the Python keyword).

use crate::error::{Error, Result};
use crate::workload::Family;

/// Parses `1..16`, `1,2,4,8` or `1..4,8` into K values (checked by [`check_k`]).
pub fn parse_k_list(s: &str) -> Result<Vec<usize>> {
    let mut out = Vec::new();
    let bad = |what: String| Error::Config(format!("--k: {what}"));
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        if let Some((a, b)) = part.split_once("..") {
            let a: usize = a
                .trim()
                .parse()
                .map_err(|e| bad(format!("bad range start in {part:?}: {e}")))?;
            let b: usize = b
                .trim()
                .trim_start_matches('=')
                .parse()
                .map_err(|e| bad(format!("bad range end in {part:?}: {e}")))?;
            if a > b {
                return Err(bad(format!("empty range {part:?}")));
            }
            if b > 1024 {
                return Err(bad(format!("K = {b} is too large (at most 1024)")));
            }
            out.extend(a..=b);
        } else {
            out.push(
                part.parse()
                    .map_err(|e| bad(format!("{part:?} is not a number: {e}")))?,
            );
        }
    }
    check_k(out)
}

/// Sorts and deduplicates K values; refuses none, 0 and more than 1024.
pub fn check_k(mut k: Vec<usize>) -> Result<Vec<usize>> {
    k.sort_unstable();
    k.dedup();
    if k.is_empty() || k[0] == 0 {
        return Err(Error::Config(
            "--k: give values of K >= 1 (e.g. 1..16 or 1,2,4)".into(),
        ));
    }
    if let Some(&top) = k.last()
        && top > 1024
    {
        return Err(Error::Config(format!(
            "--k: K = {top} is too large (at most 1024)"
        )));
    }
    Ok(k)
}

/// `x` as the float32 the generators compute with; refused where float32 cannot hold it.
pub(super) fn to_f32(name: &str, x: f64) -> Result<f32> {
    let y = x as f32;
    if x.is_finite() && y.is_infinite() {
        return Err(Error::Config(format!(
            "--{name}: {x:e} overflows float32 (the largest float32 is 3.4028235e38)"
        )));
    }
    if x != 0.0 && y == 0.0 {
        return Err(Error::Config(format!(
            "--{name}: {x:e} underflows float32 to 0 (the smallest positive float32 is 1e-45)"
        )));
    }
    Ok(y)
}

/// The largest |standard normal| the generators can draw: Box–Muller on a 32-bit uniform
/// u1 ≥ 2^-32 gives at most sqrt(−2 ln 2^-32) = 6.66.
pub const MAX_NORMAL: f64 = 6.7;

/// Refuses parameters for which a generated logit could leave float32 (which would make the
/// generated rows NaN): |z| ≤ [`MAX_NORMAL`], plus sigma · [`MAX_NORMAL`] and zipf · ln(1 + V),
/// divided by the temperature, must stay below float32's largest value (with a margin of 4 for
/// the softmax's subtraction).
pub(super) fn check_finite_rows(
    family: &Family,
    vocab: usize,
    t_target: f32,
    t_draft: f32,
    zipf: f32,
) -> Result<()> {
    let tail = zipf as f64 * (1.0 + vocab as f64).ln();
    let sigma = match family {
        Family::LogitNoise { sigma } => *sigma,
        _ => 0.0,
    };
    let limit = f32::MAX as f64 / 4.0;
    for (name, t, reach) in [
        ("t-target", t_target, MAX_NORMAL + tail),
        ("t-draft", t_draft, MAX_NORMAL * (1.0 + sigma as f64) + tail),
    ] {
        let top = reach / t as f64;
        if top.is_nan() || top >= limit {
            let with_sigma = match family {
                Family::LogitNoise { .. } => format!(" --sigma {}", short(sigma)),
                _ => String::new(),
            };
            return Err(Error::Config(format!(
                "--{name} {t} with{with_sigma} --zipf {zipf}: the generated logits would reach {top:.3e}, beyond float32 (3.4e38), and the rows would not be finite",
                t = short(t),
                zipf = short(zipf),
            )));
        }
    }
    Ok(())
}

/// A float32 in its shortest form, in scientific notation when very large or small.
fn short(x: f32) -> String {
    if x == 0.0 || (1e-4..1e6).contains(&x.abs()) {
        format!("{x}")
    } else {
        format!("{x:e}")
    }
}

/// The most bytes one round's rows may take in a generated workload (studies and `verify
/// --generate` hold at least one round in memory at a time).
pub const MAX_ROUND_BYTES: u64 = 1 << 30;

/// Refuses a K and V whose one round, `(2K + 1)·V` float32 values, would not fit
/// [`MAX_ROUND_BYTES`] (checked arithmetic: no size wraps around).
pub fn check_round_size(k: usize, vocab: usize) -> Result<()> {
    if vocab == 0 {
        return Err(Error::Config("--vocab must be at least 1".into()));
    }
    let bytes = (2 * k as u64 + 1)
        .checked_mul(vocab as u64)
        .and_then(|x| x.checked_mul(4));
    match bytes {
        Some(b) if b <= MAX_ROUND_BYTES => Ok(()),
        _ => Err(Error::Config(format!(
            "--vocab {vocab} with K = {k}: one round's {} float32 rows would take more than {} MiB (at most V = {} at this K)",
            2 * k + 1,
            MAX_ROUND_BYTES >> 20,
            MAX_ROUND_BYTES / 4 / (2 * k as u64 + 1)
        ))),
    }
}

/// Refuses cost ratios that are negative or not finite.
pub use crate::cost::check_cost_ratios;
