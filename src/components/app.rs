use yew::prelude::*;

use super::backend::Backend;
use super::comparison::Comparison;
use super::explain::Explain;
use super::footer::Footer;
use super::header::Header;
use super::intro::Intro;
use super::playground::Playground;
use crate::i18n::Lang;
use crate::settings::ClassroomState;

/// Renders the page and provides the selected language to it as context.
#[function_component(App)]
pub fn app() -> Html {
    // A `lang` in the address wins over the browser's language.
    let lang = use_state(|| {
        let query = gloo::utils::window().location().search().unwrap_or_default();
        ClassroomState::from_query(&query).0.lang.unwrap_or_else(Lang::from_browser)
    });

    // Screen readers and font selection read the `lang` attribute, so it
    // follows the switch, and so does the tab title.
    use_effect_with(*lang, |lang| {
        let document = gloo::utils::document();
        if let Some(root) = document.document_element() {
            // `setAttribute` throws only for an invalid name, and `lang` is valid.
            let _ = root.set_attribute("lang", lang.tag());
        }
        document.set_title(lang.strings().document_title);
    });

    let on_select = {
        let lang = lang.clone();
        Callback::from(move |selected: Lang| lang.set(selected))
    };

    html! {
        <ContextProvider<Lang> context={*lang}>
            <Header current={*lang} {on_select} />
            <main>
                <Intro />
                <Playground lang={*lang} />
                <Explain />
                <Comparison />
                <Backend />
            </main>
            <Footer />
        </ContextProvider<Lang>>
    }
}
