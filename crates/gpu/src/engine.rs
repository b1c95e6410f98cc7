//! [`GpuRun`]: a training run on the GPU that mirrors `gatelab_model::Run`.
//!
//! Batches come from the model crate's task on the CPU, drawn from the same
//! "data" stream as the CPU engine, and are uploaded each step, so both
//! engines see bit-identical data. A step is one queue submission with no
//! read-back; losses, parameters, gradients and metrics are read back only
//! when asked, asynchronously.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use gatelab_model::checkpoint::{CheckpointFiles, CheckpointMeta};
use gatelab_model::metrics::{self, Metrics, Snapshot};
use gatelab_model::model::{ForwardCache, LayerCache};
use gatelab_model::ops::{self as cpu, AttentionOutput};
use gatelab_model::optim;
use gatelab_model::params::{Layout, ParamKind, Tensors};
use gatelab_model::rng::{self, StreamRng};
use gatelab_model::tasks::{Batch, Task};
use gatelab_model::{Limits, RunConfig, StepStats};
use ndarray::{Array1, Array2, Array3, Array4};

use crate::context::GpuContext;
use crate::error::{GpuError, RunPart};
use crate::graph::{Activations, Model, Scratch, Shared, Sizes};
use crate::kernels::{Pass, MAX_GROUPS_PER_DIMENSION, TILE};
use crate::metrics::{self as gpu_metrics, MetricsPlan};
use crate::ops::{self, stats};
use crate::oneshot;

/// Maximum number of steps queued on the GPU. `step` waits for the oldest
/// before queueing more, so the CPU never runs far ahead of the device.
pub const MAX_IN_FLIGHT: usize = 2;

/// The batch whose activations a read-back returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Which {
    /// The last training batch (or the batch given to `compute_gradients`).
    Train,
    /// The fixed probe batch, as of the last `evaluate` or `read_f_attn`.
    Probe,
}

struct InFlight {
    index: wgpu::SubmissionIndex,
    done: Arc<AtomicBool>,
    finished: oneshot::Receiver<()>,
}

/// One model being trained on the GPU.
pub struct GpuRun {
    pub config: RunConfig,
    pub layout: Layout,
    pub task: Task,
    /// The "data" stream: a fresh training batch every step.
    pub data_rng: StreamRng,
    /// The fixed probe batch every metric is taken on.
    pub probe: Batch,
    /// Steps queued so far (the GPU may still be running the last ones).
    pub step: usize,
    /// Metrics taken so far by `record`, in step order.
    pub history: Vec<Metrics>,
    ctx: GpuContext,
    shared: Shared,
    train: Activations,
    probe_acts: Activations,
    forward: Vec<Pass>,
    backward: Vec<Pass>,
    update: Pass,
    /// The probe batch's forward pass.
    probe_passes: Vec<Pass>,
    /// The metric reductions that follow it and their report buffer.
    metrics_plan: MetricsPlan,
    /// The last uploaded training batch, for reading its forward pass back.
    last_batch: Option<Batch>,
    last_lr: f64,
    in_flight: VecDeque<InFlight>,
}

