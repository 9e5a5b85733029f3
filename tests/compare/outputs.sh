#!/usr/bin/env bash
# Writes the outputs a refactoring must leave byte-identical: every rule x both engines x both
# recovery modes on the test batches (run: jsonl, json without timings, touched --out .npz),
# verify on batches and generated rounds (chains and trees, saved batches), and chain, block,
# tree and file studies. Compare two binaries' outputs with tests/compare/cmp.py:
#   tests/compare/outputs.sh OLD_BIN /tmp/a; tests/compare/outputs.sh NEW_BIN /tmp/b
#   python3 tests/compare/cmp.py /tmp/a /tmp/b      # prints "bad 0" when equal
# (timing fields are ignored). Needs a GPU adapter (lavapipe will do) for the gpu runs.
set -u
B=$(realpath "$1"); O=$(realpath -m "$2"); rm -rf "$O"; mkdir -p "$O"
D=$(cd "$(dirname "$0")/../data/batches" && pwd)
strip() { python3 -c '
import json,sys
def s(x):
    if isinstance(x,dict): return {k:s(v) for k,v in x.items() if k not in ("wall_seconds","rounds_per_second","validation_seconds","seconds","time")}
    if isinstance(x,list): return [s(v) for v in x]
    return x
t=sys.stdin.read()
try: print(json.dumps(s(json.loads(t)),indent=1,sort_keys=False))
except Exception: print(t)
'; }
for eng in cpu gpu; do
 for rule in token block greedy target-only rrs rrs-wor; do
  for f in f32_i32_dir f32_u32_compressed.npz f64_i64.npz; do
   for rec in argmax sample; do
    tag=run_${eng}_${rule}_${f}_$rec
    $B run $D/$f --engine $eng --rule $rule --recovery $rec --seed 3 --format jsonl > $O/$tag.jsonl 2>$O/$tag.err; echo "rc=$?" >> $O/$tag.err
    $B run $D/$f --engine $eng --rule $rule --recovery $rec --seed 3 --format json 2>>$O/$tag.err | strip > $O/$tag.json
    $B run $D/$f --engine $eng --rule $rule --recovery $rec --seed 3 --validate touched --out $O/$tag.npz > /dev/null 2>>$O/$tag.err; echo "rc=$?" >> $O/$tag.err
   done
  done
  for f in tree_eagle_dir tree_kary22.npz; do
   for rec in argmax sample; do
    tag=run_${eng}_${rule}_${f}_$rec
    $B run $D/$f --engine $eng --rule $rule --recovery $rec --seed 3 --format jsonl > $O/$tag.jsonl 2>$O/$tag.err; echo "rc=$?" >> $O/$tag.err
    $B run $D/$f --engine $eng --rule $rule --recovery $rec --seed 3 --format json 2>>$O/$tag.err | strip > $O/$tag.json
    $B run $D/$f --engine $eng --rule $rule --recovery $rec --seed 3 --validate touched --out $O/$tag.npz >/dev/null 2>>$O/$tag.err; echo "rc=$?" >> $O/$tag.err
   done
  done
 done
done
for rule in token block greedy target-only rrs rrs-wor; do
 for rec in argmax sample; do
  $B verify --generate 3000 --k 5 --vocab 300 --rule $rule --recovery $rec --json 2>/dev/null | strip > $O/verify_gen_${rule}_$rec.json
  $B verify --generate 200 --k 4 --vocab 50 --rule $rule --recovery $rec --save $O/save_${rule}_$rec --json >/dev/null 2>&1
  for f in f32_i32_dir f64_i64.npz tree_eagle_dir; do
   $B verify $D/$f --rule $rule --recovery $rec --json 2>/dev/null | strip > $O/verify_${rule}_${f}_$rec.json
  done
 done
done
for rule in greedy target-only rrs rrs-wor; do
 for rec in argmax sample; do
  $B verify --generate 500 --tree kary:3,2 --vocab 100 --rule $rule --recovery $rec --json 2>/dev/null | strip > $O/verify_tree_${rule}_$rec.json
  $B verify --generate 100 --tree 'eagle:[[0],[1],[0,0],[0,1]]' --vocab 40 --rule $rule --recovery $rec --save $O/savetree_${rule}_$rec --json >/dev/null 2>&1
 done
done
for eng in cpu gpu; do
 (cd $O && $B study --engine $eng --rounds 3000 --out study_$eng >/dev/null 2>&1; $B study --engine $eng --rounds 2000 --rule token,block --k 1..4 --vocab 300 --out studyb_$eng > /dev/null 2>&1; $B study --engine $eng --rounds 2000 --tree kary:2,2 --tree chain:4 --vocab 300 --out studyt_$eng >/dev/null 2>&1; $B study --engine $eng --family file --batch $D/f32_i32_dir --k 1..3 --rule token,block --out studyf_$eng >/dev/null 2>&1)
done
