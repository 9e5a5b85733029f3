#!/usr/bin/env python3
"""Makes tests/data/golden_rounds.json.gz: one-round cases decided by a straightforward numpy
float64 implementation of SPEC §1, plus the refusal classes of SPEC §2.

Run once (python3 -m pip install numpy; python3 tests/data/make_golden.py); the output is
committed and the Rust tests read it without Python.
"""
import gzip
import json
import os

import numpy as np


def spec_decode(draft, target, tokens, coins):
    """SPEC §1 in numpy float64, written the obvious way."""
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


def result(draft, target, tokens, coins):
    toks, accepted = spec_decode(draft, target, tokens, coins)
    k = len(tokens)
    return {
        "accepted_tokens": toks,
        "num_generated": len(toks),
        "acceptance_rate": round(accepted / k, 4) if k else 0.0,
    }


rng = np.random.default_rng(20261129)
cases = []


def add(name, draft, target, tokens, coins, options=None, error=None):
    inp = {
        "draft_probs": [list(map(float, r)) for r in draft],
        "target_probs": [list(map(float, r)) for r in target],
        "draft_tokens": [int(x) for x in tokens],
        "random_coins": [float(c) for c in coins],
    }
    case = {"name": name, "input": inp, "options": options or {}}
    if error:
        case["error"] = error
    else:
        case["expected"] = result(inp["draft_probs"], inp["target_probs"], inp["draft_tokens"], inp["random_coins"])
    cases.append(case)


def dist(v, sharp=1.0):
    x = rng.standard_normal(v) * sharp
    e = np.exp(x - x.max())
    return e / e.sum()


def random_round(k, v, closeness):
    """closeness in [0, 1]: 1 = draft equals target, 0 = unrelated."""
    target = [dist(v, 2.0) for _ in range(k + 1)]
    draft = []
    for i in range(k):
        other = dist(v, 2.0)
        d = closeness * target[i] + (1 - closeness) * other
        draft.append(d / d.sum())
    tokens = [int(rng.choice(v, p=d)) for d in draft]
    coins = rng.random(k)
    return draft, target, tokens, coins


# Random rounds: V from 2 to 32000, K from 1 to 32, drafts close to and far from the target.
for v, ks in [(2, [1, 2, 4, 8, 16, 32]), (3, [1, 5, 32]), (17, [1, 4, 8, 16, 32]),
              (100, [1, 3, 8, 16, 32]), (1000, [1, 8]), (32000, [])]:
    for k in ks:
        for closeness in (0.95, 0.5, 0.0):
            add(f"random v={v} k={k} close={closeness}", *random_round(k, v, closeness))
add("random v=1000 k=32 close=0.9", *random_round(32, 1000, 0.9))
add("random v=32000 k=1 close=0.9", *random_round(1, 32000, 0.9))
add("random v=32000 k=2 close=0.0", *random_round(2, 32000, 0.0))

# Strict comparison: coin == p/q exactly rejects; p >= q always accepts.
add("strict: coin equal to p/q rejects", [[0.5, 0.5]], [[0.25, 0.75], [0.5, 0.5]], [0], [0.5])
add("coin just below p/q accepts", [[0.5, 0.5]], [[0.25, 0.75], [0.5, 0.5]], [0], [np.nextafter(0.5, 0)])
add("p >= q accepts even a coin near 1", [[0.3, 0.7]], [[0.3, 0.7], [0.1, 0.9]], [0], [0.9999999999])
add("coin 0 never accepts p = 0", [[0.5, 0.5]], [[0.0, 1.0], [0.5, 0.5]], [0], [0.0])
add("coin 0 accepts any p > 0", [[0.5, 0.5]], [[1e-300, 1.0], [0.5, 0.5]], [0], [0.0])
# Argmax ties to the lowest id: residual and bonus.
add("residual tie goes to the lowest id", [[0.4, 0.2, 0.2, 0.2]], [[0.1, 0.3, 0.3, 0.3], [0.25] * 4], [0], [0.9])
add("bonus tie goes to the lowest id", [[0.5, 0.5]], [[0.5, 0.5], [0.5, 0.5]], [0], [0.1])
add("bonus tie among three", [[0.2, 0.2, 0.2, 0.4]], [[0.2, 0.2, 0.2, 0.4], [0.1, 0.3, 0.3, 0.3]], [3], [0.5])
add("uniform bonus gives token 0", [[0.25] * 4] * 2, [[0.25] * 4] * 3, [3, 1], [0.5, 0.99])
# Zero residual everywhere (only with unnormalised input): fall back to argmax target[i].
add("zero residual falls back to argmax target", [[0.2, 0.5, 0.3]], [[0.1, 0.25, 0.15], [0.3, 0.3, 0.4]], [1], [0.7],
    options={"allow_unnormalized": True})
