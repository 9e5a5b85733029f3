//! `specsim round`'s parser and reference on arbitrary bytes: any input ends in a result or an
//! error, never a panic (run by fuzz/run.sh; what it finds is kept under tests/data/fuzz/).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(round) = specsim::round::read_round_json(data, "fuzz") {
        for rule in specsim::Rule::ALL {
            for allow_unnormalized in [false, true] {
                let opts = specsim::RoundOptions {
                    allow_unnormalized,
                    allow_empty_draft: true,
                };
                let _ = round.decode_rule(rule, &opts);
            }
        }
    }
});
