/* optim.c - see optim.h.
 *
 * The update follows torch.optim.AdamW's single-tensor path operation by
 * operation (scalars in double, elementwise work in float32), so that a run
 * here and a run in PyTorch agree to float32 rounding. */
#include "optim.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "safetensors.h"

/* Below this many elements a loop runs on one thread: forking costs more than
 * it saves for norms and biases. */
#define PAR_MIN 32768
/* Gradient-norm partial sums are taken over fixed chunks and added in order, so
 * the norm does not depend on the number of threads. */
#define NORM_CHUNK 65536

void r1_adamw_init(R1AdamW *o, const R1ParamTable *table, float beta1, float beta2, float eps,
                   float weight_decay) {
    r1_adamw_init_shard(o, table, beta1, beta2, eps, weight_decay, 0, table->total);
}

void r1_adamw_init_shard(R1AdamW *o, const R1ParamTable *table, float beta1, float beta2, float eps,
                         float weight_decay, size_t lo, size_t hi) {
    memset(o, 0, sizeof *o);
    o->lo = lo, o->hi = hi;
    o->beta1 = beta1;
    o->beta2 = beta2;
    o->eps = eps;
    o->weight_decay = weight_decay;
    o->table = table;
    o->m = r1_falloc(hi - lo ? hi - lo : 1);
    o->v = r1_falloc(hi - lo ? hi - lo : 1);
}

void r1_adamw_free(R1AdamW *o) {
    free(o->m);
    free(o->v);
    memset(o, 0, sizeof *o);
}

/* Per-step constants, each rounded to float32 the way torch turns a Python
 * scalar into the tensor's dtype. */
typedef struct {
    float b1, omb1, b2, omb2, eps, decay_mul, bc2_sqrt, neg_step;
} Coefs;

static void adam_slice(float *restrict p, const float *restrict g, float *restrict m,
                       float *restrict v, size_t n, const Coefs *c, int decay) {
    const Coefs k = *c;
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        float pi = decay ? p[i] * k.decay_mul : p[i];
        float mi = m[i] * k.b1 + g[i] * k.omb1;
        float vi = v[i] * k.b2 + g[i] * g[i] * k.omb2;
        float denom = sqrtf(vi) / k.bc2_sqrt + k.eps;
        m[i] = mi;
        v[i] = vi;
        p[i] = pi + k.neg_step * mi / denom;
    }
}

void r1_adamw_step(R1AdamW *o, float *params, const float *grads, float lr) {
    long t = ++o->step;
    o->lr = lr;
    double b1 = o->beta1, b2 = o->beta2;
    double bc1 = 1.0 - pow(b1, (double)t), bc2 = 1.0 - pow(b2, (double)t);
    Coefs c = {
        .b1 = o->beta1,
        .omb1 = (float)(1.0 - b1),
        .b2 = o->beta2,
        .omb2 = (float)(1.0 - b2),
        .eps = o->eps,
        .decay_mul = (float)(1.0 - (double)lr * o->weight_decay),
        .bc2_sqrt = (float)sqrt(bc2),
        .neg_step = (float)(-(double)lr / bc1),
    };
    const R1ParamTable *tb = o->table;
    for (int i = 0; i < tb->n; i++) {
        const R1Param *q = &tb->p[i];
        size_t a = q->offset > o->lo ? q->offset : o->lo;
        size_t b = q->offset + q->numel < o->hi ? q->offset + q->numel : o->hi;
        if (a >= b) continue;
        adam_slice(params + a, grads + a, o->m + (a - o->lo), o->v + (a - o->lo), b - a, &c,
                   q->decay && o->weight_decay != 0.0f);
    }
}

/* Eight independent accumulators: the compiler can vectorise them, and the
 * order of additions stays fixed. */
static double sum_squares(const float *x, size_t n) {
    double acc[8] = {0}, s = 0.0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) acc[k] += (double)x[i + k] * x[i + k];
    for (; i < n; i++) s += (double)x[i] * x[i];
    for (int k = 0; k < 8; k++) s += acc[k];
    return s;
}

