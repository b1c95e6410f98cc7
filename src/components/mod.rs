//! The page's Yew components, one per file.

mod app;
mod backend;
mod classroom;
mod comparison;
mod explain;
mod footer;
mod header;
mod intro;
mod language_switch;
mod lessons;
mod model_card;
mod playground;
mod probe;
mod png_button;
mod run_panel;
mod variant_knobs;

pub use app::App;
pub use png_button::PngButton;

use yew::prelude::*;

use crate::i18n::{Lang, Strings};

/// Returns the string table of the language that `App` provides as context.
///
/// Falls back to English for a component rendered outside `App`.
#[hook]
pub fn use_strings() -> &'static Strings {
    use_context::<Lang>().unwrap_or(Lang::En).strings()
}
