//! Finite-difference checks of every backward pass, in f64.
//!
//! Each check compares the analytic gradient of L = sum(w * out), with fixed
//! random weights w, to central differences (L(x + h) - L(x - h)) / 2h with
//! h = 1e-5. In f64 the truncation error is about h^2 * |L'''| ~ 1e-10 and the
//! rounding error about 1e-16 / h ~ 1e-11, so a tolerance of 1e-6 relative to
//! max(1, |gradient|) leaves a wide margin while any wrong term in a backward
//! pass (usually off by O(1)) still fails by orders of magnitude.

use gatelab_model::config::{AttnNorm, GateAct, ModelConfig, PosEnc, RunConfig, TaskConfig, TrainConfig, Variant};
use gatelab_model::ops;
use gatelab_model::params::{Layout, Tensors};
use gatelab_model::tasks::Task;
use gatelab_model::{model, Limits, NAMED_VARIANTS};
use ndarray::{Array1, Array2};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const H: f64 = 1e-5;
const TOL: f64 = 1e-6;

fn random_matrix(rng: &mut ChaCha8Rng, rows: usize, cols: usize, scale: f64) -> Array2<f64> {
    Array2::from_shape_fn((rows, cols), |_| rng.random_range(-1.0..1.0) * scale)
}

fn assert_close(name: &str, analytic: f64, numeric: f64) {
    let err = (analytic - numeric).abs() / analytic.abs().max(numeric.abs()).max(1.0);
    assert!(err < TOL, "{name}: analytic {analytic:e}, numeric {numeric:e}, error {err:e} > {TOL:e}");
}

/// Checks d(sum(w * f(x)))/dx for every element of `x` against `analytic`.
fn check_input(name: &str, x: &Array2<f64>, analytic: &Array2<f64>, f: impl Fn(&Array2<f64>) -> f64) {
    for idx in 0..x.len() {
        let mut xp = x.clone();
        let mut xm = x.clone();
        xp.as_slice_mut().unwrap()[idx] += H;
        xm.as_slice_mut().unwrap()[idx] -= H;
        let numeric = (f(&xp) - f(&xm)) / (2.0 * H);
        assert_close(&format!("{name}[{idx}]"), analytic.as_slice().unwrap()[idx], numeric);
    }
}

fn weighted_sum(w: &Array2<f64>, out: &Array2<f64>) -> f64 {
    (w * out).sum()
}

#[test]
fn rmsnorm_backward_matches_finite_differences() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let x = random_matrix(&mut rng, 5, 24, 2.0);
    let gain = Array1::from_shape_fn(24, |_| rng.random_range(0.5..1.5));
    let w = random_matrix(&mut rng, 5, 24, 1.0);
    let (_, rstd) = ops::rmsnorm_forward(x.view(), gain.view());
    let (dx, dgain) = ops::rmsnorm_backward(w.view(), x.view(), gain.view(), rstd.view());
    check_input("rmsnorm dx", &x, &dx, |x| weighted_sum(&w, &ops::rmsnorm_forward(x.view(), gain.view()).0));
    let gain2 = gain.clone().insert_axis(ndarray::Axis(0));
    let dgain2 = dgain.insert_axis(ndarray::Axis(0));
    check_input("rmsnorm dgain", &gain2, &dgain2, |g| {
        weighted_sum(&w, &ops::rmsnorm_forward(x.view(), g.row(0)).0)
    });
}

#[test]
fn gelu_backward_matches_finite_differences() {
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let x = random_matrix(&mut rng, 3, 17, 4.0);
    let w = random_matrix(&mut rng, 3, 17, 1.0);
    let (_, tanh) = ops::gelu_forward(x.view());
    let dx = ops::gelu_backward(w.view(), x.view(), tanh.view());
    check_input("gelu", &x, &dx, |x| weighted_sum(&w, &ops::gelu_forward(x.view()).0));
    // The exp-based tanh matches libm's to f64 rounding.
    for v in [-30.0, -3.0, -0.5, -1e-3, 0.0, 1e-3, 0.7, 4.0, 50.0] {
        let (out, _) = ops::gelu_forward(ndarray::arr2(&[[v]]).view());
        let u: f64 = 0.797_884_560_802_865_4 * (v + 0.044_715 * v * v * v);
        let reference = 0.5 * v * (1.0 + u.tanh());
        assert!((out[[0, 0]] - reference).abs() < 1e-15 * v.abs().max(1.0), "gelu({v})");
    }
}

