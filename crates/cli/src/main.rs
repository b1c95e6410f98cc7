//! `gatelab`: train, compare, export and benchmark gatelab's transformer on
//! the CPU engine or the GPU engine, for reproducible experiments.

mod args;
mod engine;
mod report;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand};
use gatelab_model::checkpoint::CheckpointFiles;
use gatelab_model::{Limits, Metrics, Run, RunConfig};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use args::RunArgs;
use engine::{Backend, Engine};
use report::{FinalMetrics, Report, RunReport};

#[derive(Parser)]
#[command(name = "gatelab", version, about = "Train tiny transformers with and without gated attention and measure their attention sinks")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train one run and write its metrics.
    Train(TrainArgs),
    /// Train several variants from one seed and print a comparison table.
    Compare(CompareArgs),
    /// Write a checkpoint's weights as safetensors with its config, for PyTorch.
    Export(ExportArgs),
    /// Measure training speed of the CPU or GPU engine.
    Bench(BenchArgs),
}

#[derive(clap::Args)]
struct TrainArgs {
    #[command(flatten)]
    run: RunArgs,
    /// Variant: a name (baseline, g1, g1-headwise, g1-shared, g1-additive, g1-silu, g2, g3, g4, g5,
    /// softmax1, sink-logit, sigmoid-attn), optionally with knob values joined by '+', e.g. g3+headwise.
    #[arg(long, default_value = "g1")]
    variant: String,
    /// Training steps to take. With --resume, these are steps after the checkpoint's step, not a
    /// total: a checkpoint saved at step 1500 and resumed with --steps 500 stops at step 2000.
    #[arg(long, default_value_t = 1500)]
    steps: usize,
    /// Write the metric history as CSV here.
    #[arg(long, value_name = "PATH")]
    csv: Option<PathBuf>,
    /// Write the config, final metrics and history as JSON here.
    #[arg(long, value_name = "PATH")]
    json: Option<PathBuf>,
    /// Write a checkpoint (weights, optimiser state, config) into this folder at the end.
    #[arg(long, value_name = "DIR")]
    save: Option<PathBuf>,
    /// Resume from a checkpoint folder written by --save; run options are then taken from it,
    /// so none may be given. A checkpoint resumes on either backend, whichever one saved it.
    /// Pass --save again to update a checkpoint.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["variant", "RunArgs"])]
    resume: Option<PathBuf>,
    /// Training engine. A GPU run's --save reads its weights and optimiser state back
    /// into the same checkpoint format as a CPU run's.
    #[arg(long, value_enum, default_value_t = Backend::Cpu)]
    backend: Backend,
    /// Print no progress bar and no metric lines, only the final table.
    #[arg(long)]
    quiet: bool,
}

#[derive(clap::Args)]
struct CompareArgs {
    #[command(flatten)]
    run: RunArgs,
    /// Comma-separated variants, all from the same seed.
    #[arg(long, default_value = "baseline,g1,g1-headwise")]
    variants: String,
    /// Training steps of each run.
    #[arg(long, default_value_t = 1500)]
    steps: usize,
    /// Runs trained at once (default: the number of CPU cores). With --backend gpu the
    /// runs always train one after another on the one device.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    jobs: Option<u64>,
    /// Training engine.
    #[arg(long, value_enum, default_value_t = Backend::Cpu)]
    backend: Backend,
    /// Write {"runs": [{"variant", "config", "final", "history"}]} here.
    #[arg(long, value_name = "PATH")]
    json: Option<PathBuf>,
    /// Write every run's metric history as CSV here.
    #[arg(long, value_name = "PATH")]
    csv: Option<PathBuf>,
    /// Print no progress bars and no progress lines (which replace the bars when
    /// the output is not a terminal), only the final table.
    #[arg(long)]
    quiet: bool,
}

