//! Dropout masks from a counter-based generator, Philox4x32-10 (Salmon et al., "Parallel random
//! numbers: as easy as 1, 2, 3", SC 2011; the generator of cuRAND, PyTorch's CUDA dropout and
//! JAX): element `e` of a mask is a pure function of `(key, e)`, so any number of threads, or a
//! GPU, draws the same mask in any order, and a resumed run draws the masks of the uninterrupted
//! one. This is the reference the CUDA dropout kernel (`kernels/cuda/lab.cu`,
//! `lab_dropout_mask`) computes bit for bit; `alexnet-lab gpu-check` compares the two.
//!
//! Element `e` takes word `e % 4` of the block `philox(counter = (e / 4) as two 32-bit words, 0,
//! 0; key = the mask seed's two 32-bit words)`, and is kept when its top 24 bits are at least
//! [`keep_threshold`]`(p)`: a uniform in `[0, 1)` compared with `p` in exact integers, the same
//! on every device.
//!
//! The CPU's dropout (`nn::layer::dropout`) draws its masks here too, so a CPU run and a GPU run
//! of one seed drop the same units.

use rayon::prelude::*;

const M0: u32 = 0xD251_1F53;
const M1: u32 = 0xCD9E_8D57;
const W0: u32 = 0x9E37_79B9;
const W1: u32 = 0xBB67_AE85;

/// One block of Philox4x32 with 10 rounds (Random123's `philox4x32_R(10, ctr, key)`).
///
/// ```
/// use alexnet_lab::kernels::philox::philox4x32_10;
/// // Random123's known-answer vector (tests/kat_vectors).
/// assert_eq!(philox4x32_10([0; 4], [0; 2]), [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]);
/// ```
pub fn philox4x32_10(mut ctr: [u32; 4], mut key: [u32; 2]) -> [u32; 4] {
    for round in 0..10 {
        if round > 0 {
            key = [key[0].wrapping_add(W0), key[1].wrapping_add(W1)];
        }
        let p0 = u64::from(M0) * u64::from(ctr[0]);
        let p1 = u64::from(M1) * u64::from(ctr[2]);
        let (hi0, lo0, hi1, lo1) = ((p0 >> 32) as u32, p0 as u32, (p1 >> 32) as u32, p1 as u32);
        ctr = [hi1 ^ ctr[1] ^ key[0], lo1, hi0 ^ ctr[3] ^ key[1], lo0];
    }
    ctr
}

/// The 24-bit threshold for dropping with probability `p`: an element is kept when its top 24
/// bits are at least this (a uniform `u = bits / 2^24` with `u >= p`).
pub fn keep_threshold(p: f32) -> u32 {
    (f64::from(p) * 16_777_216.0).ceil().clamp(0.0, 16_777_216.0) as u32
}

/// The key of a mask seed: its low and high 32 bits.
pub(crate) fn key_of(seed: u64) -> [u32; 2] {
    [seed as u32, (seed >> 32) as u32]
}

/// Block `b` of the stream of `key`: the words of elements `4b..4b+4`.
fn block(key: [u32; 2], b: u64) -> [u32; 4] {
    philox4x32_10([b as u32, (b >> 32) as u32, 0, 0], key)
}

/// Element `e`'s word of the stream of `key`.
pub fn word(key: [u32; 2], e: usize) -> u32 {
    block(key, (e / 4) as u64).get(e % 4).copied().unwrap_or_default()
}

/// Whether element `e` of the mask of `seed` is kept when dropping with probability `p`.
pub fn kept(seed: u64, p: f32, e: usize) -> bool {
    word(key_of(seed), e) >> 8 >= keep_threshold(p)
}

/// Inverted dropout's mask of `n` elements: `1 / (1 - p)` where kept, 0 where dropped (PyTorch's
/// `nn.Dropout` in train mode), drawn in parallel, block by block.
pub fn dropout_mask(seed: u64, p: f32, n: usize) -> Vec<f32> {
    let (key, thr, scale) = (key_of(seed), keep_threshold(p), 1.0 / (1.0 - p));
    let mut mask = vec![0f32; n];
    mask.par_chunks_mut(4 * 1024).enumerate().for_each(|(chunk, out)| {
        for (b, four) in out.chunks_mut(4).enumerate() {
            for (m, w) in four.iter_mut().zip(block(key, (chunk * 1024 + b) as u64)) {
                *m = if w >> 8 >= thr { scale } else { 0.0 };
            }
        }
    });
    mask
}
