#!/usr/bin/env python3
"""Makes tests/data/golden_block.json.gz: one-round cases of block verification (SPEC §6, Sun et
al., "Block Verification Accelerates Speculative Decoding", 2025) decided by an independent,
straightforward numpy float64 implementation, plus SPEC §2's refusal classes and exact
expectations for the studies.

Run once, from anywhere:

    python3 -m venv /tmp/pyenv && /tmp/pyenv/bin/pip install numpy
    /tmp/pyenv/bin/python tests/data/make_block_golden.py

The output is committed and the Rust tests read it without Python. The script is deterministic
(fixed seed; gzip written with mtime 0), so rerunning it with the same numpy gives the same file.

Layout (JSON, gzip):
- "cases": like golden_rounds.json.gz (tests/data/make_golden.py): {"name", "input": {draft_probs,
  target_probs, draft_tokens, random_coins}, "options": {"allow_unnormalized"?: bool}, and either
  "expected": {accepted_tokens, num_generated, acceptance_rate} or "error": kind}. Decided cases
  also carry "token_expected" (SPEC §1's token rule on the same input, to show where the rules
  differ), "P" = [P_0..P_K] and "h" = [h_1..h_K] (floats, for debugging).
- "expectations": small rows (V in 2..4, K in 1..3) with the exact E[tau] by enumeration over all
  V^K drafted sequences: "e_tau_block" = sum_seq prob(seq) sum_i P_i(seq), "e_tau_token" (the
  token rule, per sequence) and "e_tau_token_beta" = sum_k prod_{i<=k} beta_i (SPEC §5).

Order of operations (f64), exactly as SPEC §6 reads:
- P_i = min(1, P_{i-1} * (p_{i-1} / q_{i-1})): the ratio first, then the product, then the min;
- R_i = sum_x max(P_i * t_i[x] - d_i[x], 0) summed sequentially in ascending x (np.cumsum, not
  np.sum, whose pairwise order can differ in the last bit);
- h_i = R_i / (R_i + (1 - P_i)), h_i = 1 when that denominator is exactly 0; h_K = P_K;
- tau = the largest i with coin[i-1] < h_i (strict), 0 if none.
"""
import gzip
import itertools
import json
import os

import numpy as np

SEED = 20251130
rng = np.random.default_rng(SEED)


# ---------------------------------------------------------------------------------------------
# The two rules, written the obvious way.
# ---------------------------------------------------------------------------------------------

def block_weights(d, t, tokens):
    """P = [P_0..P_K] and h = [h_1..h_K] of SPEC §6 (python floats, f64)."""
    k = len(tokens)
    P = [1.0]
    for i in range(1, k + 1):
        tok = tokens[i - 1]
        p = float(t[i - 1, tok])
        q = float(d[i - 1, tok])
        ratio = p / q
        P.append(min(1.0, P[i - 1] * ratio))
    h = []
    for i in range(1, k):
        c = np.maximum(P[i] * t[i] - d[i], 0.0)
        r = float(np.cumsum(c)[-1])  # sequential, ascending x
        denom = r + (1.0 - P[i])
        h.append(1.0 if denom == 0.0 else r / denom)
    h.append(P[k])
    return P, h


def block_decide(d, t, tokens, coins):
    """SPEC §6 block verification: returns (accepted tokens with the correction/bonus, tau, P, h)."""
    k = len(tokens)
    P, h = block_weights(d, t, tokens)
    tau = 0
    for i in range(1, k + 1):
        if coins[i - 1] < h[i - 1]:
            tau = i
    out = [int(x) for x in tokens[:tau]]
    if tau == k:
        out.append(int(np.argmax(t[k])))
    else:
        corr = np.maximum(P[tau] * t[tau] - d[tau], 0.0)
        out.append(int(np.argmax(t[tau])) if corr.max() == 0.0 else int(np.argmax(corr)))
    return out, tau, P, h