#[derive(clap::Args)]
struct ExportArgs {
    /// Checkpoint folder written by `gatelab train --save`.
    #[arg(long = "from", value_name = "DIR")]
    from: PathBuf,
    /// Folder to write model.safetensors and config.json into.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Store matrices as (out, in), the orientation of PyTorch's nn.Linear.weight,
    /// instead of gatelab's (in, out).
    #[arg(long)]
    torch_layout: bool,
}

#[derive(clap::Args)]
struct BenchArgs {
    #[command(flatten)]
    run: RunArgs,
    /// Variant to time.
    #[arg(long, default_value = "g1")]
    variant: String,
    /// Timed steps.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
    steps: u64,
    /// Untimed steps first.
    #[arg(long, default_value_t = 5)]
    warmup_steps: usize,
    /// Training engine to time.
    #[arg(long, value_enum, default_value_t = Backend::Cpu)]
    backend: Backend,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Train(a) => train(a),
        Command::Compare(a) => compare(a),
        Command::Export(a) => export(a),
        Command::Bench(a) => bench(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn progress_bar(steps: u64, label: &str, quiet: bool) -> ProgressBar {
    let bar = ProgressBar::new(steps);
    if quiet {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    bar.set_style(
        ProgressStyle::with_template("{prefix:>14} [{bar:30}] {pos}/{len} {per_sec} eta {eta} {msg}")
            .expect("the template is valid")
            .progress_chars("=> "),
    );
    bar.set_prefix(label.to_string());
    bar
}

fn short_metrics(m: &Metrics) -> String {
    let gate = m.gate.as_ref().map_or(String::new(), |g| format!(" gate {:.3}", g.mean));
    let train = m.train_loss.map_or(String::new(), |l| format!("loss {l:.3} "));
    format!("{train}val {:.3} F-Attn {:.3}{gate}", m.val_loss, m.f_attn)
}

/// The metrics lines that `train_with_bar` prints besides the bar.
#[derive(Clone, Copy, PartialEq, Eq)]
enum MetricsLines {
    /// None (`--quiet`).
    None,
    /// Every metrics step.
    All,
    /// The first metrics step after each tenth of the run, printed only
    /// where no bar is drawn (the output is not a terminal). A long run in
    /// a log then still shows its progress.
    Tenths,
}

/// Trains `run` for `steps` steps, updating `bar`, and returns its report.
fn train_with_bar(mut run: Engine, steps: usize, bar: &ProgressBar, lines: MetricsLines) -> Result<(RunReport, Engine), String> {
    let start = Instant::now();
    let label = run.config().model.variant.name();
    let mut tenths_done = 0;
    let result = run.train(steps, |metrics| {
        bar.inc(1);
        if let Some(m) = metrics {
            bar.set_message(short_metrics(m));
            let done = 10 * bar.position() as usize / steps.max(1);
            if lines == MetricsLines::Tenths && bar.is_hidden() && !bar.is_finished() && done > tenths_done {
                tenths_done = done;
                eprintln!("{label:>14} step {:>6}/{steps}  {}", m.step, short_metrics(m));
            }
            if lines == MetricsLines::All {
                let line = format!("step {:>6}  {}", m.step, short_metrics(m));
                // A hidden bar (output not a terminal) drops println, so print directly.
                if bar.is_hidden() {
                    eprintln!("{line}");
                } else {
                    bar.println(line);
                }
            }
        }
    });
    bar.finish();
    result.map_err(|e| format!("{}: {e}", run.config().model.variant))?;
    let last = run.history().last().expect("train records metrics").clone();
    let report = RunReport {
        variant: run.config().model.variant.name(),
        backend: run.backend().name().to_string(),
        config: run.config().clone(),
        seconds: start.elapsed().as_secs_f64(),
        final_metrics: FinalMetrics::from_metrics(&last),
        history: run.history().to_vec(),
    };
    Ok((report, run))
}

fn write_file(path: &Path, contents: &[u8]) -> Result<(), String> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
    }
    std::fs::write(path, contents).map_err(|e| format!("{}: {e}", path.display()))
}

fn write_outputs(reports: &[RunReport], json: Option<&Path>, csv: Option<&Path>) -> Result<(), String> {
    if let Some(path) = json {
        let report = Report { runs: reports.to_vec() };
        let text = serde_json::to_string_pretty(&report).map_err(|e| format!("cannot encode JSON: {e}"))?;
        write_file(path, text.as_bytes())?;
        eprintln!("wrote {}", path.display());
    }
    if let Some(path) = csv {
        write_file(path, report::csv(reports).as_bytes())?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

fn train(a: TrainArgs) -> Result<(), String> {
    let run = match &a.resume {
        Some(dir) => {
            let files = CheckpointFiles::read_dir(dir).map_err(|e| e.to_string())?;
            let run = Run::from_checkpoint(&files, &Limits::CLI).map_err(|e| e.to_string())?;
            let gpu = a.backend.context()?;
            Engine::resume(run, gpu.as_ref())?
        }
        None => {
            let base = a.run.base_config()?;
            let config = a.run.run_config(&base, &a.variant)?;
            let gpu = a.backend.context()?;
            Engine::new(config, gpu.as_ref())?
        }
    };
    let name = run.config().model.variant.name();
    let bar = progress_bar(a.steps as u64, &name, a.quiet);
    let (report, run) = train_with_bar(run, a.steps, &bar, if a.quiet { MetricsLines::None } else { MetricsLines::All })?;
    println!("{}", report::table(std::slice::from_ref(&report)));
    write_outputs(std::slice::from_ref(&report), a.json.as_deref(), a.csv.as_deref())?;
    if let Some(dir) = &a.save {
        run.into_cpu_run()?.to_checkpoint().write_dir(dir).map_err(|e| e.to_string())?;
        eprintln!("wrote checkpoint {}", dir.display());
    }
    Ok(())
}

fn compare(a: CompareArgs) -> Result<(), String> {
    let base = a.run.base_config()?;
    let configs: Vec<RunConfig> = a
        .variants
        .split(',')
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(|v| a.run.run_config(&base, v))
        .collect::<Result<_, _>>()?;
    if configs.is_empty() {
        return Err("--variants is empty: name at least one variant".into());
    }
    let gpu = a.backend.context()?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    // One device runs one training step at a time, so GPU runs go one after another.
    let jobs = if gpu.is_some() { 1 } else { a.jobs.map_or(cores, |j| j as usize).clamp(1, configs.len()) };
    let multi = MultiProgress::new();
    if a.quiet {
        multi.set_draw_target(ProgressDrawTarget::hidden());
    }
    let lines = if a.quiet { MetricsLines::None } else { MetricsLines::Tenths };
    let bars: Vec<ProgressBar> = configs
        .iter()
        .map(|c| multi.add(progress_bar(a.steps as u64, &c.model.variant.name(), a.quiet)))
        .collect();

    // Runs are independent, so a few worker threads take them in order; each
    // run is deterministic whichever thread trains it.
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<std::sync::Mutex<Option<Result<RunReport, String>>>> =
        configs.iter().map(|_| std::sync::Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                if i >= configs.len() {
                    break;
                }
                let outcome = Engine::new(configs[i].clone(), gpu.as_ref())
                    .and_then(|run| train_with_bar(run, a.steps, &bars[i], lines).map(|(report, _)| report));
                *results[i].lock().expect("no thread panics while holding it") = Some(outcome);
            });
        }
    });
    let reports: Vec<RunReport> = results
        .into_iter()
        .map(|slot| slot.into_inner().expect("no thread panics while holding it").expect("every run was taken"))
        .collect::<Result<_, _>>()?;

    let task = base.task.kind_name();
    println!(
        "task {task}, seed {}, {} steps, L={} H={} C={} T={} batch {} lr {}",
        base.seed, a.steps, base.model.layers, base.model.heads, base.model.width, base.model.seq_len, base.train.batch, base.train.lr
    );
    if let Some(ctx) = &gpu {
        println!("backend gpu: {}", engine::adapter_description(ctx));
    }
    println!("{}", report::table(&reports));
    println!("F-Attn of uniform attention at T={}: {:.4}", base.model.seq_len, gatelab_model::metrics::uniform_f_attn(base.model.seq_len));
    write_outputs(&reports, a.json.as_deref(), a.csv.as_deref())
}

