/* cmd_collect.c - `r1-data collect`: rollouts that pass filters become SFT samples.
 *
 * This is how the R1 pipeline builds its cold-start set from R1-Zero rollouts and
 * its rejection-sampled reasoning set: each rollout of the stage and steps is
 * judged by the library's reward functions (core/reward.h, the code r1-reward
 * runs, not the stored rewards, so the result does not depend on how a step was
 * scored), and the ones that pass every filter are written to sft_samples in one
 * transaction: an error or a kill leaves the table as it was.
 *
 * A sample is what the model produced after the prompt: the rollout's prefill
 * (what the prompt ended with inside the assistant turn) + its text, so that
 * rendering [user: question, assistant: response] with the rollout's template
 * gives the rollout's prompt + completion again. Its messages and content_hash are
 * written as `import --format messages` would store and hash that array, so
 * exporting and importing the samples again adds nothing. */
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "chat.h"
#include "data.h"
#include "hashmap.h"
#include "jsonstr.h"
#include "reward.h"

static const char *WHO = "r1-data collect";

static const char usage[] =
    "usage: r1-data collect --db DB --kind KIND [options]\n"
    "Turns rollouts into SFT samples: the rollouts of one stage and step range that\n"
    "pass every filter go to sft_samples with kind KIND (cold_start, reasoning,\n"
    "non_reasoning, distill, pretrain), in one transaction. A sample is\n"
    "[{user: question}, {assistant: prefill + completion text}] (for the r1-zero\n"
    "template without the one space the template puts after \"Assistant:\"); source\n"
    "is rollout:ID. Samples already in the table are not added again.\n"
    "  --stage S           rollouts.stage (default rl)\n"
    "  --from-step N       first step (default: the first)\n"
    "  --to-step M         last step (default: the last)\n"
    "  --filter LIST       comma list, every one must pass (default correct,format,stop;\n"
    "                      '' or none: no filter):\n"
    "                        correct     accuracy reward 1 (no gold answer: never)\n"
    "                        format      the strict R1 format reward 1\n"
    "                        stop        finished, not cut at the length limit\n"
    "                        language    language consistency 1: one language only\n"
    "                        no-code     no ``` code fence\n"
    "                        paragraph   no paragraph (text between blank lines) over\n"
    "                                    --max-paragraph characters\n"
    "                        min-tokens  at least --min-tokens completion tokens\n"
    "                        readable    language,no-code,paragraph\n"
    "  --max-paragraph C   for paragraph (default 2000)\n"
    "  --min-tokens T      for min-tokens (default 0)\n"
    "  --lang en|zh        for language (default: prompt meta \"lang\", else the\n"
    "                      question's script, as r1-reward)\n"
    "  --max-per-prompt K  at most K samples per prompt, the first ones by step and\n"
    "                      sample, those already present included (default 0: no\n"
    "                      limit); identical responses to one prompt count once\n"
    "  --system TEXT       put a system message first in each sample (the one the\n"
    "                      rollouts were sampled with, r1-rollout --system)\n"
    "  --dry-run           write nothing; report what would be collected\n"
    "  --quiet             print nothing; --json: the summary as one JSON line\n"
    "Prints \"collected N samples of kind K from R rollouts (stage S, steps A-B);\n"
    "already present P; dropped: REASON COUNT, ...\", reasons in LIST order: incorrect,\n"
    "format, truncated, language, code, paragraph, too short (short in --json), then\n"
    "NUL character (nul; completions with one: JSON readers would cut them),\n"
    "duplicate, over the per-prompt limit (over_limit). A rollout that fails several\n"
    "filters is counted under the first one in LIST. A completion's trailing\n"
    "end-of-turn text (<｜end▁of▁sentence｜>, <|im_end|>) is left to the template.\n";

/* ---- filters ---------------------------------------------------------------------------- */

enum { F_CORRECT, F_FORMAT, F_STOP, F_LANGUAGE, F_NO_CODE, F_PARAGRAPH, F_MIN_TOKENS, F_COUNT };

/* The filter's name in --filter, and what a rollout it drops is counted as: in the
 * summary's words and as the key of the JSON summary's "dropped". */
