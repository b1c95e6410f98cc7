//! The gatelab page: a Yew app that Trunk compiles to WebAssembly.

mod components;
mod i18n;

fn main() {
    yew::Renderer::<components::App>::new().render();
}