impl GpuRun {
    /// Validates `config` against `limits` and the device's limits, draws the
    /// initial weights (the same as `Tensors::<f32>::init`), the task and the
    /// probe batch from the seed, and builds every dispatch of a step.
    pub fn new(ctx: &GpuContext, config: RunConfig, limits: &Limits) -> Result<Self, GpuError> {
        config.validate(limits)?;
        let task = Task::new(&config.task, config.model.seq_len, config.seed)?;
        let layout = Layout::new(&config.model, task.vocab());
        let train_sizes = Sizes::new(&config.model, task.vocab(), config.train.batch);
        let probe_sizes = Sizes::new(&config.model, task.vocab(), config.probe_batch);
        check_device_limits(ctx, &config, &layout, &train_sizes)?;
        check_device_limits(ctx, &config, &layout, &probe_sizes)?;

        let params = Tensors::<f32>::init(&layout, config.seed);
        let decay_mask: Vec<f32> = layout
            .specs
            .iter()
            .flat_map(|spec| std::iter::repeat_n(if spec.kind == ParamKind::Matrix { 1.0 } else { 0.0 }, spec.len()))
            .collect();
        let shared = Shared {
            params: ctx.upload_f32("params", &params.data),
            grads: ctx.zeros("grads", layout.total),
            moment1: ctx.zeros("adamw m", layout.total),
            moment2: ctx.zeros("adamw v", layout.total),
            decay_mask: ctx.upload_f32("decay mask", &decay_mask),
            rope_table: ctx.upload_f32("rope table", &ops::rope_table(config.model.seq_len, config.model.head_dim())),
            partials: ctx.zeros("norm partials", ops::clip_partial_count(layout.total)),
        };
        let train = Activations::new(ctx, &config.model, train_sizes);
        let probe_acts = Activations::new(ctx, &config.model, probe_sizes);
        let scratch = Scratch::new(ctx, &config.model, train_sizes);

        let model = Model { ctx, config: &config.model, layout: &layout, shared: &shared };
        let forward = model.forward(&train);
        let backward = model.backward(&train, &scratch, config.train.clip);
        let probe = task.probe(config.seed, config.probe_batch, config.model.seq_len);
        let metrics_plan = MetricsPlan::new(&model, &probe_acts, &probe);
        let probe_passes = model.forward(&probe_acts);
        let update = ops::adamw_update(
            ctx,
            &adamw_step(&config, layout.total, 0),
            &shared.grads,
            &shared.decay_mask,
            &train.stats,
            &shared.params,
            &shared.moment1,
            &shared.moment2,
        );

        upload_batch(ctx, &probe_acts, &probe);
        let data_rng = rng::stream(config.seed, "data");
        Ok(GpuRun {
            config,
            layout,
            task,
            data_rng,
            probe,
            step: 0,
            history: Vec::new(),
            ctx: ctx.clone(),
            shared,
            train,
            probe_acts,
            forward,
            backward,
            update,
            probe_passes,
            metrics_plan,
            last_batch: None,
            last_lr: f64::NAN,
            in_flight: VecDeque::new(),
        })
    }

    /// Continues a CPU run on the GPU: uploads its parameters and AdamW
    /// moments and takes over its step, data stream, metric history and last
    /// step statistics, so the next step draws the batch the CPU engine would.
    pub fn from_cpu_run(ctx: &GpuContext, run: &gatelab_model::Run<f32>, limits: &Limits) -> Result<Self, GpuError> {
        let mut gpu = GpuRun::new(ctx, run.config.clone(), limits)?;
        gpu.write_params(&run.params);
        ctx.write_f32(&gpu.shared.moment1, &run.opt.m.data);
        ctx.write_f32(&gpu.shared.moment2, &run.opt.v.data);
        // The GPU's AdamW takes its update count from the step number, which
        // equals the CPU's count while no update was skipped.
        gpu.step = run.step;
        gpu.data_rng = run.data_rng.clone();
        gpu.history = run.history.clone();
        if let Some(last) = &run.last {
            let mut values = vec![0.0f32; stats::LEN];
            values[stats::LOSS] = last.loss as f32;
            values[stats::GRAD_NORM] = last.grad_norm as f32;
            ctx.write_f32(&gpu.train.stats, &values);
            gpu.last_lr = last.lr;
        }
        Ok(gpu)
    }

    pub fn context(&self) -> &GpuContext {
        &self.ctx
    }

    /// Dispatches in one training step: forward, backward, clipping and AdamW.
    pub fn dispatches_per_step(&self) -> usize {
        self.forward.len() + self.backward.len() + 1
    }

    /// Labels of the dispatches of one training step, in order.
    pub fn step_dispatch_labels(&self) -> Vec<&str> {
        self.forward.iter().chain(&self.backward).chain([&self.update]).map(|p| p.label.as_str()).collect()
    }

