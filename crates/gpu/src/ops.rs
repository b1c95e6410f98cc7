//! Builders of single dispatches, one function per kernel entry point. They
//! pack each shader's `Params` in field order and bind the buffers in the
//! order the shader numbers them. The engine chains them into a step; the
//! tests run them one at a time against the CPU operations.
//!
//! Offsets are in f32 elements. Shapes follow the model crate: N = B * T
//! rows, C channels, H heads of D channels, V vocabulary, G gate values.

use gatelab_model::{AttnNorm, GateAct, GateForm, Granularity, Sharing, Variant};
use wgpu::Buffer;

use crate::context::GpuContext;
use crate::kernels::{flat_groups, Pass, Shader, Uniform, TILE, WG};

fn flag(value: bool) -> u32 {
    value as u32
}

// ---------------------------------------------------------------------------
// embedding.wgsl

/// Sizes of the embedding kernels and the tables' offsets in the parameter and gradient buffers.
#[derive(Clone, Copy, Debug)]
pub struct EmbeddingSpec {
    pub rows: usize,
    pub width: usize,
    pub seq_len: usize,
    pub vocab: usize,
    pub tok_offset: usize,
    /// Offset of the learned position table; `None` with RoPE.
    pub pos_offset: Option<usize>,
}

impl EmbeddingSpec {
    fn uniform(&self) -> Uniform {
        Uniform::new()
            .u(self.rows as u32)
            .u(self.width as u32)
            .u(self.seq_len as u32)
            .u(self.vocab as u32)
            .u(self.tok_offset as u32)
            .u(self.pos_offset.unwrap_or(0) as u32)
            .u(flag(self.pos_offset.is_some()))
    }
}

pub fn embedding_forward(ctx: &GpuContext, spec: &EmbeddingSpec, tokens: &Buffer, parameters: &Buffer, x: &Buffer) -> Pass {
    ctx.kernels().pass(
        Shader::Embedding,
        "forward",
        &spec.uniform(),
        &[(1, tokens), (2, parameters), (4, x)],
        flat_groups(spec.rows * spec.width),
    )
}

/// Builds the token row index that `embedding_backward_tokens` reads, (V + 1 + N) entries:
/// entry v is where the rows of token v start in the row list, entry V is N,
/// and the row list that follows holds the row numbers grouped by token,
/// ascending within a token. Rows whose token is not below `vocab` are left
/// out, so their gradient goes nowhere, and zeros pad the list to N entries.
pub fn token_row_index(tokens: &[u32], vocab: usize) -> Vec<u32> {
    let mut counts = vec![0u32; vocab];
    for &token in tokens {
        if let Some(count) = counts.get_mut(token as usize) {
            *count += 1;
        }
    }
    let mut index = Vec::with_capacity(vocab + 1 + tokens.len());
    let mut start = 0u32;
    for count in &counts {
        index.push(start);
        start += count;
    }
    index.push(start);
    index.resize(vocab + 1 + tokens.len(), 0);

    let mut next: Vec<u32> = index[..vocab].to_vec();
    for (row, &token) in tokens.iter().enumerate() {
        if let Some(slot) = next.get_mut(token as usize) {
            index[vocab + 1 + *slot as usize] = row as u32;
            *slot += 1;
        }
    }
    index
}

/// `token_rows` is the batch's [`token_row_index`].
pub fn embedding_backward_tokens(ctx: &GpuContext, spec: &EmbeddingSpec, token_rows: &Buffer, dx: &Buffer, grads: &Buffer) -> Pass {
    ctx.kernels().pass(
        Shader::Embedding,
        "backward_tokens",
        &spec.uniform(),
        &[(3, dx), (5, grads), (6, token_rows)],
        flat_groups(spec.vocab * spec.width),
    )
}

pub fn embedding_backward_positions(ctx: &GpuContext, spec: &EmbeddingSpec, dx: &Buffer, grads: &Buffer) -> Pass {
    ctx.kernels().pass(
        Shader::Embedding,
        "backward_positions",
        &spec.uniform(),
        &[(3, dx), (5, grads)],
        flat_groups(spec.seq_len * spec.width),
    )
}

