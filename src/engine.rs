//! The page side of the two training engines: a CPU Web Worker per run, or
//! the WebGPU engine on the main thread. Both answer [`Request`]s with
//! [`Reply`]s through a callback, so the page drives them the same way.

use std::cell::RefCell;
use std::rc::Rc;

use gatelab_model::{Limits, RunConfig};
use gloo::worker::{Spawnable, WorkerBridge};
use yew::Callback;

use crate::device_loss::GpuCheckpoint;
use crate::export::WireCheckpoint;
use crate::protocol::{EngineError, JsonCodec, Reply, Request};
use crate::worker::Trainer;

/// Loader of the worker bin that Trunk builds from index.html
/// (`data-loader-shim`), relative to the page, so that dist/ works from any
/// path. gloo-worker's plain `spawn` would start the worker from a `blob:`
/// URL, which the page's Content-Security-Policy (`worker-src 'self'`)
/// blocks; the loader is a file served by the page's origin.
const WORKER_LOADER: &str = "./gatelab-worker_loader.js";

/// Why the page trains on the CPU.
#[derive(Clone, Debug, PartialEq)]
pub enum CpuReason {
    /// The browser has no `navigator.gpu`.
    NoWebGpu,
    /// `requestAdapter` found no adapter, with the error message.
    NoAdapter(String),
    /// The GPU engine failed.
    Error(EngineError),
}

/// The engine that both runs use.
#[derive(Clone)]
pub enum Backend {
    /// `device_id` is the id that [`crate::device_loss::watch`] gave the device.
    WebGpu { ctx: gatelab_gpu::GpuContext, description: String, device_id: u32 },
    Cpu(CpuReason),
}

impl PartialEq for Backend {
    fn eq(&self, other: &Backend) -> bool {
        match (self, other) {
            (Backend::WebGpu { description: a, .. }, Backend::WebGpu { description: b, .. }) => a == b,
            (Backend::Cpu(a), Backend::Cpu(b)) => a == b,
            _ => false,
        }
    }
}

/// Returns whether the browser exposes `navigator.gpu`.
pub fn webgpu_exposed() -> bool {
    let Some(window) = web_sys::window() else {
        return false;
    };
    js_sys::Reflect::get(&window.navigator(), &"gpu".into()).map(|gpu| !gpu.is_undefined()).unwrap_or(false)
}

/// Picks the backend: WebGPU where the browser gives an adapter and a
/// device, else the CPU with the reason.
pub async fn detect_backend() -> Backend {
    if !webgpu_exposed() {
        return Backend::Cpu(CpuReason::NoWebGpu);
    }
    detect_gpu().await
}

#[cfg(target_arch = "wasm32")]
async fn detect_gpu() -> Backend {
    match gatelab_gpu::GpuContext::browser().await {
        Ok(ctx) => {
            let description = ctx.adapter.name.clone();
            let device_id = crate::device_loss::watch(&ctx);
            Backend::WebGpu { ctx, description, device_id }
        }
        Err(gatelab_gpu::GpuError::NoAdapter { reason, .. }) => Backend::Cpu(CpuReason::NoAdapter(reason)),
        Err(error) => Backend::Cpu(CpuReason::Error(EngineError::from_gpu(&error, ""))),
    }
}

#[cfg(not(target_arch = "wasm32"))]
async fn detect_gpu() -> Backend {
    Backend::Cpu(CpuReason::NoWebGpu)
}

/// One run's engine.
pub enum Driver {
    Cpu(WorkerBridge<Trainer>),
    Gpu(GpuDriver),
}

impl Driver {
    /// Creates the engine of one run; `on_reply` receives every reply.
    pub fn new(backend: &Backend, on_reply: Callback<Reply>) -> Driver {
        match backend {
            Backend::WebGpu { ctx, .. } => Driver::Gpu(GpuDriver::new(ctx.clone(), on_reply)),
            Backend::Cpu(_) => {
                let bridge = Trainer::spawner()
                    .callback(move |reply| on_reply.emit(reply))
                    .encoding::<JsonCodec>()
                    .spawn_with_loader(WORKER_LOADER);
                Driver::Cpu(bridge)
            }
        }
    }

