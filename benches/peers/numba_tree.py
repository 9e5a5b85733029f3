"""Peer: a numba-jitted parallel tree walk for a tree batch (SPEC section 7, target-only and rrs).

    python numba_tree.py DIR --rule target-only|rrs [--validate touched|none] [--reps 5]
                         [--out tokens.npz]

Reads the tree batch directory `specsim run DIR --rule R` reads (docs/reference/file-formats.md,
"Tree batches"; make_batch.py --tree writes one): parents.npy [n] (one tree) or [N, n] (a tree per
round), draft_probs.npy and target_probs.npy [N, n, V] float32, draft_tokens.npy [N, n] and
random_coins.npy [N, n] float32, memory-mapped (np.load(mmap_mode='r')). @njit(parallel=True)
over rounds (prange); each round walks its tree from the root, reading only what the rule needs,
with specsim's default recovery (argmax correction and bonus; ties to the lowest id):

- target-only: at node u, S_j is the float32 running sum of t[tok(c_i)] over u's children in
  node order; the first child with coin[u] < S_j is accepted (scalars only). Otherwise the
  correction is the argmax of row t with the children's tokens set to 0 (argmax t if that is
  zero everywhere): the one row read in full. A leaf's bonus: argmax of its target row.
- rrs: specsim's CPU engine's arithmetic, bit for bit (src/cpu/tree/rrs.rs): with a_0 = 0,
  N_0 = 1, child j with token x is accepted iff coin[c_j] * q[x] * N_j < u_j[x], where
  u_j[x] = max(t[x] - fl(a_j * q[x]), 0) (float32 product, then float32 subtraction),
  N_j is the float32 sum of u_j in specsim's fixed order (256 lanes, lane l adding x = l,
  l + 256, ... in turn, then a pairwise tree over the lanes) and a_{j+1} = fl(a_j + N_j). The test
  is decided exactly: coin * q is exact in float64 (48 bits), and the sign of coin*q*N - u is
  settled by Dekker's exact product when the rounded float64 product ties u (accepts()). The
  first rejection at a node reads its two rows; N_j = 0 stops with argmax t, and after the last
  child the correction is the argmax of the residual.

--validate touched (default): what specsim's `run --validate touched` checks on a tree batch
  (src/cpu/tree/mod.rs, Rounds::validate_touched): every token in 0..V and every coin in [0, 1);
  every drafted p (and under rrs q) finite and >= 0; siblings' tokens distinct (target-only) or
  their q > 0 (rrs); then the target row of every node the walk visits and, under rrs, the draft
  row of every visited node where a child was rejected (finite, >= 0, float64 sum within 1e-3
  of 1: numba_lazy.row_ok, its f64 sum vectorised with fastmath={"reassoc"}).
--validate none: no checks at all (the walk alone; for reference, not in compare.sh).
A bad round makes the script fail naming the first bad round.

Timed: compute only (the memory-maps opened and the JIT compiled by one warm-up run before the
timer), time.perf_counter, best of --reps. Prints one JSON line as numba_lazy.py; --out writes
what `specsim run DIR --rule R --out` writes: tokens [N, depth+1] and accepted_nodes [N, depth]
int32 padded with -1, num_accepted and num_generated [N] int32.
"""

import argparse
import json
import os
import sys
import time

import numpy as np
from numba import njit, prange

import numba_lazy

# numba_lazy's row check (finite, >= 0, f64 sum within 1e-3 of 1), compiled on its own with
# fastmath={"reassoc"} so that its f64 sum vectorises: inline="always" would inline it into
# tree_loop, which is compiled without fastmath (its f32 sums must keep their order).
row_ok = njit(fastmath=numba_lazy.FAST)(numba_lazy.row_ok.py_func)

LANES = 256  # specsim's fixed summation order (the shader's workgroup size)
RULES = {"target-only": 0, "rrs": 1}
F0 = np.float32(0.0)
F1 = np.float32(1.0)
SPLIT = 134217729.0  # 2^27 + 1: Veltkamp's splitter for float64


def load(batch):
    get = lambda name: np.load(os.path.join(batch, name + ".npy"), mmap_mode="r")
    if not os.path.exists(os.path.join(batch, "parents.npy")):
        sys.exit(f"numba_tree: {batch} has no parents.npy: not a tree batch")
    parents = np.asarray(get("parents"), dtype=np.int64)
    if parents.ndim == 1:
        parents = parents[None, :]
    parents = np.ascontiguousarray(parents)
    arrays = [np.asarray(get(k)) for k in
              ("draft_probs", "target_probs", "draft_tokens", "random_coins")]
    for name, x in zip(("draft_probs", "target_probs", "random_coins"),
                       (arrays[0], arrays[1], arrays[3])):
        if x.dtype != np.float32:
            sys.exit(f"numba_tree: {name} is {x.dtype}; this peer reads float32 batches")
    n_rounds, n, _ = arrays[1].shape
    if arrays[0].shape != arrays[1].shape or arrays[2].shape != (n_rounds, n) \
            or arrays[3].shape != (n_rounds, n) or parents.shape[1] != n \
            or parents.shape[0] not in (1, n_rounds):
        sys.exit("numba_tree: the arrays' shapes do not make a tree batch")
    for p in parents:
        if p[0] != -1 or not all(0 <= p[i] < i for i in range(1, n)):
            sys.exit("numba_tree: parents is not a parent array")
    return [parents] + arrays


