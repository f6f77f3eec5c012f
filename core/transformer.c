/* transformer.c - the forward and backward passes of model.h, and the
 * activation buffers they share. Written over ops.h only. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "ops.h"

/* Sizes that every pass needs, named once. */
typedef struct {
    int C, L, H, KV, hd, QKV, I, V;
} Dims;

static Dims dims_of(const R1Config *c) {
    Dims d = {c->hidden,   c->n_layers, c->n_heads,      c->n_kv_heads,
              c->head_dim, 0,           c->intermediate, c->vocab};
    d.QKV = (d.H + 2 * d.KV) * d.hd;
    return d;
}

/* ---- activations ----------------------------------------------------------- */

void r1_acts_init(R1Acts *a) {
    memset(a, 0, sizeof *a);
}

void r1_acts_free(R1Acts *a) {
    float *bufs[] = {a->resid,    a->ln1,    a->ln2,    a->mid,   a->rstd1,    a->rstd2,
                     a->qkv,      a->att,    a->lse,    a->gu,    a->act,      a->lnf,
                     a->rstdf,    a->logits, a->logp,   a->lse_v, a->d_res,    a->d_ln,
                     a->d_qkv,    a->d_att,  a->d_gu,   a->d_act, a->rope_cos, a->rope_sin,
                     a->rope_inv, a->lnf_h,  a->logp_h, a->lse_h, a->ent_h};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) free(bufs[i]);
    free(a->pos), free(a->head_row), free(a->tgt_h);
    int want = a->want_entropy;
    memset(a, 0, sizeof *a);
    a->want_entropy = want; /* the caller's choice outlives the buffers */
}

/* Floats per token of each saved activation, in one place for alloc and info. */
static size_t floats_per_token(const Dims *d) {
    size_t per_layer =
        3 * (size_t)d->C + 2 + d->QKV + (size_t)d->H * d->hd + d->H + 3 * (size_t)d->I;
    size_t scratch = 2 * (size_t)d->C + d->QKV + (size_t)d->H * d->hd + 3 * (size_t)d->I;
    return (size_t)(d->L + 1) * d->C + d->L * per_layer + d->C + 1 + 2 + scratch;
}

size_t r1_acts_bytes(const R1Config *c, int T) {
    Dims d = dims_of(c);
    size_t rows =
        (size_t)R1_HEAD_CHUNK_ROWS(d.V) < (size_t)T ? (size_t)R1_HEAD_CHUNK_ROWS(d.V) : (size_t)T;
    return sizeof(float) * (floats_per_token(&d) * (size_t)T + rows * (size_t)d.V);
}

/* Room for `rows` rows of logits (kept across batches; grown, never shrunk). */
static void logits_reserve(R1Acts *a, const Dims *d, size_t rows) {
    size_t need = rows * (size_t)d->V;
    if (need <= a->cap_logits) return;
    free(a->logits);
    a->logits = r1_falloc(need ? need : 1);
    a->cap_logits = need;
}

static long shape_key(const Dims *d) {
    return ((((long)d->C * 1031 + d->L) * 1031 + d->QKV) * 1031 + d->I) * 1031 + d->V;
}

/* Buffers for T tokens of this model; a different model (a teacher, a
 * reference) sharing the R1Acts gets fresh ones. */
static void acts_reserve(R1Acts *a, const Dims *d, int T) {
    if (T <= a->cap_T && a->shape_key == shape_key(d)) return;
    r1_acts_free(a);
    a->shape_key = shape_key(d);
    size_t t = (size_t)T, L = (size_t)d->L;
    a->cap_T = T;
    a->pos = r1_xmalloc(sizeof(int) * t);
    a->resid = r1_falloc((L + 1) * t * d->C);
    a->ln1 = r1_falloc(L * t * d->C);
    a->ln2 = r1_falloc(L * t * d->C);
    a->mid = r1_falloc(L * t * d->C);
    a->rstd1 = r1_falloc(L * t);
    a->rstd2 = r1_falloc(L * t);
    a->qkv = r1_falloc(L * t * d->QKV);
    a->att = r1_falloc(L * t * d->H * d->hd);
    a->lse = r1_falloc(L * t * d->H);
    a->gu = r1_falloc(L * t * 2 * d->I);
    a->act = r1_falloc(L * t * d->I);
    a->lnf = r1_falloc(t * d->C);
    a->rstdf = r1_falloc(t);
    a->logp = r1_falloc(t);
    a->lse_v = r1_falloc(t);
    a->d_res = r1_falloc(t * d->C);
    a->d_ln = r1_falloc(t * d->C);
    a->d_qkv = r1_falloc(t * d->QKV);
    a->d_att = r1_falloc(t * d->H * d->hd);
    a->d_gu = r1_falloc(t * 2 * d->I);
    a->d_act = r1_falloc(t * d->I);
    a->head_row = r1_xmalloc(sizeof(int) * t);
    a->tgt_h = r1_xmalloc(sizeof(int) * t);
    a->lnf_h = r1_falloc(t * d->C);
    a->logp_h = r1_falloc(t);
    a->lse_h = r1_falloc(t);
    a->ent_h = r1_falloc(t);
}

