"""Conformance (SPEC §14): the kernel checker on the shipped example kernels, golden sets from
``specsim conform``, and ``speculative_decode(compat=)``."""

import os
import runpy
import subprocess

import numpy as np
import pytest
import specsim

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "examples")


def _kernel(name):
    return runpy.run_path(os.path.join(EXAMPLES, name))["kernel"]


def test_the_correct_example_kernel_passes_and_the_le_bug_is_caught_by_class():
    good = specsim.conformance.check(_kernel("kernel_correct.py"), profile="specsim")
    assert good["cases"] >= 13 and good["mismatches"] == 0 and good["classes"] == {}
    bad = specsim.conformance.check(_kernel("kernel_le_bug.py"), profile="specsim")
    assert set(bad["classes"]) == {"coin_at_threshold", "coin_zero_p_zero"}
    ex = bad["examples"]["coin_at_threshold"]
    assert ex["got_num_accepted"] == [1] and ex["expected_num_accepted"] == [0]
    # Under vLLM's profile `<=` is right, but its exponential-race selection is not argmax.
    vllm = specsim.conformance.check(_kernel("kernel_le_bug.py"), profile="vllm")
    assert "coin_at_threshold" not in vllm["classes"]


def test_a_kernel_that_raises_fails_its_cases_with_the_error():
    def broken(d, t, tok, c, **extra):
        raise ValueError("no")

    r = specsim.conformance.check(broken, profile="flashinfer")
    assert r["mismatches"] == r["cases"]
    assert "ValueError: no" in next(iter(r["examples"].values()))["error"]


def test_cases_from_the_conform_command(tmp_path):
    binary = os.environ.get("SPECSIM_BIN")
    if not binary:
        pytest.skip("SPECSIM_BIN not set")
    subprocess.run([binary, "conform", "--profile", "specsim,flashinfer", "--out", str(tmp_path)],
                   check=True, capture_output=True)
    r = specsim.conformance.check(_kernel("kernel_correct.py"), profile="specsim",
                                  cases=tmp_path / "specsim")
    assert r["mismatches"] == 0 and r["cases"] == len(specsim.conformance.cases("specsim"))
    # The specsim kernel under FlashInfer's cases: its coin of 1 and zero-residual fallback differ.
    f = specsim.conformance.check(_kernel("kernel_correct.py"), profile="flashinfer",
                                  cases=tmp_path / "flashinfer")
    assert "coin_one_zero_residual" in f["classes"]


def test_speculative_decode_with_a_profile():
    q = [[0.0, 0.5, 0.5, 0.0]]
    p = [[0.0, 0.25, 0.0, 0.75], [0.25, 0.25, 0.25, 0.25]]
    r = specsim.speculative_decode(q, p, [1], [0.5], compat="vllm",
                                   exp_noise=[1.0, 0.5, 1.0, 1.0])
    assert r["accepted_tokens"] == [1, 1] and r["compat"] == "vllm"
    # SGLang's kernel ignores q: 0.5 <= p = 0.25 fails; the correction is drawn from the target
    # row without the drafted token ([0, 0, 0, 0.75]).
    r = specsim.speculative_decode(q, p, [1], [0.5], compat="sglang", final_coins=0.9)
    assert r["num_accepted"] == 0 and r["accepted_tokens"] == [3]
    with pytest.raises(specsim.InvalidOption):
        specsim.speculative_decode(q, p, [1], [0.5], final_coins=0.5)
    with pytest.raises(specsim.SpecsimError, match="outside"):
        specsim.speculative_decode(q, p, [1], [1.0], compat="vllm")
    cs = specsim.conformance.cases("vllm")
    assert all(c["extra"]["exp_noise"].shape == (1, c["v"]) for c in cs)
    assert isinstance(cs[0]["draft_probs"], np.ndarray)


def test_decide_a_batch_equals_round_by_round_and_the_example_kernel():
    rng = np.random.default_rng(5)
    n, k, v = 300, 3, 8
    d = rng.dirichlet(np.ones(v), size=(n, k)).astype(np.float32)
    t = rng.dirichlet(np.ones(v), size=(n, k + 1)).astype(np.float32)
    tok = np.array([[rng.choice(v, p=d[r, i] / d[r, i].sum()) for i in range(k)] for r in range(n)])
    coins = rng.random((n, k), dtype=np.float32)
    u = rng.random(n, dtype=np.float32)
    e = rng.exponential(size=(n, v)).astype(np.float32) + np.float32(1e-3)
    extras = {"vllm": {"exp_noise": e}, "transformers": {"exp_noise": e},
              "sglang": {"final_coins": u}, "flashinfer": {"final_coins": u}, "specsim": {}}
    for profile, extra in extras.items():
        c = coins if profile != "flashinfer" else np.maximum(coins, np.float32(1e-6))
        out = specsim.conformance.decide(d, t, tok, c, profile=profile, **extra)
        assert out["tokens"].shape == (n, k + 1) and out["tokens"].dtype == np.int32
        for r in range(0, n, 37):
            one = specsim.speculative_decode(
                d[r], t[r], tok[r], c[r], compat=profile,
                final_coins=None if "final_coins" not in extra else float(u[r]),
                exp_noise=None if "exp_noise" not in extra else e[r])
            m = one["num_accepted"]
            assert out["num_accepted"][r] == m
            assert list(out["tokens"][r, : m + 1]) == one["accepted_tokens"]
    # The example kernel (numpy, independent) gives specsim's outputs on the whole batch.
    kt, ka = _kernel("kernel_correct.py")(d, t, tok, coins)
    ref = specsim.conformance.decide(d, t, tok, coins, profile="specsim")
    assert np.array_equal(kt, ref["tokens"]) and np.array_equal(ka, ref["num_accepted"])
    with pytest.raises(specsim.SpecsimError, match="round"):
        bad = tok.copy()
        bad[7, 1] = v
        specsim.conformance.decide(d, t, bad, coins, profile="specsim")


def test_decide_on_the_gpu_engine_equals_the_reference():
    rng = np.random.default_rng(5)
    n, k, v = 64, 3, 5
    draft = rng.choice([0.0, 0.125, 0.25, 0.5], size=(n, k, v)).astype(np.float32)
    draft[:, :, 0] = 0.5
    target = rng.choice([0.0, 0.125, 0.25, 0.5], size=(n, k + 1, v)).astype(np.float32)
    tokens = np.zeros((n, k), dtype=np.int64)
    coins = rng.choice([0.0, 0.25, 0.5, 0.75], size=(n, k)).astype(np.float32)
    for profile, extra in [("vllm", {"exp_noise": rng.choice([0.5, 1.0, 2.0], size=(n, v)).astype(np.float32)}),
                           ("sglang", {"final_coins": rng.choice([0.0, 0.37, 0.5], size=n).astype(np.float32)}),
                           ("specsim", {})]:
        want = specsim.conformance.decide(draft, target, tokens, coins, profile=profile, **extra)
        try:
            got = specsim.conformance.decide(draft, target, tokens, coins, profile=profile,
                                             engine="gpu", **extra)
        except specsim.SpecsimError as e:
            pytest.skip(f"no GPU adapter: {e}")
        for key in ("tokens", "num_accepted", "num_passed"):
            np.testing.assert_array_equal(got[key], want[key], err_msg=f"{profile} {key}")
