//! Metrics of a run, taken on the fixed probe batch: where attention goes
//! (F-Attn, sink heads), what the gates do, how large activations get, and
//! the losses. The command line's JSON, the page's worker messages and the
//! GPU engine's read-backs all use these types.

use ndarray::{s, Array4, Axis};
use serde::{Deserialize, Serialize};

use crate::config::{AttnNorm, ModelConfig};
use crate::model::ForwardCache;
use crate::params::{Layout, Tensors};
use crate::scalar::Scalar;
use crate::tasks::Batch;

/// A (layer, head) pair counts as a sink head when its F-Attn is above this.
pub const SINK_THRESHOLD: f64 = 0.3;
/// Bins of the gate histogram over [0, 1].
pub const GATE_BINS: usize = 20;

/// Statistics of the gate values act(n Wg) over all layers, probe positions and
/// gate channels.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GateMetrics {
    pub mean: f64,
    /// Share of gate values below 0.1.
    pub below_0_1: f64,
    /// Counts in 20 equal bins over [0, 1]; values below 0 or above 1 (SiLU
    /// gates) go to the end bins and are also counted in `below_zero` and
    /// `above_one`.
    pub histogram: Vec<u64>,
    pub below_zero: u64,
    pub above_one: u64,
    /// (L * H) row-major: mean gate acting on each head's channels.
    pub head_mean: Vec<f64>,
    /// (T) mean gate at each position.
    pub position_mean: Vec<f64>,
    /// Mean gate at copy queries (Bigram-Backcopy: the query holds a trigger, so
    /// the head must copy) and at the other queries i >= 1.
    pub active_mean: Option<f64>,
    pub dormant_mean: Option<f64>,
}

/// Everything measured at one step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    pub step: usize,
    /// Training loss of the last step (none before the first).
    pub train_loss: Option<f64>,
    /// Loss on the probe batch, which is never trained on.
    pub val_loss: f64,
    /// Probe loss at copy positions and at the others (Bigram-Backcopy).
    pub val_loss_copy: Option<f64>,
    pub val_loss_other: Option<f64>,
    /// Headline F-Attn: mean over layers of the per-layer value.
    pub f_attn: f64,
    /// (L) mean over heads, probe sequences and queries i >= 1 of A[h, i, 0].
    pub f_attn_layers: Vec<f64>,
    /// (L * H) row-major.
    pub f_attn_heads: Vec<f64>,
    /// F-Attn of uniform causal attention, (H_T - 1) / (T - 1).
    pub f_attn_uniform: f64,
    /// Mass that went to the null slot (softmax1 and sink-logit only), mean
    /// over layers, and per layer.
    pub null_mass: Option<f64>,
    pub null_mass_layers: Option<Vec<f64>>,
    /// Share of (layer, head) pairs with F-Attn above 0.3.
    pub sink_heads: f64,
    pub gate: Option<GateMetrics>,
    /// Norm of the BOS value vector through Wo over the mean norm at the other
    /// positions: mean over layers, and per layer (mean over heads).
    pub bos_value_norm: f64,
    pub bos_value_norm_layers: Vec<f64>,
    /// Headline M-Act: mean over layers of max |x| of the residual stream
    /// after each layer; also per layer, at position 0 and elsewhere.
    pub m_act: f64,
    pub m_act_layers: Vec<f64>,
    pub m_act_bos: Vec<f64>,
    pub m_act_rest: Vec<f64>,
    /// Gradient norm of the last step, before clipping.
    pub grad_norm: Option<f64>,
    /// Learning rate of the last step.
    pub lr: Option<f64>,
}

/// Attention and gates of probe sequence 0, for heatmaps.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub step: usize,
    pub layers: usize,
    pub heads: usize,
    pub seq_len: usize,
    /// (T) token ids of the sequence.
    pub tokens: Vec<u32>,
    /// (L, H, T, T) attention weights, query rows, key columns.
    pub attention: Vec<f32>,
    /// (L, H, T) mean gate acting on each head at each position.
    pub gate_map: Option<Vec<f32>>,
}

