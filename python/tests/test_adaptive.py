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
