//! Each kernel against the CPU operation of `gatelab-model` on random inputs,
//! at sizes that are not multiples of the workgroup size or the matmul tile
//! (T = 7, C = 24, H = 3, B = 3 and the like), and at edge cases: T = 1,
//! gates near 0 and 1, large logits.
//!
//! Tolerances are relative to the reference tensor's largest magnitude (see
//! `common`). Element-wise kernels and short sums get 1e-5. Values that go
//! through several reductions in a row (attention gradients, the accumulated
//! RMSNorm input gradient) get 1e-4, because cancellation can amplify f32
//! rounding. The largest error over these tests on lavapipe (Mesa 22.3) is
//! 1.2e-6, and a 2e-4 change in one term of dk fails them.

mod common;

use common::*;
use gatelab_gpu::kernels::Shader;
use gatelab_gpu::ops::{self, At, MatmulKind};
use gatelab_model::ops as cpu;
use gatelab_model::{AttnNorm, GateAct, GateForm, GatePos, Granularity, Sharing, Variant};
use ndarray::{Array1, Array2};

const ELEMENTWISE: f64 = 1e-5;
const CHAINED: f64 = 1e-4;

#[test]
fn every_entry_point_compiles() {
    let entries: [(Shader, &[&str]); 11] = [
        (Shader::Adamw, &["update"]),
        (Shader::Attention, &["forward", "forward_gated", "backward_rows", "backward_columns", "backward_sink"]),
        (Shader::Clip, &["partial_sums", "finish"]),
        (Shader::CrossEntropy, &["forward", "reduce", "backward"]),
        (Shader::Embedding, &["forward", "backward_tokens", "backward_positions"]),
        (Shader::Gate, &["act_forward", "apply_forward", "apply_residual", "backward_input", "backward_gate"]),
        (Shader::Gelu, &["forward", "backward"]),
        (Shader::Matmul, &["forward", "forward_residual", "transpose_a", "transpose_b"]),
        (Shader::Metrics, &["f_attn", "null_mass", "loss_split", "m_act", "value_norms", "value_sums", "gate_stats", "gate_map"]),
        (Shader::Rmsnorm, &["forward", "backward_input", "backward_gain"]),
        (Shader::Rope, &["forward", "backward"]),
    ];
    assert_eq!(entries.len(), Shader::ALL.len());
    for (shader, names) in entries {
        for name in names {
            ctx().kernels().pipeline(shader, name);
        }
    }
}

#[test]
fn embedding_matches_cpu() {
    let (rows, width, seq_len, vocab) = (21, 24, 7, 11);
    let tok_offset = 5;
    let pos_offset = tok_offset + vocab * width + 3;
    let parameters = random("embedding.params", pos_offset + seq_len * width + 2, 1.0);
    // Repeated tokens exercise the gradient's sum over rows.
    let tokens: Vec<u32> = (0..rows).map(|i| ((i * 7) % 5) as u32).collect();
    let dx = random("embedding.dx", rows * width, 1.0);

    for learned in [true, false] {
        let spec = ops::EmbeddingSpec {
            rows,
            width,
            seq_len,
            vocab,
            tok_offset,
            pos_offset: learned.then_some(pos_offset),
        };
        let tokens_buffer = ctx().upload_u32("tokens", &tokens);
        let token_rows = ctx().upload_u32("token rows", &ops::token_row_index(&tokens, vocab));
        let params_buffer = upload(&parameters);
        let x = zeros(rows * width);
        let dx_buffer = upload(&dx);
        let grads = zeros(parameters.len());
        let passes = [
            ops::embedding_forward(ctx(), &spec, &tokens_buffer, &params_buffer, &x),
            ops::embedding_backward_tokens(ctx(), &spec, &token_rows, &dx_buffer, &grads),
        ];
        run(&passes.iter().collect::<Vec<_>>());
        if learned {
            run(&[&ops::embedding_backward_positions(ctx(), &spec, &dx_buffer, &grads)]);
        }

        let mut want_x = vec![0.0f64; rows * width];
        let mut want_tok = vec![0.0f64; vocab * width];
        let mut want_pos = vec![0.0f64; seq_len * width];
        for i in 0..rows {
            let token = tokens[i] as usize;
            for c in 0..width {
                let mut value = parameters[tok_offset + token * width + c] as f64;
                if learned {
                    value += parameters[pos_offset + (i % seq_len) * width + c] as f64;
                }
                want_x[i * width + c] = value;
                want_tok[token * width + c] += dx[i * width + c] as f64;
                want_pos[(i % seq_len) * width + c] += dx[i * width + c] as f64;
            }
        }
        assert_close("x", &read(&x, rows * width), want_x, ELEMENTWISE);
        assert_close("d tok_emb", &read_at(&grads, tok_offset, vocab * width), want_tok, ELEMENTWISE);
        if learned {
            assert_close("d pos_emb", &read_at(&grads, pos_offset, seq_len * width), want_pos, ELEMENTWISE);
        }
    }
}

