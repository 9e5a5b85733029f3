"""Writes a chain or tree batch directory for `specsim run` and the peers (README, "Batches").

    python make_batch.py --out DIR [--n 1024 --k 8 --vocab 32000 --seed 0 --sigma 0.5 --zipf 0]
    python make_batch.py --out DIR --tree kary:W,D|file:PATH [--n 512 --vocab 32000 ...]

DIR gets draft_probs.npy [N, K, V] f32, target_probs.npy [N, K+1, V] f32, draft_tokens.npy
[N, K] int32 and random_coins.npy [N, K] f32. The rows are a logit-noise workload, as specsim's
study family: target = softmax(z), draft = softmax(z + sigma * e), z and e standard normal per
token (minus zipf * ln(1 + id) when --zipf is given), normalised in float32, so every entry is
> 0 and every sum is within float32 rounding of 1. Drafted tokens are sampled from the draft rows
(inverse CDF over a cumulative sum, vectorised); coins are drawn as float32, so they are < 1.
Generated in blocks of rounds straight into memory-mapped .npy files: memory stays bounded.

--tree SPEC writes a tree batch instead (docs/reference/file-formats.md, "Tree batches"): one tree
for every round, parents.npy [n] int32 (kary:W,D: the full W-ary tree of depth D numbered level by
level, as `specsim tree kary:W,D`; file:PATH: a JSON parent array, or an object with "parents",
such as `specsim tree SPEC --format json` writes), target_probs.npy [N, n, V] f32 (row u: the
target after the path to u), draft_probs.npy [N, n, V] f32 (row u: the draft u's children were
drawn from), draft_tokens.npy [N, n] int32 and random_coins.npy [N, n] f32; --k is not used. Row u
is the same logit-noise pair, drawn per node. Each node's children carry distinct tokens drawn
from its draft row without replacement (inverse CDF, the drawn ids' weight removed before the next
draw), so the batch is valid under every tree rule (target-only and rrs-wor refuse duplicate
siblings); --children top drafts the draft row's most probable ids instead (deterministic
children, the drafts target-only is lossless for, as SGLang's and EAGLE's top-k trees). Leaves'
draft rows are not read by any rule (SPEC section 7): they are left zero (holes in the file, so
they take no disk). Token 0 of the root is 0 (not read).
"""

import argparse
import json
import os

import numpy as np


def softmax_f32(logits):
    """Row-wise softmax over the last axis, computed and normalised in float32."""
    x = logits - logits.max(axis=-1, keepdims=True)
    np.exp(x, out=x)
    x /= x.sum(axis=-1, keepdims=True, dtype=np.float32)
    return x


def tree_parents(spec):
    """The parent array of `kary:W,D` (level by level, children in order) or `file:PATH`."""
    kind, _, arg = spec.partition(":")
    if kind == "kary":
        w, d = (int(x) for x in arg.split(","))
        parents, level = [-1], [0]
        for _ in range(d):
            nxt = []
            for u in level:
                for _ in range(w):
                    parents.append(u)
                    nxt.append(len(parents) - 1)
            level = nxt
    elif kind == "file":
        doc = json.load(open(arg))
        parents = doc["parents"] if isinstance(doc, dict) else doc
    else:
        raise SystemExit(f"make_batch: --tree {spec}: expected kary:W,D or file:PATH")
    parents = np.asarray(parents, dtype=np.int32)
    ok = parents[0] == -1 and all(0 <= p < i for i, p in enumerate(parents[1:], 1))
    if not ok:
        raise SystemExit(f"make_batch: --tree {spec}: not a parent array (parents[0] = -1, "
                         "0 <= parents[i] < i)")
    return parents


