//! Panic hooks for the page and for the CPU engine's Web Worker.
//!
//! The wasm32 target aborts on a panic, so no Rust code of the app can run
//! after one: Yew stops updating and the page would freeze. The page's hook
//! therefore builds its error view with plain DOM calls, and the view's
//! reset button is an ordinary link, which needs no wasm to work. The
//! worker's hook posts a `Reply::Failed` to the page before the worker
//! stops, so the page shows which run failed and why.

use std::cell::Cell;
use std::panic::PanicHookInfo;

use wasm_bindgen::{JsCast, JsValue};

use crate::i18n::Lang;
use crate::protocol::{EngineError, Reply};
use crate::engine_error::InternalCause;

/// Id of the error view's root element, also used to show it only once.
pub const FATAL_VIEW_ID: &str = "fatal-error";

/// Installs the page's panic hook: it logs the panic to the console and
/// replaces the app with an error view.
///
/// It goes through `yew::set_custom_panic_hook`, because Yew's renderer
/// replaces a hook set with `std::panic::set_hook` by its own console hook.
pub fn install_page_hook() {
    yew::set_custom_panic_hook(Box::new(|info| {
        let detail = describe(info);
        web_sys::console::error_1(&JsValue::from_str(&format!("gatelab: {detail}")));
        show_error_view(&detail);
    }));
}

/// Returns the panic's message and source location.
pub fn describe(info: &PanicHookInfo<'_>) -> String {
    let message = if let Some(text) = info.payload().downcast_ref::<&str>() {
        text.to_string()
    } else if let Some(text) = info.payload().downcast_ref::<String>() {
        text.clone()
    } else {
        "panic without a message".to_string()
    };
    match info.location() {
        Some(location) => format!("{message} (at {}:{})", location.file(), location.line()),
        None => message,
    }
}

/// Shows the error view over the page: what failed, and a link that loads
/// the page again without its query string, which holds the settings that
/// may have caused the failure. Only the first call shows a view, because
/// later panics are usually follow-ups of the first.
pub fn show_error_view(detail: &str) {
    let Some(document) = web_sys::window().and_then(|window| window.document()) else {
        return;
    };
    if document.get_element_by_id(FATAL_VIEW_ID).is_some() {
        return;
    }
    let Some(body) = document.body() else {
        return;
    };
    let lang = document
        .document_element()
        .and_then(|root| root.get_attribute("lang"))
        .map_or(Lang::En, |tag| Lang::from_language_tag(&tag));
    let strings = lang.strings();
    let path = web_sys::window().and_then(|window| window.location().pathname().ok()).unwrap_or_else(|| "./".into());

    // Every text goes in through `set_text_content`, never as markup, so a
    // panic message that quotes user input cannot inject HTML.
    let build = || -> Result<(), JsValue> {
        let view = document.create_element("section")?;
        view.set_id(FATAL_VIEW_ID);
        view.set_class_name("fatal-error");
        view.set_attribute("role", "alert")?;
        view.set_attribute("data-testid", "fatal-error")?;

        let title = document.create_element("h2")?;
        title.set_text_content(Some(strings.fatal_title));
        let body_text = document.create_element("p")?;
        body_text.set_text_content(Some(strings.fatal_body));
        let detail_block = document.create_element("pre")?;
        detail_block.set_attribute("data-testid", "fatal-detail")?;
        detail_block.set_text_content(Some(detail));
        let reset = document.create_element("a")?;
        reset.set_class_name("button");
        reset.set_attribute("href", &path)?;
        reset.set_attribute("data-testid", "fatal-reset")?;
        reset.set_text_content(Some(strings.fatal_reset));

        view.append_child(&title)?;
        view.append_child(&body_text)?;
        view.append_child(&detail_block)?;
        view.append_child(&reset)?;
        body.prepend_with_node_1(&view)?;
        // style.css hides everything else in the body under this class.
        body.class_list().add_1("fatal")?;
        Ok(())
    };
    if let Err(error) = build() {
        web_sys::console::error_2(&JsValue::from_str("gatelab: showing the error view failed"), &error);
    }
}

thread_local! {
    /// Whether the worker has panicked before.
    static WORKER_PANICKED: Cell<bool> = const { Cell::new(false) };
    /// The handler id (as gloo-worker serialises it) and the generation of
    /// the request the worker is working on.
    static CURRENT_REQUEST: Cell<Option<(usize, u32)>> = const { Cell::new(None) };
}

/// Records which request the worker is working on, for its panic hook.
pub fn set_current_request(handler_id: usize, generation: u32) {
    CURRENT_REQUEST.with(|current| current.set(Some((handler_id, generation))));
}

/// Installs the worker's panic hook: it logs the panic and posts a
/// `Reply::Failed` for the request in progress to the page.
///
/// Only the first panic is posted. The trap that ends a panic leaves
/// gloo-worker's state borrowed, so every later message to the worker (a
/// queued request, the bridge's goodbye) panics with "already borrowed",
/// and that message would replace the real cause on the page.
pub fn install_worker_hook() {
    std::panic::set_hook(Box::new(|info| {
        let detail = describe(info);
        web_sys::console::error_1(&JsValue::from_str(&format!("gatelab worker: {detail}")));
        if WORKER_PANICKED.with(|panicked| panicked.replace(true)) {
            return;
        }
        let Some((handler_id, generation)) = CURRENT_REQUEST.with(Cell::get) else {
            return;
        };
        let reply = Reply::Failed { generation, error: EngineError::internal(InternalCause::WorkerPanic, &detail) };
        let Ok(message) = worker_output_json(handler_id, &reply) else {
            return;
        };
        let scope: web_sys::DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
        let _ = scope.post_message(&JsValue::from_str(&message));
    }));
}

/// Encodes `reply` the way gloo-worker 0.5 sends a worker's output through
/// [`JsonCodec`](crate::protocol::JsonCodec): its private
/// `FromWorker::ProcessOutput(HandlerId, Output)`, an externally tagged
/// tuple variant whose `HandlerId` is a newtype over `usize`.
///
/// NOTE: gloo-worker does not export that enum, so this mirrors its layout;
/// a gloo-worker upgrade must keep `fault::tests::worker_output_matches_gloo`
/// passing.
pub fn worker_output_json(handler_id: usize, reply: &Reply) -> serde_json::Result<String> {
    serde_json::to_string(&serde_json::json!({ "ProcessOutput": [handler_id, reply] }))
}

/// Returns the number that gloo-worker serialises a handler id as.
pub fn handler_id_number(id: gloo::worker::HandlerId) -> Option<usize> {
    serde_json::to_value(id).ok()?.as_u64().map(|n| n as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A copy of gloo-worker 0.5's private `FromWorker` with the same serde
    /// derive, which is what the page's bridge decodes.
    #[derive(serde::Deserialize)]
    enum FromWorker {
        #[allow(dead_code)]
        WorkerLoaded,
        ProcessOutput(usize, Reply),
    }

    #[test]
    fn worker_output_matches_gloo() {
        let error = EngineError::internal(InternalCause::WorkerPanic, "boom (at src/worker.rs:1)");
        let reply = Reply::Failed { generation: 7, error: error.clone() };
        let json = worker_output_json(3, &reply).unwrap();
        let FromWorker::ProcessOutput(id, Reply::Failed { generation, error: decoded }) = serde_json::from_str(&json).unwrap()
        else {
            panic!("decoded the wrong variant from {json}");
        };
        assert_eq!(id, 3);
        assert_eq!(generation, 7);
        assert_eq!(decoded, error);
    }
}
