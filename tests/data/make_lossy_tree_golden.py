#!/usr/bin/env python3
"""Makes tests/data/golden_lossy_tree.json.gz: one-round cases of the lossy rules as verification
rules of the engines (SPEC §13): `typical:eps:delta` and `lenient:l` on chains (path trees) and
`sglang:ts:ta` on chains and trees, decided by an independent, straightforward numpy float64
implementation written from SPEC §13 and docs/SPEC.md's decisions, plus refusals and exact
expectations. The Rust tests read it beside golden_tree.json.gz, in the same layout (see
make_tree_golden.py: "cases" and "expectations"), so the f64 reference, both f32 engines, the exact
expectations and the positional vectors are held to it.

Run once, from anywhere:

    python3 -m venv /tmp/pyenv && /tmp/pyenv/bin/pip install numpy
    /tmp/pyenv/bin/python tests/data/make_lossy_tree_golden.py

Deterministic (fixed seed; gzip written with mtime 0).

A rule's parameters are f32 (the engines compute in f32; the f64 reference reads the f32 values
exactly): the script reads each parameter as float(np.float32(text)).

Order of operations (f64), t = |target_probs[u]|, q = |draft_probs[u]|, x the child's token, every
argmax np.argmax (ties to the lowest id); at a leaf the bonus is argmax t:
- typical:eps:delta (one child): H = 0; for y ascending: H -= t[y] * ln(t[y] + 1e-5); threshold =
  min(eps, delta * exp(-H)); accept iff t[x] > threshold (strict); else the correction argmax t.
  No coin is read.
- lenient:l (one child): a = min(1, t[x] / (l * q[x])); accept iff coin[child] < a; else res =
  max(t - l * q, 0); the correction argmax res, or argmax t if res is zero everywhere.
- sglang:ts:ta: coin = coin[u] (the node's own, as target-only); S = 0; children in increasing
  node index: S += t[x]; accept iff t[x] >= ts or coin * ta <= S; none: the correction argmax of t
  with every child's token set to 0 (argmax t if that is zero everywhere).

Expectations: E[generated] with the coins uniform on [0, 1): typical and lenient on chains with
every token drawn i.i.d. from q / sum(q), by enumerating every token tuple (V^K <= 4096) and
integrating each coin analytically (a test passes with its threshold's probability); sglang on
trees with each node's children the draft's top-m (ties to the lowest id), by integrating the
node's coin over the intervals between its breakpoints {S_j / ta}, deciding at each interval's
midpoint with the decision function itself.
"""

import gzip
import itertools
import json
import math
import os

import numpy as np

SEED = 20261207
rng = np.random.default_rng(SEED)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden_lossy_tree.json.gz")


def f32(x):
    return float(np.float32(x))


def params_of(rule):
    name, *args = rule.split(":")
    vals = [f32(a) for a in args]
    if name == "typical" and not vals:
        vals = [f32("0.09"), f32("0.3")]
    if name == "sglang" and not vals:
        vals = [1.0, 1.0]
    return name, vals


def argmax(v):
    return int(np.argmax(np.asarray(v, dtype=np.float64)))


def typical_threshold(t, eps, delta):
    h = 0.0
    for y in t:
        h -= y * math.log(y + 1e-5)
    return min(eps, delta * math.exp(-h))


def children_of(parents):
    kids = [[] for _ in parents]
    for c, p in enumerate(parents):
        if p >= 0:
            kids[p].append(c)
    return kids


