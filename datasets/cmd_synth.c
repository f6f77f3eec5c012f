/* cmd_synth.c - `r1-data synth`: generated tasks with exact gold answers into prompts,
 * or (with --kind) worked cold-start samples into sft_samples.
 *
 *   r1-data synth --db DB --task arith|countdown|chain --n N --seed S
 *                 [--split train] [--lang en|zh|mixed] [--level L] [--quiet]
 *                 [--kind KIND [--system TEXT]] [--avoid-split SPLIT]
 * Prompt rows go to dataset "synth/TASK" through the prompt writer, samples to
 * sft_samples with their content hash, so either way a rerun with the same seed adds
 * nothing (the generators live in core/synth.c, the worked responses in
 * core/synth_cot.c). --avoid-split draws again for a task that split holds -- the
 * same question, or the same expression in other words (meta "expr": "What is 3 + 4?"
 * and "计算：3 + 4 = ?" are one task) -- so held-out tasks never reach training. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "data.h"
#include "hashmap.h"
#include "synth.h"

static const char *usage =
    "usage: r1-data synth --db DB --task arith|countdown|chain --n N --seed S\n"
    "                     [--split SPLIT] [--lang en|zh|mixed] [--level L] [--quiet]\n"
    "                     [--kind KIND [--system TEXT]] [--avoid-split SPLIT]\n"
    "Writes N generated tasks with exact gold answers to prompts (dataset synth/TASK).\n"
    "  --split  default train\n"
    "  --lang   wording: en, zh or mixed (default en; mixed draws per task)\n"
    "  --level  arith 1-4 (4: word problems), countdown 1-3, chain 1-3;\n"
    "           default: a mix of all levels\n"
    "  --kind K write SFT samples of kind K (cold_start, reasoning, ...) instead:\n"
    "           the question, then a worked response in the R1 format (<think> a\n"
    "           step-by-step chain of thought in the question's language </think>\n"
    "           <answer> a one-line summary with \\boxed{answer} </answer>); arith only\n"
    "  --system TEXT  with --kind: a system message first in each sample\n"
    "  --avoid-split S  draw again when prompts of split S hold the same question or\n"
    "           the same expression in any wording (keeps a held-out split out of\n"
    "           training data); S must hold prompts and differ from --split\n"
    "  --quiet  no progress and no summary on stderr\n";

typedef struct {
    const char *db, *split, *kind, *system, *avoid;
    R1SynthTask task;
    R1SynthLang lang;
    int level, quiet;
    long n;
    uint64_t seed;
} SynthOpts;

/* A whole non-negative decimal integer no larger than max; -1 otherwise. */
static int parse_count(const char *s, unsigned long long max, unsigned long long *out) {
    char *end;
    errno = 0;
    if (*s < '0' || *s > '9') return -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v > max) return -1;
    *out = v;
    return 0;
}

static int bad(const char *opt, const char *val, const char *want) {
    fprintf(stderr, "r1-data synth: %s '%s': expected %s\n", opt, val, want);
    return 1;
}

/* One option with its value; 1 on a bad value. */
static int parse_value(SynthOpts *o, const char *f, const char *v) {
    unsigned long long x;
    int t;
    if (!strcmp(f, "--db"))
        o->db = v;
    else if (!strcmp(f, "--split"))
        o->split = v;
    else if (!strcmp(f, "--system"))
        o->system = v;
    else if (!strcmp(f, "--avoid-split"))
        o->avoid = v;
    else if (!strcmp(f, "--kind")) {
        int known = 0;
        for (int k = 0; r1_sft_kinds[k]; k++) known |= !strcmp(v, r1_sft_kinds[k]);
        if (!known) return bad(f, v, "cold_start, reasoning, non_reasoning, distill or pretrain");
        o->kind = v;
    } else if (!strcmp(f, "--task")) {
        if ((t = r1_synth_task_parse(v)) < 0) return bad(f, v, "arith, countdown or chain");
        o->task = (R1SynthTask)t;
    } else if (!strcmp(f, "--lang")) {
        if ((t = r1_synth_lang_parse(v)) < 0) return bad(f, v, "en, zh or mixed");
        o->lang = (R1SynthLang)t;
    } else if (!strcmp(f, "--n")) {
        if (parse_count(v, 1000000000ULL, &x) || x == 0) return bad(f, v, "a count from 1");
        o->n = (long)x;
    } else if (!strcmp(f, "--seed")) {
        if (parse_count(v, UINT64_MAX, &x)) return bad(f, v, "a non-negative integer");
        o->seed = x;
    } else if (!strcmp(f, "--level")) {
        if (parse_count(v, 9, &x)) return bad(f, v, "a level number");
        o->level = (int)x;
    }
    return 0;
}

static int is_valued(const char *f) {
    static const char *const names[] = {"--db",   "--split", "--task", "--lang",   "--n",
                                        "--seed", "--level", "--kind", "--system", "--avoid-split"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(f, names[i])) return 1;
    return 0;
}

