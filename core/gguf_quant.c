/* gguf_quant.c - ggml's block formats (see gguf.h): names, sizes, dequantization and the
 * quantizers r1c writes with.
 *
 * Every formula is ggml's reference code (ggml-quants.c: dequantize_row_*,
 * quantize_row_q8_0_ref; ggml-impl.h: the f16/bf16 conversions) with the block layouts
 * of ggml-common.h, so the float32 results are bit-identical to ggml's and to the gguf
 * Python package's (gguf.quants), which mirrors them. Each product in a dequantization
 * is exact in float32 (an f16 scale times small integers needs at most 23 bits), so the
 * one rounding is that of the final add and contracting it into an FMA cannot change a
 * result. The loops work on one block at a time with fixed trip counts so that the
 * compiler can vectorise them. */
#include "gguf.h"

#include <math.h>
#include <string.h>

#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

#define QK   32  /* elements in a Q4_0 .. Q8_0 block */
#define QK_K 256 /* elements in a K-quant super-block */

static const struct {
    const char *name;
    int elems;    /* 0: a type r1c does not read */
    size_t bytes; /* bytes of one block */
} ggml_types[] = {
    [0] = {"F32", 1, 4},         [1] = {"F16", 1, 2},         [2] = {"Q4_0", QK, 18},
    [3] = {"Q4_1", QK, 20},      [4] = {"Q4_2", 0, 0},        [5] = {"Q4_3", 0, 0},
    [6] = {"Q5_0", QK, 22},      [7] = {"Q5_1", QK, 24},      [8] = {"Q8_0", QK, 34},
    [9] = {"Q8_1", 0, 0},        [10] = {"Q2_K", 0, 0},       [11] = {"Q3_K", 0, 0},
    [12] = {"Q4_K", QK_K, 144},  [13] = {"Q5_K", QK_K, 176},  [14] = {"Q6_K", QK_K, 210},
    [15] = {"Q8_K", 0, 0},       [16] = {"IQ2_XXS", 0, 0},    [17] = {"IQ2_XS", 0, 0},
    [18] = {"IQ3_XXS", 0, 0},    [19] = {"IQ1_S", 0, 0},      [20] = {"IQ4_NL", 0, 0},
    [21] = {"IQ3_S", 0, 0},      [22] = {"IQ2_S", 0, 0},      [23] = {"IQ4_XS", 0, 0},
    [24] = {"I8", 0, 0},         [25] = {"I16", 0, 0},        [26] = {"I32", 0, 0},
    [27] = {"I64", 0, 0},        [28] = {"F64", 0, 0},        [29] = {"IQ1_M", 0, 0},
    [30] = {"BF16", 1, 2},       [31] = {"Q4_0_4_4", 0, 0},   [32] = {"Q4_0_4_8", 0, 0},
    [33] = {"Q4_0_8_8", 0, 0},   [34] = {"TQ1_0", 0, 0},      [35] = {"TQ2_0", 0, 0},
    [36] = {"IQ4_NL_4_4", 0, 0}, [37] = {"IQ4_NL_4_8", 0, 0}, [38] = {"IQ4_NL_8_8", 0, 0},
    [39] = {"MXFP4", 0, 0},      [40] = {"NVFP4", 0, 0},      [41] = {"Q1_0", 0, 0},
    [42] = {"Q2_0", 0, 0},
};
#define N_GGML_TYPES ((int)(sizeof ggml_types / sizeof ggml_types[0]))

int r1_ggml_type_known(int type) {
    return type >= 0 && type < N_GGML_TYPES && ggml_types[type].elems > 0;
}

const char *r1_ggml_type_name(int type) {
    return type >= 0 && type < N_GGML_TYPES ? ggml_types[type].name : "unknown";
}

int r1_ggml_block(int type, int *elems, size_t *bytes) {
    if (!r1_ggml_type_known(type)) return -1;
    if (elems) *elems = ggml_types[type].elems;
    if (bytes) *bytes = ggml_types[type].bytes;
    return 0;
}

size_t r1_ggml_nbytes(R1GgmlType type, int64_t n) {
    int blk;
    size_t bsz;
    if (n < 0 || r1_ggml_block((int)type, &blk, &bsz) != 0 || n % blk != 0) return 0;
    return (size_t)(n / blk) * bsz;
}