// ---------------------------------------------------------------------------
// rmsnorm.wgsl

#[derive(Clone, Copy, Debug)]
pub struct NormSpec {
    pub rows: usize,
    pub width: usize,
    pub gain_offset: usize,
}

impl NormSpec {
    fn uniform(&self, accumulate: bool) -> Uniform {
        Uniform::new()
            .u(self.rows as u32)
            .u(self.width as u32)
            .u(self.gain_offset as u32)
            .u(flag(accumulate))
            .f(gatelab_model::ops::RMS_EPS as f32)
    }
}

pub fn rmsnorm_forward(ctx: &GpuContext, spec: &NormSpec, x: &Buffer, parameters: &Buffer, out: &Buffer, rstd: &Buffer) -> Pass {
    ctx.kernels().pass(
        Shader::Rmsnorm,
        "forward",
        &spec.uniform(false),
        &[(1, x), (2, parameters), (5, out), (6, rstd)],
        flat_groups(spec.rows),
    )
}

/// dx (+)= the input gradient; `accumulate` adds into dx.
pub fn rmsnorm_backward_input(
    ctx: &GpuContext,
    spec: &NormSpec,
    dout: &Buffer,
    x: &Buffer,
    parameters: &Buffer,
    rstd: &Buffer,
    dx: &Buffer,
    accumulate: bool,
) -> Pass {
    ctx.kernels().pass(
        Shader::Rmsnorm,
        "backward_input",
        &spec.uniform(accumulate),
        &[(1, x), (2, parameters), (3, dout), (4, rstd), (7, dx)],
        flat_groups(spec.rows),
    )
}

pub fn rmsnorm_backward_gain(ctx: &GpuContext, spec: &NormSpec, dout: &Buffer, x: &Buffer, rstd: &Buffer, grads: &Buffer) -> Pass {
    ctx.kernels().pass(
        Shader::Rmsnorm,
        "backward_gain",
        &spec.uniform(false),
        &[(1, x), (3, dout), (4, rstd), (8, grads)],
        flat_groups(spec.width),
    )
}

// ---------------------------------------------------------------------------
// matmul.wgsl

/// The operand a matrix product reads transposed (see matmul.wgsl).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatmulKind {
    /// C = A B with A (M, K), B (K, N).
    Forward,
    /// C = A^T B with A stored (K, M).
    TransposeA,
    /// C = A B^T with B stored (N, K).
    TransposeB,
}

/// A tensor at an offset inside a flat buffer.
#[derive(Clone, Copy, Debug)]
pub struct At<'a> {
    pub buffer: &'a Buffer,
    pub offset: usize,
}

impl<'a> At<'a> {
    pub fn start(buffer: &'a Buffer) -> Self {
        At { buffer, offset: 0 }
    }

    pub fn new(buffer: &'a Buffer, offset: usize) -> Self {
        At { buffer, offset }
    }
}

fn matmul_uniform(m: usize, n: usize, k: usize, a: At, b: At, c: At, accumulate: bool) -> Uniform {
    Uniform::new()
        .u(m as u32)
        .u(n as u32)
        .u(k as u32)
        .u(a.offset as u32)
        .u(b.offset as u32)
        .u(c.offset as u32)
        .u(flag(accumulate))
}

fn matmul_groups(m: usize, n: usize) -> [u32; 3] {
    [n.div_ceil(TILE as usize) as u32, m.div_ceil(TILE as usize) as u32, 1]
}

/// C (M, N) (+)= the product of `kind`; `accumulate` adds into C.
#[allow(clippy::too_many_arguments)]
pub fn matmul(ctx: &GpuContext, kind: MatmulKind, m: usize, n: usize, k: usize, a: At, b: At, c: At, accumulate: bool) -> Pass {
    let entry = match kind {
        MatmulKind::Forward => "forward",
        MatmulKind::TransposeA => "transpose_a",
        MatmulKind::TransposeB => "transpose_b",
    };
    ctx.kernels().pass(
        Shader::Matmul,
        entry,
        &matmul_uniform(m, n, k, a, b, c, accumulate),
        &[(1, a.buffer), (2, b.buffer), (4, c.buffer)],
        matmul_groups(m, n),
    )
}

