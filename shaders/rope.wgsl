// Rotary position embeddings on queries or keys, and the gradient.
//
// Within each head, channel pairs (j, j + D/2) rotate by the angle
// pos * base^(-2j / D), with pos = row % T:
// forward:  out[j] = x[j] cos - x[j + D/2] sin;  out[j + D/2] = x[j] sin + x[j + D/2] cos
// backward: the same with -sin (the rotation's transpose), applied to the gradient
//
// One invocation per (row, head, j) pair, j < D/2, row-major; it writes both
// channels of its pair. The cosines and sines come from a table the host
// computes in f64, as the CPU engine does.

const WG: u32 = 64u;

struct Params {
    // N token rows.
    rows: u32,
    // C = H * D channels per row.
    width: u32,
    // H heads.
    heads: u32,
    // T, the sequence length.
    seq_len: u32,
    // D / 2 rotated pairs per head.
    half: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;          // (N, C) input, or its gradient for backward
@group(0) @binding(2) var<storage, read> table: array<f32>;      // (2, T, D/2) cosines, then sines
@group(0) @binding(3) var<storage, read_write> out: array<f32>;  // (N, C) output

fn flat_index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * WG;
}

fn rotate(idx: u32, sign: f32) {
    let j = idx % params.half;
    let h = (idx / params.half) % params.heads;
    let row = idx / (params.half * params.heads);
    let pos = row % params.seq_len;
    let cos_value = table[pos * params.half + j];
    let sin_value = sign * table[(params.seq_len + pos) * params.half + j];
    let first = row * params.width + h * 2u * params.half + j;
    let second = first + params.half;
    let x1 = x[first];
    let x2 = x[second];
    out[first] = x1 * cos_value - x2 * sin_value;
    out[second] = x1 * sin_value + x2 * cos_value;
}

@compute @workgroup_size(WG)
fn forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let idx = flat_index(gid, nwg);
    if (idx >= params.rows * params.heads * params.half) {
        return;
    }
    rotate(idx, 1.0);
}

@compute @workgroup_size(WG)
fn backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let idx = flat_index(gid, nwg);
    if (idx >= params.rows * params.heads * params.half) {
        return;
    }
    rotate(idx, -1.0);
}
