// The lab's own CUDA kernels (f32), compiled to PTX by build.rs with the `cuda` feature and
// checked by `ptxas -arch=sm_90` there. Each has a CPU twin that `alexnet-lab gpu-check`
// compares it with:
// - lab_max_pool_fwd / lab_max_pool_bwd: kernels::pool's op (the arg-max of each window, the
//   first maximum in row-major order; the backward gathers, for each input pixel, the gradients
//   of the windows whose arg-max it is, in window order: the CPU op's sums, bit for bit);
// - lab_dropout_mask: kernels::philox (Philox4x32-10, one thread per block of 4 elements);
// - lab_bias_relu / lab_relu_grad: the convolution's bias and ReLU after cuDNN's forward, and
//   the ReLU's mask in the backward.
#include <stdint.h>

// The per-element bodies are __host__ __device__ so that docs/gpu/kernels_on_host.cu can run them
// on the CPU against plain references; the kernels are grid-stride loops over them.

// Output i of the max-pool: its value and its window's arg-max (index in the plane).
__host__ __device__ inline void lab_max_pool_fwd_at(
    const float* x, float* y, int32_t* arg, long long i, int h, int w, int oh, int ow, int k, int s)
{
    const int ox = (int)(i % ow);
    const int oy = (int)((i / ow) % oh);
    const long long plane = i / ((long long)oh * ow);
    const float* p = x + plane * h * w;
    int best = oy * s * w + ox * s;
    float m = p[best];
    for (int dy = 0; dy < k; ++dy) {
        for (int dx = 0; dx < k; ++dx) {
            const int at = (oy * s + dy) * w + ox * s + dx;
            const float v = p[at];
            // The first maximum wins; NaN propagates (a NaN is taken once seen).
            if (v > m || (v != v && m == m)) {
                m = v;
                best = at;
            }
        }
    }
    y[i] = m;
    if (arg) arg[i] = best;
}

// Input i's gradient: the output gradients of the windows whose arg-max it is, in window order.
__host__ __device__ inline void lab_max_pool_bwd_at(
    const float* g, const int32_t* arg, float* dx, long long i, int h, int w, int oh, int ow, int k, int s)
{
    const int xx = (int)(i % w);
    const int yy = (int)((i / w) % h);
    const long long plane = i / ((long long)h * w);
    const int at = yy * w + xx;
    // Windows oy with oy*s <= yy < oy*s + k, i.e. oy in [ceil((yy-k+1)/s), yy/s].
    const int oy0 = yy >= k ? (yy - k) / s + 1 : 0;
    const int ox0 = xx >= k ? (xx - k) / s + 1 : 0;
    const int oy1 = yy / s < oh - 1 ? yy / s : oh - 1;
    const int ox1 = xx / s < ow - 1 ? xx / s : ow - 1;
    float acc = 0.0f;
    for (int oy = oy0; oy <= oy1; ++oy) {
        for (int ox = ox0; ox <= ox1; ++ox) {
            const long long o = plane * oh * ow + (long long)oy * ow + ox;
            if (arg[o] == at) acc += g[o];
        }
    }
    dx[i] = acc;
}

extern "C" __global__ void lab_max_pool_fwd(
    const float* __restrict__ x, float* __restrict__ y, int32_t* __restrict__ arg,
    int planes, int h, int w, int oh, int ow, int k, int s)
{
    const long long total = (long long)planes * oh * ow;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total;
         i += (long long)blockDim.x * gridDim.x) {
        lab_max_pool_fwd_at(x, y, arg, i, h, w, oh, ow, k, s);
    }
}

extern "C" __global__ void lab_max_pool_bwd(
    const float* __restrict__ g, const int32_t* __restrict__ arg, float* __restrict__ dx,
    int planes, int h, int w, int oh, int ow, int k, int s)
{
    const long long total = (long long)planes * h * w;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total;
         i += (long long)blockDim.x * gridDim.x) {
        lab_max_pool_bwd_at(g, arg, dx, i, h, w, oh, ow, k, s);
    }
}

// Philox4x32-10 (Random123), as kernels::philox::philox4x32_10.
__host__ __device__ inline uint4 lab_philox(uint4 c, uint2 key) {
    for (int r = 0; r < 10; ++r) {
        if (r > 0) {
            key.x += 0x9E3779B9u;
            key.y += 0xBB67AE85u;
        }
        const unsigned long long p0 = (unsigned long long)0xD2511F53u * c.x;
        const unsigned long long p1 = (unsigned long long)0xCD9E8D57u * c.z;
        const unsigned int hi0 = (unsigned int)(p0 >> 32), lo0 = (unsigned int)p0;
        const unsigned int hi1 = (unsigned int)(p1 >> 32), lo1 = (unsigned int)p1;
        c = make_uint4(hi1 ^ c.y ^ key.x, lo1, hi0 ^ c.w ^ key.y, lo0);
    }
    return c;
}

// Block b of the mask: elements 4b..4b+3 (those below n).
__host__ __device__ inline void lab_dropout_block(
    float* mask, unsigned long long b, unsigned long long n, unsigned int k0, unsigned int k1,
    unsigned int thr, float scale)
{
    const uint4 r = lab_philox(make_uint4((unsigned int)b, (unsigned int)(b >> 32), 0u, 0u), make_uint2(k0, k1));
    const unsigned int words[4] = {r.x, r.y, r.z, r.w};
    for (int j = 0; j < 4; ++j) {
        const unsigned long long e = 4 * b + j;
        if (e < n) mask[e] = (words[j] >> 8) >= thr ? scale : 0.0f;
    }
}

// mask[e] = scale if the top 24 bits of word e % 4 of philox((e / 4, 0, 0), key) >= thr, else 0.
extern "C" __global__ void lab_dropout_mask(
    float* __restrict__ mask, unsigned long long n, unsigned int k0, unsigned int k1,
    unsigned int thr, float scale)
{
    const unsigned long long blocks = (n + 3) / 4;
    for (unsigned long long b = blockIdx.x * (unsigned long long)blockDim.x + threadIdx.x; b < blocks;
         b += (unsigned long long)blockDim.x * gridDim.x) {
        lab_dropout_block(mask, b, n, k0, k1, thr, scale);
    }
}

// y[n, c, :, :] = relu?(y + bias[c]) in place over `total` elements of planes of `hw`.
extern "C" __global__ void lab_bias_relu(
    float* __restrict__ y, const float* __restrict__ bias, long long total, int channels, int hw, int relu)
{
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total;
         i += (long long)blockDim.x * gridDim.x) {
        const int c = (int)((i / hw) % channels);
        const float v = y[i] + bias[c];
        y[i] = relu ? fmaxf(v, 0.0f) : v;
    }
}

// dz = g where y > 0, else 0 (the ReLU's backward from its output).
extern "C" __global__ void lab_relu_grad(
    const float* __restrict__ g, const float* __restrict__ y, float* __restrict__ dz, long long total)
{
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total;
         i += (long long)blockDim.x * gridDim.x) {
        dz[i] = y[i] > 0.0f ? g[i] : 0.0f;
    }
}
