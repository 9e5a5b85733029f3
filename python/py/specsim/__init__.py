"""specsim: exact simulation of the speculative-decoding verification step, on numpy arrays.

The same Rust engines as the ``specsim`` command line, called directly; every capability of the
command line has its function here, with the same names, defaults, outputs and messages:

- :func:`speculative_decode`: one round, chain or tree (``parents=``), decided by the f64
  reference; returns the ``specsim round`` JSON as a dict (``accepted_nodes`` for tree rules).
- :func:`verify_batch`: N rounds on the CPU or GPU engine, chain or tree (``parents`` [n] or a
  tree per round [N, n]); returns the arrays of ``specsim run --out``. C-contiguous
  float32/float64 probabilities are read in place, without a copy, and the GIL is released while
  the engine works.
- :func:`summary`: the numbers ``specsim run`` prints for a result (per-depth acceptance, …).
- :func:`study`: acceptance-rate studies, chain or tree (``tree=[...]``): the rows of
  ``results.csv``.
- :func:`tree` and :class:`Tree`: any ``--tree`` spec in every form serving engines use, and the
  converters back.

Every refusal raises a :class:`SpecsimError` subclass naming its kind (:mod:`specsim.errors`).
"""

from __future__ import annotations

import json
import os
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from . import _specsim
from .errors import (
    EngineError,
    InvalidFile,
    InvalidInput,
    InvalidOption,
    InvalidTree,
    OutputError,
    SpecsimError,
    from_native,
)

__version__: str = _specsim.__version__

__all__ = [
    "SpecsimError",
    "InvalidInput",
    "InvalidTree",
    "InvalidFile",
    "InvalidOption",
    "OutputError",
    "EngineError",
    "RULES",
    "CHAIN_RULES",
    "TREE_RULES",
    "LOSSY_RULES",
    "DEFAULT_TREE_RULES",
    "speculative_decode",
    "verify_batch",
    "summary",
    "study",
    "tree",
    "Tree",
    "optimal",
    "alpha_star",
    "optimal_study",
    "merge",
    "positional_acceptance",
    "tree_expectation",
    "sequoia_tree",
    "eagle2_tree",
    "distortion",
    "distortion_study",
    "cost",
    "conformance",
    "adaptive_exact",
    "bellman_bound",
    "__version__",
]

#: The chain rules (SPEC §1, §6), in the library's order (its registry, ``specsim::rule::rules!``).
CHAIN_RULES = tuple(_specsim.CHAIN_RULES)
#: The tree rules (SPEC §7, §13); a chain is the path tree, so they verify chains too
#: (``typical`` and ``lenient`` verify chains only). Rules with parameters take them after colons:
#: ``"typical:0.09:0.3"``, ``"lenient:0.5"``, ``"sglang:0.3:0.5"``.
TREE_RULES = tuple(_specsim.TREE_RULES)
#: The lossy rules (SPEC §13): their tokens do not follow the target's law, even in ``sample`` mode.
LOSSY_RULES = tuple(_specsim.LOSSY_RULES)
#: The tree rules a tree study runs when none are named: the lossless ones.
DEFAULT_TREE_RULES = tuple(_specsim.DEFAULT_TREE_RULES)
#: Every verification rule's name (``lenient`` needs its parameter: ``"lenient:0.5"``).
RULES = CHAIN_RULES + TREE_RULES


def _native(fn: Any, *args: Any) -> Any:
    """Calls the native module, raising its errors as their :class:`SpecsimError` subclass."""
    try:
        return fn(*args)
    except _specsim.NativeError as e:
        raise from_native(e) from None


def _rows(name: str, x: Any) -> List[List[float]]:
    """A list of rows of floats from a list of lists or a 2-D array (ragged lists pass: the
    library names the row whose length is wrong)."""
    if isinstance(x, np.ndarray):
        if x.ndim != 2:
            raise InvalidInput(f"{name}: expected 2 dimensions (rows of V), found shape {x.shape}")
        if x.dtype.kind not in "fiu":
            raise InvalidInput(f"{name}: dtype {x.dtype} is not a number type")
        return x.astype(np.float64).tolist()
    try:
        return [[float(v) for v in row] for row in x]
    except (TypeError, ValueError) as e:
        raise InvalidInput(f"{name}: expected rows of numbers ({e})") from None


_I64 = (-(2**63), 2**63 - 1)


def _tokens(name: str, x: Any) -> List[int]:
    """Integers as Python ints; a non-integer value (1.0 included) is refused, as in JSON."""
    try:
        values = x.tolist() if isinstance(x, np.ndarray) else list(x)
    except TypeError as e:
        raise InvalidInput(f"{name}: expected a list of integers ({e})") from None
    out = []
    for i, v in enumerate(values):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise InvalidInput(f"{name}[{i}] = {v!r}: a token id must be an integer")
        if not _I64[0] <= int(v) <= _I64[1]:
            raise InvalidInput(f"{name}[{i}] = {v} is not a token id")
        out.append(int(v))
    return out


def _integer(name: str, v: Any) -> int:
    """An integral value as int: 2 and 2.0 pass, 2.5 and True are refused."""
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise InvalidOption(f"--{name.replace('_', '-')}: {v!r} is not an integer")
    if isinstance(v, (float, np.floating)) and not float(v).is_integer():
        raise InvalidOption(f"--{name.replace('_', '-')}: {v!r} is not an integer")
    return int(v)


