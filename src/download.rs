//! Files the page hands to the user (a Blob behind an `<a download>`) and
//! files the user hands to the page.

use wasm_bindgen::JsCast;
use web_sys::{Blob, BlobPropertyBag, HtmlAnchorElement, HtmlCanvasElement, Url};

/// Offers `bytes` as a file called `name`.
pub fn bytes(name: &str, mime: &str, bytes: &[u8]) -> Result<(), String> {
    let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(bytes));
    let options = BlobPropertyBag::new();
    options.set_type(mime);
    let blob = Blob::new_with_u8_array_sequence_and_options(&parts, &options).map_err(|e| format!("{e:?}"))?;
    let url = Url::create_object_url_with_blob(&blob).map_err(|e| format!("{e:?}"))?;
    click_link(name, &url)?;
    // The download has started by the time the next task runs.
    gloo::timers::callback::Timeout::new(1000, move || {
        let _ = Url::revoke_object_url(&url);
    })
    .forget();
    Ok(())
}

/// Offers `text` as a UTF-8 file called `name`.
pub fn text(name: &str, mime: &str, text: &str) -> Result<(), String> {
    bytes(name, mime, text.as_bytes())
}

/// Offers the canvas's picture as a PNG file called `name`.
pub fn canvas_png(canvas: &HtmlCanvasElement, name: &str) -> Result<(), String> {
    let url = canvas.to_data_url_with_type("image/png").map_err(|e| format!("{e:?}"))?;
    click_link(name, &url)
}

fn click_link(name: &str, href: &str) -> Result<(), String> {
    let document = gloo::utils::document();
    let link: HtmlAnchorElement =
        document.create_element("a").map_err(|e| format!("{e:?}"))?.unchecked_into();
    link.set_href(href);
    link.set_download(name);
    link.set_hidden(true);
    let body = gloo::utils::body();
    body.append_child(&link).map_err(|e| format!("{e:?}"))?;
    link.click();
    link.remove();
    Ok(())
}

/// Reads a file the user chose as text, refusing one over `max` bytes
/// before reading it.
pub async fn read_text(file: &web_sys::File, max: usize) -> Result<String, ReadError> {
    let size = file.size() as usize;
    if size > max {
        return Err(ReadError::TooLarge { bytes: size, max });
    }
    let text = wasm_bindgen_futures::JsFuture::from(file.text()).await.map_err(|e| ReadError::Unreadable(format!("{e:?}")))?;
    text.as_string().ok_or_else(|| ReadError::Unreadable("not text".into()))
}

pub enum ReadError {
    TooLarge { bytes: usize, max: usize },
    Unreadable(String),
}
