//! The user's own text for the text task: pasted or uploaded as `.txt`,
//! checked with the other settings, and counted for characters that fall
//! outside the capped vocabulary (UNK).

use gatelab_model::tasks::CharVocab;
use gatelab_model::Limits;
use web_sys::{HtmlInputElement, HtmlTextAreaElement};
use yew::prelude::*;

use super::{Msg, Playground};
use crate::download;
use crate::i18n::Strings;
use crate::settings::{Rejection, Settings, TaskChoice, TEXT_VOCAB};

pub enum TextMsg {
    Draft(String),
    Use,
    File(web_sys::File),
    Read(String, Result<String, (usize, usize)>),
}

impl From<TextMsg> for Msg {
    fn from(msg: TextMsg) -> Msg {
        Msg::Text(msg)
    }
}

#[derive(Default)]
pub struct TextState {
    draft: String,
    error: Option<String>,
    /// The link's own-text task, waiting for the text from the saved session.
    pending: Option<PendingText>,
    /// The link chose the own-text task, but no saved text was found.
    missing: bool,
}

/// A link that chooses the own-text task, parsed again once the saved
/// session's text is read.
pub struct PendingText {
    query: String,
    defaults: Settings,
}

impl TextState {
    /// Returns the state of a page whose link may wait for its own text.
    pub fn new(pending: Option<PendingText>) -> TextState {
        TextState { pending, ..TextState::default() }
    }

    /// Returns whether the runs wait for the own text of the saved session.
    pub fn pending(&self) -> bool {
        self.pending.is_some()
    }
}

/// Holds back the rejection of an empty own text when the link chooses the
/// own-text task and carries no text. Links never carry the text, which is
/// kept with the saved session in IndexedDB and read only after the page
/// starts, so the empty text is "not loaded yet", not an error. Returns the
/// other rejections and, in that case, the pending link.
pub fn hold_own_text(query: &str, defaults: &Settings, rejections: Vec<Rejection>) -> (Vec<Rejection>, Option<PendingText>) {
    let pairs: Vec<&str> = query.trim_start_matches('?').split('&').collect();
    let chooses_own_text = pairs.contains(&"task=text-custom") && !pairs.iter().any(|pair| pair.starts_with("text="));
    let (text, others): (Vec<Rejection>, Vec<Rejection>) =
        rejections.into_iter().partition(|rejection| rejection.field == "text");
    if !chooses_own_text || text.is_empty() || !defaults.custom_text.is_empty() {
        return ([others, text].concat(), None);
    }
    (others, Some(PendingText { query: query.to_string(), defaults: defaults.clone() }))
}
impl Playground {
    /// Settles a pending own-text link once the saved session was read.
    /// With the session's text, the link's settings apply in full, else the
    /// page shows the missing-text notice. Then the runs start.
    pub(super) fn resolve_own_text(&mut self, ctx: &Context<Self>, saved_text: Option<&str>) {
        let Some(pending) = self.text.pending.take() else {
            return;
        };
        match saved_text.filter(|text| !text.is_empty()) {
            Some(text) => {
                let defaults = Settings { custom_text: text.to_string(), ..pending.defaults };
                let (settings, rejections) = Settings::from_query(&pending.query, &defaults);
                self.settings = settings;
                self.rejections.extend(rejections);
                self.text.draft = text.to_string();
            }
            None => self.text.missing = true,
        }
        self.restart(ctx, false);
    }

    pub(super) fn text_update(&mut self, ctx: &Context<Self>, msg: TextMsg) {
        let strings = ctx.props().lang.strings();
        match msg {
            TextMsg::Draft(text) => self.text.draft = text,
            TextMsg::Use => {
                let text = self.text.draft.clone();
                self.use_text(ctx, strings, &text, None);
            }
            TextMsg::File(file) => {
                let name = file.name();
                ctx.link().send_future(async move {
                    let result = match download::read_text(&file, Limits::PAGE.max_text_bytes).await {
                        Ok(text) => Ok(text),
                        Err(download::ReadError::TooLarge { bytes, max }) => Err((bytes, max)),
                        // An unreadable file reads as empty text, which the
                        // validator refuses as too short.
                        Err(download::ReadError::Unreadable(_)) => Ok(String::new()),
                    };
                    Msg::Text(TextMsg::Read(name, result))
                });
            }
            TextMsg::Read(name, Ok(text)) => {
                self.text.draft = text.clone();
                self.use_text(ctx, strings, &text, Some(&name));
            }
            TextMsg::Read(name, Err((bytes, max))) => {
                let rejection = Rejection { field: "text".into(), value: format!("{bytes} bytes"), allowed: format!("≤ {max} bytes") };
                self.text.error = Some(rejected(strings, &rejection, Some(&name)));
            }
        }
    }

