// Tree verification (SPEC §7): one workgroup per round, walking the tree from the root. Built on
// shaders/shared/ (exact, rng, reduce, rows, round), then each tree rule's step
// (shaders/tree/STEM.wgsl: `tree_step_STEM`) and `tree_step`, which src/gpu/kernel/table.rs generates
// from the rule registry to call the step of the rule whose index is H_RULE; its own row sources
// are the SRC_TREE_* below. CPU twin: src/cpu/tree/ (same phases, same order of operations; its
// module docs state the precision policy).

// The tree and where each node's data is: a header of TREE_HEADER words, then child_start[n + 1]
// and child_list[n - 1] (children of u: child_list[child_start[u]..child_start[u + 1]],
// increasing): once when every round shares the tree (H_TOPO_STRIDE = 0), or per round, 2n words
// apart (H_TOPO_STRIDE = 2n). A rule with per-node values (spectr) finds them from H_PARAMS on:
// 3 words per node, n nodes per round. A rule's parameters (lenient's l, …) are header words
// H_RULE_P0 and H_RULE_P1; a profile's selection is H_SELECT. Built by src/gpu/tree.rs.
@group(0) @binding(7) var<storage, read> topo: array<u32>;
// [n, depth]: accepted node ids, then -1.
@group(0) @binding(8) var<storage, read_write> out_nodes: array<i32>;

const TREE_HEADER: u32 = 14u;
const H_NODES: u32 = 0u;
const H_DEPTH: u32 = 1u;
const H_RULE: u32 = 2u;         // the rule's index in the registry's tree rules
const H_DRAFT_ROWS: u32 = 3u;
const H_TARGET_ROWS: u32 = 4u;
const H_TOK_STRIDE: u32 = 5u;
const H_TOK_SHIFT: u32 = 6u;
const H_COIN_STRIDE: u32 = 7u;
const H_COIN_SHIFT: u32 = 8u;
const H_TOPO_STRIDE: u32 = 9u;  // words between two rounds' topologies (0: shared)
const H_PARAMS: u32 = 10u;      // where a rule's per-node values start (3 words per node per round)
const H_RULE_P0: u32 = 11u;     // the rule's first f32 parameter's bits (SPEC §13's rules; else 0)
const H_RULE_P1: u32 = 12u;     // its second
const H_SELECT: u32 = 13u;      // the correction and bonus: 0 the engine's recovery (`params.mode`);
                                // under a profile (SPEC §14), 1 argmax, 2 the inverse CDF with the
                                // round's final coin (its coin entry H_NODES), V - 1 on a zero row

// The most children of one node this kernel handles (the host refuses larger trees).
const MAX_CHILDREN: u32 = 256u;

// Row sources of the tree rules (see `kernel_row_key`):
const SRC_TREE_MASKED: u32 = SRC_KERNEL;     // target with the children's tokens set to 0
const SRC_TREE_U: u32 = SRC_KERNEL + 1u;     // rrs residual max(t - fl(a * q), 0), a per token
const SRC_TREE_QMASK: u32 = SRC_KERNEL + 2u; // draft with the rejected tokens set to 0
const SRC_TREE_SPECTR: u32 = SRC_KERNEL + 3u; // spectr's correction (shaders/tree/spectr.wgsl)

// Tokens masked by SRC_TREE_MASKED / rejected under rrs-wor with their coefficients, and the
// current rrs coefficient a (same value in every invocation).
var<workgroup> tree_list: array<u32, MAX_CHILDREN>;
var<workgroup> tree_coef: array<u32, MAX_CHILDREN>;
var<private> tree_list_n: u32 = 0u;
var<private> tree_a: u32 = 0u;
// Where this round's topology starts in `topo`.
var<private> tree_base: u32 = TREE_HEADER;

fn tree_h(i: u32) -> u32 {
    return topo[i];
}

fn child_start(u: u32) -> u32 {
    return topo[tree_base + u];
}

fn child_at(i: u32) -> u32 {
    return topo[tree_base + tree_h(H_NODES) + 1u + i];
}

fn node_token(round: u32, c: u32) -> u32 {
    return tokens[round * tree_h(H_TOK_STRIDE) + c - tree_h(H_TOK_SHIFT)];
}

fn node_coin(round: u32, c: u32) -> u32 {
    return coins[round * tree_h(H_COIN_STRIDE) + c - tree_h(H_COIN_SHIFT)];
}

// Loop iterations one entry of a tree source costs: the tree sources scan the listed tokens.
fn kernel_entry_cost(src: u32) -> u32 {
    return 1u + tree_list_n;
}

