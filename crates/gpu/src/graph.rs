//! The buffers of one model on the GPU and the dispatches of its forward and
//! backward passes, in the order of `gatelab_model::model`.

use gatelab_model::params::Layout;
use gatelab_model::{AttnNorm, GatePos, ModelConfig, PosEnc};
use wgpu::Buffer;

use crate::context::GpuContext;
use crate::kernels::Pass;
use crate::ops::{self, At, AttentionSpec, EmbeddingSpec, GateSpec, MatmulKind, NormSpec, RopeSpec};

/// Sizes of one batch through the model.
#[derive(Clone, Copy, Debug)]
pub struct Sizes {
    pub batch: usize,
    pub seq_len: usize,
    pub width: usize,
    pub heads: usize,
    pub head_dim: usize,
    pub vocab: usize,
    pub mlp_width: usize,
    pub gate_width: usize,
    /// N = batch * seq_len.
    pub rows: usize,
}

impl Sizes {
    pub fn new(model: &ModelConfig, vocab: usize, batch: usize) -> Self {
        Sizes {
            batch,
            seq_len: model.seq_len,
            width: model.width,
            heads: model.heads,
            head_dim: model.head_dim(),
            vocab,
            mlp_width: model.mlp_width(),
            gate_width: model.variant.gate_width(model.width, model.heads),
            rows: batch * model.seq_len,
        }
    }

    pub fn attention(&self, norm: AttnNorm, sink_offset: usize) -> AttentionSpec {
        AttentionSpec { batch: self.batch, seq_len: self.seq_len, heads: self.heads, head_dim: self.head_dim, norm, sink_offset }
    }
}

/// Buffers shared by the training and probe passes.
pub struct Shared {
    /// (P) every parameter, laid out by the CPU `Layout`.
    pub params: Buffer,
    /// (P) every gradient, same layout.
    pub grads: Buffer,
    /// (P) AdamW first and second moments.
    pub moment1: Buffer,
    pub moment2: Buffer,
    /// (P) 1 where weight decay applies, else 0.
    pub decay_mask: Buffer,
    /// (2, T, D/2) RoPE cosines and sines.
    pub rope_table: Buffer,
    /// Partial sums of the gradient-norm reduction.
    pub partials: Buffer,
}

/// Activations one block's forward pass keeps, named as in `LayerCache`.
pub struct LayerBuffers {
    pub attn_rstd: Buffer,
    pub n: Buffer,
    pub q_raw: Buffer,
    pub k_raw: Buffer,
    pub v_raw: Buffer,
    pub gate_z: Option<Buffer>,
    pub gate: Option<Buffer>,
    /// q and k after their gate and before RoPE; the raw buffers when ungated.
    pub q_gated: Buffer,
    pub k_gated: Buffer,
    /// What attention used; the same buffers as the gated ones without RoPE.
    pub q: Buffer,
    pub k: Buffer,
    pub v: Buffer,
    /// (B, H, T, T) weights, then (B, H, T) null masses.
    pub att: Buffer,
    pub y_sdpa: Buffer,
    /// After the G1 gate; the same buffer as `y_sdpa` without it.
    pub y: Buffer,
    /// y Wo before the G5 gate; only with a G5 gate (otherwise the residual
    /// add is fused into the matmul and y Wo is not stored).
    pub o_raw: Option<Buffer>,
    pub x_mid: Buffer,
    pub mlp_rstd: Buffer,
    pub m: Buffer,
    pub h: Buffer,
    pub h_act: Buffer,
    pub x_out: Buffer,
}

/// The activations of one batch: inputs, every layer, the head and the loss.
pub struct Activations {
    pub sizes: Sizes,
    /// (N) token ids, targets and loss weights.
    pub tokens: Buffer,
    /// (V + 1 + N) the tokens' row index (`ops::token_row_index`).
    pub token_rows: Buffer,
    pub targets: Buffer,
    pub weights: Buffer,
    /// (N, C) embeddings: the residual stream entering layer 0.
    pub x0: Buffer,
    pub layers: Vec<LayerBuffers>,
    pub final_rstd: Buffer,
    pub final_n: Buffer,
    pub logits: Buffer,
    pub row_loss: Buffer,
    /// Loss, weight sum, gradient norm, clip scale, skip flag (`ops::stats`).
    pub stats: Buffer,
}

