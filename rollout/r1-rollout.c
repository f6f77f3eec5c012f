/* r1-rollout - sample G completions for each of K prompts of a step into the
 * run database (see --help and README). Exit status: 0 done (or nothing to
 * do), 1 failed (message on stderr, nothing written), 2 bad usage. */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "args.h"
#include "gpu.h"
#include "policy.h"
#include "progress.h"
#include "rollout.h"
#include "trainer.h"

static const char *WHO = "r1-rollout";

static const char *USAGE =
    "usage: r1-rollout --db DB --model DIR --step N --prompts K --group G [options]\n"
    "  samples G completions for each of K prompts of the split; one rollouts row each\n"
    "  --stage NAME         the phase the rows belong to (rollouts.stage, default rl;\n"
    "                       steps count inside it); its metrics are recorded under it\n"
    "  --split S            prompts of this split (default train)\n"
    "  --dataset D          only prompts of this dataset\n"
    "  --template NAME      deepseek-r1, qwen2.5, chatml or r1-zero (default: the model's own)\n"
    "  --system TEXT        a system message before the question\n"
    "  --tokenizer DIR      tokenizer.json from DIR instead of the model's directory\n"
    "  --temperature T      default 1.0; 0 is greedy\n"
    "  --top-p P            nucleus sampling (default 1: off)\n"
    "  --top-k K            keep the K most likely tokens (default 0: off)\n"
    "  --max-new-tokens M   completion limit (default 1024)\n"
    "  --stop STR           end a completion when its text contains STR (repeatable;\n"
    "                       \\n, \\t and \\\\ are understood)\n"
    "  --seed S             default 0; the same seed gives the same rollouts\n"
    "  --batch B            sequences decoded together (default 64); on the CPU results\n"
    "                       do not depend on it\n"
    "  --device D           cpu (default) or cuda: decode on the first NVIDIA GPU\n"
    "                       (reproducible for the same seed and --batch on one GPU)\n"
    "  --force              redo the step even when it is complete\n"
    "  --quiet              no progress; --json: the summary as one JSON line\n"
    "A step that already holds these K x G rollouts is left alone (whatever the other\n"
    "options; --force redoes it); any other rows of the step (a partial or different\n"
    "run) are replaced, with their rewards.\n";

#define MAX_STOP 16

typedef struct {
    const char *db, *model, *split, *dataset, *tpl, *system, *tokenizer, *stage;
    long step, K, G, max_new, top_k, batch;
    double temperature, top_p;
    unsigned long long seed;
    char *stop[MAX_STOP];
    int n_stop, quiet, json, force;
    R1Device device;
    R1Dist *dist; /* under mpirun: each rank samples a share of the prompts */
} Args;

/* "\n", "\t", "\\" in a stop string become the characters. */
static char *unescape(const char *s) {
    char *out = r1_xmalloc(strlen(s) + 1), *o = out;
    for (; *s; s++) {
        if (*s == '\\' && (s[1] == 'n' || s[1] == 't' || s[1] == '\\')) {
            s++;
            *o++ = *s == 'n' ? '\n' : *s == 't' ? '\t' : '\\';
        } else {
            *o++ = *s;
        }
    }
    *o = 0;
    return out;
}

