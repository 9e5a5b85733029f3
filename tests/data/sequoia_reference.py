#!/usr/bin/env python3
"""An independent reference for SPEC §10's `sequoia:n,d` (Chen et al. 2024, Sequoia's tree DP).

The problem: over rooted ordered trees of n nodes (root included) and depth <= d (in edges),
maximise  value = sum over nodes v of prod over the non-root nodes w on the path root -> v of
P_{depth(parent(w))}[rank(w)]  (the root contributes 1; rank(w) = 0 for the first child).
P is one list for all depths or one list per parent depth (the last repeated deeper); ranks past
a list's end have probability 0. Ties: at every node the fewest children, then the smallest
split (the last child's subtree as large as possible, then the same for the one before it, ...);
every child subtree is itself the tie-broken optimum for its size. Numbering: breadth-first,
each node's children consecutive in rank order.

Formulation here (numpy; written apart from src/topology/sequoia.rs): V[r][m] is the best value
of a subtree of m nodes with r edges of depth left below its root; G_j[m] the best with exactly j
children, extended one rank at a time by a max-plus product over the size s of the new (last)
child: G_j[m] = max_s G_{j-1}[m - s] + P[j-1] * V[r-1][s]. The arithmetic order (root and first
children first, then + P * child) is Sequoia's own, so the float64 trees are bit-for-bit what
that order gives. `exact=True` runs the same DP in rational arithmetic (fractions.Fraction of the
float inputs), where ties are mathematical ties.

Checks (python3 tests/data/sequoia_reference.py):
  * value() against a second evaluator and against every parent array (parents[i] < i) for n <= 7;
  * the DP's value equals the maximum over all ordered trees (enumerated) of n = 1..8 nodes and
    depth d = 1..7, for random vectors, vectors with exact ties and zeros, and per-depth vectors;
  * in exact arithmetic the DP's tree is the tie-broken optimum found by a brute force over child
    size compositions (no split recursion);
  * a model of Sequoia's tree_search.py (node-counted depth, entry 0 padding, width limited to the
    vector, first argmax, first strict maximum over splits) gives the same trees as the reference
    on Sequoia's conventions, in float64; its float32 (torch default) disagreements are counted.
`--demo`: Sequoia's published demo (tests/data/sequoia_demo.json): compares the shipped tree when
its numbers are available there, otherwise says why it cannot and exits 0 after a SKIP line.
"""
import itertools
import json
import math
import os
import random
import sys
from fractions import Fraction
from functools import lru_cache

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
NEG = -math.inf


# ----------------------------------------------------------------------------------------------
# Vectors


def by_depth(P):
    """P (a list of floats, or a list of lists, one per parent depth) as a list of lists."""
    if len(P) == 0:
        raise ValueError("empty vector")
    if isinstance(P[0], (list, tuple)):
        rows = [list(map(float, row)) for row in P]
    else:
        rows = [list(map(float, P))]
    for row in rows:
        if not row:
            raise ValueError("empty depth list")
        if any(not (0.0 <= x <= 1.0) for x in row):
            raise ValueError(f"entry outside [0, 1]: {row}")
        if sum(row) > 1.0 + 1e-9:
            raise ValueError(f"entries sum to more than 1: {row}")
    return rows


def p_at(rows, depth, rank):
    row = rows[min(depth, len(rows) - 1)]
    return row[rank] if rank < len(row) else 0.0


def from_sequoia_vector(vec):
    """Sequoia's stored vector (entry 0 unused, the last entry 'none accepted') as SPEC's P."""
    return list(vec[1:-1])


# ----------------------------------------------------------------------------------------------
# Trees


def children_lists(parents):
    n = len(parents)
    if n == 0 or parents[0] != -1:
        raise ValueError("parents[0] must be -1")
    kids = [[] for _ in range(n)]
    for i in range(1, n):
        p = parents[i]
        if not (0 <= p < i):
            raise ValueError(f"parents[{i}] = {p} is not an earlier node")
        kids[p].append(i)
    return kids


def depths(parents):
    dep = [0] * len(parents)
    for i in range(1, len(parents)):
        dep[i] = dep[parents[i]] + 1
    return dep