    /// Runs one training step on `batch` with each dispatch submitted alone
    /// and waited for, and returns each dispatch's label with its wall time.
    /// It updates the parameters as `step_on` does, but `step` and the
    /// learning rate stay unchanged, so use it on a throwaway run.
    pub fn profile_step(&mut self, batch: &Batch) -> Result<Vec<(String, std::time::Duration)>, GpuError> {
        self.check_batch(batch)?;
        let step = adamw_step(&self.config, self.layout.total, self.step as u64 + 1);
        self.ctx.queue.write_buffer(&self.update.uniform, 0, &step.uniform().bytes());
        upload_batch(&self.ctx, &self.train, batch);
        self.ctx.wait_for(self.ctx.submit(&[]))?;
        let mut times = Vec::new();
        for pass in self.forward.iter().chain(&self.backward).chain([&self.update]) {
            let start = std::time::Instant::now();
            let index = self.ctx.submit(&[pass]);
            self.ctx.wait_for(index)?;
            times.push((pass.label.clone(), start.elapsed()));
        }
        Ok(times)
    }

    /// Runs the probe batch's forward pass and the metric reductions with
    /// each dispatch submitted alone and waited for, and returns each
    /// dispatch's label with its wall time.
    pub fn profile_probe(&self) -> Result<Vec<(String, std::time::Duration)>, GpuError> {
        self.ctx.wait_for(self.ctx.submit(&[]))?;
        let mut times = Vec::new();
        for pass in self.probe_passes.iter().chain(&self.metrics_plan.passes) {
            let start = std::time::Instant::now();
            self.ctx.wait_for(self.ctx.submit(&[pass]))?;
            times.push((pass.label.clone(), start.elapsed()));
        }
        Ok(times)
    }

    /// Draws the next training batch from the data stream.
    pub fn next_batch(&mut self) -> Batch {
        self.task.sample(&mut self.data_rng, self.config.train.batch, self.config.model.seq_len)
    }

    /// Queues one AdamW step on a fresh batch and returns the step number
    /// after it. Natively this waits while MAX_IN_FLIGHT steps are queued; in
    /// the browser it returns [`GpuError::Busy`] instead, and the caller
    /// awaits [`GpuRun::ready`] first.
    ///
    /// A non-finite loss or gradient norm leaves the parameters unchanged on
    /// the GPU (the step counter still advances); `read_stats` shows it.
    pub fn step(&mut self) -> Result<usize, GpuError> {
        self.make_room()?;
        let batch = self.next_batch();
        self.queue_step(&batch)
    }

    /// Queues one AdamW step on `batch`.
    pub fn step_on(&mut self, batch: &Batch) -> Result<usize, GpuError> {
        self.make_room()?;
        self.queue_step(batch)
    }

    fn queue_step(&mut self, batch: &Batch) -> Result<usize, GpuError> {
        self.check_batch(batch)?;
        let lr = optim::learning_rate(&self.config.train, self.step);
        let step = adamw_step(&self.config, self.layout.total, self.step as u64 + 1);
        let step = ops::AdamwStep { lr, ..step };
        self.ctx.queue.write_buffer(&self.update.uniform, 0, &step.uniform().bytes());
        upload_batch(&self.ctx, &self.train, batch);
        let passes: Vec<&Pass> = self.forward.iter().chain(&self.backward).chain([&self.update]).collect();
        let index = self.ctx.submit(&passes);
        self.track(index);
        self.last_batch = Some(batch.clone());
        self.last_lr = lr;
        self.step += 1;
        Ok(self.step)
    }

    /// Queues the forward and backward passes on `batch` without updating
    /// the parameters: the gradients, loss and gradient norm can then be
    /// read back.
    pub fn compute_gradients(&mut self, batch: &Batch) -> Result<(), GpuError> {
        self.make_room()?;
        self.check_batch(batch)?;
        upload_batch(&self.ctx, &self.train, batch);
        let passes: Vec<&Pass> = self.forward.iter().chain(&self.backward).collect();
        let index = self.ctx.submit(&passes);
        self.track(index);
        self.last_batch = Some(batch.clone());
        Ok(())
    }

    fn check_batch(&self, batch: &Batch) -> Result<(), GpuError> {
        let expected = (self.config.train.batch, self.config.model.seq_len);
        if (batch.batch, batch.seq_len) != expected {
            return Err(GpuError::BatchShape {
                batch: batch.batch,
                seq_len: batch.seq_len,
                expected_batch: expected.0,
                expected_seq_len: expected.1,
            });
        }
        Ok(())
    }

