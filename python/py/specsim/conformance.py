"""Conformance of a verification kernel to an engine's semantics (SPEC §14).

``check(kernel, profile="vllm")`` runs a user's kernel on a profile's adversarial golden cases
(``specsim conform``) and reports the mismatches by semantic class, with one minimal failing case
per class. The kernel's signature::

    kernel(draft_probs [N, K, V], target_probs [N, K + 1, V], draft_tokens [N, K],
           random_coins [N, K], **extra) -> (tokens [N, K + 1] padded with -1, num_accepted [N])

with numpy arrays; ``extra`` holds the profile's inputs: ``final_coins`` [N] (inverse-CDF
selection: ``sglang``, ``flashinfer``) or ``exp_noise`` [N, V] (the exponential race: ``vllm``,
``transformers``). Every case is a batch of one round.

Tree rules (``rule="greedy"`` or ``"target-only"``: SGLang's tree kernels, vLLM's greedy tree
acceptance; SPEC §7's trees) call the kernel as::

    kernel(parents [N, n], target_probs [N, n, V], draft_tokens [N, n], random_coins [N, n],
           **extra) -> (tokens [N, D + 1] padded with -1, num_accepted [N])

(node u's coin chooses among u's children; children in increasing node index; ``extra`` holds
``final_coins`` [N] under ``sglang``'s ``target-only``); ``compare_nodes=True`` also compares a
third output, the accepted nodes [N, D] padded with -1.

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
_TREE_ARRAYS = ("parents", "target_probs", "draft_tokens", "random_coins")
TREE_RULES = {"specsim": ("greedy", "target-only"), "sglang": ("greedy", "target-only"),
              "vllm": ("greedy",), "flashinfer": (), "transformers": ()}


def _native(fn: Any, *args: Any) -> Any:
    from . import _native as native

    return native(fn, *args)


def _tree_from_native(c: Dict[str, Any]) -> Dict[str, Any]:
    n, v = len(c["parents"]), c["v"]
    depth = len(c["expected"]["nodes"])
    out = {
        "class": c["class"],
        "what": c["what"],
        "n": n,
        "v": v,
        "depth": depth,
        "parents": np.asarray(c["parents"], dtype=np.int64).reshape(1, n),
        "target_probs": np.asarray(c["target_probs"], dtype=np.float32).reshape(1, n, v),
        "draft_tokens": np.asarray(c["draft_tokens"], dtype=np.int64).reshape(1, n),
        "random_coins": np.asarray(c["random_coins"], dtype=np.float32).reshape(1, n),
        "expected_tokens": np.asarray(c["expected"]["tokens"], dtype=np.int32).reshape(1, depth + 1),
        "expected_accepted_nodes": np.asarray(c["expected"]["nodes"], dtype=np.int32).reshape(1, depth),
        "expected_num_accepted": np.asarray([c["expected"]["num_accepted"]], dtype=np.int32),
        "extra": {},
    }
    if c.get("final_coins") is not None:
        out["extra"]["final_coins"] = np.asarray([c["final_coins"]], dtype=np.float32)
    return out


def _from_native(c: Dict[str, Any]) -> Dict[str, Any]:
    if "parents" in c:
        return _tree_from_native(c)
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


def _from_dir(path: str, profile: str, rule: str = "token") -> List[Dict[str, Any]]:
    idx = os.path.join(path, "index.json")
    if not os.path.isfile(idx):
        raise InvalidOption(f"cases={path!r}: no index.json (give one profile's directory of "
                            "`specsim conform --out DIR`, e.g. DIR/vllm)")
    with open(idx) as f:
        index = json.load(f)
    if index.get("profile") != profile:
        raise InvalidOption(f"cases={path!r} holds profile {index.get('profile')!r}, not {profile!r}")
    if index.get("rule", "token") != rule:
        raise InvalidOption(f"cases={path!r} holds rule {index.get('rule')!r}, not {rule!r} "
                            "(a tree rule's set is DIR/PROFILE/RULE)")
    out = []
    if rule != "token":
        for c in index["cases"]:
            with np.load(os.path.join(path, c["file"])) as z:
                case = {"class": c["class"], "what": c["what"], "n": c["n"], "v": c["v"],
                        "depth": c["depth"], "extra": {}}
                for name in _TREE_ARRAYS + ("expected_tokens", "expected_accepted_nodes",
                                            "expected_num_accepted"):
                    case[name] = z[name]
                if "final_coins" in z.files:
                    case["extra"]["final_coins"] = z["final_coins"]
            out.append(case)
        return out
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
    """The profile's golden cases (``specsim conform --profile P --rule R``): one dict per case
    with ``class``, ``what``, the four arrays as a batch of one, ``extra`` (the profile's inputs)
    and ``expected_tokens``, ``expected_num_accepted``, ``expected_num_passed``; under a tree rule
    ``parents``, ``target_probs``, ``draft_tokens``, ``random_coins`` [1, n, ...], ``n``, ``v``,
    ``depth``, ``expected_tokens`` [1, depth + 1], ``expected_accepted_nodes`` [1, depth] and
    ``expected_num_accepted``."""
    _check_rule(profile, rule)
    return [_from_native(c) for c in json.loads(_native(_specsim.conform_cases, profile, rule))]


def _check_rule(profile: str, rule: str) -> None:
    if profile not in PROFILES:
        raise InvalidOption(f"profile {profile!r}: not one of {', '.join(PROFILES)}")
    if rule != "token" and rule not in TREE_RULES[profile]:
        raise InvalidOption(f"rule {rule!r} under profile {profile!r}: it decides "
                            + ", ".join(("token",) + TREE_RULES[profile]))


def decide_tree(
    parents: Any,
    target_probs: Any,
    draft_tokens: Any,
    random_coins: Any,
    profile: str = "sglang",
    rule: str = "target-only",
    final_coins: Any = None,
    engine: str = "cpu",
) -> Dict[str, np.ndarray]:
    """A tree batch under a profile's tree rule (``greedy`` or ``target-only``), as the engine
    decides it: ``parents`` [n] (one tree) or [N, n], float32 ``target_probs`` [N, n, V], tokens
    and coins [N, n] (node u's coin chooses among u's children), ``final_coins`` [N] (``sglang``'s
    ``target-only``). ``engine``: ``"cpu"`` (the reference, all cores), ``"gpu"`` (specsim's tree
    kernel with the profile's step, ``specsim run --compat P --rule R --engine gpu``) or
    ``"auto"``; the same answers on each. Returns ``{"tokens" [N, D + 1] int32 padded with -1,
    "accepted_nodes" [N, D], "num_accepted" [N]}`` (D the batch's depth). A refused round refuses
    the batch, naming it."""
    _check_rule(profile, rule)
    if rule == "token":
        raise InvalidOption("decide_tree: a tree rule (greedy or target-only); decide() takes token")
    f32 = lambda x: np.ascontiguousarray(x, dtype=np.float32)  # noqa: E731
    tokens, nodes, acc = _native(
        _specsim.compat_tree_batch,
        np.ascontiguousarray(parents, dtype=np.int64),
        f32(target_probs),
        np.ascontiguousarray(draft_tokens, dtype=np.int64),
        f32(random_coins),
        None if final_coins is None else f32(final_coins),
        profile,
        rule,
        engine,
    )
    return {"tokens": tokens, "accepted_nodes": nodes, "num_accepted": acc}


def decide(
    draft_probs: Any,
    target_probs: Any,
    draft_tokens: Any,
    random_coins: Any,
    profile: str = "specsim",
    engine: str = "cpu",
    **extra: Any,
) -> Dict[str, np.ndarray]:
    """A batch under a profile, as the profile's engine decides it (the chain token rule): the
    expected outputs to compare a kernel's with, at any N. ``engine``: ``"cpu"`` (the reference,
    all cores), ``"gpu"`` (specsim's GPU kernel, ``specsim run --compat P --engine gpu``) or
    ``"auto"`` (a hardware GPU where there is one, else the CPU); the same answers on each. Arrays as the kernel's (float32 rows
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
        engine,
    )
    return {"tokens": tokens, "num_accepted": acc, "num_passed": passed}


def check(
    kernel: Callable[..., Any],
    profile: str = "specsim",
    rule: str = "token",
    cases: Union[None, str, os.PathLike, Sequence[Dict[str, Any]]] = None,
    *,
    compare_passed: bool = False,
    compare_nodes: bool = False,
) -> Dict[str, Any]:
    """Runs ``kernel`` on every golden case of ``profile`` and compares its outputs.

    Args:
        kernel: the kernel (signature in the module's docstring).
        profile: ``specsim``, ``vllm``, ``sglang``, ``flashinfer`` or ``transformers``.
        rule: ``"token"`` (the chain token rule), or a tree rule the profile decides
            (``"greedy"``: ``specsim``, ``sglang``, ``vllm``; ``"target-only"``: ``specsim``,
            ``sglang``), with the tree kernel's signature.
        cases: the cases: ``None`` (made now), a directory written by ``specsim conform`` (one
            profile's subdirectory), or a list of case dicts as :func:`cases` returns.
        compare_passed: the kernel returns a third output, FlashInfer's count of positions that
            pass their own test (``expected_num_passed``), compared too.
        compare_nodes: (tree rules) the kernel returns a third output, the accepted nodes
            [N, D] padded with -1 (``expected_accepted_nodes``), compared too.

    Returns:
        ``{"cases": n, "mismatches": m, "classes": {class: mismatches}, "examples": {class:
        the first failing case with "got_tokens", "got_num_accepted" (or "error")}}``.
    """
    _check_rule(profile, rule)
    if cases is None:
        cs = globals()["cases"](profile, rule)
    elif isinstance(cases, (str, os.PathLike)):
        cs = _from_dir(os.fspath(cases), profile, rule)
    else:
        cs = list(cases)
    if rule != "token":
        if compare_passed:
            raise InvalidOption("compare_passed: FlashInfer's count of the token rule; a tree rule "
                                "compares its accepted nodes with compare_nodes=True")
        return _run_cases(kernel, cs, _TREE_ARRAYS, lambda c: (1, c["depth"] + 1),
                          ("accepted_nodes", "expected_accepted_nodes") if compare_nodes else None)
    if compare_nodes:
        raise InvalidOption("compare_nodes: the accepted nodes of a tree rule; the token rule has none")
    return _run_cases(kernel, cs, _ARRAYS, lambda c: (1, c["k"] + 1),
                      ("num_passed", "expected_num_passed") if compare_passed else None)


def _run_cases(kernel: Callable[..., Any], cs: List[Dict[str, Any]], arrays: Sequence[str],
               token_shape: Callable[[Dict[str, Any]], tuple],
               third: Optional[tuple]) -> Dict[str, Any]:
    """Runs the kernel on every case: tokens and num_accepted compared, and ``third`` = (output
    name, expected key) when the kernel returns a third output to compare."""
    mismatches = 0
    classes: Dict[str, int] = {}
    examples: Dict[str, Dict[str, Any]] = {}
    for c in cs:
        got: Dict[str, Any] = {}
        try:
            # Copies: a kernel may write to its inputs (SGLang's writes draft_probs).
            out = kernel(*(np.array(c[a]) for a in arrays),
                         **{key: np.array(val) for key, val in c["extra"].items()})
            need = 3 if third else 2
            if not isinstance(out, (tuple, list)) or len(out) < need:
                raise TypeError(f"the kernel must return {need} outputs (tokens, num_accepted"
                                + (f", {third[0]}" if third else "") + ")")
            tokens, acc = np.asarray(out[0]), np.asarray(out[1])
            shape = token_shape(c)
            if tokens.shape != shape or acc.shape != (1,):
                raise ValueError(f"output shapes {tokens.shape} and {acc.shape}, expected "
                                 f"{shape} and (1,)")
            if not (np.issubdtype(tokens.dtype, np.integer) and np.issubdtype(acc.dtype, np.integer)):
                raise ValueError(f"outputs of dtype {tokens.dtype} and {acc.dtype}, expected integers")
            got = {"got_tokens": tokens.tolist(), "got_num_accepted": acc.tolist()}
            ok = np.array_equal(tokens, c["expected_tokens"]) and np.array_equal(
                acc, c["expected_num_accepted"]
            )
            if third:
                extra_out = np.asarray(out[2])
                want = c[third[1]]
                got["got_" + third[0]] = extra_out.tolist()
                ok = ok and extra_out.size == want.size and np.array_equal(
                    extra_out.reshape(want.shape), want)
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
