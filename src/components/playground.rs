//! The training playground: two runs from the same seed, their engines, the
//! controls, and the settings kept in the page address.

use std::rc::Rc;

use gatelab_model::{Metrics, RunConfig, Snapshot, Variant, NAMED_VARIANTS};
use web_sys::HtmlSelectElement;
use yew::prelude::*;

use super::classroom::Classroom;
use super::lessons::Lessons;
use super::probe::{Probe, ProbeRun};
use super::run_panel::RunPanel;
use crate::device_loss::{self, DeviceLost, GpuCheckpoint};
use crate::engine::{detect_backend, Backend, CpuReason, Driver};
use crate::i18n::{Lang, Strings};
use crate::probe::{format_probe, parse_probe, ProbeError, ProbeInput, ProbeResult};
use crate::protocol::{EngineError, Reply, Request};
use crate::engine_error::InternalCause;
use crate::settings::{ClassroomState, ControlGroup, Rejection, Settings, TaskChoice};
use crate::speed;

mod pace;
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
    failed: Option<EngineError>,
    /// Set when a step's loss or gradient norm was not finite.
    diverged: Option<Divergence>,
    /// When the request in flight was sent (ms) and how many steps it asked for.
    sent_at: f64,
    sent_steps: usize,
    /// Smoothed steps per second.
    rate: Option<f64>,
    /// Layer and head shown in the zoomed attention map.
    zoom: (usize, usize),
    /// The model's view of the typed probe sequence.
    probe: Option<Rc<ProbeResult>>,
    /// The model or the sequence changed since the last probe.
    probe_stale: bool,
}

/// A run's divergence, as the engine reported it.
struct Divergence {
    step: usize,
    what: String,
    value: String,
    lr: f64,
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
    /// A lesson sentence was clicked, with the lesson's key.
    Lesson(&'static str),
    /// A classroom tick box changed: the group and whether it is now hidden.
    Hide(ControlGroup, bool),
    /// The probe field changed.
    ProbeText(String),
    /// Fill the probe field with probe sequence 0.
    ProbeFromBatch,
    /// A GPU device was lost (or a GPU run failed).
    DeviceLost(DeviceLost),
    /// The backend found after a lost device, with the loss's error.
    DeviceReplaced(EngineError, Backend),
    #[cfg(feature = "test-hooks")]
    TestHook(crate::test_hooks::HookRequest),
    Store(StoreMsg),
    Text(TextMsg),
}

/// Times the page makes a new GPU device after a loss or a GPU error before
/// it moves to the CPU for good, so that a fault that repeats on every new
/// device cannot loop.
const MAX_GPU_RECOVERIES: u32 = 2;

/// A new GPU device took over from `step` after the error `error`.
struct DeviceNotice {
    error: EngineError,
    step: usize,
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
    /// The lesson, language and hidden controls that the link carries.
    classroom: ClassroomState,
    /// The typed probe sequence's tokens once they parse, or why they do not.
    probe_tokens: Option<Vec<u32>>,
    probe_error: Option<ProbeError>,
    backend: Option<Backend>,
    gpu_failure: Option<EngineError>,
    playing: bool,
    generation: u32,
    runs: [RunState; 2],
    device_notice: Option<DeviceNotice>,
    gpu_recoveries: u32,
    /// Each run's config and CPU copy, kept while a new device is requested.
    pending_resume: [Option<(RunConfig, GpuCheckpoint)>; 2],
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
        let (classroom, mut rejections) = ClassroomState::from_query(&query);
        // A lesson in the link sets the runs; the link's other settings then
        // apply on top of it.
        let defaults = match classroom.lesson {
            Some(lesson) => lesson.apply(&Settings::lesson(), ctx.props().lang),
            None => Settings::lesson(),
        };
        let (settings, setting_rejections) = Settings::from_query(&query, &defaults);
        let (setting_rejections, pending_text) = text::hold_own_text(&query, &defaults, setting_rejections);
        rejections.extend(setting_rejections);
        let from_url = query
            .trim_start_matches('?')
            .split('&')
            .filter(|pair| !pair.is_empty())
            .any(|pair| !ClassroomState::owns_pair(pair));
        device_loss::set_handler(ctx.link().callback(Msg::DeviceLost));
        #[cfg(feature = "test-hooks")]
        crate::test_hooks::install(ctx.link().callback(Msg::TestHook));
        ctx.link().send_future(async { Msg::Backend(detect_backend().await) });
        let playground = Playground {
            settings,
            from_url,
            rejections,
            classroom,
            probe_tokens: None,
            probe_error: None,
            backend: None,
            gpu_failure: None,
            playing: false,
            generation: 0,
            runs: Default::default(),
            device_notice: None,
            gpu_recoveries: 0,
            pending_resume: Default::default(),
            store: Store::default(),
            text: TextState::new(pending_text),
        };
        playground.start_store(ctx);
        playground
    }

