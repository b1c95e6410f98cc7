//! The WGSL kernels: sources, compiled pipelines, and one dispatch with its
//! bound buffers (a [`Pass`]).

use std::collections::HashMap;
use std::sync::Mutex;

use wgpu::util::DeviceExt;

/// Workgroup size of every kernel (`const WG` in each shader).
pub const WG: u32 = 64;
/// Side of the square output block of one matmul workgroup (`TILE` in matmul.wgsl).
pub const TILE: u32 = 32;
/// Maximum workgroups along one dimension of a dispatch under WebGPU's default limits.
pub const MAX_GROUPS_PER_DIMENSION: u32 = 65535;

/// One WGSL file of `shaders/`: an operation with its forward and backward
/// entry points.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Shader {
    Adamw,
    Attention,
    Clip,
    CrossEntropy,
    Embedding,
    Gate,
    Gelu,
    Matmul,
    Metrics,
    Rmsnorm,
    Rope,
}

impl Shader {
    pub const ALL: [Shader; 11] = [
        Shader::Adamw,
        Shader::Attention,
        Shader::Clip,
        Shader::CrossEntropy,
        Shader::Embedding,
        Shader::Gate,
        Shader::Gelu,
        Shader::Matmul,
        Shader::Metrics,
        Shader::Rmsnorm,
        Shader::Rope,
    ];

    pub fn file_name(self) -> &'static str {
        match self {
            Shader::Adamw => "adamw.wgsl",
            Shader::Attention => "attention.wgsl",
            Shader::Clip => "clip.wgsl",
            Shader::CrossEntropy => "cross_entropy.wgsl",
            Shader::Embedding => "embedding.wgsl",
            Shader::Gate => "gate.wgsl",
            Shader::Gelu => "gelu.wgsl",
            Shader::Matmul => "matmul.wgsl",
            Shader::Metrics => "metrics.wgsl",
            Shader::Rmsnorm => "rmsnorm.wgsl",
            Shader::Rope => "rope.wgsl",
        }
    }

    pub fn source(self) -> &'static str {
        match self {
            Shader::Adamw => include_str!("../../../shaders/adamw.wgsl"),
            Shader::Attention => include_str!("../../../shaders/attention.wgsl"),
            Shader::Clip => include_str!("../../../shaders/clip.wgsl"),
            Shader::CrossEntropy => include_str!("../../../shaders/cross_entropy.wgsl"),
            Shader::Embedding => include_str!("../../../shaders/embedding.wgsl"),
            Shader::Gate => include_str!("../../../shaders/gate.wgsl"),
            Shader::Gelu => include_str!("../../../shaders/gelu.wgsl"),
            Shader::Matmul => include_str!("../../../shaders/matmul.wgsl"),
            Shader::Metrics => include_str!("../../../shaders/metrics.wgsl"),
            Shader::Rmsnorm => include_str!("../../../shaders/rmsnorm.wgsl"),
            Shader::Rope => include_str!("../../../shaders/rope.wgsl"),
        }
    }
}

/// The values of a shader's `struct Params`, in field order. Every field is
/// a 4-byte u32 or f32, so the struct has no padding inside.
#[derive(Clone, Debug, Default)]
pub struct Uniform {
    words: Vec<u32>,
}

impl Uniform {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn u(mut self, value: u32) -> Self {
        self.words.push(value);
        self
    }

    pub fn f(mut self, value: f32) -> Self {
        self.words.push(value.to_bits());
        self
    }

    /// Little-endian bytes padded to a multiple of 16, the size WGSL rounds a
    /// uniform struct up to.
    pub fn bytes(&self) -> Vec<u8> {
        let mut bytes: Vec<u8> = self.words.iter().flat_map(|w| w.to_le_bytes()).collect();
        let padded = bytes.len().div_ceil(16).max(1) * 16;
        bytes.resize(padded, 0);
        bytes
    }
}

