/* samples.c - sample completions: for each evaluation phase (rollouts.stage eval/...)
 * at its latest step, or when there is none for each RL stage at its latest step,
 * --samples completions with their question, gold answer and every reward.
 *
 * The choice is deterministic, so two reports of one database show the same text: the
 * first correct completion (accuracy 1), then the first wrong one (accuracy below 1),
 * then the rest, where "first" means sample 0 before sample 1, then the lowest prompt
 * id; one of each kind shows what the model gets right and wrong at a glance. */
#include <stdlib.h>
#include <string.h>

#include "html.h"
#include "report.h"

static const char PICK_SQL[] =
    "WITH c AS (SELECT r.id, r.prompt_id, r.sample, (SELECT value FROM rewards "
    "  WHERE rollout_id = r.id AND name = 'accuracy') AS acc "
    "  FROM rollouts r WHERE r.stage = ?1 AND r.step = ?2), "
    "f AS (SELECT (SELECT id FROM c WHERE acc = 1 ORDER BY sample, prompt_id, id LIMIT 1) AS ok, "
    "  (SELECT id FROM c WHERE acc < 1 ORDER BY sample, prompt_id, id LIMIT 1) AS bad) "
    "SELECT c.id FROM c, f "
    "ORDER BY c.id IS f.ok DESC, c.id IS f.bad DESC, c.sample, c.prompt_id, c.id LIMIT ?3";

static const char ROLLOUT_SQL[] =
    "SELECT r.prompt_id, r.sample, r.n_tokens, r.finish_reason, r.prefill, r.text, "
    "p.id IS NOT NULL, p.dataset, p.question, p.answer, "
    "(SELECT value FROM rewards WHERE rollout_id = r.id AND name = 'accuracy') "
    "FROM rollouts r LEFT JOIN prompts p ON p.id = r.prompt_id WHERE r.id = ?1";

static const char *text_of(sqlite3_stmt *st, int i) {
    return (const char *)sqlite3_column_text(st, i); /* NULL for NULL */
}

static void reward_cell(FILE *f, sqlite3_stmt *st, int values) {
    fputs(values ? "<td>" : "<th>", f);
    if (!values)
        html_text(f, text_of(st, 0));
    else if (sqlite3_column_type(st, 1) == SQLITE_NULL)
        fputs("undefined", f);
    else
        fprintf(f, "%.4g", sqlite3_column_double(st, 1));
    fputs(values ? "</td>" : "</th>", f);
}

/* The rewards of a rollout as a two-row table, names over values: the rows are read
 * twice (sqlite3_reset) rather than kept. */
static int rewards_table(Report *r, long id, R1Err *err) {
    sqlite3_stmt *st = r1_db_prepare(
        r->db,
        "SELECT name, value FROM rewards WHERE rollout_id = ?1 ORDER BY name = 'total', name", err);
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) fputs("<p class=\"meta\">not scored</p>\n", r->f);
    for (int pass = 0; pass < 2 && rc == SQLITE_ROW; pass++) {
        fputs(pass ? "<tr>" : "<table class=\"rewards\"><tr>", r->f);
        for (; rc == SQLITE_ROW; rc = sqlite3_step(st)) reward_cell(r->f, st, pass);
        fputs(pass ? "</tr></table>\n" : "</tr>\n", r->f);
        if (pass == 0 && rc == SQLITE_DONE) sqlite3_reset(st), rc = sqlite3_step(st);
    }
    return report_done(r, st, rc, "reading rewards", err);
}

static void verdict(FILE *f, sqlite3_stmt *st, int col) {
    if (sqlite3_column_type(st, col) == SQLITE_NULL)
        fputs("accuracy undefined", f);
    else if (sqlite3_column_double(st, col) == 1.0)
        fputs("<span class=\"ok\">correct</span>", f);
    else
        fputs("<span class=\"bad\">wrong</span>", f);
}

/* prompt 3 (gsm8k) · sample 0 · 57 tokens, stopped · gold answer 72 · correct */
static void sample_meta(FILE *f, sqlite3_stmt *st) {
    fprintf(f, "<p class=\"meta\">prompt %lld", (long long)sqlite3_column_int64(st, 0));
    if (sqlite3_column_int(st, 6)) {
        fputs(" (", f);
        html_text(f, text_of(st, 7));
        fputs(")", f);
    } else {
        fputs(" (not in prompts)", f);
    }
    fprintf(f, " &middot; sample %lld &middot; %lld tokens, ",
            (long long)sqlite3_column_int64(st, 1), (long long)sqlite3_column_int64(st, 2));
    const char *finish = text_of(st, 3);
    fputs(finish && !strcmp(finish, "length") ? "cut at the length limit" : "stopped", f);
    fputs(" &middot; gold answer <code>", f);
    html_text(f, text_of(st, 9) ? text_of(st, 9) : "none");
    fputs("</code> &middot; ", f);
    verdict(f, st, 10);
    fputs("</p>\n", f);
}

