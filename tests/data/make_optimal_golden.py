#!/usr/bin/env python3
"""Makes tests/data/golden_optimal.json.gz: the optimal multi-draft bound alpha* (SPEC §8) at one
node, computed by an independent numpy float64 implementation that never uses the prefix
property the Rust reference relies on:

- "brute": for V <= 10, the minimum over *every* subset H of the vocabulary of
  p(H) + 1 - Q(S ⊆ H), with Q(S ⊆ H) = q(H)^n (iid), the exact without-replacement containment
  probability by a dynamic programme over the drawn sets (wor), or the indicator of top-n ⊆ H
  (top). For V <= 4 and n <= 2 (iid) the script also solves the coupling linear program (scipy)
  and asserts that it equals the brute force, so the definition itself is checked.
- "wor_prefix": for V = 200 with tiny and large probabilities, the exact without-replacement
  containment of every prefix of the tokens sorted by p/q (n = 2 and 3, by their closed sums), to
  check the Rust exponential-clock integral to 1e-12.
- "rrs": rrs's acceptance at the node with n i.i.d. children (1 - prod (1 - beta_j), the residual
  recursion of SPEC §7), which must not exceed alpha*_iid.
- "spectr": SpecTr's acceptance at the node with n i.i.d. children (1 - (1 - beta(rho*))^n, rho*
  by plain bisection on direct sums with the condition held to within tau = (V + 4) 2^-52, so that
  p = q gives rho* = 1; sum(min(p, q)) for n = 1, the token rule; SPEC §7), which must lie in
  [(1 - 1/e) alpha*_iid, alpha*_iid].

Run once, from anywhere:

    python3 -m venv /tmp/pyenv && /tmp/pyenv/bin/pip install numpy scipy
    /tmp/pyenv/bin/python tests/data/make_optimal_golden.py

The output is committed; the Rust tests read it without Python. Deterministic (fixed seed, gzip
mtime 0).

Layout (JSON, gzip): {"seed", "brute": [{"p", "q", "n", "mode", "alpha_star", "p_h", "q_h"}],
"wor_prefix": [{"q", "n", "contained"}] (q in prefix order, contained[k] for k = 0..m),
"rrs": [{"p", "q", "n", "acceptance"}],
"spectr": [{"p", "q", "n", "acceptance"}]}.
"""

import gzip
import itertools
import json
import os

import numpy as np

SEED = 20261207


def wor_set_probs(q, n):
    """P(the first n draws without replacement are exactly the set `mask`), for every mask of n
    tokens (a dict mask -> probability), by a DP over the drawn sets."""
    v = len(q)
    probs = {0: 1.0}
    for _ in range(n):
        nxt = {}
        for mask, pr in probs.items():
            # The undrawn mass summed directly (1 - drawn would cancel when it is tiny).
            rest = sum(q[x] for x in range(v) if not mask >> x & 1)
            for x in range(v):
                if mask >> x & 1 or q[x] == 0.0:
                    continue
                nxt[mask | 1 << x] = nxt.get(mask | 1 << x, 0.0) + pr * q[x] / rest
        probs = nxt
    return probs


def top_n(q, n):
    return sorted(range(len(q)), key=lambda x: (-q[x], x))[:n]


def brute(p, q, n, mode):
    v = len(p)
    sets = wor_set_probs(q, n) if mode == "wor" else None
    top = sum(1 << x for x in top_n(q, n)) if mode == "top" else None
    best = (np.inf, 0.0, 0.0)
    for h in range(1 << v):
        ph = sum(p[x] for x in range(v) if h >> x & 1)
        qh = sum(q[x] for x in range(v) if h >> x & 1)
        if mode == "iid":
            contained = min(qh, 1.0) ** n
        elif mode == "wor":
            contained = sum(pr for mask, pr in sets.items() if mask & ~h == 0)
        else:
            contained = 1.0 if top & ~h == 0 else 0.0
        value = ph + 1.0 - contained
        if value < best[0] - 1e-15:
            best = (value, ph, qh)
    return best


def coupling_lp(p, q, n):
    """max P(output in drafts) over couplings of (n iid drafts from q, output ~ p)."""
    from scipy.optimize import linprog

    v = len(p)
    seqs = list(itertools.product(range(v), repeat=n))
    nvar = len(seqs) * v
    c = np.zeros(nvar)
    a_eq, b_eq = [], []
    for i, s in enumerate(seqs):
        row = np.zeros(nvar)
        row[i * v:(i + 1) * v] = 1.0
        a_eq.append(row)
        b_eq.append(np.prod([q[x] for x in s]))
        for y in set(s):
            c[i * v + y] = -1.0
    for y in range(v):
        row = np.zeros(nvar)
        row[y::v] = 1.0
        a_eq.append(row)
        b_eq.append(p[y])
    res = linprog(c, A_eq=np.array(a_eq), b_eq=np.array(b_eq), bounds=(0, None), method="highs")
    assert res.status == 0, res.message
    return -res.fun


def rrs_acceptance(p, q, n):
    r = p.copy()
    none = 1.0
    for _ in range(n):
        beta = np.minimum(r, q).sum()
        none *= 1.0 - beta
        res = np.maximum(r - q, 0.0)
        s = res.sum()
        if s == 0.0:
            return 1.0
        r = res / s
    return 1.0 - none


