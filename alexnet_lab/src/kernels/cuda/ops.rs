//! candle custom ops over the lab's CUDA kernels (`lab.cu`) and cuDNN ([`super::cudnn`]): f32,
//! contiguous NCHW tensors on a CUDA device. Each op's `cpu_fwd` refuses: on the CPU the
//! `kernels` ops run instead.

use std::sync::Mutex;

use candle_core::backend::BackendStorage;
use candle_core::cuda_backend::cudarc::driver::{CudaSlice, CudaView, LaunchConfig, PushKernelArg};
use candle_core::cuda_backend::WrapErr;
use candle_core::{CpuStorage, CudaDevice, CudaStorage, CustomOp1, CustomOp2, CustomOp3, DType, Layout, Result, Shape, Tensor};

use super::cudnn::{self, Geom};

/// The PTX of `lab.cu` (build.rs), loaded once per device as the module `alexnet_lab`.
const PTX: &str = include_str!(concat!(env!("OUT_DIR"), "/lab.ptx"));
const MODULE: &str = "alexnet_lab";

/// A grid-stride launch over `n` items: 256 threads a block, at most 2^16 blocks.
fn grid(n: usize) -> LaunchConfig {
    let blocks = n.div_ceil(256).clamp(1, 1 << 16) as u32;
    LaunchConfig { grid_dim: (blocks, 1, 1), block_dim: (256, 1, 1), shared_mem_bytes: 0 }
}

fn not_on_cpu(op: &str) -> Result<(CpuStorage, Shape)> {
    candle_core::bail!("{op} is the lab's CUDA op: on the CPU the kernels:: ops run")
}

/// The f32 values of a contiguous tensor's storage, from its start offset.
fn view<'a>(s: &'a CudaStorage, l: &Layout, what: &str) -> Result<CudaView<'a, f32>> {
    if !l.is_contiguous() {
        candle_core::bail!("{what} must be contiguous for the lab's CUDA ops");
    }
    let start = l.start_offset();
    Ok(s.as_cuda_slice::<f32>()?.slice(start..start + l.shape().elem_count()))
}

fn int(v: usize, what: &str) -> Result<i32> {
    i32::try_from(v).map_err(|_| candle_core::Error::Msg(format!("{what} {v} is over the CUDA kernels' 32-bit sizes")))
}

fn wrap(slice: CudaSlice<f32>, dev: &CudaDevice) -> CudaStorage {
    CudaStorage::wrap_cuda_slice(slice, dev.clone())
}

fn check_f32(t: &Tensor, what: &str) -> Result<()> {
    if t.dtype() != DType::F32 {
        candle_core::bail!("the lab's CUDA path computes in f32; {what} is {:?}", t.dtype());
    }
    Ok(())
}

// ---- max-pool ------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
struct Pool {
    planes: usize,
    h: usize,
    w: usize,
    oh: usize,
    ow: usize,
    k: usize,
    s: usize,
}

impl Pool {
    fn of(l: &Layout, k: usize, s: usize) -> Result<(Self, (usize, usize))> {
        let (n, c, h, w) = l.shape().dims4()?;
        if k == 0 || s == 0 {
            candle_core::bail!("max_pool2d: kernel ({k}) and stride ({s}) must be >= 1");
        }
        if h < k || w < k {
            candle_core::bail!("max_pool2d: input {h}x{w} is smaller than the {k}x{k} window; use a larger image size");
        }
        Ok((Self { planes: n * c, h, w, oh: (h - k) / s + 1, ow: (w - k) / s + 1, k, s }, (n, c)))
    }

    fn args(&self) -> Result<[i32; 7]> {
        Ok([
            int(self.planes, "planes")?,
            int(self.h, "height")?,
            int(self.w, "width")?,
            int(self.oh, "output height")?,
            int(self.ow, "output width")?,
            int(self.k, "kernel")?,
            int(self.s, "stride")?,
        ])
    }
}

struct MaxPool {
    k: usize,
    s: usize,
    keep: bool,
    /// The arg-max of each window (index in its plane), for the backward.
    argmax: Mutex<Option<CudaSlice<i32>>>,
}