def value(parents, P, exact=False):
    """1 + sum over non-root v of the product of P_{depth(parent(w))}[rank(w)] along root -> v."""
    rows = by_depth(P)
    conv = Fraction if exact else float
    kids = children_lists(parents)
    dep = depths(parents)
    reach = [conv(0)] * len(parents)
    reach[0] = conv(1)
    total = conv(1)
    for u in range(len(parents)):  # parents[i] < i: a parent's reach is known before its kids'
        for j, c in enumerate(kids[u]):
            reach[c] = reach[u] * conv(p_at(rows, dep[u], j))
            total += reach[c]
    return total


def nested(parents):
    """The tree as nested tuples: a node is the tuple of its children in rank order."""
    kids = children_lists(parents)

    def build(u):
        return tuple(build(c) for c in kids[u])

    return build(0)


def bfs_parents(tree):
    """Nested tuples -> parent array, breadth-first, each node's children consecutive."""
    parents = [-1]
    queue = [(0, tree)]
    head = 0
    while head < len(queue):
        u, t = queue[head]
        head += 1
        for c in t:
            parents.append(u)
            queue.append((len(parents) - 1, c))
    return parents


def rank_paths(parents):
    """Every node's path of sibling ranks from the root (the root: ()), as a sorted list."""
    kids = children_lists(parents)
    path = {0: ()}
    for u in range(len(parents)):
        for j, c in enumerate(kids[u]):
            path[c] = path[u] + (j,)
    return sorted(path.values())


def tree_depth(parents):
    return max(depths(parents))


# ----------------------------------------------------------------------------------------------
# The DP


def sequoia_tree(P, n, d, exact=False, max_width=None):
    """SPEC §10's tree for P, n nodes (root included), depth <= d edges: (parents, value).

    max_width limits every node's children (None: unlimited; ranks past the vector count 0).
    """
    rows = by_depth(P)
    if n < 1:
        raise ValueError("n must be >= 1")
    if d < 0:
        raise ValueError("d must be >= 0")
    if n > 1 and d == 0:
        raise ValueError(f"no tree of {n} nodes has depth 0")
    wmax = n - 1 if max_width is None else min(max_width, n - 1)
    if exact:
        return _dp_exact(rows, n, d, wmax)
    return _dp_float(rows, n, d, wmax)


def _dp_float(rows, n, d, wmax):
    # V[r] : array over m = 0..n (index 0 unused, -inf), r = edges left below the subtree's root.
    V = [None] * (d + 1)
    kids_choice = [None] * (d + 1)  # kids_choice[r][m] = [s_1, ..., s_b] (children's sizes)
    leaf = np.full(n + 1, NEG)
    leaf[1] = 1.0
    V[0] = leaf
    kids_choice[0] = {1: []}
    m_idx = np.arange(n + 1)
    for r in range(1, d + 1):
        depth = d - r  # the depth of the subtree's root
        below = V[r - 1]
        G = leaf.copy()  # exactly 0 children
        G_split = [None]  # G_split[j][m] = size of child j (1-based) in the best G_j[m]
        best = leaf.copy()
        best_j = np.zeros(n + 1, dtype=int)
        for j in range(1, wmax + 1):
            p = p_at(rows, depth, j - 1)
            # cand[m, s] = G[m - s] + p * below[s], s = 1..m-1 (the new last child has s nodes)
            s = m_idx[None, :]
            m = m_idx[:, None]
            valid = (s >= 1) & (s < m)
            rest = np.where(valid, m - s, 0)
            a = G[rest]
            c = below[np.where(valid, s, 0)]
            ok = valid & np.isfinite(a) & np.isfinite(c)
            with np.errstate(invalid="ignore"):
                cand = np.where(ok, a + p * np.where(ok, c, 0.0), NEG)
            newG = cand.max(axis=1)
            # ties: the largest last child (the smallest split y = m - s)
            is_max = (cand == newG[:, None]) & np.isfinite(newG)[:, None]
            s_star = np.where(is_max.any(axis=1), n - np.argmax(is_max[:, ::-1], axis=1), 0)
            G = newG
            G[1] = NEG  # one node cannot have j >= 1 children
            G_split.append(s_star)
            better = G > best  # strict: ties keep the fewest children
            best = np.where(better, G, best)
            best_j = np.where(better, j, best_j)
            if not np.isfinite(G).any():
                break
        V[r] = best
        # children sizes for each m, rank order
        choice = {}
        for mm in range(1, n + 1):
            if not np.isfinite(best[mm]):
                continue
            b = int(best_j[mm])
            sizes = []
            rest = mm
            for j in range(b, 0, -1):
                sj = int(G_split[j][rest])
                sizes.append(sj)
                rest -= sj
            assert rest == 1
            choice[mm] = sizes[::-1]
        kids_choice[r] = choice
    if not np.isfinite(V[d][n]):
        raise ValueError(f"no tree of {n} nodes has depth <= {d} within the width limit")

    def build(mm, r):
        return tuple(build(s, r - 1) for s in kids_choice[r][mm])

    parents = bfs_parents(build(n, d))
    return parents, float(V[d][n])


