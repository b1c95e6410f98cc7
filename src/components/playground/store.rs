//! The playground's data: runs kept in IndexedDB and offered back after a
//! reload, downloads of a run (JSON, metrics as CSV and JSON, the model as
//! safetensors) and imports of a run's JSON to view it again.
//!
//! This is a child module of the playground, so it reaches the runs
//! directly. The playground calls in at a few points: a message, a reply, a
//! restart and the view.

use std::rc::Rc;

use gatelab_model::checkpoint::CheckpointFiles;
use gatelab_model::{Metrics, Variant};
use web_sys::HtmlInputElement;
use yew::prelude::*;

use super::{Msg, Playground, RunState};
use crate::components::run_panel::RunPanel;
use crate::download;
use crate::engine::Driver;
use crate::export::{self, ImportError, RunExport, WireCheckpoint, MAX_IMPORT_BYTES};
use crate::i18n::Strings;
use crate::protocol::Request;
use crate::settings::Settings;
use crate::storage::{self, SavedRun, SavedSession, SESSION_VERSION};

/// Seconds between saves of a training run.
const SAVE_EVERY_MS: f64 = 5000.0;

pub enum StoreMsg {
    Loaded(Result<Option<SavedSession>, String>),
    Restore,
    Discard,
    Written(Result<usize, String>),
    ExportRun(usize),
    ExportCsv(usize),
    ExportMetrics(usize),
    ExportModel(usize),
    Import(web_sys::File),
    Imported(String, Result<RunExport, ImportError>),
    CloseImported(usize),
}

impl From<StoreMsg> for Msg {
    fn from(msg: StoreMsg) -> Msg {
        Msg::Store(msg)
    }
}

/// State of saving, restoring and imports.
#[derive(Default)]
pub struct Store {
    /// A saved session found at start-up, offered until the user restores or discards it.
    offer: Option<SavedSession>,
    /// Whether the saved session was read (or could not be): saving starts
    /// only then, and only once no offer is open, so the page never writes
    /// over a session the user may still restore.
    loaded: bool,
    saved: [Option<SavedRun>; 2],
    last_save: [f64; 2],
    /// The step of the last write to IndexedDB, for the status line.
    written_step: Option<usize>,
    restored: bool,
    error: Option<String>,
    /// Runs whose checkpoint is wanted for a model download.
    model_requested: [bool; 2],
    /// Histories of a restore, taken by the runs' `Started` replies.
    restoring: [Option<Vec<Metrics>>; 2],
    imported: Vec<(String, Rc<RunExport>)>,
    import_error: Option<(String, ImportError)>,
}

impl Playground {
    pub(super) fn start_store(&self, ctx: &Context<Self>) {
        ctx.link().send_future(async { Msg::Store(StoreMsg::Loaded(storage::load().await)) });
    }

