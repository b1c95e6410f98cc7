//! Prints the wall time and the bytes copied back of one metrics read on the
//! lesson config, for the baseline and G1. `evaluate` reduces the metrics on
//! the GPU and reads back one small report. `evaluate_on_cpu` reads back the
//! whole probe forward cache and the parameters and computes on the CPU.
//! Times are the mean of five reads after one warm-up read, after one
//! training step, and include the probe batch's forward pass.
//! Run with `cargo run --release -p gatelab-gpu --example profile_metrics`.

use std::time::Instant;

use gatelab_gpu::{GpuContext, GpuRun};
use gatelab_model::{Limits, RunConfig, Variant};

const READS: u32 = 5;

fn main() {
    let ctx = GpuContext::native().expect("a Vulkan device is required");
    for variant in [Variant::BASELINE, Variant::G1] {
        let config = RunConfig::lesson().with_variant(variant);
        let mut run = GpuRun::new(&ctx, config, &Limits::CLI).expect("the lesson config is valid");
        run.step().expect("step failed");
        pollster::block_on(run.ready()).expect("step failed");
        for on_gpu in [false, true] {
            let read = |run: &GpuRun| {
                let result = if on_gpu { pollster::block_on(run.evaluate()) } else { pollster::block_on(run.evaluate_on_cpu()) };
                result.expect("metrics read failed")
            };
            read(&run);
            let bytes_before = ctx.bytes_read();
            let start = Instant::now();
            for _ in 0..READS {
                read(&run);
            }
            let ms = start.elapsed().as_secs_f64() * 1e3 / READS as f64;
            let bytes = (ctx.bytes_read() - bytes_before) / READS as u64;
            let path = if on_gpu { "evaluate (GPU reductions)" } else { "evaluate_on_cpu (whole cache)" };
            println!("{:>8}  {path:<30} {ms:8.2} ms  {bytes:>9} bytes read back", variant.name());
        }
        // Each dispatch of the probe pass alone, the minimum over three runs.
        let mut times = run.profile_probe().expect("profiled probe pass failed");
        for _ in 0..2 {
            let again = run.profile_probe().expect("profiled probe pass failed");
            for ((_, best), (_, time)) in times.iter_mut().zip(again) {
                *best = (*best).min(time);
            }
        }
        let ms = |label_is_metric: bool| -> f64 {
            times.iter().filter(|(label, _)| label.starts_with("metrics.wgsl") == label_is_metric).map(|(_, t)| t.as_secs_f64() * 1e3).sum()
        };
        println!("{:>8}  probe forward {:.2} ms, metric reductions {:.2} ms, dispatched one by one", variant.name(), ms(false), ms(true));
        for (label, time) in times.iter().filter(|(label, _)| label.starts_with("metrics.wgsl")) {
            println!("{:>8}    {:8.2} ms  {label}", "", time.as_secs_f64() * 1e3);
        }
    }
}
