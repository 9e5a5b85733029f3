use super::*;

fn norm(w: &[f64]) -> Vec<f64> {
    let s: f64 = w.iter().sum();
    w.iter().map(|x| x / s).collect()
}

#[test]
fn the_spec_facts_hold() {
    let p = norm(&[5.0, 3.0, 1.0, 1.0]);
    let q = norm(&[1.0, 4.0, 4.0, 1.0]);
    let one = |rule, law, how| {
        distortion(
            std::slice::from_ref(&q),
            &[p.clone(), p.clone()],
            rule,
            law,
            how,
        )
    };
    // token in sample mode: TV 0, exactly lossless.
    let t = one(LossyRule::Token, DraftLaw::Sample, Replacement::Sample);
    assert!(t.tv[0].abs() < 1e-15 && t.tv_exact.unwrap().abs() < 1e-15);
    // token with argmax recovery: (1 − β) − max(p − q)+.
    let a = one(LossyRule::Token, DraftLaw::Sample, Replacement::Argmax);
    let beta: f64 = p.iter().zip(&q).map(|(x, y)| x.min(*y)).sum();
    let m = p
        .iter()
        .zip(&q)
        .map(|(x, y)| (x - y).max(0.0))
        .fold(0.0, f64::max);
    assert!((a.tv[0] - ((1.0 - beta) - m)).abs() < 1e-15);
    // sglang:1:1: TV 0 for sampled and top-1 drafts.
    for law in [DraftLaw::Sample, DraftLaw::Top1] {
        let s = one(
            LossyRule::Sglang { ts: 1.0, ta: 1.0 },
            law,
            Replacement::Sample,
        );
        assert!(s.tv[0] < 1e-15, "{law:?}: {}", s.tv[0]);
    }
    // lenient: acceptance Σ min(q, p/l).
    let l = one(
        LossyRule::Lenient { l: 0.5 },
        DraftLaw::Sample,
        Replacement::Sample,
    );
    let want: f64 = p.iter().zip(&q).map(|(x, y)| y.min(x / 0.5)).sum();
    assert!((l.acceptance[0] - want).abs() < 1e-15);
    // typical with q = p: TV p(S)(1 − p(S)).
    let ty = distortion(
        std::slice::from_ref(&p),
        &[p.clone(), p.clone()],
        LossyRule::Typical {
            eps: 0.2,
            delta: 0.3,
        },
        DraftLaw::Sample,
        Replacement::Sample,
    );
    let h: f64 = -p.iter().map(|x| x * (x + 1e-5).ln()).sum::<f64>();
    let th = 0.2f64.min(0.3 * (-h).exp());
    let ps: f64 = p.iter().filter(|&&x| x > th).sum();
    assert!((ty.tv[0] - ps * (1.0 - ps)).abs() < 1e-15);
}

/// The exact round TV lies within the bracket.
#[test]
fn exact_tv_is_within_the_bracket() {
    let rows = [
        norm(&[3.0, 1.0, 1.0]),
        norm(&[1.0, 2.0, 2.0]),
        norm(&[1.0, 1.0, 5.0]),
        norm(&[2.0, 2.0, 1.0]),
    ];
    let q = vec![rows[1].clone(), rows[2].clone(), rows[0].clone()];
    let p = vec![
        rows[0].clone(),
        rows[3].clone(),
        rows[1].clone(),
        rows[2].clone(),
    ];
    for rule in ["token", "typical", "lenient:0.6", "sglang:0.5:0.7"] {
        let rule: LossyRule = rule.parse().unwrap();
        for law in [DraftLaw::Sample, DraftLaw::Top1] {
            for how in [Replacement::Sample, Replacement::Argmax] {
                let d = distortion(&q, &p, rule, law, how);
                let e = d.tv_exact.unwrap();
                assert!(
                    d.tv_low <= e + 1e-12 && e <= d.tv_high + 1e-12,
                    "{rule} {law:?} {how:?}: {d:?}"
                );
            }
        }
    }
}

#[test]
fn rules_parse_and_refuse() {
    assert_eq!(
        "typical".parse::<LossyRule>().unwrap(),
        LossyRule::Typical {
            eps: 0.09,
            delta: 0.3
        }
    );
    assert_eq!(
        "lenient:0.5".parse::<LossyRule>().unwrap(),
        LossyRule::Lenient { l: 0.5 }
    );
    for bad in [
        "lenient:0",
        "lenient:2",
        "sglang:1",
        "sglang:2:1",
        "typical:-1:0.3",
        "typical:0.1",
        "rrs",
        "lenient:nan",
    ] {
        assert!(bad.parse::<LossyRule>().is_err(), "{bad}");
    }
}