fn export(a: ExportArgs) -> Result<(), String> {
    let files = CheckpointFiles::read_dir(&a.from).map_err(|e| e.to_string())?;
    let run: Run = Run::from_checkpoint(&files, &Limits::CLI).map_err(|e| e.to_string())?;
    let mut params = run.params.clone();
    if a.torch_layout {
        // (in, out) -> (out, in) for every matrix except the embedding tables,
        // which PyTorch's nn.Embedding also stores as (rows, width).
        let mut layout = run.layout.clone();
        for spec in layout.specs.iter_mut() {
            let is_table = spec.name == "tok_emb" || spec.name == "pos_emb";
            if spec.shape.len() == 2 && !is_table {
                let (rows, cols) = (spec.shape[0], spec.shape[1]);
                let src = run.params.slice(spec).to_vec();
                let dst = params.slice_mut(spec);
                for r in 0..rows {
                    for c in 0..cols {
                        dst[c * rows + r] = src[r * cols + c];
                    }
                }
                spec.shape = vec![cols, rows];
            }
        }
        let bytes = gatelab_model::checkpoint::tensors_to_safetensors(&layout, &params, "");
        write_file(&a.out.join("model.safetensors"), &bytes)?;
    } else {
        write_file(&a.out.join("model.safetensors"), &files.model)?;
    }
    let meta = serde_json::json!({
        "config": run.config,
        "step": run.step,
        "orientation": if a.torch_layout { "(out, in) as nn.Linear.weight" } else { "(in, out): y = x @ W" },
        "tensors": run.layout.specs.iter().map(|s| serde_json::json!({"name": s.name, "shape": s.shape})).collect::<Vec<_>>(),
    });
    let text = serde_json::to_string_pretty(&meta).map_err(|e| format!("cannot encode JSON: {e}"))?;
    write_file(&a.out.join("config.json"), text.as_bytes())?;
    eprintln!("wrote {} (step {})", a.out.display(), run.step);
    Ok(())
}

