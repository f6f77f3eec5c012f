/* attention.cu - causal attention with grouped KV heads on the GPU: the
 * training forward and backward (flash-style tiles, float32 SIMT), the
 * decoding step over a bf16 KV cache, and the cache store.
 *
 * Tiling of the forward and backward (head_dim HD in {32, 64, 128}, a template
 * parameter):
 *   - A block has 256 threads seen as a 16 x 16 grid, thread (ty, tx) =
 *     (tid / 16, tid % 16). Query and key tiles are 64 rows (ATT_BQ, ATT_BK).
 *   - A 64 x 64 tile of scores: thread (ty, tx) computes rows 4 ty + i (i < 4)
 *     and columns tx + 16 j (j < 4). The 16 threads of a row group are one
 *     half-warp, so row maxima and sums are shuffles inside the half-warp.
 *   - A 64 x HD product (output, dQ, dK, dV): thread (ty, tx) owns rows 4 ty + i
 *     and columns VEC tx + 16 VEC ch (VEC = 4, or 2 when HD = 32; ch < NCH =
 *     HD / (16 VEC)), accumulated in registers.
 *   - Tiles live in shared memory with rows padded to HD + 4 floats (the column
 *     reads tx + 16 j then hit distinct banks); P and dS tiles use 64 + 4. A
 *     key tile never reaches above the causal diagonal: a query tile q0 reads
 *     key tiles 0 .. q0 / 64 only; positions past the diagonal (and past the
 *     sequence end) are masked to exactly 0.
 *   - Forward: grid (ceil(max_len / 64), nh, n_seqs), the longest query tiles
 *     first; Q tile loaded once, then per key tile: K, V into shared memory, S
 *     = Q K^T in registers, online softmax (running max and sum per row), P
 *     into shared memory (over the K tile), O += P V.
 *   - Backward, deterministic (no atomics): (1) Dsum[t, h] = dout . out, one
 *     warp per row and head, into the scratch; (2) dK, dV: grid (key tiles,
 *     nkv, n_seqs), each block loops over the group's query heads and the query
 *     tiles at or after its key tile, recomputes P = exp(scale q.k - lse), and
 *     keeps dK, dV in registers until it adds them once into dk, dv; (3) dQ:
 *     grid (query tiles, nh, n_seqs), loops over its key tiles, writes dq.
 *
 * Shared memory per block (bytes, dynamic; above 48 KB opted in per kernel):
 *   forward  HD 32: 35840,  64: 52224,  128: 101376
 *   dQ       HD 32: 45056,  64: 69632,  128: 135168
 *   dK/dV    HD 32: 54784,  64: 87552,  128: 153088
 *
 * Decoding: one block per (query row, KV head, batch of up to 8 query heads of
 * the group), so every K/V row read from the cache serves all the group's
 * heads (groups of more than 8 heads are split in equal batches). A row of one
 * KV head is HD bf16 = HD / 8 16-byte loads, spread over HD / 8 lanes (a
 * "row group"); a warp holds 32 / (HD / 8) row groups, each walking its own
 * rows of the context with its own online softmax (a few rows at a time, so
 * several loads are in flight per lane). Row groups merge by shuffles inside
 * the warp, warps through shared memory in a fixed order. */
#include "attention_impl.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* R1_ATTN picks the path: unset (or any other value) tries mma.sync
 * (attention_mma.cu), then WMMA (attention_tc.cu), then SIMT; "mma" tries mma
 * then SIMT; "wmma" tries wmma then SIMT; "simt" runs the SIMT kernels here,
 * the fallback and reference. */
/* Whether R1_ATTN allows the mma path, the WMMA path (see above). */
static int att_use_mma(void) {
    const char *e = getenv("R1_ATTN");
    return !e || (strcmp(e, "simt") != 0 && strcmp(e, "wmma") != 0);
}

static int att_use_tc(void) {
    const char *e = getenv("R1_ATTN");
    return !e || (strcmp(e, "simt") != 0 && strcmp(e, "mma") != 0);
}

#define ATT_BQ  64           /* query rows per tile */
#define ATT_BK  64           /* key rows per tile */
#define ATT_NT  256          /* threads per block of the forward / backward */
#define ATT_PLD (ATT_BK + 4) /* row stride of a P or dS tile in shared memory */

#define DEC_MAXW 8 /* most warps in a decoding block */
#define DEC_MAXG 8 /* most query heads a decoding block serves */

template <int HD> struct att_cfg {
    static constexpr int LDS = HD + 4;           /* padded row stride of a [64][HD] tile */
    static constexpr int VEC = HD >= 64 ? 4 : 2; /* adjacent columns per output chunk */
    static constexpr int NCH = HD / (16 * VEC);  /* output chunks per thread */
    static constexpr int TILE = 64 * LDS;        /* floats of one [64][HD] tile */
    /* a tile region that can also hold a [64][ATT_PLD] P or dS tile */
    static constexpr int TILE_P = TILE > 64 * ATT_PLD ? TILE : 64 * ATT_PLD;
    static constexpr size_t FWD_SMEM = sizeof(float) * (size_t)(2 * TILE + TILE_P);
    static constexpr size_t DQ_SMEM = sizeof(float) * (size_t)(3 * TILE + TILE_P);
    static constexpr size_t DKDV_SMEM =
        sizeof(float) * (size_t)(4 * TILE + 64 * ATT_PLD + 2 * ATT_BQ);
    static_assert(HD % 32 == 0 && HD <= 128, "head_dim");
};

/* ---- small device helpers ----------------------------------------------------- */

__device__ __forceinline__ float dot4(float4 a, float4 b, float acc) {
    acc = fmaf(a.x, b.x, acc);
    acc = fmaf(a.y, b.y, acc);
    acc = fmaf(a.z, b.z, acc);
    return fmaf(a.w, b.w, acc);
}

/* Component i of v (i a constant after unrolling). */
__device__ __forceinline__ float f4_at(const float4 &v, int i) {
    return i == 0 ? v.x : (i == 1 ? v.y : (i == 2 ? v.z : v.w));
}

/* VEC consecutive floats from shared memory (p aligned to VEC floats). */
template <int VEC> __device__ __forceinline__ void lds_vec(float (&r)[VEC], const float *p) {
    if constexpr (VEC == 4) {
        float4 t = *reinterpret_cast<const float4 *>(p);
        r[0] = t.x, r[1] = t.y, r[2] = t.z, r[3] = t.w;
    } else {
        float2 t = *reinterpret_cast<const float2 *>(p);
        r[0] = t.x, r[1] = t.y;
    }
}

