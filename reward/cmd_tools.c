/* cmd_tools.c - `r1-reward match` and `r1-reward explain`: the answer checker and
 * the rewards of one completion, for a person (or a script) to look at. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* ---- match ------------------------------------------------------------------------------ */

static const char *MATCH_USAGE =
    "usage: r1-reward match [--why] < LINES\n"
    "  each line is GOLD<TAB>PREDICTION, the prediction an already-extracted answer;\n"
    "  prints 1 (equal), 0 (not equal) or U (undefined: the gold answer does not\n"
    "  parse) per line, with --why followed by a TAB and the reason.\n"
    "  Escapes: \\\\ is a backslash (so \\frac is written \\\\frac), \\t a TAB, \\n a\n"
    "  newline; any other backslash is an error, so LaTeX is never silently changed.\n";

/* Undoes the escapes in place over s[0..n); returns the unescaped length, or -1
 * with *bad at the offending backslash. */
static long unescape(char *s, size_t n, size_t *bad) {
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '\\') {
            s[o++] = s[i];
            continue;
        }
        char c = i + 1 < n ? s[i + 1] : 0;
        if (c != '\\' && c != 't' && c != 'n') return *bad = i, -1;
        s[o++] = c == 't' ? '\t' : c == 'n' ? '\n' : '\\';
        i++;
    }
    s[o] = 0;
    return (long)o;
}

/* One input line: 0 when judged and printed, -1 (message printed) when malformed. */
static int match_line(char *line, size_t n, long lineno, int why) {
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
    char *tab = memchr(line, '\t', n);
    if (!tab) return fprintf(stderr, "r1-reward match: line %ld has no TAB\n", lineno), -1;
    *tab = 0;
    char *gold = line, *pred = tab + 1;
    size_t bad;
    if (unescape(gold, (size_t)(tab - line), &bad) < 0 ||
        unescape(pred, n - (size_t)(pred - line), &bad) < 0)
        return fprintf(stderr,
                       "r1-reward match: line %ld: unknown escape (write a backslash as \\\\)\n",
                       lineno),
               -1;
    char reason[256] = "";
    R1Eq eq = r1_math_equal(gold, pred, why ? reason : NULL, why ? sizeof reason : 0);
    const char *v = eq == R1_EQ_YES ? "1" : eq == R1_EQ_NO ? "0" : "U";
    if (why)
        printf("%s\t%s\n", v, reason);
    else
        puts(v);
    return 0;
}

int cmd_match(int argc, char **argv) {
    int why = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            return fputs(MATCH_USAGE, stdout), 0;
        if (!strcmp(argv[i], "--why"))
            why = 1;
        else
            return fprintf(stderr, "r1-reward match: unknown option %s\n%s", argv[i], MATCH_USAGE),
                   2;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    long lineno = 0;
    int rc = 0;
    while (!rc && (n = getline(&line, &cap, stdin)) >= 0)
        rc = match_line(line, (size_t)n, ++lineno, why);
    free(line);
    return rc ? 1 : 0;
}

/* ---- explain ---------------------------------------------------------------------------- */

static const char *EXPLAIN_USAGE =
    "usage: r1-reward explain --gold G --completion C [options]\n"
    "  what the accuracy reward extracted from C (and from where), the verdict and its\n"
    "  reason, and the value of every reward (total with the --rewards weights)\n"
    "  --completion -       read the completion from stdin\n"
    "  --question Q         the prompt's question (language guess)\n"
    "  --meta JSON          the prompt's meta (\"lang\", countdown \"numbers\"/\"target\")\n"
    "  --n-tokens N         completion tokens (overlong is undefined without it)\n"
    "  and the scoring options of r1-reward: --rewards --lang --format-loose\n"
    "  --prefilled-think --max-tokens --overlong-cache --rep-ngram --answer-phrase\n"
    "  --last-number\n";

typedef struct {
    R1RewardInput in;
    ScoreFlags f;
    char *owned; /* a completion read from stdin */
} Explain;

static char *read_stdin(size_t *len) {
    size_t cap = 4096, n = 0, k;
    char *buf = r1_xmalloc(cap);
    while ((k = fread(buf + n, 1, cap - n - 1, stdin)) > 0)
        if ((n += k) + 1 == cap) buf = r1_xrealloc(buf, cap *= 2);
    buf[n] = 0;
    *len = n;
    return buf;
}

