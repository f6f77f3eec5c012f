/* cmd_synth.c - `r1-data synth`: generated tasks with exact gold answers into prompts.
 *
 *   r1-data synth --db DB --task arith|countdown|chain --n N --seed S
 *                 [--split train] [--lang en|zh|mixed] [--level L] [--quiet]
 * Rows go to dataset "synth/TASK" through the prompt writer, so a rerun with the
 * same seed adds nothing (the generators live in core/synth.c). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "data.h"
#include "hashmap.h"
#include "synth.h"

static const char *usage =
    "usage: r1-data synth --db DB --task arith|countdown|chain --n N --seed S\n"
    "                     [--split SPLIT] [--lang en|zh|mixed] [--level L] [--quiet]\n"
    "Writes N generated tasks with exact gold answers to prompts (dataset synth/TASK).\n"
    "  --split  default train\n"
    "  --lang   wording: en, zh or mixed (default en; mixed draws per task)\n"
    "  --level  arith 1-4 (4: word problems), countdown 1-3, chain 1-3;\n"
    "           default: a mix of all levels\n"
    "  --quiet  no progress and no summary on stderr\n";

typedef struct {
    const char *db, *split;
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
    else if (!strcmp(f, "--task")) {
        if ((t = r1_synth_task_parse(v)) < 0) return bad(f, v, "arith or countdown");
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
    static const char *const names[] = {"--db", "--split", "--task", "--lang",
                                        "--n",  "--seed",  "--level"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(f, names[i])) return 1;
    return 0;
}

/* 0: go on; 1: error; 2: --help printed. */
static int parse(SynthOpts *o, int argc, char **argv) {
    *o = (SynthOpts){.split = "train", .task = (R1SynthTask)-1, .lang = R1_SYNTH_EN, .n = -1};
    int have_seed = 0;
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        if (!strcmp(f, "--quiet"))
            o->quiet = 1;
        else if (!strcmp(f, "--help") || !strcmp(f, "-h"))
            return fputs(usage, stdout), 2;
        else if (is_valued(f) && i + 1 < argc) {
            have_seed |= !strcmp(f, "--seed");
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

/* Generates and inserts every row; the caller owns the transaction. */
static int write_rows(R1Db *db, const SynthOpts *o, const char *dataset, long *added,
                      long *repeated, R1Err *err) {
    PromptWriter w;
    if (prompt_writer_init(&w, db, err)) return -1;
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
        if (first_time(&seen, &it)) {
            PromptRow row = {dataset,     o->split, it.question, it.answer,
                             it.solution, it.meta,  source};
            rc = prompt_writer_add(&w, &row, err);
            progress_update(&prog, ++i, o->n);
        }
        r1_synth_item_free(&it);
    }
    progress_done(&prog);
    if (rc == 0 && w.added + w.repeated < o->n)
        fprintf(stderr, "r1-data synth: only %ld distinct tasks found in %ld draws\n",
                w.added + w.repeated, draws);
    r1_strmap_free(&seen);
    *added = w.added, *repeated = w.repeated;
    prompt_writer_free(&w);
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
                o.split, added, repeated);
    r1_db_close(&db);
    return rc ? 1 : 0;
}