/// C (M, N) = R + A B, with R (M, N) at offset 0 of `residual`.
#[allow(clippy::too_many_arguments)]
pub fn matmul_residual(ctx: &GpuContext, m: usize, n: usize, k: usize, a: At, b: At, residual: &Buffer, c: At) -> Pass {
    ctx.kernels().pass(
        Shader::Matmul,
        "forward_residual",
        &matmul_uniform(m, n, k, a, b, c, false),
        &[(1, a.buffer), (2, b.buffer), (3, residual), (4, c.buffer)],
        matmul_groups(m, n),
    )
}

// ---------------------------------------------------------------------------
// gelu.wgsl

pub fn gelu_forward(ctx: &GpuContext, count: usize, x: &Buffer, out: &Buffer) -> Pass {
    ctx.kernels().pass(Shader::Gelu, "forward", &Uniform::new().u(count as u32), &[(1, x), (3, out)], flat_groups(count))
}

pub fn gelu_backward(ctx: &GpuContext, count: usize, dout: &Buffer, x: &Buffer, dx: &Buffer) -> Pass {
    ctx.kernels().pass(
        Shader::Gelu,
        "backward",
        &Uniform::new().u(count as u32),
        &[(1, x), (2, dout), (4, dx)],
        flat_groups(count),
    )
}

// ---------------------------------------------------------------------------
// gate.wgsl

/// The gate knobs of a variant, as the shaders encode them.
#[derive(Clone, Copy, Debug)]
pub struct GateSpec {
    pub rows: usize,
    pub width: usize,
    pub gate_width: usize,
    pub head_dim: usize,
    /// 0 elementwise head-specific, 1 elementwise shared, 2 headwise
    /// head-specific, 3 headwise shared.
    pub index_mode: u32,
    /// 0 multiplicative, 1 additive.
    pub form: u32,
    /// 0 sigmoid, 1 SiLU.
    pub act: u32,
}

impl GateSpec {
    pub fn new(variant: &Variant, rows: usize, width: usize, heads: usize) -> Self {
        let index_mode = match (variant.granularity, variant.sharing) {
            (Granularity::Elementwise, Sharing::HeadSpecific) => 0,
            (Granularity::Elementwise, Sharing::HeadShared) => 1,
            (Granularity::Headwise, Sharing::HeadSpecific) => 2,
            (Granularity::Headwise, Sharing::HeadShared) => 3,
        };
        GateSpec {
            rows,
            width,
            gate_width: variant.gate_width(width, heads),
            head_dim: width / heads,
            index_mode,
            form: match variant.form {
                GateForm::Multiplicative => 0,
                GateForm::Additive => 1,
            },
            act: match variant.act {
                GateAct::Sigmoid => 0,
                GateAct::Silu => 1,
            },
        }
    }

    fn uniform(&self) -> Uniform {
        Uniform::new()
            .u(self.rows as u32)
            .u(self.width as u32)
            .u(self.gate_width as u32)
            .u(self.head_dim as u32)
            .u(self.index_mode)
            .u(self.form)
            .u(self.act)
    }
}

pub fn gate_act_forward(ctx: &GpuContext, spec: &GateSpec, z: &Buffer, gate: &Buffer) -> Pass {
    ctx.kernels().pass(
        Shader::Gate,
        "act_forward",
        &spec.uniform(),
        &[(1, z), (6, gate)],
        flat_groups(spec.rows * spec.gate_width),
    )
}

pub fn gate_apply_forward(ctx: &GpuContext, spec: &GateSpec, t: &Buffer, gate: &Buffer, out: &Buffer) -> Pass {
    ctx.kernels().pass(
        Shader::Gate,
        "apply_forward",
        &spec.uniform(),
        &[(2, t), (3, gate), (7, out)],
        flat_groups(spec.rows * spec.width),
    )
}

