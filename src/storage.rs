//! Runs kept in the browser's IndexedDB, so a reload or a closed tab loses
//! no training: the settings, each run's metric history and its checkpoint
//! (parameters, AdamW moments, step and data position).
//!
//! One record contains the whole session. The page rewrites it every few
//! seconds while training and on pause. IndexedDB's requests are callbacks,
//! wrapped here in promises so the page awaits them.

use gatelab_model::Metrics;
use js_sys::Promise;
use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{IdbDatabase, IdbRequest, IdbTransactionMode};

use crate::export::WireCheckpoint;

const DATABASE: &str = "gatelab";
const STORE: &str = "sessions";
const KEY: &str = "last";
/// Version of [`SavedSession`]; a record of another version is ignored.
pub const SESSION_VERSION: u32 = 1;

/// A saved session: settings and both runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SavedSession {
    pub version: u32,
    /// When it was written, in ms since 1970.
    pub saved_at: f64,
    /// The settings, as in the page address.
    pub query: String,
    /// Runs A and B; `None` for a run that had not trained yet.
    pub runs: Vec<Option<SavedRun>>,
    /// The user's own text, which the query leaves out.
    #[serde(default)]
    pub custom_text: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SavedRun {
    pub step: usize,
    pub history: Vec<Metrics>,
    pub checkpoint: WireCheckpoint,
}

impl SavedSession {
    /// Returns the step that the page's step counter shows once the session
    /// is restored: that of the saved run furthest behind. The page keeps
    /// both runs at one step when paused, but while training each run is
    /// saved on its own, so their steps may differ.
    pub fn step(&self) -> usize {
        self.runs.iter().flatten().map(|run| run.step).min().unwrap_or(0)
    }

    /// Returns whether any saved run has trained, so that the session is
    /// worth offering.
    pub fn trained(&self) -> bool {
        self.runs.iter().flatten().any(|run| run.step > 0)
    }
}

fn error_text(error: JsValue) -> String {
    js_sys::Reflect::get(&error, &"message".into())
        .ok()
        .and_then(|m| m.as_string())
        .or_else(|| error.as_string())
        .unwrap_or_else(|| format!("{error:?}"))
}

/// Resolves with the request's result when it succeeds.
async fn finish(request: &IdbRequest) -> Result<JsValue, String> {
    let promise = Promise::new(&mut |resolve, reject| {
        let target = request.clone();
        let on_success = Closure::once_into_js(move |_: web_sys::Event| {
            let _ = resolve.call1(&JsValue::NULL, &target.result().unwrap_or(JsValue::UNDEFINED));
        });
        let target = request.clone();
        let on_error = Closure::once_into_js(move |_: web_sys::Event| {
            let error = target.error().ok().flatten().map(JsValue::from).unwrap_or_else(|| "IndexedDB request failed".into());
            let _ = reject.call1(&JsValue::NULL, &error);
        });
        request.set_onsuccess(Some(on_success.unchecked_ref()));
        request.set_onerror(Some(on_error.unchecked_ref()));
    });
    JsFuture::from(promise).await.map_err(error_text)
}

async fn open() -> Result<IdbDatabase, String> {
    let factory = gloo::utils::window()
        .indexed_db()
        .map_err(error_text)?
        .ok_or_else(|| "this browser gives the page no IndexedDB".to_string())?;
    let request = factory.open_with_u32(DATABASE, 1).map_err(error_text)?;
    let target = request.clone();
    let on_upgrade = Closure::once_into_js(move |_: web_sys::Event| {
        if let Ok(result) = target.result() {
            let database: IdbDatabase = result.unchecked_into();
            let _ = database.create_object_store(STORE);
        }
    });
    request.set_onupgradeneeded(Some(on_upgrade.unchecked_ref()));
    Ok(finish(&request).await?.unchecked_into())
}

/// Reads the saved session, if there is one of this version.
pub async fn load() -> Result<Option<SavedSession>, String> {
    let database = open().await?;
    let store = database.transaction_with_str(STORE).map_err(error_text)?.object_store(STORE).map_err(error_text)?;
    let value = finish(&store.get(&KEY.into()).map_err(error_text)?).await?;
    database.close();
    let Some(text) = value.as_string() else {
        return Ok(None);
    };
    // A record this page cannot read (another version) is as good as none.
    Ok(serde_json::from_str::<SavedSession>(&text).ok().filter(|s| s.version == SESSION_VERSION))
}

/// Replaces the saved session.
pub async fn save(session: &SavedSession) -> Result<(), String> {
    let text = serde_json::to_string(session).map_err(|e| e.to_string())?;
    let database = open().await?;
    let transaction =
        database.transaction_with_str_and_mode(STORE, IdbTransactionMode::Readwrite).map_err(error_text)?;
    let store = transaction.object_store(STORE).map_err(error_text)?;
    finish(&store.put_with_key(&text.into(), &KEY.into()).map_err(error_text)?).await?;
    database.close();
    Ok(())
}

/// Deletes the saved session.
pub async fn discard() -> Result<(), String> {
    let database = open().await?;
    let transaction =
        database.transaction_with_str_and_mode(STORE, IdbTransactionMode::Readwrite).map_err(error_text)?;
    let store = transaction.object_store(STORE).map_err(error_text)?;
    finish(&store.delete(&KEY.into()).map_err(error_text)?).await?;
    database.close();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(step: usize) -> SavedRun {
        let checkpoint = WireCheckpoint { config_json: String::new(), model: String::new(), optimizer: String::new() };
        SavedRun { step, history: Vec::new(), checkpoint }
    }

    fn session(runs: Vec<Option<SavedRun>>) -> SavedSession {
        SavedSession { version: SESSION_VERSION, saved_at: 0.0, query: String::new(), runs, custom_text: String::new() }
    }

    #[test]
    fn session_step_is_slower_run() {
        assert_eq!(session(vec![Some(run(25)), Some(run(20))]).step(), 20);
        assert_eq!(session(vec![Some(run(20)), Some(run(25))]).step(), 20);
        assert_eq!(session(vec![None, Some(run(25))]).step(), 25);
        assert_eq!(session(vec![None, None]).step(), 0);
    }

    #[test]
    fn session_trained_needs_a_step() {
        assert!(session(vec![Some(run(0)), Some(run(5))]).trained());
        assert!(!session(vec![Some(run(0)), None]).trained());
        assert!(!session(vec![]).trained());
    }
}