    fn track(&mut self, index: wgpu::SubmissionIndex) {
        let done = Arc::new(AtomicBool::new(false));
        let (sender, finished) = oneshot::channel();
        let flag = done.clone();
        self.ctx.queue.on_submitted_work_done(move || {
            flag.store(true, Ordering::Release);
            sender.send(());
        });
        self.in_flight.push_back(InFlight { index, done, finished });
    }

    fn make_room(&mut self) -> Result<(), GpuError> {
        while self.in_flight.front().is_some_and(|f| f.done.load(Ordering::Acquire)) {
            self.in_flight.pop_front();
        }
        if self.in_flight.len() < MAX_IN_FLIGHT {
            return Ok(());
        }
        #[cfg(not(target_arch = "wasm32"))]
        {
            pollster::block_on(self.ready())
        }
        #[cfg(target_arch = "wasm32")]
        {
            Err(GpuError::Busy { in_flight: self.in_flight.len() })
        }
    }

    /// Waits until fewer than MAX_IN_FLIGHT steps are queued.
    pub async fn ready(&mut self) -> Result<(), GpuError> {
        while self.in_flight.len() >= MAX_IN_FLIGHT {
            let oldest = self.in_flight.pop_front().expect("the queue is not empty");
            self.ctx.wait_for(oldest.index)?;
            oldest.finished.await;
        }
        Ok(())
    }

    /// Loss, gradient norm and learning rate of the last queued step (or of
    /// the last `compute_gradients`), read after the GPU has run it.
    pub async fn read_stats(&self) -> Result<StepStats, GpuError> {
        let values = self.ctx.read_f32(&self.train.stats, 0, stats::LEN).await?;
        Ok(StepStats {
            step: self.step,
            loss: values[stats::LOSS] as f64,
            grad_norm: values[stats::GRAD_NORM] as f64,
            lr: self.last_lr,
        })
    }

    /// Whether the last step skipped its update because the loss or the
    /// gradient norm was not finite.
    pub async fn read_diverged(&self) -> Result<bool, GpuError> {
        let values = self.ctx.read_f32(&self.train.stats, 0, stats::LEN).await?;
        Ok(values[stats::SKIP] != 0.0)
    }

    pub async fn read_params(&self) -> Result<Tensors<f32>, GpuError> {
        Ok(Tensors { data: self.ctx.read_f32(&self.shared.params, 0, self.layout.total).await? })
    }

    /// Gradients of the last step or `compute_gradients`, before clipping.
    pub async fn read_grads(&self) -> Result<Tensors<f32>, GpuError> {
        Ok(Tensors { data: self.ctx.read_f32(&self.shared.grads, 0, self.layout.total).await? })
    }

    /// AdamW's first and second moments.
    pub async fn read_moments(&self) -> Result<(Tensors<f32>, Tensors<f32>), GpuError> {
        let m = self.ctx.read_f32(&self.shared.moment1, 0, self.layout.total).await?;
        let v = self.ctx.read_f32(&self.shared.moment2, 0, self.layout.total).await?;
        Ok((Tensors { data: m }, Tensors { data: v }))
    }

    /// Writes the run as checkpoint files, with `history` as its metric
    /// history (the page keeps the history, so the caller passes it). The
    /// GPU must have run every queued step, which the read-backs await.
    pub async fn to_checkpoint(&self, history: Vec<Metrics>) -> Result<CheckpointFiles, GpuError> {
        let params = self.read_params().await?;
        let (m, v) = self.read_moments().await?;
        let meta = CheckpointMeta::new(&self.config, &self.layout, self.step, self.step as u64, self.data_rng.get_word_pos(), history);
        Ok(CheckpointFiles::from_parts(&meta, &self.layout, &params, &m, &v))
    }

    /// Rebuilds a run from checkpoint files, ready to train on from where it
    /// stopped: parameters, both AdamW moments, the step (which sets AdamW's
    /// bias correction and the learning-rate schedule), the data stream and
    /// the history.
    pub fn from_checkpoint(ctx: &GpuContext, files: &CheckpointFiles, limits: &Limits) -> Result<GpuRun, GpuError> {
        let meta = files.meta()?;
        if meta.adam_t != meta.step as u64 {
            return Err(GpuError::CheckpointSteps { step: meta.step, adam_t: meta.adam_t });
        }
        let mut run = GpuRun::new(ctx, meta.config.clone(), limits)?;
        let (params, m, v) = files.tensors::<f32>(&run.layout)?;
        run.write_params(&params);
        run.ctx.write_f32(&run.shared.moment1, &m.data);
        run.ctx.write_f32(&run.shared.moment2, &v.data);
        run.step = meta.step;
        run.data_rng.set_word_pos(meta.data_word_pos);
        run.history = meta.history;
        Ok(run)
    }