// Key of entry x of a tree source (called by `row_key` in shaders/shared/rows.wgsl).
fn kernel_row_key(src: u32, tbase: u32, dbase: u32, x: u32) -> u32 {
    if (src == SRC_TREE_SPECTR) {
        return spectr_row_key(tbase, dbase, x);
    }
    // The list scan: the entry of x among the listed tokens (tree_list_n when none); a scan cut
    // short is flagged.
    var j = 0u;
    for (; j < tree_list_n; j++) {
        if (tree_list[j] == x) {
            break;
        }
    }
    let listed = j < tree_list_n && tree_list[j] == x;
    loop_cut = loop_cut || (!listed && j < tree_list_n);
    if (src == SRC_TREE_MASKED) {
        return select(key(tgt[tbase + x]), 0u, listed);
    }
    if (src == SRC_TREE_U) {
        let a = select(tree_a, tree_coef[min(j, MAX_CHILDREN - 1u)], listed);
        return residual_key(tgt[tbase + x], mul_bits(a, key(drf[dbase + x])));
    }
    // SRC_TREE_QMASK
    return select(key(drf[dbase + x]), 0u, listed);
}

// The f32 sum of a source over the row in the CPU twin's order (`lane_sum` in src/cpu/tree/mod.rs):
// each invocation adds x = lid, lid + WG, ... in ascending x, then a pairwise tree.
fn tree_lane_sum(lid: u32, src: u32, tbase: u32, dbase: u32, v: u32) -> u32 {
    var acc = 0u;
    let len = row_len(v, entry_cost(src));
    var x = lid;
    for (; x < len; x += WG) {
        acc = add_key(acc, row_key(src, tbase, dbase, x));
    }
    loop_cut = loop_cut || x < len;
    return reduce_add_key(lid, acc);
}

// Puts the children's tokens of u (child indices cs..ce) into tree_list for SRC_TREE_MASKED.
fn mask_children(lid: u32, round: u32, cs: u32, ce: u32) {
    let end = cs + loop_len(ce - cs);
    workgroupBarrier();
    if (lid == 0u) {
        var i = cs;
        for (; i < end; i++) {
            tree_list[i - cs] = node_token(round, child_at(i));
        }
        loop_cut = loop_cut || i < end;
    }
    workgroupBarrier();
    tree_list_n = ce - cs;
}

// The child lid 0 put in shared_u32, or NONE with the correction from the target row masked at
// the children's tokens (greedy, target-only).
fn accept_or_mask(lid: u32, round: u32, cs: u32, ce: u32) -> vec2<u32> {
    let next = workgroupUniformLoad(&shared_u32);
    if (next == NONE) {
        mask_children(lid, round, cs, ce);
        return vec2<u32>(NONE, SRC_TREE_MASKED);
    }
    return vec2<u32>(next, NONE);
}

// The tests of the target-only family's bucket step (`bucket_step`).
const BUCKET_TARGET_ONLY: u32 = 0u;    // coin < S_j, S_j in f32 (`add_key`): target-only
const BUCKET_SGLANG: u32 = 1u;         // p_j >= ts or not S_j < coin * ta (exactly): sglang:ts:ta
const BUCKET_COMPAT_SGLANG: u32 = 2u;  // p_j > 0 and (coin < S_j or p_j >= 1): the sglang profile
const BUCKET_F64: u32 = 3u;            // coin < S_j, S_j in f64 (shared/f64.wgsl): the specsim profile

// The target-only family's step at node u: with S_j the running sum of the target's
// probabilities of the children's tokens (p_j at child j, a duplicate token counted twice), the
// first child passing `test` is accepted; otherwise stop with the target row masked at the
// children's tokens. Invocation 0 walks the children; every invocation returns the answer.
fn bucket_step(test: u32, lid: u32, round: u32, u: u32, cs: u32, ce: u32, tbase: u32) -> vec2<u32> {
    let end = cs + loop_len(ce - cs);
    if (lid == 0u) {
        var found = NONE;
        var sum = 0u;
        var sum64 = vec2<u32>(0u, 0u);
        let coin = key(node_coin(round, u));
        let coin64 = f64_of_f32(coin);
        let ts = tree_h(H_RULE_P0);
        let ta = tree_h(H_RULE_P1);
        var i = cs;
        for (; i < end; i++) {
            let c = child_at(i);
            let p = key(tgt[tbase + node_token(round, c)]);
            var passes = false;
            if (test == BUCKET_F64) {
                sum64 = f64_add(sum64, f64_of_f32(p));
                passes = f64_lt(coin64, sum64);
            } else {
                sum = add_key(sum, p);
                if (test == BUCKET_TARGET_ONLY) {
                    passes = coin < sum;
                } else if (test == BUCKET_SGLANG) {
                    passes = p >= ts || !accepts_scaled(sum, ONE_BITS, coin, ta);
                } else {
                    passes = p > 0u && (coin < sum || p >= ONE_BITS);
                }
            }
            if (passes) {
                found = c;
                break;
            }
        }
        loop_cut = loop_cut || (found == NONE && i < end);
        shared_u32 = found;
    }
    return accept_or_mask(lid, round, cs, ce);
}

