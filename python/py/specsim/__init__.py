"""specsim: exact simulation of the speculative-decoding verification step, on numpy arrays.

The same Rust engines as the ``specsim`` command line, called directly:

- :func:`speculative_decode`: one round, decided by the f64 reference (SPEC §1, §6); returns the
  ``specsim round`` JSON as a dict.
- :func:`verify_batch`: N rounds on the CPU or GPU engine; returns numpy arrays equal to
  ``specsim run --out``. C-contiguous float32/float64 probabilities and int32/int64/uint32
  tokens are read in place, without a copy, and the GIL is released while the engine works.
- :func:`study`: acceptance-rate studies, the rows of ``specsim study``'s ``results.csv``.

Every refusal raises :class:`SpecsimError` (a ``ValueError``) with the command line's message.
"""

from __future__ import annotations

import os
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np

from . import _specsim
from ._specsim import SpecsimError

__version__: str = _specsim.__version__

__all__ = ["SpecsimError", "speculative_decode", "verify_batch", "study", "__version__"]

#: The chain rules, in the library's order (its registry, ``specsim::rule::rules!``).
RULES = tuple(_specsim.CHAIN_RULES)


def _no_tree(parents: Any) -> None:
    if parents is not None:
        raise SpecsimError(
            "parents: tree verification (SPEC §7) is not available yet; "
            "the rules are " + ", ".join(RULES)
        )


def _rows(name: str, x: Any) -> List[List[float]]:
    """A list of rows of floats from a list of lists or a 2-D array."""
    if isinstance(x, np.ndarray):
        if x.ndim != 2:
            raise SpecsimError(f"{name}: expected 2 dimensions (rows of V), found shape {x.shape}")
        if x.dtype.kind not in "fiu":
            raise SpecsimError(f"{name}: dtype {x.dtype} is not a number type")
        return x.astype(np.float64).tolist()
    try:
        return [[float(v) for v in row] for row in x]
    except (TypeError, ValueError) as e:
        raise SpecsimError(f"{name}: expected rows of numbers ({e})") from None


_I64 = (-(2**63), 2**63 - 1)


def _tokens(name: str, x: Any) -> List[int]:
    """Token ids as Python ints; a non-integer value (1.0 included) is refused, as in JSON."""
    values = x.tolist() if isinstance(x, np.ndarray) else list(x)
    out = []
    for i, v in enumerate(values):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise SpecsimError(f"{name}[{i}] = {v!r}: a token id must be an integer")
        if not _I64[0] <= int(v) <= _I64[1]:
            raise SpecsimError(f"{name}[{i}] = {v} is not a token id")
        out.append(int(v))
    return out


def _integer(name: str, v: Any) -> int:
    """An integral value as int: 2 and 2.0 pass, 2.5 and True are refused."""
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise SpecsimError(f"--{name.replace('_', '-')}: {v!r} is not an integer")
    if isinstance(v, (float, np.floating)) and not float(v).is_integer():
        raise SpecsimError(f"--{name.replace('_', '-')}: {v!r} is not an integer")
    return int(v)


def _numbers(name: str, x: Any) -> List[float]:
    values = x.tolist() if isinstance(x, np.ndarray) else list(x)
    try:
        return [float(v) for v in values]
    except (TypeError, ValueError) as e:
        raise SpecsimError(f"{name}: expected numbers ({e})") from None


def speculative_decode(
    draft_probs: Any,
    target_probs: Any,
    draft_tokens: Any,
    random_coins: Any,
    *,
    rule: str = "token",
    parents: Optional[Sequence[int]] = None,
    allow_unnormalized: bool = False,
    plain_decode: bool = False,
) -> Dict[str, Any]:
    """One round of speculative decoding, decided in f64 exactly as ``specsim round``.

    Args:
        draft_probs: K draft distributions over V tokens (lists or a [K, V] array).
        target_probs: K + 1 target distributions (the last is the bonus token's).
        draft_tokens: K drafted token ids.
        random_coins: K coins in [0, 1).
        rule: ``"token"`` (SPEC §1) or ``"block"`` (block verification, SPEC §6).
        parents: a tree's parent array (SPEC §7); tree rules are not available yet.
        allow_unnormalized: skip the check that every distribution sums to 1 (within 1e-3).
        plain_decode: accept K = 0 (the output is the argmax of ``target_probs[0]``).

    Returns:
        ``{"accepted_tokens": [...], "num_generated": n, "acceptance_rate": x}``.

    Raises:
        SpecsimError: every refusal of SPEC §2, with the command line's message.
    """
    _no_tree(parents)
    return _specsim.speculative_decode(
        _rows("draft_probs", draft_probs),
        _rows("target_probs", target_probs),
        _tokens("draft_tokens", draft_tokens),
        _numbers("random_coins", random_coins),
        rule,
        allow_unnormalized,
        plain_decode,
    )


