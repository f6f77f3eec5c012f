/* cmd_score.c - `r1-reward --db DB --step N`: rewards for every rollout of a step.
 *
 * Reads the step's rollouts that have no 'total' reward yet (with their prompt's
 * gold answer, question and meta), scores them, and writes one rewards row per
 * weighted reward plus 'total' (NULL when undefined), all in one transaction:
 * killed half-way, the stage leaves nothing, and a rerun scores only what is
 * missing, so nothing is scored twice. When something was scored, the step's
 * means (over every rollout of the step that has the reward, defined values only)
 * are appended to metrics as stage 'reward' (or the --stage name): reward/<name>,
 * reward/total and reward/undefined (rollouts whose total is NULL).
 *
 * With --eval PHASE the step is an evaluation (k samples per held-out prompt):
 * its means are also written as eval/accuracy (pass@1 estimated from k samples),
 * eval/format and eval/language (also as eval/format_rate and eval/language_rate,
 * the names of earlier runs), eval/completion_len_mean, eval/prompts and
 * eval/samples with metrics.stage = PHASE, replacing earlier ones. --eval-name P
 * writes P/accuracy ... instead (two evaluations of one phase: eval/gsm8k), and
 * --by KEY adds the same per value V of the prompts' meta KEY as P/KEY-V/NAME
 * (eval/level-2/accuracy). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "db.h"

static const char *WHO = "r1-reward";

static const char *USAGE =
    "usage: r1-reward --db DB --step N [options]\n"
    "  scores every rollout of step N that has no 'total' reward yet\n"
    "  --stage NAME         rollouts of this phase (rollouts.stage; default rl); the\n"
    "                       metrics are recorded under it\n"
    "  --eval PHASE         the step evaluates PHASE (base, r1-zero, r1, distill, ...):\n"
    "                       also write eval/accuracy (pass@1), eval/format_rate,\n"
    "                       eval/language_rate, eval/completion_len_mean with stage PHASE\n"
    "                       (and eval/format, eval/language: the same rates)\n"
    "  --eval-name P        with --eval: P/accuracy, ... instead of eval/accuracy, ...\n"
    "  --by KEY             with --eval: also P/KEY-V/accuracy, ... for each value V of\n"
    "                       the prompts' meta KEY (--by level: eval/level-1/accuracy)\n"
    "  --rewards SPEC       weights, e.g. accuracy=1,format=1,language=0.1 (default\n"
    "                       accuracy=1,format=1); rewards: accuracy format tag_count\n"
    "                       language overlong repetition\n"
    "  --lang en|zh         language consistency target (default: prompt meta \"lang\",\n"
    "                       else the question's script)\n"
    "  --format-loose       accept <think>...</think> <answer>...</answer> without the\n"
    "                       exact newlines\n"
    "  --prefilled-think    every prompt ended with \"<think>\\n\" (default: what the rollout\n"
    "                       recorded in rollouts.prefill; for rows without it, assumed for a\n"
    "                       completion that does not start with <think> but has </think>)\n"
    "  --max-tokens M       overlong: the generation limit (default 1024)\n"
    "  --overlong-cache C   overlong: the soft zone before it (default 256)\n"
    "  --rep-ngram N        repetition: n-gram size (default 4)\n"
    "  --answer-phrase      also take answers from \"the answer is X\"\n"
    "  --last-number        also take the last number as the answer\n"
    "  --quiet              no progress; --json: the summary as one JSON line\n";

typedef struct {
    const char *db, *stage, *eval, *eval_name, *by;
    long step;
    int have_step, quiet, json;
    ScoreFlags f;
} Args;

/* Returns 0, -1 after --help, or the exit status of a failed parse. */
static int parse_args(Args *a, int argc, char **argv) {
    memset(a, 0, sizeof *a);
    score_flags_init(&a->f);
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        if (!strcmp(s, "--help") || !strcmp(s, "-h")) return fputs(USAGE, stdout), -1;
        int took = score_flags_take(&a->f, argc, argv, &i, WHO);
        if (took < 0) return 2;
        if (took) continue;
        if (!strcmp(s, "--quiet"))
            a->quiet = 1;
        else if (!strcmp(s, "--json"))
            a->json = 1;
        else if (!strcmp(s, "--db") && i + 1 < argc)
            a->db = argv[++i];
        else if (!strcmp(s, "--stage") && i + 1 < argc)
            a->stage = argv[++i];
        else if (!strcmp(s, "--eval") && i + 1 < argc)
            a->eval = argv[++i];
        else if (!strcmp(s, "--eval-name") && i + 1 < argc)
            a->eval_name = argv[++i];
        else if (!strcmp(s, "--by") && i + 1 < argc)
            a->by = argv[++i];
        else if (!strcmp(s, "--step") && i + 1 < argc) {
            if (parse_long(argv[++i], 0, 1L << 62, &a->step, WHO, "--step")) return 2;
            a->have_step = 1;
        } else
            return fprintf(stderr, "%s: unknown option %s\n%s", WHO, s, USAGE), 2;
    }
    if (!a->db || !a->have_step)
        return fprintf(stderr, "%s: needs --db and --step\n%s", WHO, USAGE), 2;
    if ((a->eval_name || a->by) && !a->eval)
        return fprintf(stderr, "%s: --eval-name and --by go with --eval PHASE\n", WHO), 2;
    if (a->by && (!*a->by || a->by[strspn(a->by, "abcdefghijklmnopqrstuvwxyz_0123456789")]))
        return fprintf(stderr, "%s: --by '%s': a meta key is lower-case letters, digits and _\n",
                       WHO, a->by),
               2;
    return 0;
}

