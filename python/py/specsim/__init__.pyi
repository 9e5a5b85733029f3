from os import PathLike
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

__version__: str
RULES: tuple[str, ...]
CHAIN_RULES: tuple[str, ...]
TREE_RULES: tuple[str, ...]
LOSSY_RULES: tuple[str, ...]
DEFAULT_TREE_RULES: tuple[str, ...]

class SpecsimError(ValueError):
    """A refused input or a failure, with the command line's message."""
    kind: str
    code: str

class InvalidInput(SpecsimError): ...
class InvalidTree(SpecsimError): ...
class InvalidFile(SpecsimError): ...
class InvalidOption(SpecsimError): ...
class OutputError(SpecsimError): ...
class EngineError(SpecsimError): ...

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
) -> Dict[str, Any]: ...
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
) -> Dict[str, np.ndarray]: ...
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
    batch: Union[str, PathLike[str], Sequence[int], None] = None,
    vocab: Optional[int] = None,
    rounds: Optional[int] = None,
    seed: Optional[int] = None,
    recovery: str = "argmax",
    rule: Union[str, Sequence[str], None] = None,
    tree: Union[str, Sequence[str], None] = None,
    engine: str = "auto",
    cost_ratio: Union[float, Sequence[float], None] = None,
    out: Union[str, PathLike[str], None] = None,
    progress: Union[bool, Callable[[int, int, str], object]] = False,
    allow_unnormalized: bool = False,
    shard: Optional[Tuple[int, int]] = None,
    design: bool = False,
    nodes: Union[int, Sequence[int], None] = None,
    cost_profile: Union[str, PathLike[str], None] = None,
    batch_sizes: Union[int, Sequence[int], None] = None,
    context: Optional[float] = None,
    sigma_dist: Union[str, Sequence[str], None] = None,
    lambda_dist: Union[str, Sequence[str], None] = None,
    stop: Union[str, Sequence[str], None] = None,
    k_max: Optional[int] = None,
    **kwargs: Any,
) -> Any: ...
def positional_acceptance(
    target_probs: Any, draft_probs: Any, width: int, rule: str, *, allow_unnormalized: bool = False
) -> np.ndarray: ...
def sequoia_tree(vector: Any, nodes: int, depth: int) -> Tuple[np.ndarray, float]: ...
def tree_expectation(
    parents: Any, target_rows: Any, draft_rows: Any, rule: str, *, allow_unnormalized: bool = False
) -> float: ...
def merge(
    shards: Sequence[Union[Dict[str, Any], str, PathLike[str]]],
    *,
    out: Union[str, PathLike[str], None] = None,
) -> List[Dict[str, Any]]: ...
def summary(result: Dict[str, np.ndarray]) -> Dict[str, Any]: ...

class Tree:
    spec: str
    nodes: int
    depth: int
    parents: np.ndarray
    widths: np.ndarray
    retrive_next_token: np.ndarray
    retrive_next_sibling: np.ndarray
    retrieve_indices: np.ndarray
    choices: List[List[int]]
    eagle_order: bool
    eagle_node_ids: np.ndarray
    attention_mask: np.ndarray
    def __len__(self) -> int: ...
    @classmethod
    def from_parents(cls, parents: Any) -> "Tree": ...
    @classmethod
    def from_choices(cls, choices: Sequence[Sequence[int]]) -> "Tree": ...
    @classmethod
    def from_retrive(cls, retrive_next_token: Any, retrive_next_sibling: Any) -> "Tree": ...
    @classmethod
    def from_retrieve_indices(cls, retrieve_indices: Any) -> "Tree": ...
    @classmethod
    def from_attention_mask(cls, attention_mask: Any) -> "Tree": ...

def tree(spec: str) -> Tree: ...
def optimal(
    target_probs: Any,
    draft_probs: Any,
    *,
    drafts: Union[int, Sequence[int], None] = None,
    mode: Union[str, Sequence[str], None] = None,
    allow_unnormalized: bool = False,
) -> List[Dict[str, Any]]: ...
def alpha_star(
    target_probs: Any, draft_probs: Any, n: int, mode: str = "iid", *, allow_unnormalized: bool = False
) -> Dict[str, Any]: ...
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
    out: Union[str, PathLike[str], None] = None,
    sigma_dist: Union[str, Sequence[str], None] = None,
    lambda_dist: Union[str, Sequence[str], None] = None,
) -> List[Dict[str, Any]]: ...
def adaptive_exact(draft: Any, target: Any, policy: str, *, cost_ratio: float = 0.0) -> Dict[str, Any]: ...
def bellman_bound(draft: Any, target: Any, *, cost_ratio: float) -> Dict[str, Any]: ...
def eagle2_tree(
    draft_row: Callable[[Tuple[int, ...]], Any],
    k: int,
    depth: int,
    nodes: int,
    *,
    allow_unnormalized: bool = False,
) -> Tuple[np.ndarray, np.ndarray]: ...
def distortion(
    draft: Any,
    target: Any,
    rule: str = "token",
    draft_mode: str = "sample",
    recovery: str = "argmax",
    *,
    allow_unnormalized: bool = False,
) -> Dict[str, Any]: ...
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
    out: Union[str, PathLike[str], None] = None,
    sigma_dist: Union[str, Sequence[str], None] = None,
    lambda_dist: Union[str, Sequence[str], None] = None,
    **kwargs: Any,
) -> List[Dict[str, Any]]: ...

from . import cost
from . import conformance as conformance