/* ---- scalar conversions ---- */

static inline uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static inline float f32_from(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static inline uint16_t ld16(const uint8_t *p) {
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}

/* IEEE half to float, exactly (NaN payloads kept, as numpy does). Branch-free selects
 * so that a loop of them vectorises. */
static inline float f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, em = h & 0x7FFFu;
    uint32_t normal = (em << 13) + ((127u - 15u) << 23);
    uint32_t special = 0x7F800000u | ((em & 0x3FFu) << 13); /* inf, NaN */
    uint32_t sub = f32_bits((float)em * 0x1p-24f);          /* exact: em < 2^10 */
    uint32_t is_special = 0u - (uint32_t)(em >= 0x7C00u);
    uint32_t is_normal = (0u - (uint32_t)(em >= 0x0400u)) & ~is_special;
    uint32_t mag =
        (special & is_special) | (normal & is_normal) | (sub & ~(is_special | is_normal));
    return f32_from(sign | mag);
}

/* ggml_compute_fp32_to_fp16 (ggml-impl.h): round to nearest even, overflow to infinity,
 * every NaN to the quiet NaN 0x7E00 with the sign kept. */
static inline uint16_t f32_to_f16(float f) {
    const float scale_to_inf = 0x1.0p+112f, scale_to_zero = 0x1.0p-110f;
    float base = (fabsf(f) * scale_to_inf) * scale_to_zero;
    const uint32_t w = f32_bits(f), shl1_w = w + w, sign = w & 0x80000000u;
    uint32_t bias = shl1_w & 0xFF000000u;
    if (bias < 0x71000000u) bias = 0x71000000u;
    base = f32_from((bias >> 1) + 0x07800000u) + base;
    const uint32_t bits = f32_bits(base);
    const uint32_t exp_bits = (bits >> 13) & 0x00007C00u, mantissa_bits = bits & 0x00000FFFu;
    const uint32_t nonsign = exp_bits + mantissa_bits;
    return (uint16_t)((sign >> 16) | (shl1_w > 0xFF000000u ? 0x7E00u : nonsign));
}

/* ggml_compute_fp32_to_bf16: round to nearest even; a NaN gets the quiet bit. */
static inline uint16_t f32_to_bf16(float f) {
    uint32_t u = f32_bits(f);
    if ((u & 0x7FFFFFFFu) > 0x7F800000u) return (uint16_t)((u >> 16) | 64);
    return (uint16_t)((u + (0x7FFFu + ((u >> 16) & 1u))) >> 16);
}

/* ---- dequantization: one block each ---- */

static void dq_q4_0(const uint8_t *b, float *y) {
    const float d = f16_to_f32(ld16(b));
    const uint8_t *qs = b + 2;
#pragma omp simd
    for (int j = 0; j < QK / 2; j++) {
        y[j] = (float)((qs[j] & 0x0F) - 8) * d;
        y[j + QK / 2] = (float)((qs[j] >> 4) - 8) * d;
    }
}

static void dq_q4_1(const uint8_t *b, float *y) {
    const float d = f16_to_f32(ld16(b)), m = f16_to_f32(ld16(b + 2));
    const uint8_t *qs = b + 4;
#pragma omp simd
    for (int j = 0; j < QK / 2; j++) {
        y[j] = (float)(qs[j] & 0x0F) * d + m;
        y[j + QK / 2] = (float)(qs[j] >> 4) * d + m;
    }
}

static void dq_q5_0(const uint8_t *b, float *y) {
    const float d = f16_to_f32(ld16(b));
    uint32_t qh;
    memcpy(&qh, b + 2, 4);
    const uint8_t *qs = b + 6;
#pragma omp simd
    for (int j = 0; j < QK / 2; j++) {
        const int xh0 = (int)(((qh >> j) << 4) & 0x10), xh1 = (int)((qh >> (j + 12)) & 0x10);
        y[j] = (float)(((qs[j] & 0x0F) | xh0) - 16) * d;
        y[j + QK / 2] = (float)(((qs[j] >> 4) | xh1) - 16) * d;
    }
}

