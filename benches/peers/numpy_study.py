"""Peer: a vectorised numpy version of one `specsim study` configuration (token rule).

    python numpy_study.py [--sigma 0.5 --vocab 2048 --k 8 --rounds 10000 --seed 7 --reps 1]

The logit-noise family as specsim generates it (README "Studies"; the CPU generator): per round
and position, z standard normal per token (minus zipf * ln(1 + id)); target = softmax(z / T_target)
for K + 1 positions, draft = softmax((z + sigma * e) / T_draft) for K, e standard normal per token
(defaults as specsim's: T_target = T_draft = 1, zipf 0), all in float32. Drafted tokens are
sampled from the draft rows (inverse CDF), coins are uniform float32. Then the token rule (accept
iff coin * q < p; replacement = argmax max(0, target - draft) at the first rejection, or the
bonus argmax target[K]), and, as specsim reports: mean generated per round with its 99% interval
(normal approximation, z = 2.5758) and the exact expectation 1 + mean over rounds of
sum_k prod_{i<=k} beta_i, beta_i = sum_x min(p_i(x), q_i(x)) (SPEC section 5).

numpy's own generator (PCG64), not specsim's Philox: the figures agree with specsim's
statistically, not bit for bit. Single thread, vectorised over blocks of rounds (--block) so that
memory stays bounded. Timed: everything above (generation included, as specsim's study
generates its rows), with time.perf_counter, best of --reps. Prints one JSON line.
"""

import argparse
import json
import time

import numpy as np

Z99 = 2.575829303548901


def softmax_f32(x):
    x = x - x.max(axis=-1, keepdims=True)
    np.exp(x, out=x)
    x /= x.sum(axis=-1, keepdims=True)
    return x


def block(rng, m, k, v, sigma, t_target, t_draft, decay):
    """m rounds: (accepted [m], output tokens [m], exact accepted [m])."""
    z = rng.standard_normal((m, k + 1, v), dtype=np.float32)
    if decay is not None:
        z -= decay
    e = rng.standard_normal((m, k, v), dtype=np.float32)
    target = softmax_f32(z / np.float32(t_target))
    draft = softmax_f32((z[:, :k] + np.float32(sigma) * e) / np.float32(t_draft))
    beta = np.minimum(target[:, :k], draft).sum(axis=-1, dtype=np.float64)  # [m, k]
    exact = np.cumprod(beta, axis=1).sum(axis=1)

    # Drafted tokens from the draft rows (first id whose cumulative weight exceeds u * total).
    cdf = np.cumsum(draft, axis=-1)
    u = rng.random((m, k)) * cdf[..., -1]
    tok = np.minimum((cdf <= u[..., None]).sum(axis=-1), v - 1)
    coins = rng.random((m, k), dtype=np.float32)

    # Token rule: accept iff coin * q < p (exact in f64 for float32 values).
    p = np.take_along_axis(target[:, :k], tok[..., None], -1)[..., 0]
    q = np.take_along_axis(draft, tok[..., None], -1)[..., 0]
    ok = coins.astype(np.float64) * q < p
    accepted = np.where(ok.all(axis=1), k, np.argmin(ok, axis=1))

    # The one row each round needs: residual at the first rejection, or the bonus row.
    rows = np.arange(m)
    trow = target[rows, accepted]
    drow = np.zeros_like(trow)
    rej = accepted < k
    drow[rej] = draft[rows[rej], accepted[rej]]
    res = np.maximum(trow - drow, 0)
    out = np.where(res.max(axis=1) > 0, np.argmax(res, axis=1), np.argmax(trow, axis=1))
    return accepted, out, exact


def study(a):
    rng = np.random.default_rng(a.seed)
    decay = None
    if a.zipf:
        decay = (a.zipf * np.log1p(np.arange(a.vocab, dtype=np.float32))).astype(np.float32)
    acc, exact = [], []
    for r0 in range(0, a.rounds, a.block):
        m = min(a.block, a.rounds - r0)
        ac, _, ex = block(rng, m, a.k, a.vocab, a.sigma, a.t_target, a.t_draft, decay)
        acc.append(ac)
        exact.append(ex)
    return np.concatenate(acc), np.concatenate(exact)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sigma", type=float, default=0.5)
    ap.add_argument("--vocab", type=int, default=2048)
    ap.add_argument("--k", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=10000)
    ap.add_argument("--t-target", type=float, default=1.0)
    ap.add_argument("--t-draft", type=float, default=1.0)
    ap.add_argument("--zipf", type=float, default=0.0)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--block", type=int, default=256, help="rounds generated at a time")
    ap.add_argument("--reps", type=int, default=1, help="repetitions; the best is reported")
    a = ap.parse_args()
    best = float("inf")
    for _ in range(a.reps):
        t0 = time.perf_counter()
        acc, exact = study(a)
        gen = acc + 1.0
        mean, sd = gen.mean(), gen.std(ddof=1)
        half = Z99 * sd / np.sqrt(len(gen))
        exact_mean = 1.0 + exact.mean()
        best = min(best, time.perf_counter() - t0)
    print(json.dumps({
        "peer": "numpy study",
        "seconds": best,
        "rounds": a.rounds,
        "mean_generated": float(mean),
        "ci99_low": float(mean - half),
        "ci99_high": float(mean + half),
        "exact_mean_generated": float(exact_mean),
        "exact_within_ci99": bool(abs(mean - exact_mean) <= half),
    }))


if __name__ == "__main__":
    main()