/* One option with a value; returns 0 taken, -1 bad value, 1 unknown flag. */
static int take(Args *a, const char *f, const char *v) {
    const char **str[] = {&a->db,  &a->model,  &a->split,     &a->dataset,
                          &a->tpl, &a->system, &a->tokenizer, &a->stage};
    const char *str_names[] = {"--db",       "--model",  "--split",     "--dataset",
                               "--template", "--system", "--tokenizer", "--stage"};
    for (int i = 0; i < 8; i++)
        if (!strcmp(f, str_names[i])) return *str[i] = v, 0;
    struct {
        const char *name;
        long *out, lo, hi;
    } ints[] = {{"--step", &a->step, 0, LONG_MAX / 2 / INT_MAX},
                {"--prompts", &a->K, 1, 1 << 20},
                {"--group", &a->G, 1, 1 << 16},
                {"--max-new-tokens", &a->max_new, 1, 1 << 24},
                {"--top-k", &a->top_k, 0, INT_MAX},
                {"--batch", &a->batch, 1, 1 << 16}};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
        if (!strcmp(f, ints[i].name))
            return r1_arg_long(WHO, f, v, ints[i].lo, ints[i].hi, ints[i].out);
    if (!strcmp(f, "--temperature")) return r1_arg_double(WHO, f, v, 0, 100, &a->temperature);
    if (!strcmp(f, "--top-p")) return r1_arg_double(WHO, f, v, 1e-9, 1, &a->top_p);
    if (!strcmp(f, "--seed")) return r1_arg_seed(WHO, f, v, &a->seed);
    if (!strcmp(f, "--device")) {
        R1Err e;
        if (r1_device_parse(v, &a->device, &e)) return fprintf(stderr, "%s: %s\n", WHO, e.msg), -1;
        return 0;
    }
    if (!strcmp(f, "--stop")) {
        if (a->n_stop == MAX_STOP)
            return fprintf(stderr, "%s: at most %d --stop strings\n", WHO, MAX_STOP), -1;
        if (!*v) return fprintf(stderr, "%s: --stop needs a non-empty string\n", WHO), -1;
        return a->stop[a->n_stop++] = unescape(v), 0;
    }
    return 1;
}

/* Returns 0, -1 after --help, or the exit status of a failed parse. */
static int parse_args(Args *a, int argc, char **argv) {
    memset(a, 0, sizeof *a);
    a->split = "train", a->step = -1, a->max_new = 1024, a->batch = 64;
    a->temperature = 1.0, a->top_p = 1.0;
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        if (!strcmp(f, "--help") || !strcmp(f, "-h")) return fputs(USAGE, stdout), -1;
        if (!strcmp(f, "--quiet")) {
            a->quiet = 1;
            continue;
        }
        if (!strcmp(f, "--json")) {
            a->json = 1;
            continue;
        }
        if (!strcmp(f, "--force")) {
            a->force = 1;
            continue;
        }
        int rc = i + 1 < argc ? take(a, f, argv[i + 1]) : 1;
        if (rc < 0) return 2;
        if (rc > 0)
            return fprintf(stderr, "%s: unknown option %s%s\n%s", WHO, f,
                           i + 1 < argc ? "" : " (or it needs a value)", USAGE),
                   2;
        i++;
    }
    if (!a->db || !a->model || a->step < 0 || !a->K || !a->G)
        return fprintf(stderr, "%s: needs --db, --model, --step, --prompts and --group\n%s", WHO,
                       USAGE),
               2;
    return 0;
}

/* ---- the run ------------------------------------------------------------------------------ */

typedef struct {
    Progress p;
    long done, total, tokens;
} Watch;

static void on_token(void *ctx, const R1Completion *c, const char *t, size_t n, int finished) {
    (void)c, (void)t, (void)n;
    Watch *w = ctx;
    w->tokens++;
    w->done += finished;
    progress_update(&w->p, w->done, w->total);
}

static int refuse(const char *msg) {
    fprintf(stderr, "%s: %s\n", WHO, msg);
    return 1;
}

/* Prompt token ids of every prompt; refuses one the context cannot continue. */
static int render(R1Policy *pol, const Args *a, const RolloutPrompt *p, R1Ids *ids, R1Err *err) {
    int ctx = pol->model.cfg.max_pos;
    for (int j = 0; j < a->K; j++) {
        if (r1_policy_prompt(pol, a->system, p[j].question, &ids[j], err)) {
            char tmp[sizeof err->msg];
            snprintf(tmp, sizeof tmp, "%s", err->msg);
            return r1_seterr(err, "prompt %lld: %s", (long long)p[j].id, tmp);
        }
        if (ids[j].n >= ctx)
            return r1_seterr(err,
                             "prompt %lld is %d tokens with the %s template, but the model's "
                             "context (max_position_embeddings) is %d: nothing can be generated",
                             (long long)p[j].id, ids[j].n, r1_template_name(pol->tpl), ctx);
    }
    return 0;
}

