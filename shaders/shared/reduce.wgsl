// Workgroup reductions shared by the kernels: one workgroup of WG invocations per item, the
// scratch arrays they reduce in, and the slots that broadcast a result to every invocation.
// CPU twin: none needed (the CPU loops over the same values in order; an argmax has a unique
// answer: largest key, then lowest index).

const WG: u32 = 256u;
const NONE: u32 = 0xffffffffu;

var<workgroup> shared_u32: u32;
var<workgroup> shared_key: u32;
var<workgroup> red_key: array<u32, WG>;
var<workgroup> red_idx: array<u32, WG>;

// Workgroup argmax of the per-thread candidates (ties to the lowest index); result in slot 0.
fn reduce_argmax(lid: u32, k: u32, i: u32) {
    red_key[lid] = k;
    red_idx[lid] = i;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s = s >> 1u) {
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
}

// The f32 sum (as bits) of one key per invocation, pairwise over the invocations in a fixed
// order (the CPU twins' `lane_sum`); the same in every invocation.
fn reduce_add_key(lid: u32, acc: u32) -> u32 {
    workgroupBarrier();
    red_key[lid] = acc;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s = s >> 1u) {
        if (lid < s) {
            red_key[lid] = add_key(red_key[lid], red_key[lid + s]);
        }
        workgroupBarrier();
    }
    if (lid == 0u) {
        shared_key = red_key[0];
    }
    return workgroupUniformLoad(&shared_key);
}
