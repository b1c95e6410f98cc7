//! Run configuration: model sizes, the gate and attention variant, the task and
//! the optimiser, with one validator shared by the command line, the page and
//! its URL parser.
//!
//! Shape letters used across the crate: B batch, T sequence length counting the
//! BOS token at position 0, C model width, H heads, D = C / H head width,
//! V vocabulary (id 0 is BOS), L layers, G gate width.

use serde::{Deserialize, Serialize};
use std::fmt;

use crate::error::ConfigError;

/// Position of the gate in each attention block.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GatePos {
    /// No gate: the baseline.
    None,
    /// On the attention (SDPA) output of each head, before Wo. The best position in
    /// Qiu et al. 2025.
    G1,
    /// On the values, before attention mixes them.
    G2,
    /// On the keys, before RoPE.
    G3,
    /// On the queries, before RoPE.
    G4,
    /// On the output of Wo, before the residual add.
    G5,
}

/// One gate value per channel or one per head.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Granularity {
    Elementwise,
    Headwise,
}

/// Whether every head has its own gate weights or all heads share one gate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Sharing {
    HeadSpecific,
    HeadShared,
}

/// Combination of the gate with the tensor it gates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GateForm {
    /// `y * act(n Wg)`.
    Multiplicative,
    /// `y + act(n Wg)`.
    Additive,
}

/// The gate's activation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GateAct {
    Sigmoid,
    Silu,
}

/// Normaliser that turns attention scores into attention weights.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AttnNorm {
    /// `exp(s_i) / sum_j exp(s_j)`.
    Softmax,
    /// `exp(s_i) / (1 + sum_j exp(s_j))`: a null key and value of zeros.
    Softmax1,
    /// Softmax with one learned logit per head (starting at 0) that joins every
    /// row and is dropped after normalising.
    SinkLogit,
    /// `sigmoid(s_ij - ln T)` under the causal mask, rows not normalised.
    Sigmoid,
}

/// Token positions: a learned table added to the embeddings, or rotary
/// embeddings on queries and keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PosEnc {
    Learned,
    Rope,
}

/// Every knob of the gated-attention family. Two variants that differ only in
/// knobs that do not apply (for example granularity without a gate) are
/// rejected by [`Variant::validate`] rather than treated as equal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Variant {
    pub gate_pos: GatePos,
    pub granularity: Granularity,
    pub sharing: Sharing,
    pub form: GateForm,
    pub act: GateAct,
    pub attn: AttnNorm,
}

/// The thirteen named variants, in the order tables list them.
pub const NAMED_VARIANTS: [&str; 13] = [
    "baseline",
    "g1",
    "g1-headwise",
    "g1-shared",
    "g1-additive",
    "g1-silu",
    "g2",
    "g3",
    "g4",
    "g5",
    "softmax1",
    "sink-logit",
    "sigmoid-attn",
];

impl Default for Variant {
    fn default() -> Self {
        Self::BASELINE
    }
}

impl Variant {
    pub const BASELINE: Variant = Variant {
        gate_pos: GatePos::None,
        granularity: Granularity::Elementwise,
        sharing: Sharing::HeadSpecific,
        form: GateForm::Multiplicative,
        act: GateAct::Sigmoid,
        attn: AttnNorm::Softmax,
    };

    /// G1 elementwise, head-specific, multiplicative sigmoid gate on softmax
    /// attention: the configuration Qiu et al. 2025 recommend.
    pub const G1: Variant = Variant { gate_pos: GatePos::G1, ..Self::BASELINE };

    /// Looks up one of [`NAMED_VARIANTS`].
    pub fn named(name: &str) -> Option<Variant> {
        let g1 = Self::G1;
        let v = match name {
            "baseline" => Self::BASELINE,
            "g1" => g1,
            "g1-headwise" => Variant { granularity: Granularity::Headwise, ..g1 },
            "g1-shared" => Variant { sharing: Sharing::HeadShared, ..g1 },
            "g1-additive" => Variant { form: GateForm::Additive, ..g1 },
            "g1-silu" => Variant { act: GateAct::Silu, ..g1 },
            "g2" => Variant { gate_pos: GatePos::G2, ..g1 },
            "g3" => Variant { gate_pos: GatePos::G3, ..g1 },
            "g4" => Variant { gate_pos: GatePos::G4, ..g1 },
            "g5" => Variant { gate_pos: GatePos::G5, ..g1 },
            "softmax1" => Variant { attn: AttnNorm::Softmax1, ..Self::BASELINE },
            "sink-logit" => Variant { attn: AttnNorm::SinkLogit, ..Self::BASELINE },
            "sigmoid-attn" => Variant { attn: AttnNorm::Sigmoid, ..Self::BASELINE },
            _ => return None,
        };
        Some(v)
    }

