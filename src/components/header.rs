use yew::prelude::*;

use super::language_switch::LanguageSwitch;
use super::use_strings;
use crate::i18n::Lang;

#[derive(Properties, PartialEq)]
pub struct HeaderProps {
    /// Language the page is shown in.
    pub current: Lang,
    /// Called with the language that the user picks.
    pub on_select: Callback<Lang>,
}

/// Renders the page header: project name, tagline and language switch.
#[function_component(Header)]
pub fn header(props: &HeaderProps) -> Html {
    let strings = use_strings();

    html! {
        <header class="site-header">
            <div class="brand">
                <h1>{ strings.brand }</h1>
                <p class="tagline">{ strings.tagline }</p>
            </div>
            <LanguageSwitch current={props.current} on_select={props.on_select.clone()} />
        </header>
    }
}
