/* test_ops.c - every CPU operation against an independent reference:
 * forwards against naive double-precision loops written here, backwards
 * against central finite differences of a scalar loss sum(out * R).
 *
 * Tolerances: forwards 1e-5 relative (float32 against double); gradients
 * 1e-3 of max(1, max|grad|) (seen: at most 5e-4), eps = 1e-2 with Richardson
 * extrapolation (float32 forward, so the
 * central difference carries ~1e-4 rounding noise; the truncation error is
 * O(eps^2)). A wrong sign, index or factor gives errors of order 1. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <omp.h>

#include "fdcheck.h"
#include "ops.h"
#include "util.h"

#define FWD_TOL  1e-5
#define GRAD_TOL 1e-3
#define EPS      1e-2f

static double max_rel(const float *a, const double *ref, size_t n) {
    double worst = 0.0, scale = 1e-30;
    for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(ref[i]));
    for (size_t i = 0; i < n; i++) worst = fmax(worst, fabs(a[i] - ref[i]) / scale);
    return worst;
}

/* ---- matmul ---------------------------------------------------------------- */

typedef struct {
    int T, IC, OC;
    float *inp, *w, *b, *out, *R;
} MatmulCtx;

static double matmul_loss(void *p) {
    MatmulCtx *c = p;
    op_matmul_fwd(c->out, c->inp, c->w, c->b, c->T, c->IC, c->OC, 0);
    return dot_f64(c->out, c->R, (size_t)c->T * c->OC);
}

static void test_matmul(void **state) {
    (void)state;
    R1Rng rng;
    r1_rng_seed(&rng, 1);
    MatmulCtx c = {.T = 5, .IC = 7, .OC = 6};
    c.inp = r1_falloc(35), c.w = r1_falloc(42), c.b = r1_falloc(6), c.out = r1_falloc(30);
    c.R = r1_falloc(30);
    fill_normal(c.inp, 35, 1, &rng), fill_normal(c.w, 42, 1, &rng), fill_normal(c.b, 6, 1, &rng);
    fill_normal(c.R, 30, 1, &rng);
    matmul_loss(&c);
    double ref[30];
    for (int t = 0; t < 5; t++)
        for (int o = 0; o < 6; o++) {
            double s = c.b[o];
            for (int i = 0; i < 7; i++) s += (double)c.inp[t * 7 + i] * c.w[o * 7 + i];
            ref[t * 6 + o] = s;
        }
    assert_true(max_rel(c.out, ref, 30) < FWD_TOL);
    /* accumulate = 1 adds to what is there */
    float *acc = r1_falloc(30);
    for (int i = 0; i < 30; i++) acc[i] = 1.0f;
    op_matmul_fwd(acc, c.inp, c.w, c.b, 5, 7, 6, 1);
    for (int i = 0; i < 30; i++)
        assert_true(fabs(acc[i] - 1.0 - ref[i]) < 1e-5 * (1 + fabs(ref[i])));
    float *dinp = r1_falloc(35), *dw = r1_falloc(42), *db = r1_falloc(6);
    op_matmul_bwd(dinp, dw, db, c.R, c.inp, c.w, 5, 7, 6);
    assert_true(fd_max_error(matmul_loss, &c, c.inp, dinp, 35, EPS, 64, "matmul dinp") < GRAD_TOL);
    assert_true(fd_max_error(matmul_loss, &c, c.w, dw, 42, EPS, 64, "matmul dw") < GRAD_TOL);
    assert_true(fd_max_error(matmul_loss, &c, c.b, db, 6, EPS, 64, "matmul dbias") < GRAD_TOL);
    free(c.inp), free(c.w), free(c.b), free(c.out), free(c.R), free(acc), free(dinp), free(dw);
    free(db);
}

/* op_matmul_rows: the double-precision product (1e-5 relative), with bias and
 * accumulate, on shapes that exercise every kernel edge (rows not a multiple
 * of 4, weight rows not a multiple of 3, IC not a multiple of 8); and each
 * row's result bit-identical whatever the other rows and the thread count. */
