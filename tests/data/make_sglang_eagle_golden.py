#!/usr/bin/env python3
"""Makes tests/data/sglang_eagle_tree.json: SGLang's own EAGLE build-tree unit test, reproduced
through the independent SPEC section 10 reference (tests/data/eagle2_reference.py).

Source (sgl-project/sglang, Apache-2.0; the data below are the test's literals, copied):
- test/srt/test_build_eagle_tree.py at c7eab4799d9db9579f9f0e9f466d71323b07d375,
  `TestBuildEagleTree.test_build_tree_kernel_efficient`: inputs verified_id, score_list,
  token_list, parents_list, seq_lens, topk = 4, depth (spec_steps) = 4, num_draft_token = 8; it
  runs `organize_draft_results` and `build_tree_kernel_efficient` and asserts positions,
  retrieve_index, retrieve_next_token, retrieve_next_sibling and draft_tokens (no tree mask).
- The same vectors and expectations, plus the older non-efficient kernel's leaf-path
  retrive_index and retrive_cum_len, are in python/sglang/srt/speculative/build_eagle_tree.py at
  186be12ca1f6ed51847efc07e8fb42d52e25d04a (`test_build_tree_kernel_efficient`); those leaf paths
  are checked here too.
- How the inputs arise: python/sglang/srt/speculative/spec_utils.py (`_select_top_k_tokens_first`
  / `_select_top_k_tokens_later`, at 00731f0bc9fa81c39802754fb4b62e9cce967582; the same code as
  `select_top_k_tokens` in older eagle_utils.py): step 0 puts the root's top-k probabilities in
  score_list[0] (b, 1, k), its tokens in token_list[0] and parents_list[0] = [-1, 0..k-1]; step
  i >= 1 puts expand_scores = beam score (b, k, 1) * the beam nodes' top-k probabilities in
  score_list[i] (b, k, k) (row j = beam node j), their tokens in token_list[i] (b, k^2), and the
  next beam `topk(expand_scores.flatten(), k).indices + k + (i-1)k^2` (torch.topk order: score
  descending) in parents_list[i]. `organize_draft_results` (python/sglang/srt/speculative/
  eagle_utils.py at 003ddbce039cd49b05c84568b7b357031366abf7): the flattened scores' top
  (num_draft_token - 1) indices by torch.topk, then sorted ascending = the selected candidate
  ids; parent_list = cat(parents_list[:-1]). The CUDA kernel `build_tree_efficient`
  (sgl-kernel/csrc/speculative/eagle_utils.cu at 29bd4e859f6ef92f5248fd8c3d4ba681f8d19028): the
  parent of selected candidate c is the candidate parent_list[c // k] (-1, i.e. the root, for
  c < k), looked up among the selected; positions = seq_len + depth; retrive_index[b][i] =
  b * n + i. parent_list is also the expansion order (the root, then each level's beam).

retrive_next_token / retrive_next_sibling convention (SGLang's kernel, confirmed by the test's
expected arrays): the kernel walks the nodes i = n-1 down to 1 and *prepends* i to its parent's
child list (next_token[parent] = i, next_sibling[i] = the old first child). The result is the
children in increasing node index: next_token[u] = u's lowest-index child, next_sibling[v] = the
next higher-index child of v's parent, -1 where none. Node order is candidate-id order, i.e. rank
order among siblings, so this is the sibling order of SPEC section 7.

Draft rows consistent with the data (what SGLang's draft model would have had to output): the
root's row has step 0's top-k tokens with q = score_list[0]; beam node j of step i's row has the
tokens token_list[i][jk:(j+1)k] with q = child score / parent score (the scores are the test's
float32 values, divided in f64). The remaining mass 1 - sum(q) is spread evenly over every other
token id of a vocabulary V = max token id + 1000, strictly below the row's smallest q, so each
row's top-k is the data's. eagle2_reference.eagle2_tree(k = topk, depth = spec_steps, nodes =
num_draft_token) is run on these rows; the SGLang arrays are derived from its parents/tokens and
asserted equal to the test's expectations. The script also checks that SGLang's own beams
(parents_list) and selection (organize_draft_results) follow SPEC section 10's rules on this data
and that no exact score ties occur (torch.topk's tie order is unspecified; SPEC's is lowest id).

JSON format (tests/data/sglang_eagle_tree.json):
  {"source": str, "convention": str,
   "cases": [ {                       # one per batch item of the test
     "name": str, "k": int, "depth": int, "nodes": int, "vocab": int,
     "verified_id": int, "seq_len": int,
     "rows": [                        # every row the growth reads, in expansion order
       {"path": [token ids below the root; [] for the root],
        "tokens": [k token ids, rank order], "probs": [k f64, exact as printed],
        "rest": {"spread": "uniform", "value": f64}}   # every other token id of 0..vocab
     ],
     "expanded": [candidate ids in expansion order; -1 = the root] (= SGLang's parent_list),
     "candidates": [selected candidate ids, ascending] (= SGLang's top_scores_index),
     "parents": [n], "tokens": [n] (tokens[0] = 0), "depths": [n],
     "draft_tokens": [n] (root = verified_id), "positions": [n] (seq_len + depth),
     "retrive_index": [n], "retrive_next_token": [n], "retrive_next_sibling": [n],
     "leaf_paths": [[node ids root..leaf] for each leaf in node order] } ]}
A dense row: np.full(vocab, rest.value); row[tokens] = probs.

Run: python3 tests/data/make_sglang_eagle_golden.py   (numpy only)
"""
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from eagle2_reference import eagle2_tree  # noqa: E402

