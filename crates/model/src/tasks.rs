//! The training tasks and their batches. Every batch starts each sequence with
//! BOS (id 0) at position 0, and position t is trained to predict token t + 1.

use rand::Rng;
use rand_distr::{Distribution, Gamma};

use crate::config::{BigramTable, TaskConfig, TextSource};
use crate::error::ConfigError;
use crate::rng::{self, StreamRng};

/// Id of the beginning-of-sequence token.
pub const BOS: u32 = 0;
/// Id of the unknown-character token in text vocabularies.
pub const UNK: u32 = 1;

/// The English text shipped with gatelab (written for the project).
pub const ENGLISH_TEXT: &str = include_str!("../texts/en.txt");
/// The Japanese text shipped with gatelab (written for the project).
pub const JAPANESE_TEXT: &str = include_str!("../texts/ja.txt");

/// Concentration of the Dirichlet prior of each random bigram row: small
/// values give peaked rows, so the next token is fairly predictable.
pub const DIRICHLET_ALPHA: f64 = 0.2;

/// Sequences of one step, all (B, T) row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct Batch {
    pub batch: usize,
    pub seq_len: usize,
    pub tokens: Vec<u32>,
    /// The token each position predicts (the next one); 0 at the last position.
    pub targets: Vec<u32>,
    /// Loss weight of each position's prediction: 1 where scored, else 0.
    pub weights: Vec<f32>,
    /// Positions whose next token is a copy (Bigram-Backcopy: the position
    /// contains a trigger, so the head must look back). All false for the other
    /// tasks.
    pub copy_query: Vec<bool>,
}

impl Batch {
    fn from_sequences(seqs: Vec<Vec<u32>>, seq_len: usize, scored: impl Fn(usize) -> bool, copy: impl Fn(&[u32], usize) -> bool) -> Batch {
        let batch = seqs.len();
        let mut tokens = Vec::with_capacity(batch * seq_len);
        let mut targets = Vec::with_capacity(batch * seq_len);
        let mut weights = Vec::with_capacity(batch * seq_len);
        let mut copy_query = Vec::with_capacity(batch * seq_len);
        for seq in &seqs {
            debug_assert_eq!(seq.len(), seq_len);
            for t in 0..seq_len {
                tokens.push(seq[t]);
                let has_target = t + 1 < seq_len;
                targets.push(if has_target { seq[t + 1] } else { 0 });
                weights.push(if has_target && scored(t) { 1.0 } else { 0.0 });
                copy_query.push(has_target && copy(seq, t));
            }
        }
        Batch { batch, seq_len, tokens, targets, weights, copy_query }
    }
}

/// A character vocabulary: BOS, UNK, then the most frequent characters.
#[derive(Clone, Debug, PartialEq)]
pub struct CharVocab {
    /// Characters of ids 2, 3, ... in order of falling frequency (ties by code
    /// point, so the order is deterministic).
    pub chars: Vec<char>,
}

impl CharVocab {
    /// Builds a vocabulary of at most `max_vocab` ids (BOS and UNK included).
    pub fn from_text(text: &str, max_vocab: usize) -> CharVocab {
        let mut counts: std::collections::HashMap<char, usize> = Default::default();
        for ch in text.chars() {
            *counts.entry(ch).or_default() += 1;
        }
        let mut by_count: Vec<(char, usize)> = counts.into_iter().collect();
        by_count.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let keep = max_vocab.saturating_sub(2);
        CharVocab { chars: by_count.into_iter().take(keep).map(|(ch, _)| ch).collect() }
    }

    pub fn size(&self) -> usize {
        self.chars.len() + 2
    }

    /// Encodes `text`, returning the ids and how many characters became UNK.
    pub fn encode(&self, text: &str) -> (Vec<u32>, usize) {
        let index: std::collections::HashMap<char, u32> =
            self.chars.iter().enumerate().map(|(i, &ch)| (ch, i as u32 + 2)).collect();
        let mut unknown = 0;
        let ids = text
            .chars()
            .map(|ch| {
                index.get(&ch).copied().unwrap_or_else(|| {
                    unknown += 1;
                    UNK
                })
            })
            .collect();
        (ids, unknown)
    }