def step(rule, kids, tokens, draft, target, coins, u):
    """(accepted child or None, correction token) at internal node u."""
    name, par = params_of(rule)
    t = np.abs(np.asarray(target[u], dtype=np.float64))
    ch = kids[u]
    if name == "typical":
        eps, delta = par
        c = ch[0]
        if t[tokens[c]] > typical_threshold(t, eps, delta):
            return c, None
        return None, argmax(t)
    if name == "lenient":
        (l,) = par
        q = np.abs(np.asarray(draft[u], dtype=np.float64))
        c = ch[0]
        x = tokens[c]
        a = min(1.0, t[x] / (l * q[x]))
        if coins[c] < a:
            return c, None
        res = np.maximum(t - l * q, 0.0)
        return None, argmax(res) if np.any(res > 0) else argmax(t)
    if name == "sglang":
        ts, ta = par
        coin = coins[u]
        s = 0.0
        for c in ch:
            p = t[tokens[c]]
            s += p
            if p >= ts or coin * ta <= s:
                return c, None
        m = t.copy()
        for c in ch:
            m[tokens[c]] = 0.0
        return None, argmax(m) if np.any(m > 0) else argmax(t)
    raise ValueError(rule)


def decide(rule, parents, tokens, draft, target, coins):
    kids = children_of(parents)
    u, nodes = 0, []
    while kids[u]:
        c, corr = step(rule, kids, tokens, draft, target, coins, u)
        if c is None:
            return nodes, corr
        nodes.append(c)
        u = c
    return nodes, argmax(np.abs(np.asarray(target[u], dtype=np.float64)))


def depth_of(parents):
    d = [0] * len(parents)
    for c, p in enumerate(parents):
        if p >= 0:
            d[c] = d[p] + 1
    return max(d) if d else 0


def is_f32(vals):
    return all(f32(x) == x for x in vals)


cases = []
expectations = []


def add(name, rule, parents, tokens, draft, target, coins, error=None, options=None):
    """A tree input (parents given) or a chain input (parents None: the path tree)."""
    case = {"name": name, "rule": rule, "options": options or {}}
    if parents is None:
        inp = {"draft_tokens": list(map(int, tokens)), "draft_probs": draft, "target_probs": target,
               "random_coins": coins}
        k = len(tokens)
        t_parents = [-1] + list(range(k))
        t_tokens = [-1] + list(map(int, tokens))
        t_draft = draft + [[0.0] * len(target[0])]
        # Chain coins: position i's decision reads coins[i]; a rule reading its node's own coin
        # (sglang) reads node i's = coins[i], a rule reading the child's reads node i + 1's.
        if rule.startswith("sglang"):
            t_coins = list(coins) + [0.0]
        else:
            t_coins = [0.0] + list(coins)
    else:
        inp = {"parents": parents, "draft_tokens": list(map(int, tokens)), "draft_probs": draft,
               "target_probs": target, "random_coins": coins}
        t_parents, t_tokens, t_draft, t_coins = parents, tokens, draft, coins
    case["input"] = inp
    flat = [x for r in draft for x in r] + [x for r in target for x in r] + list(coins)
    case["f32_exact"] = is_f32(flat)
    if error:
        case["error"] = error
    else:
        nodes, tok = decide(rule, t_parents, t_tokens, t_draft, target, t_coins)
        depth = depth_of(t_parents)
        acc = [int(t_tokens[c]) for c in nodes] + [int(tok)]
        case["expected"] = {"accepted_tokens": acc, "accepted_nodes": nodes, "num_generated": len(acc),
                            "acceptance_rate": round(len(nodes) / depth, 4) if depth else 0.0}
    cases.append(case)
    return case


def f32_dist(v, sharp=1.0):
    """A float32 distribution over v tokens (its float32 entries; sums within rounding of 1)."""
    x = rng.dirichlet(np.full(v, sharp))
    return [f32(e) for e in x]


def f32_coins(n, scale=1.0):
    return [f32(c) for c in rng.random(n) * scale]


def draw(q):
    q = np.asarray(q, dtype=np.float64)
    return int(rng.choice(len(q), p=q / q.sum()))


def top_m(q, m):
    q = np.asarray(q, dtype=np.float64)
    return [int(i) for i in np.argsort(-q, kind="stable")[:m]]


def random_tree(n, max_children):
    parents = [-1]
    counts = [0]
    for c in range(1, n):
        while True:
            p = int(rng.integers(0, c))
            if counts[p] < max_children:
                break
        parents.append(p)
        counts[p] += 1
        counts.append(0)
    return parents