# ---- the test's inputs (test/srt/test_build_eagle_tree.py @ c7eab479) -------------------------
VERIFIED_ID = [29974, 13]
SCORE_LIST = [  # float32 in the test
    [
        [[7.1127e-01, 2.8292e-01, 2.2995e-03, 1.7357e-03]],
        [[9.7476e-01, 2.2219e-02, 6.5031e-04, 1.3212e-04]],
    ],
    [
        [
            [6.9142e-01, 1.2863e-02, 1.6873e-03, 1.1871e-03],
            [2.4787e-01, 1.8818e-02, 1.4204e-02, 9.2235e-04],
            [2.2971e-03, 1.6700e-06, 1.8737e-07, 8.3146e-08],
            [1.2771e-03, 2.4374e-04, 1.7832e-04, 1.1947e-05],
        ],
        [
            [8.4832e-02, 6.6068e-02, 5.8304e-02, 5.7851e-02],
            [2.3616e-03, 1.1243e-03, 5.4368e-04, 2.7768e-04],
            [2.5286e-04, 1.5578e-04, 2.8817e-05, 1.2888e-05],
            [1.2834e-04, 2.5417e-06, 1.1279e-06, 1.6088e-08],
        ],
    ],
    [
        [
            [6.6438e-01, 2.6997e-02, 2.4236e-05, 4.0821e-06],
            [2.4402e-01, 2.8409e-03, 5.0935e-04, 2.9022e-04],
            [1.6178e-02, 2.0567e-03, 4.5892e-04, 3.0034e-05],
            [1.3023e-02, 5.0497e-04, 3.6371e-04, 8.7750e-05],
        ],
        [
            [2.3263e-02, 2.0054e-02, 9.3990e-03, 2.7783e-03],
            [6.4156e-02, 5.5506e-04, 1.0429e-04, 9.7211e-05],
            [4.9950e-02, 5.0630e-03, 9.0068e-04, 3.3656e-04],
            [7.5817e-03, 8.5731e-04, 6.9972e-04, 6.0793e-04],
        ],
    ],
    [
        [
            [6.6420e-01, 1.0525e-04, 6.5864e-05, 1.2253e-06],
            [1.3019e-01, 1.0461e-01, 5.2083e-03, 1.6777e-03],
            [2.0103e-02, 6.7335e-03, 1.2625e-04, 1.0364e-05],
            [1.5142e-02, 7.0819e-04, 9.6595e-05, 8.7951e-05],
        ],
        [
            [5.8608e-02, 1.8840e-03, 7.8535e-04, 4.4400e-04],
            [1.2185e-02, 2.0684e-03, 1.7418e-03, 1.4327e-03],
            [6.2455e-03, 6.1487e-03, 2.6862e-03, 1.8034e-03],
            [1.8590e-03, 1.6151e-03, 1.2481e-03, 3.6038e-04],
        ],
    ],
]
TOKEN_LIST = [
    [[29896, 29906, 29900, 29945], [13, 2, 29871, 28956]],
    [
        [29889, 29974, 29945, 29900, 29974, 29922, 29930, 29958,
         29889, 29974, 29930, 29945, 29974, 29922, 29930, 29958],
        [22550, 4136, 16492, 8439, 29871, 2, 3001, 13,
         2, 13, 29906, 29946, 2, 13, 29871, 259],
    ],
    [
        [29946, 29945, 29953, 29906, 29896, 29945, 29900, 29906,
         29896, 29945, 29906, 29953, 29896, 29945, 29906, 29946],
        [29871, 2, 29901, 29889, 29871, 2, 395, 259,
         29901, 29871, 2, 29889, 3001, 1234, 7146, 2186],
    ],
    [
        [29946, 29974, 29945, 29930, 29889, 29922, 29974, 29930,
         29974, 29946, 29930, 29922, 29889, 29974, 29945, 29922],
        [29941, 29906, 2, 29946, 29871, 450, 319, 14990,
         29946, 29941, 2, 29906, 29871, 2, 3001, 13],
    ],
]
PARENTS_LIST = [
    [[-1, 0, 1, 2, 3], [-1, 0, 1, 2, 3]],
    [[4, 8, 9, 10], [4, 5, 6, 7]],
    [[20, 24, 21, 28], [24, 28, 20, 21]],
    [[36, 40, 41, 44], [36, 40, 44, 45]],
]
SEQ_LENS = [5, 10]
TOPK = 4
DEPTH = 4  # spec_steps
NUM_DRAFT_TOKEN = 8

