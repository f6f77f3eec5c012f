/* db.h - the run database: one SQLite file per run, shared by every stage.
 *
 * Contract:
 *   - r1_db_open creates the file if needed, turns on WAL mode, foreign keys and
 *     a busy timeout, and brings the schema to R1_DB_VERSION by applying the
 *     migrations in order (each in its own transaction), so any r1c version opens
 *     any older database. A database from a newer r1c is refused by name.
 *   - The schema (core/db_schema.c) is a public interface for people using the
 *     sqlite3 shell; its tables and columns are documented there and in README.
 *   - Stages write through r1_db_begin / r1_db_commit (BEGIN IMMEDIATE ...
 *     COMMIT), so a stage that is killed leaves no half-written rows: SQLite
 *     rolls the open transaction back when the file is next opened.
 *   - Errors name the database file and SQLite's message. */
#ifndef R1_DB_H
#define R1_DB_H

#include <sqlite3.h>
#include <stdint.h>

#include "util.h"

#define R1_DB_VERSION 3

typedef struct {
    sqlite3 *h;
    char *path;
} R1Db;

int r1_db_open(R1Db *db, const char *path, R1Err *err);
/* Opens an existing database for reading only (no setup, no migration): the
 * ranks of a data-parallel job other than rank 0 (see dist.h). Refuses a
 * database of another schema version. */
int r1_db_open_readonly(R1Db *db, const char *path, R1Err *err);
void r1_db_close(R1Db *db);
/* Runs SQL with no result rows (one or more statements). */
int r1_db_exec(R1Db *db, const char *sql, R1Err *err);
int r1_db_begin(R1Db *db, R1Err *err); /* BEGIN IMMEDIATE: takes the write lock now */
int r1_db_commit(R1Db *db, R1Err *err);
void r1_db_rollback(R1Db *db);
/* Prepares a statement; on failure fills err with the file, SQLite's message and the SQL. */
sqlite3_stmt *r1_db_prepare(R1Db *db, const char *sql, R1Err *err);
/* Fills err from the connection's last error, prefixed by the file name. */
int r1_db_fail(R1Db *db, const char *what, R1Err *err);
/* The schema version stored in the file (PRAGMA user_version). */
int r1_db_version(R1Db *db);

/* Logging helpers every stage uses (inside the caller's transaction, if any). */
/* The phase a stage's --stage option names (NULL: not given). Rollouts rows carry
 * it in rollouts.stage (default "rl"); the stage's metrics are recorded under it,
 * or under the executable's own name ("rollout", "reward", "grpo") without it. */
/* The kinds sft_samples.kind accepts (the schema's CHECK), NULL-terminated. */
extern const char *const r1_sft_kinds[];

static inline const char *r1_rows_stage(const char *stage) {
    return stage ? stage : "rl";
}
static inline const char *r1_metrics_stage(const char *stage, const char *own) {
    return stage ? stage : own;
}

int r1_db_metric(R1Db *db, const char *stage, long step, const char *name, double value,
                 R1Err *err);
int r1_db_checkpoint(R1Db *db, const char *stage, long step, const char *path, R1Err *err);

/* A stable 64-bit content hash as 16 hex digits (for idempotent imports). */
void r1_db_hash_hex(const void *p, size_t n, char out[17]);

/* The migrations: migration i (1-based) takes the schema from version i - 1 to i. */
extern const char *const r1_db_migrations[R1_DB_VERSION];

#endif