/* p[e] = s x[e] (vec: p aligned to VEC floats). */
template <int VEC>
__device__ __forceinline__ void gset_vec(float *p, const float (&x)[VEC], float s, bool vec) {
    if constexpr (VEC == 4) {
        if (vec) {
            *reinterpret_cast<float4 *>(p) = make_float4(s * x[0], s * x[1], s * x[2], s * x[3]);
            return;
        }
    } else {
        if (vec) {
            *reinterpret_cast<float2 *>(p) = make_float2(s * x[0], s * x[1]);
            return;
        }
    }
#pragma unroll
    for (int e = 0; e < VEC; e++) p[e] = s * x[e];
}

/* p[e] += s x[e] (vec: p aligned to VEC floats). */
template <int VEC>
__device__ __forceinline__ void gadd_vec(float *p, const float (&x)[VEC], float s, bool vec) {
    if constexpr (VEC == 4) {
        if (vec) {
            float4 t = *reinterpret_cast<float4 *>(p);
            t.x += s * x[0], t.y += s * x[1], t.z += s * x[2], t.w += s * x[3];
            *reinterpret_cast<float4 *>(p) = t;
            return;
        }
    } else {
        if (vec) {
            float2 t = *reinterpret_cast<float2 *>(p);
            t.x += s * x[0], t.y += s * x[1];
            *reinterpret_cast<float2 *>(p) = t;
            return;
        }
    }
#pragma unroll
    for (int e = 0; e < VEC; e++) p[e] += s * x[e];
}

/* Rows [0, 64) of a [64][HD] float tile from global memory (row stride ld)
 * into shared memory (row stride LDS); rows >= nvalid become zeros. vec: src
 * and ld allow 16-byte loads. */
template <int HD, int LDS>
__device__ __forceinline__ void load_tile(float *dst, const float *src, int ld, int nvalid,
                                          bool vec) {
    if (vec) {
        constexpr int C4 = HD / 4;
        static_assert((64 * C4) % ATT_NT == 0, "tile load");
#pragma unroll
        for (int it = 0; it < 64 * C4 / ATT_NT; it++) {
            const int idx = (int)threadIdx.x + it * ATT_NT, r = idx / C4, c = (idx % C4) * 4;
            float4 x = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
            if (r < nvalid) x = *reinterpret_cast<const float4 *>(src + (size_t)r * ld + c);
            *reinterpret_cast<float4 *>(dst + r * LDS + c) = x;
        }
    } else {
        for (int idx = (int)threadIdx.x; idx < 64 * HD; idx += ATT_NT) {
            const int r = idx / HD, c = idx % HD;
            dst[r * LDS + c] = r < nvalid ? src[(size_t)r * ld + c] : 0.0f;
        }
    }
}

/* acc[i][j] = sum over d < HD of a[(4 ty + i) LDA + d] * b[(tx + 16 j) LDB + d]
 * (a 64 x 64 tile of dot products; the a rows are shared by a half-warp, the b
 * rows are spread over banks by the padding). */
template <int HD, int LDA, int LDB>
__device__ __forceinline__ void tile_dots(float (&acc)[4][4], const float *a, const float *b,
                                          int ty, int tx) {
#pragma unroll
    for (int i = 0; i < 4; i++)
#pragma unroll
        for (int j = 0; j < 4; j++) acc[i][j] = 0.0f;
#pragma unroll 1
    for (int d = 0; d < HD; d += 4) {
        float4 av[4], bv[4];
#pragma unroll
        for (int i = 0; i < 4; i++)
            av[i] = *reinterpret_cast<const float4 *>(a + (4 * ty + i) * LDA + d);
#pragma unroll
        for (int j = 0; j < 4; j++)
            bv[j] = *reinterpret_cast<const float4 *>(b + (tx + 16 * j) * LDB + d);
#pragma unroll
        for (int i = 0; i < 4; i++)
#pragma unroll
            for (int j = 0; j < 4; j++) acc[i][j] = dot4(av[i], bv[j], acc[i][j]);
    }
}

/* acc[i][ch][e] += sum over c < 64 of p[(4 ty + i) ATT_PLD + c] * b[c LDB + col]
 * with col = VEC tx + 16 VEC ch + e: a [64][64] tile (P or dS, in shared memory)
 * times a [64][HD] tile. */
template <int HD, int LDB>
__device__ __forceinline__ void tile_accum(float (&acc)[4][att_cfg<HD>::NCH][att_cfg<HD>::VEC],
                                           const float *p, const float *b, int ty, int tx) {
    typedef att_cfg<HD> C;
#pragma unroll 2
    for (int c = 0; c < 64; c += 4) {
        float4 pv[4];
#pragma unroll
        for (int i = 0; i < 4; i++)
            pv[i] = *reinterpret_cast<const float4 *>(p + (4 * ty + i) * ATT_PLD + c);
#pragma unroll
        for (int cc = 0; cc < 4; cc++)
#pragma unroll
            for (int ch = 0; ch < C::NCH; ch++) {
                float bv[C::VEC];
                lds_vec<C::VEC>(bv, b + (c + cc) * LDB + C::VEC * tx + 16 * C::VEC * ch);
#pragma unroll
                for (int i = 0; i < 4; i++) {
                    const float pi = f4_at(pv[i], cc);
#pragma unroll
                    for (int e = 0; e < C::VEC; e++) acc[i][ch][e] = fmaf(pi, bv[e], acc[i][ch][e]);
                }
            }
    }
}

template <int HD>
__device__ __forceinline__ void acc_zero(float (&acc)[4][att_cfg<HD>::NCH][att_cfg<HD>::VEC]) {
#pragma unroll
    for (int i = 0; i < 4; i++)
#pragma unroll
        for (int ch = 0; ch < att_cfg<HD>::NCH; ch++)
#pragma unroll
            for (int e = 0; e < att_cfg<HD>::VEC; e++) acc[i][ch][e] = 0.0f;
}

/* Sum over the 16 lanes of a half-warp (every lane gets the same value). */
__device__ __forceinline__ float half_warp_sum(float x) {
#pragma unroll
    for (int off = 8; off > 0; off >>= 1) x += __shfl_xor_sync(0xffffffffu, x, off);
    return x;
}

__device__ __forceinline__ float half_warp_max(float x) {
#pragma unroll
    for (int off = 8; off > 0; off >>= 1) x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, off));
    return x;
}

/* ---- forward ------------------------------------------------------------------ */

