//! The probe panel: a sequence the user types, and both runs' attention,
//! gates and next-token predictions on it, refreshed while training.

use std::rc::Rc;

use web_sys::HtmlInputElement;
use yew::prelude::*;

use super::use_strings;
use crate::charts::{Heatmap, Matrix};
use crate::i18n::Strings;
use crate::probe::ProbeResult;
use crate::settings::PROBE_MAX_CHARS;

/// One run's column in the probe panel.
#[derive(Clone, PartialEq)]
pub struct ProbeRun {
    pub title: AttrValue,
    pub result: Option<Rc<ProbeResult>>,
}

#[derive(Properties, PartialEq)]
pub struct ProbeProps {
    /// The typed sequence.
    pub text: AttrValue,
    /// The validation message of the typed sequence, if it was rejected.
    pub error: Option<AttrValue>,
    /// How to type a sequence for the current task.
    pub hint: AttrValue,
    pub on_input: Callback<String>,
    /// Fills the field with probe sequence 0 of the task.
    pub on_use_batch: Callback<()>,
    pub runs: Vec<ProbeRun>,
    /// Token labels of the task, indexed by id.
    pub labels: Rc<Vec<String>>,
}

#[function_component(Probe)]
pub fn probe(props: &ProbeProps) -> Html {
    let strings = use_strings();
    let oninput = props.on_input.reform(|event: InputEvent| event.target_unchecked_into::<HtmlInputElement>().value());
    let on_use_batch = props.on_use_batch.reform(|_: MouseEvent| ());
    let error = props.error.as_ref().map(|message| {
        html! { <p class="notice error" role="alert" data-testid="probe-error">{ message.clone() }</p> }
    });
    let empty = props.text.trim().is_empty();

    html! {
        <section class="probe" data-testid="probe">
            <h3>{ strings.probe_heading }</h3>
            <p class="note">{ strings.probe_intro }</p>
            <label class="control">
                <span>{ strings.probe_input_label }</span>
                <input type="text" data-testid="probe-input" value={props.text.clone()} {oninput}
                    maxlength={PROBE_MAX_CHARS.to_string()} />
            </label>
            <p class="note">{ props.hint.clone() }</p>
            <button type="button" data-testid="probe-use-batch" onclick={on_use_batch}>{ strings.probe_use_batch }</button>
            { error }
            if !empty && props.error.is_none() {
                <div class="runs">
                    { for props.runs.iter().map(|run| probe_column(run, &props.labels, strings)) }
                </div>
            }
        </section>
    }
}

fn label_of(labels: &[String], id: u32) -> String {
    labels.get(id as usize).cloned().unwrap_or_else(|| id.to_string())
}

fn probe_column(run: &ProbeRun, labels: &[String], strings: &Strings) -> Html {
    let Some(result) = &run.result else {
        return html! {
            <article class="run"><h4>{ run.title.clone() }</h4><p class="waiting">{ strings.waiting }</p></article>
        };
    };
    let snapshot = &result.snapshot;
    let t = snapshot.seq_len;
    let tokens: Vec<String> = snapshot.tokens.iter().map(|&id| label_of(labels, id)).collect();
    let axis_names = Some((AttrValue::from(strings.axis_query), AttrValue::from(strings.axis_key)));

    let maps = (0..snapshot.layers).flat_map(|l| (0..snapshot.heads).map(move |h| (l, h))).map(|(l, h)| {
        let start = (l * snapshot.heads + h) * t * t;
        let values = snapshot.attention.get(start..start + t * t).map(<[f32]>::to_vec).unwrap_or_default();
        let matrix = Rc::new(Matrix { rows: t, cols: t, values, max: 1.0, row_labels: tokens.clone(), col_labels: tokens.clone() });
        let title = strings.chart_zoom.replace("{layer}", &(l + 1).to_string()).replace("{head}", &(h + 1).to_string());
        html! {
            <figure class="chart">
                <figcaption>{ title }</figcaption>
                <Heatmap {matrix} width={300} height={280} axis_names={axis_names.clone()} testid="probe-attention" />
            </figure>
        }
    });

    let gates = snapshot.gate_map.as_ref().map(|values| {
        let rows = snapshot.layers * snapshot.heads;
        let row_labels = (0..rows).map(|r| format!("L{} H{}", r / snapshot.heads + 1, r % snapshot.heads + 1)).collect();
        let matrix = Rc::new(Matrix { rows, cols: t, values: values.clone(), max: 1.0, row_labels, col_labels: tokens.clone() });
        let axis_names = Some((AttrValue::from(strings.axis_head), AttrValue::from(strings.axis_position)));
        html! {
            <figure class="chart">
                <figcaption>{ strings.chart_gate_map }</figcaption>
                <Heatmap {matrix} width={300} height={120} {axis_names} testid="probe-gates" />
            </figure>
        }
    });

    // The prediction after the last typed token is the one a reader asks about.
    let last = result.predictions.len().saturating_sub(1);
    let after = tokens.get(last).cloned().unwrap_or_default();
    let predictions = result.predictions.get(last).map(|row| {
        html! {
            <table class="predictions" data-testid="probe-predictions">
                <caption>{ strings.probe_predictions.replace("{token}", &after) }</caption>
                <thead><tr><th>{ strings.probe_token }</th><th>{ strings.probe_probability }</th></tr></thead>
                <tbody>
                    { for row.iter().map(|&(id, p)| html! {
                        <tr><td>{ label_of(labels, id) }</td><td>{ format!("{p:.3}") }</td></tr>
                    }) }
                </tbody>
            </table>
        }
    });

    html! {
        <article class="run" data-testid="probe-run">
            <h4>{ run.title.clone() }</h4>
            { predictions }
            { for maps }
            { gates.unwrap_or_else(|| html! { <p class="note">{ strings.no_gate }</p> }) }
        </article>
    }
}
