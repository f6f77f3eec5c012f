/* train.c - the SFT loop: one AdamW step per planned batch (mean cross-entropy
 * over the batch's target tokens), checkpoints with the data position, exact
 * resumption, eval loss and metrics. The model trains on the CPU or, with
 * --device cuda, on the GPU (trainer.h). */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "checkpoint.h"
#include "progress.h"
#include "safetensors.h"
#include "stage.h"
#include "trainer.h"
#include "zero.h"

typedef struct {
    int *tok, *tgt, *start;
    float *dlogp; /* dL/dlogp of each token */
    int cap_T, cap_S;
} Batch;

/* Samples idx[0..n) as one batch: each its own sequence (attention inside it,
 * positions from 0), so packed samples cannot see each other. */
static void make_batch(Batch *b, const SftData *d, const int *idx, int n, R1Batch *out) {
    int T = 0;
    for (int i = 0; i < n; i++) T += d->s[idx[i]].n;
    if (T > b->cap_T) {
        b->tok = r1_xrealloc(b->tok, sizeof(int) * (size_t)(b->cap_T = T));
        b->tgt = r1_xrealloc(b->tgt, sizeof(int) * (size_t)T);
        b->dlogp = r1_xrealloc(b->dlogp, sizeof(float) * (size_t)T);
    }
    if (n + 1 > b->cap_S)
        b->start = r1_xrealloc(b->start, sizeof(int) * (size_t)(b->cap_S = n + 1));
    int t = 0;
    for (int i = 0; i < n; i++) {
        const SftSample *s = &d->s[idx[i]];
        b->start[i] = t;
        memcpy(b->tok + t, s->tok, sizeof(int) * (size_t)s->n);
        memcpy(b->tgt + t, s->tgt, sizeof(int) * (size_t)s->n);
        t += s->n;
    }
    b->start[n] = t;
    *out = (R1Batch){n, T, b->tok, b->start, b->tgt, 1, 0};
}

/* How many of idx[0..n) fit in `budget` tokens (at least one). */
static int fit(const SftData *d, const int *idx, int n, long budget) {
    int k = 0;
    for (long tokens = 0; k < n && (k == 0 || tokens + d->s[idx[k]].n <= budget); k++)
        tokens += d->s[idx[k]].n;
    return k;
}

/* Who computes which samples of a batch: owner[i] for idx[i] (balanced by
 * tokens, dist.h), and this rank's own samples, in order, mine[0..k). Alone:
 * all of them. */
typedef struct {
    int *owner, *mine, k;
} Share;

static void share(const SftArgs *a, const SftData *d, const int *idx, int n, Share *sh) {
    sh->owner = r1_xcalloc((size_t)n + 1, sizeof(int));
    sh->mine = r1_xmalloc(sizeof(int) * ((size_t)n + 1));
    if (!a->dist || a->dist->size == 1) {
        memcpy(sh->mine, idx, sizeof(int) * (size_t)n);
        sh->k = n;
        return;
    }
    long *w = r1_xmalloc(sizeof(long) * ((size_t)n + 1));
    for (int i = 0; i < n; i++) w[i] = d->s[idx[i]].n;
    r1_dist_assign(w, n, a->dist->size, sh->owner);
    free(w);
    sh->k = r1_dist_mine(a->dist, idx, sh->owner, n, sh->mine);
}

static void share_free(Share *sh) {
    free(sh->owner), free(sh->mine);
}

static int rank0(const SftArgs *a) {
    return !a->dist || a->dist->rank == 0;
}

/* ---- the device ------------------------------------------------------------------ */

/* With --device cuda, m goes to the GPU (a device that cannot be used is an
 * error, before the run writes anything); the trainer (trainer.h) then runs
 * every pass where the model is. */