/* One block: query tile qt of head h of sequence s (the longest tiles first). */
template <int HD>
__global__ void __launch_bounds__(ATT_NT, 2)
    attn_fwd_kernel(float *__restrict__ out, float *__restrict__ lse, const float *__restrict__ q,
                    int ldq, const float *__restrict__ k, const float *__restrict__ v, int ldkv,
                    const int *__restrict__ start, int nh, int group, float scale, int vec) {
    typedef att_cfg<HD> C;
    extern __shared__ __align__(16) float smem[];
    float *Qs = smem;         /* [64][LDS] */
    float *Vs = Qs + C::TILE; /* [64][LDS] */
    float *Ks = Vs + C::TILE; /* [64][LDS], then P [64][ATT_PLD] */
    float *Ps = Ks;

    const int s = blockIdx.z, h = blockIdx.y, qt = (int)(gridDim.x - 1 - blockIdx.x);
    const int t0 = start[s], L = start[s + 1] - t0, q0 = qt * ATT_BQ;
    if (q0 >= L) return;
    const int g = h / group, tid = threadIdx.x, ty = tid >> 4, tx = tid & 15;

    load_tile<HD, C::LDS>(Qs, q + (size_t)(t0 + q0) * ldq + (size_t)h * HD, ldq, L - q0, vec);
    const float *kg = k + (size_t)t0 * ldkv + (size_t)g * HD;
    const float *vg = v + (size_t)t0 * ldkv + (size_t)g * HD;

    float m[4], l[4], acc[4][C::NCH][C::VEC];
#pragma unroll
    for (int i = 0; i < 4; i++) m[i] = -INFINITY, l[i] = 0.0f;
    acc_zero<HD>(acc);

    const int kend = min(L, q0 + ATT_BQ), nkt = (kend + ATT_BK - 1) / ATT_BK;
    for (int kt = 0; kt < nkt; kt++) {
        const int k0 = kt * ATT_BK;
        __syncthreads(); /* the previous tile's P and V are consumed */
        load_tile<HD, C::LDS>(Ks, kg + (size_t)k0 * ldkv, ldkv, L - k0, vec);
        load_tile<HD, C::LDS>(Vs, vg + (size_t)k0 * ldkv, ldkv, L - k0, vec);
        __syncthreads();

        float sc[4][4];
        tile_dots<HD, C::LDS, C::LDS>(sc, Qs, Ks, ty, tx);

        /* Online softmax. Key k0 <= q0 is unmasked in every row, so the new
         * maximum is finite; alpha = exp(-inf) = 0 on the first tile. */
#pragma unroll
        for (int i = 0; i < 4; i++) {
            const int qp = q0 + 4 * ty + i;
            float mx = -INFINITY;
#pragma unroll
            for (int j = 0; j < 4; j++) {
                const int kp = k0 + tx + 16 * j;
                sc[i][j] = kp <= qp ? sc[i][j] * scale : -INFINITY;
                mx = fmaxf(mx, sc[i][j]);
            }
            mx = half_warp_max(mx);
            const float mn = fmaxf(m[i], mx), alpha = expf(m[i] - mn);
            float ps = 0.0f;
#pragma unroll
            for (int j = 0; j < 4; j++) {
                const int kp = k0 + tx + 16 * j;
                const float p = kp <= qp ? expf(sc[i][j] - mn) : 0.0f;
                sc[i][j] = p;
                ps += p;
            }
            l[i] = l[i] * alpha + ps; /* this thread's share of the row sum */
#pragma unroll
            for (int ch = 0; ch < C::NCH; ch++)
#pragma unroll
                for (int e = 0; e < C::VEC; e++) acc[i][ch][e] *= alpha;
            m[i] = mn;
        }
        __syncthreads(); /* K is consumed: P takes its place */
#pragma unroll
        for (int i = 0; i < 4; i++)
#pragma unroll
            for (int j = 0; j < 4; j++) Ps[(4 * ty + i) * ATT_PLD + tx + 16 * j] = sc[i][j];
        __syncthreads();
        tile_accum<HD, C::LDS>(acc, Ps, Vs, ty, tx);
    }

    const int ldo = nh * HD;
#pragma unroll
    for (int i = 0; i < 4; i++) {
        const float lt = half_warp_sum(l[i]);
        const int qp = q0 + 4 * ty + i;
        if (qp < L) {
            const float inv = 1.0f / lt;
            float *o = out + (size_t)(t0 + qp) * ldo + (size_t)h * HD;
#pragma unroll
            for (int ch = 0; ch < C::NCH; ch++) {
                const int col = C::VEC * tx + 16 * C::VEC * ch;
#pragma unroll
                for (int e = 0; e < C::VEC; e += 2)
                    *reinterpret_cast<float2 *>(o + col + e) =
                        make_float2(acc[i][ch][e] * inv, acc[i][ch][e + 1] * inv);
            }
            if (tx == 0) lse[(size_t)(t0 + qp) * nh + h] = m[i] + logf(lt);
        }
    }
}

/* ---- backward ----------------------------------------------------------------- */

/* Dsum (attention_impl.h's att_dsum); one warp per (t, h). */
template <bool ROUND>
__global__ void attn_dsum_kernel(float *__restrict__ dsum, const float *__restrict__ dout,
                                 const float *__restrict__ out, size_t rows, int hd) {
    const size_t w = ((size_t)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    const int lane = threadIdx.x & 31;
    if (w >= rows) return; /* whole warps leave together */
    const float *d = dout + w * hd;
    const float *o = out + w * hd;
    float sum = 0.0f;
    for (int e = lane; e < hd; e += 32)
        sum = fmaf(ROUND ? __bfloat162float(__float2bfloat16_rn(d[e])) : d[e], o[e], sum);
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, off);
    if (lane == 0) dsum[w] = sum;
}

void att_dsum(float *dsum, const float *dout, const float *out, size_t rows, int hd, int round_dout,
              cudaStream_t st) {
    if (round_dout)
        attn_dsum_kernel<true>
            <<<cu_blocks(rows * 32, 256), 256, 0, st>>>(dsum, dout, out, rows, hd);
    else
        attn_dsum_kernel<false>
            <<<cu_blocks(rows * 32, 256), 256, 0, st>>>(dsum, dout, out, rows, hd);
    CU_LAUNCHED("attn_dsum_kernel");
}