    fn update(&mut self, ctx: &Context<Self>, msg: Msg) -> bool {
        match msg {
            Msg::Backend(backend) => {
                if matches!(backend, Backend::Cpu(_)) && !self.from_url {
                    self.settings = match self.classroom.lesson {
                        Some(lesson) => lesson.apply(&cpu_lesson(), ctx.props().lang),
                        None => cpu_lesson(),
                    };
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
                // A different pair or model size no longer matches the lesson's text.
                if matches!(key, "a" | "b" | "layers" | "heads" | "task") {
                    self.classroom.lesson = None;
                }
                // Steps per frame and the training length change no run.
                if key != "spf" && key != "steps" {
                    self.restart(ctx, false);
                }
            }
            Msg::Zoom(index, zoom) => self.runs[index].zoom = zoom,
            Msg::Lesson(key) => self.start_lesson(ctx, key),
            Msg::Hide(group, hidden) => self.classroom.set_hidden_group(group, hidden),
            Msg::ProbeText(text) => {
                self.settings.probe = text;
                self.parse_probe();
                self.probe_changed();
            }
            Msg::ProbeFromBatch => {
                if let Some(snapshot) = self.runs.iter().find_map(|run| run.snapshot.clone()) {
                    self.settings.probe = format_probe(&snapshot.tokens, &self.runs[0].labels, self.probe_input());
                    self.parse_probe();
                    self.probe_changed();
                }
            }
            Msg::DeviceLost(lost) => {
                if matches!(self.backend, Some(Backend::WebGpu { device_id, .. }) if device_id == lost.device_id) {
                    self.recover_gpu(ctx, EngineError::internal(InternalCause::DeviceLost, lost.message));
                }
            }
            Msg::DeviceReplaced(error, backend) => self.resume_gpu(ctx, error, backend),
            #[cfg(feature = "test-hooks")]
            Msg::TestHook(request) => {
                let Some((index, action)) = request else {
                    panic!("test hook: page panic requested");
                };
                if let Some(driver) = self.runs.get(index).and_then(|run| run.driver.as_ref()) {
                    driver.send(Request::TestHook { generation: self.generation, action });
                }
            }
            Msg::Store(msg) => self.store_update(ctx, msg),
            Msg::Text(msg) => self.text_update(ctx, msg),
        }
        self.write_url();
        true
    }

    fn changed(&mut self, ctx: &Context<Self>, old_props: &PlaygroundProps) -> bool {
        if ctx.props().lang != old_props.lang {
            self.classroom.lang = Some(ctx.props().lang);
            self.write_url();
        }
        true
    }

    fn view(&self, ctx: &Context<Self>) -> Html {
        let strings = ctx.props().lang.strings();
        let link = ctx.link();

        let notices = self.rejections.iter().map(|rejection| {
            let (value, allowed) = rejection.localized(strings);
            let text = strings
                .url_rejected
                .replace("{field}", &rejection.field)
                .replace("{value}", &value)
                .replace("{allowed}", &allowed);
            html! { <p class="notice error" role="alert" data-testid="url-error">{ text }</p> }
        });
        let device_notice = self.device_notice.as_ref().map(|notice| {
            let error = notice.error.render(strings);
            let text = strings.device_lost_resumed.replace("{error}", &error).replace("{step}", &notice.step.to_string());
            html! { <p class="notice" role="alert" data-testid="device-lost">{ text }</p> }
        });
        let gpu_notice = self.gpu_failure.as_ref().map(|error| {
            html! { <p class="notice" role="alert">{ strings.gpu_failed.replace("{error}", &error.render(strings)) }</p> }
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

        let tokens_per_step = speed::tokens_per_step(self.settings.batch, self.settings.seq_len);
        let rates: Vec<Option<f64>> = self.runs.iter().map(|run| run.rate).collect();
        let total_speed = if self.playing { speed::total_text(strings, &rates, tokens_per_step) } else { None };
        let divergences = (0..2).filter_map(|index| {
            let divergence = self.runs[index].diverged.as_ref()?;
            let title = if index == 0 { strings.run_a_title } else { strings.run_b_title };
            let what = if divergence.what == "loss" { strings.diverged_loss } else { strings.diverged_grad_norm };
            let text = strings
                .diverged
                .replace("{run}", title)
                .replace("{step}", &divergence.step.to_string())
                .replace("{what}", what)
                .replace("{value}", &divergence.value)
                .replace("{lr}", &divergence.lr.to_string());
            Some(html! { <p class="notice error" role="alert" data-testid="diverged">{ text }</p> })
        });

        let panels = (0..2).map(|index| {
            let run = &self.runs[index];
            let title = if index == 0 { strings.run_a_title } else { strings.run_b_title };
            let on_variant = link.callback(move |value: String| Msg::Set(if index == 0 { "a" } else { "b" }, value));
            let on_zoom = link.callback(move |zoom| Msg::Zoom(index, zoom));
            let speed = match (self.playing, run.rate) {
                (true, Some(rate)) => speed::speed_text(strings.speed, rate, tokens_per_step),
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
                    failed={run.failed.as_ref().map(|error| error.render(strings))}
                    hide_variant={self.classroom.hides(ControlGroup::Variants)}
                />
            }
        });

        html! {
            <section class="playground">
                <h2>{ strings.playground_heading }</h2>
                { self.badge(strings) }
                { for notices }
                { gpu_notice }
                { device_notice }
                { for divergences }
                { cpu_note }
                { self.lessons(ctx) }
                { self.controls(ctx, strings) }
                { self.classroom_panel(ctx) }
                { self.store_view(ctx, strings, ctx.props().lang) }
                { self.text_view(ctx, strings) }
                <p class="step-counter" data-testid="step-counter" aria-live="off">{ counter }</p>
                <p class="speed" data-testid="speed-total">{ total_speed.unwrap_or_default() }</p>
                // The note's claim was measured on Bigram-Backcopy only.
                if self.settings.task == TaskChoice::BigramBackcopy {
                    <p class="note" data-testid="loss-note">{ strings.loss_note }</p>
                }
                <div class="runs">{ for panels }</div>
                { self.probe_panel(ctx, strings) }
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
                        detail = strings.badge_no_adapter_title.replace("{error}", error);
                        strings.reason_no_adapter.to_string()
                    }
                    CpuReason::Error(error) => strings.reason_error.replace("{error}", &error.render(strings)),
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
            if ControlGroup::of_setting(key).is_some_and(|group| self.classroom.hides(group)) {
                return html! {};
            }
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
                    if !self.classroom.hides(ControlGroup::Seed) {
                        <button type="button" data-testid="new-seed" onclick={link.callback(|_| Msg::NewSeed)}>{ strings.new_seed }</button>
                    }
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
        // The link's own text is still being read; `resolve_own_text` starts the runs.
        if self.text.pending() {
            return;
        }
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
                run.probe_stale = true;
                run.step = metrics_step;
                // A new task may not know the typed sequence's tokens.
                if index == 0 {
                    self.parse_probe();
                }
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
                    run.probe_stale = true;
                }
            }
            Reply::Probed { result, .. } => run.probe = Some(Rc::new(result)),
            Reply::Diverged { step, what, value, lr, metrics, .. } => {
                // The engines keep the parameters from before the failed step.
                run.step = step.saturating_sub(1);
                if !metrics.is_empty() {
                    let mut history = (*run.history).clone();
                    history.extend(metrics);
                    run.history = Rc::new(history);
                }
                run.diverged = Some(Divergence { step, what, value, lr });
                self.playing = false;
            }
            // The settings exceed the engine's limits: the engine still
            // works, so the backend stays.
            Reply::Rejected { error, .. } => run.failed = Some(error),
            Reply::Saved { checkpoint, .. } => self.store_saved(ctx, index, checkpoint),
            Reply::Failed { error, .. } => {
                if let Some(Backend::WebGpu { .. }) = self.backend {
                    // A lost device often shows first as a failed read-back,
                    // so every GPU error takes the same path as a loss.
                    self.recover_gpu(ctx, error);
                    return;
                }
                run.failed = Some(error);
                // A worker that panicked sends no more replies, so the next
                // start gets a new one.
                run.driver = None;
            }
        }
        self.save_if_due(index);
        // A pending probe goes before the next training chunk. The other run
        // may have been waiting for run A's labels to parse the sequence.
        self.send_probe(1 - index);
        if self.send_probe(index) {
            return;
        }
        self.pump(ctx);
    }

