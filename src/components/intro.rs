use yew::prelude::*;

use super::use_strings;

/// Renders what gatelab will do, what an attention sink is, and its status.
#[function_component(Intro)]
pub fn intro() -> Html {
    let strings = use_strings();

    html! {
        <section class="intro">
            <h2>{ strings.intro_heading }</h2>
            <p>{ strings.intro_body }</p>
            <p>{ strings.intro_sink }</p>
            <p class="notice" role="status">{ strings.intro_status }</p>
        </section>
    }
}
