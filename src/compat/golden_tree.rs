//! The adversarial golden sets of the tree rules under a profile (`specsim conform --rule greedy
//! | target-only`): one tree round a case, named by the semantic class it probes, with the
//! profile's expected outputs ([`super::decide_tree`]). A class the profile refuses (duplicate
//! sibling tokens or an invalid id under `specsim`) is not in its set.

use serde::Serialize;

use super::{Profile, Select, TreeCompatOutcome, TreeRound, decide_tree};
use crate::error::Result;
use crate::rule::Rule;
use crate::topology::Tree;

/// One tree case: a round and its expected outputs under the profile.
#[derive(Clone, Debug, Serialize)]
pub struct TreeCase {
    /// The semantic class it probes.
    pub class: &'static str,
    /// What it checks, in words.
    pub what: String,
    /// The parent array `[n]`.
    pub parents: Vec<i64>,
    /// V.
    pub v: usize,
    /// Node tokens `[n]` (entry 0 not read).
    pub draft_tokens: Vec<i64>,
    /// Node coins `[n]`.
    pub random_coins: Vec<f32>,
    /// Target rows `[n, V]`.
    pub target_probs: Vec<f32>,
    /// The final coin, for a profile that samples the correction and bonus by inverse CDF.
    pub final_coins: Option<f32>,
    /// The expected outputs.
    pub expected: TreeCompatOutcome,
}

/// A row of V zeros but for the given (id, probability) entries.
fn row(v: usize, entries: &[(usize, f32)]) -> Vec<f32> {
    let mut r = vec![0.0f32; v];
    for &(x, p) in entries {
        r[x] = p;
    }
    r
}

struct Draft {
    class: &'static str,
    what: &'static str,
    parents: Vec<i64>,
    tokens: Vec<i64>,
    coins: Vec<f32>,
    rows: Vec<Vec<f32>>,
    final_coin: f32,
}

fn draft(
    class: &'static str,
    what: &'static str,
    parents: &[i64],
    tokens: &[i64],
    coin: f32,
    rows: Vec<Vec<f32>>,
) -> Draft {
    Draft {
        class,
        what,
        parents: parents.to_vec(),
        tokens: tokens.to_vec(),
        coins: vec![coin; parents.len()],
        rows,
        final_coin: 0.37,
    }
}

/// SGLang's own test tree (`test_tree_speculative_sampling_target_only`, `test_verify_tree_greedy`):
/// its two rounds, the second renumbered so that siblings are in its `retrive_next_sibling`
/// order; target rows one-hot (its softmax at temperature 0.01 of logits 10 and 1 is exactly
/// one-hot in f32).
fn sglang_peer() -> [Draft; 2] {
    let v = 20;
    let hot = |x: usize| row(v, &[(x, 1.0)]);
    let parents = [-1, 0, 1, 0, 3, 4];
    let what = "SGLang's unit test (sgl-kernel tests/speculative): expected predicts, accept_index and accept_token_num ported";
    [
        // Round 0: candidates 0..5; accepts nodes 3, 4, 5 (tokens 3, 4, 5), bonus 18.
        draft(
            "peer_sglang_tree_round0",
            what,
            &parents,
            &[0, 1, 2, 3, 4, 5],
            0.5,
            vec![hot(3), hot(18), hot(18), hot(4), hot(5), hot(18)],
        ),
        // Round 1: candidates 7..12 (its nodes 4, 5, 1, 2, 3 renumbered 1..5); accepts tokens
        // 11, 12, bonus 18.
        draft(
            "peer_sglang_tree_round1",
            what,
            &parents,
            &[7, 11, 12, 8, 9, 10],
            0.5,
            vec![hot(11), hot(12), hot(18), hot(18), hot(18), hot(18)],
        ),
    ]
}

