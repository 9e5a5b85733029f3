//! The adversarial golden set of a profile (`specsim conform`): cases of one round each, every one
//! named by the semantic class it probes, with the profile's expected outputs
//! ([`super::decide_chain`]). A kernel that fails a class learns which semantic it gets wrong.

use serde::Serialize;

use super::{ChainRound, CompatOutcome, Profile, Select, decide_chain};
use crate::error::Result;

/// One case: a round and its expected outputs under the profile.
#[derive(Clone, Debug, Serialize)]
pub struct Case {
    /// The semantic class it probes.
    pub class: &'static str,
    /// What it checks, in words.
    pub what: String,
    /// K.
    pub k: usize,
    /// V.
    pub v: usize,
    /// Draft rows `[K, V]`.
    pub draft_probs: Vec<f32>,
    /// Target rows `[K + 1, V]`.
    pub target_probs: Vec<f32>,
    /// Drafted ids `[K]`.
    pub draft_tokens: Vec<i64>,
    /// Coins `[K]`.
    pub random_coins: Vec<f32>,
    /// The final coin, for a profile that samples by inverse CDF.
    pub final_coins: Option<f32>,
    /// The noise row `[V]`, for a profile that samples by exponential race.
    pub exp_noise: Option<Vec<f32>>,
    /// The expected outputs.
    pub expected: CompatOutcome,
}

/// A round's rows and drafts before its extras and expected outputs.
struct Draft {
    class: &'static str,
    what: String,
    draft: Vec<Vec<f32>>,
    target: Vec<Vec<f32>>,
    tokens: Vec<i64>,
    coins: Vec<f32>,
}

fn one_hot(v: usize, x: usize, p: f32, rest: usize) -> Vec<f32> {
    // p at x, the rest of the mass at `rest`.
    let mut r = vec![0.0f32; v];
    r[rest] = 1.0 - p;
    r[x] += p;
    r
}

fn uniform(v: usize) -> Vec<f32> {
    vec![1.0 / v as f32; v]
}

