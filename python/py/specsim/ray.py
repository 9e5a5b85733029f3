"""Sharded studies on a Ray cluster: :func:`study` runs the N shards of a study as Ray tasks and
merges them (``specsim.merge``), so the result equals ``specsim.study`` with the same options,
apart from ``seconds``.

An optional extra: ``pip install './python[ray]'`` (or ``pip install ray``). On a cluster, every
worker needs the specsim package installed (the same version).
"""

from __future__ import annotations

import os
from typing import Any, Dict, List, Optional, Union

from . import merge as _merge
from . import study as _study
from .errors import InvalidOption


def _shard(i: int, n: int, options: Dict[str, Any]) -> Dict[str, Any]:
    # The `ray` package's workers import specsim themselves.
    return _study(shard=(i, n), **options)


def study(
    *,
    num_shards: int,
    out: Union[str, os.PathLike, None] = None,
    progress: bool = True,
    ray_options: Optional[Dict[str, Any]] = None,
    **options: Any,
) -> List[Dict[str, Any]]:
    """Runs ``specsim.study(**options)`` as ``num_shards`` Ray tasks (shard i of N each) and
    merges them: the study's rows, as ``specsim.study`` returns them (``out=DIR`` writes its
    files). Ray is started locally (``ray.init()``) unless it already is. ``progress=True`` shows
    a bar of finished shards (tqdm when installed, else a line per shard on stderr);
    ``ray_options`` is passed to the tasks' ``.options(...)`` (e.g. ``{"num_gpus": 1}``).
    Shards that fail raise their error; nothing is merged then."""
    try:
        import ray
    except ImportError:
        raise ImportError(
            "specsim.ray needs Ray: pip install './python[ray]' (or pip install ray)"
        ) from None
    if isinstance(num_shards, bool) or not isinstance(num_shards, int) or num_shards < 1:
        raise InvalidOption(f"num_shards: expected a positive integer, not {num_shards!r}")
    if "shard" in options:
        raise InvalidOption("specsim.ray.study makes the shards itself: do not pass shard=")
    if not ray.is_initialized():
        ray.init()
    task = ray.remote(_shard)
    if ray_options:
        task = task.options(**ray_options)
    pending = [task.remote(i, num_shards, options) for i in range(num_shards)]
    shards: List[Dict[str, Any]] = []
    bar = None
    if progress:
        try:
            from tqdm.auto import tqdm

            bar = tqdm(total=num_shards, unit="shard", desc="specsim shards")
        except ImportError:
            bar = None
    try:
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            shards.extend(ray.get(done))
            if bar is not None:
                bar.update(len(done))
            elif progress:
                import sys

                print(f"specsim.ray: {len(shards)}/{num_shards} shards done", file=sys.stderr)
    finally:
        if bar is not None:
            bar.close()
    return _merge(shards, out=out)