def token_decide(d, t, tokens, coins):
    """SPEC §1, the token rule (as in make_golden.py): returns (tokens, accepted)."""
    k = len(tokens)
    out = []
    for i in range(k):
        tok = tokens[i]
        a = min(1.0, float(t[i, tok]) / float(d[i, tok]))
        if coins[i] < a:
            out.append(int(tok))
            continue
        res = np.maximum(0.0, t[i] - d[i])
        out.append(int(np.argmax(t[i])) if res.max() == 0.0 else int(np.argmax(res)))
        return out, i
    out.append(int(np.argmax(t[k])))
    return out, k


def summary(toks, accepted, k):
    return {"accepted_tokens": toks, "num_generated": len(toks), "acceptance_rate": round(accepted / k, 4)}


# ---------------------------------------------------------------------------------------------
# Cases.
# ---------------------------------------------------------------------------------------------

cases = []


def as_input(draft, target, tokens, coins):
    return {
        "draft_probs": [[float(x) for x in r] for r in draft],
        "target_probs": [[float(x) for x in r] for r in target],
        "draft_tokens": [int(x) for x in tokens],
        "random_coins": [float(c) for c in coins],
    }


def arrays(inp):
    return (np.array(inp["draft_probs"], dtype=np.float64), np.array(inp["target_probs"], dtype=np.float64),
            inp["draft_tokens"], inp["random_coins"])


def add(name, draft, target, tokens, coins, options=None, error=None):
    """Adds a case decided on the values as stored in JSON; returns (tau, token accepted, P, h)."""
    inp = as_input(draft, target, tokens, coins)
    case = {"name": name, "input": inp, "options": options or {}}
    assert name not in {c["name"] for c in cases}, name
    if error:
        case["error"] = error
        cases.append(case)
        return None
    d, t, toks, cs = arrays(inp)
    k = len(toks)
    assert k >= 1 and d.shape == (k, t.shape[1]) and t.shape[0] == k + 1 and len(cs) == k, name
    assert all(0.0 <= c < 1.0 for c in cs), name
    assert all(d[i, toks[i]] > 0 for i in range(k)), name
    if not (options or {}).get("allow_unnormalized"):
        assert all(abs(r.sum() - 1.0) <= 1e-3 for r in list(d) + list(t)), name
    out, tau, P, h = block_decide(d, t, toks, cs)
    tout, tacc = token_decide(d, t, toks, cs)
    if k == 1:  # SPEC §6: K = 1 is the token rule exactly.
        assert (out, tau) == (tout, tacc), name
    case["expected"] = summary(out, tau, k)
    case["token_expected"] = summary(tout, tacc, k)
    case["P"] = [float(x) for x in P]
    case["h"] = [float(x) for x in h]
    cases.append(case)
    return tau, tacc, P, h


def dist(v, sharp=1.0):
    x = rng.standard_normal(v) * sharp
    e = np.exp(x - x.max())
    return e / e.sum()


def random_rows(k, v, style):
    """K draft rows and K + 1 target rows: 'close' / 'unrelated' / 'sharp' / 'flat'."""
    s = {"close": 2.0, "unrelated": 2.0, "sharp": 6.0, "flat": 0.2}[style]
    target = [dist(v, s) for _ in range(k + 1)]
    draft = []
    for i in range(k):
        other = dist(v, s)
        if style == "close":
            x = 0.9 * target[i] + 0.1 * other
        elif style == "sharp":
            x = 0.6 * target[i] + 0.4 * other
        else:
            x = other
        draft.append(x / x.sum())
    return draft, target


def sample_tokens(draft):
    return [int(rng.choice(len(r), p=r)) for r in draft]


def random_round(k, v, style):
    draft, target = random_rows(k, v, style)
    return draft, target, sample_tokens(draft), rng.random(k)


def weights_of(draft, target, tokens):
    d, t, toks, _ = arrays(as_input(draft, target, tokens, [0.0] * len(tokens)))
    return block_weights(d, t, toks)


STYLES = ("close", "unrelated", "sharp", "flat")

# 1. Random rounds.
for k in range(1, 9):
    add(f"random v=1 k={k}", *random_round(k, 1, "flat"))
for v in (2, 3, 5, 17, 100):
    for k in range(1, 9):
        for style in STYLES:
            add(f"random v={v} k={k} {style}", *random_round(k, v, style))
