/* bench_model - forward and forward+backward throughput of the CPU model.
 *
 * Prints one JSON line: tokens/s of the forward and of forward+backward (the
 * median of --iters timed runs after one warm-up), the GFLOP/s that
 * forward+backward achieves, the GFLOP/s of the model's own matrix-product
 * shapes run alone, and the sgemm peak measured on a large square product.
 * bench/run.sh puts it next to PyTorch running the same model. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "ops.h"
#include "rng.h"

static const char *CONFIG =
    "{\"model_type\":\"qwen2\",\"hidden_size\":512,\"num_hidden_layers\":8,"
    "\"num_attention_heads\":8,\"num_key_value_heads\":2,\"intermediate_size\":1408,"
    "\"vocab_size\":32000,\"max_position_embeddings\":4096,\"rms_norm_eps\":1e-6,"
    "\"rope_theta\":10000.0,\"tie_word_embeddings\":false,\"hidden_act\":\"silu\"}";

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static double sgemm_peak(void) {
    int n = 2048;
    float *a = r1_falloc((size_t)n * n), *b = r1_falloc((size_t)n * n),
          *c = r1_falloc((size_t)n * n);
    for (size_t i = 0; i < (size_t)n * n; i++) a[i] = b[i] = 1e-3f * (float)(i % 1000);
    double best = 0;
    for (int r = 0; r < 4; r++) {
        double t0 = r1_now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, n, 1, a, n, b, n, 0, c, n);
        double g = 2.0 * n * n * (double)n / (r1_now() - t0) / 1e9;
        best = g > best ? g : best;
    }
    free(a), free(b), free(c);
    return best;
}

/* Forward FLOPs of the matrix products per token, and of attention per batch. */
static double matmul_flops_per_token(const R1Config *c) {
    double C = c->hidden, hd = c->head_dim, qkv = (c->n_heads + 2.0 * c->n_kv_heads) * hd;
    double per_layer =
        C * qkv + c->n_heads * hd * C + C * 2.0 * c->intermediate + c->intermediate * C;
    return 2.0 * (c->n_layers * per_layer + C * c->vocab);
}

/* The model's products (forward and both backward products) on their own. */
static double matmul_gflops(const R1Config *c, int T) {
    int C = c->hidden, hd = c->head_dim, ff = c->intermediate;
    int shapes[5][2] = {{C, (c->n_heads + 2 * c->n_kv_heads) * hd},
                        {c->n_heads * hd, C},
                        {C, 2 * ff},
                        {ff, C},
                        {C, c->vocab}};
    double flops = 0, secs = 0;
    for (int s = 0; s < 5; s++) {
        int IC = shapes[s][0], OC = shapes[s][1];
        float *x = r1_falloc((size_t)T * IC), *w = r1_falloc((size_t)OC * IC);
        float *y = r1_falloc((size_t)T * OC), *dx = r1_falloc((size_t)T * IC);
        float *dw = r1_falloc((size_t)OC * IC);
        op_matmul_fwd(y, x, w, NULL, T, IC, OC, 0); /* warm-up */
        double t0 = r1_now();
        op_matmul_fwd(y, x, w, NULL, T, IC, OC, 0);
        op_matmul_bwd(dx, dw, NULL, y, x, w, T, IC, OC);
        secs += r1_now() - t0;
        flops += 6.0 * T * (double)IC * OC;
        free(x), free(w), free(y), free(dx), free(dw);
    }
    return flops / secs / 1e9;
}

int main(int argc, char **argv) {
    int B = 8, S = 256, iters = 3;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--batch"))
            B = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--seq"))
            S = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--iters"))
            iters = atoi(argv[i + 1]);
    }
    if (B < 1 || S < 2 || iters < 1 || iters > 100) {
        fprintf(stderr, "usage: bench_model [--batch B] [--seq S] [--iters N]\n");
        return 2;
    }
    R1Config cfg;
    R1Model m;
    R1Err err;
    if (r1_config_parse(&cfg, CONFIG, "bench config", &err) ||
        r1_model_build(&m, &cfg, "bench config", &err)) {
        fprintf(stderr, "bench_model: %s\n", err.msg);
        return 1;
    }
    r1_model_init_random(&m, 1);
    r1_model_alloc_grads(&m);
    int T = B * S, *tok = malloc(sizeof(int) * T), *tgt = malloc(sizeof(int) * T);
    int *starts = malloc(sizeof(int) * (B + 1));
    R1Rng rng;
    r1_rng_seed(&rng, 2);
    for (int t = 0; t < T; t++) tok[t] = (int)(r1_rng_u64(&rng) % cfg.vocab);
    for (int t = 0; t < T; t++) tgt[t] = (t + 1) % S ? tok[t + 1] : -1;
    for (int b = 0; b <= B; b++) starts[b] = b * S;
    R1Batch batch = {B, T, tok, starts, tgt, 0, 0};
    R1Acts a;
    r1_acts_init(&a);
    double *tf = malloc(sizeof(double) * iters), *tfb = malloc(sizeof(double) * iters);
    r1_model_forward(&m, &a, &batch); /* warm-up, also sizes the buffers */
    r1_model_backward(&m, &a, &batch, NULL);
    for (int i = 0; i < iters; i++) {
        double t0 = r1_now();
        r1_model_forward(&m, &a, &batch);
        tf[i] = r1_now() - t0;
    }
    for (int i = 0; i < iters; i++) {
        double t0 = r1_now();
        r1_model_zero_grad(&m);
        r1_model_forward(&m, &a, &batch);
        r1_model_backward(&m, &a, &batch, NULL);
        tfb[i] = r1_now() - t0;
    }
    double fwd = median(tf, iters), fb = median(tfb, iters);
    /* Attention as computed: the full S x S score matrix per head, 2 products
     * forward and 5 backward (the probabilities are recomputed). */
    double attn = 2.0 * B * (double)S * S * cfg.head_dim * cfg.n_heads * cfg.n_layers;
    double flops_fb = 3.0 * matmul_flops_per_token(&cfg) * T + 7.0 * attn;
    printf(
        "{\"impl\":\"r1c\",\"params\":%zu,\"tokens\":%d,\"fwd_tok_s\":%.1f,\"fwdbwd_tok_s\":%.1f,"
        "\"fwdbwd_gflops\":%.1f,\"matmul_gflops\":%.1f,\"sgemm_peak_gflops\":%.1f}\n",
        m.table.total, T, T / fwd, T / fb, flops_fb / fb / 1e9, matmul_gflops(&cfg, T),
        sgemm_peak());
    free(tok), free(tgt), free(starts), free(tf), free(tfb);
    r1_acts_free(&a);
    r1_model_free(&m);
    return 0;
}
