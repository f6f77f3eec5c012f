/* attention_tc.cu - the training forward and backward of causal GQA attention
 * on tensor cores (bf16 operands, float32 accumulation), FlashAttention-2
 * style, through the WMMA API (16 x 16 x 16 bf16 fragments). cuda/attention.cu
 * calls these when the mma.sync kernels (attention_mma.cu) do not take the
 * shape, or with R1_ATTN=wmma, and keeps its float32 SIMT kernels as the last
 * fallback and the reference; semantics are those of cu_ops.h.
 *
 * Tiling (head_dim HD in {64, 128}, a template parameter):
 *   - Query and key tiles of 64 rows; a block has 4 warps (128 threads), warp
 *     w owns 16 rows of the block's own tile (query rows in the forward and
 *     dQ, key rows in dK/dV).
 *   - Operand tiles live in shared memory as bf16 [64][HD + 8] (row stride
 *     HD + 8: the 8 rows a fragment load reads start in distinct bank groups),
 *     converted from float32 while staging.
 *   - Each warp has a private region: F, a float [16][68] tile where score
 *     fragments are stored so that lanes can address elements (lane l owns row
 *     l % 16 and columns 32 (l / 16) .. + 31); G, a second one (backward only);
 *     and P, a bf16 [16][72] tile holding P or dS as a matrix_a operand.
 *   - Causal structure: a query tile q0 reads key tiles 0 .. q0 / 64; in the
 *     diagonal tile (k0 == q0) a warp computes only the 16-column blocks that
 *     can hold unmasked entries; every masked entry is selected (never
 *     multiplied) to exactly 0, so stale values in F/G are harmless.
 *   - Forward: grid (query tiles, nh, n_seqs), the longest first. The warp's Q
 *     fragments stay in registers; per key tile S = Q K^T -> F, online softmax
 *     in float32 (exp2 domain) by the lanes, P -> bf16, then P V in chunks of
 *     64 columns through F, added to the lane's output rows O = alpha O + P V
 *     (registers, lane layout). Output bf16, lse = ln sum exp.
 *   - Backward (deterministic, no atomics): Dsum = rowsum(dO * out); dK/dV
 *     grid (key tiles, nkv, n_seqs), loops over the group's heads and the query
 *     tiles at or after its key tile: S^T = K_w Q^T -> F, dP^T = V_w dO^T -> G,
 *     P^T (float, in place in F; bf16 in P), dV_w += P^T dO, dS^T = P^T (dP^T -
 *     Dsum) -> P, dK_w += dS^T Q; dK/dV accumulate in fragments and are added
 *     once (dk += scale dK, dv += dV). dQ grid (query tiles, nh, n_seqs): per key
 *     tile S -> F, dP -> G, dS -> P, dQ_w += dS K; dq = scale dQ (overwritten).
 *
 * Shared memory per block (bytes, dynamic):
 *   forward  HD 64: 45056,  HD 128: 61440 (the Q staging tile aliases the warp
 *            regions: Q goes to registers before any region is written)
 *   dK/dV    HD 64: 81408,  HD 128: 114176
 *   dQ       HD 64: 80896,  HD 128: 113664
 * Registers (sm_90a, no spills): forward 178 / 168 (HD 64 / 128), dK/dV
 * 216 / 255, dQ 190 / 254.
 *
 * Measured on an H200 (nh 12, nkv 2, 8 sequences x 2048, causal; SIMT in
 * brackets): HD 128 forward 1.28 ms (3.42), backward 4.23 ms (13.9); HD 64
 * forward 0.73 ms (1.96), backward 2.69 ms (7.38). */
#include "attention_impl.h"

#include <math.h>
#include <mma.h>
#include <stdint.h>

using namespace nvcuda;

#define TC_NT    128 /* threads per block: 4 warps */
#define TC_FLD   68  /* row stride (floats) of a warp's F / G tile */
#define TC_PLD   72  /* row stride (bf16) of a warp's P tile */
#define TC_LOG2E 1.4426950408889634f
#define TC_LN2   0.6931471805599453f

