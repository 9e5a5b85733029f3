#!/usr/bin/env python3
"""Makes tests/data/golden_adaptive.json: adaptive draft length (SPEC §11) on small rounds,
computed by an independent numpy implementation that src/reference/adaptive.rs must equal.

Where the Rust reference uses the product formulas (and a backward induction with Dinkelbach's
iteration for the Bellman bound), this script enumerates every drafted sequence x_1..x_K (with
probability prod q̂_i(x_i), q̂ the draft row over its sum) and runs each policy on it as a
procedure: it drafts position 1, and after drafting position i < K asks the policy whether to go
on; the coins are integrated analytically (position i is accepted with probability
a_i = min(1, p_i(x_i)/q̂_i(x_i)) given the tokens, p the target row over its sum), so
E[τ | x] = sum_{i<=D} prod_{j<=i} a_j. The Bellman bound is the best rate
E[generated] / E[D c + 1] over EVERY deterministic policy that sees the drafted prefix: each
internal prefix (x_1..x_i, i < K) chooses stop or go; all 2^(#prefixes) policies are tried.

Policies: fixed:K; hf:θ (continue iff float32(q_i(x_i)) >= θ, q as given divided by its sum);
top1:θ (continue iff float32(max q_{i+1}) >= θ; a stop before K costs one discarded draft);
entropy:γ:λ (continue iff 1 - sqrt(γ H(q̂_i)) >= λ, H in nats); oracle:θ (continue iff
a_i(x_i) >= θ); specdecpp:h (after one draft, continue; after s >= 2 drafts, continue iff the
product of a_j over the s drafts is >= 1 - h: SPEC §11's L_{s-1} counted from 0).

Run: /work/venv/bin/python tests/data/make_adaptive_golden.py
"""
import itertools
import json
import math
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def norm(r):
    r = np.asarray(r, dtype=np.float64)
    return r / r.sum()


def accept(p, q):
    return min(1.0, p / q) if q > 0 else 1.0


def go(policy, i, x, q, p, l_prev, l_i):
    """Continue after drafting position i (1-based), token x, given the rows and products."""
    name, *args = policy.split(":")
    j = i - 1
    if name == "fixed":
        return i < int(args[0])
    if name == "hf":
        return np.float32(q[j][x]) >= np.float32(float(args[0]))
    if name == "top1":
        return np.float32(q[j + 1].max()) >= np.float32(float(args[0]))
    if name == "entropy":
        g, lam = float(args[0]), float(args[1])
        h = -sum(v * math.log(v) for v in q[j] if v > 0)
        return 1.0 - math.sqrt(g * h) >= lam
    if name == "oracle":
        return accept(p[j][x], q[j][x]) >= float(args[0])
    if name == "specdecpp":
        return i < 2 or l_i >= 1.0 - float(args[0])
    raise ValueError(policy)


def run(policy_fn, q, p):
    """(E[D], E[tau], pmf D, E[discarded]) of a policy given as policy_fn(i, x, prefix, l_prev, l_i)."""
    k, v = len(q), len(q[0])
    ed = et = disc = 0.0
    pmf = [0.0] * (k + 1)
    for xs in itertools.product(range(v), repeat=k):
        w = float(np.prod([q[i][x] for i, x in enumerate(xs)]))
        if w == 0.0:
            continue
        d, l, tau, l_prev = 0, 1.0, 0.0, 1.0
        for i in range(1, k + 1):
            x = xs[i - 1]
            d = i
            l_prev, l = l, l * accept(p[i - 1][x], q[i - 1][x])
            tau += l
            if i == k or not policy_fn(i, x, xs[:i], l_prev, l):
                break
        ed += w * d
        et += w * tau
        pmf[d] += w
        if d < k:
            disc += w
    return ed, et, pmf, disc


def bellman_brute(q, p, c):
    k, v = len(q), len(q[0])
    prefixes = [pre for i in range(1, k) for pre in itertools.product(range(v), repeat=i)]
    best = -1.0
    for choice in itertools.product([False, True], repeat=len(prefixes)):
        table = dict(zip(prefixes, choice))
        ed, et, _, _ = run(lambda i, x, pre, lp, l: table[pre], q, p)
        best = max(best, (1.0 + et) / (ed * c + 1.0))
    return best


def main():
    rng = np.random.default_rng(1207)
    policies = ["fixed:1", "fixed:2", "fixed:3", "hf:0.3", "hf:0.6", "top1:0.5", "top1:0.8",
                "entropy:0.5:0.3", "entropy:2:0.1", "oracle:0.5", "oracle:0.9", "specdecpp:0.3",
                "specdecpp:0.7"]
    cases = []
    for trial in range(40):
        v = int(rng.integers(2, 4))
        k = int(rng.integers(1, 4))
        sharp = float(rng.choice([0.3, 1.0, 3.0]))
        q = [norm(rng.dirichlet(np.full(v, sharp))) for _ in range(k)]
        p = [norm(rng.dirichlet(np.full(v, sharp))) for _ in range(k + 1)]
        c = float(rng.choice([0.0, 0.05, 0.2, 0.5]))
        out = {"draft": [list(map(float, r)) for r in q], "target": [list(map(float, r)) for r in p],
               "cost_ratio": c, "policies": {}}
        for pol in policies:
            ed, et, pmf, disc = run(lambda i, x, pre, lp, l: go(pol, i, x, q, p, lp, l), q, p)
            steps = ed + (disc if pol.startswith("top1") else 0.0)
            out["policies"][pol] = {"expected_drafted": ed, "expected_accepted": et, "pmf_drafted": pmf,
                                    "expected_draft_steps": steps, "rate": (1 + et) / (steps * c + 1)}
        out["bellman_rate"] = bellman_brute(q, p, c)
        # The bound is at least every policy's rate that drafts no discarded token.
        for pol, r in out["policies"].items():
            if not pol.startswith("top1"):
                assert r["rate"] <= out["bellman_rate"] + 1e-12, (pol, r["rate"], out["bellman_rate"])
        cases.append(out)
    with open(os.path.join(HERE, "golden_adaptive.json"), "w") as f:
        json.dump({"source": "tests/data/make_adaptive_golden.py", "cases": cases}, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {len(cases)} cases")


if __name__ == "__main__":
    main()