fn bench(a: BenchArgs) -> Result<(), String> {
    let base = a.run.base_config()?;
    let config = a.run.run_config(&base, &a.variant)?;
    let gpu = a.backend.context()?;
    let mut run = Engine::new(config.clone(), gpu.as_ref())?;
    for _ in 0..a.warmup_steps {
        run.train_step()?;
    }
    let start = Instant::now();
    let steps = a.steps as usize;
    for _ in 0..steps {
        run.train_step()?;
    }
    let seconds = start.elapsed().as_secs_f64();
    let eval_start = Instant::now();
    run.evaluate()?;
    let eval_seconds = eval_start.elapsed().as_secs_f64();
    let tokens = (config.train.batch * config.model.seq_len * steps) as f64;
    let m = &config.model;
    match &gpu {
        None => println!("backend cpu (ndarray, one thread), variant {}", m.variant),
        Some(ctx) => println!("backend gpu ({}), variant {}", engine::adapter_description(ctx), m.variant),
    }
    println!(
        "config: L={} H={} C={} T={} batch {} vocab {} ({} parameters)",
        m.layers, m.heads, m.width, m.seq_len, config.train.batch, run.vocab(), run.parameter_count()
    );
    println!("steps/s  {:.2}", steps as f64 / seconds);
    println!("tokens/s {:.0}", tokens / seconds);
    println!("ms/step  {:.2}", 1e3 * seconds / steps as f64);
    if let Some(dispatches) = run.dispatches_per_step() {
        println!("dispatches/step {dispatches}");
        println!("read-back/step  {} bytes", engine::GPU_STEP_READ_BACK_BYTES);
    }
    println!("probe metrics: {:.2} ms", 1e3 * eval_seconds);
    Ok(())
}