#[test]
fn rmsnorm_matches_cpu() {
    let (rows, width) = (13, 24);
    let gain_offset = 3;
    let mut parameters = random("rmsnorm.params", gain_offset + width + 1, 1.0);
    parameters.iter_mut().for_each(|g| *g += 1.0);
    let x = random("rmsnorm.x", rows * width, 2.0);
    let dout = random("rmsnorm.dout", rows * width, 1.0);
    let dx_before = random("rmsnorm.dx", rows * width, 1.0);
    let spec = ops::NormSpec { rows, width, gain_offset };

    let x_buffer = upload(&x);
    let params_buffer = upload(&parameters);
    let dout_buffer = upload(&dout);
    let out = zeros(rows * width);
    let rstd = zeros(rows);
    let dx = upload(&dx_before);
    let grads = zeros(parameters.len());
    let passes = [
        ops::rmsnorm_forward(ctx(), &spec, &x_buffer, &params_buffer, &out, &rstd),
        ops::rmsnorm_backward_input(ctx(), &spec, &dout_buffer, &x_buffer, &params_buffer, &rstd, &dx, true),
        ops::rmsnorm_backward_gain(ctx(), &spec, &dout_buffer, &x_buffer, &rstd, &grads),
    ];
    run(&passes.iter().collect::<Vec<_>>());

    let gain = Array1::from(to_f64(&parameters[gain_offset..gain_offset + width]));
    let x64 = array2(&x, rows, width);
    let (want_out, want_rstd) = cpu::rmsnorm_forward(x64.view(), gain.view());
    let (want_dx, want_dgain) = cpu::rmsnorm_backward(array2(&dout, rows, width).view(), x64.view(), gain.view(), want_rstd.view());
    assert_close("out", &read(&out, rows * width), want_out.iter().copied(), ELEMENTWISE);
    assert_close("rstd", &read(&rstd, rows), want_rstd.iter().copied(), ELEMENTWISE);
    let want_dx_total = want_dx.iter().zip(&dx_before).map(|(d, &b)| d + b as f64);
    assert_close("dx (accumulated)", &read(&dx, rows * width), want_dx_total, CHAINED);
    assert_close("dgain", &read_at(&grads, gain_offset, width), want_dgain.iter().copied(), ELEMENTWISE);
}

fn matmul_reference(a: &Array2<f64>, b: &Array2<f64>) -> Vec<f64> {
    a.dot(b).iter().copied().collect()
}

#[test]
fn token_row_index_groups_rows() {
    // Token 3 is outside the vocabulary of 3 and gets no entry.
    let tokens = [2, 0, 2, 3, 0, 2];
    let index = ops::token_row_index(&tokens, 3);
    assert_eq!(index[..4], [0, 2, 2, 5], "start offsets");
    assert_eq!(index[4..9], [1, 4, 0, 2, 5], "rows grouped by token");
    assert_eq!(index.len(), 3 + 1 + tokens.len(), "length");
}

