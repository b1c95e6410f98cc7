//! The transformer's forward and backward passes on the CPU.
//!
//! Decoder-only, pre-norm, no biases:
//!
//! ```text
//! x = tok_emb[ids] (+ pos_emb[0..T] when positions are learned)      (N, C)
//! for each layer:
//!   n = RMSNorm(x);  q, k, v = n Wq, n Wk, n Wv                       (N, C)
//!   G4: q = gate(q)   G3: k = gate(k)   G2: v = gate(v)
//!   RoPE (when chosen) rotates q and k, after any gate
//!   y = normalise(q k^T / sqrt(D), causal) v                          (N, C)
//!   G1: y = gate(y);  o = y Wo;  G5: o = gate(o);  x = x + o
//!   x = x + GELU(RMSNorm(x) W1) W2                                    C -> 4C -> C
//! logits = RMSNorm(x) Wlm                                             (N, V)
//! ```
//!
//! `gate(t) = t * act(n Wg)` or `t + act(n Wg)`: the gate input is always n,
//! whatever the position. The backward pass walks the same steps in reverse;
//! each step repeats the forward line it differentiates.

use ndarray::{s, Array1, Array2, ArrayView2, Axis};

use crate::config::{GatePos, ModelConfig, PosEnc};
use crate::ops::{self, AttentionOutput};
use crate::params::{Layout, Tensors};
use crate::scalar::Scalar;
use crate::tasks::Batch;

/// Intermediates of one block's forward pass, kept for the backward pass and the metrics.
pub struct LayerCache<F> {
    /// (N, C) residual stream entering the block.
    pub x_in: Array2<F>,
    /// (N) reciprocal RMS of the pre-attention norm.
    pub attn_rstd: Array1<F>,
    /// (N, C) input after pre-norm: feeds Wq, Wk, Wv and the gate.
    pub n: Array2<F>,
    /// (N, C) projections before any gate or rotation.
    pub q_raw: Array2<F>,
    pub k_raw: Array2<F>,
    pub v_raw: Array2<F>,
    /// (N, G) gate pre-activations z = n Wg and values act(z).
    pub gate_z: Option<Array2<F>>,
    pub gate: Option<Array2<F>>,
    /// (N, C) what attention used: gated and rotated q and k, gated v.
    pub q: Array2<F>,
    pub k: Array2<F>,
    pub v: Array2<F>,
    pub attn: AttentionOutput<F>,
    /// (N, C) SDPA output after the G1 gate (equal to `attn.y` without it).
    pub y: Array2<F>,
    /// (N, C) y Wo, before the G5 gate.
    pub o_raw: Array2<F>,
    /// (N, C) residual stream after the attention block.
    pub x_mid: Array2<F>,
    pub mlp_rstd: Array1<F>,
    /// (N, C) input of W1 after pre-norm.
    pub m: Array2<F>,
    /// (N, 4C) before and after GELU, and GELU's tanh term.
    pub h: Array2<F>,
    pub h_act: Array2<F>,
    pub h_tanh: Array2<F>,
    /// (N, C) residual stream leaving the block.
    pub x_out: Array2<F>,
}

/// The whole forward pass, kept for backward and metrics.
pub struct ForwardCache<F> {
    pub layers: Vec<LayerCache<F>>,
    /// (N, C) residual stream after the last block.
    pub x_final: Array2<F>,
    pub final_rstd: Array1<F>,
    /// (N, C) input of the output head.
    pub final_n: Array2<F>,
    /// (N, V)
    pub logits: Array2<F>,
    /// (N, V) softmax of the logits.
    pub probs: Array2<F>,
    /// Weighted mean cross-entropy of the batch.
    pub loss: f64,
    /// (N) cross-entropy of every position's prediction.
    pub row_loss: Vec<f64>,
}