def write_tree(a, mm):
    """The tree batch of --tree (see the module docstring)."""
    n_rounds, v = a.n, a.vocab
    parents = tree_parents(a.tree)
    n = len(parents)
    kids = [np.flatnonzero(parents == u) for u in range(n)]
    internal = np.array([u for u in range(n) if len(kids[u])], dtype=np.int64)
    np.save(os.path.join(a.out, "parents.npy"), parents)
    draft = mm("draft_probs.npy", (n_rounds, n, v), np.float32)  # leaves' rows stay holes
    target = mm("target_probs.npy", (n_rounds, n, v), np.float32)
    tokens = mm("draft_tokens.npy", (n_rounds, n), np.int32)
    coins = mm("random_coins.npy", (n_rounds, n), np.float32)

    rng = np.random.default_rng(a.seed)
    decay = (a.zipf * np.log1p(np.arange(v, dtype=np.float32))).astype(np.float32)
    for r0 in range(0, n_rounds, a.block):
        m = min(a.block, n_rounds - r0)
        z = rng.standard_normal((m, n, v), dtype=np.float32)
        z -= decay
        e = rng.standard_normal((m, len(internal), v), dtype=np.float32)
        e *= np.float32(a.sigma)
        e += z[:, internal]
        d = softmax_f32(e)
        target[r0:r0 + m] = softmax_f32(z)
        draft[r0:r0 + m, internal] = d
        width = max(len(kids[u]) for u in internal)
        if a.children == "top":  # the draft's top ids, most probable first (lower id on a tie)
            top = np.argpartition(-d, width - 1, axis=-1)[..., :width]
            vals = np.take_along_axis(d, top, -1)
            tok = np.take_along_axis(top, np.lexsort((top, -vals), axis=-1), -1)
        else:  # without replacement: inverse CDF over the weights left, one draw per child
            weight = d.astype(np.float64)
            tok = np.zeros((m, len(internal), width), dtype=np.int64)
            for j in range(width):
                cdf = np.cumsum(weight, axis=-1)
                u = rng.random((m, len(internal))) * cdf[..., -1]
                tok[..., j] = np.minimum((cdf <= u[..., None]).sum(axis=-1), v - 1)
                np.put_along_axis(weight, tok[..., j:j + 1], 0.0, axis=-1)
        block = np.zeros((m, n), dtype=np.int32)
        for i, u in enumerate(internal):
            block[:, kids[u]] = tok[:, i, :len(kids[u])]
            drafted = np.take_along_axis(d[:, i], tok[:, i, :len(kids[u])], -1)
            assert (drafted > 0).all()
            s = np.sort(tok[:, i, :len(kids[u])], axis=-1)
            assert (s[:, 1:] != s[:, :-1]).all()  # distinct siblings
        tokens[r0:r0 + m] = block
    coins[:] = rng.random((n_rounds, n), dtype=np.float32)
    for arr in (draft, target, tokens, coins):
        arr.flush()
    depth = 0
    level = np.zeros(n, dtype=np.int64)
    for i in range(1, n):
        level[i] = level[parents[i]] + 1
        depth = max(depth, int(level[i]))
    print(f"make_batch: wrote {a.out} (tree {a.tree}, children {a.children}: n = {n} nodes, "
          f"depth {depth}; N = {n_rounds}, V = {v})")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1024, help="rounds (default 1024)")
    ap.add_argument("--k", type=int, default=8, help="drafted tokens per round (default 8)")
    ap.add_argument("--vocab", type=int, default=32000, help="vocabulary size V (default 32000)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sigma", type=float, default=0.5, help="noise on the draft's logits")
    ap.add_argument("--zipf", type=float, default=0.0, help="logits decay by zipf*ln(1+id)")
    ap.add_argument("--block", type=int, default=32, help="rounds generated at a time")
    ap.add_argument("--tree", help="a tree batch of this shape: kary:W,D or file:PATH")
    ap.add_argument("--children", choices=["sample", "top"], default="sample",
                    help="a tree's children: drawn from the draft row without replacement "
                         "(default), or its top ids (deterministic, as target-only assumes)")
    ap.add_argument("--out", required=True, help="batch directory to write")
    a = ap.parse_args()
    n, k, v = a.n, a.k, a.vocab
    os.makedirs(a.out, exist_ok=True)
    mm = lambda name, shape, dt: np.lib.format.open_memmap(
        os.path.join(a.out, name), mode="w+", dtype=dt, shape=shape)
    if a.tree:
        return write_tree(a, mm)
    if os.path.exists(os.path.join(a.out, "parents.npy")):
        os.remove(os.path.join(a.out, "parents.npy"))  # would make the chain batch a tree batch
    draft = mm("draft_probs.npy", (n, k, v), np.float32)
    target = mm("target_probs.npy", (n, k + 1, v), np.float32)
    tokens = mm("draft_tokens.npy", (n, k), np.int32)
    coins = mm("random_coins.npy", (n, k), np.float32)

    rng = np.random.default_rng(a.seed)
    decay = (a.zipf * np.log1p(np.arange(v, dtype=np.float32))).astype(np.float32)
    for r0 in range(0, n, a.block):
        m = min(a.block, n - r0)
        z = rng.standard_normal((m, k + 1, v), dtype=np.float32)
        z -= decay
        e = rng.standard_normal((m, k, v), dtype=np.float32)
        e *= np.float32(a.sigma)
        e += z[:, :k]
        d = softmax_f32(e)
        target[r0:r0 + m] = softmax_f32(z)
        draft[r0:r0 + m] = d
        # Inverse CDF: the first id whose cumulative weight exceeds u * total.
        cdf = np.cumsum(d, axis=-1, dtype=np.float64)
        u = rng.random((m, k)) * cdf[..., -1]
        tok = np.minimum((cdf <= u[..., None]).sum(axis=-1), v - 1)
        assert (np.take_along_axis(d, tok[..., None], -1) > 0).all()
        tokens[r0:r0 + m] = tok
    coins[:] = rng.random((n, k), dtype=np.float32)
    for arr in (draft, target, tokens, coins):
        arr.flush()
    print(f"make_batch: wrote {a.out} (N = {n}, K = {k}, V = {v})")


if __name__ == "__main__":
    main()
