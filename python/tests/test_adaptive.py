"""Adaptive draft length from Python (SPEC §11): ``specsim.adaptive_exact`` and
``specsim.bellman_bound`` equal the independent numpy enumeration of
tests/data/make_adaptive_golden.py."""

import json

import numpy as np
import pytest

import specsim
from test_specsim import DATA


def test_policies_and_the_bound_equal_the_numpy_enumeration():
    cases = json.loads((DATA / "golden_adaptive.json").read_text())["cases"]
    for case in cases[:12]:
        q, p, c = np.array(case["draft"]), np.array(case["target"]), case["cost_ratio"]
        bound = specsim.bellman_bound(q, p, cost_ratio=c)
        assert bound["rate_high"] == pytest.approx(case["bellman_rate"], rel=1e-12)
        assert len(bound["thresholds"]) == len(q) - 1
        for name, want in case["policies"].items():
            got = specsim.adaptive_exact(q, p, name, cost_ratio=c)
            for key in ("expected_drafted", "expected_accepted", "expected_draft_steps", "rate"):
                assert got[key] == pytest.approx(want[key], rel=1e-12, abs=1e-15), (name, key)
            np.testing.assert_allclose(got["pmf_drafted"], want["pmf_drafted"], rtol=1e-12, atol=1e-15)
            assert got["pmf_drafted"].shape == (len(q) + 1,)
    with pytest.raises(specsim.InvalidOption, match="not a policy"):
        specsim.adaptive_exact(q, p, "sometimes")


def test_study_stop_rows_and_brackets_beyond_enumeration():
    rows = specsim.study(
        "logit-noise", k=[2, 4], sigma_dist="uniform:0.2:2.5", vocab=64, rounds=200, seed=3,
        stop=["fixed:2", "hf:0.3", "bellman"], k_max=4, cost_ratio=0.2, engine="cpu",
    )
    stops = [r for r in rows if r["stop"]]
    assert [r["stop"] for r in stops] == ["fixed:2", "hf:0.3", "bellman"]
    token2 = next(r for r in rows if not r["stop"] and r["k"] == 2)
    for r in stops:
        assert r["k"] == 4 and r["stop_exact_rounds"] == 200
        assert r["exact_rate_high"] <= r["bellman_rate_high"] * (1 + 1e-12)
        assert r["within_ci99"] is True
    assert stops[0]["mean_generated"] == pytest.approx(token2["mean_generated"], rel=1e-12)
    assert stops[0]["mean_drafted"] == 2.0 and stops[0]["exact_mean_drafted"] == 2.0
    # bellman is bracketed at V^K = 64^4: no single exact value, a bracket.
    assert stops[2]["exact_mean_generated"] is None
    assert stops[2]["exact_low"] <= stops[2]["exact_high"]
    with pytest.raises(specsim.InvalidOption, match="k-max"):
        specsim.study("logit-noise", k=[2], vocab=64, rounds=10, k_max=4, engine="cpu")


def test_brackets_beyond_enumeration_from_python():
    q = np.full((3, 64), 1 / 64)
    p = np.full((4, 64), 1 / 64)
    b = specsim.bellman_bound(q, p, cost_ratio=0.1)
    assert b["exact"] is False and b["rate_low"] <= 4 / 1.3 + 1e-12 <= b["rate_high"] + 2e-12
    e = specsim.adaptive_exact(q, p, "specdecpp:0.5", cost_ratio=0.1)
    assert e["exact"] is False and e["generated_low"] <= 4 + 1e-9 <= e["generated_high"] + 1e-9
