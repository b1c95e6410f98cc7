//! Metrics of the probe batch reduced on the GPU (`shaders/metrics.wgsl`).
//!
//! After the probe batch's forward pass, the metric kernels write their sums,
//! counts and maxima into one small report buffer, and buffer copies add the
//! loss statistics and the attention weights of probe sequence 0 that the
//! snapshot draws. A metrics read maps that buffer once. The host then
//! divides sums by counts computed from the sizes and the probe batch,
//! combines layers in f64, and fills [`Metrics`] and [`Snapshot`] as the
//! model crate's `metrics::compute` and `metrics::snapshot` define them.

use gatelab_model::metrics::{self, GateMetrics, Metrics, Snapshot, SINK_THRESHOLD};
use gatelab_model::tasks::Batch;
use gatelab_model::{AttnNorm, ModelConfig, StepStats};
use wgpu::Buffer;

use crate::context::GpuContext;
use crate::graph::{Activations, Model};
use crate::kernels::Pass;
use crate::ops::{self, stats, MetricsSpec, GATE_BINS};

/// Offsets of the values in the report buffer, in 4-byte words. Counts are
/// u32 and every other word is an f32.
#[derive(Clone, Debug)]
pub struct ReportLayout {
    pub layers: usize,
    pub heads: usize,
    pub seq_len: usize,
    pub gated: bool,
    pub has_null: bool,
    /// The probe pass's stats (`ops::stats`), copied.
    pub probe_stats: usize,
    /// The last training step's stats, copied.
    pub train_stats: usize,
    /// Probe loss sums at copy queries and at the other scored rows.
    pub loss: usize,
    /// (L * H) F-Attn.
    pub f_attn: usize,
    /// (L) null-slot mass sums.
    pub null_mass: usize,
    /// (L, 2) max |x| at BOS and elsewhere.
    pub m_act: usize,
    /// (L, H, 2) value-norm sums at BOS and elsewhere.
    pub value_sums: usize,
    /// (L, gate_len) gate statistics (`ops::gate_stats_len`).
    pub gate: usize,
    pub gate_len: usize,
    /// Start of the snapshot part: (L, H, T, T) attention of sequence 0.
    pub attention: usize,
    /// (L, H, T) gate map of sequence 0.
    pub gate_map: usize,
    /// Words in all.
    pub len: usize,
}

impl ReportLayout {
    pub fn new(config: &ModelConfig) -> Self {
        let (l, h, t) = (config.layers, config.heads, config.seq_len);
        let gated = config.variant.has_gate();
        let gate_len = if gated { ops::gate_stats_len(h, t) } else { 0 };
        let probe_stats = 0;
        let train_stats = probe_stats + stats::LEN;
        let loss = train_stats + stats::LEN;
        let f_attn = loss + 2;
        let null_mass = f_attn + l * h;
        let m_act = null_mass + l;
        let value_sums = m_act + 2 * l;
        let gate = value_sums + 2 * l * h;
        let attention = gate + l * gate_len;
        let gate_map = attention + l * h * t * t;
        let len = gate_map + if gated { l * h * t } else { 0 };
        ReportLayout {
            layers: l,
            heads: h,
            seq_len: t,
            gated,
            has_null: matches!(config.variant.attn, AttnNorm::Softmax1 | AttnNorm::SinkLogit),
            probe_stats,
            train_stats,
            loss,
            f_attn,
            null_mass,
            m_act,
            value_sums,
            gate,
            gate_len,
            attention,
            gate_map,
            len,
        }
    }

    /// Bytes one metrics read copies back.
    pub fn bytes(&self) -> usize {
        self.len * 4
    }
}

/// The report buffer, the inputs of the metric kernels and their dispatches.
pub struct MetricsPlan {
    pub layout: ReportLayout,
    pub report: Buffer,
    pub passes: Vec<Pass>,
}

