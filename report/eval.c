/* eval.c - the evaluation section: the view eval_summary as a table, the latest
 * evaluation of each phase as grouped bars, and a curve per phase evaluated at several
 * steps (R1-Zero every E steps).
 *
 * Phases come in the order their first eval/ metric was written, which is the order
 * the pipeline ran them (base -> r1-zero -> r1 -> distill), not alphabetical. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "html.h"
#include "report.h"

enum { ACC, FMT, LANG, LEN, NV };
static const char *const LABELS[NV] = {"accuracy", "format rate", "language rate", "mean length"};

typedef struct {
    char *phase;
    long step;
    double v[NV]; /* NaN where eval_summary has NULL */
} EvalRow;

typedef struct {
    EvalRow *row;
    int n;
} Evals;

static const char EVAL_SQL[] =
    "SELECT e.phase, e.step, e.accuracy, e.format_rate, e.language_rate, e.mean_length "
    "FROM eval_summary e JOIN (SELECT stage, MIN(rowid) AS first FROM metrics "
    "WHERE name LIKE 'eval/%' GROUP BY stage) f ON f.stage = e.phase "
    "ORDER BY f.first, e.step";

static void evals_free(Evals *e) {
    for (int i = 0; i < e->n; i++) free(e->row[i].phase);
    free(e->row);
}

static int evals_load(Report *r, Evals *e, R1Err *err) {
    memset(e, 0, sizeof *e);
    sqlite3_stmt *st = r1_db_prepare(r->db, EVAL_SQL, err);
    if (!st) return -1;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        e->row = r1_xrealloc(e->row, sizeof *e->row * (e->n + 1));
        EvalRow *w = &e->row[e->n++];
        const unsigned char *p = sqlite3_column_text(st, 0);
        w->phase = r1_xstrdup(p ? (const char *)p : "");
        w->step = (long)sqlite3_column_int64(st, 1);
        for (int k = 0; k < NV; k++)
            w->v[k] = sqlite3_column_type(st, 2 + k) == SQLITE_NULL
                          ? NAN
                          : sqlite3_column_double(st, 2 + k);
    }
    return report_done(r, st, rc, "reading eval_summary", err);
}

/* The rows of one phase are consecutive: [from, end). */
static int phase_end(const Evals *e, int from) {
    int i = from + 1;
    while (i < e->n && !strcmp(e->row[i].phase, e->row[from].phase)) i++;
    return i;
}

static void eval_table(Report *r, const Evals *e) {
    FILE *f = r->f;
    fputs("<table>\n<tr><th class=\"l\">phase</th><th>step</th>", f);
    for (int k = 0; k < NV; k++) fprintf(f, "<th>%s</th>", LABELS[k]);
    fputs("</tr>\n", f);
    for (int i = 0; i < e->n; i++) {
        fputs("<tr><td class=\"l\">", f);
        html_text(f, e->row[i].phase);
        fprintf(f, "</td><td>%ld</td>", e->row[i].step);
        for (int k = 0; k < NV; k++) {
            fputs("<td>", f);
            html_num(f, k == LEN ? "%.1f" : "%.3f", e->row[i].v[k]);
            fputs("</td>", f);
        }
        fputs("</tr>\n", f);
    }
    fputs("</table>\n", f);
}

/* Accuracy, format and language rate of each phase's latest evaluation. */
static void eval_bars(Report *r, const Evals *e) {
    const char **groups = r1_xcalloc(e->n, sizeof *groups);
    double *v = r1_xcalloc((size_t)e->n * LEN, sizeof *v);
    int g = 0;
    for (int i = 0; i < e->n; i = phase_end(e, i), g++) {
        const EvalRow *last = &e->row[phase_end(e, i) - 1];
        groups[g] = last->phase;
        memcpy(&v[g * LEN], last->v, sizeof(double) * LEN);
    }
    svg_bar_chart(r->f, &(SvgBarChart){"Evaluation by phase (latest step of each)", groups, g,
                                       LABELS, LEN, v, 1});
    r->charts++;
    free(groups), free(v);
}

/* Accuracy, format and language rate against the step, for rows [from, end). */
static void eval_curve(Report *r, const Evals *e, int from, int end) {
    int n = end - from;
    double *x = r1_xmalloc(sizeof(double) * n * (1 + LEN));
    SvgSeries s[LEN];
    for (int i = 0; i < n; i++) x[i] = (double)e->row[from + i].step;
    for (int k = 0; k < LEN; k++) {
        double *y = x + n * (1 + k);
        for (int i = 0; i < n; i++) y[i] = e->row[from + i].v[k];
        s[k] = (SvgSeries){LABELS[k], x, y, n};
    }
    char *title = sqlite3_mprintf("Evaluation of %s by step", e->row[from].phase);
    report_chart(r, title ? title : "Evaluation by step", s, LEN);
    sqlite3_free(title);
    free(x);
}

int section_eval(Report *r, R1Err *err) {
    Evals e;
    int rc = evals_load(r, &e, err);
    fputs("<h2 id=\"eval\">Evaluation</h2>\n", r->f);
    if (rc == 0 && e.n == 0)
        fputs("<p>No evaluation recorded: there are no eval/ metrics (<code>r1-reward --eval "
              "PHASE</code> writes them).</p>\n",
              r->f);
    if (rc == 0 && e.n > 0) {
        eval_table(r, &e);
        fputs("<div class=\"charts\">\n", r->f);
        eval_bars(r, &e);
        for (int i = 0; i < e.n; i = phase_end(&e, i))
            if (phase_end(&e, i) - i > 1) eval_curve(r, &e, i, phase_end(&e, i));
        fputs("</div>\n", r->f);
    }
    evals_free(&e);
    return rc;
}
