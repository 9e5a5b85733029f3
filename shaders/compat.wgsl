// The chain token rule under a compatibility profile (SPEC §14): one workgroup per round, every
// decision on the f32 bit patterns in integers, so that it equals the reference
// (`specsim::compat::decide_chain`) bit for bit. Built on shaders/shared/ (exact, rng, reduce,
// rows, round). CPU twin: src/cpu/compat.rs (the reference, round by round).
//
// The host validates every round first (coins in the profile's domain, finite non-negative rows,
// q and ids as the profile allows) and passes the profile's semantics as bits in `params.mode`
// (PROFILE_* below; `src/gpu/compat.rs` packs them) and which extra inputs it uploaded in
// `params.pad0` (bit 0: final_coins, bit 1: exp_noise). Drafted ids outside 0..V arrive as NONE.

@group(0) @binding(7) var<storage, read> final_coins: array<u32>;   // f32 bits [n]
@group(0) @binding(8) var<storage, read> exp_noise: array<u32>;     // f32 bits [n, V]
@group(0) @binding(9) var<storage, read_write> out_passed: array<u32>; // [n]

const PROFILE_LE: u32 = 1u;              // coin·q <= p (else <)
const PROFILE_IGNORES_Q: u32 = 2u;       // q read as 1
const PROFILE_QZERO_SHIFT: u32 = 2u;     // 2 bits: 0 refused (never here), 1 reject, 2 accept iff p > 0
const PROFILE_MASKED: u32 = 16u;         // correction from the target row without the drafted id
const PROFILE_ZERO_SHIFT: u32 = 6u;      // 2 bits: all-zero row: 0 target's, 1 token 0, 2 V - 1, 3 host
const PROFILE_SELECT_SHIFT: u32 = 8u;    // 2 bits: 0 argmax, 1 inverse CDF, 2 exponential race
const PROFILE_PRODUCT_F32: u32 = 1024u;  // coin·q rounded to f32 before comparing
const PROFILE_NEXT_COIN: u32 = 2048u;    // the correction's coin is the next position's

// The row the correction is chosen from under PROFILE_MASKED: the target row, id `masked_id` 0.
const SRC_MASKED: u32 = SRC_KERNEL;
var<private> masked_id: u32 = 0xffffffffu;

var<workgroup> first_reject: atomic<u32>;
var<workgroup> passed_count: atomic<u32>;
var<workgroup> race_w: array<u32, WG>;
var<workgroup> race_e: array<u32, WG>;

fn kernel_row_key(src: u32, tbase: u32, dbase: u32, x: u32) -> u32 {
    if (x == masked_id) {
        return 0u;
    }
    return key(tgt[tbase + x]);
}

fn kernel_entry_cost(src: u32) -> u32 {
    return 1u;
}

fn profile_field(shift: u32) -> u32 {
    return (params.mode >> shift) & 3u;
}

// The sign of a*b - c*d for finite positive keys, exactly (two 48-bit products in 24-bit limbs).
// (Twin: the f64 products of `exp_race` in src/compat/select.rs, exact for f32 inputs.)
fn cmp_products(a: u32, b: u32, c: u32, d: u32) -> i32 {
    let ua = unpack(a);
    let ub = unpack(b);
    let uc = unpack(c);
    let ud = unpack(d);
    var m1 = mul48(ua.m, ub.m);
    var e1 = ua.e + ub.e;
    var m2 = mul48(uc.m, ud.m);
    var e2 = uc.e + ud.e;
    // Both products in [2^46, 2^48): normalise the high limb to [2^23, 2^24).
    if (m1.x < 0x00800000u) {
        m1 = vec2<u32>((m1.x << 1u) | (m1.y >> 23u), (m1.y << 1u) & 0x00ffffffu);
        e1 = e1 - 1;
    }
    if (m2.x < 0x00800000u) {
        m2 = vec2<u32>((m2.x << 1u) | (m2.y >> 23u), (m2.y << 1u) & 0x00ffffffu);
        e2 = e2 - 1;
    }
    if (e1 != e2) {
        return select(-1, 1, e1 > e2);
    }
    if (m1.x != m2.x) {
        return select(-1, 1, m1.x > m2.x);
    }
    if (m1.y != m2.y) {
        return select(-1, 1, m1.y > m2.y);
    }
    return 0;
}