impl MaxPool {
    /// The output and the arg-max of `x`.
    fn run(&self, st: &CudaStorage, l: &Layout) -> Result<(CudaSlice<f32>, CudaSlice<i32>, Shape)> {
        let (p, (n, c)) = Pool::of(l, self.k, self.s)?;
        let dev = st.device();
        let x = view(st, l, "the max-pool's input")?;
        let outs = p.planes * p.oh * p.ow;
        // SAFETY: every element is written by the kernel.
        let (y, arg) = unsafe { (dev.alloc::<f32>(outs)?, dev.alloc::<i32>(outs)?) };
        let func = dev.get_or_load_custom_func("lab_max_pool_fwd", MODULE, PTX)?;
        let a = p.args()?;
        let mut b = func.builder();
        b.arg(&x).arg(&y).arg(&arg);
        for v in &a {
            b.arg(v);
        }
        // SAFETY: the kernel reads `planes*h*w` inputs and writes `outs` values of each output.
        unsafe { b.launch(grid(outs)) }.w()?;
        Ok((y, arg, Shape::from((n, c, p.oh, p.ow))))
    }
}

impl CustomOp1 for MaxPool {
    fn name(&self) -> &'static str {
        "alexnet-lab-cuda-max-pool2d"
    }

    fn cpu_fwd(&self, _: &CpuStorage, _: &Layout) -> Result<(CpuStorage, Shape)> {
        not_on_cpu(self.name())
    }

    fn cuda_fwd(&self, st: &CudaStorage, l: &Layout) -> Result<(CudaStorage, Shape)> {
        let (y, arg, shape) = self.run(st, l)?;
        if self.keep {
            if let Ok(mut slot) = self.argmax.lock() {
                *slot = Some(arg);
            }
        }
        Ok((wrap(y, st.device()), shape))
    }

    fn bwd(&self, x: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let kept = self.argmax.lock().ok().and_then(|mut slot| slot.take());
        let argmax = match kept {
            Some(a) => a,
            None => {
                // Not kept (an evaluation-mode forward): the windows are scanned again.
                let again = MaxPool { k: self.k, s: self.s, keep: true, argmax: Mutex::new(None) };
                x.apply_op1_no_bwd(&again)?;
                again.argmax.lock().ok().and_then(|mut slot| slot.take()).ok_or_else(|| candle_core::Error::Msg("max_pool2d: no arg-max".into()))?
            }
        };
        let gather = PoolGather { k: self.k, s: self.s, in_dims: x.dims().to_vec(), argmax };
        Ok(Some(grad.contiguous()?.apply_op1_no_bwd(&gather)?))
    }
}

/// `grad_output -> grad_input` of [`MaxPool`].
struct PoolGather {
    k: usize,
    s: usize,
    in_dims: Vec<usize>,
    argmax: CudaSlice<i32>,
}

impl CustomOp1 for PoolGather {
    fn name(&self) -> &'static str {
        "alexnet-lab-cuda-max-pool2d-bwd"
    }

    fn cpu_fwd(&self, _: &CpuStorage, _: &Layout) -> Result<(CpuStorage, Shape)> {
        not_on_cpu(self.name())
    }

    fn cuda_fwd(&self, st: &CudaStorage, l: &Layout) -> Result<(CudaStorage, Shape)> {
        let in_shape = Shape::from(self.in_dims.clone());
        let (p, _) = Pool::of(&Layout::contiguous(in_shape.clone()), self.k, self.s)?;
        if l.shape().elem_count() != p.planes * p.oh * p.ow || self.argmax.len() != p.planes * p.oh * p.ow {
            candle_core::bail!("max_pool2d backward: gradient {:?} does not match the input {:?}", l.shape().dims(), self.in_dims);
        }
        let dev = st.device();
        let g = view(st, l, "the max-pool's gradient")?;
        let ins = p.planes * p.h * p.w;
        // SAFETY: every element is written by the kernel.
        let dx = unsafe { dev.alloc::<f32>(ins)? };
        let func = dev.get_or_load_custom_func("lab_max_pool_bwd", MODULE, PTX)?;
        let a = p.args()?;
        let mut b = func.builder();
        b.arg(&g).arg(&self.argmax).arg(&dx);
        for v in &a {
            b.arg(v);
        }
        // SAFETY: reads the gradient and arg-max of `planes*oh*ow` outputs, writes `ins` values.
        unsafe { b.launch(grid(ins)) }.w()?;
        Ok((wrap(dx, dev), in_shape))
    }
}

/// Max-pooling over `kernel x kernel` windows moved by `stride` on a CUDA device, with a backward
/// (the arg-max kept when `train`); the first maximum of a window wins, as on the CPU.
pub fn max_pool2d(x: &Tensor, kernel: usize, stride: usize, train: bool) -> Result<Tensor> {
    check_f32(x, "the max-pool's input")?;
    x.contiguous()?.apply_op1(MaxPool { k: kernel, s: stride, keep: train, argmax: Mutex::new(None) })
}

// ---- dropout -------------------------------------------------------------------------------

struct DropoutMask {
    seed: u64,
    p: f32,
}

