#!/usr/bin/env python3
"""Makes tests/data/golden_distortion.json.gz: the exact distortion of SPEC §13, computed by an
independent numpy implementation that src/reference/lossy/ must equal.

Where the Rust reference sums closed forms (o(y) = D(y)α(y) + Σ_x D(x)(1−α(x))ρ(y|x), and the
completed sequence's law as a sum over the position of the rejection), this script walks the
round as a probability tree: for every drafted token x (with its probability under the draft law)
it branches on accept (probability α) and reject (1 − α, then each replacement y with ρ(y|x)),
accumulating the emitted sequence's probability, and completes it with the target's own draws.
The per-position laws are read off the same walk, one position at a time.

Rules (rows divided by their sums; ties to the lowest id):
- token: α = min(1, p/q); ρ = max(p − q, 0) normalised (sample) or its argmax (argmax);
- lenient:l: α = min(1, p/(l q)); ρ = max(p − l q, 0) normalised, or its argmax;
- typical:eps:delta: α = 1[p(x) > min(eps, delta exp(−H))], H = −Σ p ln(p + 1e−5); ρ = p or δ(argmax p);
- sglang:ts:ta: α = 1 if p(x) ≥ ts else min(1, p(x)/ta); ρ = p with x zeroed, normalised, or its argmax;
- greedy (the tree rule on a chain): α = 1[x = argmax p]; ρ as sglang's.
A replacement without mass is p (sample) or δ(argmax p) (argmax). Draft law: q (sample) or
δ(argmax q) (top1). The bonus: p_{K+1} (sample) or δ(argmax p_{K+1}) (argmax).

Also checks, before writing: token/sample has TV 0; sglang:1:1 has TV 0 for both draft laws;
typical with q = p has TV p(S)(1 − p(S)); lenient's acceptance is Σ min(q, p/l); the exact TV
lies in [tv_low, tv_high]. Run: /work/venv/bin/python tests/data/make_distortion_golden.py
"""
import gzip
import itertools
import json
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def argmax_delta(w):
    d = np.zeros(len(w))
    d[int(np.argmax(w))] = 1.0  # numpy's argmax: the first of equal maxima
    return d


def repl(w, p, how):
    src = w if w.sum() > 0 else p
    return src / src.sum() if how == "sample" else argmax_delta(src)


def parse(rule):
    name, *args = rule.split(":")
    args = [float(a) for a in args]
    if name == "typical" and not args:
        args = [0.09, 0.3]
    return name, args


def accept_and_replace(rule, p, q, x, how):
    """(α(x), ρ(·|x)) for drafted token x."""
    name, args = parse(rule)
    if name in ("token", "lenient"):
        l = args[0] if name == "lenient" else 1.0
        a = min(1.0, p[x] / (l * q[x])) if q[x] > 0 else 1.0
        return a, repl(np.maximum(p - l * q, 0.0), p, how)
    if name == "typical":
        eps, delta = args
        h = -np.sum(p * np.log(p + 1e-5))
        return (1.0 if p[x] > min(eps, delta * np.exp(-h)) else 0.0), repl(p, p, how)
    if name in ("sglang", "greedy"):
        if name == "greedy":
            a = 1.0 if x == int(np.argmax(p)) else 0.0
        else:
            ts, ta = args
            a = 1.0 if p[x] >= ts else min(1.0, p[x] / ta)
        w = p.copy()
        w[x] = 0.0
        return a, repl(w, p, how)
    raise ValueError(rule)


def draft_law(q, law):
    return q if law == "sample" else argmax_delta(q)