    /// Parses a variant: a named variant, optionally followed by knob values
    /// joined with `+`, or knob values alone on top of the baseline.
    ///
    /// Knob values: `none`, `g1`..`g5` (gate position); `elementwise`,
    /// `headwise`; `head-specific`, `head-shared`; `multiplicative`,
    /// `additive`; `sigmoid`, `silu` (gate activation); `softmax`, `softmax1`,
    /// `sink-logit`, `sigmoid-attn` (attention normaliser). Examples: `g1`,
    /// `g3+headwise`, `g1-silu+softmax1`. Every value names one knob, so the
    /// order does not matter; the result is validated.
    pub fn parse(text: &str) -> Result<Variant, ConfigError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(ConfigError::UnknownVariant { text: text.to_string() });
        }
        let mut parts = text.split('+').map(str::trim);
        let first = parts.next().unwrap_or_default();
        let mut variant = Variant::BASELINE;
        let mut rest: Vec<&str> = Vec::new();
        match Variant::named(first) {
            Some(named) => variant = named,
            None => rest.push(first),
        }
        rest.extend(parts);
        // Each knob may be set once, so `g1+headwise+elementwise` is rejected
        // rather than resolved by order.
        let mut set_knobs: Vec<usize> = Vec::new();
        for token in rest {
            let knob = variant.apply_knob(token).map_err(|_| ConfigError::UnknownVariant {
                text: text.to_string(),
            })?;
            if set_knobs.contains(&knob) {
                return Err(ConfigError::KnobSetTwice { text: text.to_string(), token: token.to_string() });
            }
            set_knobs.push(knob);
        }
        variant.validate()?;
        Ok(variant)
    }

    /// Sets the knob that `token` names and returns that knob's index (0 gate
    /// position, 1 granularity, 2 sharing, 3 form, 4 activation, 5 normaliser).
    fn apply_knob(&mut self, token: &str) -> Result<usize, ()> {
        let knob = match token {
            "none" | "g1" | "g2" | "g3" | "g4" | "g5" => 0,
            "elementwise" | "headwise" => 1,
            "head-specific" | "head-shared" => 2,
            "multiplicative" | "additive" => 3,
            "sigmoid" | "silu" => 4,
            "softmax" | "softmax1" | "sink-logit" | "sigmoid-attn" => 5,
            _ => return Err(()),
        };
        match token {
            "none" => self.gate_pos = GatePos::None,
            "g1" => self.gate_pos = GatePos::G1,
            "g2" => self.gate_pos = GatePos::G2,
            "g3" => self.gate_pos = GatePos::G3,
            "g4" => self.gate_pos = GatePos::G4,
            "g5" => self.gate_pos = GatePos::G5,
            "elementwise" => self.granularity = Granularity::Elementwise,
            "headwise" => self.granularity = Granularity::Headwise,
            "head-specific" => self.sharing = Sharing::HeadSpecific,
            "head-shared" => self.sharing = Sharing::HeadShared,
            "multiplicative" => self.form = GateForm::Multiplicative,
            "additive" => self.form = GateForm::Additive,
            "sigmoid" => self.act = GateAct::Sigmoid,
            "silu" => self.act = GateAct::Silu,
            "softmax" => self.attn = AttnNorm::Softmax,
            "softmax1" => self.attn = AttnNorm::Softmax1,
            "sink-logit" => self.attn = AttnNorm::SinkLogit,
            "sigmoid-attn" => self.attn = AttnNorm::Sigmoid,
            _ => return Err(()),
        }
        Ok(knob)
    }

    /// Rejects knob combinations that do not apply: gate knobs without a gate,
    /// and headwise or head-shared gates after Wo (G5), where heads are mixed.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let gate_knobs_default = self.granularity == Granularity::Elementwise
            && self.sharing == Sharing::HeadSpecific
            && self.form == GateForm::Multiplicative
            && self.act == GateAct::Sigmoid;
        if self.gate_pos == GatePos::None && !gate_knobs_default {
            return Err(ConfigError::KnobWithoutGate);
        }
        if self.gate_pos == GatePos::G5 {
            if self.granularity == Granularity::Headwise {
                return Err(ConfigError::NotApplicableAtG5 { knob: "headwise" });
            }
            if self.sharing == Sharing::HeadShared {
                return Err(ConfigError::NotApplicableAtG5 { knob: "head-shared" });
            }
        }
        Ok(())
    }

    pub fn has_gate(&self) -> bool {
        self.gate_pos != GatePos::None
    }

    /// Width G of the gate per token: C x G is the shape of Wg.
    pub fn gate_width(&self, width: usize, heads: usize) -> usize {
        let head_dim = width / heads;
        match (self.granularity, self.sharing) {
            (Granularity::Elementwise, Sharing::HeadSpecific) => width,
            (Granularity::Elementwise, Sharing::HeadShared) => head_dim,
            (Granularity::Headwise, Sharing::HeadSpecific) => heads,
            (Granularity::Headwise, Sharing::HeadShared) => 1,
        }
    }

    /// Index into the G gate values that gates channel `c` of a (.., C) tensor
    /// laid out as concatenated heads (c = h * D + d).
    #[inline]
    pub fn gate_index(&self, c: usize, head_dim: usize) -> usize {
        match (self.granularity, self.sharing) {
            (Granularity::Elementwise, Sharing::HeadSpecific) => c,
            (Granularity::Elementwise, Sharing::HeadShared) => c % head_dim,
            (Granularity::Headwise, Sharing::HeadSpecific) => c / head_dim,
            (Granularity::Headwise, Sharing::HeadShared) => 0,
        }
    }

    /// Returns the canonical name: a named variant where one matches, else the gate
    /// position followed by every knob value that differs from G1's.
    pub fn name(&self) -> String {
        for name in NAMED_VARIANTS {
            if Variant::named(name) == Some(*self) {
                return name.to_string();
            }
        }
        let mut parts: Vec<&str> = Vec::new();
        parts.push(match self.gate_pos {
            GatePos::None => "baseline",
            GatePos::G1 => "g1",
            GatePos::G2 => "g2",
            GatePos::G3 => "g3",
            GatePos::G4 => "g4",
            GatePos::G5 => "g5",
        });
        if self.granularity == Granularity::Headwise {
            parts.push("headwise");
        }
        if self.sharing == Sharing::HeadShared {
            parts.push("head-shared");
        }
        if self.form == GateForm::Additive {
            parts.push("additive");
        }
        if self.act == GateAct::Silu {
            parts.push("silu");
        }
        match self.attn {
            AttnNorm::Softmax => {}
            AttnNorm::Softmax1 => parts.push("softmax1"),
            AttnNorm::SinkLogit => parts.push("sink-logit"),
            AttnNorm::Sigmoid => parts.push("sigmoid-attn"),
        }
        parts.join("+")
    }
}

