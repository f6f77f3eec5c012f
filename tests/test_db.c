/* test_db.c - the run database: creation and migration, the version guard,
 * constraints that keep bad rows out, transactions, and the views' arithmetic. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <unistd.h>

#include <cmocka.h>

#include "db.h"

static char dir[64], path[96];

static int setup(void **s) {
    (void)s;
    snprintf(dir, sizeof dir, "/tmp/r1c-db-XXXXXX");
    if (!mkdtemp(dir)) return -1;
    snprintf(path, sizeof path, "%s/run.db", dir);
    return 0;
}

static int teardown(void **s) {
    (void)s;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd);
}

static long scalar(R1Db *db, const char *sql) {
    sqlite3_stmt *st = NULL;
    long v = -999;
    if (sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static double scalar_f(R1Db *db, const char *sql) {
    sqlite3_stmt *st = NULL;
    double v = -999;
    if (sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_double(st, 0);
    sqlite3_finalize(st);
    return v;
}

static void test_create_and_reopen(void **s) {
    (void)s;
    R1Db db;
    R1Err err;
    assert_int_equal(r1_db_open(&db, path, &err), 0);
    assert_int_equal(r1_db_version(&db), R1_DB_VERSION);
    assert_int_equal(scalar(&db, "SELECT COUNT(*) FROM sqlite_schema WHERE name IN ('prompts', "
                                 "'rollouts', 'rewards', 'sft_samples', 'metrics', 'checkpoints')"),
                     6);
    char mode[16] = "";
    sqlite3_stmt *st = NULL;
    sqlite3_prepare_v2(db.h, "PRAGMA journal_mode", -1, &st, NULL);
    if (sqlite3_step(st) == SQLITE_ROW)
        snprintf(mode, sizeof mode, "%s", sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    assert_string_equal(mode, "wal");
    assert_int_equal(r1_db_metric(&db, "test", 3, "loss", 1.5, &err), 0);
    r1_db_close(&db);
    /* Reopening migrates nothing and keeps the data. */
    assert_int_equal(r1_db_open(&db, path, &err), 0);
    assert_int_equal(scalar(&db, "SELECT COUNT(*) FROM metrics WHERE name = 'loss' AND step = 3"),
                     1);
    r1_db_close(&db);
}

static void test_newer_schema_refused(void **s) {
    (void)s;
    char p2[128];
    snprintf(p2, sizeof p2, "%s/future.db", dir);
    sqlite3 *h;
    assert_int_equal(sqlite3_open(p2, &h), SQLITE_OK);
    sqlite3_exec(h, "PRAGMA user_version = 99", NULL, NULL, NULL);
    sqlite3_close(h);
    R1Db db;
    R1Err err;
    assert_int_equal(r1_db_open(&db, p2, &err), -1);
    assert_non_null(strstr(err.msg, "future.db"));
    assert_non_null(strstr(err.msg, "schema version 99 is newer"));
}

static int exec_ok(R1Db *db, const char *sql) {
    return sqlite3_exec(db->h, sql, NULL, NULL, NULL) == SQLITE_OK;
}

static void test_constraints(void **s) {
    (void)s;
    R1Db db;
    R1Err err;
    assert_int_equal(r1_db_open(&db, path, &err), 0);
    assert_true(exec_ok(&db, "INSERT INTO prompts (dataset, split, question, answer, content_hash) "
                             "VALUES ('d', 'train', 'q', '1', 'h1')"));
    assert_false(exec_ok(&db,
                         "INSERT INTO prompts (dataset, split, question, answer, content_hash) "
                         "VALUES ('d', 'train', 'q', '1', 'h1')")); /* duplicate */
    assert_false(exec_ok(&db, "INSERT INTO prompts (dataset, split, question, meta, content_hash) "
                              "VALUES ('d', 'train', 'q2', 'not json', 'h2')"));
    assert_false(exec_ok(&db, "INSERT INTO sft_samples (kind, prompt, response, messages, "
                              "content_hash) VALUES ('other', 'p', 'r', '[]', 'x')"));
    assert_false(exec_ok(&db,
                         "INSERT INTO rollouts (step, prompt_id, sample, prompt_ids, "
                         "completion_ids, logprobs, text, finish_reason, n_tokens) "
                         "VALUES (0, 12345, 0, x'', x'', x'', 't', 'stop', 0)")); /* no prompt */
    assert_false(exec_ok(&db, "INSERT INTO rollouts (step, prompt_id, sample, prompt_ids, "
                              "completion_ids, logprobs, text, finish_reason, n_tokens) "
                              "VALUES (0, 1, 0, x'', x'', x'', 't', 'eos', 0)")); /* bad reason */
    assert_false(exec_ok(&db, "INSERT INTO metrics (stage, step, name, value) "
                              "VALUES ('s', 'not a step', 'n', 1)")); /* STRICT types */
    r1_db_close(&db);
}