static const struct {
    const char *name, *reason, *key;
} FILTERS[F_COUNT] = {
    {"correct", "incorrect", "incorrect"}, {"format", "format", "format"},
    {"stop", "truncated", "truncated"},    {"language", "language", "language"},
    {"no-code", "code", "code"},           {"paragraph", "paragraph", "paragraph"},
    {"min-tokens", "too short", "short"}};

#define KNOWN_FILTERS "correct, format, stop, language, no-code, paragraph, min-tokens, readable"

typedef struct {
    const char *db, *kind, *stage, *lang, *system;
    long from, to, max_per_prompt, max_paragraph, min_tokens;
    int have_from, have_to, have_paragraph, have_min_tokens;
    int dry_run, quiet, json;
    int filters[F_COUNT]; /* in --filter order, each once */
    int n_filters;
} CollectOpts;

static int has_filter(const CollectOpts *o, int f) {
    for (int i = 0; i < o->n_filters; i++)
        if (o->filters[i] == f) return 1;
    return 0;
}

static void add_filter(CollectOpts *o, int f) {
    if (!has_filter(o, f)) o->filters[o->n_filters++] = f;
}

/* One name of the list (name[0..n)); readable stands for three. 0, or -1 (unknown). */
static int add_filter_name(CollectOpts *o, const char *name, size_t n) {
    if (n == 8 && !memcmp(name, "readable", 8)) {
        add_filter(o, F_LANGUAGE), add_filter(o, F_NO_CODE), add_filter(o, F_PARAGRAPH);
        return 0;
    }
    for (int f = 0; f < F_COUNT; f++)
        if (strlen(FILTERS[f].name) == n && !memcmp(name, FILTERS[f].name, n))
            return add_filter(o, f), 0;
    return -1;
}

/* "correct,format" -> o->filters; "" and "none" select no filter. */
static int parse_filters(CollectOpts *o, const char *list) {
    o->n_filters = 0;
    if (!strcmp(list, "none")) return 0;
    for (const char *s = list; *s;) {
        size_t n = strcspn(s, ",");
        if (n && add_filter_name(o, s, n))
            return fprintf(stderr, "%s: unknown filter '%.*s' (known: %s)\n", WHO, (int)n, s,
                           KNOWN_FILTERS),
                   -1;
        s += n + (s[n] == ',');
    }
    return 0;
}

/* ---- options ---------------------------------------------------------------------------- */

/* A number option's value into *out (and *given); -1 when it is not valid. */
static int number_opt(const char *f, const char *v, CollectOpts *o) {
    struct {
        const char *flag;
        long lo, *out;
        int *given;
    } nums[] = {{"--from-step", 0, &o->from, &o->have_from},
                {"--to-step", 0, &o->to, &o->have_to},
                {"--max-per-prompt", 0, &o->max_per_prompt, NULL},
                {"--max-paragraph", 1, &o->max_paragraph, &o->have_paragraph},
                {"--min-tokens", 0, &o->min_tokens, &o->have_min_tokens}};
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
        if (strcmp(f, nums[i].flag)) continue;
        if (r1_arg_long(WHO, f, v, nums[i].lo, 1L << 40, nums[i].out)) return -1;
        if (nums[i].given) *nums[i].given = 1;
        return 0;
    }
    return 1; /* not one of them */
}

/* One option with a value: 0 taken, 1 not one of them, -1 bad value. */
static int value_opt(CollectOpts *o, const char *f, const char *v) {
    const char **slot = !strcmp(f, "--db")       ? &o->db
                        : !strcmp(f, "--kind")   ? &o->kind
                        : !strcmp(f, "--stage")  ? &o->stage
                        : !strcmp(f, "--lang")   ? &o->lang
                        : !strcmp(f, "--system") ? &o->system
                                                 : NULL;
    if (slot) return *slot = v, 0;
    if (!strcmp(f, "--filter")) return parse_filters(o, v);
    return number_opt(f, v, o);
}

static int is_flag(CollectOpts *o, const char *f) {
    int *flag = !strcmp(f, "--dry-run") ? &o->dry_run
                : !strcmp(f, "--quiet") ? &o->quiet
                : !strcmp(f, "--json")  ? &o->json
                                        : NULL;
    if (flag) *flag = 1;
    return flag != NULL;
}

