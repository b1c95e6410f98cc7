// Metric reductions on the probe batch's attention weights.
//
// f_attn: out[out_offset + h] = mean over sequences b and queries i >= 1 of
//         A[b, h, i, 0], each row first divided by its sum when
//         normalise_rows is 1 (the sigmoid normaliser, whose rows do not sum
//         to 1); 0 when T = 1.
//
// One invocation per head h.

const WG: u32 = 64u;

struct Params {
    // B probe sequences.
    batch: u32,
    // H heads.
    heads: u32,
    // T positions.
    seq_len: u32,
    // 1 divides each row by its sum first.
    normalise_rows: u32,
    // Where head 0's value goes in out, in f32 elements.
    out_offset: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> att: array<f32>;          // (B, H, T, T) attention weights of one layer
@group(0) @binding(2) var<storage, read_write> out: array<f32>;    // metric values, output

fn flat_index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * WG;
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
    out[params.out_offset + h] = mean;
}
