"""Prints benches/compare.sh's markdown table from the JSON files it wrote into RESULTS_DIR.

    python table.py RESULTS_DIR

Chain rows (issue 11), when ss_touched.json is there: ss_touched.json, ss_full.json,
ss_study.json (timeit_cmd.py), ss_run.json (`specsim run --format json`), study/results.json
(`specsim study --out`), np_loop.json, np_loop_default.json, np_lean.json, nb_touched.json,
nb_full.json, np_study.json (the peers). Tree rows (issue 26), for each RULE (target-only, rrs)
with ss_tree_RULE.json there: ss_tree_RULE.json (timeit_cmd.py), ss_tree_run_RULE.json and
ss_tree_RULE.npz (`specsim run --rule RULE --format json --out`), nb_tree_RULE.json and
nb_tree_RULE.npz (numba_tree.py). Ratio = peer seconds / specsim seconds (how many times faster
specsim is); targets are issue 11's and issue 26's (the lean numpy loop has none: it is shown for
reference). Then checks that the answers agree: the batch paths' tokens generated over all rounds
exactly (so mean generated and mean accepted), the tree peers' arrays token for token (tokens,
accepted_nodes, num_accepted, num_generated), the study's 99% intervals overlapping. Exits 1 on a
disagreement.
"""

import json
import os
import sys

import numpy as np

TREE_RULES = ("target-only", "rrs")
TREE_ARRAYS = ("tokens", "accepted_nodes", "num_accepted", "num_generated")


def main():
    d = sys.argv[1]
    have = lambda name: os.path.exists(os.path.join(d, name))
    load = lambda name: json.load(open(os.path.join(d, name)))
    chain = have("ss_touched.json")
    trees = [rule for rule in TREE_RULES if have(f"ss_tree_{rule}.json")]
    ss, peers, rows = {}, {}, []
    if chain:
        ss.update({k: load(f"ss_{k}.json")["seconds"] for k in ("touched", "full", "study")})
        peers.update({k: load(f"{k}.json")
                      for k in ("np_loop", "np_loop_default", "np_lean", "nb_touched", "nb_full",
                                "np_study")})
        peers["np_loop"]["peer"] += " (malloc kept)"
        peers["np_loop_default"]["peer"] += " (default malloc)"
        rows += [
            ("`run --validate touched`", "touched", "np_loop_default", 20.0),
            ("`run --validate touched`", "touched", "np_loop", 20.0),
            ("`run --validate touched`", "touched", "np_lean", None),
            ("`run --validate touched`", "touched", "nb_touched", 0.9),
            ("`run` (full validation)", "full", "nb_full", 1.0),
            ("`study` logit-noise σ=0.5, V=2048, K=8, 10000 rounds, cpu", "study", "np_study",
             4.0),
        ]
    for rule in trees:
        ss[f"tree_{rule}"] = load(f"ss_tree_{rule}.json")["seconds"]
        peers[f"nb_tree_{rule}"] = load(f"nb_tree_{rule}.json")
        rows.append((f"tree `run --rule {rule} --validate touched`", f"tree_{rule}",
                     f"nb_tree_{rule}", 1.0))
    if not rows:
        sys.exit(f"table.py: no results in {d}")

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

    ok = True
    if chain:
        # Tokens generated over all rounds, an integer: equal totals mean equal mean generated
        # and mean accepted (the means themselves may differ in their last bit, summed in
        # another order).
        run = load("ss_run.json")
        want = round(run["mean_generated"] * run["rounds"])
        good = True
        for p in ("np_loop", "np_loop_default", "np_lean", "nb_touched", "nb_full"):
            if peers[p]["generated_total"] != want:
                good = False
                print(f"MISMATCH: {peers[p]['peer']}: {peers[p]['generated_total']} tokens "
                      f"generated (mean {peers[p]['mean_generated']}), specsim run: {want} "
                      f"(mean {run['mean_generated']})")
        if good:
            print(f"batch answers agree: {want} tokens generated in {run['rounds']} rounds, mean "
                  f"{run['mean_generated']}, mean acceptance rate {run['mean_acceptance_rate']} "
                  "(specsim run and the five batch peer runs)")
        ok &= good
        study = load("study/results.json")["configurations"][0]["rows"][0]
        ns = peers["np_study"]
        lo = max(study["ci99_low"], ns["ci99_low"])
        hi = min(study["ci99_high"], ns["ci99_high"])
        desc = (f"specsim {study['mean_generated']:.4f} [{study['ci99_low']:.4f}, "
                f"{study['ci99_high']:.4f}] (exact {study['exact_mean_generated']:.4f}), numpy "
                f"{ns['mean_generated']:.4f} [{ns['ci99_low']:.4f}, {ns['ci99_high']:.4f}] "
                f"(exact {ns['exact_mean_generated']:.4f})")
        if lo <= hi:
            print(f"study answers agree (99% intervals overlap): {desc}")
        else:
            ok = False
            print(f"MISMATCH: study 99% intervals do not overlap: {desc}")
    for rule in trees:
        # The tree peer's answers must be specsim's token for token.
        run = load(f"ss_tree_run_{rule}.json")
        peer = peers[f"nb_tree_{rule}"]
        want = round(run["mean_generated"] * run["rounds"])
        ours = np.load(os.path.join(d, f"ss_tree_{rule}.npz"))
        theirs = np.load(os.path.join(d, f"nb_tree_{rule}.npz"))
        differ = [k for k in TREE_ARRAYS
                  if k not in ours.files or k not in theirs.files
                  or ours[k].shape != theirs[k].shape or not np.array_equal(ours[k], theirs[k])]
        if peer["generated_total"] != want or differ:
            ok = False
            first = ""
            if "tokens" in differ and ours["tokens"].shape == theirs["tokens"].shape:
                r = int(np.flatnonzero((ours["tokens"] != theirs["tokens"]).any(axis=1))[0])
                first = (f"; first differing round {r}: specsim {ours['tokens'][r].tolist()}, "
                         f"peer {theirs['tokens'][r].tolist()}")
            print(f"MISMATCH: tree {rule}: {peer['peer']}: {peer['generated_total']} tokens "
                  f"generated, specsim run: {want}; arrays that differ: {differ or 'none'}{first}")
        else:
            print(f"tree {rule} answers agree token for token ({', '.join(TREE_ARRAYS)}): "
                  f"{want} tokens generated in {run['rounds']} rounds, mean "
                  f"{run['mean_generated']}, mean acceptance rate "
                  f"{run['mean_acceptance_rate']} (specsim run and numba_tree)")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
