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