#[test]
fn matmul_variants_match_cpu() {
    let (m, n, k) = (21, 13, 19);
    let (a_off, b_off, c_off) = (3, 5, 2);
    let a_data = random("matmul.a", a_off + m * k, 1.0);
    let b_data = random("matmul.b", b_off + k * n, 1.0);
    let c_before = random("matmul.c", c_off + m * n, 1.0);
    let residual = random("matmul.r", m * n, 1.0);
    let a = array2(&a_data[a_off..], m, k);
    let b = array2(&b_data[b_off..], k, n);
    let product = matmul_reference(&a, &b);

    // A stored transposed (K, M) and B stored transposed (N, K).
    let a_t: Vec<f32> = (0..a_off).map(|_| 0.0).chain(a.t().iter().map(|&x| x as f32)).collect();
    let b_t: Vec<f32> = (0..b_off).map(|_| 0.0).chain(b.t().iter().map(|&x| x as f32)).collect();

    let cases: [(&str, MatmulKind, &[f32], &[f32]); 3] = [
        ("forward", MatmulKind::Forward, &a_data, &b_data),
        ("transpose_a", MatmulKind::TransposeA, &a_t, &b_data),
        ("transpose_b", MatmulKind::TransposeB, &a_data, &b_t),
    ];
    for (name, kind, a_in, b_in) in cases {
        for accumulate in [false, true] {
            let a_buffer = upload(a_in);
            let b_buffer = upload(b_in);
            let c = upload(&c_before);
            let pass = ops::matmul(
                ctx(),
                kind,
                m,
                n,
                k,
                At::new(&a_buffer, a_off),
                At::new(&b_buffer, b_off),
                At::new(&c, c_off),
                accumulate,
            );
            run(&[&pass]);
            let want = product.iter().zip(&c_before[c_off..]).map(|(p, &c0)| if accumulate { p + c0 as f64 } else { *p });
            assert_close(&format!("{name} accumulate={accumulate}"), &read_at(&c, c_off, m * n), want, ELEMENTWISE);
            assert_eq!(read(&c, c_off), c_before[..c_off], "{name} wrote before its offset");
        }
    }

    let a_buffer = upload(&a_data);
    let b_buffer = upload(&b_data);
    let r_buffer = upload(&residual);
    let c = zeros(m * n);
    run(&[&ops::matmul_residual(ctx(), m, n, k, At::new(&a_buffer, a_off), At::new(&b_buffer, b_off), &r_buffer, At::start(&c))]);
    let want = product.iter().zip(&residual).map(|(p, &r)| p + r as f64);
    assert_close("forward_residual", &read(&c, m * n), want, ELEMENTWISE);
}

#[test]
fn gelu_matches_cpu_including_large_inputs() {
    let mut x = random("gelu.x", 203, 4.0);
    x.extend_from_slice(&[0.0, 20.0, -20.0, 100.0, -100.0, 1e-4]);
    let dout = random("gelu.dout", x.len(), 1.0);
    let count = x.len();
    let x_buffer = upload(&x);
    let dout_buffer = upload(&dout);
    let out = zeros(count);
    let dx = zeros(count);
    let passes = [
        ops::gelu_forward(ctx(), count, &x_buffer, &out),
        ops::gelu_backward(ctx(), count, &dout_buffer, &x_buffer, &dx),
    ];
    run(&passes.iter().collect::<Vec<_>>());
    let x64 = array2(&x, 1, count);
    let (want_out, want_tanh) = cpu::gelu_forward(x64.view());
    let want_dx = cpu::gelu_backward(array2(&dout, 1, count).view(), x64.view(), want_tanh.view());
    // Compared per element: the inputs of 100 would make a tensor-wide scale hide errors near 0.
    let got_out = read(&out, count);
    let got_dx = read(&dx, count);
    for i in 0..count {
        let scale = want_out[[0, i]].abs().max(1.0);
        assert!((got_out[i] as f64 - want_out[[0, i]]).abs() <= ELEMENTWISE * scale, "gelu({}) = {} vs {}", x[i], got_out[i], want_out[[0, i]]);
        assert!((got_dx[i] as f64 - want_dx[[0, i]]).abs() <= ELEMENTWISE, "gelu'({}) = {} vs {}", x[i], got_dx[i], want_dx[[0, i]]);
    }
}

