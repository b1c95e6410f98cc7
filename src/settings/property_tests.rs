//! Random and malformed query strings through `Settings::from_query`: no
//! input may panic, every accepted state must pass the validator, and every
//! accepted state must survive `to_query` and `from_query` unchanged.

use gatelab_model::rng;
use rand::seq::IndexedRandom;
use rand::Rng;

use super::{Settings, TaskChoice};

/// Query strings tried per test run.
const CASES: usize = 12_000;

/// Every key that `Settings::to_query` writes, the own text's `text` aside.
const REAL_KEYS: [&str; 13] =
    ["a", "b", "seed", "layers", "heads", "width", "seq_len", "batch", "lr", "task", "spf", "steps", "probe"];

/// Fields that a rejection may name besides the URL keys: `text` is the
/// user's own text, which a link carries only when short, so
/// `task=text-custom` in a link without it is rejected under that name.
const PAGE_ONLY_FIELDS: [&str; 1] = ["text"];

/// Keys that the page does not use, spelled close to real ones or not at all.
const JUNK_KEYS: [&str; 10] = ["", "A", "Width", "lr ", " seed", "seq-len", "utm_source", "%77idth", "幅", "a[]"];

/// Values that stress the number parsers and the variant and task parsers.
const SPECIAL_VALUES: [&str; 40] = [
    "",
    "0",
    "-0",
    "-1",
    "+1",
    " 4 ",
    "1e3",
    "1e-3",
    "1e-300",
    "1e308",
    "1e309",
    "-1e309",
    "NaN",
    "nan",
    "-NaN",
    "inf",
    "-inf",
    "infinity",
    "0x10",
    "18446744073709551615",
    "18446744073709551616",
    "99999999999999999999999999999",
    "9223372036854775808",
    "4294967296",
    "0.000001",
    "0.0000009",
    "1.0000001",
    "%",
    "%2",
    "%zz",
    "%E3%81%82",
    "%FF%FE",
    "%00",
    "+",
    "g1+g1",
    "g5+headwise",
    "baseline+silu",
    "ｇ１",
    "🧪",
    "text-ja",
];

/// Draws one query string: a mix of real and junk keys, values from the
/// special list, random numbers and random bytes, with separators doubled,
/// left out or escaped.
fn random_query(rng: &mut impl Rng) -> String {
    let mut query = String::new();
    if rng.random_bool(0.5) {
        query.push('?');
    }
    let pairs = rng.random_range(0..16);
    for index in 0..pairs {
        if index > 0 {
            query.push_str(["&", "&", "&", "&&", "%26", ";"].choose(rng).expect("non-empty"));
        }
        let key = if rng.random_bool(0.8) {
            REAL_KEYS.choose(rng).expect("non-empty")
        } else {
            JUNK_KEYS.choose(rng).expect("non-empty")
        };
        query.push_str(key);
        match rng.random_range(0..10) {
            0 => continue,
            1 => query.push_str("=="),
            _ => query.push('='),
        }
        query.push_str(&random_value(rng));
    }
    query
}

fn random_value(rng: &mut impl Rng) -> String {
    match rng.random_range(0..9) {
        0..=2 => SPECIAL_VALUES.choose(rng).expect("non-empty").to_string(),
        3 => rng.random_range(0..300u32).to_string(),
        4 => rng.random::<u64>().to_string(),
        5 => format!("{}", rng.random::<f64>() * 10f64.powi(rng.random_range(-8..4))),
        6 => format!("-{}", rng.random_range(0..1000u32)),
        7 => random_variant(rng),
        _ => random_text(rng),
    }
}

/// Knob values that `Variant::parse` accepts after a `+`.
const KNOBS: [&str; 12] = [
    "g1", "g3", "elementwise", "headwise", "head-shared", "additive", "silu", "sigmoid", "softmax1", "sink-logit",
    "sigmoid-attn", "none",
];

/// A named variant, often followed by one or two knobs, as the page's links
/// write it (`%2B` before each knob) or as a hand-edited link might (a bare
/// `+`, which decodes to a space and is rejected).
fn random_variant(rng: &mut impl Rng) -> String {
    let mut variant = gatelab_model::NAMED_VARIANTS.choose(rng).expect("non-empty").to_string();
    for _ in 0..rng.random_range(0..3) {
        variant.push_str(if rng.random_bool(0.8) { "%2B" } else { "+" });
        variant.push_str(KNOBS.choose(rng).expect("non-empty"));
    }
    variant
}

