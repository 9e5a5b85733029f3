#!/usr/bin/env python3
"""Makes tests/data/eagle_tree_buffers.json: EAGLE's `generate_tree_buffers` (SafeAILab/EAGLE,
eagle/model/utils.py at 08dc06cc; the same code as Medusa's `generate_medusa_buffers`) ported to
plain Python line by line (torch replaced by lists; its `tree_indices`, `p_indices` and
`b_indices` are not needed), run on published choice lists: Medusa's `mc_sim_7b_63`
(FasterDecoding/Medusa, medusa/model/medusa_choices.py at 11af0aa5; 63 choices), EAGLE-1's
`mc_sim_7b_63` (eagle/model/choices.py at 08dc06cc; 25 choices) and random lists. For each:
the attention mask, the parent of every node (its deepest ancestor in the mask), the position
ids and the retrieve_indices rows in EAGLE's order (its custom_sort). The Rust tests hold
`--tree eagle:LIST` and `specsim tree` to these. Run: python3 tests/data/make_eagle_golden.py
"""
import json
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))

MEDUSA_MC_SIM_7B_63 = [[0], [0, 0], [1], [0, 1], [2], [0, 0, 0], [1, 0], [0, 2], [3], [0, 3], [4], [0, 4], [2, 0], [0, 5], [0, 0, 1], [5], [0, 6], [6], [0, 7], [0, 1, 0], [1, 1], [7], [0, 8], [0, 0, 2], [3, 0], [0, 9], [8], [9], [1, 0, 0], [0, 2, 0], [1, 2], [0, 0, 3], [4, 0], [2, 1], [0, 0, 4], [0, 0, 5], [0, 0, 0, 0], [0, 1, 1], [0, 0, 6], [0, 3, 0], [5, 0], [1, 3], [0, 0, 7], [0, 0, 8], [0, 0, 9], [6, 0], [0, 4, 0], [1, 4], [7, 0], [0, 1, 2], [2, 0, 0], [3, 1], [2, 2], [8, 0], [0, 5, 0], [1, 5], [1, 0, 1], [0, 2, 1], [9, 0], [0, 6, 0], [0, 0, 0, 1], [1, 6], [0, 7, 0]]
EAGLE_MC_SIM_7B_63 = [[0], [1], [2], [3], [0, 0], [0, 1], [0, 2], [1, 0], [1, 1], [2, 0], [2, 1], [3, 0], [0, 0, 0], [0, 0, 1], [0, 0, 2], [0, 1, 0], [0, 1, 1], [0, 2, 0], [0, 2, 1], [1, 0, 0], [0, 0, 0, 0], [0, 0, 0, 1], [0, 0, 0, 2], [0, 0, 0, 0, 0], [0, 0, 0, 0, 1]]


def pad_path(path, length, pad_value=-2):
    return path + [pad_value] * (length - len(path))


def generate_tree_buffers(tree_choices):
    sorted_tree_choices = sorted(tree_choices, key=lambda x: (len(x), x))
    tree_len = len(sorted_tree_choices) + 1
    depth_counts = []
    prev_depth = 0
    for path in sorted_tree_choices:
        depth = len(path)
        if depth != prev_depth:
            depth_counts.append(0)
        depth_counts[depth - 1] += 1
        prev_depth = depth
    # torch.eye(tree_len); tree_attn_mask[:, 0] = 1
    mask = [[1 if i == j else 0 for j in range(tree_len)] for i in range(tree_len)]
    for row in mask:
        row[0] = 1
    start = 0
    for i in range(len(depth_counts)):
        for j in range(depth_counts[i]):
            cur_tree_choice = sorted_tree_choices[start + j]
            if len(cur_tree_choice) == 1:
                continue
            ancestor_idx = []
            for c in range(len(cur_tree_choice) - 1):
                ancestor_idx.append(sorted_tree_choices.index(cur_tree_choice[:c + 1]) + 1)
            for a in ancestor_idx:
                mask[j + start + 1][a] = 1
        start += depth_counts[i]
    position_ids = [0] * tree_len
    start = 0
    for i in range(len(depth_counts)):
        for x in range(start + 1, start + depth_counts[i] + 1):
            position_ids[x] = i + 1
        start += depth_counts[i]
    retrieve_indices_nest = []
    retrieve_paths = []
    for i in range(len(sorted_tree_choices)):
        cur_tree_choice = sorted_tree_choices[-i - 1]
        retrieve_indice = []
        if cur_tree_choice in retrieve_paths:
            continue
        else:
            for c in range(len(cur_tree_choice)):
                retrieve_indice.append(sorted_tree_choices.index(cur_tree_choice[:c + 1]))
                retrieve_paths.append(cur_tree_choice[:c + 1])
        retrieve_indices_nest.append(retrieve_indice)
    max_length = max([len(x) for x in retrieve_indices_nest])
    retrieve_indices = [pad_path(path, max_length) for path in retrieve_indices_nest]
    retrieve_indices = [[0] + [x + 1 for x in row] for row in retrieve_indices]
    maxitem = max(max(r) for r in retrieve_indices) + 5

    def custom_sort(lst):
        return [x if x >= 0 else maxitem for x in lst]

    retrieve_indices = sorted(retrieve_indices, key=custom_sort)
    parents = [-1] + [max(j for j in range(i) if mask[i][j]) for i in range(1, tree_len)]
    return {"attention_mask": mask, "parents": parents, "position_ids": position_ids,
            "retrieve_indices": retrieve_indices}


def random_choices(rng, n):
    """n choices of a random tree, listed in a random order (EAGLE sorts them)."""
    choices, kids = [], {(): 0}
    for _ in range(n):
        parent = rng.choice(list(kids))
        c = parent + (kids[parent],)
        kids[parent] += 1
        kids[c] = 0
        choices.append(list(c))
    rng.shuffle(choices)
    return choices


rng = random.Random(20261207)
cases = [{"name": "medusa mc_sim_7b_63", "choices": MEDUSA_MC_SIM_7B_63},
         {"name": "eagle-1 mc_sim_7b_63", "choices": EAGLE_MC_SIM_7B_63}]
for i, n in enumerate([1, 3, 8, 20, 40]):
    cases.append({"name": f"random {i} ({n} choices)", "choices": random_choices(rng, n)})
for c in cases:
    c.update(generate_tree_buffers(c["choices"]))
with open(os.path.join(HERE, "eagle_tree_buffers.json"), "w") as f:
    json.dump({"cases": cases}, f, separators=(",", ":"))
print("wrote", len(cases), "cases")