def _numbers(name: str, x: Any) -> List[float]:
    try:
        values = x.tolist() if isinstance(x, np.ndarray) else list(x)
        return [float(v) for v in values]
    except (TypeError, ValueError) as e:
        raise InvalidInput(f"{name}: expected numbers ({e})") from None


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
    compat: Optional[str] = None,
    final_coins: Optional[float] = None,
    exp_noise: Any = None,
) -> Dict[str, Any]:
    """One round of speculative decoding, decided in f64 exactly as ``specsim round``.

    Args:
        draft_probs: a chain's K draft distributions over V tokens, or a tree's n rows (row u:
            the distribution u's children were drawn from), as lists or a 2-D array.
        target_probs: K + 1 target distributions (the last is the bonus token's), or n rows.
        draft_tokens: K drafted token ids, or n (entry 0, the root's, is not read).
        random_coins: K coins in [0, 1), or n.
        rule: a chain rule (``"token"``, ``"block"``) or a tree rule (``"greedy"``,
            ``"target-only"``, ``"rrs"``, ``"rrs-wor"``, ``"spectr"``, or SPEC §13's lossy
            ``"typical[:eps:delta]"``, ``"lenient:l"`` (chains only) and ``"sglang[:ts:ta]"``):
            see :data:`RULES`. A tree rule on a chain reads it as the path tree.
        parents: a tree's parent array (SPEC §7): ``parents[0] = -1``, ``0 <= parents[i] < i``.
        allow_unnormalized: skip the check that every distribution sums to 1 (within 1e-3).
        plain_decode: accept K = 0 (the output is the argmax of ``target_probs[0]``).
        compat: decide the chain token rule as an engine does (SPEC §14; ``specsim round
            --compat``): ``"specsim"``, ``"vllm"``, ``"sglang"``, ``"flashinfer"``,
            ``"transformers"``, on the float32 values; ``final_coins`` (a number) or
            ``exp_noise`` ([V]) feed the profile's correction and bonus selection. The result
            adds ``num_accepted``, ``num_passed`` and ``compat``. With ``rule="greedy"``
            (``specsim``, ``sglang``, ``vllm``) or ``"target-only"`` (``specsim``, ``sglang``)
            the round is a tree (``parents``) or a chain read as the path tree, and the result
            adds ``accepted_nodes``, ``num_accepted``, ``compat`` and ``rule``.

    Returns:
        ``{"accepted_tokens": [...], "num_generated": n, "acceptance_rate": x}`` under a chain
        rule; a tree rule adds ``"accepted_nodes"`` (the ``specsim round`` JSON, key for key).

    Raises:
        InvalidInput, InvalidTree, InvalidOption: every refusal of SPEC §2 and §7, with the
        command line's message.
    """
    if compat is not None:
        if rule == "token" and parents is not None:
            raise InvalidOption("compat: a tree (parents) needs a tree rule (rule='greedy' or 'target-only')")
        doc = {
            "draft_probs": _rows("draft_probs", draft_probs),
            "target_probs": _rows("target_probs", target_probs),
            "draft_tokens": _tokens("draft_tokens", draft_tokens),
            "random_coins": _numbers("random_coins", random_coins),
        }
        if parents is not None:
            doc["parents"] = _tokens("parents", parents)
        if final_coins is not None:
            if isinstance(final_coins, bool) or not isinstance(final_coins, (int, float, np.floating, np.integer)):
                raise InvalidInput(f"final_coins = {final_coins!r}: one number per round")
            doc["final_coins"] = float(final_coins)
        if exp_noise is not None:
            doc["exp_noise"] = _numbers("exp_noise", exp_noise)
        return json.loads(_native(_specsim.compat_round, json.dumps(doc), str(compat), str(rule)))
    if final_coins is not None or exp_noise is not None:
        raise InvalidOption("final_coins and exp_noise are a compat profile's inputs: give compat=")
    text = _native(
        _specsim.speculative_decode,
        _rows("draft_probs", draft_probs),
        _rows("target_probs", target_probs),
        _tokens("draft_tokens", draft_tokens),
        _numbers("random_coins", random_coins),
        None if parents is None else _tokens("parents", parents),
        rule,
        bool(allow_unnormalized),
        bool(plain_decode),
    )
    return json.loads(text)


def _float_array(name: str, x: Any) -> np.ndarray:
    """float32/float64 C-contiguous native-endian arrays pass through untouched (zero copy);
    other float types are converted to float32 (exactly, for float16); a non-contiguous or
    byte-swapped array is made contiguous once. Torch CPU tensors and JAX arrays come in through
    ``__array__`` / DLPack without a copy."""
    try:
        a = np.asarray(x)
    except (TypeError, ValueError) as e:
        raise InvalidInput(f"{name}: not an array of numbers ({e})") from None
    if a.dtype.kind != "f":
        raise InvalidInput(f"{name}: dtype {a.dtype} is not a float type (use float32 or float64)")
    if a.dtype not in (np.float32, np.float64):
        a = a.astype(np.float32)
    if not a.dtype.isnative:
        a = a.astype(a.dtype.newbyteorder("="))
    return np.require(a, requirements=("C", "A"))  # C-contiguous and aligned: a copy only if not


def _int_array(name: str, x: Any) -> np.ndarray:
    try:
        a = np.asarray(x)
    except (TypeError, ValueError) as e:
        raise InvalidInput(f"{name}: not an array of integers ({e})") from None
    if a.dtype.kind not in "iu":
        raise InvalidInput(f"{name}: dtype {a.dtype} is not an integer type: token ids must be integers")
    if a.dtype not in (np.int32, np.int64, np.uint32):
        if a.dtype == np.uint64 and a.size and a.max() > np.iinfo(np.int64).max:
            raise InvalidInput(f"{name}: token id {a.max()} is not a token id")
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
    parents: Any = None,
    engine: str = "auto",
    recovery: str = "argmax",
    seed: int = 0,
    validate: str = "full",
    allow_unnormalized: bool = False,
    plain_decode: bool = False,
) -> Dict[str, np.ndarray]:
    """N rounds on one engine: the same results as ``specsim run --out``.

    Args:
        draft_probs: a chain's [N, K, V], or a tree batch's [N, n, V]; float32 or float64.
        target_probs: [N, K + 1, V], or [N, n, V].
        draft_tokens: [N, K], or [N, n]; int32, int64 or uint32.
        random_coins: [N, K], or [N, n]; float32 or float64 (draw float32 coins as float32: a
            float64 coin just below 1 can round to 1.0 in float32, which is refused).
        rule: any rule of :data:`RULES`, with its parameters after colons where it has them
            (``"lenient:0.5"``; a tree batch takes a tree rule).
        parents: a tree batch's topology: [n] (one tree for every round) or [N, n] (a tree per
            round); ``None`` for a chain batch.
        engine: ``"auto"`` (a hardware GPU, else the CPU with a notice on stderr), ``"cpu"`` or
            ``"gpu"``.
        recovery: ``"argmax"`` (the seed's) or ``"sample"`` (lossless).
        seed: seed of the recovery randomness in ``sample`` mode.
        validate: ``"full"`` (every value) or ``"touched"`` (only what the rule reads).
        allow_unnormalized: skip the sum-to-1 check.
        plain_decode: accept K = 0.

    Returns:
        ``tokens`` [N, depth + 1] int32 (K + 1 for a chain; padded with -1), for a tree batch
        ``accepted_nodes`` [N, depth] int32 (padded with -1), ``num_accepted`` [N] int32 and
        ``num_generated`` [N] int32.

    C-contiguous float32/float64 and int32/int64/uint32 arrays are read where they are, without
    a copy; the GIL is released while the engine works.
    """
    return _native(
        _specsim.verify_batch,
        _float_array("draft_probs", draft_probs),
        _float_array("target_probs", target_probs),
        _int_array("draft_tokens", draft_tokens),
        _float_array("random_coins", random_coins),
        None if parents is None else _int_array("parents", parents),
        rule,
        engine,
        recovery,
        _nonnegative("seed", seed),
        validate,
        bool(allow_unnormalized),
        bool(plain_decode),
    )


