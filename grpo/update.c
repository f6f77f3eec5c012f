/* update.c - the GRPO updates of one step: mu iterations over the step's
 * active completions, each shuffled and split into M minibatches, one AdamW
 * step per minibatch, gradients accumulated over micro-batches of at most
 * --micro-batch-tokens tokens so memory stays bounded. The model computes on
 * the CPU or, with --device cuda, on the GPU (trainer.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "safetensors.h"
#include "sample.h"
#include "stage.h"
#include "trainer.h"

/* A batch of rollouts: each sequence is the prompt and the completion but its
 * last token; the targets are the completion's tokens. */
typedef struct {
    int *tok, *tgt, *start;
    float *dlogp;
    int cap_T, cap_S;
} Pack;

static void pack_free(Pack *p) {
    free(p->tok), free(p->tgt), free(p->start), free(p->dlogp);
}

static void pack(Pack *p, const GStep *s, const int *idx, int n, R1Batch *b) {
    int T = 0;
    for (int i = 0; i < n; i++) T += s->r[idx[i]].np + s->r[idx[i]].nc - 1;
    if (T > p->cap_T) {
        p->cap_T = T;
        p->tok = r1_xrealloc(p->tok, sizeof(int) * (size_t)T);
        p->tgt = r1_xrealloc(p->tgt, sizeof(int) * (size_t)T);
        free(p->dlogp);
        p->dlogp = r1_falloc((size_t)T);
    }
    if (n + 1 > p->cap_S)
        p->start = r1_xrealloc(p->start, sizeof(int) * (size_t)(p->cap_S = n + 1));
    int t = 0;
    for (int i = 0; i < n; i++) {
        const GRollout *r = &s->r[idx[i]];
        p->start[i] = t;
        for (int k = 0; k < r->np; k++) p->tok[t + k] = r->prompt[k], p->tgt[t + k] = -1;
        for (int k = 0; k + 1 < r->nc; k++)
            p->tok[t + r->np + k] = r->comp[k], p->tgt[t + r->np + k] = -1;
        for (int k = 0; k < r->nc; k++) p->tgt[t + r->np - 1 + k] = r->comp[k];
        t += r->np + r->nc - 1;
    }
    p->start[n] = t;
    memset(p->dlogp, 0, sizeof(float) * (size_t)T);
    *b = (R1Batch){n, T, p->tok, p->start, p->tgt, 1, s->temperature};
}

/* How many of idx[0..n) fit in one micro-batch of `budget` tokens (at least one). */
static int micro_count(const GStep *s, const int *idx, int n, long budget) {
    long t = 0;
    int k = 0;
    while (k < n) {
        long len = s->r[idx[k]].np + s->r[idx[k]].nc - 1;
        if (k > 0 && t + len > budget) break;
        t += len, k++;
    }
    return k;
}

/* ---- the reference ------------------------------------------------------------ */

int grpo_ref_logprobs(R1Model *ref, R1Gpu *gpu, GStep *s, long micro_tokens, R1Err *err) {
    int *idx = r1_xmalloc(sizeof(int) * (size_t)s->n), n = 0;
    for (int i = 0; i < s->n; i++)
        if (s->r[i].active) idx[n++] = i;
    R1Trainer d;
    r1_trainer_init(&d, ref, gpu);
    Pack p = {0};
    int rc = 0;
    for (int at = 0; rc == 0 && at < n;) {
        int k = micro_count(s, idx + at, n - at, micro_tokens);
        R1Batch b;
        pack(&p, s, idx + at, k, &b);
        if ((rc = r1_trainer_forward(&d, &b, NULL, err))) break;
        for (int i = 0; i < k; i++) {
            GRollout *r = &s->r[idx[at + i]];
            r->ref = r1_falloc((size_t)r->nc);
            for (int j = 0; j < r->nc; j++) r->ref[j] = d.logp[p.start[i] + r->np - 1 + j];
        }
        at += k;
    }
    pack_free(&p);
    r1_trainer_free(&d);
    free(idx);
    return rc;
}

/* ---- the updates ------------------------------------------------------------- */

typedef struct {
    double loss, kl, entropy, rho_dev;
    long tokens, clip_low, clip_high;
    float *logp; /* with a dump: the first minibatch's policy log-probs, in order */
    long n_logp;
} Acc;

/* One micro-batch: forward, the per-token loss and its derivative, backward. */
static int micro(R1Trainer *d, Pack *p, const GrpoArgs *ga, const GStep *s, const int *idx, int k,
                 int mb_completions, long mb_tokens, Acc *acc, R1Err *err) {
    R1Batch b;
    pack(p, s, idx, k, &b);
    if (r1_trainer_forward(d, &b, &acc->entropy, err))
        return -1; /* every head row: a completion token */
    const float *lp = d->logp;
    R1GrpoClip clip = {ga->eps, ga->eps_high, ga->beta};
    for (int i = 0; i < k; i++) {
        const GRollout *r = &s->r[idx[i]];
        double w = r1_grpo_weight(ga->loss, r->nc, mb_completions, mb_tokens, s->active_tokens,
                                  s->max_new);
        for (int j = 0; j < r->nc; j++) {
            int t = p->start[i] + r->np - 1 + j;
            double logp = lp[t];
            R1GrpoToken g;
            r1_grpo_token(logp, r->old[j], r->ref ? r->ref[j] : logp, r->adv, &clip, &g);
            p->dlogp[t] = (float)(w * g.dlogp);
            acc->loss += w * g.loss, acc->kl += g.kl, acc->tokens++;
            acc->clip_low += g.clipped_low, acc->clip_high += g.clipped_high;
            acc->rho_dev = fmax(acc->rho_dev, fabs(g.rho - 1.0));
            if (acc->logp) acc->logp[acc->n_logp++] = (float)logp;
        }
    }
    return r1_trainer_backward(d, &b, p->dlogp, err);
}

