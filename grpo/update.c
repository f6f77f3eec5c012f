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

/* Which rank computes each of idx[0..n) (balanced by tokens, dist.h) into
 * owner, and this rank's items, in order, into mine; returns their count.
 * Alone: all of them. */
static int share(const GrpoArgs *a, const GStep *s, const int *idx, int n, int *owner, int *mine) {
    R1Dist *d = a->dist;
    if (!d || d->size == 1) {
        memcpy(mine, idx, sizeof(int) * (size_t)n);
        memset(owner, 0, sizeof(int) * (size_t)n);
        return n;
    }
    long *w = r1_xmalloc(sizeof(long) * (size_t)(n + 1));
    for (int i = 0; i < n; i++) w[i] = s->r[idx[i]].np + s->r[idx[i]].nc - 1;
    r1_dist_assign(w, n, d->size, owner);
    free(w);
    return r1_dist_mine(d, idx, owner, n, mine);
}

/* Each completion's token count (the runs r1_dist_items moves). */
static int *lengths(const GStep *s, const int *idx, int n) {
    int *len = r1_xmalloc(sizeof(int) * (size_t)(n + 1));
    for (int i = 0; i < n; i++) len[i] = s->r[idx[i]].nc;
    return len;
}

/* After each rank filled r->ref of its own completions (mine[0..k)): every
 * rank gets those of all n. */
static void exchange_ref(const GrpoArgs *a, GStep *s, const int *idx, int n, const int *owner,
                         const int *mine, int k) {
    int *len = lengths(s, idx, n);
    size_t total = 0;
    for (int i = 0; i < k; i++) total += (size_t)s->r[mine[i]].nc;
    float *own = r1_falloc(total + 1), *all;
    total = 0;
    for (int i = 0; i < k; i++) {
        const GRollout *r = &s->r[mine[i]];
        memcpy(own + total, r->ref, sizeof(float) * (size_t)r->nc), total += (size_t)r->nc;
    }
    all = r1_dist_items(a->dist, own, len, owner, n, 1);
    total = 0;
    for (int i = 0; i < n; i++) {
        GRollout *r = &s->r[idx[i]];
        if (!r->ref) r->ref = r1_falloc((size_t)r->nc);
        memcpy(r->ref, all + total, sizeof(float) * (size_t)r->nc), total += (size_t)r->nc;
    }
    free(own), free(all), free(len);
}

int grpo_ref_logprobs(R1Model *ref, R1Gpu *gpu, const GrpoArgs *a, GStep *s, R1Err *err) {
    int *idx = r1_xmalloc(sizeof(int) * (size_t)(s->n + 1)), n = 0;
    for (int i = 0; i < s->n; i++)
        if (s->r[i].active) idx[n++] = i;
    int *owner = r1_xmalloc(sizeof(int) * (size_t)(n + 1)),
        *mine = r1_xmalloc(sizeof(int) * (size_t)(n + 1));
    int k = share(a, s, idx, n, owner, mine); /* each rank its own, then all of them everywhere */
    R1Trainer d;
    r1_trainer_init(&d, ref, gpu);
    Pack p = {0};
    int rc = 0;
    for (int at = 0; rc == 0 && at < k;) {
        int m = micro_count(s, mine + at, k - at, a->micro_tokens);
        R1Batch b;
        pack(&p, s, mine + at, m, &b);
        if ((rc = r1_trainer_forward(&d, &b, NULL, err))) break;
        for (int i = 0; i < m; i++) {
            GRollout *r = &s->r[mine[at + i]];
            r->ref = r1_falloc((size_t)r->nc);
            for (int j = 0; j < r->nc; j++) r->ref[j] = d.logp[p.start[i] + r->np - 1 + j];
        }
        at += m;
    }
    pack_free(&p);
    r1_trainer_free(&d);
    if (a->dist && a->dist->size > 1) {
        if (r1_dist_any(a->dist, rc))
            rc = rc ? rc : r1_seterr(err, "another rank failed in the reference forward");
        else
            exchange_ref(a, s, idx, n, owner, mine, k);
    }
    free(idx), free(owner), free(mine);
    return rc;
}

/* ---- the updates ------------------------------------------------------------- */

