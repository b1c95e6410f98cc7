//! Files the page writes for the user and reads back: a run's JSON (a
//! versioned format that the page imports again), metric histories as CSV,
//! and checkpoints in a JSON-friendly form for the worker and IndexedDB.
//!
//! Everything here is plain Rust, so the formats are tested natively.

use gatelab_model::checkpoint::CheckpointFiles;
use gatelab_model::metrics_csv::{csv_header, csv_row};
use gatelab_model::{Limits, Metrics, RunConfig};
use serde::{Deserialize, Serialize};

/// Value of `format` in a run's JSON.
pub const RUN_FORMAT: &str = "gatelab-run";
/// Version of the run JSON that this page writes and reads.
pub const RUN_VERSION: u32 = 1;
/// Largest run JSON the page imports, in bytes. A run of 10,000 steps with
/// metrics every 10 steps on the largest page model is about 2 MB.
pub const MAX_IMPORT_BYTES: usize = 8 << 20;

/// A run as exported: its config, every metric taken and the last ones.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunExport {
    pub format: String,
    pub version: u32,
    /// The variant's name in the page's select.
    pub variant: String,
    pub config: RunConfig,
    /// Steps trained when exported.
    pub step: usize,
    pub history: Vec<Metrics>,
    /// The last entry of `history`, repeated so a reader need not search.
    pub final_metrics: Option<Metrics>,
}

impl RunExport {
    pub fn new(variant: &str, config: &RunConfig, step: usize, history: &[Metrics]) -> Self {
        RunExport {
            format: RUN_FORMAT.to_string(),
            version: RUN_VERSION,
            variant: variant.to_string(),
            config: config.clone(),
            step,
            history: history.to_vec(),
            final_metrics: history.last().cloned(),
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("configs and metrics serialise")
    }
}

/// Reason an imported file was rejected.
#[derive(Clone, Debug, PartialEq)]
pub enum ImportError {
    TooLarge { bytes: usize, max: usize },
    NotJson(String),
    NotARun,
    Version { found: u32, supported: u32 },
    InvalidConfig(String),
}

/// Parses and checks a run's JSON: size, JSON syntax, format, version, and
/// the config against the page's limits.
pub fn parse_run(text: &str) -> Result<RunExport, ImportError> {
    if text.len() > MAX_IMPORT_BYTES {
        return Err(ImportError::TooLarge { bytes: text.len(), max: MAX_IMPORT_BYTES });
    }
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| ImportError::NotJson(e.to_string()))?;
    if value.get("format").and_then(|f| f.as_str()) != Some(RUN_FORMAT) {
        return Err(ImportError::NotARun);
    }
    let version = value.get("version").and_then(|v| v.as_u64()).ok_or(ImportError::NotARun)?;
    if version != RUN_VERSION as u64 {
        return Err(ImportError::Version { found: version.min(u32::MAX as u64) as u32, supported: RUN_VERSION });
    }
    let run: RunExport = serde_json::from_value(value).map_err(|e| ImportError::InvalidConfig(e.to_string()))?;
    run.config.validate(&Limits::PAGE).map_err(|e| ImportError::InvalidConfig(e.to_string()))?;
    Ok(run)
}

/// Formats a run's metric history as CSV, in the command line's `--csv`
/// format: one row per entry, an empty cell where a value is missing (the
/// training loss before the first step).
pub fn history_csv(variant: &str, history: &[Metrics]) -> String {
    let mut out = csv_header();
    out.push('\n');
    for m in history {
        out.push_str(&csv_row(variant, m));
        out.push('\n');
    }
    out
}

/// A checkpoint as text: the config JSON and both safetensors files in
/// base64, for JSON messages between the page and its worker and for
/// IndexedDB.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WireCheckpoint {
    pub config_json: String,
    pub model: String,
    pub optimizer: String,
}

impl WireCheckpoint {
    pub fn encode(files: &CheckpointFiles) -> Self {
        WireCheckpoint {
            config_json: files.config_json.clone(),
            model: base64_encode(&files.model),
            optimizer: base64_encode(&files.optimizer),
        }
    }

