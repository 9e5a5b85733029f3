// Rows of V probabilities as the kernels read them: row sources, their argmax and their exact
// integer-domain sampling. CPU twin: the helpers of src/cpu/verify.rs and `sample_index` in
// src/exact/.
//
// The kernel that includes this file declares `drf` and `tgt` (arrays of f32 bits, read-only or
// not) and `fn kernel_row_key(src: u32, tbase: u32, dbase: u32, x: u32) -> u32`, the key of its
// own row sources (src >= SRC_KERNEL); a kernel without sources of its own returns 0 there.

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

// Argmax of a row source (ties to the lowest index): (top key, index); an all-zero row gives
// index 0.
fn argmax_row(lid: u32, src: u32, tbase: u32, dbase: u32, v: u32) -> vec2<u32> {
    var bk = 0u;
    var bi = NONE;
    for (var x = lid; x < v; x += WG) {
        let kx = row_key(src, tbase, dbase, x);
        if (better(kx, x, bk, bi)) {
            bk = kx;
            bi = x;
        }
    }
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
    let start = min(lid * per, v);
    let end = min(start + per, v);
    var acc = vec2<u32>(0u, 0u);
    for (var x = start; x < end; x++) {
        acc = u64_add(acc, weight(row_key(src, tbase, dbase, x), emax, s));
    }
    workgroupBarrier();
    red_key[lid] = acc.x;
    red_idx[lid] = acc.y;
    workgroupBarrier();
    if (lid == 0u) {
        var total = vec2<u32>(0u, 0u);
        for (var b = 0u; b < WG; b++) {
            total = u64_add(total, vec2<u32>(red_key[b], red_idx[b]));
        }
        var result = NONE;
        if (total.x != 0u || total.y != 0u) {
            let thr = u64_mulhi(total, u);
            var cum = vec2<u32>(0u, 0u);
            var block = WG - 1u;
            for (var b = 0u; b < WG; b++) {
                let next = u64_add(cum, vec2<u32>(red_key[b], red_idx[b]));
                if (u64_lt(thr, next)) {
                    block = b;
                    break;
                }
                cum = next;
            }
            let bs = min(block * per, v);
            let be = min(bs + per, v);
            for (var x = bs; x < be; x++) {
                cum = u64_add(cum, weight(row_key(src, tbase, dbase, x), emax, s));
                if (u64_lt(thr, cum)) {
                    result = x;
                    break;
                }
            }
        }
        shared_u32 = result;
    }
    return workgroupUniformLoad(&shared_u32);
}