for k in (1, 3, 8):
    for style in ("close", "unrelated"):
        add(f"random v=1000 k={k} {style}", *random_round(k, 1000, style))

# 2. Coins exactly at h_i (must fail: the test is strict) and just below h_i (must pass).
n_edge = 0
for v, k in [(3, 2), (5, 3), (17, 4), (3, 5), (5, 6), (17, 8), (2, 3), (100, 4), (5, 2), (17, 3),
             (3, 4), (5, 5), (2, 6), (17, 6)]:
    style = STYLES[n_edge % 4]
    n_edge += 1
    for _attempt in range(200):
        draft, target = random_rows(k, v, style)
        tokens = sample_tokens(draft)
        P, h = weights_of(draft, target, tokens)
        # positions j (1-based) with 0 < h_j < 1 and every later h_i < 1 (so later coins can fail)
        js = [j for j in range(1, k + 1) if 0.0 < h[j - 1] < 1.0 and all(x < 1.0 for x in h[j:])]
        if js:
            break
    else:
        raise AssertionError("no edge round found")
    j = js[-1] if n_edge % 2 else js[0]
    fail = [x if x < 1.0 else 0.5 for x in h]  # coin = h_i fails wherever h_i < 1
    at = list(fail)
    below = list(fail)
    below[j - 1] = float(np.nextafter(h[j - 1], 0.0))
    r_at = add(f"coin at h_{j} fails v={v} k={k} {style}", draft, target, tokens, at)
    r_below = add(f"coin just below h_{j} passes v={v} k={k} {style}", draft, target, tokens, below)
    assert r_at[0] < j and r_below[0] == j, (r_at[0], r_below[0], j)
    # every coin at h_i / every coin just below h_i
    add(f"all coins at h v={v} k={k} {style}", draft, target, tokens, fail)
    all_below = [float(np.nextafter(x, 0.0)) if 0.0 < x < 1.0 else (0.5 if x >= 1.0 else 0.0) for x in h]
    add(f"all coins just below h v={v} k={k} {style}", draft, target, tokens, all_below)

# 3. K = 1: block is the token rule (asserted in add()).
for v in (2, 3, 17):
    for style in STYLES:
        draft, target, tokens, _ = random_round(1, v, style)
        P, h = weights_of(draft, target, tokens)
        add(f"k=1 v={v} {style} uniform coin", draft, target, tokens, rng.random(1))
        if h[0] < 1.0:
            add(f"k=1 v={v} {style} coin at h", draft, target, tokens, [h[0]])
            if h[0] > 0.0:
                add(f"k=1 v={v} {style} coin below h", draft, target, tokens, [float(np.nextafter(h[0], 0.0))])

# 4. The paper's example: V = 2, p = (1/3, 2/3), q = (2/3, 1/3), K = 2.
PAPER_P = [1 / 3, 2 / 3]
PAPER_Q = [2 / 3, 1 / 3]
paper_d = [PAPER_Q, PAPER_Q]
paper_t = [PAPER_P, PAPER_P, PAPER_P]
for tokens in ([0, 0], [0, 1], [1, 0], [1, 1]):
    for coins in ([0.1, 0.1], [0.4, 0.2], [0.6, 0.9], [0.0, 0.5], [0.9, 0.3], [0.49, 0.99]):
        add(f"paper example tokens={tokens} coins={coins}", paper_d, paper_t, tokens, coins)

# 5. A later coin rescues an earlier failed one (tau > the first failing position).
def first_failing(h, coins):
    return next((i for i in range(1, len(h) + 1) if not coins[i - 1] < h[i - 1]), None)


