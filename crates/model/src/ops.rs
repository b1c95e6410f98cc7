//! The operations of the model as forward/backward pairs, each backward right
//! under its forward. Argument order: outputs' gradients first, then the
//! forward's inputs, then saved values, then sizes. These are the plain CPU
//! references that the GPU kernels are tested against, so they favour clarity.
//!
//! Activations are 2-D: rows are the N = B * T tokens, columns are channels.
//! Per-head tensors use the concatenated-head layout, channel c = h * D + d.

use ndarray::{s, Array1, Array2, Array3, Array4, ArrayView1, ArrayView2, ArrayViewMut2, Axis, Zip};

use crate::config::{AttnNorm, GateAct, GateForm, Variant};
use crate::scalar::Scalar;

/// Epsilon inside RMSNorm's square root.
pub const RMS_EPS: f64 = 1e-5;

// ---------------------------------------------------------------------------
// RMSNorm: out = x / sqrt(mean(x^2) + eps) * gain

/// Returns the normalised rows (N, C) and each row's reciprocal RMS (N).
pub fn rmsnorm_forward<F: Scalar>(x: ArrayView2<F>, gain: ArrayView1<F>) -> (Array2<F>, Array1<F>) {
    let (n, c) = x.dim();
    let mut out = Array2::zeros((n, c));
    let mut rstd = Array1::zeros(n);
    let eps = F::of(RMS_EPS);
    let inv_c = F::one() / F::of(c as f64);
    for i in 0..n {
        let row = x.row(i);
        let mean_sq = row.iter().map(|&v| v * v).sum::<F>() * inv_c;
        let r = F::one() / (mean_sq + eps).sqrt();
        rstd[i] = r;
        Zip::from(out.row_mut(i)).and(row).and(gain).for_each(|o, &v, &g| *o = v * r * g);
    }
    (out, rstd)
}

/// With xhat = x * r: dgain = sum over rows of dout * xhat, and
/// dx = r * (dxhat - xhat * mean(dxhat * xhat)) where dxhat = dout * gain.
/// Returns (dx, dgain).
pub fn rmsnorm_backward<F: Scalar>(
    dout: ArrayView2<F>,
    x: ArrayView2<F>,
    gain: ArrayView1<F>,
    rstd: ArrayView1<F>,
) -> (Array2<F>, Array1<F>) {
    let (n, c) = x.dim();
    let mut dx = Array2::zeros((n, c));
    let mut dgain = Array1::zeros(c);
    let inv_c = F::one() / F::of(c as f64);
    let mut dxhat = Array1::zeros(c);
    for i in 0..n {
        let r = rstd[i];
        let xr = x.row(i);
        let dr = dout.row(i);
        let mut dot = F::zero();
        for j in 0..c {
            let xhat = xr[j] * r;
            dgain[j] += dr[j] * xhat;
            dxhat[j] = dr[j] * gain[j];
            dot += dxhat[j] * xhat;
        }
        let mean_dot = dot * inv_c;
        let mut dxr = dx.row_mut(i);
        for j in 0..c {
            let xhat = xr[j] * r;
            dxr[j] = r * (dxhat[j] - xhat * mean_dot);
        }
    }
    (dx, dgain)
}

// ---------------------------------------------------------------------------
// GELU, tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))

const GELU_K: f64 = 0.797_884_560_802_865_4; // sqrt(2 / pi)
const GELU_A: f64 = 0.044_715;

/// tanh(u) = 1 - 2 / (exp(2u) + 1). One exp is several times cheaper than
/// libm's tanh, and GELU uses tanh inside 1 + tanh, where the absolute error
/// (about one unit in the last place of 1) is what matters.
#[inline]
fn fast_tanh<F: Scalar>(u: F) -> F {
    let two = F::of(2.0);
    // exp overflows to inf for large u, which still gives 1 - 0 = 1.
    F::one() - two / ((two * u).exp() + F::one())
}

/// Returns GELU(x) and the tanh term of each element, which the backward pass
/// reuses.
pub fn gelu_forward<F: Scalar>(x: ArrayView2<F>) -> (Array2<F>, Array2<F>) {
    let k = F::of(GELU_K);
    let a = F::of(GELU_A);
    let half = F::of(0.5);
    let tanh = x.mapv(|v| fast_tanh(k * (v + a * v * v * v)));
    let mut out = Array2::zeros(x.dim());
    Zip::from(&mut out).and(x).and(&tanh).for_each(|o, &v, &t| *o = half * v * (F::one() + t));
    (out, tanh)
}