/// Gradients of activations, reused by every layer of the backward pass.
pub struct Scratch {
    dlogits: Buffer,
    dfinal_n: Buffer,
    /// The residual stream's gradient, accumulated layer by layer.
    pub dx: Buffer,
    dh_act: Buffer,
    dh: Buffer,
    dm: Buffer,
    do_raw: Buffer,
    dy: Buffer,
    dy_sdpa: Buffer,
    ds: Buffer,
    dq: Buffer,
    dk: Buffer,
    dv: Buffer,
    dq_unrotated: Buffer,
    dk_unrotated: Buffer,
    d_gated: Buffer,
    dz: Buffer,
    dn: Buffer,
}

fn gate_pos(model: &ModelConfig) -> GatePos {
    model.variant.gate_pos
}

fn has_rope(model: &ModelConfig) -> bool {
    model.pos_enc == PosEnc::Rope
}

impl Activations {
    pub fn new(ctx: &GpuContext, model: &ModelConfig, sizes: Sizes) -> Self {
        let s = sizes;
        let nc = s.rows * s.width;
        let buffer = |label: &str, len: usize| ctx.zeros(label, len);
        let pos = gate_pos(model);
        let att_len = s.attention(model.variant.attn, 0).att_len();
        let layers = (0..model.layers)
            .map(|_| {
                let q_raw = buffer("q_raw", nc);
                let k_raw = buffer("k_raw", nc);
                let v_raw = buffer("v_raw", nc);
                let q_gated = if pos == GatePos::G4 { buffer("q_gated", nc) } else { q_raw.clone() };
                let k_gated = if pos == GatePos::G3 { buffer("k_gated", nc) } else { k_raw.clone() };
                let v = if pos == GatePos::G2 { buffer("v_gated", nc) } else { v_raw.clone() };
                let q = if has_rope(model) { buffer("q", nc) } else { q_gated.clone() };
                let k = if has_rope(model) { buffer("k", nc) } else { k_gated.clone() };
                let y_sdpa = buffer("y_sdpa", nc);
                let y = if pos == GatePos::G1 { buffer("y", nc) } else { y_sdpa.clone() };
                let gated = model.variant.has_gate();
                LayerBuffers {
                    attn_rstd: buffer("attn_rstd", s.rows),
                    n: buffer("n", nc),
                    q_raw,
                    k_raw,
                    v_raw,
                    gate_z: gated.then(|| buffer("gate_z", s.rows * s.gate_width)),
                    gate: gated.then(|| buffer("gate", s.rows * s.gate_width)),
                    q_gated,
                    k_gated,
                    q,
                    k,
                    v,
                    att: buffer("att", att_len),
                    y_sdpa,
                    y,
                    o_raw: (pos == GatePos::G5).then(|| buffer("o_raw", nc)),
                    x_mid: buffer("x_mid", nc),
                    mlp_rstd: buffer("mlp_rstd", s.rows),
                    m: buffer("m", nc),
                    h: buffer("h", s.rows * s.mlp_width),
                    h_act: buffer("h_act", s.rows * s.mlp_width),
                    x_out: buffer("x_out", nc),
                }
            })
            .collect();
        Activations {
            sizes,
            tokens: buffer("tokens", s.rows),
            token_rows: buffer("token rows", s.vocab + 1 + s.rows),
            targets: buffer("targets", s.rows),
            weights: buffer("weights", s.rows),
            x0: buffer("x0", nc),
            layers,
            final_rstd: buffer("final_rstd", s.rows),
            final_n: buffer("final_n", nc),
            logits: buffer("logits", s.rows * s.vocab),
            row_loss: buffer("row_loss", s.rows),
            stats: buffer("stats", ops::stats::LEN),
        }
    }

    /// The residual stream after the last layer.
    pub fn x_final(&self) -> &Buffer {
        self.layers.last().map_or(&self.x0, |l| &l.x_out)
    }
}

