/* kernels.cu - the CUDA kernels of cu_ops.h other than attention (attention.cu),
 * and the error helpers of cu_common.h.
 *
 * Conventions of this file:
 *   - Every kernel is deterministic: no atomics; every sum is taken in an order
 *     fixed by the input sizes alone (per-thread partial sums over a fixed set
 *     of elements, then warp shuffles and a shared-memory pass in warp order,
 *     or per-block partials in scratch reduced by a second pass in block order).
 *   - Row-wise kernels run one block per row. A thread visits groups of four
 *     consecutive elements (group starts 4*threadIdx.x, then every
 *     4*blockDim.x); when the rows are aligned a group is one 16-byte (float) or
 *     8-byte (bf16) access, otherwise four scalar ones. The visiting order is the
 *     same either way, so alignment never changes a result.
 *   - Element-wise kernels use grid-stride loops over size_t indices.
 *   - Where the CPU reference (core/ops_cpu.c, core/optim.c, core/sample.c)
 *     evaluates an expression of products and sums, the kernels spell it with
 *     __fmul_rn / __fadd_rn so that nvcc does not contract it into an FMA: the
 *     per-element arithmetic then rounds as the reference's does.
 *   - Launchers return without launching on empty inputs; every launch is
 *     followed by CU_LAUNCHED. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cu_ops.h"

/* ---- error helpers (cu_common.h) ------------------------------------------ */

extern "C" void r1_cu_fail(const char *what, const char *msg, const char *file, int line) {
    fprintf(stderr, "r1c: CUDA error in %s (%s:%d): %s\n", what, file, line, msg);
    fflush(stderr);
    exit(70);
}

extern "C" void r1_cu_launched(const char *kernel, const char *file, int line) {
    char what[256];
    cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) {
        snprintf(what, sizeof what, "launch of %s", kernel);
        r1_cu_fail(what, cudaGetErrorString(e), file, line);
    }
    /* Read each time (no cached state shared between host threads). */
    const char *sync = getenv("R1_CUDA_SYNC");
    if (sync && strcmp(sync, "1") == 0) {
        e = cudaDeviceSynchronize();
        if (e != cudaSuccess) {
            snprintf(what, sizeof what, "%s (synchronized)", kernel);
            r1_cu_fail(what, cudaGetErrorString(e), file, line);
        }
    }
}

/* ---- launch shapes ----------------------------------------------------------- */

#define FULL_MASK        0xffffffffu
#define EW_THREADS       256   /* element-wise kernels */
#define EW_MAX_BLOCKS    32768 /* grid-stride loops cover the rest */
#define SUMSQ_THREADS    256   /* cu_sumsq: threads per block, both passes */
#define SUMSQ_MAX_BLOCKS 1024  /* cu_sumsq: partial sums (scratch doubles) */
#define ROW_MAX_THREADS  512   /* row-wise kernels (rmsnorm, head statistics) */
#define RMS_DW_ROWS      128   /* rows per dw partial sum of cu_rmsnorm_bwd */
#define RMS_DW_TY        8     /* thread rows of the dw partial kernel (x 32 columns) */
#define BIAS_TY          32    /* thread rows of the bias gradient kernel (x 32 columns) */
#define COPY_THREADS     256   /* per-row copies, embedding, RoPE */
#define SAMPLE_THREADS   1024  /* cu_sample: threads per row */

/* Blocks of `threads` for `units` work items of a grid-stride loop. */
static unsigned ew_grid(size_t units, int threads) {
    size_t b = (units + (size_t)threads - 1) / (size_t)threads;
    if (b > EW_MAX_BLOCKS) b = EW_MAX_BLOCKS;
    return (unsigned)(b ? b : 1);
}

/* Threads for one block per row of n elements (groups of 4): a power of two
 * from 32 to ROW_MAX_THREADS, giving each thread about two groups or more. */
static int row_threads(int n) {
    int t = 32;
    while (t < ROW_MAX_THREADS && (long)t * 8 < (long)n) t *= 2;
    return t;
}

static int aligned(const void *p, size_t a) {
    return ((uintptr_t)p & (a - 1)) == 0;
}

/* ---- device helpers ------------------------------------------------------------ */

/* Kernels and device helpers have internal linkage (this anonymous namespace,
 * `static` below), so their names cannot clash with other CUDA sources'. */
namespace {

/* Loads/stores a group of c <= 4 consecutive elements at p; `vec` (only taken
 * when c == 4) means p is aligned for one vector access. Elements past c read
 * as 0 and are not stored. */
__device__ __forceinline__ void ldf4(const float *p, int c, bool vec, float o[4]) {
    if (vec && c == 4) {
        const float4 q = *reinterpret_cast<const float4 *>(p);
        o[0] = q.x, o[1] = q.y, o[2] = q.z, o[3] = q.w;
        return;
    }
#pragma unroll
    for (int k = 0; k < 4; k++) o[k] = k < c ? p[k] : 0.0f;
}

__device__ __forceinline__ void ldb4(const bf16 *p, int c, bool vec, float o[4]) {
    if (vec && c == 4) {
        const uint2 q = *reinterpret_cast<const uint2 *>(p);
        o[0] = __uint_as_float(q.x << 16), o[1] = __uint_as_float(q.x & 0xffff0000u);
        o[2] = __uint_as_float(q.y << 16), o[3] = __uint_as_float(q.y & 0xffff0000u);
        return;
    }
#pragma unroll
    for (int k = 0; k < 4; k++) o[k] = k < c ? __bfloat162float(p[k]) : 0.0f;
}

__device__ __forceinline__ void stf4(float *p, int c, bool vec, const float o[4]) {
    if (vec && c == 4) {
        *reinterpret_cast<float4 *>(p) = make_float4(o[0], o[1], o[2], o[3]);
        return;
    }
#pragma unroll
    for (int k = 0; k < 4; k++)
        if (k < c) p[k] = o[k];
}

__device__ __forceinline__ unsigned bf16_bits(float x) {
    return (unsigned)__bfloat16_as_ushort(__float2bfloat16_rn(x));
}

__device__ __forceinline__ void stb4(bf16 *p, int c, bool vec, const float o[4]) {
    if (vec && c == 4) {
        uint2 q;
        q.x = bf16_bits(o[0]) | (bf16_bits(o[1]) << 16);
        q.y = bf16_bits(o[2]) | (bf16_bits(o[3]) << 16);
        *reinterpret_cast<uint2 *>(p) = q;
        return;
    }
#pragma unroll
    for (int k = 0; k < 4; k++)
        if (k < c) p[k] = __float2bfloat16_rn(o[k]);
}

struct OpSum {
    template <typename T> __device__ __forceinline__ T operator()(T a, T b) const { return a + b; }
};
struct OpMaxF {
    __device__ __forceinline__ float operator()(float a, float b) const { return fmaxf(a, b); }
};
struct OpMinI {
    __device__ __forceinline__ int operator()(int a, int b) const { return min(a, b); }
};
struct OpMaxI {
    __device__ __forceinline__ int operator()(int a, int b) const { return max(a, b); }
};

/* Butterfly over the warp: op is commutative, so every lane ends with the same
 * bits. */
template <typename T, typename Op> __device__ __forceinline__ T warp_reduce(T v, Op op) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = op(v, __shfl_xor_sync(FULL_MASK, v, o));
    return v;
}

