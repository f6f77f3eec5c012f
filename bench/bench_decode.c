/* bench_decode - generation throughput of the KV-cache decoder (generate.h).
 *
 * The Qwen2-shaped model of bench_model (random weights: speed does not depend
 * on them), --seqs prompts of --prompt-len random tokens, one sample each,
 * sampled at temperature 1 to exactly --new-tokens tokens (no EOS), the path
 * r1-rollout takes. Prints one JSON line: decode tokens/s (new tokens over the
 * time after the last prompt's first token), prefill tokens/s, total seconds;
 * the median of --iters runs after a short warm-up. bench/run.sh puts it next
 * to bench/bench_decode_torch.py (PyTorch's own KV-cache loop, same model).
 * --model DIR decodes with a real checkpoint instead (bench/bench_gguf.sh: SmolLM2). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "generate.h"
#include "rng.h"

static const char *CONFIG =
    "{\"model_type\":\"qwen2\",\"hidden_size\":512,\"num_hidden_layers\":8,"
    "\"num_attention_heads\":8,\"num_key_value_heads\":2,\"intermediate_size\":1408,"
    "\"vocab_size\":32000,\"max_position_embeddings\":4096,\"rms_norm_eps\":1e-6,"
    "\"rope_theta\":1000000.0,\"tie_word_embeddings\":false,\"hidden_act\":\"silu\"}";

typedef struct {
    int started, seqs;
    double t_prefilled;
} Clock;

/* The first token of the last sequence marks the end of the prefill. */
static void on_token(void *ctx, const R1Completion *c, const char *t, size_t n, int finished) {
    (void)t, (void)n, (void)finished;
    Clock *k = ctx;
    if (c->n == 1 && ++k->started == k->seqs) k->t_prefilled = r1_now();
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    int seqs = 32, plen = 32, new_tokens = 256, iters = 3;
    const char *dir = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        int v = atoi(argv[i + 1]);
        if (!strcmp(argv[i], "--model"))
            dir = argv[i + 1];
        else if (!strcmp(argv[i], "--seqs"))
            seqs = v;
        else if (!strcmp(argv[i], "--prompt-len"))
            plen = v;
        else if (!strcmp(argv[i], "--new-tokens"))
            new_tokens = v;
        else if (!strcmp(argv[i], "--iters"))
            iters = v;
    }
    if (seqs < 1 || plen < 1 || new_tokens < 1 || iters < 1 || iters > 15) {
        fprintf(stderr, "usage: bench_decode [--seqs B] [--prompt-len P] [--new-tokens N] "
                        "[--iters 1..15] [--model DIR]\n");
        return 2;
    }
    R1Config cfg;
    R1Model m;
    R1Err err;
    if (dir ? r1_model_load(&m, dir, &err)
            : r1_config_parse(&cfg, CONFIG, "bench", &err) ||
                  r1_model_build(&m, &cfg, "bench", &err)) {
        fprintf(stderr, "bench_decode: %s\n", err.msg);
        return 1;
    }
    if (!dir) r1_model_init_random(&m, 1);
    int vocab = m.cfg.vocab < 32000 ? m.cfg.vocab : 32000;
    int *ids = r1_xmalloc(sizeof(int) * (size_t)seqs * plen),
        *lens = r1_xmalloc(sizeof(int) * seqs);
    const int **rows = r1_xmalloc(sizeof(int *) * (size_t)seqs);
    int64_t *keys = r1_xmalloc(sizeof(int64_t) * (size_t)seqs);
    R1Rng rng;
    r1_rng_seed(&rng, 7);
    for (int s = 0; s < seqs; s++) {
        for (int t = 0; t < plen; t++)
            ids[s * plen + t] = (int)(r1_rng_u64(&rng) % (uint64_t)vocab);
        rows[s] = ids + (size_t)s * plen, lens[s] = plen, keys[s] = s;
    }
    R1GenRequest req = {seqs, 1, rows, lens, keys};
    R1GenOpts o;
    memset(&o, 0, sizeof o);
    o.sample.temperature = 1.0f, o.sample.top_p = 1.0f, o.batch = seqs, o.seed = 1;
    R1Completion *c = r1_xcalloc((size_t)seqs, sizeof *c);
    double dec[16], pre[16], tot[16];
    for (int it = -1; it < iters; it++) {
        o.max_new = it < 0 ? 8 : new_tokens; /* a short warm-up run first */
        Clock k = {0, seqs, 0};
        double t0 = r1_now();
        if (r1_generate(&m, NULL, &req, &o, c, on_token, &k, &err)) {
            fprintf(stderr, "bench_decode: %s\n", err.msg);
            return 1;
        }
        double t1 = r1_now();
        for (int s = 0; s < seqs; s++) r1_completion_free(&c[s]);
        if (it < 0) continue;
        pre[it] = (double)seqs * plen / (k.t_prefilled - t0);
        dec[it] = (double)seqs * (new_tokens - 1) / (t1 - k.t_prefilled);
        tot[it] = t1 - t0;
    }
    qsort(dec, (size_t)iters, sizeof(double), cmp);
    qsort(pre, (size_t)iters, sizeof(double), cmp);
    qsort(tot, (size_t)iters, sizeof(double), cmp);
    printf("{\"impl\":\"r1c\",\"decode_tok_s\":%.1f,\"prefill_tok_s\":%.1f,\"total_s\":%.3f,"
           "\"seqs\":%d,\"new_tokens\":%d,\"prompt_len\":%d}\n",
           dec[iters / 2], pre[iters / 2], tot[iters / 2], seqs, new_tokens, plen);
    free(c), free(ids), free(lens), free(rows), free(keys);
    r1_model_free(&m);
    return 0;
}