/* Positions restart per sequence; the RoPE table covers the longest one. */
static void set_positions(R1Model *m, R1Acts *a, const R1Batch *b) {
    int max_len = 0;
    for (int s = 0; s < b->n_seqs; s++) {
        int t0 = b->seq_start[s], t1 = b->seq_start[s + 1];
        for (int t = t0; t < t1; t++) a->pos[t] = t - t0;
        if (t1 - t0 > max_len) max_len = t1 - t0;
    }
    int half = m->cfg.head_dim / 2;
    if (max_len <= a->cap_pos && a->rope_half == half &&
        memcmp(a->rope_inv, m->inv_freq, sizeof(float) * (size_t)half) == 0)
        return;
    free(a->rope_cos);
    free(a->rope_sin);
    free(a->rope_inv);
    a->rope_inv = r1_falloc((size_t)half);
    memcpy(a->rope_inv, m->inv_freq, sizeof(float) * (size_t)half);
    a->rope_cos = r1_falloc((size_t)max_len * half);
    a->rope_sin = r1_falloc((size_t)max_len * half);
    op_rope_table(a->rope_cos, a->rope_sin, m->inv_freq, max_len, m->cfg.head_dim);
    a->cap_pos = max_len;
    a->rope_half = half;
}

int r1_batch_check(const R1Model *m, const R1Batch *b, R1Err *err) {
    if (b->n_seqs < 1 || b->seq_start[0] != 0 || b->seq_start[b->n_seqs] != b->n_tokens)
        return r1_seterr(err, "batch: sequence boundaries do not cover its %d tokens", b->n_tokens);
    for (int s = 0; s < b->n_seqs; s++) {
        int len = b->seq_start[s + 1] - b->seq_start[s];
        if (len < 1) return r1_seterr(err, "batch: sequence %d is empty", s);
        if (len > m->cfg.max_pos)
            return r1_seterr(err, "batch: sequence %d has %d tokens, max_position_embeddings is %d",
                             s, len, m->cfg.max_pos);
    }
    for (int s = 0; s < b->n_seqs; s++)
        for (int t = b->seq_start[s]; t < b->seq_start[s + 1]; t++) {
            int pos = t - b->seq_start[s];
            if (b->tokens[t] < 0 || b->tokens[t] >= m->cfg.vocab)
                return r1_seterr(err,
                                 "batch: sequence %d, position %d: token %d has id %d, outside "
                                 "the vocabulary [0, %d)",
                                 s, pos, t, b->tokens[t], m->cfg.vocab);
            if (b->targets && b->targets[t] >= m->cfg.vocab)
                return r1_seterr(err,
                                 "batch: sequence %d, position %d: target %d has id %d, outside "
                                 "the vocabulary [0, %d)",
                                 s, pos, t, b->targets[t], m->cfg.vocab);
        }
    return 0;
}

/* ---- forward --------------------------------------------------------------- */