static long scalar(R1Db *db, const char *sql, const Args *a, R1Err *err) {
    sqlite3_stmt *st = r1_db_prepare(db, sql, err);
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, a->step);
    sqlite3_bind_text(st, 2, r1_rows_stage(a->stage), -1, SQLITE_STATIC);
    long v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    if (v < 0) r1_db_fail(db, "counting rollouts", err);
    sqlite3_finalize(st);
    return v;
}

/* ---- scoring ---------------------------------------------------------------------------- */

typedef struct {
    R1Db *db;
    const R1Rewarder *r;
    const ScoreFlags *f;
    sqlite3_stmt *insert;
} Writer;

static int put(Writer *w, sqlite3_int64 id, const char *name, double v, int defined, R1Err *err) {
    sqlite3_stmt *st = w->insert;
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    defined ? sqlite3_bind_double(st, 3, v) : sqlite3_bind_null(st, 3);
    return sqlite3_step(st) == SQLITE_DONE ? 0 : r1_db_fail(w->db, "writing a reward", err);
}

/* Scores the current row of the rollout query and writes its rewards. */
static int score_row(Writer *w, sqlite3_stmt *row, R1Err *err) {
    R1RewardInput in = {0};
    in.completion = (const char *)sqlite3_column_text(row, 1);
    in.len = (size_t)sqlite3_column_bytes(row, 1);
    in.n_tokens = sqlite3_column_int(row, 2);
    in.question = (const char *)sqlite3_column_text(row, 3);
    in.gold = (const char *)sqlite3_column_text(row, 4);
    in.meta = (const char *)sqlite3_column_text(row, 5);
    if (!in.completion) in.completion = "";
    /* The rollout stage records what the template prefilled; older rows do not. */
    const char *prefill = (const char *)sqlite3_column_text(row, 6);
    in.prefilled_think =
        w->f->prefilled || (prefill ? strstr(prefill, "<think>") && !strstr(prefill, "</think>")
                                    : r1_reward_looks_prefilled(in.completion, in.len));
    R1RewardResult res;
    r1_reward_score(w->r, &in, &res);
    sqlite3_int64 id = sqlite3_column_int64(row, 0);
    const R1RewardOpts *o = r1_rewarder_opts(w->r);
    for (int k = 0; k < R1_RW_COUNT; k++)
        if (o->weight[k] != 0 && put(w, id, r1_reward_name(k), res.value[k], res.defined[k], err))
            return -1;
    return put(w, id, "total", res.total, res.total_defined, err);
}

/* The rollouts of step ?1 of stage ?2 without a total yet: one predicate for counting and
 * scoring. A rollout whose prompt row is gone is still scored (gold unknown:
 * accuracy undefined), so the count and the work always agree. */
#define UNSCORED                                                                                   \
    "FROM rollouts r LEFT JOIN prompts p ON p.id = r.prompt_id WHERE r.step = ?1 AND r.stage = "   \
    "?2 "                                                                                          \
    "AND NOT EXISTS "                                                                              \
    "(SELECT 1 FROM rewards w WHERE w.rollout_id = r.id AND w.name = 'total')"

static const char *SELECT_UNSCORED =
    "SELECT r.id, r.text, r.n_tokens, p.question, p.answer, p.meta, r.prefill " UNSCORED
    " ORDER BY r.id";

