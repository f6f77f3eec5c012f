/* gpu_model.cu - gpu.h's model: parameters on the GPU, the forward and
 * backward passes (the same order of operations as transformer.c, over
 * cu_ops.h and cu_blas.h), gradient clipping and AdamW.
 *
 * Precision: the products read bf16 weights and bf16 activations and
 * accumulate in float32; the residual stream, q/k/v, the statistics of the
 * norms and of the softmax, and every gradient of a parameter are float32. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpu_impl.h"
extern "C" {
#include "ops.h"
}

void *gpu_alloc(R1Gpu *g, size_t bytes) {
    void *p = NULL;
    if (bytes == 0) bytes = 16;
    CU_CHECK(cudaMalloc(&p, bytes));
    g->bytes += bytes;
    return p;
}

static GpuDims dims_of(const R1Config *c) {
    GpuDims d;
    d.C = c->hidden, d.L = c->n_layers, d.H = c->n_heads, d.KV = c->n_kv_heads;
    d.hd = c->head_dim, d.I = c->intermediate, d.V = c->vocab;
    d.Hd = d.H * d.hd, d.KVd = d.KV * d.hd, d.QKV = d.Hd + 2 * d.KVd;
    return d;
}

/* ---- parameters ------------------------------------------------------------ */

/* Float32 host values to bf16 on the device, through a staging buffer so a
 * large model needs no second full-size float32 copy on the GPU. */
static void upload_bf16(R1Gpu *g, bf16 *dst, const float *src, size_t n) {
    const size_t step = (size_t)1 << 24;
    float *stage = NULL;
    CU_CHECK(cudaMalloc(&stage, sizeof(float) * (n < step ? n : step)));
    for (size_t at = 0; at < n; at += step) {
        size_t k = n - at < step ? n - at : step;
        CU_CHECK(
            cudaMemcpyAsync(stage, src + at, sizeof(float) * k, cudaMemcpyHostToDevice, g->st));
        cu_f32_to_bf16(dst + at, stage, k, g->st);
    }
    CU_CHECK(cudaStreamSynchronize(g->st));
    CU_CHECK(cudaFree(stage));
}

static int check_model(const R1Model *m, R1Err *err) {
    int hd = m->cfg.head_dim;
    if (hd != 32 && hd != 64 && hd != 128)
        return r1_seterr(err, "--device cuda: head_dim %d is not supported (32, 64 or 128)", hd);
    int n_dev = 0;
    cudaError_t e = cudaGetDeviceCount(&n_dev);
    if (e != cudaSuccess || n_dev < 1)
        return r1_seterr(err, "--device cuda: no CUDA device is usable (%s)",
                         e != cudaSuccess ? cudaGetErrorString(e) : "none found");
    return 0;
}