/// out = res + gate(t): the G5 gate with the residual add.
pub fn gate_apply_residual(ctx: &GpuContext, spec: &GateSpec, res: &Buffer, t: &Buffer, gate: &Buffer, out: &Buffer) -> Pass {
    ctx.kernels().pass(
        Shader::Gate,
        "apply_residual",
        &spec.uniform(),
        &[(2, t), (3, gate), (4, res), (7, out)],
        flat_groups(spec.rows * spec.width),
    )
}

pub fn gate_backward_input(ctx: &GpuContext, spec: &GateSpec, dout: &Buffer, gate: &Buffer, dt: &Buffer) -> Pass {
    ctx.kernels().pass(
        Shader::Gate,
        "backward_input",
        &spec.uniform(),
        &[(3, gate), (5, dout), (7, dt)],
        flat_groups(spec.rows * spec.width),
    )
}

pub fn gate_backward_gate(ctx: &GpuContext, spec: &GateSpec, dout: &Buffer, t: &Buffer, z: &Buffer, dz: &Buffer) -> Pass {
    ctx.kernels().pass(
        Shader::Gate,
        "backward_gate",
        &spec.uniform(),
        &[(1, z), (2, t), (5, dout), (8, dz)],
        flat_groups(spec.rows * spec.gate_width),
    )
}

// ---------------------------------------------------------------------------
// rope.wgsl

#[derive(Clone, Copy, Debug)]
pub struct RopeSpec {
    pub rows: usize,
    pub width: usize,
    pub heads: usize,
    pub seq_len: usize,
}

/// Builds the (2, T, D/2) table of rope.wgsl: cosines, then sines, from the
/// CPU engine's f64 tables.
pub fn rope_table(seq_len: usize, head_dim: usize) -> Vec<f32> {
    let (cos, sin) = gatelab_model::ops::rope_tables::<f32>(seq_len, head_dim);
    cos.iter().chain(sin.iter()).copied().collect()
}

/// Rotates `x` into `out`; `inverse` rotates by the negative angle (the backward pass).
pub fn rope(ctx: &GpuContext, spec: &RopeSpec, x: &Buffer, table: &Buffer, out: &Buffer, inverse: bool) -> Pass {
    let half = spec.width / spec.heads / 2;
    let uniform = Uniform::new()
        .u(spec.rows as u32)
        .u(spec.width as u32)
        .u(spec.heads as u32)
        .u(spec.seq_len as u32)
        .u(half as u32);
    let entry = if inverse { "backward" } else { "forward" };
    ctx.kernels().pass(Shader::Rope, entry, &uniform, &[(1, x), (2, table), (3, out)], flat_groups(spec.rows * spec.heads * half))
}

// ---------------------------------------------------------------------------
// attention.wgsl

#[derive(Clone, Copy, Debug)]
pub struct AttentionSpec {
    pub batch: usize,
    pub seq_len: usize,
    pub heads: usize,
    pub head_dim: usize,
    pub norm: AttnNorm,
    /// Offset of the (H) sink logits; 0 without them.
    pub sink_offset: usize,
}

impl AttentionSpec {
    /// Elements of the attention buffer: weights (B, H, T, T), then null masses (B, H, T).
    pub fn att_len(&self) -> usize {
        self.batch * self.heads * self.seq_len * (self.seq_len + 1)
    }

    fn rows(&self) -> usize {
        self.batch * self.heads * self.seq_len
    }

    fn uniform(&self, gate: Option<&GateSpec>) -> Uniform {
        let norm = match self.norm {
            AttnNorm::Softmax => 0,
            AttnNorm::Softmax1 => 1,
            AttnNorm::SinkLogit => 2,
            AttnNorm::Sigmoid => 3,
        };
        Uniform::new()
            .u(self.batch as u32)
            .u(self.seq_len as u32)
            .u(self.heads as u32)
            .u(self.head_dim as u32)
            .u(norm)
            .u(self.sink_offset as u32)
            .f((1.0 / (self.head_dim as f64).sqrt()) as f32)
            .f((self.seq_len as f64).ln() as f32)
            .u(gate.map_or(0, |g| g.gate_width as u32))
            .u(gate.map_or(0, |g| g.index_mode))
            .u(gate.map_or(0, |g| g.form))
    }
}

