//! gatelab's GPU training engine: the model of `gatelab-model` on `wgpu`, with
//! hand-written WGSL kernels (the repository's `shaders/` folder), natively on
//! Vulkan and in the browser on WebGPU from the same code.
//!
//! Parameters, gradients and the AdamW moments each live in one flat buffer
//! addressed by the CPU [`Layout`](gatelab_model::params::Layout)'s offsets,
//! which keeps every kernel under WebGPU's default of 8 storage buffers per
//! shader stage. The engine uses no optional feature and only f32.

pub mod context;
mod engine;
pub mod error;
pub mod graph;
pub mod kernels;
pub mod metrics;
mod oneshot;
pub mod ops;

pub use context::GpuContext;
pub use engine::{check_limits, GpuRun, Which, MAX_IN_FLIGHT};
pub use error::{GpuError, RunPart};
