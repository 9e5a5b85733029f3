//! Property tests of the one-round reference (SPEC §1).

use proptest::prelude::*;
use specsim::round::{RoundOptions, python_round4, speculative_decode_with};

#[derive(Clone, Debug)]
struct Round {
    draft: Vec<Vec<f64>>,
    target: Vec<Vec<f64>>,
    tokens: Vec<i64>,
    coins: Vec<f64>,
}

fn normalise(w: &[u8]) -> Vec<f64> {
    let mut w: Vec<f64> = w.iter().map(|&x| x as f64).collect();
    if w.iter().all(|&x| x == 0.0) {
        w[0] = 1.0;
    }
    let s: f64 = w.iter().sum();
    w.iter().map(|x| x / s).collect()
}

/// Small rounds with many ties and zeros: weights from 0..5, tokens drawn where the draft is > 0,
/// coins that are sometimes exactly 0.
fn rounds() -> impl Strategy<Value = Round> {
    (1usize..7, 1usize..9)
        .prop_flat_map(|(k, v)| {
            (
                prop::collection::vec(prop::collection::vec(0u8..5, v), k),
                prop::collection::vec(prop::collection::vec(0u8..5, v), k + 1),
                prop::collection::vec(any::<u32>(), k),
                prop::collection::vec(prop_oneof![Just(0.0), Just(0.5), 0.0f64..1.0], k),
            )
        })
        .prop_map(|(d, t, picks, coins)| {
            let draft: Vec<Vec<f64>> = d.iter().map(|w| normalise(w)).collect();
            let target: Vec<Vec<f64>> = t.iter().map(|w| normalise(w)).collect();
            let tokens = draft
                .iter()
                .zip(&picks)
                .map(|(row, &pick)| {
                    let nz: Vec<usize> = (0..row.len()).filter(|&x| row[x] > 0.0).collect();
                    nz[pick as usize % nz.len()] as i64
                })
                .collect();
            Round {
                draft,
                target,
                tokens,
                coins,
            }
        })
}

fn decide(r: &Round, opts: &RoundOptions) -> specsim::RoundResult {
    speculative_decode_with(&r.draft, &r.target, &r.tokens, &r.coins, opts).expect("valid round")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn output_shape_prefix_and_rate(r in rounds()) {
        let k = r.tokens.len();
        let out = decide(&r, &RoundOptions::default());
        prop_assert!((1..=k + 1).contains(&out.accepted_tokens.len()));
        prop_assert_eq!(out.num_generated, out.accepted_tokens.len());
        let accepted = out.num_generated - 1;
        for i in 0..accepted {
            prop_assert_eq!(out.accepted_tokens[i] as i64, r.tokens[i]);
        }
        prop_assert_eq!(out.acceptance_rate, python_round4(accepted as f64 / k as f64));
        let v = r.target[0].len() as u32;
        prop_assert!(out.accepted_tokens[accepted] < v);
    }

    #[test]
    fn p_at_least_q_is_always_accepted(r in rounds()) {
        let out = decide(&r, &RoundOptions::default());
        let accepted = out.num_generated - 1;
        if accepted < r.tokens.len() {
            // The rejected position must have p < q.
            let tok = r.tokens[accepted] as usize;
            prop_assert!(r.target[accepted][tok] < r.draft[accepted][tok]);
        }
    }

    #[test]
    fn zero_coin_never_accepts_zero_target_probability(mut r in rounds(), pos in any::<prop::sample::Index>()) {
        let i = pos.index(r.tokens.len());
        let tok = r.tokens[i] as usize;
        // Make p = 0 at position i (move its mass elsewhere, or to a new token if V = 1 is impossible).
        let v = r.target[i].len();
        prop_assume!(v > 1);
        let mass = r.target[i][tok];
        r.target[i][tok] = 0.0;
        r.target[i][(tok + 1) % v] += mass;
        r.coins[i] = 0.0;
        let out = decide(&r, &RoundOptions::default());
        prop_assert!(out.num_generated - 1 <= i, "position {} with p = 0 was accepted", i);
    }

    #[test]
    fn scaling_every_distribution_keeps_the_result(r in rounds(), e in -20i32..20) {
        let opts = RoundOptions { allow_unnormalized: true, ..Default::default() };
        let c = 2f64.powi(e); // exact scaling: ratios and differences scale exactly
        let scale = |rows: &Vec<Vec<f64>>| rows.iter().map(|row| row.iter().map(|x| x * c).collect()).collect();
        let scaled = Round { draft: scale(&r.draft), target: scale(&r.target), ..r.clone() };
        prop_assert_eq!(decide(&r, &opts), decide(&scaled, &opts));
    }
}