/// The G1 gate fused into the attention output: gate values in, gated output out.
pub struct FusedGate<'a> {
    pub spec: &'a GateSpec,
    pub gate: &'a Buffer,
    pub y_gated: &'a Buffer,
}

#[allow(clippy::too_many_arguments)]
pub fn attention_forward(
    ctx: &GpuContext,
    spec: &AttentionSpec,
    q: &Buffer,
    k: &Buffer,
    v: &Buffer,
    parameters: &Buffer,
    att: &Buffer,
    y: &Buffer,
    gate: Option<FusedGate>,
) -> Pass {
    let groups = flat_groups(spec.rows());
    match gate {
        None => ctx.kernels().pass(
            Shader::Attention,
            "forward",
            &spec.uniform(None),
            &[(1, q), (2, k), (3, v), (4, parameters), (9, att), (10, y)],
            groups,
        ),
        Some(fused) => ctx.kernels().pass(
            Shader::Attention,
            "forward_gated",
            &spec.uniform(Some(fused.spec)),
            &[(1, q), (2, k), (3, v), (4, parameters), (5, fused.gate), (9, att), (10, y), (11, fused.y_gated)],
            groups,
        ),
    }
}

/// dS (with the rows' null-logit gradients) and dq.
#[allow(clippy::too_many_arguments)]
pub fn attention_backward_rows(
    ctx: &GpuContext,
    spec: &AttentionSpec,
    dy: &Buffer,
    k: &Buffer,
    v: &Buffer,
    att: &Buffer,
    ds: &Buffer,
    dq: &Buffer,
) -> Pass {
    ctx.kernels().pass(
        Shader::Attention,
        "backward_rows",
        &spec.uniform(None),
        &[(2, k), (3, v), (6, dy), (7, att), (12, ds), (13, dq)],
        flat_groups(spec.rows()),
    )
}

/// dk and dv from dS and the saved weights.
#[allow(clippy::too_many_arguments)]
pub fn attention_backward_columns(
    ctx: &GpuContext,
    spec: &AttentionSpec,
    dy: &Buffer,
    q: &Buffer,
    att: &Buffer,
    ds: &Buffer,
    dk: &Buffer,
    dv: &Buffer,
) -> Pass {
    ctx.kernels().pass(
        Shader::Attention,
        "backward_columns",
        &spec.uniform(None),
        &[(1, q), (6, dy), (7, att), (8, ds), (14, dk), (15, dv)],
        flat_groups(spec.rows()),
    )
}

/// Sums the rows' null-logit gradients into the sink logits' gradient at `sink_offset` of `grads`.
pub fn attention_backward_sink(ctx: &GpuContext, spec: &AttentionSpec, ds: &Buffer, grads: &Buffer) -> Pass {
    ctx.kernels().pass(
        Shader::Attention,
        "backward_sink",
        &spec.uniform(None),
        &[(8, ds), (16, grads)],
        flat_groups(spec.heads),
    )
}

// ---------------------------------------------------------------------------
// cross_entropy.wgsl

/// Slots of the stats buffer shared by cross_entropy.wgsl, clip.wgsl and adamw.wgsl.
pub mod stats {
    pub const LOSS: usize = 0;
    pub const WEIGHT_SUM: usize = 1;
    pub const GRAD_NORM: usize = 2;
    pub const CLIP_SCALE: usize = 3;
    pub const SKIP: usize = 4;
    /// Length of the stats buffer.
    pub const LEN: usize = 8;
}

fn cross_entropy_uniform(rows: usize, vocab: usize) -> Uniform {
    Uniform::new().u(rows as u32).u(vocab as u32)
}

pub fn cross_entropy_forward(ctx: &GpuContext, rows: usize, vocab: usize, logits: &Buffer, targets: &Buffer, row_loss: &Buffer) -> Pass {
    ctx.kernels().pass(
        Shader::CrossEntropy,
        "forward",
        &cross_entropy_uniform(rows, vocab),
        &[(1, logits), (2, targets), (6, row_loss)],
        flat_groups(rows),
    )
}

