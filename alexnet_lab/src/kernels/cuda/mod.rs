//! The lab's CUDA path (feature `cuda`): the ops a training step spends its time in, on the
//! device, without candle's stock CUDA convolution (im2col of the whole batch + FP32 GEMM
//! forward, a naive one-thread-per-output `conv_transpose2d` for the input gradient) or its
//! generic max-pool (9 strided views; full-size masks in the backward).
//!
//! - [`conv2d`]: cuDNN forward, input gradient and weight gradient ([`cudnn`]: descriptors,
//!   algorithms and workspace kept per shape; deterministic algorithms and TF32 math by default),
//!   bias and ReLU in one kernel after the forward; no input gradient for an input that needs none
//!   (the images: conv1);
//! - [`max_pool2d`]: the window's arg-max kept by the forward, the backward a gather of the
//!   gradients (bit-equal to the CPU op: same arg-max, same order of the sums);
//! - [`dropout_mask`]: the mask drawn on the device by Philox4x32-10, the same function as
//!   [`super::philox`] on the CPU.
//!
//! The CPU ops are the reference: `alexnet-lab gpu-check` runs each of these, forward and
//! backward, against them. Kernels: `lab.cu`, compiled to PTX by build.rs and checked with
//! `ptxas -arch=sm_90` there.

pub mod cudnn;
mod ops;

pub use ops::{conv2d, dropout_mask, max_pool2d};

use candle_core::cuda_backend::cudarc::driver::sys;


fn driver_err(what: &str, e: impl std::fmt::Debug) -> candle_core::Error {
    candle_core::Error::Msg(format!("CUDA {what}: {e:?}"))
}

/// The device's default memory pool (the one candle's stream-ordered allocations come from).
fn pool(dev: &candle_core::CudaDevice) -> candle_core::Result<sys::CUmemoryPool> {
    let stream = dev.cuda_stream();
    let ctx = stream.context();
    ctx.bind_to_thread().map_err(|e| driver_err("binding the context", e))?;
    let mut pool: sys::CUmemoryPool = std::ptr::null_mut();
    // SAFETY: an out-pointer and the context's own device.
    unsafe { sys::cuDeviceGetDefaultMemPool(&mut pool, ctx.cu_device()) }.result().map_err(|e| driver_err("cuDeviceGetDefaultMemPool", e))?;
    Ok(pool)
}

fn pool_attr(pool: sys::CUmemoryPool, attr: sys::CUmemPool_attribute) -> candle_core::Result<u64> {
    let mut v: u64 = 0;
    // SAFETY: these attributes are 64-bit integers (cuuint64_t).
    unsafe { sys::cuMemPoolGetAttribute(pool, attr, &mut v as *mut u64 as *mut std::ffi::c_void) }
        .result()
        .map_err(|e| driver_err("cuMemPoolGetAttribute", e))?;
    Ok(v)
}

/// Device memory in use by this process's allocations now, with the pool's high-water mark reset
/// to it: [`peak_pool_bytes`] then reads the most in use since.
pub fn reset_peak_pool_bytes(dev: &candle_core::CudaDevice) -> candle_core::Result<u64> {
    let pool = pool(dev)?;
    let now = pool_attr(pool, sys::CUmemPool_attribute::CU_MEMPOOL_ATTR_USED_MEM_CURRENT)?;
    let mut zero: u64 = 0;
    // SAFETY: setting the high-water mark takes a pointer to a zero cuuint64_t (it resets it).
    unsafe { sys::cuMemPoolSetAttribute(pool, sys::CUmemPool_attribute::CU_MEMPOOL_ATTR_USED_MEM_HIGH, &mut zero as *mut u64 as *mut std::ffi::c_void) }
        .result()
        .map_err(|e| driver_err("cuMemPoolSetAttribute", e))?;
    Ok(now)
}

/// The most device memory in use by allocations from the pool since [`reset_peak_pool_bytes`]
/// (`CU_MEMPOOL_ATTR_USED_MEM_HIGH`; 0 when the allocations do not come from the pool).
pub fn peak_pool_bytes(dev: &candle_core::CudaDevice) -> candle_core::Result<u64> {
    dev.cuda_stream().synchronize().map_err(|e| driver_err("synchronize", e))?;
    pool_attr(pool(dev)?, sys::CUmemPool_attribute::CU_MEMPOOL_ATTR_USED_MEM_HIGH)
}