template <int HD> struct tc_cfg {
    static constexpr int LDH = HD + 8;            /* bf16 row stride of a [64][HD] tile */
    static constexpr int TILE_B = 64 * LDH * 2;   /* bytes of one tile */
    static constexpr int F_B = 16 * TC_FLD * 4;   /* bytes of F (or G) */
    static constexpr int P_B = 16 * TC_PLD * 2;   /* bytes of P */
    static constexpr int FWD_REG = F_B + P_B;     /* forward warp region */
    static constexpr int BWD_REG = 2 * F_B + P_B; /* backward warp region */
    static constexpr size_t FWD_SMEM = 2 * (size_t)TILE_B + 4 * (size_t)FWD_REG;
    static constexpr size_t DKDV_SMEM = 4 * (size_t)TILE_B + 4 * (size_t)BWD_REG + 2 * 64 * 4;
    static constexpr size_t DQ_SMEM = 4 * (size_t)TILE_B + 4 * (size_t)BWD_REG;
    static_assert(HD == 64 || HD == 128, "head_dim");
    static_assert(TILE_B % 32 == 0 && F_B % 32 == 0 && P_B % 32 == 0, "fragment alignment");
    static_assert(TILE_B <= 4 * FWD_REG, "the Q staging tile fits in the warp regions");
};

typedef wmma::fragment<wmma::matrix_a, 16, 16, 16, bf16, wmma::row_major> tc_fa;
typedef wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, wmma::row_major> tc_fb_row;
typedef wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, wmma::col_major> tc_fb_col;
typedef wmma::fragment<wmma::accumulator, 16, 16, 16, float> tc_fc;

/* 16-byte shared-memory accesses of the lanes' row pieces: lane l owns row
 * l % 16 and columns 32 (l / 16) .. + 31 of a warp's F / G / P tile, so the 8
 * lanes of each quarter-warp phase touch 8 rows at bank offsets 4 r (row
 * strides 68 floats and 72 bf16): no bank conflicts. */
__device__ __forceinline__ void tc_ld4(float (&x)[4], const float *p) {
    const float4 t = *reinterpret_cast<const float4 *>(p);
    x[0] = t.x, x[1] = t.y, x[2] = t.z, x[3] = t.w;
}

__device__ __forceinline__ void tc_st4(float *p, const float (&x)[4]) {
    *reinterpret_cast<float4 *>(p) = make_float4(x[0], x[1], x[2], x[3]);
}

__device__ __forceinline__ uint32_t tc_bf2(float a, float b) {
    __nv_bfloat162 t = __floats2bfloat162_rn(a, b); /* a in the low half */
    return *reinterpret_cast<uint32_t *>(&t);
}

/* 8 floats -> 8 bf16 at p (16-byte aligned) */
__device__ __forceinline__ void tc_st8_bf16(bf16 *p, const float (&x)[8]) {
    *reinterpret_cast<uint4 *>(p) =
        make_uint4(tc_bf2(x[0], x[1]), tc_bf2(x[2], x[3]), tc_bf2(x[4], x[5]), tc_bf2(x[6], x[7]));
}

/* Rows [0, 64) of a [64][HD] float tile (global, row stride ld) into a bf16
 * tile in shared memory (row stride HD + 8); rows >= nvalid become zeros.
 * vec: src and ld allow 16-byte loads. */
template <int HD>
__device__ __forceinline__ void tc_load(bf16 *dst, const float *__restrict__ src, int ld,
                                        int nvalid, bool vec) {
    constexpr int LDH = tc_cfg<HD>::LDH;
    if (vec) {
        constexpr int C4 = HD / 4;
        static_assert((64 * C4) % TC_NT == 0, "tile load");
#pragma unroll
        for (int it = 0; it < 64 * C4 / TC_NT; it++) {
            const int idx = (int)threadIdx.x + it * TC_NT, r = idx / C4, c = (idx % C4) * 4;
            float4 x = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
            if (r < nvalid) x = __ldg(reinterpret_cast<const float4 *>(src + (size_t)r * ld + c));
            __nv_bfloat162 lo = __floats2bfloat162_rn(x.x, x.y);
            __nv_bfloat162 hi = __floats2bfloat162_rn(x.z, x.w);
            uint2 u;
            u.x = *reinterpret_cast<uint32_t *>(&lo);
            u.y = *reinterpret_cast<uint32_t *>(&hi);
            *reinterpret_cast<uint2 *>(dst + r * LDH + c) = u;
        }
    } else {
        for (int idx = (int)threadIdx.x; idx < 64 * HD; idx += TC_NT) {
            const int r = idx / HD, c = idx % HD;
            dst[r * LDH + c] = __float2bfloat16_rn(r < nvalid ? src[(size_t)r * ld + c] : 0.0f);
        }
    }
}

/* The 16 x 64 block of products A_w B^T: A_w = rows [0, 16) of a (row stride
 * LDH, HD columns), B = rows [0, 64) of b (row stride LDH); column blocks n <
 * nlo are skipped. Stored into f (row stride TC_FLD). */
