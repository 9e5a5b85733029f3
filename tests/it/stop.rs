//! Stopping policies in studies (SPEC §11, `--stop`): on both engines, every policy's simulated
//! values against its exact values on the same rounds, every exact rate under the Bellman
//! bound's upper end, the engines' features equal on the same rows, and losslessness with a
//! policy deciding on the drafted tokens (chi-square).

use crate::common;
use rand::{Rng, SeedableRng, rngs::StdRng};
use specsim::Rule;
use specsim::batch::Batch;
use specsim::cost::Costs;
use specsim::cpu::{CpuEngine, Recovery, RecoveryMode};
use specsim::engine::Engine;
use specsim::reference::adaptive::Policy;
use specsim::study::options::StudyOptions;
use specsim::study::row::StudyRow;
use specsim::study::run::run_plan;
use specsim::study::stop::{EXACT_ROUNDS, drafted};
use statrs::distribution::{ChiSquared, ContinuousCDF};

const POLICIES: &str = "fixed:3,hf:0.3,top1:0.4,entropy:0.4:0.1,specdecpp:0.5,oracle:0.5,bellman";

fn options(vocab: usize, rounds: u64) -> StudyOptions {
    StudyOptions {
        k: Some(vec![2, 3, 5]),
        sigma_dist: vec!["uniform:0.2:2.5".parse().unwrap()],
        vocab: Some(vocab),
        rounds: Some(rounds),
        seed: Some(11),
        stop: POLICIES.split(',').map(|p| p.parse().unwrap()).collect(),
        ..StudyOptions::default()
    }
}

fn rows(opts: &StudyOptions, engine: &mut dyn Engine) -> Vec<StudyRow> {
    let mut plan = opts.plan().unwrap();
    plan.set_stop_costs(&Costs::ratios(&[0.2]));
    run_plan(plan, engine, &mut |_| {}).unwrap().rows()
}

/// On the rounds the exact values are computed on, every policy's mean generated is within its
/// 99% interval of the exact value (or bracket); every exact rate is at most the Bellman bound's
/// upper end; `fixed:3` is the token rule at K = 3; on both engines.
fn check_rows(rows: &[StudyRow], what: &str) {
    let stops: Vec<&StudyRow> = rows.iter().filter(|r| r.stop.is_some()).collect();
    assert_eq!(stops.len(), 7, "{what}");
    let token3 = rows
        .iter()
        .find(|r| r.stop.is_none() && r.k == Some(3))
        .unwrap();
    for r in &stops {
        let s = r.stop.as_ref().unwrap();
        assert_eq!(r.rounds, EXACT_ROUNDS, "{what}");
        assert_eq!(
            r.within_ci99,
            Some(true),
            "{what} {}: {r:?}",
            s.tally.policy
        );
        assert_eq!(r.k, Some(5));
        let (lo, hi) = s.bellman_rate.unwrap();
        assert!(lo <= hi && hi < lo * 1.05, "{what}: bound [{lo}, {hi}]");
        let e = &s.exact;
        assert!(
            e.rate_high.unwrap() <= hi * (1.0 + 1e-12),
            "{what} {}: {e:?} above {hi}",
            s.tally.policy
        );
        assert!(e.generated_low <= e.generated_high);
        let exact_policy = !matches!(s.tally.policy, Policy::SpecDecPp(_) | Policy::Bellman);
        assert_eq!(e.exact, exact_policy, "{what} {}", s.tally.policy);
        let d = s.tally.mean_drafted();
        assert!((1.0..=5.0).contains(&d), "{what}");
        if s.tally.policy == Policy::Fixed(3) {
            assert_eq!(r.mean_generated, token3.mean_generated, "{what}");
            let (a, b) = (e.generated_low, token3.exact_mean_generated.unwrap());
            assert!(
                (a - b).abs() < 1e-5 * b,
                "{what}: fixed:3 exact {a} vs token K = 3 {b}"
            );
            assert_eq!(d, 3.0);
        }
    }
    // The policies differ (not vacuous): their mean D are not all equal.
    let ds: Vec<f64> = stops
        .iter()
        .map(|r| r.stop.as_ref().unwrap().tally.mean_drafted())
        .collect();
    assert!(
        ds.iter().any(|&d| (d - ds[0]).abs() > 0.1),
        "{what}: {ds:?}"
    );
}

