"""Type stub of the native module ``specsim._specsim`` (Rust, PyO3). The public API, its
docstrings and its argument checks are in ``specsim/__init__.py``; call that, not this."""

from typing import Any, Callable, List, Optional, Sequence, Tuple, Union

import numpy as np

__version__: str
CHAIN_RULES: List[str]
TREE_RULES: List[str]
LOSSY_RULES: List[str]
DEFAULT_TREE_RULES: List[str]

class NativeError(Exception):
    """A refusal or failure as ``(kind, code, message)``; ``specsim`` re-raises it as its
    ``SpecsimError`` subclass."""

def speculative_decode(
    draft_probs: List[List[float]],
    target_probs: List[List[float]],
    draft_tokens: List[int],
    random_coins: List[float],
    parents: Optional[List[int]],
    rule: str,
    allow_unnormalized: bool,
    plain_decode: bool,
) -> str: ...
def verify_batch(
    draft_probs: np.ndarray,
    target_probs: np.ndarray,
    draft_tokens: np.ndarray,
    random_coins: np.ndarray,
    parents: Optional[np.ndarray],
    rule: str,
    engine: str,
    recovery: str,
    seed: int,
    validate: str,
    allow_unnormalized: bool,
    plain_decode: bool,
) -> dict: ...
def summary(num_accepted: Sequence[int], depth: int) -> str: ...
def tree(spec: str) -> str: ...
def optimal(
    target_probs: np.ndarray,
    draft_probs: np.ndarray,
    drafts: List[int],
    modes: List[str],
    allow_unnormalized: bool,
    skip_impossible: bool,
) -> str: ...
def tree_from(doc: str, spec: str) -> str: ...
def study(
    family: str,
    k: Optional[List[int]],
    sigma: Optional[List[float]],
    lambda_: Optional[List[float]],
    bits: Optional[List[int]],
    rates: Optional[List[float]],
    t_target: Optional[List[float]],
    t_draft: Optional[List[float]],
    zipf: Optional[List[float]],
    batch: Optional[str],
    vocab: Optional[int],
    rounds: Optional[int],
    seed: Optional[int],
    recovery: str,
    rule: Optional[List[str]],
    tree: Optional[List[str]],
    engine: str,
    cost_ratio: Optional[List[float]],
    out: Optional[str],
    progress: Union[bool, Callable[[int, int, str], object]],
    allow_unnormalized: bool,
    shard: Optional[Tuple[int, int]] = None,
    design: bool = False,
    nodes: Optional[List[int]] = None,
    cost_profile: Optional[str] = None,
    batch_sizes: Optional[List[int]] = None,
    context: Optional[float] = None,
    sigma_dist: Optional[List[str]] = None,
    lambda_dist: Optional[List[str]] = None,
    stop: Optional[List[str]] = None,
    k_max: Optional[int] = None,
) -> Union[List[dict], str]: ...
def merge(texts: List[str], names: List[str], out: Optional[str]) -> List[dict]: ...
def adaptive_exact(draft: List[List[float]], target: List[List[float]], policy: str, cost_ratio: float) -> str: ...
def bellman_bound(draft: List[List[float]], target: List[List[float]], cost_ratio: float) -> str: ...
def cost_best(
    profile: str,
    batches: List[int],
    from_study: str,
    context: Optional[float] = None,
    out: Optional[str] = None,
) -> str: ...
def optimal_study(
    family: str,
    sigma: Optional[List[float]],
    lambda_: Optional[List[float]],
    bits: Optional[List[int]],
    t_target: Optional[List[float]],
    t_draft: Optional[List[float]],
    zipf: Optional[List[float]],
    vocab: Optional[int],
    rounds: Optional[int],
    seed: Optional[int],
    drafts: List[int],
    modes: List[str],
    skip_impossible: bool,
    out: Optional[str],
    sigma_dist: Optional[List[str]] = None,
    lambda_dist: Optional[List[str]] = None,
) -> str: ...
def _last_addresses() -> List[int]: ...
def _parse_k(s: str) -> List[int]: ...
def positional_acceptance(
    target_probs: Any,
    draft_probs: Any,
    width: int,
    rule: str,
    allow_unnormalized: bool,
    estimate: bool = False,
) -> Tuple[List[float], Optional[List[float]]]: ...
def tree_expectation(
    parents: List[int], target_probs: Any, draft_probs: Any, rule: str, allow_unnormalized: bool
) -> float: ...
def sequoia_tree(vector_json: str, nodes: int, depth: int) -> Tuple[List[int], float]: ...
def eagle2_tree(
    draft_row: Callable[[Tuple[int, ...]], Any],
    k: int,
    depth: int,
    nodes: int,
    allow_unnormalized: bool,
) -> Tuple[List[int], List[int]]: ...
def family_tree(
    spec: str,
    rule: str,
    family: str,
    sigma: Optional[List[float]],
    lambda_: Optional[List[float]],
    bits: Optional[List[int]],
    t_target: Optional[List[float]],
    t_draft: Optional[List[float]],
    zipf: Optional[List[float]],
    vocab: Optional[int],
    seed: Optional[int],
    sigma_dist: Optional[List[str]] = None,
    lambda_dist: Optional[List[str]] = None,
) -> str: ...
def distortion(
    draft_probs: Any,
    target_probs: Any,
    rule: str,
    draft_mode: str,
    recovery: str,
    allow_unnormalized: bool,
) -> str: ...
def distortion_study(
    family: str,
    sigma: Optional[List[float]],
    lambda_: Optional[List[float]],
    bits: Optional[List[int]],
    t_target: Optional[List[float]],
    t_draft: Optional[List[float]],
    zipf: Optional[List[float]],
    vocab: Optional[int],
    rounds: Optional[int],
    seed: Optional[int],
    k: int,
    rules: List[str],
    draft_mode: str,
    recovery: str,
    out: Optional[str],
    sigma_dist: Optional[List[str]] = None,
    lambda_dist: Optional[List[str]] = None,
) -> str: ...
def compat_round(text: str, profile: str, rule: str = "token") -> str: ...
def conform_cases(profile: str, rule: str) -> str: ...
def compat_batch(draft: Any, target: Any, tokens: Any, coins: Any, final_coins: Any, exp_noise: Any, profile: str, engine: str = "cpu") -> Any: ...
def compat_tree_batch(parents: Any, target: Any, tokens: Any, coins: Any, final_coins: Any, profile: str, rule: str, engine: str = "cpu") -> Any: ...
