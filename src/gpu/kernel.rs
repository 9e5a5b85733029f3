//! The kernel table: every compute kernel of the GPU engine, declared once with its WGSL source
//! (the shared helpers of `shaders/shared/` it includes, then its own `shaders/X.wgsl`), its
//! params struct and its binding list, as vello's `add_shader!(name, [Uniform, BufReadOnly,
//! Buffer])`. The list builds both the bind-group layout and, from the buffers a caller hands
//! in, the bind group; each kernel owns its uniform params buffer. A chain rule's kernel comes
//! from its line in the rule registry (`rule::rules!`); any other kernel is one `add_kernel!`
//! row here, its `KernelId` and its WGSL file.

use super::params::{GenerateParams, KernelParams, RatesParams, RoundParams};
use crate::error::{Error, Result};
use crate::rule::{N_CHAIN, Rule, rules};

/// How a kernel sees one binding (binding i is the list's i-th entry).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Binding {
    /// The kernel's params (binding 0, always).
    Uniform,
    /// A storage buffer the kernel only reads.
    BufReadOnly,
    /// A storage buffer the kernel writes.
    Buffer,
}

/// One kernel: entry point, source, params struct and bindings.
pub(crate) struct KernelDef {
    /// The entry point.
    pub(crate) entry: &'static str,
    /// The stem of its WGSL file under `shaders/` (and of its CPU twin under `src/cpu/`).
    pub(crate) stem: &'static str,
    /// Its whole WGSL source: the shared helpers it includes, then its own file.
    pub(crate) source: &'static str,
    /// Its params struct's WGSL name and size.
    pub(crate) params: (&'static str, usize),
    /// (member, offset) of its params struct, for the naga test.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) params_layout: fn() -> Vec<(&'static str, usize)>,
    /// Its bindings, in binding order.
    pub(crate) bindings: &'static [Binding],
}

/// The source of `shaders/STEM.wgsl` after the shared helpers `shaders/shared/NAME.wgsl`.
macro_rules! wgsl {
    ($stem:literal, [$($shared:literal),*]) => {
        concat!(
            $(include_str!(concat!("../../shaders/shared/", $shared, ".wgsl")), "\n",)*
            include_str!(concat!("../../shaders/", $stem, ".wgsl"))
        )
    };
}

/// One row of the kernel table.
macro_rules! add_kernel {
    ($stem:literal, $entry:literal, $params:ty, [$($shared:literal),*], [$($b:ident),*]) => {
        add_kernel!(@ $stem, $entry, $params, [$($shared),*], &[$(Binding::$b),*])
    };
    (@ $stem:literal, $entry:literal, $params:ty, [$($shared:literal),*], $bindings:expr) => {
        KernelDef {
            entry: $entry,
            stem: $stem,
            source: wgsl!($stem, [$($shared),*]),
            params: (<$params as KernelParams>::WGSL_NAME, std::mem::size_of::<$params>()),
            params_layout: <$params as KernelParams>::layout,
            bindings: $bindings,
        }
    };
}

/// Every chain kernel's bindings: params, draft, target, tokens, coins | out_tokens,
/// out_accepted (`shaders/shared/round.wgsl`).
const CHAIN_BINDINGS: [Binding; 7] = [
    Binding::Uniform,
    Binding::BufReadOnly,
    Binding::BufReadOnly,
    Binding::BufReadOnly,
    Binding::BufReadOnly,
    Binding::Buffer,
    Binding::Buffer,
];

/// A chain kernel that also writes a per-position f32 output (`survivals` in the registry):
/// [`CHAIN_BINDINGS`], then that output at binding 7.
const CHAIN_BINDINGS_SURVIVALS: [Binding; 8] = [
    Binding::Uniform,
    Binding::BufReadOnly,
    Binding::BufReadOnly,
    Binding::BufReadOnly,
    Binding::BufReadOnly,
    Binding::Buffer,
    Binding::Buffer,
    Binding::Buffer,
];

macro_rules! chain_bindings {
    () => {
        &CHAIN_BINDINGS
    };
    (survivals) => {
        &CHAIN_BINDINGS_SURVIVALS
    };
}

/// A kernel: its index in [`KERNELS`]. The chain rules' kernels come first, in the order of
/// [`Rule::CHAIN`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct KernelId(usize);

impl KernelId {
    /// The tree rules.
    pub(crate) const VERIFY_TREE: KernelId = KernelId(N_CHAIN);
    /// A study chunk's workload.
    pub(crate) const GENERATE: KernelId = KernelId(N_CHAIN + 1);
    /// The `rates` study family.
    pub(crate) const RATES_ROUND: KernelId = KernelId(N_CHAIN + 2);

