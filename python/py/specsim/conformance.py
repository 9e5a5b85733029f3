"""Conformance of a verification kernel to an engine's semantics (SPEC §14).

``check(kernel, profile="vllm")`` runs a user's kernel on a profile's adversarial golden cases
(``specsim conform``) and reports the mismatches by semantic class, with one minimal failing case
per class. The kernel's signature::

    kernel(draft_probs [N, K, V], target_probs [N, K + 1, V], draft_tokens [N, K],
           random_coins [N, K], **extra) -> (tokens [N, K + 1] padded with -1, num_accepted [N])

with numpy arrays; ``extra`` holds the profile's inputs: ``final_coins`` [N] (inverse-CDF
selection: ``sglang``, ``flashinfer``) or ``exp_noise`` [N, V] (the exponential race: ``vllm``,
``transformers``). Every case is a batch of one round.

FlashInfer's names: the checker's ``num_accepted`` is FlashInfer's
``output_emitted_draft_token_num`` and ``num_passed`` its ``output_accepted_token_num``
(FlashInfer adds to its counters: zero them first); its caller-coin API's ``uniform_samples``
[N, K + 1] are ``random_coins`` then ``final_coins``.
"""

import json
import os
from typing import Any, Callable, Dict, List, Optional, Sequence, Union

import numpy as np

from . import _specsim
from .errors import InvalidOption

PROFILES = ("specsim", "vllm", "sglang", "flashinfer", "transformers")

_ARRAYS = ("draft_probs", "target_probs", "draft_tokens", "random_coins")


def _native(fn: Any, *args: Any) -> Any:
    from . import _native as native

    return native(fn, *args)


def _from_native(c: Dict[str, Any]) -> Dict[str, Any]:
    k, v = c["k"], c["v"]
    out = {
        "class": c["class"],
        "what": c["what"],
        "k": k,
        "v": v,
        "draft_probs": np.asarray(c["draft_probs"], dtype=np.float32).reshape(1, k, v),
        "target_probs": np.asarray(c["target_probs"], dtype=np.float32).reshape(1, k + 1, v),
        "draft_tokens": np.asarray(c["draft_tokens"], dtype=np.int64).reshape(1, k),
        "random_coins": np.asarray(c["random_coins"], dtype=np.float32).reshape(1, k),
        "expected_tokens": np.asarray(c["expected"]["tokens"], dtype=np.int32).reshape(1, k + 1),
        "expected_num_accepted": np.asarray([c["expected"]["num_accepted"]], dtype=np.int32),
        "expected_num_passed": np.asarray([c["expected"]["num_passed"]], dtype=np.int32),
        "extra": {},
    }
    if c.get("final_coins") is not None:
        out["extra"]["final_coins"] = np.asarray([c["final_coins"]], dtype=np.float32)
    if c.get("exp_noise") is not None:
        out["extra"]["exp_noise"] = np.asarray(c["exp_noise"], dtype=np.float32).reshape(1, v)
    return out


def _from_dir(path: str, profile: str) -> List[Dict[str, Any]]:
    idx = os.path.join(path, "index.json")
    if not os.path.isfile(idx):
        raise InvalidOption(f"cases={path!r}: no index.json (give one profile's directory of "
                            "`specsim conform --out DIR`, e.g. DIR/vllm)")
    with open(idx) as f:
        index = json.load(f)
    if index.get("profile") != profile:
        raise InvalidOption(f"cases={path!r} holds profile {index.get('profile')!r}, not {profile!r}")
    out = []
    for c in index["cases"]:
        with np.load(os.path.join(path, c["file"])) as z:
            case = {"class": c["class"], "what": c["what"], "k": c["k"], "v": c["v"], "extra": {}}
            for name in _ARRAYS + ("expected_tokens", "expected_num_accepted", "expected_num_passed"):
                case[name] = z[name]
            for name in ("final_coins", "exp_noise"):
                if name in z.files:
                    case["extra"][name] = z[name]
        out.append(case)
    return out


def cases(profile: str = "specsim", rule: str = "token") -> List[Dict[str, Any]]:
    """The profile's golden cases (``specsim conform --profile P``): one dict per case with
    ``class``, ``what``, the four arrays as a batch of one, ``extra`` (the profile's inputs) and
    ``expected_tokens``, ``expected_num_accepted``, ``expected_num_passed``."""
    if profile not in PROFILES:
        raise InvalidOption(f"profile {profile!r}: not one of {', '.join(PROFILES)}")
    return [_from_native(c) for c in json.loads(_native(_specsim.conform_cases, profile, rule))]