static void test_transactions(void **s) {
    (void)s;
    R1Db db;
    R1Err err;
    assert_int_equal(r1_db_open(&db, path, &err), 0);
    long before = scalar(&db, "SELECT COUNT(*) FROM metrics");
    assert_int_equal(r1_db_begin(&db, &err), 0);
    for (int i = 0; i < 10; i++) assert_int_equal(r1_db_metric(&db, "t", i, "x", i, &err), 0);
    r1_db_rollback(&db);
    assert_int_equal(scalar(&db, "SELECT COUNT(*) FROM metrics"), before);
    assert_int_equal(r1_db_begin(&db, &err), 0);
    assert_int_equal(r1_db_checkpoint(&db, "sft", 100, "/runs/x/ckpt-100", &err), 0);
    assert_int_equal(r1_db_commit(&db, &err), 0);
    assert_int_equal(scalar(&db, "SELECT step FROM checkpoints WHERE stage = 'sft'"), 100);
    r1_db_close(&db);
}

/* Two steps, two prompts, accuracy 1/0 by hand: the views' means are exact. */
static void test_views(void **s) {
    (void)s;
    R1Db db;
    R1Err err;
    assert_int_equal(r1_db_open(&db, path, &err), 0);
    assert_true(exec_ok(
        &db, "INSERT INTO prompts (id, dataset, split, question, answer, content_hash) "
             "VALUES (10, 'v', 'train', 'a', '1', 'v1'), (11, 'v', 'train', 'b', '2', 'v2')"));
    const int acc[2][2][3] = {{{1, 0, 1}, {0, 0, 0}},
                              {{1, 1, 1}, {1, 0, 0}}}; /* step, prompt, sample */
    int id = 1000;
    for (int step = 0; step < 2; step++)
        for (int p = 0; p < 2; p++)
            for (int k = 0; k < 3; k++, id++) {
                char sql[512];
                snprintf(
                    sql, sizeof sql,
                    "INSERT INTO rollouts (id, step, prompt_id, sample, prompt_ids, "
                    "completion_ids, "
                    "logprobs, text, finish_reason, n_tokens) VALUES (%d, %d, %d, %d, x'', x'', "
                    "x'', 't', 'stop', %d); INSERT INTO rewards VALUES (%d, 'accuracy', %d), "
                    "(%d, 'total', %d.5)",
                    id, step, 10 + p, k, 4 + k, id, acc[step][p][k], id, acc[step][p][k]);
                assert_true(exec_ok(&db, sql));
            }
    assert_true(fabs(scalar_f(&db, "SELECT pass_rate FROM step_pass_rate WHERE step = 0") -
                     2.0 / 6) < 1e-12);
    assert_true(fabs(scalar_f(&db, "SELECT pass_rate FROM step_pass_rate WHERE step = 1") -
                     4.0 / 6) < 1e-12);
    assert_true(fabs(scalar_f(&db, "SELECT mean_tokens FROM step_pass_rate WHERE step = 1") - 5.0) <
                1e-12);
    assert_true(
        fabs(scalar_f(&db, "SELECT mean FROM step_rewards WHERE step = 1 AND name = 'total'") -
             (4 + 6 * 0.5) / 6) < 1e-12);
    assert_true(
        fabs(scalar_f(&db,
                      "SELECT pass_rate FROM prompt_pass_rate WHERE step = 1 AND prompt_id = 11") -
             1.0 / 3) < 1e-12);
    /* Deleting a rollout takes its rewards along. */
    assert_true(exec_ok(&db, "DELETE FROM rollouts WHERE id = 1000"));
    assert_int_equal(scalar(&db, "SELECT COUNT(*) FROM rewards WHERE rollout_id = 1000"), 0);
    r1_db_close(&db);
}

