/* bench_cuda.c - the CUDA backend's speed on a model shaped by a config.json
 * (random weights): decoding (generate.h on the GPU: prefill, batched steps,
 * sampling on the GPU) and training steps (forward, backward, clipping,
 * AdamW). Prints one JSON object per mode on stdout, with the device's
 * measured copy bandwidth and the roofline of the decode run.
 *
 *   bench_cuda --config FILE decode [--seqs 256] [--prompt 64] [--new 512]
 *   bench_cuda --config FILE train  [--seqs 8] [--len 2048] [--steps 4] */
#include <cuda_runtime_api.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "generate.h"
#include "gpu.h"
#include "model.h"
#include "optim.h"
#include "util.h"

static void die(const char *what, const char *msg) {
    fprintf(stderr, "bench_cuda: %s: %s\n", what, msg);
    exit(1);
}

/* Uniform weights of the config's initializer_range standard deviation
 * (norms 1), filled in parallel: a benchmark needs the shapes, not the
 * distribution of r1_model_init_random, and a 1.5B model's serial init would
 * cost more than the run. */
static void fast_init(R1Model *m, uint64_t seed) {
    float a = m->cfg.init_range * sqrtf(3.0f);
    for (int i = 0; i < m->table.n; i++) {
        const R1Param *p = &m->table.p[i];
        float *x = m->params + p->offset;
        int is_norm = strstr(p->name, "norm") != NULL;
#pragma omp parallel for schedule(static)
        for (size_t j = 0; j < p->numel; j++) {
            uint64_t z = (seed + p->offset + j) * 0x9e3779b97f4a7c15ULL;
            z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
            z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
            z ^= z >> 31;
            float u = (float)(z >> 40) / (float)(1u << 24) * 2.0f - 1.0f;
            x[j] = is_norm ? 1.0f : a * u;
        }
    }
}

/* Device-to-device copy bandwidth, bytes read plus written per second. */
static double copy_bandwidth(void) {
    size_t n = (size_t)2 << 30;
    void *a, *b;
    if (cudaMalloc(&a, n) != cudaSuccess || cudaMalloc(&b, n) != cudaSuccess)
        die("cudaMalloc", "2 GiB for the copy test");
    cudaEvent_t e0, e1;
    cudaEventCreate(&e0), cudaEventCreate(&e1);
    cudaMemcpy(b, a, n, cudaMemcpyDeviceToDevice);
    cudaEventRecord(e0, 0);
    for (int i = 0; i < 10; i++) cudaMemcpy(b, a, n, cudaMemcpyDeviceToDevice);
    cudaEventRecord(e1, 0);
    cudaEventSynchronize(e1);
    float ms;
    cudaEventElapsedTime(&ms, e0, e1);
    cudaFree(a), cudaFree(b);
    return 2.0 * n * 10 / (ms / 1e3);
}

static size_t matmul_params(const R1Config *c) {
    size_t C = c->hidden, hd = c->head_dim, QKV = (c->n_heads + 2 * c->n_kv_heads) * hd;
    size_t per_layer = QKV * C + C * c->n_heads * hd + 3 * C * c->intermediate;
    return per_layer * c->n_layers + C * (size_t)c->vocab; /* + the output layer */
}

