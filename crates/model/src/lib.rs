//! gatelab's model: a tiny decoder-only transformer with every gated-attention
//! variant of Qiu et al. 2025 ("Gated Attention for Large Language Models",
//! arXiv 2505.06708) and other attention-sink remedies, its CPU engine in
//! `ndarray` with hand-written backward passes, AdamW, the tasks, the metrics,
//! and checkpoints.
//!
//! The CPU engine is the test oracle of the GPU engine and the fallback of the
//! page in browsers without WebGPU. It has no GPU dependency and builds for
//! wasm32.

pub mod checkpoint;
pub mod config;
pub mod error;
pub mod metrics;
pub mod metrics_csv;
pub mod model;
pub mod ops;
pub mod optim;
pub mod params;
pub mod rng;
pub mod scalar;
pub mod tasks;
pub mod train;

pub use config::{
    AttnNorm, BigramTable, GateAct, GateForm, GatePos, Granularity, Limits, ModelConfig, PosEnc, RunConfig, Sharing,
    TaskConfig, TextSource, TrainConfig, Variant, NAMED_VARIANTS,
};
pub use error::{CheckpointError, ConfigError, TrainError};
pub use metrics::{GateMetrics, Metrics, Snapshot};
pub use scalar::Scalar;
pub use train::{Run, StepStats};
