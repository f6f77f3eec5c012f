/* common.c - what the r1-data subcommands share: opening the database, the
 * prompt writer, progress on a terminal. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data.h"
#include "jsonstr.h"

int data_open(R1Db *db, const char *path) {
    R1Err err;
    if (!path) return fprintf(stderr, "r1-data: needs --db FILE\n"), -1;
    /* SQLite would quietly use a temporary database for these, and lose the data. */
    if (!*path || !strcmp(path, ":memory:") || !strncmp(path, "file:", 5))
        return fprintf(stderr, "r1-data: --db needs a file name, not '%s'\n", path), -1;
    if (r1_db_open(db, path, &err) == 0) return 0;
    fprintf(stderr, "r1-data: %s\n", err.msg);
    return -1;
}

int data_open_existing(R1Db *db, const char *path) {
    if (path && *path && access(path, F_OK) != 0)
        return fprintf(stderr, "r1-data: %s: no such database (r1-data init creates one)\n", path),
               -1;
    return data_open(db, path);
}

int prompt_writer_init(PromptWriter *w, R1Db *db, R1Err *err) {
    memset(w, 0, sizeof *w);
    w->db = db;
    w->insert =
        r1_db_prepare(db,
                      /* not OR IGNORE: that would hide a failed CHECK too */
                      "INSERT INTO prompts (dataset, split, question, answer, solution, "
                      "meta, source, content_hash) VALUES (?, ?, ?, ?, ?, coalesce(?, '{}'), "
                      "?, ?) ON CONFLICT (dataset, split, content_hash) DO NOTHING",
                      err);
    return w->insert ? 0 : -1;
}

/* The content hash covers what makes two prompts the same task: the question and
 * its gold answer (a NUL keeps "ab"+"c" apart from "a"+"bc"). */
static void prompt_hash(const PromptRow *r, char out[17]) {
    size_t q = strlen(r->question), a = r->answer ? strlen(r->answer) : 0;
    char *buf = r1_xmalloc(q + a + 2);
    memcpy(buf, r->question, q);
    buf[q] = 0;
    buf[q + 1] = r->answer ? 1 : 0; /* NULL answer differs from "" */
    memcpy(buf + q + 2, r->answer ? r->answer : "", a);
    r1_db_hash_hex(buf, q + a + 2, out);
    free(buf);
}

int prompt_writer_add(PromptWriter *w, const PromptRow *r, R1Err *err) {
    char hash[17];
    prompt_hash(r, hash);
    sqlite3_stmt *st = w->insert;
    sqlite3_reset(st);
    sqlite3_bind_text(st, 1, r->dataset, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, r->split, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, r->question, -1, SQLITE_STATIC);
    r->answer ? sqlite3_bind_text(st, 4, r->answer, -1, SQLITE_STATIC) : sqlite3_bind_null(st, 4);
    r->solution ? sqlite3_bind_text(st, 5, r->solution, -1, SQLITE_STATIC)
                : sqlite3_bind_null(st, 5);
    r->meta ? sqlite3_bind_text(st, 6, r->meta, -1, SQLITE_STATIC) : sqlite3_bind_null(st, 6);
    r->source ? sqlite3_bind_text(st, 7, r->source, -1, SQLITE_STATIC) : sqlite3_bind_null(st, 7);
    sqlite3_bind_text(st, 8, hash, 16, SQLITE_TRANSIENT);
    if (sqlite3_step(st) != SQLITE_DONE) return r1_db_fail(w->db, "inserting a prompt", err);
    if (sqlite3_changes(w->db->h))
        w->added++;
    else
        w->repeated++;
    return 0;
}

void prompt_writer_free(PromptWriter *w) {
    sqlite3_finalize(w->insert);
    w->insert = NULL;
}

/* Appends s to the growing string (*out, *len, *cap), keeping it NUL-terminated. */
static void put(char **out, size_t *len, size_t *cap, const char *s) {
    size_t n = strlen(s);
    if (*len + n + 1 > *cap) *out = r1_xrealloc(*out, *cap = (*len + n + 1) * 2);
    memcpy(*out + *len, s, n + 1);
    *len += n;
}

char *sft_messages(const char *system, const char *user, size_t user_len, const char *assistant,
                   size_t assistant_len, size_t *len, char hash[17]) {
    char *m = NULL;
    size_t cap = 0;
    *len = 0;
    put(&m, len, &cap, "[");
    if (system) {
        put(&m, len, &cap, "{\"role\":\"system\",\"content\":");
        r1_json_string_write(system, strlen(system), &m, len, &cap);
        put(&m, len, &cap, "},");
    }
    put(&m, len, &cap, "{\"role\":\"user\",\"content\":");
    r1_json_string_write(user, user_len, &m, len, &cap);
    put(&m, len, &cap, "},{\"role\":\"assistant\",\"content\":");
    r1_json_string_write(assistant, assistant_len, &m, len, &cap);
    put(&m, len, &cap, "}]");
    r1_db_hash_hex(m, *len, hash);
    return m;
}
