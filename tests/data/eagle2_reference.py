#!/usr/bin/env python3
"""An independent numpy reference of EAGLE-2 tree growth, `eagle2:k,depth,n` (SPEC section 10),
written from the SPEC text alone (no SGLang or EAGLE code).

    parents, tokens, cand = eagle2_tree(draft_row, k, depth, nodes, vocab)

`draft_row(path)` gives the draft distribution after `path`, a tuple of token ids below the root
(`()` for the root), as a 1-D array of `vocab` numbers. It is called once for the root and once
for each expanded beam candidate (k per level for levels 1..depth-1), in expansion order, and for
nothing else.

Growth (all scores f64):
- top-k of a row: its tokens by decreasing q, ties to the lowest token id;
- level 1: the root row's top-k, candidate ids 0..k-1, score = q; level 1's beam is 0..k-1;
- level L = 2..depth: beam node j (in beam order) of level L-1 expands its own row; its c-th
  top-k token is candidate `k + (L-2)k^2 + jk + c`, score = parent score * q[token]; level L's
  beam is the k best of these k^2 by (score descending, id ascending), in that order;
- the tree: the n-1 best of all `k + (depth-1)k^2` candidates by (score descending, id
  ascending), sorted by id; node i (i >= 1) is the i-th of them, node 0 the root; a node's parent
  is the node of its parent candidate (the root for level 1).

Returns `parents` (length `nodes`, parents[0] = -1), `tokens` (tokens[0] = 0, the root drafts
nothing) and `cand` (the selected candidate ids, ascending; node i is cand[i-1]).
Refused (ValueError): k, depth or nodes < 1, n - 1 > k + (depth-1)k^2, k > vocab.

Run `python3 tests/data/eagle2_reference.py` for the self-test (random rows with many exact ties).
"""
import sys

import numpy as np


def top_k(row, k):
    """The k tokens of `row` by decreasing value, ties to the lowest token id."""
    ids = np.arange(row.shape[0])
    # lexsort: the last key is the primary one; -row ascending = row descending, then id.
    order = np.lexsort((ids, -row))
    return [int(x) for x in order[:k]]


def eagle2_tree(draft_row, k, depth, nodes, vocab):
    for name, val in (("k", k), ("depth", depth), ("nodes", nodes), ("vocab", vocab)):
        if int(val) != val or val < 1:
            raise ValueError(f"eagle2: {name} = {val} must be a positive integer")
    total = k + (depth - 1) * k * k
    if nodes - 1 > total:
        raise ValueError(f"eagle2:{k},{depth},{nodes}: n - 1 = {nodes - 1} > {total} candidates")
    if k > vocab:
        raise ValueError(f"eagle2:{k},{depth},{nodes}: k = {k} > V = {vocab}")

    def read(path):
        row = np.asarray(draft_row(tuple(path)), dtype=np.float64)
        if row.shape != (vocab,):
            raise ValueError(f"eagle2: row of path {path} has shape {row.shape}, not ({vocab},)")
        if not np.all(np.isfinite(row)) or np.any(row < 0):
            raise ValueError(f"eagle2: row of path {path} is not a distribution")
        return row

    score = {}  # candidate id -> f64 score
    token = {}  # candidate id -> token
    parent = {}  # candidate id -> parent candidate id (-1: the root)
    path = {}  # candidate id -> tuple of tokens from the root

    root = read(())
    for c, x in enumerate(top_k(root, k)):
        score[c], token[c], parent[c], path[c] = float(root[x]), x, -1, (x,)
    beam = list(range(k))
    for level in range(2, depth + 1):
        base = k + (level - 2) * k * k
        new = []
        for j, b in enumerate(beam):
            row = read(path[b])
            for c, x in enumerate(top_k(row, k)):
                cid = base + j * k + c
                score[cid] = score[b] * float(row[x])
                token[cid], parent[cid], path[cid] = x, b, path[b] + (x,)
                new.append(cid)
        beam = sorted(new, key=lambda i: (-score[i], i))[:k]

    assert len(score) == total
    best = sorted(score, key=lambda i: (-score[i], i))[: nodes - 1]
    cand = sorted(best)
    node_of = {cid: i + 1 for i, cid in enumerate(cand)}
    parents, tokens = [-1], [0]
    for cid in cand:
        p = parent[cid]
        if p != -1 and p not in node_of:
            raise AssertionError(f"candidate {cid} selected without its parent {p}")
        parents.append(0 if p == -1 else node_of[p])
        tokens.append(token[cid])
    return parents, tokens, cand


# ---------------------------------------------------------------------------------------------
# Self-test


class Rows:
    """Draft rows keyed by path, drawn lazily; records the order of reads."""

    def __init__(self, rng, vocab, levels):
        self.rng, self.vocab, self.levels = rng, vocab, levels
        self.rows, self.reads = {}, []

    def row(self, path):
        if path not in self.rows:
            # Few levels: many exact ties within a row and, through equal products, between
            # candidates. Some entries are zero; a few rows are all equal.
            if self.rng.random() < 0.1:
                w = np.ones(self.vocab)
            else:
                w = self.rng.integers(0, self.levels, size=self.vocab).astype(np.float64)
                if w.sum() == 0:
                    w[self.rng.integers(self.vocab)] = 1.0
            self.rows[path] = w / w.sum()
        return self.rows[path]

    def __call__(self, path):
        self.reads.append(path)
        return self.row(path)


