//! Parameters in one flat buffer addressed by offsets, the same layout the GPU
//! engine uses: AdamW, clipping and checkpoints treat every tensor alike.
//!
//! Matrices are stored row-major in (in, out) orientation, so a layer computes
//! `y = x W` with x of shape (N, in). PyTorch's `nn.Linear.weight` is the
//! transpose, (out, in).

use ndarray::{ArrayView1, ArrayView2, ArrayViewMut1, ArrayViewMut2};
use rand_distr::{Distribution, Normal};
use serde::{Deserialize, Serialize};

use crate::config::{AttnNorm, ModelConfig, PosEnc};
use crate::rng;
use crate::scalar::Scalar;

/// Standard deviation of the initial weights.
pub const INIT_STD: f64 = 0.02;

/// What a parameter is, which decides its initial value and whether weight
/// decay applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ParamKind {
    /// A weight matrix or embedding table: N(0, 0.02^2), decayed.
    Matrix,
    /// An RMSNorm gain: starts at 1, not decayed.
    Gain,
    /// A learned sink logit per head: starts at 0, not decayed.
    SinkLogit,
}

/// Name, shape and place of one parameter tensor in the flat buffer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ParamSpec {
    pub name: String,
    pub shape: Vec<usize>,
    pub offset: usize,
    pub kind: ParamKind,
}

impl ParamSpec {
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Ids of one block's parameters in the layout.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerIds {
    /// (C) gain of the pre-attention RMSNorm.
    pub attn_norm: usize,
    /// (C, C) each.
    pub wq: usize,
    pub wk: usize,
    pub wv: usize,
    pub wo: usize,
    /// (C, G) gate weights, when the variant has a gate.
    pub wg: Option<usize>,
    /// (H) learned sink logits, for the sink-logit normaliser.
    pub sink_logit: Option<usize>,
    /// (C) gain of the pre-MLP RMSNorm.
    pub mlp_norm: usize,
    /// (C, 4C) and (4C, C).
    pub w1: usize,
    pub w2: usize,
}

/// Every parameter of a model, in a fixed order, with the ids the engine uses
/// to find them.
#[derive(Clone, Debug, PartialEq)]
pub struct Layout {
    pub specs: Vec<ParamSpec>,
    pub total: usize,
    /// (V, C) token embeddings.
    pub tok_emb: usize,
    /// (T, C) learned positions, when `pos_enc` is learned.
    pub pos_emb: Option<usize>,
    pub layers: Vec<LayerIds>,
    /// (C) gain of the final RMSNorm.
    pub final_norm: usize,
    /// (C, V) untied output head.
    pub lm_head: usize,
}

impl Layout {
    pub fn new(model: &ModelConfig, vocab: usize) -> Layout {
        let c = model.width;
        let mut builder = LayoutBuilder::default();
        let tok_emb = builder.add("tok_emb", &[vocab, c], ParamKind::Matrix);
        let pos_emb = (model.pos_enc == PosEnc::Learned)
            .then(|| builder.add("pos_emb", &[model.seq_len, c], ParamKind::Matrix));
        let gate_width = model.variant.gate_width(c, model.heads);
        let mut layers = Vec::with_capacity(model.layers);
        for l in 0..model.layers {
            let p = |name: &str| format!("layers.{l}.{name}");
            let attn_norm = builder.add(&p("attn_norm.gain"), &[c], ParamKind::Gain);
            let wq = builder.add(&p("attn.wq"), &[c, c], ParamKind::Matrix);
            let wk = builder.add(&p("attn.wk"), &[c, c], ParamKind::Matrix);
            let wv = builder.add(&p("attn.wv"), &[c, c], ParamKind::Matrix);
            let wo = builder.add(&p("attn.wo"), &[c, c], ParamKind::Matrix);
            let wg = model
                .variant
                .has_gate()
                .then(|| builder.add(&p("attn.wg"), &[c, gate_width], ParamKind::Matrix));
            let sink_logit = (model.variant.attn == AttnNorm::SinkLogit)
                .then(|| builder.add(&p("attn.sink_logit"), &[model.heads], ParamKind::SinkLogit));
            let mlp_norm = builder.add(&p("mlp_norm.gain"), &[c], ParamKind::Gain);
            let w1 = builder.add(&p("mlp.w1"), &[c, model.mlp_width()], ParamKind::Matrix);
            let w2 = builder.add(&p("mlp.w2"), &[model.mlp_width(), c], ParamKind::Matrix);
            layers.push(LayerIds { attn_norm, wq, wk, wv, wo, wg, sink_logit, mlp_norm, w1, w2 });
        }
        let final_norm = builder.add("final_norm.gain", &[c], ParamKind::Gain);
        let lm_head = builder.add("lm_head", &[c, vocab], ParamKind::Matrix);
        Layout {
            total: builder.total,
            specs: builder.specs,
            tok_emb,
            pos_emb,
            layers,
            final_norm,
            lm_head,
        }
    }

