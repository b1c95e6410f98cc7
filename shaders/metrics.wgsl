// Metric reductions on the probe batch: the numbers `Metrics` is built from,
// reduced on the GPU so that a metrics read copies back a few hundred values
// instead of every activation. The host divides sums by counts it knows from
// the sizes and the probe batch, and combines layers in f64.
//
// Rows r = b * T + p of a (N, C) tensor are (sequence b, position p); BOS
// rows are those with p = 0. copy[r] is 1 at Bigram-Backcopy copy queries.
// Indices into out below count from the pass's out_offset.
//
// f_attn:       out[h] = mean over sequences b and queries i >= 1 of
//               A[b, h, i, 0], each row first divided by its sum when
//               normalise_rows is 1 (the sigmoid normaliser); 0 when T = 1.
// null_mass:    out[0] = sum over b, h and i >= 1 of null[b, h, i], the mass
//               the softmax1 and sink-logit normalisers give the null slot.
// loss_split:   out[0] = sum of row_loss[r] over rows with weight[r] > 0 and
//               copy[r] = 1; out[1] the same over weight[r] > 0, copy[r] = 0.
// m_act:        out[0] = max |x[r, c]| over BOS rows, out[1] over the others.
// value_norms:  norms[r, h] = || v[r, hD:(h+1)D] Wo[hD:(h+1)D, :] ||, the
//               norm of head h's value vector at row r through its rows of Wo.
// value_sums:   out[2h] = sum of norms[r, h] over BOS rows, out[2h + 1] over
//               the others.
// gate_stats:   item k of the (N, G) gate values g = act(n Wg) of one layer:
//               k < 20: count of values in histogram bin k: those that
//               reach e_k but not e_(k+1), with every value in reach of e_0
//               and none of e_20 (so values below 0 land in bin 0 and above
//               1 in bin 19);
//               20: count of g < 0.1 (edge e_2); 21: count of g < 0;
//               22: count of g > 1 (counts are u32, every other value f32 bits);
//               23: sum of all g;
//               24 + h: sum of g[r, idx(hD + d)] over rows r and d < D;
//               24 + H + p: sum of g over rows at position p;
//               24 + H + T: sum of row means (sum of g[r, :]) / G over rows
//               with p >= 1 and copy[r] = 1, then the same with copy[r] = 0.
//               idx is gate.wgsl's channel-to-gate map.
// gate_map:     out[h * T + p] = mean over d < D of g[p, idx(hD + d)] at
//               probe sequence 0, the heatmap of the snapshot.
//
// The bin edges e_k are the smallest f32 values with e_k >= k / 20 exactly,
// computed on the host, so that g >= e_k holds exactly when the CPU's
// floor(g * 20) in f64 is at least k.
//
// f_attn runs one invocation per head and gate_map one per (h, p).
// value_norms runs one workgroup per (r, h), wrapped into rows of at most
// 65535 workgroups, whose lanes share the C outputs of the projection. The
// other reductions (null_mass, loss_split, m_act, value_sums, gate_stats)
// run one workgroup per output value: lane l adds
// the elements l, l + WG, l + 2 WG, ... in order, then a fixed tree over the
// lanes combines them, so every result is the same on every run (no atomics).

const WG: u32 = 64u;
const BINS: u32 = 20u;
// Gate items before the head sums: 20 bins, three counts and the sum.
const GATE_FIXED: u32 = 24u;

struct Params {
    // B probe sequences.
    batch: u32,
    // H heads.
    heads: u32,
    // T positions.
    seq_len: u32,
    // C channels.
    width: u32,
    // D channels per head.
    head_dim: u32,
    // G gate values per row.
    gate_width: u32,
    // Channel-to-gate map: 0 elementwise head-specific, 1 elementwise shared,
    // 2 headwise head-specific, 3 headwise shared.
    index_mode: u32,
    // 1 divides each attention row by its sum first (f_attn).
    normalise_rows: u32,
    // Offset of Wo (C, C) in parameters.
    wo_offset: u32,
    // Where the first value goes in out, in f32 elements.
    out_offset: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> att: array<f32>;             // (B, H, T, T) attention weights, then (B, H, T) null masses
@group(0) @binding(2) var<storage, read> gate: array<f32>;            // (N, G) gate values
@group(0) @binding(3) var<storage, read> x: array<f32>;               // (N, C) residual stream after a layer
@group(0) @binding(4) var<storage, read> v: array<f32>;               // (N, C) value vectors
@group(0) @binding(5) var<storage, read> parameters: array<f32>;      // (P) flat parameter buffer
@group(0) @binding(6) var<storage, read> row_loss: array<f32>;        // (N) loss of each row
@group(0) @binding(7) var<storage, read> weights: array<f32>;         // (N) loss weight of each row
@group(0) @binding(8) var<storage, read> probe_info: array<f32>;      // (20) bin edges e_0..e_19, then (N) copy flags
@group(0) @binding(9) var<storage, read> norms: array<f32>;           // (N, H) value norms, value_sums input
@group(0) @binding(10) var<storage, read_write> norms_out: array<f32>; // (N, H) value norms, value_norms output
@group(0) @binding(11) var<storage, read_write> out: array<u32>;      // metric values as f32 bits (counts as u32), output

var<workgroup> lane_f: array<f32, WG>;
var<workgroup> lane_u: array<u32, WG>;

fn flat_index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * WG;
}