// The sign of coin·q - p, exactly (the same limbs as `accepts`). Keys c, q > 0.
fn cmp_coin_product(c: u32, q: u32, p: u32) -> i32 {
    if (p == 0u) {
        return 1;
    }
    let uc = unpack(c);
    let uq = unpack(q);
    let up = unpack(p);
    let s = up.e - uc.e - uq.e + 150;
    if (s <= 22) {
        return 1;
    }
    if (s >= 25) {
        return -1;
    }
    let pr = mul48(uc.m, uq.m);
    var rh = up.m;
    var rl = 0u;
    if (s == 23) {
        rh = up.m >> 1u;
        rl = (up.m & 1u) << 23u;
    }
    if (pr.x != rh) {
        return select(-1, 1, pr.x > rh);
    }
    if (pr.y != rl) {
        return select(-1, 1, pr.y > rl);
    }
    return 0;
}

// Whether a drafted token of probabilities p (target) and q (draft) passes its coin's test.
fn passes(coin_bits: u32, q_bits: u32, p_bits: u32) -> bool {
    let c = key(coin_bits);
    let q = key(q_bits);
    let p = key(p_bits);
    if (q == 0u) {
        return profile_field(PROFILE_QZERO_SHIFT) == 2u && p > 0u;
    }
    let le = (params.mode & PROFILE_LE) != 0u;
    if ((params.mode & PROFILE_PRODUCT_F32) != 0u) {
        let pr = mul_bits(c, q);
        return pr < p || (le && pr == p);
    }
    if (c == 0u) {
        return p > 0u || le;
    }
    let s = cmp_coin_product(c, q, p);
    return s < 0 || (le && s == 0);
}

// Does candidate (w, e, i) beat (bw, be, bi) in the race argmax of w / e (ties to the lowest id)?
fn race_better(w: u32, e: u32, i: u32, bw: u32, be: u32, bi: u32) -> bool {
    if (i == NONE) {
        return false;
    }
    if (bi == NONE) {
        return true;
    }
    let s = cmp_products(w, be, bw, e);
    return s > 0 || (s == 0 && i < bi);
}

// The exponential race over a row source: argmax of row[x] / E[x] over the ids of positive
// weight, compared exactly; NONE when all zero.
fn race_row(lid: u32, src: u32, tbase: u32, dbase: u32, v: u32, ebase: u32) -> u32 {
    var bw = 0u;
    var be = 0u;
    var bi = NONE;
    let len = row_len(v, 1u);
    var x = lid;
    for (; x < len; x += WG) {
        let w = row_key(src, tbase, dbase, x);
        let e = key(exp_noise[ebase + x]);
        if (w > 0u && race_better(w, e, x, bw, be, bi)) {
            bw = w;
            be = e;
            bi = x;
        }
    }
    loop_cut = loop_cut || x < len;
    race_w[lid] = bw;
    race_e[lid] = be;
    red_idx[lid] = bi;
    workgroupBarrier();
    var s = WG / 2u;
    for (; s > 0u; s = s >> 1u) {
        if (lid < s) {
            let o = lid + s;
            if (race_better(race_w[o], race_e[o], red_idx[o], race_w[lid], race_e[lid], red_idx[lid])) {
                race_w[lid] = race_w[o];
                race_e[lid] = race_e[o];
                red_idx[lid] = red_idx[o];
            }
        }
        workgroupBarrier();
    }
    loop_cut = loop_cut || s != 0u;
    if (lid == 0u) {
        shared_u32 = red_idx[0];
    }
    return workgroupUniformLoad(&shared_u32);
}

