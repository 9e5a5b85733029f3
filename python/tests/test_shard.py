"""Sharded studies from Python (``specsim.study(..., shard=(i, n))``, ``specsim.merge``, and
``specsim.ray.study`` on a local Ray instance): merged equals the unsharded study apart from
``seconds``, equal to the command line's shard files, and bad shard sets raise their kind."""

import json
import os

import pytest

import specsim
from specsim import InvalidInput, InvalidOption, SpecsimError
from test_specsim import cli

OPTS = dict(sigma=[0.5, 1.0], vocab=40, rounds=600, k="1..3", rule="token,block", engine="cpu")
TREE = dict(tree=["kary:2,2", "kary:3,1"], vocab=30, rounds=400, sigma=0.5, engine="cpu")


def without_seconds(rows):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]


@pytest.mark.parametrize("opts", [OPTS, TREE], ids=["chain", "tree"])
@pytest.mark.parametrize("n", [1, 3, 7])
def test_merged_shards_equal_the_unsharded_study(opts, n):
    whole = specsim.study(**opts)
    shards = [specsim.study(shard=(i, n), **opts) for i in range(n)]
    assert all(s["format"] == "specsim-shard" and s["count"] == n for s in shards)
    assert without_seconds(specsim.merge(list(reversed(shards)))) == without_seconds(whole)


def test_shards_are_the_command_line_s(tmp_path):
    path = tmp_path / "s1.json"
    cli("study", "--sigma", "0.5,1", "--vocab", "40", "--rounds", "600", "--k", "1..3", "--rule",
        "token,block", "--engine", "cpu", "--quiet", "--shard", "1/3", "--out", str(path))
    mine = specsim.study(shard="1/3", **OPTS)
    theirs = json.loads(path.read_text())
    for s in (mine, theirs):
        for p in s["parts"]:
            p.pop("seconds")
        s.pop("checksum")
    assert mine == theirs
    # Files and dicts merge together.
    others = [specsim.study(shard=(i, 3), **OPTS) for i in (0, 2)]
    rows = specsim.merge([str(path)] + others, out=tmp_path / "merged")
    assert without_seconds(rows) == without_seconds(specsim.study(**OPTS))
    assert (tmp_path / "merged" / "results.csv").exists()


def test_bad_shard_sets_raise_their_kind(tmp_path):
    shards = [specsim.study(shard=(i, 3), **OPTS) for i in range(3)]
    with pytest.raises(InvalidOption, match="missing: 1/3"):
        specsim.merge([shards[0], shards[2]])
    with pytest.raises(InvalidOption, match="given twice"):
        specsim.merge(shards + [shards[1]])
    tree = specsim.study(shard=(0, 3), **TREE)
    with pytest.raises(InvalidOption, match="different studies"):
        specsim.merge([shards[0], shards[1], tree])
    changed = json.loads(json.dumps(shards[1]))
    changed["parts"][0]["end"] += 1
    with pytest.raises(SpecsimError, match="checksum"):
        specsim.merge([shards[0], changed, shards[2]])
    for bad in [(3, 3), (True, 2), (1.5, 2), (0, True), {0: 1, 1: 2}, "1/0", "a/2", (2**64, 2**64 + 1)]:
        with pytest.raises(InvalidOption):
            specsim.study(shard=bad, **OPTS)
    with pytest.raises(InvalidOption):
        specsim.merge([42])
    with pytest.raises(InvalidOption, match="a list of shards"):
        specsim.merge("s.json")
    with pytest.raises(InvalidOption, match="a list of shards"):
        specsim.merge(shards[0])
    assert not (tmp_path / "never").exists()


def test_ray_runs_the_shards_and_merges_them(tmp_path):
    # CI installs the extra and sets SPECSIM_REQUIRE_RAY=1: a missing Ray fails there.
    if os.environ.get("SPECSIM_REQUIRE_RAY") == "1":
        import ray
    else:
        ray = pytest.importorskip("ray")
    import specsim.ray as sray

    ray.init(num_cpus=2, include_dashboard=False, ignore_reinit_error=True)
    try:
        rows = sray.study(num_shards=3, out=tmp_path / "ray", progress=False, **OPTS)
        assert without_seconds(rows) == without_seconds(specsim.study(**OPTS))
        assert (tmp_path / "ray" / "results.json").exists()
        tree_rows = sray.study(num_shards=4, progress=False, **TREE)
        assert without_seconds(tree_rows) == without_seconds(specsim.study(**TREE))
        with pytest.raises(InvalidOption):
            sray.study(num_shards=0, **OPTS)
    finally:
        ray.shutdown()


def test_a_shard_reports_progress_to_a_callable():
    calls = []
    specsim.study(shard=(0, 2), progress=lambda done, total, label: calls.append((done, total)), **OPTS)
    assert calls and calls[-1][0] == calls[-1][1] > 0
