"""Writes a chain batch directory for `specsim run` and the peers (README, "Batches").

    python make_batch.py --out DIR [--n 1024 --k 8 --vocab 32000 --seed 0 --sigma 0.5 --zipf 0]

DIR gets draft_probs.npy [N, K, V] f32, target_probs.npy [N, K+1, V] f32, draft_tokens.npy
[N, K] int32 and random_coins.npy [N, K] f32. The rows are a logit-noise workload, as specsim's
study family: target = softmax(z), draft = softmax(z + sigma * e), z and e standard normal per
token (minus zipf * ln(1 + id) when --zipf is given), normalised in float32, so every entry is
> 0 and every sum is within float32 rounding of 1. Drafted tokens are sampled from the draft rows
(inverse CDF over a cumulative sum, vectorised); coins are drawn as float32, so they are < 1.
Generated in blocks of rounds straight into memory-mapped .npy files: memory stays bounded.
"""

import argparse
import os

import numpy as np


def softmax_f32(logits):
    """Row-wise softmax over the last axis, computed and normalised in float32."""
    x = logits - logits.max(axis=-1, keepdims=True)
    np.exp(x, out=x)
    x /= x.sum(axis=-1, keepdims=True, dtype=np.float32)
    return x


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1024, help="rounds (default 1024)")
    ap.add_argument("--k", type=int, default=8, help="drafted tokens per round (default 8)")
    ap.add_argument("--vocab", type=int, default=32000, help="vocabulary size V (default 32000)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sigma", type=float, default=0.5, help="noise on the draft's logits")
    ap.add_argument("--zipf", type=float, default=0.0, help="logits decay by zipf*ln(1+id)")
    ap.add_argument("--block", type=int, default=32, help="rounds generated at a time")
    ap.add_argument("--out", required=True, help="batch directory to write")
    a = ap.parse_args()
    n, k, v = a.n, a.k, a.vocab
    os.makedirs(a.out, exist_ok=True)
    mm = lambda name, shape, dt: np.lib.format.open_memmap(
        os.path.join(a.out, name), mode="w+", dtype=dt, shape=shape)
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
