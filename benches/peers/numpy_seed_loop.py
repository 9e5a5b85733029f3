"""Peer: the plain numpy seed loop a user writes for a chain batch (SPEC section 1, token rule).

    python numpy_seed_loop.py DIR [--lean] [--reps 5] [--out tokens.npz]

Loads DIR's four .npy files with np.load(mmap_mode='r'), then applies the seed function to each
round in a Python loop: for i in range(K): accept iff coin < min(1, p/q); at the first rejection
the replacement is the argmax of max(0, target[i] - draft[i]) (argmax of target[i] if that is
zero everywhere) and the round stops; if all K are accepted, the bonus is argmax target[K].
Argmax ties go to the lowest id (np.argmax). No input validation (a plain loop has none).

Default: the seed function exactly as the project's numpy reference writes it
(tests/data/make_golden.py, "SPEC section 1 in numpy float64, written the obvious way"): each
round's rows are widened to float64 first, so every row of the batch is read.
--lean: a leaner loop that reads only the scalars and the one row each round needs, with the
residual in float32 as specsim's f32 engines form it. (For float32 input the f64 decision
coin < p/q is exact in both; the f64 and f32 residuals can differ only in near-ties.)

The default loop's time depends on the allocator: glibc may return each round's float64 copies
(4.3 MB at K = 8, V = 32000) to the kernel and fault them in again next round, which costs about
10x the loop's own work; MALLOC_MMAP_THRESHOLD_=1073741824 MALLOC_TRIM_THRESHOLD_=1073741824 in
the environment keeps them (benches/compare.sh sets both, in the peer's favour).

Timed: the loop only (the memory-maps are opened before the timer), with time.perf_counter,
best of --reps. Prints one JSON line: peer, seconds, generated_total (tokens generated over all
rounds), mean_generated, mean_acceptance_rate.
--out writes tokens [N, K+1] (padded with -1), num_accepted and num_generated, as
`specsim run --out` does, for a token-by-token comparison.
"""

import argparse
import json
import os
import time

import numpy as np


def load(batch):
    get = lambda name: np.load(os.path.join(batch, name + ".npy"), mmap_mode="r")
    return get("draft_probs"), get("target_probs"), get("draft_tokens"), get("random_coins")


def spec_decode(draft, target, tokens, coins):
    """SPEC section 1 in numpy float64, as tests/data/make_golden.py writes it."""
    d = np.asarray(draft, dtype=np.float64)
    t = np.asarray(target, dtype=np.float64)
    k = len(tokens)
    out = []
    for i in range(k):
        tok = tokens[i]
        p = t[i, tok]
        q = d[i, tok]
        a = min(1.0, p / q)
        if coins[i] < a:
            out.append(int(tok))
            continue
        residual = np.maximum(0.0, t[i] - d[i])
        if residual.max() == 0.0:
            out.append(int(np.argmax(t[i])))
        else:
            out.append(int(np.argmax(residual)))
        return out, i
    out.append(int(np.argmax(t[k])))
    return out, k


def seed_loop(draft, target, tokens, coins):
    n, k = tokens.shape
    out = np.full((n, k + 1), -1, dtype=np.int32)
    accepted = np.zeros(n, dtype=np.int32)
    for r in range(n):
        toks, accepted[r] = spec_decode(draft[r], target[r], tokens[r], coins[r])
        out[r, :len(toks)] = toks
    return out, accepted


def lean_loop(draft, target, tokens, coins):
    n, k = tokens.shape
    out = np.full((n, k + 1), -1, dtype=np.int32)
    accepted = np.zeros(n, dtype=np.int32)
    for r in range(n):
        for i in range(k):
            tok = int(tokens[r, i])
            p, q = float(target[r, i, tok]), float(draft[r, i, tok])
            if float(coins[r, i]) < min(1.0, p / q):
                out[r, i] = tok
                continue
            residual = np.maximum(target[r, i] - draft[r, i], 0)  # float32
            out[r, i] = np.argmax(residual) if residual.max() > 0 else np.argmax(target[r, i])
            accepted[r] = i
            break
        else:
            out[r, k] = np.argmax(target[r, k])
            accepted[r] = k
    return out, accepted


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("batch", help="batch directory of .npy files")
    ap.add_argument("--lean", action="store_true", help="read only the needed rows, in f32")
    ap.add_argument("--reps", type=int, default=5, help="repetitions; the best is reported")
    ap.add_argument("--out", help="write tokens, num_accepted, num_generated to this .npz")
    a = ap.parse_args()
    draft, target, tokens, coins = load(a.batch)
    loop = lean_loop if a.lean else seed_loop
    best = float("inf")
    for _ in range(a.reps):
        t0 = time.perf_counter()
        out, accepted = loop(draft, target, tokens, coins)
        best = min(best, time.perf_counter() - t0)
    if a.out:
        np.savez(a.out, tokens=out, num_accepted=accepted, num_generated=accepted + 1)
    k = tokens.shape[1]
    print(json.dumps({
        "peer": "numpy lean loop" if a.lean else "numpy seed loop",
        "seconds": best,
        "generated_total": int(np.sum(accepted + 1, dtype=np.int64)),
        "mean_generated": float(np.mean(accepted + 1.0)),
        "mean_acceptance_rate": float(np.mean(accepted) / k),
    }))


if __name__ == "__main__":
    main()