/* Reduction over the block (blockDim.x a multiple of 32, at most 1024); every
 * thread returns the result. Must be reached by all threads of the block. Warp
 * results go to shared memory in warp order and each warp reduces them the same
 * way. The leading barrier protects the array from the previous call. */
template <typename T, typename Op> __device__ T block_reduce(T v, T identity, Op op) {
    __shared__ T sh[32];
    const int lane = threadIdx.x & 31, wid = threadIdx.x >> 5, nw = blockDim.x >> 5;
    v = warp_reduce(v, op);
    __syncthreads();
    if (lane == 0) sh[wid] = v;
    __syncthreads();
    v = lane < nw ? sh[lane] : identity;
    return warp_reduce(v, op);
}

__device__ __forceinline__ float block_sum(float v) {
    return block_reduce(v, 0.0f, OpSum());
}
__device__ __forceinline__ double block_sum(double v) {
    return block_reduce(v, 0.0, OpSum());
}

} // namespace

/* ---- conversions and small helpers ------------------------------------------- */

/* dst = bf16(src); grid-stride over groups of 4 elements. */
static __global__ void f32_to_bf16_kernel(bf16 *dst, const float *src, size_t n, bool vec) {
    const size_t ng = (n + 3) / 4, stride = (size_t)gridDim.x * blockDim.x;
    for (size_t q = (size_t)blockIdx.x * blockDim.x + threadIdx.x; q < ng; q += stride) {
        const size_t j = 4 * q;
        const int c = n - j < 4 ? (int)(n - j) : 4;
        float v[4];
        ldf4(src + j, c, vec, v);
        stb4(dst + j, c, vec, v);
    }
}

extern "C" void cu_f32_to_bf16(bf16 *dst, const float *src, size_t n, cudaStream_t st) {
    if (n == 0) return;
    const bool vec = aligned(src, 16) && aligned(dst, 8);
    f32_to_bf16_kernel<<<ew_grid((n + 3) / 4, EW_THREADS), EW_THREADS, 0, st>>>(dst, src, n, vec);
    CU_LAUNCHED("f32_to_bf16_kernel");
}

/* dst = float(src); grid-stride over groups of 4 elements. */
static __global__ void bf16_to_f32_kernel(float *dst, const bf16 *src, size_t n, bool vec) {
    const size_t ng = (n + 3) / 4, stride = (size_t)gridDim.x * blockDim.x;
    for (size_t q = (size_t)blockIdx.x * blockDim.x + threadIdx.x; q < ng; q += stride) {
        const size_t j = 4 * q;
        const int c = n - j < 4 ? (int)(n - j) : 4;
        float v[4];
        ldb4(src + j, c, vec, v);
        stf4(dst + j, c, vec, v);
    }
}

extern "C" void cu_bf16_to_f32(float *dst, const bf16 *src, size_t n, cudaStream_t st) {
    if (n == 0) return;
    const bool vec = aligned(src, 8) && aligned(dst, 16);
    bf16_to_f32_kernel<<<ew_grid((n + 3) / 4, EW_THREADS), EW_THREADS, 0, st>>>(dst, src, n, vec);
    CU_LAUNCHED("bf16_to_f32_kernel");
}

/* x *= s; grid-stride over groups of 4 elements. */
static __global__ void scale_kernel(float *x, size_t n, float s, bool vec) {
    const size_t ng = (n + 3) / 4, stride = (size_t)gridDim.x * blockDim.x;
    for (size_t q = (size_t)blockIdx.x * blockDim.x + threadIdx.x; q < ng; q += stride) {
        const size_t j = 4 * q;
        const int c = n - j < 4 ? (int)(n - j) : 4;
        float v[4];
        ldf4(x + j, c, vec, v);
#pragma unroll
        for (int k = 0; k < 4; k++) v[k] *= s;
        stf4(x + j, c, vec, v);
    }
}

extern "C" void cu_scale(float *x, size_t n, float s, cudaStream_t st) {
    if (n == 0) return;
    scale_kernel<<<ew_grid((n + 3) / 4, EW_THREADS), EW_THREADS, 0, st>>>(x, n, s, aligned(x, 16));
    CU_LAUNCHED("scale_kernel");
}

/* Sum of squares, pass 1: block b's threads add x[i]^2 (double) over a
 * grid-stride loop; the block's sum goes to scratch[b]. The grid size is a
 * function of n only. */
static __global__ void sumsq_partial_kernel(double *scratch, const float *x, size_t n) {
    const size_t stride = (size_t)gridDim.x * blockDim.x;
    double s = 0.0;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        const double v = (double)x[i];
        s += v * v;
    }
    s = block_sum(s);
    if (threadIdx.x == 0) scratch[blockIdx.x] = s;
}

/* Sum of squares, pass 2: one block adds the nb partial sums (thread k takes
 * k, k + blockDim.x, ...; then the block reduction) into *out. */
static __global__ void sumsq_final_kernel(double *out, const double *scratch, int nb) {
    double s = 0.0;
    for (int k = threadIdx.x; k < nb; k += blockDim.x) s += scratch[k];
    s = block_sum(s);
    if (threadIdx.x == 0) *out = s;
}

