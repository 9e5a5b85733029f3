//! The one-round reference against golden cases made by a numpy float64 implementation of
//! SPEC §1 (tests/data/make_golden.py; the data is committed, Python is not needed).

use std::io::Read;

use serde_json::Value;
use specsim::round::{RoundInput, RoundOptions};

fn cases() -> Vec<Value> {
    let gz = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/golden_rounds.json.gz"
    ))
    .expect("golden data");
    let mut text = String::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_string(&mut text)
        .expect("gzip");
    let doc: Value = serde_json::from_str(&text).expect("json");
    doc["cases"].as_array().expect("cases").clone()
}

fn options(case: &Value) -> RoundOptions {
    let flag = |k: &str| case["options"][k].as_bool().unwrap_or(false);
    RoundOptions {
        allow_unnormalized: flag("allow_unnormalized"),
        allow_empty_draft: flag("plain_decode"),
    }
}

#[test]
fn one_round_reference_matches_numpy_golden_cases() {
    let cases = cases();
    assert!(
        cases.len() >= 100,
        "golden file holds {} cases",
        cases.len()
    );
    let (mut ok, mut refused) = (0, 0);
    for case in &cases {
        let name = case["name"].as_str().unwrap();
        let input: RoundInput = serde_json::from_value(case["input"].clone()).unwrap();
        let got = input.decode(&options(case));
        if let Some(kind) = case["error"].as_str() {
            let e = got.expect_err(name);
            assert_eq!(e.kind(), kind, "{name}: wrong refusal: {e}");
            refused += 1;
        } else {
            let got = got.unwrap_or_else(|e| panic!("{name}: refused: {e}"));
            let want = &case["expected"];
            let want_tokens: Vec<u32> =
                serde_json::from_value(want["accepted_tokens"].clone()).unwrap();
            assert_eq!(got.accepted_tokens, want_tokens, "{name}");
            assert_eq!(
                got.num_generated as u64,
                want["num_generated"].as_u64().unwrap(),
                "{name}"
            );
            // Exact equality of the rounded rate (the same f64 as Python's round(x, 4)).
            assert_eq!(
                got.acceptance_rate.to_bits(),
                want["acceptance_rate"].as_f64().unwrap().to_bits(),
                "{name}"
            );
            // The JSON form carries exactly the seed's keys.
            let j = serde_json::to_value(&got).unwrap();
            let mut keys: Vec<&String> = j.as_object().unwrap().keys().collect();
            keys.sort();
            assert_eq!(
                keys,
                ["acceptance_rate", "accepted_tokens", "num_generated"]
            );
            ok += 1;
        }
    }
    assert!(ok >= 80 && refused >= 15, "{ok} decided, {refused} refused");
}

#[test]
fn rates_round_like_python() {
    use specsim::round::python_round4;
    assert_eq!(python_round4(1.0 / 32.0), 0.0312);
    assert_eq!(python_round4(3.0 / 32.0), 0.0938);
    assert_eq!(python_round4(1.0 / 7.0), 0.1429);
    assert_eq!(python_round4(5.0 / 32.0), 0.1562);
    assert_eq!(python_round4(2.5e-5), 0.0);
    assert_eq!(python_round4(1.0), 1.0);
}
