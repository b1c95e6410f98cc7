//! One run's column: its variant select, F-Attn read-out and every chart.

use std::rc::Rc;

use gatelab_model::{Metrics, Snapshot};
use wasm_bindgen::JsCast;
use web_sys::HtmlSelectElement;
use yew::prelude::*;

use super::playground::variant_options;
use super::use_strings;
use super::variant_knobs::VariantKnobs;
use crate::a11y::arrow_move;
use crate::charts::{Heatmap, Histogram, LineChart, Matrix, Series};
use crate::i18n::Strings;

#[derive(Properties, PartialEq)]
pub struct RunPanelProps {
    pub title: AttrValue,
    pub variant: String,
    pub has_gate: bool,
    pub on_variant: Callback<String>,
    pub history: Rc<Vec<Metrics>>,
    pub snapshot: Option<Rc<Snapshot>>,
    pub labels: Rc<Vec<String>>,
    pub zoom: (usize, usize),
    pub on_zoom: Callback<(usize, usize)>,
    /// Steps and tokens per second while training, or empty.
    pub speed: String,
    pub failed: Option<String>,
    /// Shows the variant as text instead of a select, for a classroom link
    /// that hides the variant selects.
    #[prop_or_default]
    pub hide_variant: bool,
    /// A run imported from its JSON: the variant is shown, not chosen, and
    /// there are no attention maps.
    #[prop_or_default]
    pub imported: bool,
}

/// Renders one run: controls, read-outs and charts.
#[function_component(RunPanel)]
pub fn run_panel(props: &RunPanelProps) -> Html {
    let strings = use_strings();
    let onchange = props.on_variant.reform(|event: Event| event.target_unchecked_into::<HtmlSelectElement>().value());
    let last = props.history.last();
    let f_attn = last.map_or("–".to_string(), |m| format!("{:.3}", m.f_attn));
    let loss = last.and_then(|m| m.train_loss).map_or("–".to_string(), |l| format!("{l:.3}"));

    let failed = props.failed.as_ref().map(|error| {
        let text = strings.run_failed.replace("{run}", &props.title).replace("{error}", error);
        html! { <p class="notice error" role="alert">{ text }</p> }
    });

    html! {
        <article class="run">
            <header class="run-header">
                <h3>{ props.title.clone() }</h3>
                if props.hide_variant || props.imported {
                    <p class="control">
                        <span>{ strings.variant_label }</span>{ " " }
                        <strong data-testid="variant-name">{ props.variant.clone() }</strong>
                    </p>
                } else {
                    <label class="control">
                        <span>{ strings.variant_label }</span>
                        <select data-testid="variant-select" {onchange}>
                            { for variant_options(&props.variant).into_iter().map(|name| {
                                let selected = name == props.variant;
                                html! { <option value={name.clone()} {selected}>{ name }</option> }
                            }) }
                        </select>
                    </label>
                }
                <p class="f-attn">{ "F-Attn " }<strong data-testid="f-attn">{ f_attn }</strong></p>
                <p class="f-attn">{ strings.series_train_loss }{ " " }<strong data-testid="loss">{ loss }</strong></p>
                <p class="speed" data-testid="speed">{ props.speed.clone() }</p>
                // The knobs change the variant as the select does, so they go
                // wherever the select goes: an imported run cannot be retrained.
                if !(props.hide_variant || props.imported) {
                    <VariantKnobs variant={props.variant.clone()} on_change={props.on_variant.clone()} />
                }
            </header>
            { failed }
            { attention_panel(props, strings) }
            { metric_charts(props, strings) }
        </article>
    }
}

/// Returns the (T, T) attention of one head as a matrix labelled with tokens.
fn attention_matrix(snapshot: &Snapshot, labels: &[String], layer: usize, head: usize, labelled: bool) -> Matrix {
    let t = snapshot.seq_len;
    let start = (layer * snapshot.heads + head) * t * t;
    let values = snapshot.attention.get(start..start + t * t).map(<[f32]>::to_vec).unwrap_or_default();
    let tokens: Vec<String> = if labelled { token_labels(snapshot, labels) } else { Vec::new() };
    Matrix { rows: t, cols: t, values, max: 1.0, row_labels: tokens.clone(), col_labels: tokens }
}