static int dev_open(R1Trainer *t, const SftArgs *a, R1Model *m, R1Err *err) {
    R1Gpu *gpu = NULL;
    r1_trainer_init(t, m, NULL);
    if (a->device == R1_DEVICE_CUDA && !(gpu = r1_trainer_gpu_new(a->dist, m, 1, err))) return -1;
    t->gpu = gpu;
    if (!gpu || a->dry_run) r1_model_alloc_grads(m); /* on the GPU, for the dump only */
    /* a dry run dumps whole gradients: summed by an all-reduce even with --zero */
    return r1_trainer_set_dist(t, a->dist, a->zero && !a->dry_run, err);
}

static void dev_close(R1Trainer *t) {
    r1_gpu_free(t->gpu);
    r1_trainer_free(t);
}

/* ---- the run ------------------------------------------------------------------- */

/* Mean cross-entropy over the held-out samples' targets (NAN: none). */
static int eval_loss(R1Trainer *dev, Batch *b, const SftArgs *args, const SftData *d, double *loss,
                     R1Err *err) {
    double sum = 0;
    long n = 0;
    int *idx = r1_xmalloc(sizeof(int) * (size_t)(d->n + 1)), k = 0, rc = 0;
    for (int i = 0; i < d->n; i++)
        if (d->s[i].eval) idx[k++] = i;
    Share sh;
    share(args, d, idx, k, &sh);
    for (int at = 0; rc == 0 && at < sh.k;) {
        int j = at + fit(d, sh.mine + at, sh.k - at, args->micro_tokens); /* memory, as training */
        R1Batch rb;
        make_batch(b, d, sh.mine + at, j - at, &rb);
        if ((rc = r1_trainer_forward(dev, &rb, NULL, err))) break;
        sum += (double)dev->loss * dev->n_targets, n += dev->n_targets;
        at = j;
    }
    free(idx), share_free(&sh);
    if (args->dist && r1_dist_any(args->dist, rc))
        return rc ? rc : r1_seterr(err, "another rank failed in the eval loss");
    double v[2] = {sum, (double)n};
    if (args->dist) r1_dist_sum_f64(args->dist, v, 2);
    *loss = v[1] > 0 ? v[0] / v[1] : NAN;
    return rc;
}

/* trainer_state.json: where the run is and what it was started with, so that
 * --resume continues it exactly and refuses a different run. */
static char *state_json(const SftArgs *a, long step, long total, const SftData *d) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "step", (double)step);
    cJSON_AddNumberToObject(o, "total_steps", (double)total);
    cJSON_AddNumberToObject(o, "seed", (double)a->seed);
    cJSON_AddNumberToObject(o, "epochs", (double)a->epochs);
    cJSON_AddNumberToObject(o, "batch_tokens", (double)a->batch_tokens);
    cJSON_AddNumberToObject(o, "max_len", (double)a->max_len);
    cJSON_AddNumberToObject(o, "train_samples", d->n_train);
    cJSON_AddStringToObject(o, "kinds", a->kinds);
    cJSON_AddBoolToObject(o, "pack", a->pack);
    cJSON_AddStringToObject(o, "device", a->device == R1_DEVICE_CUDA ? "cuda" : "cpu");
    char *s = cJSON_Print(o);
    cJSON_Delete(o);
    return s;
}

/* The step to continue from (0 for a fresh run); loads the model and optimizer
 * from --out when resuming. */