static void layer_forward(R1Model *m, R1Acts *a, const R1Batch *b, const Dims *d, int l) {
    const R1Layer *w = &m->layers[l];
    size_t T = (size_t)b->n_tokens;
    float *x = a->resid + l * T * d->C, *xout = a->resid + (l + 1) * T * d->C;
    float *ln1 = a->ln1 + l * T * d->C, *ln2 = a->ln2 + l * T * d->C, *mid = a->mid + l * T * d->C;
    float *qkv = a->qkv + l * T * d->QKV, *att = a->att + l * T * d->H * d->hd;
    float *gu = a->gu + l * T * 2 * d->I, *act = a->act + l * T * d->I;
    int Hd = d->H * d->hd, KVd = d->KV * d->hd, nT = b->n_tokens;

    op_rmsnorm_fwd(ln1, a->rstd1 + l * T, x, w->ln1, nT, d->C, m->cfg.rms_eps);
    op_matmul_fwd(qkv, ln1, w->wqkv, w->bqkv, nT, d->C, d->QKV, 0);
    op_rope_fwd(qkv, d->QKV, a->pos, a->rope_cos, a->rope_sin, nT, d->H, d->hd);
    op_rope_fwd(qkv + Hd, d->QKV, a->pos, a->rope_cos, a->rope_sin, nT, d->KV, d->hd);
    op_attention_fwd(att, a->lse + l * T * d->H, qkv, d->QKV, qkv + Hd, qkv + Hd + KVd, d->QKV,
                     b->seq_start, b->n_seqs, d->H, d->KV, d->hd);
    memcpy(mid, x, sizeof(float) * T * d->C); /* residual: mid = x + att W_o^T */
    op_matmul_fwd(mid, att, w->wo, NULL, nT, Hd, d->C, 1);
    op_rmsnorm_fwd(ln2, a->rstd2 + l * T, mid, w->ln2, nT, d->C, m->cfg.rms_eps);
    op_matmul_fwd(gu, ln2, w->wgu, NULL, nT, d->C, 2 * d->I, 0);
    op_swiglu_fwd(act, gu, nT, d->I);
    memcpy(xout, mid, sizeof(float) * T * d->C); /* residual: xout = mid + act W_down^T */
    op_matmul_fwd(xout, act, w->wdown, NULL, nT, d->I, d->C, 1);
}

static float logit_scale(const R1Batch *b) {
    return b->temperature > 0 ? 1.0f / b->temperature : 1.0f;
}

/* Entropy of softmax(s z) of each of n rows of logits z, given each row's
 * log-sum-exp; a metric, so a float exp per element does (summed in double). */
static void rows_entropy(float *ent, const float *logits, const float *lse, int n, int V, float s) {
#pragma omp parallel for schedule(static)
    for (int r = 0; r < n; r++) {
        const float *z = logits + (size_t)r * V;
        double h = lse[r];
        for (int j = 0; j < V; j++) h -= (double)(expf(s * z[j] - lse[r]) * s * z[j]);
        ent[r] = (float)h;
    }
}

/* The output layer's logits of head rows [r0, r0 + k) into a->logits. */
static void head_chunk(const R1Model *m, R1Acts *a, const Dims *d, int r0, int k) {
    op_matmul_fwd(a->logits, a->lnf_h + (size_t)r0 * d->C, m->lm_head, NULL, k, d->C, d->V, 0);
}

/* The output layer and log-probabilities at the rows with a target only, in
 * chunks of R1_HEAD_CHUNK_ROWS rows. */
static void head_at_targets(R1Model *m, R1Acts *a, const R1Batch *b, const Dims *d) {
    int n = 0, T = b->n_tokens, R = R1_HEAD_CHUNK_ROWS(d->V);
    float s = logit_scale(b);
    for (int t = 0; t < T; t++) {
        a->head_row[t] = b->targets[t] >= 0 ? n : -1;
        if (b->targets[t] < 0) continue;
        memcpy(a->lnf_h + (size_t)n * d->C, a->lnf + (size_t)t * d->C, sizeof(float) * d->C);
        a->tgt_h[n++] = b->targets[t];
    }
    a->n_head = n;
    logits_reserve(a, d, (size_t)(n < R ? n : R));
    for (int r0 = 0; r0 < n; r0 += R) {
        int k = n - r0 < R ? n - r0 : R;
        head_chunk(m, a, d, r0, k);
        op_logprob_fwd(a->logp_h + r0, a->lse_h + r0, a->logits, a->tgt_h + r0, k, d->V, s);
        if (a->want_entropy) rows_entropy(a->ent_h + r0, a->logits, a->lse_h + r0, k, d->V, s);
    }
    for (int t = 0; t < T; t++) {
        int r = a->head_row[t];
        a->logp[t] = r >= 0 ? a->logp_h[r] : 0.0f;
        a->lse_v[t] = r >= 0 ? a->lse_h[r] : 0.0f;
    }
}

