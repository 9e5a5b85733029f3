#!/usr/bin/env python3
"""Makes the numpy-written batch fixtures of tests/data/batches/ (committed; the Rust tests do
not need Python), and, with --big DIR, a large batch for trying specsim by hand.

Each fixture's expected results come from a straightforward numpy float64 implementation of
SPEC §1 applied to the values as stored (float32 values widened exactly to float64).
"""
import argparse
import json
import os
import shutil

import numpy as np


def decide(d, t, tokens, coins):
    k = len(tokens)
    out = []
    for i in range(k):
        tok = int(tokens[i])
        p, q = t[i, tok], d[i, tok]
        if coins[i] < min(1.0, p / q):
            out.append(tok)
            continue
        res = np.maximum(0.0, t[i] - d[i])
        out.append(int(np.argmax(t[i])) if res.max() == 0.0 else int(np.argmax(res)))
        return out, i
    out.append(int(np.argmax(t[k])))
    return out, k


def make(n, k, v, rng, pdtype, tdtype, closeness=0.7):
    logits = rng.standard_normal((n, k + 1, v)) * 2.0
    target = np.exp(logits - logits.max(-1, keepdims=True))
    target /= target.sum(-1, keepdims=True)
    noise = rng.standard_normal((n, k, v)) * 2.0
    other = np.exp(noise - noise.max(-1, keepdims=True))
    other /= other.sum(-1, keepdims=True)
    draft = closeness * target[:, :k] + (1 - closeness) * other
    draft /= draft.sum(-1, keepdims=True)
    draft = draft.astype(pdtype)
    target = target.astype(pdtype)
    tokens = np.empty((n, k), dtype=tdtype)
    for r in range(n):
        for i in range(k):
            p = draft[r, i].astype(np.float64)
            tokens[r, i] = rng.choice(v, p=p / p.sum())
    # Draw float32 coins directly: float64 coins rounded to float32 can become 1.0 (refused).
    coins = rng.random((n, k), dtype=np.float32) if pdtype == np.float32 else rng.random((n, k))
    return draft, target, tokens, coins


def expected(draft, target, tokens, coins):
    n, k = tokens.shape
    toks = np.full((n, k + 1), -1, dtype=np.int32)
    acc = np.zeros(n, dtype=np.int32)
    d64, t64, c64 = draft.astype(np.float64), target.astype(np.float64), coins.astype(np.float64)
    for r in range(n):
        out, a = decide(d64[r], t64[r], tokens[r], c64[r])
        toks[r, : len(out)] = out
        acc[r] = a
    return {"tokens": toks.tolist(), "num_accepted": acc.tolist()}


def save_dir(path, arrays):
    os.makedirs(path, exist_ok=True)
    for name, a in arrays.items():
        np.save(os.path.join(path, name + ".npy"), a)


def write_lzma_npz(path, arrays):
    """An .npz whose members are LZMA-compressed: a valid zip that numpy's writers never make."""
    import io
    import zipfile

    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_LZMA) as z:
        for name, a in arrays.items():
            buf = io.BytesIO()
            np.save(buf, a)
            z.writestr(name + ".npy", buf.getvalue())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--big", help="write a large batch (default N=1024, K=8, V=32000, float32) here instead")
    ap.add_argument("--n", type=int, default=1024)
    ap.add_argument("--k", type=int, default=8)
    ap.add_argument("--vocab", type=int, default=32000)
    ap.add_argument("--no-expected", action="store_true", help="skip expected.json (slow for large N)")
    args = ap.parse_args()
    rng = np.random.default_rng(7)
    if args.big:
        d, t, tok, c = make(args.n, args.k, args.vocab, rng, np.float32, np.int64, closeness=0.8)
        save_dir(args.big, {"draft_probs": d, "target_probs": t, "draft_tokens": tok, "random_coins": c})
        if not args.no_expected:
            with open(os.path.join(args.big, "expected.json"), "w") as f:
                json.dump(expected(d, t, tok, c), f)
        print(f"wrote {args.big}")
        return

    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "batches")
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(root)
    exp = {}
    names = ["draft_probs", "target_probs", "draft_tokens", "random_coins"]

    d, t, tok, c = make(48, 4, 37, rng, np.float32, np.int32)
    save_dir(os.path.join(root, "f32_i32_dir"), dict(zip(names, (d, t, tok, c))))
    exp["f32_i32_dir"] = expected(d, t, tok, c)

    d, t, tok, c = make(40, 3, 29, rng, np.float64, np.int64)
    np.savez(os.path.join(root, "f64_i64.npz"), **dict(zip(names, (d, t, tok, c))))
    exp["f64_i64.npz"] = expected(d, t, tok, c)

    d, t, tok, c = make(33, 5, 64, rng, np.float32, np.uint32)
    np.savez_compressed(os.path.join(root, "f32_u32_compressed.npz"), **dict(zip(names, (d, t, tok, c))))
    exp["f32_u32_compressed.npz"] = expected(d, t, tok, c)

    # Malformed inputs.
    d, t, tok, c = make(6, 2, 11, rng, np.float32, np.int32)
    good = dict(zip(names, (d, t, tok, c)))
    bad = os.path.join(root, "bad")
    save_dir(os.path.join(bad, "wrong_shape"), {**good, "target_probs": t[:, :2]})
    save_dir(os.path.join(bad, "wrong_dtype"), {**good, "draft_probs": d.astype(np.float16)})
    save_dir(os.path.join(bad, "float_tokens"), {**good, "draft_tokens": tok.astype(np.float32)})
    save_dir(os.path.join(bad, "fortran_order"), {**good, "draft_probs": np.asfortranarray(d)})
    save_dir(os.path.join(bad, "big_endian"), {**good, "random_coins": c.astype(">f4")})
    save_dir(os.path.join(bad, "truncated"), good)
    p = os.path.join(bad, "truncated", "target_probs.npy")
    with open(p, "rb") as f:
        data = f.read()
    with open(p, "wb") as f:
        f.write(data[: len(data) - 100])
    save_dir(os.path.join(bad, "missing_coins"), {k: v for k, v in good.items() if k != "random_coins"})
    bad_tok = tok.copy()
    bad_tok[4, 1] = 11
    save_dir(os.path.join(bad, "token_out_of_range"), {**good, "draft_tokens": bad_tok})
    bad_c = c.copy()
    bad_c[3, 0] = 1.0
    save_dir(os.path.join(bad, "coin_one"), {**good, "random_coins": bad_c})
    bad_d = d.copy()
    bad_d[2, 1, 5] = np.nan
    save_dir(os.path.join(bad, "nan_prob"), {**good, "draft_probs": bad_d})
    with open(os.path.join(bad, "not_a_batch.npz"), "wb") as f:
        f.write(b"this is not a zip archive")
    write_lzma_npz(os.path.join(bad, "lzma.npz"), good)
    save_dir(os.path.join(bad, "bad_header"), good)
    # A header whose Python literal does not parse (the shape tuple is cut short).
    h = b"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, }"
    h = h + b" " * (64 - 10 - len(h) - 1) + b"\n"
    with open(os.path.join(bad, "bad_header", "draft_probs.npy"), "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + len(h).to_bytes(2, "little") + h + b"\0" * 24)

    with open(os.path.join(root, "expected.json"), "w") as f:
        json.dump(exp, f)
    print(f"wrote fixtures under {root}")


if __name__ == "__main__":
    main()