def summary(result: Dict[str, np.ndarray]) -> Dict[str, Any]:
    """The numbers ``specsim run`` prints for a :func:`verify_batch` result.

    Returns:
        ``rounds``, ``depth`` (K for a chain), ``mean_accepted``, ``mean_generated`` (``None``
        without rounds) and ``per_depth_acceptance``: P[accepted ≥ d] for d = 1..depth (for a
        chain, the probability that position d - 1 is accepted).
    """
    tokens = np.asarray(result["tokens"])
    if tokens.ndim != 2:
        raise InvalidInput(f"tokens: expected [N, depth + 1], found shape {tokens.shape}")
    acc = np.asarray(result["num_accepted"])
    if acc.size and acc.min() < 0:
        raise InvalidInput("num_accepted: a count is negative")
    s = json.loads(_native(_specsim.summary, [int(a) for a in acc], int(tokens.shape[1] - 1)))
    s["per_depth_acceptance"] = s.pop("acceptance")
    return s


def _list(name: str, x: Any, kind: type) -> Optional[list]:
    if x is None:
        return None
    if isinstance(x, (str, bytes)) or not hasattr(x, "__iter__"):
        x = [x]
    if kind is int:
        values = [_integer(name, v) for v in x]
        if any(v < 0 for v in values):
            raise InvalidOption(f"--{name.replace('_', '-')}: give non-negative integers")
        return values
    try:
        return [kind(v) for v in x]
    except (TypeError, ValueError) as e:
        raise InvalidOption(f"{name}: {e}") from None


def _k_values(k: Any) -> Optional[List[int]]:
    if k is None:
        return None
    if isinstance(k, str):
        return _native(_specsim._parse_k, k)  # the command line's parser and messages
    values = _list("k", list(k) if isinstance(k, range) else k, int) or []
    if any(v < 1 or v > 1024 for v in values):
        raise InvalidOption("--k: give values of K from 1 to 1024 (e.g. 1..16 or 1,2,4)")
    return values


def _nonnegative(name: str, x: Optional[int]) -> Optional[int]:
    if x is None:
        return None
    v = _integer(name, x)
    if not 0 <= v < 2**64:
        raise InvalidOption(f"--{name.replace('_', '-')}: {x} is not a non-negative 64-bit integer")
    return v


def _names(x: Union[str, Sequence[str], None]) -> Optional[List[str]]:
    """A comma-separated string or a list of names (``None`` stays ``None``)."""
    if x is None:
        return None
    items = x.split(",") if isinstance(x, str) else list(x)
    return [str(r).strip() for r in items if str(r).strip()]


def _stop_list(stop: Union[str, Sequence[str], None]) -> Optional[list]:
    """``stop`` as a list of policy strings (one string may hold several, comma-separated)."""
    if stop is None:
        return None
    items = [stop] if isinstance(stop, str) else list(stop)
    return [p.strip() for s in items for p in str(s).split(",") if p.strip()]


def study(
    family: str = "logit-noise",
    *,
    k: Union[int, str, Sequence[int], None] = None,
    tree: Union[str, Sequence[str], None] = None,
    sigma: Union[float, Sequence[float], None] = None,
    lambda_: Union[float, Sequence[float], None] = None,
    bits: Union[int, Sequence[int], None] = None,
    rates: Union[float, Sequence[float], None] = None,
    t_target: Union[float, Sequence[float], None] = None,
    t_draft: Union[float, Sequence[float], None] = None,
    zipf: Union[float, Sequence[float], None] = None,
    batch: Union[str, os.PathLike, Sequence[int], None] = None,
    vocab: Optional[int] = None,
    rounds: Optional[int] = None,
    seed: Optional[int] = None,
    recovery: str = "argmax",
    rule: Union[str, Sequence[str], None] = None,
    engine: str = "auto",
    cost_ratio: Union[float, Sequence[float], None] = None,
    out: Union[str, os.PathLike, None] = None,
    progress: Union[bool, Callable[[int, int, str], Any]] = False,
    allow_unnormalized: bool = False,
    shard: Optional[Tuple[int, int]] = None,
    design: bool = False,
    nodes: Union[int, Sequence[int], None] = None,
    cost_profile: Union[str, os.PathLike, None] = None,
    batch_sizes: Union[int, Sequence[int], None] = None,
    context: Optional[float] = None,
    sigma_dist: Union[str, Sequence[str], None] = None,
    lambda_dist: Union[str, Sequence[str], None] = None,
    stop: Union[str, Sequence[str], None] = None,
    k_max: Optional[int] = None,
    **kwargs: Any,
) -> Any:
    """An acceptance-rate study: every option of ``specsim study`` as a keyword.

    Lists where the command line takes lists (a single value is a list of one). ``k`` takes a
    list, a ``range`` or the command line's text (``"1..8"``); ``tree`` a spec or a list of
    specs (``"kary:2,3"``, ``"eagle:mc_sim_7b_63"``, ``"chain:8"``, ...: a tree study, every
    tree rule by default); ``lambda_`` (or ``lambda`` via ``**{"lambda": ...}``) is the mixture
    weight; ``rule`` takes ``"token,block"`` or a list. ``family="file"`` with ``batch=PATH``
    studies a batch file (its K, or its trees). Defaults are the command line's
    (``StudyOptions::default`` in the library: logit-noise, K = 1..8, sigma = 0.5, 1, zipf = 2
    (LM-like peaked rows; 0 for plain normal logits), V = 2048, 10000 rounds, seed 7, cost ratios
    0.05, 0.2).

    Returns:
        One dict per row of ``results.csv`` (per configuration, rule and K, or per workload, tree
        and rule), with its columns as keys, in the same order and with the same values as the
        command line for the same seed and engine. ``out=DIR`` also writes ``results.csv``,
        ``results.json`` and the plots there. ``progress=True`` shows a tqdm bar (``tqdm.auto``:
        a widget in notebooks) when tqdm is installed, otherwise the command line's progress on
        stderr (a bar on a terminal, a line every 10 s otherwise); a callable is called as
        ``progress(done, total, label)`` at most every 0.1 s and once per configuration.

        With ``shard=(i, n)`` (``specsim study --shard i/n``): runs only the i-th of n shards and
        returns its statistics, the shard file as a dict (``out=PATH.json`` writes that file;
        any other ``out`` is a directory that gets ``shard-i-of-n.json``); :func:`merge` makes the study's rows from all n,
        exactly as one run would (apart from ``seconds``).

        ``design=True`` (``--design``) is the design study: at each of ``nodes`` (node budgets,
        default 8, 16, 32, 64) the chain, the best k-ary tree, Sequoia's tree and EAGLE-2's
        grown tree, on the same rows and coins; each row has ``builder`` and ``node_budget``, and
        ``out`` also gets ``design.svg``. ``tree`` may name ``sequoia:n,d`` (its vector from the
        family, per rule) and ``eagle2:k,depth,n`` (grown per round; greedy and target-only).

        ``cost_profile=FILE`` (``--cost-profile``, a latency profile CSV ``kind,batch,tokens,
        context,ms``; ``context=N`` reads one with a context column) with batch sizes
        (``batch=[1, 8, 64]``, as ``--batch 1,8,64``: a list of integers is batch sizes, a path
        is a batch file; or ``batch_sizes=``) adds ``goodput_bB``, ``speedup_bB`` and
        ``goodput_from`` to every row (SPEC §12), and the best configuration per batch size to
        ``results.json``'s ``best_k``.

        ``sigma_dist`` (logit-noise) and ``lambda_dist`` (mixture) draw the family's parameter
        anew for every round and position from ``"uniform:LO:HI"`` or ``"lognormal:MU:S"`` (a
        configuration per law; ``--sigma-dist``, ``--lambda-dist``): rows gain ``spread``.

        ``stop=["hf:0.4", "bellman", ...]`` (``--stop``; or one string ``"hf:0.4,bellman"``) adds
        a row per stopping policy at the cap ``k_max`` (default the largest ``k``; SPEC §11; the
        file formats page has what each column means on such a row):
        ``stop``, ``mean_drafted``, ``exact_mean_drafted``, ``exact_low``/``exact_high`` (the
        exact ``E[generated]`` on the first ``stop_exact_rounds`` rounds, or its certified
        bracket), ``mean_draft_steps``, ``rate_per_cost`` and ``exact_rate_low``/``high``, the
        Bellman bound ``bellman_rate_low``/``bellman_rate_high`` and the gap to it
        ``bellman_gap_low``/``high``, for the cost: the profile at the first batch size when
        given, else the first ``cost_ratio``.
    """
    if "lambda" in kwargs:
        lambda_ = kwargs.pop("lambda")
    if kwargs:
        raise InvalidOption("study: unknown option(s) " + ", ".join(sorted(kwargs)))
    bar = None
    if progress is True:
        try:
            from tqdm.auto import tqdm
        except ImportError:
            tqdm = None
        if tqdm is not None:
            bar = tqdm(total=0, unit="rounds", desc="study")

            def progress(done: int, total: int, label: str) -> None:
                if bar.total != total:
                    bar.total = total
                bar.n = done
                if label:
                    bar.set_description(label, refresh=False)
                bar.refresh()

    elif progress is not False and not callable(progress):
        progress = bool(progress)
    if shard is not None:
        shard = _shard_spec(shard)
    # A list of integers given as `batch` is the batch sizes (`--batch 1,8,64`).
    if isinstance(batch, (list, tuple, range, np.ndarray)) or isinstance(batch, (int, np.integer)):
        if batch_sizes is not None:
            raise InvalidOption("batch: batch sizes given twice (batch= and batch_sizes=)")
        batch_sizes, batch = batch, None
    try:
        result = _study(family, k, sigma, lambda_, bits, rates, t_target, t_draft, zipf, batch,
                        vocab, rounds, seed, recovery, rule, tree, engine, cost_ratio, out,
                        progress, allow_unnormalized, shard, design, nodes, cost_profile,
                        batch_sizes, context, sigma_dist, lambda_dist,
                        _stop_list(stop), k_max)
        return json.loads(result) if shard is not None else result
    finally:
        if bar is not None:
            bar.close()