#[test]
fn stop_rows_match_their_exact_values_on_both_engines() {
    let opts = options(96, EXACT_ROUNDS);
    let cpu = rows(&opts, &mut CpuEngine::default());
    check_rows(&cpu, "cpu");
    if let Some(mut gpu) = common::gpu() {
        gpu.config = Default::default();
        check_rows(&rows(&opts, &mut *gpu), "gpu");
    }
}

/// The device's features are the CPU twin's on the device's own rows: `q(x)`, `p(x)` and `max q`
/// bit for bit, the entropy within f32 rounding (each device's logarithm).
#[test]
fn gpu_features_are_the_twins_on_the_same_rows() {
    let Some(mut gpu) = common::gpu() else { return };
    gpu.config = Default::default();
    let opts = options(300, 64);
    let specsim::study::options::Plan::Chain(cfgs) = opts.plan().unwrap() else {
        panic!("a chain plan")
    };
    let cfg = &cfgs[0];
    let out = gpu
        .study_chunk(&specsim::workload::StudyRequest {
            generation: cfg.generation(),
            r0: 0,
            m: 64,
            k_max: 5,
            per_k: &[],
            keep_rows: true,
            stop_features: true,
        })
        .unwrap();
    let rows = out.rows.unwrap();
    let twin = specsim::cpu::generate::batch_stop_features(&rows);
    assert_eq!(out.features.len(), twin.len());
    for (i, (g, c)) in out.features.iter().zip(&twin).enumerate() {
        if i % 4 == 3 {
            assert!(
                (g - c).abs() <= 1e-5 * c.abs().max(1.0),
                "entropy {i}: {g} vs {c}"
            );
        } else {
            assert_eq!(g.to_bits(), c.to_bits(), "feature {i}");
        }
    }
    assert!(twin.iter().any(|&x| x > 0.0));
}