    pub(super) fn store_update(&mut self, ctx: &Context<Self>, msg: StoreMsg) {
        match msg {
            StoreMsg::Loaded(result) => {
                self.store.loaded = true;
                let saved_text = result.as_ref().ok().and_then(Option::as_ref).map(|session| session.custom_text.clone());
                match result {
                    Ok(session) => self.store.offer = session.filter(SavedSession::trained),
                    Err(error) => self.store.error = Some(error),
                }
                self.resolve_own_text(ctx, saved_text.as_deref());
            }
            StoreMsg::Restore => self.restore(ctx),
            StoreMsg::Discard => {
                self.store.offer = None;
                // The next save writes over the record; delete it now so a
                // reload before then offers nothing.
                ctx.link().send_future(async { Msg::Store(StoreMsg::Written(storage::discard().await.map(|()| 0))) });
                for index in 0..2 {
                    self.save_if_due(index);
                }
            }
            StoreMsg::Written(result) => match result {
                Ok(step) => {
                    self.store.error = None;
                    if step > 0 {
                        self.store.written_step = Some(step);
                    }
                }
                Err(error) => self.store.error = Some(error),
            },
            StoreMsg::ExportRun(index) => {
                let run = &self.runs[index];
                let export = RunExport::new(&self.settings.variants[index], &self.settings.run_config(index), run.step, &run.history);
                self.offer_file(index, "run.json", "application/json", export.to_json().as_bytes());
            }
            StoreMsg::ExportCsv(index) => {
                let csv = export::history_csv(&self.settings.variants[index], &self.runs[index].history);
                self.offer_file(index, "metrics.csv", "text/csv", csv.as_bytes());
            }
            StoreMsg::ExportMetrics(index) => {
                let json = serde_json::to_string_pretty(&*self.runs[index].history).expect("metrics serialise");
                self.offer_file(index, "metrics.json", "application/json", json.as_bytes());
            }
            StoreMsg::ExportModel(index) => {
                self.store.model_requested[index] = true;
                self.save_if_due(index);
            }
            StoreMsg::Import(file) => {
                let name = file.name();
                ctx.link().send_future(async move {
                    let result = match download::read_text(&file, MAX_IMPORT_BYTES).await {
                        Ok(text) => export::parse_run(&text),
                        Err(download::ReadError::TooLarge { bytes, max }) => Err(ImportError::TooLarge { bytes, max }),
                        Err(download::ReadError::Unreadable(error)) => Err(ImportError::NotJson(error)),
                    };
                    Msg::Store(StoreMsg::Imported(name, result))
                });
            }
            StoreMsg::Imported(name, result) => match result {
                Ok(run) => {
                    self.store.import_error = None;
                    self.store.imported.push((name, Rc::new(run)));
                }
                Err(error) => self.store.import_error = Some((name, error)),
            },
            StoreMsg::CloseImported(position) => {
                if position < self.store.imported.len() {
                    self.store.imported.remove(position);
                }
            }
        }
    }

    /// File name of a download of run `index`: `gatelab-{a|b}-{variant}-step{n}-{what}`.
    fn file_name(&self, index: usize, what: &str) -> String {
        let letter = if index == 0 { "a" } else { "b" };
        format!("gatelab-{letter}-{}-step{}-{what}", self.settings.variants[index], self.runs[index].step)
    }

    fn offer_file(&mut self, index: usize, what: &str, mime: &str, bytes: &[u8]) {
        let name = self.file_name(index, what);
        if let Err(error) = download::bytes(&name, mime, bytes) {
            self.store.error = Some(error);
        }
    }

    /// Forgets the saved checkpoints of the old runs when the runs start
    /// again, so a save never mixes an old run with a new one.
    pub(super) fn store_restarted(&mut self) {
        self.store.saved = Default::default();
        self.store.model_requested = [false; 2];
    }

    /// Handles a `Started` reply: a restored run takes its saved history and step.
    pub(super) fn store_started(&mut self, index: usize) {
        if let Some(history) = self.store.restoring[index].take() {
            let run = &mut self.runs[index];
            run.step = history.last().map_or(0, |m| m.step).max(run.step);
            run.history = Rc::new(history);
        }
    }

    /// Asks an idle run for its checkpoint when a save is due: every few
    /// seconds while playing, at once while paused (after a pause or a
    /// single step), and when the model is wanted for a download.
    pub(super) fn save_if_due(&mut self, index: usize) {
        let saving = self.store.loaded && self.store.offer.is_none();
        let run = &self.runs[index];
        if !run.started || run.busy || run.failed.is_some() {
            return;
        }
        let saved_step = self.store.saved[index].as_ref().map_or(0, |s| s.step);
        let due = saving
            && run.step > saved_step
            && (!self.playing || super::now_ms() - self.store.last_save[index] >= SAVE_EVERY_MS);
        if !due && !self.store.model_requested[index] {
            return;
        }
        let Some(driver) = &run.driver else {
            return;
        };
        driver.send(Request::Save { generation: self.generation });
        self.runs[index].busy = true;
    }