def _dp_exact(rows, n, d, wmax):
    Prow = [[Fraction(x) for x in row] for row in rows]

    def pr(depth, rank):
        row = Prow[min(depth, len(Prow) - 1)]
        return row[rank] if rank < len(row) else Fraction(0)

    V = [{1: Fraction(1)}]  # V[r][m], only feasible m kept
    choice = [{1: []}]
    for r in range(1, d + 1):
        depth = d - r
        below = V[r - 1]
        G = {1: Fraction(1)}
        splits = [None]
        best = {1: Fraction(1)}
        best_j = {1: 0}
        for j in range(1, wmax + 1):
            p = pr(depth, j - 1)
            newG, split = {}, {}
            for m in range(2, n + 1):
                top, top_s = None, None
                for s in range(m - 1, 0, -1):  # the largest last child first: it wins ties
                    if (m - s) in G and s in below:
                        v = G[m - s] + p * below[s]
                        if top is None or v > top:
                            top, top_s = v, s
                if top is not None:
                    newG[m], split[m] = top, top_s
            G = newG
            splits.append(split)
            for m, v in G.items():
                if m not in best or v > best[m]:
                    best[m], best_j[m] = v, j
            if not G:
                break
        V.append(best)
        ch = {}
        for m in best:
            sizes, rest = [], m
            for j in range(best_j[m], 0, -1):
                sj = splits[j][rest]
                sizes.append(sj)
                rest -= sj
            assert rest == 1
            ch[m] = sizes[::-1]
        choice.append(ch)
    if n not in V[d]:
        raise ValueError(f"no tree of {n} nodes has depth <= {d} within the width limit")

    def build(m, r):
        return tuple(build(s, r - 1) for s in choice[r][m])

    return bfs_parents(build(n, d)), V[d][n]


# ----------------------------------------------------------------------------------------------
# Brute force


@lru_cache(maxsize=None)
def plane_trees(m, l):
    """All ordered trees of m nodes and depth <= l, as nested tuples."""
    if m == 1:
        return ((),)
    if l == 0:
        return ()
    return tuple(tuple(f) for f in forests(m - 1, l - 1))


@lru_cache(maxsize=None)
def forests(m, l):
    """All sequences of trees of depth <= l with m nodes in all."""
    if m == 0:
        return ((),)
    out = []
    for first in range(1, m + 1):
        for t in plane_trees(first, l):
            for rest in forests(m - first, l):
                out.append((t,) + rest)
    return tuple(out)


def tree_value(t, rows, exact=False, depth=0):
    conv = Fraction if exact else float
    total = conv(1)
    for j, c in enumerate(t):
        total += conv(p_at(rows, depth, j)) * tree_value(c, rows, exact, depth + 1)
    return total


def brute_best(P, n, d, exact=False):
    rows = by_depth(P)
    return max(tree_value(t, rows, exact) for t in plane_trees(n, d))


def brute_parent_arrays(P, n, d):
    """The maximum over every parent array with parents[i] < i (children ordered by index)."""
    best = NEG
    for tail in itertools.product(*[range(i) for i in range(1, n)]):
        parents = [-1] + list(tail)
        if tree_depth(parents) <= d:
            best = max(best, value(parents, P))
    return best


