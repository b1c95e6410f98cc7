//! The training playground: two runs from the same seed, their engines, the
//! controls, and the settings kept in the page address.

use std::rc::Rc;

use gatelab_model::{Metrics, RunConfig, Snapshot, Variant, NAMED_VARIANTS};
use web_sys::HtmlSelectElement;
use yew::prelude::*;

use super::run_panel::RunPanel;
use crate::engine::{detect_backend, Backend, CpuReason, Driver};
use crate::i18n::{Lang, Strings};
use crate::protocol::{Reply, Request};
use crate::settings::{Rejection, Settings, TaskChoice};

mod store;
mod text;
use store::{Store, StoreMsg};
use text::{TextMsg, TextState};

/// The lesson used on the CPU fallback, where the default lesson (batch 64)
/// trains too slowly on a weak machine: the same model and learning rate with
/// half the batch, so a step costs half as much. Measured with `gatelab compare
/// --variants baseline,g1 --batch 32 --steps 1500 --seed S` (the command line's
/// CPU engine): final F-Attn of the baseline 0.894, 0.865, 0.813 and of G1
/// 0.153, 0.146, 0.163 for seeds 0, 1 and 2. Width 32 separated them less: at
/// batch 64 and lr 3e-3, G1 ended at 0.69, 0.41, 0.43; at batch 32 and lr 1e-2,
/// at 0.56, 0.27, 0.38.
pub fn cpu_lesson() -> Settings {
    let mut config = RunConfig::lesson();
    config.train.batch = 32;
    Settings::from_config(&config, ["baseline".into(), "g1".into()], 1500)
}

/// Progress of one run as the page sees it.
#[derive(Default)]
struct RunState {
    driver: Option<Driver>,
    history: Rc<Vec<Metrics>>,
    snapshot: Option<Rc<Snapshot>>,
    labels: Rc<Vec<String>>,
    step: usize,
    started: bool,
    /// A request is in flight.
    busy: bool,
    failed: Option<String>,
    /// When the request in flight was sent (ms) and how many steps it asked for.
    sent_at: f64,
    sent_steps: usize,
    /// Smoothed steps per second.
    rate: Option<f64>,
    /// Layer and head shown in the zoomed attention map.
    zoom: (usize, usize),
}

pub enum Msg {
    Backend(Backend),
    Reply(usize, Reply),
    TogglePlay,
    StepOnce,
    Reset,
    NewSeed,
    Set(&'static str, String),
    Zoom(usize, (usize, usize)),
    Store(StoreMsg),
    Text(TextMsg),
}

#[derive(Properties, PartialEq)]
pub struct PlaygroundProps {
    pub lang: Lang,
}

pub struct Playground {
    settings: Settings,
    /// Whether the address gave any setting; without one, the CPU fallback
    /// switches to [`cpu_lesson`].
    from_url: bool,
    rejections: Vec<Rejection>,
    backend: Option<Backend>,
    gpu_failure: Option<String>,
    playing: bool,
    generation: u32,
    runs: [RunState; 2],
    store: Store,
    text: TextState,
}

fn now_ms() -> f64 {
    js_sys::Date::now()
}

impl Component for Playground {
    type Message = Msg;
    type Properties = PlaygroundProps;

    fn create(ctx: &Context<Self>) -> Self {
        let query = gloo::utils::window().location().search().unwrap_or_default();
        let (settings, rejections) = Settings::from_query(&query, &Settings::lesson());
        let from_url = query.trim_start_matches('?').split('&').any(|pair| !pair.is_empty());
        ctx.link().send_future(async { Msg::Backend(detect_backend().await) });
        let playground = Playground {
            settings,
            from_url,
            rejections,
            backend: None,
            gpu_failure: None,
            playing: false,
            generation: 0,
            runs: Default::default(),
            store: Store::default(),
            text: TextState::default(),
        };
        playground.start_store(ctx);
        playground
    }