static int sumsq_blocks(size_t n) {
    size_t b = (n + SUMSQ_THREADS - 1) / SUMSQ_THREADS;
    return (int)(b > SUMSQ_MAX_BLOCKS ? SUMSQ_MAX_BLOCKS : b);
}

extern "C" size_t cu_sumsq_scratch(size_t n) {
    return (size_t)sumsq_blocks(n);
}

extern "C" void cu_sumsq(double *out, const float *x, size_t n, double *scratch, cudaStream_t st) {
    if (n == 0) { /* the empty sum: no launch, just the zero */
        CU_CHECK(cudaMemsetAsync(out, 0, sizeof(double), st));
        return;
    }
    const int nb = sumsq_blocks(n);
    sumsq_partial_kernel<<<nb, SUMSQ_THREADS, 0, st>>>(scratch, x, n);
    CU_LAUNCHED("sumsq_partial_kernel");
    sumsq_final_kernel<<<1, SUMSQ_THREADS, 0, st>>>(out, scratch, nb);
    CU_LAUNCHED("sumsq_final_kernel");
}

/* dst[i, :] = src[rows[i], :] (bf16); one block per row i, threads over
 * columns, 16-byte copies (8 elements) when C % 8 == 0 and aligned. */
static __global__ void gather_rows_bf16_kernel(bf16 *dst, const bf16 *src, const int *rows, int C,
                                               bool vec) {
    const size_t i = blockIdx.x;
    const bf16 *s = src + (size_t)rows[i] * C;
    bf16 *d = dst + i * C;
    if (vec) {
        const uint4 *s8 = reinterpret_cast<const uint4 *>(s);
        uint4 *d8 = reinterpret_cast<uint4 *>(d);
        for (int k = threadIdx.x; k < C / 8; k += blockDim.x) d8[k] = s8[k];
    } else {
        for (int k = threadIdx.x; k < C; k += blockDim.x) d[k] = s[k];
    }
}

extern "C" void cu_gather_rows_bf16(bf16 *dst, const bf16 *src, const int *rows, int n, int C,
                                    cudaStream_t st) {
    if (n <= 0 || C <= 0) return;
    const bool vec = C % 8 == 0 && aligned(src, 16) && aligned(dst, 16);
    gather_rows_bf16_kernel<<<n, COPY_THREADS, 0, st>>>(dst, src, rows, C, vec);
    CU_LAUNCHED("gather_rows_bf16_kernel");
}

/* dst[rows[i], :] = src[i, :] (float32); one block per row i, threads over
 * columns, float4 copies when C % 4 == 0 and aligned. */
static __global__ void scatter_rows_kernel(float *dst, const float *src, const int *rows, int C,
                                           bool vec) {
    const size_t i = blockIdx.x;
    const float *s = src + i * C;
    float *d = dst + (size_t)rows[i] * C;
    if (vec) {
        const float4 *s4 = reinterpret_cast<const float4 *>(s);
        float4 *d4 = reinterpret_cast<float4 *>(d);
        for (int k = threadIdx.x; k < C / 4; k += blockDim.x) d4[k] = s4[k];
    } else {
        for (int k = threadIdx.x; k < C; k += blockDim.x) d[k] = s[k];
    }
}

extern "C" void cu_scatter_rows(float *dst, const float *src, const int *rows, int n, int C,
                                cudaStream_t st) {
    if (n <= 0 || C <= 0) return;
    const bool vec = C % 4 == 0 && aligned(src, 16) && aligned(dst, 16);
    scatter_rows_kernel<<<n, COPY_THREADS, 0, st>>>(dst, src, rows, C, vec);
    CU_LAUNCHED("scatter_rows_kernel");
}

/* out[t, j] += bias[j]; grid-stride over the T * OC elements. */
static __global__ void add_bias_kernel(float *out, const bf16 *bias, size_t total, int OC) {
    const size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t e = (size_t)blockIdx.x * blockDim.x + threadIdx.x; e < total; e += stride)
        out[e] += __bfloat162float(bias[e % (size_t)OC]);
}

extern "C" void cu_add_bias(float *out, const bf16 *bias, int T, int OC, cudaStream_t st) {
    if (T <= 0 || OC <= 0) return;
    const size_t total = (size_t)T * OC;
    add_bias_kernel<<<ew_grid(total, EW_THREADS), EW_THREADS, 0, st>>>(out, bias, total, OC);
    CU_LAUNCHED("add_bias_kernel");
}

/* dbias[j] += sum_t dout[t, j]. Block (32, BIAS_TY) per tile of 32 columns:
 * thread (x, y) adds rows y, y + BIAS_TY, ... of column x in order (coalesced
 * across x), then row y == 0 adds the BIAS_TY partials in y order. */
static __global__ void bias_bwd_kernel(float *dbias, const bf16 *dout, int T, int OC) {
    __shared__ float part[BIAS_TY][33];
    const int j = blockIdx.x * 32 + threadIdx.x;
    float s = 0.0f;
    if (j < OC)
        for (int t = threadIdx.y; t < T; t += BIAS_TY)
            s += __bfloat162float(dout[(size_t)t * OC + j]);
    part[threadIdx.y][threadIdx.x] = s;
    __syncthreads();
    if (threadIdx.y == 0 && j < OC) {
        float a = 0.0f;
        for (int y = 0; y < BIAS_TY; y++) a += part[y][threadIdx.x];
        dbias[j] += a;
    }
}

extern "C" void cu_bias_bwd(float *dbias, const bf16 *dout, int T, int OC, cudaStream_t st) {
    if (T <= 0 || OC <= 0) return;
    bias_bwd_kernel<<<(OC + 31) / 32, dim3(32, BIAS_TY), 0, st>>>(dbias, dout, T, OC);
    CU_LAUNCHED("bias_bwd_kernel");
}

/* ---- embedding ------------------------------------------------------------------ */

/* out[t, :] = float(wte[ids[t], :]); one block per token t, threads over groups
 * of 4 channels. */
static __global__ void embedding_fwd_kernel(float *out, const int *ids, const bf16 *wte, int C,
                                            bool vec) {
    const size_t t = blockIdx.x;
    const bf16 *w = wte + (size_t)ids[t] * C;
    float *o = out + t * C;
    for (int j = 4 * threadIdx.x; j < C; j += 4 * blockDim.x) {
        const int c = min(4, C - j);
        float v[4];
        ldb4(w + j, c, vec, v);
        stf4(o + j, c, vec, v);
    }
}