def canonical_by_compositions(P, n, d):
    """The tie-broken optimum (exact arithmetic) by brute force over children's size compositions:
    at each node the best value, then the fewest children, then the largest last child, then the
    largest child before it, ...; each child the same rule's tree for its size. Returns (tree, value)."""
    rows = [[Fraction(x) for x in row] for row in by_depth(P)]

    def pr(depth, rank):
        row = rows[min(depth, len(rows) - 1)]
        return row[rank] if rank < len(row) else Fraction(0)

    @lru_cache(maxsize=None)
    def canon(m, depth):
        if m == 1:
            return ((), Fraction(1))
        if depth >= d:
            return None
        best = None
        for k in range(1, m):  # compositions of m - 1 into k parts
            for cuts in itertools.combinations(range(1, m - 1), k - 1):
                sizes = [b - a for a, b in zip((0,) + cuts, cuts + (m - 1,))]
                subs = [canon(s, depth + 1) for s in sizes]
                if any(x is None for x in subs):
                    continue
                v = Fraction(1) + sum(pr(depth, j) * subs[j][1] for j in range(k))
                key = (v, -k, tuple(reversed(sizes)))
                if best is None or key > best[0]:
                    best = (key, tuple(x[0] for x in subs), v)
        return None if best is None else (best[1], best[2])

    return canon(n, 0)


# ----------------------------------------------------------------------------------------------
# A model of Sequoia's tree_search.py (Infini-AI-Lab/Sequoia), written from its description:
# vec = the stored vector (vec[0] unused, vec[-1] "none accepted", dropped since the fix for
# issue #15); budget m counts the root; depth l counts nodes on the longest path (l = 1: a leaf);
# T[m][l][b] = the best value with exactly b children, b <= W = len(vec) - 2;
# T[m][l][b] = max_y T[y][l][b-1] + p[b] * max_b' T[m-y][l-1][b'] (the first strict maximum over
# y = 1.., i.e. the smallest y); a subtree's children count is the first argmax over b.


def sequoia_model(vec, max_budget, max_depth, dtype=np.float64, drop_last=True):
    """Returns (T, rowmax, rowarg, W, choice): choice[(m, l, b)] = children's (size, l-1, b')."""
    p = np.asarray(vec, dtype=dtype)
    if drop_last:
        p = p[:-1]
    W = len(p) - 1
    T = np.full((max_budget + 1, max_depth + 1, W + 1), NEG, dtype=dtype)
    rowmax = np.full((max_budget + 1, max_depth + 1), NEG, dtype=dtype)
    rowarg = np.zeros((max_budget + 1, max_depth + 1), dtype=int)
    choice = {}
    one = dtype(1.0)
    for l in range(1, max_depth + 1):
        T[1, l, 0] = one
        rowmax[1, l] = one
        choice[(1, l, 0)] = []
    for m in range(2, max_budget + 1):
        for l in range(2, max_depth + 1):
            c = rowmax[m - 1, l - 1]
            if np.isfinite(c) and W >= 1:
                T[m, l, 1] = one + p[1] * c
                choice[(m, l, 1)] = [(m - 1, l - 1, int(rowarg[m - 1, l - 1]))]
            for b in range(2, W + 1):
                a = T[1:m, l, b - 1]  # y = 1..m-1
                cc = rowmax[m - 1:0:-1, l - 1]  # m - y
                ok = np.isfinite(a) & np.isfinite(cc)
                if not ok.any():
                    continue
                cand = np.where(ok, a + p[b] * np.where(ok, cc, 0), dtype(NEG)).astype(dtype)
                yi = int(np.argmax(cand))  # the first maximum: the smallest y
                y = yi + 1
                T[m, l, b] = cand[yi]
                choice[(m, l, b)] = choice[(y, l, b - 1)] + [(m - y, l - 1, int(rowarg[m - y, l - 1]))]
        for l in range(1, max_depth + 1):
            rowmax[m, l] = T[m, l].max()
            rowarg[m, l] = int(np.argmax(T[m, l]))
    return T, rowmax, rowarg, W, choice


def sequoia_model_tree(model, m, l):
    """The tree Sequoia writes for budget m and depth l (nodes), as a BFS parent array."""
    T, rowmax, rowarg, W, choice = model
    if not np.isfinite(rowmax[m, l]):
        return None
    parents = [-1]
    states = [(m, l, int(rowarg[m, l]))]
    head = 0
    while head < len(states):
        st = states[head]
        for kid in choice[st]:
            parents.append(head)
            states.append(kid)
        head += 1
    assert len(parents) == m
    return parents