double r1_grad_norm(const float *grads, size_t n) {
    size_t nchunk = (n + NORM_CHUNK - 1) / NORM_CHUNK;
    double *part = r1_xcalloc(nchunk ? nchunk : 1, sizeof *part);
#pragma omp parallel for schedule(static) if (nchunk > 1)
    for (size_t c = 0; c < nchunk; c++) {
        size_t lo = c * NORM_CHUNK, hi = lo + NORM_CHUNK < n ? lo + NORM_CHUNK : n;
        part[c] = sum_squares(grads + lo, hi - lo);
    }
    double s = 0.0;
    for (size_t c = 0; c < nchunk; c++) s += part[c];
    free(part);
    return sqrt(s);
}

double r1_clip_grad_norm(float *grads, size_t n, double max_norm) {
    double norm = r1_grad_norm(grads, n);
    /* A non-finite norm is left for the caller to see (and skip the step);
     * scaling by max/inf would silently zero the gradients instead. */
    if (max_norm <= 0 || !(norm > max_norm) || !isfinite(norm)) return norm;
    float scale = (float)(max_norm / norm);
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (size_t i = 0; i < n; i++) grads[i] *= scale;
    return norm;
}

/* ---- save / load ---- */

static char *prefixed(const char *prefix, const char *name) {
    size_t a = strlen(prefix), b = strlen(name);
    char *s = r1_xmalloc(a + b + 1);
    memcpy(s, prefix, a);
    memcpy(s + a, name, b + 1);
    return s;
}

static void describe(R1StWriteTensor *w, const R1Param *q, char *name, const float *data) {
    memset(w, 0, sizeof *w);
    w->name = name;
    w->dtype = R1_F32;
    w->ndim = q->ndim;
    for (int d = 0; d < q->ndim; d++) w->shape[d] = q->shape[d];
    w->data = data + q->offset;
}

int r1_adamw_save(const R1AdamW *o, const char *path, R1Err *err) {
    if (o->lo != 0 || o->hi != o->table->total)
        return r1_seterr(err, "%s: a shard of the optimizer state cannot be saved alone", path);
    const R1ParamTable *tb = o->table;
    int n = 2 * tb->n;
    R1StWriteTensor *ts = r1_xcalloc((size_t)(n ? n : 1), sizeof *ts);
    for (int i = 0; i < tb->n; i++) {
        describe(&ts[2 * i], &tb->p[i], prefixed("exp_avg.", tb->p[i].name), o->m);
        describe(&ts[2 * i + 1], &tb->p[i], prefixed("exp_avg_sq.", tb->p[i].name), o->v);
    }
    /* %.9g round-trips a float32 exactly, so a resumed run is bit-identical. */
    char vals[6][40];
    snprintf(vals[0], sizeof vals[0], "%ld", o->step);
    snprintf(vals[5], sizeof vals[5], "%.9g", (double)o->lr);
    snprintf(vals[1], sizeof vals[1], "%.9g", (double)o->beta1);
    snprintf(vals[2], sizeof vals[2], "%.9g", (double)o->beta2);
    snprintf(vals[3], sizeof vals[3], "%.9g", (double)o->eps);
    snprintf(vals[4], sizeof vals[4], "%.9g", (double)o->weight_decay);
    const char *kv[] = {"step", vals[0], "beta1",        vals[1], "beta2", vals[2],
                        "eps",  vals[3], "weight_decay", vals[4], "lr",    vals[5]};
    int rc = r1_st_write(path, ts, n, kv, 6, err);
    for (int i = 0; i < n; i++) free((char *)ts[i].name);
    free(ts);
    return rc;
}

static int meta_num(const R1StFile *f, const char *key, double *out, R1Err *err) {
    const char *s = r1_st_meta(f, key);
    if (!s) return r1_seterr(err, "%s: metadata \"%s\" is missing", f->path, key);
    char *end;
    errno = 0;
    *out = strtod(s, &end);
    if (end == s || *end || errno)
        return r1_seterr(err, "%s: metadata \"%s\" is not a number: \"%s\"", f->path, key, s);
    return 0;
}