    fn update(&mut self, ctx: &Context<Self>, msg: Msg) -> bool {
        match msg {
            Msg::Backend(backend) => {
                if matches!(backend, Backend::Cpu(_)) && !self.from_url {
                    self.settings = cpu_lesson();
                }
                self.backend = Some(backend);
                self.restart(ctx, true);
            }
            Msg::Reply(index, reply) => self.receive(ctx, index, reply),
            Msg::TogglePlay => {
                self.playing = !self.playing;
                if self.playing && self.runs.iter().all(|run| run.step >= self.settings.steps) {
                    self.restart(ctx, false);
                }
                self.pump(ctx);
                for index in 0..2 {
                    self.save_if_due(index);
                }
            }
            Msg::StepOnce => {
                self.playing = false;
                for index in 0..2 {
                    self.send_train(index);
                }
            }
            Msg::Reset => self.restart(ctx, false),
            Msg::NewSeed => {
                self.settings.seed = (js_sys::Math::random() * 1e9) as u64;
                self.restart(ctx, false);
            }
            Msg::Set(key, value) => {
                match self.settings.set(key, &value) {
                    Ok(()) => self.rejections.clear(),
                    Err(rejection) => self.rejections = vec![rejection],
                }
                // Steps per frame and the training length change no run.
                if key != "spf" && key != "steps" {
                    self.restart(ctx, false);
                }
            }
            Msg::Zoom(index, zoom) => self.runs[index].zoom = zoom,
            Msg::Store(msg) => self.store_update(ctx, msg),
            Msg::Text(msg) => self.text_update(ctx, msg),
        }
        self.write_url();
        true
    }

    fn view(&self, ctx: &Context<Self>) -> Html {
        let strings = ctx.props().lang.strings();
        let link = ctx.link();

        let notices = self.rejections.iter().map(|rejection| {
            let text = strings
                .url_rejected
                .replace("{field}", &rejection.field)
                .replace("{value}", &rejection.value)
                .replace("{allowed}", &rejection.allowed);
            html! { <p class="notice error" role="alert" data-testid="url-error">{ text }</p> }
        });
        let gpu_notice = self.gpu_failure.as_ref().map(|error| {
            html! { <p class="notice" role="alert">{ strings.gpu_failed.replace("{error}", error) }</p> }
        });
        let cpu_note = match &self.backend {
            Some(Backend::Cpu(_)) if !self.from_url => html! { <p class="note">{ strings.cpu_lesson_note }</p> },
            _ => html! {},
        };

        let started: Vec<usize> = self.runs.iter().filter(|run| run.started).map(|run| run.step).collect();
        let step = started.iter().copied().min().unwrap_or(0);
        let counter = strings
            .step_counter
            .replace("{step}", &step.to_string())
            .replace("{total}", &self.settings.steps.to_string());

        let panels = (0..2).map(|index| {
            let run = &self.runs[index];
            let title = if index == 0 { strings.run_a_title } else { strings.run_b_title };
            let on_variant = link.callback(move |value: String| Msg::Set(if index == 0 { "a" } else { "b" }, value));
            let on_zoom = link.callback(move |zoom| Msg::Zoom(index, zoom));
            let tokens_per_step = (self.settings.batch * self.settings.seq_len) as f64;
            let speed = match (self.playing, run.rate) {
                (true, Some(rate)) => strings
                    .speed
                    .replace("{steps}", &format!("{rate:.0}"))
                    .replace("{tokens}", &format!("{:.0}", rate * tokens_per_step)),
                _ => String::new(),
            };
            let variant = Variant::parse(&self.settings.variants[index]).unwrap_or_default();
            html! {
                <RunPanel
                    {title}
                    variant={self.settings.variants[index].clone()}
                    has_gate={variant.has_gate()}
                    {on_variant}
                    history={run.history.clone()}
                    snapshot={run.snapshot.clone()}
                    labels={run.labels.clone()}
                    zoom={run.zoom}
                    {on_zoom}
                    {speed}
                    failed={run.failed.clone()}
                />
            }
        });

        html! {
            <section class="playground">
                <h2>{ strings.playground_heading }</h2>
                { self.badge(strings) }
                { for notices }
                { gpu_notice }
                { cpu_note }
                { self.controls(ctx, strings) }
                { self.store_view(ctx, strings, ctx.props().lang) }
                { self.text_view(ctx, strings) }
                <p class="step-counter" data-testid="step-counter" aria-live="off">{ counter }</p>
                <p class="note">{ strings.loss_note }</p>
                <div class="runs">{ for panels }</div>
                { self.imported_view(ctx, strings) }
            </section>
        }
    }
}

impl Playground {
    fn badge(&self, strings: &Strings) -> Html {
        // The browser's adapter error is long and technical, so it goes into
        // the badge's tooltip rather than its text.
        let mut detail = String::new();
        let (class, text) = match &self.backend {
            None => ("badge", strings.backend_detecting.to_string()),
            Some(Backend::WebGpu { description, .. }) if description.is_empty() => ("badge gpu", "WebGPU".to_string()),
            Some(Backend::WebGpu { description, .. }) => ("badge gpu", format!("WebGPU ({description})")),
            Some(Backend::Cpu(reason)) => {
                let reason = match reason {
                    CpuReason::NoWebGpu => strings.reason_no_webgpu.to_string(),
                    CpuReason::NoAdapter(error) => {
                        detail = error.clone();
                        strings.reason_no_adapter.to_string()
                    }
                    CpuReason::Error(error) => strings.reason_error.replace("{error}", error),
                };
                ("badge cpu", strings.backend_cpu.replace("{reason}", &reason))
            }
        };
        html! {
            <p class="backend-line">
                { strings.backend_label }{ " " }
                <span {class} title={detail} data-testid="backend-badge">{ text }</span>
            </p>
        }
    }

