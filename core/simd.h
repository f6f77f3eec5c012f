/* simd.h - eight float lanes for the CPU kernels that must round the same way
 * whatever the batch (ops_rows.c, decoding attention): AVX2 + FMA when the
 * build targets it, else plain loops with the same operation order. A dot
 * product is 8-lane fused multiply-adds over chunks of 8, then v8_sum's fixed
 * tree, then the leftover elements one by one (dot8). Internal to core/. */
#ifndef R1_SIMD_H
#define R1_SIMD_H

#include <math.h>

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>

typedef __m256 V8;
#define V8_ZERO()       _mm256_setzero_ps()
#define V8_LOAD(p)      _mm256_loadu_ps(p)
#define V8_FMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define V8_SET1(x)      _mm256_set1_ps(x)
#define V8_STORE(p, v)  _mm256_storeu_ps(p, v)
#define PREFETCH(p)     _mm_prefetch((const char *)(p), _MM_HINT_T0)

static inline float v8_sum(V8 v) {
    __m128 x = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    x = _mm_add_ps(x, _mm_movehl_ps(x, x));
    x = _mm_add_ss(x, _mm_shuffle_ps(x, x, 1));
    return _mm_cvtss_f32(x);
}
#else
/* Portable lanes with the same summation order (slower, same contract). */
typedef struct {
    float l[8];
} V8;
static inline V8 V8_ZERO(void) {
    V8 v = {{0}};
    return v;
}
static inline V8 V8_LOAD(const float *p) {
    V8 v;
    for (int i = 0; i < 8; i++) v.l[i] = p[i];
    return v;
}
static inline V8 V8_SET1(float x) {
    V8 v;
    for (int i = 0; i < 8; i++) v.l[i] = x;
    return v;
}
static inline void V8_STORE(float *p, V8 v) {
    for (int i = 0; i < 8; i++) p[i] = v.l[i];
}
static inline V8 V8_FMA(V8 a, V8 b, V8 c) {
    for (int i = 0; i < 8; i++) c.l[i] = fmaf(a.l[i], b.l[i], c.l[i]);
    return c;
}
#define PREFETCH(p) ((void)(p))
static inline float v8_sum(V8 v) {
    float a[4];
    for (int i = 0; i < 4; i++) a[i] = v.l[i] + v.l[i + 4];
    a[0] += a[2], a[1] += a[3];
    return a[0] + a[1];
}
#endif

/* sum_i a[i] b[i] in the fixed order described above. */
static inline float dot8(const float *a, const float *b, int n) {
    V8 acc = V8_ZERO();
    int n8 = n / 8 * 8;
    for (int i = 0; i < n8; i += 8) acc = V8_FMA(V8_LOAD(a + i), V8_LOAD(b + i), acc);
    float s = v8_sum(acc);
    for (int i = n8; i < n; i++) s = fmaf(a[i], b[i], s);
    return s;
}

#endif