template <int HD>
__device__ __forceinline__ void tc_abt(float *f, const bf16 *a, const bf16 *b, int nlo, int nhi) {
    constexpr int LDH = tc_cfg<HD>::LDH;
    tc_fc acc[4];
#pragma unroll
    for (int n = 0; n < 4; n++) wmma::fill_fragment(acc[n], 0.0f);
#pragma unroll
    for (int kk = 0; kk < HD / 16; kk++) {
        tc_fa fa;
        wmma::load_matrix_sync(fa, a + 16 * kk, LDH);
#pragma unroll
        for (int n = 0; n < 4; n++) {
            if (n < nlo || n >= nhi) continue;
            tc_fb_col fb;
            wmma::load_matrix_sync(fb, b + 16 * n * LDH + 16 * kk, LDH);
            wmma::mma_sync(acc[n], fa, fb, acc[n]);
        }
    }
#pragma unroll
    for (int n = 0; n < 4; n++)
        if (n >= nlo && n < nhi)
            wmma::store_matrix_sync(f + 16 * n, acc[n], TC_FLD, wmma::mem_row_major);
}

/* acc[n] += P (16 x 64, row stride TC_PLD; only column blocks [klo, khi)) times
 * rows [16 klo, 16 khi) of b (row stride LDH), output columns 16 n (n < HD/16). */
template <int HD>
__device__ __forceinline__ void tc_pb(tc_fc (&acc)[HD / 16], const bf16 *p, const bf16 *b, int klo,
                                      int khi) {
    constexpr int LDH = tc_cfg<HD>::LDH;
    for (int kk = klo; kk < khi; kk++) {
        tc_fa fa;
        wmma::load_matrix_sync(fa, p + 16 * kk, TC_PLD);
#pragma unroll
        for (int n = 0; n < HD / 16; n++) {
            tc_fb_row fb;
            wmma::load_matrix_sync(fb, b + 16 * kk * LDH + 16 * n, LDH);
            wmma::mma_sync(acc[n], fa, fb, acc[n]);
        }
    }
}

/* ---- forward ------------------------------------------------------------------ */

template <int HD>
__global__ void __launch_bounds__(TC_NT, HD == 128 ? 3 : 2)
    tc_fwd_kernel(float *__restrict__ out, float *__restrict__ lse, const float *__restrict__ q,
                  int ldq, const float *__restrict__ k, const float *__restrict__ v, int ldkv,
                  const int *__restrict__ start, int nh, int group, float scale_log2, int vec) {
    typedef tc_cfg<HD> C;
    constexpr int LDH = C::LDH, NCH = HD / 64;
    extern __shared__ __align__(128) unsigned char tc_smem[];
    bf16 *Ks = reinterpret_cast<bf16 *>(tc_smem);
    bf16 *Vs = reinterpret_cast<bf16 *>(tc_smem + C::TILE_B);
    unsigned char *regs = tc_smem + 2 * C::TILE_B;
    bf16 *Qs = reinterpret_cast<bf16 *>(regs); /* aliases the warp regions */

    const int s = blockIdx.z, h = blockIdx.y, qt = (int)(gridDim.x - 1 - blockIdx.x);
    const int t0 = start[s], L = start[s + 1] - t0, q0 = qt * 64;
    if (q0 >= L) return;
    const int g = h / group, tid = threadIdx.x, w = tid >> 5, lane = tid & 31;
    const int r = lane & 15, c0 = (lane >> 4) * 32, qp = q0 + 16 * w + r;
    float *Fw = reinterpret_cast<float *>(regs + w * C::FWD_REG);
    bf16 *Pw = reinterpret_cast<bf16 *>(regs + w * C::FWD_REG + C::F_B);

    tc_load<HD>(Qs, q + (size_t)(t0 + q0) * ldq + (size_t)h * HD, ldq, L - q0, vec);
    __syncthreads();
    tc_fa qf[HD / 16];
#pragma unroll
    for (int kk = 0; kk < HD / 16; kk++)
        wmma::load_matrix_sync(qf[kk], Qs + 16 * w * LDH + 16 * kk, LDH);

    const float *kg = k + (size_t)t0 * ldkv + (size_t)g * HD;
    const float *vg = v + (size_t)t0 * ldkv + (size_t)g * HD;
    float m = -INFINITY, l = 0.0f, o[NCH][32];
#pragma unroll
    for (int ch = 0; ch < NCH; ch++)
#pragma unroll
        for (int j = 0; j < 32; j++) o[ch][j] = 0.0f;

    const int kend = min(L, q0 + 64), nkt = (kend + 63) / 64;
    for (int kt = 0; kt < nkt; kt++) {
        const int k0 = kt * 64;
        __syncthreads(); /* K, V (and, first, the Q staging tile) are consumed */
        tc_load<HD>(Ks, kg + (size_t)k0 * ldkv, ldkv, L - k0, vec);
        tc_load<HD>(Vs, vg + (size_t)k0 * ldkv, ldkv, L - k0, vec);
        __syncthreads();
        const int nb = k0 == q0 ? w + 1 : 4; /* key blocks with unmasked entries */

        /* S = Q_w K^T -> F */
        {
            tc_fc acc[4];
#pragma unroll
            for (int n = 0; n < 4; n++) wmma::fill_fragment(acc[n], 0.0f);
#pragma unroll
            for (int kk = 0; kk < HD / 16; kk++) {
#pragma unroll
                for (int n = 0; n < 4; n++) {
                    if (n >= nb) continue;
                    tc_fb_col fb;
                    wmma::load_matrix_sync(fb, Ks + 16 * n * LDH + 16 * kk, LDH);
                    wmma::mma_sync(acc[n], qf[kk], fb, acc[n]);
                }
            }
#pragma unroll
            for (int n = 0; n < 4; n++)
                if (n < nb)
                    wmma::store_matrix_sync(Fw + 16 * n, acc[n], TC_FLD, wmma::mem_row_major);
        }
        __syncwarp();

        /* online softmax of row r (this lane: columns c0 .. c0 + 31), exp2 domain.
         * Key k0 <= q0 <= qp is unmasked in every row, so the new maximum is
         * finite; alpha = exp2(-inf) = 0 on the first tile. */
        float sv[32], mx = -INFINITY;
#pragma unroll
        for (int j = 0; j < 32; j += 4) {
            float x[4];
            tc_ld4(x, Fw + r * TC_FLD + c0 + j);
#pragma unroll
            for (int e = 0; e < 4; e++) {
                const int kp = k0 + c0 + j + e;
                sv[j + e] = kp <= qp ? x[e] * scale_log2 : -INFINITY;
                mx = fmaxf(mx, sv[j + e]);
            }
        }
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 16)); /* the row's other half */
        const float mn = fmaxf(m, mx), alpha = exp2f(m - mn);
        float ps = 0.0f;
