//! English text of the page.

use super::Strings;

pub static EN: Strings = Strings {
    document_title: "gatelab: attention sinks and gated attention",
    brand: "gatelab",
    tagline: "Watch an attention sink form, then watch a gate remove it.",
    language_switch_label: "Language",
    language_english: "English",
    language_japanese: "日本語",
    intro_heading: "Two tiny transformers, trained side by side in your browser",
    intro_body: "gatelab trains a baseline transformer and a gated-attention \
        transformer on the same data, at the same time, on your own GPU through \
        WebGPU. Where WebGPU is not available, a CPU engine compiled to \
        WebAssembly takes over in Web Workers, more slowly.",
    intro_sink: "In a softmax attention layer, each head's weights over the \
        earlier tokens must sum to one, even when nothing earlier is relevant. \
        Many heads then learn to put most of that weight on the first token. \
        This pattern is called an attention sink.",
    intro_status: "Press Play to train both runs from the same seed. Every \
        setting is kept in the page address, so a link reproduces the view.",
    comparison_heading: "The two models",
    baseline_title: "Baseline",
    baseline_body: "Standard multi-head softmax attention. Each head's output \
        is its attention-weighted sum of value vectors, passed straight to the \
        output projection.",
    baseline_expectation: "As training runs, the share of attention on the \
        first token rises: the attention sink forms.",
    gated_title: "Gated attention",
    gated_body: "The same model with one change: each head's attention output \
        is multiplied, element by element, by a sigmoid gate computed from the \
        current token. A head can then output close to zero without parking \
        its attention on the first token.",
    gated_expectation: "The share of attention on the first token stays low: \
        the gate removes the need for a sink.",
    metric_name: "F-Attn",
    metric_definition: "First-token attention: the attention weight that \
        queries place on the first token, averaged over the queries.",
    backend_heading: "GPU or CPU",
    backend_body: "The GPU path runs one WGSL compute kernel per \
        operation. The CPU engine, written in Rust, runs the same model and \
        serves as the reference for the GPU results.",
    backend_webgpu_found: "This browser exposes the WebGPU API, so training \
        tries the GPU first.",
    backend_webgpu_missing: "This browser does not expose WebGPU, so training \
        uses the CPU fallback.",
    footer_source: "Based on:",
    paper_authors: "Qiu et al., 2025.",
    paper_title: "Gated Attention for Large Language Models: Non-linearity, \
        Sparsity, and Attention-Sink-Free",
    paper_reference: "arXiv:2505.06708",
    playground_heading: "Train both runs",
    run_a_title: "Run A",
    run_b_title: "Run B",
    variant_label: "Variant",
    play: "Play",
    pause: "Pause",
    single_step: "Step",
    reset: "Reset",
    new_seed: "New seed",
    steps_per_frame: "Steps per frame",
    learning_rate: "Learning rate",
    batch_label: "Batch",
    layers_label: "Layers",
    heads_label: "Heads",
    width_label: "Width",
    seq_len_label: "Sequence length",
    task_label: "Task",
    seed_label: "Seed",
    steps_label: "Training steps",
    task_bigram: "Bigram-Backcopy",
    task_text_en: "Text (English)",
    task_text_ja: "Text (Japanese)",
    task_copy: "Copy",
    step_counter: "Step {step} of {total}",
    speed: "{steps} steps/s, {tokens} tokens/s",
    backend_label: "Engine:",
    backend_detecting: "checking for WebGPU…",
    backend_cpu: "CPU (Web Workers), because {reason}",
    reason_no_webgpu: "this browser has no navigator.gpu",
    reason_no_adapter: "WebGPU found no GPU adapter",
    reason_error: "the GPU engine failed ({error})",
    cpu_lesson_note: "On the CPU the page starts with half the batch of the full lesson (32 sequences instead of 64), so that 1500 steps finish in reasonable time. The attention sink still forms in the baseline, and the gate still removes it.",
    gpu_failed: "The GPU engine failed ({error}). Training continues on the CPU.",
    url_rejected: "The link sets {field} = {value}, which is not allowed (allowed: {allowed}). The default is used instead.",
    run_failed: "{run} stopped: {error}",
    chart_attention: "Attention on the probe sequence, every layer and head (click one to zoom)",
    chart_zoom: "Layer {layer}, head {head}: rows are queries, columns are keys",
    axis_query: "query",
    axis_key: "key",
    axis_step: "step",
    chart_f_attn: "F-Attn and sink heads",
    series_f_attn: "F-Attn",
    series_sink_heads: "share of sink heads",
    series_uniform: "uniform attention",
    chart_gate_hist: "Gate values",
    series_gate_share: "share of gate values",
    axis_gate: "gate value",
    chart_gate_map: "Mean gate per head (rows) and position (columns)",
    axis_head: "head",
    axis_position: "position",
    chart_gate_copy: "Gate at copy queries and elsewhere, and the BOS value norm",
    series_gate_copy: "gate at copy queries",
    series_gate_other: "gate elsewhere",
    series_bos_norm: "BOS value norm",
    gate_copy_note: "A gated head switches itself off with the gate where it has nothing to copy, so it needs no sink; the baseline parks that attention on the first token and shrinks its value instead.",
    chart_m_act: "Maximum activation per layer",
    series_layer: "layer {layer}",
    chart_loss: "Loss",
    series_train_loss: "training loss",
    series_val_loss: "held-out loss",
    no_gate: "This variant has no gate.",
    loss_note: "On this task the loss is the same with and without the gate: the lesson is the mechanism, not the score.",
    waiting: "Starting…",
    fatal_title: "The page stopped after an internal error",
    fatal_body: "Something inside the page failed, so it can no longer update. The details below say what failed. Reset loads the page again with the default settings.",
    fatal_reset: "Reset",
    diverged: "{run} diverged at step {step}: the {what} became {value}. Training is paused and the charts keep the steps before it. Lower the learning rate (now {lr}) and press Reset.",
    diverged_loss: "loss",
    diverged_grad_norm: "gradient norm",
    device_lost_resumed: "The GPU device was lost ({error}). A new device took over, and training continues from step {step}, the last step copied from the GPU.",
};
