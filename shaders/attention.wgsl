// Causal attention per (sequence b, head h): scores, mask and normaliser fused
// in one pass, the weighted sum of values, the optional G1 gate on the output,
// and the gradients.
//
// forward:          s[i, j] = q_i . k_j / sqrt(D) for keys j <= i;  A[i, :] = normalise(s[i, :]);
//                   y_i = sum_j A[i, j] v_j
// forward_gated:    forward, then y_gated = gate(y) with the G1 gate (see gate.wgsl)
// backward_rows:    dA[i, j] = dy_i . v_j;  dS[i, j] = A[i, j] (dA[i, j] - sum_k A[i, k] dA[i, k]) / sqrt(D)
//                   (softmax family) or dA[i, j] A[i, j] (1 - A[i, j]) / sqrt(D) (sigmoid);
//                   dq_i = sum_j dS[i, j] k_j;  the row's null-logit gradient -null[i] sum_k A[i, k] dA[i, k]
// backward_columns: dk_j = sum_{i >= j} dS[i, j] q_i;  dv_j = sum_{i >= j} A[i, j] dy_i
// backward_sink:    dsink[h] = sum over sequences and rows of the null-logit gradients of head h
//
// Normalisers: softmax; softmax1 = softmax with an extra logit 0 that is
// dropped after normalising; sink-logit = the same with the learned logit of
// the head; sigmoid = sigmoid(s - ln T), rows not normalised. The null mass
// (the extra logit's share) is saved after the weights.
//
// Tensors q, k, v, y are (N, C) with N = B * T and channel c = h * D + d.
// The attention buffer holds the weights (B, H, T, T) followed by the null
// masses (B, H, T); the score-gradient buffer has the same layout with the
// rows' null-logit gradients after dS. Entries above the diagonal are 0.
// forward, forward_gated and backward_rows run one invocation per query row
// (b, h, i), backward_columns one per key row (b, h, j), backward_sink one
// per head.

const WG: u32 = 64u;

struct Params {
    // B sequences.
    batch: u32,
    // T positions per sequence.
    seq_len: u32,
    // H heads.
    heads: u32,
    // D channels per head.
    head_dim: u32,
    // 0 softmax, 1 softmax1, 2 sink-logit, 3 sigmoid.
    norm: u32,
    // Offset of the (H) sink logits in the parameter and gradient buffers, in f32 elements.
    sink_offset: u32,
    // 1 / sqrt(D).
    scale: f32,
    // ln T, the sigmoid normaliser's bias.
    ln_t: f32,
    // G1 gate of forward_gated: G gate values per row, channel-to-gate map and
    // form, as in gate.wgsl.
    gate_width: u32,
    index_mode: u32,
    form: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> q: array<f32>;                 // (N, C) queries
@group(0) @binding(2) var<storage, read> k: array<f32>;                 // (N, C) keys
@group(0) @binding(3) var<storage, read> v: array<f32>;                 // (N, C) values
@group(0) @binding(4) var<storage, read> parameters: array<f32>;        // (P) every parameter (sink logits)
@group(0) @binding(5) var<storage, read> gate: array<f32>;              // (N, G) G1 gate values
@group(0) @binding(6) var<storage, read> dy: array<f32>;                // (N, C) gradient of y
@group(0) @binding(7) var<storage, read> att_saved: array<f32>;         // (B, H, T, T) + (B, H, T) forward output
@group(0) @binding(8) var<storage, read> ds_saved: array<f32>;          // (B, H, T, T) + (B, H, T) backward_rows output
@group(0) @binding(9) var<storage, read_write> att: array<f32>;         // (B, H, T, T) + (B, H, T) weights, null masses
@group(0) @binding(10) var<storage, read_write> y: array<f32>;          // (N, C) attention output
@group(0) @binding(11) var<storage, read_write> y_gated: array<f32>;    // (N, C) G1-gated output
@group(0) @binding(12) var<storage, read_write> ds: array<f32>;         // (B, H, T, T) + (B, H, T) dS, null-logit gradients
@group(0) @binding(13) var<storage, read_write> dq: array<f32>;         // (N, C)
@group(0) @binding(14) var<storage, read_write> dk: array<f32>;         // (N, C)
@group(0) @binding(15) var<storage, read_write> dv: array<f32>;         // (N, C)
@group(0) @binding(16) var<storage, read_write> grads: array<f32>;      // (P) every gradient (sink logits)

fn flat_index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * WG;
}

