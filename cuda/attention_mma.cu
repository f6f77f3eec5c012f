/* attention_mma.cu - the training forward and backward of causal GQA attention
 * on tensor cores through inline PTX (mma.sync.m16n8k16 bf16 -> float32,
 * ldmatrix / ldmatrix.trans), FlashAttention-2 style: the score-sized
 * intermediates (S, P, dP, dS) never leave registers. cuda/attention.cu calls
 * these first (R1_ATTN unset or "mma"), then the WMMA kernels of
 * attention_tc.cu, then its float32 SIMT kernels; semantics are those of
 * cu_ops.h.
 *
 * Fragment layouts (PTX ISA, mma.m16n8k16 .bf16; g = lane / 4, t = lane % 4):
 *   A 16 x 16 (row): a0 = (g, 2t..2t+1), a1 = (g+8, 2t..), a2 = (g, 2t+8..),
 *                    a3 = (g+8, 2t+8..);
 *   B 16 x 8  (col): b0 = (k 2t..2t+1, n g), b1 = (k 2t+8.., n g);
 *   C 16 x 8 float:  c0, c1 = (g, 2t..2t+1), c2, c3 = (g+8, 2t..2t+1).
 * So the C fragments of two adjacent 8-column blocks j = 2kk, 2kk+1 are,
 * packed to bf16 pairs, exactly the A fragment of the 16-column block kk:
 * P = exp(S) (and dS) feed the next product straight from the accumulators.
 * ldmatrix.x4: lanes 8i .. 8i+7 address the 8 rows of matrix i; lane l gets
 * row l / 4, elements 2(l % 4), +1 (with .trans: elements (2(l % 4), l / 4)
 * and (2(l % 4) + 1, l / 4)). Row-major tiles in shared memory give A
 * (Q, K_w, dO_w) and B for X Y^T (K, V, Q, dO rows) without .trans, and B for
 * P V, dS K, P^T dO, dS^T Q (rows = the reduction index) with .trans.
 *
 * Tiling (head_dim HD in {64, 128}, a template parameter):
 *   - 4 warps (128 threads); query and key tiles of 64 rows; warp w owns 16
 *     rows of the block's own tile (queries in the forward and dQ, keys in
 *     dK/dV). Each thread holds two of them: 16 w + g and 16 w + g + 8.
 *   - Operand tiles in shared memory as bf16 [64][HD + 8] (row stride HD + 8:
 *     the 8 rows of an ldmatrix phase start 16 bytes apart modulo 128, so
 *     no bank conflicts), converted from float32 while staging.
 *   - Causal structure: a query tile q0 reads key tiles 0 .. q0 / 64; in the
 *     diagonal tile the blocks that hold only masked entries are skipped
 *     (forward: 8-key blocks; backward: 32-row halves); every masked entry is
 *     selected (never multiplied) to exactly 0.
 *   - Forward: grid (query tiles, nh, n_seqs), the longest first. Q fragments
 *     in registers; per key tile S = Q K^T (accumulators), online softmax in
 *     the exp2 domain on the accumulator layout (row max / sum over the quad
 *     by shuffles), P -> bf16 A fragments, O = alpha O + P V (accumulators).
 *   - Backward (deterministic, no atomics): Dsum = rowsum(dO * out); dK/dV
 *     grid (key tiles, nkv, n_seqs) loops over the group's heads and the query
 *     tiles at or after its key tile, 32 queries at a time: S^T = K_w Q^T,
 *     dP^T = V_w dO^T, P^T, dS^T = P^T (dP^T - Dsum) in registers, dV_w +=
 *     P^T dO, dK_w += dS^T Q; added once into dk (times scale) and dv. dQ grid
 *     (query tiles, nh, n_seqs) loops over its key tiles, 32 keys at a time:
 *     S, dP, dS in registers, dQ_w += dS K; dq = scale dQ (overwritten).
 *
 * Shared memory per block (bytes, dynamic): forward 2 tiles (K, V; Q is staged
 * in K's place before the loop) HD 64: 18432, HD 128: 34816; dK/dV 4 tiles +
 * 512 (HD 64: 37376, HD 128: 70144); dQ 4 tiles (HD 64: 36864, HD 128: 69632).
 * Registers (sm_90a, no spills; HD 64 / 128): forward 143 / 228 (3 / 2 blocks
 * per SM), dK/dV 191 / 255, dQ 146 / 253 (2 blocks per SM). */
#include "attention_impl.h"

#include <math.h>
#include <stdint.h>

#define MMA_NT    128 /* threads per block: 4 warps */
#define MMA_LOG2E 1.4426950408889634f
#define MMA_LN2   0.6931471805599453f

