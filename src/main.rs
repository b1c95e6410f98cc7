//! The gatelab page: a Yew app that Trunk compiles to WebAssembly.

fn main() {
    yew::Renderer::<gatelab_web::components::App>::new().render();
}
