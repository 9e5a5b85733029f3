from os import PathLike
from typing import Any, Dict, Optional, Sequence, Union

def best_k(
    profile: Union[str, PathLike[str]],
    batch: Union[int, Sequence[int]],
    from_study: Union[str, PathLike[str]],
    *,
    context: Optional[float] = None,
    out: Union[str, PathLike[str], None] = None,
) -> Dict[str, Any]: ...