#pragma unroll
        for (int j = 0; j < 32; j += 8) {
            float p[8];
#pragma unroll
            for (int e = 0; e < 8; e++) {
                p[e] = exp2f(sv[j + e] - mn);
                ps += p[e];
            }
            tc_st8_bf16(Pw + r * TC_PLD + c0 + j, p);
        }
        l = l * alpha + ps; /* this lane's share of the row sum */
        m = mn;
        __syncwarp();

        /* O = alpha O + P V, 64 output columns at a time through F */
#pragma unroll
        for (int ch = 0; ch < NCH; ch++) {
            tc_fc acc[4];
#pragma unroll
            for (int n = 0; n < 4; n++) wmma::fill_fragment(acc[n], 0.0f);
            for (int kk = 0; kk < nb; kk++) {
                tc_fa fa;
                wmma::load_matrix_sync(fa, Pw + 16 * kk, TC_PLD);
#pragma unroll
                for (int n = 0; n < 4; n++) {
                    tc_fb_row fb;
                    wmma::load_matrix_sync(fb, Vs + 16 * kk * LDH + 64 * ch + 16 * n, LDH);
                    wmma::mma_sync(acc[n], fa, fb, acc[n]);
                }
            }
#pragma unroll
            for (int n = 0; n < 4; n++)
                wmma::store_matrix_sync(Fw + 16 * n, acc[n], TC_FLD, wmma::mem_row_major);
            __syncwarp();
#pragma unroll
            for (int j = 0; j < 32; j += 4) {
                float x[4];
                tc_ld4(x, Fw + r * TC_FLD + c0 + j);
#pragma unroll
                for (int e = 0; e < 4; e++) o[ch][j + e] = fmaf(o[ch][j + e], alpha, x[e]);
            }
            __syncwarp();
        }
    }

    const float lt = l + __shfl_xor_sync(0xffffffffu, l, 16);
    if (qp < L) {
        const float inv = 1.0f / lt;
        float *orow = out + (size_t)(t0 + qp) * nh * HD + (size_t)h * HD;
#pragma unroll
        for (int ch = 0; ch < NCH; ch++)
#pragma unroll
            for (int j = 0; j < 32; j += 2)
                *reinterpret_cast<float2 *>(orow + 64 * ch + c0 + j) =
                    make_float2(o[ch][j] * inv, o[ch][j + 1] * inv);
        if (c0 == 0) lse[(size_t)(t0 + qp) * nh + h] = (m + log2f(lt)) * TC_LN2;
    }
}