rescue_inputs = [
    # paper example, tokens (0, 1): h_1 = 0 (R_1 = 0, P_1 = 1/2), h_2 = P_2 = 1.
    ("rescue: paper example, coin_0 fails, coin_1 passes", paper_d, paper_t, [0, 1], [0.7, 0.9]),
    # V = 3 hand-built: P_1 = 1/2, R_1 = 0.1, h_1 = 1/6; P_2 = min(1, 1/2 * 2) = 1 = h_2.
    ("rescue: hand-built v=3",
     [[0.4, 0.3, 0.3], [0.2, 0.4, 0.4]],
     [[0.2, 0.4, 0.4], [0.4, 0.3, 0.3], [0.1, 0.2, 0.7]],
     [0, 0], [0.5, 0.99]),
]
for name, dr, tg, toks, cs in rescue_inputs:
    tau, tacc, P, h = add(name, dr, tg, toks, cs)
    f = first_failing(h, cs)
    assert f is not None and tau > f and tacc < tau, (name, tau, f, h)
found = 0
while found < 4:
    k = int(rng.integers(2, 6))
    v = int(rng.choice([3, 5, 17]))
    draft, target, tokens, coins = random_round(k, v, STYLES[found % 4])
    P, h = weights_of(draft, target, tokens)
    tau = max([i for i in range(1, k + 1) if coins[i - 1] < h[i - 1]], default=0)
    f = first_failing(h, coins)
    if f is not None and tau > f:
        found += 1
        r = add(f"rescue: random {found} v={v} k={k}", draft, target, tokens, coins)
        assert r[0] > first_failing(r[3], [float(c) for c in coins])

# 6. Rounds where the token rule accepts MORE than block (block >= token holds only in expectation).
found = 0
while found < 4:
    k = int(rng.integers(2, 7))
    v = int(rng.choice([2, 3, 5, 17]))
    draft, target, tokens, coins = random_round(k, v, STYLES[found % 4])
    d, t, toks, cs = arrays(as_input(draft, target, tokens, coins))
    _, tau, _, _ = block_decide(d, t, toks, cs)
    _, tacc = token_decide(d, t, toks, cs)
    if tacc > tau:
        found += 1
        r = add(f"token accepts more than block {found} v={v} k={k}", draft, target, tokens, coins)
        assert r[1] > r[0]

# 7. Special structure.
# P reaches exactly 1 (p >= q at every drafted token) and stays there; h_i = 1 via R_i > 0 or 0/0.
add("P stays 1 when p >= q (rows equal: R = 0, denominator 0, h = 1)",
    [[0.2, 0.5, 0.3]] * 3, [[0.2, 0.5, 0.3]] * 4, [1, 0, 2], [0.99, 0.99, 0.99])
add("P reaches 1 from above (p > q), R > 0 gives h = 1",
    [[0.5, 0.25, 0.25], [0.5, 0.25, 0.25]], [[0.25, 0.5, 0.25], [0.25, 0.5, 0.25], [0.1, 0.1, 0.8]],
    [1, 1], [0.999, 0.999])
add("P back to 1 after a drop (P_1 = 1/2, P_2 = min(1, 1/2 * 4) = 1)",
    [[0.5, 0.5], [0.2, 0.8]], [[0.25, 0.75], [0.8, 0.2], [0.3, 0.7]], [0, 0], [0.99, 0.99])
# V = 1: every P and h is 1 (R = 0, denominator 0): all accepted, bonus 0.
add("v=1 k=3 all accepted", [[1.0]] * 3, [[1.0]] * 4, [0, 0, 0], [0.999, 0.0, 0.5])
# p = 0 for a drafted token: P = 0 from there on, h = 0 there and after; coin 0 cannot pass.
add("p = 0 at position 2: P = 0 onwards, coin 0 fails",
    [[0.5, 0.5]] * 3, [[0.5, 0.5], [0.0, 1.0], [0.5, 0.5], [0.3, 0.7]], [0, 0, 1], [0.3, 0.0, 0.0])
add("p = 0 at position 1: tau = 0, correction from the plain residual",
    [[0.5, 0.3, 0.2]] * 2, [[0.0, 0.6, 0.4], [0.2, 0.2, 0.6], [1, 0, 0]], [0, 2], [0.0, 0.0])
add("p = 0 at the last position: h_K = 0",
    [[0.5, 0.5]] * 2, [[0.5, 0.5], [1.0, 0.0], [0.5, 0.5]], [0, 1], [0.2, 0.0])