def depths(parents):
    """Each round tree's depth (one entry per row of parents)."""
    out = np.zeros(len(parents), dtype=np.int64)
    for k, p in enumerate(parents):
        level = np.zeros(len(p), dtype=np.int64)
        for i in range(1, len(p)):
            level[i] = level[p[i]] + 1
        out[k] = level.max()
    return out


@njit(inline="always")
def accepts(coin, q, n, u):
    """Exactly: is coin * q * n < u, for non-negative finite float32 values? (specsim's
    accepts_ratio with w = 1.) coin * q is exact in float64; the float64 product hi = fl(p * n)
    is rounded monotonically, so it decides unless it equals u, where the sign of the exact
    error p * n - hi decides (Dekker: p split in halves of <= 26 bits, n has 24, so every
    partial product and the sum below are exact; no value here under- or overflows float64)."""
    if u == 0.0:
        return False
    if coin == 0.0 or q == 0.0 or n == 0.0:
        return True
    p = np.float64(coin) * np.float64(q)
    nn = np.float64(n)
    uu = np.float64(u)
    hi = p * nn
    if hi != uu:
        return hi < uu
    c = SPLIT * p
    ph = c - (c - p)
    pl = p - ph
    return (ph * nn - hi) + pl * nn < 0.0


@njit(inline="always")
def residual(t, a, q):
    """max(t - fl(a * q), 0) in float32 (the product rounded before the subtraction)."""
    aq = a * q
    r = t - aq
    return r if r > F0 else F0


@njit(inline="always")
def reduce_lanes(lanes):
    width = LANES // 2
    while width > 0:
        for l in range(width):
            lanes[l] += lanes[l + width]
        width //= 2
    return lanes[0]


@njit(inline="always")
def residual_sum(t, q, a, lanes):
    """N = the float32 sum of max(t - fl(a q), 0) in specsim's lane order."""
    v = t.shape[0]
    lanes[:] = F0
    base = 0
    while base + LANES <= v:
        for l in range(LANES):
            lanes[l] += residual(t[base + l], a, q[base + l])
        base += LANES
    for l in range(v - base):
        lanes[l] += residual(t[base + l], a, q[base + l])
    return reduce_lanes(lanes)


@njit(inline="always")
def residual_store_sum(t, q, a, lanes, res):
    """residual_sum, also writing the residual into res (for its argmax)."""
    v = t.shape[0]
    lanes[:] = F0
    base = 0
    while base + LANES <= v:
        for l in range(LANES):
            x = residual(t[base + l], a, q[base + l])
            res[base + l] = x
            lanes[l] += x
        base += LANES
    for l in range(v - base):
        x = residual(t[base + l], a, q[base + l])
        res[base + l] = x
        lanes[l] += x
    return reduce_lanes(lanes)


@njit(inline="always")
def argmax_bits(bits):
    """argmax of non-negative float32 values given as their int32 bits (sign cleared: -0.0 is
    0, as specsim's key()), the lowest id among ties; the max pass is an integer reduction, so
    it vectorises."""
    best = np.int32(0)
    for x in range(bits.shape[0]):
        b = bits[x] & np.int32(0x7FFFFFFF)
        best = max(best, b)
    for x in range(bits.shape[0]):
        if bits[x] & np.int32(0x7FFFFFFF) == best:
            return x
    return 0


