//! The metrics reduced on the GPU (`GpuRun::evaluate`, shaders/metrics.wgsl)
//! against the model crate's `metrics::compute` and `metrics::snapshot`, for
//! each of the 13 named variants, field by field.
//!
//! Two references:
//! - `GpuRun::evaluate_on_cpu`: the CPU metric code on the GPU's own
//!   activations, read back. Only the reductions differ, so counts
//!   (histogram, below 0 / above 1 / below 0.1), maxima (M-Act), the
//!   copied values (losses, step statistics, snapshot attention) and the
//!   sink-head share must match exactly; sums and means REDUCTION (1e-5)
//!   relative to the field's largest magnitude, which covers f32 summation
//!   of up to N * G = 3,696 values against the CPU's f64 (largest error on
//!   lavapipe 4.5e-7).
//! - `metrics::compute` on the CPU engine's f64 forward pass of the same
//!   parameters: every value field within FORWARD (1e-4) relative, since
//!   the GPU's activations themselves differ by about 1e-6 (see model.rs;
//!   largest error on lavapipe 2.2e-6).
//!   Gate counts may differ only by the gate values within EDGE_BAND
//!   (1e-5) of a bin edge, 0, 0.1 or 1 in the f64 pass, because f32
//!   rounding can move such a value across.
//!
//! Sizes: as model.rs (T = 7, C = 48, H = 4, L = 2, V = 11) with 11 probe
//! sequences, so 77 probe rows: more than one workgroup of 64 lanes, and no
//! dimension a multiple of 64. The edge case is T = 4 (the smallest sequence
//! Bigram-Backcopy accepts; the validator rejects T = 1) with one probe
//! sequence and one layer of two heads. Parameters are the
//! initial ones after one training step (so the step statistics are filled
//! in) and spread ones with gates near 0 and 1 and peaked attention.

mod common;

use common::*;
use gatelab_gpu::GpuRun;
use gatelab_model::metrics::{self, Metrics, Snapshot, GATE_BINS};
use gatelab_model::model;
use gatelab_model::params::{ParamKind, Tensors};
use gatelab_model::{BigramTable, Limits, ModelConfig, PosEnc, RunConfig, TaskConfig, TrainConfig, Variant};
use rand::Rng;

const REDUCTION: f64 = 1e-5;
const FORWARD: f64 = 1e-4;
const EDGE_BAND: f64 = 1e-5;

thread_local! {
    /// Largest relative error `close` has seen since `compare` began, printed
    /// with --nocapture; the tolerances were chosen from these values.
    static WORST: std::cell::Cell<f64> = const { std::cell::Cell::new(0.0) };
}

fn config(variant: &str, pos_enc: PosEnc, small: bool) -> RunConfig {
    let (layers, heads, seq_len, probe_batch) = if small { (1, 2, 4, 1) } else { (2, 4, 7, 11) };
    RunConfig {
        seed: 9,
        model: ModelConfig {
            layers,
            heads,
            width: 48,
            seq_len,
            pos_enc,
            variant: Variant::named(variant).expect("a named variant"),
        },
        train: TrainConfig { batch: 3, lr: 1e-2, warmup: 5, ..Default::default() },
        task: TaskConfig::BigramBackcopy { vocab: 11, table: BigramTable::Random, triggers: 2 },
        metrics_every: 10,
        probe_batch,
    }
}

/// Matrices uniform in [-0.6, 0.6], gains in [0.5, 1.5], sink logits in
/// [-2, 2]: gate pre-activations reach several units, so sigmoid gates come
/// near 0 and 1 and SiLU gates go below 0 and above 1.
fn spread_params(run: &GpuRun) -> Tensors<f32> {
    let mut rng = gatelab_model::rng::stream(13, "spread metrics");
    let mut params = Tensors::<f32>::zeros(&run.layout);
    for spec in &run.layout.specs {
        for x in params.slice_mut(spec) {
            *x = match spec.kind {
                ParamKind::Matrix => rng.random_range(-0.6..0.6),
                ParamKind::Gain => rng.random_range(0.5..1.5),
                ParamKind::SinkLogit => rng.random_range(-2.0..2.0),
            };
        }
    }
    params
}

