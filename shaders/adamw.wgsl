// One AdamW step over the flat parameter buffer, with the clip scale applied
// to each gradient as it is read.
//
// g = grads[i] * scale;  m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
// p = p - step_size m / (sqrt(v inv_bias2) + eps) - decay mask[i] p
// with step_size = lr / (1 - b1^t), inv_bias2 = 1 / (1 - b2^t), decay = lr wd,
// computed on the host in f64 each step as the CPU engine does. mask[i] is 1
// for matrices (embeddings included) and 0 for gains and sink logits.
//
// One invocation per parameter, flat. When the stats buffer's skip flag is
// set (non-finite loss or gradient norm), no parameter or moment changes.

const WG: u32 = 64u;
const CLIP_SCALE: u32 = 3u;
const SKIP: u32 = 4u;

struct Params {
    // P parameters.
    count: u32,
    // b1 and b2.
    beta1: f32,
    beta2: f32,
    // 1 - b1 and 1 - b2, rounded from f64.
    one_minus_beta1: f32,
    one_minus_beta2: f32,
    // lr / (1 - b1^t).
    step_size: f32,
    // 1 / (1 - b2^t).
    inv_bias2: f32,
    // Epsilon added to the denominator.
    eps: f32,
    // lr * weight_decay.
    decay: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> grads: array<f32>;             // (P) unclipped gradients
@group(0) @binding(2) var<storage, read> decay_mask: array<f32>;        // (P) 1 where weight decay applies, else 0
@group(0) @binding(3) var<storage, read> stats: array<f32>;             // (8) clip scale and skip flag
@group(0) @binding(4) var<storage, read_write> parameters: array<f32>;  // (P) updated in place
@group(0) @binding(5) var<storage, read_write> moment1: array<f32>;     // (P) m, updated in place
@group(0) @binding(6) var<storage, read_write> moment2: array<f32>;     // (P) v, updated in place

fn flat_index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * WG;
}

@compute @workgroup_size(WG)
fn update(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= params.count || stats[SKIP] != 0.0) {
        return;
    }
    let g = grads[i] * stats[CLIP_SCALE];
    let m = params.beta1 * moment1[i] + params.one_minus_beta1 * g;
    let v = params.beta2 * moment2[i] + params.one_minus_beta2 * g * g;
    moment1[i] = m;
    moment2[i] = v;
    let denom = sqrt(v * params.inv_bias2) + params.eps;
    let p = parameters[i];
    parameters[i] = p - params.step_size * m / denom - params.decay * decay_mask[i] * p;
}