    /// Drops the engines of a lost or failed GPU device and requests a new
    /// one; [`Playground::resume_gpu`] goes on when it arrives. Both runs
    /// keep their CPU copies meanwhile.
    fn recover_gpu(&mut self, ctx: &Context<Self>, error: EngineError) {
        // A new generation drops every reply of the old engines.
        self.generation += 1;
        for index in 0..2 {
            let run = &mut self.runs[index];
            let checkpoint = run.driver.take().and_then(|driver| driver.gpu_checkpoint());
            self.pending_resume[index] = checkpoint.map(|checkpoint| (self.settings.run_config(index), checkpoint));
            run.busy = true;
        }
        self.gpu_recoveries += 1;
        if self.gpu_recoveries > MAX_GPU_RECOVERIES {
            self.fall_back_to_cpu(ctx, error);
            return;
        }
        // Without a backend, `restart` waits, so a settings change during
        // the request cannot start runs on the lost device.
        self.backend = None;
        ctx.link().send_future(async move { Msg::DeviceReplaced(error, detect_backend().await) });
    }

    /// Resumes both runs on the new device from their CPU copies; a run
    /// without a copy, or whose settings changed meanwhile, starts again.
    fn resume_gpu(&mut self, ctx: &Context<Self>, error: EngineError, backend: Backend) {
        if !matches!(backend, Backend::WebGpu { .. }) {
            self.fall_back_to_cpu(ctx, error);
            return;
        }
        self.backend = Some(backend.clone());
        let mut resumed_step = None;
        for index in 0..2 {
            let config = self.settings.run_config(index);
            let pending = self.pending_resume[index].take().filter(|(saved, _)| *saved == config);
            let driver = Driver::new(&backend, ctx.link().callback(move |reply| Msg::Reply(index, reply)));
            let run = &mut self.runs[index];
            match (pending, &driver) {
                (Some((_, checkpoint)), Driver::Gpu(gpu)) => {
                    let step = checkpoint.step;
                    let kept: Vec<Metrics> = run.history.iter().filter(|m| m.step <= step).cloned().collect();
                    run.history = Rc::new(kept);
                    run.busy = true;
                    resumed_step = Some(resumed_step.map_or(step, |other: usize| other.min(step)));
                    gpu.resume(self.generation, config, checkpoint);
                }
                _ => {
                    let zoom = run.zoom;
                    *run = RunState { zoom, busy: true, ..Default::default() };
                    driver.send(Request::Start { generation: self.generation, config });
                }
            }
            self.runs[index].driver = Some(driver);
        }
        self.device_notice = Some(DeviceNotice { error, step: resumed_step.unwrap_or(0) });
    }