    /// Returns the CPU copy of a GPU run; the CPU engine keeps none.
    pub fn gpu_checkpoint(&self) -> Option<GpuCheckpoint> {
        match self {
            Driver::Cpu(_) => None,
            Driver::Gpu(driver) => driver.checkpoint(),
        }
    }

    pub fn send(&self, request: Request) {
        match self {
            Driver::Cpu(bridge) => bridge.send(request),
            Driver::Gpu(driver) => driver.send(request),
        }
    }
}

/// The WebGPU engine of one run, on the main thread. Each request runs as a
/// future, so the page keeps drawing while the GPU works; metrics are read
/// back only when they are due.
pub struct GpuDriver {
    ctx: gatelab_gpu::GpuContext,
    run: Rc<RefCell<Option<gatelab_gpu::GpuRun>>>,
    generation: Rc<RefCell<u32>>,
    on_reply: Callback<Reply>,
    /// The run's state as last copied to the CPU, after each chunk that
    /// took metrics; a new device resumes from it.
    checkpoint: Rc<RefCell<Option<GpuCheckpoint>>>,
}

impl GpuDriver {
    fn new(ctx: gatelab_gpu::GpuContext, on_reply: Callback<Reply>) -> GpuDriver {
        GpuDriver {
            ctx,
            run: Rc::new(RefCell::new(None)),
            generation: Rc::new(RefCell::new(0)),
            on_reply,
            checkpoint: Rc::new(RefCell::new(None)),
        }
    }

    /// Returns the run's state as last copied to the CPU, if any.
    pub fn checkpoint(&self) -> Option<GpuCheckpoint> {
        self.checkpoint.borrow().clone()
    }

    /// Builds the run of `config` on this driver's device from `checkpoint`
    /// and replies with `Reply::Trained` at the checkpoint's step, without
    /// new metrics.
    pub fn resume(&self, generation: u32, config: RunConfig, checkpoint: GpuCheckpoint) {
        *self.generation.borrow_mut() = generation;
        *self.run.borrow_mut() = None;
        let mut run = match gatelab_gpu::GpuRun::new(&self.ctx, config, &Limits::PAGE) {
            Ok(run) => run,
            Err(error) => {
                self.on_reply.emit(failed(generation, &error, &self.ctx.adapter.name));
                return;
            }
        };
        let tensors = |data: &Vec<f32>| gatelab_model::params::Tensors { data: data.clone() };
        if checkpoint.params.len() != run.layout.total {
            let error = EngineError::SavedSize { expected: run.layout.total, found: checkpoint.params.len() };
            self.on_reply.emit(Reply::Failed { generation, error });
            return;
        }
        run.write_params(&tensors(&checkpoint.params));
        run.write_moments(&tensors(&checkpoint.moment1), &tensors(&checkpoint.moment2));
        run.step = checkpoint.step;
        run.data_rng = checkpoint.data_rng.clone();
        run.history = checkpoint.history.clone();
        let step = checkpoint.step;
        let train_loss = checkpoint.history.last().and_then(|m| m.train_loss).unwrap_or(f64::NAN);
        *self.checkpoint.borrow_mut() = Some(checkpoint);
        *self.run.borrow_mut() = Some(run);
        self.on_reply.emit(Reply::Trained { generation, step, train_loss, metrics: Vec::new(), snapshot: None });
    }

    fn send(&self, request: Request) {
        match request {
            Request::Start { generation, config } => self.start(generation, config),
            Request::Train { generation, steps } => self.train(generation, steps),
            Request::Probe { generation, tokens } => self.probe(generation, tokens),
            // NOTE: the GPU engine ignores the test hooks; only the CPU
            // engine's divergence and panic paths are tested in a browser.
            #[cfg(feature = "test-hooks")]
            Request::TestHook { .. } => {}
            Request::Save { generation } => self.save(generation),
            Request::Restore { generation, checkpoint } => {
                let run = match checkpoint.decode() {
                    Ok(files) => gatelab_gpu::GpuRun::from_checkpoint(&self.ctx, &files, &Limits::PAGE)
                        .map_err(|error| self.start_error(generation, error)),
                    Err(detail) => Err(Reply::Failed { generation, error: EngineError::SavedUnreadable { detail } }),
                };
                self.begin(generation, run)
            }
        }
    }

