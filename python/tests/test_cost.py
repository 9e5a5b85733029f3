"""Cost and goodput from Python (SPEC §12), at parity with the command line: a study with a
latency profile (``cost_profile=``, ``batch=[...]``) returns the command line's goodput columns,
and ``specsim.cost.best_k`` is ``specsim cost --format json``."""

import csv
import json
from pathlib import Path

import pytest

import specsim
from test_specsim import cli

PROFILE = Path(__file__).resolve().parents[2] / "examples" / "profile-sequoia-demo.csv"


def test_a_study_with_a_profile_equals_the_command_line(tmp_path):
    out = tmp_path / "cli"
    o = cli("study", "--k", "1..6", "--vocab", "100", "--rounds", "400", "--engine", "cpu",
            "--cost-profile", str(PROFILE), "--batch", "1,8,64", "--out", str(out))
    assert o.returncode == 0, o.stderr
    with open(out / "results.csv") as f:
        want = list(csv.DictReader(f))
    got = specsim.study(k="1..6", vocab=100, rounds=400, engine="cpu", cost_profile=PROFILE,
                        batch=[1, 8, 64])
    assert len(got) == len(want)
    for g, w in zip(got, want):
        for key in ("goodput_b1", "speedup_b8", "goodput_b64", "speedup_b64"):
            assert float(w[key]) == pytest.approx(g[key], rel=1e-12), key
        assert g["goodput_from"] == w["goodput_from"] == "exact"
    # batch_sizes= is the same; batch sizes without a profile are refused, as on the command line.
    again = specsim.study(k="1..6", vocab=100, rounds=400, engine="cpu", cost_profile=PROFILE,
                          batch_sizes=[1, 8, 64])
    assert [r["speedup_b8"] for r in again] == [r["speedup_b8"] for r in got]
    with pytest.raises(specsim.InvalidOption, match="--cost-profile"):
        specsim.study(k=2, vocab=50, rounds=50, engine="cpu", batch=[1, 8])


def test_best_k_equals_specsim_cost(tmp_path):
    study = tmp_path / "s"
    specsim.study(k="1..8", vocab=100, rounds=300, engine="cpu", out=study)
    o = cli("cost", "--profile", str(PROFILE), "--batch", "1,4,16,64", "--from-study", str(study),
            "--format", "json")
    assert o.returncode == 0, o.stderr
    want = json.loads(o.stdout)
    got = specsim.cost.best_k(PROFILE, [1, 4, 16, 64], study, out=tmp_path / "c")
    assert got == want
    for label in {b["label"] for b in got["best"]}:
        ks = [b["best_k"] for b in got["best"] if b["label"] == label]
        assert ks == sorted(ks, reverse=True) and ks[0] > ks[-1], label
    assert (tmp_path / "c" / "cost.svg").exists()
    with pytest.raises(specsim.SpecsimError, match="results.json"):
        specsim.cost.best_k(PROFILE, [1], tmp_path / "nothing-here")
