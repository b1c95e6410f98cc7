//! User-visible text, one table per language.
//!
//! Every string that the page shows comes from a [`Strings`] table. Each
//! language fills in every field, so a language that misses a key fails to
//! compile. The tests below check the tables for empty strings and for
//! Japanese entries that were left in English.

mod en;
mod ja;

pub use en::EN;
pub use ja::JA;

/// Declares the `Strings` table type and `Strings::entries`, both from one
/// field list, so the tests see every field that a language must fill in.
macro_rules! define_strings {
    ($($(#[doc = $doc:literal])* $field:ident,)*) => {
        /// The text of the page in one language.
        #[derive(Debug)]
        pub struct Strings {
            $($(#[doc = $doc])* pub $field: &'static str,)*
        }

        impl Strings {
            /// Returns every `(field name, text)` pair, in declaration order.
            #[cfg(test)]
            pub fn entries(&self) -> Vec<(&'static str, &'static str)> {
                vec![$((stringify!($field), self.$field),)*]
            }
        }
    };
}

define_strings! {
    /// Document title shown in the browser tab.
    document_title,
    /// Project name shown in the header.
    brand,
    /// One-line summary under the project name.
    tagline,
    /// Label of the language switch, read by screen readers.
    language_switch_label,
    /// Name of English on the language switch.
    language_english,
    /// Name of Japanese on the language switch.
    language_japanese,
    /// Heading of the introduction.
    intro_heading,
    /// First introduction paragraph: what gatelab trains and where.
    intro_body,
    /// Second introduction paragraph: what an attention sink is.
    intro_sink,
    /// Notice that training is not available yet.
    intro_status,
    /// Heading of the side-by-side comparison.
    comparison_heading,
    /// Title of the baseline model's card.
    baseline_title,
    /// Description of the baseline model.
    baseline_body,
    /// What the baseline card will show once training runs.
    baseline_expectation,
    /// Title of the gated model's card.
    gated_title,
    /// Description of the gate.
    gated_body,
    /// What the gated card will show once training runs.
    gated_expectation,
    /// Short name of the first-token attention metric.
    metric_name,
    /// Definition of the first-token attention metric.
    metric_definition,
    /// Heading of the compute backend section.
    backend_heading,
    /// Explanation of the WebGPU path and the CPU fallback.
    backend_body,
    /// Result of the WebGPU check when `navigator.gpu` exists.
    backend_webgpu_found,
    /// Result of the WebGPU check when `navigator.gpu` is missing.
    backend_webgpu_missing,
    /// Lead-in before the paper reference in the footer.
    footer_source,
    /// Authors and year of the paper, as cited in the footer.
    paper_authors,
    /// Title of the paper, as cited in the footer.
    paper_title,
    /// Identifier of the paper, the text of the link to it.
    paper_reference,
}

/// A language that the page can be shown in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    En,
    Ja,
}

impl Lang {
    /// Every supported language, in the order the switch lists them.
    pub const ALL: [Lang; 2] = [Lang::En, Lang::Ja];

    /// Returns the string table of this language.
    pub fn strings(self) -> &'static Strings {
        match self {
            Lang::En => &EN,
            Lang::Ja => &JA,
        }
    }

    /// Returns the BCP 47 tag for the `lang` attribute of `<html>`.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ja => "ja",
        }
    }

    /// Picks the page language for a browser language tag such as `ja-JP`.
    ///
    /// A tag whose primary subtag is `ja` (any case) selects Japanese, and
    /// every other tag, an empty one included, selects English.
    pub fn from_language_tag(tag: &str) -> Lang {
        let primary = tag.split(['-', '_']).next().unwrap_or("");
        if primary.eq_ignore_ascii_case("ja") {
            Lang::Ja
        } else {
            Lang::En
        }
    }

    /// Reads `navigator.language` and picks the page language from it.
    ///
    /// Returns English outside a browser, where there is no `window`.
    pub fn from_browser() -> Lang {
        web_sys::window()
            .and_then(|window| window.navigator().language())
            .map(|tag| Lang::from_language_tag(&tag))
            .unwrap_or(Lang::En)
    }
}

#[cfg(test)]
mod tests;