fn gate_variants() -> Vec<Variant> {
    let mut variants = Vec::new();
    for granularity in [Granularity::Elementwise, Granularity::Headwise] {
        for sharing in [Sharing::HeadSpecific, Sharing::HeadShared] {
            for form in [GateForm::Multiplicative, GateForm::Additive] {
                for act in [GateAct::Sigmoid, GateAct::Silu] {
                    variants.push(Variant { gate_pos: GatePos::G1, granularity, sharing, form, act, attn: AttnNorm::Softmax });
                }
            }
        }
    }
    variants
}

#[test]
fn gate_matches_cpu_for_every_knob() {
    let (rows, width, heads) = (11, 24, 3);
    let head_dim = width / heads;
    for variant in gate_variants() {
        let spec = ops::GateSpec::new(&variant, rows, width, heads);
        let g = spec.gate_width;
        // Pre-activations up to +-30 put gates near 0 and 1 (sigmoid) and
        // test SiLU far from the origin.
        let mut z = random("gate.z", rows * g, 4.0);
        z[0] = 30.0;
        z[rows * g - 1] = -30.0;
        let t = random("gate.t", rows * width, 1.0);
        let res = random("gate.res", rows * width, 1.0);
        let dout = random("gate.dout", rows * width, 1.0);

        let z_buffer = upload(&z);
        let t_buffer = upload(&t);
        let res_buffer = upload(&res);
        let dout_buffer = upload(&dout);
        let gate = zeros(rows * g);
        let out = zeros(rows * width);
        let out_residual = zeros(rows * width);
        let dt = zeros(rows * width);
        let dz = zeros(rows * g);
        let passes = [
            ops::gate_act_forward(ctx(), &spec, &z_buffer, &gate),
            ops::gate_apply_forward(ctx(), &spec, &t_buffer, &gate, &out),
            ops::gate_apply_residual(ctx(), &spec, &res_buffer, &t_buffer, &gate, &out_residual),
            ops::gate_backward_input(ctx(), &spec, &dout_buffer, &gate, &dt),
            ops::gate_backward_gate(ctx(), &spec, &dout_buffer, &t_buffer, &z_buffer, &dz),
        ];
        run(&passes.iter().collect::<Vec<_>>());

        let name = variant.name();
        let z64 = array2(&z, rows, g);
        let t64 = array2(&t, rows, width);
        let gate64 = cpu::gate_act_forward(z64.view(), variant.act);
        let want_out = cpu::apply_gate_forward(t64.view(), gate64.view(), &variant, head_dim);
        let (want_dt, want_dgate) = cpu::apply_gate_backward(array2(&dout, rows, width).view(), t64.view(), gate64.view(), &variant, head_dim);
        let want_dz = cpu::gate_act_backward(want_dgate.view(), z64.view(), gate64.view(), variant.act);
        assert_close(&format!("{name} gate"), &read(&gate, rows * g), gate64.iter().copied(), ELEMENTWISE);
        assert_close(&format!("{name} out"), &read(&out, rows * width), want_out.iter().copied(), ELEMENTWISE);
        let want_residual = want_out.iter().zip(&res).map(|(o, &r)| o + r as f64);
        assert_close(&format!("{name} out + res"), &read(&out_residual, rows * width), want_residual, ELEMENTWISE);
        assert_close(&format!("{name} dt"), &read(&dt, rows * width), want_dt.iter().copied(), ELEMENTWISE);
        assert_close(&format!("{name} dz"), &read(&dz, rows * g), want_dz.iter().copied(), ELEMENTWISE);
    }
}

