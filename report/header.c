/* header.c - the page's header: title, the database, when, and what it holds. */
#include <stdlib.h>
#include <time.h>

#include "html.h"
#include "report.h"

static void count_row(FILE *f, const char *what, long n) {
    fputs("<tr><th class=\"l\">", f);
    html_text(f, what);
    fprintf(f, "</th><td>%ld</td></tr>\n", n);
}

/* One row per sft_samples kind present, or one saying there are none. */
static int sft_rows(Report *r, R1Err *err) {
    sqlite3_stmt *st =
        r1_db_prepare(r->db, "SELECT kind, samples FROM sft_counts ORDER BY kind", err);
    if (!st) return -1;
    int rc, rows = 0;
    char what[96];
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const unsigned char *kind = sqlite3_column_text(st, 0);
        snprintf(what, sizeof what, "sft_samples: %s", kind ? (const char *)kind : "?");
        count_row(r->f, what, (long)sqlite3_column_int64(st, 1)), rows++;
    }
    if (rc == SQLITE_DONE && rows == 0) count_row(r->f, "sft_samples", 0);
    return report_done(r, st, rc, "counting sft_samples", err);
}

static int counts(Report *r, R1Err *err) {
    static const struct {
        const char *what, *sql;
    } C[] = {{"prompts", "SELECT COUNT(*) FROM prompts"},
             {"rollouts", "SELECT COUNT(*) FROM rollouts"},
             {"rewards", "SELECT COUNT(*) FROM rewards"},
             {"metrics", "SELECT COUNT(*) FROM metrics"}};
    long n;
    fputs("<table class=\"counts\">\n", r->f);
    for (size_t i = 0; i < sizeof C / sizeof C[0]; i++) {
        if (report_long(r, C[i].sql, NULL, &n, err)) return -1;
        count_row(r->f, C[i].what, n);
    }
    if (sft_rows(r, err) || report_long(r, "SELECT COUNT(*) FROM checkpoints", NULL, &n, err))
        return -1;
    count_row(r->f, "checkpoints", n);
    fputs("</table>\n", r->f);
    return 0;
}

int section_header(Report *r, const char *title, const char *db_path, R1Err *err) {
    char when[64] = "?";
    time_t now = time(NULL);
    struct tm tm;
    if (gmtime_r(&now, &tm)) strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
    char *real = realpath(db_path, NULL); /* where the file is, whatever the caller's cwd */
    fputs("<header>\n<h1>", r->f);
    html_text(r->f, title);
    fputs("</h1>\n<p class=\"meta\">run database <code>", r->f);
    html_text(r->f, real ? real : db_path);
    fprintf(r->f, "</code> (schema version %d) &middot; generated %s</p>\n", r1_db_version(r->db),
            when);
    free(real);
    fputs("<p class=\"meta\"><a href=\"#eval\">Evaluation</a> &middot; <a href=\"#rl\">RL "
          "stages</a> &middot; <a href=\"#sft\">SFT runs</a> &middot; <a "
          "href=\"#samples\">Sample completions</a></p>\n",
          r->f);
    int rc = counts(r, err);
    fputs("</header>\n", r->f);
    return rc;
}