static int takes_value(const char *f) {
    static const char *const names[] = {"--db",         "--kind",           "--stage",
                                        "--lang",       "--filter",         "--from-step",
                                        "--to-step",    "--max-per-prompt", "--max-paragraph",
                                        "--min-tokens", "--system"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(f, names[i])) return 1;
    return 0;
}

/* Returns 0, -1 after --help, or 2 (usage error, message printed). */
static int parse_opts(CollectOpts *o, int argc, char **argv) {
    *o = (CollectOpts){.max_paragraph = 2000};
    parse_filters(o, "correct,format,stop");
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        if (!strcmp(f, "--help") || !strcmp(f, "-h")) return fputs(usage, stdout), -1;
        if (is_flag(o, f)) continue;
        if (!takes_value(f)) return fprintf(stderr, "%s: unknown option %s\n%s", WHO, f, usage), 2;
        if (i + 1 >= argc) return fprintf(stderr, "%s: %s needs a value\n", WHO, f), 2;
        if (value_opt(o, f, argv[++i])) return 2;
    }
    return 0;
}

static int kind_known(const char *kind) {
    for (int i = 0; r1_sft_kinds[i]; i++)
        if (!strcmp(r1_sft_kinds[i], kind)) return 1;
    return 0;
}

/* Options that only one filter reads are refused without it, rather than ignored. */
static int check_opts(const CollectOpts *o) {
    const char *why = NULL;
    if (!o->db)
        why = "needs --db DB";
    else if (!o->kind)
        why = "needs --kind (cold_start, reasoning, non_reasoning, distill, pretrain)";
    else if (!kind_known(o->kind))
        why = "--kind must be cold_start, reasoning, non_reasoning, distill or pretrain";
    else if (o->have_from && o->have_to && o->from > o->to)
        why = "--from-step is after --to-step";
    else if (o->lang && !has_filter(o, F_LANGUAGE))
        why = "--lang is for the language filter (--filter ...,language or readable)";
    else if (o->have_paragraph && !has_filter(o, F_PARAGRAPH))
        why = "--max-paragraph is for the paragraph filter (--filter ...,paragraph or readable)";
    else if (o->have_min_tokens && !has_filter(o, F_MIN_TOKENS))
        why = "--min-tokens is for the min-tokens filter (--filter ...,min-tokens)";
    if (why) fprintf(stderr, "%s: %s\n", WHO, why);
    return why ? 2 : 0;
}

/* The rewards the filters need, computed by the same scorer r1-reward builds. */
static R1Rewarder *make_rewarder(const CollectOpts *o) {
    R1RewardOpts ro;
    r1_reward_defaults(&ro);
    for (int k = 0; k < R1_RW_COUNT; k++) ro.weight[k] = 0;
    ro.weight[R1_RW_ACCURACY] = has_filter(o, F_CORRECT);
    ro.weight[R1_RW_FORMAT] = has_filter(o, F_FORMAT);
    ro.weight[R1_RW_LANGUAGE] = has_filter(o, F_LANGUAGE);
    ro.lang = o->lang;
    R1Err err;
    R1Rewarder *r = r1_rewarder_new(&ro, &err);
    if (!r) fprintf(stderr, "%s: --lang: %s\n", WHO, err.msg);
    return r;
}

/* ---- one rollout ------------------------------------------------------------------------ */

/* The columns of the rollout query, in order. */
enum {
    C_ID,
    C_STEP,
    C_PROMPT,
    C_TEXT,
    C_FINISH,
    C_TOKENS,
    C_TEMPLATE,
    C_PREFILL,
    C_QUESTION,
    C_GOLD,
    C_META
};

typedef struct {
    long long id, prompt_id;
    const char *text, *finish, *template_name, *prefill, *question, *gold, *meta;
    size_t text_len;
    int n_tokens;
} Rollout;