/// `got` within `tolerance` of `want` relative to the largest |want| (at
/// least FLOOR); NaN matches NaN only.
fn close(label: &str, got: &[f64], want: &[f64], tolerance: f64) {
    assert_eq!(got.len(), want.len(), "{label}: lengths differ");
    let scale = want.iter().filter(|w| w.is_finite()).fold(FLOOR, |m, w| m.max(w.abs()));
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        if w.is_nan() || g.is_nan() {
            assert!(w.is_nan() && g.is_nan(), "{label}[{i}]: GPU {g} vs CPU {w}");
            continue;
        }
        let error = (g - w).abs() / scale;
        WORST.with(|worst| worst.set(worst.get().max(error)));
        assert!(error <= tolerance, "{label}[{i}]: GPU {g} vs CPU {w}, relative error {error:.2e} above {tolerance:.0e}");
    }
}

fn close_opt(label: &str, got: Option<f64>, want: Option<f64>, tolerance: f64) {
    assert_eq!(got.is_some(), want.is_some(), "{label}: present on one side only");
    if let (Some(g), Some(w)) = (got, want) {
        close(label, &[g], &[w], tolerance);
    }
}

/// Counts that may differ by `slack` in all.
fn counts_within(label: &str, got: &[u64], want: &[u64], slack: u64) {
    let distance: u64 = got.iter().zip(want).map(|(g, w)| g.abs_diff(*w)).sum();
    assert!(distance <= slack, "{label}: GPU {got:?} vs CPU {want:?}, {distance} apart, allowed {slack}");
}

/// Compares every field of `got` with `want`. `slack` is how far the gate
/// counts may be apart, `exact` whether counts, maxima and copied values must
/// match bit for bit.
fn compare(label: &str, got: &Metrics, want: &Metrics, tolerance: f64, slack: u64, exact: bool) {
    WORST.with(|worst| worst.set(0.0));
    compare_fields(label, got, want, tolerance, slack, exact);
    eprintln!("{label}: largest relative error {:.1e}", WORST.with(|worst| worst.get()));
}

fn compare_fields(label: &str, got: &Metrics, want: &Metrics, tolerance: f64, slack: u64, exact: bool) {
    assert_eq!(got.step, want.step, "{label}: step");
    assert_eq!(got.train_loss, want.train_loss, "{label}: train_loss");
    assert_eq!(got.grad_norm, want.grad_norm, "{label}: grad_norm");
    assert_eq!(got.lr, want.lr, "{label}: lr");
    let maxima = if exact { 0.0 } else { tolerance };
    close(&format!("{label} val_loss"), &[got.val_loss], &[want.val_loss], maxima);
    close_opt(&format!("{label} val_loss_copy"), got.val_loss_copy, want.val_loss_copy, tolerance);
    close_opt(&format!("{label} val_loss_other"), got.val_loss_other, want.val_loss_other, tolerance);
    close(&format!("{label} f_attn"), &[got.f_attn], &[want.f_attn], tolerance);
    close(&format!("{label} f_attn_layers"), &got.f_attn_layers, &want.f_attn_layers, tolerance);
    close(&format!("{label} f_attn_heads"), &got.f_attn_heads, &want.f_attn_heads, tolerance);
    assert_eq!(got.f_attn_uniform, want.f_attn_uniform, "{label}: f_attn_uniform");
    close_opt(&format!("{label} null_mass"), got.null_mass, want.null_mass, tolerance);
    assert_eq!(got.null_mass_layers.is_some(), want.null_mass_layers.is_some(), "{label}: null_mass_layers");
    if let (Some(g), Some(w)) = (&got.null_mass_layers, &want.null_mass_layers) {
        close(&format!("{label} null_mass_layers"), g, w, tolerance);
    }
    // No F-Attn of these runs lies within the tolerance of the threshold 0.3.
    assert_eq!(got.sink_heads, want.sink_heads, "{label}: sink_heads");
    close(&format!("{label} bos_value_norm"), &[got.bos_value_norm], &[want.bos_value_norm], tolerance);
    close(&format!("{label} bos_value_norm_layers"), &got.bos_value_norm_layers, &want.bos_value_norm_layers, tolerance);
    close(&format!("{label} m_act"), &[got.m_act], &[want.m_act], maxima);
    close(&format!("{label} m_act_layers"), &got.m_act_layers, &want.m_act_layers, maxima);
    close(&format!("{label} m_act_bos"), &got.m_act_bos, &want.m_act_bos, maxima);
    close(&format!("{label} m_act_rest"), &got.m_act_rest, &want.m_act_rest, maxima);

    assert_eq!(got.gate.is_some(), want.gate.is_some(), "{label}: gate metrics present on one side only");
    let (Some(g), Some(w)) = (&got.gate, &want.gate) else { return };
    close(&format!("{label} gate mean"), &[g.mean], &[w.mean], tolerance);
    assert_eq!(g.histogram.len(), GATE_BINS, "{label}: histogram bins");
    counts_within(&format!("{label} gate histogram"), &g.histogram, &w.histogram, slack);
    counts_within(&format!("{label} gate below_zero"), &[g.below_zero], &[w.below_zero], slack);
    counts_within(&format!("{label} gate above_one"), &[g.above_one], &[w.above_one], slack);
    let total: u64 = w.histogram.iter().sum();
    let below = |m: f64| (m * total as f64).round() as u64;
    counts_within(&format!("{label} gate below_0_1"), &[below(g.below_0_1)], &[below(w.below_0_1)], slack);
    if exact {
        assert_eq!(g.below_0_1, w.below_0_1, "{label}: gate below_0_1");
    }
    close(&format!("{label} gate head_mean"), &g.head_mean, &w.head_mean, tolerance);
    close(&format!("{label} gate position_mean"), &g.position_mean, &w.position_mean, tolerance);
    close_opt(&format!("{label} gate active_mean"), g.active_mean, w.active_mean, tolerance);
    close_opt(&format!("{label} gate dormant_mean"), g.dormant_mean, w.dormant_mean, tolerance);
}

