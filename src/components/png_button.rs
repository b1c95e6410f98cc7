//! A small button under a chart that downloads its canvas as a PNG.

use web_sys::HtmlCanvasElement;
use yew::prelude::*;

use super::use_strings;
use crate::download;

#[derive(Properties, PartialEq)]
pub struct PngButtonProps {
    pub canvas: NodeRef,
    /// File name without extension.
    pub name: AttrValue,
}

#[function_component(PngButton)]
pub fn png_button(props: &PngButtonProps) -> Html {
    let strings = use_strings();
    let onclick = {
        let canvas = props.canvas.clone();
        let name = format!("gatelab-{}.png", props.name);
        Callback::from(move |_: MouseEvent| {
            if let Some(element) = canvas.cast::<HtmlCanvasElement>() {
                // A failed download leaves the page as it was.
                let _ = download::canvas_png(&element, &name);
            }
        })
    };
    html! {
        <button type="button" class="small png" data-testid="export-png" title={strings.export_png_title} {onclick}>
            { strings.export_png }
        </button>
    }
}