def _shard_spec(shard: Any) -> Tuple[int, int]:
    bad = InvalidOption(f"shard: expected (i, n) with 0 <= i < n (or 'i/n'), not {shard!r}")
    if isinstance(shard, str):
        parts = shard.split("/")
        if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
            raise bad
        i, n = (int(p) for p in parts)
    elif isinstance(shard, (tuple, list)) and len(shard) == 2:
        i, n = shard
        if any(isinstance(x, bool) or not isinstance(x, (int, np.integer)) for x in (i, n)):
            raise bad
        i, n = int(i), int(n)
    else:
        raise bad
    if not 0 <= i < n or n > 2**20:
        raise bad
    return i, n


def merge(shards: Sequence[Any], *, out: Union[str, os.PathLike, None] = None) -> List[Dict[str, Any]]:
    """Merges the shards of one study (``specsim merge``): each a dict returned by
    ``study(..., shard=(i, n))`` or the path of a shard file, in any order. Returns the study's
    rows, equal to the unsharded ``study``'s apart from ``seconds`` (``out=DIR`` writes its
    files). Raises, with the reason, for shards of different studies, a shard given twice,
    missing shards (named), another version, or a damaged file."""
    if isinstance(shards, (str, bytes, dict, os.PathLike)):
        raise InvalidOption("merge: expected a list of shards (dicts or shard-file paths), not one")
    texts, names = [], []
    for j, s in enumerate(shards):
        if isinstance(s, dict):
            texts.append(json.dumps(s))
            names.append(f"shard {s.get('index', '?')}/{s.get('count', '?')} (argument {j})")
        elif isinstance(s, (str, os.PathLike)):
            with open(s, "r", encoding="utf-8") as f:
                texts.append(f.read())
            names.append(os.fspath(s))
        else:
            raise InvalidOption(f"merge: shard {j} is a {type(s).__name__}, not a dict or a path")
    return _native(_specsim.merge, texts, names, os.fspath(out) if out is not None else None)


def _study(family, k, sigma, lambda_, bits, rates, t_target, t_draft, zipf, batch, vocab, rounds,
           seed, recovery, rule, tree, engine, cost_ratio, out, progress, allow_unnormalized,
           shard=None, design=False, nodes=None, cost_profile=None, batch_sizes=None, context=None,
           sigma_dist=None, lambda_dist=None, stop=None, k_max=None):
    return _native(
        _specsim.study,
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
        _names(rule),
        _names([tree] if isinstance(tree, str) else tree),
        engine,
        _list("cost_ratio", cost_ratio, float),
        os.fspath(out) if out is not None else None,
        progress,
        bool(allow_unnormalized),
        shard,
        bool(design),
        _list("nodes", nodes, int),
        os.fspath(cost_profile) if cost_profile is not None else None,
        _list("batch", batch_sizes, int),
        None if context is None else float(context),
        _names(sigma_dist),
        _names(lambda_dist),
        stop,
        _nonnegative("k_max", k_max),
    )