# ---- the test's expected outputs -------------------------------------------------------------
EXP_POSITIONS = [5, 6, 6, 7, 7, 8, 8, 9, 10, 11, 12, 12, 12, 12, 13, 14]
EXP_RETRIEVE_INDEX = [[0, 1, 2, 3, 4, 5, 6, 7], [8, 9, 10, 11, 12, 13, 14, 15]]
EXP_NEXT_TOKEN = [[1, 3, 4, 5, 6, 7, -1, -1], [1, 2, -1, 6, -1, -1, 7, -1]]
EXP_NEXT_SIBLING = [[-1, 2, -1, -1, -1, -1, -1, -1], [-1, -1, 3, 4, 5, -1, -1, -1]]
EXP_DRAFT_TOKENS = [29974, 29896, 29906, 29889, 29974, 29946, 29896, 29946,
                    13, 13, 22550, 4136, 16492, 8439, 29871, 29941]
# build_eagle_tree.py @ 186be12c, the non-efficient kernel on the same inputs: per batch item a
# root row, then each leaf's path (global indices b*n + node), padded with -1 to depth + 2.
EXP_OLD_RETRIVE_INDEX = [
    [0, -1, -1, -1, -1, -1],
    [0, 2, 4, 6, -1, -1],
    [0, 1, 3, 5, 7, -1],
    [8, -1, -1, -1, -1, -1],
    [8, 9, 10, -1, -1, -1],
    [8, 9, 12, -1, -1, -1],
    [8, 9, 13, -1, -1, -1],
    [8, 9, 11, 14, 15, -1],
]
EXP_OLD_CUM_LEN = [0, 3, 8]


def f32(x):
    return float(np.float32(x))


def sglang_arrays(parents, n):
    """SGLang's retrive_next_token / retrive_next_sibling from a parent array, by the kernel's
    procedure: nodes i = n-1..1, each prepended to its parent's child list."""
    nxt, sib = [-1] * n, [-1] * n
    for i in range(n - 1, 0, -1):
        p = parents[i]
        if nxt[p] != -1:
            sib[i] = nxt[p]
        nxt[p] = i
    return nxt, sib


def first_child_in_node_order(parents, n):
    """The same arrays stated directly: lowest-index child, next higher-index sibling."""
    kids = [[] for _ in range(n)]
    for i in range(1, n):
        kids[parents[i]].append(i)
    nxt, sib = [-1] * n, [-1] * n
    for u in range(n):
        if kids[u]:
            nxt[u] = kids[u][0]
            for a, b in zip(kids[u], kids[u][1:]):
                sib[a] = b
    return nxt, sib


