"""The Python package against the command line and the golden data.

Run from a checkout after ``pip install ./python pytest``: ``pytest python/tests``. The
command-line comparisons need the ``specsim`` binary: ``$SPECSIM_BIN``, else
``target/release/specsim`` (``cargo build --release``).
"""

import csv
import gzip
import json
import math
import os
import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest

import specsim
from specsim import SpecsimError

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"


def binary() -> str:
    path = os.environ.get("SPECSIM_BIN") or str(ROOT / "target" / "release" / "specsim")
    if not Path(path).exists():
        pytest.fail(f"the specsim binary is needed at {path} (cargo build --release, or set SPECSIM_BIN)")
    return path


def cli(*args, stdin=None):
    return subprocess.run([binary(), *args], input=stdin, capture_output=True, text=True)


def golden(name):
    with gzip.open(DATA / name, "rt") as f:
        return json.load(f)["cases"]


@pytest.mark.parametrize("name,rule", [("golden_rounds.json.gz", "token"), ("golden_block.json.gz", "block")])
def test_golden_rounds(name, rule):
    decided = refused = 0
    for case in golden(name):
        inp, opts = case["input"], case["options"]
        kwargs = dict(
            rule=rule,
            allow_unnormalized=bool(opts.get("allow_unnormalized")),
            plain_decode=bool(opts.get("plain_decode")),
        )
        args = (inp["draft_probs"], inp["target_probs"], inp["draft_tokens"], inp["random_coins"])
        if "error" in case:
            with pytest.raises(SpecsimError):
                specsim.speculative_decode(*args, **kwargs)
            refused += 1
        else:
            got = specsim.speculative_decode(*args, **kwargs)
            assert got == case["expected"], case["name"]
            assert list(got) == ["accepted_tokens", "num_generated", "acceptance_rate"]
            decided += 1
    assert decided >= 80 and refused >= 10


def test_numpy_arrays_and_lists_give_the_same_round():
    d = [[2 / 3, 1 / 3], [2 / 3, 1 / 3]]
    t = [[1 / 3, 2 / 3]] * 3
    a = specsim.speculative_decode(d, t, [0, 1], [0.9, 0.3], rule="block")
    b = specsim.speculative_decode(np.array(d), np.array(t), np.array([0, 1]), np.array([0.9, 0.3]), rule="block")
    assert a == b == {"accepted_tokens": [0, 1, 1], "num_generated": 3, "acceptance_rate": 1.0}


def refusal_message(args, stdin):
    """The command line's message after its 'refused:' prefix."""
    o = cli(*args, stdin=stdin)
    assert o.returncode != 0 and o.stdout == ""
    return o.stderr.strip().split("refused: ", 1)[1]


def test_refusals_carry_the_command_lines_message():
    cases = [
        ([[0.0, 1.0]], [[0.5, 0.5], [0.5, 0.5]], [0], [0.5]),  # q = 0 for the drafted token
        ([[0.5, 0.5]], [[0.5, 0.5], [0.5, 0.5]], [2], [0.5]),  # token out of range
        ([[0.5, 0.5]], [[0.5, 0.5], [0.5, 0.5]], [0], [1.0]),  # coin = 1
        ([[0.5, 0.6]], [[0.5, 0.5], [0.5, 0.5]], [0], [0.5]),  # not normalised
        ([[0.5, 0.5]], [[0.5, 0.5]], [0], [0.5]),  # K + 1 targets missing
    ]
    for rule in ("token", "block"):
        for d, t, tok, c in cases:
            text = json.dumps({"draft_probs": d, "target_probs": t, "draft_tokens": tok, "random_coins": c})
            want = refusal_message(["round", "--rule", rule], text)
            with pytest.raises(SpecsimError) as e:
                specsim.speculative_decode(d, t, tok, c, rule=rule)
            assert str(e.value) == want
    with pytest.raises(SpecsimError, match="must be an integer"):
        specsim.speculative_decode([[0.5, 0.5]], [[0.5, 0.5]] * 2, [1.0], [0.5])
    with pytest.raises(specsim.InvalidOption, match="this round is a tree"):
        specsim.speculative_decode([[0.5, 0.5]], [[0.5, 0.5]] * 2, [1], [0.5], parents=[-1, 0])
    with pytest.raises(SpecsimError, match="not a verification rule"):
        specsim.speculative_decode([[0.5, 0.5]], [[0.5, 0.5]] * 2, [1], [0.5], rule="tree")
    # Refused input is a ValueError (as before); the base class is not (a GPU failure is not).
    assert issubclass(specsim.InvalidInput, ValueError) and not issubclass(SpecsimError, ValueError)


