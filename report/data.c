/* data.c - see report.h: series, names and numbers read from the run database, and
 * the line charts drawn from them. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

int report_done(Report *r, sqlite3_stmt *st, int rc, const char *what, R1Err *err) {
    int ok = rc == SQLITE_DONE;
    if (!ok) r1_db_fail(r->db, what, err); /* before finalize, which may reset the message */
    sqlite3_finalize(st);
    return ok ? 0 : -1;
}

static double column(sqlite3_stmt *st, int i) {
    return sqlite3_column_type(st, i) == SQLITE_NULL ? NAN : sqlite3_column_double(st, i);
}

static const char *column_text(sqlite3_stmt *st, int i) {
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? (const char *)t : "";
}

static void push(Series *s, double x, double y) {
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 16;
        s->x = r1_xrealloc(s->x, sizeof(double) * s->cap);
        s->y = r1_xrealloc(s->y, sizeof(double) * s->cap);
    }
    s->x[s->n] = x, s->y[s->n] = y, s->n++;
}

void series_free(Series *s) {
    free(s->name), free(s->x), free(s->y);
    memset(s, 0, sizeof *s);
}

void series_free_all(Series *s, int n) {
    for (int i = 0; i < n; i++) series_free(&s[i]);
    free(s);
}

/* The last row written for each step (the index metrics_by_name serves it). */
static const char METRIC_SQL[] =
    "SELECT step, value FROM metrics WHERE rowid IN (SELECT MAX(rowid) FROM metrics "
    "WHERE stage = ?1 AND name = ?2 GROUP BY step) ORDER BY step";

static int metric_rows(Report *r, const char *stage, Series *s, R1Err *err) {
    sqlite3_stmt *st = r1_db_prepare(r->db, METRIC_SQL, err);
    if (!st) return -1;
    sqlite3_bind_text(st, 1, stage, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, s->name, -1, SQLITE_STATIC);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        push(s, sqlite3_column_double(st, 0), column(st, 1));
    return report_done(r, st, rc, "reading metrics", err);
}

int series_metric(Report *r, const char *stage, const char *name, Series *s, R1Err *err) {
    memset(s, 0, sizeof *s);
    s->name = r1_xstrdup(name);
    if (metric_rows(r, stage, s, err)) return -1;
    const char *slash = strchr(name, '/');
    if (s->n || strcmp(stage, "rl") || !slash) return 0;
    char *own = r1_xstrdup(name);
    own[slash - name] = 0;
    int rc = metric_rows(r, own, s, err);
    free(own);
    return rc;
}

/* The series called name: the last one of *s when it is, else a new one. */
static Series *named(Series **s, int *n, const char *name) {
    if (*n && !strcmp((*s)[*n - 1].name, name)) return &(*s)[*n - 1];
    *s = r1_xrealloc(*s, sizeof **s * (*n + 1));
    Series *t = &(*s)[(*n)++];
    memset(t, 0, sizeof *t);
    t->name = r1_xstrdup(name);
    return t;
}

int series_rewards(Report *r, const char *stage, Series **out, int *n, R1Err *err) {
    *out = NULL, *n = 0;
    sqlite3_stmt *st = r1_db_prepare(r->db,
                                     "SELECT name, step, mean FROM step_rewards WHERE stage = ?1 "
                                     "ORDER BY name = 'total', name, step",
                                     err);
    if (!st) return -1;
    sqlite3_bind_text(st, 1, stage, -1, SQLITE_STATIC);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        push(named(out, n, column_text(st, 0)), sqlite3_column_double(st, 1), column(st, 2));
    return report_done(r, st, rc, "reading step_rewards", err);
}

int names_load(Report *r, const char *sql, Names *out, R1Err *err) {
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = r1_db_prepare(r->db, sql, err);
    if (!st) return -1;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        out->v = r1_xrealloc(out->v, sizeof(char *) * (out->n + 1));
        out->v[out->n++] = r1_xstrdup(column_text(st, 0));
    }
    return report_done(r, st, rc, "listing stages", err);
}

void names_free(Names *n) {
    for (int i = 0; i < n->n; i++) free(n->v[i]);
    free(n->v);
    memset(n, 0, sizeof *n);
}

int report_long(Report *r, const char *sql, const char *bind, long *out, R1Err *err) {
    sqlite3_stmt *st = r1_db_prepare(r->db, sql, err);
    if (!st) return -1;
    if (bind) sqlite3_bind_text(st, 1, bind, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    *out = rc == SQLITE_ROW ? (long)sqlite3_column_int64(st, 0) : 0;
    return report_done(r, st, rc == SQLITE_ROW ? SQLITE_DONE : rc, "counting rows", err);
}

static int has_value(const SvgSeries *s) {
    for (int i = 0; i < s->n; i++)
        if (isfinite(s->y[i])) return 1;
    return 0;
}

void report_chart(Report *r, const char *title, const SvgSeries *s, int n) {
    SvgSeries *keep = r1_xcalloc(n > 0 ? n : 1, sizeof *keep);
    int k = 0;
    for (int i = 0; i < n; i++)
        if (has_value(&s[i])) keep[k++] = s[i];
    if (k == 0)
        for (int i = 0; i < n; i++) keep[k++] = s[i];
    svg_line_chart(r->f, &(SvgLineChart){title, "step", keep, k, 1});
    r->charts++;
    free(keep);
}

void report_series_chart(Report *r, const char *title, const Series *s, int n) {
    SvgSeries *v = r1_xcalloc(n > 0 ? n : 1, sizeof *v);
    for (int i = 0; i < n; i++) v[i] = (SvgSeries){s[i].name, s[i].x, s[i].y, s[i].n};
    report_chart(r, title, v, n);
    free(v);
}
