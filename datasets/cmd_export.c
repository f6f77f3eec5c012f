/* cmd_export.c - `r1-data export`: a table as JSONL on stdout, in the formats
 * `r1-data import` reads, so that data round-trips between run databases.
 *
 * Rows are written in id order. Text goes through r1_json_string_write, which
 * keeps every byte of valid UTF-8 (and turns invalid bytes, which import never
 * stores, into U+FFFD); JSON columns (meta, messages) are copied as stored. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data.h"
#include "jsonstr.h"

static const char usage[] =
    "usage: r1-data export --db DB --table prompts|sft|rollouts [filters]\n"
    "Writes one JSON object per row to stdout:\n"
    "  prompts   {\"question\", \"answer\", \"solution\"?, \"dataset\", \"split\", \"meta\"?}\n"
    "            (answer null when unknown); read back by `import --format jsonl`\n"
    "  sft       {\"messages\": [...], \"kind\"}; read back by `import --format messages`\n"
    "  rollouts  {\"stage\", \"step\", \"prompt_id\", \"sample\", \"text\", \"finish_reason\",\n"
    "            \"completion_ids\": [...], \"logprobs\": [...], \"rewards\": {name: value}}\n"
    "filters:\n"
    "  --dataset D, --split S   prompts, and rollouts of those prompts\n"
    "  --kind K                 sft: cold_start, reasoning, non_reasoning or distill\n"
    "  --step N                 rollouts of one step\n"
    "  --stage S                rollouts of one stage (rollouts.stage: r1-zero, eval/base, ...)\n";

enum { T_PROMPTS, T_SFT, T_ROLLOUTS };
static const char *const tables[] = {"prompts", "sft", "rollouts", NULL};

typedef struct {
    const char *db, *dataset, *split, *kind, *step, *stage;
    int table;
    long step_n;
} ExportOpts;

/* A growing line buffer, reused for every row. */
typedef struct {
    char *p;
    size_t len, cap;
} Buf;

static void put(Buf *b, const char *s, size_t n) {
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->p = r1_xrealloc(b->p, b->cap);
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void puts_(Buf *b, const char *s) {
    put(b, s, strlen(s));
}

/* A TEXT column as a JSON string (NULL as null). */
static void put_text(Buf *b, sqlite3_stmt *st, int col) {
    const char *s = (const char *)sqlite3_column_text(st, col);
    if (!s) return puts_(b, "null");
    r1_json_string_write(s, (size_t)sqlite3_column_bytes(st, col), &b->p, &b->len, &b->cap);
}

/* A JSON column as stored, unless it spans lines (hand-written whitespace): a
 * JSONL line must not, so that one is re-serialised. */
static void put_json(Buf *b, sqlite3_stmt *st, int col) {
    const char *s = (const char *)sqlite3_column_text(st, col);
    size_t n = (size_t)sqlite3_column_bytes(st, col);
    if (!memchr(s, '\n', n) && !memchr(s, '\r', n)) return put(b, s, n);
    cJSON *j = cJSON_ParseWithLength(s, n);
    char *flat = j ? cJSON_PrintUnformatted(j) : NULL;
    puts_(b, flat ? flat : "null");
    cJSON_free(flat);
    cJSON_Delete(j);
}

static void put_long(Buf *b, long long v) {
    char num[32];
    put(b, num, (size_t)snprintf(num, sizeof num, "%lld", v));
}

/* The fewest digits that read back as the same float; non-finite as null. */
static void put_float(Buf *b, float v) {
    char num[32];
    if (!isfinite(v)) return puts_(b, "null");
    for (int p = 6; p <= 9; p++)
        if (snprintf(num, sizeof num, "%.*g", p, v), strtof(num, NULL) == v) break;
    puts_(b, num);
}

static int parse_opts(ExportOpts *o, int argc, char **argv) {
    memset(o, 0, sizeof *o);
    const char *table = NULL;
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        const char **slot = !strcmp(f, "--db")        ? &o->db
                            : !strcmp(f, "--table")   ? &table
                            : !strcmp(f, "--dataset") ? &o->dataset
                            : !strcmp(f, "--split")   ? &o->split
                            : !strcmp(f, "--kind")    ? &o->kind
                            : !strcmp(f, "--step")    ? &o->step
                            : !strcmp(f, "--stage")   ? &o->stage
                                                      : NULL;
        if (slot && i + 1 < argc)
            *slot = argv[++i];
        else if (slot)
            return fprintf(stderr, "r1-data export: %s needs a value\n", f), 1;
        else if (!strcmp(f, "--help") || !strcmp(f, "-h"))
            return fputs(usage, stdout), -1;
        else
            return fprintf(stderr, "r1-data export: unknown argument %s\n%s", f, usage), 1;
    }
    o->table = -1;
    for (int t = 0; table && tables[t]; t++)
        if (!strcmp(table, tables[t])) o->table = t;
    if (o->table < 0)
        return fprintf(stderr, "r1-data export: needs --table prompts, sft or rollouts\n"), 1;
    return 0;
}