/// With a policy that decides on the drafted tokens (`hf`, `oracle`, `specdecpp`), verifying D
/// drafts with the token rule in `sample` mode emits a stream of tokens distributed as the
/// target: every target row is p, so the stream is i.i.d. p; its unigrams and bigrams fit p and
/// p × p (chi-square), on both engines.
#[test]
fn a_policy_keeps_sampling_lossless() {
    let p = [0.30f32, 0.05, 0.25, 0.10, 0.20, 0.10];
    let qs = [
        [0.10f32, 0.40, 0.05, 0.25, 0.15, 0.05],
        [0.35f32, 0.05, 0.30, 0.05, 0.20, 0.05],
        [0.05f32, 0.05, 0.50, 0.10, 0.10, 0.20],
    ];
    let (v, k, n) = (6usize, 3usize, 30_000usize);
    let mut rng = StdRng::seed_from_u64(9);
    let draw = |rng: &mut StdRng, q: &[f32]| -> u32 {
        let u: f32 = rng.random();
        let mut acc = 0.0;
        q.iter()
            .position(|&x| {
                acc += x;
                u < acc
            })
            .unwrap_or(v - 1) as u32
    };
    for policy in ["hf:0.2", "oracle:0.6", "specdecpp:0.5"] {
        let policy: Policy = policy.parse().unwrap();
        // Rounds grouped by their D (a batch of K = D each), kept in round order.
        let mut by_d: Vec<Batch> = (1..=k)
            .map(|d| Batch {
                k: d,
                v,
                ..Default::default()
            })
            .collect();
        let mut order = Vec::new();
        for _ in 0..n {
            let toks: Vec<u32> = qs.iter().map(|q| draw(&mut rng, q)).collect();
            let coins: Vec<f32> = (0..k).map(|_| rng.random()).collect();
            let feats: Vec<f32> = (0..k)
                .flat_map(|i| {
                    let x = toks[i] as usize;
                    [qs[i][x], p[x], 0.5, 1.0]
                })
                .collect();
            let d = drafted(policy, k, &feats, &[]);
            let b = &mut by_d[d - 1];
            order.push((d, b.n));
            b.n += 1;
            for q in &qs[..d] {
                b.draft.extend_from_slice(q);
            }
            for _ in 0..=d {
                b.target.extend_from_slice(&p);
            }
            b.tokens.extend_from_slice(&toks[..d]);
            b.coins.extend_from_slice(&coins[..d]);
        }
        let rec = Recovery {
            mode: RecoveryMode::Sample,
            seed: 3,
            round_offset: 0,
        };
        let cpu: Vec<Vec<i32>> = by_d
            .iter()
            .map(|b| {
                CpuEngine {
                    recovery: rec,
                    ..Default::default()
                }
                .run_chain(&b.view(), Rule::Token)
                .unwrap()
                .tokens
            })
            .collect();
        if let Some(mut gpu) = common::gpu() {
            gpu.config = Default::default();
            for (b, c) in by_d.iter().zip(&cpu) {
                if b.n > 0 {
                    let g = gpu.run_chain(&b.view(), Rule::Token, rec).unwrap();
                    assert_eq!(&g.tokens, c, "{policy}: the engines' tokens differ");
                }
            }
        }
        let mut stream = Vec::new();
        for &(d, i) in &order {
            let row = &cpu[d - 1][i * (d + 1)..(i + 1) * (d + 1)];
            stream.extend(row.iter().filter(|&&t| t >= 0).map(|&t| t as usize));
        }
        let chi = |counts: &[f64], probs: &[f64]| -> f64 {
            let total: f64 = counts.iter().sum();
            let stat: f64 = counts
                .iter()
                .zip(probs)
                .map(|(&o, &pe)| (o - pe * total).powi(2) / (pe * total))
                .sum();
            1.0 - ChiSquared::new((probs.len() - 1) as f64).unwrap().cdf(stat)
        };
        let p64: Vec<f64> = p.iter().map(|&x| x as f64).collect();
        let mut uni = vec![0.0; v];
        for &t in &stream {
            uni[t] += 1.0;
        }
        let mut bi = vec![0.0; v * v];
        for w in stream.chunks_exact(2) {
            bi[w[0] * v + w[1]] += 1.0;
        }
        let pp: Vec<f64> = (0..v * v).map(|i| p64[i / v] * p64[i % v]).collect();
        let (pu, pb) = (chi(&uni, &p64), chi(&bi, &pp));
        assert!(
            pu > 1e-3 && pb > 1e-3,
            "{policy}: unigram p {pu}, bigram p {pb}"
        );
        // Not vacuous: the policy varied D.
        assert!(by_d.iter().filter(|b| b.n > 0).count() >= 2, "{policy}");
    }
}

/// Refusals: --k-max without --stop, --stop on a tree study, a bad policy, sharding.
#[test]
fn stop_refusals_are_clear() {
    let mut o = options(64, 10);
    o.stop.clear();
    o.k_max = Some(4);
    assert!(o.plan().unwrap_err().to_string().contains("--k-max"));
    let mut o = options(64, 10);
    o.trees = vec!["kary:2,2".into()];
    assert!(o.plan().unwrap_err().to_string().contains("--stop"));
    assert!(
        "sometimes:3"
            .parse::<Policy>()
            .unwrap_err()
            .to_string()
            .contains("not a policy")
    );
    // bellman needs a cost.
    let o = options(64, 10);
    let plan = o.plan().unwrap();
    let e = run_plan(plan, &mut CpuEngine::default(), &mut |_| {}).unwrap_err();
    assert!(e.to_string().contains("needs a cost"), "{e}");
    let e = specsim::study::shard::run_shard(
        &o,
        &Costs::ratios(&[0.1]),
        (0, 2),
        &mut CpuEngine::default(),
        &mut |_, _| {},
    )
    .unwrap_err();
    assert!(e.to_string().contains("not sharded"), "{e}");
}

