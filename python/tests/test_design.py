"""Tree design from Python (SPEC §9, §10): ``specsim.eagle2_tree`` on a user's draft model equals
the independent numpy reference of tests/data/eagle2_reference.py and SGLang's own build-tree
test, ``specsim.tree("sequoia:n,d", rule=…)`` equals the command line, ``rrs-wor``'s estimated
positional vector agrees with its enumeration, and the design study runs with its columns."""

import json
import sys

import numpy as np
import pytest

import specsim
from specsim import InvalidOption
from test_specsim import DATA, cli

sys.path.insert(0, str(DATA))
import eagle2_reference  # noqa: E402


def test_eagle2_tree_equals_the_numpy_reference_on_tie_heavy_rows():
    rng = np.random.default_rng(5)
    for _ in range(60):
        v = int(rng.integers(3, 10))
        k = int(rng.integers(1, min(3, v) + 1))
        depth = int(rng.integers(1, 5))
        nodes = int(rng.integers(1, k + (depth - 1) * k * k + 2))
        table = {}

        def row(path):
            if path not in table:
                w = rng.integers(0, 3, size=v).astype(float)
                w[0] += 1.0
                table[path] = w / w.sum()
            return table[path]

        parents, tokens = specsim.eagle2_tree(row, k, depth, nodes)
        p2, t2, _ = eagle2_reference.eagle2_tree(lambda p: table[tuple(p)], k, depth, nodes, v)
        assert list(parents) == list(p2)
        assert list(tokens) == list(t2)
        assert parents.dtype == np.int64 and tokens.dtype == np.int64


def test_eagle2_tree_reproduces_sglangs_build_tree_test():
    doc = json.loads((DATA / "sglang_eagle_tree.json").read_text())
    for case in doc["cases"]:
        v = case["vocab"]
        rows = {}
        for r in case["rows"]:
            row = np.full(v, r["rest"]["value"])
            row[r["tokens"]] = r["probs"]
            rows[tuple(r["path"])] = row
        parents, tokens = specsim.eagle2_tree(lambda p: rows[tuple(p)], case["k"], case["depth"],
                                              case["nodes"], allow_unnormalized=True)
        assert list(parents) == case["parents"], case["name"]
        assert list(tokens[1:]) == case["tokens"][1:], case["name"]
        t = specsim.Tree.from_parents(parents)
        assert list(t.retrive_next_token) == case["retrive_next_token"]
        assert list(t.retrive_next_sibling) == case["retrive_next_sibling"]


def test_eagle2_tree_refuses_bad_rows_and_sizes():
    uniform = lambda p: np.full(8, 1 / 8)  # noqa: E731
    with pytest.raises(specsim.SpecsimError, match="candidates"):
        specsim.eagle2_tree(uniform, 2, 2, 8)
    with pytest.raises(specsim.SpecsimError, match="V = 8"):
        specsim.eagle2_tree(uniform, 9, 2, 3)
    with pytest.raises(specsim.SpecsimError):
        specsim.eagle2_tree(lambda p: np.full(8, 0.5), 2, 2, 4)  # rows that do not sum to 1
    with pytest.raises(specsim.SpecsimError, match="V = 7"):
        specsim.eagle2_tree(lambda p: np.full(8 if not p else 7, 1 / 8 if not p else 1 / 7), 2, 2, 4)
    with pytest.raises(ZeroDivisionError):  # the user's own error comes through
        specsim.eagle2_tree(lambda p: 1 / 0, 2, 2, 4)
    with pytest.raises(InvalidOption):
        specsim.eagle2_tree("not callable", 2, 2, 4)
    with pytest.raises(specsim.SpecsimError, match="grown per round"):
        specsim.tree("eagle2:4,4,16")  # no single tree to show
    # A probability of -0 is 0: no candidate is selected without its parent.
    parents, _ = specsim.eagle2_tree(lambda p: np.array([1.0, -0.0]), 2, 2, 4)
    assert list(parents) == [-1, 0, 0, 1]


