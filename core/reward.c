/* reward.c - the rule-based rewards of DeepSeek-R1 (reward.h says what each means).
 *
 * Everything here works on bytes of UTF-8 without copying the completion, except
 * that a prefilled "<think>\n" is put back in front (one copy) so that format,
 * tag_count and language see the text the model was trained to produce. The
 * rewarder is immutable after r1_rewarder_new; each call keeps its state on the
 * stack or in its own allocations, so scoring is safe from many threads. */
#define _GNU_SOURCE           /* memmem */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <cjson/cJSON.h>
#include <ctype.h>
#include <math.h>
#include <pcre2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <utf8proc.h>

#include "reward.h"

static const char *const NAMES[R1_RW_COUNT] = {"accuracy", "format",   "tag_count",
                                               "language", "overlong", "repetition"};

/* The R1 pattern and the loose one. Neither uses PCRE2_UTF: the pattern is ASCII,
 * '.' with DOTALL matches any byte, and a model's invalid UTF-8 must not turn a
 * match into an error. */
static const char STRICT_RE[] = "^<think>\\n.*?\\n</think>\\n<answer>\\n.*?\\n</answer>$";
static const char LOOSE_RE[] = "^\\s*<think>.*?</think>\\s*<answer>.*?</answer>\\s*$";

struct R1Rewarder {
    R1RewardOpts o;
    char lang[4]; /* o.lang points here (or is NULL) */
    pcre2_code *format;
};

enum { LANG_UNKNOWN = 0, LANG_EN, LANG_ZH };

/* ---- options --------------------------------------------------------------------------- */

void r1_reward_defaults(R1RewardOpts *o) {
    memset(o, 0, sizeof *o);
    o->weight[R1_RW_ACCURACY] = 1;
    o->weight[R1_RW_FORMAT] = 1;
    o->max_tokens = 1024;
    o->overlong_cache = 256;
    o->rep_ngram = 4;
}

const char *r1_reward_name(R1RewardKind k) {
    return (unsigned)k < R1_RW_COUNT ? NAMES[k] : "?";
}

static int kind_of(const char *name, size_t n) {
    for (int k = 0; k < R1_RW_COUNT; k++)
        if (strlen(NAMES[k]) == n && !memcmp(NAMES[k], name, n)) return k;
    return -1;
}

static void trim(const char **s, size_t *n) {
    while (*n && isspace((unsigned char)**s)) (*s)++, (*n)--;
    while (*n && isspace((unsigned char)(*s)[*n - 1])) (*n)--;
}

/* One "name=weight" item of the spec into w (seen guards against repeats). */
static int parse_item(const char *s, size_t n, double *w, int *seen, R1Err *err) {
    trim(&s, &n);
    const char *eq = memchr(s, '=', n);
    if (!eq)
        return r1_seterr(err,
                         "'%.*s' is not NAME=WEIGHT (rewards: accuracy, format, tag_count, "
                         "language, overlong, repetition)",
                         (int)n, s);
    const char *name = s, *val = eq + 1;
    size_t nn = (size_t)(eq - s), vn = n - nn - 1;
    trim(&name, &nn);
    trim(&val, &vn);
    int k = kind_of(name, nn);
    if (k < 0)
        return r1_seterr(err,
                         "unknown reward '%.*s' (known: accuracy, format, tag_count, "
                         "language, overlong, repetition)",
                         (int)nn, name);
    if (seen[k]) return r1_seterr(err, "reward '%s' is given twice", NAMES[k]);
    char buf[64], *end;
    snprintf(buf, sizeof buf, "%.*s", (int)vn, val);
    double v = strtod(buf, &end);
    if (vn == 0 || vn >= sizeof buf || *end || !isfinite(v))
        return r1_seterr(err, "weight of reward '%s' is not a number: '%.*s'", NAMES[k], (int)vn,
                         val);
    w[k] = v;
    seen[k] = 1;
    return 0;
}

int r1_reward_parse_weights(R1RewardOpts *o, const char *spec, R1Err *err) {
    double w[R1_RW_COUNT] = {0};
    int seen[R1_RW_COUNT] = {0}, items = 0;
    for (const char *s = spec ? spec : ""; *s;) {
        const char *comma = strchr(s, ',');
        size_t n = comma ? (size_t)(comma - s) : strlen(s);
        const char *t = s;
        size_t tn = n;
        trim(&t, &tn);
        if (tn && parse_item(s, n, w, seen, err)) return -1;
        items += tn > 0;
        s += n + (comma != NULL);
    }
    if (!items)
        return r1_seterr(err, "no rewards in '%s' (e.g. accuracy=1,format=1)", spec ? spec : "");
    memcpy(o->weight, w, sizeof w); /* only now: o is unchanged on error */
    return 0;
}

