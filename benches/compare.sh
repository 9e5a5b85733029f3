#!/usr/bin/env bash
# specsim side by side with what a user would otherwise write (issue 11): prints a markdown table
# of whole-process specsim times against the peers in benches/peers/ (compute only), all measured
# in one run on the same files, and checks that their answers agree.
#
#   bash benches/compare.sh [--reps R] [--dir DIR]
#
#   --reps R   best of R runs for every measurement (default 5)
#   --dir DIR  work in DIR, which is kept: the batch in DIR/batch (made once, reused when it
#              exists), results in DIR/results; default: a temporary directory, removed at exit
#
# Uses the binary ${SPECSIM:-target/release/specsim} (build it with cargo build --release) and a
# venv with numpy and numba made by benches/peers/setup.sh (${PEERS_VENV:-benches/peers/.venv}).
# The batch: N = 1024, K = 8, V = 32000 float32 .npy files (2.2 GB), in the page cache.
# Optional: nothing in specsim's build or tests needs it.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
peers="$root/benches/peers"
reps=5
dir=""
while [ $# -gt 0 ]; do
    case "$1" in
        --reps) reps="$2"; shift 2 ;;
        --dir) dir="$2"; shift 2 ;;
        -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "compare.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done

specsim="${SPECSIM:-$root/target/release/specsim}"
if [ ! -x "$specsim" ]; then
    echo "compare.sh: no specsim binary at $specsim: build it with cargo build --release" \
        "(or point SPECSIM at one)" >&2
    exit 1
fi
venv="${PEERS_VENV:-$peers/.venv}"
bash "$peers/setup.sh" "$venv"
py="$venv/bin/python"

if [ -z "$dir" ]; then
    dir="$(mktemp -d "${TMPDIR:-/tmp}/specsim-compare.XXXXXX")"
    trap 'rm -rf "$dir"' EXIT
fi
batch="$dir/batch"
res="$dir/results"
mkdir -p "$batch" "$res"
if [ ! -f "$batch/draft_probs.npy" ]; then
    "$py" "$peers/make_batch.py" --n 1024 --k 8 --vocab 32000 --seed 0 --out "$batch" >&2
fi
cat "$batch"/*.npy > /dev/null # into the page cache

step() { echo "compare.sh: $*" >&2; }
timeit() { local name="$1"; shift; "$py" "$peers/timeit_cmd.py" --reps "$reps" -- "$@" > "$res/$name.json"; }
study_args=(study --family logit-noise --sigma 0.5 --vocab 2048 --k 8 --rounds 10000
            --engine cpu --quiet --out "$res/study")

step "specsim run (touched validation, full validation), study; best of $reps, whole process"
"$specsim" run "$batch" --engine cpu --format json > "$res/ss_run.json"
timeit ss_touched "$specsim" run "$batch" --engine cpu --validate touched
timeit ss_full "$specsim" run "$batch" --engine cpu
timeit ss_study "$specsim" "${study_args[@]}"

step "peers: numpy seed loop (and lean loop), numba touched, numba full, numpy study; best of $reps, compute only"
# In the numpy loops' favour: without these, glibc returns the seed loop's per-round float64
# copies (4.3 MB) to the kernel and faults them in again every round, about 10x its time here.
keep_heap=(env MALLOC_MMAP_THRESHOLD_=1073741824 MALLOC_TRIM_THRESHOLD_=1073741824)
# ... and once as a user runs it, with the default allocator settings.
"$py" "$peers/numpy_seed_loop.py" "$batch" --reps "$reps" > "$res/np_loop_default.json"
"${keep_heap[@]}" "$py" "$peers/numpy_seed_loop.py" "$batch" --reps "$reps" > "$res/np_loop.json"
"${keep_heap[@]}" "$py" "$peers/numpy_seed_loop.py" "$batch" --lean --reps "$reps" \
    > "$res/np_lean.json"
"$py" "$peers/numba_lazy.py" "$batch" --validate touched --reps "$reps" > "$res/nb_touched.json"
"$py" "$peers/numba_lazy.py" "$batch" --validate full --reps "$reps" > "$res/nb_full.json"
"$py" "$peers/numpy_study.py" --sigma 0.5 --vocab 2048 --k 8 --rounds 10000 --reps "$reps" \
    > "$res/np_study.json"

echo "N = 1024, K = 8, V = 32000 float32 in the page cache; $(nproc) cores," \
    "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'); best of $reps"
echo
"$py" "$peers/table.py" "$res"