int att_tc_ready(const void *kernel, size_t bytes) {
    int dev = 0, major = 0, optin = 0;
    CU_CHECK(cudaGetDevice(&dev));
    CU_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev));
    if (major < 8) return 0;
    CU_CHECK(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev));
    if ((size_t)optin < bytes) return 0;
    if (bytes > 48 * 1024)
        CU_CHECK(
            cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)bytes));
    return 1;
}

/* One block: key tile kt of KV head g of sequence s. For every query head of
 * the group and every query tile at or after the key tile: S^T = K Q^T, dP^T =
 * V dO^T (rows = keys 4 ty + i, columns = queries tx + 16 j), P^T, dS^T; dV +=
 * P^T dO, dK += dS^T Q in registers. One P/dS buffer serves both in turn. */
template <int HD>
__global__ void __launch_bounds__(ATT_NT, HD == 128 ? 1 : 2)
    attn_bwd_dkdv_kernel(float *__restrict__ dk, float *__restrict__ dv, int ldd,
                         const float *__restrict__ dout, const float *__restrict__ lse,
                         const float *__restrict__ dsum, const float *__restrict__ q, int ldq,
                         const float *__restrict__ k, const float *__restrict__ v, int ldkv,
                         const int *__restrict__ start, int nh, int group, float scale, int vec) {
    typedef att_cfg<HD> C;
    extern __shared__ __align__(16) float smem[];
    float *Ks = smem;              /* [64][LDS] */
    float *Vs = Ks + C::TILE;      /* [64][LDS] */
    float *Qs = Vs + C::TILE;      /* [64][LDS] */
    float *Os = Qs + C::TILE;      /* dO tile [64][LDS] */
    float *Ts = Os + C::TILE;      /* P^T, then dS^T: [64 keys][ATT_PLD] */
    float *ls = Ts + 64 * ATT_PLD; /* lse of the query tile's rows [64] */
    float *ds = ls + ATT_BQ;       /* Dsum of the query tile's rows [64] */

    const int s = blockIdx.z, g = blockIdx.y, kt = blockIdx.x;
    const int t0 = start[s], L = start[s + 1] - t0, k0 = kt * ATT_BK;
    if (k0 >= L) return;
    const int tid = threadIdx.x, ty = tid >> 4, tx = tid & 15, ldo = nh * HD;

    load_tile<HD, C::LDS>(Ks, k + (size_t)(t0 + k0) * ldkv + (size_t)g * HD, ldkv, L - k0, vec);
    load_tile<HD, C::LDS>(Vs, v + (size_t)(t0 + k0) * ldkv + (size_t)g * HD, ldkv, L - k0, vec);

    float dka[4][C::NCH][C::VEC], dva[4][C::NCH][C::VEC];
    acc_zero<HD>(dka);
    acc_zero<HD>(dva);

    const int nqt = (L + ATT_BQ - 1) / ATT_BQ, qt0 = k0 / ATT_BQ;
    for (int hh = 0; hh < group; hh++) {
        const int h = g * group + hh;
        for (int qt = qt0; qt < nqt; qt++) {
            const int q0 = qt * ATT_BQ;
            __syncthreads(); /* the previous tile's Q, dO and dS^T are consumed */
            load_tile<HD, C::LDS>(Qs, q + (size_t)(t0 + q0) * ldq + (size_t)h * HD, ldq, L - q0,
                                  vec);
            load_tile<HD, C::LDS>(Os, dout + (size_t)(t0 + q0) * ldo + (size_t)h * HD, ldo, L - q0,
                                  vec);
            if (tid < ATT_BQ) {
                const int qp = q0 + tid;
                ls[tid] = qp < L ? lse[(size_t)(t0 + qp) * nh + h] : 0.0f;
                ds[tid] = qp < L ? dsum[(size_t)(t0 + qp) * nh + h] : 0.0f;
            }
            __syncthreads();

            float sc[4][4], dp[4][4];
            tile_dots<HD, C::LDS, C::LDS>(sc, Ks, Qs, ty, tx);
            tile_dots<HD, C::LDS, C::LDS>(dp, Vs, Os, ty, tx);
#pragma unroll
            for (int i = 0; i < 4; i++) {
                const int kp = k0 + 4 * ty + i;
#pragma unroll
                for (int j = 0; j < 4; j++) {
                    const int r = tx + 16 * j, qp = q0 + r;
                    const bool ok = kp <= qp && qp < L;
                    const float p = ok ? expf(sc[i][j] * scale - ls[r]) : 0.0f;
                    dp[i][j] = ok ? p * (dp[i][j] - ds[r]) : 0.0f; /* dS^T */
                    sc[i][j] = p;                                  /* P^T */
                }
            }
#pragma unroll
            for (int i = 0; i < 4; i++)
#pragma unroll
                for (int j = 0; j < 4; j++) Ts[(4 * ty + i) * ATT_PLD + tx + 16 * j] = sc[i][j];
            __syncthreads();
            tile_accum<HD, C::LDS>(dva, Ts, Os, ty, tx); /* dV += P^T dO */
            __syncthreads();
#pragma unroll
            for (int i = 0; i < 4; i++)
#pragma unroll
                for (int j = 0; j < 4; j++) Ts[(4 * ty + i) * ATT_PLD + tx + 16 * j] = dp[i][j];
            __syncthreads();
            tile_accum<HD, C::LDS>(dka, Ts, Qs, ty, tx); /* dK += dS^T Q (scale below) */
        }
    }

#pragma unroll
    for (int i = 0; i < 4; i++) {
        const int kp = k0 + 4 * ty + i;
        if (kp >= L) continue;
        float *dkr = dk + (size_t)(t0 + kp) * ldd + (size_t)g * HD;
        float *dvr = dv + (size_t)(t0 + kp) * ldd + (size_t)g * HD;
#pragma unroll
        for (int ch = 0; ch < C::NCH; ch++) {
            const int col = C::VEC * tx + 16 * C::VEC * ch;
            gadd_vec<C::VEC>(dkr + col, dka[i][ch], scale, vec);
            gadd_vec<C::VEC>(dvr + col, dva[i][ch], 1.0f, vec);
        }
    }
}

/* One block: query tile qt of head h of sequence s (the longest first). Per key
 * tile: S = Q K^T, dP = dO V^T, dS = P (dP - Dsum) into shared memory (over
 * the V tile), dQ += dS K; finally dq = scale dQ. */
