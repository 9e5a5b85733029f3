//! The compatibility profiles on every engine (SPEC §14): `Engine::compat_chain` equals the
//! reference (`specsim::compat::decide_batch`) on adversarial batches of every profile, with and
//! without the profile's extra inputs (subnormal values, coins at the thresholds, zero
//! residuals, ties, invalid ids, rows past the GPU's loop budget), and refuses as it does.

use crate::common;
use rand::{Rng, SeedableRng, rngs::StdRng};
use specsim::compat::{ChainBatch, PROFILES, Profile, check_chain, decide_batch};

/// A value of an adversarial row: dyadic, tied, subnormal, zero, one f32 step off, above 1
/// (a draft probability some profiles take as given) or huge (a row sum that overflows).
fn value(rng: &mut StdRng) -> f32 {
    match rng.random_range(0..40) {
        9 => return 1.5,
        10 => return 3e38,
        11.. => return [0.0, 0.125, 0.25, 0.5][rng.random_range(0..4)],
        _ => {}
    }
    match rng.random_range(0..9) {
        0 | 1 => 0.0,
        2 => 1e-40,                       // subnormal
        3 => f32::from_bits(0x0000_0003), // the smallest subnormals
        4 => 0.1,
        5 => f32::from_bits(0.25f32.to_bits() + 1),
        _ => [0.125, 0.25, 0.5, 0.375][rng.random_range(0..4)],
    }
}

/// `rounds` adversarial rounds of `profile` that it accepts (the refused are drawn again).
fn adversarial(
    rng: &mut StdRng,
    profile: Profile,
    rounds: usize,
    k: usize,
    v: usize,
) -> ChainBatch {
    let extras = rng.random_range(0..4) != 0;
    let mut b = ChainBatch {
        n: 0,
        k,
        v,
        draft: vec![],
        target: vec![],
        tokens: vec![],
        coins: vec![],
        final_coins: (extras && profile.extra() == Some("final_coins")).then(Vec::new),
        exp_noise: (extras && profile.extra() == Some("exp_noise")).then(Vec::new),
    };
    let coin_set: [f32; 7] = [0.0, 0.125, 0.25, 0.5, 1e-40, 0.999_999_94, 1.0];
    while b.n < rounds {
        let d: Vec<f32> = (0..k * v).map(|_| value(rng)).collect();
        let t: Vec<f32> = (0..(k + 1) * v).map(|_| value(rng)).collect();
        let tok: Vec<i64> = (0..k)
            .map(|i| match rng.random_range(0..12) {
                0 => -1,
                1 => v as i64,
                // A token the draft gives mass, where there is one.
                _ => (0..v)
                    .find(|&x| d[i * v + (x + i) % v] > 0.0)
                    .map_or(0, |x| ((x + i) % v) as i64),
            })
            .collect();
        let mut c: Vec<f32> = (0..k)
            .map(|_| coin_set[rng.random_range(0..coin_set.len())])
            .collect();
        // A coin exactly at p / q where that is an f32 (the threshold).
        let i = rng.random_range(0..k);
        if let Ok(x) = usize::try_from(tok[i])
            && x < v
            && d[i * v + x] > 0.0
        {
            let r = t[i * v + x] as f64 / d[i * v + x] as f64;
            if r < 1.0 && (r as f32) as f64 == r {
                c[i] = r as f32;
            }
        }
        let fc = [0.0f32, 0.37, 0.5, 1.0, 1e-40][rng.random_range(0..5)];
        let noise: Vec<f32> = (0..v)
            .map(|_| [1.0f32, 0.5, 2.0, 1e-40][rng.random_range(0..4)])
            .collect();
        let round = specsim::compat::ChainRound {
            draft: &d,
            target: &t,
            tokens: &tok,
            coins: &c,
            final_coin: b.final_coins.as_ref().map(|_| fc),
            exp_noise: b.exp_noise.as_ref().map(|_| &noise[..]),
        };
        // Refused rounds are drawn again (a refused round refuses the batch: tested apart);
        // so is a round the profile refuses only when it decides (HF's all-zero row).
        if check_chain(&round, profile).is_err()
            || specsim::compat::decide_chain(&round, profile).is_err()
        {
            continue;
        }
        b.draft.extend(&d);
        b.target.extend(&t);
        b.tokens.extend(&tok);
        b.coins.extend(&c);
        if let Some(f) = &mut b.final_coins {
            f.push(fc);
        }
        if let Some(e) = &mut b.exp_noise {
            e.extend(&noise);
        }
        b.n += 1;
    }
    b
}

