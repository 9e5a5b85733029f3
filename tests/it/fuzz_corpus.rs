//! Replays what the fuzzers kept (fuzz/run.sh → tests/data/fuzz/): every input to the JSON round
//! parser and the `.npy` header parser ends in a result or an error, never a panic.

use crate::common;

fn inputs(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = common::data(&format!("fuzz/{target}"));
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .filter_map(|e| {
            let p = e.ok()?.path();
            Some((p.display().to_string(), std::fs::read(&p).ok()?))
        })
        .collect();
    out.sort();
    out
}

#[test]
fn round_json_corpus_never_panics() {
    let cases = inputs("round_json");
    assert!(cases.len() >= 20, "{} inputs", cases.len());
    for (name, bytes) in cases {
        if let Ok(round) = specsim::round::read_round_json(&bytes[..], &name) {
            for rule in specsim::Rule::ALL {
                let opts = specsim::RoundOptions {
                    allow_unnormalized: true,
                    allow_empty_draft: true,
                };
                let _ = round.decode_rule(rule, &opts);
            }
        }
    }
}

#[test]
fn npy_header_corpus_never_panics() {
    let cases = inputs("npy_header");
    assert!(cases.len() >= 5, "{} inputs", cases.len());
    for (name, bytes) in cases {
        let _ = specsim::npyio::NpyArray::from_bytes(&bytes, &name);
    }
}

/// Found by fuzzing: a 110-byte `.npy` (version 3) whose header length field says 4 GiB made the
/// parser allocate 4 GiB before reading; it is refused from the length alone.
#[test]
fn a_header_longer_than_its_file_is_refused_before_allocating() {
    let bytes = std::fs::read(common::data("fuzz/npy_header/oom-huge-header-length")).unwrap();
    let e = match specsim::npyio::NpyArray::from_bytes(&bytes, "oom.npy") {
        Err(e) => e,
        Ok(_) => panic!("accepted"),
    };
    let msg = e.to_string();
    assert!(msg.contains("header declares 4294967295 bytes"), "{msg}");
}

/// Found by fuzzing: a 150-byte header of 21 nested brackets made the header parser run for
/// minutes (exponential backtracking); it is refused at once.
#[test]
fn deeply_nested_headers_are_refused_at_once() {
    let bytes = std::fs::read(common::data("fuzz/npy_header/timeout-nested-brackets")).unwrap();
    let t = std::time::Instant::now();
    let e = match specsim::npyio::NpyArray::from_bytes(&bytes, "nested.npy") {
        Err(e) => e,
        Ok(_) => panic!("accepted"),
    };
    assert!(t.elapsed().as_secs() < 2);
    assert!(e.to_string().contains("nests brackets"), "{e}");
}