fn target_only_drafts() -> Vec<Draft> {
    let v = 8;
    let star = [-1i64, 0, 0];
    let leaves = |r: Vec<f32>| vec![r, row(v, &[(5, 0.75), (0, 0.25)]), row(v, &[(6, 1.0)])];
    let below = f32::from_bits(0.25f32.to_bits() - 1);
    let above = f32::from_bits(0.25f32.to_bits() + 1);
    let base = row(v, &[(1, 0.25), (2, 0.5), (7, 0.25)]);
    let mut ds = vec![
        draft(
            "coin_at_threshold",
            "coin = S_1 exactly (0.25): not accepted under < (accepted by a kernel with <=, SGLang's before its PR #35798)",
            &star,
            &[0, 1, 2],
            0.25,
            leaves(base.clone()),
        ),
        draft(
            "coin_below_threshold",
            "coin one f32 step below S_1: the first child",
            &star,
            &[0, 1, 2],
            below,
            leaves(base.clone()),
        ),
        draft(
            "coin_above_threshold",
            "coin one f32 step above S_1: the second child by the running sum",
            &star,
            &[0, 1, 2],
            above,
            leaves(base),
        ),
        draft(
            "coin_zero_p_zero",
            "coin 0 and the first child's probability 0: never accepted (a kernel with <= accepts it: 0 <= 0)",
            &star,
            &[0, 3, 2],
            0.0,
            leaves(row(v, &[(2, 0.5), (7, 0.5)])),
        ),
        draft(
            "running_sum_f32",
            "S_2 = 0.25 + 2^-30 rounds to 0.25 in f32: coin 0.25 fails SGLang's f32 running sum, passes an exact (or f64) one",
            &star,
            &[0, 1, 2],
            0.25,
            leaves(row(
                v,
                &[(1, 0.25), (2, 1.0 / (1u64 << 30) as f32), (7, 0.5)],
            )),
        ),
        draft(
            "zero_mass_bucket",
            "coin 0.25 at the boundary S_1 = S_2 = 0.25 (the second child of probability 0): the third child",
            &[-1, 0, 0, 0],
            &[0, 1, 2, 3],
            0.25,
            vec![
                row(v, &[(1, 0.25), (3, 0.75)]),
                row(v, &[(5, 1.0)]),
                row(v, &[(5, 1.0)]),
                row(v, &[(6, 1.0)]),
            ],
        ),
        draft(
            "all_children_rejected",
            "coin above S_2: the correction from the row with both children's tokens zeroed",
            &star,
            &[0, 1, 2],
            0.9,
            leaves(row(v, &[(1, 0.25), (2, 0.25), (3, 0.125), (4, 0.375)])),
        ),
        draft(
            "correction_tie",
            "a tie in the masked row's argmax (ids 3 and 4)",
            &star,
            &[0, 1, 2],
            0.9,
            leaves(row(v, &[(1, 0.25), (2, 0.25), (3, 0.25), (4, 0.25)])),
        ),
        draft(
            "zero_residual",
            "the children carry the row's whole mass and are rejected (an unnormalised row): the masked row is all zero",
            &star,
            &[0, 1, 2],
            0.75,
            leaves(row(v, &[(1, 0.25), (2, 0.25)])),
        ),
        draft(
            "duplicate_siblings",
            "two children with the same token: its probability counted twice in the running sum (the second child accepted)",
            &star,
            &[0, 1, 1],
            0.5,
            leaves(row(v, &[(1, 0.3), (7, 0.7)])),
        ),
    ];
    let mut bonus = draft(
        "bonus_at_leaf",
        "the path accepted to a leaf: the bonus from the leaf's row (final coin 0.1: id 0 by inverse CDF, 5 by argmax)",
        &[-1, 0],
        &[0, 2],
        0.1,
        vec![row(v, &[(2, 1.0)]), row(v, &[(0, 0.25), (5, 0.75)])],
    );
    bonus.final_coin = 0.1;
    ds.push(bonus);
    let mut sel = draft(
        "selection_boundary",
        "the final coin's threshold equals a running sum of the masked row: the next id (strict >)",
        &star,
        &[0, 1, 2],
        0.5,
        leaves(row(v, &[(3, 0.25), (4, 0.25), (5, 0.5)])),
    );
    sel.final_coin = 0.25;
    ds.push(sel);
    // A node with 64 children over V = 128: accepted at child 41 by the running sum of 1/64s.
    let (n, v) = (65usize, 128usize);
    let mut parents = vec![-1i64];
    parents.extend(std::iter::repeat_n(0, n - 1));
    let tokens: Vec<i64> = (0..n as i64).collect();
    let mut rows = vec![row(v, &[(127, 1.0)]); n];
    rows[0] = (0..v)
        .map(|x| if (1..n).contains(&x) { 1.0 / 64.0 } else { 0.0 })
        .collect();
    ds.push(draft(
        "wide_node",
        "64 children of probability 1/64: coin 0.64 passes the running sum at child 41",
        &parents,
        &tokens,
        0.64,
        rows,
    ));
    ds.extend(common_drafts());
    ds.extend(sglang_peer());
    ds.extend(sglang_boundary_peers());
    ds
}