/* ---- the rewarder ---------------------------------------------------------------------- */

/* "en", "zh", "zh-CN", "en_US" ... -> LANG_*, anything else LANG_UNKNOWN. */
static int lang_code(const char *s) {
    if (!s) return LANG_UNKNOWN;
    int code = !strncasecmp(s, "en", 2) ? LANG_EN : !strncasecmp(s, "zh", 2) ? LANG_ZH : 0;
    return code && (s[2] == 0 || s[2] == '-' || s[2] == '_') ? code : LANG_UNKNOWN;
}

static int check_opts(const R1RewardOpts *o, R1Err *err) {
    if (o->lang && (strlen(o->lang) != 2 || lang_code(o->lang) == LANG_UNKNOWN))
        return r1_seterr(err, "unknown language '%s' (en or zh)", o->lang);
    if (o->max_tokens < 1) return r1_seterr(err, "max tokens must be >= 1, not %d", o->max_tokens);
    if (o->overlong_cache < 0 || o->overlong_cache > o->max_tokens)
        return r1_seterr(err, "overlong cache %d is outside [0, max tokens %d]", o->overlong_cache,
                         o->max_tokens);
    if (o->rep_ngram < 1)
        return r1_seterr(err, "repetition n-gram size must be >= 1, not %d", o->rep_ngram);
    return 0;
}

R1Rewarder *r1_rewarder_new(const R1RewardOpts *o, R1Err *err) {
    if (check_opts(o, err)) return NULL;
    const char *re = o->format_loose ? LOOSE_RE : STRICT_RE;
    int code;
    PCRE2_SIZE at;
    pcre2_code *format =
        pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED, PCRE2_DOTALL, &code, &at, NULL);
    if (!format) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(code, msg, sizeof msg);
        r1_seterr(err, "format pattern at %zu: %s", (size_t)at, (const char *)msg);
        return NULL;
    }
    pcre2_jit_compile(format, PCRE2_JIT_COMPLETE); /* without JIT it still matches, slower */
    R1Rewarder *r = r1_xcalloc(1, sizeof *r);
    r->o = *o;
    r->format = format;
    if (o->lang) {
        snprintf(r->lang, sizeof r->lang, "%s", o->lang);
        r->o.lang = r->lang;
    }
    return r;
}

void r1_rewarder_free(R1Rewarder *r) {
    if (!r) return;
    pcre2_code_free(r->format);
    free(r);
}

const R1RewardOpts *r1_rewarder_opts(const R1Rewarder *r) {
    return &r->o;
}

/* ---- UTF-8 and scripts ----------------------------------------------------------------- */

/* Decodes the character at s[*i] and advances *i. Malformed bytes decode as U+FFFD
 * one byte at a time, so any byte string is walked to its end. */
static uint32_t utf8_next(const unsigned char *s, size_t n, size_t *i) {
    utf8proc_int32_t c;
    utf8proc_ssize_t k = utf8proc_iterate(s + *i, (utf8proc_ssize_t)(n - *i), &c);
    if (k <= 0) {
        (*i)++;
        return 0xFFFD;
    }
    *i += (size_t)k;
    return (uint32_t)c;
}

static int is_cjk(uint32_t c) {
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x20000 && c <= 0x2FA1F);
}

enum { C_NONE = 0, C_LATIN, C_CJK, C_FOREIGN };

/* The word class of a non-ASCII character: Latin letters (accented, fullwidth),
 * CJK ideographs, letters of other scripts, or nothing (punctuation, symbols,
 * Greek letters, which in a chain of thought are math). */
static int char_class(uint32_t c) {
    if (is_cjk(c)) return C_CJK;
    if ((c >= 0xC0 && c <= 0x24F && c != 0xD7 && c != 0xF7) || (c >= 0x1E00 && c <= 0x1EFF) ||
        (c >= 0xFF21 && c <= 0xFF3A) || (c >= 0xFF41 && c <= 0xFF5A))
        return C_LATIN;
    if ((c >= 0x370 && c <= 0x3FF) || (c >= 0x1F00 && c <= 0x1FFF)) return C_NONE;
    utf8proc_category_t cat = utf8proc_category((utf8proc_int32_t)c);
    return cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO ? C_FOREIGN : C_NONE;
}

