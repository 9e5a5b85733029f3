// The profiles' inverse-CDF selection on a row source (SPEC §14), shared by the compat and tree
// kernels. CPU twin: `inverse_cdf` in src/compat/select.rs. Needs `row_key` and `entry_cost`
// (shaders/shared/rows.wgsl) and the kernel's row sources.

// A round the host decides itself (an all-zero row the profile refuses, or a row whose f32 sum
// overflows): written in out_accepted.
const HOST_ROUND: u32 = 0xfffffffeu;

// The inverse CDF of a row source with coin `u` (f32 bits): the first id whose f32 running sum
// (ascending id) exceeds u·sum, the sum itself in f32 in ascending id; the last id of positive
// weight when rounding leaves none; NONE when all zero; HOST_ROUND when the sum overflows.
// Sequential, by invocation 0 (the sums' order is the profile's): charged 2 V entries of the
// source (each `entry_cost(src)` iterations).
fn icdf_row(lid: u32, src: u32, tbase: u32, dbase: u32, v: u32, u: u32) -> u32 {
    let len = select(0u, v, charge_n(v, 2u * entry_cost(src)) && charge(1u));
    if (lid == 0u) {
        var sum = 0u;
        var last = NONE;
        var x = 0u;
        for (; x < len; x += 1u) {
            let w = row_key(src, tbase, dbase, x);
            sum = add_key(sum, w);
            if (w > 0u) {
                last = x;
            }
        }
        loop_cut = loop_cut || x < len;
        var chosen = NONE;
        if (sum >= INF_BITS) {
            chosen = HOST_ROUND;
        } else if (sum > 0u) {
            let thr = mul_bits(u, sum);
            var acc = 0u;
            chosen = last;
            var found = false;
            var y = 0u;
            for (; y < len; y += 1u) {
                acc = add_key(acc, row_key(src, tbase, dbase, y));
                if (acc > thr) {
                    chosen = y;
                    found = true;
                    break;
                }
            }
            loop_cut = loop_cut || (!found && y < len);
        }
        shared_u32 = chosen;
    }
    return workgroupUniformLoad(&shared_u32);
}
