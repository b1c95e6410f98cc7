use yew::prelude::*;

use super::backend::Backend;
use super::comparison::Comparison;
use super::footer::Footer;
use super::header::Header;
use super::intro::Intro;
use crate::i18n::Lang;

/// The root component: holds the page language and provides it as context.
#[function_component(App)]
pub fn app() -> Html {
    let lang = use_state(Lang::from_browser);

    // The `lang` attribute tells screen readers and fonts which language the
    // text is in, so it follows the switch, and so does the tab title.
    use_effect_with(*lang, |lang| {
        let document = gloo::utils::document();
        if let Some(root) = document.document_element() {
            // Setting an attribute fails only for an invalid attribute name.
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
                <Comparison />
                <Backend />
            </main>
            <Footer />
        </ContextProvider<Lang>>
    }
}
