/* r1-report - one self-contained HTML page that shows a run: what the run database
 * holds, the evaluations, the training curves of every RL stage and SFT run, and
 * sample completions.
 *
 *   r1-report --db DB --out report.html [--title T] [--samples N] [--quiet]
 *
 * What the page holds, all read from the run database (core/db_schema.c):
 *   1. A header: the title, the database's path and schema version, when the page was
 *      written, and the row counts of prompts, rollouts, rewards, metrics, sft_samples
 *      (per kind) and checkpoints.
 *   2. Evaluation (report/eval.c): the view eval_summary as a table; a grouped bar chart
 *      of accuracy, format rate and language rate of each phase's latest evaluation,
 *      phases in the order their first eval/ metric was written (base -> r1-zero -> r1
 *      -> distill); and for a phase evaluated at several steps (R1-Zero every E steps)
 *      those three rates against the step.
 *   3. RL stages (report/training.c): for every rollouts.stage that is not an
 *      evaluation (eval/...), in the order of its first rollout: the mean of every
 *      reward per step (view step_rewards), completion length (rollout/completion_len_
 *      mean and _max), KL (grpo/kl), GRPO loss (grpo/loss), clipped fractions
 *      (grpo/clip_frac_low, grpo/clip_frac_high) and gradient norm (grpo/grad_norm):
 *      the metrics the stages record under metrics.stage = their --stage name. Rows
 *      of stages run without --stage (rollouts.stage 'rl') find their metrics under
 *      the executables' own names (rollout, grpo), where those stages put them.
 *   4. SFT runs: for every metrics.stage with sft/train_loss, train and eval loss.
 *   5. Sample completions (report/samples.c): for each evaluation phase at its latest
 *      step (or, without evaluations, each RL stage), N completions chosen
 *      deterministically (a correct one and a wrong one first when there are), each
 *      with its question, gold answer, the prompt's prefill, the text and every reward.
 *
 * The page needs nothing else: the style sheet is inline, the charts are inline SVG
 * (report/svg.c), there is no script and no reference to anything on a network. Text
 * from the database is escaped wherever it appears. A metric that is NULL (undefined)
 * is a gap in its line or an en dash in a table, never a zero.
 *
 * The database is read inside one read transaction, so a stage writing meanwhile
 * cannot make two sections disagree, and with PRAGMA query_only: a report writes
 * nothing. (The file is opened read-write all the same, without creating it: a
 * read-only connection to a WAL database leaves its -wal and -shm files behind.) A
 * database of an older schema is first migrated by r1_db_open, as any stage would.
 * The page is assembled in memory and written to a temporary name beside --out, then
 * renamed: a reader never sees half a page.
 *
 * Exit status: 0 written; 1 failed (the message names the file: no such database, not
 * an r1c run database, unreadable, cannot write --out); 2 bad usage. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "args.h"
#include "html.h"
#include "report.h"

static const char *WHO = "r1-report";

static const char *USAGE =
    "usage: r1-report --db DB --out FILE.html [options]\n"
    "  one self-contained HTML page (inline SVG charts, no scripts) showing the run:\n"
    "  counts, evaluations, RL and SFT training curves, sample completions\n"
    "  --title T       the page's title (default: r1c run report: DB)\n"
    "  --samples N     completions shown per evaluated phase (default 3; 0: none)\n"
    "  --quiet         no summary line\n"
    "The page is written to a temporary name beside FILE.html, then renamed.\n";

typedef struct {
    const char *db, *out, *title;
    long samples;
    int quiet;
} Args;

/* 0 parsed, -1 after --help, 2 bad usage (message printed). */
static int parse_args(Args *a, int argc, char **argv) {
    memset(a, 0, sizeof *a);
    a->samples = 3;
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(f, "--help") || !strcmp(f, "-h")) return fputs(USAGE, stdout), -1;
        if (!strcmp(f, "--quiet")) {
            a->quiet = 1;
            continue;
        }
        const char **strs[] = {&a->db, &a->out, &a->title};
        const char *names[] = {"--db", "--out", "--title"};
        int known = 0;
        for (int k = 0; k < 3 && v; k++)
            if (!strcmp(f, names[k])) *strs[k] = v, known = 1;
        if (!known && v && !strcmp(f, "--samples")) {
            if (r1_arg_long(WHO, f, v, 0, 1000, &a->samples)) return 2;
            known = 1;
        }
        if (!known)
            return fprintf(stderr, "%s: unknown option %s%s\n%s", WHO, f,
                           v ? "" : " (or it needs a value)", USAGE),
                   2;
        i++;
    }
    const char *missing = !a->db ? "--db" : !a->out ? "--out" : NULL;
    if (missing) return fprintf(stderr, "%s: needs %s\n%s", WHO, missing, USAGE), 2;
    return 0;
}

