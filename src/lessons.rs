//! Lessons: named presets that set the two runs for one question, each with
//! a sentence to click and a note on what to watch.
//!
//! The page always trains two runs, so every lesson names a pair. The first
//! lesson, which shows a sink forming, puts the baseline in both slots: the
//! runs share the seed and so train identically, which shows that the sink is
//! not luck of one run. Questions with more than one pair to compare (where
//! to put the gate, the other remedies) are split into a lesson and its
//! follow-ups, shown as further sentences under the chosen lesson.

use crate::i18n::{Lang, Strings};
use crate::settings::{Settings, TaskChoice};

/// One preset of the lesson list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lesson {
    /// Name used in the `lesson` URL key.
    pub key: &'static str,
    /// Variants of run A and run B, as `Variant::parse` reads them.
    pub variants: [&'static str; 2],
    /// Lessons about heads use 2 layers and 2 heads: with one head,
    /// head-shared equals head-specific and the sink-head share is 0 or 1.
    pub several_heads: bool,
    /// Trains on the character text of the page language instead of
    /// Bigram-Backcopy.
    pub text: bool,
    /// Keys of the lessons offered as the next sentences after this one.
    pub follow_ups: &'static [&'static str],
    /// Key of the lesson this one follows, if it is a follow-up.
    pub parent: Option<&'static str>,
}

const fn lesson(key: &'static str, a: &'static str, b: &'static str) -> Lesson {
    Lesson { key, variants: [a, b], several_heads: false, text: false, follow_ups: &[], parent: None }
}

/// Every lesson, in the order the page lists them. Follow-ups come right
/// after their parent.
pub const LESSONS: [Lesson; 11] = [
    lesson("sink", "baseline", "baseline"),
    lesson("gate", "baseline", "g1"),
    Lesson { follow_ups: &["where-g5", "where-g3-g4"], ..lesson("where-g2", "g1", "g2") },
    Lesson { parent: Some("where-g2"), ..lesson("where-g5", "g1", "g5") },
    Lesson { parent: Some("where-g2"), ..lesson("where-g3-g4", "g3", "g4") },
    Lesson { several_heads: true, ..lesson("headwise", "g1", "g1-headwise") },
    Lesson { several_heads: true, ..lesson("shared", "g1", "g1-shared") },
    Lesson { follow_ups: &["sink-logit", "sigmoid-attn"], ..lesson("softmax1", "baseline", "softmax1") },
    Lesson { parent: Some("softmax1"), ..lesson("sink-logit", "baseline", "sink-logit") },
    Lesson { parent: Some("softmax1"), ..lesson("sigmoid-attn", "baseline", "sigmoid-attn") },
    Lesson { text: true, ..lesson("text", "baseline", "g1") },
];

/// Returns the lesson named `key`.
pub fn find(key: &str) -> Option<&'static Lesson> {
    LESSONS.iter().find(|lesson| lesson.key == key)
}

/// Returns every lesson key, comma-separated, for rejection messages.
pub fn keys() -> String {
    LESSONS.iter().map(|lesson| lesson.key).collect::<Vec<_>>().join(", ")
}

impl Lesson {
    /// Returns `base` with this lesson's runs: its variants, its model size
    /// and its task. The seed, the batch and the learning rate stay those of
    /// `base`, so that a lesson picked on the CPU keeps the CPU's smaller
    /// batch. `lang` picks the text of the text lesson.
    pub fn apply(&self, base: &Settings, lang: Lang) -> Settings {
        let mut settings = base.clone();
        settings.variants = self.variants.map(str::to_string);
        if self.several_heads {
            settings.layers = 2;
            settings.heads = 2;
        }
        if self.text {
            settings.task = match lang {
                Lang::En => TaskChoice::TextEnglish,
                Lang::Ja => TaskChoice::TextJapanese,
            };
        }
        settings
    }

    /// Returns the sentence to click and the note on what to watch.
    pub fn text(&self, strings: &Strings) -> (&'static str, &'static str) {
        match self.key {
            "sink" => (strings.lesson_sink, strings.lesson_sink_watch),
            "gate" => (strings.lesson_gate, strings.lesson_gate_watch),
            "where-g2" => (strings.lesson_where_g2, strings.lesson_where_g2_watch),
            "where-g5" => (strings.lesson_where_g5, strings.lesson_where_g5_watch),
            "where-g3-g4" => (strings.lesson_where_g3_g4, strings.lesson_where_g3_g4_watch),
            "headwise" => (strings.lesson_headwise, strings.lesson_headwise_watch),
            "shared" => (strings.lesson_shared, strings.lesson_shared_watch),
            "softmax1" => (strings.lesson_softmax1, strings.lesson_softmax1_watch),
            "sink-logit" => (strings.lesson_sink_logit, strings.lesson_sink_logit_watch),
            "sigmoid-attn" => (strings.lesson_sigmoid, strings.lesson_sigmoid_watch),
            _ => (strings.lesson_text, strings.lesson_text_watch),
        }
    }
}

#[cfg(test)]
mod tests {
    use gatelab_model::{Limits, Variant};

    use super::*;

    #[test]
    fn every_lesson_validates() {
        for lesson in LESSONS {
            for lang in Lang::ALL {
                let settings = lesson.apply(&Settings::lesson(), lang);
                assert_eq!(settings.validate(), Ok(()), "lesson {}", lesson.key);
                for index in 0..2 {
                    let config = settings.run_config(index);
                    assert!(config.validate(&Limits::PAGE).is_ok(), "lesson {} run {index}", lesson.key);
                }
            }
        }
    }

    #[test]
    fn lesson_variants_parse() {
        for lesson in LESSONS {
            for name in lesson.variants {
                assert!(Variant::parse(name).is_ok(), "lesson {} variant {name}", lesson.key);
            }
        }
    }

    #[test]
    fn lesson_keys_unique() {
        for (index, lesson) in LESSONS.iter().enumerate() {
            assert_eq!(LESSONS.iter().position(|other| other.key == lesson.key), Some(index), "{}", lesson.key);
        }
    }

    #[test]
    fn follow_ups_point_back() {
        for lesson in LESSONS {
            for key in lesson.follow_ups {
                let follow_up = find(key).unwrap_or_else(|| panic!("follow-up {key} of {} is missing", lesson.key));
                assert_eq!(follow_up.parent, Some(lesson.key));
            }
            if let Some(parent) = lesson.parent {
                assert!(find(parent).is_some_and(|parent| parent.follow_ups.contains(&lesson.key)), "{}", lesson.key);
            }
        }
    }

    #[test]
    fn lesson_texts_distinct() {
        for lang in Lang::ALL {
            let strings = lang.strings();
            let texts: Vec<_> = LESSONS.iter().map(|lesson| lesson.text(strings)).collect();
            for (index, text) in texts.iter().enumerate() {
                assert_eq!(texts.iter().position(|other| other == text), Some(index), "{lang:?} {}", LESSONS[index].key);
            }
        }
    }

    #[test]
    fn text_lesson_follows_language() {
        let text = find("text").unwrap();
        assert_eq!(text.apply(&Settings::lesson(), Lang::En).task, TaskChoice::TextEnglish);
        assert_eq!(text.apply(&Settings::lesson(), Lang::Ja).task, TaskChoice::TextJapanese);
    }

    #[test]
    fn head_lessons_use_two_heads() {
        let settings = find("shared").unwrap().apply(&Settings::lesson(), Lang::En);
        assert_eq!((settings.layers, settings.heads), (2, 2));
    }
}