/* Returns 0, -1 after --help, or the exit status of a failed parse. */
static int explain_args(Explain *e, int argc, char **argv) {
    memset(e, 0, sizeof *e);
    score_flags_init(&e->f);
    e->in.n_tokens = -1;
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int took = score_flags_take(&e->f, argc, argv, &i, "r1-reward explain");
        if (took) {
            if (took < 0) return 2;
            continue;
        }
        if (!strcmp(s, "--help") || !strcmp(s, "-h")) return fputs(EXPLAIN_USAGE, stdout), -1;
        if (!v)
            return fprintf(stderr, "r1-reward explain: %s needs a value\n%s", s, EXPLAIN_USAGE), 2;
        i++;
        long n;
        if (!strcmp(s, "--gold"))
            e->in.gold = v;
        else if (!strcmp(s, "--completion"))
            e->in.completion = v;
        else if (!strcmp(s, "--question"))
            e->in.question = v;
        else if (!strcmp(s, "--meta"))
            e->in.meta = v;
        else if (!strcmp(s, "--n-tokens")) {
            if (parse_long(v, 0, 1L << 30, &n, "r1-reward explain", s)) return 2;
            e->in.n_tokens = (int)n;
        } else
            return fprintf(stderr, "r1-reward explain: unknown option %s\n%s", s, EXPLAIN_USAGE), 2;
    }
    if (!e->in.completion)
        return fprintf(stderr, "r1-reward explain: needs --completion\n%s", EXPLAIN_USAGE), 2;
    if (!strcmp(e->in.completion, "-"))
        e->in.completion = e->owned = read_stdin(&e->in.len);
    else
        e->in.len = strlen(e->in.completion);
    return 0;
}

static void print_value(const char *name, double v, int defined, double weight) {
    char val[32] = "undefined", w[32] = "";
    if (defined) snprintf(val, sizeof val, "%.4g", v + 0.0); /* + 0.0: no "-0" */
    if (weight == weight) snprintf(w, sizeof w, "%g", weight);
    printf("  %-12s %10s %8s\n", name, val, w);
}

static void print_explain(const R1Rewarder *r, const Explain *e) {
    R1AccuracyInfo info;
    r1_reward_explain_accuracy(r, &e->in, &info);
    static const char *VERDICT[] = {"undefined", "not equal", "equal"};
    printf("prefilled think: %s\n", e->in.prefilled_think ? "yes" : "no");
    if (info.countdown) printf("countdown:       yes (r1_countdown_check on the equation)\n");
    if (info.answer[0])
        printf("answer:          %s  (from %s)\n", info.answer,
               info.equation_line ? "the last line with '='" : r1_answer_source_name(info.source));
    else
        printf("answer:          none found\n");
    printf("gold:            %s\n", e->in.gold ? e->in.gold : "(none)");
    /* mathans' reasons already start with the verdict; other reasons do not. */
    const char *v = VERDICT[info.verdict + 1];
    size_t vl = strlen(v);
    if (strncmp(info.why, v, vl) == 0 && info.why[vl] == ':')
        printf("verdict:         %s\n", info.why);
    else
        printf("verdict:         %s: %s\n", v, info.why);
    R1RewardResult res;
    r1_reward_score(r, &e->in, &res);
    const R1RewardOpts *o = r1_rewarder_opts(r);
    printf("  %-12s %10s %8s\n", "reward", "value", "weight");
    for (int k = 0; k < R1_RW_COUNT; k++)
        print_value(r1_reward_name(k), res.value[k], res.defined[k], o->weight[k]);
    print_value("total", res.total, res.total_defined, 0.0 / 0.0);
}

int cmd_explain(int argc, char **argv) {
    Explain e;
    int rc = explain_args(&e, argc, argv);
    if (rc) return rc < 0 ? 0 : rc;
    e.f.opts.score_all = 1; /* every reward's value; total still by the weights */
    R1Rewarder *r = score_flags_rewarder(&e.f, "r1-reward explain");
    if (r) {
        e.in.prefilled_think =
            e.f.prefilled || r1_reward_looks_prefilled(e.in.completion, e.in.len);
        print_explain(r, &e);
    }
    r1_rewarder_free(r);
    free(e.owned);
    return r ? 0 : 2;
}