/// Random characters, ASCII punctuation, percent escapes and non-ASCII text.
fn random_text(rng: &mut impl Rng) -> String {
    let len = rng.random_range(0..12);
    (0..len)
        .map(|_| match rng.random_range(0..5) {
            0 => format!("%{:02X}", rng.random::<u8>()),
            1 => ['=', '&', '?', '#', '+', '%', ' ', '.', '-'].choose(rng).expect("non-empty").to_string(),
            2 => char::from_u32(rng.random_range(0x80..0x3_0000)).unwrap_or('\u{FFFD}').to_string(),
            _ => char::from(rng.random_range(b'!'..=b'~')).to_string(),
        })
        .collect()
}

fn check_query(query: &str, defaults: &Settings) -> Settings {
    let (settings, rejections) = Settings::from_query(query, defaults);
    assert_eq!(settings.validate(), Ok(()), "accepted settings fail the validator for query {query:?}");

    let (again, again_rejections) = Settings::from_query(&settings.to_query(), defaults);
    assert_eq!(again_rejections, vec![], "round trip rejects a value for query {query:?}");
    assert_eq!(again, settings, "round trip changes the settings for query {query:?}");

    for rejection in &rejections {
        let field = rejection.field.as_str();
        assert!(REAL_KEYS.contains(&field) || PAGE_ONLY_FIELDS.contains(&field), "rejection names no URL key: {rejection:?} for {query:?}");
        assert!(!rejection.allowed.is_empty(), "rejection gives no allowed values: {rejection:?} for {query:?}");
    }
    settings
}

#[test]
fn random_queries_validate_and_round_trip() {
    let mut rng = rng::stream(20_251_205, "settings property test");
    let lesson = Settings::lesson();
    let cpu_lesson = Settings { batch: 32, ..Settings::lesson() };
    let mut knob_variants = 0;
    for case in 0..CASES {
        let query = random_query(&mut rng);
        let defaults = if case % 2 == 0 { &lesson } else { &cpu_lesson };
        let settings = check_query(&query, defaults);
        knob_variants += settings.variants.iter().filter(|name| name.contains('+')).count();
    }
    // The generator must reach the accepted knob combinations, whose `+`
    // the URL encoding has to escape.
    assert!(knob_variants > 100, "only {knob_variants} accepted variants had knobs");
}

#[test]
fn repeated_keys_take_last_value() {
    let (settings, rejections) = Settings::from_query("layers=2&layers=3", &Settings::lesson());
    assert_eq!(settings.layers, 3);
    assert_eq!(rejections, vec![]);
}

#[test]
fn repeated_key_invalid_last_value() {
    // The last value is the one used; when it is invalid, the field gets
    // its default, not an earlier valid value.
    let (settings, rejections) = Settings::from_query("layers=3&layers=9", &Settings::lesson());
    assert_eq!(settings.layers, Settings::lesson().layers);
    assert_eq!(rejections.len(), 1);
    assert_eq!(rejections[0].field, "layers");
    assert_eq!(rejections[0].value, "9");
}

#[test]
fn huge_query_does_not_panic() {
    let long_value = "9".repeat(100_000);
    let query = format!("seed={long_value}&a={long_value}&task={}", "%".repeat(10_000));
    check_query(&query, &Settings::lesson());

    let many_pairs = "width=32&".repeat(20_000);
    check_query(&many_pairs, &Settings::lesson());
}

#[test]
fn every_task_survives_random_sizes() {
    let mut rng = rng::stream(7, "settings task sizes");
    for _ in 0..2_000 {
        let task = TaskChoice::ALL.choose(&mut rng).expect("non-empty").key();
        let query = format!(
            "task={task}&seq_len={}&width={}&heads={}&batch={}",
            rng.random_range(0..200),
            rng.random_range(0..200),
            rng.random_range(0..10),
            rng.random_range(0..300)
        );
        check_query(&query, &Settings::lesson());
    }
}