impl CustomOp1 for DropoutMask {
    fn name(&self) -> &'static str {
        "alexnet-lab-cuda-dropout-mask"
    }

    fn cpu_fwd(&self, _: &CpuStorage, _: &Layout) -> Result<(CpuStorage, Shape)> {
        not_on_cpu(self.name())
    }

    fn cuda_fwd(&self, st: &CudaStorage, l: &Layout) -> Result<(CudaStorage, Shape)> {
        let dev = st.device();
        let n = l.shape().elem_count();
        // SAFETY: every element is written by the kernel.
        let mask = unsafe { dev.alloc::<f32>(n)? };
        let [k0, k1] = crate::kernels::philox::key_of(self.seed);
        let (thr, scale, n64) = (crate::kernels::philox::keep_threshold(self.p), 1.0 / (1.0 - self.p), n as u64);
        let func = dev.get_or_load_custom_func("lab_dropout_mask", MODULE, PTX)?;
        let mut b = func.builder();
        b.arg(&mask).arg(&n64).arg(&k0).arg(&k1).arg(&thr).arg(&scale);
        // SAFETY: writes `n` values, one thread per block of 4.
        unsafe { b.launch(grid(n.div_ceil(4))) }.w()?;
        Ok((wrap(mask, dev), l.shape().clone()))
    }
}

/// Inverted dropout's mask for `xs` (same shape), drawn on the device: element `e` is
/// `1 / (1 - p)` when [`crate::kernels::philox::kept`]`(seed, p, e)`, else 0, bit for bit the
/// CPU's [`crate::kernels::philox::dropout_mask`]. No gradient flows into the mask.
pub fn dropout_mask(xs: &Tensor, p: f32, seed: u64) -> Result<Tensor> {
    check_f32(xs, "dropout's input")?;
    xs.apply_op1_no_bwd(&DropoutMask { seed, p })
}

// ---- convolution ---------------------------------------------------------------------------

struct Conv {
    stride: usize,
    pad: usize,
    relu: bool,
}

fn geom(x: &Layout, w: &Layout, stride: usize, pad: usize) -> Result<Geom> {
    let (n, c, h, wd) = x.shape().dims4()?;
    let (o, c2, k, k2) = w.shape().dims4()?;
    if c != c2 || k != k2 {
        candle_core::bail!("conv2d: input {:?} and weight {:?} do not fit (channels, square kernel)", x.shape().dims(), w.shape().dims());
    }
    if h + 2 * pad < k || wd + 2 * pad < k || stride == 0 {
        candle_core::bail!("conv2d: padded input {}x{} is smaller than the {k}x{k} kernel (or stride 0)", h + 2 * pad, wd + 2 * pad);
    }
    Ok(Geom { n, c, h, w: wd, o, k, stride, pad })
}

impl CustomOp3 for Conv {
    fn name(&self) -> &'static str {
        "alexnet-lab-cudnn-conv2d"
    }

    fn cpu_fwd(&self, _: &CpuStorage, _: &Layout, _: &CpuStorage, _: &Layout, _: &CpuStorage, _: &Layout) -> Result<(CpuStorage, Shape)> {
        not_on_cpu(self.name())
    }

    fn cuda_fwd(&self, xs: &CudaStorage, xl: &Layout, ws: &CudaStorage, wl: &Layout, bs: &CudaStorage, bl: &Layout) -> Result<(CudaStorage, Shape)> {
        let g = geom(xl, wl, self.stride, self.pad)?;
        if bl.shape().elem_count() != g.o {
            candle_core::bail!("conv2d: bias {:?} for {} filters", bl.shape().dims(), g.o);
        }
        let dev = xs.device();
        let (x, w, bias) = (view(xs, xl, "the input")?, view(ws, wl, "the weight")?, view(bs, bl, "the bias")?);
        let total = g.out_len();
        // SAFETY: cuDNN writes every element (beta = 0).
        let mut y = unsafe { dev.alloc::<f32>(total)? };
        cudnn::forward(dev, &g, &x, &w, &mut y)?;
        let (oh, ow) = g.out_hw();
        let (total64, channels, hw, relu) = (total as i64, int(g.o, "filters")?, int(oh * ow, "output plane")?, i32::from(self.relu));
        let func = dev.get_or_load_custom_func("lab_bias_relu", MODULE, PTX)?;
        let mut b = func.builder();
        b.arg(&y).arg(&bias).arg(&total64).arg(&channels).arg(&hw).arg(&relu);
        // SAFETY: in place over the `total` outputs; `bias` holds `o` values.
        unsafe { b.launch(grid(total)) }.w()?;
        Ok((wrap(y, dev), Shape::from((g.n, g.o, oh, ow))))
    }

    fn bwd(&self, x: &Tensor, w: &Tensor, _b: &Tensor, res: &Tensor, grad: &Tensor) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let grad = grad.contiguous()?;
        let dz = if self.relu { grad.apply_op2_no_bwd(res, &ReluGrad)? } else { grad };
        let g = geom(x.layout(), w.layout(), self.stride, self.pad)?;
        let db = dz.sum_keepdim(3)?.sum_keepdim(2)?.sum_keepdim(0)?.flatten_all()?;
        let dw = x.apply_op2_no_bwd(&dz, &ConvGrad { g, weight: true })?;
        // The images need no gradient (conv1): none is computed.
        let dx = if x.track_op() { Some(w.apply_op2_no_bwd(&dz, &ConvGrad { g, weight: false })?) } else { None };
        Ok((dx, Some(dw), Some(db)))
    }
}