/* ---- the database ------------------------------------------------------------------------- */

/* The existing file, never created. Read-write only so that SQLite may remove the WAL
 * files when it closes; the report sets query_only before reading. */
static int open_existing(R1Db *db, const char *path, R1Err *err) {
    db->path = r1_xstrdup(path);
    db->h = NULL;
    if (sqlite3_open_v2(path, &db->h, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK) {
        sqlite3_busy_timeout(db->h, 10000); /* a stage may hold a lock briefly */
        return 0;
    }
    r1_seterr(err, "%s: cannot open: %s", path, db->h ? sqlite3_errmsg(db->h) : "out of memory");
    r1_db_close(db);
    return -1;
}

/* The schema version, which is also the first read: a file that is not SQLite fails
 * here ("file is not a database"). */
static int schema_version(R1Db *db, R1Err *err) {
    sqlite3_stmt *st = r1_db_prepare(db, "PRAGMA user_version", err);
    if (!st) return -1;
    int v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
    if (v < 0) r1_db_fail(db, "cannot read", err);
    sqlite3_finalize(st);
    return v;
}

/* The file must exist and be a run database: opening would otherwise create one (or
 * add r1c's tables to some other SQLite file). */
static int open_run_db(R1Db *db, const char *path, R1Err *err) {
    struct stat sb;
    if (stat(path, &sb) != 0) return r1_seterr(err, "%s: %s", path, strerror(errno));
    if (!S_ISREG(sb.st_mode)) return r1_seterr(err, "%s: not a file", path);
    if (sb.st_size == 0) return r1_seterr(err, "%s: empty file, not a run database", path);
    if (open_existing(db, path, err)) return -1;
    int v = schema_version(db, err);
    if (v == R1_DB_VERSION) return 0;
    r1_db_close(db);
    if (v < 0) return -1;
    if (v == 0) return r1_seterr(err, "%s: not an r1c run database (no schema version)", path);
    if (v > R1_DB_VERSION)
        return r1_seterr(err, "%s: schema version %d is newer than this r1c understands (%d)", path,
                         v, R1_DB_VERSION);
    return r1_db_open(db, path, err); /* an older schema: migrated, as any stage would */
}

/* ---- the page ----------------------------------------------------------------------------- */

static int sections(Report *r, const char *title, const char *db_path, R1Err *err) {
    html_begin(r->f, title);
    int rc = section_header(r, title, db_path, err);
    if (rc == 0) rc = section_eval(r, err);
    if (rc == 0) rc = section_rl(r, err);
    if (rc == 0) rc = section_sft(r, err);
    if (rc == 0) rc = section_samples(r, err);
    html_end(r->f);
    return rc;
}

/* The page, read in one transaction, into *buf (caller frees). */
static int build(R1Db *db, const Args *a, const char *title, char **buf, size_t *len, int *charts,
                 R1Err *err) {
    FILE *f = open_memstream(buf, len);
    if (!f) return r1_seterr(err, "cannot assemble the page: %s", strerror(errno));
    Report r = {f, db, a->samples, 0};
    int rc = r1_db_exec(db, "PRAGMA query_only = 1; BEGIN", err);
    if (rc == 0) rc = sections(&r, title, a->db, err);
    if (rc == 0) rc = r1_db_exec(db, "COMMIT", err);
    r1_db_rollback(db);
    int bad = ferror(f);
    if (fclose(f) != 0) bad = 1; /* the memory stream fails only when memory does */
    if (bad && rc == 0) rc = r1_seterr(err, "cannot assemble the page: out of memory");
    *charts = r.charts;
    return rc;
}

static char *page_title(const Args *a) {
    if (a->title) return r1_xstrdup(a->title);
    size_t n = strlen(a->db) + 32;
    char *t = r1_xmalloc(n);
    snprintf(t, n, "r1c run report: %s", a->db);
    return t;
}

int main(int argc, char **argv) {
    Args a;
    int rc = parse_args(&a, argc, argv);
    if (rc) return rc < 0 ? 0 : rc;
    R1Db db = {0};
    R1Err err = {{0}};
    if (open_run_db(&db, a.db, &err)) return fprintf(stderr, "%s: %s\n", WHO, err.msg), 1;
    char *title = page_title(&a), *buf = NULL;
    size_t len = 0;
    int charts = 0;
    rc = build(&db, &a, title, &buf, &len, &charts, &err);
    if (rc == 0) rc = r1_write_file_atomic(a.out, buf, len, &err);
    if (rc)
        fprintf(stderr, "%s: %s\n", WHO, err.msg);
    else if (!a.quiet)
        printf("%s: wrote %s (%zu bytes, %d charts)\n", WHO, a.out, len, charts);
    free(buf), free(title);
    r1_db_close(&db);
    return rc ? 1 : 0;
}