    /// Replaces every parameter (for example from a checkpoint). The AdamW
    /// moments are left as they are.
    pub fn write_params(&self, params: &Tensors<f32>) {
        assert_eq!(params.data.len(), self.layout.total, "parameters do not match the layout");
        self.ctx.write_f32(&self.shared.params, &params.data);
    }

    /// Replaces AdamW's first and second moments, for example to resume a
    /// run on a new device from moments read with `read_moments`.
    pub fn write_moments(&self, moment1: &Tensors<f32>, moment2: &Tensors<f32>) {
        assert_eq!(moment1.data.len(), self.layout.total, "first moments do not match the layout");
        assert_eq!(moment2.data.len(), self.layout.total, "second moments do not match the layout");
        self.ctx.write_f32(&self.shared.moment1, &moment1.data);
        self.ctx.write_f32(&self.shared.moment2, &moment2.data);
    }

    /// Queues the probe batch's forward pass, the metric reductions and the
    /// copies into the report buffer.
    fn queue_probe(&self) {
        let passes: Vec<&Pass> = self.probe_passes.iter().chain(&self.metrics_plan.passes).collect();
        self.ctx.submit(&passes);
        self.metrics_plan.submit_copies(&self.ctx, &self.probe_acts, &self.train);
    }

    /// Runs the probe batch forward and returns the F-Attn of every (layer,
    /// head), (L * H) row-major, reduced on the GPU.
    pub async fn read_f_attn(&self) -> Result<Vec<f64>, GpuError> {
        self.queue_probe();
        let len = self.config.model.layers * self.config.model.heads;
        let values = self.ctx.read_f32(&self.metrics_plan.report, self.metrics_plan.layout.f_attn, len).await?;
        Ok(values.into_iter().map(f64::from).collect())
    }

    /// Bytes one `evaluate` copies back: the reduced metric values, the loss
    /// statistics and the snapshot's attention and gate maps of probe
    /// sequence 0. For the lesson config (`RunConfig::lesson()`: L = 1, H = 1,
    /// C = 64, T = 32, probe batch 32) this is 4,556 bytes with a G1 gate and
    /// 4,192 for the baseline, where `evaluate_on_cpu` (the whole forward
    /// cache and the parameters) reads 6,959,904 and 6,419,232 bytes.
    pub fn metrics_read_bytes(&self) -> usize {
        self.metrics_plan.layout.bytes()
    }

    /// Measures the probe batch at the current step: the GPU runs the
    /// forward pass and reduces every metric, and one small buffer comes
    /// back (see [`GpuRun::metrics_read_bytes`]).
    pub async fn evaluate(&self) -> Result<(Metrics, Snapshot), GpuError> {
        self.queue_probe();
        let plan = &self.metrics_plan;
        let words = self.ctx.read_words(&plan.report, 0, plan.layout.len).await?;
        let last = (self.step > 0).then(|| gpu_metrics::train_stats(&plan.layout, &words, self.step, self.last_lr));
        let config = &self.config.model;
        let m = gpu_metrics::build_metrics(config, &plan.layout, &self.probe, &words, self.step, last.as_ref());
        let snap = gpu_metrics::build_snapshot(&plan.layout, &self.probe, &words, self.step);
        Ok((m, snap))
    }

    /// The same measurement the slow way: reads the probe batch's whole
    /// forward cache and the parameters back and runs the model crate's
    /// `metrics::compute` and `metrics::snapshot` on the CPU. The tests
    /// compare `evaluate` with it.
    pub async fn evaluate_on_cpu(&self) -> Result<(Metrics, Snapshot), GpuError> {
        self.queue_probe();
        let cache = self.read_forward_cache(Which::Probe).await?;
        let params = self.read_params().await?;
        let last = if self.step == 0 { None } else { Some(self.read_stats().await?) };
        let config = &self.config.model;
        let m = metrics::compute(config, &self.layout, &params, &self.probe, &cache, self.step, last.as_ref());
        let snap = metrics::snapshot(config, &self.probe, &cache, self.step);
        Ok((m, snap))
    }

