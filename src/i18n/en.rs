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
    intro_body: "gatelab will train a baseline transformer and a gated-attention \
        transformer on the same data, at the same time, on your own GPU through \
        WebGPU. Where WebGPU is not available, a CPU engine compiled to \
        WebAssembly takes over, more slowly.",
    intro_sink: "In a softmax attention layer, each head's weights over the \
        earlier tokens must sum to one, even when nothing earlier is relevant. \
        Many heads then learn to put most of that weight on the first token. \
        This pattern is called an attention sink.",
    intro_status: "This is an early version of the page: training is not \
        available yet.",
    comparison_heading: "What you will compare",
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
    backend_body: "The GPU path will run one WGSL compute kernel per \
        operation. The CPU engine, written in Rust, runs the same model and \
        serves as the reference for the GPU results.",
    backend_webgpu_found: "This browser exposes the WebGPU API, so training \
        will try the GPU first.",
    backend_webgpu_missing: "This browser does not expose WebGPU, so training \
        will use the CPU fallback.",
    footer_source: "Based on:",
    paper_authors: "Qiu et al., 2025.",
    paper_title: "Gated Attention for Large Language Models: Non-linearity, \
        Sparsity, and Attention-Sink-Free",
    paper_reference: "arXiv:2505.06708",
};