void r1_model_forward(R1Model *m, R1Acts *a, const R1Batch *b) {
    Dims d = dims_of(&m->cfg);
    int T = b->n_tokens;
    acts_reserve(a, &d, T);
    a->T = T;
    set_positions(m, a, b);
    op_embedding_fwd(a->resid, b->tokens, m->wte, T, d.C);
    for (int l = 0; l < d.L; l++) layer_forward(m, a, b, &d, l);
    op_rmsnorm_fwd(a->lnf, a->rstdf, a->resid + (size_t)d.L * T * d.C, m->norm, T, d.C,
                   m->cfg.rms_eps);
    a->loss = 0.0f;
    a->n_targets = 0;
    if (b->targets && b->head_targets_only) {
        head_at_targets(m, a, b, &d);
    } else {
        logits_reserve(a, &d, (size_t)T);
        op_matmul_fwd(a->logits, a->lnf, m->lm_head, NULL, T, d.C, d.V, 0);
        for (int t = 0; t < T; t++) a->head_row[t] = t;
        a->n_head = T;
        if (!b->targets) return;
        op_logprob_fwd(a->logp, a->lse_v, a->logits, b->targets, T, d.V, logit_scale(b));
    }
    double sum = 0.0;
    for (int t = 0; t < T; t++)
        if (b->targets[t] >= 0) {
            sum -= a->logp[t];
            a->n_targets++;
        }
    a->loss = a->n_targets ? (float)(sum / a->n_targets) : 0.0f;
}

/* ---- backward -------------------------------------------------------------- */

static float *grad_of(R1Model *m, const float *param) {
    return m->grads + (param - m->params);
}

/* On entry a->d_res holds dL/d(layer output); on exit dL/d(layer input). */
static void layer_backward(R1Model *m, R1Acts *a, const R1Batch *b, const Dims *d, int l) {
    const R1Layer *w = &m->layers[l];
    size_t T = (size_t)b->n_tokens;
    int nT = b->n_tokens, Hd = d->H * d->hd, KVd = d->KV * d->hd;
    const float *x = a->resid + l * T * d->C, *ln1 = a->ln1 + l * T * d->C;
    const float *ln2 = a->ln2 + l * T * d->C, *mid = a->mid + l * T * d->C;
    const float *qkv = a->qkv + l * T * d->QKV, *att = a->att + l * T * d->H * d->hd;
    const float *gu = a->gu + l * T * 2 * d->I, *act = a->act + l * T * d->I;
    float *dres = a->d_res;

    /* MLP branch: xout = mid + down(swiglu(gate|up(norm2(mid)))) */
    memset(a->d_act, 0, sizeof(float) * T * d->I);
    op_matmul_bwd(a->d_act, grad_of(m, w->wdown), NULL, dres, act, w->wdown, nT, d->I, d->C);
    op_swiglu_bwd(a->d_gu, a->d_act, gu, nT, d->I);
    memset(a->d_ln, 0, sizeof(float) * T * d->C);
    op_matmul_bwd(a->d_ln, grad_of(m, w->wgu), NULL, a->d_gu, ln2, w->wgu, nT, d->C, 2 * d->I);
    op_rmsnorm_bwd(dres, grad_of(m, w->ln2), a->d_ln, mid, w->ln2, a->rstd2 + l * T, nT, d->C);

    /* Attention branch: mid = x + o(attention(rope(qkv(norm1(x))))) */
    memset(a->d_att, 0, sizeof(float) * T * Hd);
    op_matmul_bwd(a->d_att, grad_of(m, w->wo), NULL, dres, att, w->wo, nT, Hd, d->C);
    memset(a->d_qkv, 0, sizeof(float) * T * d->QKV);
    op_attention_bwd(a->d_qkv, a->d_qkv + Hd, a->d_qkv + Hd + KVd, d->QKV, a->d_att, att,
                     a->lse + l * T * d->H, qkv, d->QKV, qkv + Hd, qkv + Hd + KVd, d->QKV,
                     b->seq_start, b->n_seqs, d->H, d->KV, d->hd);
    op_rope_bwd(a->d_qkv, d->QKV, a->pos, a->rope_cos, a->rope_sin, nT, d->H, d->hd);
    op_rope_bwd(a->d_qkv + Hd, d->QKV, a->pos, a->rope_cos, a->rope_sin, nT, d->KV, d->hd);
    memset(a->d_ln, 0, sizeof(float) * T * d->C);
    op_matmul_bwd(a->d_ln, grad_of(m, w->wqkv), w->bqkv ? grad_of(m, w->bqkv) : NULL, a->d_qkv, ln1,
                  w->wqkv, nT, d->C, d->QKV);
    op_rmsnorm_bwd(dres, grad_of(m, w->ln1), a->d_ln, x, w->ln1, a->rstd1 + l * T, nT, d->C);
}

