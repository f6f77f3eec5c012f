/* report.h - what the sections of r1-report share: the page being written, the run
 * database, and the series of numbers read from it.
 *
 * Contract:
 *   - A section reads the database through the Report, inside the one read transaction
 *     r1-report holds for the whole page (a stage writing meanwhile cannot make two
 *     sections disagree), writes HTML to r->f, and returns 0, or -1 with err naming the
 *     database file and SQLite's message (r1_db_fail).
 *   - Text from the database reaches the page only through html_text (escaped).
 *   - A Series holds (step, value) points in step order; a NULL value is NaN, a gap in
 *     the line. A metric's series keeps the last value written for each step: a stage
 *     that is run again appends its metrics again, and the later rows describe what the
 *     database now holds.
 *   - Every chart written adds one to r->charts (report_chart does it for line charts). */
#ifndef R1_REPORT_H
#define R1_REPORT_H

#include <stdio.h>

#include "db.h"
#include "svg.h"

typedef struct {
    FILE *f;      /* the page */
    R1Db *db;     /* the run database, inside a read transaction */
    long samples; /* --samples: completions shown per phase */
    int charts;   /* <svg> elements written so far */
} Report;

typedef struct {
    char *name;
    double *x, *y;
    int n, cap;
} Series;

typedef struct {
    char **v;
    int n;
} Names;

/* Metric NAME of metrics.stage STAGE. For STAGE "rl" (rollouts rows of stages run
 * without --stage), a metric the stage lacks is read from the stage named by the
 * metric's prefix (rollout, reward, grpo), where such stages record it. */
int series_metric(Report *r, const char *stage, const char *name, Series *s, R1Err *err);
/* The view step_rewards of rollouts.stage STAGE: one series per reward name (total
 * last), the mean per step. *out (caller frees with series_free_all) may be NULL. */
int series_rewards(Report *r, const char *stage, Series **out, int *n, R1Err *err);
void series_free(Series *s);
void series_free_all(Series *s, int n);

/* The first column of every row of SQL, as text (NULL becomes ""). */
int names_load(Report *r, const char *sql, Names *out, R1Err *err);
void names_free(Names *n);
/* The first row's first column of SQL as an integer (NULL: 0); ?1 is bound to bind
 * when bind is not NULL. */
int report_long(Report *r, const char *sql, const char *bind, long *out, R1Err *err);
/* Ends a statement's row loop: 0 when rc is SQLITE_DONE, else the database's error
 * (what says what was being read). The statement is finalized either way. */
int report_done(Report *r, sqlite3_stmt *st, int rc, const char *what, R1Err *err);

/* A line chart vs step of the series with a defined value; when none has one, of all
 * of them (the chart says "no data", its legend names what was looked for). */
void report_chart(Report *r, const char *title, const SvgSeries *s, int n);
void report_series_chart(Report *r, const char *title, const Series *s, int n);

/* The sections, in page order. */
int section_header(Report *r, const char *title, const char *db_path, R1Err *err);
int section_eval(Report *r, R1Err *err);
int section_rl(Report *r, R1Err *err);
int section_sft(Report *r, R1Err *err);
int section_samples(Report *r, R1Err *err);

#endif
