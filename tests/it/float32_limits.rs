//! What float32 cannot hold is refused in every dtype mix and validation mode, with messages that
//! say so: values that overflow float32 (reliability class 1) and float64 coins below 1 that
//! round to 1.0 (class 2). The engines compute in float32, so such input would be computed wrong.

use specsim::Rule;
use specsim::batch::{ChainView, Floats, Ints, Validation};
use specsim::round::RoundOptions;

const N: usize = 3;
const K: usize = 2;
const V: usize = 4;

/// A valid batch as f64 rows: uniform rows, so p = q and every draft is accepted under both
/// rules; each round reads its bonus row.
fn rows() -> (Vec<f64>, Vec<f64>, Vec<u32>, Vec<f64>) {
    let d = vec![0.25; N * K * V];
    let t = vec![0.25; N * (K + 1) * V];
    (d, t, vec![1; N * K], vec![0.5; N * K])
}

fn f64s(x: &[f64]) -> Floats<'_> {
    Floats::F64(bytemuck::cast_slice(x))
}

fn check(
    d: &[f64],
    t: &[f64],
    tok: &[u32],
    c: &[f64],
    f32_draft: bool,
    opts: &RoundOptions,
) -> Vec<(Validation, Rule, Result<(), specsim::Error>)> {
    let d32: Vec<f32> = d.iter().map(|&x| x as f32).collect();
    let view = ChainView {
        n: N,
        k: K,
        v: V,
        draft: if f32_draft {
            Floats::F32(bytemuck::cast_slice(&d32))
        } else {
            f64s(d)
        },
        target: f64s(t),
        tokens: Ints::U32(bytemuck::cast_slice(tok)),
        coins: f64s(c),
    };
    let mut out = Vec::new();
    for mode in [Validation::Full, Validation::Touched] {
        for rule in Rule::ALL {
            out.push((mode, rule, view.validate_rule(opts, mode, rule)));
        }
    }
    out
}

#[test]
fn values_that_overflow_float32_are_refused_in_every_mix_and_mode() {
    let raw = RoundOptions {
        allow_unnormalized: true,
        ..Default::default()
    };
    for f32_draft in [false, true] {
        // In the drafted token's target probability (read by every rule and mode).
        let (d, mut t, tok, c) = rows();
        t[(K + 1) * V + 1] = 1e39; // round 1, position 0, token 1
        for (mode, rule, r) in check(&d, &t, &tok, &c, f32_draft, &raw) {
            let e = r.expect_err("1e39 must be refused");
            assert_eq!(e.kind(), "float32_overflow", "{mode:?} {rule}: {e}");
            let msg = e.to_string();
            assert!(
                msg.contains("round 1") && msg.contains("target_probs[0][1] = 1e39"),
                "{msg}"
            );
            assert!(msg.contains("overflows float32"), "{msg}");
        }
        // In the bonus row, which every round reads under the chain rules and rrs: every mode
        // refuses it. (greedy and target-only stop where the target's argmax or the running
        // sums say, short of the bonus row here, so `touched` rightly does not read it.)
        let (d, mut t, tok, c) = rows();
        t[K * V + 3] = 1e39; // round 0, position K, token 3
        for (mode, rule, r) in check(&d, &t, &tok, &c, f32_draft, &raw) {
            if mode == Validation::Touched && !rule.reads_draft() {
                continue;
            }
            let e = r.expect_err("1e39 must be refused");
            assert_eq!(e.kind(), "float32_overflow", "{mode:?} {rule}: {e}");
        }
    }
    // A drafted q in float64 too, under the rules that read it (greedy and target-only read no
    // draft probability: any finite value passes).
    let (mut d, t, tok, c) = rows();
    d[1] = 4e38;
    for (mode, rule, r) in check(&d, &t, &tok, &c, false, &raw) {
        if !rule.reads_draft() {
            r.unwrap_or_else(|e| panic!("{mode:?} {rule}: an unread 4e38 refused: {e}"));
            continue;
        }
        let e = r.expect_err("4e38 must be refused");
        assert_eq!(e.kind(), "float32_overflow", "{mode:?} {rule}: {e}");
        assert!(e.to_string().contains("draft_probs[0][1]"), "{e}");
    }
    // Named as an overflow even when the row's sum is checked too (it used to report the sum).
    let (d, mut t, tok, c) = rows();
    t[K * V + 3] = 1e39;
    for (mode, rule, r) in check(&d, &t, &tok, &c, true, &RoundOptions::default()) {
        if mode == Validation::Touched && !rule.reads_draft() {
            continue; // the bonus row is not read (see above)
        }
        let e = r.expect_err("1e39 must be refused");
        assert_eq!(e.kind(), "float32_overflow", "{mode:?} {rule}: {e}");
    }
    // The largest float32 itself passes.
    let (d, mut t, tok, c) = rows();
    t[K * V + 3] = f32::MAX as f64;
    for (mode, rule, r) in check(&d, &t, &tok, &c, false, &raw) {
        assert!(r.is_ok(), "{mode:?} {rule}: {r:?}");
    }
}

#[test]
fn float64_coins_that_round_to_one_are_refused() {
    let (d, t, tok, mut c) = rows();
    c[3] = 0.999_999_999; // round 1, position 1: below 1, but 1.0 in float32
    assert_eq!(c[3] as f32, 1.0);
    for (mode, rule, r) in check(&d, &t, &tok, &c, false, &RoundOptions::default()) {
        let e = r.expect_err("must be refused");
        let msg = e.to_string();
        assert!(
            msg.contains("round 1")
                && msg.contains("random_coins[1]")
                && msg.contains("rounds to 1.0 in float32"),
            "{mode:?} {rule}: {msg}"
        );
    }
    // The largest float32 below 1 passes.
    c[3] = 0.999_999_94;
    for (mode, rule, r) in check(&d, &t, &tok, &c, false, &RoundOptions::default()) {
        assert!(r.is_ok(), "{mode:?} {rule}: {r:?}");
    }
}