/* The backward of head_at_targets: dL/d(final norm output) into a->d_ln, zero
 * at rows without a target (a->d_res serves as scratch; the caller clears it).
 * Chunk by chunk: each chunk's logits are computed again (unless one chunk
 * held them all) and turned into dlogits in place. With tied embeddings
 * lm_head is wte, so its gradient here and the embedding's add up. */
static void head_backward(R1Model *m, R1Acts *a, const R1Batch *b, const Dims *d,
                          const float *dlogp) {
    int n = a->n_head, T = b->n_tokens, R = R1_HEAD_CHUNK_ROWS(d->V);
    for (int t = 0; t < T; t++)
        if (a->head_row[t] >= 0) a->logp_h[a->head_row[t]] = dlogp[t]; /* now dL/dlogp */
    memset(a->d_res, 0, sizeof(float) * (size_t)n * d->C);
    for (int r0 = 0; r0 < n; r0 += R) {
        int k = n - r0 < R ? n - r0 : R;
        if (n > R) head_chunk(m, a, d, r0, k);
        op_logprob_bwd(a->logits, a->logits, a->lse_h + r0, a->tgt_h + r0, a->logp_h + r0, k, d->V,
                       logit_scale(b));
        op_matmul_bwd(a->d_res + (size_t)r0 * d->C, grad_of(m, m->lm_head), NULL, a->logits,
                      a->lnf_h + (size_t)r0 * d->C, m->lm_head, k, d->C, d->V);
    }
    memset(a->d_ln, 0, sizeof(float) * (size_t)T * d->C);
    for (int t = 0; t < T; t++)
        if (a->head_row[t] >= 0)
            memcpy(a->d_ln + (size_t)t * d->C, a->d_res + (size_t)a->head_row[t] * d->C,
                   sizeof(float) * d->C);
}

void r1_model_backward(R1Model *m, R1Acts *a, const R1Batch *b, const float *dlogp) {
    Dims d = dims_of(&m->cfg);
    int T = b->n_tokens;
    if (!b->targets || a->T != T) { /* a caller's bug, not bad input: stop loudly */
        fprintf(stderr, "r1_model_backward: needs the forward of this batch, with targets\n");
        abort();
    }
    r1_model_alloc_grads(m);
    float *keep = NULL;
    if (!dlogp) { /* mean cross-entropy: dL/dlogp = -1 / n_targets */
        keep = r1_falloc((size_t)T);
        for (int t = 0; t < T; t++) keep[t] = a->n_targets ? -1.0f / (float)a->n_targets : 0.0f;
        dlogp = keep;
    }
    if (b->head_targets_only) {
        head_backward(m, a, b, &d, dlogp);
        free(keep);
    } else {
        /* Softmax backward in place: logits become dlogits. */
        op_logprob_bwd(a->logits, a->logits, a->lse_v, b->targets, dlogp, T, d.V, logit_scale(b));
        free(keep);
        memset(a->d_ln, 0, sizeof(float) * (size_t)T * d.C);
        op_matmul_bwd(a->d_ln, grad_of(m, m->lm_head), NULL, a->logits, a->lnf, m->lm_head, T, d.C,
                      d.V);
    }
    memset(a->d_res, 0, sizeof(float) * (size_t)T * d.C);
    op_rmsnorm_bwd(a->d_res, grad_of(m, m->norm), a->d_ln, a->resid + (size_t)d.L * T * d.C,
                   m->norm, a->rstdf, T, d.C);
    for (int l = d.L - 1; l >= 0; l--) layer_backward(m, a, b, &d, l);
    op_embedding_bwd(grad_of(m, m->wte), a->d_res, b->tokens, T, d.C);
}
