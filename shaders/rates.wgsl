// The `rates` study family on the device. Built on shaders/shared/ (rng, reduce). CPU twin:
// src/cpu/rates.rs (the same coins, compared exactly, so both engines agree bit for bit). Keep
// `RatesParams` in sync with src/gpu/params.rs (a naga test compares the member offsets).

struct RatesParams {
    n_rounds: u32,     // rounds in this chunk
    k: u32,            // drafted positions per round
    groups_x: u32,     // workgroups along x of the 2D dispatch
    round_offset: u32, // global index of this chunk's first round
    seed_lo: u32,      // seed of the counter-based generator
    seed_hi: u32,
    pad0: u32,
    pad1: u32,
}

@group(0) @binding(0) var<uniform> params: RatesParams;
@group(0) @binding(1) var<storage, read> rates: array<f32>;                // [K]
@group(0) @binding(2) var<storage, read_write> out_accepted: array<u32>;   // [n]

fn seed() -> vec2<u32> {
    return vec2<u32>(params.seed_lo, params.seed_hi);
}

// The `rates` family: no distributions; position i is accepted with probability rates[i] (given
// directly, as vLLM's synthetic mode), until the first rejection. One invocation per round.
@compute @workgroup_size(256)
fn rates_round(@builtin(global_invocation_id) gid: vec3<u32>) {
    let round = gid.y * (params.groups_x * WG) + gid.x;
    if (round >= params.n_rounds) {
        return;
    }
    let k = params.k;
    let gr = params.round_offset + round;
    var n = k;
    for (var i = 0u; i < k; i++) {
        let c = uniform_f32(random_u32(seed(), gr, i, STREAM_COIN, 0u));
        if (!(c < rates[i])) {
            n = i;
            break;
        }
    }
    out_accepted[round] = n;
}
