//! The CPU engine's Web Worker: one `Run<f32>` per worker, so two runs train
//! on two cores and the page never blocks.

use gatelab_model::{Limits, Run, TrainError};
use gloo::worker::{HandlerId, Worker, WorkerScope};

use crate::probe::run_probe;
use crate::export::WireCheckpoint;
use crate::protocol::{EngineError, Reply, Request};

/// Trains one run inside a Web Worker.
pub struct Trainer {
    run: Option<Run<f32>>,
    generation: u32,
}

impl Worker for Trainer {
    type Message = ();
    type Input = Request;
    type Output = Reply;

    fn create(_scope: &WorkerScope<Self>) -> Self {
        Trainer { run: None, generation: 0 }
    }

    fn update(&mut self, _scope: &WorkerScope<Self>, _msg: ()) {}

    fn received(&mut self, scope: &WorkerScope<Self>, request: Request, id: HandlerId) {
        let generation = match &request {
            Request::Start { generation, .. }
            | Request::Train { generation, .. }
            | Request::Probe { generation, .. }
            | Request::Save { generation }
            | Request::Restore { generation, .. } => *generation,
            #[cfg(feature = "test-hooks")]
            Request::TestHook { generation, .. } => *generation,
        };
        if let Some(handler) = crate::fault::handler_id_number(id) {
            crate::fault::set_current_request(handler, generation);
        }
        let reply = match request {
            Request::Start { generation, config } => self.start(generation, config),
            Request::Train { generation, steps } => self.train(generation, steps),
            Request::Probe { generation, tokens } => self.probe(generation, &tokens),
            #[cfg(feature = "test-hooks")]
            Request::TestHook { action, .. } => self.test_hook(action),
            Request::Save { generation } => self.save(generation),
            Request::Restore { generation, checkpoint } => self.restore(generation, checkpoint),
        };
        if let Some(reply) = reply {
            scope.respond(id, reply);
        }
    }
}

impl Trainer {
    fn start(&mut self, generation: u32, config: gatelab_model::RunConfig) -> Option<Reply> {
        self.generation = generation;
        let mut run = match Run::<f32>::new(config, &Limits::PAGE) {
            Ok(run) => run,
            Err(error) => {
                self.run = None;
                return Some(Reply::Failed { generation, error: EngineError::from(&error) });
            }
        };
        let (metrics, snapshot) = run.evaluate();
        run.history.push(metrics.clone());
        let labels = run.task.labels();
        self.run = Some(run);
        Some(Reply::Started { generation, labels, metrics, snapshot })
    }

    /// Probes the current model; a request for an older generation gets no reply.
    fn probe(&self, generation: u32, tokens: &[u32]) -> Option<Reply> {
        if generation != self.generation {
            return None;
        }
        let run = self.run.as_ref()?;
        let result = run_probe(&run.config.model, &run.layout, &run.params, tokens);
        Some(Reply::Probed { generation, result })
    }

    #[cfg(feature = "test-hooks")]
    fn test_hook(&mut self, action: crate::test_hooks::TestAction) -> Option<Reply> {
        match action {
            crate::test_hooks::TestAction::PoisonParams => {
                if let Some(run) = self.run.as_mut() {
                    run.params.data[0] = f32::NAN;
                }
            }
            crate::test_hooks::TestAction::Panic => panic!("test hook: worker panic requested"),
        }
        None
    }

    /// Returns the run's checkpoint; a request for an older generation gets no reply.
    fn save(&self, generation: u32) -> Option<Reply> {
        if generation != self.generation {
            return None;
        }
        let run = self.run.as_ref()?;
        Some(Reply::Saved { generation, checkpoint: WireCheckpoint::encode(&run.to_checkpoint()) })
    }

    /// Builds the run from a checkpoint and replies as `start` does, at the
    /// checkpoint's step.
    fn restore(&mut self, generation: u32, checkpoint: WireCheckpoint) -> Option<Reply> {
        self.generation = generation;
        self.run = None;
        let run = checkpoint
            .decode()
            .map_err(|detail| EngineError::SavedUnreadable { detail })
            .and_then(|files| Run::<f32>::from_checkpoint(&files, &Limits::PAGE).map_err(|error| EngineError::from(&error)));
        let run = match run {
            Ok(run) => run,
            Err(error) => return Some(Reply::Failed { generation, error }),
        };
        let (metrics, snapshot) = run.evaluate();
        let labels = run.task.labels();
        self.run = Some(run);
        Some(Reply::Started { generation, labels, metrics, snapshot })
    }

    /// Trains a chunk; a request for an older generation gets no reply.
    fn train(&mut self, generation: u32, steps: usize) -> Option<Reply> {
        if generation != self.generation {
            return None;
        }
        let run = self.run.as_mut()?;
        let mut metrics = Vec::new();
        let mut snapshot = None;
        let mut train_loss = f64::NAN;
        for _ in 0..steps {
            match run.train_step() {
                Ok(stats) => train_loss = stats.loss,
                Err(TrainError::Diverged { step, what, value, lr }) => {
                    let value = value.to_string();
                    return Some(Reply::Diverged { generation, step, what: what.to_string(), value, lr, metrics });
                }
                Err(TrainError::Config(error)) => {
                    return Some(Reply::Failed { generation, error: EngineError::from(&error) });
                }
            }
            if run.metrics_due() {
                let (measured, snap) = run.evaluate();
                run.history.push(measured.clone());
                metrics.push(measured);
                snapshot = Some(snap);
            }
        }
        Some(Reply::Trained { generation, step: run.step, train_loss, metrics, snapshot })
    }
}