fn gate_at<'a, F: Scalar>(cache_gate: &'a Option<Array2<F>>, config: &ModelConfig, pos: GatePos) -> Option<ArrayView2<'a, F>> {
    if config.variant.gate_pos == pos {
        cache_gate.as_ref().map(|g| g.view())
    } else {
        None
    }
}

/// Runs the model on `batch` and keeps every intermediate.
pub fn forward<F: Scalar>(config: &ModelConfig, layout: &Layout, params: &Tensors<F>, batch: &Batch) -> ForwardCache<F> {
    let (b, t, c) = (batch.batch, batch.seq_len, config.width);
    let n_rows = b * t;
    let heads = config.heads;
    let head_dim = config.head_dim();
    let variant = config.variant;

    // Embeddings: x = tok_emb[ids] (+ pos_emb[t])
    let tok_emb = params.mat(layout, layout.tok_emb);
    let mut x = Array2::<F>::zeros((n_rows, c));
    for (i, mut row) in x.axis_iter_mut(Axis(0)).enumerate() {
        row.assign(&tok_emb.row(batch.tokens[i] as usize));
        if let Some(pos_id) = layout.pos_emb {
            row += &params.mat(layout, pos_id).row(i % t);
        }
    }

    let rope = (config.pos_enc == PosEnc::Rope).then(|| ops::rope_tables::<F>(t, head_dim));

    let mut layers = Vec::with_capacity(config.layers);
    for ids in &layout.layers {
        let x_in = x;
        // n = RMSNorm(x); q, k, v = n Wq, n Wk, n Wv
        let (n, attn_rstd) = ops::rmsnorm_forward(x_in.view(), params.vec(layout, ids.attn_norm));
        let q_raw = n.dot(&params.mat(layout, ids.wq));
        let k_raw = n.dot(&params.mat(layout, ids.wk));
        let v_raw = n.dot(&params.mat(layout, ids.wv));
        // gate values act(n Wg)
        let (gate_z, gate) = match ids.wg {
            Some(wg) => {
                let z = n.dot(&params.mat(layout, wg));
                let g = ops::gate_act_forward(z.view(), variant.act);
                (Some(z), Some(g))
            }
            None => (None, None),
        };
        // G4, G3, G2 gate q, k, v
        let gated = |raw: &Array2<F>, pos: GatePos| match gate_at(&gate, config, pos) {
            Some(g) => ops::apply_gate_forward(raw.view(), g, &variant, head_dim),
            None => raw.clone(),
        };
        let mut q = gated(&q_raw, GatePos::G4);
        let mut k = gated(&k_raw, GatePos::G3);
        let v = gated(&v_raw, GatePos::G2);
        // RoPE after any gate
        if let Some((cos, sin)) = &rope {
            ops::rope_rotate(q.view_mut(), cos, sin, t, heads, false);
            ops::rope_rotate(k.view_mut(), cos, sin, t, heads, false);
        }
        // y = normalise(q k^T / sqrt(D)) v
        let sink = ids.sink_logit.map(|id| params.vec(layout, id));
        let attn = ops::attention_forward(q.view(), k.view(), v.view(), sink, variant.attn, b, t, heads);
        // G1: y = gate(y)
        let y = match gate_at(&gate, config, GatePos::G1) {
            Some(g) => ops::apply_gate_forward(attn.y.view(), g, &variant, head_dim),
            None => attn.y.clone(),
        };
        // o = y Wo; G5: o = gate(o); x = x + o
        let o_raw = y.dot(&params.mat(layout, ids.wo));
        let o = match gate_at(&gate, config, GatePos::G5) {
            Some(g) => ops::apply_gate_forward(o_raw.view(), g, &variant, head_dim),
            None => o_raw.clone(),
        };
        let x_mid = &x_in + &o;
        // x = x + GELU(RMSNorm(x) W1) W2
        let (m, mlp_rstd) = ops::rmsnorm_forward(x_mid.view(), params.vec(layout, ids.mlp_norm));
        let h = m.dot(&params.mat(layout, ids.w1));
        let (h_act, h_tanh) = ops::gelu_forward(h.view());
        let x_out = &x_mid + &h_act.dot(&params.mat(layout, ids.w2));
        x = x_out.clone();
        layers.push(LayerCache {
            x_in,
            attn_rstd,
            n,
            q_raw,
            k_raw,
            v_raw,
            gate_z,
            gate,
            q,
            k,
            v,
            attn,
            y,
            o_raw,
            x_mid,
            mlp_rstd,
            m,
            h,
            h_act,
            h_tanh,
            x_out,
        });
    }

    // logits = RMSNorm(x) Wlm
    let (final_n, final_rstd) = ops::rmsnorm_forward(x.view(), params.vec(layout, layout.final_norm));
    let logits = final_n.dot(&params.mat(layout, layout.lm_head));
    let (loss, row_loss, probs) = ops::cross_entropy_forward(logits.view(), &batch.targets, &batch.weights);
    ForwardCache { layers, x_final: x, final_rstd, final_n, logits, probs, loss, row_loss }
}