def make_batch(n=300, k=4, v=50, seed=0):
    rng = np.random.default_rng(seed)
    t = rng.dirichlet(np.ones(v), size=(n, k + 1)).astype(np.float32)
    d = (0.7 * t[:, :k] + 0.3 * rng.dirichlet(np.ones(v), size=(n, k))).astype(np.float32)
    tok = np.array([[rng.choice(v, p=d[i, j] / d[i, j].sum()) for j in range(k)] for i in range(n)])
    coins = rng.random((n, k), dtype=np.float32)
    return d, t, tok, coins


def test_the_rules_are_the_librarys():
    # From the library's registry: every rule, the chain rules first, the token rule first.
    assert specsim.RULES[0] == "token" and "block" in specsim.CHAIN_RULES
    assert specsim.TREE_RULES == (
        "greedy", "target-only", "rrs", "rrs-wor", "spectr", "typical", "lenient", "sglang")
    assert specsim.LOSSY_RULES == ("typical", "lenient", "sglang")
    assert specsim.DEFAULT_TREE_RULES == ("greedy", "target-only", "rrs", "rrs-wor", "spectr")
    assert specsim.RULES == specsim.CHAIN_RULES + specsim.TREE_RULES
    assert len(set(specsim.RULES)) == len(specsim.RULES)


@pytest.mark.parametrize("rule", [r if r != "lenient" else "lenient:0.5" for r in specsim.RULES])
@pytest.mark.parametrize("recovery", ["argmax", "sample"])
def test_verify_batch_equals_specsim_run(tmp_path, rule, recovery):
    d, t, tok, c = make_batch()
    path = tmp_path / "batch.npz"
    np.savez(path, draft_probs=d, target_probs=t, draft_tokens=tok, random_coins=c)
    out = tmp_path / "out.npz"
    o = cli("run", str(path), "--engine", "cpu", "--rule", rule, "--recovery", recovery, "--seed", "3", "--out", str(out))
    assert o.returncode == 0, o.stderr
    want = np.load(out)
    got = specsim.verify_batch(d, t, tok, c, rule=rule, engine="cpu", recovery=recovery, seed=3)
    for key in ("tokens", "num_accepted", "num_generated"):
        assert got[key].dtype == want[key].dtype and got[key].shape == want[key].shape
        np.testing.assert_array_equal(got[key], want[key])


def test_float32_inputs_are_read_in_place_and_others_once_converted():
    d, t, tok, c = make_batch(n=64)
    specsim.verify_batch(d, t, tok, c, engine="cpu")
    assert specsim._specsim._last_addresses() == [d.ctypes.data, t.ctypes.data]
    # float64 is read in place too (the engines take float64 bytes).
    d64, t64 = d.astype(np.float64), t.astype(np.float64)
    r64 = specsim.verify_batch(d64, t64, tok.astype(np.int64), c, engine="cpu", validate="touched")
    assert specsim._specsim._last_addresses() == [d64.ctypes.data, t64.ctypes.data]
    r32 = specsim.verify_batch(d, t, tok.astype(np.int32), c, engine="cpu")
    np.testing.assert_array_equal(r64["tokens"], r32["tokens"])
    # A non-contiguous view is made contiguous once, never read wrongly.
    wide = np.zeros((64, 4, 100), dtype=np.float32)
    wide[:, :, ::2] = d
    view = wide[:, :, ::2]
    assert not view.flags.c_contiguous
    rv = specsim.verify_batch(view, t, tok, c, engine="cpu")
    np.testing.assert_array_equal(rv["tokens"], r32["tokens"])
    assert specsim._specsim._last_addresses()[0] != view.ctypes.data
    # DLPack, the route from torch and JAX tensors, keeps the buffer.
    dl = np.from_dlpack(d)
    specsim.verify_batch(dl, t, tok, c, engine="cpu")
    assert specsim._specsim._last_addresses()[0] == d.ctypes.data