macro_rules! compat_engine_tests {
    ($engine:ident, $with:expr) => {
        mod $engine {
            use super::*;

            #[test]
            fn every_profile_equals_the_reference() {
                common::with_engine($with, |e| {
                    let mut rng = StdRng::seed_from_u64(14);
                    for profile in PROFILES {
                        for (k, v) in [(1, 1), (1, 3), (3, 4), (5, 9), (2, 300)] {
                            for _ in 0..3 {
                                let b = adversarial(&mut rng, profile, 60, k, v);
                                let want = decide_batch(&b.batch(), profile).unwrap();
                                let got = e.compat_chain(&b.batch(), profile).unwrap();
                                assert_eq!(
                                    got,
                                    want,
                                    "{} {profile} K = {k}, V = {v}",
                                    e.describe()
                                );
                            }
                        }
                    }
                    let _ = e.notices();
                });
            }

            #[test]
            fn rows_past_the_loop_budget_are_finished_by_the_twin() {
                common::with_engine($with, |e| {
                    // Inverse CDF over V = 40000 runs 2V iterations in one invocation: past
                    // lavapipe's budget, so the GPU leaves the rounds to the reference.
                    let mut rng = StdRng::seed_from_u64(15);
                    for profile in [Profile::Sglang, Profile::Flashinfer, Profile::Vllm] {
                        let mut b = adversarial(&mut rng, profile, 3, 2, 40_000);
                        b.final_coins = (profile.extra() == Some("final_coins")).then(|| vec![0.5; 3]);
                        b.exp_noise =
                            (profile.extra() == Some("exp_noise")).then(|| vec![1.5; 3 * 40_000]);
                        let want = decide_batch(&b.batch(), profile).unwrap();
                        assert_eq!(
                            e.compat_chain(&b.batch(), profile).unwrap(),
                            want,
                            "{profile}"
                        );
                    }
                    let _ = e.notices();
                });
            }

            #[test]
            fn refusals_name_the_lowest_round() {
                common::with_engine($with, |e| {
                    let mut rng = StdRng::seed_from_u64(16);
                    let mut b = adversarial(&mut rng, Profile::Specsim, 8, 2, 4);
                    b.coins[5 * 2 + 1] = 1.0;
                    b.coins[6 * 2] = -0.5;
                    let want = decide_batch(&b.batch(), Profile::Specsim)
                        .unwrap_err()
                        .to_string();
                    let got = e
                        .compat_chain(&b.batch(), Profile::Specsim)
                        .unwrap_err()
                        .to_string();
                    assert_eq!(got, want);
                    assert!(
                        got.contains("round 5") && got.contains("random_coins[1] = 1"),
                        "{got}"
                    );
                    // HF's all-zero row is refused where it is decided.
                    let mut h = adversarial(&mut rng, Profile::Transformers, 4, 1, 3);
                    h.target[2 * 2 * 3..3 * 2 * 3].fill(0.0);
                    h.draft[2 * 3..3 * 3].fill(0.0);
                    h.draft[2 * 3] = 0.5;
                    h.tokens[2] = 0;
                    h.coins[2] = 0.5;
                    let want = decide_batch(&h.batch(), Profile::Transformers)
                        .unwrap_err()
                        .to_string();
                    let got = e
                        .compat_chain(&h.batch(), Profile::Transformers)
                        .unwrap_err()
                        .to_string();
                    assert_eq!(got, want);
                    assert!(got.contains("round 2") && got.contains("all zero"), "{got}");
                    // A round refused when decided comes before a later round the checks refuse.
                    h.coins[3] = 1.0;
                    let want = decide_batch(&h.batch(), Profile::Transformers)
                        .unwrap_err()
                        .to_string();
                    let got = e
                        .compat_chain(&h.batch(), Profile::Transformers)
                        .unwrap_err()
                        .to_string();
                    assert_eq!(got, want);
                    assert!(got.contains("round 2"), "{got}");
                });
            }
        }
    };
}