/// F-Attn of uniform causal attention over T positions: query i puts 1 / (i + 1)
/// on key 0, and the mean over i = 1..T-1 is (H_T - 1) / (T - 1), with H_T the
/// T-th harmonic number.
pub fn uniform_f_attn(seq_len: usize) -> f64 {
    if seq_len < 2 {
        return 0.0;
    }
    let harmonic: f64 = (1..=seq_len).map(|k| 1.0 / k as f64).sum();
    (harmonic - 1.0) / (seq_len as f64 - 1.0)
}

fn mean(values: impl IntoIterator<Item = f64>) -> f64 {
    let (sum, count) = values.into_iter().fold((0.0, 0usize), |(s, c), v| (s + v, c + 1));
    if count == 0 {
        f64::NAN
    } else {
        sum / count as f64
    }
}

/// F-Attn of each head of one layer's attention (B, H, T, T): the mean over
/// sequences and queries i >= 1 of A[h, i, 0]. With `normalise_rows` (the
/// sigmoid normaliser, whose rows do not sum to 1) each row is divided by its
/// sum first.
pub fn f_attn_per_head<F: Scalar>(att: &Array4<F>, normalise_rows: bool) -> Vec<f64> {
    let (b, h, t, _) = att.dim();
    let mut per_head = Vec::with_capacity(h);
    for head in 0..h {
        let mut sum = 0.0;
        for seq in 0..b {
            for i in 1..t {
                let row = att.slice(s![seq, head, i, ..=i]);
                let first = row[0].as_f64();
                sum += if normalise_rows {
                    let total: f64 = row.iter().map(|a| a.as_f64()).sum();
                    if total > 0.0 { first / total } else { 0.0 }
                } else {
                    first
                };
            }
        }
        per_head.push(if t > 1 { sum / (b * (t - 1)) as f64 } else { 0.0 });
    }
    per_head
}

/// F-Attn of each (layer, head), (L * H) row-major, with the mean null-slot
/// mass of each layer over queries i >= 1.
pub fn attention_to_first<F: Scalar>(config: &ModelConfig, cache: &ForwardCache<F>) -> (Vec<f64>, Vec<f64>) {
    let normalise_rows = config.variant.attn == AttnNorm::Sigmoid;
    let mut per_head = Vec::new();
    let mut null_layers = Vec::new();
    for lc in &cache.layers {
        per_head.extend(f_attn_per_head(&lc.attn.att, normalise_rows));
        null_layers.push(mean(lc.attn.null.slice(s![.., .., 1..]).iter().map(|v| v.as_f64())));
    }
    (per_head, null_layers)
}