static int check_memory(const R1Policy *pol, const R1GenRequest *req, const R1GenOpts *o,
                        R1Err *err) {
    const R1Config *c = &pol->model.cfg;
    size_t need = r1_generate_cache_bytes(c, req, o);
    size_t logits = 3 * sizeof(float) * (size_t)c->vocab * (size_t)o->batch;
    size_t avail = r1_mem_available();
    if (avail == 0 || need + logits <= avail / 10 * 9) return 0;
    int longest = 0;
    for (int p = 0; p < req->n_prompts; p++)
        longest = req->lens[p] > longest ? req->lens[p] : longest;
    return r1_seterr(err,
                     "the KV cache needs %.2f GiB (%d sequences decoded together, up to %d new "
                     "tokens each after prompts of up to %d tokens) but %.2f GiB of memory is "
                     "available: lower --batch or --max-new-tokens",
                     (double)(need + logits) / (1 << 30), o->batch, o->max_new, longest,
                     (double)avail / (1 << 30));
}

static void report(const Args *a, const RolloutStats *s, double secs) {
    if (a->json) {
        printf("{\"step\":%ld,\"prompts\":%ld,\"group\":%ld,\"completions\":%ld,\"tokens\":%ld,"
               "\"completion_len_mean\":%.3f,\"completion_len_max\":%ld,\"truncated_frac\":%.4f,"
               "\"tokens_per_s\":%.1f,\"seconds\":%.3f,\"device\":\"%s\",\"skipped\":false}\n",
               a->step, a->K, a->G, a->K * a->G, s->tokens, s->len_mean, s->len_max,
               s->truncated_frac, s->tokens_per_s, secs,
               a->device == R1_DEVICE_CUDA ? "cuda" : "cpu");
        return;
    }
    printf("step %ld: %ld prompts x %ld = %ld completions, %ld tokens in %.1f s (%.0f tokens/s); "
           "length mean %.1f, max %ld; %.1f%% cut at the limit\n",
           a->step, a->K, a->G, a->K * a->G, s->tokens, secs, s->tokens_per_s, s->len_mean,
           s->len_max, 100.0 * s->truncated_frac);
}

/* ---- several ranks ---------------------------------------------------------------- */

/* One completion as bytes: prompt, sample, n, stopped, text length, then the
 * ids, log-probabilities and text. */
static void put(char **buf, size_t *len, size_t *cap, const void *x, size_t n) {
    if (*len + n > *cap) *buf = r1_xrealloc(*buf, *cap = 2 * (*len + n) + 64);
    memcpy(*buf + *len, x, n);
    *len += n;
}

static char *pack_completions(const R1Completion *c, int n, int first_prompt, size_t *len) {
    char *buf = NULL;
    size_t cap = 0;
    *len = 0;
    for (int i = 0; i < n; i++) {
        int32_t h[4] = {c[i].prompt + first_prompt, c[i].sample, c[i].n, c[i].stopped};
        uint64_t tl = c[i].text_len;
        put(&buf, len, &cap, h, sizeof h);
        put(&buf, len, &cap, &tl, sizeof tl);
        put(&buf, len, &cap, c[i].ids, sizeof(int) * (size_t)c[i].n);
        put(&buf, len, &cap, c[i].logprobs, sizeof(float) * (size_t)c[i].n);
        put(&buf, len, &cap, c[i].text, tl);
    }
    return buf;
}