impl fmt::Display for Variant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// Sizes and architecture of the transformer. The vocabulary comes from the
/// task.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelConfig {
    /// Number of transformer blocks L. Default 1.
    pub layers: usize,
    /// Number of attention heads H: 1, 2, 4 or 8. Default 1.
    pub heads: usize,
    /// Model width C: a multiple of 16 and of 2H, so each head width D is even
    /// (RoPE rotates channel pairs). Default 64.
    pub width: usize,
    /// Sequence length T, counting the BOS token at position 0. Default 32.
    pub seq_len: usize,
    /// Learned position table or RoPE. Default learned.
    pub pos_enc: PosEnc,
    /// The gate and attention-normaliser knobs. Default baseline.
    pub variant: Variant,
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self {
            layers: 1,
            heads: 1,
            width: 64,
            seq_len: 32,
            pos_enc: PosEnc::Learned,
            variant: Variant::BASELINE,
        }
    }
}

impl ModelConfig {
    pub fn head_dim(&self) -> usize {
        self.width / self.heads
    }

    /// Hidden width of the MLP (4C).
    pub fn mlp_width(&self) -> usize {
        4 * self.width
    }
}

/// Source of the text that a text-based task reads.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "text")]
pub enum TextSource {
    /// The English text shipped with gatelab.
    English,
    /// The Japanese text shipped with gatelab.
    Japanese,
    /// Text the user supplied.
    Custom(String),
}

/// The bigram table of Bigram-Backcopy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "text")]
pub enum BigramTable {
    /// Each row a seeded Dirichlet(0.2) over ids 1..V-1.
    Random,
    /// Character bigrams of a text.
    Text(TextSource),
}

