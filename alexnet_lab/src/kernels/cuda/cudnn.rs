//! cuDNN convolutions: forward, input gradient (`BackwardData`) and weight gradient
//! (`BackwardFilter`), f32, NCHW, through cudarc's raw bindings.
//!
//! Per convolution shape one [`Plan`]: the descriptors, the three algorithms and one workspace,
//! made at its first use and kept (candle 0.11's cuDNN forward rebuilt them on every call, and had
//! no backward). Algorithms come from cuDNN's heuristics (`cudnnGet*Algorithm_v7`, what PyTorch
//! uses with `cudnn.benchmark = False`): the first one that succeeds and, under
//! [`Algorithms::Deterministic`] (the default: the lab's resume and reproducibility promises), is
//! deterministic. The math follows PyTorch's defaults: [`Math::Tf32`] lets cuDNN use TF32 tensor
//! cores for f32 data (`CUDNN_DEFAULT_MATH`, PyTorch's `cudnn.allow_tf32 = True`), [`Math::Fp32`]
//! asks for FP32 FMA only (`CUDNN_FMA_MATH`).
//!
//! cuDNN handles and descriptors are neither `Send` nor `Sync`: the handles and plans live per
//! thread and device, as candle keeps its own cuDNN handles.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::c_void;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use candle_core::cuda_backend::cudarc::cudnn::{result, sys};
use candle_core::cuda_backend::cudarc::driver::{CudaSlice, CudaStream, CudaView, DevicePtr, DevicePtrMut};
use candle_core::cuda_backend::DeviceId;
use candle_core::{CudaDevice, Result};

/// How cuDNN may compute f32 convolutions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Math {
    /// TF32 tensor cores allowed (10-bit mantissa products, f32 sums): PyTorch's default for
    /// convolutions.
    Tf32,
    /// FP32 FMA only: the CPU's results to rounding.
    Fp32,
}

/// Which cuDNN algorithms may be chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithms {
    /// Only those whose results do not change from run to run (no atomics in the sums).
    Deterministic,
    /// The fastest by cuDNN's heuristics, deterministic or not (PyTorch's default).
    Fastest,
}

static SETTINGS: AtomicU8 = AtomicU8::new(0);

/// Sets the math and the algorithms for this process's cuDNN convolutions (the binary takes them
/// from `ALEXNET_LAB_CUDA_MATH` and `ALEXNET_LAB_CUDNN_ALGOS`); the defaults are
/// [`Math::Tf32`] and [`Algorithms::Deterministic`].
pub fn set(math: Math, algorithms: Algorithms) {
    SETTINGS.store(u8::from(math == Math::Fp32) | (u8::from(algorithms == Algorithms::Fastest) << 1), Ordering::Relaxed);
}

/// The settings in force.
pub fn settings() -> (Math, Algorithms) {
    let s = SETTINGS.load(Ordering::Relaxed);
    (
        if s & 1 == 0 { Math::Tf32 } else { Math::Fp32 },
        if s & 2 == 0 { Algorithms::Deterministic } else { Algorithms::Fastest },
    )
}

/// A convolution's shape: input `(n, c, h, w)`, `o` square `k x k` filters, stride, zero padding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Geom {
    pub n: usize,
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub o: usize,
    pub k: usize,
    pub stride: usize,
    pub pad: usize,
}

impl Geom {
    pub fn out_hw(&self) -> (usize, usize) {
        ((self.h + 2 * self.pad - self.k) / self.stride + 1, (self.w + 2 * self.pad - self.k) / self.stride + 1)
    }

    pub fn out_len(&self) -> usize {
        let (oh, ow) = self.out_hw();
        self.n * self.o * oh * ow
    }
}

fn err(what: &str, e: impl std::fmt::Debug) -> candle_core::Error {
    candle_core::Error::Msg(format!("cuDNN {what}: {e:?}"))
}

fn int(v: usize, what: &str) -> Result<i32> {
    i32::try_from(v).map_err(|_| err(what, format!("{v} does not fit cuDNN's 32-bit sizes")))
}

/// A cuDNN handle bound to a device's stream.
struct Handle(sys::cudnnHandle_t);

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: created by `create_handle`, destroyed once.
        let _ = unsafe { result::destroy_handle(self.0) };
    }
}

