//! Compatibility profiles (SPEC §14): `specsim::compat::decide_chain` against an independent
//! numpy implementation (tests/data/make_compat_golden.py), each profile's distinctive cases, the
//! peers' own vectors, and the `conform` and `round --compat` commands.

use crate::common;
use crate::common::f32s;
use serde_json::Value;
use specsim::compat::{ChainRound, Profile, decide_chain, golden};

#[test]
fn profiles_equal_the_numpy_implementation() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/golden_compat.json"
    ))
    .unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    let cases = doc["cases"].as_array().unwrap();
    assert!(cases.len() >= 1000);
    let (mut decided, mut refused) = (0, 0);
    for (n, c) in cases.iter().enumerate() {
        let profile: Profile = c["profile"].as_str().unwrap().parse().unwrap();
        let (d, t) = (f32s(&c["draft"]), f32s(&c["target"]));
        let tokens: Vec<i64> = serde_json::from_value(c["tokens"].clone()).unwrap();
        let coins = f32s(&c["coins"]);
        let noise = c["exp_noise"].as_array().map(|_| f32s(&c["exp_noise"]));
        let round = ChainRound {
            draft: &d,
            target: &t,
            tokens: &tokens,
            coins: &coins,
            final_coin: c["final_coin"].as_f64().map(|u| u as f32),
            exp_noise: noise.as_deref(),
        };
        let got = decide_chain(&round, profile);
        let want = &c["expected"];
        if want.get("refused").is_some() {
            assert!(
                got.is_err(),
                "case {n} ({profile}): numpy refuses ({}), got {got:?}",
                want["refused"]
            );
            refused += 1;
            continue;
        }
        let got = got.unwrap_or_else(|e| panic!("case {n} ({profile}): refused: {e}"));
        let tokens: Vec<i32> = serde_json::from_value(want["tokens"].clone()).unwrap();
        assert_eq!(got.tokens, tokens, "case {n} ({profile})");
        assert_eq!(
            got.num_accepted as u64,
            want["num_accepted"].as_u64().unwrap(),
            "case {n}"
        );
        assert_eq!(
            got.num_passed as u64,
            want["num_passed"].as_u64().unwrap(),
            "case {n}"
        );
        decided += 1;
    }
    assert!(
        decided > 800 && refused > 100,
        "{decided} decided, {refused} refused"
    );
}

/// The case of `class` in a profile's golden set.
fn case(profile: Profile, class: &str) -> golden::Case {
    golden::cases(profile)
        .unwrap()
        .into_iter()
        .find(|c| c.class == class)
        .unwrap_or_else(|| panic!("{profile} has no {class}"))
}

