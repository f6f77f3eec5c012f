/* test_sample.c - token sampling (core/sample.c) against distributions worked
 * out here in double: softmax(logits / T), the top-k set and the top-p nucleus
 * by a full sort (renormalised over what top-k kept), checked by chi-square on
 * seeded draws; the full-vocabulary log-probability of every draw; greedy ties
 * and generator state; determinism; r1_seq_seed collisions; edge cases.
 *
 * Chi-square limits are the 0.999 quantiles: the generators are seeded, so each
 * test is deterministic, and a correct sampler fails a given seed with
 * probability 0.001. A wrong distribution gives statistics in the thousands
 * at N = 200000 (test_full shows it). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sample.h"

#define N        200000
#define LOGP_TOL 1e-5 /* float result of a double sum: |logprob| < 20, float ulp < 2e-6 */

static const float L8[8] = {2.0f, 1.0f, 0.5f, 0.0f, -0.5f, -1.0f, 1.5f, 0.25f};

/* p = softmax(x / T) and logp = its log, in double */
static void softmax(const float *x, int V, double T, double *p, double *logp) {
    double mx = -INFINITY, z = 0.0;
    for (int i = 0; i < V; i++) mx = fmax(mx, x[i] / T);
    for (int i = 0; i < V; i++) z += p[i] = exp(x[i] / T - mx);
    for (int i = 0; i < V; i++) p[i] /= z, logp[i] = x[i] / T - mx - log(z);
}

static const double *sort_p;
static int by_p_desc(const void *a, const void *b) {
    int i = *(const int *)a, j = *(const int *)b;
    if (sort_p[i] != sort_p[j]) return sort_p[i] > sort_p[j] ? -1 : 1;
    return i - j;
}

/* The distribution after the cuts, computed independently: q[i] (0 outside);
 * returns the number of ids kept. ord gets the ids most likely first. */
static int cut_dist(const double *p, int V, int top_k, float top_p, double *q, int *ord) {
    for (int i = 0; i < V; i++) ord[i] = i, q[i] = 0.0;
    sort_p = p;
    qsort(ord, (size_t)V, sizeof *ord, by_p_desc);
    int n = top_k > 0 && top_k < V ? top_k : V;
    double total = 0.0, cum = 0.0;
    for (int r = 0; r < n; r++) total += p[ord[r]];
    int keep = n;
    if (top_p < 1.0f)
        for (keep = 0; keep < n && cum < (double)top_p * total;) cum += p[ord[keep++]];
    else
        cum = total;
    for (int r = 0; r < keep; r++) q[ord[r]] = p[ord[r]] / cum;
    return keep;
}

/* Draws n tokens with one generator; counts them, checks every logprob
 * against logp (full vocabulary) and every id against the support of q. The
 * first bad draw is reported after the sampler is freed (no leak on failure). */
static void draw(const float *logits, int V, R1SampleOpts o, uint64_t seed, int n,
                 const double *logp, const double *q, long *count) {
    R1Sampler s;
    R1Rng rng;
    r1_sampler_init(&s, V);
    r1_rng_seed(&rng, seed);
    memset(count, 0, sizeof(long) * (size_t)V);
    int t = 0, id = 0;
    float lp = 0.0f;
    for (; t < n; t++, count[id]++) {
        id = r1_sample(&s, logits, &o, &rng, &lp);
        if (id < 0 || id >= V || q[id] <= 0.0 || fabs(lp - logp[id]) > LOGP_TOL) break;
    }
    r1_sampler_free(&s);
    if (t < n) fail_msg("draw %d: id %d outside the kept set or logprob %.8f wrong", t, id, lp);
}

static double chi2(const long *count, const double *q, int V, long n) {
    double x = 0.0;
    for (int i = 0; i < V; i++)
        if (q[i] > 0.0) x += (count[i] - n * q[i]) * (count[i] - n * q[i]) / (n * q[i]);
    return x;
}

/* One case on the 8 logits: draws, chi-square over the kept ids (dof = kept - 1). */
static void case8(float T, int top_k, float top_p, double limit, int want_kept) {
    double p[8], logp[8], q[8];
    int ord[8];
    long count[8];
    softmax(L8, 8, T, p, logp);
    int kept = cut_dist(p, 8, top_k, top_p, q, ord);
    assert_int_equal(kept, want_kept); /* the cut worked out by hand, see below */
    draw(L8, 8, (R1SampleOpts){T, top_p, top_k}, 42 + (uint64_t)top_k, N, logp, q, count);
    double x = chi2(count, q, 8, N);
    if (x >= limit)
        fail_msg("T %g top_k %d top_p %g: chi2 %.2f >= %.2f", T, top_k, top_p, x, limit);
}