class Tree:
    """A draft tree in every form serving engines use (what ``specsim tree --format json``
    prints).

    Attributes:
        spec: the spec it was made from.
        nodes: n, the root included.
        depth: the most drafted tokens a round can accept.
        parents: [n] int64 (``parents[0] = -1``).
        widths: [depth + 1] int64, the nodes per level.
        retrive_next_token, retrive_next_sibling: [n] int64 (SGLang's; -1 for none).
        retrieve_indices: [leaves, depth + 1] int64 (EAGLE's, rows padded with -1).
        choices: EAGLE's / Medusa's choice list (one path of sibling ranks per drafted node, in
            EAGLE's order).
        eagle_order: whether the node ids are EAGLE's; otherwise ``Tree.from_choices(choices)``
            is this tree renumbered: EAGLE's node k is this tree's node ``eagle_node_ids[k]``.
        eagle_node_ids: [n] int64.
        attention_mask: [n, n] uint8 (row i: the nodes node i attends to, itself included).
        expected_generated: for a ``sequoia:`` tree, its value under its vector
            (``1 + Σ_v Π P``, its E[generated] when the vector is the rule's); else ``None``.
        vector, vector_standard_error: for ``sequoia:n,d`` built from a family
            (``tree(spec, rule=…)``), the positional vector and its standard error over the
            ``vector_rows`` rows; with ``rule`` and ``workload``. ``None`` otherwise.
    """

    def __init__(self, forms: Dict[str, Any]) -> None:
        self.spec: str = forms["spec"]
        self.nodes: int = int(forms["nodes"])
        self.depth: int = int(forms["depth"])
        self.parents = np.asarray(forms["parents"], dtype=np.int64)
        self.widths = np.asarray(forms["widths"], dtype=np.int64)
        self.retrive_next_token = np.asarray(forms["retrive_next_token"], dtype=np.int64)
        self.retrive_next_sibling = np.asarray(forms["retrive_next_sibling"], dtype=np.int64)
        self.retrieve_indices = np.asarray(forms["retrieve_indices"], dtype=np.int64).reshape(
            len(forms["retrieve_indices"]), -1
        )
        self.choices: List[List[int]] = [list(c) for c in forms["choices"]]
        self.eagle_order: bool = bool(forms["eagle_order"])
        self.eagle_node_ids = np.asarray(forms["eagle_node_ids"], dtype=np.int64)
        self.attention_mask = np.asarray(forms["attention_mask"], dtype=np.uint8).reshape(self.nodes, self.nodes)
        self.expected_generated: Optional[float] = forms.get("expected_generated")
        vec, se = forms.get("vector"), forms.get("vector_standard_error")
        self.vector = None if vec is None else np.asarray(vec, dtype=np.float64)
        self.vector_standard_error = None if se is None else np.asarray(se, dtype=np.float64)
        self.vector_rows: Optional[int] = forms.get("vector_rows")
        self.rule: Optional[str] = forms.get("rule")
        self.workload: Optional[str] = forms.get("workload")

    def __len__(self) -> int:
        return self.nodes

    def __repr__(self) -> str:
        return f"Tree({self.spec!r}, nodes={self.nodes}, depth={self.depth})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Tree) and np.array_equal(self.parents, other.parents)

    @classmethod
    def _from(cls, doc: Any, spec: str) -> "Tree":
        return cls(json.loads(_native(_specsim.tree_from, json.dumps(doc), spec)))

    @classmethod
    def from_parents(cls, parents: Any) -> "Tree":
        """The tree of a parent array (``parents[0] = -1``, ``0 <= parents[i] < i``)."""
        return cls._from({"parents": _tokens("parents", parents)}, "parents")

    @classmethod
    def from_choices(cls, choices: Sequence[Sequence[int]]) -> "Tree":
        """The tree of an EAGLE / Medusa choice list (``[[0], [0, 0], [1], ...]``)."""
        return cls._from({"choices": [_tokens("choices", c) for c in choices]}, "choices")

    @classmethod
    def from_retrive(cls, retrive_next_token: Any, retrive_next_sibling: Any) -> "Tree":
        """The tree of SGLang's ``retrive_next_token`` and ``retrive_next_sibling`` arrays."""
        doc = {
            "retrive_next_token": _tokens("retrive_next_token", retrive_next_token),
            "retrive_next_sibling": _tokens("retrive_next_sibling", retrive_next_sibling),
        }
        return cls._from(doc, "retrive")

    @classmethod
    def from_retrieve_indices(cls, retrieve_indices: Any) -> "Tree":
        """The tree of EAGLE's ``retrieve_indices`` (one row per leaf, padded with -1)."""
        rows = [_tokens("retrieve_indices", r) for r in np.asarray(retrieve_indices).tolist()]
        return cls._from({"retrieve_indices": rows}, "retrieve_indices")

    @classmethod
    def from_attention_mask(cls, attention_mask: Any) -> "Tree":
        """The tree of an ancestor attention mask ([n, n] of 0/1, row i: i's ancestors and i)."""
        rows = [_tokens("attention_mask", r) for r in np.asarray(attention_mask).tolist()]
        return cls._from({"attention_mask": rows}, "attention_mask")


def tree(
    spec: str,
    *,
    rule: Optional[str] = None,
    family: str = "logit-noise",
    sigma: Optional[float] = None,
    lambda_: Optional[float] = None,
    bits: Optional[int] = None,
    t_target: Optional[float] = None,
    t_draft: Optional[float] = None,
    zipf: Optional[float] = None,
    vocab: Optional[int] = None,
    seed: Optional[int] = None,
    sigma_dist: Union[str, Sequence[str], None] = None,
    lambda_dist: Union[str, Sequence[str], None] = None,
    **kwargs: Any,
) -> Tree:
    """The tree of any ``--tree`` spec: ``chain:K``, ``kary:W,D``, ``eagle:[[0],[0,0],...]``,
    ``eagle:mc_sim_7b_63``, ``sequoia:n,d,vector=FILE``, or ``file:PATH`` / a path (a JSON parent
    array or ``specsim tree`` output).

    ``sequoia:n,d`` without a file takes its positional vector from a family for one ``rule``
    (``specsim tree sequoia:n,d --rule R --family …``): the workload keywords are
    :func:`study`'s, one value each (``sigma`` defaults to 0.5 here). The result then also has
    ``vector``, ``vector_standard_error``, ``vector_rows``, ``rule``, ``workload`` and the tree's
    ``expected_generated`` under that vector."""
    if "lambda" in kwargs:
        lambda_ = kwargs.pop("lambda")
    if kwargs:
        raise InvalidOption("tree: unknown option(s) " + ", ".join(sorted(kwargs)))
    if not isinstance(spec, str):
        raise InvalidOption(f"tree: expected a spec string, not {type(spec).__name__}")
    if ":" not in spec and os.path.exists(spec):
        spec = "file:" + spec
    kind, _, arg = spec.partition(":")
    if kind == "sequoia" and "vector=" not in arg:
        if not isinstance(rule, str):
            raise InvalidOption(f"{spec}: give rule= (one tree rule: {', '.join(TREE_RULES)}) to compute the vector for")
        one = lambda name, x, kind: None if x is None else _list(name, [x], kind)
        doc = _native(
            _specsim.family_tree,
            spec,
            rule,
            family,
            one("sigma", sigma if sigma is not None else (0.5 if family == "logit-noise" else None), float),
            one("lambda", lambda_ if lambda_ is not None else (0.2 if family == "mixture" else None), float),
            one("bits", bits if bits is not None else (4 if family == "quantized" else None), int),
            one("t_target", t_target, float),
            one("t_draft", t_draft, float),
            one("zipf", zipf, float),
            _nonnegative("vocab", vocab),
            _nonnegative("seed", seed),
            _names(sigma_dist),
            _names(lambda_dist),
        )
        return Tree(json.loads(doc))
    if rule is not None:
        raise InvalidOption(f"{spec}: rule= is for sequoia:n,d (a vector computed from a family)")
    return Tree(json.loads(_native(_specsim.tree, spec)))


