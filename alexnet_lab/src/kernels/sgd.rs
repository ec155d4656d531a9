//! SGD's update as in-place CPU ops: one pass over a parameter (and one over its momentum
//! buffer) instead of candle's tensor arithmetic, which allocates a fresh full-size tensor per
//! operation (four 187 MB buffers per step for d2l's AlexNet). Used by `train::optim::Sgd`.

use candle_core::{CpuStorage, InplaceOp2, InplaceOp3, Layout};
use rayon::prelude::*;

use super::cpu::{f32_slice, f32_slice_mut};

/// Chunk of elements per rayon task in the fused updates.
const CHUNK: usize = 1 << 15;

/// `dst = a * dst + b * src`, in place.
pub struct Axpby {
    pub a: f32,
    pub b: f32,
}

impl InplaceOp2 for Axpby {
    fn name(&self) -> &'static str {
        "sgd-axpby"
    }

    fn cpu_fwd(&self, s1: &mut CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> candle_core::Result<()> {
        let src = f32_slice(s2, l2, self.name())?;
        let dst = f32_slice_mut(s1, l1, self.name())?;
        if dst.len() != src.len() {
            candle_core::bail!("{}: {} vs {} elements", self.name(), dst.len(), src.len());
        }
        let (a, b) = (self.a, self.b);
        dst.par_chunks_mut(CHUNK).zip(src.par_chunks(CHUNK)).for_each(|(d, s)| {
            for (d, &s) in d.iter_mut().zip(s) {
                *d = a * *d + b * s;
            }
        });
        Ok(())
    }
}

/// The momentum buffer: `v = momentum * v + g + weight_decay * p`, in place.
pub struct Velocity {
    pub momentum: f32,
    pub weight_decay: f32,
}

impl InplaceOp3 for Velocity {
    fn name(&self) -> &'static str {
        "sgd-velocity"
    }

    fn cpu_fwd(
        &self,
        s1: &mut CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> candle_core::Result<()> {
        let g = f32_slice(s2, l2, self.name())?;
        let p = f32_slice(s3, l3, self.name())?;
        let v = f32_slice_mut(s1, l1, self.name())?;
        if v.len() != g.len() || v.len() != p.len() {
            candle_core::bail!("{}: {} / {} / {} elements", self.name(), v.len(), g.len(), p.len());
        }
        let (m, wd) = (self.momentum, self.weight_decay);
        v.par_chunks_mut(CHUNK).zip(g.par_chunks(CHUNK)).zip(p.par_chunks(CHUNK)).for_each(|((v, g), p)| {
            for ((v, &g), &p) in v.iter_mut().zip(g).zip(p) {
                *v = m * *v + g + wd * p;
            }
        });
        Ok(())
    }
}
