// GELU, tanh approximation, and its gradient.
//
// forward:  out = 0.5 x (1 + tanh(k (x + a x^3))), k = sqrt(2 / pi), a = 0.044715
// backward: dx = dout * 0.5 ((1 + t) + x (1 - t^2) k (1 + 3 a x^2)), t = tanh(k (x + a x^3))
//
// One invocation per element of the (N, 4C) tensor, flat.

const WG: u32 = 64u;
const GELU_K: f32 = 0.7978845608028654;
const GELU_A: f32 = 0.044715;

struct Params {
    // Number of elements.
    count: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;           // (count) input of forward
@group(0) @binding(2) var<storage, read> dout: array<f32>;        // (count) gradient of out
@group(0) @binding(3) var<storage, read_write> out: array<f32>;   // (count) forward output
@group(0) @binding(4) var<storage, read_write> dx: array<f32>;    // (count) backward output

fn flat_index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * WG;
}

// tanh through exp, which saturates to +-1 where exp overflows instead of
// returning NaN as some drivers' built-in tanh does for large arguments.
fn stable_tanh(z: f32) -> f32 {
    return 1.0 - 2.0 / (exp(2.0 * z) + 1.0);
}

@compute @workgroup_size(WG)
fn forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let idx = flat_index(gid, nwg);
    if (idx >= params.count) {
        return;
    }
    let v = x[idx];
    out[idx] = 0.5 * v * (1.0 + stable_tanh(GELU_K * (v + GELU_A * v * v * v)));
}

@compute @workgroup_size(WG)
fn backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let idx = flat_index(gid, nwg);
    if (idx >= params.count) {
        return;
    }
    let v = x[idx];
    let t = stable_tanh(GELU_K * (v + GELU_A * v * v * v));
    let dt = (1.0 - t * t) * GELU_K * (1.0 + 3.0 * GELU_A * v * v);
    dx[idx] = dout[idx] * 0.5 * ((1.0 + t) + v * dt);
}