def _node_row(name: str, x: Any) -> np.ndarray:
    """One row of V probabilities as float64 (a float64 contiguous array passes untouched)."""
    try:
        a = np.asarray(x)
    except (TypeError, ValueError) as e:
        raise InvalidInput(f"{name}: not an array of numbers ({e})") from None
    if a.dtype.kind not in "fiu":
        raise InvalidInput(f"{name}: dtype {a.dtype} is not a number type")
    if a.ndim != 1:
        raise InvalidInput(f"{name}: expected one row of V probabilities (1-D), got shape {a.shape}")
    return np.require(a.astype(np.float64, copy=False), dtype=np.float64, requirements=("C", "A"))


_MODES = ("iid", "wor", "top")


def _drafts_modes(drafts: Any, mode: Any):
    """The (n values, modes, skip_impossible) of a bound: defaults 1, 2, 4, 8 and every mode,
    with the (n, mode) a node cannot have left out only when neither is given."""
    skip = drafts is None and mode is None
    if drafts is None:
        drafts = (1, 2, 4, 8)
    if isinstance(drafts, (int, np.integer)) and not isinstance(drafts, bool):
        drafts = [drafts]
    ns = [_integer("drafts", n) for n in drafts]
    if any(n < 1 for n in ns):
        raise InvalidOption(f"--drafts: {min(ns)} is not a positive integer")
    return ns, _names(mode if mode is not None else _MODES), skip


def optimal(
    target_probs: Any,
    draft_probs: Any,
    *,
    drafts: Union[int, Sequence[int], None] = None,
    mode: Union[str, Sequence[str], None] = None,
    allow_unnormalized: bool = False,
) -> List[Dict[str, Any]]:
    """The optimal multi-draft bound alpha* at one node (SPEC §8), as ``specsim optimal
    --format json`` prints it: one dict per (n, mode), n outer.

    For n drafts drawn from the draft row q as ``iid`` (with replacement), ``wor`` (without) or
    ``top`` (the draft's top-n), alpha* = min over token sets H of p(H) + 1 − Q(drafts ⊆ H): the
    largest acceptance any lossless verifier can reach at the node. Each dict has ``drafts``,
    ``mode``, ``alpha_star``, ``threshold_index`` (|H*|), ``threshold_ratio`` (the largest p/q in
    H*, ``None`` when H* is empty), ``p_h``, ``q_h`` and ``rules``: for each lossless tree rule
    that assumes the mode's draft law (rrs and spectr: iid, rrs-wor: wor, target-only: top), its
    ``acceptance`` at the node, its ``gap`` to alpha*, ``estimated`` and ``standard_error``
    (rrs-wor with n ≥ 3 where V^n · V > 4e6 is a Rao-Blackwellised Monte-Carlo estimate of 1024
    samples, marked ``estimated: True`` with its standard error; exact values have ``False`` and
    ``None``).

    Args:
        target_probs, draft_probs: p and q, [V] each (any float or integer array; float64 is read
            in place), checked as a round's rows are and divided by their sums.
        drafts: n, or a list of them (default 1, 2, 4, 8).
        mode: a mode or a list of them (comma-separated string too; default all three). With
            neither given, an (n, mode) the node cannot have (wor beyond the tokens of positive
            draft probability, top with n > V) is left out; asked for, it is refused.
        allow_unnormalized: accept rows that do not sum to 1 (each is divided by its sum).
    """
    ns, modes, skip = _drafts_modes(drafts, mode)
    text = _native(
        _specsim.optimal,
        _node_row("target_probs", target_probs),
        _node_row("draft_probs", draft_probs),
        ns,
        modes,
        bool(allow_unnormalized),
        skip,
    )
    return json.loads(text)


def alpha_star(
    target_probs: Any, draft_probs: Any, n: int, mode: str = "iid", *, allow_unnormalized: bool = False
) -> Dict[str, Any]:
    """alpha* for n drafts drawn as ``mode`` (``iid``, ``wor`` or ``top``) at one node: the dict of
    :func:`optimal` for that (n, mode), with ``alpha_star``, ``threshold_ratio``, ``p_h``,
    ``q_h`` (and ``drafts``, ``mode``, ``threshold_index``, ``rules``)."""
    if not isinstance(mode, str):
        raise InvalidOption(f"mode: expected one of iid, wor, top, not {mode!r}")
    rows = optimal(
        target_probs, draft_probs, drafts=[_integer("drafts", n)], mode=[mode], allow_unnormalized=allow_unnormalized
    )
    return rows[0]


def positional_acceptance(
    target_probs: Any,
    draft_probs: Any,
    width: int,
    rule: str,
    *,
    allow_unnormalized: bool = False,
    with_error: bool = False,
) -> Any:
    """The positional vector of a tree rule at one node (SPEC §9): ``P[j]`` = P(the j-th of
    ``width`` children, in sibling order, is the accepted one | the node is reached), with the
    children drawn as the rule assumes from the draft row (its top-``width`` for ``greedy`` and
    ``target-only``, i.i.d. for ``rrs`` and ``spectr``, without replacement for ``rrs-wor``) and the
    coins uniform. ``1 + sum(P)`` is E[generated] of a node whose children are leaves.

    Args:
        target_probs, draft_probs: the node's rows t and q, [V] each, checked as a round's rows
            and divided by their sums.
        width: the number of children (≥ 1).
        rule: a tree rule (:data:`TREE_RULES`). ``rrs-wor`` is enumerated where
            V^width · V ≤ 4·10^6; beyond that it is refused, unless ``with_error=True``.
        with_error: return ``(P, standard_error)``: ``standard_error`` is ``None`` where ``P`` is
            exact, and an array [width] where ``P`` is ``rrs-wor``'s unbiased Rao-Blackwellised
            estimate (1024 samples), which is then what ``P`` holds.

    Returns:
        float64 array [width] (or the pair above).
    """
    if not isinstance(rule, str):
        raise InvalidOption(f"rule: expected one of {', '.join(TREE_RULES)}, not {rule!r}")
    values, se = _native(
        _specsim.positional_acceptance,
        _node_row("target_probs", target_probs),
        _node_row("draft_probs", draft_probs),
        _integer("width", width),
        rule,
        bool(allow_unnormalized),
        bool(with_error),
    )
    p = np.asarray(values, dtype=np.float64)
    if with_error:
        return p, (None if se is None else np.asarray(se, dtype=np.float64))
    return p


