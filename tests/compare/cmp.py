#!/usr/bin/env python3
"""Compares two output trees of tests/compare/outputs.sh: every file byte for byte, JSON and CSV
files without their timing fields. Prints each difference and "bad N"; exits 1 when N > 0."""
import sys,os,json,csv,io,filecmp
a,b=sys.argv[1],sys.argv[2]
TIMING={"seconds","wall_seconds","rounds_per_second","validation_seconds","time"}
def norm_json(x):
    if isinstance(x,dict): return {k:norm_json(v) for k,v in x.items() if k not in TIMING}
    if isinstance(x,list): return [norm_json(v) for v in x]
    return x
def norm_csv(t):
    rows=list(csv.reader(io.StringIO(t)))
    if not rows: return rows
    keep=[i for i,h in enumerate(rows[0]) if h not in TIMING]
    return [[r[i] for i in keep] for r in rows]
bad=0
for root,_,files in os.walk(a):
    for f in files:
        pa=os.path.join(root,f); pb=os.path.join(b,os.path.relpath(pa,a))
        if not os.path.exists(pb): print("missing",pb); bad+=1; continue
        if filecmp.cmp(pa,pb,shallow=False): continue
        if f.endswith('.json'):
            if norm_json(json.load(open(pa)))==norm_json(json.load(open(pb))): continue
        if f.endswith('.csv'):
            if norm_csv(open(pa).read())==norm_csv(open(pb).read()): continue
        if f.endswith('.svg'): print("svg differs",pa); bad+=1; continue
        print("DIFF",pa); bad+=1
print("bad",bad)
sys.exit(1 if bad else 0)