extern "C" void cu_embedding_fwd(float *out, const int *ids, const bf16 *wte, int T, int C,
                                 cudaStream_t st) {
    if (T <= 0 || C <= 0) return;
    const bool vec = C % 4 == 0 && aligned(wte, 8) && aligned(out, 16);
    embedding_fwd_kernel<<<T, COPY_THREADS, 0, st>>>(out, ids, wte, C, vec);
    CU_LAUNCHED("embedding_fwd_kernel");
}

/* dwte[uniq[u], c] += sum of dout[order[k], c] for k in [ustart[u], ustart[u+1])
 * in k order; one block per distinct token u, threads over channels. Distinct
 * tokens own distinct rows of dwte, so no two blocks write the same place. */
static __global__ void embedding_bwd_kernel(float *dwte, const float *dout, const int *order,
                                            const int *uniq, const int *ustart, int C) {
    const int u = blockIdx.x, k0 = ustart[u], k1 = ustart[u + 1];
    float *d = dwte + (size_t)uniq[u] * C;
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
        float s = 0.0f;
        for (int k = k0; k < k1; k++) s += dout[(size_t)order[k] * C + c];
        d[c] += s;
    }
}

extern "C" void cu_embedding_bwd(float *dwte, const float *dout, const int *order, const int *uniq,
                                 const int *ustart, int n_uniq, int C, cudaStream_t st) {
    if (n_uniq <= 0 || C <= 0) return;
    embedding_bwd_kernel<<<n_uniq, COPY_THREADS, 0, st>>>(dwte, dout, order, uniq, ustart, C);
    CU_LAUNCHED("embedding_bwd_kernel");
}

/* ---- RMSNorm ---------------------------------------------------------------------- */

/* One block per row t: ss = sum x^2 (block reduction), r = 1 / sqrt(ss / C +
 * eps), out = bf16(x * r * w), rstd[t] = r. */
static __global__ void rmsnorm_fwd_kernel(bf16 *out, float *rstd, const float *inp, const bf16 *w,
                                          int C, float eps, bool vec) {
    const size_t t = blockIdx.x;
    const float *x = inp + t * C;
    bf16 *o = out + t * C;
    float ss = 0.0f;
    for (int j = 4 * threadIdx.x; j < C; j += 4 * blockDim.x) {
        const int c = min(4, C - j);
        float v[4];
        ldf4(x + j, c, vec, v);
#pragma unroll
        for (int k = 0; k < 4; k++) ss = __fadd_rn(ss, __fmul_rn(v[k], v[k])); /* v[k] = 0 past c */
    }
    ss = block_sum(ss);
    const float r = 1.0f / sqrtf(ss / (float)C + eps);
    for (int j = 4 * threadIdx.x; j < C; j += 4 * blockDim.x) {
        const int c = min(4, C - j);
        float v[4], g[4];
        ldf4(x + j, c, vec, v);
        ldb4(w + j, c, vec, g);
#pragma unroll
        for (int k = 0; k < 4; k++) v[k] = v[k] * r * g[k];
        stb4(o + j, c, vec, v);
    }
    if (threadIdx.x == 0) rstd[t] = r;
}

extern "C" void cu_rmsnorm_fwd(bf16 *out, float *rstd, const float *inp, const bf16 *w, int T,
                               int C, float eps, cudaStream_t st) {
    if (T <= 0 || C <= 0) return;
    const bool vec = C % 4 == 0 && aligned(inp, 16) && aligned(w, 8) && aligned(out, 8);
    rmsnorm_fwd_kernel<<<T, row_threads(C), 0, st>>>(out, rstd, inp, w, C, eps, vec);
    CU_LAUNCHED("rmsnorm_fwd_kernel");
}

/* dinp of op_rmsnorm_bwd, one block per row t:
 *   dot = sum_i w_i g_i x_i (block reduction), c = r^2 dot / C,
 *   dx_i += r (w_i g_i - x_i c). */
static __global__ void rmsnorm_bwd_dinp_kernel(float *dinp, const float *dout, const float *inp,
                                               const bf16 *w, const float *rstd, int C, bool vec) {
    const size_t t = blockIdx.x;
    const float *x = inp + t * C, *g = dout + t * C;
    float *dx = dinp + t * C;
    const float r = rstd[t];
    float dot = 0.0f;
    for (int j = 4 * threadIdx.x; j < C; j += 4 * blockDim.x) {
        const int c = min(4, C - j);
        float xv[4], gv[4], wv[4];
        ldf4(x + j, c, vec, xv);
        ldf4(g + j, c, vec, gv);
        ldb4(w + j, c, vec, wv);
#pragma unroll
        for (int k = 0; k < 4; k++) dot = __fadd_rn(dot, __fmul_rn(__fmul_rn(wv[k], gv[k]), xv[k]));
    }
    dot = block_sum(dot);
    const float cc = __fmul_rn(__fmul_rn(r, r), dot) / (float)C;
    for (int j = 4 * threadIdx.x; j < C; j += 4 * blockDim.x) {
        const int c = min(4, C - j);
        float xv[4], gv[4], wv[4], d[4];
        ldf4(x + j, c, vec, xv);
        ldf4(g + j, c, vec, gv);
        ldb4(w + j, c, vec, wv);
        ldf4(dx + j, c, vec, d);
#pragma unroll
        for (int k = 0; k < 4; k++)
            d[k] = __fadd_rn(
                d[k], __fmul_rn(r, __fsub_rn(__fmul_rn(wv[k], gv[k]), __fmul_rn(xv[k], cc))));
        stf4(dx + j, c, vec, d);
    }
}

/* dw partial sums: block (row block b = blockIdx.x of RMS_DW_ROWS rows, tile of
 * 32 columns = blockIdx.y); thread (x, y) adds g x r over rows y, y + RMS_DW_TY,
 * ... of its row block in order (coalesced across x), then row y == 0 adds the
 * RMS_DW_TY partials in y order into scratch[b, c]. */