#[test]
fn each_profile_decides_its_distinctive_cases() {
    use Profile::*;
    // vLLM and transformers (u <= p / q) accept at equality; specsim, FlashInfer and SGLang
    // (u < p since its PR #35798) do not.
    for (p, accepted) in [
        (Specsim, 0),
        (Vllm, 1),
        (Sglang, 0),
        (Flashinfer, 0),
        (Transformers, 1),
    ] {
        assert_eq!(
            case(p, "coin_at_threshold").expected.num_accepted,
            accepted,
            "{p}"
        );
    }
    // Coin 0 and p = 0: `<=` accepts a token the target gives probability 0.
    assert_eq!(case(Vllm, "coin_zero_p_zero").expected.num_accepted, 1);
    assert_eq!(case(Specsim, "coin_zero_p_zero").expected.num_accepted, 0);
    // FlashInfer's coins are (0, 1]: coin 1 rejects p = q, and the all-zero residual gives V − 1.
    let c = case(Flashinfer, "coin_one_zero_residual");
    assert_eq!((c.expected.num_accepted, c.expected.tokens[0]), (0, 3));
    assert!(
        golden::cases(Specsim)
            .unwrap()
            .iter()
            .all(|c| !c.class.starts_with("coin_one"))
    );
    // SGLang's target-only kernel ignores q: q = 0.2, p = 0.5, coin 0.7 is rejected there only.
    assert_eq!(case(Sglang, "draft_q_read").expected.num_accepted, 0);
    assert_eq!(case(Specsim, "draft_q_read").expected.num_accepted, 1);
    // An invalid id: vLLM rejects the draft; the others refuse the round (no such case).
    assert_eq!(case(Vllm, "invalid_token_id").expected.num_accepted, 0);
    assert!(
        golden::cases(Specsim)
            .unwrap()
            .iter()
            .all(|c| c.class != "invalid_token_id")
    );
    // FlashInfer also counts the positions that pass their own coin after the first rejection.
    let c = case(Flashinfer, "long_chain_late_rejection");
    assert_eq!((c.expected.num_accepted, c.expected.num_passed), (13, 15));
    // The all-zero residual: specsim's target argmax, vLLM's token 0, SGLang's V − 1.
    assert_eq!(case(Specsim, "zero_residual").expected.tokens[0], 0);
    assert_eq!(case(Vllm, "zero_residual").expected.tokens[0], 0);
    assert_eq!(
        case(Sglang, "zero_residual_target_only").expected.tokens[0],
        3
    );
    // The race reads its noise; a tie of the race goes to the lowest id.
    assert_eq!(case(Vllm, "race_uses_noise").expected.tokens[0], 2);
    assert_eq!(case(Transformers, "residual_tie").expected.tokens[0], 0);
    // A tie across vLLM's 8192-wide tiles goes to the lowest id; K = 128 is rejected at 100.
    assert_eq!(case(Specsim, "v128256_tiles").expected.tokens[0], 9000);
    assert_eq!(case(Vllm, "long_chain_k128").expected.num_accepted, 100);
    // vLLM's placeholder id -1 is rejected.
    assert_eq!(
        case(Vllm, "invalid_token_id_negative")
            .expected
            .num_accepted,
        0
    );
    // q just above 1: the exact product rejects, q not read (SGLang) accepts.
    assert_eq!(case(Sglang, "draft_q_above_one").expected.num_accepted, 1);
    assert_eq!(case(Vllm, "draft_q_above_one").expected.num_accepted, 0);
    // Inverse CDF with u = 1: no running sum exceeds u · sum; the last id of positive weight.
    assert_eq!(
        case(Flashinfer, "selection_final_coin_one").expected.tokens[1],
        1
    );
    assert!(
        golden::cases(Transformers)
            .unwrap()
            .iter()
            .all(|c| c.class != "zero_residual")
    );
}

#[test]
fn the_peers_own_vectors_pass_under_their_profiles() {
    // flashinfer/sampling.py chain_speculative_sampling's docstring.
    let c = case(Profile::Flashinfer, "peer_flashinfer_docstring");
    assert_eq!(c.expected.tokens, vec![2, 0, -1]);
    assert_eq!((c.expected.num_accepted, c.expected.num_passed), (1, 1));
    // vLLM tests/v1/sample/test_rejection_sampler.py.
    assert_eq!(
        case(Profile::Vllm, "peer_vllm_perfect_match")
            .expected
            .tokens,
        vec![1, 2, 3, 4]
    );
    assert_eq!(
        case(Profile::Vllm, "peer_vllm_early_mismatch")
            .expected
            .tokens,
        vec![1, 5, -1, -1]
    );
    assert_eq!(
        case(Profile::Vllm, "peer_vllm_single_token")
            .expected
            .tokens,
        vec![1, 2]
    );
    // HF transformers tests/generation/test_utils.py test_speculative_sampling.
    let c = case(
        Profile::Transformers,
        "peer_transformers_test_speculative_sampling",
    );
    assert_eq!(
        (c.expected.num_accepted, &c.expected.tokens[..3]),
        (2, &[1, 4, 8][..])
    );
}

