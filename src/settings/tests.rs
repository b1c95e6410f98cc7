use crate::i18n::Lang;

use super::{Rejection, Settings, TaskChoice, LINK_TEXT_MAX_ENCODED, PROBE_MAX_CHARS};

fn custom_settings() -> Settings {
    Settings {
        variants: ["g3+headwise".into(), "softmax1".into()],
        seed: 12345678901,
        layers: 3,
        heads: 4,
        width: 96,
        seq_len: 48,
        batch: 17,
        lr: 0.0025,
        task: TaskChoice::TextJapanese,
        steps_per_frame: 7,
        steps: 2222,
        custom_text: String::new(),
        probe: "猫 & a=b+c%\n".into(),
    }
}

#[test]
fn lesson_round_trips() {
    let lesson = Settings::lesson();
    let (parsed, rejections) = Settings::from_query(&lesson.to_query(), &lesson);
    assert_eq!(rejections, vec![]);
    assert_eq!(parsed, lesson);
}

#[test]
fn every_setting_round_trips() {
    let custom = custom_settings();
    assert_eq!(custom.validate(), Ok(()));
    let query = format!("?{}", custom.to_query());
    let (parsed, rejections) = Settings::from_query(&query, &Settings::lesson());
    assert_eq!(rejections, vec![]);
    assert_eq!(parsed, custom);
}

#[test]
fn each_task_round_trips() {
    // The own-text task needs its text, which `short_text_round_trips` covers.
    for task in TaskChoice::ALL.into_iter().filter(|&task| task != TaskChoice::TextCustom) {
        let settings = Settings { task, ..Settings::lesson() };
        let (parsed, rejections) = Settings::from_query(&settings.to_query(), &Settings::lesson());
        assert_eq!(rejections, vec![], "task {task:?}");
        assert_eq!(parsed.task, task);
    }
}

#[test]
fn each_named_variant_round_trips() {
    for name in gatelab_model::NAMED_VARIANTS {
        let settings = Settings { variants: [name.to_string(), "baseline".into()], ..Settings::lesson() };
        let (parsed, rejections) = Settings::from_query(&settings.to_query(), &Settings::lesson());
        assert_eq!(rejections, vec![], "variant {name}");
        assert_eq!(parsed.variants[0], name);
    }
}

#[test]
fn run_config_passes_validator() {
    let custom = custom_settings();
    for index in 0..2 {
        let config = custom.run_config(index);
        assert_eq!(config.validate(&gatelab_model::Limits::PAGE), Ok(()));
        assert_eq!(config.model.width, 96);
        assert_eq!(config.seed, custom.seed);
    }
}

fn parse_one(query: &str) -> (Settings, Vec<Rejection>) {
    Settings::from_query(query, &Settings::lesson())
}

#[test]
fn width_out_of_range_rejected() {
    let (settings, rejections) = parse_one("width=512&layers=2");
    assert_eq!(settings.width, Settings::lesson().width);
    assert_eq!(settings.layers, 2, "the valid field is kept");
    assert_eq!(rejections.len(), 1);
    assert_eq!(rejections[0].field, "width");
    assert_eq!(rejections[0].value, "512");
    assert!(rejections[0].allowed.contains("16"), "{:?}", rejections[0]);
    assert!(rejections[0].allowed.contains("128"), "{:?}", rejections[0]);
}

#[test]
fn layers_out_of_range_rejected() {
    let (settings, rejections) = parse_one("layers=9");
    assert_eq!(settings.layers, 1);
    assert_eq!(rejections[0], Rejection { field: "layers".into(), value: "9".into(), allowed: "1 – 4".into() });
}

#[test]
fn unparsable_number_rejected() {
    let (settings, rejections) = parse_one("lr=fast");
    assert_eq!(settings.lr, Settings::lesson().lr);
    assert_eq!(rejections[0].field, "lr");
    assert_eq!(rejections[0].value, "fast");
}