def sequoia_model_pick(model, valid_budget, target_time, draft_time):
    """Sequoia's hardware-aware choice: the (budget, l) minimising (l * draft + target) / T."""
    rowmax = model[1]
    best, pair = math.inf, None
    for i, b in enumerate(valid_budget):
        for l in range(rowmax.shape[1]):
            ac = float(rowmax[b, l])
            if not ac > 0:
                continue
            x = (l * draft_time + target_time[i]) / ac
            if x < best:
                best, pair = x, (b, l)
    return pair, best


# ----------------------------------------------------------------------------------------------
# Checks


def dyadic_vectors(rng, count, width_max=4, grid=8):
    """Vectors of multiples of 1/grid (exact in binary: float ties are exact ties)."""
    out = []
    while len(out) < count:
        w = rng.randint(1, width_max)
        parts = [rng.randint(0, grid) for _ in range(w)]
        if sum(parts) <= grid:
            out.append([x / grid for x in parts])
    return out


def random_vectors(rng, count, width_max=5):
    out = []
    for _ in range(count):
        w = rng.randint(1, width_max)
        raw = [rng.random() for _ in range(w + 1)]
        s = sum(raw)
        v = [x / s for x in raw[:w]]  # the last share is "none accepted"
        if rng.random() < 0.3:
            v.sort(reverse=rng.random() < 0.5)
        out.append(v)
    return out


FIXED_VECTORS = [
    [0.6, 0.2, 0.1],
    [0.3, 0.25, 0.2, 0.15],
    [0.9],
    [0.5],
    [0.5, 0.25, 0.125],
    [0.5, 0.5],
    [0.25, 0.25, 0.25, 0.25],
    [0.5, 0.25, 0.25],
    [0.5, 0.0, 0.25],
    [0.0, 0.5],
    [0.0],
    [0.0, 0.0, 0.0],
    [1.0],
    [1.0, 0.0],
    [0.3, 0.3, 0.3],
    [0.1, 0.2, 0.3],
    [0.125, 0.375],
    [[0.5, 0.3], [0.8, 0.1], [0.2, 0.2]],
    [[0.5, 0.25], [0.0, 0.5], [0.25, 0.25]],
    [[0.0], [1.0]],
    [[0.25, 0.25], [0.5], [0.5, 0.5]],
]


def check_value_evaluators(rng):
    for P in FIXED_VECTORS:
        rows = by_depth(P)
        for n in range(1, 9):
            for t in plane_trees(n, 7)[:50]:
                par = bfs_parents(t)
                assert nested(par) == t
                a, b = value(par, P), tree_value(t, rows)
                assert abs(a - b) < 1e-12, (P, t, a, b)
                assert value(par, P, exact=True) == tree_value(t, rows, exact=True)
    # plane tree counts: Catalan numbers when the depth does not bind
    for n in range(1, 9):
        assert len(plane_trees(n, n)) == math.comb(2 * (n - 1), n - 1) // n
    # every parent array gives the same maximum as the ordered-tree enumeration
    for P in FIXED_VECTORS[:6] + FIXED_VECTORS[17:19] + random_vectors(rng, 3):
        for n in range(1, 8):
            for d in (1, 2, 3, 6):
                a = brute_parent_arrays(P, n, d)
                b = brute_best(P, n, d)
                assert abs(a - b) < 1e-12, (P, n, d, a, b)
    print("value(): agrees with the nested evaluator and with all parent arrays (n <= 7)")


