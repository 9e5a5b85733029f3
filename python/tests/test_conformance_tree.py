"""Conformance of tree kernels (SPEC §14, the tree rules): the checker on a numpy port of
SGLang's target-only kernel and its `<` bug, golden sets from `specsim conform --rule`, batches
under `decide_tree`, and `speculative_decode(compat=, rule=)` on a tree."""

import os
import runpy
import subprocess

import numpy as np
import pytest
import specsim

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "examples")


def _example():
    return runpy.run_path(os.path.join(EXAMPLES, "tree_kernel_sglang.py"))


def test_the_sglang_port_passes_and_its_pre_fix_kernel_is_caught_by_class():
    ex = _example()
    good = specsim.conformance.check(ex["kernel"], profile="sglang", rule="target-only")
    assert good["cases"] >= 15 and good["mismatches"] == 0, good["examples"]
    # SGLang's kernel before its PR #35798: `coin <= prob_acc`.
    ex["kernel"].__globals__["LESS_EQUAL"] = True
    bad = specsim.conformance.check(ex["kernel"], profile="sglang", rule="target-only")
    assert set(bad["classes"]) == {"coin_at_threshold", "coin_zero_p_zero", "running_sum_f32",
                                   "zero_mass_bucket", "peer_sglang_zero_probability",
                                   "peer_sglang_bucket_boundary"}
    e = bad["examples"]["coin_at_threshold"]
    assert e["got_tokens"] == [[1, 5]] and e["expected_tokens"] == [[2, 6]]


def test_a_greedy_kernel_with_the_last_max_is_caught():
    def last_max_greedy(parents, t, tok, coins):
        n_rounds, n, v = t.shape
        depth = max(len(_path(parents[0], u)) - 1 for u in range(n))
        out = np.full((n_rounds, depth + 1), -1, dtype=np.int32)
        acc = np.zeros(n_rounds, dtype=np.int32)
        for r in range(n_rounds):
            u, a = 0, 0
            while True:
                s = v - 1 - int(np.argmax(t[r][u][::-1]))  # ties to the highest id: the bug
                kids = [c for c in range(n) if parents[r][c] == u and tok[r][c] == s]
                if not kids:
                    out[r, a] = s
                    break
                out[r, a] = s
                a += 1
                u = kids[0]
            acc[r] = a
        return out, acc

    r = specsim.conformance.check(last_max_greedy, profile="vllm", rule="greedy", compare_nodes=False)
    assert "argmax_tie" in r["classes"] and "peer_sglang_tree_round0" not in r["classes"]


def _path(parents, u):
    p = [u]
    while parents[p[-1]] >= 0:
        p.append(parents[p[-1]])
    return p


def test_decide_tree_matches_the_golden_cases_and_names_a_refused_round():
    cs = specsim.conformance.cases("sglang", rule="target-only")
    assert {"duplicate_siblings", "peer_sglang_tree_round0"} <= {c["class"] for c in cs}
    for c in cs:
        out = specsim.conformance.decide_tree(c["parents"], c["target_probs"], c["draft_tokens"],
                                              c["random_coins"], profile="sglang",
                                              rule="target-only", **c["extra"])
        np.testing.assert_array_equal(out["tokens"], c["expected_tokens"])
        np.testing.assert_array_equal(out["accepted_nodes"], c["expected_accepted_nodes"])
    # A shared tree over two rounds; the second round's coin is out of domain.
    c = cs[0]
    t = np.concatenate([c["target_probs"]] * 2)
    coins = np.concatenate([c["random_coins"]] * 2)
    coins[1, 0] = 1.0
    with pytest.raises(specsim.InvalidOption, match="round 1"):
        specsim.conformance.decide_tree(c["parents"][0], t, np.concatenate([c["draft_tokens"]] * 2),
                                        coins, profile="sglang", rule="target-only")
    with pytest.raises(specsim.InvalidOption, match="it decides token, greedy"):
        specsim.conformance.cases("vllm", rule="target-only")
    # The specsim profile refuses duplicate siblings: that class is not in its set.
    assert "duplicate_siblings" not in {c["class"] for c in specsim.conformance.cases("specsim", rule="target-only")}


def test_cases_from_the_conform_command_with_a_tree_rule(tmp_path):
    binary = os.environ.get("SPECSIM_BIN")
    if not binary:
        pytest.skip("SPECSIM_BIN not set")
    subprocess.run([binary, "conform", "--profile", "sglang", "--rule", "target-only",
                    "--out", str(tmp_path)], check=True, capture_output=True)
    r = specsim.conformance.check(_example()["kernel"], profile="sglang", rule="target-only",
                                  cases=tmp_path / "sglang" / "target-only")
    assert r["mismatches"] == 0 and r["cases"] == len(specsim.conformance.cases("sglang", "target-only"))
    with pytest.raises(specsim.InvalidOption, match="holds rule"):
        specsim.conformance.check(_example()["kernel"], profile="sglang", rule="greedy",
                                  cases=tmp_path / "sglang" / "target-only")


def test_speculative_decode_with_a_profile_on_a_tree():
    # SGLang's unit-test round 0 (one-hot rows, V = 20 cut to 6 here).
    hot = lambda x: [1.0 if i == x else 0.0 for i in range(6)]  # noqa: E731
    t = [hot(3), hot(5), hot(5), hot(4), hot(0), hot(5)]
    r = specsim.speculative_decode([[0.0] * 6] * 6, t, [0, 1, 2, 3, 4, 0], [0.5] * 6,
                                   rule="target-only", parents=[-1, 0, 1, 0, 3, 4],
                                   compat="sglang", final_coins=0.5)
    assert r["accepted_tokens"] == [3, 4, 0, 5] and r["accepted_nodes"] == [3, 4, 5]
    g = specsim.speculative_decode([[0.0] * 6] * 6, t, [0, 1, 2, 3, 4, 0], [0.5] * 6,
                                   rule="greedy", parents=[-1, 0, 1, 0, 3, 4], compat="vllm")
    assert g["accepted_nodes"] == [3, 4, 5] and g["rule"] == "greedy"
    with pytest.raises(specsim.InvalidOption, match="flashinfer profile decides token"):
        specsim.speculative_decode([[0.0] * 6] * 6, t, [0, 1, 2, 3, 4, 0], [0.5] * 6,
                                   rule="greedy", parents=[-1, 0, 1, 0, 3, 4], compat="flashinfer")


def test_decide_tree_on_the_gpu_engine_equals_the_reference():
    """Every tree profile's golden cases on the GPU engine (the tree kernel with the profile's
    step) equal the reference (engine="cpu"); skipped only where there is no GPU adapter."""
    for profile, rules in specsim.conformance.TREE_RULES.items():
        for rule in rules:
            for c in specsim.conformance.cases(profile, rule=rule):
                args = (c["parents"], c["target_probs"], c["draft_tokens"], c["random_coins"])
                want = specsim.conformance.decide_tree(*args, profile=profile, rule=rule, **c["extra"])
                try:
                    got = specsim.conformance.decide_tree(*args, profile=profile, rule=rule,
                                                          engine="gpu", **c["extra"])
                except specsim.SpecsimError as e:
                    if "adapter" not in str(e):
                        raise
                    pytest.skip(f"no GPU adapter: {e}")
                for key in ("tokens", "accepted_nodes", "num_accepted"):
                    np.testing.assert_array_equal(got[key], want[key],
                                                  err_msg=f"{profile} {rule} {c['class']} {key}")
                np.testing.assert_array_equal(got["tokens"], c["expected_tokens"])
