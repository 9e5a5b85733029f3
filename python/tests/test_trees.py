"""Trees from Python, at parity with the command line: every tree rule through
``speculative_decode`` (the numpy golden cases) and ``verify_batch`` (shared and per-round
parents, against ``specsim run`` on the same files), tree studies, the ``Tree`` converters, the
summary, and arrays coming from torch and JAX without a copy."""

import csv
import gzip
import json

import numpy as np
import pytest

import specsim
from specsim import InvalidTree
from test_specsim import DATA, cli, untimed_csv


def golden_tree():
    cases = []
    for name in ("golden_tree.json.gz", "golden_lossy_tree.json.gz"):
        with gzip.open(DATA / name, "rt") as f:
            cases += json.load(f)["cases"]
    return cases


#: Every tree rule as a spec (lenient needs its l).
RULE_SPECS = [r if r != "lenient" else "lenient:0.5" for r in specsim.TREE_RULES]
#: The rules that verify chains only (SPEC §13).
CHAIN_ONLY = {"typical", "lenient"}


def test_every_tree_rule_through_speculative_decode():
    decided = refused = 0
    for case in golden_tree():
        inp, opts = case["input"], case["options"]
        kwargs = dict(
            rule=case["rule"],
            parents=inp.get("parents"),
            allow_unnormalized=bool(opts.get("allow_unnormalized")),
            plain_decode=bool(opts.get("plain_decode")),
        )
        args = (inp["draft_probs"], inp["target_probs"], inp["draft_tokens"], inp["random_coins"])
        if "error" in case:
            with pytest.raises(specsim.SpecsimError):
                specsim.speculative_decode(*args, **kwargs)
            refused += 1
            continue
        got = specsim.speculative_decode(*args, **kwargs)
        for key, value in case["expected"].items():
            assert got[key] == value, (case["name"], key)
        decided += 1
    assert decided >= 300 and refused >= 30
    assert {c["rule"].split(":")[0] for c in golden_tree()} >= set(specsim.TREE_RULES)


@pytest.mark.parametrize("rule", RULE_SPECS)
def test_a_round_equals_the_command_lines(rule):
    rng = np.random.default_rng(5)
    t = rng.dirichlet(np.ones(6), size=5)
    d = rng.dirichlet(np.ones(6), size=5)
    parents = [-1, 0, 0, 1, 1]
    tokens = [0, 1, 2, 3, 4]
    coins = [0.1, 0.7, 0.2, 0.05, 0.9]
    for p in (parents, None):  # a tree, and a chain read as the path tree
        n = 5 if p else 4
        round_ = {"draft_probs": d[:n].tolist(),
                  "target_probs": t[:5].tolist(), "draft_tokens": tokens[1:] if not p else tokens,
                  "random_coins": coins[:n] if p else coins[:4]}
        if p:
            round_["parents"] = p
        o = cli("round", "--rule", rule, stdin=json.dumps(round_))
        if p and rule.split(":")[0] in CHAIN_ONLY:
            # A rule that verifies chains only refuses a tree, on both sides.
            assert o.returncode != 0 and "chains only" in o.stderr, o.stderr
            with pytest.raises(specsim.InvalidOption, match="chains only"):
                specsim.speculative_decode(round_["draft_probs"], round_["target_probs"],
                                           round_["draft_tokens"], round_["random_coins"], rule=rule, parents=p)
            continue
        assert o.returncode == 0, o.stderr
        want = json.loads(o.stdout)
        got = specsim.speculative_decode(round_["draft_probs"], round_["target_probs"], round_["draft_tokens"],
                                         round_["random_coins"], rule=rule, parents=p)
        assert got == want and list(got) == list(want)
        assert "accepted_nodes" in got


