//! Every WGSL shader parses and validates with naga (CPU only, no adapter needed), and the
//! integer helpers of `shaders/exact.wgsl` give the same bits on the GPU as their Rust twins.

mod common;

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

#[test]
fn shaders_validate_with_naga() {
    validate("verify.wgsl", specsim::gpu::VERIFY_WGSL);
    // Every file under shaders/ is used by some pipeline: each validates on its own or after exact.wgsl.
    let exact = include_str!("../shaders/exact.wgsl");
    for entry in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/shaders")).unwrap() {
        let path = entry.unwrap().path();
        let src = std::fs::read_to_string(&path).unwrap();
        let full = if path.ends_with("exact.wgsl") {
            src
        } else {
            format!("{exact}\n{src}")
        };
        validate(&path.display().to_string(), &full);
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
    let device = gpu.device();
    let queue = gpu.queue();
    let src = format!("{}\n{PROBE}", include_str!("../shaders/exact.wgsl"));
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
    let inbuf = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: None,
        contents: bytemuck::cast_slice(&input),
        usage: wgpu::BufferUsages::STORAGE,
    });
    let size = (n * 8) as u64;
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
        pass.dispatch_workgroups((n as u32).div_ceil(64), 1, 1);
    }
    enc.copy_buffer_to_buffer(&outbuf, 0, &read, 0, size);
    queue.submit([enc.finish()]);
    read.slice(..)
        .map_async(wgpu::MapMode::Read, |r| r.unwrap());
    device.poll(wgpu::PollType::wait_indefinitely()).unwrap();
    let view = read.slice(..).get_mapped_range().unwrap();
    let out: &[u32] = bytemuck::cast_slice(&view);
    let mut bad = 0;
    for i in 0..n {
        let [c, q, p, _] = input[i * 4..i * 4 + 4] else {
            unreachable!()
        };
        let want = (u32::from(accepts(c, q, p)), residual_bits(c, q));
        if (out[2 * i], out[2 * i + 1]) != want {
            bad += 1;
            if bad < 5 {
                eprintln!(
                    "mismatch at ({c:#x}, {q:#x}, {p:#x}): gpu {:?}, rust {want:?}",
                    (out[2 * i], out[2 * i + 1])
                );
            }
        }
    }
    assert_eq!(bad, 0, "{bad} of {n} probes differ");
}
