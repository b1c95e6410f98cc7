//! The lesson list: one clickable sentence per lesson, and under the chosen
//! lesson what to watch and its follow-up sentences.

use yew::prelude::*;

use super::use_strings;
use crate::lessons::{self, Lesson, LESSONS};

#[derive(Properties, PartialEq)]
pub struct LessonsProps {
    /// The lesson the runs are set for, if any.
    pub current: Option<&'static Lesson>,
    /// Called with the key of the sentence that the user clicks.
    pub on_select: Callback<&'static str>,
}

/// Renders the lesson sentences; follow-ups appear under their parent once
/// the parent or one of its follow-ups is chosen.
#[function_component(Lessons)]
pub fn lessons_panel(props: &LessonsProps) -> Html {
    let strings = use_strings();
    let current_key = props.current.map(|lesson| lesson.key);
    // The main lesson whose follow-ups are shown.
    let open_parent = props.current.map(|lesson| lesson.parent.unwrap_or(lesson.key));

    let sentence = |lesson: &'static Lesson| {
        let (text, _) = lesson.text(strings);
        let key = lesson.key;
        let onclick = props.on_select.reform(move |_: MouseEvent| key);
        let pressed = current_key == Some(key);
        html! {
            <button type="button" class="lesson-link" data-testid={format!("lesson-{key}")}
                aria-pressed={pressed.to_string()} {onclick}>{ text }</button>
        }
    };

    let watch = props.current.map(|lesson| {
        let (_, watch) = lesson.text(strings);
        html! {
            <p class="lesson-watch" data-testid="lesson-watch">
                <strong>{ strings.lessons_watch }</strong>{ " " }{ watch }
            </p>
        }
    });

    let items = LESSONS.iter().filter(|lesson| lesson.parent.is_none()).map(|lesson| {
        let follow_ups = (open_parent == Some(lesson.key) && !lesson.follow_ups.is_empty()).then(|| {
            html! {
                <div class="lesson-follow-ups">
                    <span>{ strings.lessons_follow_up }</span>
                    <ul>
                        { for lesson.follow_ups.iter().filter_map(|key| lessons::find(key)).map(|follow_up| {
                            html! { <li>{ sentence(follow_up) }</li> }
                        }) }
                    </ul>
                </div>
            }
        });
        let chosen = open_parent == Some(lesson.key);
        html! {
            <li>
                { sentence(lesson) }
                { follow_ups }
                if chosen { { watch.clone() } }
            </li>
        }
    });

    html! {
        <section class="lessons" data-testid="lessons">
            <h3>{ strings.lessons_heading }</h3>
            <p class="note">{ strings.lessons_intro }</p>
            <ol>{ for items }</ol>
        </section>
    }
}