impl MetricsPlan {
    /// Builds the metric dispatches that follow the forward pass of `acts`,
    /// the probe batch `probe`.
    pub fn new(model: &Model<'_>, acts: &Activations, probe: &Batch) -> Self {
        let ctx = model.ctx;
        let config = model.config;
        let layout = ReportLayout::new(config);
        let s = &acts.sizes;
        let report = ctx.zeros("metrics report", layout.len);
        // Bin edges, then the probe batch's copy flags; the passes' bind groups keep both buffers.
        let probe_info = ctx.upload_f32("metrics probe info", &ops::metrics_probe_info(&probe.copy_query));
        // (N, H) value norms of one layer, reused by every layer.
        let norms = ctx.zeros("value norms", s.rows * s.heads);
        let params = &model.shared.params;

        let spec_of = |wo_id: usize| {
            MetricsSpec::new(&config.variant, s.batch, s.seq_len, s.width, s.heads, model.layout.specs[wo_id].offset)
        };
        let any = spec_of(model.layout.layers[0].wo);
        let mut passes = vec![ops::metrics_loss_split(ctx, &any, &acts.row_loss, &acts.weights, &probe_info, &report, layout.loss)];
        for (index, (ids, l)) in model.layout.layers.iter().zip(&acts.layers).enumerate() {
            let spec = spec_of(ids.wo);
            passes.push(ops::metrics_f_attn(ctx, &spec, &l.att, &report, layout.f_attn + index * s.heads));
            if layout.has_null {
                passes.push(ops::metrics_null_mass(ctx, &spec, &l.att, &report, layout.null_mass + index));
            }
            passes.push(ops::metrics_m_act(ctx, &spec, &l.x_out, &report, layout.m_act + 2 * index));
            passes.push(ops::metrics_value_norms(ctx, &spec, &l.v, params, &norms));
            passes.push(ops::metrics_value_sums(ctx, &spec, &norms, &report, layout.value_sums + 2 * index * s.heads));
            if let Some(gate) = &l.gate {
                let at = layout.gate + index * layout.gate_len;
                passes.push(ops::metrics_gate_stats(ctx, &spec, gate, &probe_info, &report, at));
                let map_at = layout.gate_map + index * s.heads * s.seq_len;
                passes.push(ops::metrics_gate_map(ctx, &spec, gate, &report, map_at));
            }
        }
        MetricsPlan { layout, report, passes }
    }

    /// Copies the loss statistics of the probe pass and of the last training
    /// step and the attention weights of probe sequence 0 into the report.
    /// Submit after the metric passes.
    pub fn submit_copies(&self, ctx: &GpuContext, probe: &Activations, train: &Activations) -> wgpu::SubmissionIndex {
        let word = 4u64;
        let lay = &self.layout;
        let mut encoder = ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("metrics report") });
        let stats_bytes = stats::LEN as u64 * word;
        encoder.copy_buffer_to_buffer(&probe.stats, 0, &self.report, lay.probe_stats as u64 * word, stats_bytes);
        encoder.copy_buffer_to_buffer(&train.stats, 0, &self.report, lay.train_stats as u64 * word, stats_bytes);
        // Sequence 0 is the first H * T * T weights of each layer's (B, H, T, T) buffer.
        let map = (lay.heads * lay.seq_len * lay.seq_len) as u64;
        for (index, l) in probe.layers.iter().enumerate() {
            let at = (lay.attention as u64 + index as u64 * map) * word;
            encoder.copy_buffer_to_buffer(&l.att, 0, &self.report, at, map * word);
        }
        ctx.queue.submit([encoder.finish()])
    }
}

/// Mean of `count` values summing to `sum`; NaN for none, as the CPU's mean.
fn mean_of(sum: f64, count: usize) -> f64 {
    if count == 0 {
        f64::NAN
    } else {
        sum / count as f64
    }
}

fn mean(values: &[f64]) -> f64 {
    mean_of(values.iter().sum(), values.len())
}

/// The report's words, read as f32 or u32.
struct Words<'a>(&'a [u32]);

impl Words<'_> {
    fn f(&self, index: usize) -> f64 {
        f32::from_bits(self.0[index]) as f64
    }

    fn u(&self, index: usize) -> u64 {
        self.0[index] as u64
    }

    fn fs(&self, start: usize, len: usize) -> Vec<f64> {
        (start..start + len).map(|i| self.f(i)).collect()
    }
}

/// Loss statistics of the last training step in the report, as
/// `GpuRun::read_stats` gives them.
pub fn train_stats(layout: &ReportLayout, words: &[u32], step: usize, lr: f64) -> StepStats {
    let w = Words(words);
    StepStats {
        step,
        loss: w.f(layout.train_stats + stats::LOSS),
        grad_norm: w.f(layout.train_stats + stats::GRAD_NORM),
        lr,
    }
}