fn token_labels(snapshot: &Snapshot, labels: &[String]) -> Vec<String> {
    snapshot
        .tokens
        .iter()
        .map(|&id| labels.get(id as usize).cloned().unwrap_or_else(|| id.to_string()))
        .collect()
}

fn attention_panel(props: &RunPanelProps, strings: &Strings) -> Html {
    let Some(snapshot) = &props.snapshot else {
        if props.imported {
            return html! { <section class="panel attention"><p class="note">{ strings.imported_no_attention }</p></section> };
        }
        return html! { <section class="panel attention"><p class="waiting">{ strings.waiting }</p></section> };
    };
    let (layer, head) = props.zoom;
    let (layer, head) = if layer < snapshot.layers && head < snapshot.heads { (layer, head) } else { (0, 0) };

    let cells = (0..snapshot.layers).flat_map(|l| (0..snapshot.heads).map(move |h| (l, h))).map(|(l, h)| {
        let matrix = Rc::new(attention_matrix(snapshot, &props.labels, l, h, false));
        let onclick = props.on_zoom.reform(move |_: MouseEvent| (l, h));
        let pressed = (l, h) == (layer, head);
        // One cell of the grid is in the tab order; the arrow keys move
        // between the cells.
        let tabindex = if pressed { "0" } else { "-1" };
        let label = AttrValue::from(format!("L{} H{}", l + 1, h + 1));
        html! {
            <button type="button" class="cell" aria-pressed={pressed.to_string()} {tabindex} {onclick}>
                <Heatmap {matrix} width={96} height={96} legend={false} testid="attention-cell" {label} />
                <span>{ format!("L{} H{}", l + 1, h + 1) }</span>
            </button>
        }
    });
    let onkeydown = grid_keys(props.on_zoom.clone(), (layer, head), (snapshot.layers, snapshot.heads));
    let zoom = Rc::new(attention_matrix(snapshot, &props.labels, layer, head, true));
    let zoom_title = strings.chart_zoom.replace("{layer}", &(layer + 1).to_string()).replace("{head}", &(head + 1).to_string());
    let axis_names = Some((AttrValue::from(strings.axis_query), AttrValue::from(strings.axis_key)));

    html! {
        <section class="panel attention">
            <h4>{ strings.chart_attention }</h4>
            <div class={format!("cells heads-{}", snapshot.heads)} role="group" aria-label={strings.chart_attention}
                data-testid="attention-grid" {onkeydown}>{ for cells }</div>
            <p class="note">{ strings.attention_keys_hint }</p>
            <h4>{ zoom_title.clone() }</h4>
            <Heatmap matrix={zoom} width={440} height={420} {axis_names} testid="attention-zoom" label={zoom_title} />
        </section>
    }
}

/// Moves the zoom with the arrow keys on the grid of attention cells, and
/// the focus with it to the cell that is now pressed.
fn grid_keys(on_zoom: Callback<(usize, usize)>, zoom: (usize, usize), shape: (usize, usize)) -> Callback<KeyboardEvent> {
    Callback::from(move |event: KeyboardEvent| {
        let Some((layer, head)) = arrow_move(&event.key(), zoom, shape) else {
            return;
        };
        event.prevent_default();
        on_zoom.emit((layer, head));
        // Yew delegates events to the app's root, so `current_target` is not
        // the grid; the grid is found from the focused cell instead.
        let cell = event
            .target()
            .and_then(|target| target.dyn_into::<web_sys::Element>().ok())
            .and_then(|target| target.closest("[data-testid=\"attention-grid\"]").ok().flatten())
            .and_then(|grid| grid.children().item((layer * shape.1 + head) as u32))
            .and_then(|cell| cell.dyn_into::<web_sys::HtmlElement>().ok());
        if let Some(cell) = cell {
            // The focus may move before the re-render sets this cell's
            // tabindex to 0; a button with tabindex -1 can still take focus.
            let _ = cell.focus();
        }
    })
}

/// Returns `(step, value)` points of the metrics that have the value.
fn points(history: &[Metrics], value: impl Fn(&Metrics) -> Option<f64>) -> Vec<(f64, f64)> {
    history.iter().filter_map(|m| value(m).map(|v| (m.step as f64, v))).collect()
}