@njit(parallel=True)
def tree_loop(parents, draft, target, tokens, coins, rule, check, depth):
    """The walk of every round; returns (tokens [N, depth+1], accepted nodes [N, depth],
    accepted [N], first bad round or -1)."""
    n_rounds, n, v = target.shape
    shared = parents.shape[0] == 1
    out = np.full((n_rounds, depth + 1), -1, dtype=np.int32)
    out_nodes = np.full((n_rounds, depth), -1, dtype=np.int32)
    accepted = np.zeros(n_rounds, dtype=np.int32)
    bad = np.zeros(n_rounds, dtype=np.bool_)
    for r in prange(n_rounds):
        par = parents[0] if shared else parents[r]
        # Children lists (CSR), in increasing node index.
        start = np.zeros(n + 1, dtype=np.int64)
        for i in range(1, n):
            start[par[i] + 1] += 1
        for u in range(n):
            start[u + 1] += start[u]
        kids = np.empty(max(n - 1, 1), dtype=np.int64)
        fill = start[:n].copy()
        for i in range(1, n):
            kids[fill[par[i]]] = i
            fill[par[i]] += 1
        tok = tokens[r]
        coin = coins[r]
        if check:  # specsim's touched checks before any row: scalars, drafted entries, siblings
            ok = True
            for i in range(n):
                c = coin[i]
                if not (c >= F0 and c < F1):
                    ok = False
            for i in range(1, n):
                x = tok[i]
                if x < 0 or x >= v:
                    ok = False
                    break
                p = target[r, par[i], x]
                q = draft[r, par[i], x]
                if not (p >= F0 and p < np.inf):
                    ok = False
                if rule == 1 and not (q > F0 and q < np.inf):  # rrs: q > 0 for every child
                    ok = False
                if rule == 0:  # target-only: distinct siblings
                    for k in range(start[par[i]], start[par[i] + 1]):
                        j = kids[k]
                        if j < i and tok[j] == x:
                            ok = False
            if not ok:
                bad[r] = True
                continue
        lanes = np.empty(LANES, dtype=np.float32)
        u = 0
        a = 0
        token = -1
        while True:
            trow = target[r, u]
            if check and not row_ok(trow):
                bad[r] = True
                break
            c0, c1 = start[u], start[u + 1]
            if c0 == c1:  # a leaf: the bonus
                token = argmax_bits(trow.view(np.int32))
                break
            nxt = -1
            if rule == 0:  # target-only
                s = F0
                cu = coin[u]
                for k in range(c0, c1):
                    s += trow[tok[kids[k]]]
                    if cu < s:
                        nxt = kids[k]
                        break
                if nxt < 0:
                    masked = trow.copy()
                    for k in range(c0, c1):
                        masked[tok[kids[k]]] = F0
                    token = argmax_bits(masked.view(np.int32))
                    if masked[token] == F0:
                        token = argmax_bits(trow.view(np.int32))
            else:  # rrs
                qrow = draft[r, u]
                aj = F0
                nj = F1
                for k in range(c0, c1):
                    c = kids[k]
                    x = tok[c]
                    qx = qrow[x]
                    if accepts(coin[c], qx, nj, residual(trow[x], aj, qx)):
                        nxt = c
                        break
                    if check and k == c0 and not row_ok(qrow):
                        bad[r] = True
                        break
                    aj = aj + nj
                    if k + 1 < c1:
                        nj = residual_sum(trow, qrow, aj, lanes)
                        if nj == F0:
                            token = argmax_bits(trow.view(np.int32))
                            break
                    else:
                        res = np.empty(v, dtype=np.float32)
                        nj = residual_store_sum(trow, qrow, aj, lanes, res)
                        if nj == F0:
                            token = argmax_bits(trow.view(np.int32))
                        else:
                            token = argmax_bits(res.view(np.int32))
                if bad[r]:
                    break
            if nxt < 0:
                break
            out_nodes[r, a] = nxt
            out[r, a] = tok[nxt]
            a += 1
            u = nxt
        if bad[r]:
            continue
        out[r, a] = token
        accepted[r] = a
    first = -1
    for r in range(n_rounds):
        if bad[r]:
            first = r
            break
    return out, out_nodes, accepted, first


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("batch", help="tree batch directory of .npy files")
    ap.add_argument("--rule", choices=sorted(RULES), required=True)
    ap.add_argument("--validate", choices=["touched", "none"], default="touched")
    ap.add_argument("--reps", type=int, default=5, help="repetitions; the best is reported")
    ap.add_argument("--out", help="write tokens, accepted_nodes, num_accepted, num_generated")
    a = ap.parse_args()
    arrays = load(a.batch)
    per_round_depth = depths(arrays[0])
    depth = int(per_round_depth.max())
    args = (*arrays, RULES[a.rule], a.validate == "touched", depth)
    tree_loop(*args)  # JIT warm-up, not timed
    best = float("inf")
    for _ in range(a.reps):
        t0 = time.perf_counter()
        out, nodes, accepted, bad = tree_loop(*args)
        best = min(best, time.perf_counter() - t0)
    if bad >= 0:
        sys.exit(f"numba_tree: round {bad} is invalid ({a.validate} validation, rule {a.rule})")
    if a.out:
        np.savez(a.out, tokens=out, accepted_nodes=nodes, num_accepted=accepted,
                 num_generated=accepted + 1)
    rate = accepted / np.maximum(per_round_depth, 1)  # specsim: accepted / the round's depth
    print(json.dumps({
        "peer": f"numba tree walk ({a.rule}, {a.validate} validation)",
        "seconds": best,
        "generated_total": int(np.sum(accepted + 1, dtype=np.int64)),
        "mean_generated": float(np.mean(accepted + 1.0)),
        "mean_acceptance_rate": float(np.mean(rate)),
    }))


if __name__ == "__main__":
    main()
