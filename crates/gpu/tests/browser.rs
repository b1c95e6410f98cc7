//! The GPU engine on the browser's WebGPU, checked against the CPU engine.
//!
//! Run by `cargo xtask test`, which runs `wasm-bindgen-test-runner` on this
//! file in headless Chromium. There WebGPU runs on SwiftShader, Chromium's
//! software Vulkan. Natively this file compiles to nothing, and
//! `tests/model.rs` covers every variant on Vulkan.
//!
//! One AdamW step of a tiny G1 model (B = 3, T = 7, C = 16, H = 2, D = 8,
//! L = 1, V = 11) on the same batch: the loss, gradient norm and every
//! parameter's gradient are compared with the CPU engine in f64 on the same
//! parameters, and the parameters after the step with the CPU engine's f64
//! step. Then a few steps through the browser's asynchronous queue
//! (`GpuRun::ready`) are compared in loss.
//!
//! Tolerances, relative to each tensor's largest magnitude as in
//! `tests/model.rs`: loss and gradient norm 1e-5, gradients 1e-4. After the
//! update, parameters may differ from the f64 step by 0.02 times the learning
//! rate. AdamW's first step moves each parameter by about lr * sign(gradient),
//! so a rounding difference in a near-zero gradient shows as a fraction of lr.
//! The loss after the queued steps may differ from the f64 run by 1e-4
//! relative. On SwiftShader in Chromium 156 the largest errors were 3e-8 for
//! the loss, 3e-7 for gradients, 3e-5 lr for parameters and 6e-8 for the
//! loss after 5 steps.

#![cfg(target_arch = "wasm32")]