/// The command line writes the stop columns, and a policy's gap to the bound brackets the
/// bound's ends less its exact rate.
#[test]
fn stop_columns_through_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let out = common::specsim(&[
        "study",
        "--sigma-dist",
        "uniform:0.2:2",
        "--vocab",
        "64",
        "--k",
        "2",
        "--rounds",
        "300",
        "--stop",
        "hf:0.3,bellman",
        "--k-max",
        "4",
        "--cost-ratio",
        "0.2",
        "--engine",
        "cpu",
        "--quiet",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let text = std::fs::read_to_string(dir.join("results.csv")).unwrap();
    let mut lines = text.lines();
    let head: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |row: &[&str], name: &str| -> String {
        row[head
            .iter()
            .position(|h| *h == name)
            .unwrap_or_else(|| panic!("no {name}"))]
        .to_string()
    };
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    let stops: Vec<&Vec<&str>> = rows.iter().filter(|r| !col(r, "stop").is_empty()).collect();
    assert_eq!(stops.len(), 2);
    assert_eq!(col(stops[0], "stop"), "hf:0.3");
    assert_eq!(col(stops[0], "k"), "4");
    let f = |r: &[&str], n: &str| col(r, n).parse::<f64>().unwrap();
    for r in &stops {
        let (gl, gh) = (f(r, "bellman_gap_low"), f(r, "bellman_gap_high"));
        assert!(0.0 <= gl && gl <= gh + 1e-12);
        assert!((gh - (f(r, "bellman_rate_high") - f(r, "exact_rate_low"))).abs() < 1e-9);
        assert!(f(r, "exact_low") <= f(r, "exact_high"));
    }
    // Rows that are not a policy's have the stop columns empty.
    assert!(
        rows.iter()
            .any(|r| col(r, "stop").is_empty() && col(r, "mean_drafted").is_empty())
    );
}

/// `--k-max` is the policies' cap, below the largest K too; the token rows keep their K values;
/// with K = 1 every policy is the same round and the bound is that round's rate.
#[test]
fn the_cap_is_k_max() {
    let mut o = options(64, 200);
    o.stop = vec!["fixed:9".parse().unwrap(), "hf:0.3".parse().unwrap()];
    o.k_max = Some(2);
    let rs = rows(&o, &mut CpuEngine::default());
    let stops: Vec<&StudyRow> = rs.iter().filter(|r| r.stop.is_some()).collect();
    assert!(stops.iter().all(|r| r.k == Some(2)));
    assert_eq!(stops[0].stop.as_ref().unwrap().tally.mean_drafted(), 2.0);
    let ks: Vec<Option<usize>> = rs
        .iter()
        .filter(|r| r.stop.is_none())
        .map(|r| r.k)
        .collect();
    assert_eq!(ks, vec![Some(2), Some(3), Some(5)]);
    let token2 = rs
        .iter()
        .find(|r| r.stop.is_none() && r.k == Some(2))
        .unwrap();
    assert_eq!(stops[0].mean_generated, token2.mean_generated);
    o.k_max = Some(1);
    let rs = rows(&o, &mut CpuEngine::default());
    for r in rs.iter().filter(|r| r.stop.is_some()) {
        let s = r.stop.as_ref().unwrap();
        let (lo, hi) = s.bellman_rate.unwrap();
        let rate = s.exact.rate_low.unwrap();
        assert!(
            (lo - rate).abs() < 1e-12 && (hi - rate).abs() < 1e-12,
            "K = 1: [{lo}, {hi}] vs {rate}"
        );
    }
    o.k_max = Some(0);
    assert!(o.plan().unwrap_err().to_string().contains("--k-max"));
}