    pub fn decode(&self) -> Result<CheckpointFiles, String> {
        Ok(CheckpointFiles {
            config_json: self.config_json.clone(),
            model: base64_decode(&self.model).ok_or("model.safetensors is not valid base64")?,
            optimizer: base64_decode(&self.optimizer).ok_or("optimizer.safetensors is not valid base64")?,
        })
    }
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding.
pub fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Decodes standard base64 with padding; `None` on any other input.
pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    if bytes.len() % 4 != 0 {
        return None;
    }
    let value = |c: u8| ALPHABET.iter().position(|&a| a == c).map(|p| p as u32);
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    for (index, chunk) in bytes.chunks(4).enumerate() {
        let last = index + 1 == bytes.len() / 4;
        let pad = chunk.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || (pad > 0 && !last) {
            return None;
        }
        let mut n = 0u32;
        for &c in &chunk[..4 - pad] {
            n = n << 6 | value(c)?;
        }
        n <<= 6 * pad as u32;
        let decoded = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&decoded[..3 - pad]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatelab_model::metrics_csv::CSV_COLUMNS;
    use gatelab_model::Run;

    fn trained_run() -> Run<f32> {
        let mut config = RunConfig::lesson();
        config.model.width = 16;
        config.model.seq_len = 16;
        config.train.batch = 4;
        config.metrics_every = 2;
        let mut run = Run::<f32>::new(config, &Limits::PAGE).expect("valid config");
        run.train(4, |_, _| {}).expect("trains");
        run
    }

    #[test]
    fn run_json_round_trips() {
        let run = trained_run();
        let export = RunExport::new("g1", &run.config, run.step, &run.history);
        let back = parse_run(&export.to_json()).expect("parses");
        // serde_json without its float_roundtrip feature may move an f64 by
        // one ulp, so metrics compare to 1e-12 and everything else exactly.
        assert_eq!(back.config, export.config);
        assert_eq!((back.format.as_str(), back.version, back.variant.as_str(), back.step), ("gatelab-run", 1, "g1", 4));
        for (got, want) in back.history.iter().zip(&export.history) {
            assert_eq!(got.step, want.step);
            assert!((got.f_attn - want.f_attn).abs() < 1e-12, "F-Attn {} != {}", got.f_attn, want.f_attn);
            assert!((got.m_act - want.m_act).abs() < 1e-12, "M-Act {} != {}", got.m_act, want.m_act);
            assert_eq!(got.train_loss.map(|l| (l * 1e9).round()), want.train_loss.map(|l| (l * 1e9).round()));
        }
        assert_eq!(back.final_metrics.as_ref().map(|m| m.step), Some(4));
        assert_eq!(back.history.len(), 3);
    }

    #[test]
    fn bad_files_are_refused_with_the_reason() {
        let run = trained_run();
        let good = RunExport::new("g1", &run.config, run.step, &run.history);
        assert!(matches!(parse_run("{ not json"), Err(ImportError::NotJson(_))));
        assert_eq!(parse_run(r#"{"format": "something", "version": 1}"#), Err(ImportError::NotARun));
        let mut newer = good.clone();
        newer.version = 7;
        assert_eq!(parse_run(&newer.to_json()), Err(ImportError::Version { found: 7, supported: RUN_VERSION }));
        let mut wide = good.clone();
        wide.config.model.width = 4096;
        assert!(matches!(parse_run(&wide.to_json()), Err(ImportError::InvalidConfig(message)) if message.contains("width")));
        let huge = " ".repeat(MAX_IMPORT_BYTES + 1);
        assert_eq!(parse_run(&huge), Err(ImportError::TooLarge { bytes: MAX_IMPORT_BYTES + 1, max: MAX_IMPORT_BYTES }));
    }

    #[test]
    fn csv_has_a_row_per_metrics_entry() {
        let run = trained_run();
        let csv = history_csv("g1", &run.history);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), run.history.len() + 1);
        assert_eq!(lines[0], CSV_COLUMNS.join(","));
        // No training loss before the first step: an empty cell.
        assert!(lines[1].starts_with("g1,0,,"), "{}", lines[1]);
        assert!(lines[3].starts_with("g1,4,"), "{}", lines[3]);
        assert_eq!(lines[3].split(',').count(), CSV_COLUMNS.len());
    }

    #[test]
    fn base64_round_trips_every_length() {
        for len in 0..40 {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            let text = base64_encode(&bytes);
            assert_eq!(base64_decode(&text), Some(bytes), "length {len}");
        }
        assert_eq!(base64_encode(b"gate"), "Z2F0ZQ==");
        assert_eq!(base64_decode("Z2F0ZQ=="), Some(b"gate".to_vec()));
        assert_eq!(base64_decode("Z2F0ZQ="), None);
        assert_eq!(base64_decode("Z2=0ZQ=="), None);
    }

    #[test]
    fn checkpoint_survives_the_wire() {
        let run = trained_run();
        let files = run.to_checkpoint();
        let wire: WireCheckpoint = serde_json::from_str(&serde_json::to_string(&WireCheckpoint::encode(&files)).unwrap()).unwrap();
        let back = wire.decode().expect("decodes");
        assert_eq!(back, files);
        let resumed = Run::<f32>::from_checkpoint(&back, &Limits::PAGE).expect("resumes");
        assert_eq!(resumed.params.data, run.params.data);
        assert_eq!(resumed.step, 4);
    }
}