    fn use_text(&mut self, ctx: &Context<Self>, strings: &Strings, text: &str, file: Option<&str>) {
        match self.settings.set("text", text) {
            Ok(()) => {
                self.text.error = None;
                self.text.missing = false;
                self.restart(ctx, false);
            }
            Err(rejection) => self.text.error = Some(rejected(strings, &rejection, file)),
        }
    }

    pub(super) fn text_view(&self, ctx: &Context<Self>, strings: &Strings) -> Html {
        let link = ctx.link();
        let oninput = link.callback(|event: InputEvent| {
            Msg::Text(TextMsg::Draft(event.target_unchecked_into::<HtmlTextAreaElement>().value()))
        });
        let onchange = link.batch_callback(|event: Event| {
            let input: HtmlInputElement = event.target_unchecked_into();
            let file = input.files().and_then(|files| files.get(0));
            input.set_value("");
            file.map(|file| Msg::Text(TextMsg::File(file)))
        });
        let summary = (self.settings.task == TaskChoice::TextCustom).then(|| {
            let text = &self.settings.custom_text;
            let (_, unknown) = CharVocab::from_text(text, TEXT_VOCAB).encode(text);
            let line = strings
                .text_summary
                .replace("{chars}", &text.chars().count().to_string())
                .replace("{unk}", &unknown.to_string())
                .replace("{vocab}", &TEXT_VOCAB.to_string());
            html! { <p class="note" data-testid="text-summary">{ line }</p> }
        });
        let error = self.text.error.as_ref().map(|error| {
            html! { <p class="notice error" role="alert" data-testid="text-error">{ error.clone() }</p> }
        });
        let limit = strings.text_limit.replace("{max}", &Limits::PAGE.max_text_bytes.to_string());
        let missing = self.text.missing.then(|| {
            html! { <p class="notice error" role="alert" data-testid="text-missing">{ strings.text_missing }</p> }
        });
        html! {
            <>
            { missing }
            <details class="own-text">
                <summary>{ strings.text_heading }</summary>
                <p class="note">{ limit }</p>
                <textarea data-testid="text-input" rows="8" value={self.text.draft.clone()} {oninput}
                    aria-label={strings.text_heading} />
                <p>
                    <button type="button" data-testid="use-text" onclick={link.callback(|_| TextMsg::Use)}>{ strings.text_use }</button>
                    { " " }
                    <label class="control">
                        <span>{ strings.text_upload }</span>
                        <input type="file" accept=".txt,text/plain" data-testid="text-file" {onchange} />
                    </label>
                </p>
                { error }
                { summary }
            </details>
            </>
        }
    }
}

fn rejected(strings: &Strings, rejection: &Rejection, file: Option<&str>) -> String {
    let (value, allowed) = rejection.localized(strings);
    let text = strings
        .text_rejected
        .replace("{field}", &rejection.field)
        .replace("{value}", &value)
        .replace("{allowed}", &allowed);
    match file {
        Some(name) => format!("{name}: {text}"),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(query: &str) -> (Vec<Rejection>, Option<PendingText>) {
        let defaults = Settings::lesson();
        let (_, rejections) = Settings::from_query(query, &defaults);
        hold_own_text(query, &defaults, rejections)
    }

    #[test]
    fn own_text_link_waits() {
        let (rejections, pending) = parse("?a=baseline&task=text-custom&width=32");
        assert_eq!(rejections, Vec::new());
        assert_eq!(pending.map(|p| p.query), Some("?a=baseline&task=text-custom&width=32".to_string()));
    }

    #[test]
    fn other_rejections_stay() {
        let (rejections, pending) = parse("task=text-custom&width=33");
        assert!(pending.is_some());
        assert_eq!(rejections.iter().map(|r| r.field.as_str()).collect::<Vec<_>>(), ["width"]);
    }

    #[test]
    fn short_text_in_link_is_rejected() {
        let (rejections, pending) = parse("task=text-custom&text=short");
        assert!(pending.is_none());
        assert_eq!(rejections.iter().map(|r| r.field.as_str()).collect::<Vec<_>>(), ["text"]);
    }

    #[test]
    fn other_tasks_do_not_wait() {
        let (rejections, pending) = parse("task=text-en");
        assert!(pending.is_none());
        assert!(rejections.is_empty());
    }

    #[test]
    fn saved_text_passes_link() {
        let query = "task=text-custom&seq_len=32";
        let (_, pending) = parse(query);
        let pending = pending.expect("the link waits for its text");
        let text = "a text long enough for the validator, which wants 64 characters or more.";
        let defaults = Settings { custom_text: text.to_string(), ..pending.defaults };
        let (settings, rejections) = Settings::from_query(&pending.query, &defaults);
        assert_eq!(rejections, Vec::new());
        assert_eq!(settings.task, TaskChoice::TextCustom);
        assert_eq!(settings.seq_len, 32);
    }
}