/* 0: go on; 1: error; 2: --help printed. */
static int parse(SynthOpts *o, int argc, char **argv) {
    *o = (SynthOpts){.split = "train", .task = (R1SynthTask)-1, .lang = R1_SYNTH_EN, .n = -1};
    int have_seed = 0, have_split = 0;
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        if (!strcmp(f, "--quiet"))
            o->quiet = 1;
        else if (!strcmp(f, "--help") || !strcmp(f, "-h"))
            return fputs(usage, stdout), 2;
        else if (is_valued(f) && i + 1 < argc) {
            have_seed |= !strcmp(f, "--seed");
            have_split |= !strcmp(f, "--split");
            if (parse_value(o, f, argv[++i])) return 1;
        } else
            return fprintf(stderr, "r1-data synth: unknown option %s\n%s", f, usage), 1;
    }
    /* --seed is required: a default seed would make two "different" runs identical */
    const char *missing = !o->db             ? "--db DB"
                          : (int)o->task < 0 ? "--task NAME"
                          : o->n < 0         ? "--n N"
                          : !have_seed       ? "--seed S"
                                             : NULL;
    if (missing) return fprintf(stderr, "r1-data synth: needs %s\n%s", missing, usage), 1;
    if (o->kind && o->task != R1_SYNTH_ARITH)
        return fprintf(stderr,
                       "r1-data synth: --kind writes worked samples for --task arith only\n"),
               1;
    if (o->kind && have_split)
        return fprintf(stderr,
                       "r1-data synth: --split is for prompts; --kind writes SFT samples\n"),
               1;
    if (o->avoid && !o->kind && !strcmp(o->avoid, o->split))
        return fprintf(stderr, "r1-data synth: --avoid-split %s is the split being written\n",
                       o->avoid),
               1;
    if (o->system && !o->kind)
        return fprintf(stderr, "r1-data synth: --system goes with --kind (samples)\n"), 1;
    int top = r1_synth_levels(o->task);
    if (o->level > top) {
        fprintf(stderr, "r1-data synth: --level %d: %s has levels 1 to %d\n", o->level,
                r1_synth_task_name(o->task), top);
        return 1;
    }
    return 0;
}

static int first_time(R1StrMap *seen, const R1SynthItem *it) {
    size_t q = strlen(it->question), a = strlen(it->answer);
    char *key = r1_xmalloc(q + a + 2);
    memcpy(key, it->question, q);
    key[q] = 0x1f; /* a separator neither text contains */
    memcpy(key + q + 1, it->answer, a + 1);
    int fresh = r1_strmap_get(seen, key, q + a + 1) < 0;
    if (fresh) r1_strmap_put(seen, key, q + a + 1, 1);
    free(key);
    return fresh;
}

/* Where the rows go: prompts, or (--kind) sft_samples; and the held-out lookup. */
typedef struct {
    PromptWriter prompts;
    sqlite3_stmt *sample, *held_out;
    R1Db *db;
    long added, repeated;
} Sink;

static int sink_init(Sink *k, R1Db *db, const SynthOpts *o, R1Err *err) {
    memset(k, 0, sizeof *k);
    k->db = db;
    if (!o->kind && prompt_writer_init(&k->prompts, db, err)) return -1;
    if (o->kind) {
        k->sample =
            r1_db_prepare(db,
                          "INSERT INTO sft_samples (kind, prompt, response, messages, source, "
                          "content_hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6) "
                          "ON CONFLICT (kind, content_hash) DO NOTHING",
                          err);
        if (!k->sample) return -1;
        sqlite3_bind_text(k->sample, 1, o->kind, -1, SQLITE_STATIC);
    }
    if (o->avoid) {
        k->held_out = r1_db_prepare(
            db,
            "SELECT 1 FROM prompts WHERE split = ?1 AND (question = ?2 OR (?3 IS NOT NULL "
            "AND json_extract(meta, '$.task') = ?4 AND json_extract(meta, '$.expr') = ?3))",
            err);
        if (!k->held_out) return -1;
        sqlite3_bind_text(k->held_out, 1, o->avoid, -1, SQLITE_STATIC);
        /* a misspelt split would keep nothing out, silently */
        sqlite3_stmt *any =
            r1_db_prepare(db, "SELECT 1 FROM prompts WHERE split = ?1 LIMIT 1", err);
        if (!any) return -1;
        sqlite3_bind_text(any, 1, o->avoid, -1, SQLITE_STATIC);
        int rc = sqlite3_step(any);
        sqlite3_finalize(any);
        if (rc == SQLITE_DONE)
            return r1_seterr(err, "--avoid-split %s: %s has no prompts in split %s", o->avoid,
                             db->path, o->avoid);
        if (rc != SQLITE_ROW) return r1_db_fail(db, "looking up the avoided split", err);
    }
    return 0;
}

static void sink_free(Sink *k, const SynthOpts *o) {
    if (!o->kind) {
        k->added = k->prompts.added, k->repeated = k->prompts.repeated;
        prompt_writer_free(&k->prompts);
    }
    sqlite3_finalize(k->sample);
    sqlite3_finalize(k->held_out);
}

/* 1 when the avoided split holds the task (its question, or its expression under
 * the same task), 0 when not, -1 on error. */
