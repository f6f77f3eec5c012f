/* r1-rollout - sample G completions for each of K prompts of a step into the
 * run database (see --help and README). Exit status: 0 done (or nothing to
 * do), 1 failed (message on stderr, nothing written), 2 bad usage. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "args.h"
#include "gpu.h"
#include "policy.h"
#include "progress.h"
#include "rollout.h"

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

/* gpu: the policy on the GPU (--device cuda), else NULL. */
static int generate_and_store(R1Db *db, R1Policy *pol, R1Gpu *gpu, const Args *a,
                              const RolloutPrompt *p, R1Err *err) {
    R1Ids *ids = r1_xcalloc((size_t)a->K, sizeof *ids);
    int **pid = r1_xmalloc(sizeof(int *) * (size_t)a->K), *lens = r1_xmalloc(sizeof(int) * a->K);
    int64_t *keys = r1_xmalloc(sizeof(int64_t) * (size_t)a->K);
    R1Completion *c = r1_xcalloc((size_t)(a->K * a->G), sizeof *c);
    int rc = render(pol, a, p, ids, err);
    for (int j = 0; j < a->K; j++) pid[j] = ids[j].ids, lens[j] = ids[j].n, keys[j] = p[j].id;
    R1GenRequest req = {(int)a->K, (int)a->G, (const int *const *)pid, lens, keys};
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
    if (o.batch > a->K * a->G) o.batch = (int)(a->K * a->G);
    if (rc == 0 && !gpu) rc = check_memory(pol, &req, &o, err); /* the GPU's cache is its own */
    Watch w = {.total = a->K * a->G};
    progress_init(&w.p, "rollout", a->quiet || a->json);
    double t0 = r1_now();
    if (rc == 0) rc = r1_generate(&pol->model, pol->tok, &req, &o, c, on_token, &w, err);
    double secs = r1_now() - t0;
    progress_done(&w.p);
    if (rc == 0) {
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
    for (int j = 0; j < a->K; j++) r1_ids_free(&ids[j]);
    free(c), free(ids), free(pid), free(lens), free(keys);
    return rc;
}

static int run(const Args *a) {
    R1Err err = {{0}};
    if (access(a->db, F_OK) != 0) {
        fprintf(stderr,
                "%s: %s: no such database (create it with r1-data init and import "
                "prompts)\n",
                WHO, a->db);
        return 1;
    }
    R1Db db;
    if (r1_db_open(&db, a->db, &err)) return refuse(err.msg);
    RolloutPrompt *p = NULL;
    int rc = rollout_select(&db, a->split, a->dataset, a->step, (int)a->K, a->seed, &p, &err);
    int done =
        rc == 0 ? rollout_step_complete(&db, a->stage, a->step, p, (int)a->K, (int)a->G, &err) : -1;
    if (done == 1 && a->force) done = 0;
    if (done == 1) {
        if (a->json)
            printf("{\"step\":%ld,\"completions\":%ld,\"skipped\":true}\n", a->step, a->K * a->G);
        else if (!a->quiet)
            printf("step %ld already holds its %ld x %ld rollouts; nothing to do\n", a->step, a->K,
                   a->G);
    } else if (done == 0) {
        R1Policy pol;
        rc = r1_policy_load(&pol, a->model, a->tokenizer, a->tpl, &err);
        if (rc == 0) {
            R1Gpu *gpu = NULL;
            if (a->device == R1_DEVICE_CUDA && !(gpu = r1_gpu_new(&pol.model, 0, &err))) rc = -1;
            if (rc == 0) rc = generate_and_store(&db, &pol, gpu, a, p, &err);
            if (gpu) r1_gpu_free(gpu);
            r1_policy_free(&pol);
        }
    }
    if (done < 0 || rc) fprintf(stderr, "%s: %s\n", WHO, err.msg);
    rollout_prompts_free(p, (int)a->K);
    r1_db_close(&db);
    return done < 0 || rc ? 1 : 0;
}

int main(int argc, char **argv) {
    Args a;
    int rc = parse_args(&a, argc, argv);
    if (rc == 0) rc = run(&a);
    for (int i = 0; i < a.n_stop; i++) free(a.stop[i]);
    return rc < 0 ? 0 : rc;
}