    /// The kernel of a chain rule (`None` for a tree rule: they share [`KernelId::VERIFY_TREE`]).
    pub(crate) fn chain(rule: Rule) -> Option<KernelId> {
        (!rule.is_tree()).then(|| KernelId(rule.index()))
    }

    /// The chain rules' kernels, in the order of [`Rule::CHAIN`].
    pub(crate) fn chains() -> impl Iterator<Item = KernelId> {
        (0..N_CHAIN).map(KernelId)
    }
}

/// The kernel table: the chain rules' kernels, one per rule of the registry (`rule::rules!`,
/// its `kernel: (stem, entry[, survivals])`), then the tree rules', the study generator's and
/// the `rates` family's.
macro_rules! kernel_table {
    (
        []
        chain { $($(#[$cm:meta])* $C:ident {
            name: $cn:literal, kernel: ($stem:literal, $entry:literal $(, $extra:ident)?)
        },)* }
        tree { $($(#[$tm:meta])* $T:ident {
            name: $tn:literal, stem: $ts:literal, $($tf:tt)*
        },)* }
    ) => {
        /// Every kernel of the GPU engine, indexed by [`KernelId`].
        pub(crate) const KERNELS: [KernelDef; N_CHAIN + 3] = [
            $(add_kernel!(
                @ $stem,
                $entry,
                RoundParams,
                ["exact", "rng", "reduce", "rows", "round"],
                chain_bindings!($($extra)?)
            ),)*
            // ... | out_tokens, out_accepted, topology (read-only), out_nodes
            KernelDef {
                entry: "verify_tree",
                stem: "tree",
                // The shared helpers, each tree rule's step, the dispatcher `tree_step` (the
                // rule of index `rule` in the registry's tree rules), then the kernel.
                source: concat!(
                    wgsl!("tree", ["exact", "rng", "reduce", "rows", "round"]),
                    "\n",
                    $(include_str!(concat!("../../shaders/tree/", $ts, ".wgsl")), "\n",)*
                    "// Generated from the rule registry (src/gpu/kernel.rs): the step of the tree rule\n",
                    "// whose index in the registry is `rule`.\n",
                    "fn tree_step(rule: u32, lid: u32, round: u32, u: u32, cs: u32, ce: u32, tbase: u32, dbase: u32, v: u32) -> vec2<u32> {\n",
                    "    var code = 0u;\n",
                    $(
                        "    if (rule == code) {\n",
                        "        return tree_step_", $ts, "(lid, round, u, cs, ce, tbase, dbase, v);\n",
                        "    }\n",
                        "    code += 1u;\n",
                    )*
                    "    return vec2<u32>(NONE, NONE);\n",
                    "}\n",
                ),
                params: (
                    <RoundParams as KernelParams>::WGSL_NAME,
                    std::mem::size_of::<RoundParams>(),
                ),
                params_layout: <RoundParams as KernelParams>::layout,
                bindings: &[
                    Binding::Uniform,
                    Binding::BufReadOnly,
                    Binding::BufReadOnly,
                    Binding::BufReadOnly,
                    Binding::BufReadOnly,
                    Binding::Buffer,
                    Binding::Buffer,
                    Binding::BufReadOnly,
                    Binding::Buffer,
                ],
            },
            // params | draft, target, tokens, coins, betas (all written)
            add_kernel!(
                "generate",
                "generate",
                GenerateParams,
                ["exact", "rng", "reduce", "rows"],
                [Uniform, Buffer, Buffer, Buffer, Buffer, Buffer]
            ),
            // params, rates | out_accepted
            add_kernel!(
                "rates",
                "rates_round",
                RatesParams,
                ["exact", "rng", "reduce"],
                [Uniform, BufReadOnly, Buffer]
            ),
        ];
    };
}

rules!([kernel_table]);

/// A kernel built on a device: its layout, pipeline and params buffer.
pub(crate) struct Kernel {
    def: &'static KernelDef,
    layout: wgpu::BindGroupLayout,
    pipeline: wgpu::ComputePipeline,
    params: wgpu::Buffer,
}

/// Every kernel of [`KERNELS`], built once per context.
pub(crate) struct Kernels(Vec<Kernel>);

impl Kernels {
    /// Compiles every kernel (a WGSL or layout error is an `Err`).
    pub(crate) fn build(device: &wgpu::Device) -> Result<Kernels> {
        let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let kernels = KERNELS
            .iter()
            .map(|def| Kernel::build(device, def))
            .collect();
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(Error::Gpu(format!("cannot build the GPU kernels: {e}")));
        }
        Ok(Kernels(kernels))
    }

