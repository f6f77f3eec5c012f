/* store.c - the step's rows in the run database (see rollout.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rollout.h"

int rollout_step_complete(R1Db *db, const char *stage, long step, const RolloutPrompt *p, int K,
                          int G, R1Err *err) {
    sqlite3_stmt *st = r1_db_prepare(
        db, "SELECT prompt_id, sample FROM rollouts WHERE step = ?1 AND stage = ?2", err);
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, step);
    sqlite3_bind_text(st, 2, r1_rows_stage(stage), -1, SQLITE_STATIC);
    unsigned char *seen = r1_xcalloc((size_t)K * G, 1);
    int rows = 0, match = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(st, 0);
        int g = sqlite3_column_int(st, 1);
        rows++;
        for (int j = 0; j < K; j++)
            if (p[j].id == id && g >= 0 && g < G && !seen[j * G + g]) seen[j * G + g] = 1, match++;
    }
    sqlite3_finalize(st);
    free(seen);
    if (rc != SQLITE_DONE) return r1_db_fail(db, "reading the step's rollouts", err);
    return rows == K * G && match == K * G;
}

void rollout_stats(const RolloutResult *r, RolloutStats *s) {
    memset(s, 0, sizeof *s);
    int n = r->K * r->G, cut = 0;
    for (int i = 0; i < n; i++) {
        s->tokens += r->c[i].n;
        s->len_max = r->c[i].n > s->len_max ? r->c[i].n : s->len_max;
        cut += !r->c[i].stopped;
    }
    s->len_mean = n ? (double)s->tokens / n : 0.0;
    s->truncated_frac = n ? (double)cut / n : 0.0;
    s->tokens_per_s = r->seconds > 0 ? (double)s->tokens / r->seconds : 0.0;
}

/* Little-endian int32 / float32 blobs (x86 and arm64 are little-endian; the
 * check keeps a big-endian build from writing the wrong bytes silently). */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "rollout blobs are little-endian");

static int insert_rows(R1Db *db, const RolloutResult *r, R1Err *err) {
    sqlite3_stmt *st = r1_db_prepare(
        db,
        "INSERT INTO rollouts (step, prompt_id, sample, prompt_ids, completion_ids, logprobs, "
        "text, finish_reason, n_tokens, model, template, prefill, stage) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        err);
    if (!st) return -1;
    for (int q = 0; q < r->K * r->G; q++) {
        const R1Completion *c = &r->c[q];
        int p = c->prompt;
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, r->step);
        sqlite3_bind_int64(st, 2, r->prompts[p].id);
        sqlite3_bind_int(st, 3, c->sample);
        sqlite3_bind_blob(st, 4, r->prompt_ids[p], (int)sizeof(int) * r->prompt_lens[p],
                          SQLITE_STATIC);
        sqlite3_bind_blob(st, 5, c->n ? (const void *)c->ids : "", (int)sizeof(int) * c->n,
                          SQLITE_STATIC);
        sqlite3_bind_blob(st, 6, c->n ? (const void *)c->logprobs : "", (int)sizeof(float) * c->n,
                          SQLITE_STATIC);
        sqlite3_bind_text(st, 7, c->text, (int)c->text_len, SQLITE_STATIC);
        sqlite3_bind_text(st, 8, c->stopped ? "stop" : "length", -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 9, c->n);
        sqlite3_bind_text(st, 10, r->model, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 11, r->template_name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 12, r->prefill, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 13, r1_rows_stage(r->stage), -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE) {
            sqlite3_finalize(st);
            return r1_db_fail(db, "writing a rollout", err);
        }
    }
    sqlite3_finalize(st);
    return 0;
}

static int clear_step(R1Db *db, const char *stage, long step, R1Err *err) {
    /* rewards go with their rollouts (ON DELETE CASCADE) */
    sqlite3_stmt *st[2] = {
        r1_db_prepare(db, "DELETE FROM rollouts WHERE stage = ?1 AND step = ?2", err),
        r1_db_prepare(
            db, "DELETE FROM metrics WHERE stage = ?1 AND step = ?2 AND name LIKE 'rollout/%'",
            err)};
    int rc = st[0] && st[1] ? 0 : -1;
    const char *names[2] = {r1_rows_stage(stage), r1_metrics_stage(stage, "rollout")};
    for (int i = 0; i < 2 && rc == 0; i++) {
        sqlite3_bind_text(st[i], 1, names[i], -1, SQLITE_STATIC);
        sqlite3_bind_int64(st[i], 2, step);
        if (sqlite3_step(st[i]) != SQLITE_DONE) rc = r1_db_fail(db, "clearing the step", err);
    }
    sqlite3_finalize(st[0]), sqlite3_finalize(st[1]);
    return rc;
}

int rollout_store(R1Db *db, const RolloutResult *r, const RolloutStats *s, R1Err *err) {
    if (r1_db_begin(db, err)) return -1;
    const struct {
        const char *name;
        double v;
    } m[] = {{"rollout/completion_len_mean", s->len_mean},
             {"rollout/completion_len_max", (double)s->len_max},
             {"rollout/truncated_frac", s->truncated_frac},
             {"rollout/tokens_per_s", s->tokens_per_s},
             {"rollout/completions", (double)r->K * r->G},
             {"rollout/max_new_tokens", (double)r->max_new},
             {"rollout/temperature", r->temperature},
             {"rollout/device", (double)r->device}};
    int rc = clear_step(db, r->stage, r->step, err);
    if (rc == 0) rc = insert_rows(db, r, err);
    for (size_t i = 0; rc == 0 && i < sizeof m / sizeof m[0]; i++)
        rc = r1_db_metric(db, r1_metrics_stage(r->stage, "rollout"), r->step, m[i].name, m[i].v,
                          err);
    if (rc == 0) rc = r1_db_commit(db, err);
    if (rc) r1_db_rollback(db);
    return rc;
}