/// Everything one convolution shape needs, kept between calls.
struct Plan {
    x: sys::cudnnTensorDescriptor_t,
    y: sys::cudnnTensorDescriptor_t,
    w: sys::cudnnFilterDescriptor_t,
    conv: sys::cudnnConvolutionDescriptor_t,
    fwd: sys::cudnnConvolutionFwdAlgo_t,
    bwd_data: sys::cudnnConvolutionBwdDataAlgo_t,
    bwd_filter: sys::cudnnConvolutionBwdFilterAlgo_t,
    /// One workspace, as large as the largest of the three algorithms asks.
    workspace: Option<CudaSlice<u8>>,
}

impl Drop for Plan {
    fn drop(&mut self) {
        // SAFETY: each descriptor was created by this plan and is destroyed once.
        unsafe {
            let _ = result::destroy_tensor_descriptor(self.x);
            let _ = result::destroy_tensor_descriptor(self.y);
            let _ = result::destroy_filter_descriptor(self.w);
            let _ = result::destroy_convolution_descriptor(self.conv);
        }
    }
}

type Key = (DeviceId, Geom, Math, Algorithms);

thread_local! {
    static HANDLES: RefCell<HashMap<DeviceId, Arc<Handle>>> = RefCell::new(HashMap::new());
    static PLANS: RefCell<HashMap<Key, Plan>> = RefCell::new(HashMap::new());
}

fn device_key(dev: &CudaDevice) -> DeviceId {
    dev.id()
}

fn handle(dev: &CudaDevice) -> Result<Arc<Handle>> {
    HANDLES.with(|h| {
        if let Some(handle) = h.borrow().get(&device_key(dev)) {
            return Ok(handle.clone());
        }
        let stream = dev.cuda_stream();
        stream.context().bind_to_thread().map_err(|e| err("binding the context", e))?;
        let raw = result::create_handle().map_err(|e| err("creating a handle", e))?;
        let handle = Arc::new(Handle(raw));
        // SAFETY: a live handle and the device's own stream (which outlives the handle's use: both
        // belong to the device).
        unsafe { result::set_stream(raw, stream.cu_stream() as *mut _) }.map_err(|e| err("setting the stream", e))?;
        h.borrow_mut().insert(device_key(dev), handle.clone());
        Ok(handle)
    })
}

fn tensor4(n: usize, c: usize, h: usize, w: usize) -> Result<sys::cudnnTensorDescriptor_t> {
    let d = result::create_tensor_descriptor().map_err(|e| err("creating a tensor descriptor", e))?;
    // SAFETY: a new descriptor.
    unsafe {
        result::set_tensor4d_descriptor(
            d,
            sys::cudnnTensorFormat_t::CUDNN_TENSOR_NCHW,
            sys::cudnnDataType_t::CUDNN_DATA_FLOAT,
            [int(n, "batch")?, int(c, "channels")?, int(h, "height")?, int(w, "width")?],
        )
    }
    .map_err(|e| err("setting a tensor descriptor", e))?;
    Ok(d)
}

/// The first usable algorithm of cuDNN's ranked list: it succeeded, and it is deterministic when
/// that is asked.
macro_rules! pick {
    ($perf:ty, $count:expr, $algos:expr, $what:literal, |$results:ident, $n:ident| $call:expr) => {{
        // SAFETY: all-zero records are valid (every enum field has a variant 0); cuDNN fills `$n`.
        let mut $results: Vec<$perf> = vec![unsafe { std::mem::zeroed() }; $count];
        let mut $n: i32 = 0;
        // SAFETY: the descriptors are live; the buffer holds `$count` records.
        unsafe { $call }.map_err(|e| err($what, e))?;
        $results
            .iter()
            .take($n.max(0) as usize)
            .find(|p| {
                p.status == sys::cudnnStatus_t::CUDNN_STATUS_SUCCESS
                    && ($algos == Algorithms::Fastest || p.determinism == sys::cudnnDeterminism_t::CUDNN_DETERMINISTIC)
            })
            .map(|p| (p.algo, p.memory))
            .ok_or_else(|| err($what, format!("no {:?} algorithm for this shape", $algos)))?
    }};
}

