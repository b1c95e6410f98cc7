use yew::prelude::*;

use super::model_card::{ModelCard, Variant};
use super::use_strings;

/// Renders the baseline and the gated model side by side, with the metric
/// that separates them.
#[function_component(Comparison)]
pub fn comparison() -> Html {
    let strings = use_strings();

    html! {
        <section class="comparison">
            <h2>{ strings.comparison_heading }</h2>
            <div class="cards">
                <ModelCard variant={Variant::Baseline} />
                <ModelCard variant={Variant::Gated} />
            </div>
            <dl class="metric">
                <dt>{ strings.metric_name }</dt>
                <dd>{ strings.metric_definition }</dd>
            </dl>
        </section>
    }
}
