//! Every WGSL shader parses and validates with naga (CPU only, no adapter needed), and the
//! integer helpers of `shaders/shared/exact.wgsl` give the same bits on the GPU as their Rust
//! twins.

use crate::common;

use rand::{Rng, SeedableRng, rngs::StdRng};
use specsim::exact::{accepts, residual_bits};
use wgpu::util::DeviceExt;

fn validate(name: &str, src: &str) {
    let module = naga::front::wgsl::parse_str(src)
        .unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(src)));
    naga::valid::Validator::new(
        naga::valid::ValidationFlags::all(),
        naga::valid::Capabilities::empty(),
    )
    .validate(&module)
    .unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(src)));
}

/// Every kernel compiles on the device (pipelines are otherwise compiled on first use).
#[test]
fn every_kernel_compiles_on_the_device() {
    let Some(g) = common::gpu() else { return };
    g.compile_kernels().unwrap();
}

/// Every kernel's whole source (shared helpers, then its own file) validates; every shader file
/// is in some kernel.
#[test]
fn shaders_validate_with_naga() {
    let sources: Vec<(&str, &str)> = specsim::gpu::kernel_sources().collect();
    // One kernel per chain rule of the registry, then the tree, generate, rates and compat
    // kernels.
    assert_eq!(sources.len(), specsim::Rule::CHAIN.len() + 4);
    for (entry, src) in &sources {
        validate(entry, src);
    }
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/shaders");
    for sub in [
        dir.to_owned(),
        format!("{dir}/shared"),
        format!("{dir}/tree"),
    ] {
        for entry in std::fs::read_dir(&sub).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            assert!(
                sources.iter().any(|(_, s)| s.contains(&text)),
                "{} is in no kernel, so it is not validated",
                path.display()
            );
        }
    }
}

const PROBE: &str = r#"
@group(0) @binding(0) var<storage, read> input: array<vec4<u32>>;
@group(0) @binding(1) var<storage, read_write> output: array<vec2<u32>>;
@compute @workgroup_size(64)
fn probe(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if (i >= arrayLength(&input)) { return; }
    let x = input[i];
    // x = (coin, q, p, unused): acceptance; (t, d) = (x.x, x.y): residual.
    output[i] = vec2<u32>(select(0u, 1u, accepts(x.x, x.y, x.z)), residual_key(x.x, x.y));
}
"#;

#[test]
fn exact_helpers_on_the_gpu_match_their_rust_twins() {
    let Some(gpu) = common::gpu() else { return };
    let src = format!(
        "{}\n{PROBE}",
        include_str!("../../shaders/shared/exact.wgsl")
    );
    let mut rng = StdRng::seed_from_u64(5);
    let n = 1 << 18;
    let pick = |rng: &mut StdRng, near: u32| -> u32 {
        match rng.random_range(0..6) {
            0 => rng.random_range(0..0x0080_0000),
            1 => rng.random_range(0..0x0100_0000),
            2 => near.saturating_add(rng.random_range(0..3)),
            3 => (near & 0x7f80_0000) | rng.random_range(0..0x0080_0000),
            _ => rng.random_range(0..0x3f80_0000),
        }
    };
    let mut input = Vec::with_capacity(n * 4);
    for _ in 0..n {
        let near = rng.random_range(0..0x3f80_0000);
        let a = pick(&mut rng, near);
        let b = pick(&mut rng, a).max(1);
        let prod = (f32::from_bits(a) * f32::from_bits(b)).to_bits();
        let c = pick(&mut rng, prod);
        input.extend_from_slice(&[a.min(0x3f7f_ffff), b, c, 0]);
    }
    let out = run_probe(&gpu, &src, &input, n * 2);
    expect_no_mismatch(n, |i| {
        let [c, q, p, _] = input[i * 4..i * 4 + 4] else {
            unreachable!()
        };
        let want = (u32::from(accepts(c, q, p)), residual_bits(c, q));
        let got = (out[2 * i], out[2 * i + 1]);
        (got != want).then(|| format!("({c:#x}, {q:#x}, {p:#x}): gpu {got:?}, rust {want:?}"))
    });
}

