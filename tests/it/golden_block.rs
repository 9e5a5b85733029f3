//! Block verification's f64 reference (SPEC §6) against golden cases made by an independent numpy
//! float64 implementation (tests/data/make_block_golden.py; the data is committed), through the
//! library and through `specsim round --rule block`.

use crate::common;

use std::io::Read;

use serde_json::Value;
use specsim::Rule;
use specsim::reference::chain::block::expected_accepted_block;
use specsim::round::{RoundInput, RoundOptions};

fn doc() -> Value {
    let gz = std::fs::read(common::data("golden_block.json.gz")).expect("golden data");
    let mut text = String::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_string(&mut text)
        .expect("gzip");
    serde_json::from_str(&text).expect("json")
}

fn options(case: &Value) -> RoundOptions {
    let flag = |k: &str| case["options"][k].as_bool().unwrap_or(false);
    RoundOptions {
        allow_unnormalized: flag("allow_unnormalized"),
        allow_empty_draft: flag("plain_decode"),
    }
}

fn check(name: &str, got: &specsim::RoundResult, want: &Value) {
    let want_tokens: Vec<u32> = serde_json::from_value(want["accepted_tokens"].clone()).unwrap();
    assert_eq!(got.accepted_tokens, want_tokens, "{name}");
    assert_eq!(
        got.num_generated as u64,
        want["num_generated"].as_u64().unwrap(),
        "{name}"
    );
    assert_eq!(
        got.acceptance_rate.to_bits(),
        want["acceptance_rate"].as_f64().unwrap().to_bits(),
        "{name}"
    );
}

#[test]
fn block_reference_matches_numpy_golden_cases() {
    let doc = doc();
    let cases = doc["cases"].as_array().unwrap();
    let (mut ok, mut refused, mut differs_from_token) = (0, 0, 0);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let input: RoundInput = serde_json::from_value(case["input"].clone()).unwrap();
        let got = input.decode_rule(Rule::Block, &options(case));
        if let Some(kind) = case["error"].as_str() {
            let e = got.expect_err(name);
            assert_eq!(e.kind(), kind, "{name}: wrong refusal: {e}");
            refused += 1;
            continue;
        }
        let got = got.unwrap_or_else(|e| panic!("{name}: refused: {e}"));
        check(name, &got, &case["expected"]);
        // The token rule on the same input, from the same file.
        let tok = input.decode_rule(Rule::Token, &options(case)).unwrap();
        check(name, &tok, &case["token_expected"]);
        if tok != got {
            differs_from_token += 1;
        }
        // K = 1: block is the token rule exactly.
        if input.draft_tokens.len() == 1 {
            assert_eq!(tok, got, "{name}: K = 1");
        }
        ok += 1;
    }
    assert!(
        ok >= 150 && refused >= 10 && differs_from_token >= 20,
        "{ok} decided, {refused} refused, {differs_from_token} where the rules differ"
    );
}

#[test]
fn block_expectations_match_numpy_enumeration() {
    let doc = doc();
    let exp = doc["expectations"].as_array().unwrap();
    assert!(exp.len() >= 20);
    for e in exp {
        let rows = |key: &str| -> Vec<f64> {
            serde_json::from_value::<Vec<Vec<f64>>>(e[key].clone())
                .unwrap()
                .concat()
        };
        let (d, t) = (rows("draft_probs"), rows("target_probs"));
        let k = e["draft_probs"].as_array().unwrap().len();
        let v = e["draft_probs"][0].as_array().unwrap().len();
        let want = e["e_tau_block"].as_f64().unwrap();
        let got = expected_accepted_block(&d, &t, k, v, 1 << 20).unwrap();
        assert!((got - want).abs() <= 1e-12, "block: {got} vs numpy {want}");
        // Block >= token in expectation (SPEC §6), token from the betas.
        let token: f64 = {
            let mut prod = 1.0;
            (0..k)
                .map(|i| {
                    let beta: f64 = (0..v).map(|x| t[i * v + x].min(d[i * v + x])).sum();
                    prod *= beta;
                    prod
                })
                .sum()
        };
        let want_token = e["e_tau_token"].as_f64().unwrap();
        assert!(
            (token - want_token).abs() <= 1e-12,
            "token: {token} vs {want_token}"
        );
        assert!(got >= token - 1e-12, "block {got} < token {token}");
    }
}

#[test]
fn round_cli_takes_the_block_rule() {
    let doc = doc();
    let cases = doc["cases"].as_array().unwrap();
    let mut n = 0;
    for case in cases
        .iter()
        .filter(|c| c["expected"].is_object())
        .step_by(10)
    {
        let text = serde_json::to_string(&case["input"]).unwrap();
        let mut args = vec!["round", "--rule", "block"];
        if case["options"]["allow_unnormalized"].as_bool() == Some(true) {
            args.push("--allow-unnormalized");
        }
        let o = common::specsim_stdin(&args, Some(&text));
        assert_eq!(o.code, 0, "{}: {}", case["name"], o.stderr);
        let got: specsim::RoundResult = serde_json::from_str(o.stdout.trim()).unwrap();
        check(case["name"].as_str().unwrap(), &got, &case["expected"]);
        // Exactly the seed's keys.
        let j: Value = serde_json::from_str(o.stdout.trim()).unwrap();
        let mut keys: Vec<&String> = j.as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(
            keys,
            ["acceptance_rate", "accepted_tokens", "num_generated"]
        );
        n += 1;
    }
    assert!(n >= 20);
    let o = common::specsim_stdin(&["round", "--rule", "tree"], Some("{}"));
    common::assert_refused(&o, "unknown rule", &["tree", "token, block"]);
}
