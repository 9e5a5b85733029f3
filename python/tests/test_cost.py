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


def test_a_heterogeneous_family_equals_the_command_line(tmp_path):
    # sigma drawn per round and position (issue 25): the same rows and columns as the command line.
    out = tmp_path / "cli"
    o = cli("study", "--sigma-dist", "uniform:0.1:2,lognormal:-0.7:0.8", "--k", "1,3", "--vocab", "64",
            "--rounds", "300", "--engine", "cpu", "--out", str(out))
    assert o.returncode == 0, o.stderr
    with open(out / "results.csv") as f:
        want = list(csv.DictReader(f))
    got = specsim.study(sigma_dist="uniform:0.1:2,lognormal:-0.7:0.8", k=[1, 3], vocab=64, rounds=300,
                        engine="cpu")
    assert [r["spread"] for r in got] == [w["spread"] for w in want] == [
        "uniform:0.1:2", "uniform:0.1:2", "lognormal:-0.7:0.8", "lognormal:-0.7:0.8"]
    for g, w in zip(got, want):
        assert g["mean_generated"] == pytest.approx(float(w["mean_generated"]), rel=1e-12)
        assert g["exact_mean_generated"] == pytest.approx(float(w["exact_mean_generated"]), rel=1e-12)
        assert g["sigma"] is None and w["sigma"] == ""
    with pytest.raises(specsim.InvalidOption, match="LO <= HI"):
        specsim.study(sigma_dist=["uniform:2:1"], k=1, vocab=16, rounds=10, engine="cpu")


def test_the_family_functions_take_the_laws(tmp_path):
    # distortion_study (specsim distortion --sigma-dist) and tree("sequoia:…") read the same laws.
    o = cli("distortion", "--rule", "token,typical", "--k", "2", "--vocab", "64", "--rounds", "50",
            "--sigma-dist", "uniform:0.1:2", "--format", "json")
    assert o.returncode == 0, o.stderr
    want = json.loads(o.stdout)
    got = specsim.distortion_study(rule="token,typical", k=2, vocab=64, rounds=50,
                                   sigma_dist="uniform:0.1:2")
    assert [g["tokens_changed"] for g in got] == pytest.approx([w["tokens_changed"] for w in want], rel=1e-12)
    assert got[0]["workload"] == "logit-noise sigma~uniform:0.1:2 zipf=2"
    t = specsim.tree("sequoia:8,3", rule="rrs", vocab=64, sigma_dist=["lognormal:-1:0.5"])
    assert t.nodes == 8