    fn controls(&self, ctx: &Context<Self>, strings: &Strings) -> Html {
        let link = ctx.link();
        let s = &self.settings;
        let select = |key: &'static str, label: &'static str, options: Vec<(String, String)>, current: String| {
            let onchange = link.callback(move |event: Event| {
                let value = event.target_unchecked_into::<HtmlSelectElement>().value();
                Msg::Set(key, value)
            });
            html! {
                <label class="control">
                    <span>{ label }</span>
                    <select name={key} {onchange}>
                        { for options.into_iter().map(|(value, text)| {
                            let selected = value == current;
                            html! { <option {value} {selected}>{ text }</option> }
                        }) }
                    </select>
                </label>
            }
        };
        let numbers = |values: &[usize]| values.iter().map(|v| (v.to_string(), v.to_string())).collect::<Vec<_>>();
        let widths: Vec<usize> = (1..=8).map(|k| k * 16).collect();
        let lengths: Vec<usize> = (1..=8).map(|k| k * 16).collect();
        let mut lrs: Vec<f64> = vec![1e-3, 3e-3, 5e-3, 1e-2, 3e-2];
        if !lrs.contains(&s.lr) {
            lrs.push(s.lr);
        }
        let tasks = TaskChoice::ALL
            .iter()
            .map(|task| {
                let text = match task {
                    TaskChoice::BigramBackcopy => strings.task_bigram,
                    TaskChoice::TextEnglish => strings.task_text_en,
                    TaskChoice::TextJapanese => strings.task_text_ja,
                    TaskChoice::Copy => strings.task_copy,
                    TaskChoice::TextCustom => strings.task_text_custom,
                };
                (task.key().to_string(), text.to_string())
            })
            .collect();
        let with_current = |mut values: Vec<usize>, current: usize| {
            if !values.contains(&current) {
                values.push(current);
                values.sort_unstable();
            }
            numbers(&values)
        };

        let play_text = if self.playing { strings.pause } else { strings.play };
        html! {
            <div class="controls">
                <div class="buttons">
                    <button type="button" data-testid="play" aria-pressed={self.playing.to_string()}
                        onclick={link.callback(|_| Msg::TogglePlay)}>{ play_text }</button>
                    <button type="button" data-testid="step" onclick={link.callback(|_| Msg::StepOnce)}>{ strings.single_step }</button>
                    <button type="button" data-testid="reset" onclick={link.callback(|_| Msg::Reset)}>{ strings.reset }</button>
                    <button type="button" data-testid="new-seed" onclick={link.callback(|_| Msg::NewSeed)}>{ strings.new_seed }</button>
                    <span class="seed">{ strings.seed_label }{ " " }{ s.seed }</span>
                </div>
                <div class="settings">
                    { select("spf", strings.steps_per_frame, with_current(vec![1, 2, 5, 10, 20, 50], s.steps_per_frame), s.steps_per_frame.to_string()) }
                    { select("lr", strings.learning_rate, lrs.iter().map(|lr| (lr.to_string(), lr.to_string())).collect(), s.lr.to_string()) }
                    { select("batch", strings.batch_label, with_current(vec![4, 8, 16, 32, 64, 128, 256], s.batch), s.batch.to_string()) }
                    { select("layers", strings.layers_label, numbers(&[1, 2, 3, 4]), s.layers.to_string()) }
                    { select("heads", strings.heads_label, numbers(&[1, 2, 4, 8]), s.heads.to_string()) }
                    { select("width", strings.width_label, with_current(widths, s.width), s.width.to_string()) }
                    { select("seq_len", strings.seq_len_label, with_current(lengths, s.seq_len), s.seq_len.to_string()) }
                    { select("task", strings.task_label, tasks, s.task.key().to_string()) }
                    { select("steps", strings.steps_label, with_current(vec![500, 1000, 1500, 3000, 10000], s.steps), s.steps.to_string()) }
                </div>
            </div>
        }
    }