template <int HD>
__global__ void __launch_bounds__(ATT_NT, HD == 128 ? 1 : 2)
    attn_bwd_dq_kernel(float *__restrict__ dq, int ldd, const float *__restrict__ dout,
                       const float *__restrict__ lse, const float *__restrict__ dsum,
                       const float *__restrict__ q, int ldq, const float *__restrict__ k,
                       const float *__restrict__ v, int ldkv, const int *__restrict__ start, int nh,
                       int group, float scale, int vec) {
    typedef att_cfg<HD> C;
    extern __shared__ __align__(16) float smem[];
    float *Qs = smem;         /* [64][LDS] */
    float *Os = Qs + C::TILE; /* dO tile [64][LDS] */
    float *Ks = Os + C::TILE; /* [64][LDS] */
    float *Vs = Ks + C::TILE; /* [64][LDS], then dS [64][ATT_PLD] */
    float *Ss = Vs;

    const int s = blockIdx.z, h = blockIdx.y, qt = (int)(gridDim.x - 1 - blockIdx.x);
    const int t0 = start[s], L = start[s + 1] - t0, q0 = qt * ATT_BQ;
    if (q0 >= L) return;
    const int g = h / group, tid = threadIdx.x, ty = tid >> 4, tx = tid & 15, ldo = nh * HD;

    load_tile<HD, C::LDS>(Qs, q + (size_t)(t0 + q0) * ldq + (size_t)h * HD, ldq, L - q0, vec);
    load_tile<HD, C::LDS>(Os, dout + (size_t)(t0 + q0) * ldo + (size_t)h * HD, ldo, L - q0, vec);
    float lr[4], dr[4];
#pragma unroll
    for (int i = 0; i < 4; i++) {
        const int qp = q0 + 4 * ty + i;
        lr[i] = qp < L ? lse[(size_t)(t0 + qp) * nh + h] : 0.0f;
        dr[i] = qp < L ? dsum[(size_t)(t0 + qp) * nh + h] : 0.0f;
    }
    const float *kg = k + (size_t)t0 * ldkv + (size_t)g * HD;
    const float *vg = v + (size_t)t0 * ldkv + (size_t)g * HD;

    float acc[4][C::NCH][C::VEC];
    acc_zero<HD>(acc);

    const int kend = min(L, q0 + ATT_BQ), nkt = (kend + ATT_BK - 1) / ATT_BK;
    for (int kt = 0; kt < nkt; kt++) {
        const int k0 = kt * ATT_BK;
        __syncthreads(); /* the previous tile's K and dS are consumed */
        load_tile<HD, C::LDS>(Ks, kg + (size_t)k0 * ldkv, ldkv, L - k0, vec);
        load_tile<HD, C::LDS>(Vs, vg + (size_t)k0 * ldkv, ldkv, L - k0, vec);
        __syncthreads();

        float sc[4][4], dp[4][4];
        tile_dots<HD, C::LDS, C::LDS>(sc, Qs, Ks, ty, tx);
        tile_dots<HD, C::LDS, C::LDS>(dp, Os, Vs, ty, tx);
#pragma unroll
        for (int i = 0; i < 4; i++) {
            const int qp = q0 + 4 * ty + i;
#pragma unroll
            for (int j = 0; j < 4; j++) {
                const int kp = k0 + tx + 16 * j;
                const bool ok = kp <= qp && qp < L;
                const float p = ok ? expf(sc[i][j] * scale - lr[i]) : 0.0f;
                dp[i][j] = ok ? p * (dp[i][j] - dr[i]) : 0.0f; /* dS */
            }
        }
        __syncthreads(); /* V is consumed: dS takes its place */
#pragma unroll
        for (int i = 0; i < 4; i++)
#pragma unroll
            for (int j = 0; j < 4; j++) Ss[(4 * ty + i) * ATT_PLD + tx + 16 * j] = dp[i][j];
        __syncthreads();
        tile_accum<HD, C::LDS>(acc, Ss, Ks, ty, tx);
    }

#pragma unroll
    for (int i = 0; i < 4; i++) {
        const int qp = q0 + 4 * ty + i;
        if (qp >= L) continue;
        float *dqr = dq + (size_t)(t0 + qp) * ldd + (size_t)h * HD;
#pragma unroll
        for (int ch = 0; ch < C::NCH; ch++)
            gset_vec<C::VEC>(dqr + C::VEC * tx + 16 * C::VEC * ch, acc[i][ch], scale, vec);
    }
}

/* ---- host side of the forward and backward ------------------------------------- */

/* Opts kernel into `bytes` of dynamic shared memory (beyond the default 48 KB),
 * failing clearly when this GPU has less per block. */
static void att_smem(const void *kernel, size_t bytes, const char *what) {
    if (bytes <= 48 * 1024) return;
    int dev = 0, optin = 0;
    CU_CHECK(cudaGetDevice(&dev));
    CU_CHECK(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev));
    if ((size_t)optin < bytes)
        r1_cu_fail(what, "this head_dim needs more shared memory per block than the GPU has",
                   __FILE__, __LINE__);
    CU_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)bytes));
}

static void att_check(const char *what, CuSeqs s, int nh, int nkv, int hd) {
    if (hd != 32 && hd != 64 && hd != 128)
        r1_cu_fail(what, "unsupported head_dim", __FILE__, __LINE__);
    if (nkv <= 0 || nh <= 0 || nh % nkv != 0)
        r1_cu_fail(what, "nh must be a positive multiple of nkv", __FILE__, __LINE__);
    if (s.n_seqs > 65535 || nh > 65535)
        r1_cu_fail(what, "too many sequences or heads for one grid", __FILE__, __LINE__);
}

template <int HD>
static void att_fwd_launch(float *out, float *lse, const float *q, int ldq, const float *k,
                           const float *v, int ldkv, CuSeqs s, int nh, int nkv, int vec,
                           cudaStream_t st) {
    const size_t smem = att_cfg<HD>::FWD_SMEM;
    att_smem((const void *)attn_fwd_kernel<HD>, smem, "cu_attention_fwd");
    dim3 grid((unsigned)((s.max_len + ATT_BQ - 1) / ATT_BQ), (unsigned)nh, (unsigned)s.n_seqs);
    attn_fwd_kernel<HD><<<grid, ATT_NT, smem, st>>>(out, lse, q, ldq, k, v, ldkv, s.start, nh,
                                                    nh / nkv, 1.0f / sqrtf((float)HD), vec);
    CU_LAUNCHED("attn_fwd_kernel");
}