/* Scores the unscored rollouts of the step (inside the caller's transaction). */
static long score_step(Writer *w, const Args *a, long todo, R1Err *err) {
    sqlite3_stmt *row = r1_db_prepare(w->db, SELECT_UNSCORED, err);
    if (!row) return -1;
    sqlite3_bind_int64(row, 1, a->step);
    sqlite3_bind_text(row, 2, r1_rows_stage(a->stage), -1, SQLITE_STATIC);
    Progress p;
    progress_init(&p, "scoring", a->quiet);
    long done = 0;
    int rc;
    while ((rc = sqlite3_step(row)) == SQLITE_ROW) {
        if (score_row(w, row, err)) break;
        progress_update(&p, ++done, todo);
    }
    progress_done(&p);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) r1_db_fail(w->db, "reading rollouts", err);
    sqlite3_finalize(row);
    return rc == SQLITE_DONE ? done : -1;
}

/* ---- summary ---------------------------------------------------------------------------- */

typedef struct {
    const char *name;
    double weight, mean; /* mean is NAN when no value is defined */
    long n, rows;
} Line;

/* The step's stored values of one reward. */
static int step_line(R1Db *db, const Args *a, Line *l, R1Err *err) {
    sqlite3_stmt *st = r1_db_prepare(db,
                                     "SELECT AVG(w.value), COUNT(w.value), COUNT(*) FROM rewards w "
                                     "JOIN rollouts r ON r.id = w.rollout_id "
                                     "WHERE r.step = ?1 AND r.stage = ?2 AND w.name = ?3",
                                     err);
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, a->step);
    sqlite3_bind_text(st, 2, r1_rows_stage(a->stage), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, l->name, -1, SQLITE_STATIC);
    int ok = sqlite3_step(st) == SQLITE_ROW;
    if (ok) {
        l->mean = sqlite3_column_type(st, 0) == SQLITE_NULL ? NAN : sqlite3_column_double(st, 0);
        l->n = sqlite3_column_int64(st, 1);
        l->rows = sqlite3_column_int64(st, 2);
    }
    sqlite3_finalize(st);
    return ok ? 0 : r1_db_fail(db, "summing rewards", err);
}

/* One line per weighted reward, then total; returns the count. */
static int step_lines(R1Db *db, const Args *a, const R1RewardOpts *o, Line *lines, R1Err *err) {
    int n = 0;
    for (int k = 0; k < R1_RW_COUNT; k++)
        if (o->weight[k] != 0) lines[n++] = (Line){r1_reward_name(k), o->weight[k], NAN, 0, 0};
    lines[n++] = (Line){"total", NAN, NAN, 0, 0};
    for (int i = 0; i < n; i++)
        if (step_line(db, a, &lines[i], err)) return -1;
    return n;
}

static int log_metrics(R1Db *db, const Args *a, const Line *lines, int n, R1Err *err) {
    char name[64];
    const char *stage = r1_metrics_stage(a->stage, "reward");
    for (int i = 0; i < n; i++) {
        snprintf(name, sizeof name, "reward/%s", lines[i].name);
        if (r1_db_metric(db, stage, a->step, name, lines[i].mean, err)) return -1;
    }
    const Line *total = &lines[n - 1];
    return r1_db_metric(db, stage, a->step, "reward/undefined", (double)(total->rows - total->n),
                        err);
}

/* One eval/ metric of the phase and step: the row is updated in place when it
 * exists (its rowid, and so the order phases were first evaluated in, stays),
 * else inserted. */
static int put_eval(R1Db *db, const Args *a, const char *name, double v, R1Err *err) {
    sqlite3_stmt *st =
        r1_db_prepare(db,
                      "UPDATE metrics SET value = ?4, time = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') "
                      "WHERE stage = ?1 AND step = ?2 AND name = ?3",
                      err);
    if (!st) return -1;
    sqlite3_bind_text(st, 1, a->eval, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, a->step);
    sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
    isnan(v) ? sqlite3_bind_null(st, 4) : sqlite3_bind_double(st, 4, v);
    int ok = sqlite3_step(st) == SQLITE_DONE;
    sqlite3_finalize(st);
    if (!ok) return r1_db_fail(db, "writing an evaluation metric", err);
    return sqlite3_changes(db->h) ? 0 : r1_db_metric(db, a->eval, a->step, name, v, err);
}

/* The evaluation's means over the step's rollouts whose prompt has meta KEY = ?3
 * (all of them when key is NULL): v[0..6) as log_eval names them. */