/// The training task.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "task")]
pub enum TaskConfig {
    /// Bigram sequences where the token after a trigger copies the token two
    /// back (after Guo et al. 2024, "Active-Dormant Attention Heads").
    BigramBackcopy {
        /// Vocabulary V including BOS (with a text table, the cap on it).
        vocab: usize,
        table: BigramTable,
        /// How many of the most frequent tokens act as triggers.
        triggers: usize,
    },
    /// Next-character prediction on a text.
    Text {
        source: TextSource,
        /// Cap on the vocabulary V, counting BOS and UNK.
        max_vocab: usize,
    },
    /// A random prefix followed by its repeat; only the repeat is scored.
    Copy { vocab: usize },
}

impl Default for TaskConfig {
    fn default() -> Self {
        TaskConfig::BigramBackcopy { vocab: 64, table: BigramTable::Random, triggers: 3 }
    }
}

impl TaskConfig {
    pub fn kind_name(&self) -> &'static str {
        match self {
            TaskConfig::BigramBackcopy { .. } => "bigram-backcopy",
            TaskConfig::Text { .. } => "text",
            TaskConfig::Copy { .. } => "copy",
        }
    }
}

/// Optimiser and schedule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    /// Sequences per step B. Default 64.
    pub batch: usize,
    /// Peak AdamW learning rate. Default 3e-3: 1e-3 leaves the gate dense, and
    /// at 1e-2 the headwise gate's F-Attn wanders between 0.2 and 0.45.
    pub lr: f64,
    /// Linear warm-up length in steps, then constant. Default 50.
    pub warmup: usize,
    /// Decoupled weight decay, on matrices only. Default 0.1.
    pub weight_decay: f64,
    /// Global gradient-norm clip. Default 1.0.
    pub clip: f64,
    /// AdamW betas. Default (0.9, 0.95).
    pub beta1: f64,
    pub beta2: f64,
    /// AdamW epsilon. Default 1e-8.
    pub eps: f64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            batch: 64,
            lr: 3e-3,
            warmup: 50,
            weight_decay: 0.1,
            clip: 1.0,
            beta1: 0.9,
            beta2: 0.95,
            eps: 1e-8,
        }
    }
}

/// Everything that defines a run: with the same `RunConfig` the loss curve is
/// the same bit for bit on one machine.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RunConfig {
    /// Seed of every random stream: initial weights, data and probe batch.
    pub seed: u64,
    pub model: ModelConfig,
    pub train: TrainConfig,
    pub task: TaskConfig,
    /// Metrics are taken on the probe batch every this many steps. Default 10.
    pub metrics_every: usize,
    /// Sequences in the fixed probe batch. Default 32.
    pub probe_batch: usize,
}

impl Default for RunConfig {
    fn default() -> Self {
        Self::lesson()
    }
}

impl RunConfig {
    /// Returns the default lesson: Bigram-Backcopy on a random table of V = 64 with 3
    /// triggers, one layer and one head of width 64, learned positions, T = 32,
    /// batch 64, lr 3e-3, 1500 steps. For seeds 0, 1 and 2 the baseline's
    /// F-Attn ends at 0.86-0.89 and G1's (elementwise and headwise) at
    /// 0.11-0.27, which the command line's lesson test pins.
    pub fn lesson() -> Self {
        Self {
            seed: 0,
            model: ModelConfig::default(),
            train: TrainConfig::default(),
            task: TaskConfig::default(),
            metrics_every: 10,
            probe_batch: 32,
        }
    }

    /// Returns the same run with another variant.
    pub fn with_variant(&self, variant: Variant) -> Self {
        let mut config = self.clone();
        config.model.variant = variant;
        config
    }