fn new_plan(dev: &CudaDevice, h: &Handle, g: &Geom, math: Math, algos: Algorithms) -> Result<Plan> {
    let (oh, ow) = g.out_hw();
    let x = tensor4(g.n, g.c, g.h, g.w)?;
    let y = tensor4(g.n, g.o, oh, ow)?;
    let w = result::create_filter_descriptor().map_err(|e| err("creating a filter descriptor", e))?;
    let conv = result::create_convolution_descriptor().map_err(|e| err("creating a convolution descriptor", e))?;
    // The plan owns the descriptors from here: an error below drops (destroys) them.
    let mut plan = Plan {
        x,
        y,
        w,
        conv,
        fwd: sys::cudnnConvolutionFwdAlgo_t::CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM,
        bwd_data: sys::cudnnConvolutionBwdDataAlgo_t::CUDNN_CONVOLUTION_BWD_DATA_ALGO_1,
        bwd_filter: sys::cudnnConvolutionBwdFilterAlgo_t::CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1,
        workspace: None,
    };
    let (k, s, p) = (int(g.k, "kernel")?, int(g.stride, "stride")?, int(g.pad, "padding")?);
    // SAFETY: new descriptors owned by `plan`.
    unsafe {
        result::set_filter4d_descriptor(
            w,
            sys::cudnnDataType_t::CUDNN_DATA_FLOAT,
            sys::cudnnTensorFormat_t::CUDNN_TENSOR_NCHW,
            [int(g.o, "filters")?, int(g.c, "channels")?, k, k],
        )
        .map_err(|e| err("setting the filter descriptor", e))?;
        result::set_convolution2d_descriptor(
            conv,
            p,
            p,
            s,
            s,
            1,
            1,
            sys::cudnnConvolutionMode_t::CUDNN_CROSS_CORRELATION,
            sys::cudnnDataType_t::CUDNN_DATA_FLOAT,
        )
        .map_err(|e| err("setting the convolution descriptor", e))?;
        let m = match math {
            Math::Tf32 => sys::cudnnMathType_t::CUDNN_DEFAULT_MATH,
            Math::Fp32 => sys::cudnnMathType_t::CUDNN_FMA_MATH,
        };
        result::set_convolution_math_type(conv, m).map_err(|e| err("setting the math type", e))?;
    }
    let (fwd, m1) = pick!(sys::cudnnConvolutionFwdAlgoPerf_t, 8, algos, "choosing the forward algorithm", |r, n| {
        result::get_convolution_forward_algorithm(h.0, x, w, conv, y, 8, &mut n, r.as_mut_ptr())
    });
    let (bwd_data, m2) = pick!(sys::cudnnConvolutionBwdDataAlgoPerf_t, 6, algos, "choosing the input-gradient algorithm", |r, n| {
        result::get_convolution_backward_data_algorithm(h.0, w, y, conv, x, 6, &mut n, r.as_mut_ptr())
    });
    let (bwd_filter, m3) = pick!(sys::cudnnConvolutionBwdFilterAlgoPerf_t, 7, algos, "choosing the weight-gradient algorithm", |r, n| {
        result::get_convolution_backward_filter_algorithm(h.0, x, y, conv, w, 7, &mut n, r.as_mut_ptr())
    });
    let bytes = m1.max(m2).max(m3);
    plan.fwd = fwd;
    plan.bwd_data = bwd_data;
    plan.bwd_filter = bwd_filter;
    plan.workspace = if bytes > 0 { Some(dev.alloc_zeros::<u8>(bytes)?) } else { None };
    Ok(plan)
}

/// Runs `f` with this thread's handle and the plan of `g` on `dev` (made at its first use).
fn with_plan<T>(dev: &CudaDevice, g: &Geom, f: impl FnOnce(&Handle, &mut Plan, &CudaStream) -> Result<T>) -> Result<T> {
    let h = handle(dev)?;
    let (math, algos) = settings();
    let key = (device_key(dev), *g, math, algos);
    let stream = dev.cuda_stream();
    PLANS.with(|plans| {
        let mut plans = plans.borrow_mut();
        if !plans.contains_key(&key) {
            let plan = new_plan(dev, &h, g, math, algos)?;
            plans.insert(key, plan);
        }
        let plan = plans.get_mut(&key).ok_or_else(|| err("plan", "missing"))?;
        f(&h, plan, &stream)
    })
}

/// The workspace's pointer and size (null and 0 without one).
fn workspace(plan: &mut Plan, stream: &CudaStream) -> (*mut c_void, usize) {
    match plan.workspace.as_mut() {
        Some(ws) => {
            let len = ws.len();
            let (ptr, _sync) = ws.device_ptr_mut(stream);
            (ptr as *mut c_void, len)
        }
        None => (std::ptr::null_mut(), 0),
    }
}

fn check_len(what: &str, got: usize, want: usize) -> Result<()> {
    if got < want {
        candle_core::bail!("cuDNN convolution: {what} holds {got} values, the shape needs {want}");
    }
    Ok(())
}