/* Rank 0: the gathered completions into their places c[prompt * G + sample]. */
static void unpack_completions(const char *buf, size_t len, R1Completion *c, int G) {
    for (size_t at = 0; at < len;) {
        int32_t h[4];
        uint64_t tl;
        memcpy(h, buf + at, sizeof h), at += sizeof h;
        memcpy(&tl, buf + at, sizeof tl), at += sizeof tl;
        R1Completion *o = &c[h[0] * G + h[1]];
        o->prompt = h[0], o->sample = h[1], o->n = h[2], o->stopped = h[3];
        o->ids = r1_xmalloc(sizeof(int) * (size_t)(o->n + 1));
        o->logprobs = r1_xmalloc(sizeof(float) * (size_t)(o->n + 1));
        memcpy(o->ids, buf + at, sizeof(int) * (size_t)o->n), at += sizeof(int) * (size_t)o->n;
        memcpy(o->logprobs, buf + at, sizeof(float) * (size_t)o->n);
        at += sizeof(float) * (size_t)o->n;
        o->text = r1_xmalloc(tl + 1), o->text_len = tl;
        memcpy(o->text, buf + at, tl), o->text[tl] = 0, at += tl;
    }
}

/* Every rank's completions of its prompts [lo, hi) (in mine) to rank 0's c. */
static void collect(Args *a, R1Completion *mine, int n_mine, int lo, R1Completion *c) {
    size_t len, *counts = r1_xmalloc(sizeof(size_t) * (size_t)a->dist->size), total = 0;
    char *buf = pack_completions(mine, n_mine, lo, &len);
    r1_dist_fault(a->dist, "rollout-gather");
    char *all = r1_dist_gather(a->dist, buf, len, counts);
    for (int r = 0; all && r < a->dist->size; r++) total += counts[r];
    if (all) unpack_completions(all, total, c, (int)a->G);
    free(all), free(buf), free(counts);
}

/* gpu: the policy on the GPU (--device cuda), else NULL. */
static int generate_and_store(R1Db *db, R1Policy *pol, R1Gpu *gpu, Args *a, const RolloutPrompt *p,
                              R1Err *err) {
    R1Ids *ids = r1_xcalloc((size_t)a->K, sizeof *ids);
    int **pid = r1_xmalloc(sizeof(int *) * (size_t)a->K), *lens = r1_xmalloc(sizeof(int) * a->K);
    int64_t *keys = r1_xmalloc(sizeof(int64_t) * (size_t)a->K);
    R1Completion *c = r1_xcalloc((size_t)(a->K * a->G), sizeof *c);
    int rc = render(pol, a, p, ids, err);
    for (int j = 0; j < a->K; j++) pid[j] = ids[j].ids, lens[j] = ids[j].n, keys[j] = p[j].id;
    /* this rank's prompts: the streams are per sequence, so the share changes nothing */
    size_t lo, hi;
    r1_dist_share((size_t)a->K, a->dist->size, a->dist->rank, &lo, &hi);
    int many = a->dist->size > 1;
    R1Completion *mine = many ? r1_xcalloc((hi - lo) * (size_t)a->G + 1, sizeof *mine) : c;
    R1GenRequest req = {(int)(hi - lo), (int)a->G, (const int *const *)pid + lo, lens + lo,
                        keys + lo};
    R1GenOpts o = {.sample = {(float)a->temperature, (float)a->top_p, (int)a->top_k},
                   .max_new = (int)a->max_new,
                   .stop = (const char *const *)a->stop,
                   .n_stop = a->n_stop,
                   .eos = pol->eos,
                   .n_eos = pol->n_eos,
                   .seed = a->seed,
                   .step = a->step,
                   .batch = (int)a->batch,
                   .prefill_tokens = 0,
                   .gpu = gpu};
    if (o.batch > req.n_prompts * a->G) o.batch = (int)(req.n_prompts * a->G);
    if (o.batch < 1) o.batch = 1;
    if (rc == 0 && !gpu) rc = check_memory(pol, &req, &o, err); /* the GPU's cache is its own */
    Watch w = {.total = req.n_prompts * a->G};
    progress_init(&w.p, "rollout", a->quiet || a->json || a->dist->rank != 0);
    double t0 = r1_now();
    if (rc == 0 && req.n_prompts > 0)
        rc = r1_generate(&pol->model, pol->tok, &req, &o, mine, on_token, &w, err);
    progress_done(&w.p);
    if (many && r1_dist_any(a->dist, rc) && rc == 0) rc = r1_seterr(err, "another rank failed");
    if (many && rc == 0) collect(a, mine, req.n_prompts * (int)a->G, (int)lo, c);
    double secs = r1_now() - t0;
    if (rc == 0 && a->dist->rank == 0) {
        char *real = realpath(a->model, NULL);
        RolloutResult res = {a->stage,
                             a->step,
                             real ? real : a->model,
                             r1_template_name(pol->tpl),
                             r1_template_prefill(pol->tpl),
                             p,
                             (const int *const *)pid,
                             lens,
                             c,
                             (int)a->K,
                             (int)a->G,
                             (int)a->max_new,
                             a->temperature,
                             secs,
                             a->device};
        RolloutStats s;
        rollout_stats(&res, &s);
        rc = rollout_store(db, &res, &s, err);
        if (rc == 0) report(a, &s, secs);
        free(real);
    }
    for (int q = 0; q < a->K * a->G; q++) r1_completion_free(&c[q]);
    for (int q = 0; many && q < req.n_prompts * a->G; q++) r1_completion_free(&mine[q]);
    if (many) free(mine);
    for (int j = 0; j < a->K; j++) r1_ids_free(&ids[j]);
    free(c), free(ids), free(pid), free(lens), free(keys);
    return rc;
}