// Stores an f32 result by its bits, so that out can also hold u32 counts
// (which read as f32 would be subnormal numbers a device may flush to zero).
fn put(index: u32, value: f32) {
    out[index] = bitcast<u32>(value);
}

fn gate_index(c: u32) -> u32 {
    switch params.index_mode {
        case 0u: { return c; }
        case 1u: { return c % params.head_dim; }
        case 2u: { return c / params.head_dim; }
        default: { return 0u; }
    }
}

fn is_copy(r: u32) -> bool {
    return probe_info[BINS + r] != 0.0;
}

// Sums lane_f and lane_u over the workgroup into element 0 of each, in a
// fixed order. Every lane must call it.
fn reduce_sum(lane: u32) {
    for (var stride = WG / 2u; stride > 0u; stride = stride / 2u) {
        workgroupBarrier();
        if (lane < stride) {
            lane_f[lane] = lane_f[lane] + lane_f[lane + stride];
            lane_u[lane] = lane_u[lane] + lane_u[lane + stride];
        }
    }
    workgroupBarrier();
}

// The maximum of lane_f into element 0. Every lane must call it.
fn reduce_max(lane: u32) {
    for (var stride = WG / 2u; stride > 0u; stride = stride / 2u) {
        workgroupBarrier();
        if (lane < stride) {
            lane_f[lane] = max(lane_f[lane], lane_f[lane + stride]);
        }
    }
    workgroupBarrier();
}

@compute @workgroup_size(WG)
fn f_attn(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let h = flat_index(gid, nwg);
    if (h >= params.heads) {
        return;
    }
    let t_len = params.seq_len;
    var sum = 0.0;
    for (var b = 0u; b < params.batch; b = b + 1u) {
        for (var i = 1u; i < t_len; i = i + 1u) {
            let base = ((b * params.heads + h) * t_len + i) * t_len;
            let first = att[base];
            if (params.normalise_rows == 1u) {
                var total = 0.0;
                for (var j = 0u; j <= i; j = j + 1u) {
                    total = total + att[base + j];
                }
                if (total > 0.0) {
                    sum = sum + first / total;
                }
            } else {
                sum = sum + first;
            }
        }
    }
    var mean = 0.0;
    if (t_len > 1u) {
        mean = sum / f32(params.batch * (t_len - 1u));
    }
    put(params.out_offset + h, mean);
}

@compute @workgroup_size(WG)
fn null_mass(@builtin(local_invocation_id) lid: vec3<u32>) {
    let lane = lid.x;
    let t_len = params.seq_len;
    let rows = params.batch * params.heads * t_len;
    let base = rows * t_len;
    var sum = 0.0;
    for (var e = lane; e < rows; e = e + WG) {
        if (e % t_len >= 1u) {
            sum = sum + att[base + e];
        }
    }
    lane_f[lane] = sum;
    lane_u[lane] = 0u;
    reduce_sum(lane);
    if (lane == 0u) {
        put(params.out_offset, lane_f[0]);
    }
}

@compute @workgroup_size(WG)
fn loss_split(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let lane = lid.x;
    let want_copy = wid.x == 0u;
    let rows = params.batch * params.seq_len;
    var sum = 0.0;
    for (var r = lane; r < rows; r = r + WG) {
        if (weights[r] > 0.0 && is_copy(r) == want_copy) {
            sum = sum + row_loss[r];
        }
    }
    lane_f[lane] = sum;
    lane_u[lane] = 0u;
    reduce_sum(lane);
    if (lane == 0u) {
        put(params.out_offset + wid.x, lane_f[0]);
    }
}

@compute @workgroup_size(WG)
fn m_act(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let lane = lid.x;
    let want_bos = wid.x == 0u;
    let count = params.batch * params.seq_len * params.width;
    var largest = 0.0;
    for (var e = lane; e < count; e = e + WG) {
        let r = e / params.width;
        if ((r % params.seq_len == 0u) == want_bos) {
            largest = max(largest, abs(x[e]));
        }
    }
    lane_f[lane] = largest;
    reduce_max(lane);
    if (lane == 0u) {
        put(params.out_offset + wid.x, lane_f[0]);
    }
}

