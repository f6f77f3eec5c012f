/* db.c - see db.h. */
#include "db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hashmap.h"

int r1_db_fail(R1Db *db, const char *what, R1Err *err) {
    return r1_seterr(err, "%s: %s: %s", db->path, what, sqlite3_errmsg(db->h));
}

int r1_db_exec(R1Db *db, const char *sql, R1Err *err) {
    char *msg = NULL;
    if (sqlite3_exec(db->h, sql, NULL, NULL, &msg) == SQLITE_OK) return 0;
    r1_seterr(err, "%s: %s", db->path, msg ? msg : sqlite3_errmsg(db->h));
    sqlite3_free(msg);
    return -1;
}

sqlite3_stmt *r1_db_prepare(R1Db *db, const char *sql, R1Err *err) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) != SQLITE_OK) {
        r1_seterr(err, "%s: %s (in: %.120s)", db->path, sqlite3_errmsg(db->h), sql);
        return NULL;
    }
    return st;
}

int r1_db_begin(R1Db *db, R1Err *err) {
    return r1_db_exec(db, "BEGIN IMMEDIATE", err);
}
int r1_db_commit(R1Db *db, R1Err *err) {
    return r1_db_exec(db, "COMMIT", err);
}
void r1_db_rollback(R1Db *db) {
    if (!sqlite3_get_autocommit(db->h)) sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
}

int r1_db_version(R1Db *db) {
    sqlite3_stmt *st = NULL;
    int v = -1;
    if (sqlite3_prepare_v2(db->h, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return v;
}

static int too_new(R1Db *db, int v, R1Err *err) {
    return r1_seterr(
        err, "%s: schema version %d is newer than this r1c understands (%d); use a newer r1c",
        db->path, v, R1_DB_VERSION);
}

/* Applies the migrations the file has not seen, each with its version bump in one
 * transaction, so an interrupted upgrade leaves a consistent older schema. The
 * version is read again under the write lock: two stages opening a new database
 * at the same moment must not both create its tables. */
static int migrate(R1Db *db, R1Err *err) {
    int v = r1_db_version(db);
    if (v < 0) return r1_db_fail(db, "cannot read the schema version", err);
    if (v > R1_DB_VERSION) return too_new(db, v, err);
    while (v < R1_DB_VERSION) {
        if (r1_db_begin(db, err)) return -1;
        if ((v = r1_db_version(db)) >= R1_DB_VERSION) { /* another process got there first */
            r1_db_rollback(db);
            return v > R1_DB_VERSION ? too_new(db, v, err) : 0;
        }
        char bump[64];
        snprintf(bump, sizeof bump, "PRAGMA user_version = %d;", v + 1);
        if (r1_db_exec(db, r1_db_migrations[v], err) || r1_db_exec(db, bump, err) ||
            r1_db_commit(db, err)) {
            r1_db_rollback(db);
            return -1;
        }
        v++;
    }
    return 0;
}

/* The connection's settings and the schema. WAL: readers (people in sqlite3,
 * evaluation) never block the writing stage; synchronous=NORMAL is durable across
 * application crashes in WAL mode. 16 KiB pages (set before WAL, while the file
 * is new; ignored afterwards): SFT rows of 1-2 KB would each waste half a 4 KiB page.
 * Foreign keys are off while migrating (a pragma that cannot change inside a
 * transaction): rebuilding a table would otherwise cascade-delete its dependants. */
static int setup(R1Db *db, R1Err *err) {
    return r1_db_exec(db,
                      "PRAGMA page_size = 16384; PRAGMA journal_mode = WAL; "
                      "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = OFF;",
                      err) ||
           migrate(db, err) || r1_db_exec(db, "PRAGMA foreign_keys = ON;", err);
}

int r1_db_open(R1Db *db, const char *path, R1Err *err) {
    db->path = r1_xstrdup(path);
    db->h = NULL;
    if (sqlite3_open_v2(path, &db->h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        r1_seterr(err, "%s: cannot open: %s", path,
                  db->h ? sqlite3_errmsg(db->h) : "out of memory");
        r1_db_close(db);
        return -1;
    }
    sqlite3_busy_timeout(db->h, 10000); /* another stage may hold the write lock briefly */
    /* Switching a new file to WAL can meet another process doing the same: SQLite
     * then reports "locked" without waiting, so the setup is tried again. */
    for (int attempt = 0; setup(db, err) != 0; attempt++) {
        int code = sqlite3_errcode(db->h);
        if ((code != SQLITE_BUSY && code != SQLITE_LOCKED) || attempt >= 100) {
            r1_db_close(db);
            return -1;
        }
        usleep(50000);
    }
    return 0;
}

int r1_db_open_readonly(R1Db *db, const char *path, R1Err *err) {
    db->path = r1_xstrdup(path);
    db->h = NULL;
    if (sqlite3_open_v2(path, &db->h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        r1_seterr(err, "%s: cannot open for reading: %s", path,
                  db->h ? sqlite3_errmsg(db->h) : "out of memory");
        r1_db_close(db);
        return -1;
    }
    sqlite3_busy_timeout(db->h, 10000);
    sqlite3_stmt *st = r1_db_prepare(db, "PRAGMA user_version", err);
    int v = st && sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
    sqlite3_finalize(st);
    if (v != R1_DB_VERSION) {
        r1_seterr(err, "%s: schema version %d, expected %d", path, v, R1_DB_VERSION);
        r1_db_close(db);
        return -1;
    }
    return 0;
}

void r1_db_close(R1Db *db) {
    if (db->h) sqlite3_close(db->h);
    free(db->path);
    db->h = NULL;
    db->path = NULL;
}

int r1_db_metric(R1Db *db, const char *stage, long step, const char *name, double value,
                 R1Err *err) {
    sqlite3_stmt *st = r1_db_prepare(
        db, "INSERT INTO metrics (stage, step, name, value) VALUES (?, ?, ?, ?)", err);
    if (!st) return -1;
    sqlite3_bind_text(st, 1, stage, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, step);
    sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 4, value);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : r1_db_fail(db, "writing a metric", err);
    sqlite3_finalize(st);
    return rc;
}

int r1_db_checkpoint(R1Db *db, const char *stage, long step, const char *path, R1Err *err) {
    sqlite3_stmt *st =
        r1_db_prepare(db, "INSERT INTO checkpoints (stage, step, path) VALUES (?, ?, ?)", err);
    if (!st) return -1;
    sqlite3_bind_text(st, 1, stage, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, step);
    sqlite3_bind_text(st, 3, path, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : r1_db_fail(db, "recording a checkpoint", err);
    sqlite3_finalize(st);
    return rc;
}

void r1_db_hash_hex(const void *p, size_t n, char out[17]) {
    snprintf(out, 17, "%016llx", (unsigned long long)r1_hash_bytes(p, n));
}