/* (1) softmax(L8 / 0.7), no cuts: 7 dof. The same draws against softmax(L8 / 1)
 * must be rejected (the test has power): their statistic is in the thousands. */
static void test_full(void **state) {
    (void)state;
    double p[8], logp[8], p1[8], logp1[8];
    long count[8];
    softmax(L8, 8, 0.7f, p, logp);
    softmax(L8, 8, 1.0, p1, logp1);
    draw(L8, 8, (R1SampleOpts){0.7f, 1.0f, 0}, 42, N, logp, p, count);
    double x = chi2(count, p, 8, N), wrong = chi2(count, p1, 8, N);
    if (x >= 24.32 || wrong < 1000.0) fail_msg("chi2 %.2f (T 0.7), %.2f (T 1)", x, wrong);
}

/* (2) top-k 3 keeps ids 0, 6, 1 (p .49 .24 .12): 2 dof. */
static void test_top_k(void **state) {
    (void)state;
    case8(0.7f, 3, 1.0f, 13.82, 3);
}

/* (3) p at T 0.7, most likely first: .493 .241 .118 .058 ... top-p 0.6 keeps
 * {0, 6} (.493 < .6 <= .735): 1 dof, 0.999 quantile 10.83. With top-k 3 the
 * mass is renormalised over .853: need .512, still {0, 6}. With top-k 2 it is
 * renormalised over .735: need .441 <= .493, so only id 0 (no renormalisation
 * would keep {0, 6}). */
static void test_top_p(void **state) {
    (void)state;
    case8(0.7f, 0, 0.6f, 10.83, 2);
    case8(0.7f, 3, 0.6f, 10.83, 2);
    case8(0.7f, 2, 0.6f, 1.0, 1); /* one id: every draw is id 0, chi2 0 */
}

/* (3) the candidate filter path, small: probabilities .48 .30 .12 .10, top-p
 * 0.5. The nucleus is {0, 1} (.48 < .5 <= .78); ids 2 and 3 fall under the
 * filter's floor (1 - .5) / 4 = .125, which must not change the mass top-p
 * refers to. 1 dof. */
static void test_top_p_floor_small(void **state) {
    (void)state;
    const float lg[4] = {logf(0.48f), logf(0.30f), logf(0.12f), logf(0.10f)};
    double p[4], logp[4], q[4];
    int ord[4];
    long count[4];
    softmax(lg, 4, 1.0, p, logp);
    assert_int_equal(cut_dist(p, 4, 0, 0.5f, q, ord), 2);
    draw(lg, 4, (R1SampleOpts){1.0f, 0.5f, 0}, 7, N, logp, q, count);
    assert_true(chi2(count, q, 4, N) < 10.83);
}

/* (3) V = 50000: N(0, 1) logits, 16 of them (scattered ids) raised to 12, 11.9,
 * ..., 10.5. r1_sample costs O(V) a draw, so NL = 5000 draws. The nucleus
 * (8 ids) from a full sort, chi-square per id (expected counts >= 30); the
 * 0.999 quantile for k dof by Wilson-Hilferty (within 1% for k >= 6). Most of
 * the tail lies under the filter's floor: it must still count in the mass. */
static void test_top_p_large(void **state) {
    (void)state;
    enum { V = 50000, NL = 5000 };
    static float lg[V];
    static double p[V], logp[V], q[V];
    static int ord[V];
    static long count[V];
    R1Rng g;
    r1_rng_seed(&g, 2024);
    for (int i = 0; i < V; i++) lg[i] = (float)r1_rng_normal(&g);
    for (int j = 0; j < 16; j++) lg[(j * 3119 + 17) % V] = 12.0f - 0.1f * (float)j;
    softmax(lg, V, 1.0, p, logp);
    int kept = cut_dist(p, V, 0, 0.6f, q, ord);
    assert_true(kept >= 5 && kept <= 10 && NL * q[ord[kept - 1]] >= 30.0);
    draw(lg, V, (R1SampleOpts){1.0f, 0.6f, 0}, 99, NL, logp, q, count);
    int seen = 0;
    for (int r = 0; r < kept; r++) seen += count[ord[r]] > 0;
    assert_int_equal(seen, kept); /* the emitted set is the nucleus */
    double x = chi2(count, q, V, NL), k = kept - 1, c = 2.0 / (9.0 * k);
    double limit = k * pow(1.0 - c + 3.090 * sqrt(c), 3.0);
    if (x >= limit) fail_msg("nucleus %d ids: chi2 %.2f >= %.2f", kept, x, limit);
}

