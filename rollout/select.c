/* select.c - which prompts a step samples (see rollout.h). */
#include <stdlib.h>
#include <string.h>

#include "rollout.h"
#include "rng.h"
#include "sample.h"

/* Prompt ids of the split, by id. */
static int64_t *split_ids(R1Db *db, const char *split, const char *dataset, int *n, R1Err *err) {
    sqlite3_stmt *st = r1_db_prepare(
        db, "SELECT id FROM prompts WHERE split = ?1 AND (?2 IS NULL OR dataset = ?2) ORDER BY id",
        err);
    if (!st) return NULL;
    sqlite3_bind_text(st, 1, split, -1, SQLITE_STATIC);
    dataset ? sqlite3_bind_text(st, 2, dataset, -1, SQLITE_STATIC) : sqlite3_bind_null(st, 2);
    int cap = 1024, rc;
    int64_t *ids = r1_xmalloc(sizeof *ids * (size_t)cap);
    *n = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) ids = r1_xrealloc(ids, sizeof *ids * (size_t)(cap *= 2));
        ids[(*n)++] = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        free(ids);
        r1_db_fail(db, "reading prompt ids", err);
        return NULL;
    }
    return ids;
}

/* Epoch e's order of the n ids: a Fisher-Yates shuffle seeded by (seed, e). */
static void shuffle(int64_t *out, const int64_t *ids, int n, uint64_t seed, long epoch) {
    memcpy(out, ids, sizeof *out * (size_t)n);
    R1Rng rng;
    r1_rng_seed(&rng, r1_seq_seed(seed, 0x70726f6d707473ULL /* "prompts" */, (uint64_t)epoch, 0));
    r1_rng_shuffle(&rng, out, (size_t)n, sizeof *out);
}

static int fetch_questions(R1Db *db, RolloutPrompt *p, int K, R1Err *err) {
    sqlite3_stmt *st = r1_db_prepare(db, "SELECT question FROM prompts WHERE id = ?1", err);
    if (!st) return -1;
    for (int j = 0; j < K; j++) {
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, p[j].id);
        if (sqlite3_step(st) != SQLITE_ROW) {
            sqlite3_finalize(st);
            return r1_db_fail(db, "reading a prompt", err);
        }
        p[j].question = r1_xstrdup((const char *)sqlite3_column_text(st, 0));
    }
    sqlite3_finalize(st);
    return 0;
}

int rollout_select(R1Db *db, const char *split, const char *dataset, long step, int K,
                   uint64_t seed, RolloutPrompt **out, R1Err *err) {
    int n;
    int64_t *ids = split_ids(db, split, dataset, &n, err);
    if (!ids) return -1;
    if (n == 0 || K > n) {
        free(ids);
        return r1_seterr(err,
                         "%s: split '%s'%s%s has %d prompts, fewer than the %d asked for "
                         "(import more with r1-data import, or lower --prompts)",
                         db->path, split, dataset ? ", dataset " : "", dataset ? dataset : "", n,
                         K);
    }
    int64_t *order = r1_xmalloc(sizeof *order * (size_t)n);
    RolloutPrompt *p = r1_xcalloc((size_t)K, sizeof *p);
    long epoch = -1, pos = step * (long)K;
    for (int j = 0; j < K; pos++) {
        if (pos / n != epoch) shuffle(order, ids, n, seed, epoch = pos / n);
        int64_t id = order[pos % n], dup = 0;
        for (int i = 0; i < j && !dup; i++) dup = p[i].id == id;
        if (!dup) p[j++].id = id;
    }
    free(order), free(ids);
    if (fetch_questions(db, p, K, err)) {
        rollout_prompts_free(p, K);
        return -1;
    }
    *out = p;
    return 0;
}

void rollout_prompts_free(RolloutPrompt *p, int n) {
    for (int i = 0; p && i < n; i++) free(p[i].question);
    free(p);
}