static void matmul_rows_case(void) {
    R1Rng rng;
    r1_rng_seed(&rng, 5);
    const int T = 11, IC = 77, OC = 200;
    float *x = r1_falloc(T * IC), *w = r1_falloc(OC * IC), *b = r1_falloc(OC);
    float *out = r1_falloc(T * OC), *one = r1_falloc(OC), *acc = r1_falloc(T * OC);
    fill_normal(x, T * IC, 1, &rng), fill_normal(w, OC * IC, 1, &rng), fill_normal(b, OC, 1, &rng);
    double *ref = malloc(sizeof(double) * T * OC);
    for (int t = 0; t < T; t++)
        for (int o = 0; o < OC; o++) {
            double s = b[o];
            for (int i = 0; i < IC; i++) s += (double)x[t * IC + i] * w[o * IC + i];
            ref[t * OC + o] = s;
        }
    op_matmul_rows(out, x, w, b, T, IC, OC, 0);
    assert_true(max_rel(out, ref, (size_t)T * OC) < FWD_TOL);
    for (int i = 0; i < T * OC; i++) acc[i] = 2.0f;
    op_matmul_rows(acc, x, w, b, T, IC, OC, 1);
    for (int i = 0; i < T * OC; i++)
        assert_true(fabs(acc[i] - 2.0 - ref[i]) < 1e-5 * (1 + fabs(ref[i])));
    for (int threads = 1; threads <= 3; threads++) {
        omp_set_num_threads(threads);
        for (int t = 0; t < T; t++) { /* row t alone, then inside a block starting elsewhere */
            op_matmul_rows(one, x + t * IC, w, b, 1, IC, OC, 0);
            assert_memory_equal(one, out + t * OC, sizeof(float) * OC);
        }
        op_matmul_rows(acc, x + 3 * IC, w, b, T - 3, IC, OC, 0);
        assert_memory_equal(acc, out + 3 * OC, sizeof(float) * (T - 3) * OC);
    }
    free(x), free(w), free(b), free(out), free(one), free(acc), free(ref);
}

/* Both kernel families: AVX-512 where the CPU has it, and AVX2 (forced by R1_SIMD). */
static void test_matmul_rows(void **state) {
    (void)state;
    matmul_rows_case();
    setenv("R1_SIMD", "avx2", 1);
    matmul_rows_case();
    unsetenv("R1_SIMD");
}

/* ---- embedding ------------------------------------------------------------- */

static void test_embedding(void **state) {
    (void)state;
    R1Rng rng;
    r1_rng_seed(&rng, 2);
    int ids[5] = {3, 0, 3, 2, 1}, C = 4;
    float *wte = r1_falloc(5 * 4), *out = r1_falloc(20), *d = r1_falloc(20), *dw = r1_falloc(20);
    fill_normal(wte, 20, 1, &rng);
    fill_normal(d, 20, 1, &rng);
    op_embedding_fwd(out, ids, wte, 5, C);
    for (int t = 0; t < 5; t++)
        for (int i = 0; i < C; i++) assert_true(out[t * C + i] == wte[ids[t] * C + i]);
    op_embedding_bwd(dw, d, ids, 5, C);
    for (int i = 0; i < C; i++) { /* id 3 appears twice: its gradients add */
        assert_true(fabs(dw[3 * C + i] - (d[0 * C + i] + d[2 * C + i])) < 1e-6);
        assert_true(dw[4 * C + i] == 0.0f);
    }
    free(wte), free(out), free(d), free(dw);
}

/* ---- RMSNorm --------------------------------------------------------------- */

typedef struct {
    int T, C;
    float *x, *w, *out, *rstd, *R;
} NormCtx;

static double norm_loss(void *p) {
    NormCtx *c = p;
    op_rmsnorm_fwd(c->out, c->rstd, c->x, c->w, c->T, c->C, 1e-6f);
    return dot_f64(c->out, c->R, (size_t)c->T * c->C);
}