extern "C" R1Gpu *r1_gpu_new(const R1Model *m, int train, R1Err *err) {
    if (check_model(m, err)) return NULL;
    R1Gpu *g = (R1Gpu *)calloc(1, sizeof *g);
    g->cfg = m->cfg;
    g->d = dims_of(&m->cfg);
    g->table = m->table;
    g->table.p = (R1Param *)malloc(sizeof(R1Param) * (size_t)m->table.n);
    memcpy(g->table.p, m->table.p, sizeof(R1Param) * (size_t)m->table.n);
    g->lay = (GpuLayer *)calloc((size_t)g->d.L, sizeof(GpuLayer));
    for (int l = 0; l < g->d.L; l++) {
        const R1Layer *w = &m->layers[l];
        GpuLayer *y = &g->lay[l];
        y->ln1 = (size_t)(w->ln1 - m->params), y->wqkv = (size_t)(w->wqkv - m->params);
        y->has_bias = w->bqkv != NULL;
        y->bqkv = w->bqkv ? (size_t)(w->bqkv - m->params) : 0;
        y->wo = (size_t)(w->wo - m->params), y->ln2 = (size_t)(w->ln2 - m->params);
        y->wgu = (size_t)(w->wgu - m->params), y->wdown = (size_t)(w->wdown - m->params);
    }
    g->off_wte = (size_t)(m->wte - m->params);
    g->off_norm = (size_t)(m->norm - m->params);
    g->off_head = (size_t)(m->lm_head - m->params);
    g->train = train;
    CU_CHECK(cudaStreamCreateWithFlags(&g->st, cudaStreamNonBlocking));
    cu_blas_init(&g->blas, g->st);
    size_t n = m->table.total;
    g->w16 = (bf16 *)gpu_alloc(g, sizeof(bf16) * n);
    upload_bf16(g, g->w16, m->params, n);
    if (train) {
        g->w32 = (float *)gpu_alloc(g, sizeof(float) * n);
        g->g32 = (float *)gpu_alloc(g, sizeof(float) * n);
        CU_CHECK(cudaMemcpy(g->w32, m->params, sizeof(float) * n, cudaMemcpyHostToDevice));
        CU_CHECK(cudaMemset(g->g32, 0, sizeof(float) * n));
        g->sumsq_scratch_n = cu_sumsq_scratch(n);
        g->sumsq_scratch = (double *)gpu_alloc(g, sizeof(double) * g->sumsq_scratch_n);
        g->sumsq = (double *)gpu_alloc(g, sizeof(double));
    }
    /* RoPE tables for every position, built by the CPU reference code. */
    int half = g->d.hd / 2, P = m->cfg.max_pos;
    float *cs = (float *)malloc(sizeof(float) * (size_t)P * half);
    float *sn = (float *)malloc(sizeof(float) * (size_t)P * half);
    op_rope_table(cs, sn, m->inv_freq, P, g->d.hd);
    g->rope_cos = (float *)gpu_alloc(g, sizeof(float) * (size_t)P * half);
    g->rope_sin = (float *)gpu_alloc(g, sizeof(float) * (size_t)P * half);
    CU_CHECK(cudaMemcpy(g->rope_cos, cs, sizeof(float) * (size_t)P * half, cudaMemcpyHostToDevice));
    CU_CHECK(cudaMemcpy(g->rope_sin, sn, sizeof(float) * (size_t)P * half, cudaMemcpyHostToDevice));
    free(cs), free(sn);
    return g;
}

/* The output layer's chunk buffers (re-made at the next forward). */
static void chunk_free(R1Gpu *g) {
    if (!g->chunk) return;
    CU_CHECK(cudaStreamSynchronize(g->st));
    CU_CHECK(cudaFree(g->chunk));
    CU_CHECK(cudaFree(g->dchunk));
    g->bytes -= g->chunk_cap * (sizeof(float) + sizeof(bf16));
    g->chunk = NULL, g->dchunk = NULL, g->chunk_cap = 0;
}

static void acts_free(R1Gpu *g) {
    GpuActs *a = &g->a;
    void *bufs[] = {a->resid,     a->ln1,    a->ln2,     a->mid,       a->rstd1,     a->rstd2,
                    a->qkv,       a->att,    a->att16,   a->lse,       a->gu,        a->act,
                    a->lnf,       a->rstdf,  a->tokens,  a->pos,       a->seq_start, a->targets,
                    a->head_rows, a->tgt_h,  a->lnf_h,   a->mx,        a->se,        a->sy,
                    a->zt,        a->lse_h,  a->logp_h,  a->ent_h,     a->dlogp_h,   a->d_res,
                    a->d_ln,      a->d_qkv,  a->d_att,   a->d_act,     a->d_lnf_h,   a->d_res16,
                    a->d_qkv16,   a->d_gu16, a->scratch, a->emb_order, a->emb_uniq,  a->emb_ustart};
    CU_CHECK(cudaStreamSynchronize(g->st));
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        if (bufs[i]) CU_CHECK(cudaFree(bufs[i]));
    g->bytes -= a->bytes;
    memset(a, 0, sizeof *a);
    chunk_free(g);
    free(g->h_head_rows), free(g->h_tgt_h), free(g->h_buf);
    g->h_head_rows = g->h_tgt_h = NULL, g->h_buf = NULL;
}

extern "C" void r1_gpu_free(R1Gpu *g) {
    if (!g) return;
    gpu_nccl_free(g);
    acts_free(g);
    void *bufs[] = {g->w16,      g->w32,      g->g32,   g->m32,          g->v32,
                    g->rope_cos, g->rope_sin, g->sumsq, g->sumsq_scratch};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        if (bufs[i]) CU_CHECK(cudaFree(bufs[i]));
    cu_blas_free(&g->blas);
    CU_CHECK(cudaStreamDestroy(g->st));
    free(g->table.p), free(g->lay);
    free(g);
}

extern "C" size_t r1_gpu_bytes(const R1Gpu *g) {
    return g->bytes;
}

extern "C" void r1_gpu_set_vocab_chunk(R1Gpu *g, int cols) {
    g->vchunk = cols > 0 ? cols : 0;
    chunk_free(g);
}

