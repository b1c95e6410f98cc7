//! Errors of the GPU engine.

use gatelab_model::{CheckpointError, ConfigError};

#[derive(Debug, thiserror::Error)]
pub enum GpuError {
    #[error(
        "no GPU adapter found for backends {backends}: {reason}. Natively gatelab needs a Vulkan driver \
         (on Debian or Ubuntu: apt-get install mesa-vulkan-drivers); in a browser it needs WebGPU"
    )]
    NoAdapter { backends: String, reason: String },
    #[error("requesting a device from adapter {adapter} failed: {source}")]
    RequestDevice {
        adapter: String,
        #[source]
        source: wgpu::RequestDeviceError,
    },
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(
        "{what} needs {needed}, but this device's {limit_name} is {limit}; choose a smaller batch, sequence \
         length, width or number of heads"
    )]
    TooLarge { what: String, part: RunPart, limit_name: &'static str, needed: u64, limit: u64 },
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error("the checkpoint was taken after {step} steps but holds {adam_t} AdamW updates; the GPU engine needs them equal")]
    CheckpointSteps { step: usize, adam_t: u64 },
    #[error("mapping a GPU buffer for reading failed: {0}")]
    Map(#[from] wgpu::BufferAsyncError),
    #[error("reading a mapped GPU buffer failed: {0}")]
    MapRange(#[from] wgpu::MapRangeError),
    #[error("waiting for the GPU failed: {0}")]
    Poll(#[from] wgpu::PollError),
    #[error("{in_flight} steps are still queued on the GPU; await GpuRun::ready before the next step")]
    Busy { in_flight: usize },
    #[error("the batch has shape ({batch}, {seq_len}), but this run expects ({expected_batch}, {expected_seq_len})")]
    BatchShape { batch: usize, seq_len: usize, expected_batch: usize, expected_seq_len: usize },
}

/// The part of a run that a [`GpuError::TooLarge`] names, so that callers
/// can describe it in their own words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunPart {
    /// The buffer of all parameters.
    Parameters,
    /// The attention weights, shape (B, H, T, T).
    AttentionWeights,
    /// The MLP activations, shape (B * T, 4C).
    MlpActivations,
    /// The logits, shape (B * T, V).
    Logits,
    /// The workgroups of a matrix product over B * T rows.
    MatmulRows,
    /// The workgroups of an elementwise pass over the largest buffer.
    ElementwisePass,
}