static void read_rollout(sqlite3_stmt *st, Rollout *r) {
    r->id = sqlite3_column_int64(st, C_ID);
    r->prompt_id = sqlite3_column_int64(st, C_PROMPT);
    r->text = (const char *)sqlite3_column_text(st, C_TEXT);
    r->text_len = (size_t)sqlite3_column_bytes(st, C_TEXT);
    if (!r->text) r->text = "", r->text_len = 0;
    r->finish = (const char *)sqlite3_column_text(st, C_FINISH);
    r->n_tokens = sqlite3_column_int(st, C_TOKENS);
    r->template_name = (const char *)sqlite3_column_text(st, C_TEMPLATE);
    r->prefill = (const char *)sqlite3_column_text(st, C_PREFILL);
    r->question = (const char *)sqlite3_column_text(st, C_QUESTION);
    r->gold = (const char *)sqlite3_column_text(st, C_GOLD);
    r->meta = (const char *)sqlite3_column_text(st, C_META);
}

/* Rows written before rollouts.prefill existed (or by other tools) do not say
 * whether the prompt opened the think block: guessed as r1-reward guesses. */
static const char *guess_prefill(const Rollout *r) {
    return r1_reward_looks_prefilled(r->text, r->text_len) ? "<think>\n" : "";
}

static const char *prefill_of(const Rollout *r) {
    return r->prefill ? r->prefill : guess_prefill(r);
}

/* What r1-reward would compute for the rollout (cmd_score.c's score_row). */
static void judge(const R1Rewarder *rw, const Rollout *r, R1RewardResult *res) {
    const char *prefill = prefill_of(r);
    R1RewardInput in = {.completion = r->text,
                        .len = r->text_len,
                        .n_tokens = r->n_tokens,
                        .question = r->question,
                        .gold = r->gold,
                        .meta = r->meta,
                        .prefilled_think =
                            strstr(prefill, "<think>") && !strstr(prefill, "</think>")};
    r1_reward_score(rw, &in, res);
}

static int reward_is_one(const R1RewardResult *res, int k) {
    /* the language share is a ratio of counts: exactly 1 up to rounding */
    return res->defined[k] && res->value[k] >= 1.0 - 1e-9;
}

/* Whether some paragraph (a run of lines that are not blank, with the newlines
 * between them) has more than max characters (code points). */
static int paragraph_too_long(const char *s, size_t n, long max) {
    long cur = 0;
    int in_para = 0;
    for (size_t i = 0; i <= n;) {
        size_t end = i;
        long chars = 0;
        int blank = 1;
        for (; end < n && s[end] != '\n'; end++) {
            unsigned char c = (unsigned char)s[end];
            chars += (c & 0xC0) != 0x80;
            if (c != ' ' && c != '\t' && c != '\r') blank = 0;
        }
        if (blank)
            cur = 0, in_para = 0;
        else if ((cur += chars + in_para) > max)
            return 1;
        else
            in_para = 1;
        i = end + 1;
    }
    return 0;
}

/* The response as the model produced it, in a fresh string (*len its length). */
static char *make_response(const Rollout *r, size_t *len) {
    const char *prefill = prefill_of(r);
    size_t p = strlen(prefill), n = r->text_len;
    /* An end-of-turn token's text is the template's to write after the reply; a
     * tokenizer that does not mark it special leaves it in the decoded text. */
    for (int t = 0; t <= R1_TPL_R1_ZERO; t++) {
        const char *end = r1_template_turn_end((R1Template)t);
        size_t e = end ? strlen(end) : 0;
        if (e && n >= e && !memcmp(r->text + n - e, end, e)) n -= e;
    }
    char *s = r1_xmalloc(p + n + 1);
    memcpy(s, prefill, p);
    memcpy(s + p, r->text, n);
    s[p + n] = 0;
    *len = p + n;
    /* r1-zero renders an assistant message as " " + content: the model wrote that
     * space itself after "Assistant:", so the content starts after it. */
    if (r->template_name && !strcmp(r->template_name, "r1-zero") && *len && s[0] == ' ') {
        memmove(s, s + 1, *len); /* the NUL too */
        --*len;
    }
    return s;
}