    /// Measures the probe batch and appends the metrics to the history.
    pub async fn record(&mut self) -> Result<&Metrics, GpuError> {
        let (m, _) = self.evaluate().await?;
        self.history.push(m);
        Ok(self.history.last().expect("just pushed"))
    }

    /// Reads every activation of a batch's last forward pass into the CPU
    /// engine's cache type. Values the GPU does not store are derived on the
    /// CPU: GELU's tanh term from h, the softmax probabilities from the
    /// logits, and, without a G5 gate, o_raw as x_mid - x_in.
    pub async fn read_forward_cache(&self, which: Which) -> Result<ForwardCache<f32>, GpuError> {
        let (acts, batch) = match which {
            Which::Train => (&self.train, self.last_batch.as_ref().unwrap_or(&self.probe)),
            Which::Probe => (&self.probe_acts, &self.probe),
        };
        let s = acts.sizes;
        let (rows, c) = (s.rows, s.width);
        let read2 = |buffer: &wgpu::Buffer, cols: usize| {
            let ctx = self.ctx.clone();
            let buffer = buffer.clone();
            async move {
                let data = ctx.read_f32(&buffer, 0, rows * cols).await?;
                Ok::<_, GpuError>(Array2::from_shape_vec((rows, cols), data).expect("buffer holds rows * cols"))
            }
        };
        let read1 = |buffer: &wgpu::Buffer| {
            let ctx = self.ctx.clone();
            let buffer = buffer.clone();
            async move { Ok::<_, GpuError>(Array1::from(ctx.read_f32(&buffer, 0, rows).await?)) }
        };

        let mut x_in = read2(&acts.x0, c).await?;
        let mut layers = Vec::with_capacity(acts.layers.len());
        for l in &acts.layers {
            let att_data = self.ctx.read_f32(&l.att, 0, s.attention(self.config.model.variant.attn, 0).att_len()).await?;
            let weights_len = s.batch * s.heads * s.seq_len * s.seq_len;
            let att = Array4::from_shape_vec((s.batch, s.heads, s.seq_len, s.seq_len), att_data[..weights_len].to_vec())
                .expect("attention buffer holds (B, H, T, T) weights");
            let null = Array3::from_shape_vec((s.batch, s.heads, s.seq_len), att_data[weights_len..].to_vec())
                .expect("attention buffer holds (B, H, T) null masses");
            let x_mid = read2(&l.x_mid, c).await?;
            let o_raw = match &l.o_raw {
                Some(buffer) => read2(buffer, c).await?,
                None => &x_mid - &x_in,
            };
            let h = read2(&l.h, s.mlp_width).await?;
            let (_, h_tanh) = cpu::gelu_forward(h.view());
            let gate_z = match &l.gate_z {
                Some(buffer) => Some(read2(buffer, s.gate_width).await?),
                None => None,
            };
            let gate = match &l.gate {
                Some(buffer) => Some(read2(buffer, s.gate_width).await?),
                None => None,
            };
            let x_out = read2(&l.x_out, c).await?;
            layers.push(LayerCache {
                x_in: x_in.clone(),
                attn_rstd: read1(&l.attn_rstd).await?,
                n: read2(&l.n, c).await?,
                q_raw: read2(&l.q_raw, c).await?,
                k_raw: read2(&l.k_raw, c).await?,
                v_raw: read2(&l.v_raw, c).await?,
                gate_z,
                gate,
                q: read2(&l.q, c).await?,
                k: read2(&l.k, c).await?,
                v: read2(&l.v, c).await?,
                attn: AttentionOutput { y: read2(&l.y_sdpa, c).await?, att, null },
                y: read2(&l.y, c).await?,
                o_raw,
                x_mid,
                mlp_rstd: read1(&l.mlp_rstd).await?,
                m: read2(&l.m, c).await?,
                h,
                h_act: read2(&l.h_act, s.mlp_width).await?,
                h_tanh,
                x_out: x_out.clone(),
            });
            x_in = x_out;
        }
        let logits = read2(&acts.logits, s.vocab).await?;
        let (_, _, probs) = cpu::cross_entropy_forward(logits.view(), &batch.targets, &batch.weights);
        let stats_values = self.ctx.read_f32(&acts.stats, 0, stats::LEN).await?;
        let row_loss = self.ctx.read_f32(&acts.row_loss, 0, rows).await?;
        Ok(ForwardCache {
            layers,
            x_final: x_in,
            final_rstd: read1(&acts.final_rstd).await?,
            final_n: read2(&acts.final_n, c).await?,
            logits,
            probs,
            loss: stats_values[stats::LOSS] as f64,
            row_loss: row_loss.into_iter().map(f64::from).collect(),
        })
    }
}