const RNG_PROBE: &str = r#"
@group(0) @binding(0) var<storage, read> input: array<vec4<u32>>;
@group(0) @binding(1) var<storage, read_write> output: array<vec4<u32>>;
@compute @workgroup_size(64)
fn probe(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if (i >= arrayLength(&input)) { return; }
    let x = input[i];
    // x = (seed_lo, round, position | stream << 16, index)
    let seed = vec2<u32>(x.x, x.x ^ 0x5bd1e995u);
    let pos = x.z & 0xffffu;
    let stream = x.z >> 16u;
    let a = random_u32(seed, x.y, pos, stream, x.w);
    let u = random_u64(seed, x.y, pos, stream, x.w);
    let total = vec2<u32>(x.w * 2654435761u, x.y & 0x7fffffffu);
    let thr = u64_mulhi(total, u);
    output[i] = vec4<u32>(a, u.x, thr.x, thr.y);
}
"#;

/// Fails when any of `n` probes mismatches (`mismatch(i)`: probe i's input and both answers,
/// where the GPU's differs from Rust's), printing the first few and the count.
fn expect_no_mismatch(n: usize, mismatch: impl Fn(usize) -> Option<String>) {
    let bad: Vec<String> = (0..n).filter_map(mismatch).collect();
    for m in bad.iter().take(4) {
        eprintln!("mismatch at {m}");
    }
    assert_eq!(bad.len(), 0, "{} of {n} probes differ", bad.len());
}

fn run_probe(
    gpu: &specsim::gpu::GpuContext,
    src: &str,
    input: &[u32],
    out_words: usize,
) -> Vec<u32> {
    let device = gpu.device();
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some("probe"),
        source: wgpu::ShaderSource::Wgsl(src.into()),
    });
    let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some("probe"),
        layout: None,
        module: &module,
        entry_point: Some("probe"),
        compilation_options: Default::default(),
        cache: None,
    });
    let inbuf = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: None,
        contents: bytemuck::cast_slice(input),
        usage: wgpu::BufferUsages::STORAGE,
    });
    let size = (out_words * 4) as u64;
    let outbuf = device.create_buffer(&wgpu::BufferDescriptor {
        label: None,
        size,
        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
        mapped_at_creation: false,
    });
    let read = device.create_buffer(&wgpu::BufferDescriptor {
        label: None,
        size,
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let bg = device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: None,
        layout: &pipeline.get_bind_group_layout(0),
        entries: &[
            wgpu::BindGroupEntry {
                binding: 0,
                resource: inbuf.as_entire_binding(),
            },
            wgpu::BindGroupEntry {
                binding: 1,
                resource: outbuf.as_entire_binding(),
            },
        ],
    });
    let mut enc = device.create_command_encoder(&Default::default());
    {
        let mut pass = enc.begin_compute_pass(&Default::default());
        pass.set_pipeline(&pipeline);
        pass.set_bind_group(0, &bg, &[]);
        pass.dispatch_workgroups((input.len() as u32 / 4).div_ceil(64), 1, 1);
    }
    enc.copy_buffer_to_buffer(&outbuf, 0, &read, 0, size);
    gpu.queue().submit([enc.finish()]);
    read.slice(..)
        .map_async(wgpu::MapMode::Read, |r| r.unwrap());
    device.poll(wgpu::PollType::wait_indefinitely()).unwrap();
    let view = read.slice(..).get_mapped_range().unwrap();
    bytemuck::cast_slice::<u8, u32>(&view).to_vec()
}

#[test]
fn rust_and_wgsl_generators_give_identical_u32_streams() {
    use specsim::exact::sample_threshold;
    use specsim::rng::{random_u32, random_u64};
    let Some(gpu) = common::gpu() else { return };
    let src = format!(
        "{}\n{}\n{RNG_PROBE}",
        include_str!("../../shaders/shared/exact.wgsl"),
        include_str!("../../shaders/shared/rng.wgsl")
    );
    let mut rng = StdRng::seed_from_u64(9);
    let n = 1 << 16;
    let mut input = Vec::with_capacity(n * 4);
    for _ in 0..n {
        input.extend_from_slice(&[
            rng.random::<u32>(),
            rng.random::<u32>(),
            rng.random_range(0..(5 << 16)),
            rng.random::<u32>(),
        ]);
    }
    let out = run_probe(&gpu, &src, &input, n * 4);
    for i in 0..n {
        let [s, round, ps, index] = input[i * 4..i * 4 + 4] else {
            unreachable!()
        };
        let seed = ((s ^ 0x5bd1_e995) as u64) << 32 | s as u64;
        let (pos, stream) = (ps & 0xffff, ps >> 16);
        let a = random_u32(seed, round, pos, stream, index);
        let u = random_u64(seed, round, pos, stream, index);
        let total = ((round & 0x7fff_ffff) as u64) << 32 | index.wrapping_mul(2_654_435_761) as u64;
        let thr = sample_threshold(total, u);
        assert_eq!(
            out[i * 4..i * 4 + 4],
            [a, u as u32, thr as u32, (thr >> 32) as u32],
            "probe {i}: {:?}",
            &input[i * 4..i * 4 + 4]
        );
    }
}