    /// Returns a printable label for each id.
    pub fn labels(&self) -> Vec<String> {
        let mut labels = vec!["BOS".to_string(), "UNK".to_string()];
        labels.extend(self.chars.iter().map(|&ch| match ch {
            '\n' => "\\n".to_string(),
            ' ' => "\u{2423}".to_string(),
            _ => ch.to_string(),
        }));
        labels
    }
}

fn text_of(source: &TextSource) -> &str {
    match source {
        TextSource::English => ENGLISH_TEXT,
        TextSource::Japanese => JAPANESE_TEXT,
        TextSource::Custom(text) => text,
    }
}

/// Bigram-Backcopy: bigram sequences in which the token after a trigger copies
/// the token two back.
#[derive(Clone, Debug, PartialEq)]
pub struct BigramBackcopy {
    pub vocab: usize,
    /// (V, V) next-token probabilities, row = previous token; rows sum to 1 over
    /// ids 1..V-1 and never produce BOS.
    pub table: Vec<Vec<f64>>,
    /// Running sums of each row, for sampling.
    cumulative: Vec<Vec<f64>>,
    /// The unigram distribution that picked the triggers.
    pub unigram: Vec<f64>,
    pub triggers: Vec<u32>,
    is_trigger: Vec<bool>,
    /// Ids that may start a sequence at position 1: every non-trigger id.
    starters: Vec<u32>,
    /// Character labels when the table comes from a text.
    pub char_vocab: Option<CharVocab>,
    /// Characters of the table's text that became UNK.
    pub unknown_chars: usize,
}

impl BigramBackcopy {
    pub fn new(vocab: usize, table: &BigramTable, triggers: usize, seed: u64) -> BigramBackcopy {
        let (vocab, rows, unigram, char_vocab, unknown_chars) = match table {
            BigramTable::Random => {
                let rows = random_bigram_rows(vocab, seed);
                let unigram = stationary_distribution(&rows);
                (vocab, rows, unigram, None, 0)
            }
            BigramTable::Text(source) => {
                let text = text_of(source);
                let cv = CharVocab::from_text(text, vocab);
                let v = cv.size();
                let (ids, unknown) = cv.encode(text);
                let mut counts = vec![vec![0.0; v]; v];
                let mut unigram = vec![0.0; v];
                for pair in ids.windows(2) {
                    counts[pair[0] as usize][pair[1] as usize] += 1.0;
                }
                for &id in &ids {
                    unigram[id as usize] += 1.0;
                }
                let total: f64 = unigram.iter().sum();
                unigram.iter_mut().for_each(|u| *u /= total.max(1.0));
                let rows = counts
                    .into_iter()
                    .map(|row| {
                        let sum: f64 = row.iter().sum();
                        if sum > 0.0 {
                            row.iter().map(|c| c / sum).collect()
                        } else {
                            uniform_row(v)
                        }
                    })
                    .collect();
                (v, rows, unigram, Some(cv), unknown)
            }
        };

        let mut order: Vec<u32> = (1..vocab as u32).collect();
        order.sort_by(|&a, &b| unigram[b as usize].total_cmp(&unigram[a as usize]).then(a.cmp(&b)));
        let trigger_ids: Vec<u32> = order.into_iter().take(triggers).collect();
        let mut is_trigger = vec![false; vocab];
        for &t in &trigger_ids {
            is_trigger[t as usize] = true;
        }
        let starters = (1..vocab as u32).filter(|&id| !is_trigger[id as usize]).collect();
        let cumulative = rows.iter().map(|row: &Vec<f64>| running_sum(row)).collect();
        BigramBackcopy {
            vocab,
            table: rows,
            cumulative,
            unigram,
            triggers: trigger_ids,
            is_trigger,
            starters,
            char_vocab,
            unknown_chars,
        }
    }

    pub fn is_trigger(&self, id: u32) -> bool {
        self.is_trigger[id as usize]
    }