/// d/dx = 0.5 (1 + t) + 0.5 x (1 - t^2) k (1 + 3 a x^2), with t the saved tanh.
pub fn gelu_backward<F: Scalar>(dout: ArrayView2<F>, x: ArrayView2<F>, tanh: ArrayView2<F>) -> Array2<F> {
    let k = F::of(GELU_K);
    let a = F::of(GELU_A);
    let half = F::of(0.5);
    let three = F::of(3.0);
    let mut dx = Array2::zeros(x.dim());
    Zip::from(&mut dx).and(dout).and(x).and(tanh).for_each(|d, &g, &v, &t| {
        let dt = (F::one() - t * t) * k * (F::one() + three * a * v * v);
        *d = g * half * ((F::one() + t) + v * dt);
    });
    dx
}

// ---------------------------------------------------------------------------
// Gate activation: act(z), sigmoid or SiLU = z * sigmoid(z)

#[inline]
pub fn sigmoid<F: Scalar>(z: F) -> F {
    if z >= F::zero() {
        F::one() / (F::one() + (-z).exp())
    } else {
        let e = z.exp();
        e / (F::one() + e)
    }
}

pub fn gate_act_forward<F: Scalar>(z: ArrayView2<F>, act: GateAct) -> Array2<F> {
    match act {
        GateAct::Sigmoid => z.mapv(sigmoid),
        GateAct::Silu => z.mapv(|v| v * sigmoid(v)),
    }
}

/// sigmoid' = s (1 - s); silu' = s (1 + z (1 - s)). `gate` contains the forward
/// values act(z): for sigmoid it is s itself, so no exp is recomputed.
pub fn gate_act_backward<F: Scalar>(dgate: ArrayView2<F>, z: ArrayView2<F>, gate: ArrayView2<F>, act: GateAct) -> Array2<F> {
    let mut dz = Array2::zeros(z.dim());
    Zip::from(&mut dz).and(dgate).and(z).and(gate).for_each(|d, &g, &v, &value| {
        let slope = match act {
            GateAct::Sigmoid => value * (F::one() - value),
            GateAct::Silu => {
                let s = sigmoid(v);
                s * (F::one() + v * (F::one() - s))
            }
        };
        *d = g * slope;
    });
    dz
}

// ---------------------------------------------------------------------------
// Gate application: t' = t * g[idx(c)] or t + g[idx(c)], where idx maps each
// channel of t (N, C) to one of the G gate values (see Variant::gate_index).

pub fn apply_gate_forward<F: Scalar>(t: ArrayView2<F>, gate: ArrayView2<F>, variant: &Variant, head_dim: usize) -> Array2<F> {
    let (n, c) = t.dim();
    let mut out = Array2::zeros((n, c));
    for i in 0..n {
        for ch in 0..c {
            let g = gate[[i, variant.gate_index(ch, head_dim)]];
            out[[i, ch]] = match variant.form {
                GateForm::Multiplicative => t[[i, ch]] * g,
                GateForm::Additive => t[[i, ch]] + g,
            };
        }
    }
    out
}

/// Returns (dt, dgate): dt = dout * g (multiplicative) or dout (additive), and
/// dgate sums dout * t (or dout) over the channels that share a gate value.
pub fn apply_gate_backward<F: Scalar>(
    dout: ArrayView2<F>,
    t: ArrayView2<F>,
    gate: ArrayView2<F>,
    variant: &Variant,
    head_dim: usize,
) -> (Array2<F>, Array2<F>) {
    let (n, c) = t.dim();
    let mut dt = Array2::zeros((n, c));
    let mut dgate = Array2::zeros(gate.dim());
    for i in 0..n {
        for ch in 0..c {
            let gi = variant.gate_index(ch, head_dim);
            let d = dout[[i, ch]];
            match variant.form {
                GateForm::Multiplicative => {
                    dt[[i, ch]] = d * gate[[i, gi]];
                    dgate[[i, gi]] += d * t[[i, ch]];
                }
                GateForm::Additive => {
                    dt[[i, ch]] = d;
                    dgate[[i, gi]] += d;
                }
            }
        }
    }
    (dt, dgate)
}

