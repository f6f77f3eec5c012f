/* ops_rows512.c - the AVX-512 variant of op_matmul_rows (ops_rows.c picks it when the CPU
 * has AVX-512F; the build itself targets AVX2, so this file's functions carry their own
 * target attribute and are only called after the runtime check).
 *
 * Same contract as the AVX2 kernels, with 16 lanes: every dot product is 16-lane fused
 * multiply-adds over the chunks of 16 in order, the lanes summed by one fixed reduction,
 * then the leftover elements one by one; the 4x4 kernel and the 1x1 kernel for the edges
 * therefore give bit-identical results and a row's result never depends on the rest of
 * the batch. (Results differ in the last bits from the AVX2 path: a machine always uses
 * the same one, so a seed still reproduces the same run there.) */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "ops_rows512.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define T512 __attribute__((target("avx512f")))

int op_rows512_available(void) {
    const char *force = getenv("R1_SIMD"); /* "avx2": the AVX2 kernels even here (tests) */
    if (force && !strcmp(force, "avx2")) return 0;
    return __builtin_cpu_supports("avx512f");
}

/* Lanes summed in a fixed tree (not _mm512_reduce_add_ps, whose order the compiler may
 * choose): halves, then quarters, then the AVX2 path's 4-lane tail. */
T512 static inline float sum16(__m512 v) {
    __m256 h = _mm256_add_ps(_mm512_castps512_ps256(v),
                             _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
    __m128 x = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
    x = _mm_add_ps(x, _mm_movehl_ps(x, x));
    x = _mm_add_ss(x, _mm_shuffle_ps(x, x, 1));
    return _mm_cvtss_f32(x);
}

T512 static inline void put(float *o, float s, const float *x, const float *w, int k0, int K,
                            const float *bias, int j, int accumulate) {
    for (int k = k0; k < K; k++) s = __builtin_fmaf(w[k], x[k], s);
    float v = bias ? s + bias[j] : s;
    *o = accumulate ? *o + v : v;
}

/* Rows x[0..4) against weight rows w[j..j+4): 16 accumulators, 4 + 4 loads per 16 FMAs.
 * Decoding streams every weight from memory once per step, in bursts (a tile is read, then
 * every row group computes on it from L1) that the hardware prefetcher does not run far
 * enough ahead of; so the row groups of a tile share the prefetching: group g of G fetches
 * the chunks k with (k / 16) % G == g of the next tile into L1 and of the tile three ahead
 * into L2, one cache line per row each (measured on SmolLM2 at 32 sequences: 350 tokens/s
 * without, 440 with L1 only, 470 with both). G is 0 when there is no next tile, and far
 * is 0 when there is no tile three ahead (no address past the weights is formed). */
T512 static void kernel_4x4(float *out, int ldo, const float *x, int K, const float *w, int j,
                            const float *bias, int accumulate, int g, int G, int far) {
    __m512 a[4][4];
#pragma GCC unroll 16
    for (int i = 0; i < 16; i++) a[i / 4][i % 4] = _mm512_setzero_ps();
    const float *ws[4], *xs[4];
    for (int i = 0; i < 4; i++) ws[i] = w + (size_t)(j + i) * K, xs[i] = x + (size_t)i * K;
    int K16 = K / 16 * 16;
    const float *next = G ? ws[3] + K : ws[3];
    for (int k = 0; k < K16; k += 16) {
        if (G && (k / 16) % G == g)
            for (int i = 0; i < 4; i++) {
                _mm_prefetch((const char *)(next + (size_t)i * K + k), _MM_HINT_T0);
                if (far) _mm_prefetch((const char *)(next + (size_t)(i + 8) * K + k), _MM_HINT_T1);
            }
        /* Fully unrolled so the 16 accumulators live in registers. */
        __m512 b0 = _mm512_loadu_ps(ws[0] + k), b1 = _mm512_loadu_ps(ws[1] + k),
               b2 = _mm512_loadu_ps(ws[2] + k), b3 = _mm512_loadu_ps(ws[3] + k);
#pragma GCC unroll 4
        for (int r = 0; r < 4; r++) {
            __m512 xv = _mm512_loadu_ps(xs[r] + k);
            a[r][0] = _mm512_fmadd_ps(b0, xv, a[r][0]);
            a[r][1] = _mm512_fmadd_ps(b1, xv, a[r][1]);
            a[r][2] = _mm512_fmadd_ps(b2, xv, a[r][2]);
            a[r][3] = _mm512_fmadd_ps(b3, xv, a[r][3]);
        }
    }
    for (int r = 0; r < 4; r++)
        for (int c = 0; c < 4; c++)
            put(out + (size_t)r * ldo + j + c, sum16(a[r][c]), xs[r], ws[c], K16, K, bias, j + c,
                accumulate);
}

T512 static void kernel_1x1(float *out, const float *x, int K, const float *w, int j,
                            const float *bias, int accumulate) {
    __m512 acc = _mm512_setzero_ps();
    const float *wj = w + (size_t)j * K;
    int K16 = K / 16 * 16;
    for (int k = 0; k < K16; k += 16)
        acc = _mm512_fmadd_ps(_mm512_loadu_ps(wj + k), _mm512_loadu_ps(x + k), acc);
    put(out + j, sum16(acc), x, wj, K16, K, bias, j, accumulate);
}

T512 void op_rows512_block(float *out, const float *inp, const float *w, const float *bias, int T,
                           int IC, int OC, int accumulate, int j0, int j1) {
    int j = j0;
    for (; j + 4 <= j1; j += 4) {
        int t = 0, G = j + 8 <= OC ? T / 4 : 0, far = j + 20 <= OC;
        for (; t + 4 <= T; t += 4)
            kernel_4x4(out + (size_t)t * OC, OC, inp + (size_t)t * IC, IC, w, j, bias, accumulate,
                       t / 4, G, far);
        for (; t < T; t++)
            for (int c = 0; c < 4; c++)
                kernel_1x1(out + (size_t)t * OC, inp + (size_t)t * IC, IC, w, j + c, bias,
                           accumulate);
    }
    for (; j < j1; j++)
        for (int t = 0; t < T; t++)
            kernel_1x1(out + (size_t)t * OC, inp + (size_t)t * IC, IC, w, j, bias, accumulate);
}

#else
int op_rows512_available(void) {
    return 0;
}
void op_rows512_block(float *out, const float *inp, const float *w, const float *bias, int T,
                      int IC, int OC, int accumulate, int j0, int j1) {
    (void)out, (void)inp, (void)w, (void)bias, (void)T, (void)IC, (void)OC, (void)accumulate;
    (void)j0, (void)j1;
}
#endif