static void bench_decode(R1Model *m, int seqs, int prompt, int new_tokens) {
    R1Err err;
    double bw = copy_bandwidth();
    R1Gpu *g = r1_gpu_new(m, 0, &err);
    if (!g) die("r1_gpu_new", err.msg);
    int **ids = malloc(sizeof(int *) * seqs), *lens = malloc(sizeof(int) * seqs);
    int64_t *keys = malloc(sizeof(int64_t) * seqs);
    for (int s = 0; s < seqs; s++) {
        ids[s] = malloc(sizeof(int) * prompt), lens[s] = prompt, keys[s] = s;
        for (int j = 0; j < prompt; j++)
            ids[s][j] = (int)((s * 7919u + j * 104729u) % m->cfg.vocab);
    }
    R1GenRequest req = {
        .n_prompts = seqs, .group = 1, .ids = (const int *const *)ids, .lens = lens, .keys = keys};
    R1GenOpts o;
    memset(&o, 0, sizeof o);
    o.sample.temperature = 0, o.sample.top_p = 1, o.max_new = new_tokens, o.batch = seqs;
    o.seed = 1, o.gpu = g, o.prefill_tokens = 16384;
    R1Completion *out = malloc(sizeof(R1Completion) * seqs);
    /* warm-up: cuBLASLt plans, the allocator */
    R1GenOpts w = o;
    w.max_new = 8;
    if (r1_generate(m, NULL, &req, &w, out, NULL, NULL, &err)) die("r1_generate", err.msg);
    for (int s = 0; s < seqs; s++) r1_completion_free(&out[s]);
    double t0 = r1_now();
    if (r1_generate(m, NULL, &req, &o, out, NULL, NULL, &err)) die("r1_generate", err.msg);
    double secs = r1_now() - t0;
    long tokens = 0;
    for (int s = 0; s < seqs; s++) tokens += out[s].n, r1_completion_free(&out[s]);
    /* Fewest bytes: every step reads the bf16 weights once and each sequence's
     * cache (prompt + tokens so far), and writes one cache row per sequence. */
    const R1Config *c = &m->cfg;
    double wbytes = 2.0 * (double)m->table.total,
           row = 2.0 * 2 * c->n_kv_heads * c->head_dim * c->n_layers;
    double bytes = 0;
    for (int j = 1; j <= new_tokens; j++) bytes += wbytes + (double)seqs * (prompt + j) * row;
    double roof = (double)seqs * new_tokens / (bytes / bw);
    printf(
        "{\"mode\":\"decode\",\"seqs\":%d,\"prompt\":%d,\"new\":%d,\"tokens\":%ld,\"seconds\":%.3f,"
        "\"tokens_per_s\":%.1f,\"copy_bw_gbs\":%.1f,\"roofline_tokens_per_s\":%.1f,"
        "\"roofline_frac\":%.3f,\"gpu_gib\":%.2f}\n",
        seqs, prompt, new_tokens, tokens, secs, tokens / secs, bw / 1e9, roof, tokens / secs / roof,
        r1_gpu_bytes(g) / 1073741824.0);
    for (int s = 0; s < seqs; s++) free(ids[s]);
    free(ids), free(lens), free(keys), free(out);
    r1_gpu_free(g);
}