    /// Checks every field against `limits` and the rules of the model.
    pub fn validate(&self, limits: &Limits) -> Result<(), ConfigError> {
        let m = &self.model;
        let t = &self.train;
        check_range("layers", m.layers as f64, 1.0, limits.max_layers as f64)?;
        if !ALLOWED_HEADS.contains(&m.heads) || m.heads > limits.max_heads {
            return Err(ConfigError::NotOneOf {
                field: "heads",
                value: m.heads.to_string(),
                allowed: ALLOWED_HEADS
                    .iter()
                    .filter(|h| **h <= limits.max_heads)
                    .map(|h| h.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        check_range("width", m.width as f64, 16.0, limits.max_width as f64)?;
        if m.width % 16 != 0 || m.width % (2 * m.heads) != 0 {
            return Err(ConfigError::WidthNotMultiple { width: m.width, heads: m.heads });
        }
        check_range("seq_len", m.seq_len as f64, 2.0, limits.max_seq_len as f64)?;
        m.variant.validate()?;

        check_range("batch", t.batch as f64, 1.0, limits.max_batch as f64)?;
        check_range("lr", t.lr, 1e-6, 1.0)?;
        check_range("warmup", t.warmup as f64, 0.0, 100_000.0)?;
        check_range("weight_decay", t.weight_decay, 0.0, 1.0)?;
        check_range("clip", t.clip, 1e-6, 1e6)?;
        check_range("beta1", t.beta1, 0.0, 0.999_999)?;
        check_range("beta2", t.beta2, 0.0, 0.999_999)?;
        check_range("eps", t.eps, 1e-12, 1e-2)?;
        check_range("metrics_every", self.metrics_every as f64, 1.0, 100_000.0)?;
        check_range("probe_batch", self.probe_batch as f64, 1.0, 256.0)?;

        match &self.task {
            TaskConfig::BigramBackcopy { vocab, table, triggers } => {
                check_range("vocab", *vocab as f64, 8.0, limits.max_vocab as f64)?;
                check_range("triggers", *triggers as f64, 1.0, (*vocab / 4) as f64)?;
                if let BigramTable::Text(TextSource::Custom(text)) = table {
                    check_text(text, limits)?;
                }
                if m.seq_len < 4 {
                    return Err(ConfigError::OutOfRange {
                        field: "seq_len",
                        value: m.seq_len.to_string(),
                        min: "4".into(),
                        max: limits.max_seq_len.to_string(),
                    });
                }
            }
            TaskConfig::Text { source, max_vocab } => {
                check_range("max_vocab", *max_vocab as f64, 8.0, limits.max_vocab as f64)?;
                if let TextSource::Custom(text) = source {
                    check_text(text, limits)?;
                }
            }
            TaskConfig::Copy { vocab } => {
                check_range("vocab", *vocab as f64, 3.0, limits.max_vocab as f64)?;
                if m.seq_len < 3 {
                    return Err(ConfigError::OutOfRange {
                        field: "seq_len",
                        value: m.seq_len.to_string(),
                        min: "3".into(),
                        max: limits.max_seq_len.to_string(),
                    });
                }
            }
        }
        Ok(())
    }
}

fn check_text(text: &str, limits: &Limits) -> Result<(), ConfigError> {
    if text.len() > limits.max_text_bytes {
        return Err(ConfigError::TextTooLarge { bytes: text.len(), max: limits.max_text_bytes });
    }
    if text.chars().count() < 64 {
        return Err(ConfigError::TextTooShort { chars: text.chars().count(), min: 64 });
    }
    Ok(())
}

/// Head counts the model accepts.
pub const ALLOWED_HEADS: [usize; 4] = [1, 2, 4, 8];

/// Upper bounds on sizes. The command line allows more than the page, whose
/// runs share a browser tab.
#[derive(Clone, Debug, PartialEq)]
pub struct Limits {
    pub max_layers: usize,
    pub max_heads: usize,
    pub max_width: usize,
    pub max_seq_len: usize,
    pub max_batch: usize,
    pub max_vocab: usize,
    pub max_text_bytes: usize,
}

impl Limits {
    /// Bounds for the page: layers 1-4, heads 1-8, width 16-128, T up to 128.
    pub const PAGE: Limits = Limits {
        max_layers: 4,
        max_heads: 8,
        max_width: 128,
        max_seq_len: 128,
        max_batch: 256,
        max_vocab: 512,
        max_text_bytes: 1 << 20,
    };

    /// Bounds for the command line.
    pub const CLI: Limits = Limits {
        max_layers: 16,
        max_heads: 8,
        max_width: 1024,
        max_seq_len: 1024,
        max_batch: 4096,
        max_vocab: 8192,
        max_text_bytes: 64 << 20,
    };
}

/// Checks that `value` lies in `[min, max]` and is finite.
pub fn check_range(field: &'static str, value: f64, min: f64, max: f64) -> Result<(), ConfigError> {
    if !value.is_finite() || value < min || value > max {
        return Err(ConfigError::OutOfRange {
            field,
            value: format_number(value),
            min: format_number(min),
            max: format_number(max),
        });
    }
    Ok(())
}

fn format_number(x: f64) -> String {
    if x.is_finite() && x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}