def distortion(
    draft: Any,
    target: Any,
    rule: str = "token",
    draft_mode: str = "sample",
    recovery: str = "argmax",
    *,
    allow_unnormalized: bool = False,
) -> Dict[str, Any]:
    """The exact distortion of a chain rule on one round (SPEC §13; ``specsim distortion``):
    how far the law of the emitted tokens is from the target's.

    Args:
        draft: [K, V] draft rows; target: [K + 1, V] target rows (checked as a round's rows and
            divided by their sums; rows do not depend on the drafted tokens).
        rule: ``"token"``, ``"typical"`` (eps 0.09, delta 0.3) or ``"typical:eps:delta"``
            (vLLM v0 / Medusa), ``"lenient:l"`` (Leviathan's lenience, l in (0, 1]),
            ``"sglang:ts:ta"`` (SGLang's relaxed thresholds) or ``"greedy"`` (the tree rule on
            a chain: accept the target's argmax).
        draft_mode: ``"sample"`` (drafts drawn from the draft rows) or ``"top1"`` (greedy drafts).
        recovery: ``"sample"`` or ``"argmax"`` (specsim's default): how the correction and the
            bonus are chosen; for ``typical``, ``sample`` is vLLM's fresh target sample and
            ``argmax`` Medusa's ``fast``.

    Returns:
        A dict: ``acceptance`` [K] (per position), ``tv`` [K + 1] (TV(o_k, p_k), the bonus
        last), ``expected_accepted`` (E[τ]), ``expected_generated``, ``tv_low`` and ``tv_high``
        (the round's TV lies between), ``tokens_changed`` (= ``tv_high``, read as the expected
        number of positions whose law is changed) and ``tv_exact`` (the TV of the completed
        sequence, ``None`` where V^(K+1) > 4096).
    """
    for name, x in (("rule", rule), ("draft_mode", draft_mode), ("recovery", recovery)):
        if not isinstance(x, str):
            raise InvalidOption(f"{name}: expected a string, not {x!r}")
    rows = []
    for name, x in (("draft", draft), ("target", target)):
        a = np.asarray(x)
        if a.dtype.kind not in "fiu":
            raise InvalidInput(f"{name}: dtype {a.dtype} is not a number type")
        rows.append(np.require(a.astype(np.float64, copy=False), dtype=np.float64, requirements=("C", "A")))
    out = json.loads(_native(_specsim.distortion, rows[0], rows[1], rule, draft_mode, recovery,
                             bool(allow_unnormalized)))
    out["acceptance"] = np.asarray(out["acceptance"], dtype=np.float64)
    out["tv"] = np.asarray(out["tv"], dtype=np.float64)
    return out


def distortion_study(
    family: str = "logit-noise",
    *,
    rule: Union[str, Sequence[str]] = "token",
    k: int = 4,
    draft_mode: str = "sample",
    recovery: str = "argmax",
    sigma: Union[float, Sequence[float], None] = None,
    lambda_: Union[float, Sequence[float], None] = None,
    bits: Union[int, Sequence[int], None] = None,
    t_target: Union[float, Sequence[float], None] = None,
    t_draft: Union[float, Sequence[float], None] = None,
    zipf: Union[float, Sequence[float], None] = None,
    vocab: Optional[int] = None,
    rounds: Optional[int] = None,
    seed: Optional[int] = None,
    out: Union[str, os.PathLike, None] = None,
    sigma_dist: Union[str, Sequence[str], None] = None,
    lambda_dist: Union[str, Sequence[str], None] = None,
    **kwargs: Any,
) -> List[Dict[str, Any]]:
    """The distortion meter over a family's rows (``specsim distortion --format json``): per rule
    (``rule="token,typical,lenient:0.5"`` or a list), the means over ``rounds`` generated rounds
    (default 200) of :func:`distortion`'s values, with ``rule``, ``draft``, ``recovery``,
    ``workload``, ``vocab``, ``k`` and ``rounds``. One value per workload keyword (``sigma``
    defaults to the study's 0.5, 1: give one). ``out=DIR`` also writes ``distortion.json`` and
    ``tradeoff.svg`` (E[generated] against the tokens changed per round, one point per rule)."""
    if "lambda" in kwargs:
        lambda_ = kwargs.pop("lambda")
    if kwargs:
        raise InvalidOption("distortion_study: unknown option(s) " + ", ".join(sorted(kwargs)))
    rules = rule.split(",") if isinstance(rule, str) else [str(r) for r in rule]
    text = _native(
        _specsim.distortion_study,
        family,
        _list("sigma", sigma, float),
        _list("lambda", lambda_, float),
        _list("bits", bits, int),
        _list("t_target", t_target, float),
        _list("t_draft", t_draft, float),
        _list("zipf", zipf, float),
        _nonnegative("vocab", vocab),
        _nonnegative("rounds", rounds),
        _nonnegative("seed", seed),
        _integer("k", k),
        rules,
        draft_mode,
        recovery,
        os.fspath(out) if out is not None else None,
        _names(sigma_dist),
        _names(lambda_dist),
    )
    return json.loads(text)


def eagle2_tree(
    draft_row: Callable[[Tuple[int, ...]], Any],
    k: int,
    depth: int,
    nodes: int,
    *,
    allow_unnormalized: bool = False,
) -> Tuple[np.ndarray, np.ndarray]:
    """EAGLE-2's tree grown from your draft model (SPEC §10; ``--tree eagle2:k,depth,n``, as
    SGLang's ``speculative_eagle_topk`` / ``num_steps`` / ``num_draft_tokens`` and EAGLE's
    ``top_k`` / ``depth`` / ``total_token`` grow it).

    Level 1 is the root row's top-``k`` tokens; at each of ``depth`` levels the ``k`` best
    candidates (score = the product of draft probabilities along the path, ties to the lowest
    candidate id) expand their own rows; the tree is the ``nodes - 1`` best candidates under the
    root, numbered by candidate id.

    Args:
        draft_row: called with a tuple of token ids (the path below the root; ``()`` for the
            root) and returning that context's draft distribution, one row of V probabilities
            (any 1-D array-like; checked as a round's rows are, and used as given; with
            ``allow_unnormalized=True`` any non-negative row, divided by its sum). It is called
            for the root and the ``k (depth - 1)`` expanded candidates only.
        k: tokens per expanded node and beam width. depth: levels. nodes: the tree's nodes, the
            root included (``nodes - 1 <= k + (depth - 1) k²``).

    Returns:
        ``(parents, tokens)``: int64 arrays [nodes]; ``parents[0] = -1``, ``tokens[0] = 0``.
    """
    if not callable(draft_row):
        raise InvalidOption(f"draft_row: expected a callable (path tuple -> row), not {type(draft_row).__name__}")
    parents, tokens = _native(
        _specsim.eagle2_tree,
        draft_row,
        _integer("k", k),
        _integer("depth", depth),
        _integer("nodes", nodes),
        bool(allow_unnormalized),
    )
    return np.asarray(parents, dtype=np.int64), np.asarray(tokens, dtype=np.int64)


def sequoia_tree(vector: Any, nodes: int, depth: int) -> Tuple[np.ndarray, float]:
    """Sequoia's optimal static tree (SPEC §10; ``specsim tree sequoia:n,d,vector=FILE``): the tree
    of ``nodes`` nodes (the root included) and depth at most ``depth`` that maximises
    ``1 + Σ_v Π P`` along each path, for the positional acceptance vector ``vector``
    (``[P_1, …, P_W]``, P_j the probability that a node's j-th child is the accepted one, or one
    such list per parent depth). Returns ``(parents, expected_generated)``: the parent array
    (int64, breadth-first, children in rank order) and its value."""
    a = np.asarray(vector, dtype=np.float64) if not isinstance(vector, (list, tuple)) else None
    doc = a.tolist() if a is not None else [list(map(float, x)) if isinstance(x, (list, tuple, np.ndarray)) else float(x) for x in vector]
    parents, value = _native(_specsim.sequoia_tree, json.dumps(doc), _integer("nodes", nodes), _integer("depth", depth))
    return np.asarray(parents, dtype=np.int64), value