fn sigmoid(x: f32) -> f32 {
    if (x >= 0.0) {
        return 1.0 / (1.0 + exp(-x));
    }
    let e = exp(x);
    return e / (1.0 + e);
}

fn row_count() -> u32 {
    return params.batch * params.heads * params.seq_len;
}

fn null_base() -> u32 {
    return row_count() * params.seq_len;
}

// Offset of channel 0 of head h in token row (b, t).
fn channel_base(b: u32, t: u32, h: u32) -> u32 {
    return (b * params.seq_len + t) * params.heads * params.head_dim + h * params.head_dim;
}

// Fills attention row (b, h, i) of `att` and its null mass, and writes y_i of head h.
fn attend(row: u32) {
    let t_len = params.seq_len;
    let i = row % t_len;
    let h = (row / t_len) % params.heads;
    let b = row / (t_len * params.heads);
    let base = row * t_len;
    let qi = channel_base(b, i, h);

    // Scores of the causal part; the masked part is 0.
    var m = -3.402823e38;
    for (var j = 0u; j <= i; j = j + 1u) {
        let kj = channel_base(b, j, h);
        var dot = 0.0;
        for (var d = 0u; d < params.head_dim; d = d + 1u) {
            dot = dot + q[qi + d] * k[kj + d];
        }
        let s = dot * params.scale;
        att[base + j] = s;
        m = max(m, s);
    }
    for (var j = i + 1u; j < t_len; j = j + 1u) {
        att[base + j] = 0.0;
    }

    // Normalise. The softmax family's maximum includes the extra logit, which
    // keeps exp from overflowing.
    var null_mass = 0.0;
    if (params.norm == 3u) {
        for (var j = 0u; j <= i; j = j + 1u) {
            att[base + j] = sigmoid(att[base + j] - params.ln_t);
        }
    } else {
        var extra = 0.0;
        if (params.norm == 2u) {
            extra = parameters[params.sink_offset + h];
        }
        if (params.norm != 0u) {
            m = max(m, extra);
        }
        var sum = 0.0;
        for (var j = 0u; j <= i; j = j + 1u) {
            let e = exp(att[base + j] - m);
            att[base + j] = e;
            sum = sum + e;
        }
        var null_exp = 0.0;
        if (params.norm != 0u) {
            null_exp = exp(extra - m);
        }
        let denom = sum + null_exp;
        for (var j = 0u; j <= i; j = j + 1u) {
            att[base + j] = att[base + j] / denom;
        }
        null_mass = null_exp / denom;
    }
    att[null_base() + row] = null_mass;

    // y_i = sum_j A[i, j] v_j
    for (var d = 0u; d < params.head_dim; d = d + 1u) {
        var acc = 0.0;
        for (var j = 0u; j <= i; j = j + 1u) {
            acc = acc + att[base + j] * v[channel_base(b, j, h) + d];
        }
        y[qi + d] = acc;
    }
}

@compute @workgroup_size(WG)
fn forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let row = flat_index(gid, nwg);
    if (row >= row_count()) {
        return;
    }
    attend(row);
}