static long resume_point(const SftArgs *a, R1Model *m, R1AdamW *opt, long total, const SftData *d,
                         R1Err *err) {
    if (!a->resume) return 0;
    char *path = r1_path_join(a->out, "trainer_state.json");
    size_t len;
    int exists = access(path, F_OK) == 0; /* no checkpoint yet: start from the beginning */
    char *text = exists ? r1_read_file(path, &len, err) : NULL;
    free(path);
    if (!text) return exists ? -1 : 0;
    char *want = state_json(a, 0, total, d);
    cJSON *got = cJSON_Parse(text), *exp = cJSON_Parse(want);
    long step = -1;
    if (got && exp) {
        cJSON *s = cJSON_GetObjectItem(got, "step");
        long at = cJSON_IsNumber(s) ? (long)s->valuedouble : -1;
        cJSON_DeleteItemFromObject(got, "step"), cJSON_DeleteItemFromObject(exp, "step");
        /* a run may continue on another device (and older checkpoints do not say) */
        cJSON_DeleteItemFromObject(got, "device"), cJSON_DeleteItemFromObject(exp, "device");
        if (cJSON_Compare(got, exp, 1)) step = at;
    }
    cJSON_Delete(got), cJSON_Delete(exp);
    free(text), cJSON_free(want);
    if (step < 0)
        return r1_seterr(err,
                         "%s/trainer_state.json is from a different run (seed, epochs, "
                         "kinds, batch or data differ): cannot --resume it",
                         a->out);
    char *opath = r1_path_join(a->out, "optimizer.safetensors");
    R1Model fresh;
    int rc = r1_model_load(&fresh, a->out, err);
    if (rc == 0) {
        if (fresh.table.total != m->table.total || fresh.cfg.vocab != m->cfg.vocab ||
            fresh.cfg.hidden != m->cfg.hidden || fresh.cfg.n_layers != m->cfg.n_layers)
            rc = r1_seterr(err, "%s holds a model of another shape than %s: cannot --resume it",
                           a->out, a->model);
        else
            memcpy(m->params, fresh.params, sizeof(float) * m->table.total);
        r1_model_free(&fresh);
    }
    if (rc == 0)
        rc = opt->hi - opt->lo != m->table.total ? r1_zero_opt_load(opt, opath, err)
                                                 : r1_adamw_load(opt, opath, err);
    free(opath);
    return rc ? -1 : step;
}

static int log_metrics(R1Db *db, const char *stage, long step, const char *const *names,
                       const double *v, int n, R1Err *err) {
    if (r1_db_begin(db, err)) return -1;
    int rc = 0;
    for (int i = 0; rc == 0 && i < n; i++)
        if (!isnan(v[i])) rc = r1_db_metric(db, stage, step, names[i], v[i], err);
    if (rc == 0) rc = r1_db_commit(db, err);
    if (rc) r1_db_rollback(db);
    return rc;
}

static int save(const SftArgs *a, R1Db *db, const R1Model *m, const R1AdamW *opt, long step,
                long total, const SftData *d, R1Err *err) {
    char *st = state_json(a, step, total, d);
    int rc = r1_checkpoint_save(m, opt, a->out, a->model, st, err);
    cJSON_free(st);
    if (rc) return -1;
    char *real = realpath(a->out, NULL);
    if (r1_db_begin(db, err)) rc = -1;
    if (rc == 0) rc = r1_db_checkpoint(db, a->stage, step, real ? real : a->out, err);
    if (rc == 0) rc = r1_db_commit(db, err);
    free(real);
    return rc;
}

/* loss [1], sample_ids [n], sample_loss [n] (mean CE of each sample's targets)
 * and grad.<name> of the first batch idx[0..n), b the batch of this rank's
 * samples sh->mine; with several ranks rank 0 gathers theirs and writes. */