/* The first filter of the list the rollout fails, or -1. */
static int first_failure(const CollectOpts *o, const R1Rewarder *rw, const Rollout *r,
                         const char *resp, size_t resp_len) {
    R1RewardResult res;
    judge(rw, r, &res);
    for (int i = 0; i < o->n_filters; i++) {
        int f = o->filters[i], ok = 1;
        if (f == F_CORRECT)
            ok = reward_is_one(&res, R1_RW_ACCURACY);
        else if (f == F_FORMAT)
            ok = reward_is_one(&res, R1_RW_FORMAT);
        else if (f == F_STOP)
            ok = r->finish && !strcmp(r->finish, "stop");
        else if (f == F_LANGUAGE)
            ok = reward_is_one(&res, R1_RW_LANGUAGE);
        else if (f == F_NO_CODE)
            ok = !strstr(resp, "```");
        else if (f == F_PARAGRAPH)
            ok = !paragraph_too_long(resp, resp_len, o->max_paragraph);
        else if (f == F_MIN_TOKENS)
            ok = r->n_tokens >= o->min_tokens;
        if (!ok) return f;
    }
    return -1;
}

/* ---- the collection --------------------------------------------------------------------- */

typedef struct {
    const CollectOpts *o;
    R1Db db;
    const R1Rewarder *rw;
    sqlite3_stmt *exists, *insert;
    R1StrMap seen;       /* content hashes kept in this run */
    R1U64Map per_prompt; /* prompt id -> samples kept */
    long rollouts, collected, present, dropped[F_COUNT], nul, duplicate, over_limit;
    long first_step, last_step;
    Progress prog;
} Collect;

/* What one sample stores: its columns, the messages array and its hash. */
typedef struct {
    char *prompt, *messages; /* owned */
    const char *response;
    size_t prompt_len, response_len, messages_len;
    char hash[17];
} Sample;