# Tiny q: p / q overflows to inf, P_i = min(1, P_{i-1} * inf) = 1 (P_{i-1} > 0).
add("p/q overflows to inf, P = 1",
    [[1.0 - 1e-310, 1e-310], [0.5, 0.5]], [[0.5, 0.5], [0.5, 0.5], [0.4, 0.6]], [1, 0], [0.99, 0.99])
# Ties in the correction argmax (P_1 = 1/2: P*t - d = (0.1, 0.1, -, -)): lowest id wins.
add("correction tie at tau=1 goes to the lowest id",
    [[0.4, 0.2, 0.2, 0.2], [0.1, 0.1, 0.4, 0.4]],
    [[0.2, 0.3, 0.3, 0.2], [0.4, 0.4, 0.1, 0.1], [0.25] * 4], [0, 2], [0.0, 0.9])
add("correction tie between ids 1 and 3 at tau=1",
    [[0.4, 0.2, 0.2, 0.2], [0.4, 0.1, 0.4, 0.1]],
    [[0.2, 0.3, 0.3, 0.2], [0.1, 0.4, 0.1, 0.4], [0.25] * 4], [0, 2], [0.0, 0.9])
add("correction tie at tau=0 goes to the lowest id",
    [[0.4, 0.2, 0.2, 0.2], [0.25] * 4], [[0.1, 0.3, 0.3, 0.3], [0.25] * 4, [0.25] * 4], [0, 1], [0.9, 0.9])
add("bonus tie goes to the lowest id", [[0.5, 0.5]] * 2, [[0.5, 0.5]] * 3, [1, 0], [0.3, 0.3])
# Correction vector zero everywhere -> argmax target[tau]. Reachable only where R_tau = 0 and
# h_tau = 1 (P_tau = 1, draft row >= target row), or at tau = 0.
add("zero correction at tau=1 (P_1 = 1, draft row >= target row) falls back to argmax target",
    [[0.2, 0.5, 0.3], [0.4, 0.5, 0.3]], [[0.2, 0.5, 0.3], [0.2, 0.5, 0.3], [0.6, 0.2, 0.2]], [1, 0], [0.99, 0.7],
    options={"allow_unnormalized": True})
add("zero correction at tau=1 within the 1e-3 tolerance",
    [[0.2, 0.5, 0.3], [0.2005, 0.5, 0.3]], [[0.2, 0.5, 0.3], [0.2, 0.5, 0.3], [0.6, 0.2, 0.2]], [1, 0], [0.99, 0.9999])
add("zero correction at tau=0 falls back to argmax target",
    [[0.2, 0.5, 0.3], [0.2, 0.5, 0.3]], [[0.1, 0.25, 0.15], [0.3, 0.3, 0.4], [1, 0, 0]], [1, 2], [0.7, 0.7],
    options={"allow_unnormalized": True})
add("zero correction with a tie in the target",
    [[0.4, 0.4, 0.2]], [[0.2, 0.2, 0.1], [1, 0, 0]], [0], [0.6], options={"allow_unnormalized": True})
# Unnormalised inputs (allowed on request).
for n in range(6):
    k = int(rng.integers(1, 6))
    v = int(rng.choice([2, 3, 5, 17]))
    draft, target, tokens, coins = random_round(k, v, STYLES[n % 4])
    draft = [r * rng.uniform(0.3, 3.0) for r in draft]
    target = [r * rng.uniform(0.3, 3.0) for r in target]
    add(f"unnormalised {n} v={v} k={k}", draft, target, tokens, coins, options={"allow_unnormalized": True})
add("unnormalised hand-built", [[2.0, 2.0], [1.0, 3.0]], [[1.0, 3.0], [5.0, 1.0], [0.5, 0.5]], [0, 1], [0.1, 0.4],
    options={"allow_unnormalized": True})
# acceptance_rate rounding (Python's round(x, 4)): accept `a` of k by p = q, then p = 0.
for accepted, k in [(1, 7), (2, 3), (5, 8), (1, 6)]:
    target = [[0.5, 0.5]] * accepted + [[0.0, 1.0]] * (k - accepted) + [[0.2, 0.8]]
    add(f"rate {accepted}/{k}", [[0.5, 0.5]] * k, target, [0] * k, [0.5] * k)