static void bench_train(R1Model *m, int seqs, int len, int steps) {
    R1Err err;
    R1Gpu *g = r1_gpu_new(m, 1, &err);
    if (!g) die("r1_gpu_new", err.msg);
    int T = seqs * len;
    int *tokens = malloc(sizeof(int) * T), *targets = malloc(sizeof(int) * T);
    int *start = malloc(sizeof(int) * (seqs + 1));
    for (int t = 0; t < T; t++) tokens[t] = (int)((t * 2654435761u) % m->cfg.vocab);
    for (int t = 0; t < T; t++) targets[t] = (t + 1) % len ? tokens[(t + 1) % T] : -1;
    for (int s = 0; s <= seqs; s++) start[s] = s * len;
    R1Batch b;
    memset(&b, 0, sizeof b);
    b.n_seqs = seqs, b.n_tokens = T, b.tokens = tokens, b.seq_start = start, b.targets = targets;
    R1AdamW o;
    r1_adamw_init(&o, &m->table, 0.9f, 0.95f, 1e-8f, 0.1f);
    float *logp = malloc(sizeof(float) * T), loss = 0;
    double t0 = 0;
    for (int s = 0; s <= steps; s++) { /* step 0 warms up */
        if (s == 1) {
            cudaDeviceSynchronize();
            t0 = r1_now();
        }
        r1_gpu_zero_grad(g);
        if (r1_gpu_forward(g, &b, logp, &loss, NULL, &err)) die("forward", err.msg);
        if (r1_gpu_backward(g, &b, NULL, &err)) die("backward", err.msg);
        r1_gpu_clip_grad_norm(g, 1.0);
        r1_gpu_adamw_step(g, &o, 1e-5f);
    }
    cudaDeviceSynchronize();
    double secs = (r1_now() - t0) / steps;
    /* One more step, synchronised between its phases, for where the time goes. */
    double ph[4];
    r1_gpu_zero_grad(g);
    cudaDeviceSynchronize();
    ph[0] = r1_now();
    r1_gpu_forward(g, &b, logp, &loss, NULL, &err);
    cudaDeviceSynchronize();
    ph[1] = r1_now();
    r1_gpu_backward(g, &b, NULL, &err);
    cudaDeviceSynchronize();
    ph[2] = r1_now();
    r1_gpu_clip_grad_norm(g, 1.0);
    r1_gpu_adamw_step(g, &o, 1e-5f);
    cudaDeviceSynchronize();
    ph[3] = r1_now();
    const R1Config *c = &m->cfg;
    /* 6 flops per parameter of a product per token (forward 2, backward 4),
     * plus causal attention: 6 * S * hd * H per layer per token (S = len). */
    double flops_tok =
        6.0 * (double)matmul_params(c) + 6.0 * len * (double)c->head_dim * c->n_heads * c->n_layers;
    double tps = T / secs, peak = 989e12;
    printf("{\"mode\":\"train\",\"seqs\":%d,\"len\":%d,\"steps\":%d,\"seconds_per_step\":%.4f,"
           "\"tokens_per_s\":%.1f,\"tflops\":%.1f,\"mfu\":%.3f,\"loss\":%.4f,\"gpu_gib\":%.2f,"
           "\"forward_ms\":%.1f,\"backward_ms\":%.1f,\"optimizer_ms\":%.1f}\n",
           seqs, len, steps, secs, tps, tps * flops_tok / 1e12, tps * flops_tok / peak, loss,
           r1_gpu_bytes(g) / 1073741824.0, 1e3 * (ph[1] - ph[0]), 1e3 * (ph[2] - ph[1]),
           1e3 * (ph[3] - ph[2]));
    r1_adamw_free(&o);
    free(tokens), free(targets), free(start), free(logp);
    r1_gpu_free(g);
}

int main(int argc, char **argv) {
    const char *config = NULL, *mode = NULL;
    int seqs = -1, prompt = 64, new_tokens = 512, len = 2048, steps = 4;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--config") && i + 1 < argc)
            config = argv[++i];
        else if (!strcmp(argv[i], "--seqs") && i + 1 < argc)
            seqs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--prompt") && i + 1 < argc)
            prompt = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--new") && i + 1 < argc)
            new_tokens = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--len") && i + 1 < argc)
            len = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--steps") && i + 1 < argc)
            steps = atoi(argv[++i]);
        else if (!mode && (!strcmp(argv[i], "decode") || !strcmp(argv[i], "train")))
            mode = argv[i];
        else
            die("usage", "bench_cuda --config FILE decode|train [--seqs N] [--prompt N] [--new N] "
                         "[--len N] [--steps N]");
    }
    if (!config || !mode) die("usage", "--config FILE and a mode (decode or train) are needed");
    R1Config c;
    R1Err err;
    R1Model m;
    if (r1_config_load(&c, config, &err) || r1_model_build(&m, &c, config, &err))
        die(config, err.msg);
    fast_init(&m, 1234);
    if (!strcmp(mode, "decode"))
        bench_decode(&m, seqs > 0 ? seqs : 256, prompt, new_tokens);
    else
        bench_train(&m, seqs > 0 ? seqs : 8, len, steps);
    r1_model_free(&m);
    return 0;
}