pub fn cross_entropy_reduce(ctx: &GpuContext, rows: usize, vocab: usize, weights: &Buffer, row_loss: &Buffer, stats: &Buffer) -> Pass {
    ctx.kernels().pass(
        Shader::CrossEntropy,
        "reduce",
        &cross_entropy_uniform(rows, vocab),
        &[(3, weights), (4, row_loss), (7, stats)],
        [1, 1, 1],
    )
}

#[allow(clippy::too_many_arguments)]
pub fn cross_entropy_backward(
    ctx: &GpuContext,
    rows: usize,
    vocab: usize,
    logits: &Buffer,
    targets: &Buffer,
    weights: &Buffer,
    stats: &Buffer,
    dlogits: &Buffer,
) -> Pass {
    ctx.kernels().pass(
        Shader::CrossEntropy,
        "backward",
        &cross_entropy_uniform(rows, vocab),
        &[(1, logits), (2, targets), (3, weights), (5, stats), (8, dlogits)],
        flat_groups(rows),
    )
}

// ---------------------------------------------------------------------------
// clip.wgsl

/// Workgroups of the first clipping pass for `count` gradients: enough for
/// one element per invocation up to 1024 workgroups, then each invocation
/// loops.
pub fn clip_partial_count(count: usize) -> usize {
    count.div_ceil(crate::kernels::WG as usize).clamp(1, 1024)
}

fn clip_uniform(count: usize, max_norm: f64) -> Uniform {
    Uniform::new().u(count as u32).u(clip_partial_count(count) as u32).f(max_norm as f32)
}

pub fn clip_partial_sums(ctx: &GpuContext, count: usize, max_norm: f64, grads: &Buffer, partials: &Buffer) -> Pass {
    ctx.kernels().pass(
        Shader::Clip,
        "partial_sums",
        &clip_uniform(count, max_norm),
        &[(1, grads), (3, partials)],
        [clip_partial_count(count) as u32, 1, 1],
    )
}

pub fn clip_finish(ctx: &GpuContext, count: usize, max_norm: f64, partials: &Buffer, stats: &Buffer) -> Pass {
    ctx.kernels().pass(Shader::Clip, "finish", &clip_uniform(count, max_norm), &[(2, partials), (4, stats)], [1, 1, 1])
}

// ---------------------------------------------------------------------------
// adamw.wgsl

/// The per-step constants of adamw.wgsl, rounded from f64 as the CPU engine
/// rounds them.
#[derive(Clone, Copy, Debug)]
pub struct AdamwStep {
    pub count: usize,
    pub beta1: f64,
    pub beta2: f64,
    pub lr: f64,
    pub weight_decay: f64,
    pub eps: f64,
    /// Updates including this one (t >= 1).
    pub t: u64,
}

impl AdamwStep {
    pub fn uniform(&self) -> Uniform {
        let bias1 = 1.0 - self.beta1.powi(self.t as i32);
        let bias2 = 1.0 - self.beta2.powi(self.t as i32);
        Uniform::new()
            .u(self.count as u32)
            .f(self.beta1 as f32)
            .f(self.beta2 as f32)
            .f((1.0 - self.beta1) as f32)
            .f((1.0 - self.beta2) as f32)
            .f((self.lr / bias1) as f32)
            .f((1.0 / bias2) as f32)
            .f(self.eps as f32)
            .f((self.lr * self.weight_decay) as f32)
    }
}

#[allow(clippy::too_many_arguments)]
pub fn adamw_update(
    ctx: &GpuContext,
    step: &AdamwStep,
    grads: &Buffer,
    decay_mask: &Buffer,
    stats: &Buffer,
    parameters: &Buffer,
    moment1: &Buffer,
    moment2: &Buffer,
) -> Pass {
    ctx.kernels().pass(
        Shader::Adamw,
        "update",
        &step.uniform(),
        &[(1, grads), (2, decay_mask), (3, stats), (4, parameters), (5, moment1), (6, moment2)],
        flat_groups(step.count),
    )
}