def main():
    k, depth, n = TOPK, DEPTH, NUM_DRAFT_TOKEN
    total = k + (depth - 1) * k * k
    vocab = max(max(max(r) for r in step) for step in TOKEN_LIST) + 1000
    problems = []
    cases = []
    old_rows, old_cum = [], [0]
    for b in range(len(VERIFIED_ID)):
        # flattened candidates, as organize_draft_results flattens them
        score = [f32(x) for step in SCORE_LIST for row in step[b] for x in row]
        token = [t for step in TOKEN_LIST for t in step[b]]
        assert len(score) == total and len(token) == total
        parent_list = [x for step in PARENTS_LIST[:-1] for x in step[b]]  # cat(parents_list[:-1])
        assert len(parent_list) == 1 + k * (depth - 1)

        # Each candidate's parent, SGLang's way (parent_list[c // k]) and SPEC's way.
        beams = {1: list(range(k))}
        for level in range(2, depth + 1):
            beams[level] = PARENTS_LIST[level - 1][b]
        parent = {}
        for c in range(total):
            sg = parent_list[c // k]
            if c < k:
                spec = -1
            else:
                level = 2 + (c - k) // (k * k)
                j = ((c - k) % (k * k)) // k
                spec = beams[level - 1][j]
            assert sg == spec, (b, c, sg, spec)
            parent[c] = sg

        # SGLang's beams follow SPEC's beam rule on this data: the k best of the level's k^2 by
        # (score descending, id ascending), in that order.
        for level in range(2, depth + 1):
            base = k + (level - 2) * k * k
            ids = list(range(base, base + k * k))
            want = sorted(ids, key=lambda c: (-score[c], c))[:k]
            if want != beams[level]:
                problems.append(f"batch {b} level {level}: SGLang beam {beams[level]} != SPEC {want}")
            vals = sorted(score[c] for c in ids)
            kth = score[want[-1]]
            if sum(1 for v in vals if v == kth) > 1:
                problems.append(f"batch {b} level {level}: exact tie at the beam boundary")
        # SGLang's selection (topk then sort) under SPEC's order; no exact ties in the data.
        sel = sorted(sorted(range(total), key=lambda c: (-score[c], c))[: n - 1])
        if len(set(score)) != len(score):
            problems.append(f"batch {b}: exact ties among the candidate scores")

        # Paths and draft rows.
        path = {-1: ()}
        for c in range(total):
            path[c] = path[parent[c]] + (token[c],)
        rows = []
        for e, cid in enumerate(parent_list):  # expansion order = parent_list
            if cid == -1:
                toks = token[0:k]
                probs = [score[c] for c in range(k)]
            else:
                level = 1 if cid < k else 2 + (cid - k) // (k * k)
                j = beams[level].index(cid)
                base = k + (level - 1) * k * k
                kids = list(range(base + j * k, base + (j + 1) * k))
                assert all(parent[c] == cid for c in kids)
                toks = [token[c] for c in kids]
                probs = [score[c] / score[cid] for c in kids]
            assert len(set(toks)) == k, ("duplicate sibling tokens", b, cid, toks)
            for a in range(k - 1):
                if probs[a] < probs[a + 1]:
                    problems.append(f"batch {b} row of {cid}: q not in rank order {probs}")
                if probs[a] == probs[a + 1] and toks[a] > toks[a + 1]:
                    problems.append(f"batch {b} row of {cid}: tie not to the lowest id")
            mass = 1.0 - sum(probs)
            assert mass >= 0.0, (b, cid, probs)
            rest = mass / (vocab - k)
            assert rest < min(probs), (b, cid, rest, probs)
            rows.append({"path": list(path[cid]), "tokens": toks, "probs": probs,
                         "rest": {"spread": "uniform", "value": rest}})

        dense = {}
        for r in rows:
            d = np.full(vocab, r["rest"]["value"], dtype=np.float64)
            d[r["tokens"]] = r["probs"]
            dense[tuple(r["path"])] = d
        reads = []

        def draft_row(p):
            reads.append(p)
            if p not in dense:
                raise AssertionError(f"batch {b}: the reference read a row SGLang never drew: {p}")
            return dense[p]

        parents, tokens, cand = eagle2_tree(draft_row, k, depth, n, vocab)
        path_to_cid = {v: c for c, v in path.items()}
        expanded = [path_to_cid[p] for p in reads]
        if expanded != parent_list:
            problems.append(f"batch {b}: expansion order {expanded} != SGLang's {parent_list}")
        if cand != sel:
            problems.append(f"batch {b}: reference selects {cand}, SGLang's topk+sort {sel}")

        # Derived SGLang arrays.
        depths = [0] * n
        for i in range(1, n):
            depths[i] = depths[parents[i]] + 1
        draft_tokens = [VERIFIED_ID[b]] + tokens[1:]
        positions = [SEQ_LENS[b] + d for d in depths]
        retrive_index = [b * n + i for i in range(n)]
        nxt, sib = sglang_arrays(parents, n)
        assert (nxt, sib) == first_child_in_node_order(parents, n)
        leaves = [i for i in range(1, n) if i not in parents]
        leaf_paths = []
        for leaf in leaves:
            pth = [leaf]
            while pth[-1] != 0:
                pth.append(parents[pth[-1]])
            leaf_paths.append(pth[::-1])
        old_rows.append([b * n] + [-1] * (depth + 1))
        for pth in leaf_paths:
            old_rows.append([b * n + u for u in pth] + [-1] * (depth + 2 - len(pth)))
        old_cum.append(old_cum[-1] + 1 + len(leaf_paths))

        for name, got, want in (
            ("draft_tokens", draft_tokens, EXP_DRAFT_TOKENS[b * n:(b + 1) * n]),
            ("positions", positions, EXP_POSITIONS[b * n:(b + 1) * n]),
            ("retrive_index", retrive_index, EXP_RETRIEVE_INDEX[b]),
            ("retrive_next_token", nxt, EXP_NEXT_TOKEN[b]),
            ("retrive_next_sibling", sib, EXP_NEXT_SIBLING[b]),
        ):
            if got != want:
                problems.append(f"batch {b} {name}: derived {got} != SGLang's {want}")

        cases.append({
            "name": f"sglang test_build_tree_kernel_efficient, batch item {b}",
            "k": k, "depth": depth, "nodes": n, "vocab": vocab,
            "verified_id": VERIFIED_ID[b], "seq_len": SEQ_LENS[b],
            "rows": rows, "expanded": parent_list, "candidates": cand,
            "parents": parents, "tokens": tokens, "depths": depths,
            "draft_tokens": draft_tokens, "positions": positions,
            "retrive_index": retrive_index, "retrive_next_token": nxt,
            "retrive_next_sibling": sib, "leaf_paths": leaf_paths,
        })

    if old_rows != EXP_OLD_RETRIVE_INDEX:
        problems.append(f"old kernel leaf paths {old_rows} != {EXP_OLD_RETRIVE_INDEX}")
    if old_cum != EXP_OLD_CUM_LEN:
        problems.append(f"old kernel cum_len {old_cum} != {EXP_OLD_CUM_LEN}")

    if problems:
        print("MISMATCH between SGLang's test and SPEC section 10:")
        for p in problems:
            print("  " + p)
        sys.exit(1)

    out = {
        "source": "sgl-project/sglang test/srt/test_build_eagle_tree.py @ "
                  "c7eab4799d9db9579f9f0e9f466d71323b07d375 (test_build_tree_kernel_efficient); "
                  "leaf paths: python/sglang/srt/speculative/build_eagle_tree.py @ "
                  "186be12ca1f6ed51847efc07e8fb42d52e25d04a; made by "
                  "tests/data/make_sglang_eagle_golden.py",
        "convention": "retrive_next_token[u] = u's lowest-index child, retrive_next_sibling[v] = "
                      "the next higher-index child of v's parent, -1 if none (SGLang's kernel "
                      "prepends nodes n-1..1); positions = seq_len + depth; retrive_index = "
                      "b*n + node; draft_tokens[0] = verified_id",
        "cases": cases,
    }
    path = os.path.join(HERE, "sglang_eagle_tree.json")
    with open(path, "w") as f:
        json.dump(out, f, separators=(",", ":"))
        f.write("\n")
    # Round trip: the JSON alone rebuilds the same rows and the same tree.
    with open(path) as f:
        back = json.load(f)
    for c in back["cases"]:
        dense = {}
        for r in c["rows"]:
            d = np.full(c["vocab"], r["rest"]["value"], dtype=np.float64)
            d[r["tokens"]] = r["probs"]
            assert abs(d.sum() - 1.0) < 1e-9, d.sum()
            dense[tuple(r["path"])] = d
        got = eagle2_tree(lambda p: dense[p], c["k"], c["depth"], c["nodes"], c["vocab"])
        assert got == (c["parents"], c["tokens"], c["candidates"]), c["name"]
    for c in cases:
        print(f"{c['name']}: candidates {c['candidates']} parents {c['parents']} "
              f"next_token {c['retrive_next_token']} next_sibling {c['retrive_next_sibling']}")
    print(f"wrote {os.path.relpath(path)}: SGLang's expected arrays reproduced by SPEC section 10")


if __name__ == "__main__":
    main()