@compute @workgroup_size(WG)
fn forward_gated(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let row = flat_index(gid, nwg);
    if (row >= row_count()) {
        return;
    }
    attend(row);
    let t_len = params.seq_len;
    let i = row % t_len;
    let h = (row / t_len) % params.heads;
    let b = row / (t_len * params.heads);
    let qi = channel_base(b, i, h);
    let gate_row = (b * t_len + i) * params.gate_width;
    for (var d = 0u; d < params.head_dim; d = d + 1u) {
        let c = h * params.head_dim + d;
        var e = 0u;
        switch params.index_mode {
            case 0u: { e = c; }
            case 1u: { e = d; }
            case 2u: { e = h; }
            default: { e = 0u; }
        }
        let g = gate[gate_row + e];
        if (params.form == 1u) {
            y_gated[qi + d] = y[qi + d] + g;
        } else {
            y_gated[qi + d] = y[qi + d] * g;
        }
    }
}

@compute @workgroup_size(WG)
fn backward_rows(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let row = flat_index(gid, nwg);
    if (row >= row_count()) {
        return;
    }
    let t_len = params.seq_len;
    let i = row % t_len;
    let h = (row / t_len) % params.heads;
    let b = row / (t_len * params.heads);
    let base = row * t_len;
    let qi = channel_base(b, i, h);

    // dA[i, j] = dy_i . v_j, staged in ds, and sum_j A[i, j] dA[i, j].
    var dot_total = 0.0;
    for (var j = 0u; j <= i; j = j + 1u) {
        let vj = channel_base(b, j, h);
        var dot = 0.0;
        for (var d = 0u; d < params.head_dim; d = d + 1u) {
            dot = dot + dy[qi + d] * v[vj + d];
        }
        ds[base + j] = dot;
        dot_total = dot_total + dot * att_saved[base + j];
    }
    for (var j = i + 1u; j < t_len; j = j + 1u) {
        ds[base + j] = 0.0;
    }

    // dS through the normaliser, scaled for s = q k^T / sqrt(D).
    var dnull = 0.0;
    for (var j = 0u; j <= i; j = j + 1u) {
        let a_ij = att_saved[base + j];
        var d_score = 0.0;
        if (params.norm == 3u) {
            d_score = ds[base + j] * a_ij * (1.0 - a_ij);
        } else {
            d_score = a_ij * (ds[base + j] - dot_total);
        }
        ds[base + j] = d_score * params.scale;
    }
    if (params.norm != 3u) {
        dnull = -att_saved[null_base() + row] * dot_total;
    }
    ds[null_base() + row] = dnull;

    // dq_i = sum_j dS[i, j] k_j
    for (var d = 0u; d < params.head_dim; d = d + 1u) {
        var acc = 0.0;
        for (var j = 0u; j <= i; j = j + 1u) {
            acc = acc + ds[base + j] * k[channel_base(b, j, h) + d];
        }
        dq[qi + d] = acc;
    }
}

@compute @workgroup_size(WG)
fn backward_columns(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let row = flat_index(gid, nwg);
    if (row >= row_count()) {
        return;
    }
    let t_len = params.seq_len;
    let j = row % t_len;
    let h = (row / t_len) % params.heads;
    let b = row / (t_len * params.heads);
    let head_rows = (b * params.heads + h) * t_len;
    let kj = channel_base(b, j, h);
    for (var d = 0u; d < params.head_dim; d = d + 1u) {
        var acc_k = 0.0;
        var acc_v = 0.0;
        for (var i = j; i < t_len; i = i + 1u) {
            let at = (head_rows + i) * t_len + j;
            let ci = channel_base(b, i, h) + d;
            acc_k = acc_k + ds_saved[at] * q[ci];
            acc_v = acc_v + att_saved[at] * dy[ci];
        }
        dk[kj + d] = acc_k;
        dv[kj + d] = acc_v;
    }
}

@compute @workgroup_size(WG)
fn backward_sink(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let h = flat_index(gid, nwg);
    if (h >= params.heads) {
        return;
    }
    let t_len = params.seq_len;
    var sum = 0.0;
    for (var b = 0u; b < params.batch; b = b + 1u) {
        for (var i = 0u; i < t_len; i = i + 1u) {
            sum = sum + ds_saved[null_base() + (b * params.heads + h) * t_len + i];
        }
    }
    grads[params.sink_offset + h] = sum;
}