crate::for_each_engine!(compat_engine_tests);

/// Writes a chain batch (with its profile's extra input) as an `.npz`.
fn write_batch(path: &std::path::Path, b: &ChainBatch) {
    use specsim::npyio::{NpzValues, write_npz};
    let (n, k, v) = (b.n as u64, b.k as u64, b.v as u64);
    let mut arrays = vec![
        ("draft_probs", vec![n, k, v], NpzValues::F32(&b.draft)),
        ("target_probs", vec![n, k + 1, v], NpzValues::F32(&b.target)),
        ("draft_tokens", vec![n, k], NpzValues::I64(&b.tokens)),
        ("random_coins", vec![n, k], NpzValues::F32(&b.coins)),
    ];
    if let Some(f) = &b.final_coins {
        arrays.push(("final_coins", vec![n], NpzValues::F32(f)));
    }
    if let Some(e) = &b.exp_noise {
        arrays.push(("exp_noise", vec![n, v], NpzValues::F32(e)));
    }
    write_npz(path, &arrays).unwrap();
}

#[test]
fn verify_and_run_take_a_profile_on_both_engines() {
    let gpu = common::gpu().is_some();
    let dir = tempfile::tempdir().unwrap();
    let mut rng = StdRng::seed_from_u64(17);
    for profile in PROFILES {
        let mut b = adversarial(&mut rng, profile, 200, 4, 6);
        if b.final_coins.is_none() && profile.extra() == Some("final_coins") {
            b.final_coins = Some(vec![0.37; 200]);
        }
        let path = dir.path().join(format!("{profile}.npz"));
        write_batch(&path, &b);
        let p = path.to_str().unwrap();
        let o = common::specsim(&["verify", p, "--compat", profile.name(), "--json", "--quiet"]);
        assert_eq!(o.code, 0, "{profile}: {}", o.stderr);
        let r: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
        assert_eq!(r["compat"], profile.name());
        assert_eq!(r["rounds"], 200);
        assert_eq!(r["engine_mismatches"].as_array().unwrap().len(), 0);
        if gpu {
            assert_eq!(r["engines"], serde_json::json!(["cpu", "gpu"]), "{profile}");
            let outs: Vec<Vec<u8>> = ["cpu", "gpu"]
                .iter()
                .map(|e| {
                    let out = dir.path().join(format!("{profile}-{e}.npz"));
                    let o = common::specsim(&[
                        "run",
                        p,
                        "--compat",
                        profile.name(),
                        "--engine",
                        e,
                        "--out",
                        out.to_str().unwrap(),
                        "--quiet",
                    ]);
                    assert_eq!(o.code, 0, "{profile} {e}: {}", o.stderr);
                    assert!(
                        o.stdout
                            .contains(if *e == "gpu" { "(gpu: " } else { "(cpu)" }),
                        "{}",
                        o.stdout
                    );
                    std::fs::read(&out).unwrap()
                })
                .collect();
            assert_eq!(outs[0], outs[1], "{profile}: run --engine cpu and gpu");
        }
    }
    let path = dir.path().join("specsim.npz");
    let o = common::specsim(&[
        "verify",
        path.to_str().unwrap(),
        "--compat",
        "vllm",
        "--rule",
        "target-only",
    ]);
    common::assert_refused(
        &o,
        "verify --compat vllm target-only",
        &["the vllm profile decides token, greedy"],
    );
    let o = common::specsim(&["verify", "--generate", "10", "--compat", "vllm"]);
    common::assert_refused(&o, "verify --compat --generate", &["give BATCH"]);
}