    fn sequence(&self, rng: &mut StreamRng, seq_len: usize) -> Vec<u32> {
        let mut seq = Vec::with_capacity(seq_len);
        seq.push(BOS);
        seq.push(self.starters[rng.random_range(0..self.starters.len())]);
        while seq.len() < seq_len {
            let t = seq.len();
            let prev = seq[t - 1];
            let next = if self.is_trigger(prev) {
                seq[t - 2]
            } else {
                sample_cumulative(&self.cumulative[prev as usize], rng)
            };
            seq.push(next);
        }
        seq.truncate(seq_len);
        seq
    }

    fn batch(&self, rng: &mut StreamRng, batch: usize, seq_len: usize) -> Batch {
        let seqs = (0..batch).map(|_| self.sequence(rng, seq_len)).collect();
        Batch::from_sequences(seqs, seq_len, |_| true, |seq, t| t >= 1 && self.is_trigger(seq[t]))
    }
}

/// Draws each row as a Dirichlet(0.2) over ids 1..V-1, drawn as normalised Gamma(0.2)
/// samples from the stream "task.bigram". The BOS row is drawn like the others
/// but never used.
fn random_bigram_rows(vocab: usize, seed: u64) -> Vec<Vec<f64>> {
    let mut rng = rng::stream(seed, "task.bigram");
    let gamma = Gamma::new(DIRICHLET_ALPHA, 1.0).expect("alpha is positive");
    (0..vocab)
        .map(|_| {
            let mut row = vec![0.0; vocab];
            for p in row.iter_mut().skip(1) {
                *p = gamma.sample(&mut rng);
            }
            let sum: f64 = row.iter().sum();
            if sum > 0.0 && sum.is_finite() {
                row.iter_mut().for_each(|p| *p /= sum);
                row
            } else {
                uniform_row(vocab)
            }
        })
        .collect()
}

fn uniform_row(vocab: usize) -> Vec<f64> {
    let mut row = vec![1.0 / (vocab - 1) as f64; vocab];
    row[0] = 0.0;
    row
}

/// Computes the unigram distribution of a long bigram chain: the stationary
/// distribution of the table, by 500 rounds of power iteration from uniform.
/// NOTE: this ignores the copies after triggers, which change the real
/// frequencies somewhat; the triggers are defined on the bigram table alone.
fn stationary_distribution(rows: &[Vec<f64>]) -> Vec<f64> {
    let v = rows.len();
    let mut p = uniform_row(v);
    for _ in 0..500 {
        let mut next = vec![0.0; v];
        for (from, row) in rows.iter().enumerate().skip(1) {
            for (to, &prob) in row.iter().enumerate() {
                next[to] += p[from] * prob;
            }
        }
        p = next;
    }
    p
}

fn running_sum(row: &[f64]) -> Vec<f64> {
    let mut acc = 0.0;
    row.iter()
        .map(|p| {
            acc += p;
            acc
        })
        .collect()
}

/// Draws an id from a row's running sums, skipping ids of probability zero.
fn sample_cumulative(cumulative: &[f64], rng: &mut StreamRng) -> u32 {
    let total = *cumulative.last().expect("rows are not empty");
    let u = rng.random::<f64>() * total;
    let i = cumulative.partition_point(|&c| c <= u);
    i.min(cumulative.len() - 1) as u32
}

/// Next-character prediction on a text. Training windows come from the first
/// 90 % of the text, probe windows from the last 10 %.
#[derive(Clone, Debug, PartialEq)]
pub struct TextTask {
    pub vocab: CharVocab,
    pub ids: Vec<u32>,
    pub unknown_chars: usize,
    /// Training windows start in 0..split; probe windows start at split or later.
    split: usize,
}

impl TextTask {
    pub fn new(source: &TextSource, max_vocab: usize, seq_len: usize) -> Result<TextTask, ConfigError> {
        let text = text_of(source);
        let vocab = CharVocab::from_text(text, max_vocab);
        let (ids, unknown_chars) = vocab.encode(text);
        let window = seq_len - 1;
        if ids.len() < 2 * window + 2 {
            return Err(ConfigError::TextTooShort { chars: ids.len(), min: 2 * window + 2 });
        }
        // Hold out the last 10 %, but at least one window, and leave training
        // at least one window.
        let held_out = (ids.len() / 10).max(window + 1);
        let split = ids.len() - held_out;
        Ok(TextTask { vocab, ids, unknown_chars, split })
    }