/* Checks that `name` exists, is a float tensor and has q's shape. */
static const R1StTensor *check_tensor(const R1StFile *f, const char *name, const R1Param *q,
                                      R1Err *err) {
    const R1StTensor *t = r1_st_find(f, name);
    if (!t) {
        r1_seterr(err, "%s: tensor \"%s\" is missing", f->path, name);
        return NULL;
    }
    if (t->dtype != R1_F32 && t->dtype != R1_BF16 && t->dtype != R1_F16) {
        r1_seterr(err, "%s: tensor \"%s\" has dtype %s, expected a float type", f->path, name,
                  r1_dtype_name(t->dtype));
        return NULL;
    }
    return r1_st_check_shape(t, q->shape, q->ndim, f->path, err) == 0 ? t : NULL;
}

/* Everything is checked before anything is copied, so a refused file leaves
 * the optimizer as it was. */
static int load_checked(R1AdamW *o, const R1StFile *f, R1Err *err) {
    const R1ParamTable *tb = o->table;
    double h[5];
    const char *keys[5] = {"step", "beta1", "beta2", "eps", "weight_decay"};
    for (int k = 0; k < 5; k++)
        if (meta_num(f, keys[k], &h[k], err)) return -1;
    if (h[0] < 0 || h[0] > 1e15 || h[0] != floor(h[0]))
        return r1_seterr(err, "%s: metadata \"step\" is not a step count", f->path);
    const R1StTensor **ts = r1_xcalloc((size_t)(2 * tb->n + 1), sizeof *ts);
    int rc = 0;
    for (int i = 0; i < tb->n && !rc; i++) {
        for (int j = 0; j < 2 && !rc; j++) {
            char *name = prefixed(j ? "exp_avg_sq." : "exp_avg.", tb->p[i].name);
            ts[2 * i + j] = check_tensor(f, name, &tb->p[i], err);
            rc = ts[2 * i + j] ? 0 : -1;
            free(name);
        }
    }
    for (int i = 0; i < tb->n && !rc; i++) {
        const R1Param *q = &tb->p[i];
        rc = r1_st_to_f32(ts[2 * i], o->m + q->offset, q->numel, f->path, err);
        if (!rc) rc = r1_st_to_f32(ts[2 * i + 1], o->v + q->offset, q->numel, f->path, err);
    }
    free(ts);
    if (rc) return -1;
    o->step = (long)h[0];
    o->beta1 = (float)h[1];
    o->beta2 = (float)h[2];
    o->eps = (float)h[3];
    o->weight_decay = (float)h[4];
    return 0;
}

int r1_adamw_load(R1AdamW *o, const char *path, R1Err *err) {
    if (o->lo != 0 || o->hi != o->table->total)
        return r1_seterr(err, "%s: a shard of the optimizer state cannot be loaded alone", path);
    R1StFile f;
    if (r1_st_open(&f, path, err)) return -1;
    int rc = load_checked(o, &f, err);
    r1_st_close(&f);
    return rc;
}

/* ---- learning-rate schedules ---- */

double r1_schedule_lr(const R1Schedule *s, long step) {
    if (step < 0) step = 0;
    if (step < s->warmup) return s->peak_lr * (double)(step + 1) / (double)s->warmup;
    if (s->kind == R1_SCHED_CONSTANT) return s->peak_lr;
    double span = s->total - s->warmup > 1 ? (double)(s->total - s->warmup) : 1.0;
    double p = (double)(step - s->warmup) / span;
    if (p > 1.0) p = 1.0;
    double floor_lr = s->peak_lr * s->min_lr_ratio;
    if (s->kind == R1_SCHED_COSINE)
        return floor_lr + (s->peak_lr - floor_lr) * 0.5 * (1.0 + cos(M_PI * p));
    /* Written as a blend so both ends come out exactly peak and floor. */
    return s->peak_lr * (1.0 - p) + floor_lr * p;
}

int r1_schedule_parse(const char *name) {
    if (!name) return -1;
    if (!strcmp(name, "constant")) return R1_SCHED_CONSTANT;
    if (!strcmp(name, "cosine")) return R1_SCHED_COSINE;
    if (!strcmp(name, "linear")) return R1_SCHED_LINEAR;
    return -1;
}
