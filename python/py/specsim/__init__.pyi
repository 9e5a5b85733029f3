from os import PathLike
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np

__version__: str
RULES: tuple[str, ...]

class SpecsimError(ValueError):
    """A refused input or a failure, with the command line's message."""

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
    batch: Union[str, PathLike[str], None] = None,
    vocab: Optional[int] = None,
    rounds: Optional[int] = None,
    seed: Optional[int] = None,
    recovery: str = "argmax",
    rule: Union[str, Sequence[str]] = "token",
    engine: str = "auto",
    cost_ratio: Union[float, Sequence[float], None] = None,
    out: Union[str, PathLike[str], None] = None,
    progress: bool = False,
    allow_unnormalized: bool = False,
    **kwargs: Any,
) -> List[Dict[str, Any]]: ...