/* ---- activations ------------------------------------------------------------- */

/* Counted in a->bytes too, so acts_free gives them back to g->bytes. */
#define ALLOC(ptr, type, n)                                                                        \
    ((ptr) = (type *)gpu_alloc(g, sizeof(type) * (size_t)(n)),                                     \
     a->bytes += sizeof(type) * (size_t)(n))

static void acts_reserve(R1Gpu *g, int T, int n_seqs) {
    GpuActs *a = &g->a;
    if (T <= a->cap_T && n_seqs <= a->cap_seqs) return;
    int cap_T = T > a->cap_T ? T : a->cap_T, cap_s = n_seqs > a->cap_seqs ? n_seqs : a->cap_seqs;
    acts_free(g);
    const GpuDims *d = &g->d;
    size_t t = (size_t)cap_T, L = (size_t)d->L;
    a->cap_T = cap_T, a->cap_seqs = cap_s;
    ALLOC(a->resid, float, (L + 1) * t * d->C);
    ALLOC(a->ln1, bf16, L * t * d->C);
    ALLOC(a->ln2, bf16, L * t * d->C);
    ALLOC(a->mid, float, L *t * d->C);
    ALLOC(a->rstd1, float, L *t);
    ALLOC(a->rstd2, float, L *t);
    ALLOC(a->qkv, float, L *t * d->QKV);
    ALLOC(a->att, float, L *t * d->Hd);
    ALLOC(a->att16, bf16, L * t * d->Hd);
    ALLOC(a->lse, float, L *t * d->H);
    ALLOC(a->gu, bf16, L * t * 2 * d->I);
    ALLOC(a->act, bf16, L * t * d->I);
    ALLOC(a->lnf, bf16, t * d->C);
    ALLOC(a->rstdf, float, t);
    ALLOC(a->tokens, int, t);
    ALLOC(a->pos, int, t);
    ALLOC(a->seq_start, int, cap_s + 1);
    ALLOC(a->targets, int, t);
    ALLOC(a->head_rows, int, t);
    ALLOC(a->tgt_h, int, t);
    ALLOC(a->lnf_h, bf16, t * d->C);
    float **stats[] = {&a->mx,    &a->se,     &a->sy,    &a->zt,
                       &a->lse_h, &a->logp_h, &a->ent_h, &a->dlogp_h};
    for (size_t i = 0; i < sizeof stats / sizeof stats[0]; i++) ALLOC(*stats[i], float, t);
    if (g->train) {
        ALLOC(a->d_res, float, t * d->C);
        ALLOC(a->d_ln, float, t * d->C);
        ALLOC(a->d_qkv, float, t * d->QKV);
        ALLOC(a->d_att, float, t * d->Hd);
        ALLOC(a->d_act, float, t * d->I);
        ALLOC(a->d_lnf_h, float, t * d->C);
        ALLOC(a->d_res16, bf16, t * d->C);
        ALLOC(a->d_qkv16, bf16, t * d->QKV);
        ALLOC(a->d_gu16, bf16, t * 2 * d->I);
        size_t s1 = cu_rmsnorm_bwd_scratch(cap_T, d->C), s2 = cu_attention_bwd_scratch(cap_T, d->H);
        a->scratch_floats = s1 > s2 ? s1 : s2;
        ALLOC(a->scratch, float, a->scratch_floats);
        ALLOC(a->emb_order, int, t);
        ALLOC(a->emb_uniq, int, t);
        ALLOC(a->emb_ustart, int, t + 1);
    }
    g->h_head_rows = (int *)malloc(sizeof(int) * t);
    g->h_tgt_h = (int *)malloc(sizeof(int) * t);
    g->h_buf = (float *)malloc(sizeof(float) * t);
}

/* Columns per chunk of the output layer, and its buffers for n rows. */
static int chunk_cols(R1Gpu *g, int n) {
    int V = g->d.V, vc = g->vchunk;
    if (vc <= 0) {
        long cols = ((long)1 << 26) / (n > 0 ? n : 1); /* 256 MB of float32 logits */
        cols = cols / 128 * 128;
        vc = (int)(cols < 128 ? 128 : cols);
    }
    if (vc > V) vc = V;
    size_t need = (size_t)n * (size_t)vc; /* this call's rows only: ~256 MB when automatic */
    if (need > g->chunk_cap) {
        chunk_free(g);
        g->chunk = (float *)gpu_alloc(g, sizeof(float) * need);
        g->dchunk = (bf16 *)gpu_alloc(g, sizeof(bf16) * need);
        g->chunk_cap = need;
    }
    return vc;
}