typedef struct {
    double loss, kl, entropy, rho_dev;
    long tokens, clip_low, clip_high;
    float *logp; /* with a dump: the first minibatch's policy log-probs, in order */
    long n_logp;
    int *owner; /* the rank of each completion of the last minibatch */
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

/* One minibatch's gradients and its loss: this rank's share of it, in
 * micro-batches, each completion weighted by the whole minibatch's
 * normaliser, then summed over the ranks. acc->owner keeps who computed what
 * (for a dry run's log-probs). */
static int minibatch(R1Trainer *d, Pack *p, const GrpoArgs *ga, const GStep *s, const int *idx,
                     int n, Acc *acc, double *loss, R1Err *err) {
    long tokens = 0;
    for (int i = 0; i < n; i++) tokens += s->r[idx[i]].nc;
    int *mine = r1_xmalloc(sizeof(int) * (size_t)(n + 1));
    acc->owner = r1_xrealloc(acc->owner, sizeof(int) * (size_t)(n + 1));
    int k = share(ga, s, idx, n, acc->owner, mine);
    r1_trainer_zero_grad(d);
    double before = acc->loss;
    int rc = 0;
    for (int at = 0; rc == 0 && at < k;) {
        int m = micro_count(s, mine + at, k - at, ga->micro_tokens);
        rc = micro(d, p, ga, s, mine + at, m, n, tokens, acc, err);
        at += m;
    }
    free(mine);
    *loss = acc->loss - before;
    if (ga->dist && r1_dist_any(ga->dist, rc))
        return rc ? rc : r1_seterr(err, "another rank failed in the minibatch");
    if (rc == 0) rc = r1_trainer_reduce_grads(d, err);
    if (ga->dist) r1_dist_sum_f64(ga->dist, loss, 1);
    if (ga->dist) r1_dist_fault(ga->dist, "grpo-update");
    return rc;
}

/* The step's counters summed (and maxima taken) over the ranks. */
static void reduce_acc(const GrpoArgs *a, Acc *acc) {
    if (!a->dist || a->dist->size == 1) return;
    double v[6] = {acc->loss,
                   acc->kl,
                   acc->entropy,
                   (double)acc->tokens,
                   (double)acc->clip_low,
                   (double)acc->clip_high};
    r1_dist_sum_f64(a->dist, v, 6);
    r1_dist_max_f64(a->dist, &acc->rho_dev, 1);
    acc->loss = v[0], acc->kl = v[1], acc->entropy = v[2];
    acc->tokens = (long)v[3], acc->clip_low = (long)v[4], acc->clip_high = (long)v[5];
}

/* With --dry-run on several ranks: rank 0 gets the first minibatch's
 * log-probabilities of every rank, in the minibatch's order. */
static void gather_logp(const GrpoArgs *a, const GStep *s, const int *idx, int n, Acc *acc) {
    if (!a->dist || a->dist->size == 1) return;
    int *len = lengths(s, idx, n);
    float *all = r1_dist_items(a->dist, acc->logp, len, acc->owner, n, 0);
    if (all) {
        long total = 0;
        for (int i = 0; i < n; i++) total += len[i];
        memcpy(acc->logp, all, sizeof(float) * (size_t)total);
        acc->n_logp = total;
    }
    free(all), free(len);
}

/* Every --check-every updates and after the last: the ranks' weights agree. */
static int check_same(R1Trainer *d, const GrpoArgs *a, long updates, int last, R1Err *err) {
    if (!d->dist || !(last || (a->check_every > 0 && updates % a->check_every == 0))) return 0;
    char when[64];
    snprintf(when, sizeof when, "after update %ld of step %ld", updates, a->step);
    return r1_trainer_check_same(d, when, err);
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
    /* a dry run dumps whole gradients: summed by an all-reduce even with --zero */
    int rc = r1_trainer_set_dist(&d, a->dist, a->zero && !a->dry_run, err);
    double t0 = r1_now(), loss_sum = 0, norm_sum = 0, comm0 = a->dist ? a->dist->comm_seconds : 0;
    int M = (int)a->minibatches;
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
                gather_logp(a, s, idx + lo, hi - lo, &acc);
                rc = !a->dist || a->dist->rank == 0 ? dump(m, s, &acc, loss, a->dump, err) : 0;
                it = a->iterations; /* the first minibatch only */
                break;
            }
            r1_trainer_adamw_step(&d, opt, (float)a->lr);
            int last = it + 1 == a->iterations && mb + 1 == M;
            rc = check_same(&d, a, out->updates, last, err);
        }
        free(idx);
    }
    double secs = r1_now() - t0;
    reduce_acc(a, &acc);
    long tok = acc.tokens ? acc.tokens : 1;
    out->loss = out->updates ? loss_sum / out->updates : 0;
    out->grad_norm = out->updates ? norm_sum / out->updates : 0;
    out->kl = acc.kl / tok, out->entropy = acc.entropy / tok;
    out->clip_low = (double)acc.clip_low / tok, out->clip_high = (double)acc.clip_high / tok;
    out->ratio_max_dev = acc.rho_dev, out->tokens = acc.tokens;
    out->tokens_per_s = secs > 0 ? acc.tokens / secs : 0;
    out->update_seconds = secs;
    out->allreduce_seconds = a->dist ? a->dist->comm_seconds - comm0 : 0;
    free(acc.logp), free(acc.owner);
    pack_free(&p);
    r1_trainer_free(&d);
    return rc;
}