fn compare_snapshots(label: &str, got: &Snapshot, want: &Snapshot, tolerance: f64, exact: bool) {
    assert_eq!((got.step, got.layers, got.heads, got.seq_len), (want.step, want.layers, want.heads, want.seq_len), "{label}: sizes");
    assert_eq!(got.tokens, want.tokens, "{label}: tokens");
    let to64 = |v: &[f32]| v.iter().map(|&x| x as f64).collect::<Vec<_>>();
    if exact {
        assert_eq!(got.attention, want.attention, "{label}: snapshot attention");
    } else {
        close(&format!("{label} snapshot attention"), &to64(&got.attention), &to64(&want.attention), tolerance);
    }
    assert_eq!(got.gate_map.is_some(), want.gate_map.is_some(), "{label}: gate map present on one side only");
    if let (Some(g), Some(w)) = (&got.gate_map, &want.gate_map) {
        close(&format!("{label} snapshot gate_map"), &to64(g), &to64(w), tolerance);
    }
}

/// Gate values of the f64 pass within EDGE_BAND of a bin edge, 0, 0.1 or 1,
/// each counted once per threshold it is near (a value that crosses an edge
/// moves one count out of one bin and into another).
fn values_near_edges(cache: &model::ForwardCache<f64>) -> u64 {
    let mut thresholds: Vec<f64> = (0..=GATE_BINS).map(|k| k as f64 / GATE_BINS as f64).collect();
    thresholds.push(0.1);
    let mut near = 0;
    for gate in cache.layers.iter().filter_map(|l| l.gate.as_ref()) {
        for &g in gate {
            near += thresholds.iter().filter(|&&t| (g - t).abs() < EDGE_BAND).count() as u64;
        }
    }
    2 * near
}

fn check_metrics(variant: &str, pos_enc: PosEnc, small: bool, spread: bool) {
    let label = format!("{variant} {pos_enc:?} small={small} spread={spread}");
    let mut run = GpuRun::new(ctx(), config(variant, pos_enc, small), &Limits::CLI).expect("valid test config");
    if spread {
        let params = spread_params(&run);
        run.write_params(&params);
    } else {
        run.step().expect("queue step");
    }
    let (got, got_snapshot) = pollster::block_on(run.evaluate()).expect("evaluate on the GPU");

    // The CPU metric code on the GPU's activations: only the reductions differ.
    let (want, want_snapshot) = pollster::block_on(run.evaluate_on_cpu()).expect("evaluate on the CPU");
    compare(&format!("{label} vs GPU activations"), &got, &want, REDUCTION, 0, true);
    compare_snapshots(&format!("{label} vs GPU activations"), &got_snapshot, &want_snapshot, REDUCTION, true);

    // The CPU engine's f64 forward pass on the same parameters.
    let params = pollster::block_on(run.read_params()).expect("read params").cast::<f64>();
    let model_config = &run.config.model;
    let cache = model::forward(model_config, &run.layout, &params, &run.probe);
    let last = (run.step > 0).then(|| pollster::block_on(run.read_stats()).expect("read stats"));
    let exact = metrics::compute(model_config, &run.layout, &params, &run.probe, &cache, run.step, last.as_ref());
    let exact_snapshot = metrics::snapshot(model_config, &run.probe, &cache, run.step);
    compare(&format!("{label} vs f64 forward"), &got, &exact, FORWARD, values_near_edges(&cache), false);
    compare_snapshots(&format!("{label} vs f64 forward"), &got_snapshot, &exact_snapshot, FORWARD, false);

    if let Some(gate) = &got.gate {
        eprintln!(
            "{label}: gate histogram {:?}, below 0 {}, above 1 {}, below 0.1 {:.3}",
            gate.histogram, gate.below_zero, gate.above_one, gate.below_0_1
        );
    }
}