static int ascii_alpha(unsigned char b) {
    return (unsigned)((b | 0x20) - 'a') < 26;
}

static int has_cjk(const char *s) {
    const unsigned char *u = (const unsigned char *)s;
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        if (u[i] < 0x80)
            i++;
        else if (is_cjk(utf8_next(u, n, &i)))
            return 1;
    }
    return 0;
}

/* ---- language -------------------------------------------------------------------------- */

typedef struct {
    long latin, cjk, foreign;
} WordCount;

/* Closes a run of letters of one class: Latin runs of two or more letters that
 * are not LaTeX command names are English words; any run of another script is one
 * foreign word. (CJK ideographs are counted one by one as they come.) */
static void close_run(WordCount *wc, int cls, size_t len, int after_backslash) {
    if (cls == C_LATIN && len >= 2 && !after_backslash)
        wc->latin++;
    else if (cls == C_FOREIGN)
        wc->foreign++;
}

static void count_words(const char *s, size_t n, WordCount *wc) {
    const unsigned char *u = (const unsigned char *)s;
    int run = C_NONE, cmd = 0;
    size_t len = 0;
    uint32_t prev = 0;
    for (size_t i = 0; i < n;) {
        uint32_t c = u[i] < 0x80 ? u[i++] : utf8_next(u, n, &i);
        int cls = c < 0x80 ? (ascii_alpha((unsigned char)c) ? C_LATIN : C_NONE) : char_class(c);
        if (cls != run) {
            close_run(wc, run, len, cmd);
            run = cls, len = 0, cmd = prev == '\\';
        }
        len++;
        wc->cjk += cls == C_CJK;
        prev = c;
    }
    close_run(wc, run, len, cmd);
}

/* The think block's content: after the first <think> up to the next </think>; from
 * the start when there is only a </think>; the whole text when neither is there. */
static void think_block(const char *s, size_t n, size_t *a, size_t *b) {
    const char *open = memmem(s, n, "<think>", 7);
    size_t start = open ? (size_t)(open - s) + 7 : 0;
    const char *close = memmem(s + start, n - start, "</think>", 8);
    *a = start;
    *b = close ? (size_t)(close - s) : n;
}

static double language_share(const char *s, size_t n, int lang) {
    size_t a, b;
    think_block(s, n, &a, &b);
    WordCount wc = {0, 0, 0};
    count_words(s + a, b - a, &wc);
    long all = wc.latin + wc.cjk + wc.foreign;
    if (all == 0) return 0; /* no words: nothing in the target language */
    return (double)(lang == LANG_ZH ? wc.cjk : wc.latin) / (double)all;
}

/* ---- prompt meta ----------------------------------------------------------------------- */

typedef struct {
    int lang;      /* LANG_*; LANG_UNKNOWN also when absent */
    int has_lang;  /* meta names a language (maybe one we do not know) */
    int countdown; /* meta has "numbers" (an array) and "target" */
    int countdown_ok;
    long *nums;
    int n;
    long target;
} Meta;

static int integral(const cJSON *v, long *out) {
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) ||
        fabs(v->valuedouble) > 1e15)
        return 0;
    *out = (long)v->valuedouble;
    return 1;
}

static void meta_countdown(Meta *m, const cJSON *nums, const cJSON *target) {
    m->countdown = 1;
    int n = cJSON_GetArraySize(nums), ok = integral(target, &m->target);
    m->nums = r1_xmalloc(sizeof(long) * (size_t)(n ? n : 1));
    for (int i = 0; i < n; i++) ok &= integral(cJSON_GetArrayItem(nums, i), &m->nums[i]);
    m->n = n;
    m->countdown_ok = ok && n > 0;
}

/* Reads only the keys rewards use; cJSON runs only when one of them is present,
 * since most prompts carry "{}" or unrelated meta. */
static void meta_parse(const char *json, Meta *m) {
    memset(m, 0, sizeof *m);
    if (!json || (!strstr(json, "\"lang\"") && !strstr(json, "\"numbers\""))) return;
    cJSON *root = cJSON_Parse(json);
    if (!root) return;
    const cJSON *lang = cJSON_GetObjectItemCaseSensitive(root, "lang");
    if (cJSON_IsString(lang)) m->has_lang = 1, m->lang = lang_code(lang->valuestring);
    const cJSON *nums = cJSON_GetObjectItemCaseSensitive(root, "numbers");
    const cJSON *target = cJSON_GetObjectItemCaseSensitive(root, "target");
    if (cJSON_IsArray(nums) && target) meta_countdown(m, nums, target);
    cJSON_Delete(root);
}