/// The profile's golden set for the chain token rule.
pub fn cases(profile: Profile) -> Result<Vec<Case>> {
    let sem = profile.semantics();
    let mut ds: Vec<Draft> = Vec::new();
    let mut add = |class, what: &str, draft, target, tokens, coins| {
        ds.push(Draft {
            class,
            what: what.to_string(),
            draft,
            target,
            tokens,
            coins,
        })
    };
    let v = 4;
    // The threshold: coin·q = p exactly (q = 0.5, p = 0.25, coin = 0.5), and one f32 step either
    // side of the coin.
    let (q, p) = (0.5f32, 0.25f32);
    let row_q = one_hot(v, 1, q, 2);
    let row_p = one_hot(v, 1, p, 3);
    // The threshold coin: p / q, or p where q is not read.
    let at = if sem.ignores_q { p } else { p / q };
    for (class, coin, what) in [
        (
            "coin_at_threshold",
            at,
            "coin · q = p exactly (coin = p where q is not read): accepted by <=, rejected by <",
        ),
        (
            "coin_below_threshold",
            f32::from_bits(at.to_bits() - 1),
            "one f32 step below the threshold: accepted",
        ),
        (
            "coin_above_threshold",
            f32::from_bits(at.to_bits() + 1),
            "one f32 step above the threshold: rejected",
        ),
    ] {
        add(
            class,
            what,
            vec![row_q.clone()],
            vec![row_p.clone(), uniform(v)],
            vec![1],
            vec![coin],
        );
    }
    // p = 0 at the drafted token.
    let p0 = one_hot(v, 2, 1.0, 2);
    if !sem.coins_open_closed {
        add(
            "coin_zero_p_zero",
            "coin 0, p(x) = 0: accepted by <= (0 <= 0), rejected by <",
            vec![row_q.clone()],
            vec![p0.clone(), uniform(v)],
            vec![1],
            vec![0.0],
        );
    }
    add(
        "p_zero",
        "p(x) = 0 with a positive coin: rejected; the residual's argmax",
        vec![row_q.clone()],
        vec![p0, uniform(v)],
        vec![1],
        vec![0.25],
    );
    // Coins near and at 1.
    let near_one = f32::from_bits(1.0f32.to_bits() - 1);
    let sure = one_hot(v, 1, 1.0, 1);
    add(
        "coin_near_one",
        "coin = 1 − 2^-24 with p = q = 1: accepted (coin · q < p)",
        vec![sure.clone()],
        vec![sure, uniform(v)],
        vec![1],
        vec![near_one],
    );
    if sem.coins_open_closed {
        add(
            "coin_one_p_equals_q",
            "coin = 1 with p = q: rejected (1 · q < p is false); the residual has mass elsewhere",
            vec![row_q.clone()],
            vec![one_hot(v, 1, 0.5, 3), uniform(v)],
            vec![1],
            vec![1.0],
        );
    }
    // Argmax ties in the residual and in the bonus row.
    let tie_t = vec![0.4f32, 0.1, 0.4, 0.1];
    let tie_d = vec![0.1f32, 0.8, 0.1, 0.0];
    add(
        "residual_tie",
        "a rejection whose residual ties at ids 0 and 2 (argmax: the lowest id)",
        vec![tie_d.clone()],
        vec![tie_t.clone(), uniform(v)],
        vec![1],
        vec![0.9],
    );
    add(
        "bonus_tie",
        "every draft accepted; the bonus row ties at ids 0 and 2 (and so does the race: equal noise there)",
        vec![tie_d.clone()],
        vec![one_hot(v, 0, 1.0, 0), tie_t.clone()],
        vec![0],
        vec![0.3],
    );
    if sem.select == Select::ExpRace {
        add(
            "race_uses_noise",
            "the residual ties at ids 0 and 2 and the noise is smaller at 2: the race picks 2",
            vec![tie_d.clone()],
            vec![tie_t.clone(), uniform(v)],
            vec![1],
            vec![0.9],
        );
    }
    // Chains: K = 1 and a long chain, all accepted and a late rejection.
    let k16 = 16;
    let mut long_d = Vec::new();
    let mut long_t = Vec::new();
    for i in 0..k16 {
        long_d.push(one_hot(v, i % v, 0.7, (i + 1) % v));
        long_t.push(one_hot(v, i % v, 0.6, (i + 2) % v));
    }
    long_t.push(uniform(v));
    let toks: Vec<i64> = (0..k16).map(|i| (i % v) as i64).collect();
    let mut coins = vec![0.5f32; k16];
    add(
        "long_chain_accepted",
        "K = 16, every coin below p/q: all accepted, then the bonus",
        long_d.clone(),
        long_t.clone(),
        toks.clone(),
        coins.clone(),
    );
    coins[13] = 0.99;
    add(
        "long_chain_late_rejection",
        "K = 16, rejected at position 13; later positions pass their own test",
        long_d,
        long_t,
        toks,
        coins,
    );
    // V = 1: the only token is always drafted with q = p = 1.
    add(
        "v1",
        "V = 1: every draft accepted, the bonus is token 0",
        vec![vec![1.0]; 2],
        vec![vec![1.0]; 3],
        vec![0, 0],
        vec![0.5, near_one],
    );
    // A large vocabulary.
    let big = 128_256usize;
    let mut bd = vec![0.0f32; big];
    let mut bt = vec![0.0f32; big];
    bd[big - 1] = 0.75;
    bd[7] = 0.25;
    bt[big - 1] = 0.25;
    bt[big - 2] = 0.75;
    add(
        "v128256",
        "V = 128256: a rejection at the last id; the residual's mass near the end",
        vec![bd],
        vec![bt.clone(), bt],
        vec![(big - 1) as i64],
        vec![0.5],
    );
    // The residual spread over many 8192-wide tiles (vLLM's tiled kernel), with its maximum tied
    // at ids 9000 and 100000 (a tie across tiles: the lowest id).
    let mut sd = vec![0.0f32; big];
    let mut st = vec![0.0f32; big];
    sd[0] = 1.0;
    for (x, w) in [
        (9_000usize, 0.25f32),
        (40_000, 0.125),
        (100_000, 0.25),
        (128_255, 0.125),
    ] {
        st[x] = w;
    }
    st[0] = 0.25;
    add(
        "v128256_tiles",
        "V = 128256: the residual's mass in four 8192-wide tiles, its maximum tied at ids 9000 and 100000 (argmax: the lowest id)",
        vec![sd],
        vec![st.clone(), st],
        vec![0],
        vec![0.5],
    );
    // vLLM's largest draft length: K = 128, rejected at position 100.
    let k128 = 128;
    let mut d128 = Vec::new();
    let mut t128 = Vec::new();
    for i in 0..k128 {
        d128.push(one_hot(v, i % v, 0.5, (i + 1) % v));
        t128.push(one_hot(v, i % v, 0.25, (i + 2) % v));
    }
    t128.push(uniform(v));
    let mut c128 = vec![0.25f32; k128];
    c128[100] = 0.999;
    add(
        "long_chain_k128",
        "K = 128 (vLLM's MAX_SPEC_LEN): q = 0.5, p = 0.25, coins 0.25 but 0.999 at position 100",
        d128,
        t128,
        (0..k128).map(|i| (i % v) as i64).collect(),
        c128,
    );
    // Invalid drafts.
    add(
        "invalid_token_id",
        "a drafted id = V (out of range)",
        vec![row_q.clone()],
        vec![row_p.clone(), uniform(v)],
        vec![v as i64],
        vec![0.1],
    );
    add(
        "invalid_token_id_negative",
        "a drafted id = −1 (vLLM's placeholder)",
        vec![row_q.clone()],
        vec![row_p.clone(), uniform(v)],
        vec![-1],
        vec![0.1],
    );
    let mut zero_q = row_q.clone();
    zero_q[1] = 0.0;
    zero_q[2] = 1.0;
    add(
        "draft_q_zero",
        "the drafted token's draft probability is 0",
        vec![zero_q],
        vec![row_p.clone(), uniform(v)],
        vec![1],
        vec![0.1],
    );
    let mut above = vec![0.0f32; v];
    above[1] = f32::from_bits(1.0f32.to_bits() + 1);
    add(
        "draft_q_above_one",
        "q = 1 + 2^-23, p = 0.5, coin = 0.5 − 2^-25: coin · q > p, but coin · 1 < p (q read as 1, or not read)",
        vec![above],
        vec![one_hot(v, 1, 0.5, 0), uniform(v)],
        vec![1],
        vec![f32::from_bits(0.5f32.to_bits() - 1)],
    );
    // Selection boundaries: a final coin at a cumulative boundary, and a race whose noise
    // reverses the argmax.
    if sem.select == Select::InverseCdf && sem.coins_open_closed {
        add(
            "selection_final_coin_one",
            "the bonus row [0.5, 0.5, 0, 0] with final coin 1: no running sum exceeds u · sum; the last id of positive weight (1, not V − 1)",
            vec![one_hot(v, 3, 1.0, 3)],
            vec![one_hot(v, 3, 1.0, 3), vec![0.5, 0.5, 0.0, 0.0]],
            vec![3],
            vec![0.5],
        );
    }
    let sel_t = vec![0.25f32, 0.25, 0.25, 0.25];
    // q matters: q = 0.2, p = 0.5, coin 0.7 (the token rule accepts: 0.14 < 0.5; a kernel that
    // ignores q, as SGLang's target-only one, rejects: 0.7 > 0.5).
    add(
        "draft_q_read",
        "q = 0.2, p = 0.5, coin 0.7: accepted if q is read, rejected if it is taken as 1",
        vec![one_hot(v, 1, 0.2, 0)],
        vec![one_hot(v, 1, 0.5, 3), uniform(v)],
        vec![1],
        vec![0.7],
    );
    // A zero residual: the target row half the draft row (the kernels do not check sums), the
    // drafted token rejected (coin 0.9: 0.9 · 0.5 > 0.25).
    add(
        "zero_residual",
        "a rejection whose residual max(p − q, 0) is all zero (each engine's fallback)",
        vec![vec![0.5, 0.5, 0.0, 0.0]],
        vec![vec![0.25, 0.25, 0.0, 0.0], uniform(v)],
        vec![0],
        vec![0.9],
    );
    if sem.ignores_q {
        add(
            "zero_residual_target_only",
            "the target row's only mass is on the rejected token: the residual without it is all zero",
            vec![uniform(v)],
            vec![vec![0.5, 0.0, 0.0, 0.0], uniform(v)],
            vec![0],
            vec![0.9],
        );
    }
    if sem.coins_open_closed {
        let mut zq = vec![0.0f32; v];
        zq[0] = 1.0;
        add(
            "coin_one_zero_residual",
            "coin = 1 with p = q (one-hot): rejected, and the residual is all zero",
            vec![zq.clone()],
            vec![zq, uniform(v)],
            vec![0],
            vec![1.0],
        );
    }
    // The peers' own vectors with fixed outputs (docs/reference/compat.md).
    if profile == Profile::Flashinfer {
        add(
            "peer_flashinfer_docstring",
            "flashinfer/sampling.py chain_speculative_sampling's docstring example: [2, 0, -1], accepted 1, emitted 1",
            vec![vec![0.1, 0.2, 0.3, 0.4], vec![0.2, 0.3, 0.4, 0.1]],
            vec![
                vec![0.0, 0.1, 0.6, 0.3],
                vec![1.0, 0.0, 0.0, 0.0],
                vec![0.7, 0.1, 0.1, 0.1],
            ],
            vec![2, 1],
            vec![0.5, 0.5],
        );
    }
    if profile == Profile::Vllm {
        // tests/v1/sample/test_rejection_sampler.py: logits ±100 (one-hot rows), vocab 100.
        let hot = |x: usize| one_hot(100, x, 1.0, x);
        for (name, spec, target) in [
            (
                "peer_vllm_perfect_match",
                vec![1usize, 2, 3],
                vec![1usize, 2, 3, 4],
            ),
            ("peer_vllm_early_mismatch", vec![1, 2, 3], vec![1, 5, 3, 4]),
            ("peer_vllm_single_token", vec![1], vec![1, 2]),
        ] {
            add(
                name,
                "vLLM's test_rejection_sampler vector (one-hot rows): the greedy expectation holds on the random path",
                spec.iter().map(|&x| hot(x)).collect(),
                target.iter().map(|&x| hot(x)).collect(),
                spec.iter().map(|&x| x as i64).collect(),
                vec![0.5; spec.len()],
            );
        }
    }
    if profile == Profile::Transformers {
        // tests/generation/test_utils.py test_speculative_sampling: softmax of the logits.
        let sm = |z: &[f32]| -> Vec<f32> {
            let m = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let e: Vec<f32> = z.iter().map(|&x| (x - m).exp()).collect();
            let s: f32 = e.iter().sum();
            e.iter().map(|&x| x / s).collect()
        };
        let logits = |hot: usize, other: f32| -> Vec<f32> {
            (0..10)
                .map(|x| if x == hot { 10.0 } else { other })
                .collect()
        };
        let cand: Vec<Vec<f32>> = [1usize, 4, 5]
            .iter()
            .map(|&x| sm(&logits(x, -10.0)))
            .collect();
        let mut tgt: Vec<Vec<f32>> = [1usize, 4].iter().map(|&x| sm(&logits(x, -10.0))).collect();
        tgt.push(sm(&logits(8, f32::NEG_INFINITY)));
        tgt.push(sm(&[-10.0; 10]));
        add(
            "peer_transformers_test_speculative_sampling",
            "HF transformers' test_speculative_sampling: n_matches 2, tokens [1, 4, 8]",
            cand,
            tgt,
            vec![1, 4, 5],
            vec![0.5, 0.5, 0.5],
        );
    }
    add(
        "selection_boundary",
        "the bonus row [1/4]·4 with the final coin at a boundary (u · sum = 0.5): the first id whose running sum exceeds it",
        vec![one_hot(v, 3, 1.0, 3)],
        vec![one_hot(v, 3, 1.0, 3), sel_t],
        vec![3],
        vec![0.5],
    );

    let mut out = Vec::new();
    for d in ds {
        let k = d.tokens.len();
        let v = d.target[0].len();
        let draft: Vec<f32> = d.draft.concat();
        let target: Vec<f32> = d.target.concat();
        let final_coin = (sem.select == Select::InverseCdf).then_some(match d.class {
            "selection_boundary" => 0.5,
            "selection_final_coin_one" => 1.0,
            _ => 0.37,
        });
        let exp_noise = (sem.select == Select::ExpRace).then(|| {
            (0..v)
                .map(|x| match d.class {
                    // The noise decides: id 2 has the smaller E (a kernel that ignores the noise
                    // picks id 0).
                    "race_uses_noise" if x == 2 => 0.5f32,
                    // A real tie of the race: equal E at the tied ids 0 and 2.
                    "residual_tie" | "bonus_tie" if x == 0 || x == 2 => 1.0f32,
                    _ => 1.0 + (x % 3) as f32 * 0.25,
                })
                .collect::<Vec<f32>>()
        });
        let round = ChainRound {
            draft: &draft,
            target: &target,
            tokens: &d.tokens,
            coins: &d.coins,
            final_coin,
            exp_noise: exp_noise.as_deref(),
        };
        // A case the profile refuses (an invalid draft where it refuses them) is not a vector.
        let Ok(expected) = decide_chain(&round, profile) else {
            continue;
        };
        out.push(Case {
            class: d.class,
            what: d.what,
            k,
            v,
            draft_probs: draft,
            target_probs: target,
            draft_tokens: d.tokens,
            random_coins: d.coins,
            final_coins: final_coin,
            exp_noise,
            expected,
        });
    }
    Ok(out)
}

/// The comparison a profile uses, in words (for indexes and tables).
pub fn comparison(p: Profile) -> &'static str {
    match p {
        Profile::Specsim => "coin * q < p (exact)",
        Profile::Vllm => "coin <= p / q (as coin * q <= p, exact); q = 0 rejects",
        Profile::Sglang => "coin < p (q is not read; SGLang since PR #35798, coin <= p before)",
        Profile::Flashinfer => "coin * q < p (the product rounded to f32); q = 0 accepts iff p > 0",
        Profile::Transformers => "coin <= p / q (as coin * q <= p, exact); q = 0 accepts iff p > 0",
    }
}