use gatelab_gpu::{GpuContext, GpuError, GpuRun};
use gatelab_model::model;
use gatelab_model::{BigramTable, Limits, ModelConfig, PosEnc, Run, RunConfig, TaskConfig, TrainConfig, Variant};
use wasm_bindgen_test::{console_log, wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

const LOSS_TOLERANCE: f64 = 1e-5;
const GRADIENT_TOLERANCE: f64 = 1e-4;
const PARAMETER_TOLERANCE_LR: f64 = 0.02;
const TRAINED_LOSS_TOLERANCE: f64 = 1e-4;
/// Steps of the second check, more than MAX_IN_FLIGHT so that `step` finds
/// the queue full at least once.
const QUEUED_STEPS: usize = 5;

fn config() -> RunConfig {
    RunConfig {
        seed: 5,
        model: ModelConfig {
            layers: 1,
            heads: 2,
            width: 16,
            seq_len: 7,
            pos_enc: PosEnc::Learned,
            variant: Variant::named("g1").expect("g1 is a named variant"),
        },
        train: TrainConfig { batch: 3, lr: 1e-2, warmup: 5, ..Default::default() },
        task: TaskConfig::BigramBackcopy { vocab: 11, table: BigramTable::Random, triggers: 2 },
        metrics_every: 10,
        probe_batch: 5,
    }
}

async fn browser_context() -> GpuContext {
    let ctx = GpuContext::browser()
        .await
        .unwrap_or_else(|error| panic!("the browser test needs WebGPU, and the browser offers none: {error}"));
    console_log!("WebGPU adapter: {:?}", ctx.adapter);
    ctx
}

/// Largest |got - want| over the largest |want| (at least 1e-6, so an
/// all-zero reference still allows rounding-sized differences).
fn relative_error(got: &[f32], want: &[f64]) -> f64 {
    assert_eq!(got.len(), want.len(), "lengths differ");
    let scale = want.iter().fold(1e-6f64, |max, w| max.max(w.abs()));
    let diff = got.iter().zip(want).fold(0.0f64, |max, (&g, &w)| max.max((g as f64 - w).abs()));
    diff / scale
}

fn assert_close(name: &str, got: &[f32], want: &[f64], tolerance: f64) {
    assert!(got.iter().all(|g| g.is_finite()), "{name}: GPU values are not all finite");
    let error = relative_error(got, want);
    console_log!("{name}: relative error {error:.1e}");
    assert!(error <= tolerance, "{name}: relative error {error:.3e} above {tolerance:.1e}");
}

#[wasm_bindgen_test]
async fn one_step_matches_cpu() {
    let ctx = browser_context().await;
    let config = config();
    let mut gpu = GpuRun::new(&ctx, config.clone(), &Limits::PAGE).expect("valid test config");
    let mut exact = Run::<f64>::new(config.clone(), &Limits::PAGE).expect("valid test config");
    let initial = gpu.read_params().await.expect("read params");
    let cpu_initial = Run::<f32>::new(config.clone(), &Limits::PAGE).expect("valid test config").params;
    assert_eq!(initial.data, cpu_initial.data, "initial parameters differ");

    let batch = gpu.next_batch();
    let params64 = initial.cast::<f64>();
    let cache = model::forward(&config.model, &gpu.layout, &params64, &batch);
    let grads = model::backward(&config.model, &gpu.layout, &params64, &batch, &cache);

    gpu.step_on(&batch).expect("queue step");
    let want = exact.train_on(&batch).expect("CPU step in f64");
    let got = gpu.read_stats().await.expect("read stats");
    assert_eq!(got.step, 1);
    assert_eq!(got.lr, want.lr, "learning rate");
    assert_close("loss", &[got.loss as f32], &[cache.loss], LOSS_TOLERANCE);
    assert_close("gradient norm", &[got.grad_norm as f32], &[grads.norm()], LOSS_TOLERANCE);

    let gpu_grads = gpu.read_grads().await.expect("read grads");
    for spec in &gpu.layout.specs {
        assert_close(&format!("d{}", spec.name), gpu_grads.slice(spec), grads.slice(spec), GRADIENT_TOLERANCE);
    }

    let params = gpu.read_params().await.expect("read params");
    let lr = want.lr;
    let gap_lr = params
        .data
        .iter()
        .zip(&exact.params.data)
        .map(|(&got, want)| (got as f64 - want).abs() / lr)
        .fold(0.0, f64::max);
    console_log!("parameters after one step: largest gap {gap_lr:.1e} lr");
    assert!(
        gap_lr <= PARAMETER_TOLERANCE_LR,
        "parameters after one step differ from the f64 step by {gap_lr:.3e} lr, above {PARAMETER_TOLERANCE_LR} lr"
    );
}

/// In the browser `step` cannot block, so it returns `Busy` while
/// MAX_IN_FLIGHT steps are queued, and the caller awaits `ready`, as the
/// page does.
#[wasm_bindgen_test]
async fn queued_steps_match_cpu() {
    let ctx = browser_context().await;
    let config = config();
    let mut gpu = GpuRun::new(&ctx, config.clone(), &Limits::PAGE).expect("valid test config");
    let mut exact = Run::<f64>::new(config.clone(), &Limits::PAGE).expect("valid test config");

    let mut busy = 0;
    for step in 1..=QUEUED_STEPS {
        let queued = match gpu.step() {
            Err(GpuError::Busy { .. }) => {
                busy += 1;
                gpu.ready().await.expect("wait for the queue");
                gpu.step().expect("queue step after ready")
            }
            other => other.expect("queue step"),
        };
        assert_eq!(queued, step);
    }
    console_log!("`step` returned Busy {busy} times in {QUEUED_STEPS} steps");
    assert!(busy > 0, "`step` never found the queue full, so `ready` went untested");

    let mut want_loss = f64::NAN;
    for _ in 0..QUEUED_STEPS {
        want_loss = exact.train_step().expect("CPU step in f64").loss;
    }
    let got = gpu.read_stats().await.expect("read stats");
    assert_eq!(got.step, QUEUED_STEPS);
    let gap = (got.loss - want_loss).abs() / want_loss.abs();
    console_log!("loss after {QUEUED_STEPS} steps: GPU {} vs CPU f64 {want_loss}, relative gap {gap:.1e}", got.loss);
    assert!(gap <= TRAINED_LOSS_TOLERANCE, "loss after {QUEUED_STEPS} steps strays {gap:.3e} from the f64 run");
}

/// The metrics reduced by metrics.wgsl on WebGPU against the model crate's
/// metric code on the same activations (read back whole), as
/// `tests/metrics.rs` checks natively for every variant: counts, maxima and
/// copied values exactly, sums and means within 1e-5 relative.
#[wasm_bindgen_test]
async fn metrics_match_cpu_code() {
    let ctx = browser_context().await;
    let mut gpu = GpuRun::new(&ctx, config(), &Limits::PAGE).expect("valid test config");
    gpu.step().expect("queue step");
    let (got, got_snapshot) = gpu.evaluate().await.expect("evaluate on the GPU");
    let (want, want_snapshot) = gpu.evaluate_on_cpu().await.expect("evaluate on the CPU");

    assert_eq!(got.train_loss, want.train_loss, "train_loss");
    assert_eq!(got.val_loss, want.val_loss, "val_loss");
    assert_eq!(got.m_act_layers, want.m_act_layers, "m_act_layers");
    assert_eq!(got.m_act_bos, want.m_act_bos, "m_act_bos");
    assert_eq!(got.m_act_rest, want.m_act_rest, "m_act_rest");
    assert_eq!(got.sink_heads, want.sink_heads, "sink_heads");
    let to32 = |values: &[f64]| values.iter().map(|&x| x as f32).collect::<Vec<f32>>();
    assert_close("f_attn_heads", &to32(&got.f_attn_heads), &want.f_attn_heads, LOSS_TOLERANCE);
    assert_close("bos_value_norm_layers", &to32(&got.bos_value_norm_layers), &want.bos_value_norm_layers, LOSS_TOLERANCE);
    let copy = [got.val_loss_copy.expect("copy loss"), got.val_loss_other.expect("other loss")];
    let want_copy = [want.val_loss_copy.expect("copy loss"), want.val_loss_other.expect("other loss")];
    assert_close("val_loss_copy, val_loss_other", &to32(&copy), &want_copy, LOSS_TOLERANCE);

    let gate = got.gate.expect("G1 has gate metrics");
    let want_gate = want.gate.expect("G1 has gate metrics");
    assert_eq!(gate.histogram, want_gate.histogram, "gate histogram");
    assert_eq!(gate.below_0_1, want_gate.below_0_1, "gate below_0_1");
    assert_close("gate head_mean", &to32(&gate.head_mean), &want_gate.head_mean, LOSS_TOLERANCE);
    assert_close("gate position_mean", &to32(&gate.position_mean), &want_gate.position_mean, LOSS_TOLERANCE);

    assert_eq!(got_snapshot.attention, want_snapshot.attention, "snapshot attention");
    let map = got_snapshot.gate_map.expect("G1 has a gate map");
    let want_map: Vec<f64> = want_snapshot.gate_map.expect("G1 has a gate map").iter().map(|&x| x as f64).collect();
    assert_close("snapshot gate_map", &map, &want_map, LOSS_TOLERANCE);
}