    fn window(&self, start: usize, seq_len: usize) -> Vec<u32> {
        let mut seq = Vec::with_capacity(seq_len);
        seq.push(BOS);
        seq.extend_from_slice(&self.ids[start..start + seq_len - 1]);
        seq
    }

    fn batch(&self, rng: &mut StreamRng, batch: usize, seq_len: usize, held_out: bool) -> Batch {
        let window = seq_len - 1;
        let (lo, hi) = if held_out {
            (self.split, self.ids.len() - window)
        } else {
            (0, self.split.saturating_sub(window).max(1))
        };
        let seqs = (0..batch).map(|_| self.window(rng.random_range(lo..=hi.max(lo)), seq_len)).collect();
        Batch::from_sequences(seqs, seq_len, |_| true, |_, _| false)
    }
}

/// Copy: BOS, a random prefix of P = (T - 1) / 2 ids from 1..V-1, then the
/// same prefix again. Only predictions of the repeat are scored (positions P
/// to 2P - 1). When T - 1 is odd, the last token is random and unscored.
#[derive(Clone, Debug, PartialEq)]
pub struct CopyTask {
    pub vocab: usize,
}

impl CopyTask {
    fn batch(&self, rng: &mut StreamRng, batch: usize, seq_len: usize) -> Batch {
        let p = (seq_len - 1) / 2;
        let seqs = (0..batch)
            .map(|_| {
                let mut seq = vec![BOS];
                for _ in 0..p {
                    seq.push(rng.random_range(1..self.vocab as u32));
                }
                for i in 0..p {
                    seq.push(seq[1 + i]);
                }
                while seq.len() < seq_len {
                    seq.push(rng.random_range(1..self.vocab as u32));
                }
                seq
            })
            .collect();
        Batch::from_sequences(seqs, seq_len, |t| t >= p && t < 2 * p, |_, _| false)
    }
}

/// A task built from its config.
#[derive(Clone, Debug, PartialEq)]
pub enum Task {
    BigramBackcopy(BigramBackcopy),
    Text(TextTask),
    Copy(CopyTask),
}

impl Task {
    pub fn new(config: &TaskConfig, seq_len: usize, seed: u64) -> Result<Task, ConfigError> {
        Ok(match config {
            TaskConfig::BigramBackcopy { vocab, table, triggers } => {
                Task::BigramBackcopy(BigramBackcopy::new(*vocab, table, *triggers, seed))
            }
            TaskConfig::Text { source, max_vocab } => Task::Text(TextTask::new(source, *max_vocab, seq_len)?),
            TaskConfig::Copy { vocab } => Task::Copy(CopyTask { vocab: *vocab }),
        })
    }

    pub fn vocab(&self) -> usize {
        match self {
            Task::BigramBackcopy(t) => t.vocab,
            Task::Text(t) => t.vocab.size(),
            Task::Copy(t) => t.vocab,
        }
    }

    /// Draws a training batch from `rng` (the run's "data" stream).
    pub fn sample(&self, rng: &mut StreamRng, batch: usize, seq_len: usize) -> Batch {
        match self {
            Task::BigramBackcopy(t) => t.batch(rng, batch, seq_len),
            Task::Text(t) => t.batch(rng, batch, seq_len, false),
            Task::Copy(t) => t.batch(rng, batch, seq_len),
        }
    }

    /// Draws the fixed probe batch from the stream "probe" (held-out text for
    /// the text task).
    pub fn probe(&self, seed: u64, batch: usize, seq_len: usize) -> Batch {
        let mut rng = rng::stream(seed, "probe");
        match self {
            Task::Text(t) => t.batch(&mut rng, batch, seq_len, true),
            _ => self.sample(&mut rng, batch, seq_len),
        }
    }

    /// Returns a printable label for each token id.
    pub fn labels(&self) -> Vec<String> {
        let char_vocab = match self {
            Task::BigramBackcopy(t) => t.char_vocab.as_ref(),
            Task::Text(t) => Some(&t.vocab),
            Task::Copy(_) => None,
        };
        match char_vocab {
            Some(cv) => cv.labels(),
            None => (0..self.vocab()).map(|i| if i == 0 { "BOS".to_string() } else { i.to_string() }).collect(),
        }
    }

