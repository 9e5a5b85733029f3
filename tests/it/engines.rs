//! Engine tests written once and expanded per engine (cubecl's `testgen_*!` pattern): every
//! engine behind [`Engine`], under every rule, against the f64 reference (each difference
//! classified as rounding) and against the CPU engine bit for bit, on adversarial batches,
//! float64 input, V = 1 and V = 128256. The GPU expansion skips loudly without an adapter (and
//! fails with `SPECSIM_REQUIRE_GPU=1`); it restores the shared context's settings.

use crate::common;

use specsim::Rule;
use specsim::batch::{Batch, Outcomes, Rounds, Validation};
use specsim::compare::{DiffClass, VerifyReport, adversarial_batch_rule, compare_reference_rule};
use specsim::cpu::{CpuEngine, Recovery, RecoveryMode};
use specsim::engine::Engine;
use specsim::round::RoundOptions;

/// Checks one engine's results on `b` under `rule`: equal to the CPU engine's, and equal to the
/// f64 reference except for classified rounding differences (argmax mode).
fn check(engine: &mut dyn Engine, b: &Batch, rule: Rule, rec: Recovery, what: &str) -> Outcomes {
    let view = b.view();
    view.validate_rule(&RoundOptions::default(), Validation::Full, rule)
        .unwrap_or_else(|e| panic!("{what}: invalid batch: {e}"));
    let got = engine
        .run(&Rounds::chain(&view), rule, rec)
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let cpu = Engine::run(&mut CpuEngine::default(), &Rounds::chain(&view), rule, rec).unwrap();
    assert_eq!(
        got,
        cpu,
        "{what}: {} differs from the CPU engine",
        engine.describe()
    );
    if rec.mode == RecoveryMode::Argmax {
        let mut report = VerifyReport::default();
        compare_reference_rule(&view, &got, rule, 0, &mut report);
        for d in &report.reference_diffs {
            assert_ne!(d.class, DiffClass::Unexplained, "{what}: {d:?}");
        }
    }
    got
}

fn sample(seed: u64) -> Recovery {
    Recovery {
        mode: RecoveryMode::Sample,
        seed,
        round_offset: 0,
    }
}

macro_rules! engine_tests {
    ($name:ident, $with:expr) => {
        mod $name {
            use super::*;

            /// Runs `f` on this module's engine (not at all when it is unavailable).
            fn with_engine(f: impl FnOnce(&mut dyn Engine)) {
                common::with_engine($with, f);
            }

            #[test]
            fn adversarial_batches_under_every_rule_and_recovery() {
                with_engine(|e| {
                    for rule in Rule::ALL {
                        for rec in [Recovery::default(), sample(9)] {
                            for (seed, (n, k, v)) in
                                [(60, 6, 97), (45, 1, 3), (30, 12, 1), (20, 3, 1000)]
                                    .into_iter()
                                    .enumerate()
                            {
                                let b = adversarial_batch_rule(0, n, k, v, seed as u64, rule);
                                let what = format!("{rule} {:?} N={n} K={k} V={v}", rec.mode);
                                check(e, &b, rule, rec, &what);
                            }
                        }
                    }
                });
            }

            #[test]
            fn float64_input_is_the_same_rounds() {
                with_engine(|e| {
                    let file = specsim::npyio::BatchFile::open(std::path::Path::new(
                        &common::data("batches/f64_i64.npz"),
                    ))
                    .unwrap();
                    let view = file.view().unwrap();
                    for rule in Rule::ALL {
                        let got = e
                            .run(&Rounds::chain(&view), rule, Recovery::default())
                            .unwrap();
                        let cpu = CpuEngine::default().run_chain(&view, rule).unwrap();
                        assert_eq!(got, cpu, "{rule}: f64 npz");
                    }
                });
            }

            #[test]
            fn tiny_and_huge_vocabularies() {
                with_engine(|e| {
                    for rule in Rule::ALL {
                        let b = adversarial_batch_rule(7, 40, 5, 1, 3, rule);
                        let r = check(e, &b, rule, Recovery::default(), &format!("{rule} V=1"));
                        assert!(r.tokens.iter().all(|&t| t <= 0), "V = 1 emits token 0");
                        let b = adversarial_batch_rule(0, 6, 2, 128_256, 4, rule);
                        check(
                            e,
                            &b,
                            rule,
                            Recovery::default(),
                            &format!("{rule} V=128256"),
                        );
                    }
                });
            }
        }
    };
}

for_each_engine!(engine_tests);
