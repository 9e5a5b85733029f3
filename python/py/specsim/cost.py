"""Cost and goodput (SPEC §12): an existing study's E[generated] under a measured latency profile,
as ``specsim cost``.

A profile is a CSV with the header ``kind,batch,tokens,context,ms``: ``verify`` rows time one
target forward over ``tokens`` query tokens in total, ``draft`` rows one draft step of ``batch``
sequences (``examples/profile-sequoia-demo.csv`` in the repository is an example, not a
measurement). A round of a chain of K at batch size B takes ``K t_draft(B) + t_verify(B (K + 1))``
(a tree: its depth's draft steps and ``B n`` tokens); ``goodput = B E[generated] / T`` and the
speedup is against plain decoding's ``B / t_verify(B)``.
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, Optional, Sequence, Union

from . import _native, _specsim, _list

__all__ = ["best_k"]


def best_k(
    profile: Union[str, os.PathLike],
    batch: Union[int, Sequence[int]],
    from_study: Union[str, os.PathLike],
    *,
    context: Optional[float] = None,
    out: Union[str, os.PathLike, None] = None,
) -> Dict[str, Any]:
    """The best K (or tree) per batch size for a study's configurations (``specsim cost
    --profile PROFILE --batch B,… --from-study DIR --format json``).

    Args:
        profile: the latency profile CSV.
        batch: batch sizes, e.g. ``[1, 8, 64, 256]``.
        from_study: the study's output directory (or its ``results.json``), e.g. from
            ``specsim.study(..., out=DIR)``.
        context: the context length to read a profile with a ``context`` column at.
        out: also write ``cost.json`` and ``cost.svg`` (speedup against K per batch size, the
            best marked) into this directory.

    Returns:
        ``{"cost_profile", "unit", "batch_sizes", "best": [{"label", "batch", "best_k",
        "best_tree", "best_nodes", "speedup", "goodput", "from"}, ...], "candidates": [{"label",
        "tree", "k", "depth", "nodes", "generated", "from", "speedup": [per batch size],
        "goodput": [per batch size]}, ...]}``; E[generated] is the study's exact value where it
        has one (``from``: ``exact``), otherwise its simulated mean (``simulated``).
    """
    text = _native(
        _specsim.cost_best,
        os.fspath(profile),
        _list("batch", batch, int),
        os.fspath(from_study),
        None if context is None else float(context),
        os.fspath(out) if out is not None else None,
    )
    return json.loads(text)
