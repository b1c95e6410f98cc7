//! The gatelab page: a Yew app and the CPU engine's Web Worker, both compiled
//! to WebAssembly by Trunk.

pub mod a11y;
pub mod canvas_backend;
pub mod charts;
pub mod components;
pub mod device_loss;
pub mod download;
pub mod engine;
pub mod engine_error;
pub mod export;
pub mod fault;
pub mod i18n;
pub mod lessons;
pub mod probe;
pub mod protocol;
pub mod settings;
pub mod speed;
pub mod storage;
#[cfg(feature = "test-hooks")]
pub mod test_hooks;
pub mod worker;