template <int HD> struct mma_cfg {
    static constexpr int LDH = HD + 8;                 /* bf16 row stride of a [64][HD] tile */
    static constexpr int TILE = 64 * LDH;              /* bf16 elements of one tile */
    static constexpr size_t TILE_B = 2 * (size_t)TILE; /* bytes of one tile */
    static constexpr size_t FWD_SMEM = 2 * TILE_B;
    static constexpr size_t DKDV_SMEM = 4 * TILE_B + 2 * 64 * sizeof(float);
    static constexpr size_t DQ_SMEM = 4 * TILE_B;
    static_assert(HD == 64 || HD == 128, "head_dim");
};

/* ---- PTX wrappers (begin) ---- */

__device__ __forceinline__ uint32_t mma_saddr(const void *p) {
    return (uint32_t)__cvta_generic_to_shared(p);
}

/* Four 8 x 8 bf16 matrices; lane 8 i + r gives the address of row r of matrix i. */
__device__ __forceinline__ void ldsm_x4(uint32_t (&r)[4], const bf16 *p) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(mma_saddr(p)));
}

/* As ldsm_x4, each matrix transposed. */
__device__ __forceinline__ void ldsm_x4_t(uint32_t (&r)[4], const bf16 *p) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(mma_saddr(p)));
}

/* d += A B (16 x 16 times 16 x 8, bf16 operands, float32 accumulators). */
__device__ __forceinline__ void mma_bf16(float (&d)[4], const uint32_t (&a)[4], uint32_t b0,
                                         uint32_t b1) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, "
                 "{%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

/* ---- PTX wrappers (end) ---- */

__device__ __forceinline__ uint32_t mma_pack(float lo, float hi) {
    __nv_bfloat162 t = __floats2bfloat162_rn(lo, hi); /* lo in the low half */
    return *reinterpret_cast<uint32_t *>(&t);
}

/* The A fragments of a 16 x 32 block from the C fragments of its four 8-column
 * blocks (see the layouts above). */
__device__ __forceinline__ void mma_c_to_a(uint32_t (&a)[2][4], const float (&c)[4][4]) {
#pragma unroll
    for (int kk = 0; kk < 2; kk++) {
        a[kk][0] = mma_pack(c[2 * kk][0], c[2 * kk][1]);
        a[kk][1] = mma_pack(c[2 * kk][2], c[2 * kk][3]);
        a[kk][2] = mma_pack(c[2 * kk + 1][0], c[2 * kk + 1][1]);
        a[kk][3] = mma_pack(c[2 * kk + 1][2], c[2 * kk + 1][3]);
    }
}

template <int N> __device__ __forceinline__ void mma_zero(float (&c)[N][4]) {
#pragma unroll
    for (int n = 0; n < N; n++) c[n][0] = c[n][1] = c[n][2] = c[n][3] = 0.0f;
}

/* Rows [0, 64) of a [64][HD] float tile (global, row stride ld) into a bf16
 * tile in shared memory (row stride HD + 8); rows >= nvalid become zeros.
 * vec: src and ld allow 16-byte loads. */
template <int HD>
__device__ __forceinline__ void mma_stage(bf16 *dst, const float *__restrict__ src, int ld,
                                          int nvalid, bool vec) {
    constexpr int LDH = mma_cfg<HD>::LDH;
    if (vec) {
        constexpr int C4 = HD / 4;
        static_assert((64 * C4) % MMA_NT == 0, "tile load");
#pragma unroll
        for (int it = 0; it < 64 * C4 / MMA_NT; it++) {
            const int idx = (int)threadIdx.x + it * MMA_NT, r = idx / C4, c = (idx % C4) * 4;
            float4 x = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
            if (r < nvalid) x = __ldg(reinterpret_cast<const float4 *>(src + (size_t)r * ld + c));
            uint2 u;
            u.x = mma_pack(x.x, x.y);
            u.y = mma_pack(x.z, x.w);
            *reinterpret_cast<uint2 *>(dst + r * LDH + c) = u;
        }
    } else {
        for (int idx = (int)threadIdx.x; idx < 64 * HD; idx += MMA_NT) {
            const int r = idx / HD, c = idx % HD;
            dst[r * LDH + c] = __float2bfloat16_rn(r < nvalid ? src[(size_t)r * ld + c] : 0.0f);
        }
    }
}

/* ---- forward ------------------------------------------------------------------ */