/// Computes every metric of the probe batch from its forward pass.
pub fn compute<F: Scalar>(
    config: &ModelConfig,
    layout: &Layout,
    params: &Tensors<F>,
    probe: &Batch,
    cache: &ForwardCache<F>,
    step: usize,
    last_step: Option<&crate::train::StepStats>,
) -> Metrics {
    let layers = config.layers;
    let heads = config.heads;
    let head_dim = config.head_dim();
    let t = probe.seq_len;

    // Losses, split at copy positions for Bigram-Backcopy
    let has_copies = probe.copy_query.iter().any(|&c| c);
    let (mut copy, mut other) = (Vec::new(), Vec::new());
    for (i, &loss) in cache.row_loss.iter().enumerate() {
        if probe.weights[i] > 0.0 {
            if probe.copy_query[i] {
                copy.push(loss);
            } else {
                other.push(loss);
            }
        }
    }

    // F-Attn and sink heads
    let (f_attn_heads, null_layers) = attention_to_first(config, cache);
    let f_attn_layers: Vec<f64> = f_attn_heads.chunks(heads).map(|c| mean(c.iter().copied())).collect();
    let sink_heads = f_attn_heads.iter().filter(|&&f| f > SINK_THRESHOLD).count() as f64 / f_attn_heads.len() as f64;
    let has_null = matches!(config.variant.attn, AttnNorm::Softmax1 | AttnNorm::SinkLogit);

    // BOS value norm: each head's value vectors through its rows of Wo
    let mut bos_value_norm_layers = Vec::with_capacity(layers);
    for (ids, lc) in layout.layers.iter().zip(&cache.layers) {
        let wo = params.mat(layout, ids.wo);
        let mut ratios = Vec::with_capacity(heads);
        for h in 0..heads {
            let cols = h * head_dim..(h + 1) * head_dim;
            let projected = lc.v.slice(s![.., cols.clone()]).dot(&wo.slice(s![cols, ..]));
            let (mut bos, mut rest) = (Vec::new(), Vec::new());
            for (i, row) in projected.axis_iter(Axis(0)).enumerate() {
                let norm = row.iter().map(|x| x.as_f64().powi(2)).sum::<f64>().sqrt();
                if i % t == 0 {
                    bos.push(norm);
                } else {
                    rest.push(norm);
                }
            }
            // A head whose values are all zero has no norm to compare: count it as 1.
            let rest_mean = mean(rest);
            ratios.push(if rest_mean > 0.0 { mean(bos) / rest_mean } else { 1.0 });
        }
        bos_value_norm_layers.push(mean(ratios));
    }

    // M-Act: max |x| after each layer, at position 0 and elsewhere
    let (mut m_act_layers, mut m_act_bos, mut m_act_rest) = (Vec::new(), Vec::new(), Vec::new());
    for lc in &cache.layers {
        let (mut bos, mut rest) = (0.0f64, 0.0f64);
        for (i, row) in lc.x_out.axis_iter(Axis(0)).enumerate() {
            let row_max = row.iter().fold(0.0f64, |m, x| m.max(x.as_f64().abs()));
            if i % t == 0 {
                bos = bos.max(row_max);
            } else {
                rest = rest.max(row_max);
            }
        }
        m_act_layers.push(bos.max(rest));
        m_act_bos.push(bos);
        m_act_rest.push(rest);
    }

    let gate = config.variant.has_gate().then(|| gate_metrics(config, probe, cache));

    Metrics {
        step,
        val_loss: cache.loss,
        val_loss_copy: has_copies.then(|| mean(copy)),
        val_loss_other: has_copies.then(|| mean(other)),
        f_attn: mean(f_attn_layers.iter().copied()),
        f_attn_layers,
        f_attn_heads,
        f_attn_uniform: uniform_f_attn(t),
        null_mass: has_null.then(|| mean(null_layers.iter().copied())),
        null_mass_layers: has_null.then_some(null_layers),
        sink_heads,
        gate,
        bos_value_norm: mean(bos_value_norm_layers.iter().copied()),
        bos_value_norm_layers,
        m_act: mean(m_act_layers.iter().copied()),
        m_act_layers,
        m_act_bos,
        m_act_rest,
        train_loss: last_step.map(|s| s.loss),
        grad_norm: last_step.map(|s| s.grad_norm),
        lr: last_step.map(|s| s.lr),
    }
}

fn gate_metrics<F: Scalar>(config: &ModelConfig, probe: &Batch, cache: &ForwardCache<F>) -> GateMetrics {
    let heads = config.heads;
    let head_dim = config.head_dim();
    let t = probe.seq_len;
    let variant = config.variant;

    let mut histogram = vec![0u64; GATE_BINS];
    let (mut below_zero, mut above_one, mut below_0_1) = (0u64, 0u64, 0u64);
    let (mut sum, mut count) = (0.0f64, 0u64);
    let mut head_mean = Vec::with_capacity(config.layers * heads);
    let mut position_sum = vec![0.0f64; t];
    let mut position_count = vec![0u64; t];
    let (mut active, mut dormant) = (Vec::new(), Vec::new());

    for lc in &cache.layers {
        let gate = lc.gate.as_ref().expect("gated variants keep gate values");
        for (i, row) in gate.axis_iter(Axis(0)).enumerate() {
            let pos = i % t;
            let mut row_sum = 0.0;
            for &g in row {
                let g = g.as_f64();
                sum += g;
                count += 1;
                row_sum += g;
                if g < 0.1 {
                    below_0_1 += 1;
                }
                if g < 0.0 {
                    below_zero += 1;
                }
                if g > 1.0 {
                    above_one += 1;
                }
                let bin = ((g * GATE_BINS as f64).floor().max(0.0) as usize).min(GATE_BINS - 1);
                histogram[bin] += 1;
            }
            position_sum[pos] += row_sum;
            position_count[pos] += row.len() as u64;
            let row_mean = row_sum / row.len() as f64;
            if pos >= 1 {
                if probe.copy_query[i] {
                    active.push(row_mean);
                } else {
                    dormant.push(row_mean);
                }
            }
        }
        for h in 0..heads {
            let mut head_sum = 0.0;
            for row in gate.axis_iter(Axis(0)) {
                for ch in h * head_dim..(h + 1) * head_dim {
                    head_sum += row[variant.gate_index(ch, head_dim)].as_f64();
                }
            }
            head_mean.push(head_sum / (gate.nrows() * head_dim) as f64);
        }
    }
    let has_copies = probe.copy_query.iter().any(|&q| q);
    GateMetrics {
        mean: sum / count as f64,
        below_0_1: below_0_1 as f64 / count as f64,
        histogram,
        below_zero,
        above_one,
        head_mean,
        position_mean: position_sum.iter().zip(&position_count).map(|(s, &n)| s / n.max(1) as f64).collect(),
        active_mean: has_copies.then(|| mean(active)),
        dormant_mean: has_copies.then(|| mean(dormant)),
    }
}

