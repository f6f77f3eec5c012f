/* gpu_decode.cu - gpu.h's generation: decode.h's KV cache and steps on the GPU.
 *
 * The cache is bf16, one array per layer: n_prefix prompt entries of
 * max_prompt rows, then n_slots sequences of max_new rows. A step's rows
 * (one per running sequence) go through the layers as a batch of n tokens at
 * their own positions; each attends to its prompt's rows and its own. Logits
 * stay on the GPU in one buffer: the prefix entries' rows first, then the
 * step's; sampling reads rows of it and sends back only ids and log-probs. */
#include <stdlib.h>
#include <string.h>

#include "gpu_impl.h"

struct R1GpuDec {
    R1Gpu *g;
    int n_slots, n_prefix, max_prompt, max_new;
    size_t layer_rows;
    bf16 *kc, *vc;              /* [L, layer_rows, KV hd] */
    int *prefix_len, *slot_len; /* host */
    float *x, *qkv, *rstd;      /* [n_slots, C], [n_slots, QKV], [n_slots] */
    bf16 *xn, *att, *gu, *act;
    float *logits;     /* [n_prefix + n_slots, V] */
    float *tmp_logits; /* [n_prefix, V] a prefill's last rows */
    int *d_ints;       /* [8, n_slots]: tok pos prow np srow ns rows src */
    int *h_ints;
    float *d_u, *d_lp, *h_u;
    int *d_ids;
    int *d_rows, cap_rows; /* prefill: cache rows of every prompt token */
    /* A step's launches (hundreds: every layer's kernels and products) replay
     * as one CUDA graph per batch size n, captured the first time n is seen.
     * The rows' positions and cache rows are read from d_ints, which is
     * uploaded before each replay, so one graph serves every step of that n. */
    int use_graphs;
    cudaGraphExec_t *graphs; /* [n_slots + 1] */
    size_t bytes;            /* device memory of the buffers above */
};

/* Device memory counted in the model's total and in the decoder's own, which
 * r1_gpu_dec_free gives back. */
static void *dec_alloc(R1GpuDec *k, size_t bytes) {
    k->bytes += bytes;
    return gpu_alloc(k->g, bytes);
}

extern "C" R1GpuDec *r1_gpu_dec_new(R1Gpu *g, int n_slots, int n_prefix, int max_prompt,
                                    int max_new, R1Err *err) {
    if (n_slots < 1 || n_prefix < 1 || max_prompt < 1 || max_new < 1) {
        r1_seterr(err, "r1_gpu_dec_new: sizes must be positive");
        return NULL;
    }
    const GpuDims *d = &g->d;
    R1GpuDec *k = (R1GpuDec *)calloc(1, sizeof *k);
    k->g = g, k->n_slots = n_slots, k->n_prefix = n_prefix;
    k->max_prompt = max_prompt, k->max_new = max_new;
    k->layer_rows = (size_t)n_prefix * max_prompt + (size_t)n_slots * max_new;
    size_t cache = (size_t)d->L * k->layer_rows * d->KVd;
    k->kc = (bf16 *)dec_alloc(k, sizeof(bf16) * cache);
    k->vc = (bf16 *)dec_alloc(k, sizeof(bf16) * cache);
    k->prefix_len = (int *)calloc((size_t)n_prefix, sizeof(int));
    k->slot_len = (int *)calloc((size_t)n_slots, sizeof(int));
    size_t n = (size_t)n_slots;
    k->x = (float *)dec_alloc(k, sizeof(float) * n * d->C);
    k->qkv = (float *)dec_alloc(k, sizeof(float) * n * d->QKV);
    k->rstd = (float *)dec_alloc(k, sizeof(float) * n);
    k->xn = (bf16 *)dec_alloc(k, sizeof(bf16) * n * d->C);
    k->att = (bf16 *)dec_alloc(k, sizeof(bf16) * n * d->Hd);
    k->gu = (bf16 *)dec_alloc(k, sizeof(bf16) * n * 2 * d->I);
    k->act = (bf16 *)dec_alloc(k, sizeof(bf16) * n * d->I);
    k->logits = (float *)dec_alloc(k, sizeof(float) * (size_t)(n_prefix + n_slots) * d->V);
    k->tmp_logits = (float *)dec_alloc(k, sizeof(float) * (size_t)n_prefix * d->V);
    k->d_ints = (int *)dec_alloc(k, sizeof(int) * 8 * n);
    k->h_ints = (int *)malloc(sizeof(int) * 8 * n);
    k->d_u = (float *)dec_alloc(k, sizeof(float) * n);
    k->d_lp = (float *)dec_alloc(k, sizeof(float) * n);
    k->d_ids = (int *)dec_alloc(k, sizeof(int) * n);
    k->h_u = (float *)malloc(sizeof(float) * n);
    /* R1_CUDA_SYNC=1 synchronises after each launch, which a capture forbids:
     * that debugging mode, and R1_CUDA_GRAPHS=0, launch eagerly. */
    const char *sync = getenv("R1_CUDA_SYNC"), *graphs = getenv("R1_CUDA_GRAPHS");
    k->use_graphs = !(sync && !strcmp(sync, "1")) && !(graphs && !strcmp(graphs, "0"));
    k->graphs = (cudaGraphExec_t *)calloc((size_t)n_slots + 1, sizeof(cudaGraphExec_t));
    return k;
}