static void meta_free(Meta *m) {
    free(m->nums);
}

static int target_lang(const R1Rewarder *r, const Meta *m, const char *question) {
    if (r->o.lang) return lang_code(r->o.lang);
    if (m->has_lang) return m->lang;
    return question && has_cjk(question) ? LANG_ZH : LANG_EN;
}

/* ---- accuracy -------------------------------------------------------------------------- */

/* Countdown answers are often written as a bare equation: the last line with an
 * '=' after the chain of thought, trimmed (NULL when none). */
static char *last_equation_line(const char *s, size_t n) {
    for (const char *t = memmem(s, n, "</think>", 8); t; t = memmem(s, n, "</think>", 8))
        n -= (size_t)(t + 8 - s), s = t + 8;
    for (size_t end = n; end > 0;) {
        size_t start = end;
        while (start > 0 && s[start - 1] != '\n') start--;
        const char *line = s + start;
        size_t len = end - start;
        if (memchr(line, '=', len)) {
            trim(&line, &len);
            char *out = r1_xmalloc(len + 1);
            memcpy(out, line, len);
            out[len] = 0;
            return out;
        }
        end = start ? start - 1 : 0;
    }
    return NULL;
}

static R1Eq judge_countdown(const R1Rewarder *r, const R1RewardInput *in, const Meta *m,
                            R1AccuracyInfo *info, char **ans) {
    info->countdown = 1;
    info->source = r1_answer_extract(in->completion, in->len, &r->o.extract, ans);
    if (!*ans) info->equation_line = (*ans = last_equation_line(in->completion, in->len)) != NULL;
    if (!m->countdown_ok) {
        snprintf(info->why, sizeof info->why, "meta \"numbers\"/\"target\" are not all integers");
        return R1_EQ_UNDEFINED;
    }
    if (!*ans) return snprintf(info->why, sizeof info->why, "no equation found"), R1_EQ_NO;
    return r1_countdown_check(*ans, m->nums, m->n, m->target, info->why, sizeof info->why)
               ? R1_EQ_YES
               : R1_EQ_NO;
}

static R1Eq judge_math(const R1Rewarder *r, const R1RewardInput *in, R1AccuracyInfo *info,
                       int want_why, char **ans) {
    if (!in->gold) return snprintf(info->why, sizeof info->why, "no gold answer"), R1_EQ_UNDEFINED;
    info->source = r1_answer_extract(in->completion, in->len, &r->o.extract, ans);
    /* An empty prediction still lets mathans say whether the gold parses. */
    R1Eq eq = r1_math_equal(in->gold, *ans ? *ans : "", want_why ? info->why : NULL,
                            want_why ? sizeof info->why : 0);
    if (!*ans && eq == R1_EQ_NO) snprintf(info->why, sizeof info->why, "no answer found");
    return eq;
}

/* After a prefilled "<think>\n" the completion starts inside the think block:
 * until it closes, everything is reasoning and no answer counts. */
static int think_unclosed(const R1RewardInput *in) {
    return in->prefilled_think && !memmem(in->completion, in->len, "</think>", 8);
}

/* No answer given: wrong, unless the gold answer itself is unusable. */
static R1Eq judge_no_answer(const R1RewardInput *in, const Meta *m, R1AccuracyInfo *info) {
    snprintf(info->why, sizeof info->why, "no answer: the think block never closes");
    if (m->countdown) return R1_EQ_NO;
    if (!in->gold) return R1_EQ_UNDEFINED;
    return r1_math_equal(in->gold, "", NULL, 0) == R1_EQ_UNDEFINED ? R1_EQ_UNDEFINED : R1_EQ_NO;
}

/* The accuracy verdict; info (always filled) carries the details explain shows.
 * want_why is 0 on the scoring path: building reasons costs time nobody reads. */
static R1Eq judge(const R1Rewarder *r, const R1RewardInput *in, const Meta *m, R1AccuracyInfo *info,
                  int want_why) {
    char *ans = NULL;
    info->source = R1_SRC_NONE;
    info->equation_line = info->countdown = 0;
    info->answer[0] = info->why[0] = 0;
    R1Eq eq = think_unclosed(in) ? judge_no_answer(in, m, info)
              : m->countdown     ? judge_countdown(r, in, m, info, &ans)
                                 : judge_math(r, in, info, want_why, &ans);
    if (ans) snprintf(info->answer, sizeof info->answer, "%s", ans);
    free(ans);
    info->verdict = eq;
    return eq;
}