void cu_attention_fwd(float *out, float *lse, const float *q, int ldq, const float *k,
                      const float *v, int ldkv, CuSeqs s, int nh, int nkv, int hd,
                      cudaStream_t st) {
    att_check("cu_attention_fwd", s, nh, nkv, hd);
    if (s.n_seqs <= 0 || s.max_len <= 0) return;
    if (((uintptr_t)out & 3) != 0)
        r1_cu_fail("cu_attention_fwd", "out must be 4-byte aligned", __FILE__, __LINE__);
    if (att_use_mma() && cu_attention_mma_fwd(out, lse, q, ldq, k, v, ldkv, s, nh, nkv, hd, st))
        return;
    if (att_use_tc() && cu_attention_tc_fwd(out, lse, q, ldq, k, v, ldkv, s, nh, nkv, hd, st))
        return;
    const int vec =
        att_aligned16(q) && att_aligned16(k) && att_aligned16(v) && ldq % 4 == 0 && ldkv % 4 == 0;
    if (hd == 32)
        att_fwd_launch<32>(out, lse, q, ldq, k, v, ldkv, s, nh, nkv, vec, st);
    else if (hd == 64)
        att_fwd_launch<64>(out, lse, q, ldq, k, v, ldkv, s, nh, nkv, vec, st);
    else
        att_fwd_launch<128>(out, lse, q, ldq, k, v, ldkv, s, nh, nkv, vec, st);
}

size_t cu_attention_bwd_scratch(int T, int nh) {
    return (size_t)(T > 0 ? T : 0) * (size_t)(nh > 0 ? nh : 0);
}

template <int HD>
static void att_bwd_launch(float *dq, float *dk, float *dv, int ldd, const float *dout,
                           const float *lse, const float *dsum, const float *q, int ldq,
                           const float *k, const float *v, int ldkv, CuSeqs s, int nh, int nkv,
                           int vec, cudaStream_t st) {
    const float scale = 1.0f / sqrtf((float)HD);
    const unsigned ntiles = (unsigned)((s.max_len + ATT_BQ - 1) / ATT_BQ);

    const size_t smem_kv = att_cfg<HD>::DKDV_SMEM;
    att_smem((const void *)attn_bwd_dkdv_kernel<HD>, smem_kv, "cu_attention_bwd");
    attn_bwd_dkdv_kernel<HD>
        <<<dim3(ntiles, (unsigned)nkv, (unsigned)s.n_seqs), ATT_NT, smem_kv, st>>>(
            dk, dv, ldd, dout, lse, dsum, q, ldq, k, v, ldkv, s.start, nh, nh / nkv, scale, vec);
    CU_LAUNCHED("attn_bwd_dkdv_kernel");

    const size_t smem_q = att_cfg<HD>::DQ_SMEM;
    att_smem((const void *)attn_bwd_dq_kernel<HD>, smem_q, "cu_attention_bwd");
    attn_bwd_dq_kernel<HD><<<dim3(ntiles, (unsigned)nh, (unsigned)s.n_seqs), ATT_NT, smem_q, st>>>(
        dq, ldd, dout, lse, dsum, q, ldq, k, v, ldkv, s.start, nh, nh / nkv, scale, vec);
    CU_LAUNCHED("attn_bwd_dq_kernel");
}

void cu_attention_bwd(float *dq, float *dk, float *dv, int ldd, const float *dout, const float *out,
                      const float *lse, const float *q, int ldq, const float *k, const float *v,
                      int ldkv, CuSeqs s, int nh, int nkv, int hd, float *scratch,
                      cudaStream_t st) {
    att_check("cu_attention_bwd", s, nh, nkv, hd);
    if (s.n_seqs <= 0 || s.max_len <= 0 || s.T <= 0) return;
    if (att_use_mma() && cu_attention_mma_bwd(dq, dk, dv, ldd, dout, out, lse, q, ldq, k, v, ldkv,
                                              s, nh, nkv, hd, scratch, st))
        return;
    if (att_use_tc() && cu_attention_tc_bwd(dq, dk, dv, ldd, dout, out, lse, q, ldq, k, v, ldkv, s,
                                            nh, nkv, hd, scratch, st))
        return;

    att_dsum(scratch, dout, out, (size_t)s.T * nh, hd, 0, st); /* dP is float32 here */

    const int vec = att_aligned16(q) && att_aligned16(k) && att_aligned16(v) &&
                    att_aligned16(dout) && att_aligned16(dq) && att_aligned16(dk) &&
                    att_aligned16(dv) && ldq % 4 == 0 && ldkv % 4 == 0 && ldd % 4 == 0;
    if (hd == 32)
        att_bwd_launch<32>(dq, dk, dv, ldd, dout, lse, scratch, q, ldq, k, v, ldkv, s, nh, nkv, vec,
                           st);
    else if (hd == 64)
        att_bwd_launch<64>(dq, dk, dv, ldd, dout, lse, scratch, q, ldq, k, v, ldkv, s, nh, nkv, vec,
                           st);
    else
        att_bwd_launch<128>(dq, dk, dv, ldd, dout, lse, scratch, q, ldq, k, v, ldkv, s, nh, nkv,
                            vec, st);
}

/* ---- decoding ------------------------------------------------------------------ */

/* Cache rows a row group reads per step (several loads in flight per lane;
 * fewer when the block serves many heads, to stay in registers). */
template <int GB> struct dec_cfg { static constexpr int U = GB <= 4 ? 4 : 2; };

/* 8 bf16 -> 8 floats (exact: bf16 is the top half of a float). */
__device__ __forceinline__ void bf16x8_to_f32(float (&f)[8], uint4 w) {
    const uint32_t a[4] = {w.x, w.y, w.z, w.w};
#pragma unroll
    for (int k = 0; k < 4; k++) {
        f[2 * k] = __uint_as_float(a[k] << 16);
        f[2 * k + 1] = __uint_as_float(a[k] & 0xffff0000u);
    }
}

/* 8 bf16 at p: one 16-byte load when V16, else 8 two-byte loads. */
template <bool V16> __device__ __forceinline__ uint4 ld_bf16x8(const bf16 *p) {
    if constexpr (V16) {
        return __ldg(reinterpret_cast<const uint4 *>(p));
    } else {
        const unsigned short *u = reinterpret_cast<const unsigned short *>(p);
        uint32_t a[4];
#pragma unroll
        for (int k = 0; k < 4; k++) a[k] = (uint32_t)u[2 * k] | ((uint32_t)u[2 * k + 1] << 16);
        return make_uint4(a[0], a[1], a[2], a[3]);
    }
}

