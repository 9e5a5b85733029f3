"""Exact tree scores from Python (SPEC §9): ``specsim.tree_expectation`` equals the independent
numpy enumeration of tests/data/make_tree_golden.py on every golden expectation, and
``specsim.positional_acceptance`` equals each rule's closed form, written here in numpy."""

import gzip
import json

import numpy as np
import pytest

import specsim
from specsim import InvalidInput, InvalidOption
from test_specsim import DATA


def golden_tree_doc():
    with gzip.open(DATA / "golden_tree.json.gz", "rt") as f:
        return json.load(f)


def test_tree_expectation_equals_the_numpy_enumeration():
    cases = golden_tree_doc()["expectations"]
    assert len(cases) >= 50
    for c in cases:
        got = specsim.tree_expectation(np.array(c["parents"]), np.array(c["target_probs"]),
                                       np.array(c["draft_probs"]), c["rule"], allow_unnormalized=True)
        assert got == pytest.approx(c["e_generated"], rel=1e-9, abs=1e-12), c["name"]


def rrs_closed_form(t, q, width):
    q = q / q.sum()
    r, survive, out = t.copy(), 1.0, []
    for _ in range(width):
        beta = np.minimum(r, q).sum()
        out.append(survive * beta)
        survive *= 1 - beta
        res = np.maximum(r - q, 0)
        if res.sum() <= 0:
            out += [0.0] * (width - len(out))
            break
        r = res / res.sum()
    return np.array(out)


def test_positional_vectors_have_their_closed_forms():
    rng = np.random.default_rng(3)
    for _ in range(20):
        v = int(rng.integers(2, 12))
        t, q = rng.dirichlet(np.full(v, 0.5)), rng.dirichlet(np.full(v, 0.5))
        width = int(rng.integers(1, min(v, 4) + 1))
        top = np.argsort(-q, kind="stable")[:width]
        greedy = specsim.positional_acceptance(t, q, width, "greedy")
        assert list(greedy) == [1.0 if x == np.argmax(t) else 0.0 for x in top]
        target_only = specsim.positional_acceptance(t, q, width, "target-only")
        assert np.allclose(target_only, np.diff(np.minimum(np.concatenate([[0], np.cumsum(t[top])]), 1)))
        assert np.allclose(specsim.positional_acceptance(t, q, width, "rrs"), rrs_closed_form(t, q, width),
                           atol=1e-12)
        spectr = specsim.positional_acceptance(t, q, width, "spectr")
        beta = spectr[0]
        assert np.allclose(spectr, beta * (1 - beta) ** np.arange(width), atol=1e-12)
        wor = specsim.positional_acceptance(t, q, width, "rrs-wor")
        assert wor.shape == (width,) and 0 <= wor.sum() <= 1 + 1e-12
        # A star of leaves: 1 + sum(P) = E[generated].
        parents = np.array([-1] + [0] * width)
        rows_t = np.vstack([t] + [np.full(v, 1 / v)] * width)
        rows_d = np.vstack([q] + [np.zeros(v)] * width)
        for rule, p in (("rrs", None), ("rrs-wor", wor), ("spectr", spectr)):
            p = specsim.positional_acceptance(t, q, width, rule) if p is None else p
            assert specsim.tree_expectation(parents, rows_t, rows_d, rule) == pytest.approx(1 + p.sum())


def test_bad_input_raises_its_kind():
    t = np.array([0.5, 0.5])
    with pytest.raises(InvalidOption):
        specsim.positional_acceptance(t, t, 2, "token")
    with pytest.raises(InvalidOption):
        specsim.positional_acceptance(t, t, 0, "rrs")
    with pytest.raises(InvalidInput):
        specsim.positional_acceptance(np.array([0.5, 0.6]), t, 1, "rrs")
    with pytest.raises(InvalidOption):
        big = np.full(2000, 1 / 2000)
        specsim.positional_acceptance(big, big, 3, "rrs-wor")
    with pytest.raises(InvalidInput):
        specsim.tree_expectation([-1, 0], np.ones((3, 2)) / 2, np.ones((3, 2)) / 2, "rrs")


def test_sequoia_tree_equals_the_command_line(tmp_path):
    import json as _json

    from test_specsim import cli

    vec = tmp_path / "acc.json"
    vec.write_text("[0.6, 0.2, 0.1]")
    out = cli("tree", f"sequoia:8,3,vector={vec}", "--format", "json")
    assert out.returncode == 0, out.stderr
    doc = _json.loads(out.stdout)
    parents, value = specsim.sequoia_tree([0.6, 0.2, 0.1], 8, 3)
    assert list(parents) == doc["parents"] and value == pytest.approx(doc["expected_generated"])
    assert value == pytest.approx(2.716)
    parents2, _ = specsim.sequoia_tree(np.array([[0.5, 0.3], [0.9, 0.0]]), 6, 2)
    assert len(parents2) == 6
    with pytest.raises(InvalidOption):
        specsim.sequoia_tree([0.7, 0.7], 5, 2)
