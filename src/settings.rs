//! The page's settings, their query-string form, and their validation.
//!
//! Every setting round-trips through the URL, so a link reproduces the view.
//! A value that does not parse, or that the model crate's validator rejects
//! with [`Limits::PAGE`], is replaced by its default and reported as a
//! [`Rejection`].

use gatelab_model::{
    ConfigError, Limits, ModelConfig, RunConfig, TaskConfig, TextSource, TrainConfig, Variant, NAMED_VARIANTS,
};
use crate::i18n::Strings;

mod classroom;

pub use classroom::{ClassroomState, ControlGroup};

/// The training tasks that the page offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskChoice {
    BigramBackcopy,
    TextEnglish,
    TextJapanese,
    Copy,
    /// Next-character prediction on text the user pasted or uploaded.
    TextCustom,
}

impl TaskChoice {
    pub const ALL: [TaskChoice; 5] = [
        TaskChoice::BigramBackcopy,
        TaskChoice::TextEnglish,
        TaskChoice::TextJapanese,
        TaskChoice::Copy,
        TaskChoice::TextCustom,
    ];

    /// Returns the name used in the URL and in the task select.
    pub fn key(self) -> &'static str {
        match self {
            TaskChoice::BigramBackcopy => "bigram-backcopy",
            TaskChoice::TextEnglish => "text-en",
            TaskChoice::TextJapanese => "text-ja",
            TaskChoice::Copy => "copy",
            TaskChoice::TextCustom => "text-custom",
        }
    }

    pub fn from_key(key: &str) -> Option<TaskChoice> {
        TaskChoice::ALL.into_iter().find(|task| task.key() == key)
    }

    /// Returns the model crate's task config; `custom_text` is the text of
    /// [`TaskChoice::TextCustom`]. The text vocabulary cap of 128 and the
    /// copy vocabulary of 64 are the command line's defaults.
    pub fn task_config(self, custom_text: &str) -> TaskConfig {
        match self {
            TaskChoice::TextCustom => {
                TaskConfig::Text { source: TextSource::Custom(custom_text.to_string()), max_vocab: TEXT_VOCAB }
            }
            TaskChoice::BigramBackcopy => TaskConfig::default(),
            TaskChoice::TextEnglish => TaskConfig::Text { source: TextSource::English, max_vocab: TEXT_VOCAB },
            TaskChoice::TextJapanese => TaskConfig::Text { source: TextSource::Japanese, max_vocab: TEXT_VOCAB },
            TaskChoice::Copy => TaskConfig::Copy { vocab: 64 },
        }
    }
}

/// Cap on the vocabulary of the text tasks, BOS and UNK included.
pub const TEXT_VOCAB: usize = 128;

/// Range of the steps-per-frame setting.
pub const STEPS_PER_FRAME_RANGE: (usize, usize) = (1, 50);
/// Range of the training-length setting, in steps.
pub const STEPS_RANGE: (usize, usize) = (1, 100_000);

/// Maximum length, in characters, of a probe sequence from a link or the
/// probe field. A probe contains at most `Limits::PAGE.max_seq_len - 1`
/// tokens after BOS, and a token id takes at most three digits and a space,
/// so a longer text can never fit a model on the page.
pub const PROBE_MAX_CHARS: usize = 4 * Limits::PAGE.max_seq_len;

/// Maximum size, in bytes after percent-encoding, of an own text that a
/// link carries.
///
/// The page accepts up to `Limits::PAGE.max_text_bytes` (1 MiB) of text,
/// far more than an address should hold, so a longer text stays out of the
/// link and the copy-link panel shows a note. 1,000 bytes keep the whole link
/// near 1,300 characters, short enough to paste into a chat or an e-mail.
/// That is about 1,000 ASCII characters, or about 110 Japanese characters
/// (9 bytes each once encoded); the shortest text the validator accepts
/// is 64 characters.
pub const LINK_TEXT_MAX_ENCODED: usize = 1000;

/// Everything a link to the page reproduces.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// Variant of run A and of run B, as `Variant::name` writes them.
    pub variants: [String; 2],
    pub seed: u64,
    pub layers: usize,
    pub heads: usize,
    pub width: usize,
    pub seq_len: usize,
    pub batch: usize,
    pub lr: f64,
    pub task: TaskChoice,
    /// Training steps taken between two redraws.
    pub steps_per_frame: usize,
    /// Training stops at this step.
    pub steps: usize,
    /// The user's text for [`TaskChoice::TextCustom`]. `to_query` writes it
    /// only up to [`LINK_TEXT_MAX_ENCODED`].
    pub custom_text: String,
    /// The sequence typed into the probe panel, as typed; it is parsed
    /// against the task's vocabulary once a run has started.
    pub probe: String,
}