/* Whether sft_samples has (kind, hash) already. 1, 0, or -1 with err set. */
static int already_present(Collect *c, const char *hash, R1Err *err) {
    sqlite3_stmt *st = c->exists;
    sqlite3_reset(st);
    sqlite3_bind_text(st, 2, hash, 16, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return r1_db_fail(&c->db, "looking up a sample", err);
    sqlite3_reset(st); /* no read left open when the transaction ends */
    return rc == SQLITE_ROW;
}

/* kind (1) is bound once; a failed CHECK is an error that undoes the whole run. */
static int insert_sample(Collect *c, long long rollout_id, const Sample *s, R1Err *err) {
    char source[40];
    snprintf(source, sizeof source, "rollout:%lld", rollout_id);
    sqlite3_stmt *st = c->insert;
    sqlite3_reset(st);
    sqlite3_bind_text(st, 2, s->prompt, (int)s->prompt_len, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, s->response, (int)s->response_len, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, s->messages, (int)s->messages_len, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, source, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 6, s->hash, 16, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_DONE) return 0;
    return r1_db_fail(&c->db, "inserting a sample", err);
}

/* A response that passed the filters: a duplicate, over the limit, present, or new. */
static int keep(Collect *c, const Rollout *r, const char *resp, size_t resp_len, R1Err *err) {
    /* valid UTF-8, as the rollouts' text is, so that the columns and the JSON agree */
    Sample s = {.response = resp, .response_len = resp_len};
    s.prompt = r1_utf8_lossy(r->question, strlen(r->question), &s.prompt_len);
    s.messages = sft_messages(c->o->system, s.prompt, s.prompt_len, s.response, s.response_len,
                              &s.messages_len, s.hash);
    uint64_t kept = 0;
    r1_u64map_get(&c->per_prompt, (uint64_t)r->prompt_id, &kept);
    int rc = 0, kept_now = 0;
    if (r1_strmap_get(&c->seen, s.hash, 16) >= 0)
        c->duplicate++;
    else if (c->o->max_per_prompt && (long)kept >= c->o->max_per_prompt)
        c->over_limit++;
    else if ((rc = already_present(c, s.hash, err)) == 1)
        c->present++, rc = 0, kept_now = 1;
    else if (rc == 0 && (c->o->dry_run || (rc = insert_sample(c, r->id, &s, err)) == 0))
        c->collected++, kept_now = 1;
    /* a sample kept, new or already present, counts towards its prompt's limit */
    if (kept_now) {
        r1_strmap_put(&c->seen, s.hash, 16, 1);
        r1_u64map_put(&c->per_prompt, (uint64_t)r->prompt_id, kept + 1);
    }
    free(s.messages);
    free(s.prompt);
    return rc;
}

static int collect_row(Collect *c, sqlite3_stmt *st, R1Err *err) {
    Rollout r;
    read_rollout(st, &r);
    long step = (long)sqlite3_column_int64(st, C_STEP);
    if (c->rollouts++ == 0) c->first_step = step;
    c->last_step = step;
    size_t len;
    char *resp = make_response(&r, &len);
    int f = first_failure(c->o, c->rw, &r, resp, len), rc = 0;
    if (f >= 0)
        c->dropped[f]++;
    else if (memchr(resp, 0, len))
        c->nul++;
    else
        rc = keep(c, &r, resp, len, err);
    free(resp);
    return rc;
}

/* The rollouts of the stage in [?2, ?3], in the order --max-per-prompt keeps
 * them: by step, then sample. The prompts table's foreign key keeps every
 * rollout's prompt. */
#define SELECTED                                                                                   \
    "FROM rollouts r JOIN prompts p ON p.id = r.prompt_id "                                        \
    "WHERE r.stage = ?1 AND r.step BETWEEN ?2 AND ?3"

static sqlite3_stmt *select_rollouts(Collect *c, const char *sql, R1Err *err) {
    sqlite3_stmt *st = r1_db_prepare(&c->db, sql, err);
    if (!st) return NULL;
    sqlite3_bind_text(st, 1, r1_rows_stage(c->o->stage), -1, SQLITE_STATIC);
    const sqlite3_int64 all = (sqlite3_int64)1 << 62; /* no bound: every step */
    sqlite3_bind_int64(st, 2, c->o->have_from ? c->o->from : -all);
    sqlite3_bind_int64(st, 3, c->o->have_to ? c->o->to : all);
    return st;
}

/* "steps 2-5", "any step", ... : the range asked for, for the error message. */
static void asked_range(const CollectOpts *o, char *out, size_t cap) {
    if (o->have_from && o->have_to && o->from == o->to)
        snprintf(out, cap, "step %ld", o->from);
    else if (o->have_from && o->have_to)
        snprintf(out, cap, "steps %ld-%ld", o->from, o->to);
    else if (o->have_from)
        snprintf(out, cap, "steps %ld and later", o->from);
    else if (o->have_to)
        snprintf(out, cap, "steps up to %ld", o->to);
    else
        snprintf(out, cap, "any step");
}

static long count_rollouts(Collect *c, R1Err *err) {
    sqlite3_stmt *st = select_rollouts(c, "SELECT COUNT(*) " SELECTED, err);
    if (!st) return -1;
    long n = sqlite3_step(st) == SQLITE_ROW ? (long)sqlite3_column_int64(st, 0) : -1;
    if (n < 0) r1_db_fail(&c->db, "counting rollouts", err);
    sqlite3_finalize(st);
    if (n == 0) {
        char range[96];
        asked_range(c->o, range, sizeof range);
        r1_seterr(err, "%s has no rollouts of stage %s at %s", c->db.path,
                  r1_rows_stage(c->o->stage), range);
    }
    return n > 0 ? n : -1;
}

static int prepare(Collect *c, R1Err *err) {
    c->exists = r1_db_prepare(
        &c->db, "SELECT 1 FROM sft_samples WHERE kind = ?1 AND content_hash = ?2", err);
    if (!c->exists) return -1;
    sqlite3_bind_text(c->exists, 1, c->o->kind, -1, SQLITE_STATIC);
    if (c->o->dry_run) return 0;
    /* no ON CONFLICT: a sample is looked up first, so any refusal is an error */
    c->insert = r1_db_prepare(&c->db,
                              "INSERT INTO sft_samples (kind, prompt, response, messages, "
                              "source, content_hash) VALUES (?, ?, ?, ?, ?, ?)",
                              err);
    if (!c->insert) return -1;
    sqlite3_bind_text(c->insert, 1, c->o->kind, -1, SQLITE_STATIC);
    return 0;
}

static int collect_rows(Collect *c, long total, R1Err *err) {
    sqlite3_stmt *st =
        select_rollouts(c,
                        "SELECT r.id, r.step, r.prompt_id, r.text, r.finish_reason, "
                        "r.n_tokens, r.template, r.prefill, p.question, p.answer, "
                        "p.meta " SELECTED " ORDER BY r.step, r.prompt_id, r.sample, r.id",
                        err);
    if (!st) return -1;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (collect_row(c, st, err)) break;
        progress_update(&c->prog, c->rollouts, total);
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) r1_db_fail(&c->db, "reading rollouts", err);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* Everything in one transaction; a dry run reads in one too (a consistent view)
 * and rolls it back. */
static int collect_all(Collect *c, R1Err *err) {
    int dry = c->o->dry_run;
    int rc = dry ? r1_db_exec(&c->db, "BEGIN", err) : r1_db_begin(&c->db, err);
    if (rc) return -1;
    long total = count_rollouts(c, err);
    if (total < 0 || prepare(c, err) || collect_rows(c, total, err) ||
        (!dry && r1_db_commit(&c->db, err)))
        rc = -1;
    progress_done(&c->prog);
    if (rc || dry) r1_db_rollback(&c->db);
    return rc;
}

/* ---- the summary ------------------------------------------------------------------------ */

static void print_text(const Collect *c) {
    const CollectOpts *o = c->o;
    char steps[64];
    if (c->first_step == c->last_step)
        snprintf(steps, sizeof steps, "step %ld", c->first_step);
    else
        snprintf(steps, sizeof steps, "steps %ld-%ld", c->first_step, c->last_step);
    printf("%s %ld samples of kind %s from %ld rollouts (stage %s, %s); already present %ld; "
           "dropped:",
           o->dry_run ? "would collect" : "collected", c->collected, o->kind, c->rollouts,
           r1_rows_stage(o->stage), steps, c->present);
    for (int i = 0; i < o->n_filters; i++)
        printf(" %s %ld,", FILTERS[o->filters[i]].reason, c->dropped[o->filters[i]]);
    if (c->nul) printf(" NUL character %ld,", c->nul);
    printf(" duplicate %ld, over the per-prompt limit %ld%s\n", c->duplicate, c->over_limit,
           o->dry_run ? " (dry run: nothing written)" : "");
}

static void print_json(const Collect *c) {
    const CollectOpts *o = c->o;
    char *stage = NULL;
    size_t len = 0, cap = 0;
    const char *s = r1_rows_stage(o->stage);
    r1_json_string_write(s, strlen(s), &stage, &len, &cap);
    printf("{\"kind\":\"%s\",\"stage\":%.*s,\"from_step\":%ld,\"to_step\":%ld,\"rollouts\":%ld,"
           "\"collected\":%ld,\"already_present\":%ld,\"dry_run\":%s,\"dropped\":{",
           o->kind, (int)len, stage, c->first_step, c->last_step, c->rollouts, c->collected,
           c->present, o->dry_run ? "true" : "false");
    for (int i = 0; i < o->n_filters; i++)
        printf("\"%s\":%ld,", FILTERS[o->filters[i]].key, c->dropped[o->filters[i]]);
    printf("\"nul\":%ld,\"duplicate\":%ld,\"over_limit\":%ld}}\n", c->nul, c->duplicate,
           c->over_limit);
    free(stage);
}

int cmd_collect(int argc, char **argv) {
    CollectOpts o;
    int rc = parse_opts(&o, argc, argv);
    if (rc) return rc < 0 ? 0 : rc; /* -1: --help */
    if ((rc = check_opts(&o))) return rc;
    R1Rewarder *rw = make_rewarder(&o);
    if (!rw) return 2;
    Collect c = {.o = &o, .rw = rw};
    if (data_open_existing(&c.db, o.db)) return r1_rewarder_free(rw), 1;
    r1_strmap_init(&c.seen);
    r1_u64map_init(&c.per_prompt);
    progress_init(&c.prog, "collect: rollouts", o.quiet);
    R1Err err;
    rc = collect_all(&c, &err);
    sqlite3_finalize(c.exists);
    sqlite3_finalize(c.insert);
    if (rc)
        fprintf(stderr, "%s: %s\n", WHO, err.msg);
    else if (o.json && !o.quiet)
        print_json(&c);
    else if (!o.quiet)
        print_text(&c);
    r1_strmap_free(&c.seen);
    r1_u64map_free(&c.per_prompt);
    r1_db_close(&c.db);
    r1_rewarder_free(rw);
    return rc ? 1 : 0;
}