def check_dp_against_brute_force(rng):
    vectors = (
        FIXED_VECTORS
        + random_vectors(rng, 40)
        + dyadic_vectors(rng, 40)
        + [[rng.choice([0.0, 0.125, 0.25, 0.375]) for _ in range(rng.randint(1, 3))] for _ in range(6)]
    )
    # per-depth random vectors
    for _ in range(12):
        vectors.append(random_vectors(rng, rng.randint(1, 3), width_max=3))
    for _ in range(8):
        vectors.append(dyadic_vectors(rng, rng.randint(2, 3), width_max=3))
    cases = tie_cases = float_exact_diff = 0
    for P in vectors:
        rows = by_depth(P)
        for n in range(1, 9):
            for d in range(1, 8):
                trees = plane_trees(n, d)
                vals = [tree_value(t, rows) for t in trees]
                want = max(vals)
                par, v = sequoia_tree(P, n, d)
                assert len(par) == n and tree_depth(par) <= d, (P, n, d, par)
                assert all(a <= b for a, b in zip(par, par[1:])), ("not breadth-first", par)
                assert abs(v - want) <= 1e-12, (P, n, d, v, want)
                assert abs(value(par, P) - v) <= 1e-12, (P, n, d, value(par, P), v)
                # exact arithmetic: the value is the exact maximum, the tree the tie-broken one
                epar, ev = sequoia_tree(P, n, d, exact=True)
                evals = [tree_value(t, rows, exact=True) for t in trees]
                assert ev == max(evals), (P, n, d)
                assert value(epar, P, exact=True) == ev
                ctree, cv = canonical_by_compositions(P, n, d)
                assert cv == ev
                assert nested(epar) == ctree, ("tie rule", P, n, d, epar, bfs_parents(ctree))
                if sum(1 for x in evals if x == ev) > 1:
                    tie_cases += 1
                if par != epar:
                    float_exact_diff += 1
                    # only allowed where float rounding decides near-ties
                    assert not all(
                        Fraction(x) * 8 == int(Fraction(x) * 8) for row in rows for x in row
                    ), ("float and exact trees differ on a dyadic vector", P, n, d, par, epar)
                cases += 1
    print(
        f"DP == brute force over all ordered trees: {len(vectors)} vectors x n 1..8 x d 1..7 = {cases} "
        f"cases ({tie_cases} with several optimal trees; exact tie rule == composition brute force; "
        f"float64 tree != exact tree in {float_exact_diff} non-dyadic cases)"
    )


def check_spec_examples():
    par, v = sequoia_tree([0.5], 5, 8)
    assert par == [-1, 0, 1, 2, 3] and abs(v - 1.9375) < 1e-15
    par, _ = sequoia_tree([0.4, 0.3, 0.2], 4, 1)
    assert par == [-1, 0, 0, 0]
    par, v = sequoia_tree([0.5], 3, 1)  # rank 2 has probability 0 but still takes a node
    assert par == [-1, 0, 0] and v == 1.5
    try:
        sequoia_tree([0.5], 3, 0)
        raise AssertionError("depth 0 with 3 nodes accepted")
    except ValueError:
        pass
    # a larger case, against the exact DP and the composition brute force
    rng = random.Random(5)
    for _ in range(20):
        P = random_vectors(rng, 1, width_max=4)[0]
        n, d = rng.randint(9, 13), rng.randint(2, 6)
        par, v = sequoia_tree(P, n, d)
        epar, ev = sequoia_tree(P, n, d, exact=True)
        ctree, cv = canonical_by_compositions(P, n, d)
        assert abs(v - float(ev)) < 1e-12 and cv == ev and nested(epar) == ctree
    print("SPEC examples (chain, star, zero ranks, refusal) and n 9..13 against the exact rule: ok")


