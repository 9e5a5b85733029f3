"""Every refusal is a SpecsimError subclass naming its kind, with the command line's message; an
engine failure is not a ValueError."""

import os
import subprocess
import sys

import numpy as np
import pytest

import specsim
from specsim import errors
from test_specsim import make_batch


def test_each_kind_of_refusal():
    d, t, tok, c = make_batch(n=4)
    cases = [
        (lambda: specsim.verify_batch(d, t, tok, c + 1, engine="cpu"), specsim.InvalidInput, "coin_out_of_range"),
        (lambda: specsim.verify_batch(d[:, :2], t, tok, c, engine="cpu"), specsim.InvalidFile, "format"),
        (lambda: specsim.Tree.from_parents([-1, 0, 5]), specsim.InvalidTree, "bad_parent"),
        (lambda: specsim.study("file", batch="/nonexistent/batch.npz", engine="cpu"), specsim.InvalidFile, "io"),
        (lambda: specsim.study(sigma=-1, engine="cpu"), specsim.InvalidOption, "config"),
        (lambda: specsim.verify_batch(d, t, tok, c, engine="warp"), specsim.InvalidOption, "config"),
        (lambda: specsim.study(rounds=20, k=1, engine="cpu", out="/proc/specsim-cannot-write-here"),
         specsim.OutputError, None),
    ]
    for call, cls, code in cases:
        with pytest.raises(cls) as e:
            call()
        assert isinstance(e.value, specsim.SpecsimError)
        assert e.value.kind == cls.__name__ == type(e.value).kind
        if code is not None:
            assert e.value.code == code, (cls, e.value.code, str(e.value))
    # Ragged rows are a clear refusal, not numpy's own ValueError.
    with pytest.raises(specsim.InvalidInput, match="draft_probs"):
        specsim.verify_batch([[[0.5, 0.5]], [[1.0]]], t, tok, c, engine="cpu")
    with pytest.raises(specsim.InvalidInput, match="has 1 probabilities"):
        specsim.speculative_decode([[0.5, 0.5], [1.0]], [[0.5, 0.5]] * 3, [0, 0], [0.1, 0.1])


def test_the_hierarchy():
    for cls in (specsim.InvalidInput, specsim.InvalidTree, specsim.InvalidFile, specsim.InvalidOption):
        assert issubclass(cls, ValueError) and issubclass(cls, specsim.SpecsimError)
    assert issubclass(specsim.InvalidTree, specsim.InvalidInput)
    assert issubclass(specsim.EngineError, RuntimeError) and not issubclass(specsim.EngineError, ValueError)
    assert issubclass(specsim.OutputError, OSError)
    assert set(errors.__all__) <= set(specsim.__all__)


def test_no_adapter_is_an_engine_error_not_a_value_error():
    # A backend this machine does not have: engine="gpu" finds no adapter.
    code = (
        "import numpy as np, specsim\n"
        "d = np.full((1, 1, 2), 0.5, np.float32); t = np.full((1, 2, 2), 0.5, np.float32)\n"
        "try:\n"
        "    specsim.verify_batch(d, t, np.zeros((1, 1), np.int64), np.zeros((1, 1), np.float32), engine='gpu')\n"
        "except specsim.EngineError as e:\n"
        "    print('EngineError', isinstance(e, ValueError), e.code)\n"
    )
    env = dict(os.environ, WGPU_BACKEND="metal")
    o = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert o.stdout.strip() == "EngineError False no_adapter", o.stdout + o.stderr