/// Computes the gradient of the batch's loss with respect to every parameter.
pub fn backward<F: Scalar>(
    config: &ModelConfig,
    layout: &Layout,
    params: &Tensors<F>,
    batch: &Batch,
    cache: &ForwardCache<F>,
) -> Tensors<F> {
    let (b, t) = (batch.batch, batch.seq_len);
    let heads = config.heads;
    let head_dim = config.head_dim();
    let variant = config.variant;
    let mut grads = Tensors::zeros(layout);

    // logits = RMSNorm(x) Wlm
    let dlogits = ops::cross_entropy_backward(cache.probs.view(), &batch.targets, &batch.weights);
    let lm_head = params.mat(layout, layout.lm_head);
    grads.mat_mut(layout, layout.lm_head).assign(&cache.final_n.t().dot(&dlogits));
    let dfinal_n = dlogits.dot(&lm_head.t());
    let (mut dx, dgain) = ops::rmsnorm_backward(
        dfinal_n.view(),
        cache.x_final.view(),
        params.vec(layout, layout.final_norm),
        cache.final_rstd.view(),
    );
    grads.vec_mut(layout, layout.final_norm).assign(&dgain);

    let rope = (config.pos_enc == PosEnc::Rope).then(|| ops::rope_tables::<F>(t, head_dim));

    for (ids, lc) in layout.layers.iter().zip(&cache.layers).rev() {
        // x_out = x_mid + GELU(m W1) W2, m = RMSNorm(x_mid)
        let dx_out = dx;
        grads.mat_mut(layout, ids.w2).assign(&lc.h_act.t().dot(&dx_out));
        let dh_act = dx_out.dot(&params.mat(layout, ids.w2).t());
        let dh = ops::gelu_backward(dh_act.view(), lc.h.view(), lc.h_tanh.view());
        grads.mat_mut(layout, ids.w1).assign(&lc.m.t().dot(&dh));
        let dm = dh.dot(&params.mat(layout, ids.w1).t());
        let (dx_mid_norm, dgain_mlp) =
            ops::rmsnorm_backward(dm.view(), lc.x_mid.view(), params.vec(layout, ids.mlp_norm), lc.mlp_rstd.view());
        grads.vec_mut(layout, ids.mlp_norm).assign(&dgain_mlp);
        let dx_mid = dx_out + dx_mid_norm;

        // x_mid = x_in + o
        let mut dgate = lc.gate.as_ref().map(|g| Array2::<F>::zeros(g.dim()));
        let mut gate_backward = |dout: Array2<F>, t_in: &Array2<F>, pos: GatePos| -> Array2<F> {
            match gate_at(&lc.gate, config, pos) {
                Some(g) => {
                    let (dt, dg) = ops::apply_gate_backward(dout.view(), t_in.view(), g, &variant, head_dim);
                    if let Some(acc) = dgate.as_mut() {
                        *acc += &dg;
                    }
                    dt
                }
                None => dout,
            }
        };
        // G5: o = gate(o_raw)
        let do_raw = gate_backward(dx_mid.clone(), &lc.o_raw, GatePos::G5);
        // o_raw = y Wo
        grads.mat_mut(layout, ids.wo).assign(&lc.y.t().dot(&do_raw));
        let dy = do_raw.dot(&params.mat(layout, ids.wo).t());
        // G1: y = gate(y_sdpa)
        let dy_sdpa = gate_backward(dy, &lc.attn.y, GatePos::G1);
        // y_sdpa = normalise(q k^T / sqrt(D)) v
        let ag = ops::attention_backward(
            dy_sdpa.view(),
            lc.q.view(),
            lc.k.view(),
            lc.v.view(),
            &lc.attn,
            variant.attn,
            b,
            t,
            heads,
        );
        if let (Some(id), Some(dsink)) = (ids.sink_logit, ag.dsink.as_ref()) {
            grads.vec_mut(layout, id).assign(dsink);
        }
        let (mut dq, mut dk, dv) = (ag.dq, ag.dk, ag.dv);
        // q, k = RoPE(q, k): the backward rotates by the negative angle
        if let Some((cos, sin)) = &rope {
            ops::rope_rotate(dq.view_mut(), cos, sin, t, heads, true);
            ops::rope_rotate(dk.view_mut(), cos, sin, t, heads, true);
        }
        // G4, G3, G2: q, k, v = gate(q_raw, k_raw, v_raw)
        let dq_raw = gate_backward(dq, &lc.q_raw, GatePos::G4);
        let dk_raw = gate_backward(dk, &lc.k_raw, GatePos::G3);
        let dv_raw = gate_backward(dv, &lc.v_raw, GatePos::G2);
        // q_raw, k_raw, v_raw = n Wq, n Wk, n Wv
        let nt = lc.n.t();
        grads.mat_mut(layout, ids.wq).assign(&nt.dot(&dq_raw));
        grads.mat_mut(layout, ids.wk).assign(&nt.dot(&dk_raw));
        grads.mat_mut(layout, ids.wv).assign(&nt.dot(&dv_raw));
        let mut dn = dq_raw.dot(&params.mat(layout, ids.wq).t());
        dn += &dk_raw.dot(&params.mat(layout, ids.wk).t());
        dn += &dv_raw.dot(&params.mat(layout, ids.wv).t());
        // gate values act(n Wg)
        if let (Some(wg), Some(dgate), Some(z), Some(g)) = (ids.wg, dgate, lc.gate_z.as_ref(), lc.gate.as_ref()) {
            let dz = ops::gate_act_backward(dgate.view(), z.view(), g.view(), variant.act);
            grads.mat_mut(layout, wg).assign(&nt.dot(&dz));
            dn += &dz.dot(&params.mat(layout, wg).t());
        }
        // n = RMSNorm(x_in); x_mid = x_in + o
        let (dx_norm, dgain_attn) =
            ops::rmsnorm_backward(dn.view(), lc.x_in.view(), params.vec(layout, ids.attn_norm), lc.attn_rstd.view());
        grads.vec_mut(layout, ids.attn_norm).assign(&dgain_attn);
        dx = dx_mid + dx_norm;
    }

    // x = tok_emb[ids] (+ pos_emb[t])
    for (i, drow) in dx.axis_iter(Axis(0)).enumerate() {
        let token = batch.tokens[i] as usize;
        let mut emb = grads.mat_mut(layout, layout.tok_emb);
        let mut row = emb.slice_mut(s![token, ..]);
        row += &drow;
        if let Some(pos_id) = layout.pos_emb {
            let mut pos = grads.mat_mut(layout, pos_id);
            let mut prow = pos.slice_mut(s![i % t, ..]);
            prow += &drow;
        }
    }
    grads
}