/// AdamW constants of the run at update `t` with the peak learning rate.
fn adamw_step(config: &RunConfig, count: usize, t: u64) -> ops::AdamwStep {
    let train = &config.train;
    ops::AdamwStep {
        count,
        beta1: train.beta1,
        beta2: train.beta2,
        lr: train.lr,
        weight_decay: train.weight_decay,
        eps: train.eps,
        t: t.max(1),
    }
}

fn upload_batch(ctx: &GpuContext, acts: &Activations, batch: &Batch) {
    ctx.write_u32(&acts.tokens, &batch.tokens);
    ctx.write_u32(&acts.token_rows, &ops::token_row_index(&batch.tokens, acts.sizes.vocab));
    ctx.write_u32(&acts.targets, &batch.targets);
    ctx.write_f32(&acts.weights, &batch.weights);
}

/// Rejects sizes beyond the device's buffer limits or the dispatch limits of
/// the kernels, before any buffer is made.
fn check_device_limits(ctx: &GpuContext, config: &RunConfig, layout: &Layout, s: &Sizes) -> Result<(), GpuError> {
    check_limits(&ctx.device.limits(), config, layout, s)
}

/// Checks the largest buffers and dispatches of a run with sizes `s`
/// against `limits`, and names the limit that a size exceeds. Every buffer
/// is bound whole, so each must fit both `max_buffer_size` and
/// `max_storage_buffer_binding_size`.
pub fn check_limits(limits: &wgpu::Limits, config: &RunConfig, layout: &Layout, s: &Sizes) -> Result<(), GpuError> {
    let att_len = s.attention(config.model.variant.attn, 0).att_len();
    let largest = [
        ("the parameter buffer", RunPart::Parameters, layout.total),
        ("the attention weights (B, H, T, T)", RunPart::AttentionWeights, att_len),
        ("the MLP activations (B * T, 4C)", RunPart::MlpActivations, s.rows * s.mlp_width),
        ("the logits (B * T, V)", RunPart::Logits, s.rows * s.vocab),
    ];
    let byte_limits = [
        ("max_buffer_size", limits.max_buffer_size),
        ("max_storage_buffer_binding_size", u64::from(limits.max_storage_buffer_binding_size)),
    ];
    for (what, part, len) in largest {
        let bytes = (len as u64) * 4;
        for (limit_name, limit) in byte_limits {
            if bytes > limit {
                let what = format!("{what} ({bytes} bytes)");
                return Err(GpuError::TooLarge { what, part, limit_name, needed: bytes, limit });
            }
        }
    }
    // The kernels split large dispatches at MAX_GROUPS_PER_DIMENSION, so a
    // device that allows more gains nothing and one that allows less fails.
    let max_groups = limits.max_compute_workgroups_per_dimension.min(MAX_GROUPS_PER_DIMENSION);
    let tile_rows = s.rows.div_ceil(TILE as usize) as u64;
    if tile_rows > u64::from(max_groups) {
        return Err(GpuError::TooLarge {
            what: format!("a matrix product over B * T = {} rows ({tile_rows} workgroups of {TILE} rows)", s.rows),
            part: RunPart::MatmulRows,
            limit_name: "max_compute_workgroups_per_dimension",
            needed: tile_rows,
            limit: u64::from(max_groups),
        });
    }
    let longest = largest.iter().map(|(_, _, len)| *len).max().unwrap_or(0);
    let flat_groups = crate::kernels::flat_groups(longest);
    if flat_groups[1] > max_groups {
        return Err(GpuError::TooLarge {
            what: format!("an elementwise pass over {longest} values"),
            part: RunPart::ElementwisePass,
            limit_name: "max_compute_workgroups_per_dimension",
            needed: u64::from(flat_groups[1]),
            limit: u64::from(max_groups),
        });
    }
    Ok(())
}