/* ---- backward ----------------------------------------------------------------- */

/* Rows [0, 16) x HD of the fragments acc (through the warp's F tile, 64 columns
 * at a time) into dst rows row0 + i < nvalid (row stride ld): dst = s x (add =
 * false) or dst += s x (add = true). */
template <int HD>
__device__ __forceinline__ void tc_store_rows(float *__restrict__ dst, size_t ld, int nvalid,
                                              const tc_fc (&acc)[HD / 16], float *Fw, float sc,
                                              bool add, int lane) {
#pragma unroll
    for (int ch = 0; ch < HD / 64; ch++) {
        __syncwarp();
#pragma unroll
        for (int n = 0; n < 4; n++)
            wmma::store_matrix_sync(Fw + 16 * n, acc[4 * ch + n], TC_FLD, wmma::mem_row_major);
        __syncwarp();
        for (int i = 0; i < 16 && i < nvalid; i++) {
            float *row = dst + (size_t)i * ld + 64 * ch;
#pragma unroll
            for (int c = lane; c < 64; c += 32) {
                const float x = sc * Fw[i * TC_FLD + c];
                if (add)
                    row[c] += x;
                else
                    row[c] = x;
            }
        }
    }
}

/* One block: key tile kt of KV head g of sequence s. */
template <int HD>
__global__ void __launch_bounds__(TC_NT, 2)
    tc_bwd_dkdv_kernel(float *__restrict__ dk, float *__restrict__ dv, int ldd,
                       const float *__restrict__ dout, const float *__restrict__ lse,
                       const float *__restrict__ dsum, const float *__restrict__ q, int ldq,
                       const float *__restrict__ k, const float *__restrict__ v, int ldkv,
                       const int *__restrict__ start, int nh, int group, float scale, int vec) {
    typedef tc_cfg<HD> C;
    constexpr int LDH = C::LDH;
    extern __shared__ __align__(128) unsigned char tc_smem[];
    bf16 *Ks = reinterpret_cast<bf16 *>(tc_smem);
    bf16 *Vs = reinterpret_cast<bf16 *>(tc_smem + C::TILE_B);
    bf16 *Qs = reinterpret_cast<bf16 *>(tc_smem + 2 * C::TILE_B);
    bf16 *Os = reinterpret_cast<bf16 *>(tc_smem + 3 * C::TILE_B); /* dO */
    unsigned char *regs = tc_smem + 4 * C::TILE_B;
    float *ls = reinterpret_cast<float *>(regs + 4 * C::BWD_REG); /* log2e lse of the query rows */
    float *ds = ls + 64;                                          /* Dsum of the query rows */

    const int s = blockIdx.z, g = blockIdx.y, kt = blockIdx.x;
    const int t0 = start[s], L = start[s + 1] - t0, k0 = kt * 64;
    if (k0 >= L) return;
    const int tid = threadIdx.x, w = tid >> 5, lane = tid & 31, ldo = nh * HD;
    const int r = lane & 15, c0 = (lane >> 4) * 32, kp = k0 + 16 * w + r;
    float *Fw = reinterpret_cast<float *>(regs + w * C::BWD_REG);
    float *Gw = reinterpret_cast<float *>(regs + w * C::BWD_REG + C::F_B);
    bf16 *Pw = reinterpret_cast<bf16 *>(regs + w * C::BWD_REG + 2 * C::F_B);
    const float scale_log2 = scale * TC_LOG2E;

    tc_load<HD>(Ks, k + (size_t)(t0 + k0) * ldkv + (size_t)g * HD, ldkv, L - k0, vec);
    tc_load<HD>(Vs, v + (size_t)(t0 + k0) * ldkv + (size_t)g * HD, ldkv, L - k0, vec);

    tc_fc dKf[HD / 16], dVf[HD / 16];
#pragma unroll
    for (int n = 0; n < HD / 16; n++)
        wmma::fill_fragment(dKf[n], 0.0f), wmma::fill_fragment(dVf[n], 0.0f);

    const int nqt = (L + 63) / 64;
    for (int hh = 0; hh < group; hh++) {
        const int h = g * group + hh;
        for (int qt = kt; qt < nqt; qt++) {
            const int q0 = qt * 64;
            __syncthreads(); /* the previous tile's Q, dO, lse, Dsum are consumed */
            tc_load<HD>(Qs, q + (size_t)(t0 + q0) * ldq + (size_t)h * HD, ldq, L - q0, vec);
            tc_load<HD>(Os, dout + (size_t)(t0 + q0) * ldo + (size_t)h * HD, ldo, L - q0, vec);
            if (tid < 64) {
                const int qp = q0 + tid;
                ls[tid] = qp < L ? lse[(size_t)(t0 + qp) * nh + h] * TC_LOG2E : 0.0f;
                ds[tid] = qp < L ? dsum[(size_t)(t0 + qp) * nh + h] : 0.0f;
            }
            __syncthreads();
            /* query blocks with unmasked entries for this warp's keys */
            const int nlo = q0 == k0 ? w : 0;

            tc_abt<HD>(Fw, Ks + 16 * w * LDH, Qs, nlo, 4); /* S^T */
            tc_abt<HD>(Gw, Vs + 16 * w * LDH, Os, nlo, 4); /* dP^T */
            __syncwarp();
#pragma unroll
            for (int j = 0; j < 32; j += 8) { /* P^T: float in place in F, bf16 in P */
                float p[8];
#pragma unroll
                for (int e4 = 0; e4 < 8; e4 += 4) {
                    float x[4], y[4];
                    tc_ld4(x, Fw + r * TC_FLD + c0 + j + e4);
#pragma unroll
                    for (int e = 0; e < 4; e++) {
                        const int c = c0 + j + e4 + e, qp = q0 + c;
                        const bool ok = kp <= qp && qp < L;
                        y[e] = ok ? exp2f(x[e] * scale_log2 - ls[c]) : 0.0f;
                        p[e4 + e] = y[e];
                    }
                    tc_st4(Fw + r * TC_FLD + c0 + j + e4, y);
                }
                tc_st8_bf16(Pw + r * TC_PLD + c0 + j, p);
            }
            __syncwarp();
            tc_pb<HD>(dVf, Pw, Os, nlo, 4); /* dV_w += P^T dO */
            __syncwarp();
#pragma unroll
            for (int j = 0; j < 32; j += 8) { /* dS^T = P^T (dP^T - Dsum) in P */
                float d[8];
#pragma unroll
                for (int e4 = 0; e4 < 8; e4 += 4) {
                    float x[4], y[4];
                    tc_ld4(x, Fw + r * TC_FLD + c0 + j + e4);
                    tc_ld4(y, Gw + r * TC_FLD + c0 + j + e4);
#pragma unroll
                    for (int e = 0; e < 4; e++) {
                        const int c = c0 + j + e4 + e, qp = q0 + c;
                        const bool ok = kp <= qp && qp < L;
                        d[e4 + e] = ok ? x[e] * (y[e] - ds[c]) : 0.0f;
                    }
                }
                tc_st8_bf16(Pw + r * TC_PLD + c0 + j, d);
            }
            __syncwarp();
            tc_pb<HD>(dKf, Pw, Qs, nlo, 4); /* dK_w += dS^T Q */
        }
    }

    const int nvalid = L - (k0 + 16 * w);
    const size_t row0 = (size_t)(t0 + k0 + 16 * w) * ldd + (size_t)g * HD;
    tc_store_rows<HD>(dk + row0, (size_t)ldd, nvalid, dKf, Fw, scale, true, lane);
    tc_store_rows<HD>(dv + row0, (size_t)ldd, nvalid, dVf, Fw, 1.0f, true, lane);
}