#[test]
fn non_finite_lr_rejected() {
    for text in ["NaN", "inf", "0", "2"] {
        let (settings, rejections) = parse_one(&format!("lr={text}"));
        assert_eq!(settings.lr, Settings::lesson().lr, "lr={text}");
        assert_eq!(rejections.len(), 1, "lr={text}");
        assert_eq!(rejections[0].field, "lr");
    }
}

#[test]
fn heads_not_allowed_rejected() {
    let (settings, rejections) = parse_one("heads=3");
    assert_eq!(settings.heads, 1);
    assert_eq!(rejections[0].field, "heads");
    assert_eq!(rejections[0].allowed, "1, 2, 4, 8");
}

#[test]
fn width_not_multiple_rejected() {
    let (settings, rejections) = parse_one("width=40");
    assert_eq!(settings.width, 64);
    assert_eq!(rejections[0].field, "width");
    assert_eq!(rejections[0].value, "40");
    assert_eq!(rejections[0].allowed, "16, 32, 48, 64, 80, 96, 112, 128");
}

#[test]
fn text_rejection_units_localized() {
    let mut settings = Settings::lesson();
    let short = settings.set("text", "too short").expect_err("under 64 characters");

    let (value, allowed) = short.localized(Lang::Ja.strings());
    assert_eq!(value, "9 文字");
    assert!(allowed.starts_with("64 文字"), "{allowed}");
    assert!(allowed.ends_with("バイト"), "{allowed}");
    let (value, _) = short.localized(Lang::En.strings());
    assert_eq!(value, "9 characters");
}

#[test]
fn unknown_variant_rejected() {
    let (settings, rejections) = parse_one("b=g9");
    assert_eq!(settings.variants[1], "g1");
    assert_eq!(rejections[0].field, "b");
    assert_eq!(rejections[0].value, "g9");
    assert!(rejections[0].allowed.contains("sigmoid-attn"));
}

#[test]
fn unknown_task_rejected() {
    let (settings, rejections) = parse_one("task=poetry");
    assert_eq!(settings.task, TaskChoice::BigramBackcopy);
    assert_eq!(rejections[0].field, "task");
    assert!(rejections[0].allowed.contains("text-ja"));
}

#[test]
fn steps_per_frame_rejected() {
    let (settings, rejections) = parse_one("spf=0&steps=0");
    assert_eq!(settings.steps_per_frame, Settings::lesson().steps_per_frame);
    assert_eq!(settings.steps, 1500);
    let fields: Vec<&str> = rejections.iter().map(|r| r.field.as_str()).collect();
    assert_eq!(fields, ["spf", "steps"]);
}

#[test]
fn unknown_keys_ignored() {
    let (settings, rejections) = parse_one("?utm_source=x&&seed=7");
    assert_eq!(rejections, vec![]);
    assert_eq!(settings.seed, 7);
}

#[test]
fn percent_escapes_decoded() {
    let (settings, rejections) = parse_one("a=g3%2Bheadwise");
    assert_eq!(rejections, vec![]);
    assert_eq!(settings.variants[0], "g3+headwise");
}

#[test]
fn set_rejects_and_keeps_settings() {
    let mut settings = Settings::lesson();
    let rejection = settings.set("seq_len", "512").unwrap_err();
    assert_eq!(rejection.field, "seq_len");
    assert_eq!(settings, Settings::lesson());
    settings.set("seq_len", "64").unwrap();
    assert_eq!(settings.seq_len, 64);
}