impl Scratch {
    pub fn new(ctx: &GpuContext, model: &ModelConfig, sizes: Sizes) -> Self {
        let s = sizes;
        let nc = s.rows * s.width;
        let buffer = |label: &str, len: usize| ctx.zeros(label, len);
        Scratch {
            dlogits: buffer("dlogits", s.rows * s.vocab),
            dfinal_n: buffer("dfinal_n", nc),
            dx: buffer("dx", nc),
            dh_act: buffer("dh_act", s.rows * s.mlp_width),
            dh: buffer("dh", s.rows * s.mlp_width),
            dm: buffer("dm", nc),
            do_raw: buffer("do_raw", nc),
            dy: buffer("dy", nc),
            dy_sdpa: buffer("dy_sdpa", nc),
            ds: buffer("ds", s.attention(model.variant.attn, 0).att_len()),
            dq: buffer("dq", nc),
            dk: buffer("dk", nc),
            dv: buffer("dv", nc),
            dq_unrotated: buffer("dq_unrotated", nc),
            dk_unrotated: buffer("dk_unrotated", nc),
            d_gated: buffer("d_gated", nc),
            dz: buffer("dz", s.rows * s.gate_width.max(1)),
            dn: buffer("dn", nc),
        }
    }
}

/// Everything a plan builder reads.
pub struct Model<'a> {
    pub ctx: &'a GpuContext,
    pub config: &'a ModelConfig,
    pub layout: &'a Layout,
    pub shared: &'a Shared,
}

