//! Checkpoints: weights and optimiser state as safetensors, with the run's
//! config as JSON, so a run can be resumed and the weights opened in PyTorch.
//!
//! `model.safetensors` contains one f32 tensor per parameter, named as in
//! [`crate::params::Layout`] (`tok_emb`, `pos_emb`, `layers.{l}.attn.wq`,
//! `layers.{l}.attn.wg`, `layers.{l}.mlp.w1`, `final_norm.gain`, `lm_head`,
//! ...). Matrices are (in, out): a layer computes `x @ W`, so PyTorch's
//! `nn.Linear.weight` is `W.T`. `optimizer.safetensors` contains `adam.m.{name}`
//! and `adam.v.{name}`. `config.json` contains a [`CheckpointMeta`].

use std::collections::HashMap;

use safetensors::tensor::{Dtype, TensorView};
use safetensors::SafeTensors;
use serde::{Deserialize, Serialize};

use crate::config::{Limits, RunConfig};
use crate::error::CheckpointError;
use crate::metrics::Metrics;
use crate::params::{Layout, Tensors};
use crate::scalar::Scalar;
use crate::train::Run;

/// Version of the checkpoint format.
pub const FORMAT_VERSION: u32 = 1;

/// The JSON beside the tensors.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckpointMeta {
    pub format_version: u32,
    pub config: RunConfig,
    /// Steps taken.
    pub step: usize,
    /// AdamW updates applied (equal to `step` for runs trained here).
    pub adam_t: u64,
    /// Position of the data stream, so a resumed run draws the same batches.
    pub data_word_pos: u128,
    /// Names, shapes and (in, out) orientation of every tensor.
    pub tensors: Vec<TensorInfo>,
    pub history: Vec<Metrics>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TensorInfo {
    pub name: String,
    pub shape: Vec<usize>,
}

/// The three files of a checkpoint, as bytes.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckpointFiles {
    pub model: Vec<u8>,
    pub optimizer: Vec<u8>,
    pub config_json: String,
}

fn to_le_bytes<F: Scalar>(values: &[F]) -> Vec<u8> {
    values.iter().flat_map(|v| (v.as_f64() as f32).to_le_bytes()).collect()
}

/// Serialises named tensors of `t` as f32 safetensors, each name prefixed.
pub fn tensors_to_safetensors<F: Scalar>(layout: &Layout, t: &Tensors<F>, prefix: &str) -> Vec<u8> {
    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = layout
        .specs
        .iter()
        .map(|spec| (format!("{prefix}{}", spec.name), spec.shape.clone(), to_le_bytes(t.slice(spec))))
        .collect();
    let views: Vec<(String, TensorView<'_>)> = bytes
        .iter()
        .map(|(name, shape, data)| {
            let view = TensorView::new(Dtype::F32, shape.clone(), data).expect("shape and byte length agree");
            (name.clone(), view)
        })
        .collect();
    safetensors::serialize(views, None).expect("serialising in-memory f32 tensors cannot fail")
}

/// Reads named tensors into a buffer shaped by `layout`.
pub fn tensors_from_safetensors<F: Scalar>(layout: &Layout, bytes: &[u8], prefix: &str, path: &str) -> Result<Tensors<F>, CheckpointError> {
    let file = SafeTensors::deserialize(bytes)
        .map_err(|e| CheckpointError::Safetensors { path: path.to_string(), message: e.to_string() })?;
    let mut out = Tensors::zeros(layout);
    for spec in &layout.specs {
        let name = format!("{prefix}{}", spec.name);
        let view = file
            .tensor(&name)
            .map_err(|_| CheckpointError::MissingTensor { path: path.to_string(), name: name.clone() })?;
        if view.shape() != spec.shape.as_slice() || view.dtype() != Dtype::F32 {
            return Err(CheckpointError::ShapeMismatch {
                path: path.to_string(),
                name,
                found: view.shape().to_vec(),
                expected: spec.shape.clone(),
            });
        }
        let slot = out.slice_mut(spec);
        for (dst, chunk) in slot.iter_mut().zip(view.data().chunks_exact(4)) {
            *dst = F::of(f32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]) as f64);
        }
    }
    Ok(out)
}

impl CheckpointFiles {
    /// Builds the three files from a run's parts, whichever engine holds
    /// them: `m` and `v` are AdamW's moments.
    pub fn from_parts<F: Scalar>(meta: &CheckpointMeta, layout: &Layout, params: &Tensors<F>, m: &Tensors<F>, v: &Tensors<F>) -> CheckpointFiles {
        // Two prefixes in one file: build it from both moment buffers.
        let optimizer = merge_safetensors(&[
            &tensors_to_safetensors(layout, m, "adam.m."),
            &tensors_to_safetensors(layout, v, "adam.v."),
        ]);
        CheckpointFiles {
            model: tensors_to_safetensors(layout, params, ""),
            optimizer,
            config_json: serde_json::to_string_pretty(meta).expect("metrics and config serialise"),
        }
    }

