/* cmd_stats.c - `r1-data stats` and `r1-data sample`: the database for a person. */
#include <stdlib.h>
#include <string.h>

#include "data.h"

/* Prints every row of a query as aligned columns under a title; returns rows printed. */
static long print_query(R1Db *db, const char *title, const char *sql, R1Err *err) {
    sqlite3_stmt *st = r1_db_prepare(db, sql, err);
    if (!st) return -1;
    int nc = sqlite3_column_count(st);
    long rows = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (rows++ == 0) {
            printf("\n%s\n", title);
            for (int c = 0; c < nc; c++)
                printf("%s%-16s", c ? " " : "  ", sqlite3_column_name(st, c));
            putchar('\n');
        }
        for (int c = 0; c < nc; c++) {
            const unsigned char *v = sqlite3_column_text(st, c);
            printf("%s%-16s", c ? " " : "  ", v ? (const char *)v : "-");
        }
        putchar('\n');
    }
    sqlite3_finalize(st);
    return rows;
}

static long count(R1Db *db, const char *table) {
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM %s", table);
    sqlite3_stmt *st = NULL;
    long n = -1;
    if (sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

static const char *TABLES[] = {"prompts",     "rollouts", "rewards",
                               "sft_samples", "metrics",  "checkpoints"};

static int stats_json(R1Db *db) {
    printf("{\"schema_version\":%d", r1_db_version(db));
    for (size_t i = 0; i < sizeof TABLES / sizeof *TABLES; i++)
        printf(",\"%s\":%ld", TABLES[i], count(db, TABLES[i]));
    printf("}\n");
    return 0;
}

int cmd_stats(int argc, char **argv) {
    const char *path = NULL;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            return puts("usage: r1-data stats --db DB [--json]"), 0;
        if (!strcmp(argv[i], "--db") && i + 1 < argc)
            path = argv[++i];
        else if (!strcmp(argv[i], "--json"))
            json = 1;
        else
            return fprintf(stderr, "r1-data stats: unknown option %s\n", argv[i]), 2;
    }
    R1Db db;
    R1Err err;
    if (data_open_existing(&db, path)) return 1;
    if (json) return stats_json(&db), r1_db_close(&db), 0;
    printf("%s (schema version %d)\n", path, r1_db_version(&db));
    for (size_t i = 0; i < sizeof TABLES / sizeof *TABLES; i++)
        printf("  %-12s %10ld rows\n", TABLES[i], count(&db, TABLES[i]));
    long rc =
        print_query(&db, "prompts by dataset and split:", "SELECT * FROM dataset_counts", &err);
    if (rc >= 0) rc = print_query(&db, "sft samples by kind:", "SELECT * FROM sft_counts", &err);
    if (rc >= 0)
        rc = print_query(&db, "rollouts by stage and step:",
                         "SELECT stage, step, COUNT(*) AS rollouts, COUNT(DISTINCT prompt_id) AS "
                         "prompts, printf('%.1f', AVG(n_tokens)) AS mean_tokens, "
                         "SUM(finish_reason = 'length') AS truncated FROM rollouts "
                         "GROUP BY stage, step ORDER BY MIN(id)",
                         &err);
    if (rc >= 0)
        rc = print_query(&db, "rewards by stage and step (mean):",
                         "SELECT stage, step, name, n, printf('%.4f', mean) AS mean FROM "
                         "step_rewards ORDER BY stage, step, name",
                         &err);
    if (rc >= 0)
        rc = print_query(&db, "evaluations:",
                         "SELECT phase, step, printf('%.3f', accuracy) AS accuracy, "
                         "printf('%.3f', format_rate) AS format_rate, "
                         "printf('%.3f', language_rate) AS language_rate FROM eval_summary",
                         &err);
    if (rc >= 0)
        rc = print_query(&db, "checkpoints:", "SELECT stage, step, path FROM checkpoints", &err);
    if (rc < 0) fprintf(stderr, "r1-data stats: %s\n", err.msg);
    r1_db_close(&db);
    return rc < 0;
}

/* ---- sample ------------------------------------------------------------------ */

/* Prints a labelled text field, indented, cut at max bytes (at a UTF-8 boundary). */
static void field(const char *label, const unsigned char *text, size_t max) {
    const char *s = text ? (const char *)text : "(null)";
    size_t n = strlen(s), k = n > max ? max : n;
    while (k < n && k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80) k--;
    printf("  %-9s ", label);
    for (size_t i = 0; i < k; i++) {
        putchar(s[i]);
        if (s[i] == '\n') printf("            ");
    }
    printf("%s\n", k < n ? " [...]" : "");
}

typedef struct {
    const char *table, *dataset, *split, *kind, *stage;
    long step, n;
    int have_step;
} SampleOpts;

static int sample_prompts(R1Db *db, const SampleOpts *o, R1Err *err) {
    sqlite3_stmt *st =
        r1_db_prepare(db,
                      "SELECT id, dataset, split, question, answer FROM prompts "
                      "WHERE (?1 IS NULL OR dataset = ?1) AND (?2 IS NULL OR split = ?2) "
                      "ORDER BY id LIMIT ?3",
                      err);
    if (!st) return -1;
    o->dataset ? sqlite3_bind_text(st, 1, o->dataset, -1, SQLITE_STATIC) : sqlite3_bind_null(st, 1);
    o->split ? sqlite3_bind_text(st, 2, o->split, -1, SQLITE_STATIC) : sqlite3_bind_null(st, 2);
    sqlite3_bind_int64(st, 3, o->n);
    while (sqlite3_step(st) == SQLITE_ROW) {
        printf("prompt %lld  (%s / %s)\n", sqlite3_column_int64(st, 0), sqlite3_column_text(st, 1),
               sqlite3_column_text(st, 2));
        field("question", sqlite3_column_text(st, 3), 800);
        field("answer", sqlite3_column_text(st, 4), 200);
    }
    sqlite3_finalize(st);
    return 0;
}

static int sample_sft(R1Db *db, const SampleOpts *o, R1Err *err) {
    sqlite3_stmt *st = r1_db_prepare(db,
                                     "SELECT id, kind, source, prompt, response FROM sft_samples "
                                     "WHERE (?1 IS NULL OR kind = ?1) ORDER BY id LIMIT ?2",
                                     err);
    if (!st) return -1;
    o->kind ? sqlite3_bind_text(st, 1, o->kind, -1, SQLITE_STATIC) : sqlite3_bind_null(st, 1);
    sqlite3_bind_int64(st, 2, o->n);
    while (sqlite3_step(st) == SQLITE_ROW) {
        printf("sample %lld  (%s, from %s)\n", sqlite3_column_int64(st, 0),
               sqlite3_column_text(st, 1),
               sqlite3_column_text(st, 2) ? (const char *)sqlite3_column_text(st, 2) : "-");
        field("prompt", sqlite3_column_text(st, 3), 600);
        field("response", sqlite3_column_text(st, 4), 1200);
    }
    sqlite3_finalize(st);
    return 0;
}

static int sample_rollouts(R1Db *db, const SampleOpts *o, R1Err *err) {
    sqlite3_stmt *st = r1_db_prepare(
        db,
        "SELECT r.id, r.step, r.prompt_id, r.sample, r.finish_reason, r.n_tokens, r.text, "
        "(SELECT group_concat(name || '=' || ifnull(printf('%g', value), 'NULL'), ' ') "
        " FROM rewards WHERE rollout_id = r.id), r.stage FROM rollouts r "
        "WHERE (?1 = 0 OR r.step = ?2) AND (?4 IS NULL OR r.stage = ?4) ORDER BY r.id LIMIT ?3",
        err);
    if (!st) return -1;
    sqlite3_bind_int(st, 1, o->have_step);
    sqlite3_bind_int64(st, 2, o->step);
    sqlite3_bind_int64(st, 3, o->n);
    o->stage ? sqlite3_bind_text(st, 4, o->stage, -1, SQLITE_STATIC) : sqlite3_bind_null(st, 4);
    while (sqlite3_step(st) == SQLITE_ROW) {
        printf("rollout %lld  (stage %s, step %lld, prompt %lld, sample %lld, %s after %lld "
               "tokens)\n",
               sqlite3_column_int64(st, 0), sqlite3_column_text(st, 8), sqlite3_column_int64(st, 1),
               sqlite3_column_int64(st, 2), sqlite3_column_int64(st, 3), sqlite3_column_text(st, 4),
               sqlite3_column_int64(st, 5));
        field("text", sqlite3_column_text(st, 6), 1200);
        field("rewards", sqlite3_column_text(st, 7), 400);
    }
    sqlite3_finalize(st);
    return 0;
}

static const char *SAMPLE_USAGE =
    "usage: r1-data sample --db DB --table prompts|sft|rollouts [--n 5]\n"
    "           [--dataset D] [--split S] [--kind K] [--step N] [--stage S]\n";

int cmd_sample(int argc, char **argv) {
    SampleOpts o = {.n = 5};
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(f, "--help") || !strcmp(f, "-h")) return fputs(SAMPLE_USAGE, stdout), 0;
        if (!v) return fprintf(stderr, "r1-data sample: %s needs a value\n", f), 2;
        i++;
        if (!strcmp(f, "--db"))
            path = v;
        else if (!strcmp(f, "--table"))
            o.table = v;
        else if (!strcmp(f, "--n"))
            o.n = atol(v);
        else if (!strcmp(f, "--dataset"))
            o.dataset = v;
        else if (!strcmp(f, "--split"))
            o.split = v;
        else if (!strcmp(f, "--kind"))
            o.kind = v;
        else if (!strcmp(f, "--step"))
            o.step = atol(v), o.have_step = 1;
        else if (!strcmp(f, "--stage"))
            o.stage = v;
        else
            return fprintf(stderr, "r1-data sample: unknown option %s\n%s", f, SAMPLE_USAGE), 2;
    }
    if (!o.table) return fprintf(stderr, "r1-data sample: needs --table\n%s", SAMPLE_USAGE), 2;
    R1Db db;
    R1Err err;
    if (data_open_existing(&db, path)) return 1;
    int rc;
    if (!strcmp(o.table, "prompts"))
        rc = sample_prompts(&db, &o, &err);
    else if (!strcmp(o.table, "sft"))
        rc = sample_sft(&db, &o, &err);
    else if (!strcmp(o.table, "rollouts"))
        rc = sample_rollouts(&db, &o, &err);
    else
        rc = r1_seterr(&err, "--table is prompts, sft or rollouts, not '%s'", o.table);
    if (rc) fprintf(stderr, "r1-data sample: %s\n", err.msg);
    r1_db_close(&db);
    return rc ? 1 : 0;
}
