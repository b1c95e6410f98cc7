//! The CPU and GPU training engines behind one type, so that every command
//! trains, reports and saves a run the same way on either.

use clap::ValueEnum;
use gatelab_gpu::ops::stats;
use gatelab_gpu::{GpuContext, GpuError, GpuRun};
use gatelab_model::{Limits, Metrics, Run, RunConfig, TrainError};

/// Training engine chosen with `--backend`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    /// The CPU engine (ndarray, one thread per run).
    #[default]
    Cpu,
    /// The GPU engine (wgpu on Vulkan, WGSL kernels).
    Gpu,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Cpu => "cpu",
            Backend::Gpu => "gpu",
        }
    }

    /// Opens the Vulkan device for `Gpu`; `Cpu` needs none.
    pub fn context(self) -> Result<Option<GpuContext>, String> {
        match self {
            Backend::Cpu => Ok(None),
            Backend::Gpu => GpuContext::native().map(Some).map_err(|e| gpu_message(&e)),
        }
    }
}

/// Bytes that a GPU training step reads back: the stats buffer (loss,
/// gradient norm, skip flag), read after every step to detect divergence.
pub const GPU_STEP_READ_BACK_BYTES: usize = stats::LEN * size_of::<f32>();

/// Describes a GPU adapter as "name (backend)", from wgpu's `AdapterInfo`.
pub fn adapter_description(ctx: &GpuContext) -> String {
    format!("{} ({})", ctx.adapter.name, ctx.adapter.backend)
}

fn gpu_message(error: &GpuError) -> String {
    match error {
        GpuError::Config(e) => format!("invalid run config: {e}"),
        other => other.to_string(),
    }
}

/// One run on either engine.
pub enum Engine {
    Cpu(Box<Run>),
    Gpu(Box<GpuRun>),
}

impl Engine {
    /// Starts a run of `config` on the GPU of `gpu`, or on the CPU when `gpu` is None.
    pub fn new(config: RunConfig, gpu: Option<&GpuContext>) -> Result<Self, String> {
        match gpu {
            None => {
                let run = Run::new(config, &Limits::CLI).map_err(|e| format!("invalid run config: {e}"))?;
                Ok(Engine::Cpu(Box::new(run)))
            }
            Some(ctx) => {
                let run = GpuRun::new(ctx, config, &Limits::CLI).map_err(|e| gpu_message(&e))?;
                Ok(Engine::Gpu(Box::new(run)))
            }
        }
    }

    /// Continues `run` (read from a checkpoint) on the GPU of `gpu`, or on
    /// the CPU when `gpu` is None.
    pub fn resume(run: Run, gpu: Option<&GpuContext>) -> Result<Self, String> {
        match gpu {
            None => Ok(Engine::Cpu(Box::new(run))),
            Some(ctx) => {
                let gpu_run = GpuRun::from_cpu_run(ctx, &run, &Limits::CLI).map_err(|e| gpu_message(&e))?;
                Ok(Engine::Gpu(Box::new(gpu_run)))
            }
        }
    }

    pub fn config(&self) -> &RunConfig {
        match self {
            Engine::Cpu(run) => &run.config,
            Engine::Gpu(run) => &run.config,
        }
    }

    pub fn backend(&self) -> Backend {
        match self {
            Engine::Cpu(_) => Backend::Cpu,
            Engine::Gpu(_) => Backend::Gpu,
        }
    }

    pub fn history(&self) -> &[Metrics] {
        match self {
            Engine::Cpu(run) => &run.history,
            Engine::Gpu(run) => &run.history,
        }
    }

    /// Steps taken so far.
    pub fn step(&self) -> usize {
        match self {
            Engine::Cpu(run) => run.step,
            Engine::Gpu(run) => run.step,
        }
    }

    pub fn parameter_count(&self) -> usize {
        match self {
            Engine::Cpu(run) => run.layout.total,
            Engine::Gpu(run) => run.layout.total,
        }
    }

    pub fn vocab(&self) -> usize {
        match self {
            Engine::Cpu(run) => run.task.vocab(),
            Engine::Gpu(run) => run.task.vocab(),
        }
    }