static __global__ void rmsnorm_dw_partial_kernel(float *scratch, const float *dout,
                                                 const float *inp, const float *rstd, int T,
                                                 int C) {
    __shared__ float part[RMS_DW_TY][33];
    const int c = blockIdx.y * 32 + threadIdx.x;
    const int t0 = blockIdx.x * RMS_DW_ROWS, t1 = min(T, t0 + RMS_DW_ROWS);
    float s = 0.0f;
    if (c < C)
        for (int t = t0 + threadIdx.y; t < t1; t += RMS_DW_TY) {
            const size_t e = (size_t)t * C + c;
            s = __fadd_rn(s, __fmul_rn(__fmul_rn(dout[e], inp[e]), rstd[t]));
        }
    part[threadIdx.y][threadIdx.x] = s;
    __syncthreads();
    if (threadIdx.y == 0 && c < C) {
        float a = 0.0f;
        for (int y = 0; y < RMS_DW_TY; y++) a += part[y][threadIdx.x];
        scratch[(size_t)blockIdx.x * C + c] = a;
    }
}

/* dw[c] += sum over row blocks b (in order) of scratch[b, c]; a thread per column. */
static __global__ void rmsnorm_dw_reduce_kernel(float *dw, const float *scratch, int nb, int C) {
    const int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    float s = 0.0f;
    for (int b = 0; b < nb; b++) s += scratch[(size_t)b * C + c];
    dw[c] += s;
}

static int rms_dw_blocks(int T) {
    return (T + RMS_DW_ROWS - 1) / RMS_DW_ROWS;
}

extern "C" size_t cu_rmsnorm_bwd_scratch(int T, int C) {
    if (T <= 0 || C <= 0) return 0;
    return (size_t)rms_dw_blocks(T) * (size_t)C;
}

extern "C" void cu_rmsnorm_bwd(float *dinp, float *dw, const float *dout, const float *inp,
                               const bf16 *w, const float *rstd, int T, int C, float *scratch,
                               cudaStream_t st) {
    if (T <= 0 || C <= 0) return;
    const bool vec =
        C % 4 == 0 && aligned(dinp, 16) && aligned(dout, 16) && aligned(inp, 16) && aligned(w, 8);
    rmsnorm_bwd_dinp_kernel<<<T, row_threads(C), 0, st>>>(dinp, dout, inp, w, rstd, C, vec);
    CU_LAUNCHED("rmsnorm_bwd_dinp_kernel");
    const int nb = rms_dw_blocks(T);
    rmsnorm_dw_partial_kernel<<<dim3(nb, (C + 31) / 32), dim3(32, RMS_DW_TY), 0, st>>>(
        scratch, dout, inp, rstd, T, C);
    CU_LAUNCHED("rmsnorm_dw_partial_kernel");
    rmsnorm_dw_reduce_kernel<<<(C + EW_THREADS - 1) / EW_THREADS, EW_THREADS, 0, st>>>(dw, scratch,
                                                                                       nb, C);
    CU_LAUNCHED("rmsnorm_dw_reduce_kernel");
}

/* ---- RoPE -------------------------------------------------------------------------- */

/* One block per row t, threads over the nh * hd/2 pairs (i, i + hd/2) of its
 * heads: (a, b) <- (a cos - b sn, b cos + a sn), sn = sign * sin; sign -1 is
 * the inverse rotation (the backward). */
static __global__ void rope_kernel(float *x, int ld, const int *pos, const float *cos_t,
                                   const float *sin_t, int nh, int hd, float sign) {
    const int half = hd / 2;
    const size_t t = blockIdx.x;
    const float *cs = cos_t + (size_t)pos[t] * half, *sn = sin_t + (size_t)pos[t] * half;
    float *row = x + t * (size_t)ld;
    for (int k = threadIdx.x; k < nh * half; k += blockDim.x) {
        const int h = k / half, i = k - h * half;
        float *a = row + (size_t)h * hd + i, *b = a + half;
        const float x1 = *a, x2 = *b, c = cs[i], s = sign * sn[i];
        *a = __fsub_rn(__fmul_rn(x1, c), __fmul_rn(x2, s));
        *b = __fadd_rn(__fmul_rn(x2, c), __fmul_rn(x1, s));
    }
}

static void rope_launch(float *x, int ld, const int *pos, const float *cos_t, const float *sin_t,
                        int T, int nh, int hd, float sign, cudaStream_t st) {
    if (T <= 0 || nh <= 0 || hd < 2) return;
    rope_kernel<<<T, COPY_THREADS, 0, st>>>(x, ld, pos, cos_t, sin_t, nh, hd, sign);
    CU_LAUNCHED("rope_kernel");
}

extern "C" void cu_rope_fwd(float *x, int ld, const int *pos, const float *cos_t,
                            const float *sin_t, int T, int nh, int hd, cudaStream_t st) {
    rope_launch(x, ld, pos, cos_t, sin_t, T, nh, hd, 1.0f, st);
}

extern "C" void cu_rope_bwd(float *dx, int ld, const int *pos, const float *cos_t,
                            const float *sin_t, int T, int nh, int hd, cudaStream_t st) {
    rope_launch(dx, ld, pos, cos_t, sin_t, T, nh, hd, -1.0f, st);
}

/* ---- SwiGLU ---------------------------------------------------------------------- */

/* out[t, i] = bf16(silu(gate) * up); grid-stride over groups of W consecutive
 * elements of out (W = 4 needs n_ff % 4 == 0, so a group never crosses rows,
 * and aligned pointers). */
template <int W>
static __global__ void swiglu_fwd_kernel(bf16 *out, const bf16 *gu, size_t ng, int n_ff) {
    const size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t q = (size_t)blockIdx.x * blockDim.x + threadIdx.x; q < ng; q += stride) {
        const size_t e = q * W, t = e / (size_t)n_ff, i = e - t * (size_t)n_ff;
        const bf16 *g = gu + 2 * t * (size_t)n_ff + i;
        float gv[4], uv[4], o[4];
        ldb4(g, W, W == 4, gv);
        ldb4(g + n_ff, W, W == 4, uv);
#pragma unroll
        for (int k = 0; k < 4; k++) o[k] = gv[k] / (1.0f + expf(-gv[k])) * uv[k];
        stb4(out + e, W, W == 4, o);
    }
}