/// Takes the heatmap data of probe sequence 0.
pub fn snapshot<F: Scalar>(config: &ModelConfig, probe: &Batch, cache: &ForwardCache<F>, step: usize) -> Snapshot {
    let t = probe.seq_len;
    let heads = config.heads;
    let head_dim = config.head_dim();
    let mut attention = Vec::with_capacity(config.layers * heads * t * t);
    for lc in &cache.layers {
        attention.extend(lc.attn.att.slice(s![0, .., .., ..]).iter().map(|a| a.as_f64() as f32));
    }
    let gate_map = config.variant.has_gate().then(|| {
        let mut map = Vec::with_capacity(config.layers * heads * t);
        for lc in &cache.layers {
            let gate = lc.gate.as_ref().expect("gated variants keep gate values");
            for h in 0..heads {
                for pos in 0..t {
                    let row = gate.row(pos);
                    let sum: f64 = (h * head_dim..(h + 1) * head_dim)
                        .map(|ch| row[config.variant.gate_index(ch, head_dim)].as_f64())
                        .sum();
                    map.push((sum / head_dim as f64) as f32);
                }
            }
        }
        map
    });
    Snapshot {
        step,
        layers: config.layers,
        heads,
        seq_len: t,
        tokens: probe.tokens[..t].to_vec(),
        attention,
        gate_map,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_reference_matches_harmonic_formula() {
        assert!((uniform_f_attn(64) - 0.0594).abs() < 5e-5, "{}", uniform_f_attn(64));
        assert_eq!(uniform_f_attn(2), 0.5);
        assert_eq!(uniform_f_attn(1), 0.0);
    }

    #[test]
    fn all_mass_on_first_key_gives_one() {
        let t = 7;
        let mut att = Array4::<f64>::zeros((3, 2, t, t));
        for b in 0..3 {
            for h in 0..2 {
                for i in 0..t {
                    att[[b, h, i, 0]] = 1.0;
                }
            }
        }
        assert_eq!(f_attn_per_head(&att, false), vec![1.0, 1.0]);
    }

    #[test]
    fn uniform_attention_gives_reference() {
        for t in [2, 5, 32, 64] {
            let mut att = Array4::<f64>::zeros((2, 1, t, t));
            for b in 0..2 {
                for i in 0..t {
                    for j in 0..=i {
                        att[[b, 0, i, j]] = 1.0 / (i + 1) as f64;
                    }
                }
            }
            let f = f_attn_per_head(&att, false)[0];
            assert!((f - uniform_f_attn(t)).abs() < 1e-12, "T = {t}: {f}");
        }
    }

    #[test]
    fn sigmoid_rows_are_normalised_first() {
        // Unnormalised rows of equal weights still give the uniform reference.
        let t = 9;
        let mut att = Array4::<f64>::zeros((1, 1, t, t));
        for i in 0..t {
            for j in 0..=i {
                att[[0, 0, i, j]] = 0.3;
            }
        }
        let f = f_attn_per_head(&att, true)[0];
        assert!((f - uniform_f_attn(t)).abs() < 1e-12);
        assert!((f_attn_per_head(&att, false)[0] - 0.3).abs() < 1e-12);
    }
}
