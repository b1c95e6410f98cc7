//! The explanation panel: what an attention sink is, why softmax makes one
//! likely, what the G1 gate computes and why it ends up sparse, and the
//! numbers at scale from Qiu et al. 2025 (arXiv 2505.06708). The formulas
//! are MathML, which browsers render without a script.

use yew::prelude::*;

use super::use_strings;

/// The arXiv abstract page of Qiu et al. 2025.
const PAPER_URL: &str = "https://arxiv.org/abs/2505.06708";

/// Renders the explanation in the page language.
#[function_component(Explain)]
pub fn explain() -> Html {
    let strings = use_strings();

    html! {
        <section class="explain" data-testid="explain">
            <h2>{ strings.explain_heading }</h2>

            <h3>{ strings.explain_sink_heading }</h3>
            <p>{ strings.explain_sink }</p>
            <p>{ strings.explain_softmax }</p>
            { softmax_formula() }

            <h3>{ strings.explain_gate_heading }</h3>
            <p>{ strings.explain_gate }</p>
            { gate_formula() }
            <p>{ strings.explain_gate_terms }</p>

            <h3>{ strings.explain_sparse_heading }</h3>
            <p>{ strings.explain_sparse }</p>

            <h3>{ strings.explain_scale_heading }</h3>
            <p>{ strings.explain_scale }</p>
            <p class="note">
                { strings.explain_source }{ " " }
                { strings.paper_authors }{ " " }
                <cite lang="en">{ strings.paper_title }</cite>{ " " }
                <a href={PAPER_URL} rel="noopener">{ strings.paper_reference }</a>
            </p>
        </section>
    }
}

/// a_ij = exp(s_ij) / sum over k <= i of exp(s_ik), and the row sum over
/// j <= i is 1: the weights of query i over the keys up to i.
fn softmax_formula() -> Html {
    html! {
        <math display="block" data-testid="formula-softmax">
            <mrow>
                <msub><mi>{ "a" }</mi><mrow><mi>{ "i" }</mi><mi>{ "j" }</mi></mrow></msub>
                <mo>{ "=" }</mo>
                <mfrac>
                    <mrow>
                        <mi>{ "exp" }</mi>
                        <mrow>
                            <mo>{ "(" }</mo>
                            <msub><mi>{ "s" }</mi><mrow><mi>{ "i" }</mi><mi>{ "j" }</mi></mrow></msub>
                            <mo>{ ")" }</mo>
                        </mrow>
                    </mrow>
                    <mrow>
                        <munder><mo>{ "∑" }</mo><mrow><mi>{ "k" }</mi><mo>{ "≤" }</mo><mi>{ "i" }</mi></mrow></munder>
                        <mi>{ "exp" }</mi>
                        <mrow>
                            <mo>{ "(" }</mo>
                            <msub><mi>{ "s" }</mi><mrow><mi>{ "i" }</mi><mi>{ "k" }</mi></mrow></msub>
                            <mo>{ ")" }</mo>
                        </mrow>
                    </mrow>
                </mfrac>
                <mo>{ "," }</mo>
                <mspace width="2em" />
                <munder><mo>{ "∑" }</mo><mrow><mi>{ "j" }</mi><mo>{ "≤" }</mo><mi>{ "i" }</mi></mrow></munder>
                <msub><mi>{ "a" }</mi><mrow><mi>{ "i" }</mi><mi>{ "j" }</mi></mrow></msub>
                <mo>{ "=" }</mo>
                <mn>{ "1" }</mn>
            </mrow>
        </math>
    }
}

/// Y′ = Y ⊙ σ(X W_θ), with σ(z) = 1 / (1 + e^(-z)).
///
/// The prime follows Y as an operator, not as `<msup>`: the prime glyph is
/// already raised, and Chromium 156 (as tested) raises it a second time
/// inside `<msup>`. Each pair of parentheses has its own `<mrow>`,
/// because stretchy parentheses grow to the height of their row, which
/// otherwise includes the fraction.
fn gate_formula() -> Html {
    html! {
        <math display="block" data-testid="formula-gate">
            <mrow>
                <mrow><mi>{ "Y" }</mi><mo lspace="0" rspace="0" data-testid="formula-prime">{ "′" }</mo></mrow>
                <mo>{ "=" }</mo>
                <mi>{ "Y" }</mi>
                <mo>{ "⊙" }</mo>
                <mi>{ "σ" }</mi>
                <mrow>
                    <mo>{ "(" }</mo>
                    <mi>{ "X" }</mi>
                    <msub><mi>{ "W" }</mi><mi>{ "θ" }</mi></msub>
                    <mo>{ ")" }</mo>
                </mrow>
                <mo>{ "," }</mo>
                <mspace width="2em" />
                <mi>{ "σ" }</mi>
                <mrow><mo>{ "(" }</mo><mi>{ "z" }</mi><mo>{ ")" }</mo></mrow>
                <mo>{ "=" }</mo>
                <mfrac>
                    <mn>{ "1" }</mn>
                    <mrow>
                        <mn>{ "1" }</mn><mo>{ "+" }</mo>
                        <msup><mi>{ "e" }</mi><mrow><mo>{ "−" }</mo><mi>{ "z" }</mi></mrow></msup>
                    </mrow>
                </mfrac>
            </mrow>
        </math>
    }
}