    /// Returns the reply to a run that the GPU engine could not build. Sizes
    /// beyond the device's limits and invalid settings are found before any
    /// buffer is made. They are a problem of the settings, not of the GPU, so
    /// they are `Rejected`.
    fn start_error(&self, generation: u32, error: gatelab_gpu::GpuError) -> Reply {
        match error {
            gatelab_gpu::GpuError::TooLarge { .. } | gatelab_gpu::GpuError::Config(_) => {
                Reply::Rejected { generation, error: EngineError::from_gpu(&error, &self.ctx.adapter.name) }
            }
            other => failed(generation, &other, &self.ctx.adapter.name),
        }
    }

    /// Reads the parameters back and runs the CPU forward pass on them, so
    /// that both engines probe with the same code. Like `train`, it takes the
    /// run out of its cell until done, because the page sends one request at a
    /// time.
    fn probe(&self, generation: u32, tokens: Vec<u32>) {
        if *self.generation.borrow() != generation {
            return;
        }
        let Some(run) = self.run.borrow_mut().take() else {
            return;
        };
        let cell = self.run.clone();
        let current = self.generation.clone();
        let on_reply = self.on_reply.clone();
        let adapter = self.ctx.adapter.name.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let reply = match run.read_params().await {
                Ok(params) => {
                    let result = crate::probe::run_probe(&run.config.model, &run.layout, &params, &tokens);
                    Reply::Probed { generation, result }
                }
                Err(error) => failed(generation, &error, &adapter),
            };
            if *current.borrow() == generation {
                *cell.borrow_mut() = Some(run);
                on_reply.emit(reply);
            }
        });
    }

    fn start(&self, generation: u32, config: RunConfig) {
        let run = gatelab_gpu::GpuRun::new(&self.ctx, config, &Limits::PAGE).map_err(|error| self.start_error(generation, error));
        self.begin(generation, run);
    }

    /// Measures a new or restored run and replies `Started`, or sends the
    /// reply that explains why the run could not be built.
    fn begin(&self, generation: u32, run: Result<gatelab_gpu::GpuRun, Reply>) {
        *self.generation.borrow_mut() = generation;
        *self.run.borrow_mut() = None;
        let run = match run {
            Ok(run) => run,
            Err(reply) => {
                self.on_reply.emit(reply);
                return;
            }
        };
        let cell = self.run.clone();
        let current = self.generation.clone();
        let on_reply = self.on_reply.clone();
        let adapter = self.ctx.adapter.name.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let labels = run.task.labels();
            let reply = match run.evaluate().await {
                Ok((metrics, snapshot)) => Reply::Started { generation, labels, metrics, snapshot },
                Err(error) => failed(generation, &error, &adapter),
            };
            if *current.borrow() == generation {
                *cell.borrow_mut() = Some(run);
                on_reply.emit(reply);
            }
        });
    }

    /// Reads the parameters and AdamW state back into a checkpoint. The
    /// page keeps the metric history, so the checkpoint's is empty.
    fn save(&self, generation: u32) {
        if *self.generation.borrow() != generation {
            return;
        }
        let Some(run) = self.run.borrow_mut().take() else {
            return;
        };
        let cell = self.run.clone();
        let current = self.generation.clone();
        let on_reply = self.on_reply.clone();
        let adapter = self.ctx.adapter.name.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let reply = match run.to_checkpoint(Vec::new()).await {
                Ok(files) => Reply::Saved { generation, checkpoint: WireCheckpoint::encode(&files) },
                Err(error) => failed(generation, &error, &adapter),
            };
            if *current.borrow() == generation {
                *cell.borrow_mut() = Some(run);
                on_reply.emit(reply);
            }
        });
    }

    /// Takes the run out of its cell for the chunk and puts it back after,
    /// unless a newer `start` replaced it meanwhile.
    fn train(&self, generation: u32, steps: usize) {
        if *self.generation.borrow() != generation {
            return;
        }
        let Some(mut run) = self.run.borrow_mut().take() else {
            return;
        };
        let cell = self.run.clone();
        let current = self.generation.clone();
        let on_reply = self.on_reply.clone();
        let checkpoint_cell = self.checkpoint.clone();
        let adapter = self.ctx.adapter.name.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let mut reply = match train_chunk(&mut run, generation, steps).await {
                Ok(reply) => reply,
                Err(error) => failed(generation, &error, &adapter),
            };
            if matches!(&reply, Reply::Trained { metrics, .. } if !metrics.is_empty()) {
                match copy_to_cpu(&run).await {
                    Ok(checkpoint) => *checkpoint_cell.borrow_mut() = Some(checkpoint),
                    Err(error) => reply = failed(generation, &error, &adapter),
                }
            }
            if *current.borrow() == generation {
                *cell.borrow_mut() = Some(run);
                on_reply.emit(reply);
            }
        });
    }
}

