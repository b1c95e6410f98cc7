use yew::prelude::*;

use super::use_strings;

/// The two model variants that gatelab trains side by side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    /// Standard softmax attention.
    Baseline,
    /// Softmax attention whose per-head output is scaled by a sigmoid gate.
    Gated,
}

#[derive(Properties, PartialEq)]
pub struct ModelCardProps {
    pub variant: Variant,
}

/// Renders a card that describes one model variant and its expected outcome.
#[function_component(ModelCard)]
pub fn model_card(props: &ModelCardProps) -> Html {
    let strings = use_strings();

    let (class, title, body, expectation) = match props.variant {
        Variant::Baseline => (
            "card baseline",
            strings.baseline_title,
            strings.baseline_body,
            strings.baseline_expectation,
        ),
        Variant::Gated => (
            "card gated",
            strings.gated_title,
            strings.gated_body,
            strings.gated_expectation,
        ),
    };

    html! {
        <article {class}>
            <h3>{ title }</h3>
            <p>{ body }</p>
            <p class="expectation">{ expectation }</p>
        </article>
    }
}