def _float_array(name: str, x: Any) -> np.ndarray:
    """float32/float64 C-contiguous native-endian arrays pass through untouched (zero copy);
    other float types are converted to float32 (exactly, for float16); a non-contiguous or
    byte-swapped array is made contiguous once."""
    a = np.asarray(x)
    if a.dtype.kind != "f":
        raise SpecsimError(f"{name}: dtype {a.dtype} is not a float type (use float32 or float64)")
    if a.dtype not in (np.float32, np.float64):
        a = a.astype(np.float32)
    if not a.dtype.isnative:
        a = a.astype(a.dtype.newbyteorder("="))
    return np.require(a, requirements=("C", "A"))  # C-contiguous and aligned: a copy only if not


def _int_array(name: str, x: Any) -> np.ndarray:
    a = np.asarray(x)
    if a.dtype.kind not in "iu":
        raise SpecsimError(f"{name}: dtype {a.dtype} is not an integer type: token ids must be integers")
    if a.dtype not in (np.int32, np.int64, np.uint32):
        if a.dtype == np.uint64 and a.size and a.max() > np.iinfo(np.int64).max:
            raise SpecsimError(f"{name}: token id {a.max()} is not a token id")
        a = a.astype(np.int64)
    if not a.dtype.isnative:
        a = a.astype(a.dtype.newbyteorder("="))
    return np.require(a, requirements=("C", "A"))


def verify_batch(
    draft_probs: Any,
    target_probs: Any,
    draft_tokens: Any,
    random_coins: Any,
    *,
    rule: str = "token",
    parents: Optional[Sequence[int]] = None,
    engine: str = "auto",
    recovery: str = "argmax",
    seed: int = 0,
    validate: str = "full",
    allow_unnormalized: bool = False,
    plain_decode: bool = False,
) -> Dict[str, np.ndarray]:
    """N rounds on one engine: the same results as ``specsim run --out``.

    Args:
        draft_probs: [N, K, V] float32 or float64.
        target_probs: [N, K + 1, V] float32 or float64.
        draft_tokens: [N, K] int32, int64 or uint32.
        random_coins: [N, K] float32 or float64 (draw float32 coins as float32: a float64 coin
            just below 1 can round to 1.0 in float32, which is refused).
        rule: ``"token"`` or ``"block"``.
        parents: a tree's parent array (SPEC §7); tree rules are not available yet.
        engine: ``"auto"`` (a hardware GPU, else the CPU with a notice on stderr), ``"cpu"`` or
            ``"gpu"``.
        recovery: ``"argmax"`` (the seed's) or ``"sample"`` (lossless).
        seed: seed of the recovery randomness in ``sample`` mode.
        validate: ``"full"`` (every value) or ``"touched"`` (only what the rule reads).
        allow_unnormalized: skip the sum-to-1 check.
        plain_decode: accept K = 0.

    Returns:
        ``tokens`` [N, K + 1] int32 (padded with -1), ``num_accepted`` [N] int32,
        ``num_generated`` [N] int32.

    C-contiguous float32/float64 and int32/int64/uint32 arrays are read where they are, without
    a copy; the GIL is released while the engine works.
    """
    _no_tree(parents)
    return _specsim.verify_batch(
        _float_array("draft_probs", draft_probs),
        _float_array("target_probs", target_probs),
        _int_array("draft_tokens", draft_tokens),
        _float_array("random_coins", random_coins),
        rule,
        engine,
        recovery,
        _nonnegative("seed", seed),
        validate,
        allow_unnormalized,
        plain_decode,
    )