/* One block: query tile qt of head h of sequence s (the longest tiles first). */
template <int HD>
__global__ void __launch_bounds__(MMA_NT, HD == 128 ? 2 : 3)
    mma_fwd_kernel(float *__restrict__ out, float *__restrict__ lse, const float *__restrict__ q,
                   int ldq, const float *__restrict__ k, const float *__restrict__ v, int ldkv,
                   const int *__restrict__ start, int nh, int group, float scale_log2, int vec) {
    constexpr int LDH = mma_cfg<HD>::LDH, KD = HD / 16, ND = HD / 8;
    extern __shared__ __align__(128) unsigned char mma_smem[];
    bf16 *Ks = reinterpret_cast<bf16 *>(mma_smem); /* first the Q staging tile */
    bf16 *Vs = Ks + mma_cfg<HD>::TILE;

    const int s = blockIdx.z, h = blockIdx.y, qt = (int)(gridDim.x - 1 - blockIdx.x);
    const int t0 = start[s], L = start[s + 1] - t0, q0 = qt * 64;
    if (q0 >= L) return;
    const int g = h / group, tid = threadIdx.x, w = tid >> 5, lane = tid & 31;
    const int gr = lane >> 2, tq = lane & 3, lr = lane & 7, lm = lane >> 3;
    const int qp0 = q0 + 16 * w + gr, qp1 = qp0 + 8;

    mma_stage<HD>(Ks, q + (size_t)(t0 + q0) * ldq + (size_t)h * HD, ldq, L - q0, vec);
    __syncthreads();
    uint32_t qf[KD][4];
#pragma unroll
    for (int kk = 0; kk < KD; kk++)
        ldsm_x4(qf[kk], Ks + (16 * w + (lm & 1) * 8 + lr) * LDH + 16 * kk + (lm >> 1) * 8);

    const float *kg = k + (size_t)t0 * ldkv + (size_t)g * HD;
    const float *vg = v + (size_t)t0 * ldkv + (size_t)g * HD;
    float o[ND][4];
    mma_zero<ND>(o);
    float m0 = -INFINITY, m1 = -INFINITY, l0 = 0.0f, l1 = 0.0f;

    const int kend = min(L, q0 + 64), nkt = (kend + 63) / 64;
    for (int kt = 0; kt < nkt; kt++) {
        const int k0 = kt * 64;
        __syncthreads(); /* K, V (and, first, the Q staging tile) are consumed */
        mma_stage<HD>(Ks, kg + (size_t)k0 * ldkv, ldkv, L - k0, vec);
        mma_stage<HD>(Vs, vg + (size_t)k0 * ldkv, ldkv, L - k0, vec);
        __syncthreads();
        const bool diag = k0 == q0;
        const int nb = diag ? 2 * w + 2 : 8; /* 8-key blocks with unmasked entries (even) */

        /* S = Q_w K^T: 16 x 64 in 8 blocks of 8 keys */
        float sc[8][4];
        mma_zero<8>(sc);
#pragma unroll
        for (int kk = 0; kk < KD; kk++) {
#pragma unroll
            for (int jp = 0; jp < 4; jp++) {
                if (2 * jp >= nb) continue;
                uint32_t b[4];
                ldsm_x4(b, Ks + (16 * jp + (lm >> 1) * 8 + lr) * LDH + 16 * kk + (lm & 1) * 8);
                mma_bf16(sc[2 * jp], qf[kk], b[0], b[1]);
                mma_bf16(sc[2 * jp + 1], qf[kk], b[2], b[3]);
            }
        }

        /* online softmax of rows qp0 (c0, c1) and qp1 (c2, c3), exp2 domain. Key
         * k0 <= q0 is unmasked in every row, so the new maxima are finite;
         * alpha = exp2(-inf) = 0 on the first tile. Blocks past nb hold zeros,
         * all masked. */
        float mx0 = -INFINITY, mx1 = -INFINITY;
#pragma unroll
        for (int j = 0; j < 8; j++)
#pragma unroll
            for (int e = 0; e < 2; e++) {
                const int kp = k0 + 8 * j + 2 * tq + e;
                sc[j][e] = diag && kp > qp0 ? -INFINITY : sc[j][e] * scale_log2;
                sc[j][2 + e] = diag && kp > qp1 ? -INFINITY : sc[j][2 + e] * scale_log2;
                mx0 = fmaxf(mx0, sc[j][e]);
                mx1 = fmaxf(mx1, sc[j][2 + e]);
            }
        mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 1));
        mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 2));
        mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 1));
        mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 2));
        const float mn0 = fmaxf(m0, mx0), mn1 = fmaxf(m1, mx1);
        const float a0 = exp2f(m0 - mn0), a1 = exp2f(m1 - mn1);
        m0 = mn0, m1 = mn1;
        float ps0 = 0.0f, ps1 = 0.0f;