static int dump(const SftArgs *a, const R1Trainer *dev, const SftData *d, int n, const Share *sh,
                const R1Batch *b, double whole_loss, R1Err *err) {
    float loss = (float)whole_loss, *ids = r1_falloc((size_t)n + 1), *sl = r1_falloc((size_t)n + 1);
    for (int i = 0; i < sh->k; i++) {
        double s = 0;
        int c = 0;
        for (int t = b->seq_start[i]; t < b->seq_start[i + 1]; t++)
            if (b->targets[t] >= 0) s -= dev->logp[t], c++;
        ids[i] = (float)d->s[sh->mine[i]].id, sl[i] = c ? (float)(s / c) : 0.0f;
    }
    if (a->dist && a->dist->size > 1) { /* every rank's, in the batch's order, to rank 0 */
        int *ones = r1_xmalloc(sizeof(int) * ((size_t)n + 1));
        for (int i = 0; i < n; i++) ones[i] = 1;
        float *all_ids = r1_dist_items(a->dist, ids, ones, sh->owner, n, 0);
        float *all_sl = r1_dist_items(a->dist, sl, ones, sh->owner, n, 0);
        free(ids), free(sl), free(ones);
        ids = all_ids, sl = all_sl;
    }
    if (!rank0(a)) return 0;
    R1StWriteTensor ts[3] = {
        {.name = "loss", .dtype = R1_F32, .ndim = 1, .shape = {1}, .data = &loss},
        {.name = "sample_ids", .dtype = R1_F32, .ndim = 1, .shape = {n}, .data = ids},
        {.name = "sample_loss", .dtype = R1_F32, .ndim = 1, .shape = {n}, .data = sl}};
    int rc = r1_model_dump_grads(dev->m, ts, 3, a->dump, err);
    free(ids), free(sl);
    return rc;
}

typedef struct {
    double loss, norm;
    long tokens, steps;
    double t0;
} Window;

/* A checkpoint: with --zero 1 the optimizer's shards gathered first; rank 0 writes. */
static int save_whole(const SftArgs *a, R1Db *db, const R1Model *m, const R1AdamW *opt, long step,
                      long total, const SftData *d, R1Err *err) {
    R1AdamW whole = {0};
    int zero = opt->hi - opt->lo != m->table.total;
    if (zero) r1_zero_opt_gather(a->dist, opt, &whole);
    int rc = rank0(a) ? save(a, db, m, zero ? &whole : opt, step, total, d, err) : 0;
    if (zero) r1_adamw_free(&whole);
    if (a->dist && r1_dist_any(a->dist, rc) && rc == 0)
        rc = r1_seterr(err, "rank 0 could not write the checkpoint");
    return rc;
}

/* The ranks' weights agree (see --check-every). */
static int check_same(R1Trainer *dev, long step, R1Err *err) {
    char when[64];
    snprintf(when, sizeof when, "after step %ld", step);
    return r1_trainer_check_same(dev, when, err);
}

/* The gradient of one batch's mean cross-entropy, accumulated over micro-batches
 * of at most --micro-batch-tokens (each token's dL/dlogp is -1 / the batch's
 * target count, so the sum is the whole batch's gradient), and its loss. *rb
 * is the last micro-batch (the whole batch when it fits in one, as --dry-run
 * needs). */
static int batch_gradients(R1Trainer *dev, Batch *b, const SftArgs *a, const SftData *d,
                           const int *idx, int n, const Share *sh, R1Batch *rb, long *n_tokens,
                           double *loss, R1Err *err) {
    long targets = 0;
    for (int i = 0; i < n; i++) targets += d->s[idx[i]].n_targets;
    long micro = a->dry_run ? LONG_MAX : a->micro_tokens;
    int rc = 0;
    *loss = 0;
    r1_trainer_zero_grad(dev);
    /* this rank's samples, each token scaled by the whole batch's target count */
    if (sh->k == 0) *rb = (R1Batch){0, 0, b->tok, b->start, b->tgt, 1, 0};
    for (int at = 0; rc == 0 && at < sh->k;) {
        int k = fit(d, sh->mine + at, sh->k - at, micro);
        make_batch(b, d, sh->mine + at, k, rb);
        for (int t = 0; t < rb->n_tokens; t++)
            b->dlogp[t] = rb->targets[t] >= 0 ? -1.0f / (float)targets : 0.0f;
        if ((rc = r1_trainer_forward(dev, rb, NULL, err)) ||
            (rc = r1_trainer_backward(dev, rb, b->dlogp, err)))
            break;
        *loss += (double)dev->loss * dev->n_targets / (double)targets;
        *n_tokens += rb->n_tokens;
        at += k;
    }
    if (!a->dist || a->dist->size == 1) return rc;
    if (r1_dist_any(a->dist, rc)) return rc ? rc : r1_seterr(err, "another rank failed");
    rc = r1_trainer_reduce_grads(dev, err);
    double v[2] = {*loss, (double)*n_tokens};
    r1_dist_sum_f64(a->dist, v, 2);
    *loss = v[0], *n_tokens = (long)v[1];
    r1_dist_fault(a->dist, "sft-step");
    return rc;
}