/// Builds the metrics from the report's words, as `metrics::compute` does
/// from the whole forward cache.
pub fn build_metrics(
    config: &ModelConfig,
    layout: &ReportLayout,
    probe: &Batch,
    words: &[u32],
    step: usize,
    last_step: Option<&StepStats>,
) -> Metrics {
    let w = Words(words);
    let (l, h, t, b) = (layout.layers, layout.heads, layout.seq_len, probe.batch);
    let head_dim = config.head_dim();
    let gate_width = config.variant.gate_width(config.width, h);
    let rows = b * t;

    let has_copies = probe.copy_query.iter().any(|&c| c);
    let scored = |copy: bool| (0..rows).filter(|&r| probe.weights[r] > 0.0 && probe.copy_query[r] == copy).count();

    let f_attn_heads = w.fs(layout.f_attn, l * h);
    let f_attn_layers: Vec<f64> = f_attn_heads.chunks(h).map(mean).collect();
    let sink_heads = f_attn_heads.iter().filter(|&&f| f > SINK_THRESHOLD).count() as f64 / f_attn_heads.len() as f64;

    // null masses over (B, H, queries i >= 1)
    let null_layers: Vec<f64> = (0..l).map(|i| mean_of(w.f(layout.null_mass + i), b * h * (t - 1))).collect();

    // BOS value norm: mean norm at the B BOS rows over the mean at the B (T - 1) others
    let bos_value_norm_layers: Vec<f64> = (0..l)
        .map(|i| {
            let ratios: Vec<f64> = (0..h)
                .map(|head| {
                    let at = layout.value_sums + 2 * (i * h + head);
                    let rest_mean = mean_of(w.f(at + 1), b * (t - 1));
                    if rest_mean > 0.0 {
                        mean_of(w.f(at), b) / rest_mean
                    } else {
                        1.0
                    }
                })
                .collect();
            mean(&ratios)
        })
        .collect();

    let m_act_bos: Vec<f64> = (0..l).map(|i| w.f(layout.m_act + 2 * i)).collect();
    let m_act_rest: Vec<f64> = (0..l).map(|i| w.f(layout.m_act + 2 * i + 1)).collect();
    let m_act_layers: Vec<f64> = m_act_bos.iter().zip(&m_act_rest).map(|(a, r)| a.max(*r)).collect();

    let gate = layout.gated.then(|| {
        let mut histogram = vec![0u64; GATE_BINS];
        let (mut below_0_1, mut below_zero, mut above_one, mut sum) = (0u64, 0u64, 0u64, 0.0f64);
        let mut head_mean = Vec::with_capacity(l * h);
        let mut position_sum = vec![0.0f64; t];
        let (mut active_sum, mut dormant_sum) = (0.0f64, 0.0f64);
        for i in 0..l {
            let at = layout.gate + i * layout.gate_len;
            for (bin, count) in histogram.iter_mut().enumerate() {
                *count += w.u(at + bin);
            }
            below_0_1 += w.u(at + GATE_BINS);
            below_zero += w.u(at + GATE_BINS + 1);
            above_one += w.u(at + GATE_BINS + 2);
            sum += w.f(at + GATE_BINS + 3);
            let heads_at = at + GATE_BINS + 4;
            head_mean.extend((0..h).map(|head| w.f(heads_at + head) / (rows * head_dim) as f64));
            for (p, total) in position_sum.iter_mut().enumerate() {
                *total += w.f(heads_at + h + p);
            }
            active_sum += w.f(heads_at + h + t);
            dormant_sum += w.f(heads_at + h + t + 1);
        }
        let count = (l * rows * gate_width) as f64;
        let queries = |copy: bool| (0..rows).filter(|&r| r % t >= 1 && probe.copy_query[r] == copy).count() * l;
        GateMetrics {
            mean: sum / count,
            below_0_1: below_0_1 as f64 / count,
            histogram,
            below_zero,
            above_one,
            head_mean,
            position_mean: position_sum.iter().map(|s| s / (l * b * gate_width).max(1) as f64).collect(),
            active_mean: has_copies.then(|| mean_of(active_sum, queries(true))),
            dormant_mean: has_copies.then(|| mean_of(dormant_sum, queries(false))),
        }
    });

    Metrics {
        step,
        train_loss: last_step.map(|s| s.loss),
        val_loss: w.f(layout.probe_stats + stats::LOSS),
        val_loss_copy: has_copies.then(|| mean_of(w.f(layout.loss), scored(true))),
        val_loss_other: has_copies.then(|| mean_of(w.f(layout.loss + 1), scored(false))),
        f_attn: mean(&f_attn_layers),
        f_attn_layers,
        f_attn_heads,
        f_attn_uniform: metrics::uniform_f_attn(t),
        null_mass: layout.has_null.then(|| mean(&null_layers)),
        null_mass_layers: layout.has_null.then_some(null_layers),
        sink_heads,
        gate,
        bos_value_norm: mean(&bos_value_norm_layers),
        bos_value_norm_layers,
        m_act: mean(&m_act_layers),
        m_act_layers,
        m_act_bos,
        m_act_rest,
        grad_norm: last_step.map(|s| s.grad_norm),
        lr: last_step.map(|s| s.lr),
    }
}

/// Builds the heatmap data of probe sequence 0 from the report's words, as
/// `metrics::snapshot` does from the whole forward cache.
pub fn build_snapshot(layout: &ReportLayout, probe: &Batch, words: &[u32], step: usize) -> Snapshot {
    let (l, h, t) = (layout.layers, layout.heads, layout.seq_len);
    let floats = |start: usize, len: usize| words[start..start + len].iter().map(|&x| f32::from_bits(x)).collect::<Vec<f32>>();
    Snapshot {
        step,
        layers: l,
        heads: h,
        seq_len: t,
        tokens: probe.tokens[..t].to_vec(),
        attention: floats(layout.attention, l * h * t * t),
        gate_map: layout.gated.then(|| floats(layout.gate_map, l * h * t)),
    }
}