def spectr_acceptance(p, q, n):
    """SpecTr's K-SEQ at a node of n i.i.d. children (SPEC §7), p and q the node's rows divided by
    their sums: sum(min(p, q)) for n == 1 (the token rule); else 1 - (1 - beta(rho*))^n, rho* the
    smallest rho in [1, n] with rho beta(rho) - 1 + (1 - beta(rho))^n >= -tau, tau = (V + 4) 2^-52
    (the rounding of the sums; rho* = 1 where the condition holds at 1), by plain bisection keeping
    the upper end valid, on direct sums."""
    if n == 1:
        return float(np.minimum(p, q).sum())
    tau = (len(p) + 4) * 2.0 ** -52

    def beta(rho):
        return float(np.minimum(q, p / rho).sum())

    def g(rho):
        b = beta(rho)
        return rho * b - 1.0 + (1.0 - b) ** n

    lo, hi = 1.0, float(n)
    if g(lo) < -tau:
        for _ in range(200):
            mid = lo + (hi - lo) / 2.0
            if mid <= lo or mid >= hi:
                break
            if g(mid) >= -tau:
                hi = mid
            else:
                lo = mid
        rho = hi
    else:
        rho = 1.0
    return 1.0 - (1.0 - beta(rho)) ** n


def wor_prefix_exact(qs, n):
    """contained[k] for every prefix of qs (already in prefix order), exactly by sums."""
    m = len(qs)
    out = []
    for k in range(m + 1):
        h = qs[:k]
        if k < n:
            out.append(0.0)
        elif k == m:
            out.append(1.0)
        elif n == 2:
            qh = h.sum()
            out.append(float(sum(x * (qh - x) / (1.0 - x) for x in h)))
        else:  # n == 3
            qh = h.sum()
            tot = 0.0
            for i, x in enumerate(h):
                for j, y in enumerate(h):
                    if i == j:
                        continue
                    tot += x * y / (1.0 - x) * (qh - x - y) / (1.0 - x - y)
            out.append(float(tot))
    return out


def row(rng, v, kind):
    if kind == "dirichlet":
        return rng.dirichlet(np.full(v, 0.5))
    if kind == "sparse":
        x = rng.dirichlet(np.full(v, 0.5))
        x[rng.random(v) < 0.3] = 0.0
        if x.sum() == 0.0:
            x[0] = 1.0
        return x / x.sum()
    z = rng.standard_normal(v) - 2.0 * np.log1p(np.arange(v))
    x = np.exp(z - z.max())
    return x / x.sum()


def main():
    rng = np.random.default_rng(SEED)
    brute_cases, rrs_cases, prefix_cases, spectr_cases = [], [], [], []
    for v in (2, 3, 4, 6, 8, 10):
        for kind in ("dirichlet", "sparse", "zipf"):
            for _ in range(2 if v >= 8 else 3):
                p, q = row(rng, v, kind), row(rng, v, kind)
                support = int((q > 0).sum())
                for n in (1, 2, 3, 4):
                    for mode in ("iid", "wor", "top"):
                        if mode == "wor" and n > support or n > v:
                            continue
                        value, ph, qh = brute(p, q, n, mode)
                        if mode == "iid" and v <= 4 and n <= 2:
                            lp = coupling_lp(p, q, n)
                            assert abs(lp - value) < 1e-9, (p, q, n, lp, value)
                        if n == 1 and mode != "top":
                            assert abs(value - np.minimum(p, q).sum()) < 1e-12
                        brute_cases.append({"p": p.tolist(), "q": q.tolist(), "n": n, "mode": mode,
                                            "alpha_star": value, "p_h": ph, "q_h": qh})
                    rrs_cases.append({"p": p.tolist(), "q": q.tolist(), "n": n,
                                      "acceptance": rrs_acceptance(p, q, n)})
                    spectr_cases.append({"p": p.tolist(), "q": q.tolist(), "n": n,
                                         "acceptance": spectr_acceptance(p, q, n)})
    for kind in ("dirichlet", "zipf"):
        p, q = row(rng, 200, kind), row(rng, 200, kind)
        q = q / q.sum()
        order = sorted((x for x in range(200) if q[x] > 0), key=lambda x: (p[x] / q[x], x))
        qs = q[order]
        qs = qs / qs.sum()
        for n in (2, 3):
            prefix_cases.append({"q": qs.tolist(), "n": n, "contained": wor_prefix_exact(qs, n)})
    doc = {"seed": SEED, "brute": brute_cases, "wor_prefix": prefix_cases, "rrs": rrs_cases,
           "spectr": spectr_cases}
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden_optimal.json.gz")
    with open(out, "wb") as f:
        with gzip.GzipFile(fileobj=f, mode="wb", mtime=0) as g:
            g.write(json.dumps(doc).encode())
    print(f"wrote {out}: {len(brute_cases)} brute-force cases, {len(prefix_cases)} prefix cases, "
          f"{len(rrs_cases)} rrs cases, {len(spectr_cases)} spectr cases")


if __name__ == "__main__":
    main()