def test_family_sequoia_tree_equals_the_command_line():
    out = cli("tree", "sequoia:12,4", "--rule", "rrs", "--sigma", "0.5", "--vocab", "300", "--format", "json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    t = specsim.tree("sequoia:12,4", rule="rrs", sigma=0.5, vocab=300)
    assert list(t.parents) == doc["parents"]
    assert list(t.vector) == doc["vector"] and t.expected_generated == doc["expected_generated"]
    assert t.rule == "rrs" and t.vector_rows == 512 and t.vector_standard_error.shape == (11,)
    parents, value = specsim.sequoia_tree(doc["vector"], 12, 4)
    assert list(parents) == doc["parents"] and value == pytest.approx(doc["expected_generated"], abs=1e-12)
    with pytest.raises(InvalidOption):
        specsim.tree("sequoia:12,4")
    with pytest.raises(specsim.SpecsimError, match="spectr"):
        specsim.tree("sequoia:12,4", rule="spectr")


def test_rrs_wor_positional_estimate_agrees_with_its_enumeration():
    rng = np.random.default_rng(3)
    v = 30  # 30^3 * 30 < 4e6: enumerable at width 3; 30^4 * 30 > 4e6: estimated at width 4
    t = rng.dirichlet(np.ones(v))
    q = rng.dirichlet(np.ones(v))
    exact = specsim.positional_acceptance(t, q, 3, "rrs-wor")
    p, se = specsim.positional_acceptance(t, q, 3, "rrs-wor", with_error=True)
    assert se is None and np.array_equal(p, exact)
    with pytest.raises(specsim.SpecsimError, match="4e6"):
        specsim.positional_acceptance(t, q, 4, "rrs-wor")
    p4, se4 = specsim.positional_acceptance(t, q, 4, "rrs-wor", with_error=True)
    assert se4 is not None and se4.shape == (4,) and np.all(se4 > 0)
    assert np.all(np.abs(p4[:3] - exact) <= 5 * se4[:3])


def test_design_study_rows_carry_builder_and_budget(tmp_path):
    rows = specsim.study(design=True, nodes=[4, 6], rule="greedy,target-only,rrs", sigma=0.6, vocab=40,
                         rounds=300, engine="cpu", out=tmp_path)
    builders = {(r["builder"], r["node_budget"]) for r in rows}
    assert builders == {(b, n) for b in ("chain", "kary", "sequoia", "eagle2") for n in (4, 6)}
    assert (tmp_path / "design.svg").exists()
    assert all(r["nodes"] <= r["node_budget"] for r in rows)
    assert {r["rule"] for r in rows if r["builder"] == "eagle2"} == {"greedy", "target-only"}
    with pytest.raises(specsim.SpecsimError, match="--design"):
        specsim.study(nodes=[4], rounds=10)


def test_distortion_equals_the_command_line_and_the_spec_facts():
    import gzip

    with gzip.open(DATA / "golden_distortion.json.gz", "rt") as f:
        cases = json.load(f)["cases"]
    for c in cases[:200]:
        d = specsim.distortion(np.array(c["draft_probs"]), np.array(c["target_probs"]), c["rule"],
                               c["draft"], c["recovery"])
        assert np.allclose(d["acceptance"], c["acceptance"], rtol=1e-12, atol=1e-14)
        assert np.allclose(d["tv"], c["tv"], rtol=1e-12, atol=1e-14)
        assert d["expected_accepted"] == pytest.approx(c["expected_accepted"], rel=1e-12, abs=1e-14)
        assert (d["tv_exact"] is None) == (c["tv_exact"] is None)
        assert d["tokens_changed"] == d["tv_high"]
    p = np.array([[0.5, 0.3, 0.2], [0.2, 0.2, 0.6]])
    q = np.array([[0.2, 0.5, 0.3]])
    assert specsim.distortion(q, p, "token", "sample", "sample")["tv_exact"] == pytest.approx(0, abs=1e-15)
    assert specsim.distortion(q, p, "sglang:1:1", "top1", "sample")["tv"][0] == pytest.approx(0, abs=1e-15)
    with pytest.raises(InvalidOption):
        specsim.distortion(q, p, "lenient:3")
    with pytest.raises(specsim.SpecsimError):
        specsim.distortion(q, p[:1], "token")


def test_distortion_study_equals_the_command_line(tmp_path):
    out = cli("distortion", "--rule", "token,typical,lenient:0.5", "--k", "3", "--vocab", "40", "--sigma", "0.5",
              "--rounds", "30", "--format", "json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    rows = specsim.distortion_study(rule="token,typical,lenient:0.5", k=3, vocab=40, sigma=0.5, rounds=30,
                                    out=tmp_path)
    assert rows == doc
    assert (tmp_path / "distortion.json").exists() and (tmp_path / "tradeoff.svg").exists()
    with pytest.raises(specsim.SpecsimError, match="workloads"):
        specsim.distortion_study(rule="token", rounds=5)
