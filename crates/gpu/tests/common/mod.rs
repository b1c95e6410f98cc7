//! Shared set-up of the GPU tests: one Vulkan device per test binary, buffer
//! helpers, random inputs and the comparison with tolerances.
//!
//! Tolerances are relative to the reference tensor's largest magnitude
//! (`max_i |want_i|`, at least `FLOOR`), so one number covers tensors of any
//! scale. The reference is the CPU operation in f64 on the same f32 inputs,
//! so what remains is the GPU's f32 rounding and summation order.

#![allow(dead_code)]

use std::sync::OnceLock;

use gatelab_gpu::kernels::Pass;
use gatelab_gpu::GpuContext;
use rand::Rng;

/// Smallest scale a tolerance is taken relative to, so an all-zero reference
/// still allows rounding-sized differences.
pub const FLOOR: f64 = 1e-6;

/// Returns the test device, the first Vulkan adapter (Mesa's lavapipe in CI), made on first use.
pub fn ctx() -> &'static GpuContext {
    static CTX: OnceLock<GpuContext> = OnceLock::new();
    CTX.get_or_init(|| {
        let ctx = GpuContext::native().unwrap_or_else(|e| {
            panic!("the GPU tests need a Vulkan device and none was found: {e}")
        });
        eprintln!("GPU tests run on {} ({:?})", ctx.adapter.name, ctx.adapter.backend);
        ctx
    })
}

pub fn run(passes: &[&Pass]) {
    ctx().submit(passes);
}

pub fn read(buffer: &wgpu::Buffer, len: usize) -> Vec<f32> {
    read_at(buffer, 0, len)
}

pub fn read_at(buffer: &wgpu::Buffer, offset: usize, len: usize) -> Vec<f32> {
    pollster::block_on(ctx().read_f32(buffer, offset, len)).expect("read-back of a test buffer")
}

pub fn upload(data: &[f32]) -> wgpu::Buffer {
    ctx().upload_f32("test input", data)
}

pub fn zeros(len: usize) -> wgpu::Buffer {
    ctx().zeros("test output", len)
}

/// `len` values uniform in [-scale, scale) from the stream `name`.
pub fn random(name: &str, len: usize, scale: f32) -> Vec<f32> {
    let mut rng = gatelab_model::rng::stream(7, name);
    (0..len).map(|_| rng.random_range(-scale..scale)).collect()
}

pub fn to_f64(values: &[f32]) -> Vec<f64> {
    values.iter().map(|&x| x as f64).collect()
}

pub fn array2(values: &[f32], rows: usize, cols: usize) -> ndarray::Array2<f64> {
    ndarray::Array2::from_shape_vec((rows, cols), to_f64(values)).expect("shape matches the data")
}

/// Largest |got - want| over the largest |want| (at least FLOOR).
pub fn relative_error(got: &[f32], want: &[f64]) -> f64 {
    assert_eq!(got.len(), want.len(), "lengths differ");
    let scale = want.iter().fold(FLOOR, |m, w| m.max(w.abs()));
    let diff = got.iter().zip(want).fold(0.0f64, |m, (&g, &w)| m.max((g as f64 - w).abs()));
    diff / scale
}

/// Fails with the tensor's name, the error and the first differing element
/// when the relative error is above `tolerance`.
pub fn assert_close(name: &str, got: &[f32], want: impl IntoIterator<Item = f64>, tolerance: f64) {
    let want: Vec<f64> = want.into_iter().collect();
    let error = relative_error(got, &want);
    // Shown with --nocapture; the tolerances were chosen from these values.
    eprintln!("{name}: relative error {error:.1e}");
    assert!(got.iter().all(|g| g.is_finite()), "{name}: GPU values are not all finite");
    if error > tolerance {
        let scale = want.iter().fold(FLOOR, |m, w| m.max(w.abs()));
        let (index, _) = got
            .iter()
            .zip(&want)
            .enumerate()
            .find(|(_, (&g, &w))| (g as f64 - w).abs() > tolerance * scale)
            .expect("some element exceeds the tolerance");
        panic!(
            "{name}: relative error {error:.3e} above {tolerance:.1e}; first at element {index}: GPU {} vs CPU {}",
            got[index], want[index]
        );
    }
}