#[cfg(test)]
mod limit_tests {
    use gatelab_model::params::Layout;
    use gatelab_model::RunConfig;

    use super::check_limits;
    use crate::error::{GpuError, RunPart};
    use crate::graph::Sizes;

    fn lesson_sizes(batch: usize) -> (RunConfig, Layout, Sizes) {
        let config = RunConfig::lesson();
        let vocab = 64;
        let layout = Layout::new(&config.model, vocab);
        let sizes = Sizes::new(&config.model, vocab, batch);
        (config, layout, sizes)
    }

    fn limit_name(result: Result<(), GpuError>) -> &'static str {
        match result {
            Err(GpuError::TooLarge { limit_name, .. }) => limit_name,
            other => panic!("expected GpuError::TooLarge, got {other:?}"),
        }
    }

    #[test]
    fn default_limits_accept_lesson() {
        let (config, layout, sizes) = lesson_sizes(64);
        assert!(check_limits(&wgpu::Limits::defaults(), &config, &layout, &sizes).is_ok());
    }

    #[test]
    fn small_binding_size_rejected() {
        let (config, layout, sizes) = lesson_sizes(64);
        let limits = wgpu::Limits { max_storage_buffer_binding_size: 4096, ..wgpu::Limits::defaults() };
        assert_eq!(limit_name(check_limits(&limits, &config, &layout, &sizes)), "max_storage_buffer_binding_size");
    }

    #[test]
    fn small_buffer_size_rejected() {
        let (config, layout, sizes) = lesson_sizes(64);
        let limits = wgpu::Limits { max_buffer_size: 4096, ..wgpu::Limits::defaults() };
        let error = check_limits(&limits, &config, &layout, &sizes).unwrap_err();
        let text = error.to_string();
        assert!(text.contains("max_buffer_size is 4096"), "{text}");
        assert!(text.contains("the parameter buffer"), "{text}");
        assert!(matches!(error, GpuError::TooLarge { part: RunPart::Parameters, .. }), "{error:?}");
    }

    #[test]
    fn few_workgroups_name_matmul() {
        let (config, layout, sizes) = lesson_sizes(64);
        let limits = wgpu::Limits { max_compute_workgroups_per_dimension: 8, ..wgpu::Limits::defaults() };
        let error = check_limits(&limits, &config, &layout, &sizes).unwrap_err();
        assert!(matches!(error, GpuError::TooLarge { part: RunPart::MatmulRows, .. }), "{error:?}");
    }

    #[test]
    fn few_workgroups_rejected() {
        let (config, layout, sizes) = lesson_sizes(64);
        let limits = wgpu::Limits { max_compute_workgroups_per_dimension: 8, ..wgpu::Limits::defaults() };
        assert_eq!(limit_name(check_limits(&limits, &config, &layout, &sizes)), "max_compute_workgroups_per_dimension");
    }

    #[test]
    fn limit_edge_inclusive() {
        let (config, layout, sizes) = lesson_sizes(64);
        let largest_bytes = [layout.total, sizes.rows * sizes.mlp_width, sizes.rows * sizes.vocab]
            .into_iter()
            .chain([sizes.attention(config.model.variant.attn, 0).att_len()])
            .max()
            .unwrap() as u64
            * 4;
        let exact = wgpu::Limits { max_buffer_size: largest_bytes, ..wgpu::Limits::defaults() };
        assert!(check_limits(&exact, &config, &layout, &sizes).is_ok());
        let below = wgpu::Limits { max_buffer_size: largest_bytes - 4, ..wgpu::Limits::defaults() };
        assert_eq!(limit_name(check_limits(&below, &config, &layout, &sizes)), "max_buffer_size");
    }
}