    /// One kernel.
    pub(crate) fn get(&self, id: KernelId) -> &Kernel {
        &self.0[id.0]
    }
}

impl Kernel {
    fn build(device: &wgpu::Device, def: &'static KernelDef) -> Kernel {
        let entries: Vec<wgpu::BindGroupLayoutEntry> = def
            .bindings
            .iter()
            .enumerate()
            .map(|(i, b)| wgpu::BindGroupLayoutEntry {
                binding: i as u32,
                visibility: wgpu::ShaderStages::COMPUTE,
                ty: wgpu::BindingType::Buffer {
                    ty: match b {
                        Binding::Uniform => wgpu::BufferBindingType::Uniform,
                        Binding::BufReadOnly => {
                            wgpu::BufferBindingType::Storage { read_only: true }
                        }
                        Binding::Buffer => wgpu::BufferBindingType::Storage { read_only: false },
                    },
                    has_dynamic_offset: false,
                    min_binding_size: None,
                },
                count: None,
            })
            .collect();
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some(def.entry),
            entries: &entries,
        });
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some(def.stem),
            source: wgpu::ShaderSource::Wgsl(def.source.into()),
        });
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some(def.entry),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(def.entry),
            layout: Some(&pipeline_layout),
            module: &module,
            entry_point: Some(def.entry),
            compilation_options: Default::default(),
            cache: None,
        });
        let params = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(def.params.0),
            size: def.params.1 as u64,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        Kernel {
            def,
            layout,
            pipeline,
            params,
        }
    }

    /// How many buffers its bind group takes after its params.
    pub(crate) fn buffers(&self) -> usize {
        self.def.bindings.len() - 1
    }

    /// A bind group of this kernel: its params at binding 0, then `buffers` at bindings 1, 2, …
    /// in the order of its binding list.
    pub(crate) fn bind(&self, device: &wgpu::Device, buffers: &[&wgpu::Buffer]) -> wgpu::BindGroup {
        assert_eq!(
            buffers.len() + 1,
            self.def.bindings.len(),
            "{}: wrong number of buffers",
            self.def.entry
        );
        let entries: Vec<wgpu::BindGroupEntry> = std::iter::once(&self.params)
            .chain(buffers.iter().copied())
            .enumerate()
            .map(|(i, b)| wgpu::BindGroupEntry {
                binding: i as u32,
                resource: b.as_entire_binding(),
            })
            .collect();
        device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(self.def.entry),
            layout: &self.layout,
            entries: &entries,
        })
    }

    /// Writes `params` (with `groups_x` set) into this kernel's params buffer and records a
    /// dispatch over `items` workgroups, 2D when more than `max_groups_x`. The write lands at the
    /// next submit, so one command buffer holds at most one dispatch of a kernel.
    pub(crate) fn record<P: KernelParams>(
        &self,
        queue: &wgpu::Queue,
        enc: &mut wgpu::CommandEncoder,
        group: &wgpu::BindGroup,
        mut params: P,
        items: usize,
        max_groups_x: u32,
    ) {
        debug_assert_eq!((P::WGSL_NAME, size_of::<P>()), self.def.params);
        let gx = (items as u32).clamp(1, max_groups_x);
        let gy = (items as u32).div_ceil(gx).max(1);
        params.set_groups_x(gx);
        queue.write_buffer(&self.params, 0, bytemuck::bytes_of(&params));
        let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some(self.def.entry),
            timestamp_writes: None,
        });
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, group, &[]);
        pass.dispatch_workgroups(gx, gy, 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn module(def: &KernelDef) -> naga::Module {
        let module = naga::front::wgsl::parse_str(def.source)
            .unwrap_or_else(|e| panic!("{}: {}", def.stem, e.emit_to_string(def.source)));
        naga::valid::Validator::new(
            naga::valid::ValidationFlags::all(),
            naga::valid::Capabilities::empty(),
        )
        .validate(&module)
        .unwrap_or_else(|e| panic!("{}: {}", def.stem, e.emit_to_string(def.source)));
        module
    }

    /// Every kernel's params struct has the Rust struct's members at the Rust struct's offsets,
    /// and the same size.
    #[test]
    fn params_structs_match_the_wgsl_layout() {
        for def in &KERNELS {
            let m = module(def);
            let (name, size) = def.params;
            let (_, ty) = m
                .types
                .iter()
                .find(|(_, t)| t.name.as_deref() == Some(name))
                .unwrap_or_else(|| panic!("{}: no struct {name}", def.stem));
            let naga::TypeInner::Struct { members, span } = &ty.inner else {
                panic!("{}: {name} is not a struct", def.stem);
            };
            let wgsl: Vec<(&str, usize)> = members
                .iter()
                .map(|mb| (mb.name.as_deref().unwrap_or("?"), mb.offset as usize))
                .collect();
            assert_eq!(wgsl, (def.params_layout)(), "{}: {name}", def.stem);
            assert_eq!(*span as usize, size, "{}: size of {name}", def.stem);
        }
    }

    /// Every kernel declares exactly the bindings of its list, with the same access: binding 0
    /// uniform, read-only storage where the list says `BufReadOnly`; and its entry point exists.
    #[test]
    fn bindings_match_the_wgsl() {
        for def in &KERNELS {
            let m = module(def);
            assert!(
                m.entry_points.iter().any(|e| e.name == def.entry),
                "{}: no entry point {}",
                def.stem,
                def.entry
            );
            let mut seen: Vec<(u32, Binding)> = m
                .global_variables
                .iter()
                .filter_map(|(_, g)| {
                    let b = g.binding.as_ref()?;
                    assert_eq!(b.group, 0, "{}: group", def.stem);
                    let kind = match g.space {
                        naga::AddressSpace::Uniform => Binding::Uniform,
                        naga::AddressSpace::Storage { access } => {
                            if access.contains(naga::StorageAccess::STORE) {
                                Binding::Buffer
                            } else {
                                Binding::BufReadOnly
                            }
                        }
                        s => panic!("{}: binding {} in {s:?}", def.stem, b.binding),
                    };
                    Some((b.binding, kind))
                })
                .collect();
            seen.sort_by_key(|&(b, _)| b);
            let want: Vec<(u32, Binding)> = def
                .bindings
                .iter()
                .enumerate()
                .map(|(i, &b)| (i as u32, b))
                .collect();
            assert_eq!(seen, want, "{}", def.stem);
        }
    }

    /// The chain kernels are the registry's, in its order (with the per-position output of a rule
    /// that studies measure at every K), and so are the tree rules' steps.
    #[test]
    fn the_registry_orders_the_kernels_and_the_tree_codes() {
        for (i, rule) in Rule::CHAIN.into_iter().enumerate() {
            assert_eq!(KernelId::chain(rule), Some(KernelId(i)));
            assert!(KERNELS[i].bindings.starts_with(&CHAIN_BINDINGS), "{rule}");
            // A rule studied at every K reads its survivals from its kernel's binding 7.
            if matches!(crate::study::per_k::per_k(rule), Ok(Some(_))) {
                assert_eq!(KERNELS[i].bindings, &CHAIN_BINDINGS_SURVIVALS, "{rule}");
            }
        }
        assert_eq!(KERNELS[KernelId::VERIFY_TREE.0].entry, "verify_tree");
        assert_eq!(KERNELS[KernelId::GENERATE.0].entry, "generate");
        assert_eq!(KERNELS[KernelId::RATES_ROUND.0].entry, "rates_round");
        // The tree kernel's dispatcher calls each tree rule's step in the registry's order, so
        // a rule's index in `Rule::TREE` is its code (`H_RULE`).
        let tree = KERNELS[KernelId::VERIFY_TREE.0].source;
        let dispatcher = &tree[tree.find("fn tree_step(").expect("the dispatcher")..];
        let mut last = 0;
        for rule in Rule::TREE {
            assert_eq!(KernelId::chain(rule), None);
            let stem = crate::rule::match_rule!(rule,
                chain R => unreachable!(),
                tree T => <T as crate::rule::TreeRule>::STEM,
            );
            let call = format!("return tree_step_{stem}(");
            let at = dispatcher
                .find(&call)
                .unwrap_or_else(|| panic!("no {call}"));
            assert!(at > last, "{rule}: out of the registry's order");
            last = at;
            assert!(
                tree.contains(&format!("fn tree_step_{stem}(")),
                "{rule}: no step"
            );
        }
    }

    /// Every top-level `shaders/X.wgsl` is a kernel of the table and has its CPU twin
    /// `src/cpu/X.rs`; every file under `shaders/shared/` is included by some kernel.
    #[test]
    fn every_shader_is_a_kernel_with_a_cpu_twin() {
        let root = env!("CARGO_MANIFEST_DIR");
        for entry in std::fs::read_dir(format!("{root}/shaders")).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                continue;
            }
            let stem = path.file_stem().unwrap().to_str().unwrap().to_owned();
            assert!(
                KERNELS.iter().any(|d| d.stem == stem),
                "shaders/{stem}.wgsl is in no kernel"
            );
            let twin = |p: &str| std::path::Path::new(&format!("{root}/src/cpu/{p}")).exists();
            assert!(
                twin(&format!("{stem}.rs")) || twin(&format!("{stem}/mod.rs")),
                "shaders/{stem}.wgsl has no CPU twin src/cpu/{stem}.rs"
            );
        }
        // Each tree rule's step: in the tree kernel, with its CPU twin src/cpu/tree/STEM.rs.
        let tree = KERNELS[KernelId::VERIFY_TREE.0].source;
        for entry in std::fs::read_dir(format!("{root}/shaders/tree")).unwrap() {
            let path = entry.unwrap().path();
            let stem = path.file_stem().unwrap().to_str().unwrap().to_owned();
            let text = std::fs::read_to_string(&path).unwrap();
            assert!(
                tree.contains(&text),
                "shaders/tree/{stem}.wgsl is not in the tree kernel"
            );
            assert!(
                std::path::Path::new(&format!("{root}/src/cpu/tree/{stem}.rs")).exists(),
                "shaders/tree/{stem}.wgsl has no CPU twin src/cpu/tree/{stem}.rs"
            );
        }
        for entry in std::fs::read_dir(format!("{root}/shaders/shared")).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            assert!(
                KERNELS.iter().any(|d| d.source.contains(&text)),
                "{} is included by no kernel",
                path.display()
            );
        }
    }
}