    /// Handles a `Saved` reply: keeps the checkpoint, writes the session, and
    /// offers the model when it was requested.
    pub(super) fn store_saved(&mut self, ctx: &Context<Self>, index: usize, checkpoint: WireCheckpoint) {
        if std::mem::take(&mut self.store.model_requested[index]) {
            match checkpoint.decode() {
                Ok(files) => self.offer_model(index, &files),
                Err(error) => self.store.error = Some(error),
            }
        }
        let run = &self.runs[index];
        self.store.last_save[index] = super::now_ms();
        if !(self.store.loaded && self.store.offer.is_none()) || run.step == 0 {
            return;
        }
        self.store.saved[index] = Some(SavedRun { step: run.step, history: run.history.to_vec(), checkpoint });
        let session = SavedSession {
            version: SESSION_VERSION,
            saved_at: super::now_ms(),
            query: self.settings.to_query(),
            runs: self.store.saved.to_vec(),
            custom_text: self.settings.custom_text.clone(),
        };
        let step = session.step();
        ctx.link().send_future(async move { Msg::Store(StoreMsg::Written(storage::save(&session).await.map(|()| step))) });
    }

    fn offer_model(&mut self, index: usize, files: &CheckpointFiles) {
        self.offer_file(index, "model.safetensors", "application/octet-stream", &files.model);
        let config = files.meta().map(|meta| {
            // The page keeps the history; the engine's copy may lack step 0.
            let meta = gatelab_model::checkpoint::CheckpointMeta { history: self.runs[index].history.to_vec(), ..meta };
            serde_json::to_string_pretty(&meta).expect("metrics and config serialise")
        });
        match config {
            Ok(json) => self.offer_file(index, "config.json", "application/json", json.as_bytes()),
            Err(error) => self.store.error = Some(error.to_string()),
        }
    }

    /// Replaces both runs by the offered session: its settings, and each run
    /// from its checkpoint (parameters and AdamW state) with its history. A
    /// run saved before its first step starts afresh.
    fn restore(&mut self, ctx: &Context<Self>) {
        let Some(session) = self.store.offer.take() else {
            return;
        };
        let Some(backend) = self.backend.clone() else {
            self.store.offer = Some(session);
            return;
        };
        // The text goes in first, so a query with the own-text task passes.
        let defaults = Settings { custom_text: session.custom_text.clone(), ..self.settings.clone() };
        let (settings, rejections) = Settings::from_query(&session.query, &defaults);
        self.settings = settings;
        self.rejections = rejections;
        self.from_url = true;
        self.playing = false;
        self.generation += 1;
        self.store.restored = true;
        for index in 0..2 {
            let saved = session.runs.get(index).cloned().flatten();
            let run = &mut self.runs[index];
            let zoom = run.zoom;
            let driver = run.driver.take();
            *run = RunState { zoom, ..Default::default() };
            let driver = driver.unwrap_or_else(|| {
                Driver::new(&backend, ctx.link().callback(move |reply| Msg::Reply(index, reply)))
            });
            let generation = self.generation;
            match &saved {
                Some(saved) => {
                    self.store.restoring[index] = Some(saved.history.clone());
                    driver.send(Request::Restore { generation, checkpoint: saved.checkpoint.clone() });
                }
                None => driver.send(Request::Start { generation, config: self.settings.run_config(index) }),
            }
            run.driver = Some(driver);
            run.busy = true;
            self.store.saved[index] = saved;
        }
    }