/* ---- forward ------------------------------------------------------------------- */

CuSeqs gpu_seqs(const R1Gpu *g) {
    CuSeqs s;
    s.n_seqs = g->last_seqs, s.T = g->last_T, s.max_len = g->last_maxlen, s.start = g->a.seq_start;
    return s;
}

static void upload_batch(R1Gpu *g, const R1Batch *b) {
    int T = b->n_tokens, max_len = 0;
    int *pos = (int *)malloc(sizeof(int) * (size_t)T);
    for (int s = 0; s < b->n_seqs; s++) {
        int t0 = b->seq_start[s], t1 = b->seq_start[s + 1];
        for (int t = t0; t < t1; t++) pos[t] = t - t0;
        if (t1 - t0 > max_len) max_len = t1 - t0;
    }
    GpuActs *a = &g->a;
    CU_CHECK(cudaMemcpyAsync(a->tokens, b->tokens, sizeof(int) * T, cudaMemcpyHostToDevice, g->st));
    CU_CHECK(cudaMemcpyAsync(a->pos, pos, sizeof(int) * T, cudaMemcpyHostToDevice, g->st));
    CU_CHECK(cudaMemcpyAsync(a->seq_start, b->seq_start, sizeof(int) * (b->n_seqs + 1),
                             cudaMemcpyHostToDevice, g->st));
    CU_CHECK(cudaStreamSynchronize(g->st)); /* pos is freed below */
    free(pos);
    g->last_T = T, g->last_seqs = b->n_seqs, g->last_maxlen = max_len;
}

static void layer_forward(R1Gpu *g, int l) {
    const GpuDims *d = &g->d;
    const GpuLayer *w = &g->lay[l];
    GpuActs *a = &g->a;
    int T = g->last_T;
    size_t t = (size_t)T;
    float *x = a->resid + l * t * d->C, *xout = a->resid + (l + 1) * t * d->C;
    float *mid = a->mid + l * t * d->C, *qkv = a->qkv + l * t * d->QKV;
    bf16 *ln1 = a->ln1 + l * t * d->C, *ln2 = a->ln2 + l * t * d->C;
    float *att = a->att + l * t * d->Hd;
    bf16 *att16 = a->att16 + l * t * d->Hd, *gu = a->gu + l * t * 2 * d->I;
    bf16 *act = a->act + l * t * d->I;
    float eps = g->cfg.rms_eps;

    cu_rmsnorm_fwd(ln1, a->rstd1 + l * t, x, g->w16 + w->ln1, T, d->C, eps, g->st);
    cu_mm_fwd(&g->blas, qkv, 0, d->QKV, ln1, g->w16 + w->wqkv, T, d->C, d->QKV, 0);
    if (w->has_bias) cu_add_bias(qkv, g->w16 + w->bqkv, T, d->QKV, g->st);
    cu_rope_fwd(qkv, d->QKV, a->pos, g->rope_cos, g->rope_sin, T, d->H, d->hd, g->st);
    cu_rope_fwd(qkv + d->Hd, d->QKV, a->pos, g->rope_cos, g->rope_sin, T, d->KV, d->hd, g->st);
    cu_attention_fwd(att, a->lse + l * t * d->H, qkv, d->QKV, qkv + d->Hd, qkv + d->Hd + d->KVd,
                     d->QKV, gpu_seqs(g), d->H, d->KV, d->hd, g->st);
    cu_f32_to_bf16(att16, att, t * d->Hd, g->st);
    /* residual: mid = x + att W_o^T, the add done by the product (beta = 1) */
    CU_CHECK(cudaMemcpyAsync(mid, x, sizeof(float) * t * d->C, cudaMemcpyDeviceToDevice, g->st));
    cu_mm_fwd(&g->blas, mid, 0, d->C, att16, g->w16 + w->wo, T, d->Hd, d->C, 1);
    cu_rmsnorm_fwd(ln2, a->rstd2 + l * t, mid, g->w16 + w->ln2, T, d->C, eps, g->st);
    cu_mm_fwd(&g->blas, gu, 1, 2 * d->I, ln2, g->w16 + w->wgu, T, d->C, 2 * d->I, 0);
    cu_swiglu_fwd(act, gu, T, d->I, g->st);
    CU_CHECK(cudaMemcpyAsync(xout, mid, sizeof(float) * t * d->C, cudaMemcpyDeviceToDevice, g->st));
    cu_mm_fwd(&g->blas, xout, 0, d->C, act, g->w16 + w->wdown, T, d->I, d->C, 1);
}