def walk(q, p, rule, law, how):
    """Per-position (acceptance, emitted law) and, when small, the completed sequence's law."""
    k, v = len(q), len(p[0])
    acceptance, tvs = [], []
    for i in range(k):
        d = draft_law(q[i], law)
        o = np.zeros(v)
        a_tot = 0.0
        for x in range(v):
            if d[x] <= 0:
                continue
            a, rho = accept_and_replace(rule, p[i], q[i], x, how)
            o[x] += d[x] * a
            a_tot += d[x] * a
            o += d[x] * (1 - a) * rho
        acceptance.append(a_tot)
        tvs.append(0.5 * np.abs(o - p[i]).sum())
    bonus = p[k] if how == "sample" else argmax_delta(p[k])
    tvs.append(0.5 * np.abs(bonus - p[k]).sum())
    exact = None
    if v ** (k + 1) <= 4096:
        law_p = {}

        def emit(prefix, prob, i):
            if prob == 0:
                return
            if i == k:
                for y in range(v):
                    add(prefix + (y,), prob * bonus[y], k + 1)
                return
            d = draft_law(q[i], law)
            for x in range(v):
                if d[x] <= 0:
                    continue
                a, rho = accept_and_replace(rule, p[i], q[i], x, how)
                emit(prefix + (x,), prob * d[x] * a, i + 1)
                for y in range(v):
                    add(prefix + (y,), prob * d[x] * (1 - a) * rho[y], i + 1)

        def add(seq, prob, nxt):
            # Complete with the target's own draws from position nxt on.
            if prob == 0:
                return
            if nxt > k:
                law_p[seq] = law_p.get(seq, 0.0) + prob
                return
            for y in range(v):
                add(seq + (y,), prob * p[nxt][y], nxt + 1)

        emit((), 1.0, 0)
        total = 0.0
        for seq in itertools.product(range(v), repeat=k + 1):
            t = np.prod([p[j][seq[j]] for j in range(k + 1)])
            total += abs(law_p.get(seq, 0.0) - t)
        exact = 0.5 * total
    reach, expected, low, high = 1.0, 0.0, 0.0, 0.0
    for i, t in enumerate(tvs):
        low = max(low, reach * t)
        high += reach * t
        if i < k:
            reach *= acceptance[i]
            expected += reach
    return {"acceptance": acceptance, "tv": tvs, "expected_accepted": expected,
            "tv_low": low, "tv_high": high, "tv_exact": exact}


def rows(rng, n, v, levels):
    out = []
    for _ in range(n):
        w = rng.integers(0, levels, size=v).astype(float) + (rng.random(v) if levels > 4 else 0)
        w[int(rng.integers(0, v))] += 1.0
        out.append(w / w.sum())
    return out


def main():
    rng = np.random.default_rng(131)
    rules = ["token", "typical", "typical:0.2:0.5", "lenient:0.5", "lenient:0.9", "sglang:1:1",
             "sglang:0.4:0.6", "sglang:0:1", "greedy"]
    cases = []
    for trial in range(48):
        v = int(rng.integers(2, 6))
        k = int(rng.integers(1, 4))
        levels = int(rng.choice([3, 10]))
        q, p = rows(rng, k, v, levels), rows(rng, k + 1, v, levels)
        for rule in rules:
            for law in ("sample", "top1"):
                for how in ("sample", "argmax"):
                    r = walk(q, p, rule, law, how)
                    if r["tv_exact"] is not None:
                        assert r["tv_low"] <= r["tv_exact"] + 1e-12 <= r["tv_high"] + 2e-12, (rule, law, how, r)
                    if rule == "token" and law == "sample" and how == "sample":
                        assert max(r["tv"]) < 1e-12 and (r["tv_exact"] or 0) < 1e-12
                    if rule == "sglang:1:1" and how == "sample":
                        assert max(r["tv"]) < 1e-12, (law, r)
                    if rule == "lenient:0.5" and law == "sample":
                        want = [np.minimum(q[i], p[i] / 0.5).sum() for i in range(k)]
                        assert np.allclose(r["acceptance"], want, atol=1e-14)
                    cases.append({"rule": rule, "draft": law, "recovery": how,
                                  "draft_probs": [list(x) for x in q],
                                  "target_probs": [list(x) for x in p], **r})
    # typical with q = p: TV p(S)(1 − p(S)).
    p = rows(rng, 1, 6, 10)[0]
    r = walk([p], [p, p], "typical:0.2:0.3", "sample", "sample")
    h = -np.sum(p * np.log(p + 1e-5))
    ps = p[p > min(0.2, 0.3 * np.exp(-h))].sum()
    assert abs(r["tv"][0] - ps * (1 - ps)) < 1e-14
    with gzip.open(os.path.join(HERE, "golden_distortion.json.gz"), "wt") as f:
        json.dump({"source": "tests/data/make_distortion_golden.py", "cases": cases}, f,
                  separators=(",", ":"))
        f.write("\n")
    print(f"wrote {len(cases)} cases")


if __name__ == "__main__":
    main()
