//! The parts of a link that a teacher sets for a class: the lesson, the page
//! language and the controls hidden from students. They share the query
//! string with [`Settings`](super::Settings) under their own keys (`lesson`,
//! `lang`, `hide`), which `Settings::from_query` ignores.

use super::{decode_component, encode_component, Rejection};
use crate::i18n::Lang;
use crate::lessons::{self, Lesson};

/// A group of controls that a link can hide.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ControlGroup {
    /// The lesson sentences.
    Lessons,
    /// The variant select of each run.
    Variants,
    /// Layers, heads, width, sequence length and batch.
    Sizes,
    /// The learning rate.
    LearningRate,
    /// The task select.
    Task,
    /// Training steps and steps per frame.
    Length,
    /// The New seed button.
    Seed,
}

impl ControlGroup {
    pub const ALL: [ControlGroup; 7] = [
        ControlGroup::Lessons,
        ControlGroup::Variants,
        ControlGroup::Sizes,
        ControlGroup::LearningRate,
        ControlGroup::Task,
        ControlGroup::Length,
        ControlGroup::Seed,
    ];

    /// Returns the name used in the `hide` URL key.
    pub fn key(self) -> &'static str {
        match self {
            ControlGroup::Lessons => "lessons",
            ControlGroup::Variants => "variants",
            ControlGroup::Sizes => "sizes",
            ControlGroup::LearningRate => "lr",
            ControlGroup::Task => "task",
            ControlGroup::Length => "length",
            ControlGroup::Seed => "seed",
        }
    }

    pub fn from_key(key: &str) -> Option<ControlGroup> {
        ControlGroup::ALL.into_iter().find(|group| group.key() == key)
    }

    /// Returns the group of a settings select, by its URL key.
    pub fn of_setting(key: &str) -> Option<ControlGroup> {
        match key {
            "layers" | "heads" | "width" | "seq_len" | "batch" => Some(ControlGroup::Sizes),
            "lr" => Some(ControlGroup::LearningRate),
            "task" => Some(ControlGroup::Task),
            "steps" | "spf" => Some(ControlGroup::Length),
            "a" | "b" => Some(ControlGroup::Variants),
            _ => None,
        }
    }
}

/// The lesson, the language and the hidden controls of a link.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ClassroomState {
    pub lesson: Option<&'static Lesson>,
    /// The language the link requests. Without one, the page follows the browser.
    pub lang: Option<Lang>,
    /// Hidden control groups, in [`ControlGroup::ALL`] order, without repeats.
    pub hidden: Vec<ControlGroup>,
}

impl ClassroomState {
    /// Parses the `lesson`, `lang` and `hide` keys of a query string (with or
    /// without the leading `?`). Other keys are ignored. A rejected value
    /// leaves its part at the default and is returned as a [`Rejection`].
    pub fn from_query(query: &str) -> (ClassroomState, Vec<Rejection>) {
        let mut state = ClassroomState::default();
        let mut rejections = Vec::new();
        let query = query.strip_prefix('?').unwrap_or(query);
        for pair in query.split('&').filter(|pair| !pair.is_empty()) {
            let (key, raw) = pair.split_once('=').unwrap_or((pair, ""));
            let value = decode_component(raw);
            let result = match key {
                "lesson" => state.set_lesson(&value),
                "lang" => state.set_lang(&value),
                "hide" => state.set_hidden(&value),
                _ => Ok(()),
            };
            if let Err(rejection) = result {
                rejections.push(rejection);
            }
        }
        (state, rejections)
    }

    /// Returns whether a `key=value` pair of a query string belongs to this
    /// state rather than to the settings.
    pub fn owns_pair(pair: &str) -> bool {
        let key = pair.split_once('=').map_or(pair, |(key, _)| key);
        matches!(key, "lesson" | "lang" | "hide")
    }

    /// Encodes the parts that are set, without the leading `?`; empty when
    /// none is.
    pub fn to_query(&self) -> String {
        let mut pairs = Vec::new();
        if let Some(lesson) = self.lesson {
            pairs.push(format!("lesson={}", encode_component(lesson.key)));
        }
        if let Some(lang) = self.lang {
            pairs.push(format!("lang={}", lang.tag()));
        }
        if !self.hidden.is_empty() {
            let keys: Vec<&str> = self.hidden.iter().map(|group| group.key()).collect();
            pairs.push(format!("hide={}", encode_component(&keys.join(","))));
        }
        pairs.join("&")
    }

    pub fn hides(&self, group: ControlGroup) -> bool {
        self.hidden.contains(&group)
    }