void r1_reward_explain_accuracy(const R1Rewarder *r, const R1RewardInput *in,
                                R1AccuracyInfo *info) {
    Meta m;
    meta_parse(in->meta, &m);
    judge(r, in, &m, info, 1);
    meta_free(&m);
}

/* ---- format and tags ------------------------------------------------------------------- */

/* Non-overlapping occurrences of pat, as Python's str.count. */
static int count_str(const char *s, size_t n, const char *pat) {
    size_t m = strlen(pat);
    int c = 0;
    for (const char *p = memmem(s, n, pat, m); p; c++) {
        size_t off = (size_t)(p - s) + m;
        p = memmem(s + off, n - off, pat, m);
    }
    return c;
}

/* Counts <think>, </think>, <answer> and </answer> in one pass over the '<'s. */
static void tag_counts(const char *s, size_t n, int c[4]) {
    static const char *const tags[4] = {"<think>", "</think>", "<answer>", "</answer>"};
    static const size_t lens[4] = {7, 8, 8, 9};
    c[0] = c[1] = c[2] = c[3] = 0;
    for (const char *p = memchr(s, '<', n); p; p = memchr(p + 1, '<', n - (size_t)(p + 1 - s))) {
        size_t left = n - (size_t)(p - s);
        for (int k = 0; k < 4; k++)
            if (left >= lens[k] && !memcmp(p, tags[k], lens[k])) c[k]++;
    }
}

static int format_ok(const R1Rewarder *r, const char *s, size_t n) {
    /* After the r1-zero prompt's "Assistant:" a model writes " <think>": the space
     * separates the reply from the prompt and is no part of its format. */
    while (n > 0 && (*s == ' ' || *s == '\t')) s++, n--;
    int c[4];
    tag_counts(s, n, c);
    if (c[0] != 1 || c[1] != 1 || c[2] != 1 || c[3] != 1)
        return 0; /* the pattern's .*? would swallow a second block */
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    int rc = pcre2_match(r->format, (PCRE2_SPTR)s, n, 0, 0, md, NULL);
    pcre2_match_data_free(md);
    return rc >= 0; /* a match error (a limit) counts as no match */
}

static double tag_count(const char *s, size_t n) {
    static const char *const pats[4] = {"<think>\n", "\n</think>\n", "<answer>\n", "\n</answer>"};
    double v = 0;
    for (int k = 0; k < 4; k++) v += 0.25 * (count_str(s, n, pats[k]) == 1);
    return v;
}

/* ---- length and repetition ------------------------------------------------------------- */

static double overlong(int len, int max, int cache) {
    if (len <= max - cache) return 0;
    if (len >= max) return -1;
    return (double)(max - cache - len) / cache;
}

