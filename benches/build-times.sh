#!/usr/bin/env bash
# Build and test times from a fresh clone (issue 19's targets): a clone of this checkout's HEAD
# with an empty target directory, then, in order and timed: `cargo build --release`, the first
# study, the test command, and `pip install ./python` (maturin and pytest installed first, not
# timed). Run it on a quiet machine; it prints one line. Usage: bash benches/build-times.sh
set -euo pipefail
src="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
git clone -q "$src" "$work/specsim"
cd "$work/specsim"
now() { date +%s.%N; }
s=$(now)
cargo build --release > "$work/build.log" 2>&1
b=$(now)
./target/release/specsim study --quiet --out "$work/study" > /dev/null 2>&1
st=$(now)
SPECSIM_REQUIRE_GPU=1 cargo test --release > "$work/test.log" 2>&1
t=$(now)
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q pytest numpy maturin > /dev/null 2>&1
p0=$(now)
"$work/venv/bin/pip" install -q ./python > "$work/pip.log" 2>&1
p1=$(now)
python3 -c "
s, b, st, t, p0, p1 = $s, $b, $st, $t, $p0, $p1
print(f'build {b - s:.0f} s; first study {st - b:.0f} s; to first study {st - s:.0f} s; '
      f'cargo test --release {t - st:.0f} s; pip install ./python {p1 - p0:.0f} s')
"
