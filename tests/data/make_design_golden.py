#!/usr/bin/env python3
"""Makes tests/data/golden_design.json: cases of EAGLE-2 growth and of Sequoia's DP computed by
the independent numpy references (tests/data/eagle2_reference.py, tests/data/sequoia_reference.py),
which the Rust builders (src/topology/eagle2.rs, src/topology/sequoia.rs) must reproduce exactly
(tests/it/tree_design.rs).

- `eagle2`: random draft rows with many exact ties (values on a few levels, some uniform rows),
  one row per path, V in 3..12, k in 1..3, depth in 1..4 and every feasible n; each case stores
  the rows the reference read (keyed by the path, token ids joined by commas; "" for the root)
  and the expected parents, tokens and selected candidate ids.
- `sequoia`: random positional vectors (exact ties on a grid of 1/8, zeros, per-depth lists) and
  n in 1..24, d in 1..8, with the expected parent array and value.

Run: /work/venv/bin/python tests/data/make_design_golden.py (numpy needed).
"""
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import eagle2_reference  # noqa: E402
import sequoia_reference  # noqa: E402


def eagle2_cases(rng):
    cases = []
    for trial in range(120):
        v = int(rng.integers(3, 13))
        k = int(rng.integers(1, min(3, v) + 1))
        depth = int(rng.integers(1, 5))
        cands = k + (depth - 1) * k * k
        nodes = int(rng.integers(1, cands + 2))
        levels = int(rng.integers(2, 5))
        rows = {}

        def draft_row(path):
            key = ",".join(str(x) for x in path)
            if key not in rows:
                if rng.random() < 0.15:
                    w = np.ones(v)
                else:
                    w = rng.integers(0, levels, size=v).astype(np.float64)
                    if w.sum() == 0:
                        w[int(rng.integers(0, v))] = 1.0
                rows[key] = (w / w.sum()).tolist()
            return np.asarray(rows[key])

        parents, tokens, cand = eagle2_reference.eagle2_tree(draft_row, k, depth, nodes, v)
        cases.append({
            "k": k, "depth": depth, "nodes": nodes, "vocab": v, "rows": rows,
            "parents": [int(p) for p in parents], "tokens": [int(t) for t in tokens],
            "candidates": [int(c) for c in cand],
        })
    return cases


def sequoia_cases(rng):
    cases = []
    for trial in range(150):
        kind = trial % 3
        width = int(rng.integers(1, 6))
        if kind == 0:  # a grid of 1/8: exact ties and zeros
            parts = rng.multinomial(8, np.ones(width + 1) / (width + 1))
            P = [float(x) / 8 for x in parts[:width]]
        elif kind == 1:
            w = rng.random(width + 1)
            P = (w / w.sum())[:width].tolist()
        else:  # one list per depth
            P = []
            for _ in range(int(rng.integers(1, 4))):
                w = rng.random(width + 1)
                P.append((w / w.sum())[:width].tolist())
        n = int(rng.integers(1, 25))
        d = int(rng.integers(1, 9))
        try:
            parents, val = sequoia_reference.sequoia_tree(P, n, d)
        except ValueError:
            continue
        cases.append({"vector": P, "n": n, "depth": d,
                      "parents": [int(p) for p in parents], "value": float(val)})
    return cases


def main():
    rng = np.random.default_rng(20261207)
    doc = {
        "source": "tests/data/make_design_golden.py (eagle2_reference.py, sequoia_reference.py)",
        "eagle2": eagle2_cases(rng),
        "sequoia": sequoia_cases(rng),
    }
    with open(os.path.join(HERE, "golden_design.json"), "w") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {len(doc['eagle2'])} eagle2 and {len(doc['sequoia'])} sequoia cases")


if __name__ == "__main__":
    main()
