//! Command-line options that describe a run, turned into a validated
//! [`RunConfig`].

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use gatelab_model::{
    AttnNorm, BigramTable, GateAct, GateForm, GatePos, Granularity, Limits, PosEnc, RunConfig, Sharing, TaskConfig,
    TextSource, Variant,
};

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum TaskKind {
    BigramBackcopy,
    Text,
    Copy,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum TableKind {
    Random,
    Text,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum PosEncArg {
    Learned,
    Rope,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum GatePosArg {
    None,
    G1,
    G2,
    G3,
    G4,
    G5,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum GranularityArg {
    Elementwise,
    Headwise,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum SharingArg {
    HeadSpecific,
    HeadShared,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum FormArg {
    Multiplicative,
    Additive,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ActArg {
    Sigmoid,
    Silu,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum AttnArg {
    Softmax,
    Softmax1,
    SinkLogit,
    /// Named as in variant strings, where `sigmoid` is the gate activation.
    #[value(name = "sigmoid-attn", alias = "sigmoid")]
    Sigmoid,
}

/// Options shared by every command that trains. Unset options keep the value
/// of `--config`, or of the default lesson.
#[derive(Args, Clone, Debug, Default)]
pub struct RunArgs {
    /// JSON run config to start from (as written in a run's JSON output or a
    /// checkpoint's config.json "config" field); other options override it.
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Seed of the initial weights, the data and the probe batch.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Training task.
    #[arg(long, value_enum)]
    pub task: Option<TaskKind>,
    /// Bigram table of bigram-backcopy: seeded random rows, or character bigrams of --text.
    #[arg(long, value_enum)]
    pub table: Option<TableKind>,
    /// Text for the text task and the text bigram table: `en`, `ja` (shipped) or a UTF-8 file path.
    #[arg(long, value_name = "en|ja|PATH")]
    pub text: Option<String>,
    /// Vocabulary size V including BOS (for text, the cap including BOS and UNK).
    #[arg(long)]
    pub vocab: Option<usize>,
    /// Number of trigger tokens in bigram-backcopy (the most frequent ones).
    #[arg(long)]
    pub triggers: Option<usize>,
    /// Transformer blocks L.
    #[arg(long)]
    pub layers: Option<usize>,
    /// Attention heads H: 1, 2, 4 or 8.
    #[arg(long)]
    pub heads: Option<usize>,
    /// Model width C: a multiple of 16 and of 2H.
    #[arg(long)]
    pub width: Option<usize>,
    /// Sequence length T, counting BOS.
    #[arg(long)]
    pub seq_len: Option<usize>,
    /// Position encoding.
    #[arg(long, value_enum)]
    pub pos_enc: Option<PosEncArg>,
    /// Sequences per training step.
    #[arg(long)]
    pub batch: Option<usize>,
    /// Peak AdamW learning rate.
    #[arg(long)]
    pub lr: Option<f64>,
    /// Linear warm-up length in steps.
    #[arg(long)]
    pub warmup: Option<usize>,
    /// AdamW weight decay on matrices.
    #[arg(long)]
    pub weight_decay: Option<f64>,
    /// Global gradient-norm clip.
    #[arg(long)]
    pub clip: Option<f64>,
    /// Take metrics on the probe batch every N steps.
    #[arg(long, value_name = "N")]
    pub metrics_every: Option<usize>,
    /// Sequences in the probe batch.
    #[arg(long)]
    pub probe_batch: Option<usize>,
    /// Gate position, overriding the variant's.
    #[arg(long, value_enum)]
    pub gate_pos: Option<GatePosArg>,
    /// Gate granularity, overriding the variant's.
    #[arg(long, value_enum)]
    pub granularity: Option<GranularityArg>,
    /// Gate sharing across heads, overriding the variant's.
    #[arg(long, value_enum)]
    pub sharing: Option<SharingArg>,
    /// Gate form, overriding the variant's.
    #[arg(long, value_enum)]
    pub form: Option<FormArg>,
    /// Gate activation, overriding the variant's.
    #[arg(long, value_enum)]
    pub act: Option<ActArg>,
    /// Attention normaliser, overriding the variant's.
    #[arg(long, value_enum)]
    pub attn: Option<AttnArg>,
}

fn text_source(text: &str) -> Result<TextSource, String> {
    match text {
        "en" => Ok(TextSource::English),
        "ja" => Ok(TextSource::Japanese),
        path => std::fs::read_to_string(path)
            .map(TextSource::Custom)
            .map_err(|e| format!("--text {path}: cannot read the file as UTF-8 text: {e}")),
    }
}

impl RunArgs {
    /// Builds the base config (before any variant) from `--config` and the
    /// size, task and optimiser options.
    pub fn base_config(&self) -> Result<RunConfig, String> {
        let mut config = match &self.config {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| format!("--config {}: {e}", path.display()))?;
                serde_json::from_str(&text).map_err(|e| format!("--config {}: invalid run config JSON: {e}", path.display()))?
            }
            None => RunConfig::lesson(),
        };
        let m = &mut config.model;
        let t = &mut config.train;
        macro_rules! set {
            ($field:expr, $value:expr) => {
                if let Some(v) = $value {
                    $field = v;
                }
            };
        }
        set!(config.seed, self.seed);
        set!(m.layers, self.layers);
        set!(m.heads, self.heads);
        set!(m.width, self.width);
        set!(m.seq_len, self.seq_len);
        set!(t.batch, self.batch);
        set!(t.lr, self.lr);
        set!(t.warmup, self.warmup);
        set!(t.weight_decay, self.weight_decay);
        set!(t.clip, self.clip);
        set!(config.metrics_every, self.metrics_every);
        set!(config.probe_batch, self.probe_batch);
        if let Some(p) = self.pos_enc {
            m.pos_enc = match p {
                PosEncArg::Learned => PosEnc::Learned,
                PosEncArg::Rope => PosEnc::Rope,
            };
        }
        config.task = self.task_config(&config.task)?;
        Ok(config)
    }

    fn task_config(&self, current: &TaskConfig) -> Result<TaskConfig, String> {
        let text = self.text.as_deref().map(text_source).transpose()?;
        let kind = self.task.unwrap_or(match current {
            TaskConfig::BigramBackcopy { .. } => TaskKind::BigramBackcopy,
            TaskConfig::Text { .. } => TaskKind::Text,
            TaskConfig::Copy { .. } => TaskKind::Copy,
        });
        Ok(match kind {
            TaskKind::BigramBackcopy => {
                let (vocab, table, triggers) = match current {
                    TaskConfig::BigramBackcopy { vocab, table, triggers } => (*vocab, table.clone(), *triggers),
                    _ => (64, BigramTable::Random, 3),
                };
                let table = match (self.table, text) {
                    (Some(TableKind::Random), _) => BigramTable::Random,
                    (Some(TableKind::Text), Some(source)) => BigramTable::Text(source),
                    (Some(TableKind::Text), None) => BigramTable::Text(TextSource::English),
                    (None, Some(source)) => BigramTable::Text(source),
                    (None, None) => table,
                };
                TaskConfig::BigramBackcopy {
                    vocab: self.vocab.unwrap_or(vocab),
                    table,
                    triggers: self.triggers.unwrap_or(triggers),
                }
            }
            TaskKind::Text => {
                let (source, max_vocab) = match current {
                    TaskConfig::Text { source, max_vocab } => (source.clone(), *max_vocab),
                    _ => (TextSource::English, 128),
                };
                TaskConfig::Text { source: text.unwrap_or(source), max_vocab: self.vocab.unwrap_or(max_vocab) }
            }
            TaskKind::Copy => {
                let vocab = match current {
                    TaskConfig::Copy { vocab } => *vocab,
                    _ => 64,
                };
                TaskConfig::Copy { vocab: self.vocab.unwrap_or(vocab) }
            }
        })
    }

    /// Applies the per-knob options on top of `variant`.
    pub fn apply_knobs(&self, mut variant: Variant) -> Variant {
        if let Some(p) = self.gate_pos {
            variant.gate_pos = match p {
                GatePosArg::None => GatePos::None,
                GatePosArg::G1 => GatePos::G1,
                GatePosArg::G2 => GatePos::G2,
                GatePosArg::G3 => GatePos::G3,
                GatePosArg::G4 => GatePos::G4,
                GatePosArg::G5 => GatePos::G5,
            };
        }
        if let Some(g) = self.granularity {
            variant.granularity = match g {
                GranularityArg::Elementwise => Granularity::Elementwise,
                GranularityArg::Headwise => Granularity::Headwise,
            };
        }
        if let Some(s) = self.sharing {
            variant.sharing = match s {
                SharingArg::HeadSpecific => Sharing::HeadSpecific,
                SharingArg::HeadShared => Sharing::HeadShared,
            };
        }
        if let Some(f) = self.form {
            variant.form = match f {
                FormArg::Multiplicative => GateForm::Multiplicative,
                FormArg::Additive => GateForm::Additive,
            };
        }
        if let Some(a) = self.act {
            variant.act = match a {
                ActArg::Sigmoid => GateAct::Sigmoid,
                ActArg::Silu => GateAct::Silu,
            };
        }
        if let Some(a) = self.attn {
            variant.attn = match a {
                AttnArg::Softmax => AttnNorm::Softmax,
                AttnArg::Softmax1 => AttnNorm::Softmax1,
                AttnArg::SinkLogit => AttnNorm::SinkLogit,
                AttnArg::Sigmoid => AttnNorm::Sigmoid,
            };
        }
        variant
    }

    /// Builds the config of one variant and validates it against the command line's limits.
    pub fn run_config(&self, base: &RunConfig, variant_text: &str) -> Result<RunConfig, String> {
        let variant = Variant::parse(variant_text).map_err(|e| e.to_string())?;
        let variant = self.apply_knobs(variant);
        let config = base.with_variant(variant);
        config.validate(&Limits::CLI).map_err(|e| format!("invalid run config: {e}"))?;
        Ok(config)
    }
}
