//! AdamW with a linear warm-up and global gradient-norm clipping.

use crate::config::TrainConfig;
use crate::params::{Layout, ParamKind, Tensors};
use crate::scalar::Scalar;

/// Learning rate at `step` (0-based): linear warm-up from lr / warmup to lr
/// over the first `warmup` steps, then constant.
pub fn learning_rate(train: &TrainConfig, step: usize) -> f64 {
    if train.warmup == 0 || step >= train.warmup {
        train.lr
    } else {
        train.lr * (step + 1) as f64 / train.warmup as f64
    }
}

/// Scales `grads` so their global norm is at most `max_norm`. Returns the norm
/// before clipping.
pub fn clip_grad_norm<F: Scalar>(grads: &mut Tensors<F>, max_norm: f64) -> f64 {
    let norm = grads.norm();
    if norm > max_norm && norm.is_finite() {
        let scale = F::of(max_norm / norm);
        grads.data.iter_mut().for_each(|g| *g *= scale);
    }
    norm
}

/// First and second moments, shaped like the parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct AdamW<F> {
    pub m: Tensors<F>,
    pub v: Tensors<F>,
    /// Updates applied so far; bias correction uses it.
    pub t: u64,
}

impl<F: Scalar> AdamW<F> {
    pub fn new(layout: &Layout) -> Self {
        Self { m: Tensors::zeros(layout), v: Tensors::zeros(layout), t: 0 }
    }

    /// Applies one update with learning rate `lr`:
    /// m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
    /// p -= lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps) + lr wd p,
    /// with weight decay on matrices only (embeddings included), not on gains
    /// or sink logits.
    pub fn update(&mut self, layout: &Layout, params: &mut Tensors<F>, grads: &Tensors<F>, train: &TrainConfig, lr: f64) {
        self.t += 1;
        let b1 = train.beta1;
        let b2 = train.beta2;
        let bias1 = 1.0 - b1.powi(self.t as i32);
        let bias2 = 1.0 - b2.powi(self.t as i32);
        let (fb1, fb2) = (F::of(b1), F::of(b2));
        let (one_b1, one_b2) = (F::of(1.0 - b1), F::of(1.0 - b2));
        let step_size = F::of(lr / bias1);
        let inv_bias2 = F::of(1.0 / bias2);
        let eps = F::of(train.eps);
        for spec in &layout.specs {
            let decay = if spec.kind == ParamKind::Matrix { F::of(lr * train.weight_decay) } else { F::zero() };
            let range = spec.offset..spec.offset + spec.len();
            let p = &mut params.data[range.clone()];
            let g = &grads.data[range.clone()];
            let m = &mut self.m.data[range.clone()];
            let v = &mut self.v.data[range];
            for i in 0..p.len() {
                m[i] = fb1 * m[i] + one_b1 * g[i];
                v[i] = fb2 * v[i] + one_b2 * g[i] * g[i];
                let denom = (v[i] * inv_bias2).sqrt() + eps;
                p[i] = p[i] - step_size * m[i] / denom - decay * p[i];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ModelConfig;

    #[test]
    fn warmup_is_linear_then_constant() {
        let train = TrainConfig { lr: 1e-2, warmup: 50, ..Default::default() };
        assert!((learning_rate(&train, 0) - 2e-4).abs() < 1e-12);
        assert!((learning_rate(&train, 24) - 5e-3).abs() < 1e-12);
        assert_eq!(learning_rate(&train, 49), 1e-2);
        assert_eq!(learning_rate(&train, 500), 1e-2);
        let no_warmup = TrainConfig { warmup: 0, ..train };
        assert_eq!(learning_rate(&no_warmup, 0), 1e-2);
    }

    #[test]
    fn clipping_caps_global_norm() {
        let layout = crate::params::Layout::new(&ModelConfig { width: 16, ..Default::default() }, 8);
        let mut g = Tensors::<f64>::zeros(&layout);
        g.data[0] = 3.0;
        g.data[1] = 4.0;
        let before = clip_grad_norm(&mut g, 1.0);
        assert_eq!(before, 5.0);
        assert!((g.norm() - 1.0).abs() < 1e-12);
        let before_small = clip_grad_norm(&mut g, 2.0);
        assert!((before_small - 1.0).abs() < 1e-12);
        assert!((g.norm() - 1.0).abs() < 1e-12, "a norm under the cap is left alone");
    }

    #[test]
    fn first_step_moves_each_weight_by_lr() {
        // With bias correction the first AdamW step is lr * sign(g) (up to eps),
        // plus decay on matrices only.
        let layout = crate::params::Layout::new(&ModelConfig { width: 16, ..Default::default() }, 8);
        let mut p = Tensors::<f64>::init(&layout, 0);
        let before = p.clone();
        let mut g = Tensors::<f64>::zeros(&layout);
        g.data.iter_mut().enumerate().for_each(|(i, x)| *x = if i % 2 == 0 { 0.5 } else { -2.0 });
        let train = TrainConfig { weight_decay: 0.1, ..Default::default() };
        let mut opt = AdamW::new(&layout);
        opt.update(&layout, &mut p, &g, &train, 1e-2);
        for spec in &layout.specs {
            let decay = if spec.kind == ParamKind::Matrix { 1e-2 * 0.1 } else { 0.0 };
            for i in spec.offset..spec.offset + spec.len() {
                let expected = before.data[i] - 1e-2 * g.data[i].signum() - decay * before.data[i];
                assert!((p.data[i] - expected).abs() < 1e-8, "{} at {i}", spec.name);
            }
        }
    }
}