impl Model<'_> {
    fn offset(&self, id: usize) -> usize {
        self.layout.specs[id].offset
    }

    fn embedding(&self, s: &Sizes) -> EmbeddingSpec {
        EmbeddingSpec {
            rows: s.rows,
            width: s.width,
            seq_len: s.seq_len,
            vocab: s.vocab,
            tok_offset: self.offset(self.layout.tok_emb),
            pos_offset: self.layout.pos_emb.map(|id| self.offset(id)),
        }
    }

    fn norm(&self, s: &Sizes, gain_id: usize) -> NormSpec {
        NormSpec { rows: s.rows, width: s.width, gain_offset: self.offset(gain_id) }
    }

    fn gate(&self, s: &Sizes) -> GateSpec {
        GateSpec::new(&self.config.variant, s.rows, s.width, s.heads)
    }

    fn rope(&self, s: &Sizes) -> RopeSpec {
        RopeSpec { rows: s.rows, width: s.width, heads: s.heads, seq_len: s.seq_len }
    }

    /// y (rows, n) = x (rows, k) W, with W the parameter `id` of shape (k, n).
    fn project(&self, rows: usize, n: usize, k: usize, x: &Buffer, id: usize, y: &Buffer) -> Pass {
        let params = &self.shared.params;
        ops::matmul(self.ctx, MatmulKind::Forward, rows, n, k, At::start(x), At::new(params, self.offset(id)), At::start(y), false)
    }

    /// Gradient of the parameter `id` (k, n): x^T dy with x (rows, k) and dy (rows, n).
    fn weight_grad(&self, rows: usize, n: usize, k: usize, x: &Buffer, dy: &Buffer, id: usize) -> Pass {
        let grads = &self.shared.grads;
        ops::matmul(self.ctx, MatmulKind::TransposeA, k, n, rows, At::start(x), At::start(dy), At::new(grads, self.offset(id)), false)
    }

    /// dx (rows, k) (+)= dy (rows, n) W^T, with W the parameter `id` of shape (k, n).
    #[allow(clippy::too_many_arguments)]
    fn input_grad(&self, rows: usize, n: usize, k: usize, dy: &Buffer, id: usize, dx: &Buffer, accumulate: bool) -> Pass {
        let params = &self.shared.params;
        ops::matmul(self.ctx, MatmulKind::TransposeB, rows, k, n, At::start(dy), At::new(params, self.offset(id)), At::start(dx), accumulate)
    }

    /// The forward pass of `acts`' batch up to the loss (stats LOSS and WEIGHT_SUM).
    pub fn forward(&self, acts: &Activations) -> Vec<Pass> {
        let ctx = self.ctx;
        let s = &acts.sizes;
        let (rows, c) = (s.rows, s.width);
        let params = &self.shared.params;
        let pos = gate_pos(self.config);
        let gate_spec = self.gate(s);
        let mut passes = vec![ops::embedding_forward(ctx, &self.embedding(s), &acts.tokens, params, &acts.x0)];

        let mut x_in = &acts.x0;
        for (ids, l) in self.layout.layers.iter().zip(&acts.layers) {
            // n = RMSNorm(x); q, k, v = n Wq, n Wk, n Wv
            passes.push(ops::rmsnorm_forward(ctx, &self.norm(s, ids.attn_norm), x_in, params, &l.n, &l.attn_rstd));
            passes.push(self.project(rows, c, c, &l.n, ids.wq, &l.q_raw));
            passes.push(self.project(rows, c, c, &l.n, ids.wk, &l.k_raw));
            passes.push(self.project(rows, c, c, &l.n, ids.wv, &l.v_raw));
            // gate values act(n Wg)
            if let (Some(wg), Some(z), Some(g)) = (ids.wg, &l.gate_z, &l.gate) {
                passes.push(self.project(rows, s.gate_width, c, &l.n, wg, z));
                passes.push(ops::gate_act_forward(ctx, &gate_spec, z, g));
            }
            // G4, G3, G2 gate q, k, v
            if let Some(g) = &l.gate {
                match pos {
                    GatePos::G4 => passes.push(ops::gate_apply_forward(ctx, &gate_spec, &l.q_raw, g, &l.q_gated)),
                    GatePos::G3 => passes.push(ops::gate_apply_forward(ctx, &gate_spec, &l.k_raw, g, &l.k_gated)),
                    GatePos::G2 => passes.push(ops::gate_apply_forward(ctx, &gate_spec, &l.v_raw, g, &l.v)),
                    _ => {}
                }
            }
            // RoPE after any gate
            if has_rope(self.config) {
                passes.push(ops::rope(ctx, &self.rope(s), &l.q_gated, &self.shared.rope_table, &l.q, false));
                passes.push(ops::rope(ctx, &self.rope(s), &l.k_gated, &self.shared.rope_table, &l.k, false));
            }
            // y = normalise(q k^T / sqrt(D)) v, and G1: y = gate(y)
            let sink_offset = ids.sink_logit.map_or(0, |id| self.offset(id));
            let att_spec = s.attention(self.config.variant.attn, sink_offset);
            let fused = match (&l.gate, pos) {
                (Some(g), GatePos::G1) => Some(ops::FusedGate { spec: &gate_spec, gate: g, y_gated: &l.y }),
                _ => None,
            };
            passes.push(ops::attention_forward(ctx, &att_spec, &l.q, &l.k, &l.v, params, &l.att, &l.y_sdpa, fused));
            // o = y Wo; G5: o = gate(o); x = x + o
            match (&l.o_raw, &l.gate) {
                (Some(o_raw), Some(g)) => {
                    passes.push(self.project(rows, c, c, &l.y, ids.wo, o_raw));
                    passes.push(ops::gate_apply_residual(ctx, &gate_spec, x_in, o_raw, g, &l.x_mid));
                }
                _ => passes.push(ops::matmul_residual(
                    ctx,
                    rows,
                    c,
                    c,
                    At::start(&l.y),
                    At::new(params, self.offset(ids.wo)),
                    x_in,
                    At::start(&l.x_mid),
                )),
            }
            // x = x + GELU(RMSNorm(x) W1) W2
            passes.push(ops::rmsnorm_forward(ctx, &self.norm(s, ids.mlp_norm), &l.x_mid, params, &l.m, &l.mlp_rstd));
            passes.push(self.project(rows, s.mlp_width, c, &l.m, ids.w1, &l.h));
            passes.push(ops::gelu_forward(ctx, rows * s.mlp_width, &l.h, &l.h_act));
            passes.push(ops::matmul_residual(
                ctx,
                rows,
                c,
                s.mlp_width,
                At::start(&l.h_act),
                At::new(params, self.offset(ids.w2)),
                &l.x_mid,
                At::start(&l.x_out),
            ));
            x_in = &l.x_out;
        }

        // logits = RMSNorm(x) Wlm; loss
        let final_norm = self.norm(s, self.layout.final_norm);
        passes.push(ops::rmsnorm_forward(ctx, &final_norm, x_in, params, &acts.final_n, &acts.final_rstd));
        passes.push(self.project(rows, s.vocab, c, &acts.final_n, self.layout.lm_head, &acts.logits));
        passes.push(ops::cross_entropy_forward(ctx, rows, s.vocab, &acts.logits, &acts.targets, &acts.row_loss));
        passes.push(ops::cross_entropy_reduce(ctx, rows, s.vocab, &acts.weights, &acts.row_loss, &acts.stats));
        passes
    }

    /// The backward pass into the gradient buffer, then the gradient norm and
    /// clip scale (stats GRAD_NORM, CLIP_SCALE, SKIP). Every parameter's
    /// gradient is written, none added to, so nothing needs clearing.
    pub fn backward(&self, acts: &Activations, d: &Scratch, clip: f64) -> Vec<Pass> {
        let ctx = self.ctx;
        let s = &acts.sizes;
        let (rows, c) = (s.rows, s.width);
        let params = &self.shared.params;
        let grads = &self.shared.grads;
        let pos = gate_pos(self.config);
        let gate_spec = self.gate(s);
        let mut passes = Vec::new();

        // logits = RMSNorm(x) Wlm
        passes.push(ops::cross_entropy_backward(ctx, rows, s.vocab, &acts.logits, &acts.targets, &acts.weights, &acts.stats, &d.dlogits));
        passes.push(self.weight_grad(rows, s.vocab, c, &acts.final_n, &d.dlogits, self.layout.lm_head));
        passes.push(self.input_grad(rows, s.vocab, c, &d.dlogits, self.layout.lm_head, &d.dfinal_n, false));
        let final_norm = self.norm(s, self.layout.final_norm);
        passes.push(ops::rmsnorm_backward_gain(ctx, &final_norm, &d.dfinal_n, acts.x_final(), &acts.final_rstd, grads));
        passes.push(ops::rmsnorm_backward_input(ctx, &final_norm, &d.dfinal_n, acts.x_final(), params, &acts.final_rstd, &d.dx, false));

        for (index, (ids, l)) in self.layout.layers.iter().zip(&acts.layers).enumerate().rev() {
            let x_in = if index == 0 { &acts.x0 } else { &acts.layers[index - 1].x_out };
            // x_out = x_mid + GELU(m W1) W2, m = RMSNorm(x_mid)
            passes.push(self.weight_grad(rows, c, s.mlp_width, &l.h_act, &d.dx, ids.w2));
            passes.push(self.input_grad(rows, c, s.mlp_width, &d.dx, ids.w2, &d.dh_act, false));
            passes.push(ops::gelu_backward(ctx, rows * s.mlp_width, &d.dh_act, &l.h, &d.dh));
            passes.push(self.weight_grad(rows, s.mlp_width, c, &l.m, &d.dh, ids.w1));
            passes.push(self.input_grad(rows, s.mlp_width, c, &d.dh, ids.w1, &d.dm, false));
            let mlp_norm = self.norm(s, ids.mlp_norm);
            passes.push(ops::rmsnorm_backward_gain(ctx, &mlp_norm, &d.dm, &l.x_mid, &l.mlp_rstd, grads));
            passes.push(ops::rmsnorm_backward_input(ctx, &mlp_norm, &d.dm, &l.x_mid, params, &l.mlp_rstd, &d.dx, true));

            // x_mid = x_in + o; G5: o = gate(o_raw)
            let mut do_raw = &d.dx;
            if let (Some(o_raw), Some(g), Some(z), GatePos::G5) = (&l.o_raw, &l.gate, &l.gate_z, pos) {
                passes.push(ops::gate_backward_input(ctx, &gate_spec, &d.dx, g, &d.do_raw));
                passes.push(ops::gate_backward_gate(ctx, &gate_spec, &d.dx, o_raw, z, &d.dz));
                do_raw = &d.do_raw;
            }
            // o_raw = y Wo
            passes.push(self.weight_grad(rows, c, c, &l.y, do_raw, ids.wo));
            passes.push(self.input_grad(rows, c, c, do_raw, ids.wo, &d.dy, false));
            // G1: y = gate(y_sdpa)
            let mut dy_sdpa = &d.dy;
            if let (Some(g), Some(z), GatePos::G1) = (&l.gate, &l.gate_z, pos) {
                passes.push(ops::gate_backward_input(ctx, &gate_spec, &d.dy, g, &d.dy_sdpa));
                passes.push(ops::gate_backward_gate(ctx, &gate_spec, &d.dy, &l.y_sdpa, z, &d.dz));
                dy_sdpa = &d.dy_sdpa;
            }
            // y_sdpa = normalise(q k^T / sqrt(D)) v
            let sink_offset = ids.sink_logit.map_or(0, |id| self.offset(id));
            let att_spec = s.attention(self.config.variant.attn, sink_offset);
            passes.push(ops::attention_backward_rows(ctx, &att_spec, dy_sdpa, &l.k, &l.v, &l.att, &d.ds, &d.dq));
            passes.push(ops::attention_backward_columns(ctx, &att_spec, dy_sdpa, &l.q, &l.att, &d.ds, &d.dk, &d.dv));
            if ids.sink_logit.is_some() {
                passes.push(ops::attention_backward_sink(ctx, &att_spec, &d.ds, grads));
            }
            // q, k = RoPE(q, k): the backward rotates by the negative angle
            let (mut dq, mut dk, mut dv) = (&d.dq, &d.dk, &d.dv);
            if has_rope(self.config) {
                passes.push(ops::rope(ctx, &self.rope(s), &d.dq, &self.shared.rope_table, &d.dq_unrotated, true));
                passes.push(ops::rope(ctx, &self.rope(s), &d.dk, &self.shared.rope_table, &d.dk_unrotated, true));
                dq = &d.dq_unrotated;
                dk = &d.dk_unrotated;
            }
            // G4, G3, G2: q, k, v = gate(q_raw, k_raw, v_raw)
            if let (Some(g), Some(z)) = (&l.gate, &l.gate_z) {
                let gated = match pos {
                    GatePos::G4 => Some((&mut dq, &l.q_raw)),
                    GatePos::G3 => Some((&mut dk, &l.k_raw)),
                    GatePos::G2 => Some((&mut dv, &l.v_raw)),
                    _ => None,
                };
                if let Some((dt, t_raw)) = gated {
                    passes.push(ops::gate_backward_input(ctx, &gate_spec, dt, g, &d.d_gated));
                    passes.push(ops::gate_backward_gate(ctx, &gate_spec, dt, t_raw, z, &d.dz));
                    *dt = &d.d_gated;
                }
            }
            // q_raw, k_raw, v_raw = n Wq, n Wk, n Wv
            passes.push(self.weight_grad(rows, c, c, &l.n, dq, ids.wq));
            passes.push(self.weight_grad(rows, c, c, &l.n, dk, ids.wk));
            passes.push(self.weight_grad(rows, c, c, &l.n, dv, ids.wv));
            passes.push(self.input_grad(rows, c, c, dq, ids.wq, &d.dn, false));
            passes.push(self.input_grad(rows, c, c, dk, ids.wk, &d.dn, true));
            passes.push(self.input_grad(rows, c, c, dv, ids.wv, &d.dn, true));
            // gate values act(n Wg)
            if let Some(wg) = ids.wg {
                passes.push(self.weight_grad(rows, s.gate_width, c, &l.n, &d.dz, wg));
                passes.push(self.input_grad(rows, s.gate_width, c, &d.dz, wg, &d.dn, true));
            }
            // n = RMSNorm(x_in); x_mid = x_in + o
            let attn_norm = self.norm(s, ids.attn_norm);
            passes.push(ops::rmsnorm_backward_gain(ctx, &attn_norm, &d.dn, x_in, &l.attn_rstd, grads));
            passes.push(ops::rmsnorm_backward_input(ctx, &attn_norm, &d.dn, x_in, params, &l.attn_rstd, &d.dx, true));
        }

        // x = tok_emb[ids] (+ pos_emb[t])
        let embedding = self.embedding(s);
        passes.push(ops::embedding_backward_tokens(ctx, &embedding, &acts.token_rows, &d.dx, grads));
        if self.layout.pos_emb.is_some() {
            passes.push(ops::embedding_backward_positions(ctx, &embedding, &d.dx, grads));
        }

        // global gradient norm and clip scale
        let total = self.layout.total;
        passes.push(ops::clip_partial_sums(ctx, total, clip, grads, &self.shared.partials));
        passes.push(ops::clip_finish(ctx, total, clip, &self.shared.partials, &acts.stats));
        passes
    }
}
