//! Probing a trained model on a sequence the user types: parsing the text
//! against the task's vocabulary, and the forward pass that both engines use
//! to return attention, gates and next-token predictions.

use gatelab_model::model::forward;
use gatelab_model::params::{Layout, Tensors};
use gatelab_model::tasks::{Batch, BOS};
use gatelab_model::{metrics, ModelConfig, Scalar, Snapshot};
use serde::{Deserialize, Serialize};

/// Next-token candidates kept per position.
pub const TOP_PREDICTIONS: usize = 5;

/// A model's view of one probe sequence.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProbeResult {
    /// Tokens, attention (L, H, T, T) and mean gate per (L, H, T) of the sequence.
    pub snapshot: Snapshot,
    /// For each position, the likeliest next tokens with their probabilities,
    /// most likely first.
    pub predictions: Vec<Vec<(u32, f32)>>,
}

/// Runs the model forward on one sequence, which starts with BOS and is at
/// most the model's sequence length.
pub fn run_probe<F: Scalar>(config: &ModelConfig, layout: &Layout, params: &Tensors<F>, tokens: &[u32]) -> ProbeResult {
    let t = tokens.len();
    let batch = Batch {
        batch: 1,
        seq_len: t,
        tokens: tokens.to_vec(),
        targets: (0..t).map(|i| tokens.get(i + 1).copied().unwrap_or(0)).collect(),
        weights: (0..t).map(|i| if i + 1 < t { 1.0 } else { 0.0 }).collect(),
        copy_query: vec![false; t],
    };
    let cache = forward(config, layout, params, &batch);
    let snapshot = metrics::snapshot(config, &batch, &cache, 0);
    let predictions = cache
        .probs
        .rows()
        .into_iter()
        .map(|row| {
            let mut ranked: Vec<(u32, f32)> = row.iter().enumerate().map(|(id, p)| (id as u32, p.as_f64() as f32)).collect();
            ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
            ranked.truncate(TOP_PREDICTIONS);
            ranked
        })
        .collect();
    ProbeResult { snapshot, predictions }
}

/// Input format of a probe sequence, which depends on the task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProbeInput {
    /// One character per token (the text tasks).
    Characters,
    /// Token ids separated by spaces (Bigram-Backcopy with its random table, copy).
    Ids,
}

/// Reason that typed text cannot be probed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProbeError {
    Empty,
    /// The sequence, BOS included, is longer than the model's positions.
    TooLong { len: usize, max: usize },
    /// Characters or ids that are not in the task's vocabulary.
    Unknown { items: Vec<String> },
}

/// Parses `text` into token ids with the task's token `labels` (index = id),
/// adding BOS in front as every training sequence has it.
pub fn parse_probe(text: &str, labels: &[String], input: ProbeInput, max_len: usize) -> Result<Vec<u32>, ProbeError> {
    let mut tokens = vec![BOS];
    let mut unknown: Vec<String> = Vec::new();
    let mut note_unknown = |item: String| {
        if !unknown.contains(&item) {
            unknown.push(item);
        }
    };
    match input {
        ProbeInput::Characters => {
            for ch in text.chars() {
                // The vocabulary labels show a space and a newline visibly.
                let label = match ch {
                    ' ' => "\u{2423}".to_string(),
                    '\n' => "\\n".to_string(),
                    _ => ch.to_string(),
                };
                // Ids 0 and 1 are BOS and UNK, which a typed character never means.
                match labels.iter().skip(2).position(|known| *known == label) {
                    Some(index) => tokens.push(index as u32 + 2),
                    None => note_unknown(ch.to_string()),
                }
            }
        }
        ProbeInput::Ids => {
            for word in text.split_whitespace() {
                match labels.iter().skip(1).position(|known| known == word) {
                    Some(index) => tokens.push(index as u32 + 1),
                    None => note_unknown(word.to_string()),
                }
            }
        }
    }
    if !unknown.is_empty() {
        return Err(ProbeError::Unknown { items: unknown });
    }
    if tokens.len() == 1 {
        return Err(ProbeError::Empty);
    }
    if tokens.len() > max_len {
        return Err(ProbeError::TooLong { len: tokens.len(), max: max_len });
    }
    Ok(tokens)
}

/// Writes `tokens` (BOS first) back as text that [`parse_probe`] reads.
pub fn format_probe(tokens: &[u32], labels: &[String], input: ProbeInput) -> String {
    let body = tokens.iter().skip(1).filter_map(|&id| labels.get(id as usize));
    match input {
        ProbeInput::Characters => body
            .map(|label| match label.as_str() {
                "\u{2423}" => " ".to_string(),
                "\\n" => "\n".to_string(),
                other => other.to_string(),
            })
            .collect(),
        ProbeInput::Ids => body.cloned().collect::<Vec<_>>().join(" "),
    }
}

