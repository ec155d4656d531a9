//! Seeds derived from seeds: one function, so that the data loader's shuffles and augmentations
//! and the network's dropout masks are all reproducible from a run's one seed.

/// splitmix64 of a combination: distinct, well-spread seeds per (seed, a, b), e.g. (seed,
/// epoch, example) for the loader or (seed, step, layer) for dropout.
pub fn mix(seed: u64, a: u64, b: u64) -> u64 {
    let mut z = seed ^ a.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ b.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
