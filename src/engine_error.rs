//! Errors of the training engines as data, so that the page renders them in
//! its own language. Only a technical detail (a panic message, a decoder's or
//! the browser's GPU error) keeps the words it came in, after a translated
//! lead sentence.

use gatelab_model::{CheckpointError, ConfigError};
use serde::{Deserialize, Serialize};

use crate::i18n::Strings;
use crate::settings::Rejection;

/// The reason an engine cannot build a run or cannot go on with it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum EngineError {
    /// The settings fail the model crate's validator.
    Config(Rejection),
    /// A part of the run exceeds a limit of the GPU device.
    GpuLimit {
        part: GpuPart,
        /// The WebGPU limit's name, for example `max_buffer_size`.
        limit: String,
        needed: u64,
        allowed: u64,
        /// The GPU adapter's name as the browser reports it.
        adapter: String,
    },
    /// A saved run has `found` parameters, but its settings make `expected`.
    SavedSize { expected: usize, found: usize },
    /// A saved run taken after `step` steps that contains `updates` AdamW
    /// updates. The GPU engine needs the two counts equal.
    SavedSteps { step: usize, updates: u64 },
    /// A saved run cannot be decoded; `detail` is the decoder's message.
    SavedUnreadable { detail: String },
    /// An engine stopped for a reason outside the settings; `detail` is the
    /// technical message, shown verbatim.
    Internal { cause: InternalCause, detail: String },
}

/// The part of a run that exceeds a GPU limit: `gatelab_gpu::RunPart` on the
/// wire. The GPU crate has no serde, so this copy carries it, and the
/// exhaustive `From` below keeps the two lists in step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum GpuPart {
    Parameters,
    AttentionWeights,
    MlpActivations,
    Logits,
    MatmulRows,
    ElementwisePass,
}

/// The cause that stopped an engine, for [`EngineError::Internal`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum InternalCause {
    /// The CPU engine's Web Worker panicked.
    WorkerPanic,
    /// The browser reported the GPU device as lost.
    DeviceLost,
    /// Reading data back from the GPU failed.
    GpuReadBack,
    /// Requesting a GPU device failed.
    GpuDevice,
    /// Any other failure of the GPU engine.
    Gpu,
}

impl From<&ConfigError> for EngineError {
    fn from(error: &ConfigError) -> EngineError {
        EngineError::Config(Rejection::from_config_error(error, "", ""))
    }
}

impl From<&CheckpointError> for EngineError {
    fn from(error: &CheckpointError) -> EngineError {
        match error {
            CheckpointError::Config(config) => EngineError::from(config),
            other => EngineError::SavedUnreadable { detail: other.to_string() },
        }
    }
}

impl EngineError {
    /// Converts an error of the GPU engine on the adapter named `adapter`.
    pub fn from_gpu(error: &gatelab_gpu::GpuError, adapter: &str) -> EngineError {
        use gatelab_gpu::GpuError;
        match error {
            GpuError::Config(config) => EngineError::from(config),
            GpuError::TooLarge { part, limit_name, needed, limit, .. } => EngineError::GpuLimit {
                part: GpuPart::from(*part),
                limit: limit_name.to_string(),
                needed: *needed,
                allowed: *limit,
                adapter: adapter.to_string(),
            },
            GpuError::Checkpoint(checkpoint) => EngineError::from(checkpoint),
            GpuError::CheckpointSteps { step, adam_t } => EngineError::SavedSteps { step: *step, updates: *adam_t },
            GpuError::Map(source) => EngineError::internal(InternalCause::GpuReadBack, source),
            GpuError::MapRange(source) => EngineError::internal(InternalCause::GpuReadBack, source),
            GpuError::RequestDevice { source, .. } => EngineError::internal(InternalCause::GpuDevice, source),
            other => EngineError::internal(InternalCause::Gpu, other),
        }
    }

    /// Returns an internal error with `detail`'s text.
    pub fn internal(cause: InternalCause, detail: impl std::fmt::Display) -> EngineError {
        EngineError::Internal { cause, detail: detail.to_string() }
    }

    /// Renders the error as a sentence fragment in the language of
    /// `strings`, for the `{error}` of the page's notices.
    pub fn render(&self, strings: &Strings) -> String {
        match self {
            EngineError::Config(rejection) => {
                let (value, allowed) = rejection.localized(strings);
                strings
                    .engine_config
                    .replace("{field}", &rejection.field)
                    .replace("{value}", &value)
                    .replace("{allowed}", &allowed)
            }
            EngineError::GpuLimit { part, limit, needed, allowed, adapter } => {
                let unit = match part {
                    GpuPart::MatmulRows | GpuPart::ElementwisePass => strings.unit_workgroups,
                    _ => strings.unit_bytes,
                };
                strings
                    .engine_gpu_limit
                    .replace("{part}", part.render(strings))
                    .replace("{needed}", &needed.to_string())
                    .replace("{allowed}", &allowed.to_string())
                    .replace("{unit}", unit)
                    .replace("{limit}", limit)
                    .replace("{adapter}", adapter)
            }
            EngineError::SavedSize { expected, found } => strings
                .engine_saved_size
                .replace("{expected}", &expected.to_string())
                .replace("{found}", &found.to_string()),
            EngineError::SavedSteps { step, updates } => strings
                .engine_saved_steps
                .replace("{step}", &step.to_string())
                .replace("{updates}", &updates.to_string()),
            EngineError::SavedUnreadable { detail } => strings.engine_saved_unreadable.replace("{detail}", detail),
            EngineError::Internal { cause, detail } => {
                let lead = match cause {
                    InternalCause::WorkerPanic => strings.engine_worker_panic,
                    InternalCause::DeviceLost => strings.engine_device_lost,
                    InternalCause::GpuReadBack => strings.engine_gpu_read_back,
                    InternalCause::GpuDevice => strings.engine_gpu_device,
                    InternalCause::Gpu => strings.engine_gpu_failed,
                };
                lead.replace("{detail}", detail)
            }
        }
    }
}

impl From<gatelab_gpu::RunPart> for GpuPart {
    fn from(part: gatelab_gpu::RunPart) -> GpuPart {
        use gatelab_gpu::RunPart;
        match part {
            RunPart::Parameters => GpuPart::Parameters,
            RunPart::AttentionWeights => GpuPart::AttentionWeights,
            RunPart::MlpActivations => GpuPart::MlpActivations,
            RunPart::Logits => GpuPart::Logits,
            RunPart::MatmulRows => GpuPart::MatmulRows,
            RunPart::ElementwisePass => GpuPart::ElementwisePass,
        }
    }
}

impl GpuPart {
    fn render(self, strings: &Strings) -> &'static str {
        match self {
            GpuPart::Parameters => strings.gpu_part_parameters,
            GpuPart::AttentionWeights => strings.gpu_part_attention,
            GpuPart::MlpActivations => strings.gpu_part_mlp,
            GpuPart::Logits => strings.gpu_part_logits,
            GpuPart::MatmulRows => strings.gpu_part_matmul,
            GpuPart::ElementwisePass => strings.gpu_part_elementwise,
        }
    }
}

#[cfg(test)]
mod tests;