static int eval_means(R1Db *db, const Args *a, const char *value, double v[6], R1Err *err) {
    char sql[1024];
    snprintf(sql, sizeof sql,
             "SELECT AVG(acc), AVG(fmt), AVG(lang), AVG(n_tokens), COUNT(DISTINCT prompt_id), "
             "COUNT(*) FROM (SELECT r.n_tokens, r.prompt_id, "
             "(SELECT value FROM rewards WHERE rollout_id = r.id AND name = 'accuracy') AS acc, "
             "(SELECT value FROM rewards WHERE rollout_id = r.id AND name = 'format') AS fmt, "
             "(SELECT value FROM rewards WHERE rollout_id = r.id AND name = 'language') AS lang "
             "FROM rollouts r LEFT JOIN prompts p ON p.id = r.prompt_id "
             "WHERE r.step = ?1 AND r.stage = ?2 %s)",
             value ? "AND CAST(json_extract(p.meta, '$.' || ?4) AS TEXT) = ?3" : "");
    sqlite3_stmt *st = r1_db_prepare(db, sql, err);
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, a->step);
    sqlite3_bind_text(st, 2, r1_rows_stage(a->stage), -1, SQLITE_STATIC);
    if (value) {
        sqlite3_bind_text(st, 3, value, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, a->by, -1, SQLITE_STATIC);
    }
    int ok = sqlite3_step(st) == SQLITE_ROW;
    for (int i = 0; ok && i < 6; i++)
        v[i] = sqlite3_column_type(st, i) == SQLITE_NULL ? NAN : sqlite3_column_double(st, i);
    sqlite3_finalize(st);
    return ok ? 0 : r1_db_fail(db, "summing the evaluation", err);
}

/* Writes PREFIX/NAME for the means of one group. */
static int put_means(R1Db *db, const Args *a, const char *prefix, const double v[6], R1Err *err) {
    static const char *NAMES[] = {"accuracy", "format", "language", "completion_len_mean",
                                  "prompts",  "samples"};
    char name[256];
    for (int i = 0; i < 6; i++) {
        snprintf(name, sizeof name, "%s/%s", prefix, NAMES[i]);
        if (put_eval(db, a, name, v[i], err)) return -1;
    }
    if (strcmp(prefix, "eval")) return 0;
    /* the names before eval/format and eval/language, which eval_summary reads */
    return put_eval(db, a, "eval/format_rate", v[1], err) ||
                   put_eval(db, a, "eval/language_rate", v[2], err)
               ? -1
               : 0;
}

/* --eval: the evaluation's summary under the phase's name, replacing an earlier
 * one of the same phase and step; with --by, the same per meta value. A rate is
 * NULL when its reward is not scored. */
static int log_eval(R1Db *db, const Args *a, R1Err *err) {
    const char *prefix = a->eval_name ? a->eval_name : "eval";
    double v[6];
    if (eval_means(db, a, NULL, v, err) || put_means(db, a, prefix, v, err)) return -1;
    if (!a->by) return 0;
    sqlite3_stmt *st = r1_db_prepare(
        db,
        "SELECT DISTINCT CAST(json_extract(p.meta, '$.' || ?3) AS TEXT) AS k FROM rollouts r "
        "JOIN prompts p ON p.id = r.prompt_id WHERE r.step = ?1 AND r.stage = ?2 AND k IS NOT NULL "
        "ORDER BY k",
        err);
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, a->step);
    sqlite3_bind_text(st, 2, r1_rows_stage(a->stage), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, a->by, -1, SQLITE_STATIC);
    int rc, bad = 0;
    while (!bad && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *text = (const char *)sqlite3_column_text(st, 0);
        char *value = text ? r1_xstrdup(text) : NULL, *group = NULL;
        if (!value) {
            bad = r1_db_fail(db, "reading the evaluation's groups", err) != 0;
            break;
        }
        size_t n = strlen(prefix) + strlen(a->by) + strlen(value) + 3;
        group = r1_xmalloc(n);
        snprintf(group, n, "%s/%s-%s", prefix, a->by, value);
        bad = eval_means(db, a, value, v, err) || put_means(db, a, group, v, err);
        free(group);
        free(value);
    }
    if (!bad && rc != SQLITE_DONE)
        bad = r1_db_fail(db, "reading the evaluation's groups", err) != 0;
    sqlite3_finalize(st);
    return bad ? -1 : 0;
}