const BLOCK_PROBE: &str = r#"
@group(0) @binding(0) var<storage, read> input: array<vec4<u32>>;
@group(0) @binding(1) var<storage, read_write> output: array<vec4<u32>>;
@compute @workgroup_size(64)
fn probe(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if (i >= arrayLength(&input)) { return; }
    let x = input[i];
    output[i] = vec4<u32>(
        mul_bits(x.x, x.y),
        add_key(x.x, x.y),
        survival_bits(x.z, x.x, x.y),
        select(0u, 1u, accepts_scaled(x.w, x.y, x.z, x.x)),
    );
}
"#;

/// Block verification's integer arithmetic (product, sum, survival quotient, scaled comparison)
/// gives the same bits on the GPU as in Rust, on inputs biased to subnormals, overflow and ties.
#[test]
fn block_arithmetic_on_the_gpu_matches_its_rust_twins() {
    use specsim::exact::{accepts_scaled, add_bits, mul_bits, survival_bits};
    let Some(gpu) = common::gpu() else { return };
    let src = format!(
        "{}\n{BLOCK_PROBE}",
        include_str!("../../shaders/shared/exact.wgsl")
    );
    let mut rng = StdRng::seed_from_u64(6);
    let n = 1 << 18;
    let pick = |rng: &mut StdRng, near: u32| -> u32 {
        match rng.random_range(0..9) {
            0 => rng.random_range(0..0x0080_0000),
            1 => rng.random_range(0..0x0100_0000),
            2 => near.saturating_add(rng.random_range(0..3)),
            3 => (near & 0x7f80_0000) | rng.random_range(0..0x0080_0000),
            4 => rng.random_range(0x7e00_0000..0x7f80_0000),
            5 => rng.random_range(0..0x7f80_0000),
            _ => rng.random_range(0..0x3f80_0001),
        }
    };
    let mut input = Vec::with_capacity(n * 4);
    for _ in 0..n {
        let near = rng.random_range(0..0x3f80_0000);
        let a = pick(&mut rng, near);
        let b = pick(&mut rng, a).max(1);
        let s = pick(&mut rng, 0x3f80_0000).min(0x3f80_0000);
        let c = pick(&mut rng, near).min(0x3f7f_ffff);
        input.extend_from_slice(&[a, b, s, c]);
    }
    let out = run_probe(&gpu, &src, &input, n * 4);
    expect_no_mismatch(n, |i| {
        let [a, b, s, c] = input[i * 4..i * 4 + 4] else {
            unreachable!()
        };
        let want = [
            mul_bits(a, b),
            add_bits(a, b),
            survival_bits(s, a, b),
            u32::from(accepts_scaled(c, b, s, a)),
        ];
        let got = &out[i * 4..i * 4 + 4];
        (got != want)
            .then(|| format!("({a:#x}, {b:#x}, {s:#x}, {c:#x}): gpu {got:?}, rust {want:?}"))
    });
}

const QUOTIENT_PROBE: &str = r#"
@group(0) @binding(0) var<storage, read> input: array<vec4<u32>>;
@group(0) @binding(1) var<storage, read_write> output: array<vec4<u32>>;
@compute @workgroup_size(64)
fn probe(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if (i >= arrayLength(&input)) { return; }
    let x = input[i];
    output[i] = vec4<u32>(
        quotient_bits(x.x, ONE_BITS, x.y),
        quotient_bits(x.z, x.x, x.y),
        mul_bits(x.w, x.y),
        add_key(x.z, x.w),
    );
}
"#;