    /// Starts both runs again from the same seed, in a new generation so that
    /// replies of the old runs are dropped. With `new_drivers`, the engines
    /// are made anew for the current backend.
    fn restart(&mut self, ctx: &Context<Self>, new_drivers: bool) {
        let Some(backend) = self.backend.clone() else {
            return;
        };
        self.generation += 1;
        self.store_restarted();
        for index in 0..2 {
            let run = &mut self.runs[index];
            let zoom = run.zoom;
            let driver = if new_drivers { None } else { run.driver.take() };
            *run = RunState { zoom, ..Default::default() };
            let driver = driver.unwrap_or_else(|| {
                Driver::new(&backend, ctx.link().callback(move |reply| Msg::Reply(index, reply)))
            });
            driver.send(Request::Start { generation: self.generation, config: self.settings.run_config(index) });
            run.driver = Some(driver);
            run.busy = true;
        }
    }

    fn receive(&mut self, ctx: &Context<Self>, index: usize, reply: Reply) {
        if reply.generation() != self.generation {
            return;
        }
        let run = &mut self.runs[index];
        run.busy = false;
        match reply {
            Reply::Started { labels, metrics, snapshot, .. } => {
                let metrics_step = metrics.step;
                run.started = true;
                run.labels = Rc::new(labels);
                run.history = Rc::new(vec![metrics]);
                run.snapshot = Some(Rc::new(snapshot));
                run.step = metrics_step;
                self.store_started(index);
            }
            Reply::Trained { step, metrics, snapshot, .. } => {
                let seconds = (now_ms() - run.sent_at) / 1000.0;
                if seconds > 0.0 && run.sent_steps > 0 {
                    let rate = run.sent_steps as f64 / seconds;
                    run.rate = Some(run.rate.map_or(rate, |old| 0.7 * old + 0.3 * rate));
                }
                run.step = step;
                if !metrics.is_empty() {
                    let mut history = (*run.history).clone();
                    history.extend(metrics);
                    run.history = Rc::new(history);
                }
                if let Some(snapshot) = snapshot {
                    run.snapshot = Some(Rc::new(snapshot));
                }
            }
            Reply::Saved { checkpoint, .. } => self.store_saved(ctx, index, checkpoint),
            Reply::Failed { message, .. } => {
                if let Some(Backend::WebGpu { .. }) = self.backend {
                    // A GPU error moves both runs to the CPU.
                    self.gpu_failure = Some(message.clone());
                    self.backend = Some(Backend::Cpu(CpuReason::Error(message)));
                    self.restart(ctx, true);
                    return;
                }
                run.failed = Some(message);
            }
        }
        self.save_if_due(index);
        self.pump(ctx);
    }

    /// Sends the next chunk to every idle run while playing; stops playing
    /// once both runs reach the training length.
    fn pump(&mut self, _ctx: &Context<Self>) {
        if !self.playing {
            return;
        }
        for index in 0..2 {
            self.send_train(index);
        }
        let done = self.runs.iter().all(|run| run.step >= self.settings.steps || run.failed.is_some());
        if done {
            self.playing = false;
            for index in 0..2 {
                self.save_if_due(index);
            }
        }
    }

    fn send_train(&mut self, index: usize) {
        let total = self.settings.steps;
        let per_frame = self.settings.steps_per_frame;
        let generation = self.generation;
        let run = &mut self.runs[index];
        if run.busy || !run.started || run.failed.is_some() || run.step >= total {
            return;
        }
        let Some(driver) = &run.driver else {
            return;
        };
        let steps = per_frame.min(total - run.step);
        run.busy = true;
        run.sent_at = now_ms();
        run.sent_steps = steps;
        driver.send(Request::Train { generation, steps });
    }

    /// Writes the settings into the address without adding a history entry.
    fn write_url(&self) {
        let window = gloo::utils::window();
        let Ok(history) = window.history() else {
            return;
        };
        let url = format!("?{}", self.settings.to_query());
        // Failing to update the address only loses the link, not the run.
        let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&url));
    }
}

/// Options of a run's variant select: the named variants, plus the current
/// one when it is a knob combination.
pub fn variant_options(current: &str) -> Vec<String> {
    let mut options: Vec<String> = NAMED_VARIANTS.iter().map(|name| name.to_string()).collect();
    if !options.iter().any(|name| name == current) {
        options.push(current.to_string());
    }
    options
}