static uint64_t mix64(uint64_t x) {
    x ^= x >> 30, x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 27, x *= 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

typedef struct {
    uint64_t *h;
    size_t n, cap;
} Hashes;

static void push_hash(Hashes *w, uint64_t h) {
    if (w->n == w->cap) w->h = r1_xrealloc(w->h, sizeof(uint64_t) * (w->cap = w->cap * 2 + 64));
    w->h[w->n++] = h;
}

/* Word hashes (FNV-1a) of the text: whitespace splits words, ASCII is lowercased
 * (as open-r1's text.lower().split()), and each CJK ideograph is a word of its own
 * since Chinese has no spaces. */
static void word_hashes(const char *s, size_t n, Hashes *w) {
    const unsigned char *u = (const unsigned char *)s;
    uint64_t h = 0xCBF29CE484222325ull;
    int in_word = 0;
    for (size_t i = 0; i < n;) {
        size_t at = i;
        uint32_t c = u[i] < 0x80 ? u[i++] : utf8_next(u, n, &i);
        int space = c < 0x80 && isspace((int)c), cjk = c >= 0x80 && is_cjk(c);
        if ((space || cjk) && in_word) push_hash(w, h), in_word = 0;
        if (space) continue;
        if (!in_word) h = 0xCBF29CE484222325ull, in_word = 1;
        for (size_t k = at; k < i; k++) h = (h ^ (uint64_t)tolower(u[k])) * 0x100000001B3ull;
        if (cjk) push_hash(w, h), in_word = 0;
    }
    if (in_word) push_hash(w, h);
}

/* Distinct values among v[0..n) (never 0: the empty slot) with an open-addressing set. */
static size_t distinct(const uint64_t *v, size_t n) {
    size_t cap = 16, d = 0;
    while (cap < 2 * n) cap *= 2;
    uint64_t *set = r1_xcalloc(cap, sizeof *set);
    for (size_t i = 0; i < n; i++) {
        size_t j = v[i] & (cap - 1);
        while (set[j] && set[j] != v[i]) j = (j + 1) & (cap - 1);
        d += !set[j];
        set[j] = v[i];
    }
    free(set);
    return d;
}

static double repetition(const char *s, size_t n, int ngram) {
    Hashes w = {NULL, 0, 0};
    word_hashes(s, n, &w);
    double v = 0;
    if (w.n >= (size_t)ngram) {
        size_t total = w.n - (size_t)ngram + 1;
        for (size_t i = 0; i < total; i++) { /* n-gram hashes, in place: w.h[i] is read first */
            uint64_t g = 0x9E3779B97F4A7C15ull;
            for (int k = 0; k < ngram; k++) g = mix64(g ^ w.h[i + (size_t)k]);
            w.h[i] = g ? g : 1;
        }
        v = -(1.0 - (double)distinct(w.h, total) / (double)total);
    }
    free(w.h);
    return v;
}

/* ---- scoring --------------------------------------------------------------------------- */

/* The text format, tag_count and language judge: the completion with a prefilled
 * "<think>\n" put back in front (a copy only in that case). */
typedef struct {
    const char *s;
    size_t n;
    char *owned;
} Text;

static void text_init(Text *t, const R1RewardInput *in) {
    t->owned = NULL, t->s = in->completion, t->n = in->len;
    if (!in->prefilled_think) return;
    t->owned = r1_xmalloc(in->len + 9);
    memcpy(t->owned, "<think>\n", 8);
    memcpy(t->owned + 8, in->completion, in->len);
    t->owned[in->len + 8] = 0;
    t->s = t->owned, t->n = in->len + 8;
}

/* One reward into out (defined or not). */
static void score_one(const R1Rewarder *r, int k, const R1RewardInput *in, const Text *t,
                      const Meta *m, R1RewardResult *out) {
    double v = NAN;
    if (k == R1_RW_ACCURACY) {
        R1AccuracyInfo info;
        R1Eq eq = judge(r, in, m, &info, 0);
        if (eq != R1_EQ_UNDEFINED) v = eq == R1_EQ_YES;
    } else if (k == R1_RW_FORMAT) {
        v = format_ok(r, t->s, t->n);
    } else if (k == R1_RW_TAG_COUNT) {
        v = tag_count(t->s, t->n);
    } else if (k == R1_RW_LANGUAGE) {
        int lang = target_lang(r, m, in->question);
        if (lang != LANG_UNKNOWN) v = language_share(t->s, t->n, lang);
    } else if (k == R1_RW_OVERLONG) {
        if (in->n_tokens >= 0) v = overlong(in->n_tokens, r->o.max_tokens, r->o.overlong_cache);
    } else if (k == R1_RW_REPETITION) {
        v = repetition(in->completion, in->len, r->o.rep_ngram);
    }
    out->value[k] = v;
    out->defined[k] = !isnan(v);
}

void r1_reward_score(const R1Rewarder *r, const R1RewardInput *in, R1RewardResult *out) {
    int need[R1_RW_COUNT];
    for (int k = 0; k < R1_RW_COUNT; k++) {
        need[k] = r->o.score_all || r->o.weight[k] != 0;
        out->value[k] = NAN, out->defined[k] = 0;
    }
    Meta m;
    Text t;
    meta_parse(need[R1_RW_ACCURACY] || need[R1_RW_LANGUAGE] ? in->meta : NULL, &m);
    text_init(&t, in);
    for (int k = 0; k < R1_RW_COUNT; k++)
        if (need[k]) score_one(r, k, in, &t, &m, out);
    free(t.owned);
    meta_free(&m);
    out->total = 0, out->total_defined = 1;
    for (int k = 0; k < R1_RW_COUNT; k++) {
        if (r->o.weight[k] == 0) continue;
        if (!out->defined[k])
            out->total_defined = 0;
        else
            out->total += r->o.weight[k] * out->value[k];
    }
    if (!out->total_defined) out->total = NAN;
}

int r1_reward_looks_prefilled(const char *text, size_t len) {
    size_t i = 0;
    while (i < len && (text[i] == ' ' || text[i] == '\t')) i++;
    if (len - i >= 7 && !memcmp(text + i, "<think>", 7)) return 0;
    return memmem(text, len, "</think>", 8) != NULL;
}