def tree_batch(parents_per_round, v=12, seed=0):
    """Rows, tokens and coins valid under every tree rule for these trees (children drawn without
    replacement from the parent's draft row)."""
    rng = np.random.default_rng(seed)
    n, nn = len(parents_per_round), len(parents_per_round[0])
    t = rng.dirichlet(np.ones(v) * 0.5, size=(n, nn)).astype(np.float32)
    d = (0.6 * t + 0.4 * rng.dirichlet(np.ones(v), size=(n, nn))).astype(np.float32)
    d /= d.sum(axis=-1, keepdims=True)
    tok = np.zeros((n, nn), dtype=np.int64)
    for r, parents in enumerate(parents_per_round):
        for u in range(nn):
            kids = [c for c in range(1, nn) if parents[c] == u]
            if kids:
                q = d[r, u].astype(np.float64)
                tok[r, kids] = rng.choice(v, size=len(kids), replace=False, p=q / q.sum())
    coins = rng.random((n, nn), dtype=np.float32)
    return d, t, tok, coins


def random_parents(rng, nn):
    return [-1] + [int(rng.integers(0, i)) for i in range(1, nn)]


@pytest.mark.parametrize("per_round", [False, True, "chain"])
@pytest.mark.parametrize("rule", RULE_SPECS)
@pytest.mark.parametrize("recovery", ["argmax", "sample"])
def test_verify_batch_on_trees_equals_specsim_run(tmp_path, per_round, rule, recovery):
    rng = np.random.default_rng(3)
    if rule.split(":")[0] in CHAIN_ONLY and per_round != "chain":
        pytest.skip("verifies chains only")
    if per_round == "chain":
        parents = np.array([-1, 0, 1, 2, 3], dtype=np.int64)
        per_round = False
    elif per_round:
        parents = np.array([random_parents(rng, 7) for _ in range(40)], dtype=np.int64)
    else:
        parents = np.array([-1, 0, 0, 1, 1, 2, 2], dtype=np.int64)
    d, t, tok, c = tree_batch(list(parents) if per_round else [parents] * 40)
    path = tmp_path / "trees.npz"
    np.savez(path, parents=parents, draft_probs=d, target_probs=t, draft_tokens=tok, random_coins=c)
    out = tmp_path / "out.npz"
    o = cli("run", str(path), "--engine", "cpu", "--rule", rule, "--recovery", recovery, "--seed", "9",
            "--out", str(out))
    assert o.returncode == 0, o.stderr
    want = np.load(out)
    got = specsim.verify_batch(d, t, tok, c, parents=parents, rule=rule, engine="cpu",
                               recovery=recovery, seed=9)
    assert sorted(got) == sorted(want.files) == ["accepted_nodes", "num_accepted", "num_generated", "tokens"]
    for key in want.files:
        np.testing.assert_array_equal(got[key], want[key], err_msg=key)
        assert got[key].dtype == want[key].dtype and got[key].shape == want[key].shape
    # The summary is the command line's.
    o = cli("run", str(path), "--engine", "cpu", "--rule", rule, "--recovery", recovery, "--seed", "9",
            "--format", "json")
    j = json.loads(o.stdout)
    s = specsim.summary(got)
    assert s["per_depth_acceptance"] == j["per_depth_acceptance"]
    assert s["mean_generated"] == j["mean_generated"] and s["rounds"] == j["rounds"]


def test_tree_batches_are_checked():
    parents = np.array([-1, 0, 0, 1], dtype=np.int64)
    d, t, tok, c = tree_batch([parents] * 4)
    with pytest.raises(InvalidTree, match=r"parents\[2\] = 2"):
        specsim.verify_batch(d, t, tok, c, parents=[-1, 0, 2, 1], rule="rrs", engine="cpu")
    bad = np.array([parents] * 4)
    bad[3, 3] = 3
    with pytest.raises(InvalidTree, match=r"round 3.*parents\[3\] = 3"):
        specsim.verify_batch(d, t, tok, c, parents=bad, rule="rrs", engine="cpu")
    with pytest.raises(specsim.InvalidFile, match="parents"):
        specsim.verify_batch(d, t, tok, c, parents=np.array([parents] * 5), rule="rrs", engine="cpu")
    with pytest.raises(specsim.InvalidOption, match="tree batch"):
        specsim.verify_batch(d, t, tok, c, parents=parents, rule="token", engine="cpu")
    dup = tok.copy()
    dup[:, 2] = dup[:, 1]
    with pytest.raises(InvalidTree, match="distinct"):
        specsim.verify_batch(d, t, dup, c, parents=parents, rule="target-only", engine="cpu")


