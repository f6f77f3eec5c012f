/* cmd_generate.c - `r1-model generate`: one completion streamed to the
 * terminal, for a person trying a model. The same sampler and KV-cache
 * decoder as bin/r1-rollout, with one sequence. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "args.h"
#include "cmds.h"
#include "generate.h"
#include "gpu.h"
#include "policy.h"

static const char *USAGE =
    "usage: r1-model generate --model DIR --prompt TEXT [options]\n"
    "  renders TEXT as a user message with the chat template and streams the reply\n"
    "  --template NAME      deepseek-r1, qwen2.5, chatml or r1-zero (default: the model's own)\n"
    "  --system TEXT        a system message first\n"
    "  --raw                use TEXT as the whole prompt, no template\n"
    "  --tokenizer DIR      tokenizer.json from DIR instead of the model's directory\n"
    "  --temperature T      default 0.6 (DeepSeek-R1's recommendation); 0 is greedy\n"
    "  --top-p P            default 0.95; --top-k K default 0 (off)\n"
    "  --max-new-tokens M   default 512\n"
    "  --stop STR           also stop when the text contains STR (repeatable)\n"
    "  --seed S             default 0\n"
    "  --device D           cpu (default) or cuda: decode on the first NVIDIA GPU\n"
    "The reply goes to stdout as it is generated; a summary line to stderr.\n";

typedef struct {
    const char *model, *prompt, *tpl, *system, *tokenizer;
    const char *stop[16];
    int n_stop, raw;
    double temperature, top_p;
    long top_k, max_new;
    unsigned long long seed;
    R1Device device;
} GenArgs;

static const char *WHO = "r1-model generate";

static int gen_parse(GenArgs *a, int argc, char **argv) {
    memset(a, 0, sizeof *a);
    a->temperature = 0.6, a->top_p = 0.95, a->max_new = 512;
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int rc = 0;
        if (!strcmp(f, "--help") || !strcmp(f, "-h")) return fputs(USAGE, stdout), -1;
        if (!strcmp(f, "--raw")) {
            a->raw = 1;
            continue;
        }
        if (!v) return fprintf(stderr, "r1-model generate: %s needs a value\n%s", f, USAGE), 2;
        if (!strcmp(f, "--model"))
            a->model = v;
        else if (!strcmp(f, "--prompt"))
            a->prompt = v;
        else if (!strcmp(f, "--template"))
            a->tpl = v;
        else if (!strcmp(f, "--system"))
            a->system = v;
        else if (!strcmp(f, "--tokenizer"))
            a->tokenizer = v;
        else if (!strcmp(f, "--temperature"))
            rc = r1_arg_double(WHO, f, v, 0, 100, &a->temperature);
        else if (!strcmp(f, "--top-p"))
            rc = r1_arg_double(WHO, f, v, 1e-9, 1, &a->top_p);
        else if (!strcmp(f, "--top-k"))
            rc = r1_arg_long(WHO, f, v, 0, 1000000000, &a->top_k);
        else if (!strcmp(f, "--max-new-tokens"))
            rc = r1_arg_long(WHO, f, v, 1, 1 << 24, &a->max_new);
        else if (!strcmp(f, "--seed"))
            rc = r1_arg_seed(WHO, f, v, &a->seed);
        else if (!strcmp(f, "--stop") && a->n_stop < 16 && *v)
            a->stop[a->n_stop++] = v;
        else if (!strcmp(f, "--device")) {
            R1Err e;
            if (r1_device_parse(v, &a->device, &e))
                return fprintf(stderr, "%s: %s\n", WHO, e.msg), 2;
        } else
            return fprintf(stderr, "r1-model generate: unknown option %s\n%s", f, USAGE), 2;
        if (rc) return 2;
        i++;
    }
    if (!a->model || !a->prompt)
        return fprintf(stderr, "r1-model generate: needs --model and --prompt\n%s", USAGE), 2;
    return 0;
}

static void stream(void *ctx, const R1Completion *c, const char *text, size_t n, int finished) {
    (void)ctx, (void)c, (void)finished;
    fwrite(text, 1, n, stdout);
    fflush(stdout);
}

/* gpu: the model on the GPU (--device cuda), else NULL. */
static int generate(R1Policy *pol, R1Gpu *gpu, const GenArgs *a, R1Err *err) {
    R1Ids ids = {0};
    int rc = a->raw ? r1_tok_encode(pol->tok, a->prompt, strlen(a->prompt), &ids, err)
                    : r1_policy_prompt(pol, a->system, a->prompt, &ids, err);
    if (rc == 0 && ids.n == 0) rc = r1_seterr(err, "the prompt is empty");
    if (rc) {
        r1_ids_free(&ids);
        return -1;
    }
    int64_t key = 0;
    const int *pid = ids.ids;
    R1GenRequest req = {1, 1, &pid, &ids.n, &key};
    R1GenOpts o;
    memset(&o, 0, sizeof o);
    o.sample.temperature = (float)a->temperature, o.sample.top_p = (float)a->top_p;
    o.sample.top_k = (int)a->top_k, o.max_new = (int)a->max_new;
    o.stop = a->stop, o.n_stop = a->n_stop, o.eos = pol->eos, o.n_eos = pol->n_eos;
    o.seed = (uint64_t)a->seed, o.batch = 1, o.gpu = gpu;
    R1Completion c;
    double t0 = r1_now();
    rc = r1_generate(&pol->model, pol->tok, &req, &o, &c, stream, NULL, err);
    double secs = r1_now() - t0;
    if (rc == 0) {
        printf("\n");
        fprintf(stderr, "[%d prompt + %d new tokens, %.1f tokens/s, %s]\n", ids.n, c.n,
                secs > 0 ? c.n / secs : 0.0, c.stopped ? "stop" : "length");
        r1_completion_free(&c);
    }
    r1_ids_free(&ids);
    return rc;
}

int cmd_generate(int argc, char **argv) {
    GenArgs a;
    int rc = gen_parse(&a, argc, argv);
    if (rc) return rc < 0 ? 0 : rc;
    R1Err err = {{0}};
    R1Policy pol;
    rc = r1_policy_load(&pol, a.model, a.tokenizer, a.tpl, &err);
    if (rc == 0) {
        R1Gpu *gpu = NULL;
        if (a.device == R1_DEVICE_CUDA && !(gpu = r1_gpu_new(&pol.model, 0, &err))) rc = -1;
        if (rc == 0) rc = generate(&pol, gpu, &a, &err);
        if (gpu) r1_gpu_free(gpu);
        r1_policy_free(&pol);
    }
    if (rc) fprintf(stderr, "r1-model generate: %s\n", err.msg);
    return rc ? 1 : 0;
}