def decide(
    draft_probs: Any,
    target_probs: Any,
    draft_tokens: Any,
    random_coins: Any,
    profile: str = "specsim",
    **extra: Any,
) -> Dict[str, np.ndarray]:
    """A batch under a profile, as the profile's engine decides it (the chain token rule): the
    expected outputs to compare a kernel's with, at any N. Arrays as the kernel's (float32 rows
    ``[N, K, V]`` and ``[N, K + 1, V]``, tokens and coins ``[N, K]``; ``final_coins`` ``[N]`` or
    ``exp_noise`` ``[N, V]`` in ``extra``). Returns ``{"tokens" [N, K + 1] int32 padded with -1,
    "num_accepted" [N], "num_passed" [N]}``. A refused round refuses the batch, naming it."""
    if profile not in PROFILES:
        raise InvalidOption(f"profile {profile!r}: not one of {', '.join(PROFILES)}")
    unknown = set(extra) - {"final_coins", "exp_noise"}
    if unknown:
        raise InvalidOption("decide: unknown input(s) " + ", ".join(sorted(unknown)))
    f32 = lambda x: np.ascontiguousarray(x, dtype=np.float32)  # noqa: E731
    fc = extra.get("final_coins")
    en = extra.get("exp_noise")
    tokens, acc, passed = _native(
        _specsim.compat_batch,
        f32(draft_probs),
        f32(target_probs),
        np.ascontiguousarray(draft_tokens, dtype=np.int64),
        f32(random_coins),
        None if fc is None else f32(fc),
        None if en is None else f32(en),
        profile,
    )
    return {"tokens": tokens, "num_accepted": acc, "num_passed": passed}


def check(
    kernel: Callable[..., Any],
    profile: str = "specsim",
    rule: str = "token",
    cases: Union[None, str, os.PathLike, Sequence[Dict[str, Any]]] = None,
    *,
    compare_passed: bool = False,
) -> Dict[str, Any]:
    """Runs ``kernel`` on every golden case of ``profile`` and compares its outputs.

    Args:
        kernel: the kernel (signature in the module's docstring).
        profile: ``specsim``, ``vllm``, ``sglang``, ``flashinfer`` or ``transformers``.
        rule: ``"token"`` (the chain token rule).
        cases: the cases: ``None`` (made now), a directory written by ``specsim conform`` (one
            profile's subdirectory), or a list of case dicts as :func:`cases` returns.
        compare_passed: the kernel returns a third output, FlashInfer's count of positions that
            pass their own test (``expected_num_passed``), compared too.

    Returns:
        ``{"cases": n, "mismatches": m, "classes": {class: mismatches}, "examples": {class:
        the first failing case with "got_tokens", "got_num_accepted" (or "error")}}``.
    """
    if cases is None:
        cs = globals()["cases"](profile, rule)
    elif isinstance(cases, (str, os.PathLike)):
        cs = _from_dir(os.fspath(cases), profile)
    else:
        cs = list(cases)
    mismatches = 0
    classes: Dict[str, int] = {}
    examples: Dict[str, Dict[str, Any]] = {}
    for c in cs:
        got: Dict[str, Any] = {}
        try:
            # Copies: a kernel may write to its inputs (SGLang's writes draft_probs).
            out = kernel(*(np.array(c[a]) for a in _ARRAYS),
                         **{key: np.array(val) for key, val in c["extra"].items()})
            need = 3 if compare_passed else 2
            if not isinstance(out, (tuple, list)) or len(out) < need:
                raise TypeError(f"the kernel must return {need} outputs (tokens, num_accepted"
                                + (", num_passed" if compare_passed else "") + ")")
            tokens, acc = np.asarray(out[0]), np.asarray(out[1])
            if tokens.shape != (1, c["k"] + 1) or acc.shape != (1,):
                raise ValueError(f"output shapes {tokens.shape} and {acc.shape}, expected "
                                 f"(1, {c['k'] + 1}) and (1,)")
            if not (np.issubdtype(tokens.dtype, np.integer) and np.issubdtype(acc.dtype, np.integer)):
                raise ValueError(f"outputs of dtype {tokens.dtype} and {acc.dtype}, expected integers")
            got = {"got_tokens": tokens.tolist(), "got_num_accepted": acc.tolist()}
            ok = np.array_equal(tokens, c["expected_tokens"]) and np.array_equal(
                acc, c["expected_num_accepted"]
            )
            if compare_passed:
                passed = np.asarray(out[2]).reshape(-1)
                got["got_num_passed"] = passed.tolist()
                ok = ok and passed.shape == (1,) and np.array_equal(passed, c["expected_num_passed"])
        except Exception as e:  # a kernel that raises on a case fails that case
            ok = False
            got = {"error": f"{type(e).__name__}: {e}"}
        if not ok:
            mismatches += 1
            classes[c["class"]] = classes.get(c["class"], 0) + 1
            if c["class"] not in examples:
                ex = {key: (val.tolist() if isinstance(val, np.ndarray) else val)
                      for key, val in c.items() if key != "extra"}
                ex["extra"] = {key: val.tolist() for key, val in c["extra"].items()}
                ex.update(got)
                examples[c["class"]] = ex
    return {"cases": len(cs), "mismatches": mismatches, "classes": classes, "examples": examples}
