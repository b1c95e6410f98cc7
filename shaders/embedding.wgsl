// Token embeddings plus learned positions, and their gradients.
//
// forward:            x[i, c] = tok_emb[tokens[i], c] + pos_emb[i % T, c]
//                     (the position term only when has_positions is 1)
// backward_tokens:    d_tok_emb[v, c] = sum over rows i with tokens[i] == v of dx[i, c]
// backward_positions: d_pos_emb[t, c] = sum over sequences b of dx[b * T + t, c]
//
// Each invocation computes one output element: forward one (i, c) of x,
// backward_tokens one (v, c) and backward_positions one (t, c), row-major.
// The backward passes gather instead of scattering, so they need no atomics
// and sum in the same row order as the CPU engine. Both write (not add) the
// gradient, so the gradient buffer needs no clearing between steps.
// backward_tokens reads only the rows of token v, from the token row index
// that the host builds with each batch (ops::token_row_index): V + 1 start
// offsets, then the N row numbers grouped by token, ascending within a token.

const WG: u32 = 64u;

struct Params {
    // N = B * T token rows.
    rows: u32,
    // C, the model width.
    width: u32,
    // T, the sequence length.
    seq_len: u32,
    // V, the vocabulary size.
    vocab: u32,
    // Offset of tok_emb (V, C) in the parameter and gradient buffers, in f32 elements.
    tok_offset: u32,
    // Offset of pos_emb (T, C), in f32 elements; unused when has_positions is 0.
    pos_offset: u32,
    // 1 when positions are a learned table, 0 with RoPE.
    has_positions: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> tokens: array<u32>;           // (N) token ids
@group(0) @binding(2) var<storage, read> parameters: array<f32>;       // (P) every parameter
@group(0) @binding(3) var<storage, read> dx: array<f32>;               // (N, C) gradient of x
@group(0) @binding(4) var<storage, read_write> x: array<f32>;          // (N, C) embeddings, forward output
@group(0) @binding(5) var<storage, read_write> grads: array<f32>;      // (P) every gradient, backward output
@group(0) @binding(6) var<storage, read> token_rows: array<u32>;       // (V + 1 + N) token row index

fn flat_index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * WG;
}

@compute @workgroup_size(WG)
fn forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let idx = flat_index(gid, nwg);
    if (idx >= params.rows * params.width) {
        return;
    }
    let i = idx / params.width;
    let c = idx % params.width;
    var value = parameters[params.tok_offset + tokens[i] * params.width + c];
    if (params.has_positions == 1u) {
        value = value + parameters[params.pos_offset + (i % params.seq_len) * params.width + c];
    }
    x[idx] = value;
}

@compute @workgroup_size(WG)
fn backward_tokens(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let idx = flat_index(gid, nwg);
    if (idx >= params.vocab * params.width) {
        return;
    }
    let v = idx / params.width;
    let c = idx % params.width;
    // Rows of token v are entries start..end of the row list, which begins
    // after the V + 1 start offsets.
    let start = params.vocab + 1u + token_rows[v];
    let end = params.vocab + 1u + token_rows[v + 1u];
    var sum = 0.0;
    for (var r = start; r < end; r = r + 1u) {
        sum = sum + dx[token_rows[r] * params.width + c];
    }
    grads[params.tok_offset + idx] = sum;
}

@compute @workgroup_size(WG)
fn backward_positions(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let idx = flat_index(gid, nwg);
    if (idx >= params.seq_len * params.width) {
        return;
    }
    let t = idx / params.width;
    let c = idx % params.width;
    var sum = 0.0;
    for (var i = t; i < params.rows; i = i + params.seq_len) {
        sum = sum + dx[i * params.width + c];
    }
    grads[params.pos_offset + idx] = sum;
}
