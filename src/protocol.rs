//! Messages between the page and a training engine, whether that engine is a
//! CPU Web Worker or the WebGPU engine on the main thread.

use gatelab_model::{Metrics, RunConfig, Snapshot};
use serde::{Deserialize, Serialize};
use wasm_bindgen::JsValue;

pub use crate::engine_error::EngineError;
use crate::export::WireCheckpoint;
use crate::probe::ProbeResult;

/// A request to an engine.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Request {
    /// Builds a fresh run from `config`. Replies carry `generation`, so the
    /// page can drop replies that belong to an earlier run.
    Start { generation: u32, config: RunConfig },
    /// Trains `steps` more steps and reports the metrics taken on the way.
    Train { generation: u32, steps: usize },
    /// Runs the current model on one token sequence (BOS first, at most the
    /// model's sequence length) without training.
    Probe { generation: u32, tokens: Vec<u32> },
    /// A browser-test action; see `crate::test_hooks`.
    #[cfg(feature = "test-hooks")]
    TestHook { generation: u32, action: crate::test_hooks::TestAction },
    /// Asks for the run's checkpoint: parameters, AdamW state, step and data
    /// position.
    Save { generation: u32 },
    /// Builds the run from a checkpoint; the reply is `Started` at the
    /// checkpoint's step.
    Restore { generation: u32, checkpoint: WireCheckpoint },
}

/// A reply from an engine.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Reply {
    /// The run exists: token labels of the probe sequence and its metrics at step 0.
    Started { generation: u32, labels: Vec<String>, metrics: Metrics, snapshot: Snapshot },
    /// A training chunk finished.
    Trained {
        generation: u32,
        /// Step count after the chunk.
        step: usize,
        /// Loss of the chunk's last step.
        train_loss: f64,
        /// Metrics recorded during the chunk, in step order.
        metrics: Vec<Metrics>,
        /// Probe-sequence attention at the last recorded metrics, if any.
        snapshot: Option<Snapshot>,
    },
    /// The model's attention, gates and predictions on a probed sequence.
    Probed { generation: u32, result: ProbeResult },
    /// The checkpoint asked for by `Save`.
    Saved { generation: u32, checkpoint: WireCheckpoint },
    /// The run cannot go on.
    Failed { generation: u32, error: EngineError },
    /// The loss or the gradient norm of step `step` was not finite. The
    /// run's parameters are those from before that step, and `metrics` contains
    /// the metrics recorded earlier in the chunk.
    Diverged {
        generation: u32,
        step: usize,
        /// `"loss"` or `"gradient norm"`.
        what: String,
        /// The value as text, because JSON has no NaN or infinity.
        value: String,
        lr: f64,
        metrics: Vec<Metrics>,
    },
    /// The settings exceed a limit of this engine (for example a GPU buffer
    /// limit), found before any work started. The engine itself still works.
    Rejected { generation: u32, error: EngineError },
}

impl Reply {
    pub fn generation(&self) -> u32 {
        match self {
            Reply::Started { generation, .. }
            | Reply::Trained { generation, .. }
            | Reply::Probed { generation, .. }
            | Reply::Saved { generation, .. }
            | Reply::Failed { generation, .. }
            | Reply::Diverged { generation, .. }
            | Reply::Rejected { generation, .. } => *generation,
        }
    }
}

/// Worker message codec: JSON text. gloo-worker's default codec, bincode,
/// cannot decode the internally tagged `TaskConfig`.
pub struct JsonCodec;

impl gloo::worker::Codec for JsonCodec {
    fn encode<I: Serialize>(input: I) -> JsValue {
        let text = serde_json::to_string(&input).expect("engine messages serialise to JSON");
        JsValue::from_str(&text)
    }

    fn decode<O: for<'de> Deserialize<'de>>(input: JsValue) -> O {
        let text = input.as_string().expect("engine messages are sent as JSON strings");
        serde_json::from_str(&text).expect("engine messages parse as the JSON they were sent as")
    }
}