def test_a_tree_study_equals_the_command_lines(tmp_path):
    out = tmp_path / "cli"
    o = cli("study", "--engine", "cpu", "--tree", "kary:2,2", "--rule", "rrs,target-only", "--sigma", "0.5",
            "--vocab", "64", "--rounds", "600", "--seed", "4", "--quiet", "--out", str(out))
    assert o.returncode == 0, o.stderr
    py_out = tmp_path / "py"
    rows = specsim.study(tree="kary:2,2", rule=["rrs", "target-only"], sigma=0.5, vocab=64, rounds=600,
                         seed=4, engine="cpu", out=py_out)
    want = untimed_csv(out / "results.csv")
    assert len(rows) == len(want) == 4  # kary:2,2 and chain:6, two rules
    assert [r["tree"] for r in rows] == ["kary:2,2", "kary:2,2", "chain:6", "chain:6"]
    assert untimed_csv(py_out / "results.csv") == want
    with open(out / "results.csv") as f:
        assert list(rows[0]) == next(csv.reader(f))


def test_tree_specs_and_converters_round_trip():
    m = specsim.tree("eagle:mc_sim_7b_63")
    assert (m.nodes, m.depth) == (64, 4) and list(m.widths) == [1, 10, 28, 23, 2]
    assert m.eagle_order
    o = cli("tree", "eagle:mc_sim_7b_63", "--format", "json")
    doc = json.loads(o.stdout)
    assert list(m.parents) == doc["parents"] and m.choices == doc["choices"]
    assert m.retrieve_indices.tolist() == doc["retrieve_indices"]
    assert m.attention_mask.tolist() == doc["attention_mask"]
    k = specsim.tree("kary:3,2")
    assert (k.nodes, k.depth, list(k.widths)) == (13, 2, [1, 3, 9])
    rng = np.random.default_rng(11)
    for _ in range(300):
        t = specsim.Tree.from_parents(random_parents(rng, int(rng.integers(1, 20))))
        assert specsim.Tree.from_retrive(t.retrive_next_token, t.retrive_next_sibling) == t
        assert specsim.Tree.from_retrieve_indices(t.retrieve_indices) == t
        assert specsim.Tree.from_attention_mask(t.attention_mask) == t
        # A choice list reads back in EAGLE's numbering: this tree itself when it is in EAGLE's
        # order, otherwise renumbered as eagle_node_ids says.
        back = specsim.Tree.from_choices(t.choices)
        if t.eagle_order:
            assert back == t
        new_id = np.empty(t.nodes, dtype=np.int64)
        new_id[t.eagle_node_ids] = np.arange(t.nodes)
        expect = [-1] + [int(new_id[t.parents[u]]) for u in t.eagle_node_ids[1:]]
        assert list(back.parents) == expect
    with pytest.raises(InvalidTree, match=r"parents\[1\] = 1"):
        specsim.Tree.from_parents([-1, 1])
    with pytest.raises(specsim.InvalidOption, match="needs its parent"):
        specsim.Tree.from_choices([[0, 0]])


def test_arrays_from_torch_come_in_without_a_copy():
    torch = pytest.importorskip("torch")
    from test_specsim import make_batch

    d, t, tok, c = make_batch(n=8)
    td, tt = torch.from_numpy(d.copy()), torch.from_numpy(t.copy())
    got = specsim.verify_batch(td.numpy(), tt.numpy(), tok, c, engine="cpu")
    assert specsim._specsim._last_addresses() == [td.data_ptr(), tt.data_ptr()]
    np.testing.assert_array_equal(got["tokens"], specsim.verify_batch(d, t, tok, c, engine="cpu")["tokens"])


def test_arrays_from_jax_come_in_through_dlpack():
    jnp = pytest.importorskip("jax.numpy")
    from test_specsim import make_batch

    d, t, tok, c = make_batch(n=8)
    jd = jnp.asarray(d)
    viewed = np.from_dlpack(jd)
    got = specsim.verify_batch(viewed, t, tok, c, engine="cpu")
    assert specsim._specsim._last_addresses()[0] == viewed.ctypes.data
    np.testing.assert_array_equal(got["tokens"], specsim.verify_batch(d, t, tok, c, engine="cpu")["tokens"])