#[test]
fn custom_text_is_checked_with_the_other_settings() {
    let mut settings = Settings::lesson();
    let short = settings.set("text", "too short").expect_err("under 64 characters");
    assert_eq!(short.field, "text");
    assert_eq!(short.value, "9 characters");
    assert_eq!(settings, Settings::lesson(), "a rejected text changes nothing");
    let huge = "a".repeat(gatelab_model::Limits::PAGE.max_text_bytes + 1);
    let large = settings.set("text", &huge).expect_err("over the byte limit");
    assert_eq!(large.field, "text");
    assert_eq!(large.value, format!("{} bytes", huge.len()));
    let text = "猫が好きです。".repeat(20);
    settings.set("text", &text).expect("a Japanese text of 140 characters");
    assert_eq!(settings.task, TaskChoice::TextCustom);
    assert_eq!(
        settings.run_config(0).task,
        gatelab_model::TaskConfig::Text { source: gatelab_model::TextSource::Custom(text), max_vocab: crate::settings::TEXT_VOCAB }
    );
    // 140 Japanese characters take 1,260 bytes once encoded, over the link's
    // limit: the address keeps the task but not the text, so a link falls back.
    assert!(settings.text_left_out_of_link());
    let (parsed, rejections) = Settings::from_query(&settings.to_query(), &Settings::lesson());
    assert_eq!(parsed.task, TaskChoice::BigramBackcopy);
    assert_eq!(rejections.len(), 1);
}

#[test]
fn probe_round_trips() {
    for probe in ["", "5 12 63", "ab ba", "猫 & a=b+c%\n", "%41", "+"] {
        let settings = Settings { probe: probe.to_string(), ..Settings::lesson() };
        let (parsed, rejections) = Settings::from_query(&settings.to_query(), &Settings::lesson());
        assert_eq!(rejections, vec![], "probe {probe:?}");
        assert_eq!(parsed.probe, probe);
    }
}

#[test]
fn empty_probe_stays_out_of_link() {
    assert!(!Settings::lesson().to_query().contains("probe"));
}

#[test]
fn long_probe_rejected_keeps_others() {
    let long = "a".repeat(PROBE_MAX_CHARS + 1);
    let (settings, rejections) = parse_one(&format!("layers=2&probe={long}&seed=9"));
    assert_eq!(settings.probe, "");
    assert_eq!(settings.layers, 2);
    assert_eq!(settings.seed, 9);
    assert_eq!(
        rejections,
        vec![Rejection {
            field: "probe".into(),
            value: format!("{} characters", PROBE_MAX_CHARS + 1),
            allowed: format!("0 – {PROBE_MAX_CHARS} characters"),
        }]
    );
    let (settings, rejections) = parse_one(&format!("probe={}", "a".repeat(PROBE_MAX_CHARS)));
    assert_eq!(rejections, vec![]);
    assert_eq!(settings.probe.len(), PROBE_MAX_CHARS);
}

#[test]
fn short_text_round_trips() {
    let mut settings = Settings::lesson();
    let text = "The cat sat on the mat; the dog sat on the log. ".repeat(3);
    settings.set("text", &text).expect("a text of 144 characters");
    settings.probe = "the c".into();
    assert!(!settings.text_left_out_of_link());
    let (parsed, rejections) = Settings::from_query(&settings.to_query(), &Settings::lesson());
    assert_eq!(rejections, vec![]);
    assert_eq!(parsed, settings);
}

#[test]
fn text_link_limit_boundary() {
    // ASCII letters are not escaped, so the encoded size is the length.
    let mut settings = Settings::lesson();
    settings.set("text", &"a".repeat(LINK_TEXT_MAX_ENCODED)).unwrap();
    assert!(!settings.text_left_out_of_link());
    assert!(settings.to_query().contains("&text=aaa"));
    settings.set("text", &"a".repeat(LINK_TEXT_MAX_ENCODED + 1)).unwrap();
    assert!(settings.text_left_out_of_link());
    assert!(!settings.to_query().contains("text="));
    // A space is escaped as three bytes.
    settings.set("text", &" ".repeat(LINK_TEXT_MAX_ENCODED / 3 + 1)).unwrap();
    assert!(settings.text_left_out_of_link());
}

#[test]
fn other_tasks_never_leave_text_out() {
    let mut settings = Settings::lesson();
    settings.set("text", &"a".repeat(5000)).unwrap();
    settings.set("task", "copy").unwrap();
    assert!(!settings.text_left_out_of_link());
}
