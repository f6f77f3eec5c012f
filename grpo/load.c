/* load.c - the step's rollouts and rewards, and their advantages. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "stage.h"

/* A blob of little-endian 32-bit values, as the rollout stage writes them. */
static void *blob_copy(sqlite3_stmt *st, int col, int *n) {
    int bytes = sqlite3_column_bytes(st, col);
    *n = bytes / 4;
    void *p = r1_xmalloc((size_t)(bytes > 0 ? bytes : 4));
    if (bytes > 0) memcpy(p, sqlite3_column_blob(st, col), (size_t)bytes);
    return p;
}

static const char *SELECT_STEP =
    "SELECT r.id, r.prompt_id, r.prompt_ids, r.completion_ids, r.logprobs, r.finish_reason, "
    "w.value, (w.rollout_id IS NOT NULL) FROM rollouts r "
    "LEFT JOIN rewards w ON w.rollout_id = r.id AND w.name = 'total' "
    "WHERE r.step = ?1 AND r.stage = ?2 ORDER BY r.id";

static int read_rows(R1Db *db, const GrpoArgs *a, GStep *s, int *scored, R1Err *err) {
    sqlite3_stmt *st = r1_db_prepare(db, SELECT_STEP, err);
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, a->step);
    sqlite3_bind_text(st, 2, r1_rows_stage(a->stage), -1, SQLITE_STATIC);
    int cap = 0, rc;
    *scored = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (s->n == cap)
            s->r = r1_xrealloc(s->r, sizeof *s->r * (size_t)(cap = cap ? 2 * cap : 64));
        GRollout *r = &s->r[s->n++];
        memset(r, 0, sizeof *r);
        r->id = sqlite3_column_int64(st, 0);
        r->prompt_id = sqlite3_column_int64(st, 1);
        r->prompt = blob_copy(st, 2, &r->np);
        r->comp = blob_copy(st, 3, &r->nc);
        int n_old;
        r->old = blob_copy(st, 4, &n_old);
        r->truncated = !strcmp((const char *)sqlite3_column_text(st, 5), "length");
        r->reward = sqlite3_column_type(st, 6) == SQLITE_NULL ? NAN : sqlite3_column_double(st, 6);
        *scored += sqlite3_column_int(st, 7);
        if (n_old != r->nc || r->np < 1 || r->nc < 1) {
            sqlite3_finalize(st);
            return r1_seterr(err,
                             "%s: rollout %lld has %d prompt ids, %d completion ids and %d "
                             "logprobs; it cannot be trained on",
                             db->path, (long long)r->id, r->np, r->nc, n_old);
        }
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : r1_db_fail(db, "reading the step's rollouts", err);
}

/* A number the rollout stage recorded for this step (stage-aware), or fallback. */
static double rollout_metric(R1Db *db, const GrpoArgs *a, const char *name, double fallback) {
    sqlite3_stmt *st =
        r1_db_prepare(db,
                      "SELECT value FROM metrics WHERE stage = ?1 AND step = ?2 AND name = ?3 "
                      "ORDER BY rowid DESC LIMIT 1",
                      NULL);
    double v = fallback;
    if (st) {
        sqlite3_bind_text(st, 1, r1_metrics_stage(a->stage, "rollout"), -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, a->step);
        sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
            v = sqlite3_column_double(st, 0);
        sqlite3_finalize(st);
    }
    return v;
}

/* The rollout stage's limit for this step (dr_grpo's constant), else the
 * longest completion. */
static int step_max_new(R1Db *db, const GrpoArgs *a, const GStep *s) {
    if (a->max_new > 0) return (int)a->max_new;
    int m = (int)rollout_metric(db, a, "rollout/max_new_tokens", 0);
    if (m <= 0)
        for (int i = 0; i < s->n; i++) m = s->r[i].nc > m ? s->r[i].nc : m;
    return m;
}

int grpo_load_step(R1Db *db, const GrpoArgs *a, GStep *s, R1Err *err) {
    memset(s, 0, sizeof *s);
    int scored;
    if (read_rows(db, a, s, &scored, err)) return -1;
    if (s->n == 0)
        return r1_seterr(err, "%s: step %ld has no rollouts of stage %s (run r1-rollout first)",
                         db->path, a->step, r1_rows_stage(a->stage));
    if (scored == 0)
        return r1_seterr(err,
                         "%s: step %ld's rollouts of stage %s have no 'total' reward (run "
                         "r1-reward first)",
                         db->path, a->step, r1_rows_stage(a->stage));
    double *r = r1_xmalloc(sizeof(double) * (size_t)s->n), *adv = r1_xmalloc(sizeof(double) * s->n);
    long *g = r1_xmalloc(sizeof(long) * (size_t)s->n);
    unsigned char *uniform = r1_xmalloc((size_t)s->n + 1);
    for (int i = 0; i < s->n; i++) r[i] = s->r[i].reward, g[i] = (long)s->r[i].prompt_id;
    r1_grpo_advantages(r, g, s->n, a->scale, adv, uniform, &s->adv);
    for (int i = 0; i < s->n; i++) {
        GRollout *x = &s->r[i];
        x->adv = adv[i];
        x->active = !isnan(x->reward) && !(a->mask_truncated && x->truncated) &&
                    !(a->drop_uniform && uniform[i]);
        if (x->active) s->active++, s->active_tokens += x->nc;
    }
    free(r), free(adv), free(g), free(uniform);
    s->max_new = step_max_new(db, a, s);
    /* The log-probs the rollout stored are of softmax(logits / T); the ratios and
     * the KL must use the same T. Greedy rollouts (T = 0) stored T = 1's. */
    double t =
        a->temperature > 0 ? a->temperature : rollout_metric(db, a, "rollout/temperature", 1);
    s->temperature = t > 0 ? (float)t : 1.0f;
    return 0;
}

void grpo_step_free(GStep *s) {
    for (int i = 0; i < s->n; i++) {
        free(s->r[i].prompt), free(s->r[i].comp), free(s->r[i].old), free(s->r[i].ref);
    }
    free(s->r);
    memset(s, 0, sizeof *s);
}
