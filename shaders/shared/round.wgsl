// What the round kernels (verify, verify_block, verify_tree) share: their parameters, the
// bindings of a chunk of rounds, the recovery step and the outputs. CPU twin: src/cpu/verify.rs
// (`recover`, `write_outputs`). Keep `RoundParams` in sync with src/gpu/params.rs (a naga test
// compares the member offsets).

struct RoundParams {
    n_rounds: u32,     // rounds in this chunk
    k: u32,            // drafted tokens per round (the chain kernels)
    vocab: u32,        // V
    groups_x: u32,     // workgroups along x of the 2D dispatch
    mode: u32,         // recovery: 0 = argmax, 1 = sample
    seed_lo: u32,      // seed of the counter-based generator
    seed_hi: u32,
    round_offset: u32, // global index of this chunk's first round
    work_budget: u32,  // loop iterations an invocation may run (see `charge`)
    pad0: u32,
    pad1: u32,
    pad2: u32,
}

@group(0) @binding(0) var<uniform> params: RoundParams;
@group(0) @binding(1) var<storage, read> drf: array<u32>;                  // f32 bits [n, K, V]
@group(0) @binding(2) var<storage, read> tgt: array<u32>;                  // f32 bits [n, K + 1, V]
@group(0) @binding(3) var<storage, read> tokens: array<u32>;               // [n, K]
@group(0) @binding(4) var<storage, read> coins: array<u32>;                // f32 bits [n, K]
@group(0) @binding(5) var<storage, read_write> out_tokens: array<i32>;     // [n, K + 1]
@group(0) @binding(6) var<storage, read_write> out_accepted: array<u32>;   // [n]

fn seed() -> vec2<u32> {
    return vec2<u32>(params.seed_lo, params.seed_hi);
}

// The round of this workgroup in the 2D dispatch (NONE past the chunk's last round); starts the
// round's loop budget.
fn round_index(wid: vec3<u32>) -> u32 {
    let round = wid.y * params.groups_x + wid.x;
    work_left = params.work_budget;
    out_of_work = false;
    return select(NONE, round, round < params.n_rounds);
}

// The recovery token from the target row at `tbase` (and, unless `res_src` is NONE, the residual
// source `res_src` of the rows at `tbase` and `dbase`): argmax (seed mode) or a sample (lossless
// mode); a zero residual falls back to the target row. `top` is the residual's argmax when the
// caller already has it (NONE in its y otherwise).
fn recover_from(lid: u32, res_src: u32, tbase: u32, dbase: u32, v: u32, round: u32, position: u32, known: vec2<u32>) -> u32 {
    let sample = params.mode == 1u;
    let gr = params.round_offset + round;
    var chosen = NONE;
    if (res_src != NONE) {
        if (sample) {
            chosen = sample_row(lid, res_src, tbase, dbase, v, random_u64(seed(), gr, position, STREAM_RECOVERY, 0u));
        } else {
            var top = known;
            if (top.y == NONE) {
                top = argmax_row(lid, res_src, tbase, dbase, v);
            }
            chosen = select(top.y, NONE, top.x == 0u);
        }
    }
    if (chosen == NONE) {
        if (sample) {
            chosen = sample_row(lid, SRC_TARGET, tbase, dbase, v, random_u64(seed(), gr, position, STREAM_RECOVERY, 1u));
        }
        if (chosen == NONE) {
            chosen = argmax_row(lid, SRC_TARGET, tbase, dbase, v).y;
        }
    }
    return chosen;
}

// The token rule's recovery: the residual at a rejection, or the bonus row.
fn recover(lid: u32, residual: bool, tbase: u32, dbase: u32, v: u32, round: u32, position: u32) -> u32 {
    return recover_from(lid, select(NONE, SRC_RESIDUAL, residual), tbase, dbase, v, round, position, vec2<u32>(0u, NONE));
}

// A round's outputs: the accepted drafts, the chosen token, then -1; and the number accepted.
// (Every round kernel ends with this; `write_outputs` in src/cpu/verify.rs is its twin.)
// A round that ran out of work, or whose loops were cut short, is written as UNFINISHED (its
// tokens are then not read).
fn write_round_outputs(lid: u32, round: u32, k: u32, n_acc: u32, chosen: u32) {
    let len = select(0u, k + 1u, charge((k + WG) / WG + 1u));
    var j = lid;
    for (; j < len; j += WG) {
        var t = -1;
        if (j < n_acc) {
            t = i32(tokens[round * k + j]);
        } else if (j == n_acc) {
            t = i32(chosen);
        }
        out_tokens[round * (k + 1u) + j] = t;
    }
    loop_cut = loop_cut || j < len;
    let unfinished = round_unfinished(lid);
    if (lid == 0u) {
        out_accepted[round] = select(n_acc, UNFINISHED, unfinished);
    }
}
