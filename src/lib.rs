//! The gatelab page: a Yew app and the CPU engine's Web Worker, both compiled
//! to WebAssembly by Trunk.

pub mod charts;
pub mod components;
pub mod download;
pub mod engine;
pub mod export;
pub mod i18n;
pub mod protocol;
pub mod settings;
pub mod storage;
pub mod worker;