#pragma unroll
        for (int j = 0; j < 8; j++)
#pragma unroll
            for (int e = 0; e < 2; e++) {
                sc[j][e] = exp2f(sc[j][e] - mn0);
                sc[j][2 + e] = exp2f(sc[j][2 + e] - mn1);
                ps0 += sc[j][e];
                ps1 += sc[j][2 + e];
            }
        l0 = l0 * a0 + ps0; /* this thread's share of the row sums */
        l1 = l1 * a1 + ps1;
#pragma unroll
        for (int n = 0; n < ND; n++) {
            o[n][0] *= a0, o[n][1] *= a0;
            o[n][2] *= a1, o[n][3] *= a1;
        }

        /* O += P V: P's A fragments straight from the accumulators */
        uint32_t pa[4][4];
#pragma unroll
        for (int kk = 0; kk < 4; kk++) {
            pa[kk][0] = mma_pack(sc[2 * kk][0], sc[2 * kk][1]);
            pa[kk][1] = mma_pack(sc[2 * kk][2], sc[2 * kk][3]);
            pa[kk][2] = mma_pack(sc[2 * kk + 1][0], sc[2 * kk + 1][1]);
            pa[kk][3] = mma_pack(sc[2 * kk + 1][2], sc[2 * kk + 1][3]);
        }
#pragma unroll
        for (int kk = 0; kk < 4; kk++) {
            if (2 * kk >= nb) continue;
#pragma unroll
            for (int np = 0; np < KD; np++) {
                uint32_t b[4];
                ldsm_x4_t(b, Vs + (16 * kk + (lm & 1) * 8 + lr) * LDH + 16 * np + (lm >> 1) * 8);
                mma_bf16(o[2 * np], pa[kk], b[0], b[1]);
                mma_bf16(o[2 * np + 1], pa[kk], b[2], b[3]);
            }
        }
    }

    l0 += __shfl_xor_sync(0xffffffffu, l0, 1);
    l0 += __shfl_xor_sync(0xffffffffu, l0, 2);
    l1 += __shfl_xor_sync(0xffffffffu, l1, 1);
    l1 += __shfl_xor_sync(0xffffffffu, l1, 2);
    const size_t ldo = (size_t)nh * HD;
    if (qp0 < L) {
        const float inv = 1.0f / l0;
        float *orow = out + (size_t)(t0 + qp0) * ldo + (size_t)h * HD + 2 * tq;
#pragma unroll
        for (int n = 0; n < ND; n++)
            *reinterpret_cast<float2 *>(orow + 8 * n) = make_float2(o[n][0] * inv, o[n][1] * inv);
        if (tq == 0) lse[(size_t)(t0 + qp0) * nh + h] = (m0 + log2f(l0)) * MMA_LN2;
    }
    if (qp1 < L) {
        const float inv = 1.0f / l1;
        float *orow = out + (size_t)(t0 + qp1) * ldo + (size_t)h * HD + 2 * tq;
#pragma unroll
        for (int n = 0; n < ND; n++)
            *reinterpret_cast<float2 *>(orow + 8 * n) = make_float2(o[n][2] * inv, o[n][3] * inv);
        if (tq == 0) lse[(size_t)(t0 + qp1) * nh + h] = (m1 + log2f(l1)) * MMA_LN2;
    }
}

/* ---- backward ----------------------------------------------------------------- */

