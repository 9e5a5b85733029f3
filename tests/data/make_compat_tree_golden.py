"""Independent numpy implementation of the tree rules' compatibility profiles (SPEC §14 as the
engines' sources have it: docs/reference/compat.md, "Tree rules"), written from that text and
SGLang's kernels (`TreeSpeculativeSamplingTargetOnly`, `verify_tree_greedy`), and random
adversarial tree rounds with their expected outputs: golden_compat_tree.json.gz, read by
tests/it/compat_tree.rs, which requires `specsim::compat::decide_tree` to give the same answer (or
refuse the same rounds).

    python3 tests/data/make_compat_tree_golden.py
"""

import gzip
import json
import os

import numpy as np

from make_compat_golden import pick

F32 = np.float32

PAIRS = [("specsim", "greedy"), ("specsim", "target-only"), ("sglang", "greedy"),
         ("sglang", "target-only"), ("vllm", "greedy")]


class Refused(Exception):
    pass


def children(parents, u):
    return [c for c in range(len(parents)) if parents[c] == u]


def depth(parents):
    d = [0] * len(parents)
    for c in range(1, len(parents)):
        d[c] = d[parents[c]] + 1
    return max(d)


def first_max(row):
    """torch.argmax / np.argmax: the lowest id of the maximum (0 on an all-zero row)."""
    return int(np.argmax(np.asarray(row, dtype=F32)))


def icdf(row, u):
    """SGLang's sampling from a row with a coin: the chain profiles' inverse CDF
    (make_compat_golden.pick): None on an all-zero row."""
    return pick(row, "icdf", u, None)


def decide(profile, rule, parents, tok, coins, t, u):
    n, v = t.shape
    specsim = profile == "specsim"
    to = rule == "target-only"
    if to or specsim:
        for i, c in enumerate(coins):
            if not (0 <= c < 1):
                raise Refused(f"coin {i}")
    if not np.all(np.isfinite(t)) or (t < 0).any():
        raise Refused("target row")
    sampled = profile == "sglang" and to
    if u is not None and not sampled:
        raise Refused("final coin without inverse CDF")
    if u is not None and not (0 <= u < 1):
        raise Refused("final coin domain")

    def valid(c):
        return 0 <= tok[c] < v

    for c in range(1, n):
        if not valid(c) and (to or specsim):
            raise Refused(f"token {c}")
    if to and specsim:
        for w in range(n):
            seen = [tok[c] for c in children(parents, w)]
            if len(set(seen)) != len(seen):
                raise Refused("duplicate siblings")

    def select(w, row):
        if specsim or not to:
            if (np.asarray(w) > 0).any():
                return first_max(w)
            return first_max(row)
        x = icdf(w, u) if u is not None else (first_max(w) if (np.asarray(w) > 0).any() else None)
        return v - 1 if x is None else x

    d = depth(parents)
    tokens = [-1] * (d + 1)
    nodes = [-1] * d
    a = 0
    node = 0
    while True:
        ch = children(parents, node)
        row = t[node]
        nxt = None
        if ch and to:
            coin = coins[node]
            s64, s32 = 0.0, F32(0)
            for c in ch:
                p = row[tok[c]]
                if specsim:
                    s64 += float(p)
                    if float(coin) < s64:
                        nxt = c
                        break
                else:
                    s32 = F32(s32 + p)
                    # SGLang since its PR #35798: a half-open bucket, no zero-mass child.
                    if p > 0 and (coin < s32 or p >= 1):
                        nxt = c
                        break
        elif ch:
            s = first_max(row)
            for c in ch:
                if valid(c) and tok[c] == s:
                    nxt = c
                    break
        if nxt is not None:
            tokens[a] = int(tok[nxt])
            nodes[a] = nxt
            a += 1
            node = nxt
            continue
        if to and ch:
            w = row.copy()
            for c in ch:
                w[tok[c]] = 0
            tokens[a] = select(w, row)
        else:
            tokens[a] = select(row, row)
        return {"tokens": tokens, "nodes": nodes, "num_accepted": a}


