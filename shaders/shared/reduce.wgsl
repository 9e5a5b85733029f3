// Workgroup reductions shared by the kernels: one workgroup of WG invocations per item, the
// scratch arrays they reduce in, and the slots that broadcast a result to every invocation.
// CPU twin: none needed (the CPU loops over the same values in order; an argmax has a unique
// answer: largest key, then lowest index).

const WG: u32 = 256u;
const NONE: u32 = 0xffffffffu;

// The loop work this invocation may still do, and whether the round ran out of it. Some adapters
// stop a shader's loops after a fixed number of iterations (Mesa's lavapipe: 65,535, shared by
// every loop of an invocation), which would leave a round silently wrong. So every loop whose
// length depends on the data is charged before it runs, with the worst case over the workgroup
// (the same charge in every invocation: the decision is uniform); once a charge fails, every
// later data loop runs zero times and the round is written as unfinished (UNFINISHED), for the
// host to finish on the CPU twin. A round kernel sets `work_left` from its params; the host
// picks the budget (below the adapter's limit, or unlimited on hardware).
var<private> work_left: u32 = 0xffffffffu;
var<private> out_of_work: bool = false;

// The number accepted of a round that ran out of work.
const UNFINISHED: u32 = 0xffffffffu;

// Loop iterations of the helpers that loop inside: `quotient_bits` (52, in shared/exact.wgsl)
// and a Philox draw (10, in shared/rng.wgsl), with a margin.
const QUOTIENT_COST: u32 = 54u;
const PHILOX_COST: u32 = 12u;

// Charges `n` groups of `each` loop iterations (no overflow); false (and the round marked
// unfinished) when they do not fit.
fn charge_n(n: u32, each: u32) -> bool {
    if (out_of_work || loop_cut || (each != 0u && n > work_left / each)) {
        out_of_work = true;
        work_left = 0u;
        return false;
    }
    work_left -= n * each;
    return true;
}

// Charges `n` loop iterations.
fn charge(n: u32) -> bool {
    return charge_n(n, 1u);
}

// How far a pass over a row of V may run: V when its strided loop (`per_entry` iterations for
// each of its ceil(V / WG) entries) and a workgroup reduction fit the budget, 0 otherwise.
fn row_len(v: u32, per_entry: u32) -> u32 {
    let fits = charge_n((v + WG - 1u) / WG, per_entry) && charge(2u * 8u + 1u);
    return select(0u, v, fits);
}

// How many of `n` items a loop may visit: n when they fit, 0 otherwise.
fn loop_len(n: u32) -> u32 {
    return select(0u, n, charge_n(n, 1u) && charge(1u));
}

// Whether any invocation of the workgroup ran out of work or had a loop cut short.
var<workgroup> wg_unfinished: atomic<u32>;

// Starts a round's completion flag (every invocation calls it before any charged loop).
fn begin_round(lid: u32) {
    if (lid == 0u) {
        atomicStore(&wg_unfinished, 0u);
    }
    workgroupBarrier();
}

// Whether the round is unfinished: any invocation out of work or with a loop cut short. Every
// invocation calls it, at the end of the round; the answer is the same in all.
fn round_unfinished(lid: u32) -> bool {
    if (out_of_work || loop_cut) {
        atomicOr(&wg_unfinished, 1u);
    }
    workgroupBarrier();
    return atomicLoad(&wg_unfinished) != 0u;
}

var<workgroup> shared_u32: u32;
var<workgroup> shared_key: u32;
var<workgroup> red_key: array<u32, WG>;
var<workgroup> red_idx: array<u32, WG>;

// Workgroup argmax of the per-thread candidates (ties to the lowest index); result in slot 0.
fn reduce_argmax(lid: u32, k: u32, i: u32) {
    red_key[lid] = k;
    red_idx[lid] = i;
    workgroupBarrier();
    var s = WG / 2u;
    for (; s > 0u; s = s >> 1u) {
        if (lid < s) {
            let ok = red_key[lid + s];
            let oi = red_idx[lid + s];
            if (better(ok, oi, red_key[lid], red_idx[lid])) {
                red_key[lid] = ok;
                red_idx[lid] = oi;
            }
        }
        workgroupBarrier();
    }
    loop_cut = loop_cut || s != 0u;
}

// The f32 sum (as bits) of one key per invocation, pairwise over the invocations in a fixed
// order (the CPU twins' `lane_sum`); the same in every invocation.
fn reduce_add_key(lid: u32, acc: u32) -> u32 {
    workgroupBarrier();
    red_key[lid] = acc;
    workgroupBarrier();
    var s = WG / 2u;
    for (; s > 0u; s = s >> 1u) {
        if (lid < s) {
            red_key[lid] = add_key(red_key[lid], red_key[lid + s]);
        }
        workgroupBarrier();
    }
    loop_cut = loop_cut || s != 0u;
    if (lid == 0u) {
        shared_key = red_key[0];
    }
    return workgroupUniformLoad(&shared_key);
}
