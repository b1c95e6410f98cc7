//! Error types. Each message names the value involved and what is allowed.

use thiserror::Error;

/// A configuration that the model cannot run.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ConfigError {
    #[error("{field} = {value} is out of range: allowed {min} to {max}")]
    OutOfRange { field: &'static str, value: String, min: String, max: String },
    #[error("{field} = {value} is not allowed: use one of {allowed}")]
    NotOneOf { field: &'static str, value: String, allowed: String },
    #[error("width = {width} must be a multiple of 16 and of 2 x heads = {} (heads = {heads})", 2 * heads)]
    WidthNotMultiple { width: usize, heads: usize },
    #[error(
        "unknown variant '{text}': use one of baseline, g1, g1-headwise, g1-shared, g1-additive, \
         g1-silu, g2, g3, g4, g5, softmax1, sink-logit, sigmoid-attn, optionally followed by knob \
         values joined with '+' (none, g1-g5, elementwise, headwise, head-specific, head-shared, \
         multiplicative, additive, sigmoid, silu, softmax, softmax1, sink-logit, sigmoid-attn)"
    )]
    UnknownVariant { text: String },
    #[error("variant '{text}' sets one knob twice (again with '{token}'): give each knob at most one value")]
    KnobSetTwice { text: String, token: String },
    #[error("gate knobs (headwise, head-shared, additive, silu) need a gate position g1-g5")]
    KnobWithoutGate,
    #[error("{knob} does not apply at g5: after Wo the heads are mixed, so g5 is elementwise and head-specific only")]
    NotApplicableAtG5 { knob: &'static str },
    #[error("the text is {bytes} bytes: at most {max} bytes are allowed")]
    TextTooLarge { bytes: usize, max: usize },
    #[error("the text has {chars} characters: at least {min} are needed")]
    TextTooShort { chars: usize, min: usize },
}

/// A failure while training.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum TrainError {
    #[error("training diverged at step {step}: the {what} is {value}; lower the learning rate (now {lr}) and start again")]
    Diverged { step: usize, what: &'static str, value: f64, lr: f64 },
    #[error(transparent)]
    Config(#[from] ConfigError),
}

/// A checkpoint that cannot be written or read.
#[derive(Debug, Error)]
pub enum CheckpointError {
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path}: invalid safetensors file: {message}")]
    Safetensors { path: String, message: String },
    #[error("{path}: invalid config JSON: {source}")]
    Json { path: String, source: serde_json::Error },
    #[error("{path}: tensor '{name}' is missing")]
    MissingTensor { path: String, name: String },
    #[error("{path}: tensor '{name}' has shape {found:?}, expected {expected:?}")]
    ShapeMismatch { path: String, name: String, found: Vec<usize>, expected: Vec<usize> },
    #[error(transparent)]
    Config(#[from] ConfigError),
}