/* One block: query tile qt of head h of sequence s (the longest first). */
template <int HD>
__global__ void __launch_bounds__(TC_NT, 2)
    tc_bwd_dq_kernel(float *__restrict__ dq, int ldd, const float *__restrict__ dout,
                     const float *__restrict__ lse, const float *__restrict__ dsum,
                     const float *__restrict__ q, int ldq, const float *__restrict__ k,
                     const float *__restrict__ v, int ldkv, const int *__restrict__ start, int nh,
                     int group, float scale, int vec) {
    typedef tc_cfg<HD> C;
    constexpr int LDH = C::LDH;
    extern __shared__ __align__(128) unsigned char tc_smem[];
    bf16 *Qs = reinterpret_cast<bf16 *>(tc_smem);
    bf16 *Os = reinterpret_cast<bf16 *>(tc_smem + C::TILE_B); /* dO */
    bf16 *Ks = reinterpret_cast<bf16 *>(tc_smem + 2 * C::TILE_B);
    bf16 *Vs = reinterpret_cast<bf16 *>(tc_smem + 3 * C::TILE_B);
    unsigned char *regs = tc_smem + 4 * C::TILE_B;

    const int s = blockIdx.z, h = blockIdx.y, qt = (int)(gridDim.x - 1 - blockIdx.x);
    const int t0 = start[s], L = start[s + 1] - t0, q0 = qt * 64;
    if (q0 >= L) return;
    const int g = h / group, tid = threadIdx.x, w = tid >> 5, lane = tid & 31, ldo = nh * HD;
    const int r = lane & 15, c0 = (lane >> 4) * 32, qp = q0 + 16 * w + r;
    float *Fw = reinterpret_cast<float *>(regs + w * C::BWD_REG);
    float *Gw = reinterpret_cast<float *>(regs + w * C::BWD_REG + C::F_B);
    bf16 *Pw = reinterpret_cast<bf16 *>(regs + w * C::BWD_REG + 2 * C::F_B);
    const float scale_log2 = scale * TC_LOG2E;

    tc_load<HD>(Qs, q + (size_t)(t0 + q0) * ldq + (size_t)h * HD, ldq, L - q0, vec);
    tc_load<HD>(Os, dout + (size_t)(t0 + q0) * ldo + (size_t)h * HD, ldo, L - q0, vec);
    const float lr = qp < L ? lse[(size_t)(t0 + qp) * nh + h] * TC_LOG2E : 0.0f;
    const float dr = qp < L ? dsum[(size_t)(t0 + qp) * nh + h] : 0.0f;
    const float *kg = k + (size_t)t0 * ldkv + (size_t)g * HD;
    const float *vg = v + (size_t)t0 * ldkv + (size_t)g * HD;

    tc_fc dQf[HD / 16];
#pragma unroll
    for (int n = 0; n < HD / 16; n++) wmma::fill_fragment(dQf[n], 0.0f);

    const int kend = min(L, q0 + 64), nkt = (kend + 63) / 64;
    for (int kt = 0; kt < nkt; kt++) {
        const int k0 = kt * 64;
        __syncthreads(); /* the previous K, V are consumed (first: Q, dO are staged) */
        tc_load<HD>(Ks, kg + (size_t)k0 * ldkv, ldkv, L - k0, vec);
        tc_load<HD>(Vs, vg + (size_t)k0 * ldkv, ldkv, L - k0, vec);
        __syncthreads();
        const int nb = k0 == q0 ? w + 1 : 4; /* key blocks with unmasked entries */

        tc_abt<HD>(Fw, Qs + 16 * w * LDH, Ks, 0, nb); /* S */
        tc_abt<HD>(Gw, Os + 16 * w * LDH, Vs, 0, nb); /* dP */
        __syncwarp();
#pragma unroll
        for (int j = 0; j < 32; j += 8) { /* dS = P (dP - Dsum) in P */
            float d[8];
#pragma unroll
            for (int e4 = 0; e4 < 8; e4 += 4) {
                float x[4], y[4];
                tc_ld4(x, Fw + r * TC_FLD + c0 + j + e4);
                tc_ld4(y, Gw + r * TC_FLD + c0 + j + e4);
#pragma unroll
                for (int e = 0; e < 4; e++) {
                    const int kp = k0 + c0 + j + e4 + e;
                    const bool ok = kp <= qp && qp < L;
                    const float p = ok ? exp2f(x[e] * scale_log2 - lr) : 0.0f;
                    d[e4 + e] = ok ? p * (y[e] - dr) : 0.0f;
                }
            }
            tc_st8_bf16(Pw + r * TC_PLD + c0 + j, d);
        }
        __syncwarp();
        tc_pb<HD>(dQf, Pw, Ks, 0, nb); /* dQ_w += dS K */
    }

    const int nvalid = L - (q0 + 16 * w);
    tc_store_rows<HD>(dq + (size_t)(t0 + q0 + 16 * w) * ldd + (size_t)h * HD, (size_t)ldd, nvalid,
                      dQf, Fw, scale, false, lane);
}