/// `(grad, y) -> grad where y > 0`: the ReLU's backward from its output.
struct ReluGrad;

impl CustomOp2 for ReluGrad {
    fn name(&self) -> &'static str {
        "alexnet-lab-cuda-relu-grad"
    }

    fn cpu_fwd(&self, _: &CpuStorage, _: &Layout, _: &CpuStorage, _: &Layout) -> Result<(CpuStorage, Shape)> {
        not_on_cpu(self.name())
    }

    fn cuda_fwd(&self, gs: &CudaStorage, gl: &Layout, ys: &CudaStorage, yl: &Layout) -> Result<(CudaStorage, Shape)> {
        if gl.shape() != yl.shape() {
            candle_core::bail!("relu backward: gradient {:?} and output {:?}", gl.shape().dims(), yl.shape().dims());
        }
        let dev = gs.device();
        let (g, y) = (view(gs, gl, "the gradient")?, view(ys, yl, "the output")?);
        let n = gl.shape().elem_count();
        // SAFETY: every element is written by the kernel.
        let dz = unsafe { dev.alloc::<f32>(n)? };
        let n64 = n as i64;
        let func = dev.get_or_load_custom_func("lab_relu_grad", MODULE, PTX)?;
        let mut b = func.builder();
        b.arg(&g).arg(&y).arg(&dz).arg(&n64);
        // SAFETY: `n` elements each.
        unsafe { b.launch(grid(n)) }.w()?;
        Ok((wrap(dz, dev), gl.shape().clone()))
    }
}

/// cuDNN's gradients of a convolution: `(x, dy) -> dw` (`weight`) or `(w, dy) -> dx`.
struct ConvGrad {
    g: Geom,
    weight: bool,
}

impl CustomOp2 for ConvGrad {
    fn name(&self) -> &'static str {
        if self.weight {
            "alexnet-lab-cudnn-conv2d-grad-weight"
        } else {
            "alexnet-lab-cudnn-conv2d-grad-input"
        }
    }

    fn cpu_fwd(&self, _: &CpuStorage, _: &Layout, _: &CpuStorage, _: &Layout) -> Result<(CpuStorage, Shape)> {
        not_on_cpu(self.name())
    }

    fn cuda_fwd(&self, s1: &CudaStorage, l1: &Layout, ds: &CudaStorage, dl: &Layout) -> Result<(CudaStorage, Shape)> {
        let g = &self.g;
        let dev = s1.device();
        let (a, dy) = (view(s1, l1, "the convolution's operand")?, view(ds, dl, "the output gradient")?);
        if self.weight {
            // SAFETY: cuDNN writes every element (beta = 0).
            let mut dw = unsafe { dev.alloc::<f32>(g.o * g.c * g.k * g.k)? };
            cudnn::backward_filter(dev, g, &a, &dy, &mut dw)?;
            Ok((wrap(dw, dev), Shape::from((g.o, g.c, g.k, g.k))))
        } else {
            // SAFETY: cuDNN writes every element (beta = 0).
            let mut dx = unsafe { dev.alloc::<f32>(g.n * g.c * g.h * g.w)? };
            cudnn::backward_data(dev, g, &a, &dy, &mut dx)?;
            Ok((wrap(dx, dev), Shape::from((g.n, g.c, g.h, g.w))))
        }
    }
}

/// `relu?(conv2d(x, w) + b)` on a CUDA device through cuDNN (see the module docs of
/// [`super`]); `b` has one value per filter.
pub fn conv2d(x: &Tensor, w: &Tensor, b: &Tensor, stride: usize, pad: usize, relu: bool) -> Result<Tensor> {
    for (t, what) in [(x, "the input"), (w, "the weight"), (b, "the bias")] {
        check_f32(t, what)?;
    }
    x.contiguous()?.apply_op3(&w.contiguous()?, &b.contiguous()?, Conv { stride, pad, relu })
}
