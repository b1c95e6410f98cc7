// RMSNorm and its gradients.
//
// forward:        r[i] = 1 / sqrt(mean_c(x[i, c]^2) + eps);  out[i, c] = x[i, c] * r[i] * gain[c]
// backward_input: with xhat = x * r and dxhat = dout * gain,
//                 dx[i, c] (+)= r[i] * (dxhat[i, c] - xhat[i, c] * mean_c(dxhat[i, c] * xhat[i, c]))
// backward_gain:  dgain[c] = sum_i dout[i, c] * x[i, c] * r[i]
//
// forward and backward_input run one invocation per row i and loop over the
// C channels; backward_gain runs one invocation per channel c and loops over
// the rows.

const WG: u32 = 64u;

struct Params {
    // N token rows.
    rows: u32,
    // C channels per row.
    width: u32,
    // Offset of the (C) gain in the parameter and gradient buffers, in f32 elements.
    gain_offset: u32,
    // backward_input: 1 adds into dx (the residual stream's gradient), 0 overwrites it.
    accumulate: u32,
    // Epsilon inside the square root.
    eps: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;                // (N, C) input
@group(0) @binding(2) var<storage, read> parameters: array<f32>;       // (P) every parameter
@group(0) @binding(3) var<storage, read> dout: array<f32>;             // (N, C) gradient of out
@group(0) @binding(4) var<storage, read> rstd: array<f32>;             // (N) r saved by forward
@group(0) @binding(5) var<storage, read_write> out: array<f32>;        // (N, C) forward output
@group(0) @binding(6) var<storage, read_write> rstd_out: array<f32>;   // (N) forward output r
@group(0) @binding(7) var<storage, read_write> dx: array<f32>;         // (N, C) backward_input output
@group(0) @binding(8) var<storage, read_write> grads: array<f32>;      // (P) backward_gain output

fn flat_index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * WG;
}

@compute @workgroup_size(WG)
fn forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= params.rows) {
        return;
    }
    let base = i * params.width;
    var sum_sq = 0.0;
    for (var c = 0u; c < params.width; c = c + 1u) {
        let v = x[base + c];
        sum_sq = sum_sq + v * v;
    }
    let r = 1.0 / sqrt(sum_sq * (1.0 / f32(params.width)) + params.eps);
    rstd_out[i] = r;
    for (var c = 0u; c < params.width; c = c + 1u) {
        out[base + c] = x[base + c] * r * parameters[params.gain_offset + c];
    }
}

@compute @workgroup_size(WG)
fn backward_input(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= params.rows) {
        return;
    }
    let base = i * params.width;
    let r = rstd[i];
    var dot = 0.0;
    for (var c = 0u; c < params.width; c = c + 1u) {
        dot = dot + dout[base + c] * parameters[params.gain_offset + c] * (x[base + c] * r);
    }
    let mean_dot = dot * (1.0 / f32(params.width));
    for (var c = 0u; c < params.width; c = c + 1u) {
        let dxhat = dout[base + c] * parameters[params.gain_offset + c];
        let value = r * (dxhat - x[base + c] * r * mean_dot);
        if (params.accumulate == 1u) {
            dx[base + c] = dx[base + c] + value;
        } else {
            dx[base + c] = value;
        }
    }
}

@compute @workgroup_size(WG)
fn backward_gain(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let c = flat_index(gid, nwg);
    if (c >= params.width) {
        return;
    }
    var sum = 0.0;
    for (var i = 0u; i < params.rows; i = i + 1u) {
        sum = sum + dout[i * params.width + c] * (x[i * params.width + c] * rstd[i]);
    }
    grads[params.gain_offset + c] = sum;
}
