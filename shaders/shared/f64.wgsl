// Binary64 running sums of non-negative f32 values, in integers (SPEC §7's `target-only` under
// the `specsim` profile sums the children's probabilities in f64): a value is vec2(high word,
// low word) of its IEEE binary64 bits, so that comparing two non-negative values is comparing
// the pairs. Rust twin: f64 `+` and `<` (tests/it/shaders.rs checks them bit for bit).

// The f64 of a non-negative finite f32 key (exact; an f32 subnormal is an f64 normal).
fn f64_of_f32(b: u32) -> vec2<u32> {
    let e = (b >> 23u) & 0xffu;
    var m = b & 0x7fffffu;
    var ef = e + 896u; // 2^(e - 127) as the f64 field e - 127 + 1023
    if (e == 0u) {
        if (m == 0u) {
            return vec2<u32>(0u, 0u);
        }
        // m · 2^-149 = 1.f · 2^(p - 149), p the leading bit of m.
        let p = 31u - countLeadingZeros(m);
        m = (m << (23u - p)) & 0x7fffffu;
        ef = p + 874u;
    }
    return vec2<u32>((ef << 20u) | (m >> 3u), m << 29u);
}

// a < b for non-negative f64 values.
fn f64_lt(a: vec2<u32>, b: vec2<u32>) -> bool {
    return a.x < b.x || (a.x == b.x && a.y < b.y);
}

// a + b rounded to nearest even, for non-negative finite f64 values whose sum is finite and
// at least f64's smallest normal (or zero): sums of f32 values.
fn f64_add(x: vec2<u32>, y: vec2<u32>) -> vec2<u32> {
    var a = x;
    var b = y;
    if (f64_lt(a, b)) {
        a = y;
        b = x;
    }
    if (b.x == 0u && b.y == 0u) {
        return a;
    }
    let ea = a.x >> 20u;
    let d = ea - (b.x >> 20u);
    // The 53-bit significands at bits 62..10 of (hi, lo): 10 bits below for rounding.
    var ah = (((a.x & 0xfffffu) | 0x100000u) << 10u) | (a.y >> 22u);
    let al = a.y << 10u;
    var bh = (((b.x & 0xfffffu) | 0x100000u) << 10u) | (b.y >> 22u);
    var bl = b.y << 10u;
    // b aligned to a's exponent; what is shifted out sets the lowest bit (sticky).
    var sticky = false;
    if (d >= 64u) {
        sticky = true;
        bh = 0u;
        bl = 0u;
    } else if (d >= 32u) {
        let s = d - 32u;
        sticky = bl != 0u || (s > 0u && (bh << (32u - s)) != 0u);
        bl = bh >> s;
        bh = 0u;
    } else if (d > 0u) {
        sticky = (bl << (32u - d)) != 0u;
        bl = (bl >> d) | (bh << (32u - d));
        bh = bh >> d;
    }
    bl = bl | select(0u, 1u, sticky);
    var lo = al + bl;
    var hi = ah + bh + select(0u, 1u, lo < al);
    var e = ea;
    if (hi >= 0x80000000u) {
        let out = lo & 1u;
        lo = (lo >> 1u) | (hi << 31u) | out;
        hi = hi >> 1u;
        e += 1u;
    }
    // Round the 10 low bits to nearest, ties to even.
    let g = lo & 0x3ffu;
    if (g > 0x200u || (g == 0x200u && (lo & 0x400u) != 0u)) {
        let before = lo;
        lo = lo + 0x400u;
        hi = hi + select(0u, 1u, lo < before);
        if (hi >= 0x80000000u) {
            lo = (lo >> 1u) | (hi << 31u);
            hi = hi >> 1u;
            e += 1u;
        }
    }
    return vec2<u32>((e << 20u) | ((hi >> 10u) & 0xfffffu), (hi << 22u) | (lo >> 10u));
}