#[cfg(test)]
mod tests {
    use gatelab_model::params::Tensors;
    use gatelab_model::{Limits, Run, RunConfig};

    use super::*;

    fn id_labels() -> Vec<String> {
        let mut labels = vec!["BOS".to_string()];
        labels.extend((1..64).map(|id| id.to_string()));
        labels
    }

    fn char_labels() -> Vec<String> {
        ["BOS", "UNK", "a", "b", "\u{2423}"].iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn ids_parse_with_bos() {
        assert_eq!(parse_probe(" 5 12  63 ", &id_labels(), ProbeInput::Ids, 64), Ok(vec![0, 5, 12, 63]));
    }

    #[test]
    fn characters_parse_with_bos() {
        assert_eq!(parse_probe("ab a", &char_labels(), ProbeInput::Characters, 64), Ok(vec![0, 2, 3, 4, 2]));
    }

    #[test]
    fn unknown_items_rejected() {
        assert_eq!(
            parse_probe("abcxc", &char_labels(), ProbeInput::Characters, 64),
            Err(ProbeError::Unknown { items: vec!["c".into(), "x".into()] })
        );
        assert_eq!(
            parse_probe("5 64 0 BOS", &id_labels(), ProbeInput::Ids, 64),
            Err(ProbeError::Unknown { items: vec!["64".into(), "0".into(), "BOS".into()] })
        );
    }

    #[test]
    fn labels_bos_unk_not_typeable() {
        assert_eq!(
            parse_probe("UNK", &char_labels(), ProbeInput::Characters, 64),
            Err(ProbeError::Unknown { items: vec!["U".into(), "N".into(), "K".into()] })
        );
    }

    #[test]
    fn too_long_rejected() {
        assert_eq!(parse_probe("aaaa", &char_labels(), ProbeInput::Characters, 4), Err(ProbeError::TooLong { len: 5, max: 4 }));
        assert_eq!(parse_probe("aaa", &char_labels(), ProbeInput::Characters, 4), Ok(vec![0, 2, 2, 2]));
    }

    #[test]
    fn empty_rejected() {
        assert_eq!(parse_probe("  ", &id_labels(), ProbeInput::Ids, 64), Err(ProbeError::Empty));
    }

    #[test]
    fn format_round_trips() {
        for (text, labels, input) in
            [("ab ba", char_labels(), ProbeInput::Characters), ("7 1 63", id_labels(), ProbeInput::Ids)]
        {
            let tokens = parse_probe(text, &labels, input, 64).unwrap();
            assert_eq!(format_probe(&tokens, &labels, input), text);
        }
    }

    #[test]
    fn probe_matches_run_snapshot() {
        // The probe of probe sequence 0 must show what the run's own snapshot shows.
        let mut config = RunConfig::lesson();
        config.model.variant = gatelab_model::Variant::parse("g1").unwrap();
        let run = Run::<f32>::new(config, &Limits::PAGE).unwrap();
        let (_, snapshot) = run.evaluate();
        let params: &Tensors<f32> = &run.params;
        let result = run_probe(&run.config.model, &run.layout, params, &snapshot.tokens);
        assert_eq!(result.snapshot.tokens, snapshot.tokens);
        assert_eq!(result.snapshot.attention.len(), snapshot.attention.len());
        for (probe, own) in result.snapshot.attention.iter().zip(&snapshot.attention) {
            assert!((probe - own).abs() < 1e-5, "{probe} against {own}");
        }
        assert!(result.snapshot.gate_map.is_some());
        assert_eq!(result.predictions.len(), snapshot.tokens.len());
        for row in &result.predictions {
            assert_eq!(row.len(), TOP_PREDICTIONS);
            assert!(row.windows(2).all(|pair| pair[0].1 >= pair[1].1));
        }
    }

    #[test]
    fn short_probe_every_variant() {
        // Sequences shorter than the model's positions, on every named variant.
        for name in gatelab_model::NAMED_VARIANTS {
            let mut config = RunConfig::lesson();
            config.model.variant = gatelab_model::Variant::parse(name).unwrap();
            let run = Run::<f32>::new(config, &Limits::PAGE).unwrap();
            let result = run_probe(&run.config.model, &run.layout, &run.params, &[0, 5, 9, 12]);
            assert_eq!(result.snapshot.seq_len, 4, "{name}");
            assert_eq!(result.snapshot.attention.len(), 16, "{name}");
            assert!(result.predictions.iter().flatten().all(|(_, p)| p.is_finite()), "{name}");
            let json = serde_json::to_string(&result).unwrap();
            let parsed: ProbeResult = serde_json::from_str(&json).unwrap_or_else(|error| panic!("{name}: {error}"));
            assert_eq!(parsed, result, "{name}");
        }
    }
}
