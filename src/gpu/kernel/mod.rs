//! The kernel table: every compute kernel of the GPU engine, declared once with its WGSL source
//! (the shared helpers of `shaders/shared/` it includes, then its own `shaders/X.wgsl`), its
//! params struct and its binding list, as vello's `add_shader!(name, [Uniform, BufReadOnly,
//! Buffer])`. The list builds both the bind-group layout and, from the buffers a caller hands
//! in, the bind group; each kernel owns its uniform params buffer. A chain rule's kernel comes
//! from its line in the rule registry (`rule::rules!`); any other kernel is one `add_kernel!`
//! row here, its `KernelId` and its WGSL file.
//!
//! `table.rs` holds the table; this file builds its kernels on a device.

mod table;
#[cfg(test)]
mod tests;

pub(crate) use table::{KERNELS, KernelId};

use super::params::KernelParams;
use crate::error::{Error, Result};

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

/// A kernel on a device: its layout and params buffer, and its pipeline, compiled when the
/// kernel is first dispatched (a process that verifies one tree batch compiles the tree kernel
/// alone: on a software adapter, compiling all of them took about a second per process).
pub(crate) struct Kernel {
    def: &'static KernelDef,
    layout: wgpu::BindGroupLayout,
    pipeline: std::sync::OnceLock<wgpu::ComputePipeline>,
    params: wgpu::Buffer,
}

/// Every kernel of [`KERNELS`], built once per context.
pub(crate) struct Kernels(Vec<Kernel>);

impl Kernels {
    /// Every kernel's layout and params buffer (a layout error is an `Err`); pipelines are
    /// compiled on first use ([`Kernel::pipeline`]).
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

    /// Compiles every kernel's pipeline now (a WGSL error is an `Err` naming the kernel).
    pub(crate) fn compile_all(&self, device: &wgpu::Device) -> Result<()> {
        for k in &self.0 {
            k.pipeline(device)?;
        }
        Ok(())
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
        let params = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(def.params.0),
            size: def.params.1 as u64,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        Kernel {
            def,
            layout,
            pipeline: std::sync::OnceLock::new(),
            params,
        }
    }

    /// Its pipeline, compiled on the first call (a WGSL or pipeline error is an `Err`, and the
    /// next call tries again).
    pub(crate) fn pipeline(&self, device: &wgpu::Device) -> Result<&wgpu::ComputePipeline> {
        if let Some(p) = self.pipeline.get() {
            return Ok(p);
        }
        let def = self.def;
        let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some(def.stem),
            source: wgpu::ShaderSource::Wgsl(def.source.into()),
        });
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some(def.entry),
            bind_group_layouts: &[Some(&self.layout)],
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
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(Error::Gpu(format!(
                "cannot build the GPU kernel {}: {e}",
                def.entry
            )));
        }
        Ok(self.pipeline.get_or_init(|| pipeline))
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
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn record<P: KernelParams>(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        enc: &mut wgpu::CommandEncoder,
        group: &wgpu::BindGroup,
        mut params: P,
        items: usize,
        max_groups_x: u32,
    ) -> Result<()> {
        debug_assert_eq!((P::WGSL_NAME, size_of::<P>()), self.def.params);
        let pipeline = self.pipeline(device)?;
        let gx = (items as u32).clamp(1, max_groups_x);
        let gy = (items as u32).div_ceil(gx).max(1);
        params.set_groups_x(gx);
        queue.write_buffer(&self.params, 0, bytemuck::bytes_of(&params));
        let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some(self.def.entry),
            timestamp_writes: None,
        });
        pass.set_pipeline(pipeline);
        pass.set_bind_group(0, group, &[]);
        pass.dispatch_workgroups(gx, gy, 1);
        Ok(())
    }
}
