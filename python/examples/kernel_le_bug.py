"""The classic porting bug: the acceptance test written `coin <= p / q` where the profile says
`coin · q < p`. ``specsim.conformance.check(kernel, profile="specsim")`` flags it, by class:
`coin_at_threshold` (coin · q = p is accepted) and `coin_zero_p_zero` (a token the target gives
probability 0 is accepted with coin 0).

    python3 python/examples/kernel_le_bug.py
"""

import numpy as np


def kernel(draft_probs, target_probs, draft_tokens, random_coins, **extra):
    n, k, v = draft_probs.shape
    tokens = np.full((n, k + 1), -1, dtype=np.int32)
    accepted = np.zeros(n, dtype=np.int32)
    for r in range(n):
        i = 0
        while i < k:
            x = int(draft_tokens[r, i])
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = np.float64(target_probs[r, i, x]) / np.float64(draft_probs[r, i, x])
            if not np.float64(random_coins[r, i]) <= ratio:  # the bug: <= instead of <
                break
            tokens[r, i] = x
            i += 1
        accepted[r] = i
        row = target_probs[r, i]
        if i < k:
            residual = np.maximum(target_probs[r, i] - draft_probs[r, i], np.float32(0))
            if residual.max() > 0:
                row = residual
        tokens[r, i] = int(np.argmax(row))
    return tokens, accepted


if __name__ == "__main__":
    import specsim

    report = specsim.conformance.check(kernel, profile="specsim")
    print(report["cases"], "cases,", report["mismatches"], "mismatches", report["classes"])
