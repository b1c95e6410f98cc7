use yew::prelude::*;

use super::use_strings;

/// Returns whether the browser exposes the WebGPU API as `navigator.gpu`.
///
/// NOTE: `navigator.gpu` can exist while `requestAdapter()` still finds no
/// adapter, so a `true` here does not yet promise that the GPU path runs.
fn webgpu_exposed() -> bool {
    let Some(window) = web_sys::window() else {
        return false;
    };
    js_sys::Reflect::has(&window.navigator(), &"gpu".into()).unwrap_or(false)
}

/// Renders the compute backend section: the WebGPU path, the CPU fallback,
/// and whether this browser exposes WebGPU.
#[function_component(Backend)]
pub fn backend() -> Html {
    let strings = use_strings();
    let exposed = use_memo((), |_| webgpu_exposed());

    let (class, result) = if *exposed {
        ("backend-check found", strings.backend_webgpu_found)
    } else {
        ("backend-check missing", strings.backend_webgpu_missing)
    };

    html! {
        <section class="backend">
            <h2>{ strings.backend_heading }</h2>
            <p>{ strings.backend_body }</p>
            <p {class} role="status">{ result }</p>
        </section>
    }
}