impl Settings {
    /// The default lesson of the model crate: baseline against G1 elementwise.
    pub fn lesson() -> Settings {
        Settings::from_config(&RunConfig::lesson(), ["baseline".into(), "g1".into()], 1500)
    }

    /// The settings of `config` with two variants and a training length.
    pub fn from_config(config: &RunConfig, variants: [String; 2], steps: usize) -> Settings {
        Settings {
            variants,
            seed: config.seed,
            layers: config.model.layers,
            heads: config.model.heads,
            width: config.model.width,
            seq_len: config.model.seq_len,
            batch: config.train.batch,
            lr: config.train.lr,
            task: TaskChoice::BigramBackcopy,
            steps_per_frame: 5,
            steps,
            custom_text: String::new(),
            probe: String::new(),
        }
    }

    /// Returns the run config of run `index` (0 for A, 1 for B).
    ///
    /// An unknown variant name falls back to the baseline; `validate` reports it.
    pub fn run_config(&self, index: usize) -> RunConfig {
        let variant = Variant::parse(&self.variants[index]).unwrap_or_default();
        let lesson = RunConfig::lesson();
        RunConfig {
            seed: self.seed,
            model: ModelConfig {
                layers: self.layers,
                heads: self.heads,
                width: self.width,
                seq_len: self.seq_len,
                variant,
                ..lesson.model
            },
            train: TrainConfig { batch: self.batch, lr: self.lr, ..lesson.train },
            task: self.task.task_config(&self.custom_text),
            ..lesson
        }
    }

    /// Checks both runs with the model crate's validator and the page's own
    /// ranges, and returns the first problem found.
    pub fn validate(&self) -> Result<(), Rejection> {
        for (index, name) in self.variants.iter().enumerate() {
            if let Err(error) = Variant::parse(name) {
                return Err(Rejection::from_config_error(&error, variant_field(index), name));
            }
        }
        check_usize("spf", self.steps_per_frame, STEPS_PER_FRAME_RANGE)?;
        check_usize("steps", self.steps, STEPS_RANGE)?;
        for index in 0..2 {
            if let Err(error) = self.run_config(index).validate(&Limits::PAGE) {
                return Err(Rejection::from_config_error(&error, "", ""));
            }
        }
        Ok(())
    }

    /// Encodes every setting as a query string, without the leading `?`.
    /// The own text goes in only while [`Settings::text_left_out_of_link`]
    /// is false, and the probe only when it is set.
    pub fn to_query(&self) -> String {
        let mut pairs: Vec<(&str, String)> = vec![
            ("a", self.variants[0].clone()),
            ("b", self.variants[1].clone()),
            ("seed", self.seed.to_string()),
            ("layers", self.layers.to_string()),
            ("heads", self.heads.to_string()),
            ("width", self.width.to_string()),
            ("seq_len", self.seq_len.to_string()),
            ("batch", self.batch.to_string()),
            ("lr", self.lr.to_string()),
            ("task", self.task.key().to_string()),
            ("spf", self.steps_per_frame.to_string()),
            ("steps", self.steps.to_string()),
        ];
        if self.task == TaskChoice::TextCustom && !self.text_left_out_of_link() {
            pairs.push(("text", self.custom_text.clone()));
        }
        if !self.probe.is_empty() && self.probe.chars().count() <= PROBE_MAX_CHARS {
            pairs.push(("probe", self.probe.clone()));
        }
        pairs.iter().map(|(key, value)| format!("{key}={}", encode_component(value))).collect::<Vec<_>>().join("&")
    }

    /// Returns whether the own-text task is chosen but its text is too long
    /// for a link (over [`LINK_TEXT_MAX_ENCODED`] bytes once encoded).
    pub fn text_left_out_of_link(&self) -> bool {
        self.task == TaskChoice::TextCustom && encode_component(&self.custom_text).len() > LINK_TEXT_MAX_ENCODED
    }