macro_rules! variant_tests {
    ($($test:ident => $name:literal),* $(,)?) => {
        $(
            #[test]
            fn $test() {
                check_metrics($name, PosEnc::Learned, false, false);
                check_metrics($name, PosEnc::Learned, false, true);
                check_metrics($name, PosEnc::Rope, false, true);
                check_metrics($name, PosEnc::Learned, true, true);
            }
        )*
        #[test]
        fn every_named_variant_is_tested() {
            let tested = [$($name),*];
            assert_eq!(tested, gatelab_model::NAMED_VARIANTS);
        }
    };
}

variant_tests! {
    baseline_metrics => "baseline",
    g1_metrics => "g1",
    g1_headwise_metrics => "g1-headwise",
    g1_shared_metrics => "g1-shared",
    g1_additive_metrics => "g1-additive",
    g1_silu_metrics => "g1-silu",
    g2_metrics => "g2",
    g3_metrics => "g3",
    g4_metrics => "g4",
    g5_metrics => "g5",
    softmax1_metrics => "softmax1",
    sink_logit_metrics => "sink-logit",
    sigmoid_attn_metrics => "sigmoid-attn",
}

/// Spread parameters put sigmoid gates near 0 and 1 and SiLU gates outside
/// [0, 1], so the end bins and the out-of-range counts are exercised.
#[test]
fn spread_gates_reach_both_ends() {
    for variant in ["g1", "g1-silu"] {
        let run = GpuRun::new(ctx(), config(variant, PosEnc::Learned, false), &Limits::CLI).expect("valid test config");
        run.write_params(&spread_params(&run));
        let (m, _) = pollster::block_on(run.evaluate()).expect("evaluate");
        let gate = m.gate.expect("gated variant");
        assert!(gate.histogram[0] > 0 && gate.histogram[GATE_BINS - 1] > 0, "{variant}: {:?}", gate.histogram);
        if variant == "g1-silu" {
            assert!(gate.below_zero > 0 && gate.above_one > 0, "{variant}: {} below 0, {} above 1", gate.below_zero, gate.above_one);
        }
    }
}

/// The bin edges sit exactly where the CPU's floor(g * 20) changes.
#[test]
fn gate_bin_edges_match_cpu_rule() {
    let edges = gatelab_gpu::ops::gate_bin_edges();
    assert_eq!(edges.len(), GATE_BINS);
    for (k, &edge) in edges.iter().enumerate().skip(1) {
        let below = f32::from_bits(edge.to_bits() - 1);
        assert_eq!((edge as f64 * 20.0).floor() as usize, k, "edge {k} = {edge}");
        assert_eq!((below as f64 * 20.0).floor() as usize, k - 1, "below edge {k} = {below}");
    }
    assert!(edges[2] as f64 >= 0.1 && (f32::from_bits(edges[2].to_bits() - 1) as f64) < 0.1, "edge 2 is the 0.1 threshold");
}

/// A metrics read copies back the report only, not the activations.
#[test]
fn metrics_read_is_small() {
    // A device of its own, so that tests running alongside do not add to the count.
    let own = gatelab_gpu::GpuContext::native().expect("a Vulkan device");
    for variant in ["baseline", "g1"] {
        let config = RunConfig::lesson().with_variant(Variant::named(variant).expect("a named variant"));
        let run = GpuRun::new(&own, config, &Limits::PAGE).expect("the lesson config is valid");
        let before = own.bytes_read();
        pollster::block_on(run.evaluate()).expect("evaluate");
        let fast = own.bytes_read() - before;
        pollster::block_on(run.evaluate_on_cpu()).expect("evaluate on the CPU");
        let slow = own.bytes_read() - before - fast;
        eprintln!("lesson {variant}: a metrics read copies back {fast} bytes; the whole cache and parameters are {slow} bytes");
        assert_eq!(fast, run.metrics_read_bytes() as u64);
        assert!(fast * 100 < slow, "{variant}: {fast} bytes is not much less than {slow}");
    }
}
