/* fdcheck.h - finite-difference gradient checking shared by the unit tests.
 *
 * A test wraps its forward pass in a function returning a scalar loss in
 * double (typically sum(out * R) for a fixed random R, whose gradient with
 * respect to out is R), computes analytic gradients with the backward, and
 * compares them with central differences of that loss. */
#ifndef R1_FDCHECK_H
#define R1_FDCHECK_H

#include <math.h>
#include <stdio.h>

#include "rng.h"

typedef double (*LossFn)(void *ctx);

/* Largest |analytic - numeric| over the checked elements, relative to
 * max(1, max|analytic|). Checks every element when n <= max_checks, else a
 * seeded random sample of max_checks of them. */
static inline double fd_max_error(LossFn f, void *ctx, float *x, const float *grad, size_t n,
                                  float eps, int max_checks, const char *what) {
    R1Rng rng;
    r1_rng_seed(&rng, 1234);
    double worst = 0.0, scale = 1.0;
    for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(grad[i]));
    int checks = n <= (size_t)max_checks ? (int)n : max_checks;
    for (int c = 0; c < checks; c++) {
        size_t i = n <= (size_t)max_checks ? (size_t)c : (size_t)(r1_rng_u64(&rng) % n);
        float keep = x[i];
        double d[2];
        for (int k = 0; k < 2; k++) { /* central differences at eps and eps / 2 */
            float h = k ? eps / 2 : eps;
            x[i] = keep + h;
            double lp = f(ctx);
            x[i] = keep - h;
            double lm = f(ctx);
            d[k] = (lp - lm) / (2.0 * (double)(x[i] = keep, h));
        }
        /* Richardson extrapolation cancels the O(eps^2) truncation term. */
        double num = (4.0 * d[1] - d[0]) / 3.0, err = fabs(num - grad[i]) / scale;
        if (err > worst) worst = err;
    }
    if (getenv("R1_FD_VERBOSE")) fprintf(stderr, "  %-24s max rel err %.3g\n", what, worst);
    return worst;
}

static inline void fill_normal(float *x, size_t n, float scale, R1Rng *rng) {
    for (size_t i = 0; i < n; i++) x[i] = scale * (float)r1_rng_normal(rng);
}

static inline double dot_f64(const float *a, const float *b, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

#endif