static void test_rmsnorm(void **state) {
    (void)state;
    R1Rng rng;
    r1_rng_seed(&rng, 3);
    NormCtx c = {.T = 4, .C = 9};
    size_t n = 36;
    c.x = r1_falloc(n), c.w = r1_falloc(9), c.out = r1_falloc(n), c.rstd = r1_falloc(4);
    c.R = r1_falloc(n);
    fill_normal(c.x, n, 1, &rng), fill_normal(c.w, 9, 1, &rng), fill_normal(c.R, n, 1, &rng);
    norm_loss(&c);
    double ref[36];
    for (int t = 0; t < 4; t++) {
        double ss = 0;
        for (int i = 0; i < 9; i++) ss += (double)c.x[t * 9 + i] * c.x[t * 9 + i];
        double r = 1.0 / sqrt(ss / 9 + 1e-6);
        for (int i = 0; i < 9; i++) ref[t * 9 + i] = c.x[t * 9 + i] * r * c.w[i];
    }
    assert_true(max_rel(c.out, ref, n) < FWD_TOL);
    float *dx = r1_falloc(n), *dw = r1_falloc(9);
    op_rmsnorm_bwd(dx, dw, c.R, c.x, c.w, c.rstd, 4, 9);
    assert_true(fd_max_error(norm_loss, &c, c.x, dx, n, EPS, 64, "rmsnorm dx") < GRAD_TOL);
    assert_true(fd_max_error(norm_loss, &c, c.w, dw, 9, EPS, 64, "rmsnorm dw") < GRAD_TOL);
    free(c.x), free(c.w), free(c.out), free(c.rstd), free(c.R), free(dx), free(dw);
}

/* ---- RoPE ------------------------------------------------------------------ */

typedef struct {
    int T, nh, hd, ld;
    int *pos;
    float *x0, *x, *cs, *sn, *R;
} RopeCtx;

static double rope_loss(void *p) {
    RopeCtx *c = p;
    memcpy(c->x, c->x0, sizeof(float) * (size_t)c->T * c->ld);
    op_rope_fwd(c->x, c->ld, c->pos, c->cs, c->sn, c->T, c->nh, c->hd);
    return dot_f64(c->x, c->R, (size_t)c->T * c->ld);
}

static void test_rope(void **state) {
    (void)state;
    R1Rng rng;
    r1_rng_seed(&rng, 4);
    int pos[4] = {0, 1, 7, 3};
    /* 2 heads of dim 6 inside rows of 15 floats: the 3 trailing ones must not move. */
    RopeCtx c = {.T = 4, .nh = 2, .hd = 6, .ld = 15, .pos = pos};
    size_t n = 60;
    float inv[3] = {1.0f, 0.1f, 0.01f};
    c.x0 = r1_falloc(n), c.x = r1_falloc(n), c.cs = r1_falloc(8 * 3), c.sn = r1_falloc(8 * 3);
    c.R = r1_falloc(n);
    op_rope_table(c.cs, c.sn, inv, 8, 6);
    fill_normal(c.x0, n, 1, &rng), fill_normal(c.R, n, 1, &rng);
    rope_loss(&c);
    for (int t = 0; t < 4; t++) {
        for (int h = 0; h < 2; h++)
            for (int i = 0; i < 3; i++) { /* rotate-half: pairs (i, i + hd/2) */
                const float *a = c.x0 + t * 15 + h * 6;
                double th = pos[t] * (double)inv[i], y1 = a[i] * cos(th) - a[i + 3] * sin(th);
                double y2 = a[i + 3] * cos(th) + a[i] * sin(th);
                assert_true(fabs(c.x[t * 15 + h * 6 + i] - y1) < 1e-5);
                assert_true(fabs(c.x[t * 15 + h * 6 + i + 3] - y2) < 1e-5);
            }
        for (int i = 12; i < 15; i++) assert_true(c.x[t * 15 + i] == c.x0[t * 15 + i]);
    }
    float *dx = r1_falloc(n);
    memcpy(dx, c.R, sizeof(float) * n);
    op_rope_bwd(dx, 15, pos, c.cs, c.sn, 4, 2, 6);
    assert_true(fd_max_error(rope_loss, &c, c.x0, dx, n, EPS, 64, "rope dx") < GRAD_TOL);
    free(c.x0), free(c.x), free(c.cs), free(c.sn), free(c.R), free(dx);
}