static void print_table(long step, long scored, long rollouts, const Line *l, int n) {
    const Line *total = &l[n - 1];
    printf("step %ld: scored %ld of %ld rollouts (%ld had rewards already); %ld undefined totals\n",
           step, scored, rollouts, rollouts - scored, total->rows - total->n);
    printf("  %-12s %8s %10s %10s\n", "reward", "weight", "mean", "defined");
    for (int i = 0; i < n; i++) {
        char w[32], m[32], d[48];
        snprintf(w, sizeof w, isnan(l[i].weight) ? "-" : "%g", l[i].weight);
        snprintf(m, sizeof m, isnan(l[i].mean) ? "-" : "%.4f", l[i].mean);
        snprintf(d, sizeof d, "%ld/%ld", l[i].n, l[i].rows);
        printf("  %-12s %8s %10s %10s\n", l[i].name, w, m, d);
    }
}

static void print_json(long step, long scored, long rollouts, const Line *l, int n) {
    const Line *total = &l[n - 1];
    printf("{\"step\":%ld,\"rollouts\":%ld,\"scored\":%ld,\"undefined\":%ld,\"rewards\":{", step,
           rollouts, scored, total->rows - total->n);
    for (int i = 0; i < n; i++) {
        printf("%s\"%s\":{", i ? "," : "", l[i].name);
        if (!isnan(l[i].weight)) printf("\"weight\":%.17g,", l[i].weight);
        if (isnan(l[i].mean))
            printf("\"mean\":null");
        else
            printf("\"mean\":%.17g", l[i].mean);
        printf(",\"n\":%ld}", l[i].n);
    }
    printf("}}\n");
}

/* ---- the command ------------------------------------------------------------------------ */

/* Scoring and metrics in one transaction; *scored gets the count. */
static int run(R1Db *db, const Args *a, const R1Rewarder *r, long *scored, R1Err *err) {
    long todo = scalar(db, "SELECT COUNT(*) " UNSCORED, a, err);
    if (todo < 0) return -1;
    Writer w = {db, r, &a->f, NULL};
    w.insert = r1_db_prepare(db,
                             "INSERT INTO rewards (rollout_id, name, value) VALUES (?, ?, ?) "
                             "ON CONFLICT (rollout_id, name) DO UPDATE SET value = excluded.value",
                             err);
    if (!w.insert) return -1;
    *scored = score_step(&w, a, todo, err);
    sqlite3_finalize(w.insert);
    if (*scored < 0) return -1;
    if (a->eval && log_eval(db, a, err)) return -1;
    if (*scored == 0) return 0;
    Line lines[R1_RW_COUNT + 1];
    int n = step_lines(db, a, r1_rewarder_opts(r), lines, err);
    return n < 0 ? -1 : log_metrics(db, a, lines, n, err);
}

static int summarize(R1Db *db, const Args *a, const R1Rewarder *r, long scored, long rollouts) {
    R1Err err;
    Line lines[R1_RW_COUNT + 1];
    int n = step_lines(db, a, r1_rewarder_opts(r), lines, &err);
    if (n < 0) return fprintf(stderr, "%s: %s\n", WHO, err.msg), 1;
    if (a->json)
        print_json(a->step, scored, rollouts, lines, n);
    else
        print_table(a->step, scored, rollouts, lines, n);
    return 0;
}

static int fail(const R1Err *err) {
    fprintf(stderr, "%s: %s\n", WHO, err->msg);
    return 1;
}

static int score_db(R1Db *db, const Args *a, const R1Rewarder *r) {
    R1Err err;
    long scored = 0;
    long rollouts =
        scalar(db, "SELECT COUNT(*) FROM rollouts WHERE step = ?1 AND stage = ?2", a, &err);
    if (rollouts == 0)
        r1_seterr(&err, "%s has no rollouts at step %ld of stage %s", a->db, a->step,
                  r1_rows_stage(a->stage));
    if (rollouts <= 0 || r1_db_begin(db, &err)) return fail(&err);
    if (run(db, a, r, &scored, &err) || r1_db_commit(db, &err))
        return r1_db_rollback(db), fail(&err);
    return summarize(db, a, r, scored, rollouts);
}

int cmd_score(int argc, char **argv) {
    Args a;
    int rc = parse_args(&a, argc, argv);
    if (rc) return rc < 0 ? 0 : rc; /* -1: --help */
    R1Rewarder *r = score_flags_rewarder(&a.f, WHO);
    if (!r) return 2;
    R1Db db;
    R1Err err;
    if (r1_db_open(&db, a.db, &err))
        rc = fail(&err);
    else
        rc = score_db(&db, &a, r), r1_db_close(&db);
    r1_rewarder_free(r);
    return rc;
}
