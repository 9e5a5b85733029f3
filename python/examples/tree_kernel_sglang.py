"""A numpy port of SGLang's tree verification kernel (`tree_speculative_sampling_target_only`,
thresholds 1 and 1, as of its PR #35798: a child of positive probability with ``coin <
prob_acc``) on specsim's tree layout, for `specsim.conformance.check(kernel, profile="sglang",
rule="target-only")`: it passes every golden case. With ``LESS_EQUAL = True`` it is the kernel
before that fix (``coin <= prob_acc``, which accepts a zero-probability child at coin 0) and the
checker names the classes it gets wrong.

    kernel(parents [N, n], target_probs [N, n, V], draft_tokens [N, n], random_coins [N, n],
           final_coins [N]) -> (tokens [N, D + 1] padded with -1, num_accepted [N])
"""

import numpy as np

LESS_EQUAL = False


def _lists(parents):
    """SGLang's linked lists: each node's first child and each child's next sibling, siblings in
    increasing node index."""
    n = len(parents)
    next_token, next_sibling = [-1] * n, [-1] * n
    for c in range(n - 1, 0, -1):
        p = parents[c]
        next_sibling[c] = next_token[p]
        next_token[p] = c
    return next_token, next_sibling


def _sample(row, u):
    """FlashInfer's sampling from a row with a coin (sequential f32 sums): V - 1 if nothing
    exceeds u * sum."""
    total = np.float32(0)
    for w in row:
        total = np.float32(total + w)
    thr = np.float32(np.float32(u) * total)
    acc, chosen = np.float32(0), len(row) - 1
    for x, w in enumerate(row):
        acc = np.float32(acc + w)
        if w > 0 and acc > thr:
            return x
    if total > 0:
        chosen = int(np.nonzero(row > 0)[0][-1])
    return chosen


def kernel(parents, target_probs, draft_tokens, random_coins, final_coins):
    n_rounds, n, v = target_probs.shape
    depth = 0
    for r in range(n_rounds):
        d = [0] * n
        for c in range(1, n):
            d[c] = d[parents[r][c]] + 1
        depth = max(depth, max(d))
    tokens = np.full((n_rounds, depth + 1), -1, dtype=np.int32)
    accepted = np.zeros(n_rounds, dtype=np.int32)
    for r in range(n_rounds):
        nxt, sib = _lists(list(parents[r]))
        draft = np.zeros((n, v), dtype=np.float32)  # SGLang passes zeros and writes to them
        t = target_probs[r]
        cur, prob_acc, coin, a = 0, np.float32(0), random_coins[r][0], 0
        while True:
            c = nxt[cur]
            parent = cur
            while c != -1:
                p = t[parent][draft_tokens[r][c]]
                prob_acc = np.float32(prob_acc + p)
                if LESS_EQUAL:
                    ok = coin <= prob_acc or p >= 1
                else:
                    ok = p > 0 and (coin < prob_acc or p >= 1)
                if ok:
                    prob_acc, coin = np.float32(0), random_coins[r][c]
                    tokens[r, a] = draft_tokens[r][c]
                    a += 1
                    cur = c
                    break
                draft[parent][draft_tokens[r][c]] = p
                c = sib[c]
            if c == -1:
                break
        residual = np.maximum(t[cur] - draft[cur], np.float32(0))
        tokens[r, a] = _sample(residual, final_coins[r])
        accepted[r] = a
    return tokens, accepted