/* One block: key tile kt of KV head g of sequence s. */
template <int HD>
__global__ void __launch_bounds__(MMA_NT, 2)
    mma_bwd_dkdv_kernel(float *__restrict__ dk, float *__restrict__ dv, int ldd,
                        const float *__restrict__ dout, const float *__restrict__ lse,
                        const float *__restrict__ dsum, const float *__restrict__ q, int ldq,
                        const float *__restrict__ k, const float *__restrict__ v, int ldkv,
                        const int *__restrict__ start, int nh, int group, float scale, int vec) {
    typedef mma_cfg<HD> C;
    constexpr int LDH = C::LDH, KD = HD / 16, ND = HD / 8;
    extern __shared__ __align__(128) unsigned char mma_smem[];
    bf16 *Ks = reinterpret_cast<bf16 *>(mma_smem);
    bf16 *Vs = Ks + C::TILE;
    bf16 *Qs = Vs + C::TILE;
    bf16 *Os = Qs + C::TILE;                             /* dO */
    float *ls = reinterpret_cast<float *>(Os + C::TILE); /* log2e lse of the query rows */
    float *ds = ls + 64;                                 /* Dsum of the query rows */

    const int s = blockIdx.z, g = blockIdx.y, kt = blockIdx.x;
    const int t0 = start[s], L = start[s + 1] - t0, k0 = kt * 64;
    if (k0 >= L) return;
    const int tid = threadIdx.x, w = tid >> 5, lane = tid & 31, ldo = nh * HD;
    const int gr = lane >> 2, tq = lane & 3, lr = lane & 7, lm = lane >> 3;
    const int kp0 = k0 + 16 * w + gr, kp1 = kp0 + 8;
    const float scale_log2 = scale * MMA_LOG2E;
    /* A-operand rows of this warp (K_w, V_w) and the B-operand row offsets */
    const int arow = (16 * w + (lm & 1) * 8 + lr) * LDH + (lm >> 1) * 8;
    const int brow = ((lm >> 1) * 8 + lr) * LDH + (lm & 1) * 8; /* X Y^T */
    const int trow = ((lm & 1) * 8 + lr) * LDH + (lm >> 1) * 8; /* .trans */

    mma_stage<HD>(Ks, k + (size_t)(t0 + k0) * ldkv + (size_t)g * HD, ldkv, L - k0, vec);
    mma_stage<HD>(Vs, v + (size_t)(t0 + k0) * ldkv + (size_t)g * HD, ldkv, L - k0, vec);

    float dka[ND][4], dva[ND][4];
    mma_zero<ND>(dka);
    mma_zero<ND>(dva);

    const int nqt = (L + 63) / 64;
    for (int hh = 0; hh < group; hh++) {
        const int h = g * group + hh;
        for (int qt = kt; qt < nqt; qt++) {
            const int q0 = qt * 64;
            __syncthreads(); /* the previous tile's Q, dO, lse, Dsum are consumed */
            mma_stage<HD>(Qs, q + (size_t)(t0 + q0) * ldq + (size_t)h * HD, ldq, L - q0, vec);
            mma_stage<HD>(Os, dout + (size_t)(t0 + q0) * ldo + (size_t)h * HD, ldo, L - q0, vec);
            if (tid < 64) {
                const int qp = q0 + tid;
                ls[tid] = qp < L ? lse[(size_t)(t0 + qp) * nh + h] * MMA_LOG2E : 0.0f;
                ds[tid] = qp < L ? dsum[(size_t)(t0 + qp) * nh + h] : 0.0f;
            }
            __syncthreads();
#pragma unroll 1
            for (int qb = 0; qb < 64; qb += 32) {
                if (q0 + qb + 31 < k0 + 16 * w) continue; /* every entry masked */
                /* S^T = K_w Q^T, dP^T = V_w dO^T: 16 keys x 32 queries */
                float st[4][4], dpt[4][4];
                mma_zero<4>(st);
                mma_zero<4>(dpt);
#pragma unroll 2
                for (int kk = 0; kk < KD; kk++) {
                    uint32_t ak[4], av[4];
                    ldsm_x4(ak, Ks + arow + 16 * kk);
                    ldsm_x4(av, Vs + arow + 16 * kk);
#pragma unroll
                    for (int jp = 0; jp < 2; jp++) {
                        uint32_t b[4];
                        ldsm_x4(b, Qs + (qb + 16 * jp) * LDH + brow + 16 * kk);
                        mma_bf16(st[2 * jp], ak, b[0], b[1]);
                        mma_bf16(st[2 * jp + 1], ak, b[2], b[3]);
                        ldsm_x4(b, Os + (qb + 16 * jp) * LDH + brow + 16 * kk);
                        mma_bf16(dpt[2 * jp], av, b[0], b[1]);
                        mma_bf16(dpt[2 * jp + 1], av, b[2], b[3]);
                    }
                }
                /* P^T (in st) and dS^T = P^T (dP^T - Dsum) (in dpt) */
#pragma unroll
                for (int j = 0; j < 4; j++)
#pragma unroll
                    for (int e = 0; e < 2; e++) {
                        const int c = qb + 8 * j + 2 * tq + e, qp = q0 + c;
                        const float lc = ls[c], dc = ds[c];
                        const bool ok0 = kp0 <= qp && qp < L, ok1 = kp1 <= qp && qp < L;
                        const float p0 = ok0 ? exp2f(st[j][e] * scale_log2 - lc) : 0.0f;
                        const float p1 = ok1 ? exp2f(st[j][2 + e] * scale_log2 - lc) : 0.0f;
                        dpt[j][e] = ok0 ? p0 * (dpt[j][e] - dc) : 0.0f;
                        dpt[j][2 + e] = ok1 ? p1 * (dpt[j][2 + e] - dc) : 0.0f;
                        st[j][e] = p0;
                        st[j][2 + e] = p1;
                    }
                uint32_t pp[2][4], pd[2][4];
                mma_c_to_a(pp, st);
                mma_c_to_a(pd, dpt);
                /* dV_w += P^T dO, dK_w += dS^T Q (the 32 queries are the reduction) */
#pragma unroll
                for (int kk = 0; kk < 2; kk++)
#pragma unroll
                    for (int np = 0; np < KD; np++) {
                        uint32_t b[4];
                        ldsm_x4_t(b, Os + (qb + 16 * kk) * LDH + trow + 16 * np);
                        mma_bf16(dva[2 * np], pp[kk], b[0], b[1]);
                        mma_bf16(dva[2 * np + 1], pp[kk], b[2], b[3]);
                        ldsm_x4_t(b, Qs + (qb + 16 * kk) * LDH + trow + 16 * np);
                        mma_bf16(dka[2 * np], pd[kk], b[0], b[1]);
                        mma_bf16(dka[2 * np + 1], pd[kk], b[2], b[3]);
                    }
            }
        }
    }

    /* dk += scale dK, dv += dV (rows kp0: c0, c1; kp1: c2, c3) */
#pragma unroll
    for (int half = 0; half < 2; half++) {
        const int kp = half ? kp1 : kp0;
        if (kp >= L) continue;
        float *dkr = dk + (size_t)(t0 + kp) * ldd + (size_t)g * HD + 2 * tq;
        float *dvr = dv + (size_t)(t0 + kp) * ldd + (size_t)g * HD + 2 * tq;
#pragma unroll
        for (int n = 0; n < ND; n++)
#pragma unroll
            for (int e = 0; e < 2; e++) {
                dkr[8 * n + e] += scale * dka[n][2 * half + e];
                dvr[8 * n + e] += dva[n][2 * half + e];
            }
    }
}