# 1. Random chains under every rule and parameter (chain and path-tree inputs). ------------------
CHAIN_RULES = ["typical", "typical:0.2:0.5", "typical:0.05:0.1", "lenient:0.5", "lenient:0.25",
               "lenient:0.9", "sglang", "sglang:0.3:0.5", "sglang:0.1:0.8"]
for rule in CHAIN_RULES:
    for i in range(14):
        k = int(rng.integers(1, 7))
        v = int(rng.choice([2, 3, 5, 8, 40, 300]))
        sharp = float(rng.choice([0.1, 0.5, 1.0, 3.0]))
        draft = [f32_dist(v, sharp) for _ in range(k)]
        target = [f32_dist(v, sharp) for _ in range(k + 1)]
        # mostly drafts sampled from the draft row; some sglang cases from the top-1
        tokens = [draw(d) if (i % 4 or not rule.startswith("sglang")) else top_m(d, 1)[0] for d in draft]
        coins = f32_coins(k)
        add(f"{rule}: chain k={k} v={v} sharp={sharp} #{i}", rule, None, tokens, draft, target, coins)
        parents = [-1] + list(range(k))
        tcoins = (coins + [0.0]) if rule.startswith("sglang") else ([0.0] + coins)
        add(f"{rule}: path tree k={k} v={v} sharp={sharp} #{i}", rule, parents, [-1] + tokens,
            draft + [[0.0] * v], target, tcoins)

# 2. sglang on random trees (distinct sibling tokens: the draft's top-m, or a random permutation).
for rule in ["sglang", "sglang:0.3:0.5", "sglang:0.1:0.8", "sglang:1:0.25"]:
    for i in range(24):
        n = int(rng.integers(2, 12))
        v = int(rng.choice([4, 7, 30, 300]))
        parents = random_tree(n, min(4, v))
        kids = children_of(parents)
        draft = [f32_dist(v, 0.5) for _ in range(n)]
        target = [f32_dist(v, 0.5) for _ in range(n)]
        tokens = [-1] * n
        for u in range(n):
            xs = top_m(draft[u], len(kids[u])) if i % 2 else [int(x) for x in rng.permutation(v)[:len(kids[u])]]
            for c, x in zip(kids[u], xs):
                tokens[c] = x
        for u in range(n):
            if not kids[u]:
                draft[u] = [0.0] * v
        add(f"{rule}: tree n={n} v={v} #{i}", rule, parents, tokens, draft, target, f32_coins(n))

def both(name, rule, tokens, draft, target, coins, options=None):
    """A chain case and its path-tree copy (so the f32 engines, which run tree inputs, see it)."""
    add(name, rule, None, tokens, draft, target, coins, options=options)
    k = len(tokens)
    tcoins = (list(coins) + [0.0]) if rule.startswith("sglang") else ([0.0] + list(coins))
    add(name + " (path tree)", rule, [-1] + list(range(k)), [-1] + list(tokens),
        draft + [[0.0] * len(target[0])], target, tcoins, options=options)


# 3. Edge cases: strictness, the coin at a threshold, ties, fallbacks. --------------------------
# lenient:0.5, q(x) = 0.5, p(x) = 0.125: a = 0.125 / 0.25 = 0.5 exactly; coin 0.5 rejects (strict),
# the float32 below it accepts.
for c in [0.5, float(np.nextafter(np.float32(0.5), np.float32(0)))]:
    both(f"lenient:0.5: coin {c!r} at a = 0.5 (dyadic)", "lenient:0.5", [0], [[0.5, 0.5]],
        [[0.125, 0.875], [0.5, 0.5]], [c])
# lenient: p(x) >= l q(x) accepts at any coin; the residual's argmax vs the token rule's.
both("lenient:0.5: p(x) = l q(x) accepts at coin 0.9999", "lenient:0.5", [1], [[0.5, 0.5]],
    [[0.75, 0.25], [0.5, 0.5]], [f32(0.9999)])
