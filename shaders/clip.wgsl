// Global gradient-norm clipping, in two passes over the flat gradient buffer.
//
// partial_sums: partials[w] = sum of g^2 over the elements of workgroup w's share
// finish:       norm = sqrt(sum_w partials[w]);  scale = max_norm / norm when
//               norm > max_norm and norm is finite, else 1
//
// partial_sums runs `partial_count` workgroups (one row of them); invocation
// n handles elements n, n + partial_count * WG, ... and each workgroup sums
// its invocations in workgroup memory. finish runs one workgroup. AdamW
// multiplies each gradient by the scale as it reads it, so the gradient
// buffer keeps the unclipped values.
//
// Stats buffer slots: 0 loss and 1 weight sum (cross_entropy.wgsl),
// 2 gradient norm before clipping, 3 clip scale, 4 skip flag: 1 when the
// loss or the norm is not finite, and AdamW then leaves every parameter as it is.

const WG: u32 = 64u;
const LOSS: u32 = 0u;
const GRAD_NORM: u32 = 2u;
const CLIP_SCALE: u32 = 3u;
const SKIP: u32 = 4u;

struct Params {
    // P gradient elements.
    count: u32,
    // Workgroups of partial_sums, and entries of partials.
    partial_count: u32,
    // Norm above which gradients are scaled down.
    max_norm: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> grads: array<f32>;              // (P) every gradient
@group(0) @binding(2) var<storage, read> partials_saved: array<f32>;     // (partial_count) partial_sums output
@group(0) @binding(3) var<storage, read_write> partials: array<f32>;     // (partial_count) partial_sums output
@group(0) @binding(4) var<storage, read_write> stats: array<f32>;        // (8) finish output

var<workgroup> partial: array<f32, WG>;

fn is_finite(x: f32) -> bool {
    return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u;
}

fn sum_partial(lid: u32) {
    workgroupBarrier();
    for (var stride = WG / 2u; stride > 0u; stride = stride / 2u) {
        if (lid < stride) {
            partial[lid] = partial[lid] + partial[lid + stride];
        }
        workgroupBarrier();
    }
}

// The element loop bounds every access.
@compute @workgroup_size(WG)
fn partial_sums(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
    var sum = 0.0;
    for (var e = gid.x; e < params.count; e = e + params.partial_count * WG) {
        let g = grads[e];
        sum = sum + g * g;
    }
    partial[lid] = sum;
    sum_partial(lid);
    if (lid == 0u && wid.x < params.partial_count) {
        partials[wid.x] = partial[0];
    }
}

// One workgroup; the partials loop bounds every access.
@compute @workgroup_size(WG)
fn finish(@builtin(local_invocation_index) lid: u32) {
    var sum = 0.0;
    for (var w = lid; w < params.partial_count; w = w + WG) {
        sum = sum + partials_saved[w];
    }
    partial[lid] = sum;
    sum_partial(lid);
    if (lid == 0u) {
        let norm = sqrt(partial[0]);
        let finite = is_finite(norm) && is_finite(stats[LOSS]);
        var scale = 1.0;
        if (finite && norm > params.max_norm) {
            scale = params.max_norm / norm;
        }
        stats[GRAD_NORM] = norm;
        stats[CLIP_SCALE] = scale;
        stats[SKIP] = select(1.0, 0.0, finite);
    }
}