static void dq_q5_1(const uint8_t *b, float *y) {
    const float d = f16_to_f32(ld16(b)), m = f16_to_f32(ld16(b + 2));
    uint32_t qh;
    memcpy(&qh, b + 4, 4);
    const uint8_t *qs = b + 8;
#pragma omp simd
    for (int j = 0; j < QK / 2; j++) {
        const int xh0 = (int)(((qh >> j) << 4) & 0x10), xh1 = (int)((qh >> (j + 12)) & 0x10);
        y[j] = (float)((qs[j] & 0x0F) | xh0) * d + m;
        y[j + QK / 2] = (float)((qs[j] >> 4) | xh1) * d + m;
    }
}

static void dq_q8_0(const uint8_t *b, float *y) {
    const float d = f16_to_f32(ld16(b));
    const int8_t *qs = (const int8_t *)(b + 2);
#pragma omp simd
    for (int j = 0; j < QK; j++) y[j] = (float)qs[j] * d;
}

/* The 6-bit scale and min of sub-block j of a Q4_K/Q5_K super-block (get_scale_min_k4). */
static inline void scale_min_k4(int j, const uint8_t *q, int *d, int *m) {
    if (j < 4) {
        *d = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *d = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
        *m = (q[j + 4] >> 4) | ((q[j - 0] >> 6) << 4);
    }
}

/* d, dmin (f16), scales[12], qs[128]: 8 sub-blocks of 32, x = d*sc*q - dmin*m. */
static void dq_q4_k(const uint8_t *b, float *y) {
    const float d = f16_to_f32(ld16(b)), dmin = f16_to_f32(ld16(b + 2));
    const uint8_t *scales = b + 4, *q = b + 16;
    for (int j = 0; j < 4; j++, q += 32, y += 64) {
        int sc0, m0, sc1, m1;
        scale_min_k4(2 * j, scales, &sc0, &m0);
        scale_min_k4(2 * j + 1, scales, &sc1, &m1);
        const float d1 = d * (float)sc0, min1 = dmin * (float)m0;
        const float d2 = d * (float)sc1, min2 = dmin * (float)m1;
#pragma omp simd
        for (int l = 0; l < 32; l++) y[l] = d1 * (float)(q[l] & 0xF) - min1;
#pragma omp simd
        for (int l = 0; l < 32; l++) y[l + 32] = d2 * (float)(q[l] >> 4) - min2;
    }
}

/* d, dmin, scales[12], qh[32], qs[128]: as Q4_K with a fifth bit from qh. */
static void dq_q5_k(const uint8_t *b, float *y) {
    const float d = f16_to_f32(ld16(b)), dmin = f16_to_f32(ld16(b + 2));
    const uint8_t *scales = b + 4, *qh = b + 16, *ql = b + 48;
    for (int j = 0; j < 4; j++, ql += 32, y += 64) {
        int sc0, m0, sc1, m1;
        scale_min_k4(2 * j, scales, &sc0, &m0);
        scale_min_k4(2 * j + 1, scales, &sc1, &m1);
        const float d1 = d * (float)sc0, min1 = dmin * (float)m0;
        const float d2 = d * (float)sc1, min2 = dmin * (float)m1;
        const int s1 = 2 * j, s2 = 2 * j + 1; /* the bits of qh for the two halves */
#pragma omp simd
        for (int l = 0; l < 32; l++)
            y[l] = d1 * (float)((ql[l] & 0xF) + (((qh[l] >> s1) & 1) << 4)) - min1;
#pragma omp simd
        for (int l = 0; l < 32; l++)
            y[l + 32] = d2 * (float)((ql[l] >> 4) + (((qh[l] >> s2) & 1) << 4)) - min2;
    }
}

/* ql[128], qh[64], scales[16] (int8), d (f16): 16 sub-blocks of 16, x = d*sc*(q-32). */
static void dq_q6_k(const uint8_t *b, float *y) {
    const uint8_t *ql = b, *qh = b + 128;
    const int8_t *sc = (const int8_t *)(b + 192);
    const float d = f16_to_f32(ld16(b + 208));
    for (int n = 0; n < QK_K; n += 128, y += 128, ql += 64, qh += 32, sc += 8) {
        for (int h = 0; h < 2; h++) { /* elements l = 16h .. 16h+15 use scales sc[h + 2k] */
            const float s1 = d * (float)sc[h + 0], s2 = d * (float)sc[h + 2];
            const float s3 = d * (float)sc[h + 4], s4 = d * (float)sc[h + 6];
#pragma omp simd
            for (int l = 16 * h; l < 16 * h + 16; l++) {
                const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
                const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                y[l] = s1 * (float)q1;
                y[l + 32] = s2 * (float)q2;
                y[l + 64] = s3 * (float)q3;
                y[l + 96] = s4 * (float)q4;
            }
        }
    }
}

