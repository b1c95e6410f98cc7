//! Device set-up, kept apart from the work so that tests and the page can hand
//! the engine a device they made, and the buffer helpers every part uses.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use wgpu::util::DeviceExt;

use crate::error::GpuError;
use crate::kernels::{Kernels, Pass};
use crate::oneshot;

/// A device, its queue and the compiled kernels. Cloning shares all three.
#[derive(Clone)]
pub struct GpuContext {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub adapter: wgpu::AdapterInfo,
    kernels: Arc<Kernels>,
    /// Bytes copied back to the CPU so far by `read_f32` and `read_words`.
    bytes_read: Arc<AtomicU64>,
}

impl GpuContext {
    /// Wraps a device made elsewhere. It must have at least the WebGPU default
    /// limits; the engine uses no optional feature.
    pub fn from_device(device: wgpu::Device, queue: wgpu::Queue, adapter: wgpu::AdapterInfo) -> Self {
        let kernels = Arc::new(Kernels::new(&device));
        GpuContext { device, queue, adapter, kernels, bytes_read: Arc::default() }
    }

    /// Requests an adapter of `backends` and a device with the WebGPU default
    /// limits and no optional features.
    pub async fn request(backends: wgpu::Backends) -> Result<Self, GpuError> {
        let mut descriptor = wgpu::InstanceDescriptor::new_without_display_handle();
        descriptor.backends = backends;
        let instance = wgpu::Instance::new(descriptor);
        let options = wgpu::RequestAdapterOptions {
            power_preference: wgpu::PowerPreference::HighPerformance,
            ..Default::default()
        };
        let adapter = instance.request_adapter(&options).await.map_err(|e| GpuError::NoAdapter {
            backends: format!("{backends:?}"),
            reason: e.to_string(),
        })?;
        let info = adapter.get_info();
        let device_descriptor = wgpu::DeviceDescriptor {
            label: Some("gatelab"),
            required_features: wgpu::Features::empty(),
            required_limits: wgpu::Limits::defaults(),
            ..Default::default()
        };
        let (device, queue) = adapter
            .request_device(&device_descriptor)
            .await
            .map_err(|source| GpuError::RequestDevice { adapter: info.name.clone(), source })?;
        Ok(Self::from_device(device, queue, info))
    }

    /// Requests a Vulkan device, blocking until it is ready.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn native() -> Result<Self, GpuError> {
        pollster::block_on(Self::request(wgpu::Backends::VULKAN))
    }

    /// Requests a WebGPU device from the browser.
    #[cfg(target_arch = "wasm32")]
    pub async fn browser() -> Result<Self, GpuError> {
        Self::request(wgpu::Backends::BROWSER_WEBGPU).await
    }

    pub fn kernels(&self) -> &Kernels {
        &self.kernels
    }

    /// Bytes read back to the CPU through this context (and its clones) so far.
    pub fn bytes_read(&self) -> u64 {
        self.bytes_read.load(Ordering::Relaxed)
    }

    /// Creates a zeroed f32 storage buffer of `len` elements that can be copied to and from.
    pub fn zeros(&self, label: &str, len: usize) -> wgpu::Buffer {
        self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size: storage_size(len),
            usage: storage_usage(),
            mapped_at_creation: false,
        })
    }

    pub fn upload_f32(&self, label: &str, data: &[f32]) -> wgpu::Buffer {
        self.upload_words(label, data.iter().map(|x| x.to_bits()))
    }

    pub fn upload_u32(&self, label: &str, data: &[u32]) -> wgpu::Buffer {
        self.upload_words(label, data.iter().copied())
    }

    fn upload_words(&self, label: &str, words: impl Iterator<Item = u32>) -> wgpu::Buffer {
        let mut bytes: Vec<u8> = words.flat_map(u32::to_le_bytes).collect();
        // Storage bindings may not be empty.
        if bytes.is_empty() {
            bytes.extend_from_slice(&[0; 4]);
        }
        self.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some(label),
            contents: &bytes,
            usage: storage_usage(),
        })
    }

    pub fn write_f32(&self, buffer: &wgpu::Buffer, data: &[f32]) {
        let bytes: Vec<u8> = data.iter().flat_map(|x| x.to_le_bytes()).collect();
        self.queue.write_buffer(buffer, 0, &bytes);
    }

    pub fn write_u32(&self, buffer: &wgpu::Buffer, data: &[u32]) {
        let bytes: Vec<u8> = data.iter().flat_map(|x| x.to_le_bytes()).collect();
        self.queue.write_buffer(buffer, 0, &bytes);
    }

    /// Encodes `passes` in order into one compute pass and submits it.
    pub fn submit(&self, passes: &[&Pass]) -> wgpu::SubmissionIndex {
        let mut encoder = self.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("gatelab step") });
        {
            let mut compute = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some("gatelab"), timestamp_writes: None });
            for pass in passes {
                pass.encode(&mut compute);
            }
        }
        self.queue.submit([encoder.finish()])
    }

    /// Copies `len` f32 elements from `offset` of `buffer` back to the CPU,
    /// after all work submitted so far.
    pub async fn read_f32(&self, buffer: &wgpu::Buffer, offset: usize, len: usize) -> Result<Vec<f32>, GpuError> {
        Ok(self.read_words(buffer, offset, len).await?.into_iter().map(f32::from_bits).collect())
    }

    pub async fn read_words(&self, buffer: &wgpu::Buffer, offset: usize, len: usize) -> Result<Vec<u32>, GpuError> {
        if len == 0 {
            return Ok(Vec::new());
        }
        let size = (len * 4) as u64;
        self.bytes_read.fetch_add(size, Ordering::Relaxed);
        let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("read-back"),
            size,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut encoder = self.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("read-back") });
        encoder.copy_buffer_to_buffer(buffer, (offset * 4) as u64, &staging, 0, size);
        let index = self.queue.submit([encoder.finish()]);
        let (sender, receiver) = oneshot::channel();
        staging.slice(..).map_async(wgpu::MapMode::Read, move |result| sender.send(result));
        self.wait_for(index)?;
        receiver.await?;
        let words = {
            let view = staging.slice(..).get_mapped_range()?;
            view.chunks_exact(4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
        };
        staging.unmap();
        Ok(words)
    }

    /// Natively blocks until submission `index` has finished and its callbacks
    /// have run. The browser runs callbacks from its event loop, so there it
    /// returns at once.
    pub fn wait_for(&self, index: wgpu::SubmissionIndex) -> Result<(), GpuError> {
        #[cfg(not(target_arch = "wasm32"))]
        self.device.poll(wgpu::PollType::Wait { submission_index: Some(index), timeout: None })?;
        #[cfg(target_arch = "wasm32")]
        let _ = index;
        Ok(())
    }
}

fn storage_usage() -> wgpu::BufferUsages {
    wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST
}

/// Bytes of a storage buffer of `len` f32 elements: at least one element,
/// because bindings may not be empty.
fn storage_size(len: usize) -> u64 {
    (len.max(1) * 4) as u64
}