# 8. Refusals (SPEC §2, the same classes and kinds as the token rule's).
ok_d, ok_t = [[0.5, 0.5]] * 2, [[0.5, 0.5]] * 3
add("refused: K = 0", [], [[1.0]], [], [], error="empty_draft")
add("refused: too few targets", ok_d, ok_t[:2], [0, 1], [0.5, 0.5], error="length")
add("refused: too many drafts", ok_d * 2, ok_t, [0, 1], [0.5, 0.5], error="length")
add("refused: too few tokens", ok_d, ok_t, [0], [0.5, 0.5], error="length")
add("refused: too few coins", ok_d, ok_t, [0, 1], [0.5], error="length")
add("refused: draft row of another length", [[0.5, 0.5], [0.5, 0.25, 0.25]], ok_t, [0, 1], [0.5, 0.5],
    error="vocab_mismatch")
add("refused: target row of another length", ok_d, [[0.5, 0.5], [0.5, 0.5], [1.0]], [0, 1], [0.5, 0.5],
    error="vocab_mismatch")
add("refused: V = 0", [[], []], [[], [], []], [0, 0], [0.5, 0.5], error="empty_vocabulary")
add("refused: token id = V", ok_d, ok_t, [0, 2], [0.5, 0.5], error="token_out_of_range")
add("refused: negative token id", ok_d, ok_t, [-1, 0], [0.5, 0.5], error="token_out_of_range")
add("refused: coin = 1", ok_d, ok_t, [0, 1], [0.5, 1.0], error="coin_out_of_range")
add("refused: negative coin", ok_d, ok_t, [0, 1], [-0.1, 0.5], error="coin_out_of_range")
add("refused: negative draft probability", [[0.5, 0.5], [1.5, -0.5]], ok_t, [0, 0], [0.5, 0.5],
    error="bad_probability")
add("refused: negative target probability", ok_d, [[0.5, 0.5], [0.5, 0.5], [1.5, -0.5]], [0, 1], [0.5, 0.5],
    error="bad_probability")
add("refused: draft sum off by more than 1e-3", [[0.5, 0.5], [0.5, 0.5011]], ok_t, [0, 1], [0.5, 0.5],
    error="not_normalized")
add("refused: target sum off", ok_d, [[0.5, 0.5], [0.7, 0.7], [0.5, 0.5]], [0, 1], [0.5, 0.5],
    error="not_normalized")
add("refused: drafted token with draft probability 0", [[0.5, 0.5], [0.0, 1.0]], ok_t, [1, 0], [0.5, 0.5],
    error="zero_draft_probability")
add("refused: zero draft probability even when unnormalised allowed", [[0.0, 3.0], [1.0, 1.0]], ok_t, [0, 0],
    [0.5, 0.5], options={"allow_unnormalized": True}, error="zero_draft_probability")


# ---------------------------------------------------------------------------------------------
# Exact expectations by enumeration.
# ---------------------------------------------------------------------------------------------

def expectations(draft, target):
    d = np.array(draft, dtype=np.float64)
    t = np.array(target, dtype=np.float64)
    k, v = d.shape
    e_block = 0.0
    e_token = 0.0
    for seq in itertools.product(range(v), repeat=k):
        prob = 1.0
        for i, x in enumerate(seq):
            prob *= float(d[i, x])
        if prob == 0.0:
            continue
        P, _ = block_weights(d, t, list(seq))
        e_block += prob * sum(P[1:])
        run, acc = 1.0, 0.0
        for i, x in enumerate(seq):
            run *= min(1.0, float(t[i, x]) / float(d[i, x]))
            acc += run
        e_token += prob * acc
    betas = [float(np.minimum(t[i], d[i]).sum()) for i in range(k)]
    e_beta = sum(float(np.prod(betas[:j])) for j in range(1, k + 1))
    assert abs(e_token - e_beta) < 1e-12, (e_token, e_beta)
    assert e_block >= e_token - 1e-12, (e_block, e_token)
    return e_block, e_token, e_beta