extern "C" void r1_gpu_dec_free(R1GpuDec *k) {
    if (!k) return;
    CU_CHECK(cudaStreamSynchronize(k->g->st));
    void *bufs[] = {k->kc,  k->vc,   k->x,     k->qkv,    k->rstd,       k->xn,
                    k->att, k->gu,   k->act,   k->logits, k->tmp_logits, k->d_ints,
                    k->d_u, k->d_lp, k->d_ids, k->d_rows};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        if (bufs[i]) CU_CHECK(cudaFree(bufs[i]));
    k->g->bytes -= k->bytes;
    for (int n = 0; n <= k->n_slots; n++)
        if (k->graphs[n]) CU_CHECK(cudaGraphExecDestroy(k->graphs[n]));
    free(k->graphs);
    free(k->prefix_len), free(k->slot_len), free(k->h_ints), free(k->h_u);
    free(k);
}

static size_t prefix_row(const R1GpuDec *k, int e) {
    return (size_t)e * k->max_prompt;
}

static size_t slot_row(const R1GpuDec *k, int s) {
    return (size_t)k->n_prefix * k->max_prompt + (size_t)s * k->max_new;
}

extern "C" void r1_gpu_dec_prefill(R1GpuDec *k, int n, const int *prefix, const int *const *ids,
                                   const int *lens) {
    R1Gpu *g = k->g;
    const GpuDims *d = &g->d;
    int T = 0;
    for (int i = 0; i < n; i++) T += lens[i];
    int *tokens = (int *)malloc(sizeof(int) * (size_t)T),
        *start = (int *)malloc(sizeof(int) * (n + 1));
    int *rows = (int *)malloc(sizeof(int) * (size_t)T), *last = (int *)malloc(sizeof(int) * n);
    for (int i = 0, t = 0; i < n; i++) {
        start[i] = t;
        for (int j = 0; j < lens[i]; j++, t++) {
            tokens[t] = ids[i][j];
            rows[t] = (int)(prefix_row(k, prefix[i]) + j);
        }
        last[i] = t - 1;
        k->prefix_len[prefix[i]] = lens[i];
    }
    start[n] = T;
    R1Batch b;
    memset(&b, 0, sizeof b);
    b.n_seqs = n, b.n_tokens = T, b.tokens = tokens, b.seq_start = start;
    gpu_forward_layers(g, &b);
    if (T > k->cap_rows) {
        if (k->d_rows) {
            CU_CHECK(cudaFree(k->d_rows));
            k->bytes -= sizeof(int) * (size_t)k->cap_rows;
            g->bytes -= sizeof(int) * (size_t)k->cap_rows;
        }
        k->d_rows = (int *)dec_alloc(k, sizeof(int) * (size_t)T);
        k->cap_rows = T;
    }
    CU_CHECK(cudaMemcpyAsync(k->d_rows, rows, sizeof(int) * T, cudaMemcpyHostToDevice, g->st));
    for (int l = 0; l < d->L; l++) {
        size_t lo = (size_t)l * k->layer_rows * d->KVd;
        cu_kv_store(k->kc + lo, k->vc + lo, d->KVd, g->a.qkv + (size_t)l * T * d->QKV, d->QKV,
                    d->Hd, d->Hd + d->KVd, k->d_rows, T, d->KVd, g->st);
    }
    /* The logits of each prompt's last token, then into its entry's row. */
    CU_CHECK(cudaMemcpyAsync(g->a.head_rows, last, sizeof(int) * n, cudaMemcpyHostToDevice, g->st));
    cu_gather_rows_bf16(g->a.lnf_h, g->a.lnf, g->a.head_rows, n, d->C, g->st);
    cu_mm_fwd(&g->blas, k->tmp_logits, 0, d->V, g->a.lnf_h, g->w16 + g->off_head, n, d->C, d->V, 0);
    for (int i = 0; i < n; i++)
        CU_CHECK(cudaMemcpyAsync(k->logits + (size_t)prefix[i] * d->V,
                                 k->tmp_logits + (size_t)i * d->V, sizeof(float) * d->V,
                                 cudaMemcpyDeviceToDevice, g->st));
    CU_CHECK(cudaStreamSynchronize(g->st)); /* host arrays are freed below */
    free(tokens), free(start), free(rows), free(last);
}