/* ---- attention ------------------------------------------------------------- */

typedef struct {
    int T, nh, nkv, hd, ld, n_seqs;
    const int *starts;
    float *qkv, *out, *lse, *R;
} AttnCtx;

static double attn_loss(void *p) {
    AttnCtx *c = p;
    int Hd = c->nh * c->hd, KVd = c->nkv * c->hd;
    op_attention_fwd(c->out, c->lse, c->qkv, c->ld, c->qkv + Hd, c->qkv + Hd + KVd, c->ld,
                     c->starts, c->n_seqs, c->nh, c->nkv, c->hd);
    return dot_f64(c->out, c->R, (size_t)c->T * Hd);
}

/* Naive causal attention in double, one (token, head) at a time. */
static void attn_ref(const AttnCtx *c, double *ref) {
    int Hd = c->nh * c->hd, KVd = c->nkv * c->hd, group = c->nh / c->nkv;
    for (int s = 0; s < c->n_seqs; s++)
        for (int t = c->starts[s]; t < c->starts[s + 1]; t++)
            for (int h = 0; h < c->nh; h++) {
                int g = h / group, n = t - c->starts[s] + 1;
                double sc[64], mx = -1e300, sum = 0;
                const float *q = c->qkv + t * c->ld + h * c->hd;
                for (int j = 0; j < n; j++) {
                    const float *k = c->qkv + (c->starts[s] + j) * c->ld + Hd + g * c->hd;
                    double d = 0;
                    for (int e = 0; e < c->hd; e++) d += (double)q[e] * k[e];
                    sc[j] = d / sqrt((double)c->hd);
                    mx = fmax(mx, sc[j]);
                }
                for (int j = 0; j < n; j++) sum += (sc[j] = exp(sc[j] - mx));
                for (int e = 0; e < c->hd; e++) {
                    double o = 0;
                    for (int j = 0; j < n; j++)
                        o += sc[j] / sum *
                             c->qkv[(c->starts[s] + j) * c->ld + Hd + KVd + g * c->hd + e];
                    ref[t * Hd + h * c->hd + e] = o;
                }
            }
}

static void check_attention(int nh, int nkv) {
    R1Rng rng;
    r1_rng_seed(&rng, 5 + nkv);
    int starts[4] = {0, 5, 6, 13}; /* lengths 5, 1 and 7 */
    int hd = 4, Hd = nh * hd, ld = (nh + 2 * nkv) * hd;
    AttnCtx c = {.T = 13, .nh = nh, .nkv = nkv, .hd = hd, .ld = ld, .n_seqs = 3, .starts = starts};
    size_t nq = (size_t)c.T * ld, no = (size_t)c.T * Hd;
    c.qkv = r1_falloc(nq), c.out = r1_falloc(no), c.lse = r1_falloc((size_t)c.T * nh);
    c.R = r1_falloc(no);
    fill_normal(c.qkv, nq, 1, &rng), fill_normal(c.R, no, 1, &rng);
    attn_loss(&c);
    double *ref = calloc(no, sizeof(double));
    attn_ref(&c, ref);
    assert_true(max_rel(c.out, ref, no) < FWD_TOL);
    float *d = r1_falloc(nq);
    op_attention_bwd(d, d + Hd, d + Hd + nkv * hd, ld, c.R, c.out, c.lse, c.qkv, ld, c.qkv + Hd,
                     c.qkv + Hd + nkv * hd, ld, starts, 3, nh, nkv, hd);
    assert_true(fd_max_error(attn_loss, &c, c.qkv, d, nq, EPS, 400, "attention dqkv") < GRAD_TOL);
    free(c.qkv), free(c.out), free(c.lse), free(c.R), free(ref), free(d);
}