def check(rows, k, depth, nodes, vocab, parents, tokens, cand):
    n = nodes
    assert len(parents) == n and len(tokens) == n and len(cand) == n - 1
    assert parents[0] == -1
    for i in range(1, n):
        assert 0 <= parents[i] < i, (i, parents)
    assert cand == sorted(set(cand))
    # paths and ancestor closure
    paths = [()]
    for i in range(1, n):
        paths.append(paths[parents[i]] + (tokens[i],))
    for i in range(1, n):
        a = i
        while a != 0:
            a = parents[a]
            assert 0 <= a < i
    # depth of a node = the level of its candidate
    for i in range(1, n):
        c = cand[i - 1]
        level = 1 if c < k else 2 + (c - k) // (k * k)
        assert len(paths[i]) == level, (i, c, level, paths[i])
    # children = the top-m of the parent's row, in rank order (node order)
    children = [[] for _ in range(n)]
    for i in range(1, n):
        children[parents[i]].append(i)
    for u in range(n):
        if children[u]:
            m = len(children[u])
            want = top_k(rows.row(paths[u]), k)[:m]
            got = [tokens[c] for c in children[u]]
            assert got == want, (u, paths[u], got, want)
    # rows read: the root and k per level 1..depth-1 (the beams), each once
    assert rows.reads[0] == ()
    assert len(rows.reads) == 1 + k * (depth - 1), (len(rows.reads), k, depth)
    assert len(set(rows.reads)) == len(rows.reads)


def brute(rows, k, depth, nodes):
    """A second, differently organised construction: breadth-first over explicit paths."""
    frontier = [((), 1.0, -1)]  # (path, score, candidate id)
    allc = []  # (score, id, path, parent id)
    level_beam = None
    for level in range(1, depth + 1):
        new = []
        beam_src = [((), 1.0, -1)] if level == 1 else level_beam
        for j, (p, s, cid) in enumerate(beam_src):
            row = rows.row(p)
            order = sorted(range(len(row)), key=lambda x: (-row[x], x))[:k]
            for c, x in enumerate(order):
                new_id = c if level == 1 else k + (level - 2) * k * k + j * k + c
                new.append((s * float(row[x]), new_id, p + (x,), cid))
        allc.extend(new)
        level_beam = [(p, s, i) for (s, i, p, _) in sorted(new, key=lambda t: (-t[0], t[1]))[:k]]
    chosen = sorted(sorted(allc, key=lambda t: (-t[0], t[1]))[: nodes - 1], key=lambda t: t[1])
    idx = {t[1]: i + 1 for i, t in enumerate(chosen)}
    parents = [-1] + [0 if t[3] == -1 else idx[t[3]] for t in chosen]
    tokens = [0] + [t[2][-1] for t in chosen]
    return parents, tokens, [t[1] for t in chosen]


def self_test(trials=3000, seed=12345):
    rng = np.random.default_rng(seed)
    count = 0
    for _ in range(trials):
        vocab = int(rng.integers(1, 9))
        k = int(rng.integers(1, min(vocab, 4) + 1))
        depth = int(rng.integers(1, 5))
        total = k + (depth - 1) * k * k
        nodes = int(rng.integers(1, total + 2))
        levels = int(rng.integers(2, 4))
        rows = Rows(rng, vocab, levels)
        parents, tokens, cand = eagle2_tree(rows, k, depth, nodes, vocab)
        check(rows, k, depth, nodes, vocab, parents, tokens, cand)
        assert brute(rows, k, depth, nodes) == (parents, tokens, cand)
        count += 1

    # Hand cases. Uniform rows: every score ties; ids decide everything.
    v, k, depth = 5, 2, 3
    uni = lambda p: np.full(v, 1.0 / v)
    parents, tokens, cand = eagle2_tree(uni, k, depth, 1 + k + (depth - 1) * k * k, v)
    # level 1: tokens 0, 1 (ids 0, 1); level 2: children of 0 (ids 2, 3), of 1 (ids 4, 5);
    # beam of level 2 = ids 2, 3 (ties to the lowest id); level 3: ids 6..9 under 2, 3.
    assert cand == list(range(10))
    assert parents == [-1, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    assert tokens == [0, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1]
    parents, tokens, cand = eagle2_tree(uni, k, depth, 4, v)
    assert cand == [0, 1, 2] and parents == [-1, 0, 0, 1]
    # A child with q = 1 ties its parent's score; the parent (lower id) comes first.
    one = lambda p: np.array([0.0, 0.0, 1.0, 0.0]) if p else np.array([0.5, 0.5, 0.0, 0.0])
    parents, tokens, cand = eagle2_tree(one, 2, 2, 3, 4)
    assert cand == [0, 1] and parents == [-1, 0, 0] and tokens == [0, 0, 1]
    parents, tokens, cand = eagle2_tree(one, 2, 2, 4, 4)
    assert cand == [0, 1, 2] and parents == [-1, 0, 0, 1] and tokens == [0, 0, 1, 2]
    # Refusals.
    for args in ((uni, 2, 3, 12, 5), (uni, 6, 1, 2, 5), (uni, 0, 1, 1, 5), (uni, 1, 0, 1, 5)):
        try:
            eagle2_tree(*args)
        except ValueError:
            pass
        else:
            raise AssertionError(f"not refused: {args[1:]}")
    # n - 1 = k + (depth-1)k^2 exactly is accepted.
    eagle2_tree(uni, 2, 3, 11, 5)
    return count


if __name__ == "__main__":
    n = self_test()
    print(f"eagle2_reference self-test: {n} random trees and the hand cases pass")
    sys.exit(0)