    /// Parses a query string (with or without the leading `?`) on top of
    /// `defaults`. Keys that are absent keep their default, unknown keys are
    /// ignored, and every rejected value is replaced by its default and
    /// returned as a [`Rejection`].
    pub fn from_query(query: &str, defaults: &Settings) -> (Settings, Vec<Rejection>) {
        let mut settings = defaults.clone();
        let mut rejections = Vec::new();
        let query = query.strip_prefix('?').unwrap_or(query);

        for pair in query.split('&').filter(|pair| !pair.is_empty()) {
            let (key, raw) = pair.split_once('=').unwrap_or((pair, ""));
            let value = decode_component(raw);
            if let Err(rejection) = settings.apply(key, &value) {
                rejections.push(rejection);
            }
        }

        // Combinations (width against heads, ranges of the model crate) are
        // checked with the validator; each offending field returns to its
        // default until the settings pass. Every round resets at least one
        // field, so this ends.
        for _ in 0..16 {
            let Err(rejection) = settings.validate() else {
                break;
            };
            settings.reset_field(&rejection.field, defaults);
            if settings.validate().as_ref().err() == Some(&rejection) {
                // The field alone cannot fix it, for example width against
                // heads: fall back to the defaults of the model sizes.
                settings.heads = defaults.heads;
                settings.width = defaults.width;
            }
            rejections.push(rejection);
        }
        if settings.validate().is_err() {
            settings = defaults.clone();
        }
        (settings, rejections)
    }

    /// Sets one field from its URL text and checks the result; on a
    /// rejection the settings stay as they were.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), Rejection> {
        let mut changed = self.clone();
        changed.apply(key, value)?;
        changed.validate()?;
        *self = changed;
        Ok(())
    }

    /// Sets one field from its URL text; rejects text that does not parse.
    fn apply(&mut self, key: &str, value: &str) -> Result<(), Rejection> {
        match key {
            "a" => self.variants[0] = value.to_string(),
            "b" => self.variants[1] = value.to_string(),
            "seed" => self.seed = parse_number(key, value, "0", &u64::MAX.to_string())?,
            "layers" => self.layers = parse_number(key, value, "1", &Limits::PAGE.max_layers.to_string())?,
            "heads" => self.heads = parse_number(key, value, "1", &Limits::PAGE.max_heads.to_string())?,
            "width" => self.width = parse_number(key, value, "16", &Limits::PAGE.max_width.to_string())?,
            "seq_len" => self.seq_len = parse_number(key, value, "4", &Limits::PAGE.max_seq_len.to_string())?,
            "batch" => self.batch = parse_number(key, value, "1", &Limits::PAGE.max_batch.to_string())?,
            "lr" => {
                let lr: f64 = parse_number(key, value, "0.000001", "1")?;
                if !lr.is_finite() {
                    return Err(Rejection::range(key, value, "0.000001", "1"));
                }
                self.lr = lr;
            }
            "task" => {
                self.task = TaskChoice::from_key(value).ok_or_else(|| Rejection {
                    field: key.to_string(),
                    value: value.to_string(),
                    allowed: TaskChoice::ALL.map(TaskChoice::key).join(", "),
                })?
            }
            "spf" => {
                let (min, max) = STEPS_PER_FRAME_RANGE;
                self.steps_per_frame = parse_number(key, value, &min.to_string(), &max.to_string())?
            }
            "steps" => {
                let (min, max) = STEPS_RANGE;
                self.steps = parse_number(key, value, &min.to_string(), &max.to_string())?
            }
            // The user's own text: choosing it also chooses the task. The
            // validator checks its size.
            "text" => {
                self.custom_text = value.to_string();
                self.task = TaskChoice::TextCustom;
            }
            // The probe's tokens depend on the task's vocabulary, so only its
            // length is checked here; the probe panel reports the rest.
            "probe" => {
                let chars = value.chars().count();
                if chars > PROBE_MAX_CHARS {
                    return Err(Rejection {
                        field: key.to_string(),
                        value: format!("{chars} characters"),
                        allowed: format!("0 – {PROBE_MAX_CHARS} characters"),
                    });
                }
                self.probe = value.to_string();
            }
            _ => {}
        }
        Ok(())
    }

    fn reset_field(&mut self, field: &str, defaults: &Settings) {
        match field {
            "a" => self.variants[0] = defaults.variants[0].clone(),
            "b" => self.variants[1] = defaults.variants[1].clone(),
            "layers" => self.layers = defaults.layers,
            "heads" => self.heads = defaults.heads,
            "width" => self.width = defaults.width,
            "seq_len" => self.seq_len = defaults.seq_len,
            "batch" => self.batch = defaults.batch,
            "lr" => self.lr = defaults.lr,
            "spf" => self.steps_per_frame = defaults.steps_per_frame,
            "steps" => self.steps = defaults.steps,
            "text" => {
                self.task = defaults.task;
                self.custom_text = defaults.custom_text.clone();
            }
            _ => {
                self.heads = defaults.heads;
                self.width = defaults.width;
            }
        }
    }
}