void gpu_forward_layers(R1Gpu *g, const R1Batch *b) {
    acts_reserve(g, b->n_tokens, b->n_seqs);
    upload_batch(g, b);
    const GpuDims *d = &g->d;
    int T = g->last_T;
    cu_embedding_fwd(g->a.resid, g->a.tokens, g->w16 + g->off_wte, T, d->C, g->st);
    for (int l = 0; l < d->L; l++) layer_forward(g, l);
    cu_rmsnorm_fwd(g->a.lnf, g->a.rstdf, g->a.resid + (size_t)d->L * T * d->C, g->w16 + g->off_norm,
                   T, d->C, g->cfg.rms_eps, g->st);
}

static float logit_scale(const R1Batch *b) {
    return b->temperature > 0 ? 1.0f / b->temperature : 1.0f;
}

extern "C" int r1_gpu_forward(R1Gpu *g, const R1Batch *b, float *logp, float *loss, double *entropy,
                              R1Err *err) {
    if (!b->targets) return r1_seterr(err, "r1_gpu_forward: the batch has no targets");
    gpu_forward_layers(g, b);
    const GpuDims *d = &g->d;
    GpuActs *a = &g->a;
    int T = b->n_tokens, n = 0;
    for (int t = 0; t < T; t++)
        if (b->targets[t] >= 0) g->h_head_rows[n] = t, g->h_tgt_h[n++] = b->targets[t];
    g->last_n = n, g->last_scale = logit_scale(b), g->have_forward = 1;
    for (int t = 0; t < T; t++) logp[t] = 0.0f;
    *loss = 0.0f;
    if (entropy) *entropy = 0.0;
    if (n == 0) return 0;
    CU_CHECK(cudaMemcpyAsync(a->head_rows, g->h_head_rows, sizeof(int) * n, cudaMemcpyHostToDevice,
                             g->st));
    CU_CHECK(cudaMemcpyAsync(a->tgt_h, g->h_tgt_h, sizeof(int) * n, cudaMemcpyHostToDevice, g->st));
    cu_gather_rows_bf16(a->lnf_h, a->lnf, a->head_rows, n, d->C, g->st);
    int vc = chunk_cols(g, n);
    float s = g->last_scale;
    const bf16 *W = g->w16 + g->off_head;
    cu_head_stats_init(a->mx, a->se, a->sy, a->zt, n, g->st);
    for (int v0 = 0; v0 < d->V; v0 += vc) {
        int k = d->V - v0 < vc ? d->V - v0 : vc;
        cu_mm_fwd(&g->blas, g->chunk, 0, k, a->lnf_h, W + (size_t)v0 * d->C, n, d->C, k, 0);
        cu_head_stats_chunk(a->mx, a->se, a->sy, a->zt, g->chunk, k, n, k, v0, a->tgt_h, s, g->st);
    }
    cu_head_stats_finish(a->logp_h, a->lse_h, a->ent_h, a->mx, a->se, a->sy, a->zt, n, s, g->st);
    CU_CHECK(
        cudaMemcpyAsync(g->h_buf, a->logp_h, sizeof(float) * n, cudaMemcpyDeviceToHost, g->st));
    CU_CHECK(cudaStreamSynchronize(g->st));
    double sum = 0.0;
    for (int r = 0; r < n; r++) {
        logp[g->h_head_rows[r]] = g->h_buf[r];
        sum -= g->h_buf[r];
    }
    *loss = (float)(sum / n);
    if (entropy) { /* only when asked; the row entropies take h_buf's place */
        CU_CHECK(
            cudaMemcpyAsync(g->h_buf, a->ent_h, sizeof(float) * n, cudaMemcpyDeviceToHost, g->st));
        CU_CHECK(cudaStreamSynchronize(g->st));
        double hsum = 0.0;
        for (int r = 0; r < n; r++) hsum += g->h_buf[r];
        *entropy = hsum;
    }
    return 0;
}