    pub(super) fn store_view(&self, ctx: &Context<Self>, strings: &Strings, lang: crate::i18n::Lang) -> Html {
        let link = ctx.link();
        let banner = self.store.offer.as_ref().map(|session| {
            let locale = match lang {
                crate::i18n::Lang::En => "en",
                crate::i18n::Lang::Ja => "ja",
            };
            let time = js_sys::Date::new(&session.saved_at.into())
                .to_locale_string(locale, &wasm_bindgen::JsValue::UNDEFINED)
                .as_string()
                .unwrap_or_default();
            let text = strings.restore_offer.replace("{time}", &time).replace("{step}", &session.step().to_string());
            html! {
                <div class="notice restore" role="region" aria-label={strings.restore_button} data-testid="restore-banner">
                    <p>{ text }</p>
                    <p class="note">{ strings.restore_note }</p>
                    <button type="button" data-testid="restore" disabled={self.backend.is_none()}
                        onclick={link.callback(|_| StoreMsg::Restore)}>{ strings.restore_button }</button>
                    <button type="button" data-testid="discard" onclick={link.callback(|_| StoreMsg::Discard)}>{ strings.discard_button }</button>
                </div>
            }
        });
        let restored = self.store.restored.then(|| html! { <p class="note" data-testid="restored-note">{ strings.restored_note }</p> });
        let error = self.store.error.as_ref().map(|error| {
            html! { <p class="notice error" role="alert" data-testid="store-error">{ strings.save_failed.replace("{error}", error) }</p> }
        });
        let status = self.store.written_step.map(|step| strings.saved_status.replace("{step}", &step.to_string()));

        let downloads = (0..2).map(|index| {
            let title = if index == 0 { strings.run_a_title } else { strings.run_b_title };
            let ready = self.runs[index].started;
            let button = |testid: &'static str, text: &'static str, msg: fn(usize) -> StoreMsg| {
                html! {
                    <button type="button" class="small" data-testid={testid} disabled={!ready}
                        onclick={link.callback(move |_| msg(index))}>{ text }</button>
                }
            };
            html! {
                <p class="downloads" data-testid={if index == 0 { "downloads-a" } else { "downloads-b" }}>
                    <span>{ strings.downloads_label.replace("{run}", title) }</span>{ " " }
                    { button("export-run", strings.export_run, StoreMsg::ExportRun) }
                    { button("export-csv", strings.export_csv, StoreMsg::ExportCsv) }
                    { button("export-metrics", strings.export_metrics, StoreMsg::ExportMetrics) }
                    { button("export-model", strings.export_model, StoreMsg::ExportModel) }
                </p>
            }
        });

        let on_import = link.batch_callback(|event: Event| {
            let input: HtmlInputElement = event.target_unchecked_into();
            let file = input.files().and_then(|files| files.get(0));
            // Clearing the input lets the same file be chosen again.
            input.set_value("");
            file.map(|file| Msg::Store(StoreMsg::Import(file)))
        });
        let import_error = self.store.import_error.as_ref().map(|(name, error)| {
            let text = match error {
                ImportError::TooLarge { bytes, max } => strings
                    .import_too_large
                    .replace("{bytes}", &bytes.to_string())
                    .replace("{max}", &max.to_string()),
                ImportError::NotJson(message) => strings.import_not_json.replace("{error}", message),
                ImportError::NotARun => strings.import_not_run.to_string(),
                ImportError::Version { found, supported } => strings
                    .import_version
                    .replace("{found}", &found.to_string())
                    .replace("{supported}", &supported.to_string()),
                ImportError::InvalidConfig(message) => strings.import_invalid.replace("{error}", message),
            };
            html! { <p class="notice error" role="alert" data-testid="import-error">{ text.replace("{name}", name) }</p> }
        });

        html! {
            <>
                { banner }
                { restored }
                { error }
                <div class="data">
                    { for downloads }
                    <label class="control import">
                        <span>{ strings.import_label }</span>
                        <input type="file" accept=".json,application/json" data-testid="import-run" onchange={on_import} />
                    </label>
                    <p class="note" data-testid="save-status" aria-live="off">{ status.unwrap_or_default() }</p>
                </div>
                { import_error }
            </>
        }
    }

    /// Renders the imported runs, each in a read-only run panel.
    pub(super) fn imported_view(&self, ctx: &Context<Self>, strings: &Strings) -> Html {
        if self.store.imported.is_empty() {
            return html! {};
        }
        let panels = self.store.imported.iter().enumerate().map(|(position, (name, run))| {
            let title = strings.imported_title.replace("{name}", name);
            let has_gate = Variant::parse(&run.variant).map(|v| v.has_gate()).unwrap_or(false);
            let close = ctx.link().callback(move |_| StoreMsg::CloseImported(position));
            html! {
                <div class="imported" data-testid="imported-run">
                    <button type="button" class="small" data-testid="close-imported" onclick={close}>{ strings.imported_close }</button>
                    <RunPanel
                        title={title}
                        variant={run.variant.clone()}
                        {has_gate}
                        on_variant={Callback::noop()}
                        history={Rc::new(run.history.clone())}
                        snapshot={None}
                        labels={Rc::new(Vec::new())}
                        zoom={(0, 0)}
                        on_zoom={Callback::noop()}
                        speed={String::new()}
                        failed={None::<String>}
                        imported={true}
                    />
                </div>
            }
        });
        html! { <div class="runs imported-runs">{ for panels }</div> }
    }
}