#[test]
fn gate_activations_match_finite_differences() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    // Spread over [-12, 12] so sigmoid and SiLU are checked near 0 and 1 too.
    let z = random_matrix(&mut rng, 4, 9, 12.0);
    let w = random_matrix(&mut rng, 4, 9, 1.0);
    for act in [GateAct::Sigmoid, GateAct::Silu] {
        let gate = ops::gate_act_forward(z.view(), act);
        let dz = ops::gate_act_backward(w.view(), z.view(), gate.view(), act);
        check_input(&format!("{act:?}"), &z, &dz, |z| weighted_sum(&w, &ops::gate_act_forward(z.view(), act)));
    }
}

#[test]
fn gate_application_matches_finite_differences() {
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let (n, c, heads) = (5, 24, 3);
    let head_dim = c / heads;
    for name in ["g1", "g1-headwise", "g1-shared", "g1-shared+headwise", "g1-additive", "g1-additive+headwise"] {
        let variant = Variant::parse(name).unwrap();
        let g_width = variant.gate_width(c, heads);
        let t = random_matrix(&mut rng, n, c, 1.0);
        let gate = random_matrix(&mut rng, n, g_width, 1.0);
        let w = random_matrix(&mut rng, n, c, 1.0);
        let (dt, dgate) = ops::apply_gate_backward(w.view(), t.view(), gate.view(), &variant, head_dim);
        check_input(&format!("{name} dt"), &t, &dt, |t| {
            weighted_sum(&w, &ops::apply_gate_forward(t.view(), gate.view(), &variant, head_dim))
        });
        check_input(&format!("{name} dgate"), &gate, &dgate, |g| {
            weighted_sum(&w, &ops::apply_gate_forward(t.view(), g.view(), &variant, head_dim))
        });
    }
}

#[test]
fn rope_backward_is_inverse_rotation() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let (b, t, heads, c) = (2, 7, 3, 24);
    let x = random_matrix(&mut rng, b * t, c, 1.0);
    let w = random_matrix(&mut rng, b * t, c, 1.0);
    let (cos, sin) = ops::rope_tables::<f64>(t, c / heads);
    let rotate = |x: &Array2<f64>| {
        let mut y = x.clone();
        ops::rope_rotate(y.view_mut(), &cos, &sin, t, heads, false);
        y
    };
    let mut dx = w.clone();
    ops::rope_rotate(dx.view_mut(), &cos, &sin, t, heads, true);
    check_input("rope", &x, &dx, |x| weighted_sum(&w, &rotate(x)));
    // The rotation keeps norms and leaves position 0 unchanged.
    let y = rotate(&x);
    assert!(((&y * &y).sum() - (&x * &x).sum()).abs() < 1e-9);
    assert_eq!(y.row(0), x.row(0));
}

#[test]
fn attention_backward_matches_finite_differences() {
    let (b, t, heads, c) = (2, 6, 3, 12);
    for norm in [AttnNorm::Softmax, AttnNorm::Softmax1, AttnNorm::SinkLogit, AttnNorm::Sigmoid] {
        let mut rng = ChaCha8Rng::seed_from_u64(6);
        let q = random_matrix(&mut rng, b * t, c, 1.5);
        let k = random_matrix(&mut rng, b * t, c, 1.5);
        let v = random_matrix(&mut rng, b * t, c, 1.0);
        let sink = random_matrix(&mut rng, 1, heads, 1.0);
        let w = random_matrix(&mut rng, b * t, c, 1.0);
        let run = |q: &Array2<f64>, k: &Array2<f64>, v: &Array2<f64>, sink: &Array2<f64>| {
            ops::attention_forward(q.view(), k.view(), v.view(), Some(sink.row(0)), norm, b, t, heads)
        };
        let fwd = run(&q, &k, &v, &sink);
        let g = ops::attention_backward(w.view(), q.view(), k.view(), v.view(), &fwd, norm, b, t, heads);
        let loss = |q: &Array2<f64>, k: &Array2<f64>, v: &Array2<f64>, s: &Array2<f64>| weighted_sum(&w, &run(q, k, v, s).y);
        check_input(&format!("{norm:?} dq"), &q, &g.dq, |x| loss(x, &k, &v, &sink));
        check_input(&format!("{norm:?} dk"), &k, &g.dk, |x| loss(&q, x, &v, &sink));
        check_input(&format!("{norm:?} dv"), &v, &g.dv, |x| loss(&q, &k, x, &sink));
        if norm == AttnNorm::SinkLogit {
            let dsink = g.dsink.clone().expect("sink-logit returns its gradient").insert_axis(ndarray::Axis(0));
            check_input("sink logit", &sink, &dsink, |s| loss(&q, &k, &v, s));
        } else {
            assert!(g.dsink.is_none());
        }
    }
}