// ---------------------------------------------------------------------------
// metrics.wgsl

/// Sizes of the metric kernels, shared by every entry point of metrics.wgsl.
#[derive(Clone, Copy, Debug)]
pub struct MetricsSpec {
    pub batch: usize,
    pub heads: usize,
    pub seq_len: usize,
    pub width: usize,
    pub head_dim: usize,
    pub gate_width: usize,
    /// Channel-to-gate map, as in [`GateSpec`].
    pub index_mode: u32,
    /// Divide attention rows by their sum first (the sigmoid normaliser).
    pub normalise_rows: bool,
    /// Offset of the layer's Wo in the parameter buffer.
    pub wo_offset: usize,
}

impl MetricsSpec {
    pub fn new(variant: &Variant, batch: usize, seq_len: usize, width: usize, heads: usize, wo_offset: usize) -> Self {
        let gate = GateSpec::new(variant, batch * seq_len, width, heads);
        MetricsSpec {
            batch,
            heads,
            seq_len,
            width,
            head_dim: width / heads,
            gate_width: gate.gate_width,
            index_mode: gate.index_mode,
            normalise_rows: variant.attn == AttnNorm::Sigmoid,
            wo_offset,
        }
    }

    fn rows(&self) -> usize {
        self.batch * self.seq_len
    }

    fn uniform(&self, out_offset: usize) -> Uniform {
        Uniform::new()
            .u(self.batch as u32)
            .u(self.heads as u32)
            .u(self.seq_len as u32)
            .u(self.width as u32)
            .u(self.head_dim as u32)
            .u(self.gate_width as u32)
            .u(self.index_mode)
            .u(flag(self.normalise_rows))
            .u(self.wo_offset as u32)
            .u(out_offset as u32)
    }
}

/// Values the gate reduction writes per layer: 20 bin counts, three counts,
/// the sum, H head sums, T position sums, the copy and other row-mean sums.
pub fn gate_stats_len(heads: usize, seq_len: usize) -> usize {
    GATE_BINS + 4 + heads + seq_len + 2
}

/// Bins of the gate histogram (`metrics::GATE_BINS` of the model crate).
pub const GATE_BINS: usize = gatelab_model::metrics::GATE_BINS;

/// The smallest f32 at or above k / 20 for k = 0..20: g >= edge[k] exactly
/// when floor(g * 20) >= k in f64, the CPU's bin rule, since g * 20 is exact
/// in f64 for every f32 g.
pub fn gate_bin_edges() -> Vec<f32> {
    (0..GATE_BINS)
        .map(|k| {
            let reaches = |e: f32| e as f64 * GATE_BINS as f64 >= k as f64;
            let mut edge = (k as f64 / GATE_BINS as f64) as f32;
            while edge > 0.0 && reaches(f32::from_bits(edge.to_bits() - 1)) {
                edge = f32::from_bits(edge.to_bits() - 1);
            }
            while !reaches(edge) {
                edge = f32::from_bits(edge.to_bits() + 1);
            }
            edge
        })
        .collect()
}

/// The `probe_info` input of the metric kernels: the gate bin edges, then
/// 1 or 0 per row for copy queries.
pub fn metrics_probe_info(copy_query: &[bool]) -> Vec<f32> {
    let mut info = gate_bin_edges();
    info.extend(copy_query.iter().map(|&c| if c { 1.0 } else { 0.0 }));
    info
}

/// F-Attn of each head of one layer (metrics.wgsl `f_attn`).
pub fn metrics_f_attn(ctx: &GpuContext, spec: &MetricsSpec, att: &Buffer, out: &Buffer, out_offset: usize) -> Pass {
    ctx.kernels().pass(Shader::Metrics, "f_attn", &spec.uniform(out_offset), &[(1, att), (11, out)], flat_groups(spec.heads))
}