def _list(name: str, x: Any, kind: type) -> Optional[list]:
    if x is None:
        return None
    if isinstance(x, (str, bytes)) or not hasattr(x, "__iter__"):
        x = [x]
    if kind is int:
        values = [_integer(name, v) for v in x]
        if any(v < 0 for v in values):
            raise SpecsimError(f"--{name.replace('_', '-')}: give non-negative integers")
        return values
    try:
        return [kind(v) for v in x]
    except (TypeError, ValueError) as e:
        raise SpecsimError(f"{name}: {e}") from None


def _k_values(k: Any) -> Optional[List[int]]:
    if k is None:
        return None
    if isinstance(k, str):
        return _specsim._parse_k(k)  # the command line's parser and messages
    values = _list("k", list(k) if isinstance(k, range) else k, int) or []
    if any(v < 1 or v > 1024 for v in values):
        raise SpecsimError("--k: give values of K from 1 to 1024 (e.g. 1..16 or 1,2,4)")
    return values


def _nonnegative(name: str, x: Optional[int]) -> Optional[int]:
    if x is None:
        return None
    v = _integer(name, x)
    if not 0 <= v < 2**64:
        raise SpecsimError(f"--{name.replace('_', '-')}: {x} is not a non-negative 64-bit integer")
    return v


def study(
    family: str = "logit-noise",
    *,
    k: Union[int, str, Sequence[int], None] = None,
    sigma: Union[float, Sequence[float], None] = None,
    lambda_: Union[float, Sequence[float], None] = None,
    bits: Union[int, Sequence[int], None] = None,
    rates: Union[float, Sequence[float], None] = None,
    t_target: Union[float, Sequence[float], None] = None,
    t_draft: Union[float, Sequence[float], None] = None,
    zipf: Union[float, Sequence[float], None] = None,
    batch: Union[str, os.PathLike, None] = None,
    vocab: Optional[int] = None,
    rounds: Optional[int] = None,
    seed: Optional[int] = None,
    recovery: str = "argmax",
    rule: Union[str, Sequence[str]] = "token",
    engine: str = "auto",
    cost_ratio: Union[float, Sequence[float], None] = None,
    out: Union[str, os.PathLike, None] = None,
    progress: bool = False,
    allow_unnormalized: bool = False,
    **kwargs: Any,
) -> List[Dict[str, Any]]:
    """An acceptance-rate study: every option of ``specsim study`` as a keyword.

    Lists where the command line takes lists (a single value is a list of one). ``k`` takes a
    list, a ``range`` or the command line's text (``"1..8"``); ``lambda_`` (or ``lambda`` via
    ``**{"lambda": ...}``) is the mixture weight; ``rule`` takes ``"token,block"`` or a list.
    Defaults are the command line's (logit-noise, K = 1..8, sigma = 0.5, 1, V = 2048, 10000
    rounds, seed 7, cost ratios 0.05, 0.2).

    Returns:
        One dict per configuration, rule and K, with the columns of ``results.csv`` as keys, in
        the same order and with the same values as the command line for the same seed and engine.
        ``out=DIR`` also writes ``results.csv``, ``results.json`` and the plots there.
        ``progress=True`` shows a progress bar on stderr.
    """
    if "lambda" in kwargs:
        lambda_ = kwargs.pop("lambda")
    if kwargs:
        raise SpecsimError("study: unknown option(s) " + ", ".join(sorted(kwargs)))
    rules = rule.split(",") if isinstance(rule, str) else list(rule)
    return _specsim.study(
        family,
        _k_values(k),
        _list("sigma", sigma, float),
        _list("lambda", lambda_, float),
        _list("bits", bits, int),
        _list("rates", rates, float),
        _list("t_target", t_target, float),
        _list("t_draft", t_draft, float),
        _list("zipf", zipf, float),
        os.fspath(batch) if batch is not None else None,
        _nonnegative("vocab", vocab),
        _nonnegative("rounds", rounds),
        _nonnegative("seed", seed),
        recovery,
        [r.strip() for r in rules if r.strip()],
        engine,
        _list("cost_ratio", cost_ratio, float),
        os.fspath(out) if out is not None else None,
        bool(progress),
        bool(allow_unnormalized),
    )