/* Filters that do not apply to the table are refused rather than ignored. */
static int check_opts(ExportOpts *o) {
    const char *why = NULL;
    char *end = NULL;
    if (o->step) errno = 0, o->step_n = strtol(o->step, &end, 10);
    if (o->kind && o->table != T_SFT)
        why = "--kind is only for --table sft";
    else if ((o->step || o->stage) && o->table != T_ROLLOUTS)
        why = "--step and --stage are only for --table rollouts";
    else if ((o->dataset || o->split) && o->table == T_SFT)
        why = "--dataset and --split are not for --table sft";
    else if (o->step && (errno || end == o->step || *end))
        why = "--step needs an integer";
    else if (!o->db)
        why = "needs --db FILE";
    if (why) fprintf(stderr, "r1-data export: %s\n", why);
    return why ? 1 : 0;
}

static void bind_opt(sqlite3_stmt *st, int i, const char *v) {
    v ? sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC) : sqlite3_bind_null(st, i);
}

static void prompt_row(Buf *b, sqlite3_stmt *st) {
    puts_(b, "{\"question\":");
    put_text(b, st, 0);
    puts_(b, ",\"answer\":");
    put_text(b, st, 1);
    if (sqlite3_column_type(st, 2) != SQLITE_NULL) puts_(b, ",\"solution\":"), put_text(b, st, 2);
    puts_(b, ",\"dataset\":");
    put_text(b, st, 3);
    puts_(b, ",\"split\":");
    put_text(b, st, 4);
    const char *meta = (const char *)sqlite3_column_text(st, 5);
    if (meta && strcmp(meta, "{}")) puts_(b, ",\"meta\":"), put_json(b, st, 5);
    puts_(b, "}\n");
}

static void sft_row(Buf *b, sqlite3_stmt *st) {
    puts_(b, "{\"messages\":");
    put_json(b, st, 0);
    puts_(b, ",\"kind\":");
    put_text(b, st, 1);
    puts_(b, "}\n");
}

/* A little-endian int32 or float32 BLOB as a JSON array. */
static int put_blob(Buf *b, sqlite3_stmt *st, int col, int floats, R1Err *err) {
    const unsigned char *p = sqlite3_column_blob(st, col);
    size_t n = (size_t)sqlite3_column_bytes(st, col);
    if (n % 4)
        return r1_seterr(err, "rollout %lld: %s has %zu bytes, not a multiple of 4",
                         sqlite3_column_int64(st, 0), sqlite3_column_name(st, col), n);
    puts_(b, "[");
    for (size_t i = 0; i < n; i += 4) {
        uint32_t u = (uint32_t)p[i] | (uint32_t)p[i + 1] << 8 | (uint32_t)p[i + 2] << 16 |
                     (uint32_t)p[i + 3] << 24;
        if (i) puts_(b, ",");
        if (floats) {
            float f;
            memcpy(&f, &u, 4);
            put_float(b, f);
        } else {
            put_long(b, (int32_t)u);
        }
    }
    puts_(b, "]");
    return 0;
}

/* {"accuracy":1,"format":0.5,...} from the rollout's rewards rows. */
static int put_rewards(Buf *b, R1Db *db, sqlite3_stmt *rw, long long id, R1Err *err) {
    int rc, first = 1;
    sqlite3_bind_int64(rw, 1, id);
    puts_(b, "{");
    while ((rc = sqlite3_step(rw)) == SQLITE_ROW) {
        if (!first) puts_(b, ",");
        first = 0;
        put_text(b, rw, 0);
        puts_(b, ":");
        if (sqlite3_column_type(rw, 1) == SQLITE_NULL)
            puts_(b, "null");
        else {
            char num[32];
            double v = sqlite3_column_double(rw, 1);
            for (int p = 15; p <= 17; p++)
                if (snprintf(num, sizeof num, "%.*g", p, v), strtod(num, NULL) == v) break;
            puts_(b, isfinite(v) ? num : "null");
        }
    }
    sqlite3_reset(rw);
    puts_(b, "}");
    return rc == SQLITE_DONE ? 0 : r1_db_fail(db, "reading rewards", err);
}