/* A database made by r1c at schema version 2 (migrations 1 and 2 applied by hand,
 * on a connection with foreign keys on, as every stage's is), with prompts,
 * rollouts, their rewards and SFT samples in it. */
static void make_v2(const char *file) {
    sqlite3 *h;
    assert_int_equal(sqlite3_open(file, &h), SQLITE_OK);
    assert_int_equal(sqlite3_exec(h, "PRAGMA foreign_keys = ON", NULL, NULL, NULL), SQLITE_OK);
    for (int i = 0; i < 2; i++)
        assert_int_equal(sqlite3_exec(h, r1_db_migrations[i], NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_exec(h, "PRAGMA user_version = 2", NULL, NULL, NULL), SQLITE_OK);
    /* ids with gaps, so a rebuild that renumbered them would show */
    const char *rows =
        "INSERT INTO prompts (id, dataset, split, question, answer, content_hash) "
        "VALUES (1, 'd', 'train', 'q1', '1', 'h1'), (2, 'd', 'train', 'q2', '2', 'h2');"
        "INSERT INTO rollouts (id, step, prompt_id, sample, prompt_ids, completion_ids, logprobs, "
        "text, finish_reason, n_tokens, model, created_at, template, prefill) VALUES "
        "(5, 0, 1, 0, x'01000000', x'0200000003000000', x'0000803f00000040', 'a', 'stop', 2, "
        "'/m0', '2026-01-01T00:00:00.000Z', 'deepseek-r1', '<think>' || char(10)),"
        "(6, 0, 1, 1, x'01000000', x'04000000', x'00000000', 'b', 'length', 1, '/m0', "
        "'2026-01-01T00:00:01.000Z', 'deepseek-r1', NULL),"
        "(17, 0, 2, 0, x'05000000', x'06000000', x'00000000', 'c', 'stop', 1, NULL, "
        "'2026-01-01T00:00:02.000Z', NULL, NULL),"
        "(40, 3, 2, 0, x'05000000', x'07000000', x'00000000', 'd', 'stop', 1, '/m3', "
        "'2026-01-01T00:00:03.000Z', 'qwen2.5', '');"
        "INSERT INTO rewards (rollout_id, name, value) SELECT id, 'accuracy', id % 2 FROM rollouts;"
        "INSERT INTO rewards (rollout_id, name, value) SELECT id, 'format', 1.0 FROM rollouts;"
        "INSERT INTO rewards (rollout_id, name, value) SELECT id, 'total', NULL FROM rollouts "
        "WHERE id = 40;"
        "INSERT INTO rewards (rollout_id, name, value) SELECT id, 'total', id % 2 + 1.0 "
        "FROM rollouts WHERE id != 40;"
        "INSERT INTO sft_samples (id, kind, prompt, response, messages, source, content_hash) "
        "VALUES (3, 'cold_start', 'p', 'r', '[]', 'f.jsonl', 's1'), "
        "(9, 'distill', 'p2', 'r2', '[]', NULL, 's2');"
        "INSERT INTO metrics (stage, step, name, value) VALUES ('rollout', 0, 'rollout/x', 1);"
        "INSERT INTO checkpoints (stage, step, path) VALUES ('grpo', 0, '/runs/step1');";
    char *msg = NULL;
    int rc = sqlite3_exec(h, rows, NULL, NULL, &msg);
    if (rc != SQLITE_OK) fprintf(stderr, "make_v2: %s\n", msg ? msg : "?");
    sqlite3_free(msg);
    assert_int_equal(rc, SQLITE_OK);
    sqlite3_close(h);
}

/* The rows of a query joined into one string: columns '|', rows ';' (NULL as "NULL"). */
static void rows_text(R1Db *db, const char *sql, char *out, size_t cap) {
    sqlite3_stmt *st = NULL;
    size_t o = 0;
    out[0] = 0;
    assert_int_equal(sqlite3_prepare_v2(db->h, sql, -1, &st, NULL), SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW && o < cap) {
        for (int c = 0; c < sqlite3_column_count(st) && o < cap; c++) {
            const char *v = (const char *)sqlite3_column_text(st, c);
            o += (size_t)snprintf(out + o, cap - o, "%s%s", c ? "|" : "", v ? v : "NULL");
        }
        if (o < cap) o += (size_t)snprintf(out + o, cap - o, ";");
    }
    sqlite3_finalize(st);
}

static const char *ROLLOUT_COLS =
    "SELECT id, step, prompt_id, sample, hex(prompt_ids), hex(completion_ids), hex(logprobs), "
    "text, finish_reason, n_tokens, model, created_at, template, quote(prefill) FROM rollouts "
    "ORDER BY id";

/* Version 2 -> 3 rebuilds rollouts and sft_samples with foreign keys off: every
 * row and id survives, every reward still points at its rollout (with foreign
 * keys on, DROP TABLE rollouts would have cascaded into rewards), the connection
 * has foreign keys on again, and the new constraints hold. */
static void test_migrate_v2_to_v3(void **s) {
    (void)s;
    char p2[128], before[4096], after[4096];
    snprintf(p2, sizeof p2, "%s/v2.db", dir);
    make_v2(p2);
    /* what version 2 held, read with the version 2 column list */
    {
        sqlite3 *h;
        assert_int_equal(sqlite3_open(p2, &h), SQLITE_OK);
        R1Db raw = {h, p2};
        rows_text(&raw, ROLLOUT_COLS, before, sizeof before);
        sqlite3_close(h);
    }
    assert_non_null(strstr(before, "5|0|1|0|01000000|"));

    R1Db db;
    R1Err err;
    assert_int_equal(r1_db_open(&db, p2, &err), 0);
    assert_int_equal(r1_db_version(&db), 3);
    rows_text(&db, ROLLOUT_COLS, after, sizeof after);
    assert_string_equal(after, before); /* ids and every column kept */
    assert_int_equal(scalar(&db, "SELECT COUNT(*) FROM rollouts"), 4);
    assert_int_equal(scalar(&db, "SELECT COUNT(*) FROM rollouts WHERE stage = 'rl'"), 4);
    /* every reward survived, each still on its rollout */
    assert_int_equal(scalar(&db, "SELECT COUNT(*) FROM rewards"), 12);
    assert_int_equal(scalar(&db, "SELECT COUNT(*) FROM rewards w JOIN rollouts r ON r.id = "
                                 "w.rollout_id"),
                     12);
    assert_int_equal(scalar(&db, "SELECT COUNT(*) FROM rewards WHERE name = 'total' AND value IS "
                                 "NULL AND rollout_id = 40"),
                     1);
    assert_int_equal(scalar(&db, "SELECT COUNT(*) FROM pragma_foreign_key_check"), 0);
    assert_int_equal(scalar(&db, "SELECT COUNT(*) FROM pragma_integrity_check WHERE "
                                 "integrity_check != 'ok'"),
                     0);
    assert_int_equal(scalar(&db, "PRAGMA foreign_keys"), 1);
    /* the other tables, and the rebuilt sft_samples with its ids */
    char sft[512];
    rows_text(&db,
              "SELECT id, kind, prompt, response, source, content_hash FROM sft_samples "
              "ORDER BY id",
              sft, sizeof sft);
    assert_string_equal(sft, "3|cold_start|p|r|f.jsonl|s1;9|distill|p2|r2|NULL|s2;");
    assert_int_equal(scalar(&db, "SELECT COUNT(*) FROM prompts"), 2);
    assert_int_equal(scalar(&db, "SELECT COUNT(*) FROM metrics"), 1);
    assert_int_equal(scalar(&db, "SELECT COUNT(*) FROM checkpoints"), 1);
    /* the views: stage columns, and the old ones still answer */
    assert_int_equal(scalar(&db, "SELECT COUNT(*) FROM step_rewards WHERE stage = 'rl'"), 6);
    assert_true(fabs(scalar_f(&db, "SELECT pass_rate FROM step_pass_rate WHERE stage = 'rl' AND "
                                   "step = 0") -
                     2.0 / 3) < 1e-12);
    assert_int_equal(scalar(&db, "SELECT samples FROM prompt_pass_rate WHERE stage = 'rl' AND "
                                 "step = 0 AND prompt_id = 1"),
                     2);
    assert_int_equal(scalar(&db, "SELECT samples FROM sft_counts WHERE kind = 'distill'"), 1);
    assert_int_equal(scalar(&db, "SELECT COUNT(*) FROM eval_summary"), 0);
    /* foreign keys are enforced again: deleting a rollout cascades, a bad prompt_id fails */
    assert_false(exec_ok(&db, "INSERT INTO rollouts (step, prompt_id, sample, prompt_ids, "
                              "completion_ids, logprobs, text, finish_reason, n_tokens) "
                              "VALUES (9, 12345, 0, x'', x'', x'', 't', 'stop', 0)"));
    assert_true(exec_ok(&db, "DELETE FROM rollouts WHERE id = 6"));
    assert_int_equal(scalar(&db, "SELECT COUNT(*) FROM rewards WHERE rollout_id = 6"), 0);
    assert_int_equal(scalar(&db, "SELECT COUNT(*) FROM rewards"), 9);
    /* sft kind 'pretrain' */
    assert_true(exec_ok(&db, "INSERT INTO sft_samples (kind, prompt, response, messages, "
                             "content_hash) VALUES ('pretrain', '', 'doc', '[]', 'p1')"));
    assert_false(exec_ok(&db, "INSERT INTO sft_samples (kind, prompt, response, messages, "
                              "content_hash) VALUES ('other', '', 'doc', '[]', 'p2')"));
    /* UNIQUE (stage, step, prompt_id, sample): rollout 5's key in another stage is
     * fine, twice in one stage is not */
    const char *ins = "INSERT INTO rollouts (stage, step, prompt_id, sample, prompt_ids, "
                      "completion_ids, logprobs, text, finish_reason, n_tokens) VALUES ";
    char sql[512];
    snprintf(sql, sizeof sql, "%s('r1-zero', 0, 1, 0, x'', x'', x'', 't', 'stop', 0)", ins);
    assert_true(exec_ok(&db, sql));
    assert_false(exec_ok(&db, sql));
    snprintf(sql, sizeof sql, "%s('rl', 0, 1, 0, x'', x'', x'', 't', 'stop', 0)", ins);
    assert_false(exec_ok(&db, sql)); /* rollout 5's own key */
    /* without a stage the row is 'rl': rollout 5's key again */
    assert_false(exec_ok(&db, "INSERT INTO rollouts (step, prompt_id, sample, prompt_ids, "
                              "completion_ids, logprobs, text, finish_reason, n_tokens) "
                              "VALUES (0, 1, 0, x'', x'', x'', 't', 'stop', 0)"));
    assert_int_equal(scalar(&db, "SELECT COUNT(*) FROM rollouts WHERE step = 0 AND prompt_id = 1 "
                                 "AND sample = 0"),
                     2);
    r1_db_close(&db);
    /* reopening migrates nothing more */
    assert_int_equal(r1_db_open(&db, p2, &err), 0);
    assert_int_equal(r1_db_version(&db), 3);
    assert_int_equal(scalar(&db, "SELECT COUNT(*) FROM rewards"), 9);
    assert_int_equal(scalar(&db, "PRAGMA foreign_keys"), 1);
    r1_db_close(&db);
}

/* Version 3's views by stage: two stages at the same step stay apart, and
 * eval_summary has one row per phase and step with its rates side by side. */
static void test_views_by_stage(void **s) {
    (void)s;
    char p3[128];
    snprintf(p3, sizeof p3, "%s/stages.db", dir);
    R1Db db;
    R1Err err;
    assert_int_equal(r1_db_open(&db, p3, &err), 0);
    assert_true(exec_ok(&db, "INSERT INTO prompts (id, dataset, split, question, answer, "
                             "content_hash) VALUES (1, 'v', 'train', 'a', '1', 'v1')"));
    /* stage a: accuracy 1, 1, 0, 0; stage b: 1, 0, 0, 0 (all at step 0) */
    const char *stages[2] = {"a", "b"};
    const int acc[2][4] = {{1, 1, 0, 0}, {1, 0, 0, 0}};
    for (int g = 0; g < 2; g++)
        for (int k = 0; k < 4; k++) {
            char sql[512];
            int id = 100 + 10 * g + k;
            snprintf(sql, sizeof sql,
                     "INSERT INTO rollouts (id, stage, step, prompt_id, sample, prompt_ids, "
                     "completion_ids, logprobs, text, finish_reason, n_tokens) VALUES (%d, '%s', "
                     "0, 1, %d, x'', x'', x'', 't', 'stop', %d); "
                     "INSERT INTO rewards VALUES (%d, 'accuracy', %d)",
                     id, stages[g], k, 2 + g, id, acc[g][k]);
            assert_true(exec_ok(&db, sql));
        }
    assert_int_equal(scalar(&db, "SELECT COUNT(*) FROM step_pass_rate"), 2);
    assert_true(fabs(scalar_f(&db, "SELECT pass_rate FROM step_pass_rate WHERE stage = 'a'") -
                     0.5) < 1e-12);
    assert_true(fabs(scalar_f(&db, "SELECT pass_rate FROM step_pass_rate WHERE stage = 'b'") -
                     0.25) < 1e-12);
    assert_true(fabs(scalar_f(&db, "SELECT mean_tokens FROM step_pass_rate WHERE stage = 'b'") -
                     3.0) < 1e-12);
    assert_int_equal(scalar(&db, "SELECT n FROM step_rewards WHERE stage = 'a' AND step = 0 AND "
                                 "name = 'accuracy'"),
                     4);
    assert_true(fabs(scalar_f(&db, "SELECT pass_rate FROM prompt_pass_rate WHERE stage = 'b' AND "
                                   "step = 0 AND prompt_id = 1") -
                     0.25) < 1e-12);
    /* eval_summary: the eval/ metrics of each phase and step in one row; others ignored */
    assert_int_equal(r1_db_metric(&db, "base", 0, "eval/accuracy", 0.375, &err), 0);
    assert_int_equal(r1_db_metric(&db, "base", 0, "eval/format_rate", 0.5, &err), 0);
    assert_int_equal(r1_db_metric(&db, "base", 0, "eval/completion_len_mean", 12, &err), 0);
    assert_int_equal(r1_db_metric(&db, "base", 0, "reward/accuracy", 0.9, &err), 0);
    assert_int_equal(r1_db_metric(&db, "r1", 2, "eval/accuracy", 0.75, &err), 0);
    char rows[512];
    rows_text(&db,
              "SELECT phase, step, accuracy, format_rate, language_rate, mean_length "
              "FROM eval_summary ORDER BY phase",
              rows, sizeof rows);
    assert_string_equal(rows, "base|0|0.375|0.5|NULL|12.0;r1|2|0.75|NULL|NULL|NULL;");
    r1_db_close(&db);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_and_reopen),
        cmocka_unit_test(test_newer_schema_refused),
        cmocka_unit_test(test_constraints),
        cmocka_unit_test(test_transactions),
        cmocka_unit_test(test_views),
        cmocka_unit_test(test_migrate_v2_to_v3),
        cmocka_unit_test(test_views_by_stage),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