/// A setting from the URL that was not used: the field, the text given, and
/// what the field allows.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Rejection {
    /// The URL key, for example `width`.
    pub field: String,
    pub value: String,
    pub allowed: String,
}

/// Lists the widths the page allows with `heads` heads: the multiples of 16
/// and of 2 x heads up to the page's maximum. A list of numbers reads the
/// same in every language, where a rule would need words.
fn allowed_widths(heads: usize) -> String {
    let step = (1..).map(|k| 16 * k).find(|width| width % (2 * heads.max(1)) == 0).expect("some multiple of 16 is a multiple of 2 x heads");
    let widths: Vec<String> = (1..).map(|k| k * step).take_while(|width| *width <= Limits::PAGE.max_width).map(|width| width.to_string()).collect();
    widths.join(", ")
}

impl Rejection {
    /// Returns the value and the allowed range in the language of `strings`.
    /// Only the unit words need it, because the rest are numbers and names
    /// of settings: the validator writes "characters" and "bytes" after
    /// text sizes.
    pub fn localized(&self, strings: &Strings) -> (String, String) {
        let localize = |text: &str| text.replace("characters", strings.unit_characters).replace("bytes", strings.unit_bytes);
        (localize(&self.value), localize(&self.allowed))
    }

    fn range(field: &str, value: &str, min: &str, max: &str) -> Rejection {
        Rejection { field: field.to_string(), value: value.to_string(), allowed: format!("{min} – {max}") }
    }

    /// Converts a validator error. `field` and `value` name the setting for
    /// errors that do not carry them (an unknown variant).
    pub(crate) fn from_config_error(error: &ConfigError, field: &str, value: &str) -> Rejection {
        match error {
            ConfigError::OutOfRange { field, value, min, max } => Rejection::range(url_key(field), value, min, max),
            ConfigError::NotOneOf { field, value, allowed } => {
                Rejection { field: url_key(field).to_string(), value: value.clone(), allowed: allowed.clone() }
            }
            ConfigError::WidthNotMultiple { width, heads } => Rejection {
                field: "width".to_string(),
                value: width.to_string(),
                allowed: allowed_widths(*heads),
            },
            ConfigError::UnknownVariant { .. }
            | ConfigError::KnobSetTwice { .. }
            | ConfigError::KnobWithoutGate
            | ConfigError::NotApplicableAtG5 { .. } => {
                Rejection { field: field.to_string(), value: value.to_string(), allowed: NAMED_VARIANTS.join(", ") }
            }
            ConfigError::TextTooLarge { bytes, max } => Rejection {
                field: "text".to_string(),
                value: format!("{bytes} bytes"),
                allowed: format!("64 characters – {max} bytes"),
            },
            ConfigError::TextTooShort { chars, min } => Rejection {
                field: "text".to_string(),
                value: format!("{chars} characters"),
                allowed: format!("{min} characters – {} bytes", Limits::PAGE.max_text_bytes),
            },
        }
    }
}

/// Returns the URL key of run `index`'s variant.
fn variant_field(index: usize) -> &'static str {
    if index == 0 {
        "a"
    } else {
        "b"
    }
}

/// Maps a model crate field name to its URL key; they agree except where the
/// model crate names a field that the page derives from the task.
fn url_key(field: &str) -> &str {
    match field {
        "vocab" | "max_vocab" | "triggers" => "task",
        other => other,
    }
}

fn check_usize(field: &str, value: usize, (min, max): (usize, usize)) -> Result<(), Rejection> {
    if value < min || value > max {
        return Err(Rejection::range(field, &value.to_string(), &min.to_string(), &max.to_string()));
    }
    Ok(())
}

fn parse_number<T: std::str::FromStr>(field: &str, value: &str, min: &str, max: &str) -> Result<T, Rejection> {
    value.trim().parse().map_err(|_| Rejection::range(field, value, min, max))
}

/// Percent-encodes everything but unreserved characters (RFC 3986).
fn encode_component(text: &str) -> String {
    let mut encoded = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// Decodes percent escapes and `+` as a space; invalid escapes stay as text.
fn decode_component(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => decoded.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|hex| u8::from_str_radix(hex, 16).ok()) {
                    Some(byte) => {
                        decoded.push(byte);
                        i += 2;
                    }
                    None => decoded.push(b'%'),
                }
            }
            byte => decoded.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

#[cfg(test)]
mod property_tests;
#[cfg(test)]
mod tests;
