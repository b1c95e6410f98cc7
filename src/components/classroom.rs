//! The classroom panel: the link to this view with a copy button, and the
//! tick boxes with which a teacher hides controls from students.
//!
//! Hiding declutters the page for a class but is not access control. The tick
//! boxes stay in a closed `<details>` that anyone can open.

use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::HtmlInputElement;
use yew::prelude::*;

use super::use_strings;
use crate::i18n::Strings;
use crate::settings::{ClassroomState, ControlGroup};

#[derive(Properties, PartialEq)]
pub struct ClassroomProps {
    pub state: ClassroomState,
    /// The full address of the current view.
    pub link: AttrValue,
    /// Called with a group and whether it is now hidden.
    pub on_hide: Callback<(ControlGroup, bool)>,
    /// The own-text task is chosen but its text is too long for the link.
    #[prop_or_default]
    pub text_left_out: bool,
}

/// Outcome of the last copy-button press.
#[derive(Clone, Copy, PartialEq)]
enum CopyStatus {
    None,
    Copied,
    Selected,
}

#[function_component(Classroom)]
pub fn classroom(props: &ClassroomProps) -> Html {
    let strings = use_strings();
    let field = use_node_ref();
    let status = use_state(|| CopyStatus::None);

    // A new link makes the old status stale.
    {
        let status = status.clone();
        use_effect_with(props.link.clone(), move |_| status.set(CopyStatus::None));
    }

    let on_copy = {
        let field = field.clone();
        let status = status.clone();
        let link = props.link.to_string();
        Callback::from(move |_: MouseEvent| {
            let field = field.clone();
            let status = status.clone();
            let link = link.clone();
            wasm_bindgen_futures::spawn_local(async move {
                if write_clipboard(&link).await {
                    status.set(CopyStatus::Copied);
                } else {
                    // Without clipboard access the user copies by hand.
                    if let Some(input) = field.cast::<HtmlInputElement>() {
                        let _ = input.focus();
                        input.select();
                    }
                    status.set(CopyStatus::Selected);
                }
            });
        })
    };

    let status_text = match *status {
        CopyStatus::None => "",
        CopyStatus::Copied => strings.link_copied,
        CopyStatus::Selected => strings.link_select_manually,
    };

    let text_note = props
        .text_left_out
        .then(|| html! { <p class="note" data-testid="link-text-left-out">{ strings.link_text_left_out }</p> });
    let hidden_note = (!props.state.hidden.is_empty())
        .then(|| html! { <p class="note" data-testid="classroom-hidden-note">{ strings.classroom_hidden_note }</p> });

    html! {
        <section class="classroom" data-testid="classroom">
            <div class="copy-link">
                <label class="control">
                    <span>{ strings.link_label }</span>
                    <input ref={field} type="text" readonly=true value={props.link.clone()} data-testid="link-field" />
                </label>
                <button type="button" data-testid="copy-link" onclick={on_copy}>{ strings.copy_link }</button>
                <span class="copy-status" role="status" data-testid="copy-status">{ status_text }</span>
            </div>
            { text_note }
            { hidden_note }
            <details data-testid="classroom-details">
                <summary>{ strings.classroom_heading }</summary>
                <p class="note">{ strings.classroom_intro }</p>
                <ul class="hide-choices">
                    { for ControlGroup::ALL.into_iter().map(|group| hide_box(props, strings, group)) }
                </ul>
            </details>
        </section>
    }
}

fn hide_box(props: &ClassroomProps, strings: &Strings, group: ControlGroup) -> Html {
    let checked = props.state.hides(group);
    let onchange = props.on_hide.reform(move |event: Event| {
        let input: HtmlInputElement = event.target_unchecked_into();
        (group, input.checked())
    });
    let label = match group {
        ControlGroup::Lessons => strings.hide_lessons,
        ControlGroup::Variants => strings.hide_variants,
        ControlGroup::Sizes => strings.hide_sizes,
        ControlGroup::LearningRate => strings.hide_lr,
        ControlGroup::Task => strings.hide_task,
        ControlGroup::Length => strings.hide_length,
        ControlGroup::Seed => strings.hide_seed,
    };
    html! {
        <li>
            <label>
                <input type="checkbox" name={format!("hide-{}", group.key())} data-testid={format!("hide-{}", group.key())}
                    {checked} {onchange} />
                { " " }{ label }
            </label>
        </li>
    }
}

/// Writes `text` to the clipboard through `navigator.clipboard.writeText`;
/// returns false where the API is missing or the browser refuses.
async fn write_clipboard(text: &str) -> bool {
    let navigator = gloo::utils::window().navigator();
    let Ok(clipboard) = js_sys::Reflect::get(&navigator, &"clipboard".into()) else {
        return false;
    };
    if clipboard.is_undefined() {
        return false;
    }
    let Ok(write) = js_sys::Reflect::get(&clipboard, &"writeText".into()) else {
        return false;
    };
    let Some(write) = write.dyn_ref::<js_sys::Function>() else {
        return false;
    };
    let Ok(promise) = write.call1(&clipboard, &text.into()) else {
        return false;
    };
    match promise.dyn_into::<js_sys::Promise>() {
        Ok(promise) => JsFuture::from(promise).await.is_ok(),
        Err(_) => false,
    }
}