/* The metrics rows of a killed run after its last checkpoint (they are redone). */
static int forget_after(const SftArgs *a, R1Db *db, long step, R1Err *err) {
    char *sql = sqlite3_mprintf(
        "DELETE FROM metrics WHERE stage = %Q AND step > %ld AND name LIKE 'sft/%%';", a->stage,
        step);
    int rc = sql ? r1_db_exec(db, sql, err) : r1_seterr(err, "out of memory");
    sqlite3_free(sql);
    return rc;
}

static void report(const SftArgs *a, const SftData *d, long total, long tokens, double secs,
                   double last_loss, double last_eval) {
    if (a->json)
        printf("{\"steps\":%ld,\"train_samples\":%d,\"eval_samples\":%d,\"truncated\":%d,"
               "\"tokens\":%ld,\"tokens_per_s\":%.1f,\"final_loss\":%.6f,\"eval_loss\":%.6f,"
               "\"device\":\"%s\"}\n",
               total, d->n_train, d->n_eval, d->truncated, tokens, secs > 0 ? tokens / secs : 0.0,
               last_loss, isnan(last_eval) ? -1.0 : last_eval,
               a->device == R1_DEVICE_CUDA ? "cuda" : "cpu");
    else
        printf("sft: %ld steps over %d samples (%d held out, %d truncated), %ld tokens at %.0f "
               "tokens/s; last loss %.4f%s\n",
               total, d->n_train, d->n_eval, d->truncated, tokens, secs > 0 ? tokens / secs : 0.0,
               last_loss, "");
    if (!a->json && !isnan(last_eval)) printf("sft: eval loss %.4f\n", last_eval);
}

/* Steps `step` .. the plan's end: each batch's gradients, clipping, the AdamW
 * step, metrics, eval loss and checkpoints (with --dry-run: the first batch's
 * dump instead). */