    pub fn find(&self, name: &str) -> Option<usize> {
        self.specs.iter().position(|s| s.name == name)
    }
}

#[derive(Default)]
struct LayoutBuilder {
    specs: Vec<ParamSpec>,
    total: usize,
}

impl LayoutBuilder {
    fn add(&mut self, name: &str, shape: &[usize], kind: ParamKind) -> usize {
        let spec = ParamSpec { name: name.to_string(), shape: shape.to_vec(), offset: self.total, kind };
        self.total += spec.len();
        self.specs.push(spec);
        self.specs.len() - 1
    }
}

/// A flat buffer shaped by a [`Layout`]: parameters, their gradients, or an
/// optimiser moment.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensors<F> {
    pub data: Vec<F>,
}

impl<F: Scalar> Tensors<F> {
    pub fn zeros(layout: &Layout) -> Self {
        Self { data: vec![F::zero(); layout.total] }
    }

    /// Draws initial parameters: each tensor from the stream named after it, so
    /// a tensor's values depend only on the seed, its name and its shape.
    pub fn init(layout: &Layout, seed: u64) -> Self {
        let mut t = Self::zeros(layout);
        let normal = Normal::new(0.0f64, INIT_STD).expect("INIT_STD is positive and finite");
        for spec in &layout.specs {
            let slot = &mut t.data[spec.offset..spec.offset + spec.len()];
            match spec.kind {
                ParamKind::Matrix => {
                    let mut rng = rng::stream(seed, &format!("param.{}", spec.name));
                    for x in slot.iter_mut() {
                        *x = F::of(normal.sample(&mut rng));
                    }
                }
                ParamKind::Gain => slot.fill(F::one()),
                ParamKind::SinkLogit => slot.fill(F::zero()),
            }
        }
        t
    }

    pub fn slice(&self, spec: &ParamSpec) -> &[F] {
        &self.data[spec.offset..spec.offset + spec.len()]
    }

    pub fn slice_mut(&mut self, spec: &ParamSpec) -> &mut [F] {
        &mut self.data[spec.offset..spec.offset + spec.len()]
    }

    pub fn vec(&self, layout: &Layout, id: usize) -> ArrayView1<'_, F> {
        ArrayView1::from(self.slice(&layout.specs[id]))
    }

    pub fn vec_mut(&mut self, layout: &Layout, id: usize) -> ArrayViewMut1<'_, F> {
        ArrayViewMut1::from(self.slice_mut(&layout.specs[id]))
    }

    pub fn mat(&self, layout: &Layout, id: usize) -> ArrayView2<'_, F> {
        let spec = &layout.specs[id];
        ArrayView2::from_shape((spec.shape[0], spec.shape[1]), self.slice(spec))
            .expect("layout shapes match their slices")
    }

    pub fn mat_mut(&mut self, layout: &Layout, id: usize) -> ArrayViewMut2<'_, F> {
        let spec = layout.specs[id].clone();
        ArrayViewMut2::from_shape((spec.shape[0], spec.shape[1]), self.slice_mut(&spec))
            .expect("layout shapes match their slices")
    }

    /// Converts to another float type (for example f32 parameters to f64 for a
    /// gradient check).
    pub fn cast<G: Scalar>(&self) -> Tensors<G> {
        Tensors { data: self.data.iter().map(|x| G::of(x.as_f64())).collect() }
    }

    /// Euclidean norm over every element, accumulated in f64.
    pub fn norm(&self) -> f64 {
        self.data.iter().map(|x| x.as_f64() * x.as_f64()).sum::<f64>().sqrt()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Variant;

    #[test]
    fn shared_weights_match_across_variants() {
        let base = ModelConfig::default();
        let gated = ModelConfig { variant: Variant::G1, ..base.clone() };
        let la = Layout::new(&base, 64);
        let lb = Layout::new(&gated, 64);
        let a = Tensors::<f32>::init(&la, 7);
        let b = Tensors::<f32>::init(&lb, 7);
        for spec in &la.specs {
            let other = &lb.specs[lb.find(&spec.name).expect("baseline tensors exist in g1")];
            assert_eq!(a.slice(spec), b.slice(other), "tensor {}", spec.name);
        }
        assert!(lb.find("layers.0.attn.wg").is_some());
        assert!(la.find("layers.0.attn.wg").is_none());
    }

    #[test]
    fn init_has_expected_statistics() {
        let layout = Layout::new(&ModelConfig { width: 128, ..Default::default() }, 64);
        let t = Tensors::<f64>::init(&layout, 3);
        let w1 = t.slice(&layout.specs[layout.layers[0].w1]);
        let mean = w1.iter().sum::<f64>() / w1.len() as f64;
        let std = (w1.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / w1.len() as f64).sqrt();
        assert!(mean.abs() < 1e-3, "mean {mean}");
        assert!((std - INIT_STD).abs() < 1e-3, "std {std}");
        assert!(t.slice(&layout.specs[layout.final_norm]).iter().all(|&g| g == 1.0));
    }
}