/* One block: query row i (blockIdx.x), KV head g and heads batch hb of its
 * group (blockIdx.y = g nbatch + hb), GB query heads h0 .. h0 + GB - 1. Lane li
 * of a row group holds dims 8 li .. 8 li + 7; row group sgid of the block reads
 * context rows j0 + u nsg + sgid, u < U, per step. */
template <int HD, int GB, bool V16>
__global__ void __launch_bounds__(DEC_MAXW * 32, GB <= 6 ? 2 : 1)
    attn_decode_kernel(bf16 *__restrict__ out, const float *__restrict__ q, int ldq,
                       const bf16 *__restrict__ kc, const bf16 *__restrict__ vc, int ldkv,
                       const int *__restrict__ prow, const int *__restrict__ np,
                       const int *__restrict__ srow, const int *__restrict__ ns, int nh, int group,
                       int nbatch, float scale) {
    constexpr int LPR = HD / 8, RPW = 32 / LPR, U = dec_cfg<GB>::U;
    __shared__ __align__(16) float qs[GB * HD];
    __shared__ __align__(16) float red_o[DEC_MAXW * GB * HD];
    __shared__ float red_m[DEC_MAXW * GB], red_l[DEC_MAXW * GB];

    const int i = blockIdx.x, g = blockIdx.y / nbatch, hb = blockIdx.y % nbatch;
    const int h0 = g * group + hb * GB;
    const int tid = threadIdx.x, lane = tid & 31, w = tid >> 5, nw = blockDim.x >> 5;
    const int sg = lane / LPR, li = lane % LPR, e0 = li * 8;
    const int nsg = nw * RPW, sgid = w * RPW + sg;

    for (int x = tid; x < GB * HD; x += blockDim.x)
        qs[x] = q[(size_t)i * ldq + (size_t)(h0 + x / HD) * HD + x % HD];
    __syncthreads();

    const int P = np[i], ctx = P + ns[i], pr = prow[i], sr = srow[i];
    const bf16 *kb = kc + (size_t)g * HD + e0, *vb = vc + (size_t)g * HD + e0;

    float m[GB], l[GB], o[GB][8];
#pragma unroll
    for (int hh = 0; hh < GB; hh++) {
        m[hh] = -INFINITY, l[hh] = 0.0f;
#pragma unroll
        for (int e = 0; e < 8; e++) o[hh][e] = 0.0f;
    }

    for (int j0 = 0; j0 < ctx; j0 += nsg * U) { /* the same trip count in every lane */
        float kf[U][8];
        uint4 vr[U];
        bool ok[U];
#pragma unroll
        for (int u = 0; u < U; u++) {
            const int j = j0 + u * nsg + sgid;
            ok[u] = j < ctx;
            uint4 kr = make_uint4(0u, 0u, 0u, 0u);
            vr[u] = kr;
            if (ok[u]) {
                const size_t row = (size_t)(j < P ? pr + j : sr + (j - P));
                kr = ld_bf16x8<V16>(kb + row * ldkv);
                vr[u] = ld_bf16x8<V16>(vb + row * ldkv);
            }
            bf16x8_to_f32(kf[u], kr);
        }
        /* scores: partial dots over the lane's 8 dims, summed over the row group */
        float sc[U][GB];
#pragma unroll
        for (int hh = 0; hh < GB; hh++) {
            const float4 qa = *reinterpret_cast<const float4 *>(qs + hh * HD + e0);
            const float4 qb = *reinterpret_cast<const float4 *>(qs + hh * HD + e0 + 4);
#pragma unroll
            for (int u = 0; u < U; u++) {
                float d = qa.x * kf[u][0];
                d = fmaf(qa.y, kf[u][1], d);
                d = fmaf(qa.z, kf[u][2], d);
                d = fmaf(qa.w, kf[u][3], d);
                d = fmaf(qb.x, kf[u][4], d);
                d = fmaf(qb.y, kf[u][5], d);
                d = fmaf(qb.z, kf[u][6], d);
                d = fmaf(qb.w, kf[u][7], d);
#pragma unroll
                for (int off = LPR / 2; off > 0; off >>= 1)
                    d += __shfl_xor_sync(0xffffffffu, d, off);
                sc[u][hh] = ok[u] ? d * scale : -INFINITY;
            }
        }
        /* online softmax: a new maximum rescales the running sums once per step */
#pragma unroll
        for (int hh = 0; hh < GB; hh++) {
            float cm = sc[0][hh];
#pragma unroll
            for (int u = 1; u < U; u++) cm = fmaxf(cm, sc[u][hh]);
            const float mn = fmaxf(m[hh], cm);
            if (mn == -INFINITY) continue;        /* no row yet: nothing to add */
            const float alpha = expf(m[hh] - mn); /* 0 while m is -inf */
            l[hh] *= alpha;
#pragma unroll
            for (int e = 0; e < 8; e++) o[hh][e] *= alpha;
            m[hh] = mn;
        }
#pragma unroll
        for (int u = 0; u < U; u++) {
            float vf[8];
            bf16x8_to_f32(vf, vr[u]);
#pragma unroll
            for (int hh = 0; hh < GB; hh++) {
                const float p = ok[u] ? expf(sc[u][hh] - m[hh]) : 0.0f;
                l[hh] += p;
#pragma unroll
                for (int e = 0; e < 8; e++) o[hh][e] = fmaf(p, vf[e], o[hh][e]);
            }
        }
    }

    /* merge the row groups of the warp (lanes with the same dims) */
#pragma unroll
    for (int off = LPR; off < 32; off <<= 1) {
#pragma unroll
        for (int hh = 0; hh < GB; hh++) {
            const float mo = __shfl_xor_sync(0xffffffffu, m[hh], off);
            const float lo = __shfl_xor_sync(0xffffffffu, l[hh], off);
            const float mn = fmaxf(m[hh], mo);
            const float fa = m[hh] == -INFINITY ? 0.0f : expf(m[hh] - mn);
            const float fb = mo == -INFINITY ? 0.0f : expf(mo - mn);
            l[hh] = l[hh] * fa + lo * fb;
#pragma unroll
            for (int e = 0; e < 8; e++) {
                const float oo = __shfl_xor_sync(0xffffffffu, o[hh][e], off);
                o[hh][e] = o[hh][e] * fa + oo * fb;
            }
            m[hh] = mn;
        }
    }
    if (sg == 0) {
#pragma unroll
        for (int hh = 0; hh < GB; hh++) {
#pragma unroll
            for (int e = 0; e < 8; e++) red_o[(w * GB + hh) * HD + e0 + e] = o[hh][e];
            if (li == 0) red_m[w * GB + hh] = m[hh], red_l[w * GB + hh] = l[hh];
        }
    }
    __syncthreads();

    /* merge the warps in order; the context has a row, so the maximum is finite */
    for (int x = tid; x < GB * HD; x += blockDim.x) {
        const int hh = x / HD, e = x % HD;
        float mx = -INFINITY;
        for (int w2 = 0; w2 < nw; w2++) mx = fmaxf(mx, red_m[w2 * GB + hh]);
        float sl = 0.0f, so = 0.0f;
        for (int w2 = 0; w2 < nw; w2++) {
            const float mw = red_m[w2 * GB + hh];
            const float f = mw == -INFINITY ? 0.0f : expf(mw - mx);
            sl = fmaf(red_l[w2 * GB + hh], f, sl);
            so = fmaf(red_o[(w2 * GB + hh) * HD + e], f, so);
        }
        out[(size_t)i * nh * HD + (size_t)(h0 + hh) * HD + e] = __float2bfloat16_rn(so / sl);
    }
}

