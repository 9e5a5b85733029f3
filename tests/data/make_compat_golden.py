"""Independent numpy implementation of the compatibility profiles (SPEC §14 as the engines'
sources have it: docs/reference/compat.md) on the chain token rule, and random adversarial rounds
with their expected outputs: golden_compat.json, read by tests/it/compat.rs, which requires
`specsim::compat::decide_chain` to give the same answer (or refuse the same rounds).

    python3 tests/data/make_compat_golden.py
"""

import json
import os

import numpy as np

F32 = np.float32

PROFILES = {
    # cmp, ignores_q, q_zero, q_above_one_ok, coins_open_closed, rejects_invalid_id, residual,
    # zero_residual, select, reports_passed
    "specsim": ("<", False, "refuse", False, False, False, "p-q", "target", "argmax", False),
    "vllm": ("<=", False, "reject", True, False, True, "p-q", "zero", "race", False),
    "sglang": ("<", True, "refuse", True, False, False, "t-without", "last", "icdf", False),
    "flashinfer": ("<", False, "accept_if_p", True, True, False, "p-q", "last", "icdf", True),
    "transformers": ("<=", False, "accept_if_p", True, False, False, "p-q", "refuse", "race", False),
}


class Refused(Exception):
    pass


def pick(row, select, u, e):
    row = np.asarray(row, dtype=F32)
    if not (row > 0).any():
        return None
    if select == "icdf" and u is not None:
        total = F32(0)
        for w in row:
            total = F32(total + w)
        thr = F32(F32(u) * total)
        acc = F32(0)
        for x, w in enumerate(row):
            acc = F32(acc + w)
            if acc > thr:
                return x
        return int(np.nonzero(row > 0)[0][-1])
    if select == "race" and e is not None:
        best = None
        for x, w in enumerate(row):
            if w <= 0:
                continue
            # w / e[x] > row[best] / e[best], exactly: products of f32 values in float64.
            if best is None or np.float64(w) * np.float64(e[best]) > np.float64(row[best]) * np.float64(e[x]):
                best = x
        return best
    return int(np.argmax(row))


def decide(profile, d, t, tok, coins, u=None, e=None):
    cmp, ign, qz, qbig, oc, rej_id, resid, zres, select, passed_count = PROFILES[profile]
    k, v = d.shape
    for i, c in enumerate(coins):
        ok = (0 < c <= 1) if oc else (0 <= c < 1)
        if not ok:
            raise Refused(f"coin {i}")
    if u is not None and not ((0 < u <= 1) if oc else (0 <= u < 1)):
        raise Refused("final coin")
    passes = []
    for i in range(k):
        x = int(tok[i])
        if not (0 <= x < v):
            if rej_id:
                passes.append(False)
                continue
            raise Refused("id")
        p = np.float64(t[i, x])
        q = F32(1) if ign else d[i, x]
        if q > 1 and not qbig:
            raise Refused("q > 1")
        if q == 0:
            if qz == "refuse":
                raise Refused("q = 0")
            passes.append(False if qz == "reject" else bool(p > 0))
            continue
        if profile == "flashinfer":
            lhs = np.float64(F32(coins[i]) * F32(q))  # FlashInfer's float product
        else:
            lhs = np.float64(coins[i]) * np.float64(q)
        passes.append(bool(lhs < p) if cmp == "<" else bool(lhs <= p))
    n = next((i for i, a in enumerate(passes) if not a), k)
    if n < k:
        if resid == "p-q":
            row = np.where(t[n] > d[n], (t[n] - d[n]).astype(F32), F32(0))
        else:
            row = t[n].copy()
            x = int(tok[n])
            if 0 <= x < v:
                row[x] = 0
    else:
        row = t[n]
    if profile == "flashinfer" and u is not None and n + 1 < k:
        u = coins[n + 1]  # uniform_samples[min(pos + 1, K)]
    chosen = pick(row, select, u, e)
    if chosen is None:
        if zres == "target":
            chosen = pick(t[n], select, u, e)
            chosen = 0 if chosen is None else chosen
        elif zres == "zero":
            chosen = 0
        elif zres == "last":
            chosen = v - 1
        else:
            raise Refused("zero row")
    tokens = [int(x) for x in tok[:n]] + [int(chosen)] + [-1] * (k - n)
    return {
        "tokens": tokens,
        "num_accepted": n,
        "num_passed": int(sum(passes)) if passed_count else n,
    }