extern "C" void r1_gpu_dec_reset_slot(R1GpuDec *k, int s) {
    k->slot_len[s] = 0;
}

/* One layer for the n rows of a step (x updated in place: the residual adds
 * are the products' beta = 1). */
static void step_layer(R1GpuDec *k, int l, int n, int max_ctx, const int *dv) {
    R1Gpu *g = k->g;
    const GpuDims *d = &g->d;
    const GpuLayer *w = &g->lay[l];
    const int *pos = dv + 1 * k->n_slots, *prow = dv + 2 * k->n_slots, *np = dv + 3 * k->n_slots;
    const int *srow = dv + 4 * k->n_slots, *ns = dv + 5 * k->n_slots, *rows = dv + 6 * k->n_slots;
    size_t lo = (size_t)l * k->layer_rows * d->KVd;
    float eps = g->cfg.rms_eps;
    cu_rmsnorm_fwd(k->xn, k->rstd, k->x, g->w16 + w->ln1, n, d->C, eps, g->st);
    cu_mm_fwd(&g->blas, k->qkv, 0, d->QKV, k->xn, g->w16 + w->wqkv, n, d->C, d->QKV, 0);
    if (w->has_bias) cu_add_bias(k->qkv, g->w16 + w->bqkv, n, d->QKV, g->st);
    cu_rope_fwd(k->qkv, d->QKV, pos, g->rope_cos, g->rope_sin, n, d->H, d->hd, g->st);
    cu_rope_fwd(k->qkv + d->Hd, d->QKV, pos, g->rope_cos, g->rope_sin, n, d->KV, d->hd, g->st);
    cu_kv_store(k->kc + lo, k->vc + lo, d->KVd, k->qkv, d->QKV, d->Hd, d->Hd + d->KVd, rows, n,
                d->KVd, g->st);
    cu_attention_decode(k->att, k->qkv, d->QKV, k->kc + lo, k->vc + lo, d->KVd, prow, np, srow, ns,
                        n, max_ctx, d->H, d->KV, d->hd, g->st);
    cu_mm_fwd(&g->blas, k->x, 0, d->C, k->att, g->w16 + w->wo, n, d->Hd, d->C, 1);
    cu_rmsnorm_fwd(k->xn, k->rstd, k->x, g->w16 + w->ln2, n, d->C, eps, g->st);
    cu_mm_fwd(&g->blas, k->gu, 1, 2 * d->I, k->xn, g->w16 + w->wgu, n, d->C, 2 * d->I, 0);
    cu_swiglu_fwd(k->act, k->gu, n, d->I, g->st);
    cu_mm_fwd(&g->blas, k->x, 0, d->C, k->act, g->w16 + w->wdown, n, d->I, d->C, 1);
}

/* Everything a step launches, in order: embedding, layers, final norm, logits. */
static void step_launches(R1GpuDec *k, int n, int max_ctx) {
    R1Gpu *g = k->g;
    const GpuDims *d = &g->d;
    cu_embedding_fwd(k->x, k->d_ints, g->w16 + g->off_wte, n, d->C, g->st);
    for (int l = 0; l < d->L; l++) step_layer(k, l, n, max_ctx, k->d_ints);
    cu_rmsnorm_fwd(k->xn, k->rstd, k->x, g->w16 + g->off_norm, n, d->C, g->cfg.rms_eps, g->st);
    cu_mm_fwd(&g->blas, k->logits + (size_t)k->n_prefix * d->V, 0, d->V, k->xn,
              g->w16 + g->off_head, n, d->C, d->V, 0);
}