def check_sequoia_model(rng):
    """Sequoia's conventions: vec = [0, P_1..P_W, none]; its depth l (nodes) = d + 1 (edges)."""
    same = infeasible = differ32 = total32 = width_diff = 0
    width_example = None
    for trial in range(120):
        if trial % 3 == 0:
            P = dyadic_vectors(rng, 1, width_max=4)[0]
        else:
            P = random_vectors(rng, 1, width_max=5)[0]
        if P[0] == 0.0:
            continue  # Sequoia's code turns 0 * -inf into NaN tables when p[1] = 0
        vec = [0.0] + P + [max(0.0, 1.0 - sum(P))]
        B, L = 14, 7
        model = sequoia_model(vec, B, L, dtype=np.float64)
        model32 = sequoia_model(vec, B, L, dtype=np.float32)
        for m in range(1, B + 1):
            for l in range(1, L + 1):
                got = sequoia_model_tree(model, m, l)
                if got is None:
                    infeasible += 1
                    try:
                        sequoia_tree(P, m, l - 1, max_width=len(P))
                        raise AssertionError("Sequoia infeasible but reference feasible")
                    except ValueError:
                        pass
                    continue
                par, v = sequoia_tree(P, m, l - 1, max_width=len(P))
                assert par == got, ("Sequoia model != reference", P, m, l, got, par)
                assert v == float(model[1][m, l]), (P, m, l, v, model[1][m, l])
                # unlimited width (SPEC, src/topology/sequoia.rs): same value; the same tree
                # it can differ only where surplus nodes must sit at probability-0 ranks, which a
                # vector without zeros never forces while Sequoia's width limit leaves a tree
                par_u, v_u = sequoia_tree(P, m, l - 1)
                assert abs(v_u - v) < 1e-12
                if par_u != par:
                    assert 0.0 in P, ("width limit changes the tree", P, m, l, par, par_u)
                    width_diff += 1
                    if width_example is None:
                        width_example = (P, m, l - 1, par, par_u)
                same += 1
                g32 = sequoia_model_tree(model32, m, l)
                total32 += 1
                if g32 != got:
                    differ32 += 1
    print(
        f"Sequoia tree_search model (float64) == reference with d = l - 1, P = vec[1:-1]: {same} trees "
        f"({infeasible} budgets infeasible at Sequoia's width limit, refused by the reference too); "
        f"float32 model differs in {differ32}/{total32}; unlimited width (SPEC) gives another tree "
        f"of the same value in {width_diff} cases, all with zeros in P, e.g. {width_example}"
    )


def run_demo():
    """sequoia_demo.json: 'vector' as Sequoia stores it, 'n' (nodes with the root), 'depth' (SPEC's,
    in edges = Sequoia's l - 1) and 'shipped': {'rank_paths': [[...], ...]} (every node's sibling
    ranks from the root, 0-based, the root []), when they are known."""
    path = os.path.join(HERE, "sequoia_demo.json")
    with open(path) as f:
        demo = json.load(f)
    print(f"Sequoia demo: {demo['source']['repo']} at {demo['source']['commit']}")
    vec, shipped = demo.get("vector"), demo.get("shipped")
    if vec is None or shipped is None:
        print(
            "SKIP: Sequoia's demo acceptance vector and demo tree are only published as binary torch "
            "files (" + ", ".join(demo["source"]["binary_files"]) + "); "
            "no text copy was found, so there is nothing to compare. See sequoia_demo.json 'status'."
        )
        ex = demo.get("issue13_example")
        if ex:
            cfg = ex["config"]
            for label, drop in (("vector as given, last entry dropped", True), ("vector as given, all entries", False)):
                model = sequoia_model(ex["vector"], cfg["max_budget"], cfg["max_depth"], dtype=np.float32, drop_last=drop)
                (m, l), x = sequoia_model_pick(model, cfg["valid_budget"], cfg["target_time"], cfg["draft_time"])
                par = sequoia_model_tree(model, m, l)
                P = ex["vector"][1:-1] if drop else ex["vector"][1:]
                ref, v = sequoia_tree(P, m, l - 1, max_width=len(P))
                ref_u, _ = sequoia_tree(P, m, l - 1)
                assert rank_paths(ref_u) == rank_paths(ref), "unlimited width changes the tree"
                print(
                    f"  issue #13 example ({label}): Sequoia's choice n = {m}, depth {l} nodes "
                    f"({tree_depth(par)} edges used), value {float(model[1][m, l]):.6f}; "
                    f"reference tree (width-limited and unlimited) {'identical' if rank_paths(ref) == rank_paths(par) else 'DIFFERENT'} "
                    f"(value {v:.6f})"
                )
        return 0
    P = from_sequoia_vector(vec)
    n, depth = demo["n"], demo["depth"]
    ref, v = sequoia_tree(P, n, depth, max_width=len(P))
    want = [tuple(p) for p in shipped["rank_paths"]]
    got = [tuple(p) for p in rank_paths(ref)]
    if sorted(want) == got:
        print(f"demo reproduces: n = {n}, depth {depth}, value {v}")
        return 0
    print("demo DIFFERS:\n  only shipped:", sorted(set(want) - set(got)), "\n  only reference:", sorted(set(got) - set(want)))
    return 1


def main():
    if "--demo" in sys.argv[1:]:
        return run_demo()
    rng = random.Random(20240226)
    check_value_evaluators(rng)
    check_spec_examples()
    check_dp_against_brute_force(rng)
    check_sequoia_model(rng)
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
