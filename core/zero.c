/* zero.c - see zero.h. */
#include "zero.h"

#include <stdlib.h>
#include <string.h>

void r1_zero_bounds(const R1Dist *d, size_t total, size_t *bounds) {
    for (int r = 0; r <= d->size; r++) bounds[r] = total * (size_t)r / (size_t)d->size;
}

void r1_zero_opt_init(const R1Dist *d, R1AdamW *o, const R1ParamTable *table, float beta1,
                      float beta2, float eps, float weight_decay) {
    size_t lo, hi;
    r1_dist_share(table->total, d->size, d->rank, &lo, &hi);
    r1_adamw_init_shard(o, table, beta1, beta2, eps, weight_decay, lo, hi);
}

/* Each rank reads the whole file and keeps its shard: the whole state is held
 * for a moment on every rank, once, when a run starts. */
int r1_zero_opt_load(R1AdamW *o, const char *path, R1Err *err) {
    R1AdamW whole;
    r1_adamw_init(&whole, o->table, o->beta1, o->beta2, o->eps, o->weight_decay);
    int rc = r1_adamw_load(&whole, path, err);
    if (rc == 0) {
        size_t n = o->hi - o->lo;
        memcpy(o->m, whole.m + o->lo, sizeof(float) * n);
        memcpy(o->v, whole.v + o->lo, sizeof(float) * n);
        o->step = whole.step, o->lr = whole.lr;
        o->beta1 = whole.beta1, o->beta2 = whole.beta2, o->eps = whole.eps;
        o->weight_decay = whole.weight_decay;
    }
    r1_adamw_free(&whole);
    return rc;
}

void r1_zero_opt_gather(R1Dist *d, const R1AdamW *shard, R1AdamW *whole) {
    size_t total = shard->table->total;
    size_t *b = r1_xmalloc(sizeof(size_t) * (size_t)(d->size + 1));
    r1_zero_bounds(d, total, b);
    memset(whole, 0, sizeof *whole);
    if (d->rank == 0) { /* only rank 0 ever holds the whole state */
        r1_adamw_init(whole, shard->table, shard->beta1, shard->beta2, shard->eps,
                      shard->weight_decay);
        whole->step = shard->step, whole->lr = shard->lr;
    }
    r1_dist_gather_f32(d, shard->m, whole->m, b);
    r1_dist_gather_f32(d, shard->v, whole->v, b);
    free(b);
}