/* One block: query tile qt of head h of sequence s (the longest first). */
template <int HD>
__global__ void __launch_bounds__(MMA_NT, 2)
    mma_bwd_dq_kernel(float *__restrict__ dq, int ldd, const float *__restrict__ dout,
                      const float *__restrict__ lse, const float *__restrict__ dsum,
                      const float *__restrict__ q, int ldq, const float *__restrict__ k,
                      const float *__restrict__ v, int ldkv, const int *__restrict__ start, int nh,
                      int group, float scale, int vec) {
    typedef mma_cfg<HD> C;
    constexpr int LDH = C::LDH, KD = HD / 16, ND = HD / 8;
    extern __shared__ __align__(128) unsigned char mma_smem[];
    bf16 *Qs = reinterpret_cast<bf16 *>(mma_smem);
    bf16 *Os = Qs + C::TILE; /* dO */
    bf16 *Ks = Os + C::TILE;
    bf16 *Vs = Ks + C::TILE;

    const int s = blockIdx.z, h = blockIdx.y, qt = (int)(gridDim.x - 1 - blockIdx.x);
    const int t0 = start[s], L = start[s + 1] - t0, q0 = qt * 64;
    if (q0 >= L) return;
    const int g = h / group, tid = threadIdx.x, w = tid >> 5, lane = tid & 31, ldo = nh * HD;
    const int gr = lane >> 2, tq = lane & 3, lr = lane & 7, lm = lane >> 3;
    const int qp0 = q0 + 16 * w + gr, qp1 = qp0 + 8;
    const float scale_log2 = scale * MMA_LOG2E;
    const int arow = (16 * w + (lm & 1) * 8 + lr) * LDH + (lm >> 1) * 8;
    const int brow = ((lm >> 1) * 8 + lr) * LDH + (lm & 1) * 8;
    const int trow = ((lm & 1) * 8 + lr) * LDH + (lm >> 1) * 8;

    mma_stage<HD>(Qs, q + (size_t)(t0 + q0) * ldq + (size_t)h * HD, ldq, L - q0, vec);
    mma_stage<HD>(Os, dout + (size_t)(t0 + q0) * ldo + (size_t)h * HD, ldo, L - q0, vec);
    const float lr0 = qp0 < L ? lse[(size_t)(t0 + qp0) * nh + h] * MMA_LOG2E : 0.0f;
    const float lr1 = qp1 < L ? lse[(size_t)(t0 + qp1) * nh + h] * MMA_LOG2E : 0.0f;
    const float dr0 = qp0 < L ? dsum[(size_t)(t0 + qp0) * nh + h] : 0.0f;
    const float dr1 = qp1 < L ? dsum[(size_t)(t0 + qp1) * nh + h] : 0.0f;
    const float *kg = k + (size_t)t0 * ldkv + (size_t)g * HD;
    const float *vg = v + (size_t)t0 * ldkv + (size_t)g * HD;

    float dqa[ND][4];
    mma_zero<ND>(dqa);

    const int kend = min(L, q0 + 64), nkt = (kend + 63) / 64;
    for (int kt = 0; kt < nkt; kt++) {
        const int k0 = kt * 64;
        __syncthreads(); /* the previous K, V are consumed (first: Q, dO are staged) */
        mma_stage<HD>(Ks, kg + (size_t)k0 * ldkv, ldkv, L - k0, vec);
        mma_stage<HD>(Vs, vg + (size_t)k0 * ldkv, ldkv, L - k0, vec);
        __syncthreads();
#pragma unroll 1
        for (int kb = 0; kb < 64; kb += 32) {
            if (k0 + kb > q0 + 16 * w + 15) continue; /* every entry masked */
            /* S = Q_w K^T, dP = dO_w V^T: 16 queries x 32 keys */
            float sc[4][4], dp[4][4];
            mma_zero<4>(sc);
            mma_zero<4>(dp);
#pragma unroll
            for (int kk = 0; kk < KD; kk++) {
                uint32_t aq[4], ao[4];
                ldsm_x4(aq, Qs + arow + 16 * kk);
                ldsm_x4(ao, Os + arow + 16 * kk);
#pragma unroll
                for (int jp = 0; jp < 2; jp++) {
                    uint32_t b[4];
                    ldsm_x4(b, Ks + (kb + 16 * jp) * LDH + brow + 16 * kk);
                    mma_bf16(sc[2 * jp], aq, b[0], b[1]);
                    mma_bf16(sc[2 * jp + 1], aq, b[2], b[3]);
                    ldsm_x4(b, Vs + (kb + 16 * jp) * LDH + brow + 16 * kk);
                    mma_bf16(dp[2 * jp], ao, b[0], b[1]);
                    mma_bf16(dp[2 * jp + 1], ao, b[2], b[3]);
                }
            }
            /* dS = P (dP - Dsum) (in sc) */
#pragma unroll
            for (int j = 0; j < 4; j++)
#pragma unroll
                for (int e = 0; e < 2; e++) {
                    const int kp = k0 + kb + 8 * j + 2 * tq + e;
                    const bool ok0 = kp <= qp0 && qp0 < L, ok1 = kp <= qp1 && qp1 < L;
                    const float p0 = ok0 ? exp2f(sc[j][e] * scale_log2 - lr0) : 0.0f;
                    const float p1 = ok1 ? exp2f(sc[j][2 + e] * scale_log2 - lr1) : 0.0f;
                    sc[j][e] = ok0 ? p0 * (dp[j][e] - dr0) : 0.0f;
                    sc[j][2 + e] = ok1 ? p1 * (dp[j][2 + e] - dr1) : 0.0f;
                }
            uint32_t pd[2][4];
            mma_c_to_a(pd, sc);
            /* dQ_w += dS K (the 32 keys are the reduction) */
#pragma unroll
            for (int kk = 0; kk < 2; kk++)
#pragma unroll
                for (int np = 0; np < KD; np++) {
                    uint32_t b[4];
                    ldsm_x4_t(b, Ks + (kb + 16 * kk) * LDH + trow + 16 * np);
                    mma_bf16(dqa[2 * np], pd[kk], b[0], b[1]);
                    mma_bf16(dqa[2 * np + 1], pd[kk], b[2], b[3]);
                }
        }
    }

#pragma unroll
    for (int half = 0; half < 2; half++) {
        const int qp = half ? qp1 : qp0;
        if (qp >= L) continue;
        float *dqr = dq + (size_t)(t0 + qp) * ldd + (size_t)h * HD + 2 * tq;
#pragma unroll
        for (int n = 0; n < ND; n++)
#pragma unroll
            for (int e = 0; e < 2; e++) dqr[8 * n + e] = scale * dqa[n][2 * half + e];
    }
}

