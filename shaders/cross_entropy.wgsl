// Weighted mean cross-entropy of the logits and its gradient.
//
// forward:  row_loss[i] = logsumexp(logits[i, :]) - logits[i, targets[i]]
// reduce:   stats[LOSS] = sum_i w_i row_loss[i] / sum_i w_i (0 when the weights sum to 0);
//           stats[WEIGHT_SUM] = sum_i w_i
// backward: dlogits[i, j] = w_i / sum_k w_k * (softmax(logits[i, :])[j] - [j == targets[i]])
//
// forward and backward run one invocation per row i and loop over the V
// logits; reduce runs one workgroup whose invocations stride over the rows,
// then sum their partial sums in workgroup memory. Rows with weight 0 still
// get their loss (per-position metrics read it) but no gradient.

const WG: u32 = 64u;
// Slots of the stats buffer (see clip.wgsl for the others).
const LOSS: u32 = 0u;
const WEIGHT_SUM: u32 = 1u;

struct Params {
    // N rows.
    rows: u32,
    // V logits per row.
    vocab: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;             // (N, V)
@group(0) @binding(2) var<storage, read> targets: array<u32>;            // (N) target ids
@group(0) @binding(3) var<storage, read> weights: array<f32>;            // (N) loss weights
@group(0) @binding(4) var<storage, read> row_loss_saved: array<f32>;     // (N) forward output
@group(0) @binding(5) var<storage, read> stats_saved: array<f32>;        // (8) reduce output
@group(0) @binding(6) var<storage, read_write> row_loss: array<f32>;     // (N) forward output
@group(0) @binding(7) var<storage, read_write> stats: array<f32>;        // (8) reduce output
@group(0) @binding(8) var<storage, read_write> dlogits: array<f32>;      // (N, V) backward output

var<workgroup> partial_loss: array<f32, WG>;
var<workgroup> partial_weight: array<f32, WG>;

fn flat_index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * WG;
}

fn row_max(base: u32) -> f32 {
    var m = logits[base];
    for (var j = 1u; j < params.vocab; j = j + 1u) {
        m = max(m, logits[base + j]);
    }
    return m;
}

@compute @workgroup_size(WG)
fn forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= params.rows) {
        return;
    }
    let base = i * params.vocab;
    let m = row_max(base);
    var sum = 0.0;
    for (var j = 0u; j < params.vocab; j = j + 1u) {
        sum = sum + exp(logits[base + j] - m);
    }
    row_loss[i] = m + log(sum) - logits[base + targets[i]];
}

// One workgroup; the row loop bounds every access.
@compute @workgroup_size(WG)
fn reduce(@builtin(local_invocation_index) lid: u32) {
    var loss = 0.0;
    var weight = 0.0;
    for (var i = lid; i < params.rows; i = i + WG) {
        loss = loss + weights[i] * row_loss_saved[i];
        weight = weight + weights[i];
    }
    partial_loss[lid] = loss;
    partial_weight[lid] = weight;
    workgroupBarrier();
    for (var stride = WG / 2u; stride > 0u; stride = stride / 2u) {
        if (lid < stride) {
            partial_loss[lid] = partial_loss[lid] + partial_loss[lid + stride];
            partial_weight[lid] = partial_weight[lid] + partial_weight[lid + stride];
        }
        workgroupBarrier();
    }
    if (lid == 0u) {
        let total_weight = partial_weight[0];
        var mean = 0.0;
        if (total_weight > 0.0) {
            mean = partial_loss[0] / total_weight;
        }
        stats[LOSS] = mean;
        stats[WEIGHT_SUM] = total_weight;
    }
}

@compute @workgroup_size(WG)
fn backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= params.rows) {
        return;
    }
    let base = i * params.vocab;
    let total_weight = stats_saved[WEIGHT_SUM];
    if (weights[i] == 0.0 || total_weight <= 0.0) {
        for (var j = 0u; j < params.vocab; j = j + 1u) {
            dlogits[base + j] = 0.0;
        }
        return;
    }
    let scale = weights[i] / total_weight;
    let m = row_max(base);
    var sum = 0.0;
    for (var j = 0u; j < params.vocab; j = j + 1u) {
        sum = sum + exp(logits[base + j] - m);
    }
    for (var j = 0u; j < params.vocab; j = j + 1u) {
        dlogits[base + j] = exp(logits[base + j] - m) / sum * scale;
    }
    let target_index = base + targets[i];
    dlogits[target_index] = dlogits[target_index] - scale;
}
