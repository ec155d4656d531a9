// The per-element bodies of alexnet_lab/src/kernels/cuda/lab.cu, run on the CPU (they are
// __host__ __device__) against plain references: Random123's Philox4x32-10 known answers, the
// mask's first words for a seed also printed by the Rust twin (kernels::philox), the max-pool's
// forward (first maximum, NaN) and its backward gather against the CPU op's scatter in window
// order, bit for bit. No GPU needed; the CUDA toolkit's nvcc builds it:
//   nvcc -std=c++17 -o /tmp/kernels_on_host docs/gpu/kernels_on_host.cu && /tmp/kernels_on_host
#include <cstdio>
#include <cstring>
#include <cstdint>
#include <cmath>
#include <vector>
#include "../../alexnet_lab/src/kernels/cuda/lab.cu"

static int failures = 0;
#define CHECK(c, ...) do { if (!(c)) { ++failures; std::printf("FAIL: " __VA_ARGS__); std::printf("\n"); } } while (0)

static uint64_t lcg(uint64_t& s) { s = s * 6364136223846793005ull + 1442695040888963407ull; return s >> 33; }

int main() {
    // Philox known answers (Random123 tests/kat_vectors).
    uint4 a = lab_philox(make_uint4(0, 0, 0, 0), make_uint2(0, 0));
    CHECK(a.x == 0x6627e8d5u && a.y == 0xe169c58du && a.z == 0xbc57ac4cu && a.w == 0x9b00dbd8u, "philox zeros");
    uint4 b = lab_philox(make_uint4(~0u, ~0u, ~0u, ~0u), make_uint2(~0u, ~0u));
    CHECK(b.x == 0x408f276du && b.y == 0x41c83b0eu && b.z == 0xa20bc7c6u && b.w == 0x6d5451fdu, "philox ones");
    uint4 c = lab_philox(make_uint4(0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u), make_uint2(0xa4093822u, 0x299f31d0u));
    CHECK(c.x == 0xd16cfe09u && c.y == 0x94fdccebu && c.z == 0x5001e420u && c.w == 0x24126ea1u, "philox pi");

    // A mask of 10 elements, p = 0.5, seed 0x0123456789abcdef: printed for comparison with
    // kernels::philox::dropout_mask (alexnet_lab/tests/gpu_path.rs pins the same string).
    std::vector<float> mask(10, -1.0f);
    for (unsigned long long blk = 0; blk < 3; ++blk) lab_dropout_block(mask.data(), blk, 10, 0x89abcdefu, 0x01234567u, 1u << 23, 2.0f);
    std::printf("mask(seed 0x0123456789abcdef, p 0.5, n 10) = ");
    for (float m : mask) std::printf("%d", m > 0 ? 1 : 0);
    std::printf("\n");
    for (float m : mask) CHECK(m == 0.0f || m == 2.0f, "mask value %f", m);

    // Max-pool forward and backward on planes with ties and a NaN, several geometries.
    const int geoms[][4] = {{13, 17, 3, 2}, {12, 12, 2, 2}, {26, 26, 3, 2}, {7, 9, 3, 1}};
    uint64_t seed = 7;
    for (auto& gm : geoms) {
        const int h = gm[0], w = gm[1], k = gm[2], s = gm[3], planes = 3;
        const int oh = (h - k) / s + 1, ow = (w - k) / s + 1;
        std::vector<float> x((size_t)planes * h * w), g((size_t)planes * oh * ow);
        for (auto& v : x) v = (float)(lcg(seed) % 3);  // many ties
        x[5] = NAN;
        for (auto& v : g) v = (float)((int)(lcg(seed) % 2001) - 1000) / 997.0f;
        std::vector<float> y(g.size()), dx(x.size());
        std::vector<int32_t> arg(g.size());
        for (long long i = 0; i < (long long)y.size(); ++i) lab_max_pool_fwd_at(x.data(), y.data(), arg.data(), i, h, w, oh, ow, k, s);
        for (long long i = 0; i < (long long)dx.size(); ++i) lab_max_pool_bwd_at(g.data(), arg.data(), dx.data(), i, h, w, oh, ow, k, s);
        // References: the CPU op's rule (first maximum in row-major order, NaN wins) and its
        // backward (each output's gradient added to its arg-max, outputs in row-major order).
        std::vector<float> want_dx(x.size(), 0.0f);
        for (int p = 0; p < planes; ++p)
            for (int oy = 0; oy < oh; ++oy)
                for (int ox = 0; ox < ow; ++ox) {
                    const float* pl = x.data() + (size_t)p * h * w;
                    int best = oy * s * w + ox * s;
                    float m = pl[best];
                    for (int dy = 0; dy < k; ++dy)
                        for (int dx2 = 0; dx2 < k; ++dx2) {
                            int at = (oy * s + dy) * w + ox * s + dx2;
                            if (pl[at] > m || (std::isnan(pl[at]) && !std::isnan(m))) { m = pl[at]; best = at; }
                        }
                    const size_t o = ((size_t)p * oh + oy) * ow + ox;
                    CHECK(arg[o] == best, "arg-max %dx%d k%d s%d output %zu: %d vs %d", h, w, k, s, o, arg[o], best);
                    CHECK(std::memcmp(&y[o], &m, 4) == 0, "max %dx%d output %zu", h, w, o);
                    want_dx[(size_t)p * h * w + best] += g[o];
                }
        CHECK(std::memcmp(dx.data(), want_dx.data(), dx.size() * 4) == 0, "backward %dx%d k%d s%d not bit-equal to the scatter", h, w, k, s);
    }
    std::printf(failures ? "%d FAILED\n" : "all kernel bodies agree with their references\n", failures);
    return failures ? 1 : 0;
}