def random_round(rng, profile, rule):
    n = int(rng.integers(1, 12))
    v = int(rng.integers(1, 9))
    parents = [-1] + [int(rng.integers(0, c)) for c in range(1, n)]
    if rng.integers(3) == 0:
        parents = [-1] + [int(rng.integers(max(0, c - 2), c)) for c in range(1, n)]
    # Rows of multiples of 1/8, some unnormalised, some with f32-rounding values, some all zero.
    t = np.zeros((n, v), dtype=F32)
    for u in range(n):
        kind = rng.integers(6)
        if kind == 0:
            continue
        if kind == 1:
            t[u] = rng.choice([0.1, 0.2, 0.3, 0.7], size=v).astype(F32)
        else:
            w = rng.integers(0, 4, size=v).astype(np.float64)
            if w.sum() == 0:
                w[rng.integers(v)] = 1
            t[u] = (w / w.sum()).astype(F32) if kind != 2 else (w / 8).astype(F32)
    tok = [0] + [int(rng.integers(0, v)) for _ in range(1, n)]
    if rng.integers(6) == 0 and n > 1:
        tok[int(rng.integers(1, n))] = v if rng.integers(2) else -1
    if rng.integers(3) == 0:
        # Each child the parent's argmax (greedy accepts) where it can.
        for c in range(1, n):
            tok[c] = first_max(t[parents[c]])
    if rule == "target-only" and rng.integers(3) != 0:
        # Distinct sibling tokens where V allows (specsim refuses duplicates).
        for w in range(n):
            ch = children(parents, w)
            if 0 < len(ch) <= v:
                for c, x in zip(ch, rng.permutation(v)[: len(ch)]):
                    tok[c] = int(x)
    coins = rng.choice([0.0, 0.1, 0.25, 0.3, 0.5, 0.75, 0.9, 1 - 2**-24], size=n).astype(F32)
    # Coins exactly at running sums (f32 and f64), and the f32 step either side.
    for u in range(n):
        ch = children(parents, u)
        if ch and rng.integers(2) == 0:
            j = int(rng.integers(len(ch)))
            s = F32(0)
            for c in ch[: j + 1]:
                s = F32(s + (t[u][tok[c]] if 0 <= tok[c] < v else 0))
            if s < 1:
                coins[u] = [s, np.nextafter(s, F32(0)), np.nextafter(s, F32(1))][int(rng.integers(3))]
    if rng.integers(20) == 0:
        coins[int(rng.integers(n))] = F32(1.0)
    u = None
    if profile == "sglang" and rule == "target-only" and rng.integers(8) != 0:
        u = float(rng.choice([0.0, 0.25, 0.5, 0.37, 0.999]))
    elif rng.integers(30) == 0:
        u = 0.5  # refused where nothing is sampled
    return parents, tok, coins, t, u


def main():
    rng = np.random.default_rng(27)
    cases = []
    for profile, rule in PAIRS:
        for _ in range(300):
            parents, tok, coins, t, u = random_round(rng, profile, rule)
            try:
                out = decide(profile, rule, parents, tok, coins, t, u)
            except Refused as why:
                out = {"refused": str(why)}
            cases.append({
                "profile": profile,
                "rule": rule,
                "parents": parents,
                "tokens": tok,
                "coins": coins.tolist(),
                "target": t.tolist(),
                "final_coin": u,
                "expected": out,
            })
    here = os.path.dirname(os.path.abspath(__file__))
    # mtime=0: the same bytes on every run.
    with gzip.GzipFile(os.path.join(here, "golden_compat_tree.json.gz"), "wb", mtime=0) as f:
        f.write(json.dumps({"generator": "tests/data/make_compat_tree_golden.py", "cases": cases}).encode())
    print(len(cases), "cases;", sum("refused" in c["expected"] for c in cases), "refused")


if __name__ == "__main__":
    main()