void r1_ggml_dequant(R1GgmlType type, const void *src, float *dst, int64_t n) {
    const uint8_t *s = src;
    switch (type) {
    case R1_GGML_F32:
        if (n > 0) memcpy(dst, s, (size_t)n * 4);
        return;
    case R1_GGML_F16:
#pragma omp simd
        for (int64_t i = 0; i < n; i++) dst[i] = f16_to_f32(ld16(s + 2 * i));
        return;
    case R1_GGML_BF16:
#pragma omp simd
        for (int64_t i = 0; i < n; i++) dst[i] = f32_from((uint32_t)ld16(s + 2 * i) << 16);
        return;
    default:
        break;
    }
    void (*fn)(const uint8_t *, float *);
    switch (type) {
    case R1_GGML_Q4_0:
        fn = dq_q4_0;
        break;
    case R1_GGML_Q4_1:
        fn = dq_q4_1;
        break;
    case R1_GGML_Q5_0:
        fn = dq_q5_0;
        break;
    case R1_GGML_Q5_1:
        fn = dq_q5_1;
        break;
    case R1_GGML_Q8_0:
        fn = dq_q8_0;
        break;
    case R1_GGML_Q4_K:
        fn = dq_q4_k;
        break;
    case R1_GGML_Q5_K:
        fn = dq_q5_k;
        break;
    case R1_GGML_Q6_K:
        fn = dq_q6_k;
        break;
    default:
        return;
    }
    const int blk = ggml_types[type].elems;
    const size_t bsz = ggml_types[type].bytes;
    for (int64_t i = 0; i < n / blk; i++) fn(s + (size_t)i * bsz, dst + i * blk);
}

/* ---- quantization ---- */

/* quantize_row_q8_0_ref: d = amax/127 (stored as f16), q = roundf(x / d) computed with the
 * float reciprocal of the unrounded d. */
static void q_q8_0(const float *x, uint8_t *b) {
    float amax = 0.0f;
    for (int j = 0; j < QK; j++) {
        const float a = fabsf(x[j]);
        amax = amax > a ? amax : a; /* MAX(amax, a): a NaN propagates */
    }
    const float d = amax / 127;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    const uint16_t dh = f32_to_f16(d);
    memcpy(b, &dh, 2);
    for (int j = 0; j < QK; j++) {
        const float r = roundf(x[j] * id);
        /* |r| <= 127 for finite input; a NaN (from an infinite or NaN input) becomes 0,
         * what the x86 conversion ggml compiles to gives, without undefined behaviour */
        b[2 + j] = (uint8_t)(int8_t)(r == r ? (r > 127.0f ? 127 : r < -128.0f ? -128 : (int)r) : 0);
    }
}

size_t r1_ggml_quant(R1GgmlType type, const float *src, void *dst, int64_t n) {
    uint8_t *d = dst;
    size_t nb = r1_ggml_nbytes(type, n);
    if (n < 0 || (n > 0 && nb == 0)) return 0;
    switch (type) {
    case R1_GGML_F32:
        if (n > 0) memcpy(d, src, (size_t)n * 4);
        return nb;
    case R1_GGML_F16:
        for (int64_t i = 0; i < n; i++) {
            const uint16_t h = f32_to_f16(src[i]);
            memcpy(d + 2 * i, &h, 2);
        }
        return nb;
    case R1_GGML_BF16:
        for (int64_t i = 0; i < n; i++) {
            const uint16_t h = f32_to_bf16(src[i]);
            memcpy(d + 2 * i, &h, 2);
        }
        return nb;
    case R1_GGML_Q8_0:
        for (int64_t i = 0; i < n / QK; i++) q_q8_0(src + i * QK, d + (size_t)i * 34);
        return nb;
    default:
        return 0;
    }
}