#[test]
fn rope_matches_cpu() {
    let (batch, seq_len, heads, width) = (3, 7, 3, 24);
    let rows = batch * seq_len;
    let x = random("rope.x", rows * width, 1.0);
    let spec = ops::RopeSpec { rows, width, heads, seq_len };
    let table = upload(&ops::rope_table(seq_len, width / heads));
    let x_buffer = upload(&x);
    let rotated = zeros(rows * width);
    let restored = zeros(rows * width);
    let passes = [
        ops::rope(ctx(), &spec, &x_buffer, &table, &rotated, false),
        ops::rope(ctx(), &spec, &rotated, &table, &restored, true),
    ];
    run(&passes.iter().collect::<Vec<_>>());
    let (cos, sin) = cpu::rope_tables::<f64>(seq_len, width / heads);
    let mut want = array2(&x, rows, width);
    cpu::rope_rotate(want.view_mut(), &cos, &sin, seq_len, heads, false);
    assert_close("rotated", &read(&rotated, rows * width), want.iter().copied(), ELEMENTWISE);
    assert_close("rotated back", &read(&restored, rows * width), to_f64(&x), ELEMENTWISE);
}

struct AttentionCase {
    batch: usize,
    seq_len: usize,
    heads: usize,
    width: usize,
    /// Multiplies q, so scores reach tens (large logits).
    q_scale: f32,
}