/// SGLang's tests of its PR #35798 (sgl-kernel `tests/speculative/test_speculative_sampling.py`:
/// `test_zero_probability_candidate_is_never_accepted`, `test_zero_coin_accepts_positive_probability_candidate`,
/// `test_coin_at_bucket_boundary_skips_zero_mass_bucket`): accept_token_num 0, 1 and 1 (and
/// predicts[0] = 3), with its final coin 0.
fn sglang_boundary_peers() -> Vec<Draft> {
    let r = |p: [f32; 4]| row(4, &[(0, p[0]), (1, p[1]), (2, p[2]), (3, p[3])]);
    let mut ds = vec![
        draft(
            "peer_sglang_zero_probability",
            "SGLang's test_zero_probability_candidate_is_never_accepted: coin 0, p = 0: not accepted",
            &[-1, 0],
            &[0, 1],
            0.0,
            vec![r([0.0, 0.0, 1.0, 0.0]), r([0.0, 0.0, 1.0, 0.0])],
        ),
        draft(
            "peer_sglang_zero_coin",
            "SGLang's test_zero_coin_accepts_positive_probability_candidate: coin 0, p = 0.25: accepted",
            &[-1, 0],
            &[0, 1],
            0.0,
            vec![r([0.0, 0.25, 0.75, 0.0]), r([0.0, 0.0, 1.0, 0.0])],
        ),
        draft(
            "peer_sglang_bucket_boundary",
            "SGLang's test_coin_at_bucket_boundary_skips_zero_mass_bucket: coin 0.25 skips the zero-mass bucket: token 3",
            &[-1, 0, 0, 0],
            &[0, 1, 2, 3],
            0.25,
            vec![
                r([0.0, 0.25, 0.0, 0.75]),
                r([0.0, 0.0, 1.0, 0.0]),
                r([0.0, 0.0, 1.0, 0.0]),
                r([0.0, 0.0, 1.0, 0.0]),
            ],
        ),
    ];
    for d in &mut ds {
        d.coins[1..].fill(0.0);
        d.final_coin = 0.0;
    }
    ds
}

fn greedy_drafts() -> Vec<Draft> {
    let v = 8;
    let star = [-1i64, 0, 0];
    let leaves = |r: Vec<f32>| vec![r, row(v, &[(5, 0.75), (0, 0.25)]), row(v, &[(6, 1.0)])];
    let mut ds = vec![
        draft(
            "argmax_tie",
            "the root's argmax tied at ids 2 and 5: the lowest (2, the second child)",
            &star,
            &[0, 5, 2],
            0.0,
            leaves(row(v, &[(2, 0.4), (5, 0.4), (7, 0.2)])),
        ),
        draft(
            "first_matching_child",
            "two children carry the argmax: the first (node 1, whose subtree differs)",
            &[-1, 0, 0, 2],
            &[0, 3, 3, 4],
            0.0,
            vec![
                row(v, &[(3, 1.0)]),
                row(v, &[(6, 1.0)]),
                row(v, &[(4, 1.0)]),
                row(v, &[(1, 1.0)]),
            ],
        ),
        draft(
            "no_match",
            "no child carries the argmax: the argmax",
            &star,
            &[0, 1, 2],
            0.0,
            leaves(row(v, &[(1, 0.25), (2, 0.25), (4, 0.5)])),
        ),
        draft(
            "zero_row",
            "an all-zero target row: argmax 0, which the child carries",
            &star,
            &[0, 0, 2],
            0.0,
            leaves(row(v, &[])),
        ),
        draft(
            "invalid_token_id_negative",
            "a placeholder id -1 before the matching child: never matches",
            &star,
            &[0, -1, 2],
            0.0,
            leaves(row(v, &[(2, 1.0)])),
        ),
        draft(
            "invalid_token_id",
            "an id V before the matching child: never matches",
            &star,
            &[0, 8, 2],
            0.0,
            leaves(row(v, &[(2, 1.0)])),
        ),
    ];
    let (n, v) = (65usize, 128usize);
    let mut parents = vec![-1i64];
    parents.extend(std::iter::repeat_n(0, n - 1));
    let tokens: Vec<i64> = (0..n as i64).collect();
    let mut rows = vec![row(v, &[(127, 1.0)]); n];
    rows[0] = row(v, &[(50, 0.5), (100, 0.5)]);
    ds.push(draft(
        "wide_node",
        "64 children: the one carrying the argmax (node 50)",
        &parents,
        &tokens,
        0.0,
        rows,
    ));
    ds.extend(common_drafts());
    ds.extend(sglang_peer());
    ds
}

