import os
from typing import Any, Callable, Dict, List, Sequence, Union

PROFILES: tuple
TREE_RULES: Dict[str, tuple]

def cases(profile: str = "specsim", rule: str = "token") -> List[Dict[str, Any]]: ...
def decide(
    draft_probs: Any,
    target_probs: Any,
    draft_tokens: Any,
    random_coins: Any,
    profile: str = "specsim",
    engine: str = "cpu",
    **extra: Any,
) -> Dict[str, Any]: ...
def decide_tree(
    parents: Any,
    target_probs: Any,
    draft_tokens: Any,
    random_coins: Any,
    profile: str = "sglang",
    rule: str = "target-only",
    final_coins: Any = None,
    engine: str = "cpu",
) -> Dict[str, Any]: ...
def check(
    kernel: Callable[..., Any],
    profile: str = "specsim",
    rule: str = "token",
    cases: Union[None, str, os.PathLike, Sequence[Dict[str, Any]]] = None,
    *,
    compare_passed: bool = False,
    compare_nodes: bool = False,
) -> Dict[str, Any]: ...
