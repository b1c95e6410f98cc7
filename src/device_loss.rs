//! Device loss of the WebGPU engine: a lost-device callback that reaches the
//! page, and the CPU copy of each run that training resumes from.
//!
//! wgpu's lost-device callback must be `Send`, so it cannot hold the page's
//! Yew callback. It calls [`notify`], which passes the message to the
//! handler that the playground registered on this (the only) thread.

use std::cell::{Cell, RefCell};

use gatelab_model::rng::StreamRng;
use gatelab_model::Metrics;
use yew::Callback;

/// A run's state copied from the GPU to the CPU: enough to rebuild the run
/// on a new device and go on from `step` as if nothing had happened.
#[derive(Clone)]
pub struct GpuCheckpoint {
    pub step: usize,
    pub params: Vec<f32>,
    pub moment1: Vec<f32>,
    pub moment2: Vec<f32>,
    /// The data stream as it was after step `step`.
    pub data_rng: StreamRng,
    pub history: Vec<Metrics>,
}

/// A lost device: which device (see [`watch`]) and the browser's message.
#[derive(Clone, Debug, PartialEq)]
pub struct DeviceLost {
    pub device_id: u32,
    pub message: String,
}

thread_local! {
    static HANDLER: RefCell<Option<Callback<DeviceLost>>> = const { RefCell::new(None) };
    static NEXT_DEVICE_ID: Cell<u32> = const { Cell::new(0) };
}

/// Sets the callback that receives every lost device.
pub fn set_handler(handler: Callback<DeviceLost>) {
    HANDLER.with(|slot| *slot.borrow_mut() = Some(handler));
}

fn notify(lost: DeviceLost) {
    let handler = HANDLER.with(|slot| slot.borrow().clone());
    match handler {
        Some(handler) => handler.emit(lost),
        None => web_sys::console::warn_1(&format!("gatelab: GPU device {} lost: {}", lost.device_id, lost.message).into()),
    }
}

/// Registers the lost-device callback of `ctx`'s device and returns the id
/// that its [`DeviceLost`] will carry, so that the page can tell the loss
/// of the current device from a late report about an older one.
pub fn watch(ctx: &gatelab_gpu::GpuContext) -> u32 {
    let device_id = NEXT_DEVICE_ID.with(|next| {
        let id = next.get();
        next.set(id + 1);
        id
    });
    ctx.device.set_device_lost_callback(move |reason, message| {
        notify(DeviceLost { device_id, message: format!("{reason:?}: {message}") });
    });
    #[cfg(feature = "test-hooks")]
    crate::test_hooks::expose_destroy(ctx);
    device_id
}