/// One dispatch: a kernel entry point, its uniform and storage buffers, and
/// its workgroup counts.
pub struct Pass {
    pub label: String,
    pipeline: wgpu::ComputePipeline,
    bind_group: wgpu::BindGroup,
    groups: [u32; 3],
    /// The uniform buffer bound at binding 0, kept to rewrite per-step values.
    pub(crate) uniform: wgpu::Buffer,
}

impl Pass {
    pub(crate) fn encode(&self, compute: &mut wgpu::ComputePass<'_>) {
        compute.set_pipeline(&self.pipeline);
        compute.set_bind_group(0, &self.bind_group, &[]);
        compute.dispatch_workgroups(self.groups[0], self.groups[1], self.groups[2]);
    }
}

/// Workgroup counts that give at least `count` invocations of a flat kernel:
/// a row of up to 65535 workgroups, and more rows when needed. The shaders'
/// `flat_index` undoes this layout.
pub fn flat_groups(count: usize) -> [u32; 3] {
    let groups = count.div_ceil(WG as usize).max(1);
    let x = groups.min(MAX_GROUPS_PER_DIMENSION as usize);
    let y = groups.div_ceil(x);
    [x as u32, y as u32, 1]
}

/// Compiled shader modules and pipelines, made on first use and kept.
pub struct Kernels {
    device: wgpu::Device,
    modules: Mutex<HashMap<Shader, wgpu::ShaderModule>>,
    pipelines: Mutex<HashMap<(Shader, &'static str), wgpu::ComputePipeline>>,
}

impl Kernels {
    pub fn new(device: &wgpu::Device) -> Self {
        Kernels { device: device.clone(), modules: Mutex::default(), pipelines: Mutex::default() }
    }

    /// The pipeline of `entry` in `shader`, with a bind group layout derived
    /// from the bindings that entry point uses.
    pub fn pipeline(&self, shader: Shader, entry: &'static str) -> wgpu::ComputePipeline {
        let mut pipelines = self.pipelines.lock().expect("pipeline cache lock is never poisoned");
        if let Some(pipeline) = pipelines.get(&(shader, entry)) {
            return pipeline.clone();
        }
        let module = {
            let mut modules = self.modules.lock().expect("module cache lock is never poisoned");
            modules
                .entry(shader)
                .or_insert_with(|| {
                    self.device.create_shader_module(wgpu::ShaderModuleDescriptor {
                        label: Some(shader.file_name()),
                        source: wgpu::ShaderSource::Wgsl(shader.source().into()),
                    })
                })
                .clone()
        };
        let label = format!("{}:{entry}", shader.file_name());
        let pipeline = self.device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(&label),
            layout: None,
            module: &module,
            entry_point: Some(entry),
            compilation_options: Default::default(),
            cache: None,
        });
        pipelines.insert((shader, entry), pipeline.clone());
        pipeline
    }

    /// Builds one dispatch of `entry`. `bindings` lists (binding number,
    /// buffer) for exactly the storage bindings the entry point uses; the
    /// uniform goes to binding 0.
    pub fn pass(
        &self,
        shader: Shader,
        entry: &'static str,
        uniform: &Uniform,
        bindings: &[(u32, &wgpu::Buffer)],
        groups: [u32; 3],
    ) -> Pass {
        let pipeline = self.pipeline(shader, entry);
        let label = format!("{}:{entry}", shader.file_name());
        let uniform_buffer = self.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some(&label),
            contents: &uniform.bytes(),
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
        });
        let mut entries = vec![wgpu::BindGroupEntry { binding: 0, resource: uniform_buffer.as_entire_binding() }];
        entries.extend(
            bindings
                .iter()
                .map(|(binding, buffer)| wgpu::BindGroupEntry { binding: *binding, resource: buffer.as_entire_binding() }),
        );
        let bind_group = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(&label),
            layout: &pipeline.get_bind_group_layout(0),
            entries: &entries,
        });
        Pass { label, pipeline, bind_group, groups, uniform: uniform_buffer }
    }
}