def simulate_block(draft, target, n, rng_sim):
    """Monte-Carlo E[tau_block]: tokens sampled from the draft rows, uniform coins."""
    d = np.array(draft, dtype=np.float64)
    t = np.array(target, dtype=np.float64)
    k, v = d.shape
    toks = np.stack([rng_sim.choice(v, size=n, p=d[i] / d[i].sum()) for i in range(k)], axis=1)
    P = np.ones((n, k + 1))
    for i in range(1, k + 1):
        tok = toks[:, i - 1]
        P[:, i] = np.minimum(1.0, P[:, i - 1] * (t[i - 1, tok] / d[i - 1, tok]))
    h = np.empty((n, k))
    for i in range(1, k):
        r = np.maximum(P[:, i:i + 1] * t[i][None, :] - d[i][None, :], 0.0).sum(axis=1)
        denom = r + (1.0 - P[:, i])
        h[:, i - 1] = np.where(denom == 0.0, 1.0, r / np.where(denom == 0.0, 1.0, denom))
    h[:, k - 1] = P[:, k]
    coins = rng_sim.random((n, k))
    passed = coins < h
    idx = np.arange(1, k + 1)[None, :]
    tau = np.where(passed, idx, 0).max(axis=1)
    return tau.mean(), tau.std(ddof=1) / np.sqrt(n)


expect = []


def add_expectation(name, draft, target, simulate=False):
    draft = [[float(x) for x in r] for r in draft]
    target = [[float(x) for x in r] for r in target]
    e_block, e_token, e_beta = expectations(draft, target)
    entry = {"name": name, "draft_probs": draft, "target_probs": target,
             "e_tau_block": e_block, "e_tau_token": e_token, "e_tau_token_beta": e_beta}
    if simulate:
        mean, se = simulate_block(draft, target, 200_000, np.random.default_rng(SEED + len(expect)))
        z = (mean - e_block) / se
        print(f"monte-carlo check {name!r}: simulated E[tau_block] = {mean:.5f} +- {se:.5f}, "
              f"enumerated {e_block:.5f} (z = {z:+.2f}); token rule {e_token:.5f}")
        assert abs(z) < 5.0, (name, mean, se, e_block)
    expect.append(entry)
    return entry


paper = add_expectation("paper example v=2 k=2", paper_d, paper_t, simulate=True)
assert abs(paper["e_tau_token"] - 10 / 9) < 1e-12 and abs(paper["e_tau_block"] - 11 / 9) < 1e-12, paper
n_sim = 1
for n in range(30):
    v = 2 + n % 3
    k = 1 + (n // 3) % 3
    style = STYLES[n % 4]
    draft, target = random_rows(k, v, style)
    if n % 7 == 3:  # a zero in a draft row: those sequences are skipped
        draft[0] = np.where(np.arange(v) == 0, 0.0, draft[0])
        draft[0] = draft[0] / draft[0].sum()
    simulate = k >= 2 and n_sim < 5 and n % 2 == 1
    n_sim += simulate
    add_expectation(f"random {n} v={v} k={k} {style}", draft, target, simulate=simulate)
assert n_sim == 5, n_sim

# ---------------------------------------------------------------------------------------------
# Write.
# ---------------------------------------------------------------------------------------------

decided = sum(1 for c in cases if "expected" in c)
refused = sum(1 for c in cases if "error" in c)
differ = sum(1 for c in cases if "expected" in c and c["expected"] != c["token_expected"])
assert decided >= 150 and refused >= 10, (decided, refused)
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden_block.json.gz")
text = json.dumps({"generator": "tests/data/make_block_golden.py", "numpy": np.__version__, "seed": SEED,
                   "cases": cases, "expectations": expect}, separators=(",", ":"))
with open(out, "wb") as f:
    f.write(gzip.compress(text.encode(), mtime=0))
print(f"wrote {decided} decided and {refused} refused cases ({differ} where block and token differ), "
      f"{len(expect)} expectations to {out} ({os.path.getsize(out)} bytes)")