// The profile's selection on a row source: inverse CDF (with coin u), the race, or argmax.
fn select_row(lid: u32, src: u32, tbase: u32, dbase: u32, v: u32, round: u32, u: u32) -> u32 {
    let how = profile_field(PROFILE_SELECT_SHIFT);
    if (how == 1u && (params.pad0 & 1u) != 0u) {
        return icdf_row(lid, src, tbase, dbase, v, u);
    }
    if (how == 2u && (params.pad0 & 2u) != 0u) {
        return race_row(lid, src, tbase, dbase, v, round * v);
    }
    let top = argmax_row(lid, src, tbase, dbase, v);
    return select(top.y, NONE, top.x == 0u);
}

@compute @workgroup_size(256)
fn compat(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let round = round_index(wid);
    if (round == NONE) {
        return;
    }
    let k = params.k;
    let v = params.vocab;

    begin_round(lid);
    // Phase 1: every position's test; the first failing one (K if none) and the passes.
    if (lid == 0u) {
        atomicStore(&first_reject, k);
        atomicStore(&passed_count, 0u);
    }
    workgroupBarrier();
    let len = select(0u, k, charge(k / WG + 1u));
    var i = lid;
    for (; i < len; i += WG) {
        let tok = tokens[round * k + i];
        var ok = false;
        if (tok < v) {
            let p = tgt[(round * (k + 1u) + i) * v + tok];
            var q = ONE_BITS;
            if ((params.mode & PROFILE_IGNORES_Q) == 0u) {
                q = drf[(round * k + i) * v + tok];
            }
            ok = passes(coins[round * k + i], q, p);
        }
        if (ok) {
            atomicAdd(&passed_count, 1u);
        } else {
            atomicMin(&first_reject, i);
        }
    }
    workgroupBarrier();
    if (lid == 0u) {
        shared_u32 = atomicLoad(&first_reject);
        shared_key = atomicLoad(&passed_count);
    }
    let n_acc = workgroupUniformLoad(&shared_u32);
    let n_passed = workgroupUniformLoad(&shared_key);
    loop_cut = loop_cut || i < len;

    // Phase 2: the row to select from: the bonus row, the residual max(p - q, 0), or the target
    // row without the drafted id; and the selection's coin.
    let tbase = (round * (k + 1u) + n_acc) * v;
    let dbase = (round * k + min(n_acc, k - 1u)) * v;
    var src = SRC_TARGET;
    if (n_acc < k) {
        if ((params.mode & PROFILE_MASKED) != 0u) {
            masked_id = tokens[round * k + n_acc];
            src = SRC_MASKED;
        } else {
            src = SRC_RESIDUAL;
        }
    }
    var u = final_coins[round];
    if ((params.mode & PROFILE_NEXT_COIN) != 0u && n_acc + 1u < k) {
        u = coins[round * k + n_acc + 1u];
    }
    var chosen = select_row(lid, src, tbase, dbase, v, round, u);
    var host = chosen == HOST_ROUND;
    if (chosen == NONE) {
        let zero = profile_field(PROFILE_ZERO_SHIFT);
        if (zero == 0u) {
            chosen = select_row(lid, SRC_TARGET, tbase, dbase, v, round, u);
            host = chosen == HOST_ROUND;
            if (chosen == NONE) {
                chosen = 0u;
            }
        } else if (zero == 1u) {
            chosen = 0u;
        } else if (zero == 2u) {
            chosen = v - 1u;
        } else {
            host = true;
        }
    }

    // Phase 3: outputs (a round for the host: its count HOST_ROUND).
    write_round_outputs(lid, round, k, n_acc, select(chosen, 0u, host));
    if (lid == 0u) {
        out_passed[round] = n_passed;
        if (host && out_accepted[round] != UNFINISHED) {
            out_accepted[round] = HOST_ROUND;
        }
    }
}