#[test]
fn conform_writes_every_profile_and_round_takes_compat() {
    let dir = tempfile::tempdir().unwrap();
    let out = common::specsim(&["conform", "--out", dir.path().to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    for p in ["specsim", "vllm", "sglang", "flashinfer", "transformers"] {
        let index: Value = serde_json::from_str(
            &std::fs::read_to_string(dir.path().join(p).join("index.json")).unwrap(),
        )
        .unwrap();
        let cases = index["cases"].as_array().unwrap();
        assert!(cases.len() >= 13, "{p}");
        for c in cases {
            let f = dir.path().join(p).join(c["file"].as_str().unwrap());
            let batch =
                specsim::npyio::BatchFile::open(&f).unwrap_or_else(|e| panic!("{f:?}: {e}"));
            assert_eq!(batch.view().unwrap().n, 1);
        }
    }
    let bad = common::specsim(&[
        "conform",
        "--rule",
        "rrs",
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert_ne!(bad.code, 0);
    assert!(bad.stderr.contains("token"), "{}", bad.stderr);
    // `round --compat`: the threshold case accepted by vllm, rejected by specsim.
    let round = r#"{"draft_probs": [[0.0, 0.5, 0.5, 0.0]], "target_probs": [[0.0, 0.25, 0.0, 0.75], [0.25, 0.25, 0.25, 0.25]], "draft_tokens": [1], "random_coins": [0.5]}"#;
    let v = common::specsim_stdin(&["round", "--compat", "vllm"], Some(round));
    assert_eq!(v.code, 0, "{}", v.stderr);
    assert!(
        v.stdout.contains(r#""accepted_tokens":[1,0]"#),
        "{}",
        v.stdout
    );
    let s = common::specsim_stdin(&["round", "--compat", "specsim"], Some(round));
    assert!(
        s.stdout.contains(r#""accepted_tokens":[3]"#),
        "{}",
        s.stdout
    );
    let e = common::specsim_stdin(&["round", "--compat", "nvidia"], Some(round));
    assert_ne!(e.code, 0);
    assert!(e.stderr.contains("not a profile"), "{}", e.stderr);
}

/// FlashInfer's test is its float product `u * q < p` (rounded), not the exact one; its
/// caller-coin API draws the correction with the next position's coin.
#[test]
fn flashinfer_rounds_its_product_and_takes_the_next_coin() {
    // A product just below p that rounds to p in f32 (the reviewer's case).
    let (q, p, u) = (0.950_463_7_f32, 0.486_467_9_f32, 0.511_821_6_f32);
    assert!((u as f64) * (q as f64) < p as f64 && u * q >= p);
    let d = [q, 1.0 - q];
    let t = [p, 1.0 - p, 0.5, 0.5];
    let one = |profile| {
        let r = ChainRound {
            draft: &d,
            target: &t,
            tokens: &[0],
            coins: &[u],
            final_coin: None,
            exp_noise: None,
        };
        decide_chain(&r, profile).unwrap().num_accepted
    };
    assert_eq!((one(Profile::Flashinfer), one(Profile::Specsim)), (0, 1));
    // Rejected at position 0 of 2: the correction's coin is coins[1] = 0.75, not the final 0.25.
    let d = [0.5f32, 0.5, 0.0, 0.0, 0.25, 0.25, 0.25, 0.25];
    let t = [
        0.125f32, 0.375, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25,
    ];
    let r = ChainRound {
        draft: &d,
        target: &t,
        tokens: &[0, 1],
        coins: &[0.9, 0.75],
        final_coin: Some(0.25),
        exp_noise: None,
    };
    // Residual [0, 0, 0.25, 0.25] (id 0: 0.125 < 0.5): u = 0.75 gives id 3 (0.25 would give 2).
    assert_eq!(
        decide_chain(&r, Profile::Flashinfer).unwrap().tokens,
        vec![3, -1, -1]
    );
}

/// `run --compat P`: a batch file with the profile's extra input, decided round by round as
/// `decide_chain` decides it; `num_passed` in the result; refusals name the round.
#[test]
fn run_takes_a_profile_on_a_batch_file() {
    use rand::{Rng, SeedableRng, rngs::StdRng};
    use specsim::npyio::{NpzValues, write_npz};
    let (n, k, v) = (200usize, 3usize, 6usize);
    let mut rng = StdRng::seed_from_u64(4);
    let row = |rng: &mut StdRng| -> Vec<f32> {
        let w: Vec<f32> = (0..v).map(|_| rng.random_range(0..4) as f32).collect();
        let s: f32 = w.iter().sum::<f32>().max(1.0);
        let mut w: Vec<f32> = w.iter().map(|x| x / s).collect();
        if w.iter().all(|&x| x == 0.0) {
            w[0] = 1.0;
        }
        w
    };
    let mut d = Vec::new();
    let mut t = Vec::new();
    let mut tok = Vec::new();
    for _ in 0..n {
        for _ in 0..k {
            let r = row(&mut rng);
            tok.push(r.iter().position(|&x| x > 0.0).unwrap() as i64);
            d.extend(r);
        }
        for _ in 0..=k {
            t.extend(row(&mut rng));
        }
    }
    let coins: Vec<f32> = (0..n * k)
        .map(|_| rng.random_range(0..4) as f32 * 0.25)
        .collect();
    let noise: Vec<f32> = (0..n * v)
        .map(|_| 0.5 + rng.random_range(0..4) as f32 * 0.5)
        .collect();
    tok[7] = -1; // vLLM rejects the placeholder
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b.npz");
    let (n64, k64, v64) = (n as u64, k as u64, v as u64);
    write_npz(
        &path,
        &[
            ("draft_probs", vec![n64, k64, v64], NpzValues::F32(&d)),
            ("target_probs", vec![n64, k64 + 1, v64], NpzValues::F32(&t)),
            ("draft_tokens", vec![n64, k64], NpzValues::I64(&tok)),
            ("random_coins", vec![n64, k64], NpzValues::F32(&coins)),
            ("exp_noise", vec![n64, v64], NpzValues::F32(&noise)),
        ],
    )
    .unwrap();
    let out = dir.path().join("r.npz");
    let r = common::specsim(&[
        "run",
        path.to_str().unwrap(),
        "--compat",
        "vllm",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let res = specsim::npyio::BatchFile::open(&out).err(); // not a batch: read the members below
    assert!(res.is_some());
    let bytes = std::fs::read(&out).unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let read = |zip: &mut zip::ZipArchive<std::io::Cursor<Vec<u8>>>, name: &str| -> Vec<i32> {
        let mut f = zip.by_name(&format!("{name}.npy")).unwrap();
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut f, &mut buf).unwrap();
        let a = specsim::npyio::NpyArray::from_bytes(&buf, name).unwrap();
        a.bytes()
            .chunks(4)
            .map(|c| i32::from_le_bytes(c.try_into().unwrap()))
            .collect()
    };
    let (tokens, acc) = (read(&mut zip, "tokens"), read(&mut zip, "num_accepted"));
    let passed = read(&mut zip, "num_passed");
    assert_eq!(passed, acc);
    for rr in 0..n {
        let want = decide_chain(
            &ChainRound {
                draft: &d[rr * k * v..(rr + 1) * k * v],
                target: &t[rr * (k + 1) * v..(rr + 1) * (k + 1) * v],
                tokens: &tok[rr * k..(rr + 1) * k],
                coins: &coins[rr * k..(rr + 1) * k],
                final_coin: None,
                exp_noise: Some(&noise[rr * v..(rr + 1) * v]),
            },
            Profile::Vllm,
        )
        .unwrap();
        assert_eq!(
            tokens[rr * (k + 1)..(rr + 1) * (k + 1)],
            want.tokens[..],
            "round {rr}"
        );
        assert_eq!(acc[rr] as u32, want.num_accepted);
    }
    assert!(
        acc[2] <= 1,
        "round 2's placeholder id at position 1 is rejected"
    );
    // transformers (a race, so the noise is its input) refuses the placeholder, naming round
    // 2; a profile without a race refuses the noise.
    let e = common::specsim(&[
        "run",
        path.to_str().unwrap(),
        "--compat",
        "transformers",
        "--quiet",
    ]);
    assert_ne!(e.code, 0);
    assert!(
        e.stderr.contains("round 2") && e.stderr.contains("-1"),
        "{}",
        e.stderr
    );
    let e = common::specsim(&[
        "run",
        path.to_str().unwrap(),
        "--compat",
        "sglang",
        "--quiet",
    ]);
    assert!(e.stderr.contains("exp_noise"), "{}", e.stderr);
    // No tree profile samples by the race: a tree rule's profile refuses `exp_noise`.
    let e = common::specsim(&[
        "run",
        path.to_str().unwrap(),
        "--compat",
        "sglang",
        "--rule",
        "target-only",
        "--engine",
        "cpu",
    ]);
    common::assert_refused(
        &e,
        "tree profile with exp_noise",
        &["exp_noise: no tree profile samples by exponential race"],
    );
}
