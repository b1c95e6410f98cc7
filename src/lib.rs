//! The gatelab page: a Yew app and the CPU engine's Web Worker, both compiled
//! to WebAssembly by Trunk.

pub mod a11y;
pub mod charts;
pub mod components;
pub mod engine;
pub mod i18n;
pub mod lessons;
pub mod probe;
pub mod protocol;
pub mod settings;
pub mod speed;
pub mod worker;