    /// Characters of the task's text that became UNK, for the text-based tasks.
    pub fn unknown_chars(&self) -> Option<usize> {
        match self {
            Task::BigramBackcopy(t) => t.char_vocab.as_ref().map(|_| t.unknown_chars),
            Task::Text(t) => Some(t.unknown_chars),
            Task::Copy(_) => None,
        }
    }

    /// Trigger ids of Bigram-Backcopy; empty for the other tasks.
    pub fn triggers(&self) -> &[u32] {
        match self {
            Task::BigramBackcopy(t) => &t.triggers,
            _ => &[],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lesson_task(seed: u64) -> BigramBackcopy {
        BigramBackcopy::new(64, &BigramTable::Random, 3, seed)
    }

    #[test]
    fn backcopy_follows_trigger_rule() {
        let task = lesson_task(0);
        let mut rng = rng::stream(0, "data");
        let b = task.batch(&mut rng, 16, 32);
        let mut copies = 0;
        for s in 0..16 {
            let seq = &b.tokens[s * 32..(s + 1) * 32];
            assert_eq!(seq[0], BOS);
            assert!(!task.is_trigger(seq[1]), "position 1 is never a trigger");
            for t in 2..32 {
                assert_ne!(seq[t], BOS);
                if task.is_trigger(seq[t - 1]) {
                    assert_eq!(seq[t], seq[t - 2], "sequence {s} position {t}");
                    assert!(b.copy_query[s * 32 + t - 1]);
                    copies += 1;
                }
            }
            assert_eq!(b.weights[s * 32 + 31], 0.0);
            assert_eq!(b.weights[s * 32 + 30], 1.0);
        }
        assert!(copies > 16, "triggers are frequent tokens, so copies are common: {copies}");
    }

    #[test]
    fn triggers_are_most_frequent() {
        let task = lesson_task(1);
        let min_trigger = task.triggers.iter().map(|&t| task.unigram[t as usize]).fold(f64::INFINITY, f64::min);
        for id in 1..64u32 {
            if !task.is_trigger(id) {
                assert!(task.unigram[id as usize] <= min_trigger);
            }
        }
        assert!((task.unigram.iter().sum::<f64>() - 1.0).abs() < 1e-9);
    }

    #[test]
    fn bigram_rows_are_distributions() {
        let task = lesson_task(2);
        for row in &task.table {
            assert_eq!(row[0], 0.0);
            assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        }
    }

    #[test]
    fn copy_task_repeats_prefix() {
        let task = CopyTask { vocab: 16 };
        let mut rng = rng::stream(0, "data");
        for seq_len in [9, 10] {
            let b = task.batch(&mut rng, 4, seq_len);
            let p = (seq_len - 1) / 2;
            for s in 0..4 {
                let seq = &b.tokens[s * seq_len..(s + 1) * seq_len];
                assert_eq!(&seq[1..=p], &seq[p + 1..=2 * p]);
                let scored: Vec<usize> = (0..seq_len).filter(|&t| b.weights[s * seq_len + t] > 0.0).collect();
                assert_eq!(scored, (p..2 * p).collect::<Vec<_>>());
            }
        }
    }

    #[test]
    fn text_vocab_counts_unknowns() {
        let cv = CharVocab::from_text("aaabbc", 4);
        assert_eq!(cv.chars, vec!['a', 'b']);
        let (ids, unknown) = cv.encode("abcd");
        assert_eq!(ids, vec![2, 3, UNK, UNK]);
        assert_eq!(unknown, 2);
    }

    #[test]
    fn shipped_texts_build_tasks() {
        for source in [TextSource::English, TextSource::Japanese] {
            let task = TextTask::new(&source, 128, 64).expect("shipped texts are long enough");
            assert!(task.ids.len() > 1000);
            let mut rng = rng::stream(0, "data");
            let b = task.batch(&mut rng, 4, 64, true);
            assert!(b.tokens.iter().all(|&id| (id as usize) < task.vocab.size()));
        }
    }
}