fn check_attention(case: &AttentionCase, norm: AttnNorm, gated: bool) {
    let AttentionCase { batch, seq_len, heads, width, q_scale } = *case;
    let rows = batch * seq_len;
    let head_dim = width / heads;
    let label = format!("{norm:?} B={batch} T={seq_len} H={heads} q*{q_scale} gated={gated}");
    let q = random("attention.q", rows * width, q_scale);
    let k = random("attention.k", rows * width, 1.0);
    let v = random("attention.v", rows * width, 1.0);
    let dy = random("attention.dy", rows * width, 1.0);
    let sink_offset = 2;
    let parameters = random("attention.sink", sink_offset + heads + 1, 1.5);
    let spec = ops::AttentionSpec { batch, seq_len, heads, head_dim, norm, sink_offset };

    let q_buffer = upload(&q);
    let k_buffer = upload(&k);
    let v_buffer = upload(&v);
    let dy_buffer = upload(&dy);
    let params_buffer = upload(&parameters);
    let att = zeros(spec.att_len());
    let y = zeros(rows * width);
    let ds = zeros(spec.att_len());
    let dq = zeros(rows * width);
    let dk = zeros(rows * width);
    let dv = zeros(rows * width);
    let grads = zeros(parameters.len());

    let variant = Variant { granularity: Granularity::Headwise, ..Variant::G1 };
    let gate_spec = ops::GateSpec::new(&variant, rows, width, heads);
    let gate_values: Vec<f32> = random("attention.gate", rows * heads, 1.0).iter().map(|g| g.abs()).collect();
    let gate_buffer = upload(&gate_values);
    let y_gated = zeros(rows * width);
    let fused = gated.then(|| ops::FusedGate { spec: &gate_spec, gate: &gate_buffer, y_gated: &y_gated });

    let mut passes = vec![
        ops::attention_forward(ctx(), &spec, &q_buffer, &k_buffer, &v_buffer, &params_buffer, &att, &y, fused),
        ops::attention_backward_rows(ctx(), &spec, &dy_buffer, &k_buffer, &v_buffer, &att, &ds, &dq),
        ops::attention_backward_columns(ctx(), &spec, &dy_buffer, &q_buffer, &att, &ds, &dk, &dv),
    ];
    if norm == AttnNorm::SinkLogit {
        passes.push(ops::attention_backward_sink(ctx(), &spec, &ds, &grads));
    }
    run(&passes.iter().collect::<Vec<_>>());

    let (q64, k64, v64) = (array2(&q, rows, width), array2(&k, rows, width), array2(&v, rows, width));
    let sink = Array1::from(to_f64(&parameters[sink_offset..sink_offset + heads]));
    let sink_view = (norm == AttnNorm::SinkLogit).then(|| sink.view());
    let fwd = cpu::attention_forward(q64.view(), k64.view(), v64.view(), sink_view, norm, batch, seq_len, heads);
    let grads64 = cpu::attention_backward(array2(&dy, rows, width).view(), q64.view(), k64.view(), v64.view(), &fwd, norm, batch, seq_len, heads);

    let att_len = batch * heads * seq_len * seq_len;
    let got_att = read(&att, spec.att_len());
    assert_close(&format!("{label} weights"), &got_att[..att_len], fwd.att.iter().copied(), ELEMENTWISE);
    assert_close(&format!("{label} null mass"), &got_att[att_len..], fwd.null.iter().copied(), ELEMENTWISE);
    assert_close(&format!("{label} y"), &read(&y, rows * width), fwd.y.iter().copied(), ELEMENTWISE);
    if gated {
        let gate64 = array2(&gate_values, rows, heads);
        let want = cpu::apply_gate_forward(fwd.y.view(), gate64.view(), &variant, head_dim);
        assert_close(&format!("{label} y gated"), &read(&y_gated, rows * width), want.iter().copied(), ELEMENTWISE);
    }
    assert_close(&format!("{label} dq"), &read(&dq, rows * width), grads64.dq.iter().copied(), CHAINED);
    assert_close(&format!("{label} dk"), &read(&dk, rows * width), grads64.dk.iter().copied(), CHAINED);
    assert_close(&format!("{label} dv"), &read(&dv, rows * width), grads64.dv.iter().copied(), CHAINED);
    if let Some(dsink) = grads64.dsink {
        assert_close(&format!("{label} dsink"), &read_at(&grads, sink_offset, heads), dsink.iter().copied(), CHAINED);
    }
}

const NORMS: [AttnNorm; 4] = [AttnNorm::Softmax, AttnNorm::Softmax1, AttnNorm::SinkLogit, AttnNorm::Sigmoid];

#[test]
fn attention_matches_cpu_for_every_normaliser() {
    let case = AttentionCase { batch: 3, seq_len: 7, heads: 3, width: 24, q_scale: 1.0 };
    for norm in NORMS {
        check_attention(&case, norm, false);
    }
    check_attention(&case, AttnNorm::Softmax, true);
}

#[test]
fn attention_handles_single_position() {
    let case = AttentionCase { batch: 2, seq_len: 1, heads: 2, width: 16, q_scale: 1.0 };
    for norm in NORMS {
        check_attention(&case, norm, false);
    }
}

#[test]
fn attention_handles_large_scores() {
    let case = AttentionCase { batch: 2, seq_len: 9, heads: 1, width: 16, q_scale: 30.0 };
    for norm in NORMS {
        check_attention(&case, norm, false);
    }
}