static void test_attention_mha(void **state) {
    (void)state;
    check_attention(2, 2);
}

static void test_attention_gqa(void **state) {
    (void)state;
    check_attention(6, 2);
}

/* ---- SwiGLU ---------------------------------------------------------------- */

typedef struct {
    int T, n;
    float *gu, *out, *R;
} SwigluCtx;

static double swiglu_loss(void *p) {
    SwigluCtx *c = p;
    op_swiglu_fwd(c->out, c->gu, c->T, c->n);
    return dot_f64(c->out, c->R, (size_t)c->T * c->n);
}

static void test_swiglu(void **state) {
    (void)state;
    R1Rng rng;
    r1_rng_seed(&rng, 6);
    SwigluCtx c = {.T = 3, .n = 5};
    c.gu = r1_falloc(30), c.out = r1_falloc(15), c.R = r1_falloc(15);
    fill_normal(c.gu, 30, 2, &rng), fill_normal(c.R, 15, 1, &rng);
    swiglu_loss(&c);
    double ref[15];
    for (int t = 0; t < 3; t++)
        for (int i = 0; i < 5; i++) {
            double g = c.gu[t * 10 + i], u = c.gu[t * 10 + 5 + i];
            ref[t * 5 + i] = g / (1 + exp(-g)) * u;
        }
    assert_true(max_rel(c.out, ref, 15) < FWD_TOL);
    float *d = r1_falloc(30);
    op_swiglu_bwd(d, c.R, c.gu, 3, 5);
    assert_true(fd_max_error(swiglu_loss, &c, c.gu, d, 30, EPS, 64, "swiglu dgu") < GRAD_TOL);
    free(c.gu), free(c.out), free(c.R), free(d);
}

/* ---- log-probabilities ----------------------------------------------------- */

typedef struct {
    int T, V;
    int *tg;
    float *logits, *logp, *lse, *R;
} LogpCtx;

static double logp_loss(void *p) {
    LogpCtx *c = p;
    op_logprob_fwd(c->logp, c->lse, c->logits, c->tg, c->T, c->V, 1.0f);
    return dot_f64(c->logp, c->R, (size_t)c->T);
}

static void test_logprob(void **state) {
    (void)state;
    R1Rng rng;
    r1_rng_seed(&rng, 7);
    int tg[4] = {3, -1, 0, 10};
    LogpCtx c = {.T = 4, .V = 11, .tg = tg};
    c.logits = r1_falloc(44), c.logp = r1_falloc(4), c.lse = r1_falloc(4), c.R = r1_falloc(4);
    fill_normal(c.logits, 44, 3, &rng), fill_normal(c.R, 4, 1, &rng);
    c.logits[10] = 80.0f; /* a large logit must not overflow the exponentials */
    logp_loss(&c);
    for (int t = 0; t < 4; t++) {
        double mx = -1e300, s = 0;
        for (int j = 0; j < 11; j++) mx = fmax(mx, c.logits[t * 11 + j]);
        for (int j = 0; j < 11; j++) s += exp(c.logits[t * 11 + j] - mx);
        double ref = tg[t] < 0 ? 0.0 : c.logits[t * 11 + tg[t]] - mx - log(s);
        assert_true(fabs(c.logp[t] - ref) < 1e-5 * (1 + fabs(ref)));
        assert_true(isfinite(c.logp[t]));
    }
    float *d = r1_falloc(44);
    op_logprob_bwd(d, c.logits, c.lse, tg, c.R, 4, 11, 1.0f);
    for (int j = 0; j < 11; j++) assert_true(d[11 + j] == 0.0f); /* no target: no gradient */
    assert_true(fd_max_error(logp_loss, &c, c.logits, d, 44, EPS, 64, "logprob dlogits") <
                GRAD_TOL);
    free(c.logits), free(c.logp), free(c.lse), free(c.R), free(d);
}

