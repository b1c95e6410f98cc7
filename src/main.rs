//! The gatelab page: a Yew app that Trunk compiles to WebAssembly.

fn main() {
    gatelab_web::fault::install_page_hook();
    yew::Renderer::<gatelab_web::components::App>::new().render();
}