/* loss [1], advantages [n rollouts], logp [first minibatch's tokens], grad.<name>. */
static int dump(const R1Model *m, const GStep *s, const Acc *acc, double loss, const char *path,
                R1Err *err) {
    float lossf = (float)loss, *adv = r1_falloc((size_t)s->n);
    for (int i = 0; i < s->n; i++) adv[i] = (float)s->r[i].adv;
    R1StWriteTensor ts[3] = {
        {.name = "loss", .dtype = R1_F32, .ndim = 1, .shape = {1}, .data = &lossf},
        {.name = "advantages", .dtype = R1_F32, .ndim = 1, .shape = {s->n}, .data = adv},
        {.name = "logp", .dtype = R1_F32, .ndim = 1, .shape = {acc->n_logp}, .data = acc->logp}};
    int rc = r1_model_dump_grads(m, ts, 3, path, err);
    free(adv);
    return rc;
}

/* The active completions in a seeded order for iteration `it`. */
static int *shuffled(const GrpoArgs *a, const GStep *s, long it) {
    int *idx = r1_xmalloc(sizeof(int) * (size_t)(s->n + 1)), n = 0;
    for (int i = 0; i < s->n; i++)
        if (s->r[i].active) idx[n++] = i;
    R1Rng rng;
    r1_rng_seed(&rng, r1_seq_seed(a->seed, (uint64_t)a->step, (uint64_t)it, 0x6772706fULL));
    r1_rng_shuffle(&rng, idx, (size_t)n, sizeof *idx);
    return idx;
}

/* One minibatch's gradients (accumulated over micro-batches) and its loss. */
static int minibatch(R1Trainer *d, Pack *p, const GrpoArgs *ga, const GStep *s, const int *idx,
                     int n, Acc *acc, double *loss, R1Err *err) {
    long tokens = 0;
    for (int i = 0; i < n; i++) tokens += s->r[idx[i]].nc;
    r1_trainer_zero_grad(d);
    double before = acc->loss;
    int rc = 0;
    for (int at = 0; rc == 0 && at < n;) {
        int k = micro_count(s, idx + at, n - at, ga->micro_tokens);
        rc = micro(d, p, ga, s, idx + at, k, n, tokens, acc, err);
        at += k;
    }
    *loss = acc->loss - before;
    return rc;
}

int grpo_update(R1Model *m, R1Gpu *gpu, R1AdamW *opt, const GrpoArgs *a, GStep *s, GMetrics *out,
                R1Err *err) {
    memset(out, 0, sizeof *out);
    if (!gpu || a->dry_run) r1_model_alloc_grads(m); /* on the GPU: only to dump them */
    R1Trainer d;
    r1_trainer_init(&d, m, gpu);
    Pack p = {0};
    Acc acc = {0};
    if (a->dry_run) acc.logp = r1_falloc((size_t)s->active_tokens + 1);
    double t0 = r1_now(), loss_sum = 0, norm_sum = 0;
    int rc = 0, M = (int)a->minibatches;
    for (long it = 0; rc == 0 && it < a->iterations; it++) {
        int *idx = shuffled(a, s, it);
        for (int mb = 0; rc == 0 && mb < M; mb++) {
            int lo = (int)((long)s->active * mb / M), hi = (int)((long)s->active * (mb + 1) / M);
            if (hi == lo) continue;
            double loss;
            if ((rc = minibatch(&d, &p, a, s, idx + lo, hi - lo, &acc, &loss, err))) break;
            double norm = r1_trainer_clip_grad_norm(&d, a->max_grad_norm);
            if (!isfinite(loss) || !isfinite(norm)) {
                rc = r1_seterr(err,
                               "step %ld, iteration %ld, minibatch %d: the %s is not finite "
                               "(loss %g, gradient norm %g); no update is written and %s stays "
                               "as it was",
                               a->step, it + 1, mb + 1, isfinite(loss) ? "gradient" : "loss", loss,
                               norm, a->out ? a->out : "the checkpoint");
                break;
            }
            loss_sum += loss, norm_sum += norm, out->updates++;
            if (a->dry_run) {
                r1_trainer_to_host(&d, 1, NULL);
                rc = dump(m, s, &acc, loss, a->dump, err);
                it = a->iterations; /* the first minibatch only */
                break;
            }
            r1_trainer_adamw_step(&d, opt, (float)a->lr);
        }
        free(idx);
    }
    double secs = r1_now() - t0;
    long tok = acc.tokens ? acc.tokens : 1;
    out->loss = out->updates ? loss_sum / out->updates : 0;
    out->grad_norm = out->updates ? norm_sum / out->updates : 0;
    out->kl = acc.kl / tok, out->entropy = acc.entropy / tok;
    out->clip_low = (double)acc.clip_low / tok, out->clip_high = (double)acc.clip_high / tok;
    out->ratio_max_dev = acc.rho_dev, out->tokens = acc.tokens;
    out->tokens_per_s = secs > 0 ? acc.tokens / secs : 0;
    out->update_seconds = secs;
    free(acc.logp);
    pack_free(&p);
    r1_trainer_free(&d);
    return rc;
}