    /// Parses `config.json`.
    pub fn meta(&self) -> Result<CheckpointMeta, CheckpointError> {
        serde_json::from_str(&self.config_json).map_err(|e| CheckpointError::Json { path: "config.json".into(), source: e })
    }

    /// Reads the parameters and AdamW's two moments, shaped by `layout`.
    pub fn tensors<F: Scalar>(&self, layout: &Layout) -> Result<(Tensors<F>, Tensors<F>, Tensors<F>), CheckpointError> {
        Ok((
            tensors_from_safetensors(layout, &self.model, "", "model.safetensors")?,
            tensors_from_safetensors(layout, &self.optimizer, "adam.m.", "optimizer.safetensors")?,
            tensors_from_safetensors(layout, &self.optimizer, "adam.v.", "optimizer.safetensors")?,
        ))
    }
}

impl CheckpointMeta {
    /// The metadata of a run of `config` with `layout` at `step`.
    pub fn new(config: &RunConfig, layout: &Layout, step: usize, adam_t: u64, data_word_pos: u128, history: Vec<Metrics>) -> Self {
        CheckpointMeta {
            format_version: FORMAT_VERSION,
            config: config.clone(),
            step,
            adam_t,
            data_word_pos,
            tensors: layout.specs.iter().map(|s| TensorInfo { name: s.name.clone(), shape: s.shape.clone() }).collect(),
            history,
        }
    }
}

impl<F: Scalar> Run<F> {
    /// Writes the run's weights, optimiser state and config.
    pub fn to_checkpoint(&self) -> CheckpointFiles {
        let meta = CheckpointMeta::new(
            &self.config,
            &self.layout,
            self.step,
            self.opt.t,
            self.data_rng.get_word_pos(),
            self.history.clone(),
        );
        CheckpointFiles::from_parts(&meta, &self.layout, &self.params, &self.opt.m, &self.opt.v)
    }

    /// Rebuilds a run from checkpoint files, ready to train on from where it
    /// stopped. Weights go through f32, so an f64 run resumes rounded.
    pub fn from_checkpoint(files: &CheckpointFiles, limits: &Limits) -> Result<Self, CheckpointError> {
        let meta = files.meta()?;
        let mut run = Run::new(meta.config.clone(), limits)?;
        (run.params, run.opt.m, run.opt.v) = files.tensors(&run.layout)?;
        run.opt.t = meta.adam_t;
        run.step = meta.step;
        run.data_rng.set_word_pos(meta.data_word_pos);
        run.history = meta.history;
        Ok(run)
    }
}

fn merge_safetensors(files: &[&[u8]]) -> Vec<u8> {
    let parsed: Vec<SafeTensors<'_>> =
        files.iter().map(|b| SafeTensors::deserialize(b).expect("written by this module")).collect();
    let mut views: HashMap<String, TensorView<'_>> = HashMap::new();
    for file in &parsed {
        for (name, view) in file.tensors() {
            views.insert(name, view);
        }
    }
    let mut sorted: Vec<(String, TensorView<'_>)> = views.into_iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    safetensors::serialize(sorted, None).expect("serialising in-memory f32 tensors cannot fail")
}

#[cfg(not(target_arch = "wasm32"))]
mod files {
    use super::*;
    use std::path::Path;

    pub const MODEL_FILE: &str = "model.safetensors";
    pub const OPTIMIZER_FILE: &str = "optimizer.safetensors";
    pub const CONFIG_FILE: &str = "config.json";

    fn io_error(path: &Path, source: std::io::Error) -> CheckpointError {
        CheckpointError::Io { path: path.display().to_string(), source }
    }

    impl CheckpointFiles {
        /// Writes the three files into `dir`, creating it.
        pub fn write_dir(&self, dir: &Path) -> Result<(), CheckpointError> {
            std::fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;
            for (name, bytes) in [
                (MODEL_FILE, self.model.as_slice()),
                (OPTIMIZER_FILE, self.optimizer.as_slice()),
                (CONFIG_FILE, self.config_json.as_bytes()),
            ] {
                let path = dir.join(name);
                std::fs::write(&path, bytes).map_err(|e| io_error(&path, e))?;
            }
            Ok(())
        }

        /// Reads the three files from `dir`.
        pub fn read_dir(dir: &Path) -> Result<CheckpointFiles, CheckpointError> {
            let read = |name: &str| {
                let path = dir.join(name);
                std::fs::read(&path).map_err(|e| io_error(&path, e))
            };
            let config = read(CONFIG_FILE)?;
            Ok(CheckpointFiles {
                model: read(MODEL_FILE)?,
                optimizer: read(OPTIMIZER_FILE)?,
                config_json: String::from_utf8_lossy(&config).into_owned(),
            })
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
pub use files::{CONFIG_FILE, MODEL_FILE, OPTIMIZER_FILE};