/// Classes of both rules: a long path, a lone root, V = 1 and V = 128256.
fn common_drafts() -> Vec<Draft> {
    let k = 16usize;
    let parents: Vec<i64> = (0..=k as i64).map(|i| i - 1).collect();
    let tokens: Vec<i64> = (0..=k as i64).map(|i| i % 8).collect();
    let rows: Vec<Vec<f32>> = (0..=k).map(|u| row(8, &[((u + 1) % 8, 1.0)])).collect();
    let big = 128_256usize;
    vec![
        draft(
            "long_path",
            "a path of 16 drafts, all accepted, then the bonus",
            &parents,
            &tokens,
            0.5,
            rows,
        ),
        draft(
            "root_only",
            "a tree of the root alone: the bonus",
            &[-1],
            &[0],
            0.5,
            vec![row(8, &[(3, 0.5), (4, 0.5)])],
        ),
        draft(
            "v1",
            "V = 1",
            &[-1, 0],
            &[0, 0],
            0.5,
            vec![vec![1.0], vec![1.0]],
        ),
        draft(
            "v128256",
            "V = 128256: the accepted child's and the bonus's ids near the end",
            &[-1, 0, 0],
            &[0, 5, big as i64 - 2],
            0.6,
            vec![
                row(big, &[(5, 0.5), (big - 2, 0.5)]),
                row(big, &[(big - 1, 1.0)]),
                row(big, &[(big - 3, 0.75), (7, 0.25)]),
            ],
        ),
    ]
}

/// Whether the profile samples the tree rule's correction and bonus by inverse CDF (with
/// `final_coins`).
pub fn samples(profile: Profile, rule: Rule) -> bool {
    profile.semantics().select == Select::InverseCdf && rule == Rule::TargetOnly
}

/// The profile's tree rule in words (for indexes and tables).
pub fn semantics(profile: Profile, rule: Rule) -> &'static str {
    match (profile, rule == Rule::TargetOnly) {
        (Profile::Specsim, true) => {
            "first child with coin < S_j (f64 running sum); distinct sibling tokens; correction argmax of the masked row"
        }
        (Profile::Sglang, true) => {
            "first child with p > 0 and coin < S_j (f32 running sum) or p >= 1; duplicates counted twice; inverse CDF with final_coins, V - 1 on an all-zero row"
        }
        (Profile::Specsim, false) => {
            "first child carrying argmax t (lowest id); invalid ids refused"
        }
        _ => {
            "first child carrying argmax t (lowest id, 0 on an all-zero row); invalid ids never match"
        }
    }
}

/// The profile's golden set for a tree rule (`greedy` or `target-only`; refused when the profile
/// does not decide it).
pub fn tree_cases(profile: Profile, rule: Rule) -> Result<Vec<TreeCase>> {
    profile.check_rule(rule)?;
    let ds = match rule {
        Rule::TargetOnly => target_only_drafts(),
        Rule::Greedy => greedy_drafts(),
        _ => {
            return Err(crate::error::Error::Config(format!(
                "--rule {rule}: not a tree rule of the profiles (greedy, target-only)"
            )));
        }
    };
    let sampled = samples(profile, rule);
    let mut out = Vec::new();
    for d in ds {
        let tree = Tree::from_parents(&d.parents)?;
        let v = d.rows[0].len();
        let target: Vec<f32> = d.rows.concat();
        let final_coin = sampled.then_some(d.final_coin);
        let round = TreeRound {
            tree: &tree,
            v,
            tokens: &d.tokens,
            coins: &d.coins,
            target: &target,
            final_coin,
        };
        let Ok(expected) = decide_tree(&round, profile, rule) else {
            continue;
        };
        out.push(TreeCase {
            class: d.class,
            what: d.what.to_string(),
            parents: d.parents,
            v,
            draft_tokens: d.tokens,
            random_coins: d.coins,
            target_probs: target,
            final_coins: final_coin,
            expected,
        });
    }
    Ok(out)
}
