/* ops_rows.c - op_matmul_rows (ops.h): the matrix product of generation.
 *
 * out[t, j] = (accumulate ? out[t, j] : 0) + (dot(inp[t], w[j]) + bias[j]), each
 * dot product formed the same way whichever kernel computes it: 8-lane fused
 * multiply-adds over the chunks of 8 in order, the lanes summed in a fixed
 * tree, then the leftover elements one by one. The 4x3 kernel (4 rows against
 * 3 weight rows, 12 accumulators: one AVX2 register file) and the 1x1 kernel
 * for the edges therefore give bit-identical results, and the result of a row
 * never depends on the rest of the batch. Threads split the weight rows, so
 * the weights are read from memory once per call and never repacked. */
#include <math.h>
#include <stddef.h>

#include "ops.h"

#include "ops_rows512.h"
#include "simd.h"

/* The elements after the last whole chunk of 8. */
static inline float tail(float s, const float *x, const float *w, int k0, int K) {
    for (int k = k0; k < K; k++) s = fmaf(w[k], x[k], s);
    return s;
}

static inline void store(float *o, float dot, const float *bias, int j, int accumulate) {
    float v = bias ? dot + bias[j] : dot;
    *o = accumulate ? *o + v : v;
}

/* rows x[0..4) against weight rows w[j..j+3): twelve accumulators named one
 * by one so that they stay in registers. */
static void kernel_4x3(float *out, int ldo, const float *x, int K, const float *w, int j,
                       const float *bias, int accumulate, int pf) {
    V8 a00 = V8_ZERO(), a01 = V8_ZERO(), a02 = V8_ZERO(), a10 = V8_ZERO(), a11 = V8_ZERO(),
       a12 = V8_ZERO(), a20 = V8_ZERO(), a21 = V8_ZERO(), a22 = V8_ZERO(), a30 = V8_ZERO(),
       a31 = V8_ZERO(), a32 = V8_ZERO();
    const float *w0 = w + (size_t)j * K, *w1 = w0 + K, *w2 = w1 + K;
    const float *x0 = x, *x1 = x + K, *x2 = x1 + K, *x3 = x2 + K;
    int K8 = K / 8 * 8;
    const float *next = w2 + K; /* the next tile's rows: short streams the hardware
                                 * prefetcher would not pick up in time */
    for (int k = 0; k < K8; k += 8) {
        if (pf && (k & 15) == 0)
            PREFETCH(next + k), PREFETCH(next + K + k), PREFETCH(next + 2 * K + k);
        V8 b0 = V8_LOAD(w0 + k), b1 = V8_LOAD(w1 + k), b2 = V8_LOAD(w2 + k), xv;
        xv = V8_LOAD(x0 + k);
        a00 = V8_FMA(b0, xv, a00), a01 = V8_FMA(b1, xv, a01), a02 = V8_FMA(b2, xv, a02);
        xv = V8_LOAD(x1 + k);
        a10 = V8_FMA(b0, xv, a10), a11 = V8_FMA(b1, xv, a11), a12 = V8_FMA(b2, xv, a12);
        xv = V8_LOAD(x2 + k);
        a20 = V8_FMA(b0, xv, a20), a21 = V8_FMA(b1, xv, a21), a22 = V8_FMA(b2, xv, a22);
        xv = V8_LOAD(x3 + k);
        a30 = V8_FMA(b0, xv, a30), a31 = V8_FMA(b1, xv, a31), a32 = V8_FMA(b2, xv, a32);
    }
    const V8 acc[4][3] = {{a00, a01, a02}, {a10, a11, a12}, {a20, a21, a22}, {a30, a31, a32}};
    const float *ws[3] = {w0, w1, w2}, *xs[4] = {x0, x1, x2, x3};
    for (int r = 0; r < 4; r++)
        for (int c = 0; c < 3; c++)
            store(out + (size_t)r * ldo + j + c, tail(v8_sum(acc[r][c]), xs[r], ws[c], K8, K), bias,
                  j + c, accumulate);
}

static void kernel_1x1(float *out, const float *x, int K, const float *w, int j, const float *bias,
                       int accumulate) {
    V8 acc = V8_ZERO();
    const float *wj = w + (size_t)j * K;
    int K8 = K / 8 * 8;
    for (int k = 0; k < K8; k += 8) acc = V8_FMA(V8_LOAD(wj + k), V8_LOAD(x + k), acc);
    store(out + j, tail(v8_sum(acc), x, wj, K8, K), bias, j, accumulate);
}

/* Weight rows [j0, j1) against every row. */
static void block(float *out, const float *inp, const float *w, const float *bias, int T, int IC,
                  int OC, int accumulate, int j0, int j1) {
    int j = j0;
    for (; j + 3 <= j1; j += 3) {
        int t = 0;
        int pf = j + 6 <= OC; /* the first row group fetches the next tile ahead */
        for (; t + 4 <= T; t += 4, pf = 0)
            kernel_4x3(out + (size_t)t * OC, OC, inp + (size_t)t * IC, IC, w, j, bias, accumulate,
                       pf);
        for (; t < T; t++)
            for (int c = 0; c < 3; c++)
                kernel_1x1(out + (size_t)t * OC, inp + (size_t)t * IC, IC, w, j + c, bias,
                           accumulate);
    }
    for (; j < j1; j++)
        for (int t = 0; t < T; t++)
            kernel_1x1(out + (size_t)t * OC, inp + (size_t)t * IC, IC, w, j, bias, accumulate);
}

void op_matmul_rows(float *out, const float *inp, const float *w, const float *bias, int T, int IC,
                    int OC, int accumulate) {
    const int J = 48; /* weight rows per task: a multiple of 3 and of 4 */
    int tasks = (OC + J - 1) / J;
    int wide = op_rows512_available(); /* AVX-512 when the CPU has it (ops_rows512.c) */
#pragma omp parallel for schedule(static) if ((size_t)T * IC * OC >= 262144)
    for (int b = 0; b < tasks; b++) {
        int j0 = b * J, j1 = j0 + J < OC ? j0 + J : OC;
        if (wide)
            op_rows512_block(out, inp, w, bias, T, IC, OC, accumulate, j0, j1);
        else
            block(out, inp, w, bias, T, IC, OC, accumulate, j0, j1);
    }
}
