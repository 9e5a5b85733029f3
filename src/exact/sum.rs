//! [`ExactSum`]: a sum of f64 values that does not depend on the order of its terms, so that a
//! study's statistics are the same whether its rounds were summed in one pass, in chunks of any
//! size, or in shards on other machines and merged (`specsim merge`).
//!
//! Each term is rounded once to the fixed-point grid 2^-64 (absolute error at most 2^-65 ≈ 2.7e-20
//! per term) and added as an i128, which is exact and associative; the value is the sum's nearest
//! f64. Terms and sums must stay below 2^62 in magnitude; a non-finite term, or one beyond that,
//! makes the sum NaN (it is never silently wrong).

use serde::{Deserialize, Serialize};

/// 2^64, the grid's inverse step.
const SCALE: f64 = 18_446_744_073_709_551_616.0;

/// The largest magnitude a term may have (2^62).
const LIMIT: f64 = 4_611_686_018_427_387_904.0;

/// An order-independent sum of f64 values (see the module docs). Serialised as the decimal string
/// of its fixed-point integer, or `"nan"` (shard files carry it exactly).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExactSum {
    fixed: i128,
    nan: bool,
}

impl ExactSum {
    /// The sum of no terms.
    pub const ZERO: ExactSum = ExactSum {
        fixed: 0,
        nan: false,
    };

    /// Adds one term.
    #[inline]
    pub fn add(&mut self, x: f64) {
        if !x.is_finite() || x.abs() >= LIMIT {
            self.nan = true;
            return;
        }
        let f = (x * SCALE).round() as i128;
        match self.fixed.checked_add(f) {
            Some(s) => self.fixed = s,
            None => self.nan = true,
        }
    }

    /// Adds another sum (exactly).
    pub fn merge(&mut self, other: &ExactSum) {
        self.nan |= other.nan;
        match self.fixed.checked_add(other.fixed) {
            Some(s) => self.fixed = s,
            None => self.nan = true,
        }
    }

    /// The nearest f64 to the sum (NaN after a non-finite or out-of-range term).
    pub fn value(&self) -> f64 {
        if self.nan {
            f64::NAN
        } else {
            self.fixed as f64 / SCALE
        }
    }
}

impl std::ops::AddAssign<f64> for ExactSum {
    fn add_assign(&mut self, x: f64) {
        self.add(x);
    }
}

impl Serialize for ExactSum {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.nan {
            s.serialize_str("nan")
        } else {
            s.serialize_str(&self.fixed.to_string())
        }
    }
}

impl<'de> Deserialize<'de> for ExactSum {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<ExactSum, D::Error> {
        let s = String::deserialize(d)?;
        if s == "nan" {
            return Ok(ExactSum {
                fixed: 0,
                nan: true,
            });
        }
        s.parse::<i128>()
            .map(|fixed| ExactSum { fixed, nan: false })
            .map_err(|_| serde::de::Error::custom(format!("not an exact sum: '{s}'")))
    }
}

/// The values of a list of sums.
pub fn values(sums: &[ExactSum]) -> Vec<f64> {
    sums.iter().map(ExactSum::value).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn any_order_and_any_split_give_the_same_sum() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let xs: Vec<f64> = (0..10_000)
            .map(|i| rng.random::<f64>() * 10f64.powi(i % 12 - 8))
            .collect();
        let mut one = ExactSum::ZERO;
        xs.iter().for_each(|&x| one += x);
        let mut rev = ExactSum::ZERO;
        xs.iter().rev().for_each(|&x| rev += x);
        assert_eq!(one, rev);
        for split in [1, 7, 5000, 9999] {
            let (mut a, mut b) = (ExactSum::ZERO, ExactSum::ZERO);
            xs[..split].iter().for_each(|&x| a += x);
            xs[split..].iter().for_each(|&x| b += x);
            b.merge(&a);
            assert_eq!(b, one);
        }
        let plain: f64 = xs.iter().sum();
        assert!((one.value() - plain).abs() <= 1e-12 * plain);
        let back: ExactSum = serde_json::from_str(&serde_json::to_string(&one).unwrap()).unwrap();
        assert_eq!(back, one);
    }

    #[test]
    fn a_bad_term_makes_the_sum_nan_not_wrong() {
        for bad in [f64::NAN, f64::INFINITY, 1e30] {
            let mut s = ExactSum::ZERO;
            s += 1.0;
            s += bad;
            assert!(s.value().is_nan());
            let back: ExactSum = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
            assert!(back.value().is_nan());
        }
        assert!(serde_json::from_str::<ExactSum>("\"1.5\"").is_err());
    }
}