def random_round(rng, profile):
    k = int(rng.choice([1, 2, 3, 5]))
    v = int(rng.choice([1, 2, 3, 5, 8]))
    # Rows of small integer weights over their sum (ties and zeros are common; a coin at p / q
    # is set below).
    def row():
        w = rng.integers(0, 4, size=v).astype(np.float64)
        if w.sum() == 0:
            w[rng.integers(v)] = 1
        return (w / w.sum()).astype(F32)
    d = np.stack([row() for _ in range(k)])
    t = np.stack([row() for _ in range(k + 1)])
    tok = np.array([int(rng.choice(np.nonzero(d[i] > 0)[0])) for i in range(k)], dtype=np.int64)
    coins = rng.choice([0.0, 0.25, 0.5, 0.75, 0.375, 1 - 2**-24, 0.9], size=k).astype(F32)
    if profile == "flashinfer":
        coins[coins == 0] = F32(0.125)  # (0, 1]: a zero coin would only be refused
    kind = rng.integers(0, 10)
    if kind == 0:
        tok[rng.integers(k)] = v if rng.integers(2) else -1  # an invalid id
    elif kind == 1:
        i = rng.integers(k)
        d[i, tok[i]] = 0  # a drafted token the draft gives 0
    elif kind == 2:
        i = rng.integers(k)
        d[i, tok[i]] = np.nextafter(F32(1), F32(2))  # q just above 1
    elif kind == 3:
        # A coin exactly at p / q when it is a dyadic value below 1.
        i = rng.integers(k)
        p, q = t[i, tok[i]], d[i, tok[i]]
        if q > 0 and p < q:
            coins[i] = F32(np.float64(p) / np.float64(q))
    elif kind == 4:
        coins[rng.integers(k)] = F32(1.0)
    elif kind == 5:
        t[rng.integers(k)] = d[rng.integers(k)] * F32(0.5)  # sums below 1: zero residuals
    sem = PROFILES[profile]
    # The extra input, or (one round in eight) none: the argmax path.
    extra = rng.integers(8) != 0
    us = [0.25, 0.5, 0.999, 1.0, 0.37] if sem[4] else [0.0, 0.25, 0.5, 0.999, 0.37]
    u = float(rng.choice(us)) if sem[8] == "icdf" and extra else None
    e = (rng.choice([0.5, 1.0, 1.5, 2.0], size=v).astype(F32)).tolist() if sem[8] == "race" and extra else None
    return d, t, tok, coins, u, e


def main():
    rng = np.random.default_rng(14)
    cases = []
    for profile in PROFILES:
        for _ in range(300):
            d, t, tok, coins, u, e = random_round(rng, profile)
            try:
                out = decide(profile, d, t, tok, coins, u, None if e is None else np.array(e, dtype=F32))
            except Refused as why:
                out = {"refused": str(why)}
            cases.append({
                "profile": profile,
                "draft": d.tolist(),
                "target": t.tolist(),
                "tokens": tok.tolist(),
                "coins": coins.tolist(),
                "final_coin": u,
                "exp_noise": e,
                "expected": out,
            })
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "golden_compat.json"), "w") as f:
        json.dump({"generator": "tests/data/make_compat_golden.py", "cases": cases}, f)
    print(len(cases), "cases;", sum("refused" in c["expected"] for c in cases), "refused")


if __name__ == "__main__":
    main()
