// Tiled matrix products for the forward and backward passes.
//
// forward:          C (+)= A B      A (M, K), B (K, N): activations times a weight
// forward_residual: C = R + A B     R (M, N): a projection added to the residual stream
// transpose_a:      C (+)= A^T B    A stored (K, M): weight gradients X^T dY
// transpose_b:      C (+)= A B^T    B stored (N, K): input gradients dY W^T
//
// C is (M, N). Each workgroup computes one TILE x TILE block of C, and each
// invocation computes a BLOCK x BLOCK sub-block of it with strided rows and
// columns: invocation l of workgroup (x, y) owns rows y * TILE + l / SIDE + i * SIDE
// and columns x * TILE + l % SIDE + j * SIDE for i, j < BLOCK, with
// SIDE = TILE / BLOCK. Every element is one dot product over k in increasing
// order, read straight from A and B. Each step along k loads BLOCK values of
// A and BLOCK of B for BLOCK * BLOCK products, held in vec4 accumulators.
// Rows and columns outside C load clamped indices and skip the store.
// The kernel uses no workgroup memory or workgroupBarrier. On Mesa's lavapipe
// (a CPU Vulkan driver, 2 cores) it ran the lesson config's products about
// 4 times faster than 8 x 8 tiles staged in workgroup memory, as measured by
// crates/gpu/examples/profile_step.rs.

const WG: u32 = 64u;
// Rows (and columns) of C per invocation. The vec4 accumulators fix it at 4.
const BLOCK: u32 = 4u;
// Invocations along each side of a workgroup: SIDE * SIDE == WG.
const SIDE: u32 = 8u;
// Rows (and columns) of C per workgroup.
const TILE: u32 = 32u;

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

// Element (row, kk) of A is a[a_offset + row * a_row_stride + kk * a_k_stride];
// element (kk, col) of B is b[b_offset + kk * b_k_stride + col * b_col_stride].
// Returns the invocation's block: element j of entry i is C at (block_row(i), block_col(j)).
fn block_product(wid: vec3<u32>, lid: u32, a_row_stride: u32, a_k_stride: u32, b_k_stride: u32, b_col_stride: u32) -> array<vec4<f32>, 4> {
    var a_index: vec4<u32>;
    var b_index: vec4<u32>;
    for (var i = 0u; i < BLOCK; i = i + 1u) {
        let row = min(block_row(wid, lid, i), params.m - 1u);
        let col = min(block_col(wid, lid, i), params.n - 1u);
        a_index[i] = params.a_offset + row * a_row_stride;
        b_index[i] = params.b_offset + col * b_col_stride;
    }
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    for (var kk = 0u; kk < params.k; kk = kk + 1u) {
        let b_row = vec4<f32>(b[b_index.x], b[b_index.y], b[b_index.z], b[b_index.w]);
        acc0 = acc0 + a[a_index.x] * b_row;
        acc1 = acc1 + a[a_index.y] * b_row;
        acc2 = acc2 + a[a_index.z] * b_row;
        acc3 = acc3 + a[a_index.w] * b_row;
        a_index = a_index + vec4<u32>(a_k_stride);
        b_index = b_index + vec4<u32>(b_k_stride);
    }
    return array<vec4<f32>, 4>(acc0, acc1, acc2, acc3);
}

fn block_row(wid: vec3<u32>, lid: u32, i: u32) -> u32 {
    return wid.y * TILE + lid / SIDE + i * SIDE;
}

fn block_col(wid: vec3<u32>, lid: u32, j: u32) -> u32 {
    return wid.x * TILE + lid % SIDE + j * SIDE;
}

// Writes the block to C, or adds it into C when accumulate is 1. Skips
// elements outside C.
fn store_block(wid: vec3<u32>, lid: u32, block: array<vec4<f32>, 4>) {
    for (var i = 0u; i < BLOCK; i = i + 1u) {
        let row = block_row(wid, lid, i);
        for (var j = 0u; j < BLOCK; j = j + 1u) {
            let col = block_col(wid, lid, j);
            if (row >= params.m || col >= params.n) {
                continue;
            }
            let idx = params.c_offset + row * params.n + col;
            if (params.accumulate == 1u) {
                c[idx] = c[idx] + block[i][j];
            } else {
                c[idx] = block[i][j];
            }
        }
    }
}

// Writes R plus the block to C. Skips elements outside C.
fn store_block_residual(wid: vec3<u32>, lid: u32, block: array<vec4<f32>, 4>) {
    for (var i = 0u; i < BLOCK; i = i + 1u) {
        let row = block_row(wid, lid, i);
        for (var j = 0u; j < BLOCK; j = j + 1u) {
            let col = block_col(wid, lid, j);
            if (row >= params.m || col >= params.n) {
                continue;
            }
            let idx = row * params.n + col;
            c[params.c_offset + idx] = residual[idx] + block[i][j];
        }
    }
}

@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    store_block(wid, lid, block_product(wid, lid, params.k, 1u, params.n, 1u));
}

@compute @workgroup_size(WG)
fn forward_residual(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    store_block_residual(wid, lid, block_product(wid, lid, params.k, 1u, params.n, 1u));
}

@compute @workgroup_size(WG)
fn transpose_a(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    store_block(wid, lid, block_product(wid, lid, 1u, params.m, params.n, 1u));
}

@compute @workgroup_size(WG)
fn transpose_b(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    store_block(wid, lid, block_product(wid, lid, params.k, 1u, 1u, params.k));
}
