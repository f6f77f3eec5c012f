/* grpo.c - see grpo.h. */
#include "grpo.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

int r1_grpo_scale_parse(const char *name) {
    const char *names[] = {"group", "batch", "none"};
    for (int i = 0; name && i < 3; i++)
        if (!strcmp(name, names[i])) return i;
    return -1;
}

int r1_grpo_loss_parse(const char *name) {
    const char *names[] = {"grpo", "bnpo", "dr_grpo", "dapo"};
    for (int i = 0; name && i < 4; i++)
        if (!strcmp(name, names[i])) return i;
    return -1;
}

/* Sample mean and standard deviation of the defined values among idx[0..n). */
static void mean_std(const double *r, const int *idx, int n, double *mean, double *std) {
    double s = 0, ss = 0;
    int k = 0;
    for (int i = 0; i < n; i++)
        if (!isnan(r[idx[i]])) s += r[idx[i]], k++;
    *mean = k ? s / k : 0.0;
    for (int i = 0; i < n; i++)
        if (!isnan(r[idx[i]])) ss += (r[idx[i]] - *mean) * (r[idx[i]] - *mean);
    *std = k > 1 ? sqrt(ss / (k - 1)) : 0.0;
}

static int cmp_by_group(const void *a, const void *b, const long *group) {
    long x = group[*(const int *)a], y = group[*(const int *)b];
    if (x != y) return x < y ? -1 : 1;
    return *(const int *)a - *(const int *)b;
}

/* Indices sorted by group (insertion sort: steps hold thousands, not millions). */
static int *by_group(const long *group, int n) {
    int *idx = r1_xmalloc(sizeof(int) * (size_t)(n > 0 ? n : 1));
    for (int i = 0; i < n; i++) {
        int j = i;
        while (j > 0 && cmp_by_group(&idx[j - 1], &i, group) > 0) idx[j] = idx[j - 1], j--;
        idx[j] = i;
    }
    return idx;
}

void r1_grpo_advantages(const double *r, const long *group, int n, R1GrpoScale scale, double *adv,
                        unsigned char *uniform, R1AdvStats *st) {
    memset(st, 0, sizeof *st);
    int *idx = by_group(group, n), all_n = n;
    double all_mean, all_std;
    int *all = r1_xmalloc(sizeof(int) * (size_t)(n > 0 ? n : 1));
    for (int i = 0; i < n; i++) all[i] = i;
    mean_std(r, all, all_n, &all_mean, &all_std);
    for (int a = 0; a < n;) {
        int b = a;
        while (b < n && group[idx[b]] == group[idx[a]]) b++;
        double mean, std;
        mean_std(r, idx + a, b - a, &mean, &std);
        int defined = 0;
        for (int i = a; i < b; i++) defined += !isnan(r[idx[i]]);
        if (defined) st->groups++, st->zero_std_groups += std == 0.0;
        double div = scale == R1_SCALE_GROUP   ? std + 1e-4
                     : scale == R1_SCALE_BATCH ? all_std + 1e-4
                                               : 1.0;
        for (int i = a; i < b; i++) {
            adv[idx[i]] = isnan(r[idx[i]]) ? 0.0 : (r[idx[i]] - mean) / div;
            if (uniform) uniform[idx[i]] = std == 0.0;
        }
        a = b;
    }
    double s = 0, ss = 0;
    int k = 0;
    for (int i = 0; i < n; i++)
        if (!isnan(r[i])) s += adv[i], k++;
    st->adv_mean = k ? s / k : 0.0;
    for (int i = 0; i < n; i++)
        if (!isnan(r[i])) ss += (adv[i] - st->adv_mean) * (adv[i] - st->adv_mean);
    st->adv_std = k > 1 ? sqrt(ss / (k - 1)) : 0.0;
    free(idx), free(all);
}

void r1_grpo_token(double logp, double old, double ref, double adv, const R1GrpoClip *c,
                   R1GrpoToken *out) {
    double rho = exp(logp - old);
    double lo = 1.0 - c->eps_low, hi = 1.0 + c->eps_high;
    double clipped = rho < lo ? lo : rho > hi ? hi : rho;
    double unclipped_obj = rho * adv, clipped_obj = clipped * adv;
    /* d(rho A)/dlogp = rho A; the clipped branch is flat wherever it is the
     * smaller one (that only happens outside [lo, hi]). */
    double surr, dsurr;
    if (unclipped_obj <= clipped_obj)
        surr = unclipped_obj, dsurr = rho * adv;
    else
        surr = clipped_obj, dsurr = 0.0;
    double d = ref - logp, e = exp(d);
    out->rho = rho;
    out->kl = c->beta != 0.0 ? e - d - 1.0 : 0.0;
    out->loss = -surr + c->beta * out->kl;
    out->dlogp = -dsurr + (c->beta != 0.0 ? c->beta * (1.0 - e) : 0.0);
    out->clipped_low = rho < lo && adv < 0;
    out->clipped_high = rho > hi && adv > 0;
    if (!isfinite(rho)) /* a corrupt stored log-probability: make the step refuse it */
        out->loss = out->dlogp = NAN;
}

double r1_grpo_weight(R1GrpoLoss loss, int n_tok, int completions_in_minibatch,
                      long tokens_in_minibatch, long tokens_in_step, int max_new_tokens) {
    switch (loss) {
    case R1_LOSS_GRPO:
        return 1.0 / ((double)completions_in_minibatch * n_tok);
    case R1_LOSS_BNPO:
        return 1.0 / (double)tokens_in_minibatch;
    case R1_LOSS_DR_GRPO:
        return 1.0 / ((double)completions_in_minibatch * max_new_tokens);
    case R1_LOSS_DAPO:
        return 1.0 / (double)tokens_in_step;
    }
    return 0.0;
}
