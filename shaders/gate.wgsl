// The attention gate: activation, application and their gradients.
//
// act_forward:     g = act(z), act sigmoid or SiLU z * sigmoid(z), z = n Wg of shape (N, G)
// apply_forward:   out[i, c] = t[i, c] * g[i, idx(c)]           (multiplicative)
//                  out[i, c] = t[i, c] + g[i, idx(c)]           (additive)
// apply_residual:  out[i, c] = res[i, c] + gate(t)[i, c]        (G5: the gated Wo output joins the residual)
// backward_input:  dt[i, c] = dout[i, c] * g[i, idx(c)], or dout[i, c] when additive
// backward_gate:   dz[i, e] = act'(z[i, e]) * sum over channels c with idx(c) == e
//                  of dout[i, c] * t[i, c] (multiplicative) or dout[i, c] (additive),
//                  with sigmoid' = s (1 - s) and silu' = s (1 + z (1 - s)), s = sigmoid(z)
//
// idx maps channel c = h * D + d of a (N, C) tensor to one of the G gate
// values per row: c (elementwise, head-specific), d (elementwise, shared),
// h (headwise, head-specific) or 0 (headwise, shared).
// act_forward and backward_gate run one invocation per (i, e) of the (N, G)
// gate, the other entry points one per (i, c) of the (N, C) tensor, row-major.
// A variant has one gate position, so backward_gate writes dz instead of
// adding to it.

const WG: u32 = 64u;

struct Params {
    // N token rows.
    rows: u32,
    // C channels of the gated tensor.
    width: u32,
    // G gate values per row.
    gate_width: u32,
    // D channels per head.
    head_dim: u32,
    // Channel-to-gate map: 0 elementwise head-specific, 1 elementwise shared,
    // 2 headwise head-specific, 3 headwise shared.
    index_mode: u32,
    // 0 multiplicative, 1 additive.
    form: u32,
    // 0 sigmoid, 1 SiLU.
    act: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> z: array<f32>;               // (N, G) gate pre-activations
@group(0) @binding(2) var<storage, read> t: array<f32>;               // (N, C) tensor being gated
@group(0) @binding(3) var<storage, read> gate: array<f32>;            // (N, G) gate values act(z)
@group(0) @binding(4) var<storage, read> res: array<f32>;             // (N, C) residual stream
@group(0) @binding(5) var<storage, read> dout: array<f32>;            // (N, C) gradient of the gated tensor
@group(0) @binding(6) var<storage, read_write> gate_out: array<f32>;  // (N, G) act_forward output
@group(0) @binding(7) var<storage, read_write> out: array<f32>;       // (N, C) apply_forward, apply_residual output; dt of backward_input
@group(0) @binding(8) var<storage, read_write> dz: array<f32>;        // (N, G) backward_gate output

fn flat_index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * WG;
}

fn sigmoid(v: f32) -> f32 {
    if (v >= 0.0) {
        return 1.0 / (1.0 + exp(-v));
    }
    let e = exp(v);
    return e / (1.0 + e);
}

fn gate_index(c: u32) -> u32 {
    switch params.index_mode {
        case 0u: { return c; }
        case 1u: { return c % params.head_dim; }
        case 2u: { return c / params.head_dim; }
        default: { return 0u; }
    }
}

fn apply(value: f32, g: f32) -> f32 {
    if (params.form == 1u) {
        return value + g;
    }
    return value * g;
}

@compute @workgroup_size(WG)
fn act_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let idx = flat_index(gid, nwg);
    if (idx >= params.rows * params.gate_width) {
        return;
    }
    let v = z[idx];
    if (params.act == 1u) {
        gate_out[idx] = v * sigmoid(v);
    } else {
        gate_out[idx] = sigmoid(v);
    }
}

@compute @workgroup_size(WG)
fn apply_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let idx = flat_index(gid, nwg);
    if (idx >= params.rows * params.width) {
        return;
    }
    let i = idx / params.width;
    let c = idx % params.width;
    out[idx] = apply(t[idx], gate[i * params.gate_width + gate_index(c)]);
}

@compute @workgroup_size(WG)
fn apply_residual(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let idx = flat_index(gid, nwg);
    if (idx >= params.rows * params.width) {
        return;
    }
    let i = idx / params.width;
    let c = idx % params.width;
    out[idx] = res[idx] + apply(t[idx], gate[i * params.gate_width + gate_index(c)]);
}

@compute @workgroup_size(WG)
fn backward_input(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let idx = flat_index(gid, nwg);
    if (idx >= params.rows * params.width) {
        return;
    }
    let i = idx / params.width;
    let c = idx % params.width;
    if (params.form == 1u) {
        out[idx] = dout[idx];
    } else {
        out[idx] = dout[idx] * gate[i * params.gate_width + gate_index(c)];
    }
}

@compute @workgroup_size(WG)
fn backward_gate(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let idx = flat_index(gid, nwg);
    if (idx >= params.rows * params.gate_width) {
        return;
    }
    let i = idx / params.gate_width;
    let e = idx % params.gate_width;
    let base = i * params.width;
    let heads = params.width / params.head_dim;
    // The channels that share gate value e, in ascending order.
    var first = 0u;
    var count = 1u;
    var stride = 1u;
    switch params.index_mode {
        case 0u: { first = e; }
        case 1u: { first = e; count = heads; stride = params.head_dim; }
        case 2u: { first = e * params.head_dim; count = params.head_dim; }
        default: { count = params.width; }
    }
    var sum = 0.0;
    for (var m = 0u; m < count; m = m + 1u) {
        let c = base + first + m * stride;
        if (params.form == 1u) {
            sum = sum + dout[c];
        } else {
            sum = sum + dout[c] * t[c];
        }
    }
    let v = z[idx];
    let s = sigmoid(v);
    var slope = s * (1.0 - s);
    if (params.act == 1u) {
        slope = s * (1.0 + v * (1.0 - s));
    }
    dz[idx] = sum * slope;
}