#[test]
fn attention_rows_are_causal_and_normalised() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let (b, t, heads, c) = (1, 5, 1, 8);
    // Large logits: exp would overflow without the row maximum.
    let q = random_matrix(&mut rng, t, c, 60.0);
    let k = random_matrix(&mut rng, t, c, 60.0);
    let v = random_matrix(&mut rng, t, c, 1.0);
    for norm in [AttnNorm::Softmax, AttnNorm::Softmax1, AttnNorm::SinkLogit] {
        let out = ops::attention_forward(q.view(), k.view(), v.view(), Some(Array1::zeros(1).view()), norm, b, t, heads);
        for i in 0..t {
            let row_sum: f64 = (0..=i).map(|j| out.att[[0, 0, i, j]]).sum();
            assert!(row_sum.is_finite());
            assert!((row_sum + out.null[[0, 0, i]] - 1.0).abs() < 1e-12, "{norm:?} row {i}");
            for j in i + 1..t {
                assert_eq!(out.att[[0, 0, i, j]], 0.0, "{norm:?} masks key {j} for query {i}");
            }
        }
    }
}

#[test]
fn cross_entropy_backward_matches_finite_differences() {
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let logits = random_matrix(&mut rng, 6, 11, 3.0);
    let targets: Vec<u32> = (0..6).map(|i| (i * 3 % 11) as u32).collect();
    let weights = vec![1.0, 0.0, 1.0, 1.0, 0.0, 1.0];
    let (_, _, probs) = ops::cross_entropy_forward(logits.view(), &targets, &weights);
    let d = ops::cross_entropy_backward(probs.view(), &targets, &weights);
    check_input("cross-entropy", &logits, &d, |l| ops::cross_entropy_forward(l.view(), &targets, &weights).0);
    assert!(d.row(1).iter().all(|&x| x == 0.0), "unscored rows get no gradient");
}

/// A small model: two layers, two heads, odd T, so every path and head index
/// is exercised.
fn tiny_config(variant: Variant, pos_enc: PosEnc) -> RunConfig {
    RunConfig {
        seed: 11,
        model: ModelConfig { layers: 2, heads: 2, width: 16, seq_len: 7, pos_enc, variant },
        train: TrainConfig { batch: 3, ..Default::default() },
        task: TaskConfig::default(),
        metrics_every: 10,
        probe_batch: 2,
    }
}

/// Checks every parameter tensor of the whole model: each element of small
/// tensors and 24 sampled elements of larger ones.
fn check_model(config: &RunConfig) {
    let task = Task::new(&config.task, config.model.seq_len, config.seed).unwrap();
    let layout = Layout::new(&config.model, task.vocab());
    let mut params = Tensors::<f64>::init(&layout, config.seed);
    // Move gains, sink logits and small weights off their starting values so no
    // term of the backward pass hides behind a 1 or a 0.
    let mut rng = ChaCha8Rng::seed_from_u64(99);
    for x in params.data.iter_mut() {
        *x += rng.random_range(-0.3..0.3);
    }
    let mut data = gatelab_model::rng::stream(config.seed, "data");
    let batch = task.sample(&mut data, config.train.batch, config.model.seq_len);
    let cache = model::forward(&config.model, &layout, &params, &batch);
    let grads = model::backward(&config.model, &layout, &params, &batch, &cache);
    let loss_at = |p: &Tensors<f64>| model::forward(&config.model, &layout, p, &batch).loss;
    let name = config.model.variant.name();
    for spec in &layout.specs {
        let len = spec.len();
        let picks: Vec<usize> = if len <= 24 { (0..len).collect() } else { (0..24).map(|_| rng.random_range(0..len)).collect() };
        for i in picks {
            let idx = spec.offset + i;
            let mut plus = params.clone();
            let mut minus = params.clone();
            plus.data[idx] += H;
            minus.data[idx] -= H;
            let numeric = (loss_at(&plus) - loss_at(&minus)) / (2.0 * H);
            assert_close(&format!("{name} {:?}: {}[{i}]", config.model.pos_enc, spec.name), grads.data[idx], numeric);
        }
    }
}

#[test]
fn model_gradients_every_named_variant() {
    for name in NAMED_VARIANTS {
        let variant = Variant::named(name).unwrap();
        check_model(&tiny_config(variant, PosEnc::Learned));
    }
}

#[test]
fn model_gradients_with_rope() {
    for name in ["baseline", "g1", "g3", "g4", "sink-logit"] {
        check_model(&tiny_config(Variant::named(name).unwrap(), PosEnc::Rope));
    }
}

#[test]
fn model_gradients_knob_combinations() {
    for text in [
        "g2+headwise+head-shared",
        "g3+headwise",
        "g4+head-shared+silu",
        "g5+additive+silu",
        "g1+softmax1",
        "g1-headwise+sigmoid-attn",
        "g2+additive+sink-logit",
    ] {
        let variant = Variant::parse(text).unwrap();
        check_model(&tiny_config(variant, PosEnc::Learned));
        let config = tiny_config(variant, PosEnc::Learned);
        config.validate(&Limits::CLI).unwrap();
    }
}