/* ---- host side ------------------------------------------------------------------ */

template <int HD>
static int tc_fwd_launch(float *out, float *lse, const float *q, int ldq, const float *k,
                         const float *v, int ldkv, CuSeqs s, int nh, int nkv, int vec,
                         cudaStream_t st) {
    const size_t smem = tc_cfg<HD>::FWD_SMEM;
    if (!att_tc_ready((const void *)tc_fwd_kernel<HD>, smem)) return 0;
    dim3 grid((unsigned)((s.max_len + 63) / 64), (unsigned)nh, (unsigned)s.n_seqs);
    tc_fwd_kernel<HD><<<grid, TC_NT, smem, st>>>(out, lse, q, ldq, k, v, ldkv, s.start, nh,
                                                 nh / nkv, TC_LOG2E / sqrtf((float)HD), vec);
    CU_LAUNCHED("tc_fwd_kernel");
    return 1;
}

/* Returns 0 (having launched nothing) when the shape or the GPU is not
 * supported; the caller then runs the SIMT kernels. The caller has checked the
 * shape (att_check) and that there is work. */
extern "C" int cu_attention_tc_fwd(float *out, float *lse, const float *q, int ldq, const float *k,
                                   const float *v, int ldkv, CuSeqs s, int nh, int nkv, int hd,
                                   cudaStream_t st) {
    if ((hd != 64 && hd != 128) || nkv <= 0 || nh <= 0 || nh % nkv != 0) return 0;
    if (((uintptr_t)out & 7) != 0) return 0;
    const int vec =
        att_aligned16(q) && att_aligned16(k) && att_aligned16(v) && ldq % 4 == 0 && ldkv % 4 == 0;
    if (hd == 64) return tc_fwd_launch<64>(out, lse, q, ldq, k, v, ldkv, s, nh, nkv, vec, st);
    return tc_fwd_launch<128>(out, lse, q, ldq, k, v, ldkv, s, nh, nkv, vec, st);
}

