// Tiled matrix products for the forward and backward passes.
//
// forward:          C (+)= A B      A (M, K), B (K, N): activations times a weight
// forward_residual: C = R + A B     R (M, N): a projection added to the residual stream
// transpose_a:      C (+)= A^T B    A stored (K, M): weight gradients X^T dY
// transpose_b:      C (+)= A B^T    B stored (N, K): input gradients dY W^T
//
// C is (M, N). Each workgroup computes one TILE x TILE block of C: workgroup
// (x, y) covers rows y * TILE.. and columns x * TILE.., and invocation l of
// the block computes element (l / TILE, l % TILE). Along K the block walks
// TILE-wide slices of A and B staged in workgroup memory. Every invocation
// takes part in staging, including those whose element lies outside C, so
// the bounds guard sits on the loads and the store instead of an early return
// (workgroupBarrier needs uniform control flow).

const WG: u32 = 64u;
// TILE * TILE == WG.
const TILE: u32 = 8u;

struct Params {
    // Rows of C.
    m: u32,
    // Columns of C.
    n: u32,
    // Length of the dot products.
    k: u32,
    // Offsets of A, B and C in their buffers, in f32 elements.
    a_offset: u32,
    b_offset: u32,
    c_offset: u32,
    // forward, transpose_a, transpose_b: 1 adds the product into C, 0 overwrites C.
    accumulate: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;            // A at a_offset, shape per entry point
@group(0) @binding(2) var<storage, read> b: array<f32>;            // B at b_offset, shape per entry point
@group(0) @binding(3) var<storage, read> residual: array<f32>;     // (M, N) R of forward_residual
@group(0) @binding(4) var<storage, read_write> c: array<f32>;      // (M, N) C at c_offset, output

var<workgroup> tile_a: array<f32, WG>;
var<workgroup> tile_b: array<f32, WG>;

// Element (row, kk) of A is a[a_offset + row * a_row_stride + kk * a_k_stride];
// element (kk, col) of B is b[b_offset + kk * b_k_stride + col * b_col_stride].
fn tiled_product(wid: vec3<u32>, lid: u32, a_row_stride: u32, a_k_stride: u32, b_k_stride: u32, b_col_stride: u32) -> f32 {
    let local_row = lid / TILE;
    let local_col = lid % TILE;
    let row = wid.y * TILE + local_row;
    let col = wid.x * TILE + local_col;
    var acc = 0.0;
    for (var k0 = 0u; k0 < params.k; k0 = k0 + TILE) {
        let a_k = k0 + local_col;
        var a_value = 0.0;
        if (row < params.m && a_k < params.k) {
            a_value = a[params.a_offset + row * a_row_stride + a_k * a_k_stride];
        }
        tile_a[lid] = a_value;
        let b_k = k0 + local_row;
        var b_value = 0.0;
        if (b_k < params.k && col < params.n) {
            b_value = b[params.b_offset + b_k * b_k_stride + col * b_col_stride];
        }
        tile_b[lid] = b_value;
        workgroupBarrier();
        for (var kk = 0u; kk < TILE; kk = kk + 1u) {
            acc = acc + tile_a[local_row * TILE + kk] * tile_b[kk * TILE + local_col];
        }
        workgroupBarrier();
    }
    return acc;
}

fn store(wid: vec3<u32>, lid: u32, value: f32) {
    let row = wid.y * TILE + lid / TILE;
    let col = wid.x * TILE + lid % TILE;
    if (row >= params.m || col >= params.n) {
        return;
    }
    let idx = params.c_offset + row * params.n + col;
    if (params.accumulate == 1u) {
        c[idx] = c[idx] + value;
    } else {
        c[idx] = value;
    }
}

@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let value = tiled_product(wid, lid, params.k, 1u, params.n, 1u);
    store(wid, lid, value);
}

@compute @workgroup_size(WG)
fn forward_residual(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let value = tiled_product(wid, lid, params.k, 1u, params.n, 1u);
    let row = wid.y * TILE + lid / TILE;
    let col = wid.x * TILE + lid % TILE;
    if (row >= params.m || col >= params.n) {
        return;
    }
    let idx = row * params.n + col;
    c[params.c_offset + idx] = residual[idx] + value;
}

@compute @workgroup_size(WG)
fn transpose_a(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let value = tiled_product(wid, lid, 1u, params.m, params.n, 1u);
    store(wid, lid, value);
}

@compute @workgroup_size(WG)
fn transpose_b(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let value = tiled_product(wid, lid, params.k, 1u, 1u, params.k);
    store(wid, lid, value);
}