extern "C" int r1_gpu_logits(R1Gpu *g, const R1Batch *b, float *logits, R1Err *err) {
    (void)err;
    gpu_forward_layers(g, b);
    const GpuDims *d = &g->d;
    int T = b->n_tokens;
    float *out = (float *)gpu_alloc(g, sizeof(float) * (size_t)T * d->V);
    cu_mm_fwd(&g->blas, out, 0, d->V, g->a.lnf, g->w16 + g->off_head, T, d->C, d->V, 0);
    CU_CHECK(cudaMemcpyAsync(logits, out, sizeof(float) * (size_t)T * d->V, cudaMemcpyDeviceToHost,
                             g->st));
    CU_CHECK(cudaStreamSynchronize(g->st));
    CU_CHECK(cudaFree(out));
    g->bytes -= sizeof(float) * (size_t)T * d->V;
    g->have_forward = 0;
    return 0;
}

/* ---- backward ------------------------------------------------------------------ */

/* dL/d(final norm output) at the head rows, chunk by chunk, into a.d_ln
 * (zero elsewhere); the output layer's gradient accumulated on the way. */
static void head_backward(R1Gpu *g) {
    const GpuDims *d = &g->d;
    GpuActs *a = &g->a;
    int n = g->last_n, T = g->last_T, vc = chunk_cols(g, n);
    const bf16 *W = g->w16 + g->off_head;
    float *dW = g->g32 + g->off_head, s = g->last_scale;
    CU_CHECK(cudaMemsetAsync(a->d_lnf_h, 0, sizeof(float) * (size_t)n * d->C, g->st));
    for (int v0 = 0; v0 < d->V; v0 += vc) {
        int k = d->V - v0 < vc ? d->V - v0 : vc;
        cu_mm_fwd(&g->blas, g->chunk, 0, k, a->lnf_h, W + (size_t)v0 * d->C, n, d->C, k, 0);
        cu_head_dlogits(g->dchunk, g->chunk, k, n, k, v0, a->tgt_h, a->lse_h, a->dlogp_h, s, g->st);
        cu_mm_dinp(&g->blas, a->d_lnf_h, g->dchunk, W + (size_t)v0 * d->C, n, d->C, k, 1);
        cu_mm_dw(&g->blas, dW + (size_t)v0 * d->C, g->dchunk, a->lnf_h, n, d->C, k);
    }
    CU_CHECK(cudaMemsetAsync(a->d_ln, 0, sizeof(float) * (size_t)T * d->C, g->st));
    cu_scatter_rows(a->d_ln, a->d_lnf_h, a->head_rows, n, d->C, g->st);
}

/* On entry a.d_res holds dL/d(layer output); on exit dL/d(layer input). */
static void layer_backward(R1Gpu *g, int l) {
    const GpuDims *d = &g->d;
    const GpuLayer *w = &g->lay[l];
    GpuActs *a = &g->a;
    int T = g->last_T;
    size_t t = (size_t)T;
    const float *x = a->resid + l * t * d->C, *mid = a->mid + l * t * d->C;
    const float *qkv = a->qkv + l * t * d->QKV;
    const bf16 *ln1 = a->ln1 + l * t * d->C, *ln2 = a->ln2 + l * t * d->C;
    const float *att = a->att + l * t * d->Hd;
    const bf16 *att16 = a->att16 + l * t * d->Hd, *gu = a->gu + l * t * 2 * d->I;
    const bf16 *act = a->act + l * t * d->I;
    float *G = g->g32;
    CuBlas *B = &g->blas;

    /* MLP branch: xout = mid + down(swiglu(gate|up(norm2(mid)))) */
    cu_f32_to_bf16(a->d_res16, a->d_res, t * d->C, g->st);
    cu_mm_dinp(B, a->d_act, a->d_res16, g->w16 + w->wdown, T, d->I, d->C, 0);
    cu_mm_dw(B, G + w->wdown, a->d_res16, act, T, d->I, d->C);
    cu_swiglu_bwd(a->d_gu16, a->d_act, gu, T, d->I, g->st);
    cu_mm_dinp(B, a->d_ln, a->d_gu16, g->w16 + w->wgu, T, d->C, 2 * d->I, 0);
    cu_mm_dw(B, G + w->wgu, a->d_gu16, ln2, T, d->C, 2 * d->I);
    cu_rmsnorm_bwd(a->d_res, G + w->ln2, a->d_ln, mid, g->w16 + w->ln2, a->rstd2 + l * t, T, d->C,
                   a->scratch, g->st);

    /* Attention branch: mid = x + o(attention(rope(qkv(norm1(x))))) */
    cu_f32_to_bf16(a->d_res16, a->d_res, t * d->C, g->st);
    cu_mm_dinp(B, a->d_att, a->d_res16, g->w16 + w->wo, T, d->Hd, d->C, 0);
    cu_mm_dw(B, G + w->wo, a->d_res16, att16, T, d->Hd, d->C);
    CU_CHECK(cudaMemsetAsync(a->d_qkv, 0, sizeof(float) * t * d->QKV, g->st));
    cu_attention_bwd(a->d_qkv, a->d_qkv + d->Hd, a->d_qkv + d->Hd + d->KVd, d->QKV, a->d_att, att,
                     a->lse + l * t * d->H, qkv, d->QKV, qkv + d->Hd, qkv + d->Hd + d->KVd, d->QKV,
                     gpu_seqs(g), d->H, d->KV, d->hd, a->scratch, g->st);
    cu_rope_bwd(a->d_qkv, d->QKV, a->pos, g->rope_cos, g->rope_sin, T, d->H, d->hd, g->st);
    cu_rope_bwd(a->d_qkv + d->Hd, d->QKV, a->pos, g->rope_cos, g->rope_sin, T, d->KV, d->hd, g->st);
    cu_f32_to_bf16(a->d_qkv16, a->d_qkv, t * d->QKV, g->st);
    if (w->has_bias) cu_bias_bwd(G + w->bqkv, a->d_qkv16, T, d->QKV, g->st);
    cu_mm_dinp(B, a->d_ln, a->d_qkv16, g->w16 + w->wqkv, T, d->C, d->QKV, 0);
    cu_mm_dw(B, G + w->wqkv, a->d_qkv16, ln1, T, d->C, d->QKV);
    cu_rmsnorm_bwd(a->d_res, G + w->ln1, a->d_ln, x, g->w16 + w->ln1, a->rstd1 + l * t, T, d->C,
                   a->scratch, g->st);
}