def tree_expectation(
    parents: Any, target_rows: Any, draft_rows: Any, rule: str, *, allow_unnormalized: bool = False
) -> float:
    """E[generated] of one tree under a tree rule (SPEC §9), exactly: node u's target and draft
    rows are row u of ``target_rows`` and ``draft_rows`` ([n, V], as in a tree round), the
    children's tokens drawn as the rule assumes (the draft's top-m for ``greedy`` and
    ``target-only``) and the coins uniform. The rows of internal nodes are checked as a round's
    and divided by their sums; leaves' rows are not read. ``rrs-wor`` is enumerated, and refused
    where a node's V^m · V exceeds 4·10^6."""
    if not isinstance(rule, str):
        raise InvalidOption(f"rule: expected one of {', '.join(TREE_RULES)}, not {rule!r}")
    p = np.asarray(parents)
    if p.ndim != 1 or p.dtype.kind not in "iu":
        raise InvalidTree(f"parents: expected a 1-D integer array, got {p.dtype} of shape {p.shape}")
    rows = []
    for name, x in (("target_rows", target_rows), ("draft_rows", draft_rows)):
        a = np.asarray(x)
        if a.dtype.kind not in "fiu":
            raise InvalidInput(f"{name}: dtype {a.dtype} is not a number type")
        rows.append(np.require(a.astype(np.float64, copy=False), dtype=np.float64, requirements=("C", "A")))
    return _native(
        _specsim.tree_expectation, [int(x) for x in p], rows[0], rows[1], rule, bool(allow_unnormalized)
    )


def optimal_study(
    family: str = "logit-noise",
    *,
    sigma: Union[float, Sequence[float], None] = None,
    lambda_: Union[float, Sequence[float], None] = None,
    bits: Union[int, Sequence[int], None] = None,
    t_target: Union[float, Sequence[float], None] = None,
    t_draft: Union[float, Sequence[float], None] = None,
    zipf: Union[float, Sequence[float], None] = None,
    vocab: Optional[int] = None,
    rounds: Optional[int] = None,
    seed: Optional[int] = None,
    drafts: Union[int, Sequence[int], None] = None,
    mode: Union[str, Sequence[str], None] = None,
    out: Union[str, os.PathLike, None] = None,
    sigma_dist: Union[str, Sequence[str], None] = None,
    lambda_dist: Union[str, Sequence[str], None] = None,
) -> List[Dict[str, Any]]:
    """The optimal bound over a family's generated rows, as ``specsim optimal --family …
    --format json``: one dict per configuration (the product of the parameter lists) and
    (n, mode), with ``label``, ``family``, ``params``, ``vocab``, ``rounds``, ``seed``,
    ``drafts``, ``mode``, ``alpha_star`` (``mean``, ``ci99_low``, ``ci99_high``) and ``rules``
    (per rule ``acceptance`` and ``gap``, each a mean with its 99% interval, or ``None``, and
    ``estimated``: rrs-wor beyond its enumeration budget, estimated with 16 samples a round).
    Every round's first node (the rows of position 0) is bounded. Defaults as the command's:
    logit-noise at sigma 0.5 and 1, zipf 2, V = 2048, 1000 rounds, seed 7. ``out=DIR`` writes
    ``optimal.csv`` and ``optimal.json`` too."""
    ns, modes, skip = _drafts_modes(drafts, mode)
    text = _native(
        _specsim.optimal_study,
        family,
        _list("sigma", sigma, float),
        _list("lambda", lambda_, float),
        _list("bits", bits, int),
        _list("t_target", t_target, float),
        _list("t_draft", t_draft, float),
        _list("zipf", zipf, float),
        _nonnegative("vocab", vocab),
        _nonnegative("rounds", rounds),
        _nonnegative("seed", seed),
        ns,
        modes,
        skip,
        os.fspath(out) if out is not None else None,
        _names(sigma_dist),
        _names(lambda_dist),
    )
    return json.loads(text)



def adaptive_exact(draft: Any, target: Any, policy: str, *, cost_ratio: float = 0.0) -> Dict[str, Any]:
    """A stopping policy's exact values on one round (SPEC §11): the drafts drawn from ``draft``
    [K, V] (rows divided by their sums), verified by the token rule against ``target`` [K + 1,
    V], the coins uniform, the draft length decided by ``policy``: ``"fixed:K"``, ``"hf:θ"``
    (HF's ``assistant_confidence_threshold``), ``"top1:θ"``, ``"entropy:γ:λ"``,
    ``"specdecpp:h"``, ``"oracle:θ"`` or ``"bellman"`` (the optimal thresholds for
    ``cost_ratio``). ``specdecpp`` and ``bellman`` are enumerated where V^K <= 4096; beyond,
    their values are certified brackets on a log grid (``exact`` false).

    Returns:
        ``{"policy", "expected_drafted" (E[D]), "expected_accepted" (E[τ]),
        "expected_generated", "pmf_drafted" ([K + 1] float64 array, index d = 0..K; empty when
        bracketed), "expected_draft_steps" (E[D], plus top1's discarded draft), "rate"
        (E[generated] / E[steps · c + 1]), "exact", and the brackets "generated_low",
        "generated_high", "drafted_low", "drafted_high", "rate_low", "rate_high" (equal to the
        value when exact; the ``expected_*`` and ``rate`` are their midpoints when not)}``.
    """
    r = json.loads(_native(_specsim.adaptive_exact, _rows("draft", draft), _rows("target", target),
                           str(policy), float(cost_ratio)))
    r["pmf_drafted"] = np.asarray(r["pmf_drafted"], dtype=np.float64)
    return r


def bellman_bound(draft: Any, target: Any, *, cost_ratio: float) -> Dict[str, Any]:
    """The best rate E[generated] / E[D c + 1] any stopping policy that sees the rows and the drafted
    tokens can reach on this round under Leviathan's cost ratio ``cost_ratio`` (SPEC §11; in units
    of one target step): Dinkelbach's iteration with backward induction over the drafted
    sequences (exact where V^K <= 4096; beyond, a certified bracket on a log grid, ``exact``
    false).

    Returns:
        ``{"rate_low", "rate_high", "thresholds" (after i drafts, i = 1..K-1, continue iff the
        running product of min(1, p/q) is >= thresholds[i-1]; None: never), "iterations",
        "exact"}``.
    """
    return json.loads(_native(_specsim.bellman_bound, _rows("draft", draft), _rows("target", target),
                              float(cost_ratio)))


from . import cost  # noqa: E402  (the submodule reads the helpers above)
from . import conformance  # noqa: E402