extern "C" void cu_swiglu_fwd(bf16 *out, const bf16 *gu, int T, int n_ff, cudaStream_t st) {
    if (T <= 0 || n_ff <= 0) return;
    const size_t total = (size_t)T * n_ff;
    if (n_ff % 4 == 0 && aligned(out, 8) && aligned(gu, 8)) {
        swiglu_fwd_kernel<4>
            <<<ew_grid(total / 4, EW_THREADS), EW_THREADS, 0, st>>>(out, gu, total / 4, n_ff);
    } else {
        swiglu_fwd_kernel<1>
            <<<ew_grid(total, EW_THREADS), EW_THREADS, 0, st>>>(out, gu, total, n_ff);
    }
    CU_LAUNCHED("swiglu_fwd_kernel");
}

/* dgate = d u sg (1 + g (1 - sg)), dup = d silu(g) with sg = sigmoid(g), both
 * written as bf16 (dgu overwritten); groups of W elements as in the forward. */
template <int W>
static __global__ void swiglu_bwd_kernel(bf16 *dgu, const float *dout, const bf16 *gu, size_t ng,
                                         int n_ff) {
    const size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t q = (size_t)blockIdx.x * blockDim.x + threadIdx.x; q < ng; q += stride) {
        const size_t e = q * W, t = e / (size_t)n_ff, i = e - t * (size_t)n_ff;
        const size_t off = 2 * t * (size_t)n_ff + i;
        float gv[4], uv[4], dv[4], dg[4], du[4];
        ldb4(gu + off, W, W == 4, gv);
        ldb4(gu + off + n_ff, W, W == 4, uv);
        ldf4(dout + e, W, W == 4, dv);
#pragma unroll
        for (int k = 0; k < 4; k++) {
            const float sg = 1.0f / (1.0f + expf(-gv[k])), silu = gv[k] * sg;
            dg[k] = __fmul_rn(__fmul_rn(__fmul_rn(dv[k], uv[k]), sg),
                              __fadd_rn(1.0f, __fmul_rn(gv[k], 1.0f - sg)));
            du[k] = dv[k] * silu;
        }
        stb4(dgu + off, W, W == 4, dg);
        stb4(dgu + off + n_ff, W, W == 4, du);
    }
}

extern "C" void cu_swiglu_bwd(bf16 *dgu, const float *dout, const bf16 *gu, int T, int n_ff,
                              cudaStream_t st) {
    if (T <= 0 || n_ff <= 0) return;
    const size_t total = (size_t)T * n_ff;
    if (n_ff % 4 == 0 && aligned(dgu, 8) && aligned(gu, 8) && aligned(dout, 16)) {
        swiglu_bwd_kernel<4>
            <<<ew_grid(total / 4, EW_THREADS), EW_THREADS, 0, st>>>(dgu, dout, gu, total / 4, n_ff);
    } else {
        swiglu_bwd_kernel<1>
            <<<ew_grid(total, EW_THREADS), EW_THREADS, 0, st>>>(dgu, dout, gu, total, n_ff);
    }
    CU_LAUNCHED("swiglu_bwd_kernel");
}

/* ---- output layer in vocabulary chunks -------------------------------------------- */

/* mx = -inf, se = sy = zt = 0 for r < n; a thread per row. */
static __global__ void head_stats_init_kernel(float *mx, float *se, float *sy, float *zt, int n) {
    const int r = blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= n) return;
    mx[r] = -INFINITY;
    se[r] = 0.0f;
    sy[r] = 0.0f;
    zt[r] = 0.0f;
}

extern "C" void cu_head_stats_init(float *mx, float *se, float *sy, float *zt, int n,
                                   cudaStream_t st) {
    if (n <= 0) return;
    head_stats_init_kernel<<<(n + EW_THREADS - 1) / EW_THREADS, EW_THREADS, 0, st>>>(mx, se, sy, zt,
                                                                                     n);
    CU_LAUNCHED("head_stats_init_kernel");
}

/* One block per row r of the chunk, y = s * z:
 *   pass 1: m = max y (block reduction);
 *   pass 2: a = sum exp(y - m), b = sum exp(y - m) y (double, block reductions);
 *   thread 0 merges into the running statistics with M = max(mx, m):
 *   se = se e^(mx - M) + a e^(m - M), sy likewise, mx = M; and takes the
 *   target's raw logit into zt when it lies in [v0, v0 + Vc). */
static __global__ void head_stats_chunk_kernel(float *mx, float *se, float *sy, float *zt,
                                               const float *chunk, int ld, int Vc, int v0,
                                               const int *targets, float s, bool vec) {
    const int r = blockIdx.x;
    const float *row = chunk + (size_t)r * ld;
    float m = -INFINITY;
    for (int j = 4 * threadIdx.x; j < Vc; j += 4 * blockDim.x) {
        const int c = min(4, Vc - j);
        float v[4];
        ldf4(row + j, c, vec, v);
#pragma unroll
        for (int k = 0; k < 4; k++)
            if (k < c) m = fmaxf(m, __fmul_rn(s, v[k]));
    }
    m = block_reduce(m, -INFINITY, OpMaxF());
    double a = 0.0, b = 0.0;
    if (m > -INFINITY) /* all -inf (or NaN): the chunk adds nothing */
        for (int j = 4 * threadIdx.x; j < Vc; j += 4 * blockDim.x) {
            const int c = min(4, Vc - j);
            float v[4];
            ldf4(row + j, c, vec, v);
#pragma unroll
            for (int k = 0; k < 4; k++) {
                if (k >= c) continue;
                const float y = __fmul_rn(s, v[k]), p = expf(y - m);
                a += (double)p;
                if (p > 0.0f) b += (double)p * (double)y; /* no 0 * -inf */
            }
        }
    a = block_sum(a);
    b = block_sum(b);
    if (threadIdx.x == 0) {
        const int tg = targets[r];
        if (tg >= v0 && tg - v0 < Vc) zt[r] = row[tg - v0];
        const float mo = mx[r], M = fmaxf(mo, m);
        const double fo = mo > -INFINITY ? exp((double)mo - (double)M) : 0.0;
        const double fc = m > -INFINITY ? exp((double)m - (double)M) : 0.0;
        se[r] = (float)((double)se[r] * fo + a * fc);
        sy[r] = (float)((double)sy[r] * fo + b * fc);
        mx[r] = M;
    }
}