/// The tree rules' correctly rounded quotient `fl(N / W)` (unclamped, above 1 too) gives the
/// same bits on the GPU as in Rust, on inputs biased to subnormals, huge values and neighbours.
#[test]
fn tree_quotient_on_the_gpu_matches_its_rust_twin() {
    use specsim::exact::{ONE_BITS, add_bits, mul_bits, quotient_bits};
    let Some(gpu) = common::gpu() else { return };
    let src = format!(
        "{}\n{QUOTIENT_PROBE}",
        include_str!("../../shaders/shared/exact.wgsl")
    );
    let mut rng = StdRng::seed_from_u64(16);
    let n = 1 << 18;
    let pick = |rng: &mut StdRng, near: u32| -> u32 {
        match rng.random_range(0..8) {
            0 => rng.random_range(0..0x0080_0000),
            1 => near.saturating_add(rng.random_range(0..3)),
            2 => (near & 0x7f80_0000) | rng.random_range(0..0x0080_0000),
            3 => rng.random_range(0x7e00_0000..0x7f80_0000),
            4 => rng.random_range(0..0x7f80_0000),
            _ => rng.random_range(0..0x3f80_0001),
        }
    };
    let mut input = Vec::with_capacity(n * 4);
    for _ in 0..n {
        let near = rng.random_range(0..0x3f80_0000);
        let a = pick(&mut rng, near);
        let b = pick(&mut rng, a);
        let s = pick(&mut rng, near);
        let c = pick(&mut rng, near);
        input.extend_from_slice(&[a, b, s, c]);
    }
    let out = run_probe(&gpu, &src, &input, n * 4);
    expect_no_mismatch(n, |i| {
        let [a, b, s, c] = input[i * 4..i * 4 + 4] else {
            unreachable!()
        };
        let want = [
            quotient_bits(a, ONE_BITS, b),
            quotient_bits(s, a, b),
            mul_bits(c, b),
            add_bits(s, c),
        ];
        let got = &out[i * 4..i * 4 + 4];
        (got != want)
            .then(|| format!("({a:#x}, {b:#x}, {s:#x}, {c:#x}): gpu {got:?}, rust {want:?}"))
    });
}

const RATIO_PROBE: &str = r#"
@group(0) @binding(0) var<storage, read> input: array<u32>;
@group(0) @binding(1) var<storage, read_write> output: array<u32>;
@compute @workgroup_size(64)
fn probe(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if (i * 5u >= arrayLength(&input)) { return; }
    let b = i * 5u;
    output[i] = select(0u, 1u, accepts_ratio(input[b], input[b + 1u], input[b + 2u], input[b + 3u], input[b + 4u]));
}
"#;

/// `accepts_ratio` (rrs-wor's exact test of coin · q · N < u · W) gives the same answer on the GPU
/// as its Rust twin: random floats of every range, subnormals and infinities included, and many
/// on the boundary where the products are within a few ULPs.
#[test]
fn ratio_acceptance_on_the_gpu_matches_its_rust_twin() {
    use specsim::exact::accepts_ratio;
    let Some(gpu) = common::gpu() else { return };
    let src = format!(
        "{}\n{RATIO_PROBE}",
        include_str!("../../shaders/shared/exact.wgsl")
    );
    let mut rng = StdRng::seed_from_u64(23);
    let n = 1 << 17;
    let any = |rng: &mut StdRng| -> u32 {
        match rng.random_range(0..8) {
            0 => 0,
            1 => rng.random_range(1..0x0080_0000), // subnormal
            2 => 0x7f80_0000,                      // infinity
            3 => rng.random_range(0x3e00_0000..0x3f80_0000),
            _ => rng.random_range(0..0x7f80_0000),
        }
    };
    let mut input = Vec::with_capacity(n * 5);
    for i in 0..n {
        let (c, q, nn, w) = (
            any(&mut rng).min(0x3f7f_ffff),
            any(&mut rng),
            any(&mut rng),
            any(&mut rng),
        );
        let u = if i % 3 == 0 {
            let p =
                (f32::from_bits(c) as f64 * f32::from_bits(q) as f64 * f32::from_bits(nn) as f64
                    / f32::from_bits(w) as f64) as f32;
            (p.to_bits() as i64 + rng.random_range(-2i64..=2)).clamp(0, 0x7f7f_ffff) as u32
        } else {
            any(&mut rng)
        };
        input.extend_from_slice(&[c, q, nn, u, w]);
    }
    let out = run_probe(&gpu, &src, &input, n);
    expect_no_mismatch(n, |i| {
        let x = &input[i * 5..i * 5 + 5];
        let want = u32::from(accepts_ratio(x[0], x[1], x[2], x[3], x[4]));
        (out[i] != want).then(|| format!("{x:x?}: gpu {}, rust {want}", out[i]))
    });
}