both("lenient:0.25: correction argmax max(p - l q, 0) = 0 (not the token rule's 2)", "lenient:0.25",
    [1], [[0.75, 0.125, 0.125]], [[0.625, 0.0, 0.375], [1.0, 0.0, 0.0]], [0.99])
both("lenient:0.5: residual zero everywhere -> argmax p", "lenient:0.5", [0], [[0.5, 0.5]],
    [[0.125, 0.25], [0.5, 0.5]], [0.75], options={"allow_unnormalized": True})
both("lenient:0.5: residual tie goes to the lowest id", "lenient:0.5", [2],
    [[0.25, 0.25, 0.5]], [[0.4375, 0.4375, 0.125], [0.25, 0.25, 0.5]], [0.75])
both("lenient:1: the token rule", "lenient:1", [0, 1], [[0.5, 0.5], [0.25, 0.75]],
    [[0.25, 0.75], [0.5, 0.5], [0.5, 0.5]], [0.25, 0.75])
# typical: p(x) equal to the threshold eps is rejected (strict); H small enough that eps binds.
both("typical:0.03125:0.3: p(x) = eps is rejected (strict >)", "typical:0.03125:0.3", [1],
    [[0.5, 0.5]], [[0.96875, 0.03125], [0.5, 0.5]], [0.0])
both("typical:0.03125:0.3: p(x) just above eps is accepted", "typical:0.03125:0.3", [1],
    [[0.5, 0.5]], [[0.96875 - 2.0 ** -10, 0.03125 + 2.0 ** -10], [0.5, 0.5]], [0.0])
both("typical: no coin is read (coin 0.9999999 accepts)", "typical", [0], [[0.5, 0.5]],
    [[0.75, 0.25], [0.5, 0.5]], [f32(0.9999999)])
both("typical: a drafted token of draft probability 0 is not refused", "typical", [0],
    [[0.0, 1.0]], [[0.75, 0.25], [0.5, 0.5]], [0.5])
both("typical: uniform target: threshold delta e^-H < 1/V accepts every token", "typical",
    [3], [[0.25] * 4], [[0.25] * 4, [0.25] * 4], [0.5])
both("typical: rejected -> argmax p (ties to the lowest id)", "typical:0.9:0.9", [1],
    [[0.5, 0.5, 0.0]], [[0.375, 0.25, 0.375], [0.5, 0.5, 0.0]], [0.5])
# sglang: coin * ta <= S accepts at equality (<=), unlike target-only's <.
add("sglang:1:0.5: coin 0.25 * 0.5 = S = 0.125 accepts (<=)", "sglang:1:0.5", [-1, 0, 0], [-1, 0, 1],
    [[0.5, 0.5], [0.0, 0.0], [0.0, 0.0]], [[0.125, 0.875], [1.0, 0.0], [0.0, 1.0]], [0.25, 0.0, 0.0])
add("sglang:1:0.5: coin just above S / ta goes to the second child", "sglang:1:0.5", [-1, 0, 0], [-1, 0, 1],
    [[0.5, 0.5], [0.0, 0.0], [0.0, 0.0]], [[0.125, 0.875], [1.0, 0.0], [0.0, 1.0]],
    [float(np.nextafter(np.float32(0.25), np.float32(1))), 0.0, 0.0])
add("sglang: coin 0 accepts a token of target probability 0 (<=)", "sglang", [-1, 0], [-1, 0],
    [[0.5, 0.5], [0.0, 0.0]], [[0.0, 1.0], [0.5, 0.5]], [0.0, 0.0])
add("sglang:0.25:1: p(x) >= ts accepts the second child at coin 0.99", "sglang:0.25:1", [-1, 0, 0],
    [-1, 0, 1], [[0.5, 0.5, 0.0], [0.0] * 3, [0.0] * 3], [[0.125, 0.25, 0.625], [1.0, 0, 0], [0, 1.0, 0]],
    [0.99, 0.0, 0.0])
