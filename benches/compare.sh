#!/usr/bin/env bash
# specsim side by side with what a user would otherwise write (issues 11 and 26): prints a markdown
# table of whole-process specsim times against the peers in benches/peers/ (compute only), all
# measured in one run on the same files, and checks that their answers agree.
#
#   bash benches/compare.sh [--reps R] [--dir DIR] [--only chain|tree]
#
#   --reps R   best of R runs for every measurement (default 5)
#   --dir DIR  work in DIR, which is kept: the batches in DIR/batch and DIR/tree (made once,
#              reused when they exist), results in DIR/results; default: a temporary directory,
#              removed at exit
#   --only S   only the chain rows (issue 11) or only the tree rows (issue 26); default both
#
# Uses the binary ${SPECSIM:-target/release/specsim} (build it with cargo build --release) and a
# venv with numpy and numba made by benches/peers/setup.sh (${PEERS_VENV:-benches/peers/.venv}).
# The batches, float32 .npy files in the page cache: chain N = 1024, K = 8, V = 32000 (2.2 GB);
# tree kary:2,4 (31 nodes), N = 512, V = 32000 (4.1 GB, of which the leaves' draft rows, 1 GB,
# are holes). Optional: nothing in specsim's build or tests needs it.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
peers="$root/benches/peers"
reps=5
dir=""
only=""
while [ $# -gt 0 ]; do
    case "$1" in
        --reps) reps="$2"; shift 2 ;;
        --dir) dir="$2"; shift 2 ;;
        --only) only="$2"; shift 2 ;;
        -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "compare.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
case "$only" in
    ""|chain|tree) ;;
    *) echo "compare.sh: --only takes chain or tree, not $only" >&2; exit 2 ;;
esac
chain=true
trees=true
[ "$only" = tree ] && chain=false
[ "$only" = chain ] && trees=false

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
tree="$dir/tree"
res="$dir/results"
mkdir -p "$res"
rm -f "$res"/*.json "$res"/*.npz

step() { echo "compare.sh: $*" >&2; }
timeit() { local name="$1"; shift; "$py" "$peers/timeit_cmd.py" --reps "$reps" -- "$@" > "$res/$name.json"; }

chain_rows() {
    mkdir -p "$batch"
    if [ ! -f "$batch/draft_probs.npy" ]; then
        "$py" "$peers/make_batch.py" --n 1024 --k 8 --vocab 32000 --seed 0 --out "$batch" >&2
    fi
    cat "$batch"/*.npy > /dev/null # into the page cache

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
}

tree_rows() {
    mkdir -p "$tree"
    if [ ! -f "$tree/parents.npy" ]; then
        "$py" "$peers/make_batch.py" --tree kary:2,4 --n 512 --vocab 32000 --seed 0 --out "$tree" >&2
    fi
    cat "$tree"/*.npy > /dev/null # into the page cache

    for rule in target-only rrs; do
        step "tree $rule: specsim run --validate touched (whole process), numba tree walk (compute only); best of $reps"
        "$specsim" run "$tree" --rule "$rule" --engine cpu --validate touched --format json \
            --out "$res/ss_tree_$rule.npz" > "$res/ss_tree_run_$rule.json"
        timeit "ss_tree_$rule" "$specsim" run "$tree" --rule "$rule" --engine cpu --validate touched
        "$py" "$peers/numba_tree.py" "$tree" --rule "$rule" --validate touched --reps "$reps" \
            --out "$res/nb_tree_$rule.npz" > "$res/nb_tree_$rule.json"
    done
}

if $chain; then chain_rows; fi
if $trees; then tree_rows; fi

cpu="$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
if $chain; then
    echo "Chain: N = 1024, K = 8, V = 32000 float32 in the page cache; $cpu; best of $reps"
fi
if $trees; then
    echo "Tree: kary:2,4 (31 nodes), N = 512, V = 32000 float32 in the page cache; $cpu; best of $reps"
fi
echo
"$py" "$peers/table.py" "$res"
