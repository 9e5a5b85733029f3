"""The optimal multi-draft bound from Python (SPEC §8): ``specsim.optimal`` equals ``specsim
optimal --format json`` on the same node, ``specsim.alpha_star`` equals the independent numpy
brute force over every subset (tests/data/make_optimal_golden.py), and bad input raises its
``SpecsimError`` subclass."""

import gzip
import importlib.util
import json

import numpy as np
import pytest

import specsim
from specsim import InvalidInput, InvalidOption
from test_specsim import DATA, cli


def brute_module():
    spec = importlib.util.spec_from_file_location("make_optimal_golden", DATA / "make_optimal_golden.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_optimal_equals_the_command_line(tmp_path):
    rng = np.random.default_rng(5)
    p, q = rng.dirichlet(np.full(40, 0.5)), rng.dirichlet(np.full(40, 0.5))
    node = tmp_path / "node.json"
    node.write_text(json.dumps({"target_probs": p.tolist(), "draft_probs": q.tolist()}))
    out = cli("optimal", str(node), "--drafts", "1,2,3", "--format", "json")
    assert out.returncode == 0, out.stderr
    assert specsim.optimal(p, q, drafts=[1, 2, 3]) == json.loads(out.stdout)
    # Any float or integer array, and a list, give the same answer.
    assert specsim.optimal(p.astype(np.float32).astype(np.float64).tolist(), q, drafts=2, mode="iid")[0]["mode"] == "iid"


def test_alpha_star_equals_brute_force_over_every_subset():
    brute = brute_module().brute
    rng = np.random.default_rng(9)
    for v in (3, 5, 7):
        p, q = rng.dirichlet(np.full(v, 0.5)), rng.dirichlet(np.full(v, 0.5))
        for n in (1, 2, 3):
            for mode in ("iid", "wor", "top"):
                got = specsim.alpha_star(p, q, n, mode)
                want = brute(p / p.sum(), q / q.sum(), n, mode)[0]
                assert abs(got["alpha_star"] - want) < 1e-12, (v, n, mode)
                assert set(got) >= {"alpha_star", "threshold_ratio", "p_h", "q_h"}
                for r in got["rules"]:
                    assert r["gap"] is None or r["gap"] >= 0.0


def test_the_golden_file_agrees_with_alpha_star():
    with gzip.open(DATA / "golden_optimal.json.gz", "rt") as f:
        cases = json.load(f)["brute"][:60]
    for c in cases:
        got = specsim.alpha_star(np.array(c["p"]), np.array(c["q"]), c["n"], c["mode"])
        assert abs(got["alpha_star"] - c["alpha_star"]) < 1e-12


def test_bad_input_raises_its_kind():
    p = [0.5, 0.5]
    with pytest.raises(InvalidInput, match="1-D"):
        specsim.alpha_star([[0.5, 0.5]], p, 1)
    with pytest.raises(InvalidInput, match=r"draft_probs\[0\]\[1\]"):
        specsim.alpha_star(p, [1.0, -0.5], 1)
    with pytest.raises(InvalidOption, match="best"):
        specsim.alpha_star(p, p, 1, "best")
    with pytest.raises(InvalidOption):
        specsim.alpha_star(p, p, 0)
    with pytest.raises(InvalidOption, match="only 2 tokens"):
        specsim.alpha_star(p, p, 3, "wor")
    with pytest.raises(InvalidInput, match="V = 2"):
        specsim.alpha_star(p, [1.0], 1)


def test_optimal_study_equals_the_command_line(tmp_path):
    args = ["--family", "logit-noise", "--sigma", "0.5", "--zipf", "0,2", "--vocab", "64",
            "--rounds", "25", "--drafts", "1,2", "--mode", "iid,top", "--quiet", "--format", "json"]
    out = cli("optimal", *args)
    assert out.returncode == 0, out.stderr
    rows = specsim.optimal_study("logit-noise", sigma=0.5, zipf=[0, 2], vocab=64, rounds=25,
                                 drafts=[1, 2], mode="iid,top", out=tmp_path / "bound")
    assert rows == json.loads(out.stdout)
    assert (tmp_path / "bound" / "optimal.csv").exists()
    with pytest.raises(InvalidOption, match="rates"):
        specsim.optimal_study("rates", rounds=3)


def test_defaults_fit_the_node_and_sizes_are_refused_with_their_kind():
    p = [0.4, 0.25, 0.15, 0.1, 0.06, 0.04]
    q = [0.2, 0.35, 0.05, 0.25, 0.1, 0.05]
    rows = specsim.optimal(p, q)  # n = 8 has no wor or top row on 6 tokens
    assert [(r["drafts"], r["mode"]) for r in rows][-1] == (8, "iid") and len(rows) == 10
    with pytest.raises(InvalidOption, match="V = 6"):
        specsim.optimal(p, q, drafts=8, mode="top")
    with pytest.raises(InvalidOption, match="1..=65535"):
        specsim.alpha_star(p, q, 4_000_000_000)
    with pytest.raises(InvalidInput, match="allow-unnormalized"):
        specsim.alpha_star([1.0, 1.0], [3.0, 1.0], 1)
    got = specsim.alpha_star([1.0, 1.0], [3.0, 1.0], 1, allow_unnormalized=True)
    assert abs(got["alpha_star"] - 0.75) < 1e-15


def test_spectr_and_the_estimate_from_python(tmp_path):
    # spectr sits beside rrs under iid and equals the numpy reference; rrs-wor beyond its
    # enumeration budget is an estimate, marked, with the command line's numbers.
    mod = brute_module()
    rng = np.random.default_rng(11)
    p, q = rng.dirichlet(np.full(300, 0.5)), rng.dirichlet(np.full(300, 0.5))
    iid = specsim.alpha_star(p, q, 3, "iid")
    rules = {r["rule"]: r for r in iid["rules"]}
    assert set(rules) == {"rrs", "spectr"}
    assert abs(rules["spectr"]["acceptance"] - mod.spectr_acceptance(p, q, 3)) < 1e-12
    assert rules["spectr"]["estimated"] is False and rules["spectr"]["standard_error"] is None
    assert (1 - np.exp(-1)) * iid["alpha_star"] <= rules["spectr"]["acceptance"] <= iid["alpha_star"]
    wor = specsim.alpha_star(p, q, 4, "wor")["rules"][0]
    assert wor["rule"] == "rrs-wor" and wor["estimated"] is True and wor["standard_error"] > 0
    node = tmp_path / "node.json"
    node.write_text(json.dumps({"target_probs": p.tolist(), "draft_probs": q.tolist()}))
    out = cli("optimal", str(node), "--drafts", "4", "--mode", "wor", "--format", "json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)[0]["rules"][0] == wor


def test_tree_studies_report_the_gap_to_optimal():
    rows = specsim.study(tree="kary:2,2", vocab=8, rounds=300, sigma=0.5, engine="cpu")
    by_rule = {r["rule"]: r for r in rows if r["tree"] == "kary:2,2"}
    assert set(by_rule) == set(specsim.DEFAULT_TREE_RULES)
    assert by_rule["greedy"]["gap_to_optimal"] is None
    for rule in ("target-only", "rrs", "rrs-wor", "spectr"):
        r = by_rule[rule]
        assert r["optimal_rounds"] == 300
        assert r["gap_to_optimal"] >= -1e-6
        assert abs(r["optimal_generated"] - r["gap_to_optimal"] - r["exact_mean_generated"]) < 1e-9
