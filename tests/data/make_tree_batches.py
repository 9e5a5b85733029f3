#!/usr/bin/env python3
"""Makes the numpy-written tree batch fixtures of tests/data/batches/ (committed; the Rust tests do
not need Python), as a user would write them (SPEC §7 keys: `parents` [n], `draft_probs` and
`target_probs` [N, n, V], `draft_tokens` and `random_coins` [N, n]):

- tree_kary22.npz: np.savez_compressed, float32 rows and coins, int64 tokens and parents,
  kary:2,2 (7 nodes), N = 64, V = 16;
- tree_eagle_dir/: a directory of .npy files, float64 rows and coins, int32 tokens and parents,
  the EAGLE choice list [[0],[0,0],[1],[0,1],[2]] (6 nodes), N = 24, V = 8;
- tree_per_round.npz: np.savez, a tree per round (`parents` [N, n] int64, each row a random
  parent array of 8 nodes), float32 rows and coins, int32 tokens, N = 40, V = 12;
- tree_expected.json: for each fixture and each rule, the outputs of the independent numpy
  implementation of tests/data/make_tree_golden.py (`decide_tree`, loaded from that file without
  running its case generation): tokens [N, depth + 1] and accepted_nodes [N, depth] (padded with
  -1; depth is the largest over the rounds for per-round trees) and num_accepted [N].

Children's tokens are drawn without replacement from the parent's draft row, so every rule
accepts the batch. Run: python3 tests/data/make_tree_batches.py (numpy installed)
"""
import ast
import json
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "batches")

# The golden script's imports, constants and functions, without its module-level generation.
src = open(os.path.join(HERE, "make_tree_golden.py")).read()
tree = ast.parse(src)
WANTED = {"children_of", "depth_of", "seq_sum", "decide_tree"}
keep = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))
        or (isinstance(n, ast.FunctionDef) and n.name in WANTED)]
golden = {}
exec(compile(ast.Module(body=keep, type_ignores=[]), "make_tree_golden.py", "exec"), golden)
decide_tree = golden["decide_tree"]
children_of = golden["children_of"]
depth_of = golden["depth_of"]

RULES = ("greedy", "target-only", "rrs", "rrs-wor")
rng = np.random.default_rng(20251202)


def make(parents, n, v, dtype):
    nn = len(parents)
    kids = children_of(parents)
    t = rng.dirichlet(np.ones(v) * 0.5, size=(n, nn)).astype(dtype)
    d = (0.6 * t + 0.4 * rng.dirichlet(np.ones(v), size=(n, nn))).astype(dtype)
    d /= d.sum(axis=-1, keepdims=True)
    tokens = np.zeros((n, nn), dtype=np.int64)
    for r in range(n):
        for u in range(nn):
            if kids[u]:
                q = d[r, u].astype(np.float64)
                toks = rng.choice(v, size=len(kids[u]), replace=False, p=q / q.sum())
                for c, x in zip(kids[u], toks):
                    tokens[r, c] = x
    coins = rng.random((n, nn), dtype=np.float32).astype(dtype)
    return t, d, tokens, coins


def expected(parents, t, d, tokens, coins):
    n = t.shape[0]
    depth = depth_of(parents)
    out = {}
    for rule in RULES:
        toks = np.full((n, depth + 1), -1, dtype=np.int64)
        nodes = np.full((n, depth), -1, dtype=np.int64)
        acc = np.zeros(n, dtype=np.int64)
        for r in range(n):
            o, nd, _ = decide_tree(rule, parents, [int(x) for x in tokens[r]],
                                   d[r].astype(np.float64), t[r].astype(np.float64),
                                   [float(c) for c in coins[r]])
            toks[r, :len(o)] = o
            nodes[r, :len(nd)] = nd
            acc[r] = len(nd)
        out[rule] = {"tokens": toks.tolist(), "accepted_nodes": nodes.tolist(),
                     "num_accepted": acc.tolist()}
    return out


exp = {}
parents = [-1, 0, 0, 1, 1, 2, 2]
t, d, tok, c = make(parents, 64, 16, np.float32)
np.savez_compressed(os.path.join(OUT, "tree_kary22.npz"), parents=np.array(parents, dtype=np.int64),
                    draft_probs=d, target_probs=t, draft_tokens=tok, random_coins=c)
exp["tree_kary22.npz"] = expected(parents, t, d, tok, c)

parents = [-1, 0, 0, 0, 1, 1]  # eagle:[[0],[0,0],[1],[0,1],[2]]
t, d, tok, c = make(parents, 24, 8, np.float64)
dirname = os.path.join(OUT, "tree_eagle_dir")
os.makedirs(dirname, exist_ok=True)
np.save(os.path.join(dirname, "parents.npy"), np.array(parents, dtype=np.int32))
np.save(os.path.join(dirname, "draft_probs.npy"), d)
np.save(os.path.join(dirname, "target_probs.npy"), t)
np.save(os.path.join(dirname, "draft_tokens.npy"), tok.astype(np.int32))
np.save(os.path.join(dirname, "random_coins.npy"), c)
exp["tree_eagle_dir"] = expected(parents, t, d, tok, c)

# A tree per round: each round's rows, tokens and coins made for its own tree.
n_rounds, nn, v = 40, 8, 12
per_round = []
for r in range(n_rounds):
    p = [-1] + [int(i - 1 if rng.random() < 0.5 else rng.integers(0, i)) for i in range(1, nn)]
    per_round.append(p)
parts = [make(p, 1, v, np.float32) for p in per_round]
t, d, tok, c = (np.concatenate([x[i] for x in parts]) for i in range(4))
np.savez(os.path.join(OUT, "tree_per_round.npz"), parents=np.array(per_round, dtype=np.int64),
         draft_probs=d, target_probs=t, draft_tokens=tok.astype(np.int32), random_coins=c)
depth = max(depth_of(p) for p in per_round)
out = {}
for rule in RULES:
    toks = np.full((n_rounds, depth + 1), -1, dtype=np.int64)
    nodes = np.full((n_rounds, depth), -1, dtype=np.int64)
    acc = np.zeros(n_rounds, dtype=np.int64)
    for r, p in enumerate(per_round):
        one = expected(p, t[r:r + 1], d[r:r + 1], tok[r:r + 1], c[r:r + 1])[rule]
        k = one["num_accepted"][0]
        toks[r, :k + 1] = one["tokens"][0][:k + 1]
        nodes[r, :k] = one["accepted_nodes"][0][:k]
        acc[r] = k
    out[rule] = {"tokens": toks.tolist(), "accepted_nodes": nodes.tolist(),
                 "num_accepted": acc.tolist()}
exp["tree_per_round.npz"] = out

with open(os.path.join(OUT, "tree_expected.json"), "w") as f:
    json.dump(exp, f, separators=(",", ":"))
print("wrote", OUT)
