#!/usr/bin/env bash
# Fuzzes the JSON round parser and the .npy header parser for a bounded time each, with
# cargo-fuzz (libFuzzer; it needs a nightly toolchain). Seeds come from tests/data; every crash
# and a fifth of the minimised corpus are copied into tests/data/fuzz/<target>/, which the stable
# test suite replays (tests/it/fuzz_corpus.rs), so what was found stays a regression test.
#
#   bash fuzz/run.sh [SECONDS per target, default 120]
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-120}"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
for target in round_json npy_header; do
    corpus="fuzz/corpus/$target"
    mkdir -p "$corpus" "tests/data/fuzz/$target"
    cp -n tests/data/fuzz/"$target"/* "$corpus"/ 2>/dev/null || true
    case "$target" in
        round_json) python3 - "$corpus" <<'PY'
import gzip, json, os, sys
out = sys.argv[1]
for name in ("golden_rounds.json.gz", "golden_block.json.gz"):
    with gzip.open(os.path.join("tests/data", name), "rt") as f:
        for i, case in enumerate(json.load(f)["cases"][:40]):
            with open(os.path.join(out, f"seed-{name[:-8]}-{i}.json"), "w") as g:
                json.dump(case["input"], g)
PY
        ;;
        npy_header) find tests/data/batches -name '*.npy' -size -8k -exec cp -n {} "$corpus"/ \; ;;
    esac
    cargo +nightly fuzz run --fuzz-dir fuzz "$target" "$corpus" -- -max_total_time="$secs" -max_len=4096 -timeout=5 -rss_limit_mb=1024 || true
    # Keep every crash, and a fifth of the minimised corpus (deterministic), as regression inputs.
    cargo +nightly fuzz cmin --fuzz-dir fuzz "$target" "$corpus" >/dev/null 2>&1 || true
    (cd "$corpus" && ls | sort | awk 'NR % 5 == 1') | while read -r f; do
        cp -n "$corpus/$f" "tests/data/fuzz/$target/" 2>/dev/null || true
    done
    cp -n fuzz/artifacts/"$target"/* "tests/data/fuzz/$target"/ 2>/dev/null || true
done
echo "corpus kept under tests/data/fuzz/; replay it with: cargo test --release --test fuzz_corpus"
