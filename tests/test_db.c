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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_and_reopen),
        cmocka_unit_test(test_newer_schema_refused),
        cmocka_unit_test(test_constraints),
        cmocka_unit_test(test_transactions),
        cmocka_unit_test(test_views),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