/// `y = conv(x, w)` (no bias): `x` `(n, c, h, w)`, `w` `(o, c, k, k)`, `y` `(n, o, oh, ow)`.
pub fn forward(dev: &CudaDevice, g: &Geom, x: &CudaView<f32>, w: &CudaView<f32>, y: &mut CudaSlice<f32>) -> Result<()> {
    check_len("the input", x.len(), g.n * g.c * g.h * g.w)?;
    check_len("the weight", w.len(), g.o * g.c * g.k * g.k)?;
    check_len("the output", y.len(), g.out_len())?;
    with_plan(dev, g, |h, plan, stream| {
        let (one, zero) = (1f32, 0f32);
        let (ws, ws_len) = workspace(plan, stream);
        let (xp, _a) = x.device_ptr(stream);
        let (wp, _b) = w.device_ptr(stream);
        let (yp, _c) = y.device_ptr_mut(stream);
        // SAFETY: the descriptors describe these buffers (lengths checked above), all on the
        // handle's stream.
        unsafe {
            result::convolution_forward(
                h.0,
                &one as *const f32 as *const c_void,
                plan.x,
                xp as *const c_void,
                plan.w,
                wp as *const c_void,
                plan.conv,
                plan.fwd,
                ws,
                ws_len,
                &zero as *const f32 as *const c_void,
                plan.y,
                yp as *mut c_void,
            )
        }
        .map_err(|e| err("forward", e))
    })
}

/// `dx = conv_backward_data(w, dy)`: the input's gradient.
pub fn backward_data(dev: &CudaDevice, g: &Geom, w: &CudaView<f32>, dy: &CudaView<f32>, dx: &mut CudaSlice<f32>) -> Result<()> {
    check_len("the weight", w.len(), g.o * g.c * g.k * g.k)?;
    check_len("the output gradient", dy.len(), g.out_len())?;
    check_len("the input gradient", dx.len(), g.n * g.c * g.h * g.w)?;
    with_plan(dev, g, |h, plan, stream| {
        let (one, zero) = (1f32, 0f32);
        let (ws, ws_len) = workspace(plan, stream);
        let (wp, _a) = w.device_ptr(stream);
        let (dyp, _b) = dy.device_ptr(stream);
        let (dxp, _c) = dx.device_ptr_mut(stream);
        // SAFETY: as in `forward`.
        unsafe {
            result::convolution_backward_data(
                h.0,
                &one as *const f32 as *const c_void,
                plan.w,
                wp as *const c_void,
                plan.y,
                dyp as *const c_void,
                plan.conv,
                plan.bwd_data,
                ws,
                ws_len,
                &zero as *const f32 as *const c_void,
                plan.x,
                dxp as *mut c_void,
            )
        }
        .map_err(|e| err("input gradient", e))
    })
}

/// `dw = conv_backward_filter(x, dy)`: the weight's gradient.
pub fn backward_filter(dev: &CudaDevice, g: &Geom, x: &CudaView<f32>, dy: &CudaView<f32>, dw: &mut CudaSlice<f32>) -> Result<()> {
    check_len("the input", x.len(), g.n * g.c * g.h * g.w)?;
    check_len("the output gradient", dy.len(), g.out_len())?;
    check_len("the weight gradient", dw.len(), g.o * g.c * g.k * g.k)?;
    with_plan(dev, g, |h, plan, stream| {
        let (one, zero) = (1f32, 0f32);
        let (ws, ws_len) = workspace(plan, stream);
        let (xp, _a) = x.device_ptr(stream);
        let (dyp, _b) = dy.device_ptr(stream);
        let (dwp, _c) = dw.device_ptr_mut(stream);
        // SAFETY: as in `forward`.
        unsafe {
            result::convolution_backward_filter(
                h.0,
                &one as *const f32 as *const c_void,
                plan.x,
                xp as *const c_void,
                plan.y,
                dyp as *const c_void,
                plan.conv,
                plan.bwd_filter,
                ws,
                ws_len,
                &zero as *const f32 as *const c_void,
                plan.w,
                dwp as *mut c_void,
            )
        }
        .map_err(|e| err("weight gradient", e))
    })
}

/// The algorithms chosen for `g` under the settings in force (for `gpu-check` and the per-op
/// table).
pub fn algorithms(dev: &CudaDevice, g: &Geom) -> Result<String> {
    with_plan(dev, g, |_, plan, _| {
        Ok(format!(
            "fwd {:?}, bwd data {:?}, bwd filter {:?}, workspace {} B",
            plan.fwd,
            plan.bwd_data,
            plan.bwd_filter,
            plan.workspace.as_ref().map_or(0, |w| w.len())
        ))
    })
}
