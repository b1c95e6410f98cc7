//! Hooks for the browser tests, compiled only with the `test-hooks` feature.
//!
//! The e2e tests run against a built page, and a deployed page must offer no
//! way to break itself from the console. So `cargo xtask e2e` builds the page
//! twice: dist/ without this feature, as it is deployed, and dist-test/ with
//! it, for the tests that break something on purpose. The hooks live on
//! `window.gatelabTestHooks`:
//! - `destroyDevice()` calls `GPUDevice.destroy()` on the current device;
//! - `poisonRun(index)` writes NaN into a parameter of run `index` (CPU
//!   engine only), so its next step diverges;
//! - `panicWorker(index)` makes the worker of run `index` panic;
//! - `panicPage()` makes the page panic inside a Yew update.

use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;
use yew::Callback;

/// The action that a test hook requests from a run's engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TestAction {
    /// Write NaN into the first parameter.
    PoisonParams,
    /// Panic.
    Panic,
}

/// A request from a hook to the playground: a run and an action, or `None`
/// for a panic of the page itself.
pub type HookRequest = Option<(usize, TestAction)>;

fn hooks_object() -> Option<js_sys::Object> {
    let window = web_sys::window()?;
    let existing = js_sys::Reflect::get(&window, &"gatelabTestHooks".into()).ok()?;
    if existing.is_object() {
        return existing.dyn_into().ok();
    }
    let hooks = js_sys::Object::new();
    js_sys::Reflect::set(&window, &"gatelabTestHooks".into(), &hooks).ok()?;
    Some(hooks)
}

fn set_hook(name: &str, function: &JsValue) {
    if let Some(hooks) = hooks_object() {
        let _ = js_sys::Reflect::set(&hooks, &name.into(), function);
    }
}

/// Exposes the hooks that reach the playground through `on_request`.
pub fn install(on_request: Callback<HookRequest>) {
    let poison = on_request.clone();
    let poison = Closure::<dyn Fn(u32)>::new(move |index: u32| poison.emit(Some((index as usize, TestAction::PoisonParams))));
    let panic_worker = on_request.clone();
    let panic_worker = Closure::<dyn Fn(u32)>::new(move |index: u32| panic_worker.emit(Some((index as usize, TestAction::Panic))));
    let panic_page = Closure::<dyn Fn()>::new(move || on_request.emit(None));
    set_hook("poisonRun", poison.as_ref());
    set_hook("panicWorker", panic_worker.as_ref());
    set_hook("panicPage", panic_page.as_ref());
    // The hooks live as long as the page.
    poison.forget();
    panic_worker.forget();
    panic_page.forget();
}

/// Exposes `destroyDevice()` for the device of `ctx`, replacing the hook
/// of an earlier device.
pub fn expose_destroy(ctx: &gatelab_gpu::GpuContext) {
    let device = ctx.device.clone();
    let destroy = Closure::<dyn Fn()>::new(move || device.destroy());
    set_hook("destroyDevice", destroy.as_ref());
    destroy.forget();
}