/* Log-probabilities at a sampling temperature: softmax(s * logits), s = 1 / T,
 * for T = 0.7 and 1.3 (s as core/transformer.c computes it, 1.0f / T).
 *   - forward: logp and lse against log-softmax of s * logits in double,
 *     TEMP_TOL = 2e-6 of 1 + |value| (float32 against double; seen 1.6e-7),
 *     with a logit of 80
 *     (s * 80 = 114 at T = 0.7 overflows a float exp without the max shift)
 *     and one of -80;
 *   - backward: against the closed form s dlogp (1[j = y] - softmax(s z)_j) in
 *     double, TEMP_TOL of max(1, max|grad|) (seen 1.4e-7), exact zeros on the
 *     row without a target, the same bits in place (dlogits = the logits
 *     buffer); and against central differences of the forward, TEMP_FD_TOL =
 *     3e-4 of max(1, max|grad|) (seen 4e-5; the float32 forward's rounding
 *     bounds it; a missing factor s in the backward errs by |1 - T| = 30%);
 *   - the identity op(x, s) = op(s x, 1) (logp, lse) and dlogits(x, s) =
 *     s dlogits(s x, 1), within float32 rounding (1e-5);
 *   - s = 1 reproduces the untempered values exactly (bits). */
#define TEMP_TOL    2e-6
#define TEMP_FD_TOL 3e-4

typedef struct {
    int T, V;
    int *tg;
    float s;
    float *logits, *logp, *lse, *R;
} LogpTempCtx;

static double logp_temp_loss(void *p) {
    LogpTempCtx *c = p;
    op_logprob_fwd(c->logp, c->lse, c->logits, c->tg, c->T, c->V, c->s);
    return dot_f64(c->logp, c->R, (size_t)c->T);
}