extern "C" void r1_gpu_dec_step(R1GpuDec *k, int n, const int *slot, const int *prefix,
                                const int *tok) {
    R1Gpu *g = k->g;
    int S = k->n_slots, *h = k->h_ints, max_ctx = 0;
    for (int i = 0; i < n; i++) {
        int e = prefix[i], s = slot[i], own = k->slot_len[s];
        h[i] = tok[i];
        h[S + i] = k->prefix_len[e] + own;
        h[2 * S + i] = (int)prefix_row(k, e);
        h[3 * S + i] = k->prefix_len[e];
        h[4 * S + i] = (int)slot_row(k, s);
        h[5 * S + i] = own + 1;
        h[6 * S + i] = (int)slot_row(k, s) + own;
        if (k->prefix_len[e] + own + 1 > max_ctx) max_ctx = k->prefix_len[e] + own + 1;
        k->slot_len[s] = own + 1;
    }
    CU_CHECK(cudaMemcpyAsync(k->d_ints, h, sizeof(int) * 7 * S, cudaMemcpyHostToDevice, g->st));
    if (!k->use_graphs) {
        step_launches(k, n, max_ctx);
    } else {
        if (!k->graphs[n]) {
            /* Captured with the longest context the cache allows, which only
             * sizes the attention kernel's grid; each row reads its own length. */
            cudaGraph_t graph;
            CU_CHECK(cudaStreamBeginCapture(g->st, cudaStreamCaptureModeThreadLocal));
            step_launches(k, n, k->max_prompt + k->max_new);
            CU_CHECK(cudaStreamEndCapture(g->st, &graph));
            CU_CHECK(cudaGraphInstantiate(&k->graphs[n], graph, 0));
            CU_CHECK(cudaGraphDestroy(graph));
        }
        CU_CHECK(cudaGraphLaunch(k->graphs[n], g->st));
    }
    /* h is rewritten by the next call: wait until the copy has read it. */
    CU_CHECK(cudaStreamSynchronize(g->st));
}

static int *upload_src(R1GpuDec *k, int n, const int *src) {
    int *h = k->h_ints + 7 * k->n_slots;
    for (int i = 0; i < n; i++) h[i] = src[i] >= 0 ? k->n_prefix + src[i] : -1 - src[i];
    int *dst = k->d_ints + 7 * k->n_slots;
    CU_CHECK(cudaMemcpyAsync(dst, h, sizeof(int) * n, cudaMemcpyHostToDevice, k->g->st));
    return dst;
}

extern "C" void r1_gpu_dec_sample(R1GpuDec *k, int n, const int *src, float temperature,
                                  const float *u, int *ids, float *logprobs) {
    if (n <= 0) return;
    R1Gpu *g = k->g;
    int *rows = upload_src(k, n, src);
    for (int i = 0; i < n; i++) k->h_u[i] = u ? u[i] : 0.0f;
    CU_CHECK(cudaMemcpyAsync(k->d_u, k->h_u, sizeof(float) * n, cudaMemcpyHostToDevice, g->st));
    cu_sample(k->d_ids, k->d_lp, k->logits, g->d.V, rows, k->d_u, n, g->d.V, temperature, g->st);
    CU_CHECK(cudaMemcpyAsync(ids, k->d_ids, sizeof(int) * n, cudaMemcpyDeviceToHost, g->st));
    CU_CHECK(cudaMemcpyAsync(logprobs, k->d_lp, sizeof(float) * n, cudaMemcpyDeviceToHost, g->st));
    CU_CHECK(cudaStreamSynchronize(g->st));
}

extern "C" void r1_gpu_dec_logits(R1GpuDec *k, int n, const int *src, float *logits) {
    R1Gpu *g = k->g;
    size_t V = (size_t)g->d.V;
    for (int i = 0; i < n; i++) {
        size_t row = src[i] >= 0 ? (size_t)(k->n_prefix + src[i]) : (size_t)(-1 - src[i]);
        CU_CHECK(cudaMemcpyAsync(logits + i * V, k->logits + row * V, sizeof(float) * V,
                                 cudaMemcpyDeviceToHost, g->st));
    }
    CU_CHECK(cudaStreamSynchronize(g->st));
}