typedef struct {
    int tok, pos;
} TokPos;

static int tokpos_cmp(const void *x, const void *y) {
    const TokPos *a = (const TokPos *)x, *b = (const TokPos *)y;
    if (a->tok != b->tok) return a->tok < b->tok ? -1 : 1;
    return a->pos < b->pos ? -1 : a->pos > b->pos;
}

/* The embedding's backward, grouped by token on the host so it needs no
 * atomics: positions sorted by (token, position). */
static void embedding_backward(R1Gpu *g, const R1Batch *b) {
    int T = b->n_tokens, nu = 0;
    TokPos *tp = (TokPos *)malloc(sizeof(TokPos) * (size_t)T);
    int *order = (int *)malloc(sizeof(int) * (size_t)T),
        *uniq = (int *)malloc(sizeof(int) * (size_t)T);
    int *ustart = (int *)malloc(sizeof(int) * (size_t)(T + 1));
    for (int t = 0; t < T; t++) tp[t].tok = b->tokens[t], tp[t].pos = t;
    qsort(tp, (size_t)T, sizeof *tp, tokpos_cmp);
    for (int t = 0; t < T; t++) {
        order[t] = tp[t].pos;
        if (t == 0 || tp[t].tok != tp[t - 1].tok) uniq[nu] = tp[t].tok, ustart[nu++] = t;
    }
    ustart[nu] = T;
    GpuActs *a = &g->a;
    CU_CHECK(cudaMemcpyAsync(a->emb_order, order, sizeof(int) * T, cudaMemcpyHostToDevice, g->st));
    CU_CHECK(cudaMemcpyAsync(a->emb_uniq, uniq, sizeof(int) * nu, cudaMemcpyHostToDevice, g->st));
    CU_CHECK(cudaMemcpyAsync(a->emb_ustart, ustart, sizeof(int) * (nu + 1), cudaMemcpyHostToDevice,
                             g->st));
    cu_embedding_bwd(g->g32 + g->off_wte, a->d_res, a->emb_order, a->emb_uniq, a->emb_ustart, nu,
                     g->d.C, g->st);
    CU_CHECK(cudaStreamSynchronize(g->st)); /* the host arrays are freed below */
    free(tp), free(order), free(uniq), free(ustart);
}