/// Copies the parameters, AdamW moments, data stream and history of `run`
/// to the CPU.
async fn copy_to_cpu(run: &gatelab_gpu::GpuRun) -> Result<GpuCheckpoint, gatelab_gpu::GpuError> {
    let params = run.read_params().await?;
    let (moment1, moment2) = run.read_moments().await?;
    Ok(GpuCheckpoint {
        step: run.step,
        params: params.data,
        moment1: moment1.data,
        moment2: moment2.data,
        data_rng: run.data_rng.clone(),
        history: run.history.clone(),
    })
}

/// Trains up to `steps` steps and reads the loss and gradient norm back at
/// the end of the chunk, the GPU engine's metrics read. A non-finite value
/// there, or in metrics taken during the chunk, ends the chunk with
/// [`Reply::Diverged`]. The GPU skips the update of a non-finite step, so the
/// parameters stay those from before it.
async fn train_chunk(run: &mut gatelab_gpu::GpuRun, generation: u32, steps: usize) -> Result<Reply, gatelab_gpu::GpuError> {
    let mut metrics = Vec::new();
    let mut snapshot = None;
    for _ in 0..steps {
        run.ready().await?;
        run.step()?;
        if run.step % run.config.metrics_every == 0 {
            let (measured, snap) = run.evaluate().await?;
            if let Some(reply) = divergence(generation, run, measured.train_loss, measured.grad_norm, &metrics) {
                return Ok(reply);
            }
            run.history.push(measured.clone());
            metrics.push(measured);
            snapshot = Some(snap);
        }
    }
    // NOTE: the loss is read back once per chunk, which waits for the GPU.
    let stats = run.read_stats().await?;
    if let Some(reply) = divergence(generation, run, Some(stats.loss), Some(stats.grad_norm), &metrics) {
        return Ok(reply);
    }
    Ok(Reply::Trained { generation, step: run.step, train_loss: stats.loss, metrics, snapshot })
}

/// Returns [`Reply::Diverged`] when the loss or the gradient norm of the
/// run's last step is not finite. The GPU does not report which step of a
/// chunk first failed, so the reply names the last step queued.
fn divergence(
    generation: u32,
    run: &gatelab_gpu::GpuRun,
    loss: Option<f64>,
    grad_norm: Option<f64>,
    metrics: &[gatelab_model::Metrics],
) -> Option<Reply> {
    let (what, value) = match (loss, grad_norm) {
        (Some(loss), _) if !loss.is_finite() => ("loss", loss),
        (_, Some(norm)) if !norm.is_finite() => ("gradient norm", norm),
        _ => return None,
    };
    let lr = gatelab_model::optim::learning_rate(&run.config.train, run.step.saturating_sub(1));
    Some(Reply::Diverged {
        generation,
        step: run.step,
        what: what.to_string(),
        value: value.to_string(),
        lr,
        metrics: metrics.to_vec(),
    })
}

/// Returns the reply to a run that the GPU engine could not go on with.
fn failed(generation: u32, error: &gatelab_gpu::GpuError, adapter: &str) -> Reply {
    Reply::Failed { generation, error: EngineError::from_gpu(error, adapter) }
}