#[test]
fn cross_entropy_matches_cpu_including_large_logits() {
    let (rows, vocab) = (23, 13);
    let mut logits = random("ce.logits", rows * vocab, 3.0);
    logits[5] = 80.0;
    logits[vocab + 2] = -80.0;
    let targets: Vec<u32> = (0..rows).map(|i| ((i * 5) % vocab) as u32).collect();
    let weights: Vec<f32> = (0..rows).map(|i| if i % 4 == 3 { 0.0 } else { 1.0 }).collect();
    let logits_buffer = upload(&logits);
    let targets_buffer = ctx().upload_u32("targets", &targets);
    let weights_buffer = upload(&weights);
    let row_loss = zeros(rows);
    let stats = zeros(ops::stats::LEN);
    let dlogits = zeros(rows * vocab);
    let passes = [
        ops::cross_entropy_forward(ctx(), rows, vocab, &logits_buffer, &targets_buffer, &row_loss),
        ops::cross_entropy_reduce(ctx(), rows, vocab, &weights_buffer, &row_loss, &stats),
        ops::cross_entropy_backward(ctx(), rows, vocab, &logits_buffer, &targets_buffer, &weights_buffer, &stats, &dlogits),
    ];
    run(&passes.iter().collect::<Vec<_>>());
    let logits64 = array2(&logits, rows, vocab);
    let (want_loss, want_rows, want_probs) = cpu::cross_entropy_forward(logits64.view(), &targets, &weights);
    let want_dlogits = cpu::cross_entropy_backward(want_probs.view(), &targets, &weights);
    assert_close("row loss", &read(&row_loss, rows), want_rows, ELEMENTWISE);
    let got_stats = read(&stats, ops::stats::LEN);
    assert_close("loss", &got_stats[ops::stats::LOSS..=ops::stats::LOSS], [want_loss], ELEMENTWISE);
    assert_eq!(got_stats[ops::stats::WEIGHT_SUM], weights.iter().sum::<f32>());
    assert_close("dlogits", &read(&dlogits, rows * vocab), want_dlogits.iter().copied(), ELEMENTWISE);
}

#[test]
fn clip_and_adamw_match_cpu() {
    use gatelab_model::optim::{clip_grad_norm, AdamW};
    use gatelab_model::params::{Layout, Tensors};
    use gatelab_model::{ModelConfig, TrainConfig};

    let model = ModelConfig { width: 16, ..Default::default() };
    let layout = Layout::new(&model, 8);
    let train = TrainConfig::default();
    // A norm above the clip (scaled) and one below it (left alone).
    for grad_scale in [0.5f32, 1e-3] {
        let params = Tensors::<f32>::init(&layout, 3);
        let grads_data: Vec<f32> = random("adamw.g", layout.total, grad_scale);
        let decay_mask: Vec<f32> = layout
            .specs
            .iter()
            .flat_map(|s| std::iter::repeat_n(if s.kind == gatelab_model::params::ParamKind::Matrix { 1.0 } else { 0.0 }, s.len()))
            .collect();

        let params_buffer = ctx().upload_f32("params", &params.data);
        let grads_buffer = upload(&grads_data);
        let mask_buffer = upload(&decay_mask);
        let moment1 = zeros(layout.total);
        let moment2 = zeros(layout.total);
        let partials = zeros(ops::clip_partial_count(layout.total));
        let stats = zeros(ops::stats::LEN);

        let mut cpu_params = params.clone();
        let mut opt = AdamW::new(&layout);
        for t in 1..=3u64 {
            let lr = 3e-3 * t as f64;
            let step = ops::AdamwStep {
                count: layout.total,
                beta1: train.beta1,
                beta2: train.beta2,
                lr,
                weight_decay: train.weight_decay,
                eps: train.eps,
                t,
            };
            let passes = [
                ops::clip_partial_sums(ctx(), layout.total, train.clip, &grads_buffer, &partials),
                ops::clip_finish(ctx(), layout.total, train.clip, &partials, &stats),
                ops::adamw_update(ctx(), &step, &grads_buffer, &mask_buffer, &stats, &params_buffer, &moment1, &moment2),
            ];
            run(&passes.iter().collect::<Vec<_>>());

            let mut cpu_grads = Tensors { data: grads_data.clone() };
            let norm = clip_grad_norm(&mut cpu_grads, train.clip);
            opt.update(&layout, &mut cpu_params, &cpu_grads, &train, lr);
            let got_stats = read(&stats, ops::stats::LEN);
            assert_close("gradient norm", &got_stats[ops::stats::GRAD_NORM..=ops::stats::GRAD_NORM], [norm], ELEMENTWISE);
            assert_eq!(got_stats[ops::stats::SKIP], 0.0, "finite gradients must not skip the update");
        }
        // The CPU engine in f32 is the reference here: the same roundings of
        // the same constants, so the two agree to a few f32 ulps of each parameter.
        let got = read(&params_buffer, layout.total);
        let worst = got.iter().zip(&cpu_params.data).map(|(g, c)| (g - c).abs()).fold(0.0f32, f32::max);
        assert!(worst < 1e-6, "grad scale {grad_scale}: parameters differ by up to {worst}");
        assert_close("moment1", &read(&moment1, layout.total), opt.m.data.iter().map(|&x| x as f64), ELEMENTWISE);
        assert_close("moment2", &read(&moment2, layout.total), opt.v.data.iter().map(|&x| x as f64), ELEMENTWISE);
    }
}