/* (4) greedy: the lowest of tied maxima, logprob at T = 1, no draw. */
static void test_greedy(void **state) {
    (void)state;
    const float lg[6] = {1.0f, 3.0f, -2.0f, 3.0f, 0.0f, 2.5f};
    double p[6], logp[6];
    softmax(lg, 6, 1.0, p, logp);
    R1Sampler s;
    r1_sampler_init(&s, 6);
    R1Rng rng, copy;
    r1_rng_seed(&rng, 5);
    copy = rng;
    const R1SampleOpts opts[3] = {{0.0f, 1.0f, 0}, {0.0f, 0.5f, 2}, {-1.0f, 1.0f, 0}};
    for (int i = 0; i < 3; i++) {
        float lp;
        assert_int_equal(r1_sample(&s, lg, &opts[i], &rng, &lp), 1);
        assert_true(fabs(lp - logp[1]) <= LOGP_TOL);
        assert_memory_equal(&rng, &copy, sizeof rng);
    }
    r1_sampler_free(&s);
}

/* (5) same seed, same sequence; another seed, another one. */
static void test_determinism(void **state) {
    (void)state;
    R1Sampler a, b;
    R1Rng ra, rb, rc;
    r1_sampler_init(&a, 8), r1_sampler_init(&b, 8);
    r1_rng_seed(&ra, 11), r1_rng_seed(&rb, 11), r1_rng_seed(&rc, 12);
    const R1SampleOpts o = {0.9f, 0.95f, 6};
    int differ = 0;
    for (int t = 0; t < 1000; t++) {
        float la, lb, lc;
        int x = r1_sample(&a, L8, &o, &ra, &la), y = r1_sample(&b, L8, &o, &rb, &lb);
        assert_int_equal(x, y);
        assert_true(la == lb);
        differ += r1_sample(&b, L8, &o, &rc, &lc) != x;
    }
    assert_true(differ > 100);
    r1_sampler_free(&a), r1_sampler_free(&b);
}

static int u64_cmp(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* (5) 5 * 8 * 8 * 4 = 1280 combinations (permutations of parts included): no
 * two give the same seed. */
static void test_seq_seed(void **state) {
    (void)state;
    enum { M = 5 * 8 * 8 * 4 };
    uint64_t h[M];
    int n = 0;
    for (uint64_t s = 0; s < 5; s++)
        for (uint64_t a = 0; a < 8; a++)
            for (uint64_t b = 0; b < 8; b++)
                for (uint64_t c = 0; c < 4; c++) h[n++] = r1_seq_seed(s, a, b, c);
    qsort(h, M, sizeof *h, u64_cmp);
    for (int i = 1; i < M; i++) assert_true(h[i] != h[i - 1]);
}

/* (6) one token at +30 with top-p 0.5 (T 1 and 0.7); top-k > V is no cut: the
 * same stream as top-k 0, with and without top-p. */
static void test_edges(void **state) {
    (void)state;
    float lg[8] = {0};
    lg[5] = 30.0f;
    R1Sampler s, t;
    R1Rng r, r2;
    r1_sampler_init(&s, 8), r1_sampler_init(&t, 8);
    r1_rng_seed(&r, 3);
    for (int i = 0; i < 10000; i++) {
        float lp;
        R1SampleOpts o = {i % 2 ? 1.0f : 0.7f, 0.5f, 0};
        assert_int_equal(r1_sample(&s, lg, &o, &r, &lp), 5);
        assert_true(fabs(lp) <= LOGP_TOL);
    }
    const float tp[2] = {1.0f, 0.6f};
    const int kk[2] = {9, 1000};
    for (int j = 0; j < 4; j++) {
        r1_rng_seed(&r, 8), r1_rng_seed(&r2, 8);
        R1SampleOpts cut = {0.7f, tp[j % 2], kk[j / 2]}, none = {0.7f, tp[j % 2], 0};
        for (int i = 0; i < 2000; i++) {
            float l1, l2;
            assert_int_equal(r1_sample(&s, L8, &cut, &r, &l1), r1_sample(&t, L8, &none, &r2, &l2));
        }
    }
    r1_sampler_free(&s), r1_sampler_free(&t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full),        cmocka_unit_test(test_top_k),
        cmocka_unit_test(test_top_p),       cmocka_unit_test(test_top_p_floor_small),
        cmocka_unit_test(test_top_p_large), cmocka_unit_test(test_greedy),
        cmocka_unit_test(test_determinism), cmocka_unit_test(test_seq_seed),
        cmocka_unit_test(test_edges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