/// Null-slot mass of one layer, summed over queries i >= 1.
pub fn metrics_null_mass(ctx: &GpuContext, spec: &MetricsSpec, att: &Buffer, out: &Buffer, out_offset: usize) -> Pass {
    ctx.kernels().pass(Shader::Metrics, "null_mass", &spec.uniform(out_offset), &[(1, att), (11, out)], [1, 1, 1])
}

/// Probe loss summed at copy queries and at the other scored rows.
#[allow(clippy::too_many_arguments)]
pub fn metrics_loss_split(
    ctx: &GpuContext,
    spec: &MetricsSpec,
    row_loss: &Buffer,
    weights: &Buffer,
    probe_info: &Buffer,
    out: &Buffer,
    out_offset: usize,
) -> Pass {
    let bindings = [(6, row_loss), (7, weights), (8, probe_info), (11, out)];
    ctx.kernels().pass(Shader::Metrics, "loss_split", &spec.uniform(out_offset), &bindings, [2, 1, 1])
}

/// Largest |x| of one layer's output at BOS rows and at the others.
pub fn metrics_m_act(ctx: &GpuContext, spec: &MetricsSpec, x: &Buffer, out: &Buffer, out_offset: usize) -> Pass {
    ctx.kernels().pass(Shader::Metrics, "m_act", &spec.uniform(out_offset), &[(3, x), (11, out)], [2, 1, 1])
}

/// Norm of each (row, head) value vector through the head's rows of Wo, into `norms` (N, H).
pub fn metrics_value_norms(ctx: &GpuContext, spec: &MetricsSpec, v: &Buffer, parameters: &Buffer, norms: &Buffer) -> Pass {
    // One workgroup per (row, head): flat_groups of WG invocations each.
    let groups = flat_groups(spec.rows() * spec.heads * WG as usize);
    ctx.kernels().pass(Shader::Metrics, "value_norms", &spec.uniform(0), &[(4, v), (5, parameters), (10, norms)], groups)
}

/// Sums of `norms` per head at BOS rows and at the others, (H, 2).
pub fn metrics_value_sums(ctx: &GpuContext, spec: &MetricsSpec, norms: &Buffer, out: &Buffer, out_offset: usize) -> Pass {
    let groups = [(2 * spec.heads) as u32, 1, 1];
    ctx.kernels().pass(Shader::Metrics, "value_sums", &spec.uniform(out_offset), &[(9, norms), (11, out)], groups)
}

/// The [`gate_stats_len`] gate statistics of one layer.
pub fn metrics_gate_stats(ctx: &GpuContext, spec: &MetricsSpec, gate: &Buffer, probe_info: &Buffer, out: &Buffer, out_offset: usize) -> Pass {
    let groups = [gate_stats_len(spec.heads, spec.seq_len) as u32, 1, 1];
    let bindings = [(2, gate), (8, probe_info), (11, out)];
    ctx.kernels().pass(Shader::Metrics, "gate_stats", &spec.uniform(out_offset), &bindings, groups)
}

/// Mean gate on each head at each position of probe sequence 0, (H, T).
pub fn metrics_gate_map(ctx: &GpuContext, spec: &MetricsSpec, gate: &Buffer, out: &Buffer, out_offset: usize) -> Pass {
    let groups = flat_groups(spec.heads * spec.seq_len);
    ctx.kernels().pass(Shader::Metrics, "gate_map", &spec.uniform(out_offset), &[(2, gate), (11, out)], groups)
}

/// F-Attn of each head of one layer's attention buffer, written at `out_offset` of `out`.
pub fn f_attn(ctx: &GpuContext, spec: &AttentionSpec, att: &Buffer, out: &Buffer, out_offset: usize) -> Pass {
    let metrics = MetricsSpec {
        batch: spec.batch,
        heads: spec.heads,
        seq_len: spec.seq_len,
        width: spec.heads * spec.head_dim,
        head_dim: spec.head_dim,
        gate_width: 0,
        index_mode: 0,
        normalise_rows: spec.norm == AttnNorm::Sigmoid,
        wo_offset: 0,
    };
    metrics_f_attn(ctx, &metrics, att, out, out_offset)
}