    /// Dispatches in one training step, for the GPU engine.
    pub fn dispatches_per_step(&self) -> Option<usize> {
        match self {
            Engine::Cpu(_) => None,
            Engine::Gpu(run) => Some(run.dispatches_per_step()),
        }
    }

    /// Takes one AdamW step on a fresh batch. A non-finite loss or gradient
    /// norm returns the CPU engine's [`TrainError::Diverged`] message on
    /// either engine.
    ///
    /// The GPU engine queues the step and then waits for it, because it reads
    /// the step's skip flag back; a skipped step has left the parameters
    /// unchanged there, as on the CPU.
    pub fn train_step(&mut self) -> Result<(), String> {
        match self {
            Engine::Cpu(run) => run.train_step().map(|_| ()).map_err(|e| e.to_string()),
            Engine::Gpu(run) => {
                run.step().map_err(|e| gpu_message(&e))?;
                let diverged = pollster::block_on(run.read_diverged()).map_err(|e| gpu_message(&e))?;
                if !diverged {
                    return Ok(());
                }
                let stats = pollster::block_on(run.read_stats()).map_err(|e| gpu_message(&e))?;
                let (what, value) =
                    if stats.loss.is_finite() { ("gradient norm", stats.grad_norm) } else { ("loss", stats.loss) };
                Err(TrainError::Diverged { step: stats.step, what, value, lr: stats.lr }.to_string())
            }
        }
    }

    /// Measures the probe batch at the current step.
    pub fn evaluate(&self) -> Result<Metrics, String> {
        match self {
            Engine::Cpu(run) => Ok(run.evaluate().0),
            Engine::Gpu(run) => pollster::block_on(run.evaluate()).map(|(m, _)| m).map_err(|e| gpu_message(&e)),
        }
    }

    /// Measures the probe batch and appends the metrics to the history.
    pub fn record(&mut self) -> Result<Metrics, String> {
        match self {
            Engine::Cpu(run) => Ok(run.record().clone()),
            Engine::Gpu(run) => pollster::block_on(run.record()).cloned().map_err(|e| gpu_message(&e)),
        }
    }

    /// Trains `steps` steps as `Run::train` does: metrics at step 0 (if not
    /// yet recorded), every `metrics_every` steps and at the last step.
    /// `on_step` is called after every step, with the metrics where they were taken.
    pub fn train(&mut self, steps: usize, mut on_step: impl FnMut(Option<&Metrics>)) -> Result<(), String> {
        if self.history().is_empty() {
            self.record()?;
        }
        let end = self.step() + steps;
        let metrics_every = self.config().metrics_every;
        while self.step() < end {
            self.train_step()?;
            if self.step() % metrics_every == 0 || self.step() == end {
                let metrics = self.record()?;
                on_step(Some(&metrics));
            } else {
                on_step(None);
            }
        }
        Ok(())
    }

    /// Returns the run as a CPU `Run`, for writing a checkpoint. A GPU run's
    /// parameters, AdamW moments and metric history are read back, so the
    /// checkpoint resumes on either engine from the step where it stopped.
    pub fn into_cpu_run(self) -> Result<Run, String> {
        let gpu = match self {
            Engine::Cpu(run) => return Ok(*run),
            Engine::Gpu(gpu) => gpu,
        };
        let mut run = Run::new(gpu.config.clone(), &Limits::CLI).map_err(|e| format!("invalid run config: {e}"))?;
        run.params = pollster::block_on(gpu.read_params()).map_err(|e| gpu_message(&e))?;
        let (m, v) = pollster::block_on(gpu.read_moments()).map_err(|e| gpu_message(&e))?;
        run.opt.m = m;
        run.opt.v = v;
        // The GPU engine's AdamW counts updates by the step number, and
        // `train_step` stops at the first skipped update, so both agree.
        run.opt.t = gpu.step as u64;
        run.step = gpu.step;
        run.data_rng = gpu.data_rng.clone();
        run.history = gpu.history.clone();
        if gpu.step > 0 {
            run.last = Some(pollster::block_on(gpu.read_stats()).map_err(|e| gpu_message(&e))?);
        }
        Ok(run)
    }
}