extern "C" void cu_head_stats_chunk(float *mx, float *se, float *sy, float *zt, const float *chunk,
                                    int ld, int n, int Vc, int v0, const int *targets, float s,
                                    cudaStream_t st) {
    if (n <= 0 || Vc <= 0) return;
    const bool vec = ld % 4 == 0 && aligned(chunk, 16);
    head_stats_chunk_kernel<<<n, row_threads(Vc), 0, st>>>(mx, se, sy, zt, chunk, ld, Vc, v0,
                                                           targets, s, vec);
    CU_LAUNCHED("head_stats_chunk_kernel");
}

/* lse = mx + log se; logp = s zt - lse; ent = lse - sy / se; a thread per row. */
static __global__ void head_stats_finish_kernel(float *logp, float *lse, float *ent,
                                                const float *mx, const float *se, const float *sy,
                                                const float *zt, int n, float s) {
    const int r = blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= n) return;
    const float sr = se[r], l = mx[r] + (float)log((double)sr);
    lse[r] = l;
    logp[r] = __fmul_rn(s, zt[r]) - l;
    ent[r] = l - sy[r] / sr;
}

extern "C" void cu_head_stats_finish(float *logp, float *lse, float *ent, const float *mx,
                                     const float *se, const float *sy, const float *zt, int n,
                                     float s, cudaStream_t st) {
    if (n <= 0) return;
    head_stats_finish_kernel<<<(n + EW_THREADS - 1) / EW_THREADS, EW_THREADS, 0, st>>>(
        logp, lse, ent, mx, se, sy, zt, n, s);
    CU_LAUNCHED("head_stats_finish_kernel");
}

/* One block per row r, threads over groups of 4 columns, g = s dlogp[r]:
 * d[j] = bf16(-g exp(s z_j - lse) (+ g at the target's column)), as
 * op_logprob_bwd; a row with no target (< 0) or g == 0 becomes 0. */
static __global__ void head_dlogits_kernel(bf16 *dchunk, const float *chunk, int ld, int Vc, int v0,
                                           const int *targets, const float *lse, const float *dlogp,
                                           float s, bool vec) {
    const int r = blockIdx.x;
    const float *row = chunk + (size_t)r * ld;
    bf16 *drow = dchunk + (size_t)r * ld;
    const float g = __fmul_rn(s, dlogp[r]), l = lse[r];
    const int tg = targets[r];
    const bool zero = tg < 0 || g == 0.0f;
    const int jt = zero ? -1 : tg - v0; /* outside [0, Vc) when not in this chunk */
    for (int j = 4 * threadIdx.x; j < Vc; j += 4 * blockDim.x) {
        const int c = min(4, Vc - j);
        float v[4];
        ldf4(row + j, c, vec, v);
#pragma unroll
        for (int k = 0; k < 4; k++) {
            float d = zero ? 0.0f : __fmul_rn(-g, expf(__fmul_rn(s, v[k]) - l));
            if (j + k == jt) d = __fadd_rn(d, g);
            v[k] = d;
        }
        stb4(drow + j, c, vec, v);
    }
}

extern "C" void cu_head_dlogits(bf16 *dchunk, const float *chunk, int ld, int n, int Vc, int v0,
                                const int *targets, const float *lse, const float *dlogp, float s,
                                cudaStream_t st) {
    if (n <= 0 || Vc <= 0) return;
    const bool vec = ld % 4 == 0 && aligned(chunk, 16) && aligned(dchunk, 8);
    head_dlogits_kernel<<<n, row_threads(Vc), 0, st>>>(dchunk, chunk, ld, Vc, v0, targets, lse,
                                                       dlogp, s, vec);
    CU_LAUNCHED("head_dlogits_kernel");
}

/* ---- AdamW --------------------------------------------------------------------------- */

/* The per-step constants of optim.c's Coefs, rounded to float32 the same way. */
typedef struct {
    float b1, omb1, b2, omb2, eps, decay_mul, bc2_sqrt, neg_step;
} AdamCoefs;

/* optim.c's adam_slice, element by element (grid-stride), plus p16 = bf16(p). */
static __global__ void adamw_kernel(float *p, bf16 *p16, const float *g, float *m, float *v,
                                    size_t n, AdamCoefs k, int decay) {
    const size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        const float gi = g[i];
        const float pi = decay ? __fmul_rn(p[i], k.decay_mul) : p[i];
        const float mi = __fadd_rn(__fmul_rn(m[i], k.b1), __fmul_rn(gi, k.omb1));
        const float vi = __fadd_rn(__fmul_rn(v[i], k.b2), __fmul_rn(__fmul_rn(gi, gi), k.omb2));
        const float denom = __fadd_rn(__fdiv_rn(__fsqrt_rn(vi), k.bc2_sqrt), k.eps);
        m[i] = mi;
        v[i] = vi;
        const float pn = __fadd_rn(pi, __fdiv_rn(__fmul_rn(k.neg_step, mi), denom));
        p[i] = pn;
        if (p16) p16[i] = __float2bfloat16_rn(pn);
    }
}

extern "C" void cu_adamw(float *p, bf16 *p16, const float *g, float *m, float *v, size_t n,
                         float lr, float b1, float b2, float eps, float wd, float bc1, float bc2,
                         cudaStream_t st) {
    if (n == 0) return;
    AdamCoefs k;
    k.b1 = b1;
    k.omb1 = (float)(1.0 - (double)b1);
    k.b2 = b2;
    k.omb2 = (float)(1.0 - (double)b2);
    k.eps = eps;
    k.decay_mul = (float)(1.0 - (double)lr * (double)wd);
    k.bc2_sqrt = (float)sqrt((double)bc2);
    k.neg_step = (float)(-(double)lr / (double)bc1);
    adamw_kernel<<<ew_grid(n, EW_THREADS), EW_THREADS, 0, st>>>(p, p16, g, m, v, n, k, wd != 0.0f);
    CU_LAUNCHED("adamw_kernel");
}

/* ---- sampling ---------------------------------------------------------------------- */

/* Unnormalised probability of logit z, as sample.c: expf((float)(z inv_t - mx)). */
static __device__ __forceinline__ float sample_p(float z, double inv_t, double mx) {
    return expf((float)(__dmul_rn((double)z, inv_t) - mx));
}