const F64_PROBE: &str = r#"
@group(0) @binding(0) var<storage, read> input: array<vec4<u32>>;
@group(0) @binding(1) var<storage, read_write> output: array<vec4<u32>>;
@compute @workgroup_size(64)
fn probe(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if (i >= arrayLength(&input)) { return; }
    let x = input[i];
    let s = f64_add(f64_add(f64_add(f64_of_f32(x.x), f64_of_f32(x.y)), f64_of_f32(x.z)), f64_of_f32(x.w));
    let a = f64_of_f32(x.x);
    output[i] = vec4<u32>(s.x, s.y, a.x, select(0u, 1u, f64_lt(a, s)));
}
"#;

/// The f64 running sums of `shaders/shared/f64.wgsl` (the `specsim` profile's `target-only`)
/// give f64 `+`'s bits on the GPU: sums of four f32 values of every range, subnormals included,
/// biased to exponents 0, 1, 31–33 and 63–65 apart and to sums that round, ties to even.
#[test]
fn f64_sums_on_the_gpu_match_rust() {
    let Some(gpu) = common::gpu() else { return };
    let src = format!(
        "{}\n{}\n{F64_PROBE}",
        include_str!("../../shaders/shared/exact.wgsl"),
        include_str!("../../shaders/shared/f64.wgsl")
    );
    let mut rng = StdRng::seed_from_u64(29);
    let n = 1 << 18;
    let pick = |rng: &mut StdRng, near: u32| -> u32 {
        let e = (near >> 23) as i32;
        let off =
            [0, 1, 2, 24, 29, 30, 31, 32, 33, 34, 53, 54, 63, 64, 65][rng.random_range(0..15)];
        let shifted = (e - off).clamp(0, 254) as u32;
        match rng.random_range(0..8) {
            0 => rng.random_range(0..0x0080_0000),
            1 => near,
            2 => (shifted << 23) | rng.random_range(0..0x0080_0000),
            3 => shifted << 23,
            4 => (shifted << 23) | (near & 0x007f_ffff),
            5 => rng.random_range(0..0x7f80_0000),
            _ => rng.random_range(0x3000_0000..0x3f80_0001),
        }
    };
    let mut input = Vec::with_capacity(n * 4);
    for _ in 0..n {
        let near = rng.random_range(0..0x7f80_0000);
        let a = pick(&mut rng, near);
        let b = pick(&mut rng, a);
        let c = pick(&mut rng, a);
        let d = pick(&mut rng, b);
        input.extend_from_slice(&[a, b, c, d]);
    }
    let out = run_probe(&gpu, &src, &input, n * 4);
    expect_no_mismatch(n, |i| {
        let x: Vec<f64> = input[i * 4..i * 4 + 4]
            .iter()
            .map(|&b| f32::from_bits(b) as f64)
            .collect();
        let s = ((x[0] + x[1]) + x[2]) + x[3];
        let bits = |v: f64| [(v.to_bits() >> 32) as u32, v.to_bits() as u32];
        let [sh, sl] = bits(s);
        let [ah, al] = bits(x[0]);
        let want = [sh, sl, ah, u32::from(x[0] < s)];
        // The conversion's low word is checked through the sum of a value and zeros elsewhere.
        let got = [out[i * 4], out[i * 4 + 1], out[i * 4 + 2], out[i * 4 + 3]];
        (got != want || (x[1..] == [0.0; 3] && (sh, sl) != (ah, al))).then(|| {
            format!(
                "{:?}: gpu {got:x?}, rust {want:x?}",
                &input[i * 4..i * 4 + 4]
            )
        })
    });
}