add("sglang:1:1: all rejected -> masked argmax 2", "sglang", [-1, 0, 0], [-1, 0, 1],
    [[0.5, 0.5, 0.0], [0.0] * 3, [0.0] * 3], [[0.25, 0.25, 0.5], [1.0, 0, 0], [0, 1.0, 0]], [0.75, 0.0, 0.0])
add("sglang: masked row zero everywhere -> argmax t", "sglang", [-1, 0, 0], [-1, 0, 1],
    [[0.5, 0.5], [0.0, 0.0], [0.0, 0.0]], [[0.25, 0.25], [1.0, 0.0], [0.0, 1.0]], [0.999, 0.0, 0.0],
    options={"allow_unnormalized": True})

# 4. Refusals. -------------------------------------------------------------------------------------
STAR = [-1, 0, 0]
SD = [[0.5, 0.5], [0.0, 0.0], [0.0, 0.0]]
ST = [[0.5, 0.5]] * 3
for rule in ["typical", "lenient:0.5"]:
    add(f"{rule}: refused (config): a node with two children (chains only)", rule, STAR, [-1, 0, 1], SD, ST,
        [0.5] * 3, error="config")
add("sglang: refused (duplicate_sibling)", "sglang", STAR, [-1, 1, 1], SD, ST, [0.5] * 3,
    error="duplicate_sibling")
add("lenient:0.5: refused (zero_draft_probability)", "lenient:0.5", None, [0], [[0.0, 1.0]],
    [[0.5, 0.5], [0.5, 0.5]], [0.5], error="zero_draft_probability")
add("lenient:0.5: refused (coin_out_of_range)", "lenient:0.5", None, [0], [[0.5, 0.5]],
    [[0.5, 0.5], [0.5, 0.5]], [1.0], error="coin_out_of_range")
add("typical: refused (token_out_of_range)", "typical", None, [2], [[0.5, 0.5]], [[0.5, 0.5], [0.5, 0.5]],
    [0.5], error="token_out_of_range")
add("sglang: refused (not_normalized)", "sglang", None, [0], [[0.5, 0.5]], [[0.5, 0.6], [0.5, 0.5]],
    [0.5], error="not_normalized")


# 5. Exact expectations. ----------------------------------------------------------------------------
def normalised(row):
    s = sum(row)
    return [x / s for x in row]


def pass_prob(rule, t, q, x):
    """P(the test of token x passes) at a one-child node, the coin uniform on [0, 1)."""
    name, par = params_of(rule)
    if name == "typical":
        return 1.0 if t[x] > typical_threshold(t, *par) else 0.0
    if name == "lenient":
        return min(1.0, t[x] / (par[0] * q[x]))
    raise ValueError(rule)


def chain_expectation(rule, draft, target):
    """E[generated] on a chain of K = len(draft), tokens i.i.d. from q / sum(q): every tuple."""
    k, v = len(draft), len(target[0])
    qs = [np.abs(np.asarray(d, dtype=np.float64)) for d in draft]
    ts = [np.abs(np.asarray(t, dtype=np.float64)) for t in target]
    total = 0.0
    for tup in itertools.product(range(v), repeat=k):
        w = 1.0
        for i, x in enumerate(tup):
            w *= qs[i][x] / qs[i].sum()
        if w == 0.0:
            continue
        reach, acc = 1.0, 0.0
        for i, x in enumerate(tup):
            reach *= pass_prob(rule, ts[i], qs[i], x)
            acc += reach
        total += w * (1.0 + acc)
    return total