    /// Moves both runs to the CPU engine, from step 0.
    fn fall_back_to_cpu(&mut self, ctx: &Context<Self>, error: EngineError) {
        self.pending_resume = Default::default();
        self.device_notice = None;
        self.gpu_failure = Some(error.clone());
        self.backend = Some(Backend::Cpu(CpuReason::Error(error)));
        self.restart(ctx, true);
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
        let done = self
            .runs
            .iter()
            .all(|run| run.step >= self.settings.steps || run.failed.is_some() || run.diverged.is_some());
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
        let other = &self.runs[1 - index];
        let other_step = (other.started && other.failed.is_none() && other.diverged.is_none()).then_some(other.step);
        let run = &mut self.runs[index];
        if run.busy || !run.started || run.failed.is_some() || run.diverged.is_some() || run.step >= total {
            return;
        }
        let Some(driver) = &run.driver else {
            return;
        };
        let steps = pace::next_chunk(run.step, other_step, per_frame, total);
        if steps == 0 {
            return;
        }
        run.busy = true;
        run.sent_at = now_ms();
        run.sent_steps = steps;
        driver.send(Request::Train { generation, steps });
    }

    /// Returns the query string of the current view: the settings, then the
    /// lesson, language and hidden controls where set.
    fn query(&self) -> String {
        let classroom = self.classroom.to_query();
        if classroom.is_empty() {
            self.settings.to_query()
        } else {
            format!("{}&{classroom}", self.settings.to_query())
        }
    }

    fn lessons(&self, ctx: &Context<Self>) -> Html {
        if self.classroom.hides(ControlGroup::Lessons) {
            return html! {};
        }
        let on_select = ctx.link().callback(Msg::Lesson);
        html! { <Lessons current={self.classroom.lesson} {on_select} /> }
    }