// The correction (from `res_src`) or the bonus (res_src NONE: the target row) as H_SELECT says;
// HOST_ROUND when a profile's inverse CDF leaves the round to the host (its sum overflows).
fn tree_recover(lid: u32, res_src: u32, tbase: u32, dbase: u32, v: u32, round: u32, a: u32) -> u32 {
    let how = tree_h(H_SELECT);
    if (how == 0u) {
        return recover_from(lid, res_src, tbase, dbase, v, round, a, vec2<u32>(0u, NONE));
    }
    let src = select(res_src, SRC_TARGET, res_src == NONE);
    var chosen = NONE;
    if (how == 2u) {
        chosen = icdf_row(lid, src, tbase, dbase, v, node_coin(round, tree_h(H_NODES)));
    } else {
        let top = argmax_row(lid, src, tbase, dbase, v);
        chosen = select(top.y, NONE, top.x == 0u);
    }
    return select(chosen, v - 1u, chosen == NONE);
}

@compute @workgroup_size(256)
fn verify_tree(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let round = round_index(wid);
    if (round == NONE) {
        return;
    }
    let v = params.vocab;
    begin_round(lid);
    tree_base = TREE_HEADER + round * tree_h(H_TOPO_STRIDE);
    let rule = tree_h(H_RULE);
    let depth = tree_h(H_DEPTH);
    var u = 0u;
    var a = 0u;
    var chosen = 0u;
    // The walk ends at a leaf (the bonus) or a stop (the correction); any other end (the budget
    // spent, or the loop cut short) leaves the round unfinished.
    var walk_done = false;
    loop {
        // Each node of the walk; past the budget, the walk stops where it is (unfinished).
        if (!charge(1u)) {
            break;
        }
        let tbase = (round * tree_h(H_TARGET_ROWS) + u) * v;
        let dbase = (round * tree_h(H_DRAFT_ROWS) + min(u, tree_h(H_DRAFT_ROWS) - 1u)) * v;
        let cs = child_start(u);
        let ce = child_start(u + 1u);
        tree_list_n = 0u;
        if (cs == ce) {
            // A leaf: the bonus.
            chosen = tree_recover(lid, NONE, tbase, dbase, v, round, a);
            walk_done = true;
            break;
        }
        // Phase 1: the rule's decision at u (`tree_step`, the rule's own step): the accepted
        // child, or NONE (stop; then `res_src` says where the correction comes from).
        let decision = tree_step(rule, lid, round, u, cs, ce, tbase, dbase, v);
        let next = decision.x;
        let res_src = decision.y;
        if (next == NONE) {
            chosen = tree_recover(lid, res_src, tbase, dbase, v, round, a);
            walk_done = true;
            break;
        }
        if (lid == 0u) {
            out_nodes[round * depth + a] = i32(next);
            out_tokens[round * (depth + 1u) + a] = i32(node_token(round, next));
        }
        a += 1u;
        u = next;
    }
    loop_cut = loop_cut || !walk_done;
    // Outputs: the chosen token, then -1 (a round that ran out of work, or whose loops were cut
    // short: UNFINISHED; one left to the host: HOST_ROUND).
    let pad = loop_len(2u * depth + 2u);
    if (lid == 0u && pad > 0u) {
        out_tokens[round * (depth + 1u) + a] = i32(chosen);
        var j = a + 1u;
        for (; j <= depth; j++) {
            out_tokens[round * (depth + 1u) + j] = -1;
        }
        var i = a;
        for (; i < depth; i++) {
            out_nodes[round * depth + i] = -1;
        }
        loop_cut = loop_cut || j <= depth || i < depth;
    }
    let unfinished = round_unfinished(lid);
    if (lid == 0u) {
        out_accepted[round] = select(select(a, HOST_ROUND, chosen == HOST_ROUND), UNFINISHED, unfinished);
    }
}