static void logprob_at(float temperature) {
    enum { T = 5, V = 13 };
    R1Rng rng;
    r1_rng_seed(&rng, 17);
    int tg[T] = {3, -1, 0, 12, 7};
    float s = 1.0f / temperature;
    LogpTempCtx c = {.T = T, .V = V, .tg = tg, .s = s};
    c.logits = r1_falloc(T * V), c.logp = r1_falloc(T), c.lse = r1_falloc(T), c.R = r1_falloc(T);
    fill_normal(c.logits, T * V, 3, &rng), fill_normal(c.R, T, 1, &rng);
    c.logits[3 * V + 12] = 80.0f; /* the target of row 3 */
    c.logits[4 * V + 2] = -80.0f;
    logp_temp_loss(&c);
    double dref[T * V], gscale = 1.0;
    for (int t = 0; t < T; t++) {
        const float *x = c.logits + t * V;
        double mx = -1e300, sum = 0;
        for (int j = 0; j < V; j++) mx = fmax(mx, (double)s * x[j]);
        for (int j = 0; j < V; j++) sum += exp((double)s * x[j] - mx);
        double lse = mx + log(sum);
        double ref = tg[t] < 0 ? 0.0 : (double)s * x[tg[t]] - lse;
        assert_true(isfinite(c.logp[t]) && isfinite(c.lse[t]));
        if (fabs(c.logp[t] - ref) >= TEMP_TOL * (1 + fabs(ref)) ||
            fabs(c.lse[t] - lse) >= TEMP_TOL * (1 + fabs(lse)))
            fprintf(stderr, "T=%g row %d: logp %.9g want %.9g, lse %.9g want %.9g\n", temperature,
                    t, c.logp[t], ref, c.lse[t], lse);
        assert_true(fabs(c.logp[t] - ref) < TEMP_TOL * (1 + fabs(ref)));
        assert_true(fabs(c.lse[t] - lse) < TEMP_TOL * (1 + fabs(lse)));
        for (int j = 0; j < V; j++) {
            double p = exp((double)s * x[j] - lse);
            dref[t * V + j] = tg[t] < 0 ? 0.0 : (double)s * c.R[t] * ((j == tg[t]) - p);
            gscale = fmax(gscale, fabs(dref[t * V + j]));
        }
    }
    float *d = r1_falloc(T * V), *inplace = r1_falloc(T * V);
    op_logprob_bwd(d, c.logits, c.lse, tg, c.R, T, V, s);
    double worst = 0;
    for (int i = 0; i < T * V; i++) worst = fmax(worst, fabs(d[i] - dref[i]) / gscale);
    if (worst >= TEMP_TOL) fprintf(stderr, "T=%g: dlogits max rel err %g\n", temperature, worst);
    assert_true(worst < TEMP_TOL);
    for (int j = 0; j < V; j++) assert_true(d[V + j] == 0.0f); /* no target: no gradient */
    memcpy(inplace, c.logits, sizeof(float) * T * V);
    op_logprob_bwd(inplace, inplace, c.lse, tg, c.R, T, V, s);
    assert_memory_equal(inplace, d, sizeof(float) * T * V);
    double fd = fd_max_error(logp_temp_loss, &c, c.logits, d, T * V, EPS, 128, "logprob s dlogits");
    if (fd >= TEMP_FD_TOL)
        fprintf(stderr, "T=%g: finite differences max rel err %g\n", temperature, fd);
    assert_true(fd < TEMP_FD_TOL);

    /* op(x, s) = op(s x, 1); dlogits(x, s) = s dlogits(s x, 1) */
    float *sx = r1_falloc(T * V), *logp1 = r1_falloc(T), *lse1 = r1_falloc(T),
          *d1 = r1_falloc(T * V);
    for (int i = 0; i < T * V; i++) sx[i] = s * c.logits[i];
    logp_temp_loss(&c);
    op_logprob_fwd(logp1, lse1, sx, tg, T, V, 1.0f);
    for (int t = 0; t < T; t++) {
        assert_true(fabsf(logp1[t] - c.logp[t]) < 1e-5f * (1 + fabsf(c.logp[t])));
        assert_true(fabsf(lse1[t] - c.lse[t]) < 1e-5f * (1 + fabsf(c.lse[t])));
    }
    op_logprob_bwd(d1, sx, lse1, tg, c.R, T, V, 1.0f);
    for (int i = 0; i < T * V; i++) assert_true(fabs(s * d1[i] - d[i]) < 1e-5 * gscale);

    /* s = 1: the untempered values, bit for bit */
    float *logpu = r1_falloc(T), *lseu = r1_falloc(T);
    c.s = 1.0f;
    logp_temp_loss(&c);
    LogpCtx u = {
        .T = T, .V = V, .tg = tg, .logits = c.logits, .logp = logpu, .lse = lseu, .R = c.R};
    logp_loss(&u);
    assert_memory_equal(logpu, c.logp, sizeof(float) * T);
    assert_memory_equal(lseu, c.lse, sizeof(float) * T);
    free(c.logits), free(c.logp), free(c.lse), free(c.R), free(d), free(inplace), free(sx);
    free(logp1), free(lse1), free(d1), free(logpu), free(lseu);
}

static void test_logprob_temperature(void **state) {
    (void)state;
    logprob_at(0.7f);
    logprob_at(1.3f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matmul),        cmocka_unit_test(test_matmul_rows),
        cmocka_unit_test(test_embedding),     cmocka_unit_test(test_rmsnorm),
        cmocka_unit_test(test_rope),          cmocka_unit_test(test_attention_mha),
        cmocka_unit_test(test_attention_gqa), cmocka_unit_test(test_swiglu),
        cmocka_unit_test(test_logprob),       cmocka_unit_test(test_logprob_temperature),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