def test_zero_size_and_bad_arrays():
    d, t = np.zeros((0, 3, 5), np.float32), np.zeros((0, 4, 5), np.float32)
    tok, c = np.zeros((0, 3), np.int64), np.zeros((0, 3), np.float32)
    r = specsim.verify_batch(d, t, tok, c, engine="cpu")
    assert r["tokens"].shape == (0, 4) and r["num_accepted"].shape == (0,)
    d, t, tok, c = make_batch(n=5)
    with pytest.raises(SpecsimError, match="target_probs: shape"):
        specsim.verify_batch(d, t[:, :4], tok, c, engine="cpu")
    with pytest.raises(SpecsimError, match="token ids must be integers"):
        specsim.verify_batch(d, t, tok.astype(np.float32), c, engine="cpu")
    with pytest.raises(SpecsimError, match="not a float type"):
        specsim.verify_batch(d.astype(np.int32), t, tok, c, engine="cpu")
    bad = c.copy()
    bad[2, 1] = 1.0
    with pytest.raises(SpecsimError, match=r"round 2: random_coins\[1\] = 1 is not in \[0, 1\)"):
        specsim.verify_batch(d, t, tok, bad, engine="cpu")
    with pytest.raises(SpecsimError, match="not an engine"):
        specsim.verify_batch(d, t, tok, c, engine="tpu")


def test_a_batch_refused_by_run_raises_the_same_message(tmp_path):
    d, t, tok, c = make_batch(n=20)
    cases = {
        "coin": lambda d, t, tok, c: c.__setitem__((7, 2), 1.0),
        "token": lambda d, t, tok, c: tok.__setitem__((3, 0), 50),
        "negative": lambda d, t, tok, c: t.__setitem__((5, 1, 4), -0.25),
    }
    for name, spoil in cases.items():
        arrays = [a.copy() for a in (d, t, tok, c)]
        spoil(*arrays)
        path = tmp_path / f"{name}.npz"
        np.savez(path, draft_probs=arrays[0], target_probs=arrays[1], draft_tokens=arrays[2], random_coins=arrays[3])
        o = cli("run", str(path), "--engine", "cpu")
        assert o.returncode != 0 and o.stdout == ""
        with pytest.raises(SpecsimError) as e:
            specsim.verify_batch(*arrays, engine="cpu")
        assert str(e.value) in o.stderr, (name, str(e.value), o.stderr)
        assert str(e.value).startswith("round "), str(e.value)


def test_verify_batch_releases_the_gil():
    d, t, tok, c = make_batch(n=200, k=8, v=2000)
    d, t = np.repeat(d, 10, axis=0), np.repeat(t, 10, axis=0)
    tok, c = np.repeat(tok, 10, axis=0), np.repeat(c, 10, axis=0)
    done = []
    worker = threading.Thread(target=lambda: done.append(specsim.verify_batch(d, t, tok, c, engine="cpu")))
    spins = 0
    worker.start()
    while worker.is_alive():
        spins += 1
    worker.join()
    assert done and done[0]["tokens"].shape == (2000, 9)
    assert spins > 10_000, f"the main thread ran only {spins} times while the engine worked"


def untimed_csv(path):
    """A results.csv's rows without its timing column."""
    with open(path) as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        r.pop("seconds")
    return rows


def test_study_rows_equal_the_command_lines(tmp_path):
    out = tmp_path / "cli"
    o = cli("study", "--engine", "cpu", "--family", "logit-noise", "--sigma", "0.5", "--vocab", "200",
            "--k", "1..3", "--rounds", "1500", "--seed", "3", "--rule", "token,block", "--quiet",
            "--out", str(out))
    assert o.returncode == 0, o.stderr
    with open(out / "results.csv") as f:
        want = list(csv.DictReader(f))
    py_out = tmp_path / "py"
    rows = specsim.study("logit-noise", k="1..3", sigma=[0.5], vocab=200, rounds=1500, seed=3,
                         rule=["token", "block"], engine="cpu", out=py_out)
    assert len(rows) == len(want) == 6
    for got, exp in zip(rows, want):
        assert list(got) == list(exp)
        for key, value in got.items():
            if value is None:
                assert exp[key] == "", key
            elif isinstance(value, bool):
                assert exp[key] == str(value).lower(), key
            elif isinstance(value, (int, float)):
                if key in ("engine", "seconds"):
                    continue
                assert math.isclose(float(exp[key]), float(value), rel_tol=0, abs_tol=0) or (
                    math.isnan(float(exp[key])) and math.isnan(value)
                ), key
            else:
                assert exp[key] == value, key
    assert untimed_csv(py_out / "results.csv") == untimed_csv(out / "results.csv")
    for name in ("results.json", "mean_generated.svg", "per_position.svg", "speedup.svg"):
        assert (py_out / name).exists()