extern "C" int r1_gpu_backward(R1Gpu *g, const R1Batch *b, const float *dlogp, R1Err *err) {
    if (!g->train) return r1_seterr(err, "r1_gpu_backward: the model was uploaded without train");
    if (!g->have_forward || g->last_T != b->n_tokens || !b->targets)
        return r1_seterr(err, "r1_gpu_backward: needs the forward of this batch, with targets");
    const GpuDims *d = &g->d;
    GpuActs *a = &g->a;
    int n = g->last_n, T = b->n_tokens;
    for (int r = 0; r < n; r++) g->h_buf[r] = dlogp ? dlogp[g->h_head_rows[r]] : -1.0f / (float)n;
    if (n > 0) {
        CU_CHECK(cudaMemcpyAsync(a->dlogp_h, g->h_buf, sizeof(float) * n, cudaMemcpyHostToDevice,
                                 g->st));
        head_backward(g);
    } else {
        CU_CHECK(cudaMemsetAsync(a->d_ln, 0, sizeof(float) * (size_t)T * d->C, g->st));
    }
    CU_CHECK(cudaMemsetAsync(a->d_res, 0, sizeof(float) * (size_t)T * d->C, g->st));
    cu_rmsnorm_bwd(a->d_res, g->g32 + g->off_norm, a->d_ln, a->resid + (size_t)d->L * T * d->C,
                   g->w16 + g->off_norm, a->rstdf, T, d->C, a->scratch, g->st);
    for (int l = d->L - 1; l >= 0; l--) layer_backward(g, l);
    embedding_backward(g, b);
    g->have_forward = 0;
    return 0;
}

/* ---- optimizer ------------------------------------------------------------------- */

extern "C" void r1_gpu_zero_grad(R1Gpu *g) {
    CU_CHECK(cudaMemsetAsync(g->g32, 0, sizeof(float) * g->table.total, g->st));
}

extern "C" double r1_gpu_clip_grad_norm(R1Gpu *g, double max_norm) {
    double ss = 0.0;
    cu_sumsq(g->sumsq, g->g32, g->table.total, g->sumsq_scratch, g->st);
    CU_CHECK(cudaMemcpyAsync(&ss, g->sumsq, sizeof ss, cudaMemcpyDeviceToHost, g->st));
    CU_CHECK(cudaStreamSynchronize(g->st));
    double norm = sqrt(ss);
    if (max_norm <= 0 || !(norm > max_norm) || !isfinite(norm)) return norm;
    cu_scale(g->g32, g->table.total, (float)(max_norm / norm), g->st);
    return norm;
}

extern "C" void r1_gpu_adamw_step(R1Gpu *g, R1AdamW *o, float lr) {
    size_t n = g->table.total;
    if (!g->m32) {
        g->m32 = (float *)gpu_alloc(g, sizeof(float) * n);
        g->v32 = (float *)gpu_alloc(g, sizeof(float) * n);
        CU_CHECK(cudaMemcpy(g->m32, o->m, sizeof(float) * n, cudaMemcpyHostToDevice));
        CU_CHECK(cudaMemcpy(g->v32, o->v, sizeof(float) * n, cudaMemcpyHostToDevice));
    }
    long t = ++o->step;
    o->lr = lr;
    double bc1 = 1.0 - pow((double)o->beta1, (double)t),
           bc2 = 1.0 - pow((double)o->beta2, (double)t);
    for (int i = 0; i < g->table.n; i++) {
        const R1Param *q = &g->table.p[i];
        size_t off = q->offset;
        float wd = q->decay ? o->weight_decay : 0.0f;
        cu_adamw(g->w32 + off, g->w16 + off, g->g32 + off, g->m32 + off, g->v32 + off, q->numel, lr,
                 o->beta1, o->beta2, o->eps, wd, (float)bc1, (float)bc2, g->st);
    }
}

extern "C" void r1_gpu_get_state(R1Gpu *g, R1Model *m, float *grads, R1AdamW *o) {
    size_t n = g->table.total;
    if (m && g->w32)
        CU_CHECK(
            cudaMemcpyAsync(m->params, g->w32, sizeof(float) * n, cudaMemcpyDeviceToHost, g->st));
    if (grads && g->g32)
        CU_CHECK(cudaMemcpyAsync(grads, g->g32, sizeof(float) * n, cudaMemcpyDeviceToHost, g->st));
    if (o && g->m32) {
        CU_CHECK(cudaMemcpyAsync(o->m, g->m32, sizeof(float) * n, cudaMemcpyDeviceToHost, g->st));
        CU_CHECK(cudaMemcpyAsync(o->v, g->v32, sizeof(float) * n, cudaMemcpyDeviceToHost, g->st));
    }
    CU_CHECK(cudaStreamSynchronize(g->st));
}