    fn classroom_panel(&self, ctx: &Context<Self>) -> Html {
        let location = gloo::utils::window().location();
        let origin = location.origin().unwrap_or_default();
        let path = location.pathname().unwrap_or_default();
        let link = format!("{origin}{path}?{}", self.query());
        let on_hide = ctx.link().callback(|(group, hidden)| Msg::Hide(group, hidden));
        let text_left_out = self.settings.text_left_out_of_link();
        html! { <Classroom state={self.classroom.clone()} link={link} {on_hide} {text_left_out} /> }
    }

    /// Sets both runs for a lesson on top of the backend's default lesson
    /// (the smaller CPU lesson on the CPU) and restarts them.
    fn start_lesson(&mut self, ctx: &Context<Self>, key: &str) {
        let Some(lesson) = crate::lessons::find(key) else {
            return;
        };
        let base = match self.backend {
            Some(Backend::Cpu(_)) => cpu_lesson(),
            _ => Settings::lesson(),
        };
        let probe = std::mem::take(&mut self.settings.probe);
        self.settings = Settings { probe, ..lesson.apply(&base, ctx.props().lang) };
        self.classroom.lesson = Some(lesson);
        self.rejections.clear();
        self.restart(ctx, false);
    }

    /// Returns the input format of the current task's probe sequences.
    fn probe_input(&self) -> ProbeInput {
        match self.settings.task {
            TaskChoice::TextEnglish | TaskChoice::TextJapanese | TaskChoice::TextCustom => ProbeInput::Characters,
            TaskChoice::BigramBackcopy | TaskChoice::Copy => ProbeInput::Ids,
        }
    }

    /// Parses the probe text with the task's labels, once run A has them.
    fn parse_probe(&mut self) {
        self.probe_tokens = None;
        self.probe_error = None;
        let labels = &self.runs[0].labels;
        if self.settings.probe.trim().is_empty() || labels.is_empty() {
            return;
        }
        match parse_probe(&self.settings.probe, labels, self.probe_input(), self.settings.seq_len) {
            Ok(tokens) => self.probe_tokens = Some(tokens),
            Err(error) => self.probe_error = Some(error),
        }
    }

    /// Marks both runs' probes stale and sends them to the idle runs.
    fn probe_changed(&mut self) {
        for index in 0..2 {
            self.runs[index].probe = None;
            self.runs[index].probe_stale = true;
            self.send_probe(index);
        }
    }

    /// Sends the probe to run `index` if it is stale and the run is idle, and
    /// returns whether it did. The engine replies before it trains further.
    fn send_probe(&mut self, index: usize) -> bool {
        let generation = self.generation;
        let Some(tokens) = self.probe_tokens.clone() else {
            return false;
        };
        let run = &mut self.runs[index];
        if !run.probe_stale || run.busy || !run.started || run.failed.is_some() {
            return false;
        }
        let Some(driver) = &run.driver else {
            return false;
        };
        driver.send(Request::Probe { generation, tokens });
        run.busy = true;
        run.probe_stale = false;
        true
    }

    fn probe_panel(&self, ctx: &Context<Self>, strings: &Strings) -> Html {
        let labels = self.runs[0].labels.clone();
        let hint = match self.probe_input() {
            ProbeInput::Characters => strings.probe_hint_text.to_string(),
            ProbeInput::Ids => strings.probe_hint_ids.replace("{max}", &labels.len().saturating_sub(1).to_string()),
        };
        let error = self.probe_error.as_ref().map(|error| {
            let text = match error {
                ProbeError::Empty => strings.probe_error_empty.to_string(),
                ProbeError::TooLong { len, max } => {
                    strings.probe_error_too_long.replace("{len}", &len.to_string()).replace("{max}", &max.to_string())
                }
                ProbeError::Unknown { items } => strings.probe_error_unknown.replace("{items}", &items.join(" ")),
            };
            AttrValue::from(text)
        });
        let runs: Vec<ProbeRun> = (0..2)
            .map(|index| ProbeRun {
                title: AttrValue::from(if index == 0 { strings.run_a_title } else { strings.run_b_title }),
                result: self.runs[index].probe.clone(),
            })
            .collect();
        html! {
            <Probe
                text={self.settings.probe.clone()}
                {error}
                {hint}
                on_input={ctx.link().callback(Msg::ProbeText)}
                on_use_batch={ctx.link().callback(|()| Msg::ProbeFromBatch)}
                {runs}
                {labels}
            />
        }
    }

    /// Writes the settings into the address without adding a history entry.
    fn write_url(&self) {
        let window = gloo::utils::window();
        let Ok(history) = window.history() else {
            return;
        };
        let url = format!("?{}", self.query());
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
