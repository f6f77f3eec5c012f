/* common.c - what the r1-reward subcommands share: the scoring options, the
 * prefilled-think heuristic, number parsing and progress on a terminal. */
#define _GNU_SOURCE /* memmem */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "args.h"
#include "cli.h"

void score_flags_init(ScoreFlags *f) {
    memset(f, 0, sizeof *f);
    r1_reward_defaults(&f->opts);
}

int parse_long(const char *s, long lo, long hi, long *out, const char *who, const char *flag) {
    return r1_arg_long(who, flag, s, lo, hi, out);
}

/* Flags with an int value: where each one goes. */
static int *int_flag(ScoreFlags *f, const char *name, long *lo) {
    *lo = 1;
    if (!strcmp(name, "--max-tokens")) return &f->opts.max_tokens;
    if (!strcmp(name, "--rep-ngram")) return &f->opts.rep_ngram;
    *lo = 0;
    if (!strcmp(name, "--overlong-cache")) return &f->opts.overlong_cache;
    return NULL;
}

/* Flags without a value. */
static int *bool_flag(ScoreFlags *f, const char *name) {
    if (!strcmp(name, "--format-loose")) return &f->opts.format_loose;
    if (!strcmp(name, "--prefilled-think")) return &f->prefilled;
    if (!strcmp(name, "--answer-phrase")) return &f->opts.extract.phrase;
    if (!strcmp(name, "--last-number")) return &f->opts.extract.last_number;
    return NULL;
}

int score_flags_take(ScoreFlags *f, int argc, char **argv, int *i, const char *who) {
    const char *name = argv[*i];
    int *b = bool_flag(f, name);
    if (b) return *b = 1, 1;
    long lo, v;
    int *iv = int_flag(f, name, &lo);
    int is_str = !strcmp(name, "--rewards") || !strcmp(name, "--lang");
    if (!iv && !is_str) return 0;
    if (*i + 1 >= argc) return fprintf(stderr, "%s: %s needs a value\n", who, name), -1;
    const char *val = argv[++*i];
    if (!strcmp(name, "--rewards"))
        f->spec = val;
    else if (!strcmp(name, "--lang"))
        f->opts.lang = val;
    else if (parse_long(val, lo, 1L << 30, &v, who, name))
        return -1;
    else
        *iv = (int)v;
    return 1;
}

R1Rewarder *score_flags_rewarder(ScoreFlags *f, const char *who) {
    R1Err err;
    if (f->spec && r1_reward_parse_weights(&f->opts, f->spec, &err))
        return fprintf(stderr, "%s: --rewards: %s\n", who, err.msg), NULL;
    R1Rewarder *r = r1_rewarder_new(&f->opts, &err);
    if (!r) fprintf(stderr, "%s: %s\n", who, err.msg);
    return r;
}