#[test]
fn adamw_skips_update_on_non_finite_loss() {
    let count = 100;
    let params = random("skip.p", count, 1.0);
    let params_buffer = upload(&params);
    let grads = upload(&random("skip.g", count, 1.0));
    let mask = upload(&vec![1.0; count]);
    let moment1 = zeros(count);
    let moment2 = zeros(count);
    let partials = zeros(ops::clip_partial_count(count));
    let mut stats_values = vec![0.0f32; ops::stats::LEN];
    stats_values[ops::stats::LOSS] = f32::NAN;
    let stats = upload(&stats_values);
    let step = ops::AdamwStep { count, beta1: 0.9, beta2: 0.95, lr: 1e-2, weight_decay: 0.1, eps: 1e-8, t: 1 };
    let passes = [
        ops::clip_partial_sums(ctx(), count, 1.0, &grads, &partials),
        ops::clip_finish(ctx(), count, 1.0, &partials, &stats),
        ops::adamw_update(ctx(), &step, &grads, &mask, &stats, &params_buffer, &moment1, &moment2),
    ];
    run(&passes.iter().collect::<Vec<_>>());
    assert_eq!(read(&stats, ops::stats::LEN)[ops::stats::SKIP], 1.0);
    assert_eq!(read(&params_buffer, count), params, "parameters changed after a NaN loss");
}

#[test]
fn f_attn_matches_cpu() {
    let (batch, seq_len, heads, width) = (3, 7, 3, 24);
    let rows = batch * seq_len;
    for norm in [AttnNorm::Softmax, AttnNorm::Sigmoid] {
        let q = random("fattn.q", rows * width, 2.0);
        let k = random("fattn.k", rows * width, 2.0);
        let v = random("fattn.v", rows * width, 1.0);
        let spec = ops::AttentionSpec { batch, seq_len, heads, head_dim: width / heads, norm, sink_offset: 0 };
        let (q_buffer, k_buffer, v_buffer) = (upload(&q), upload(&k), upload(&v));
        let params = zeros(1);
        let att = zeros(spec.att_len());
        let y = zeros(rows * width);
        let out = zeros(heads + 2);
        let passes = [
            ops::attention_forward(ctx(), &spec, &q_buffer, &k_buffer, &v_buffer, &params, &att, &y, None),
            ops::f_attn(ctx(), &spec, &att, &out, 2),
        ];
        run(&passes.iter().collect::<Vec<_>>());
        let fwd = cpu::attention_forward(
            array2(&q, rows, width).view(),
            array2(&k, rows, width).view(),
            array2(&v, rows, width).view(),
            None,
            norm,
            batch,
            seq_len,
            heads,
        );
        let want = gatelab_model::metrics::f_attn_per_head(&fwd.att, norm == AttnNorm::Sigmoid);
        assert_close(&format!("{norm:?} F-Attn"), &read_at(&out, 2, heads), want, ELEMENTWISE);
    }
}