def test_study_refusals():
    with pytest.raises(SpecsimError, match="--sigma: -1 is not a non-negative number"):
        specsim.study(sigma=-1, rounds=10, engine="cpu")
    with pytest.raises(SpecsimError, match="rates family has no distributions"):
        specsim.study("rates", rule="block", engine="cpu")
    with pytest.raises(SpecsimError, match="not a family"):
        specsim.study("gauss", engine="cpu")
    with pytest.raises(SpecsimError, match="unknown option"):
        specsim.study(sgima=0.5, engine="cpu")
    with pytest.raises(SpecsimError, match="--k"):
        specsim.study(k="3..1", engine="cpu")


def test_unaligned_and_out_of_range_inputs():
    d, t, tok, c = make_batch(n=16)
    want = specsim.verify_batch(d, t, tok, c, engine="cpu")
    # An unaligned view (offset by one byte) is realigned once, never refused or misread.
    raw = np.zeros(d.nbytes + 1, np.uint8)
    raw[1:] = d.view(np.uint8).ravel()
    odd = np.frombuffer(raw.data, dtype=np.float32, offset=1).reshape(d.shape)
    assert not odd.flags.aligned
    got = specsim.verify_batch(odd, t, tok, c, engine="cpu")
    np.testing.assert_array_equal(got["tokens"], want["tokens"])
    # Refusals, not OverflowError or silent truncation.
    with pytest.raises(SpecsimError, match="not a token id"):
        specsim.speculative_decode([[0.5, 0.5]], [[0.5, 0.5]] * 2, [2**64], [0.5])
    with pytest.raises(SpecsimError, match="not a non-negative 64-bit integer"):
        specsim.verify_batch(d, t, tok, c, engine="cpu", seed=2**64)
    with pytest.raises(SpecsimError, match="is not an integer"):
        specsim.study(k=[1.5], engine="cpu")
    with pytest.raises(SpecsimError, match="is not an integer"):
        specsim.study(rounds=10.5, engine="cpu")
    with pytest.raises(SpecsimError, match="1024"):
        specsim.study(k="1..100000000000", engine="cpu")


def test_study_progress_reaches_a_callable_and_tqdm(monkeypatch):
    calls = []
    rows = specsim.study(k=[1, 2], vocab=64, rounds=500, engine="cpu",
                         progress=lambda done, total, label: calls.append((done, total, label)))
    assert rows and calls
    total = calls[-1][1]
    assert total > 0 and calls[-1][0] == total
    assert all(0 <= d <= t == total for d, t, _ in calls)
    assert [d for d, _, _ in calls] == sorted(d for d, _, _ in calls)
    assert any("logit-noise" in label for _, _, label in calls)

    # progress=True drives tqdm.auto when it is installed (a stand-in here).
    import sys
    import types

    bars = []

    class FakeTqdm:
        def __init__(self, total=0, **kwargs):
            self.total, self.n, self.desc, self.closed = total, 0, "", False
            bars.append(self)

        def set_description(self, desc, refresh=True):
            self.desc = desc

        def refresh(self):
            pass

        def close(self):
            self.closed = True

    fake = types.ModuleType("tqdm.auto")
    fake.tqdm = FakeTqdm
    monkeypatch.setitem(sys.modules, "tqdm", types.ModuleType("tqdm"))
    monkeypatch.setitem(sys.modules, "tqdm.auto", fake)
    specsim.study(k=[1, 2], vocab=64, rounds=500, engine="cpu", progress=True)
    assert len(bars) == 1 and bars[0].closed
    assert bars[0].n == bars[0].total > 0 and "logit-noise" in bars[0].desc