static int run_steps(const SftArgs *a, R1Db *db, R1Trainer *dev, R1AdamW *opt, const SftData *d,
                     const SftPlan *p, long step, R1Err *err) {
    long total = p->n_batches;
    R1Schedule sched = {(R1SchedKind)r1_schedule_parse(a->schedule), a->lr, a->warmup, total,
                        a->min_lr_ratio};
    Batch b = {0};
    Progress prog;
    progress_init(&prog, "sft", a->quiet || a->json || !rank0(a));
    Window w = {0, 0, 0, 0, r1_now()};
    double t_start = r1_now(), last_eval = NAN, last_loss = NAN;
    long tokens_all = 0;
    int rc = 0;
    const char *names[] = {"sft/train_loss",   "sft/lr",        "sft/grad_norm",
                           "sft/tokens_per_s", "sft/eval_loss", "sft/allreduce_seconds"};
    double comm0 = a->dist ? a->dist->comm_seconds : 0;
    for (; rc == 0 && step < total; step++) {
        const int *idx = p->idx + p->start[step];
        int n = p->start[step + 1] - p->start[step];
        R1Batch rb;
        long n_tokens = 0;
        double loss;
        Share sh;
        share(a, d, idx, n, &sh);
        rc = batch_gradients(dev, &b, a, d, idx, n, &sh, &rb, &n_tokens, &loss, err);
        double norm = rc ? 0 : r1_trainer_clip_grad_norm(dev, a->max_grad_norm);
        if (rc == 0 && (!isfinite(loss) || !isfinite(norm)))
            rc = r1_seterr(err,
                           "step %ld: the loss (%g) or gradient norm (%g) is not finite; "
                           "stopping, %s keeps its last checkpoint",
                           step + 1, loss, norm, a->out ? a->out : "--out");
        if (rc == 0 && a->dry_run) {
            r1_trainer_to_host(dev, 1, NULL);
            rc = dump(a, dev, d, n, &sh, &rb, loss, err);
            if (rc == 0 && !a->quiet && rank0(a))
                printf("dry run: batch 1 of %ld, %d samples, %ld tokens, loss %.6f\n", total, n,
                       n_tokens, loss);
        }
        share_free(&sh);
        if (rc || a->dry_run) break;
        double lr = r1_schedule_lr(&sched, step);
        r1_trainer_adamw_step(dev, opt, (float)lr);
        w.loss += loss, w.norm += norm, w.tokens += n_tokens, w.steps++;
        last_loss = loss;
        tokens_all += n_tokens;
        progress_update(&prog, step + 1, total);
        int last = step + 1 == total,
            ckpt = last || (a->save_every > 0 && (step + 1) % a->save_every == 0);
        if (ckpt && d->n_eval) rc = eval_loss(dev, &b, a, d, &last_eval, err);
        if (rc == 0 && dev->dist && (last || (a->check_every && (step + 1) % a->check_every == 0)))
            rc = check_same(dev, step + 1, err);
        if (rc == 0 && (last || ckpt || (step + 1) % a->log_every == 0)) {
            double now = r1_now(), comm = a->dist ? a->dist->comm_seconds : 0;
            double v[] = {w.loss / w.steps,       lr,
                          w.norm / w.steps,       w.tokens / (now - w.t0),
                          ckpt ? last_eval : NAN, dev->dist ? (comm - comm0) / w.steps : NAN};
            if (rank0(a)) rc = log_metrics(db, a->stage, step + 1, names, v, 6, err);
            w = (Window){0, 0, 0, 0, now};
            comm0 = comm;
        }
        if (rc == 0 && ckpt) {
            r1_trainer_to_host(dev, 0, opt);
            rc = save_whole(a, db, dev->m, opt, step + 1, total, d, err);
        }
    }
    progress_done(&prog);
    if (rc == 0 && !a->dry_run && !a->quiet && rank0(a))
        report(a, d, total, tokens_all, r1_now() - t_start, last_loss, last_eval);
    free(b.tok), free(b.tgt), free(b.start), free(b.dlogp);
    return rc;
}

int sft_train(const SftArgs *a, R1Db *db, R1Policy *pol, const SftData *d, const SftPlan *p,
              R1Err *err) {
    R1Model *m = &pol->model;
    R1AdamW opt;
    if (a->zero && a->dist && a->dist->size > 1 && !a->dry_run)
        r1_zero_opt_init(a->dist, &opt, &m->table, 0.9f, 0.95f, 1e-8f, (float)a->weight_decay);
    else
        r1_adamw_init(&opt, &m->table, 0.9f, 0.95f, 1e-8f, (float)a->weight_decay);
    long step = a->dry_run ? 0 : resume_point(a, m, &opt, p->n_batches, d, err);
    R1Trainer dev = {0};
    /* the GPU after the resumed weights, before anything is written */
    int rc = step < 0 ? -1 : dev_open(&dev, a, m, err);
    if (rc == 0 && step > 0 && rank0(a)) rc = forget_after(a, db, step, err);
    if (a->dist && r1_dist_any(a->dist, rc) && rc == 0)
        rc = r1_seterr(err, "another rank failed to start");
    if (rc == 0) rc = run_steps(a, db, &dev, &opt, d, p, step, err);
    dev_close(&dev);
    r1_adamw_free(&opt);
    return rc;
}