/* The question, then the completion after the prompt's prefill (greyed), as stored. */
static void sample_text(FILE *f, sqlite3_stmt *st) {
    fputs("<p class=\"q\"><b>Question.</b> ", f);
    html_text(f, text_of(st, 8) ? text_of(st, 8) : "(unknown)");
    fputs("</p>\n<pre>", f);
    if (text_of(st, 4)) {
        fputs("<span class=\"prefill\">", f);
        html_text(f, text_of(st, 4));
        fputs("</span>", f);
    }
    html_text(f, text_of(st, 5));
    fputs("</pre>\n", f);
}

static int sample_block(Report *r, long id, R1Err *err) {
    sqlite3_stmt *st = r1_db_prepare(r->db, ROLLOUT_SQL, err);
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st), found = rc == SQLITE_ROW;
    if (found) {
        fputs("<div class=\"sample\">\n", r->f);
        sample_meta(r->f, st);
        sample_text(r->f, st);
        rc = SQLITE_DONE;
    }
    if (report_done(r, st, rc, "reading a rollout", err)) return -1;
    if (!found) return 0; /* cannot happen: pick read the id in the same snapshot */
    if (rewards_table(r, id, err)) return -1;
    fputs("</div>\n", r->f);
    return 0;
}

/* The ids to show of a stage's step, in showing order. */
static int pick(Report *r, const char *stage, long step, long **ids, int *n, R1Err *err) {
    *ids = NULL, *n = 0;
    sqlite3_stmt *st = r1_db_prepare(r->db, PICK_SQL, err);
    if (!st) return -1;
    sqlite3_bind_text(st, 1, stage, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, step);
    sqlite3_bind_int64(st, 3, r->samples);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        *ids = r1_xrealloc(*ids, sizeof **ids * (*n + 1));
        (*ids)[(*n)++] = (long)sqlite3_column_int64(st, 0);
    }
    return report_done(r, st, rc, "choosing samples", err);
}

static int stage_samples(Report *r, const char *stage, R1Err *err) {
    long step, *ids;
    int n;
    if (report_long(r, "SELECT MAX(step) FROM rollouts WHERE stage = ?1", stage, &step, err) ||
        pick(r, stage, step, &ids, &n, err))
        return -1;
    fputs("<h3>", r->f);
    html_text(r->f, stage);
    fprintf(r->f, " &middot; step %ld</h3>\n", step);
    int rc = 0;
    for (int i = 0; rc == 0 && i < n; i++) rc = sample_block(r, ids[i], err);
    free(ids);
    return rc;
}

int section_samples(Report *r, R1Err *err) {
    if (r->samples == 0) {
        fputs("<h2 id=\"samples\">Sample completions</h2>\n<p>None asked for (--samples 0).</p>\n",
              r->f);
        return 0;
    }
    Names st;
    if (names_load(r,
                   "SELECT stage FROM rollouts WHERE substr(stage, 1, 5) = 'eval/' "
                   "GROUP BY stage ORDER BY MIN(id)",
                   &st, err))
        return -1;
    int eval = st.n > 0;
    if (!eval &&
        names_load(r, "SELECT stage FROM rollouts GROUP BY stage ORDER BY MIN(id)", &st, err))
        return -1;
    fputs("<h2 id=\"samples\">Sample completions</h2>\n", r->f);
    fprintf(r->f,
            "<p class=\"meta\">Up to %ld per %s at its latest step: the first correct one, the "
            "first wrong one, then the others (sample 0 first, lowest prompt id first).</p>\n",
            r->samples, eval ? "evaluation" : "RL stage (no evaluation rollouts recorded)");
    if (st.n == 0) fputs("<p>No rollouts.</p>\n", r->f);
    int rc = 0;
    for (int i = 0; rc == 0 && i < st.n; i++) rc = stage_samples(r, st.v[i], err);
    names_free(&st);
    return rc;
}