add("zero residual with a tie in the target", [[0.4, 0.4, 0.2]], [[0.2, 0.2, 0.1], [1, 0, 0]], [0], [0.6],
    options={"allow_unnormalized": True})
# acceptance_rate rounding like Python's round(x, 4).
for accepted, k in [(1, 32), (3, 32), (1, 7), (5, 32), (2, 3), (31, 32), (7, 16)]:
    v = 2
    draft = [[0.5, 0.5]] * k
    target = [[0.5, 0.5]] * k + [[0.5, 0.5]]
    # accept the first `accepted` (p = q), then reject with p = 0.
    target = [[0.5, 0.5]] * accepted + [[0.0, 1.0]] * (k - accepted) + [[0.2, 0.8]]
    add(f"rate {accepted}/{k}", draft, target, [0] * k, [0.5] * k)
add("plain decode step (K = 0) when asked", [], [[0.1, 0.6, 0.3]], [], [], options={"plain_decode": True})
add("all accepted gives the bonus", [[0.5, 0.5]] * 2, [[0.5, 0.5], [0.5, 0.5], [0.1, 0.9]], [1, 0], [0.2, 0.3])
add("unnormalised accepted when asked", [[2.0, 2.0]], [[1.0, 3.0], [5.0, 1.0]], [0], [0.4],
    options={"allow_unnormalized": True})
add("sum off by less than 1e-3 is accepted", [[0.5, 0.5009]], [[0.5, 0.5], [0.5, 0.5]], [1], [0.5])

# Refusals (SPEC §2).
ok_d, ok_t = [[0.5, 0.5]], [[0.5, 0.5], [0.5, 0.5]]
add("K = 0 refused", [], [[1.0]], [], [], error="empty_draft")
add("too few targets", ok_d, ok_t[:1], [0], [0.5], error="length")
add("too many drafts", ok_d * 2, ok_t, [0], [0.5], error="length")
add("too few coins", ok_d, ok_t, [0], [], error="length")
add("draft row of another length", [[0.5, 0.25, 0.25]], ok_t, [0], [0.5], error="vocab_mismatch")
add("target row of another length", ok_d, [[0.5, 0.5], [1.0]], [0], [0.5], error="vocab_mismatch")
add("V = 0", [[]], [[], []], [0], [0.5], error="empty_vocabulary")
add("token id = V", ok_d, ok_t, [2], [0.5], error="token_out_of_range")
add("negative token id", ok_d, ok_t, [-1], [0.5], error="token_out_of_range")
add("coin = 1", ok_d, ok_t, [0], [1.0], error="coin_out_of_range")
add("negative coin", ok_d, ok_t, [0], [-0.1], error="coin_out_of_range")
add("negative probability", [[1.5, -0.5]], ok_t, [0], [0.5], error="bad_probability")
add("negative target probability", ok_d, [[0.5, 0.5], [1.5, -0.5]], [0], [0.5], error="bad_probability")
add("huge probability (inf is not JSON)", [[1e308, 1e308]], ok_t, [0], [0.5], error="not_normalized")
add("sum off by more than 1e-3", [[0.5, 0.5011]], ok_t, [0], [0.5], error="not_normalized")
add("target sum off", ok_d, [[0.5, 0.5], [0.7, 0.7]], [0], [0.5], error="not_normalized")
add("draft gives its token probability 0", [[0.0, 1.0]], ok_t, [0], [0.5], error="zero_draft_probability")
add("zero draft probability refused even when unnormalised allowed", [[0.0, 3.0]], ok_t, [0], [0.5],
    options={"allow_unnormalized": True}, error="zero_draft_probability")

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden_rounds.json.gz")
text = json.dumps({"generator": "tests/data/make_golden.py", "numpy": np.__version__, "cases": cases},
                  separators=(",", ":"))
with open(out, "wb") as f:
    f.write(gzip.compress(text.encode(), mtime=0))
print(f"wrote {len(cases)} cases to {out} ({os.path.getsize(out)} bytes)")