// ---------------------------------------------------------------------------
// RoPE: within each head, channel pairs (j, j + D/2) rotate by the angle
// pos * base^(-2j / D).

/// Base of the rotary frequencies.
pub const ROPE_BASE: f64 = 10000.0;

/// Cosines and sines, each (T, D/2), computed in f64.
pub fn rope_tables<F: Scalar>(seq_len: usize, head_dim: usize) -> (Array2<F>, Array2<F>) {
    let half = head_dim / 2;
    let mut cos = Array2::zeros((seq_len, half));
    let mut sin = Array2::zeros((seq_len, half));
    for t in 0..seq_len {
        for j in 0..half {
            let freq = ROPE_BASE.powf(-2.0 * j as f64 / head_dim as f64);
            let angle = t as f64 * freq;
            cos[[t, j]] = F::of(angle.cos());
            sin[[t, j]] = F::of(angle.sin());
        }
    }
    (cos, sin)
}

/// Rotates x (N, C) in place. `inverse` rotates by the negative angle, which is
/// the backward pass (the rotation's transpose).
pub fn rope_rotate<F: Scalar>(mut x: ArrayViewMut2<F>, cos: &Array2<F>, sin: &Array2<F>, seq_len: usize, heads: usize, inverse: bool) {
    let (n, c) = x.dim();
    let head_dim = c / heads;
    let half = head_dim / 2;
    for i in 0..n {
        let pos = i % seq_len;
        for h in 0..heads {
            let base = h * head_dim;
            for j in 0..half {
                let (co, mut si) = (cos[[pos, j]], sin[[pos, j]]);
                if inverse {
                    si = -si;
                }
                let a = x[[i, base + j]];
                let b = x[[i, base + j + half]];
                x[[i, base + j]] = a * co - b * si;
                x[[i, base + j + half]] = a * si + b * co;
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Attention, per (batch, head):
//   pass 1: scores s = q k^T / sqrt(D), causal (key j <= query i)
//   pass 2: normalise each row into A (softmax and its variants, or sigmoid)
//   pass 3: y = A v

/// Attention weights and what the normaliser saved.
pub struct AttentionOutput<F> {
    /// (N, C) the SDPA output, heads concatenated.
    pub y: Array2<F>,
    /// (B, H, T, T) attention weights; zero above the diagonal.
    pub att: Array4<F>,
    /// (B, H, T) mass that went to the null slot (softmax1, sink-logit);
    /// zero for the other normalisers.
    pub null: Array3<F>,
}

/// Normalises one causal row of scores `s` (keys 0..=i) into `a`, and returns
/// the null-slot mass.
///
/// softmax1 and sink-logit are softmax with one extra logit (0, or the learned
/// b_h) that joins the row and is dropped after normalising. The row maximum
/// includes it, which keeps exp from overflowing. With b_h = 0 the two are the same
/// arithmetic, so they agree exactly.
fn normalise_row<F: Scalar>(s: &[F], a: &mut [F], norm: AttnNorm, sink_logit: F, ln_t: F) -> F {
    match norm {
        AttnNorm::Sigmoid => {
            for (aj, &sj) in a.iter_mut().zip(s) {
                *aj = sigmoid(sj - ln_t);
            }
            F::zero()
        }
        AttnNorm::Softmax | AttnNorm::Softmax1 | AttnNorm::SinkLogit => {
            let extra = match norm {
                AttnNorm::Softmax => None,
                AttnNorm::Softmax1 => Some(F::zero()),
                _ => Some(sink_logit),
            };
            let mut m = s.iter().copied().fold(F::neg_infinity(), F::max);
            if let Some(e) = extra {
                m = m.max(e);
            }
            let mut sum = F::zero();
            for (aj, &sj) in a.iter_mut().zip(s) {
                *aj = (sj - m).exp();
                sum += *aj;
            }
            let null_exp = extra.map_or(F::zero(), |e| (e - m).exp());
            let denom = sum + null_exp;
            for aj in a.iter_mut() {
                *aj = *aj / denom;
            }
            null_exp / denom
        }
    }
}

/// Backward of [`normalise_row`]: fills `ds` and returns d(sink logit).
/// Softmax family: ds_j = a_j (da_j - sum_k a_k da_k), and the dropped null
/// slot's logit gets -null * sum_k a_k da_k. Sigmoid: ds_j = da_j a_j (1 - a_j).
fn normalise_row_backward<F: Scalar>(da: &[F], a: &[F], null: F, norm: AttnNorm, ds: &mut [F]) -> F {
    match norm {
        AttnNorm::Sigmoid => {
            for ((d, &g), &aj) in ds.iter_mut().zip(da).zip(a) {
                *d = g * aj * (F::one() - aj);
            }
            F::zero()
        }
        _ => {
            let dot: F = da.iter().zip(a).map(|(&g, &aj)| g * aj).sum();
            for ((d, &g), &aj) in ds.iter_mut().zip(da).zip(a) {
                *d = aj * (g - dot);
            }
            -null * dot
        }
    }
}

/// Computes causal attention for all (batch, head) pairs. q, k, v are (N, C)
/// with N = batch * seq_len; `sink_logits` is (H) for the sink-logit
/// normaliser.
pub fn attention_forward<F: Scalar>(
    q: ArrayView2<F>,
    k: ArrayView2<F>,
    v: ArrayView2<F>,
    sink_logits: Option<ArrayView1<F>>,
    norm: AttnNorm,
    batch: usize,
    seq_len: usize,
    heads: usize,
) -> AttentionOutput<F> {
    let (n, c) = q.dim();
    let d = c / heads;
    let scale = F::one() / F::of(d as f64).sqrt();
    let ln_t = F::of((seq_len as f64).ln());
    let mut y = Array2::zeros((n, c));
    let mut att = Array4::zeros((batch, heads, seq_len, seq_len));
    let mut null = Array3::zeros((batch, heads, seq_len));
    let mut row_scores = vec![F::zero(); seq_len];
    let mut row_att = vec![F::zero(); seq_len];
    for b in 0..batch {
        let rows = b * seq_len..(b + 1) * seq_len;
        for h in 0..heads {
            let cols = h * d..(h + 1) * d;
            let qh = q.slice(s![rows.clone(), cols.clone()]);
            let kh = k.slice(s![rows.clone(), cols.clone()]);
            let vh = v.slice(s![rows.clone(), cols.clone()]);
            // pass 1: (T, T) scores; entries above the diagonal are ignored
            let scores = qh.dot(&kh.t()) * scale;
            let sink = sink_logits.map_or(F::zero(), |l| l[h]);
            // pass 2: normalise each causal row
            let mut a = att.slice_mut(s![b, h, .., ..]);
            for i in 0..seq_len {
                row_scores[..=i].copy_from_slice(&scores.row(i).as_slice().expect("dot output is contiguous")[..=i]);
                null[[b, h, i]] = normalise_row(&row_scores[..=i], &mut row_att[..=i], norm, sink, ln_t);
                for j in 0..=i {
                    a[[i, j]] = row_att[j];
                }
            }
            // pass 3: y = A v
            let yh = a.dot(&vh);
            y.slice_mut(s![rows.clone(), cols]).assign(&yh);
        }
    }
    AttentionOutput { y, att, null }
}

/// Gradients of [`attention_forward`].
pub struct AttentionGrads<F> {
    pub dq: Array2<F>,
    pub dk: Array2<F>,
    pub dv: Array2<F>,
    /// (H), present for the sink-logit normaliser.
    pub dsink: Option<Array1<F>>,
}

/// Backward of the three passes in reverse: pass 3 gives dA = dy v^T and
/// dv = A^T dy; pass 2 gives dS row by row; pass 1 gives dq = dS k / sqrt(D)
/// and dk = dS^T q / sqrt(D).
pub fn attention_backward<F: Scalar>(
    dy: ArrayView2<F>,
    q: ArrayView2<F>,
    k: ArrayView2<F>,
    v: ArrayView2<F>,
    fwd: &AttentionOutput<F>,
    norm: AttnNorm,
    batch: usize,
    seq_len: usize,
    heads: usize,
) -> AttentionGrads<F> {
    let (n, c) = q.dim();
    let d = c / heads;
    let scale = F::one() / F::of(d as f64).sqrt();
    let mut dq = Array2::zeros((n, c));
    let mut dk = Array2::zeros((n, c));
    let mut dv = Array2::zeros((n, c));
    let mut dsink = Array1::zeros(heads);
    let mut ds = Array2::zeros((seq_len, seq_len));
    let mut row_a = vec![F::zero(); seq_len];
    let mut row_da = vec![F::zero(); seq_len];
    let mut row_ds = vec![F::zero(); seq_len];
    for b in 0..batch {
        let rows = b * seq_len..(b + 1) * seq_len;
        for h in 0..heads {
            let cols = h * d..(h + 1) * d;
            let qh = q.slice(s![rows.clone(), cols.clone()]);
            let kh = k.slice(s![rows.clone(), cols.clone()]);
            let vh = v.slice(s![rows.clone(), cols.clone()]);
            let dyh = dy.slice(s![rows.clone(), cols.clone()]);
            let a = fwd.att.slice(s![b, h, .., ..]);
            // pass 3 backward: y = A v
            let da = dyh.dot(&vh.t());
            dv.slice_mut(s![rows.clone(), cols.clone()]).assign(&a.t().dot(&dyh));
            // pass 2 backward, row by row over the causal part
            ds.fill(F::zero());
            for i in 0..seq_len {
                for j in 0..=i {
                    row_a[j] = a[[i, j]];
                    row_da[j] = da[[i, j]];
                }
                let null = fwd.null[[b, h, i]];
                dsink[h] += normalise_row_backward(&row_da[..=i], &row_a[..=i], null, norm, &mut row_ds[..=i]);
                for j in 0..=i {
                    ds[[i, j]] = row_ds[j] * scale;
                }
            }
            // pass 1 backward: s = q k^T / sqrt(D)
            dq.slice_mut(s![rows.clone(), cols.clone()]).assign(&ds.dot(&kh));
            dk.slice_mut(s![rows.clone(), cols]).assign(&ds.t().dot(&qh));
        }
    }
    let dsink = (norm == AttnNorm::SinkLogit).then_some(dsink);
    AttentionGrads { dq, dk, dv, dsink }
}

// ---------------------------------------------------------------------------
// Cross-entropy: loss = sum_i w_i (logsumexp(logits_i) - logits_i[target_i]) / sum_i w_i

/// Returns the weighted mean loss, each row's loss (rows with weight 0 get
/// their loss too, for per-position metrics) and the softmax probabilities
/// (N, V), which the backward pass reuses. Accumulates the loss in f64.
pub fn cross_entropy_forward<F: Scalar>(logits: ArrayView2<F>, targets: &[u32], weights: &[f32]) -> (f64, Vec<f64>, Array2<F>) {
    let mut per_row = Vec::with_capacity(targets.len());
    let mut probs = Array2::zeros(logits.dim());
    let mut total = 0.0;
    let mut weight_sum = 0.0;
    for (i, row) in logits.axis_iter(Axis(0)).enumerate() {
        let m = row.iter().copied().fold(F::neg_infinity(), F::max);
        let mut prow = probs.row_mut(i);
        let mut sum = F::zero();
        for (p, &z) in prow.iter_mut().zip(row) {
            *p = (z - m).exp();
            sum += *p;
        }
        prow.mapv_inplace(|p| p / sum);
        let lse = m.as_f64() + sum.as_f64().ln();
        let loss = lse - row[targets[i] as usize].as_f64();
        per_row.push(loss);
        total += weights[i] as f64 * loss;
        weight_sum += weights[i] as f64;
    }
    let mean = if weight_sum > 0.0 { total / weight_sum } else { 0.0 };
    (mean, per_row, probs)
}

/// dlogits_i = w_i (softmax(logits_i) - onehot(target_i)) / sum_j w_j, with
/// the softmax `probs` saved by the forward pass.
pub fn cross_entropy_backward<F: Scalar>(probs: ArrayView2<F>, targets: &[u32], weights: &[f32]) -> Array2<F> {
    let weight_sum: f64 = weights.iter().map(|&w| w as f64).sum();
    let mut dlogits = Array2::zeros(probs.dim());
    if weight_sum <= 0.0 {
        return dlogits;
    }
    for (i, prow) in probs.axis_iter(Axis(0)).enumerate() {
        if weights[i] == 0.0 {
            continue;
        }
        let scale = F::of(weights[i] as f64 / weight_sum);
        let mut drow = dlogits.row_mut(i);
        Zip::from(&mut drow).and(prow).for_each(|d, &p| *d = p * scale);
        drow[targets[i] as usize] -= scale;
    }
    dlogits
}