static int held_out(Sink *k, const R1SynthItem *it, R1Err *err) {
    if (!k->held_out) return 0;
    sqlite3_reset(k->held_out);
    sqlite3_bind_text(k->held_out, 2, it->question, -1, SQLITE_STATIC);
    /* countdown's expr is one answer of many, not the task: only its question counts */
    if (it->task == R1_SYNTH_COUNTDOWN)
        sqlite3_bind_null(k->held_out, 3);
    else
        sqlite3_bind_text(k->held_out, 3, it->expr, -1, SQLITE_STATIC);
    sqlite3_bind_text(k->held_out, 4, r1_synth_task_name(it->task), -1, SQLITE_STATIC);
    int rc = sqlite3_step(k->held_out);
    sqlite3_reset(k->held_out);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return r1_db_fail(k->db, "looking up a question", err);
    return rc == SQLITE_ROW;
}

/* One sample: [system?, user question, assistant worked response]. */
static int add_sample(Sink *k, const SynthOpts *o, const R1SynthItem *it, const char *source,
                      R1Err *err) {
    char *resp = r1_synth_cold_start(it, err);
    if (!resp) return -1;
    size_t len;
    char hash[17];
    char *m =
        sft_messages(o->system, it->question, strlen(it->question), resp, strlen(resp), &len, hash);
    sqlite3_stmt *st = k->sample;
    sqlite3_reset(st);
    sqlite3_bind_text(st, 2, it->question, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, resp, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, m, (int)len, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, source, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, hash, 16, SQLITE_STATIC);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : r1_db_fail(k->db, "inserting a sample", err);
    if (rc == 0) sqlite3_changes(k->db->h) ? k->added++ : k->repeated++;
    sqlite3_reset(st);
    free(m);
    free(resp);
    return rc;
}

static int sink_add(Sink *k, const SynthOpts *o, const R1SynthItem *it, const char *dataset,
                    const char *source, R1Err *err) {
    if (o->kind) return add_sample(k, o, it, source, err);
    PromptRow row = {dataset, o->split, it->question, it->answer, it->solution, it->meta, source};
    return prompt_writer_add(&k->prompts, &row, err);
}

/* Generates and inserts every row; the caller owns the transaction. */
static int write_rows(R1Db *db, const SynthOpts *o, const char *dataset, long *added,
                      long *repeated, R1Err *err) {
    Sink w;
    if (sink_init(&w, db, o, err)) return sink_free(&w, o), -1;
    char source[64];
    snprintf(source, sizeof source, "r1-data synth --seed %llu", (unsigned long long)o->seed);
    R1Rng rng;
    r1_rng_seed(&rng, o->seed);
    Progress prog;
    progress_init(&prog, dataset, o->quiet);
    /* N distinct tasks: a repeat within this run is drawn again (small levels have
     * only so many questions), so the seed still fixes exactly which rows it gives. */
    R1StrMap seen;
    r1_strmap_init(&seen);
    int rc = 0;
    long draws = 0, max_draws = 100 * o->n + 1000;
    for (long i = 0; i < o->n && rc == 0 && draws < max_draws; draws++) {
        R1SynthItem it;
        rc = r1_synth_generate(o->task, o->level, o->lang, &rng, &it, err);
        if (rc) break;
        int avoid = held_out(&w, &it, err);
        if (avoid < 0) rc = -1;
        if (avoid == 0 && first_time(&seen, &it)) {
            rc = sink_add(&w, o, &it, dataset, source, err);
            progress_update(&prog, ++i, o->n);
        }
        r1_synth_item_free(&it);
    }
    progress_done(&prog);
    sink_free(&w, o);
    if (rc == 0 && w.added + w.repeated < o->n)
        fprintf(stderr, "r1-data synth: only %ld distinct tasks found in %ld draws\n",
                w.added + w.repeated, draws);
    r1_strmap_free(&seen);
    *added = w.added, *repeated = w.repeated;
    return rc;
}

int cmd_synth(int argc, char **argv) {
    SynthOpts o;
    int rc = parse(&o, argc, argv);
    if (rc) return rc == 2 ? 0 : rc;
    R1Db db;
    if (data_open(&db, o.db)) return 1;
    char dataset[64];
    snprintf(dataset, sizeof dataset, "synth/%s", r1_synth_task_name(o.task));
    R1Err err;
    long added = 0, repeated = 0;
    /* one transaction: all N rows or none, and far faster than a commit per row */
    rc = r1_db_begin(&db, &err);
    if (rc == 0) {
        rc = write_rows(&db, &o, dataset, &added, &repeated, &err);
        if (rc == 0) rc = r1_db_commit(&db, &err);
        if (rc) r1_db_rollback(&db);
    }
    if (rc)
        fprintf(stderr, "r1-data synth: %s\n", err.msg);
    else if (!o.quiet)
        fprintf(stderr, "r1-data synth: %s (%s): added %ld, already present %ld\n", dataset,
                o.kind ? o.kind : o.split, added, repeated);
    r1_db_close(&db);
    return rc ? 1 : 0;
}