/* ---- host side ------------------------------------------------------------------ */

template <int HD>
static int mma_fwd_launch(float *out, float *lse, const float *q, int ldq, const float *k,
                          const float *v, int ldkv, CuSeqs s, int nh, int nkv, int vec,
                          cudaStream_t st) {
    const size_t smem = mma_cfg<HD>::FWD_SMEM;
    if (!att_tc_ready((const void *)mma_fwd_kernel<HD>, smem)) return 0;
    dim3 grid((unsigned)((s.max_len + 63) / 64), (unsigned)nh, (unsigned)s.n_seqs);
    mma_fwd_kernel<HD><<<grid, MMA_NT, smem, st>>>(out, lse, q, ldq, k, v, ldkv, s.start, nh,
                                                   nh / nkv, MMA_LOG2E / sqrtf((float)HD), vec);
    CU_LAUNCHED("mma_fwd_kernel");
    return 1;
}

/* Returns 0 (having launched nothing) when the shape or the GPU is not
 * supported; the caller then runs another path. The caller has checked the
 * shape (att_check) and that there is work. */
extern "C" int cu_attention_mma_fwd(float *out, float *lse, const float *q, int ldq, const float *k,
                                    const float *v, int ldkv, CuSeqs s, int nh, int nkv, int hd,
                                    cudaStream_t st) {
    if ((hd != 64 && hd != 128) || nkv <= 0 || nh <= 0 || nh % nkv != 0) return 0;
    if (((uintptr_t)out & 7) != 0) return 0;
    const int vec =
        att_aligned16(q) && att_aligned16(k) && att_aligned16(v) && ldq % 4 == 0 && ldkv % 4 == 0;
    if (hd == 64) return mma_fwd_launch<64>(out, lse, q, ldq, k, v, ldkv, s, nh, nkv, vec, st);
    return mma_fwd_launch<128>(out, lse, q, ldq, k, v, ldkv, s, nh, nkv, vec, st);
}