/* (v, i) comes before (bv, bi): a larger value, or an equal one at a lower id;
 * i < 0 marks "nothing yet" and comes last. */
static __device__ __forceinline__ bool arg_before(float v, int i, float bv, int bi) {
    return bi < 0 || (i >= 0 && (v > bv || (v == bv && i < bi)));
}

/* Block argmax (largest value, lowest id among equals); every thread returns
 * the same (v, i), broadcast from thread 0. */
static __device__ void block_argmax(float &v, int &i) {
    __shared__ float sv[32];
    __shared__ int si[32];
    const int lane = threadIdx.x & 31, wid = threadIdx.x >> 5, nw = blockDim.x >> 5;
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        const float ov = __shfl_xor_sync(FULL_MASK, v, o);
        const int oi = __shfl_xor_sync(FULL_MASK, i, o);
        if (arg_before(ov, oi, v, i)) v = ov, i = oi;
    }
    __syncthreads();
    if (lane == 0) sv[wid] = v, si[wid] = i;
    __syncthreads();
    v = lane < nw ? sv[lane] : -INFINITY;
    i = lane < nw ? si[lane] : -1;
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        const float ov = __shfl_xor_sync(FULL_MASK, v, o);
        const int oi = __shfl_xor_sync(FULL_MASK, i, o);
        if (arg_before(ov, oi, v, i)) v = ov, i = oi;
    }
    __syncthreads();
    if (threadIdx.x == 0) sv[0] = v, si[0] = i;
    __syncthreads();
    v = sv[0];
    i = si[0];
}

/* One block (SAMPLE_THREADS) per sampled row i, row = logits + rows[i] * ld:
 *   1. argmax z (strided, coalesced), mx = max z * inv_t (inv_t = 1 greedy);
 *   2. thread k owns ids [k*per, (k+1)*per) and adds p_j = sample_p(z_j) over
 *      them in id order (double);
 *   3. inclusive scan of those sums in thread order -> incl[k]; Z = incl[last];
 *   4. greedy: the argmax. Otherwise target = u[i] Z; the owner is the lowest k
 *      with target < incl[k] (so incl[k-1] <= target); it walks its ids from
 *      incl[k-1] and takes the first j whose cumulative sum exceeds the target.
 *      Rounding fallbacks: the owner's last id with p > 0, else (or with no
 *      owner) the row's last id with p > 0. The chosen id always has p > 0.
 *   logprob = z_tok inv_t - mx - log Z. */
static __global__ void __launch_bounds__(SAMPLE_THREADS)
    sample_kernel(int *ids, float *logprobs, const float *logits, long ld, const int *rows,
                  const float *u, int V, float temperature) {
    __shared__ double incl[SAMPLE_THREADS];
    __shared__ double wsum[32];
    __shared__ int s_tok;
    const int tid = threadIdx.x, nt = blockDim.x, lane = tid & 31, wid = tid >> 5, nw = nt >> 5;
    const float *row = logits + (long)rows[blockIdx.x] * ld;

    /* 1. */
    float bv = -INFINITY;
    int bi = -1;
    for (int j = tid; j < V; j += nt) {
        const float z = row[j];
        if (bi < 0 || z > bv) bv = z, bi = j;
    }
    block_argmax(bv, bi);
    const bool greedy = !(temperature > 0.0f);
    const double inv_t = greedy ? 1.0 : 1.0 / (double)temperature;
    const double mx = __dmul_rn((double)bv, inv_t);

    /* 2. */
    const int per = (V + nt - 1) / nt, lo = min(V, tid * per), hi = min(V, lo + per);
    double rs = 0.0;
    int lastpos = -1;
    for (int j = lo; j < hi; j++) {
        const float p = sample_p(row[j], inv_t, mx);
        rs += (double)p;
        if (p > 0.0f) lastpos = j;
    }

    /* 3. warp scans, then a scan of the warp totals by warp 0. */
    double v = rs;
#pragma unroll
    for (int o = 1; o < 32; o <<= 1) {
        const double y = __shfl_up_sync(FULL_MASK, v, o);
        if (lane >= o) v += y;
    }
    if (lane == 31) wsum[wid] = v;
    __syncthreads();
    if (wid == 0) {
        double w = lane < nw ? wsum[lane] : 0.0;
#pragma unroll
        for (int o = 1; o < 32; o <<= 1) {
            const double y = __shfl_up_sync(FULL_MASK, w, o);
            if (lane >= o) w += y;
        }
        if (lane < nw) wsum[lane] = w;
    }
    __syncthreads();
    if (wid > 0) v += wsum[wid - 1];
    incl[tid] = v;
    __syncthreads();
    const double Z = incl[nt - 1];

    /* 4. */
    int tok;
    if (greedy) {
        tok = bi;
    } else {
        const double target = (double)u[blockIdx.x] * Z;
        const int owner = block_reduce(target < v ? tid : INT_MAX, INT_MAX, OpMinI());
        const int last = block_reduce(lastpos, -1, OpMaxI());
        if (tid == owner) {
            double cum = tid > 0 ? incl[tid - 1] : 0.0;
            int k = -1;
            for (int j = lo; j < hi; j++) {
                cum += (double)sample_p(row[j], inv_t, mx);
                if (target < cum) {
                    k = j;
                    break;
                }
            }
            s_tok = k >= 0 ? k : lastpos;
        }
        __syncthreads();
        tok = owner == INT_MAX ? -1 : s_tok;
        if (tok < 0) tok = last;
    }
    if (tok < 0) tok = 0; /* only for rows of NaN */
    if (tid == 0) {
        ids[blockIdx.x] = tok;
        logprobs[blockIdx.x] = (float)(__dmul_rn((double)row[tok], inv_t) - mx - log(Z));
    }
}

extern "C" void cu_sample(int *ids, float *logprobs, const float *logits, long ld, const int *rows,
                          const float *u, int n, int V, float temperature, cudaStream_t st) {
    if (n <= 0 || V <= 0) return;
    sample_kernel<<<n, SAMPLE_THREADS, 0, st>>>(ids, logprobs, logits, ld, rows, u, V, temperature);
    CU_LAUNCHED("sample_kernel");
}