static int run(Args *a) {
    R1Err err = {{0}};
    if (access(a->db, F_OK) != 0) {
        fprintf(stderr,
                "%s: %s: no such database (create it with r1-data init and import "
                "prompts)\n",
                WHO, a->db);
        return 1;
    }
    R1Db db;
    if (r1_dist_db_open(a->dist, &db, a->db, &err)) return refuse(err.msg);
    RolloutPrompt *p = NULL;
    int rc = rollout_select(&db, a->split, a->dataset, a->step, (int)a->K, a->seed, &p, &err);
    int done =
        rc == 0 ? rollout_step_complete(&db, a->stage, a->step, p, (int)a->K, (int)a->G, &err) : -1;
    if (done == 1 && a->force) done = 0;
    if (done == 1) {
        if (a->json && a->dist->rank == 0)
            printf("{\"step\":%ld,\"completions\":%ld,\"skipped\":true}\n", a->step, a->K * a->G);
        else if (!a->quiet && a->dist->rank == 0)
            printf("step %ld already holds its %ld x %ld rollouts; nothing to do\n", a->step, a->K,
                   a->G);
    } else if (done == 0) {
        R1Policy pol;
        rc = r1_policy_load(&pol, a->model, a->tokenizer, a->tpl, &err);
        if (rc == 0) {
            R1Gpu *gpu = NULL;
            if (a->device == R1_DEVICE_CUDA &&
                !(gpu = r1_trainer_gpu_new(a->dist, &pol.model, 0, &err)))
                rc = -1;
            if (rc == 0) rc = generate_and_store(&db, &pol, gpu, a, p, &err);
            if (gpu) r1_gpu_free(gpu);
            r1_policy_free(&pol);
        }
    }
    if (done < 0 || rc) r1_dist_error(a->dist, WHO, err.msg);
    rollout_prompts_free(p, (int)a->K);
    r1_db_close(&db);
    return done < 0 || rc ? 1 : 0;
}

int main(int argc, char **argv) {
    R1Dist dist;
    R1Err err = {{0}};
    if (r1_dist_init(&dist, &argc, &argv, &err)) {
        fprintf(stderr, "%s: %s\n", WHO, err.msg);
        return 1;
    }
    Args a;
    int rc = parse_args(&a, argc, argv);
    a.dist = &dist;
    if (rc == 0) rc = run(&a);
    for (int i = 0; i < a.n_stop; i++) free(a.stop[i]);
    return r1_dist_end(&dist, rc < 0 ? 0 : rc);
}
