use yew::prelude::*;

use super::use_strings;

/// The arXiv abstract page of Qiu et al. 2025, the paper that the page follows.
const PAPER_URL: &str = "https://arxiv.org/abs/2505.06708";

/// Renders the page footer, which cites the paper that gatelab follows.
#[function_component(Footer)]
pub fn footer() -> Html {
    let strings = use_strings();

    html! {
        <footer class="site-footer">
            <p>
                { strings.footer_source }{ " " }
                { strings.paper_authors }{ " " }
                <cite lang="en">{ strings.paper_title }</cite>{ " " }
                <a href={PAPER_URL} rel="noopener">{ strings.paper_reference }</a>
            </p>
        </footer>
    }
}
