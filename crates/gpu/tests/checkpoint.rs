//! Checkpoints of the GPU engine: a run restored from its checkpoint trains
//! on exactly as the run it was taken from, and the CPU engine reads the
//! same files.

mod common;

use common::*;
use gatelab_gpu::GpuRun;
use gatelab_model::{BigramTable, Limits, ModelConfig, Run, RunConfig, TaskConfig, TrainConfig, Variant};

fn config() -> RunConfig {
    RunConfig {
        seed: 3,
        model: ModelConfig { layers: 2, heads: 2, width: 16, seq_len: 8, variant: Variant::named("g1").expect("named"), ..Default::default() },
        // Warm-up longer than the steps before the checkpoint, so a restored
        // run that lost its step would take a different learning rate.
        train: TrainConfig { batch: 4, lr: 1e-2, warmup: 10, ..Default::default() },
        task: TaskConfig::BigramBackcopy { vocab: 11, table: BigramTable::Random, triggers: 2 },
        metrics_every: 5,
        probe_batch: 3,
    }
}

#[test]
fn restored_gpu_run_trains_on_identically() {
    let mut original = GpuRun::new(ctx(), config(), &Limits::CLI).expect("valid test config");
    for _ in 0..6 {
        original.step().expect("queue step");
    }
    let files = pollster::block_on(original.to_checkpoint(Vec::new())).expect("checkpoint");
    let mut restored = GpuRun::from_checkpoint(ctx(), &files, &Limits::CLI).expect("restore");
    assert_eq!(restored.step, 6);
    assert_eq!(
        pollster::block_on(restored.read_params()).expect("read").data,
        pollster::block_on(original.read_params()).expect("read").data,
        "restored parameters differ"
    );
    let (m0, v0) = pollster::block_on(original.read_moments()).expect("read");
    let (m1, v1) = pollster::block_on(restored.read_moments()).expect("read");
    assert_eq!(m1.data, m0.data, "restored first moments differ");
    assert_eq!(v1.data, v0.data, "restored second moments differ");

    for _ in 0..4 {
        original.step().expect("queue step");
        restored.step().expect("queue step");
    }
    let want = pollster::block_on(original.read_params()).expect("read").data;
    let got = pollster::block_on(restored.read_params()).expect("read").data;
    let gap = want.iter().zip(&got).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert!(gap == 0.0, "after 4 more steps the restored run is {gap} away from the original");
}

#[test]
fn cpu_engine_reads_a_gpu_checkpoint() {
    let mut gpu = GpuRun::new(ctx(), config(), &Limits::CLI).expect("valid test config");
    for _ in 0..3 {
        gpu.step().expect("queue step");
    }
    let files = pollster::block_on(gpu.to_checkpoint(Vec::new())).expect("checkpoint");
    let cpu = Run::<f32>::from_checkpoint(&files, &Limits::CLI).expect("the CPU engine reads the files");
    assert_eq!(cpu.step, 3);
    assert_eq!(cpu.opt.t, 3);
    assert_eq!(cpu.params.data, pollster::block_on(gpu.read_params()).expect("read").data);
    assert_eq!(cpu.data_rng.get_word_pos(), gpu.data_rng.get_word_pos());
}