fn series(label: &str, color: usize, dashed: bool, points: Vec<(f64, f64)>) -> Series {
    Series { label: label.to_string(), points, color, dashed }
}

fn metric_charts(props: &RunPanelProps, strings: &Strings) -> Html {
    let history = &props.history;
    let x_label = AttrValue::from(strings.axis_step);

    let f_attn = Rc::new(vec![
        series(strings.series_f_attn, 0, false, points(history, |m| Some(m.f_attn))),
        series(strings.series_sink_heads, 1, false, points(history, |m| Some(m.sink_heads))),
        series(strings.series_uniform, 2, true, points(history, |m| Some(m.f_attn_uniform))),
    ]);

    let layers = history.last().map_or(0, |m| m.m_act_layers.len());
    let m_act = Rc::new(
        (0..layers)
            .map(|l| {
                let label = strings.series_layer.replace("{layer}", &(l + 1).to_string());
                series(&label, l, false, points(history, |m| m.m_act_layers.get(l).copied()))
            })
            .collect::<Vec<_>>(),
    );

    let loss = Rc::new(vec![
        series(strings.series_train_loss, 0, false, points(history, |m| m.train_loss)),
        series(strings.series_val_loss, 1, false, points(history, |m| Some(m.val_loss))),
    ]);

    let gate_copy = Rc::new(vec![
        series(strings.series_gate_copy, 0, false, points(history, |m| m.gate.as_ref().and_then(|g| g.active_mean))),
        series(strings.series_gate_other, 1, false, points(history, |m| m.gate.as_ref().and_then(|g| g.dormant_mean))),
        series(strings.series_bos_norm, 2, true, points(history, |m| Some(m.bos_value_norm))),
    ]);

    html! {
        <>
            <section class="panel f-attn-chart">
                <LineChart title={strings.chart_f_attn} x_label={x_label.clone()} series={f_attn} y_range={Some((0.0, 1.0))} testid="chart-f-attn" />
            </section>
            // A run without a gate keeps the gate charts' row with a note, so
            // that the charts below line up with the other run's.
            <section class="panel gate-charts" data-testid="gate-charts">
                { gate_panels(props, strings) }
            </section>
            <section class="panel gate-copy">
                <LineChart title={strings.chart_gate_copy} x_label={x_label.clone()} series={gate_copy} testid="chart-gate-copy" />
                <p class="note">{ strings.gate_copy_note }</p>
            </section>
            <section class="panel m-act">
                <LineChart title={strings.chart_m_act} x_label={x_label.clone()} series={m_act} testid="chart-m-act" />
            </section>
            <section class="panel loss">
                <LineChart title={strings.chart_loss} {x_label} series={loss} testid="chart-loss" />
            </section>
        </>
    }
}

fn gate_panels(props: &RunPanelProps, strings: &Strings) -> Html {
    if !props.has_gate {
        return html! { <p class="note">{ strings.no_gate }</p> };
    }
    // A gated run shows its gate panels once the first metrics arrive.
    let Some(gate) = props.history.last().and_then(|m| m.gate.as_ref()) else {
        return html! { <p class="note">{ strings.waiting }</p> };
    };
    let bins = Rc::new(gate.histogram.clone());
    let map = props.snapshot.as_ref().and_then(|snapshot| {
        let values = snapshot.gate_map.clone()?;
        let rows = snapshot.layers * snapshot.heads;
        let row_labels =
            (0..rows).map(|r| format!("L{} H{}", r / snapshot.heads + 1, r % snapshot.heads + 1)).collect();
        Some(Rc::new(Matrix {
            rows,
            cols: snapshot.seq_len,
            values,
            max: 1.0,
            row_labels,
            col_labels: token_labels(snapshot, &props.labels),
        }))
    });
    let axis_names = Some((AttrValue::from(strings.axis_head), AttrValue::from(strings.axis_position)));
    html! {
        <>
            <Histogram title={strings.chart_gate_hist} x_label={strings.axis_gate} label={strings.series_gate_share} {bins} />
            if let Some(matrix) = map {
                <h4>{ strings.chart_gate_map }</h4>
                <Heatmap {matrix} width={440} height={150} {axis_names} testid="gate-map" label={strings.chart_gate_map} />
            }
        </>
    }
}