template <int HD, int GB, bool V16>
static void dec_launch(bf16 *out, const float *q, int ldq, const bf16 *kc, const bf16 *vc, int ldkv,
                       const int *prow, const int *np, const int *srow, const int *ns, int n,
                       int max_ctx, int nh, int nkv, cudaStream_t st) {
    constexpr int rows_per_warp = (32 / (HD / 8)) * dec_cfg<GB>::U;
    int nw = (max_ctx + rows_per_warp - 1) / rows_per_warp;
    nw = nw < 1 ? 1 : (nw > DEC_MAXW ? DEC_MAXW : nw);
    const int group = nh / nkv, nbatch = group / GB;
    dim3 grid((unsigned)n, (unsigned)(nkv * nbatch));
    attn_decode_kernel<HD, GB, V16><<<grid, nw * 32, 0, st>>>(
        out, q, ldq, kc, vc, ldkv, prow, np, srow, ns, nh, group, nbatch, 1.0f / sqrtf((float)HD));
    CU_LAUNCHED("attn_decode_kernel");
}

template <int HD>
static void dec_dispatch(int gb, int v16, bf16 *out, const float *q, int ldq, const bf16 *kc,
                         const bf16 *vc, int ldkv, const int *prow, const int *np, const int *srow,
                         const int *ns, int n, int max_ctx, int nh, int nkv, cudaStream_t st) {
#define DEC_CASE(G)                                                                                \
    case G:                                                                                        \
        dec_launch<HD, G, true>(out, q, ldq, kc, vc, ldkv, prow, np, srow, ns, n, max_ctx, nh,     \
                                nkv, st);                                                          \
        break;
    if (!v16) {
        dec_launch<HD, 1, false>(out, q, ldq, kc, vc, ldkv, prow, np, srow, ns, n, max_ctx, nh, nkv,
                                 st);
        return;
    }
    switch (gb) {
        DEC_CASE(1)
        DEC_CASE(2)
        DEC_CASE(3)
        DEC_CASE(4)
        DEC_CASE(5)
        DEC_CASE(6)
        DEC_CASE(7)
        DEC_CASE(8)
    default:
        r1_cu_fail("cu_attention_decode", "bad head batch", __FILE__, __LINE__);
    }
#undef DEC_CASE
}

void cu_attention_decode(bf16 *out, const float *q, int ldq, const bf16 *kc, const bf16 *vc,
                         int ldkv, const int *prow, const int *np, const int *srow, const int *ns,
                         int n, int max_ctx, int nh, int nkv, int hd, cudaStream_t st) {
    if (hd != 32 && hd != 64 && hd != 128)
        r1_cu_fail("cu_attention_decode", "unsupported head_dim", __FILE__, __LINE__);
    if (nkv <= 0 || nh <= 0 || nh % nkv != 0)
        r1_cu_fail("cu_attention_decode", "nh must be a positive multiple of nkv", __FILE__,
                   __LINE__);
    if (nh > 65535)
        r1_cu_fail("cu_attention_decode", "too many heads for one grid", __FILE__, __LINE__);
    if (n <= 0) return;
    const int group = nh / nkv;
    /* 16-byte cache loads need 16-byte rows and bases; otherwise the slow path */
    const int v16 = att_aligned16(kc) && att_aligned16(vc) && ldkv % 8 == 0;
    int gb = 1; /* the largest divisor of the group up to DEC_MAXG: equal head batches */
    for (int d = DEC_MAXG; d >= 1; d--)
        if (group % d == 0) {
            gb = d;
            break;
        }
    if (hd == 32)
        dec_dispatch<32>(gb, v16, out, q, ldq, kc, vc, ldkv, prow, np, srow, ns, n, max_ctx, nh,
                         nkv, st);
    else if (hd == 64)
        dec_dispatch<64>(gb, v16, out, q, ldq, kc, vc, ldkv, prow, np, srow, ns, n, max_ctx, nh,
                         nkv, st);
    else
        dec_dispatch<128>(gb, v16, out, q, ldq, kc, vc, ldkv, prow, np, srow, ns, n, max_ctx, nh,
                          nkv, st);
}

/* ---- KV cache store ---------------------------------------------------------- */

/* kc[rows[i], j] = bf16(qkv[i, koff + j]), vc likewise from voff; one thread per (i, j). */
__global__ void kv_store_kernel(bf16 *__restrict__ kc, bf16 *__restrict__ vc, int ldkv,
                                const float *__restrict__ qkv, int ld, int koff, int voff,
                                const int *__restrict__ rows, int n, int kvd) {
    const size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (size_t)n * kvd) return;
    const int i = (int)(idx / kvd), j = (int)(idx % kvd);
    const size_t dst = (size_t)rows[i] * ldkv + j;
    const float *src = qkv + (size_t)i * ld;
    kc[dst] = __float2bfloat16_rn(src[koff + j]);
    vc[dst] = __float2bfloat16_rn(src[voff + j]);
}

void cu_kv_store(bf16 *kc, bf16 *vc, int ldkv, const float *qkv, int ld, int koff, int voff,
                 const int *rows, int n, int kvd, cudaStream_t st) {
    if (n <= 0 || kvd <= 0) return;
    const size_t total = (size_t)n * kvd;
    kv_store_kernel<<<cu_blocks(total, 256), 256, 0, st>>>(kc, vc, ldkv, qkv, ld, koff, voff, rows,
                                                           n, kvd);
    CU_LAUNCHED("kv_store_kernel");
}