template <int HD>
static int tc_bwd_launch(float *dq, float *dk, float *dv, int ldd, const float *dout,
                         const float *out, const float *lse, const float *q, int ldq,
                         const float *k, const float *v, int ldkv, CuSeqs s, int nh, int nkv,
                         float *dsum, int vec, cudaStream_t st) {
    const size_t smem_kv = tc_cfg<HD>::DKDV_SMEM, smem_q = tc_cfg<HD>::DQ_SMEM;
    if (!att_tc_ready((const void *)tc_bwd_dkdv_kernel<HD>, smem_kv) ||
        !att_tc_ready((const void *)tc_bwd_dq_kernel<HD>, smem_q))
        return 0;
    const float scale = 1.0f / sqrtf((float)HD);
    const unsigned ntiles = (unsigned)((s.max_len + 63) / 64);

    const size_t rows = (size_t)s.T * nh;       /* (t, h) pairs, one warp each */
    att_dsum(dsum, dout, out, rows, HD, 1, st); /* dP reads dO as bf16 */

    tc_bwd_dkdv_kernel<HD><<<dim3(ntiles, (unsigned)nkv, (unsigned)s.n_seqs), TC_NT, smem_kv, st>>>(
        dk, dv, ldd, dout, lse, dsum, q, ldq, k, v, ldkv, s.start, nh, nh / nkv, scale, vec);
    CU_LAUNCHED("tc_bwd_dkdv_kernel");

    tc_bwd_dq_kernel<HD><<<dim3(ntiles, (unsigned)nh, (unsigned)s.n_seqs), TC_NT, smem_q, st>>>(
        dq, ldd, dout, lse, dsum, q, ldq, k, v, ldkv, s.start, nh, nh / nkv, scale, vec);
    CU_LAUNCHED("tc_bwd_dq_kernel");
    return 1;
}

/* As cu_attention_tc_fwd: 0 (nothing launched) when unsupported. scratch holds
 * Dsum (cu_attention_bwd_scratch(T, nh) floats). */
extern "C" int cu_attention_tc_bwd(float *dq, float *dk, float *dv, int ldd, const float *dout,
                                   const float *out, const float *lse, const float *q, int ldq,
                                   const float *k, const float *v, int ldkv, CuSeqs s, int nh,
                                   int nkv, int hd, float *scratch, cudaStream_t st) {
    if ((hd != 64 && hd != 128) || nkv <= 0 || nh <= 0 || nh % nkv != 0) return 0;
    const int vec = att_aligned16(q) && att_aligned16(k) && att_aligned16(v) &&
                    att_aligned16(dout) && ldq % 4 == 0 && ldkv % 4 == 0;
    if (hd == 64)
        return tc_bwd_launch<64>(dq, dk, dv, ldd, dout, out, lse, q, ldq, k, v, ldkv, s, nh, nkv,
                                 scratch, vec, st);
    return tc_bwd_launch<128>(dq, dk, dv, ldd, dout, out, lse, q, ldq, k, v, ldkv, s, nh, nkv,
                              scratch, vec, st);
}
