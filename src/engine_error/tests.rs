use gatelab_gpu::{GpuError, RunPart};
use gatelab_model::{CheckpointError, ConfigError};

use super::{EngineError, GpuPart, InternalCause};
use crate::i18n::{EN, JA};
use crate::protocol::Reply;
use crate::settings::Rejection;

/// Verbatim technical detail of the internal and decoding errors below.
const DETAIL: &str = "RuntimeError: unreachable executed (at src/worker.rs:91)";
const ADAPTER: &str = "SwiftShader Device (Subzero)";

/// One error of each kind, with the numbers and verbatim texts that its
/// rendering must show in every language.
fn cases() -> Vec<(EngineError, Vec<String>)> {
    let mut cases = vec![
        (
            EngineError::from(&ConfigError::OutOfRange {
                field: "batch",
                value: "999".into(),
                min: "1".into(),
                max: "256".into(),
            }),
            vec!["batch".into(), "999".into(), "1 – 256".into()],
        ),
        (EngineError::SavedSize { expected: 12_345, found: 678 }, vec!["12345".into(), "678".into()]),
        (EngineError::SavedSteps { step: 40, updates: 35 }, vec!["40".into(), "35".into()]),
        (EngineError::SavedUnreadable { detail: DETAIL.into() }, vec![DETAIL.into()]),
    ];
    for part in [
        GpuPart::Parameters,
        GpuPart::AttentionWeights,
        GpuPart::MlpActivations,
        GpuPart::Logits,
        GpuPart::MatmulRows,
        GpuPart::ElementwisePass,
    ] {
        let error = EngineError::GpuLimit {
            part,
            limit: "max_storage_buffer_binding_size".into(),
            needed: 268_435_460,
            allowed: 134_217_728,
            adapter: ADAPTER.into(),
        };
        let expected_parts = vec!["268435460".into(), "134217728".into(), "max_storage_buffer_binding_size".into(), ADAPTER.into()];
        cases.push((error, expected_parts));
    }
    for cause in [
        InternalCause::WorkerPanic,
        InternalCause::DeviceLost,
        InternalCause::GpuReadBack,
        InternalCause::GpuDevice,
        InternalCause::Gpu,
    ] {
        cases.push((EngineError::internal(cause, DETAIL), vec![DETAIL.into()]));
    }
    cases
}

#[test]
fn every_kind_renders_its_numbers() {
    for (error, expected_parts) in cases() {
        for strings in [&EN, &JA] {
            let text = error.render(strings);
            assert!(!text.contains('{'), "placeholder left in {text:?}");
            for item in &expected_parts {
                assert!(text.contains(item.as_str()), "{error:?} renders as {text:?}, without {item:?}");
            }
        }
    }
}

#[test]
fn japanese_rendering_is_translated() {
    // Terms that the Japanese tables keep in Latin letters, longest first.
    let terms = ["(B, H, T, T)", "(B × T, 4C)", "(B × T, V)", "B × T", "AdamW", "GPU", "CPU", "MLP"];
    for (error, expected_parts) in cases() {
        let english = error.render(&EN);
        let japanese = error.render(&JA);
        assert_ne!(japanese, english, "{error:?} renders the same in both languages");
        let mut rest = japanese.clone();
        for verbatim in expected_parts.iter().map(String::as_str).chain(terms) {
            rest = rest.replace(verbatim, " ");
        }
        let words: Vec<&str> = rest.split(|c: char| !c.is_ascii_alphabetic()).filter(|w| !w.is_empty()).collect();
        assert!(words.is_empty(), "{error:?} renders in Japanese with English words {words:?}: {japanese:?}");
    }
}

#[test]
fn english_rendering_keeps_lead_and_detail() {
    let text = EngineError::internal(InternalCause::WorkerPanic, DETAIL).render(&EN);
    assert_eq!(text, format!("the CPU engine stopped with an internal error: {DETAIL}"));
    let text = EngineError::internal(InternalCause::WorkerPanic, DETAIL).render(&JA);
    assert!(text.ends_with(DETAIL), "{text:?}");
}

#[test]
fn gpu_limit_names_unit() {
    let error = |part| EngineError::GpuLimit { part, limit: "l".into(), needed: 2, allowed: 1, adapter: String::new() };
    assert!(error(GpuPart::Logits).render(&EN).contains("2 bytes"));
    assert!(error(GpuPart::MatmulRows).render(&EN).contains("2 workgroups"));
    assert!(error(GpuPart::Logits).render(&JA).contains("2 バイト"));
    assert!(error(GpuPart::MatmulRows).render(&JA).contains("2 ワークグループ"));
}

#[test]
fn config_error_matches_url_rejection() {
    let config = ConfigError::WidthNotMultiple { width: 40, heads: 4 };
    assert_eq!(EngineError::from(&config), EngineError::Config(Rejection::from_config_error(&config, "", "")));
}

#[test]
fn gpu_errors_convert_by_kind() {
    let too_large = GpuError::TooLarge {
        what: "the logits (B * T, V) (4096 bytes)".into(),
        part: RunPart::Logits,
        limit_name: "max_buffer_size",
        needed: 4096,
        limit: 1024,
    };
    assert_eq!(
        EngineError::from_gpu(&too_large, ADAPTER),
        EngineError::GpuLimit {
            part: GpuPart::Logits,
            limit: "max_buffer_size".into(),
            needed: 4096,
            allowed: 1024,
            adapter: ADAPTER.into(),
        }
    );
    let steps = GpuError::CheckpointSteps { step: 20, adam_t: 19 };
    assert_eq!(EngineError::from_gpu(&steps, ADAPTER), EngineError::SavedSteps { step: 20, updates: 19 });
    let config = GpuError::Config(ConfigError::TextTooShort { chars: 0, min: 64 });
    assert!(matches!(EngineError::from_gpu(&config, ADAPTER), EngineError::Config(Rejection { field, .. }) if field == "text"));
    let busy = GpuError::Busy { in_flight: 3 };
    assert_eq!(EngineError::from_gpu(&busy, ADAPTER), EngineError::internal(InternalCause::Gpu, busy.to_string()));
}

#[test]
fn checkpoint_errors_convert_by_kind() {
    let broken = CheckpointError::Safetensors { path: "model.safetensors".into(), message: "header too short".into() };
    assert_eq!(EngineError::from(&broken), EngineError::SavedUnreadable { detail: broken.to_string() });
    let config = CheckpointError::Config(ConfigError::TextTooShort { chars: 0, min: 64 });
    assert!(matches!(EngineError::from(&config), EngineError::Config(_)));
}

#[test]
fn reply_round_trips_through_json() {
    for (error, _) in cases() {
        let reply = Reply::Rejected { generation: 4, error: error.clone() };
        let json = serde_json::to_string(&reply).unwrap();
        let Reply::Rejected { generation, error: decoded } = serde_json::from_str(&json).unwrap() else {
            panic!("decoded the wrong variant from {json}");
        };
        assert_eq!(generation, 4);
        assert_eq!(decoded, error);
    }
}
