use yew::prelude::*;

use super::use_strings;
use crate::i18n::Lang;

#[derive(Properties, PartialEq)]
pub struct LanguageSwitchProps {
    /// Language the page is shown in; its button is shown as pressed.
    pub current: Lang,
    /// Called with the language of the button that the user presses.
    pub on_select: Callback<Lang>,
}

/// Renders one toggle button per supported language.
#[function_component(LanguageSwitch)]
pub fn language_switch(props: &LanguageSwitchProps) -> Html {
    let strings = use_strings();

    let buttons = Lang::ALL.into_iter().map(|lang| {
        let label = match lang {
            Lang::En => strings.language_english,
            Lang::Ja => strings.language_japanese,
        };
        let pressed = lang == props.current;
        let onclick = props.on_select.reform(move |_: MouseEvent| lang);

        html! {
            <button
                type="button"
                lang={lang.tag()}
                aria-pressed={pressed.to_string()}
                {onclick}
            >
                { label }
            </button>
        }
    });

    html! {
        <div class="language-switch" role="group" aria-label={strings.language_switch_label}>
            { for buttons }
        </div>
    }
}