static int rollout_row(Buf *b, R1Db *db, sqlite3_stmt *st, sqlite3_stmt *rw, R1Err *err) {
    static const char *const keys[] = {",\"step\":", ",\"prompt_id\":", ",\"sample\":"};
    puts_(b, "{\"stage\":");
    put_text(b, st, 8);
    for (int k = 0; k < 3; k++) puts_(b, keys[k]), put_long(b, sqlite3_column_int64(st, k + 1));
    puts_(b, ",\"text\":");
    put_text(b, st, 4);
    puts_(b, ",\"finish_reason\":");
    put_text(b, st, 5);
    puts_(b, ",\"completion_ids\":");
    if (put_blob(b, st, 6, 0, err)) return -1;
    puts_(b, ",\"logprobs\":");
    if (put_blob(b, st, 7, 1, err)) return -1;
    puts_(b, ",\"rewards\":");
    if (put_rewards(b, db, rw, sqlite3_column_int64(st, 0), err)) return -1;
    puts_(b, "}\n");
    return 0;
}

static sqlite3_stmt *select_rows(R1Db *db, const ExportOpts *o, R1Err *err) {
    static const char *const sql[] = {
        "SELECT question, answer, solution, dataset, split, meta FROM prompts "
        "WHERE (?1 IS NULL OR dataset = ?1) AND (?2 IS NULL OR split = ?2) ORDER BY id",
        "SELECT messages, kind FROM sft_samples WHERE (?3 IS NULL OR kind = ?3) ORDER BY id",
        "SELECT r.id, r.step, r.prompt_id, r.sample, r.text, r.finish_reason, r.completion_ids, "
        "r.logprobs, r.stage FROM rollouts r LEFT JOIN prompts p ON p.id = r.prompt_id "
        "WHERE (?1 IS NULL OR p.dataset = ?1) AND (?2 IS NULL OR p.split = ?2) "
        "AND (?4 IS NULL OR r.step = ?4) AND (?5 IS NULL OR r.stage = ?5) ORDER BY r.id"};
    sqlite3_stmt *st = r1_db_prepare(db, sql[o->table], err);
    if (!st) return NULL;
    int n = sqlite3_bind_parameter_count(st);
    if (n >= 2) bind_opt(st, 1, o->dataset), bind_opt(st, 2, o->split);
    if (n >= 3) bind_opt(st, 3, o->kind);
    if (n >= 4) o->step ? sqlite3_bind_int64(st, 4, o->step_n) : sqlite3_bind_null(st, 4);
    if (n >= 5) bind_opt(st, 5, o->stage);
    return st;
}

/* Streams the rows; one read transaction gives a consistent snapshot even while
 * another stage writes (WAL). */
static int export_rows(R1Db *db, const ExportOpts *o, R1Err *err) {
    sqlite3_stmt *st = select_rows(db, o, err), *rw = NULL;
    if (!st) return -1;
    if (o->table == T_ROLLOUTS &&
        !(rw = r1_db_prepare(
              db, "SELECT name, value FROM rewards WHERE rollout_id = ? ORDER BY name", err)))
        return sqlite3_finalize(st), -1;
    Buf b = {0};
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        b.len = 0;
        if (o->table == T_PROMPTS)
            prompt_row(&b, st);
        else if (o->table == T_SFT)
            sft_row(&b, st);
        else if (rollout_row(&b, db, st, rw, err))
            break;
        if (fwrite(b.p, 1, b.len, stdout) != b.len) break;
    }
    int ok = rc == SQLITE_DONE;
    if (!ok && rc != SQLITE_ROW)
        r1_db_fail(db, "reading rows", err);
    else if (!ok && ferror(stdout))
        r1_seterr(err, "writing stdout: %s", strerror(errno));
    free(b.p);
    sqlite3_finalize(rw);
    sqlite3_finalize(st);
    return ok ? 0 : -1;
}

int cmd_export(int argc, char **argv) {
    ExportOpts o;
    int rc = parse_opts(&o, argc, argv);
    if (rc == 0) rc = check_opts(&o);
    if (rc) return rc < 0 ? 0 : 2;
    R1Db db;
    if (data_open_existing(&db, o.db)) return 1;
    R1Err err;
    static char obuf[1 << 16];
    setvbuf(stdout, obuf, _IOFBF, sizeof obuf);
    rc = r1_db_exec(&db, "BEGIN", &err) || export_rows(&db, &o, &err) ? 1 : 0;
    r1_db_rollback(&db); /* ends the read transaction */
    if (rc == 0 && fflush(stdout)) rc = 1, r1_seterr(&err, "writing stdout: %s", strerror(errno));
    if (rc) fprintf(stderr, "r1-data export: %s\n", err.msg);
    r1_db_close(&db);
    return rc;
}