@compute @workgroup_size(WG)
fn value_norms(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let lane = lid.x;
    let index = wid.x + wid.y * nwg.x;
    let rows = params.batch * params.seq_len;
    let valid = index < rows * params.heads;
    let r = index / params.heads;
    let h = index % params.heads;
    let c_len = params.width;
    let d_len = params.head_dim;
    var squares = 0.0;
    if (valid) {
        for (var c = lane; c < c_len; c = c + WG) {
            var projected = 0.0;
            for (var d = 0u; d < d_len; d = d + 1u) {
                let channel = h * d_len + d;
                projected = projected + v[r * c_len + channel] * parameters[params.wo_offset + channel * c_len + c];
            }
            squares = squares + projected * projected;
        }
    }
    lane_f[lane] = squares;
    lane_u[lane] = 0u;
    reduce_sum(lane);
    if (valid && lane == 0u) {
        norms_out[index] = sqrt(lane_f[0]);
    }
}

@compute @workgroup_size(WG)
fn value_sums(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let lane = lid.x;
    let h = wid.x / 2u;
    let want_bos = wid.x % 2u == 0u;
    let rows = params.batch * params.seq_len;
    var sum = 0.0;
    for (var r = lane; r < rows; r = r + WG) {
        if ((r % params.seq_len == 0u) == want_bos) {
            sum = sum + norms[r * params.heads + h];
        }
    }
    lane_f[lane] = sum;
    lane_u[lane] = 0u;
    reduce_sum(lane);
    if (lane == 0u) {
        put(params.out_offset + wid.x, lane_f[0]);
    }
}

@compute @workgroup_size(WG)
fn gate_stats(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let lane = lid.x;
    let item = wid.x;
    let g_len = params.gate_width;
    let t_len = params.seq_len;
    let heads = params.heads;
    let rows = params.batch * t_len;
    let count = rows * g_len;
    var sum = 0.0;
    var hits = 0u;
    if (item < BINS + 3u) {
        // Bin k holds the values that reach e_k (every value for k = 0, NaN
        // included) and do not reach e_(k + 1) (none for the last bin).
        let low = probe_info[min(item, BINS - 1u)];
        let high = probe_info[min(item + 1u, BINS - 1u)];
        for (var e = lane; e < count; e = e + WG) {
            let g = gate[e];
            var hit = false;
            if (item < BINS) {
                hit = (item == 0u || g >= low) && (item == BINS - 1u || !(g >= high));
            } else if (item == BINS) {
                hit = g < probe_info[2];
            } else if (item == BINS + 1u) {
                hit = g < 0.0;
            } else {
                hit = g > 1.0;
            }
            if (hit) {
                hits = hits + 1u;
            }
        }
    } else if (item == BINS + 3u) {
        for (var e = lane; e < count; e = e + WG) {
            sum = sum + gate[e];
        }
    } else if (item < GATE_FIXED + heads) {
        let h = item - GATE_FIXED;
        let d_len = params.head_dim;
        for (var e = lane; e < rows * d_len; e = e + WG) {
            let r = e / d_len;
            let d = e % d_len;
            sum = sum + gate[r * g_len + gate_index(h * d_len + d)];
        }
    } else if (item < GATE_FIXED + heads + t_len) {
        let p = item - GATE_FIXED - heads;
        for (var e = lane; e < params.batch * g_len; e = e + WG) {
            let r = (e / g_len) * t_len + p;
            sum = sum + gate[r * g_len + e % g_len];
        }
    } else {
        let want_copy = item == GATE_FIXED + heads + t_len;
        for (var r = lane; r < rows; r = r + WG) {
            if (r % t_len >= 1u && is_copy(r) == want_copy) {
                var row_sum = 0.0;
                for (var j = 0u; j < g_len; j = j + 1u) {
                    row_sum = row_sum + gate[r * g_len + j];
                }
                sum = sum + row_sum / f32(g_len);
            }
        }
    }
    lane_f[lane] = sum;
    lane_u[lane] = hits;
    reduce_sum(lane);
    if (lane == 0u) {
        if (item < BINS + 3u) {
            out[params.out_offset + item] = lane_u[0];
        } else {
            put(params.out_offset + item, lane_f[0]);
        }
    }
}

@compute @workgroup_size(WG)
fn gate_map(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let index = flat_index(gid, nwg);
    let t_len = params.seq_len;
    if (index >= params.heads * t_len) {
        return;
    }
    let h = index / t_len;
    let p = index % t_len;
    let d_len = params.head_dim;
    var sum = 0.0;
    for (var d = 0u; d < d_len; d = d + 1u) {
        sum = sum + gate[p * params.gate_width + gate_index(h * d_len + d)];
    }
    put(params.out_offset + index, sum / f32(d_len));
}
