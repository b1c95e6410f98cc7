//! The page side of the two training engines: a CPU Web Worker per run, or
//! the WebGPU engine on the main thread. Both answer [`Request`]s with
//! [`Reply`]s through a callback, so the page drives them the same way.

use std::cell::RefCell;
use std::rc::Rc;

use gatelab_model::{Limits, RunConfig};
use gloo::worker::{Spawnable, WorkerBridge};
use yew::Callback;

use crate::export::WireCheckpoint;
use crate::protocol::{JsonCodec, Reply, Request};
use crate::worker::Trainer;

/// Script of the worker bin that Trunk builds from index.html, relative to
/// the page, so that dist/ works from any path.
const WORKER_SCRIPT: &str = "./gatelab-worker.js";

/// Why the page trains on the CPU.
#[derive(Clone, Debug, PartialEq)]
pub enum CpuReason {
    /// The browser has no `navigator.gpu`.
    NoWebGpu,
    /// `requestAdapter` found no adapter, with the error message.
    NoAdapter(String),
    /// The GPU engine failed, with the error message.
    Error(String),
}

/// The engine that both runs use.
#[derive(Clone)]
pub enum Backend {
    WebGpu { ctx: gatelab_gpu::GpuContext, description: String },
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
            Backend::WebGpu { ctx, description }
        }
        Err(gatelab_gpu::GpuError::NoAdapter { reason, .. }) => Backend::Cpu(CpuReason::NoAdapter(reason)),
        Err(error) => Backend::Cpu(CpuReason::Error(error.to_string())),
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
                    .spawn(WORKER_SCRIPT);
                Driver::Cpu(bridge)
            }
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
}

impl GpuDriver {
    fn new(ctx: gatelab_gpu::GpuContext, on_reply: Callback<Reply>) -> GpuDriver {
        GpuDriver { ctx, run: Rc::new(RefCell::new(None)), generation: Rc::new(RefCell::new(0)), on_reply }
    }

    fn send(&self, request: Request) {
        match request {
            Request::Start { generation, config } => self.start(generation, config),
            Request::Train { generation, steps } => self.train(generation, steps),
            Request::Save { generation } => self.save(generation),
            Request::Restore { generation, checkpoint } => {
                let run = checkpoint.decode().and_then(|files| {
                    gatelab_gpu::GpuRun::from_checkpoint(&self.ctx, &files, &Limits::PAGE).map_err(|e| e.to_string())
                });
                self.begin(generation, run)
            }
        }
    }

    fn start(&self, generation: u32, config: RunConfig) {
        let run = gatelab_gpu::GpuRun::new(&self.ctx, config, &Limits::PAGE).map_err(|e| e.to_string());
        self.begin(generation, run);
    }

    /// Measures a new or restored run and replies `Started`.
    fn begin(&self, generation: u32, run: Result<gatelab_gpu::GpuRun, String>) {
        *self.generation.borrow_mut() = generation;
        *self.run.borrow_mut() = None;
        let run = match run {
            Ok(run) => run,
            Err(message) => {
                self.on_reply.emit(Reply::Failed { generation, message });
                return;
            }
        };
        let cell = self.run.clone();
        let current = self.generation.clone();
        let on_reply = self.on_reply.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let labels = run.task.labels();
            let reply = match run.evaluate().await {
                Ok((metrics, snapshot)) => Reply::Started { generation, labels, metrics, snapshot },
                Err(error) => Reply::Failed { generation, message: error.to_string() },
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
        wasm_bindgen_futures::spawn_local(async move {
            let reply = match run.to_checkpoint(Vec::new()).await {
                Ok(files) => Reply::Saved { generation, checkpoint: WireCheckpoint::encode(&files) },
                Err(error) => Reply::Failed { generation, message: error.to_string() },
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
        wasm_bindgen_futures::spawn_local(async move {
            let reply = match train_chunk(&mut run, generation, steps).await {
                Ok(reply) => reply,
                Err(error) => Reply::Failed { generation, message: error.to_string() },
            };
            if *current.borrow() == generation {
                *cell.borrow_mut() = Some(run);
                on_reply.emit(reply);
            }
        });
    }
}

async fn train_chunk(run: &mut gatelab_gpu::GpuRun, generation: u32, steps: usize) -> Result<Reply, gatelab_gpu::GpuError> {
    let mut metrics = Vec::new();
    let mut snapshot = None;
    for _ in 0..steps {
        run.ready().await?;
        run.step()?;
        if run.step % run.config.metrics_every == 0 {
            let (measured, snap) = run.evaluate().await?;
            run.history.push(measured.clone());
            metrics.push(measured);
            snapshot = Some(snap);
        }
    }
    // NOTE: the loss is read back once per chunk, which waits for the GPU.
    let stats = run.read_stats().await?;
    if !stats.loss.is_finite() {
        return Ok(Reply::Failed {
            generation,
            message: format!("training diverged at step {}: the loss is {}; lower the learning rate", run.step, stats.loss),
        });
    }
    Ok(Reply::Trained { generation, step: run.step, train_loss: stats.loss, metrics, snapshot })
}