template <int HD>
static int mma_bwd_launch(float *dq, float *dk, float *dv, int ldd, const float *dout,
                          const float *out, const float *lse, const float *q, int ldq,
                          const float *k, const float *v, int ldkv, CuSeqs s, int nh, int nkv,
                          float *dsum, int vec, cudaStream_t st) {
    const size_t smem_kv = mma_cfg<HD>::DKDV_SMEM, smem_q = mma_cfg<HD>::DQ_SMEM;
    if (!att_tc_ready((const void *)mma_bwd_dkdv_kernel<HD>, smem_kv) ||
        !att_tc_ready((const void *)mma_bwd_dq_kernel<HD>, smem_q))
        return 0;
    const float scale = 1.0f / sqrtf((float)HD);
    const unsigned ntiles = (unsigned)((s.max_len + 63) / 64);

    const size_t rows = (size_t)s.T * nh;       /* (t, h) pairs, one warp each */
    att_dsum(dsum, dout, out, rows, HD, 1, st); /* dP reads dO as bf16 */

    mma_bwd_dkdv_kernel<HD>
        <<<dim3(ntiles, (unsigned)nkv, (unsigned)s.n_seqs), MMA_NT, smem_kv, st>>>(
            dk, dv, ldd, dout, lse, dsum, q, ldq, k, v, ldkv, s.start, nh, nh / nkv, scale, vec);
    CU_LAUNCHED("mma_bwd_dkdv_kernel");

    mma_bwd_dq_kernel<HD><<<dim3(ntiles, (unsigned)nh, (unsigned)s.n_seqs), MMA_NT, smem_q, st>>>(
        dq, ldd, dout, lse, dsum, q, ldq, k, v, ldkv, s.start, nh, nh / nkv, scale, vec);
    CU_LAUNCHED("mma_bwd_dq_kernel");
    return 1;
}

/* As cu_attention_mma_fwd: 0 (nothing launched) when unsupported. scratch holds
 * Dsum (cu_attention_bwd_scratch(T, nh) floats). */
extern "C" int cu_attention_mma_bwd(float *dq, float *dk, float *dv, int ldd, const float *dout,
                                    const float *out, const float *lse, const float *q, int ldq,
                                    const float *k, const float *v, int ldkv, CuSeqs s, int nh,
                                    int nkv, int hd, float *scratch, cudaStream_t st) {
    if ((hd != 64 && hd != 128) || nkv <= 0 || nh <= 0 || nh % nkv != 0) return 0;
    const int vec = att_aligned16(q) && att_aligned16(k) && att_aligned16(v) &&
                    att_aligned16(dout) && ldq % 4 == 0 && ldkv % 4 == 0;
    if (hd == 64)
        return mma_bwd_launch<64>(dq, dk, dv, ldd, dout, out, lse, q, ldq, k, v, ldkv, s, nh, nkv,
                                  scratch, vec, st);
    return mma_bwd_launch<128>(dq, dk, dv, ldd, dout, out, lse, q, ldq, k, v, ldkv, s, nh, nkv,
                               scratch, vec, st);
}