    /// Shows or hides one group, keeping [`ControlGroup::ALL`] order.
    pub fn set_hidden_group(&mut self, group: ControlGroup, hidden: bool) {
        self.hidden.retain(|other| *other != group);
        if hidden {
            self.hidden.push(group);
        }
        self.hidden.sort_by_key(|group| ControlGroup::ALL.iter().position(|other| other == group));
    }

    fn set_lesson(&mut self, value: &str) -> Result<(), Rejection> {
        let lesson = lessons::find(value).ok_or_else(|| Rejection {
            field: "lesson".to_string(),
            value: value.to_string(),
            allowed: lessons::keys(),
        })?;
        self.lesson = Some(lesson);
        Ok(())
    }

    fn set_lang(&mut self, value: &str) -> Result<(), Rejection> {
        let lang = Lang::ALL.into_iter().find(|lang| lang.tag() == value).ok_or_else(|| Rejection {
            field: "lang".to_string(),
            value: value.to_string(),
            allowed: Lang::ALL.map(Lang::tag).join(", "),
        })?;
        self.lang = Some(lang);
        Ok(())
    }

    /// Sets the hidden groups from a comma-separated list; an unknown name
    /// rejects the whole list, so a student never sees a half-applied one.
    fn set_hidden(&mut self, value: &str) -> Result<(), Rejection> {
        let mut hidden = ClassroomState::default();
        for name in value.split(',').map(str::trim).filter(|name| !name.is_empty()) {
            let group = ControlGroup::from_key(name).ok_or_else(|| Rejection {
                field: "hide".to_string(),
                value: value.to_string(),
                allowed: ControlGroup::ALL.map(ControlGroup::key).join(", "),
            })?;
            hidden.set_hidden_group(group, true);
        }
        self.hidden = hidden.hidden;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_query_sets_nothing() {
        let (state, rejections) = ClassroomState::from_query("?a=g1&width=64");
        assert_eq!(state, ClassroomState::default());
        assert_eq!(rejections, vec![]);
        assert_eq!(state.to_query(), "");
    }

    #[test]
    fn full_state_round_trips() {
        let mut state = ClassroomState { lesson: lessons::find("where-g3-g4"), lang: Some(Lang::Ja), hidden: vec![] };
        state.set_hidden_group(ControlGroup::Seed, true);
        state.set_hidden_group(ControlGroup::Sizes, true);
        let query = state.to_query();
        assert_eq!(query, "lesson=where-g3-g4&lang=ja&hide=sizes%2Cseed");
        let (parsed, rejections) = ClassroomState::from_query(&query);
        assert_eq!(rejections, vec![]);
        assert_eq!(parsed, state);
    }

    #[test]
    fn every_group_round_trips() {
        for group in ControlGroup::ALL {
            let (parsed, rejections) = ClassroomState::from_query(&format!("hide={}", group.key()));
            assert_eq!(rejections, vec![]);
            assert_eq!(parsed.hidden, vec![group]);
        }
    }

    #[test]
    fn hidden_groups_sorted_unique() {
        let (parsed, _) = ClassroomState::from_query("hide=seed,lessons,seed");
        assert_eq!(parsed.hidden, vec![ControlGroup::Lessons, ControlGroup::Seed]);
    }

    #[test]
    fn unknown_lesson_rejected() {
        let (state, rejections) = ClassroomState::from_query("lesson=nope");
        assert_eq!(state.lesson, None);
        assert_eq!(rejections.len(), 1);
        assert_eq!(rejections[0].field, "lesson");
        assert_eq!(rejections[0].value, "nope");
        assert!(rejections[0].allowed.contains("where-g2"), "{}", rejections[0].allowed);
    }

    #[test]
    fn unknown_lang_rejected() {
        let (state, rejections) = ClassroomState::from_query("lang=fr");
        assert_eq!(state.lang, None);
        assert_eq!(rejections, vec![Rejection { field: "lang".into(), value: "fr".into(), allowed: "en, ja".into() }]);
    }

    #[test]
    fn unknown_hidden_group_rejects_list() {
        let (state, rejections) = ClassroomState::from_query("hide=seed,colours");
        assert_eq!(state.hidden, vec![]);
        assert_eq!(rejections.len(), 1);
        assert_eq!(rejections[0].field, "hide");
        assert_eq!(rejections[0].value, "seed,colours");
    }

    #[test]
    fn settings_ignore_classroom_keys() {
        let defaults = super::super::Settings::lesson();
        let (settings, rejections) = super::super::Settings::from_query("lesson=gate&lang=ja&hide=seed", &defaults);
        assert_eq!(rejections, vec![]);
        assert_eq!(settings, defaults);
    }

    #[test]
    fn every_setting_has_group() {
        for key in ["a", "b", "layers", "heads", "width", "seq_len", "batch", "lr", "task", "steps", "spf"] {
            assert!(ControlGroup::of_setting(key).is_some(), "{key}");
        }
    }
}
