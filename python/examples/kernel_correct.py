"""A correct chain token-rule kernel under specsim's profile (SPEC §1, §14), in numpy: accept
position i iff coin · q < p (the f32 values' exact products), the correction the argmax of the
residual max(p − q, 0) (the target row's when it is all zero), the bonus the argmax of the last
target row. ``specsim.conformance.check(kernel, profile="specsim")`` reports no mismatch.

    python3 python/examples/kernel_correct.py
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
            q = np.float64(draft_probs[r, i, x])
            p = np.float64(target_probs[r, i, x])
            if not np.float64(random_coins[r, i]) * q < p:  # exact: an f32 product fits an f64
                break
            tokens[r, i] = x
            i += 1
        accepted[r] = i
        row = target_probs[r, i]
        if i < k:
            residual = np.maximum(target_probs[r, i] - draft_probs[r, i], np.float32(0))
            if residual.max() > 0:
                row = residual
        tokens[r, i] = int(np.argmax(row))  # ties: the lowest id
    return tokens, accepted


if __name__ == "__main__":
    import specsim

    report = specsim.conformance.check(kernel, profile="specsim")
    print(report["cases"], "cases,", report["mismatches"], "mismatches", report["classes"])
