//! A training run: config, parameters, optimiser state, data stream, probe
//! batch and metric history.

use serde::{Deserialize, Serialize};

use crate::config::{Limits, RunConfig};
use crate::error::{ConfigError, TrainError};
use crate::metrics::{self, Metrics, Snapshot};
use crate::model;
use crate::optim::{self, AdamW};
use crate::params::{Layout, Tensors};
use crate::rng::{self, StreamRng};
use crate::scalar::Scalar;
use crate::tasks::{Batch, Task};

/// Measurements of one training step.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepStats {
    /// Step number after the update (1 after the first step).
    pub step: usize,
    pub loss: f64,
    /// Gradient norm before clipping.
    pub grad_norm: f64,
    pub lr: f64,
}

/// One model being trained on the CPU.
pub struct Run<F: Scalar = f32> {
    pub config: RunConfig,
    pub layout: Layout,
    pub task: Task,
    pub params: Tensors<F>,
    pub opt: AdamW<F>,
    /// The "data" stream: a fresh training batch every step.
    pub data_rng: StreamRng,
    /// The fixed probe batch every metric is taken on.
    pub probe: Batch,
    /// Steps taken so far.
    pub step: usize,
    /// Metrics taken so far, in step order.
    pub history: Vec<Metrics>,
    pub last: Option<StepStats>,
}

impl<F: Scalar> Run<F> {
    /// Validates `config` against `limits` and draws the initial weights, the
    /// task and the probe batch from the seed.
    pub fn new(config: RunConfig, limits: &Limits) -> Result<Self, ConfigError> {
        config.validate(limits)?;
        let task = Task::new(&config.task, config.model.seq_len, config.seed)?;
        let layout = Layout::new(&config.model, task.vocab());
        let params = Tensors::init(&layout, config.seed);
        let opt = AdamW::new(&layout);
        let probe = task.probe(config.seed, config.probe_batch, config.model.seq_len);
        let data_rng = rng::stream(config.seed, "data");
        Ok(Run { config, layout, task, params, opt, data_rng, probe, step: 0, history: Vec::new(), last: None })
    }

    /// Draws the next training batch from the data stream.
    pub fn next_batch(&mut self) -> Batch {
        self.task.sample(&mut self.data_rng, self.config.train.batch, self.config.model.seq_len)
    }

    /// Takes one AdamW step on a fresh batch. A non-finite loss or gradient
    /// leaves the parameters unchanged and returns [`TrainError::Diverged`].
    pub fn train_step(&mut self) -> Result<StepStats, TrainError> {
        let batch = self.next_batch();
        self.train_on(&batch)
    }

    /// Takes one AdamW step on `batch`.
    pub fn train_on(&mut self, batch: &Batch) -> Result<StepStats, TrainError> {
        let lr = optim::learning_rate(&self.config.train, self.step);
        let cache = model::forward(&self.config.model, &self.layout, &self.params, batch);
        if !cache.loss.is_finite() {
            return Err(TrainError::Diverged { step: self.step + 1, what: "loss", value: cache.loss, lr });
        }
        let mut grads = model::backward(&self.config.model, &self.layout, &self.params, batch, &cache);
        let grad_norm = optim::clip_grad_norm(&mut grads, self.config.train.clip);
        if !grad_norm.is_finite() {
            return Err(TrainError::Diverged { step: self.step + 1, what: "gradient norm", value: grad_norm, lr });
        }
        self.opt.update(&self.layout, &mut self.params, &grads, &self.config.train, lr);
        self.step += 1;
        let stats = StepStats { step: self.step, loss: cache.loss, grad_norm, lr };
        self.last = Some(stats);
        Ok(stats)
    }

    /// Measures the probe batch at the current step.
    pub fn evaluate(&self) -> (Metrics, Snapshot) {
        let cache = model::forward(&self.config.model, &self.layout, &self.params, &self.probe);
        let m = metrics::compute(
            &self.config.model,
            &self.layout,
            &self.params,
            &self.probe,
            &cache,
            self.step,
            self.last.as_ref(),
        );
        let snap = metrics::snapshot(&self.config.model, &self.probe, &cache, self.step);
        (m, snap)
    }

    /// Measures the probe batch and appends the metrics to the history.
    pub fn record(&mut self) -> &Metrics {
        let (m, _) = self.evaluate();
        self.history.push(m);
        self.history.last().expect("just pushed")
    }

    /// Returns whether metrics are due at the current step.
    pub fn metrics_due(&self) -> bool {
        self.step % self.config.metrics_every == 0
    }

    /// Trains `steps` steps, recording metrics at step 0 (if not yet recorded),
    /// every `metrics_every` steps and at the last step. `on_step` receives every
    /// step's stats and, where metrics were taken, the metrics.
    pub fn train(&mut self, steps: usize, mut on_step: impl FnMut(&StepStats, Option<&Metrics>)) -> Result<(), TrainError> {
        if self.history.is_empty() {
            self.record();
        }
        let end = self.step + steps;
        while self.step < end {
            let stats = self.train_step()?;
            if self.metrics_due() || self.step == end {
                let m = self.record().clone();
                on_step(&stats, Some(&m));
            } else {
                on_step(&stats, None);
            }
        }
        Ok(())
    }
}
