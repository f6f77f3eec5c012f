/* training.c - the training curves: one block of charts per RL stage (each
 * rollouts.stage that is not an evaluation, in the order its first rollout was
 * written) and one loss chart per SFT run (each metrics.stage with sft/train_loss).
 *
 * The metric names are the ones the stages record (rollout/store.c, grpo/r1-grpo.c,
 * sft/train.c) under metrics.stage = the --stage name; rewards come from the view
 * step_rewards, so every reward the step was scored with gets a line. */
#include <string.h>

#include "html.h"
#include "report.h"

typedef struct {
    const char *title;
    const char *names[3]; /* up to three metrics, NULL-terminated when fewer */
} ChartSpec;

static const ChartSpec RL_CHARTS[] = {
    {"Completion length (tokens)", {"rollout/completion_len_mean", "rollout/completion_len_max"}},
    {"KL to the reference", {"grpo/kl"}},
    {"GRPO loss", {"grpo/loss"}},
    /* r1-grpo logs the two sides; grpo/clip_frac, one number, is drawn when a run has it */
    {"Clipped fraction of tokens", {"grpo/clip_frac_low", "grpo/clip_frac_high", "grpo/clip_frac"}},
    {"Gradient norm", {"grpo/grad_norm"}},
};

static const ChartSpec SFT_CHART = {NULL, {"sft/train_loss", "sft/eval_loss"}};

/* One chart of a spec's metrics of stage (the title given, or the spec's). */
static int metric_chart(Report *r, const char *stage, const ChartSpec *c, const char *title,
                        R1Err *err) {
    Series s[3];
    int n = 0, rc = 0;
    while (rc == 0 && n < 3 && c->names[n])
        rc = series_metric(r, stage, c->names[n], &s[n], err), n++;
    if (rc == 0) report_series_chart(r, title ? title : c->title, s, n);
    for (int i = 0; i < n; i++) series_free(&s[i]);
    return rc;
}

static int rewards_chart(Report *r, const char *stage, R1Err *err) {
    Series *s;
    int n;
    int rc = series_rewards(r, stage, &s, &n, err);
    if (rc == 0) report_series_chart(r, "Rewards (mean per step)", s, n);
    series_free_all(s, n);
    return rc;
}

/* "steps 0-9 (10) · 1280 rollouts" under the stage's heading. */
static int stage_summary(Report *r, const char *stage, R1Err *err) {
    sqlite3_stmt *st = r1_db_prepare(r->db,
                                     "SELECT MIN(step), MAX(step), COUNT(DISTINCT step), COUNT(*) "
                                     "FROM rollouts WHERE stage = ?1",
                                     err);
    if (!st) return -1;
    sqlite3_bind_text(st, 1, stage, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        fprintf(r->f,
                "<p class=\"meta\">steps %lld&ndash;%lld (%lld with rollouts) &middot; %lld "
                "rollouts</p>\n",
                (long long)sqlite3_column_int64(st, 0), (long long)sqlite3_column_int64(st, 1),
                (long long)sqlite3_column_int64(st, 2), (long long)sqlite3_column_int64(st, 3));
    return report_done(r, st, rc == SQLITE_ROW ? SQLITE_DONE : rc, "summing rollouts", err);
}

static int rl_stage(Report *r, const char *stage, R1Err *err) {
    fputs("<h3>", r->f);
    html_text(r->f, stage);
    fputs("</h3>\n", r->f);
    int rc = stage_summary(r, stage, err);
    fputs("<div class=\"charts\">\n", r->f);
    if (rc == 0) rc = rewards_chart(r, stage, err);
    for (size_t i = 0; rc == 0 && i < sizeof RL_CHARTS / sizeof RL_CHARTS[0]; i++)
        rc = metric_chart(r, stage, &RL_CHARTS[i], NULL, err);
    fputs("</div>\n", r->f);
    return rc;
}

int section_rl(Report *r, R1Err *err) {
    Names st;
    if (names_load(r,
                   "SELECT stage FROM rollouts WHERE substr(stage, 1, 5) <> 'eval/' "
                   "GROUP BY stage ORDER BY MIN(id)",
                   &st, err))
        return -1;
    fputs("<h2 id=\"rl\">RL stages</h2>\n", r->f);
    if (st.n == 0) fputs("<p>No RL rollouts recorded (rollouts outside eval/ stages).</p>\n", r->f);
    int rc = 0;
    for (int i = 0; rc == 0 && i < st.n; i++) rc = rl_stage(r, st.v[i], err);
    names_free(&st);
    return rc;
}

int section_sft(Report *r, R1Err *err) {
    Names st;
    if (names_load(r,
                   "SELECT stage FROM metrics WHERE name = 'sft/train_loss' "
                   "GROUP BY stage ORDER BY MIN(rowid)",
                   &st, err))
        return -1;
    fputs("<h2 id=\"sft\">SFT runs</h2>\n", r->f);
    if (st.n == 0)
        fputs("<p>No SFT run recorded (no sft/train_loss metric).</p>\n", r->f);
    else
        fputs("<div class=\"charts\">\n", r->f);
    int rc = 0;
    for (int i = 0; rc == 0 && i < st.n; i++) {
        char *title = sqlite3_mprintf("SFT run %s: loss", st.v[i]);
        rc = metric_chart(r, st.v[i], &SFT_CHART, title ? title : "SFT loss", err);
        sqlite3_free(title);
    }
    if (st.n) fputs("</div>\n", r->f);
    names_free(&st);
    return rc;
}
