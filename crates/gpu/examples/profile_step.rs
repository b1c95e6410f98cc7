//! Prints the wall time of each dispatch of one training step on the lesson
//! config (variant G1), each submitted alone and waited for, as the minimum
//! over three steps after one warm-up step. Then prints the mean time of a
//! whole step in one submission, as the engine queues it.
//! Run with `cargo run --release -p gatelab-gpu --example profile_step`.

use gatelab_gpu::{GpuContext, GpuRun};
use gatelab_model::{Limits, RunConfig, Variant};

fn main() {
    let ctx = GpuContext::native().expect("a Vulkan device is required");
    let config = RunConfig::lesson().with_variant(Variant::G1);
    let mut run = GpuRun::new(&ctx, config, &Limits::CLI).expect("the lesson config is valid");
    let batch = run.next_batch();
    run.profile_step(&batch).expect("warm-up step failed");
    let mut times = run.profile_step(&batch).expect("profiled step failed");
    for _ in 0..2 {
        let again = run.profile_step(&batch).expect("profiled step failed");
        for ((_, best), (_, time)) in times.iter_mut().zip(again) {
            *best = (*best).min(time);
        }
    }

    let total: f64 = times.iter().map(|(_, t)| t.as_secs_f64() * 1e3).sum();
    for (label, time) in &times {
        println!("{:10.2} ms  {label}", time.as_secs_f64() * 1e3);
    }
    println!("{total:10.2} ms  total over {} dispatches", times.len());

    // The same step as the engine queues it: every dispatch in one submission.
    let steps = 3;
    let start = std::time::Instant::now();
    for _ in 0..steps {
        run.step_on(&batch).expect("step failed");
        pollster::block_on(run.ready()).expect("step failed");
    }
    let per_step = start.elapsed().as_secs_f64() * 1e3 / steps as f64;
    println!("{per_step:10.2} ms  per step in one submission, mean of {steps}");
}
