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
use crate::settings::{Rejection, TaskChoice, TEXT_VOCAB};

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
}

impl Playground {
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
        html! {
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
        }
    }
}

fn rejected(strings: &Strings, rejection: &Rejection, file: Option<&str>) -> String {
    let text = strings
        .text_rejected
        .replace("{field}", &rejection.field)
        .replace("{value}", &rejection.value)
        .replace("{allowed}", &rejection.allowed);
    match file {
        Some(name) => format!("{name}: {text}"),
        None => text,
    }
}
