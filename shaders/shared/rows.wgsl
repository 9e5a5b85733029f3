// Rows of V probabilities as the kernels read them: row sources, their argmax and their exact
// integer-domain sampling. CPU twin: the helpers of src/cpu/verify.rs and `sample_index` in
// src/exact/.
//
// The kernel that includes this file declares `drf` and `tgt` (arrays of f32 bits, read-only or
// not) and `fn kernel_row_key(src: u32, tbase: u32, dbase: u32, x: u32) -> u32`, the key of its
// own row sources (src >= SRC_KERNEL); a kernel without sources of its own returns 0 there; and
// `fn kernel_entry_cost(src: u32) -> u32`, the loop iterations one entry of its source costs (1
// for a source read directly).

// Row sources for `row_key` and `sample_row`.
const SRC_TARGET: u32 = 0u;
const SRC_RESIDUAL: u32 = 1u;
const SRC_DRAFT: u32 = 2u;
const SRC_SCALED: u32 = 3u; // max(row_scale * t - d, 0): block verification's residual
const SRC_KERNEL: u32 = 4u; // the first source the including kernel defines

// The scale of SRC_SCALED (f32 bits): P_tau in shaders/block.wgsl.
var<private> row_scale: u32 = 0x3f800000u;

// The key (f32 bits, sign cleared) of entry x of a row source.
fn row_key(src: u32, tbase: u32, dbase: u32, x: u32) -> u32 {
    if (src >= SRC_KERNEL) {
        return kernel_row_key(src, tbase, dbase, x);
    }
    if (src == SRC_TARGET) {
        return key(tgt[tbase + x]);
    }
    if (src == SRC_RESIDUAL) {
        return residual_key(tgt[tbase + x], drf[dbase + x]);
    }
    if (src == SRC_SCALED) {
        return residual_key(mul_bits(row_scale, tgt[tbase + x]), drf[dbase + x]);
    }
    return key(drf[dbase + x]);
}

// Loop iterations one entry of a source costs.
fn entry_cost(src: u32) -> u32 {
    if (src >= SRC_KERNEL) {
        return kernel_entry_cost(src);
    }
    return 1u;
}

// Argmax of a row source (ties to the lowest index): (top key, index); an all-zero row gives
// index 0.
fn argmax_row(lid: u32, src: u32, tbase: u32, dbase: u32, v: u32) -> vec2<u32> {
    var bk = 0u;
    var bi = NONE;
    let len = row_len(v, entry_cost(src));
    var x = lid;
    for (; x < len; x += WG) {
        let kx = row_key(src, tbase, dbase, x);
        if (better(kx, x, bk, bi)) {
            bk = kx;
            bi = x;
        }
    }
    loop_cut = loop_cut || x < len;
    reduce_argmax(lid, bk, bi);
    if (lid == 0u) {
        shared_u32 = red_idx[0];
        shared_key = red_key[0];
    }
    let idx = workgroupUniformLoad(&shared_u32);
    let top = workgroupUniformLoad(&shared_key);
    return vec2<u32>(top, idx);
}

// Samples an index of a row source with probability proportional to its values, exactly in
// integers (twin of `sample_index` in src/exact.rs): each invocation sums the integer weights of
// a contiguous block, invocation 0 finds the block and then the entry where the cumulative
// weight first exceeds floor(total * u / 2^64). NONE when every weight is 0.
fn sample_row(lid: u32, src: u32, tbase: u32, dbase: u32, v: u32, u: vec2<u32>) -> u32 {
    let top = argmax_row(lid, src, tbase, dbase, v);
    let emax = max(top.x >> 23u, 1u);
    let s = 39 - i32(ceil_log2(v));
    let per = (v + WG - 1u) / WG;
    // The weights pass (per entries each), then invocation 0's sum and search over the blocks
    // and its search within one block: charged to every invocation.
    let cost = entry_cost(src);
    let fits = charge_n(per, 2u * cost) && charge(2u * WG + 16u + PHILOX_COST);
    let start = select(v, min(lid * per, v), fits);
    let end = min(start + per, v);
    var acc = vec2<u32>(0u, 0u);
    var x = start;
    for (; x < end; x++) {
        acc = u64_add(acc, weight(row_key(src, tbase, dbase, x), emax, s));
    }
    loop_cut = loop_cut || x < end;
    workgroupBarrier();
    red_key[lid] = acc.x;
    red_idx[lid] = acc.y;
    workgroupBarrier();
    if (lid == 0u) {
        var total = vec2<u32>(0u, 0u);
        let nb = select(0u, WG, fits);
        var b = 0u;
        for (; b < nb; b++) {
            total = u64_add(total, vec2<u32>(red_key[b], red_idx[b]));
        }
        loop_cut = loop_cut || b < nb;
        var result = NONE;
        if (total.x != 0u || total.y != 0u) {
            let thr = u64_mulhi(total, u);
            var cum = vec2<u32>(0u, 0u);
            var block = WG - 1u;
            var found = false;
            var c = 0u;
            for (; c < nb; c++) {
                let next = u64_add(cum, vec2<u32>(red_key[c], red_idx[c]));
                if (u64_lt(thr, next)) {
                    block = c;
                    found = true;
                    break;
                }
                cum = next;
            }
            loop_cut = loop_cut || (!found && c < nb);
            let bs = min(block * per, v);
            let be = min(bs + per, v);
            var y = bs;
            for (; y < be; y++) {
                cum = u64_add(cum, weight(row_key(src, tbase, dbase, y), emax, s));
                if (u64_lt(thr, cum)) {
                    result = y;
                    break;
                }
            }
            loop_cut = loop_cut || (result == NONE && y < be);
        }
        shared_u32 = result;
    }
    return workgroupUniformLoad(&shared_u32);
}
