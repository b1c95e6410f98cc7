use super::{Lang, Strings, EN, JA};

/// Terms that Japanese text keeps in Latin letters: names, code and API names,
/// and the technical terms that readers search for in English.
const ALLOWED_LATIN_TERMS: &[&str] = &[
    "Gated Attention for Large Language Models: Non-linearity, Sparsity, and Attention-Sink-Free",
    "API",
    "AdamW",
    ".txt",
    "UNK",
    "CSV",
    "JSON",
    "PNG",
    "safetensors",
    "gatelab-run",
    "format",
    "BOS",
    "navigator.gpu",
    "Web Worker",
    "arXiv",
    "English",
    "F-Attn",
    "G1",
    "G2",
    "G3",
    "G4",
    "G5",
    "gatelab",
    "GPU",
    "CPU",
    "Qiu",
    "Rust",
    "sigmoid",
    "SiLU",
    "softmax",
    "Transformer",
    "value",
    "WebAssembly",
    "WebGPU",
    "WGSL",
    // Lessons and the explanation: variant and gate names, and formula symbols.
    "G1",
    "G2",
    "G3",
    "G4",
    "G5",
    "headwise",
    "elementwise",
    "softmax1",
    "sink logit",
    "MoE",
    "Wo",
    "W_θ",
    "X",
    "Y",
    "Ctrl+C",
    "⌘C",
    "Mac",
    // Engine errors: tensor shapes and the MLP.
    "(B, H, T, T)",
    "(B × T, 4C)",
    "(B × T, V)",
    "B × T",
    "MLP",
];

/// Returns whether `c` is hiragana, katakana or a CJK ideograph.
fn is_japanese(c: char) -> bool {
    matches!(c,
        '\u{3040}'..='\u{309F}' // hiragana
        | '\u{30A0}'..='\u{30FF}' // katakana, including the long vowel mark
        | '\u{4E00}'..='\u{9FFF}' // CJK unified ideographs
    )
}

/// Returns `text` without its `{name}` placeholders, which the page replaces
/// with numbers and messages before showing the text.
fn without_placeholders(text: &str) -> String {
    let mut kept = String::with_capacity(text.len());
    let mut inside = false;
    for c in text.chars() {
        match c {
            '{' => inside = true,
            '}' => inside = false,
            _ if !inside => kept.push(c),
            _ => {}
        }
    }
    kept
}

/// Returns `text` with every allowed Latin term removed, longest term first
/// so that `GPU` does not cut `WebGPU` in two.
fn strip_allowed_terms(text: &str) -> String {
    let mut terms = ALLOWED_LATIN_TERMS.to_vec();
    terms.sort_by_key(|term| std::cmp::Reverse(term.len()));

    let mut remainder = without_placeholders(text);
    for term in terms {
        remainder = remainder.replace(term, " ");
    }
    remainder
}

#[test]
fn tables_have_same_keys() {
    let english_keys: Vec<&str> = EN.entries().iter().map(|(key, _)| *key).collect();
    let japanese_keys: Vec<&str> = JA.entries().iter().map(|(key, _)| *key).collect();
    assert_eq!(english_keys, japanese_keys);
    assert!(!english_keys.is_empty());
}

#[test]
fn tables_have_no_empty_strings() {
    for (name, table) in [("EN", &EN), ("JA", &JA)] {
        for (key, text) in table.entries() {
            assert!(!text.trim().is_empty(), "{name}.{key} is empty");
        }
    }
}

#[test]
fn japanese_strings_are_translated() {
    for ((key, english), (_, japanese)) in EN.entries().into_iter().zip(JA.entries()) {
        let english_has_letters = english.chars().any(|c| c.is_ascii_alphabetic());
        let japanese_has_japanese = japanese.chars().any(is_japanese);
        let remainder = strip_allowed_terms(japanese);
        let remainder_has_letters = remainder.chars().any(|c| c.is_ascii_alphabetic());

        assert!(
            !english_has_letters || japanese_has_japanese || !remainder_has_letters,
            "JA.{key} is still in English: {japanese:?}; translate it, or add the term \
             to ALLOWED_LATIN_TERMS if Japanese text keeps it in Latin letters"
        );
    }
}

#[test]
fn japanese_strings_use_only_allowed_latin_terms() {
    for (key, japanese) in JA.entries() {
        let remainder = strip_allowed_terms(japanese);
        let stray_words: Vec<&str> = remainder
            .split(|c: char| !c.is_ascii_alphabetic())
            .filter(|word| !word.is_empty())
            .collect();

        assert!(
            stray_words.is_empty(),
            "JA.{key} contains untranslated words {stray_words:?}; translate them, or \
             add the term to ALLOWED_LATIN_TERMS if Japanese text keeps it in Latin letters"
        );
    }
}

#[test]
fn japanese_keeps_key_terms_recognisable() {
    let all_japanese: String = JA.entries().iter().map(|(_, text)| *text).collect();
    for term in [
        "アテンション・シンク",
        "ゲート",
        "softmax",
        "F-Attn",
        "WebGPU",
    ] {
        assert!(
            all_japanese.contains(term),
            "no Japanese string contains {term:?}"
        );
    }
}

#[test]
fn lang_strings_match_tables() {
    assert!(std::ptr::eq(Lang::En.strings(), &EN as &Strings));
    assert!(std::ptr::eq(Lang::Ja.strings(), &JA as &Strings));
}

#[test]
fn language_tag_selects_japanese() {
    for tag in ["ja", "ja-JP", "JA-jp", "ja_JP"] {
        assert_eq!(Lang::from_language_tag(tag), Lang::Ja, "tag {tag:?}");
    }
}

#[test]
fn other_language_tags_select_english() {
    for tag in ["", "en", "en-US", "de-DE", "jam", "jv", "zh-Hans-JP"] {
        assert_eq!(Lang::from_language_tag(tag), Lang::En, "tag {tag:?}");
    }
}