def sglang_expectation(rule, parents, draft, target):
    """E[generated], children the draft's top-m, each node's coin integrated interval by interval."""
    kids = children_of(parents)
    _, (ts_, ta) = params_of(rule)
    n = len(parents)
    tokens = [-1] * n
    for u in range(n):
        for c, x in zip(kids[u], top_m(draft[u], len(kids[u]))):
            tokens[c] = x
    reach = [0.0] * n
    reach[0] = 1.0
    total = 1.0
    for u in range(n):
        if not kids[u]:
            continue
        t = np.abs(np.asarray(target[u], dtype=np.float64))
        s, cuts = 0.0, {0.0, 1.0}
        for c in kids[u]:
            s += t[tokens[c]]
            cuts.add(min(1.0, s / ta))
        cuts = sorted(cuts)
        for lo, hi in zip(cuts, cuts[1:]):
            coins = [0.0] * n
            coins[u] = (lo + hi) / 2
            c, _ = step(rule, kids, tokens, draft, target, coins, u)
            if c is not None:
                reach[c] += reach[u] * (hi - lo)
        for c in kids[u]:
            total += reach[c]
    return total, tokens


for rule in ["typical", "typical:0.2:0.5", "lenient:0.5", "lenient:0.25", "lenient:0.8"]:
    for i in range(12):
        k = int(rng.integers(1, 5))
        v = int(rng.choice([2, 3, 4]))
        while v ** k > 4096:
            k -= 1
        # Rows divided by their sums in f64 (tree_expectation divides them too).
        draft = [normalised(f32_dist(v, 0.7)) for _ in range(k)]
        target = [normalised(f32_dist(v, 0.7)) for _ in range(k + 1)]
        e = chain_expectation(rule, draft, target)
        parents = [-1] + list(range(k))
        expectations.append({"name": f"{rule}: chain k={k} v={v} #{i}", "parents": parents,
                             "draft_probs": draft + [[0.0] * v], "target_probs": target, "rule": rule,
                             "e_generated": e, "e_accepted": e - 1.0})
for rule in ["sglang", "sglang:0.3:0.5", "sglang:0.2:1", "sglang:1:0.4"]:
    for i in range(12):
        n = int(rng.integers(2, 8))
        v = int(rng.choice([3, 4, 6]))
        parents = random_tree(n, 3)
        kids = children_of(parents)
        draft = [normalised(f32_dist(v, 0.7)) if kids[u] else [0.0] * v for u in range(n)]
        target = [normalised(f32_dist(v, 0.7)) for _ in range(n)]
        e, _ = sglang_expectation(rule, parents, draft, target)
        expectations.append({"name": f"{rule}: tree n={n} v={v} #{i}", "parents": parents, "draft_probs": draft,
                             "target_probs": target, "rule": rule, "e_generated": e, "e_accepted": e - 1.0})

# A Monte-Carlo check of the enumerations through the decision function itself.
for ex in expectations[::9]:
    rule, parents = ex["rule"], ex["parents"]
    kids = children_of(parents)
    draft, target = ex["draft_probs"], ex["target_probs"]
    n, v = len(parents), len(target[0])
    trials, s = 20000, 0
    for _ in range(trials):
        tokens = [-1] * n
        for u in range(n):
            xs = (top_m(draft[u], len(kids[u])) if rule.startswith("sglang")
                  else [draw(draft[u]) for _ in kids[u]])
            for c, x in zip(kids[u], xs):
                tokens[c] = x
        nodes, _ = decide(rule, parents, tokens, draft, target, list(rng.random(n)))
        s += len(nodes) + 1
    mean = s / trials
    assert abs(mean - ex["e_generated"]) < 0.05, (ex["name"], mean, ex["e_generated"])

doc = {"seed": SEED, "cases": cases, "expectations": expectations}
raw = json.dumps(doc, separators=(",", ":")).encode()
with open(OUT, "wb") as f:
    with gzip.GzipFile(fileobj=f, mode="wb", mtime=0, filename="") as g:
        g.write(raw)
counts = {}
for c in cases:
    key = c["rule"].split(":")[0]
    counts[key] = counts.get(key, 0) + 1
print(f"wrote {OUT}: {len(cases)} cases {counts}, {len(expectations)} expectations")
