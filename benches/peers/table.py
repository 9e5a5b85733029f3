"""Prints benches/compare.sh's markdown table from the JSON files it wrote into RESULTS_DIR.

    python table.py RESULTS_DIR

Expects there: ss_touched.json, ss_full.json, ss_study.json (timeit_cmd.py), ss_run.json
(`specsim run --format json`), study/results.json (`specsim study --out`), np_loop.json,
np_loop_default.json, np_lean.json, nb_touched.json, nb_full.json, np_study.json (the peers). Ratio = peer seconds /
specsim seconds (how many times faster specsim is); targets are issue 11's (the lean numpy loop
has none: it is shown for reference). Then checks that the answers agree: the batch paths' tokens
generated over all rounds exactly (so mean generated and mean accepted), the study's 99%
intervals overlapping. Exits 1 on a disagreement.
"""

import json
import os
import sys


def main():
    d = sys.argv[1]
    load = lambda name: json.load(open(os.path.join(d, name)))
    ss = {k: load(f"ss_{k}.json")["seconds"] for k in ("touched", "full", "study")}
    run = load("ss_run.json")
    peers = {k: load(f"{k}.json")
             for k in ("np_loop", "np_loop_default", "np_lean", "nb_touched", "nb_full",
                       "np_study")}
    peers["np_loop"]["peer"] += " (malloc kept)"
    peers["np_loop_default"]["peer"] += " (default malloc)"
    study = load("study/results.json")["configurations"][0]["rows"][0]

    rows = [
        ("`run --validate touched`", "touched", "np_loop_default", 20.0),
        ("`run --validate touched`", "touched", "np_loop", 20.0),
        ("`run --validate touched`", "touched", "np_lean", None),
        ("`run --validate touched`", "touched", "nb_touched", 0.9),
        ("`run` (full validation)", "full", "nb_full", 1.0),
        ("`study` logit-noise σ=0.5, V=2048, K=8, 10000 rounds, cpu", "study", "np_study", 4.0),
    ]
    print("| path | specsim s (whole process) | peer | peer s (compute only) | ratio | target | met |")
    print("|---|---:|---|---:|---:|---:|---|")
    for path, s, p, target in rows:
        ratio = peers[p]["seconds"] / ss[s]
        goal, met = ("-", "-") if target is None else (f">= {target:g}x", "no")
        if target is not None and ratio >= target:
            met = "yes"
        print(f"| {path} | {ss[s]:.4f} | {peers[p]['peer']} | {peers[p]['seconds']:.4f} "
              f"| {ratio:.2f}x | {goal} | {met} |")
    print()

    # Tokens generated over all rounds, an integer: equal totals mean equal mean generated and
    # mean accepted (the means themselves may differ in their last bit, summed in another order).
    ok = True
    want = round(run["mean_generated"] * run["rounds"])
    for p in ("np_loop", "np_loop_default", "np_lean", "nb_touched", "nb_full"):
        if peers[p]["generated_total"] != want:
            ok = False
            print(f"MISMATCH: {peers[p]['peer']}: {peers[p]['generated_total']} tokens generated "
                  f"(mean {peers[p]['mean_generated']}), specsim run: {want} "
                  f"(mean {run['mean_generated']})")
    if ok:
        print(f"batch answers agree: {want} tokens generated in {run['rounds']} rounds, mean "
              f"{run['mean_generated']}, mean acceptance rate {run['mean_acceptance_rate']} "
              "(specsim run and the five batch peer runs)")
    ns = peers["np_study"]
    lo, hi = max(study["ci99_low"], ns["ci99_low"]), min(study["ci99_high"], ns["ci99_high"])
    desc = (f"specsim {study['mean_generated']:.4f} [{study['ci99_low']:.4f}, "
            f"{study['ci99_high']:.4f}] (exact {study['exact_mean_generated']:.4f}), numpy "
            f"{ns['mean_generated']:.4f} [{ns['ci99_low']:.4f}, {ns['ci99_high']:.4f}] "
            f"(exact {ns['exact_mean_generated']:.4f})")
    if lo <= hi:
        print(f"study answers agree (99% intervals overlap): {desc}")
    else:
        ok = False
        print(f"MISMATCH: study 99% intervals do not overlap: {desc}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
