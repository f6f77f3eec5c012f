/* decode.c - see decode.h. The layer is the one of transformer.c split where
 * the two uses differ: layer_qkv (norm, q|k|v product, RoPE) and layer_out
 * (output product, MLP, residuals) are shared; between them a prefill runs
 * causal attention over whole prompts and a step attends to the cache. Every
 * product goes through op_matmul_rows, whose rows do not depend on the rest of
 * the batch: that is what makes rollouts byte-identical for every --batch. */
#include "decode.h"

#include <stdlib.h>
#include <string.h>

#include "ops.h"

static int qkv_width(const R1Config *c) {
    return (c->n_heads + 2 * c->n_kv_heads) * c->head_dim;
}

size_t r1_dec_cache_bytes(const R1Config *c, int n_slots, int n_prefix, int max_prompt,
                          int max_new) {
    size_t rows = (size_t)n_prefix * max_prompt + (size_t)n_slots * max_new;
    return 2 * sizeof(float) * (size_t)c->n_layers * rows * c->n_kv_heads * c->head_dim;
}

void r1_dec_init(R1Decoder *d, const R1Model *m, int n_slots, int n_prefix, int max_prompt,
                 int max_new) {
    memset(d, 0, sizeof *d);
    const R1Config *c = &m->cfg;
    d->m = m;
    d->n_slots = n_slots, d->n_prefix = n_prefix;
    d->max_prompt = max_prompt, d->max_new = max_new;
    d->layer_rows = (size_t)n_prefix * max_prompt + (size_t)n_slots * max_new;
    size_t kv = (size_t)c->n_layers * d->layer_rows * c->n_kv_heads * c->head_dim;
    d->kc = r1_falloc(kv);
    d->vc = r1_falloc(kv);
    d->prefix_len = r1_xcalloc((size_t)n_prefix, sizeof(int));
    d->slot_len = r1_xcalloc((size_t)n_slots, sizeof(int));
    int n_pos = max_prompt + max_new, half = c->head_dim / 2;
    d->rope_cos = r1_falloc((size_t)n_pos * half);
    d->rope_sin = r1_falloc((size_t)n_pos * half);
    op_rope_table(d->rope_cos, d->rope_sin, m->inv_freq, n_pos, c->head_dim);
}

static void free_scratch(R1Decoder *d) {
    void *bufs[] = {d->pos, d->seq_start, d->np,  d->ns,   d->x,  d->xn, d->rstd, d->qkv, d->att,
                    d->lse, d->gu,        d->act, d->last, d->kp, d->vp, d->ks,   d->vs};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) free(bufs[i]);
}

void r1_dec_free(R1Decoder *d) {
    free_scratch(d);
    free(d->kc), free(d->vc), free(d->prefix_len), free(d->slot_len);
    free(d->rope_cos), free(d->rope_sin);
    memset(d, 0, sizeof *d);
}

/* Scratch for n rows (tokens of one call). */
static void reserve(R1Decoder *d, int n) {
    if (n <= d->cap) return;
    free_scratch(d);
    const R1Config *c = &d->m->cfg;
    size_t t = (size_t)n, C = (size_t)c->hidden, I = (size_t)c->intermediate;
    d->cap = n;
    d->pos = r1_xmalloc(sizeof(int) * t);
    d->seq_start = r1_xmalloc(sizeof(int) * (t + 1));
    d->np = r1_xmalloc(sizeof(int) * t);
    d->ns = r1_xmalloc(sizeof(int) * t);
    d->x = r1_falloc(t * C);
    d->xn = r1_falloc(t * C);
    d->rstd = r1_falloc(t);
    d->qkv = r1_falloc(t * (size_t)qkv_width(c));
    d->att = r1_falloc(t * (size_t)c->n_heads * c->head_dim);
    d->lse = r1_falloc(t * (size_t)c->n_heads);
    d->gu = r1_falloc(t * 2 * I);
    d->act = r1_falloc(t * I);
    d->last = r1_falloc(t * C);
    d->kp = r1_xmalloc(sizeof(float *) * t);
    d->vp = r1_xmalloc(sizeof(float *) * t);
    d->ks = r1_xmalloc(sizeof(float *) * t);
    d->vs = r1_xmalloc(sizeof(float *) * t);
}

/* Cache row of layer l: prefix p at position j, or slot s at position j. */
static size_t prefix_row(const R1Decoder *d, int l, int p, int j) {
    return (size_t)l * d->layer_rows + (size_t)p * d->max_prompt + (size_t)j;
}
static size_t slot_row(const R1Decoder *d, int l, int s, int j) {
    return (size_t)l * d->layer_rows + (size_t)d->n_prefix * d->max_prompt +
           (size_t)s * d->max_new + (size_t)j;
}

static int kv_dim(const R1Config *c) {
    return c->n_kv_heads * c->head_dim;
}

/* x [n, C] -> d->qkv [n, QKV] with q and k rotated to d->pos. */
static void layer_qkv(R1Decoder *d, int l, int n) {
    const R1Config *c = &d->m->cfg;
    const R1Layer *w = &d->m->layers[l];
    int QKV = qkv_width(c), Hd = c->n_heads * c->head_dim;
    op_rmsnorm_fwd(d->xn, d->rstd, d->x, w->ln1, n, c->hidden, c->rms_eps);
    op_matmul_rows(d->qkv, d->xn, w->wqkv, w->bqkv, n, c->hidden, QKV, 0);
    op_rope_fwd(d->qkv, QKV, d->pos, d->rope_cos, d->rope_sin, n, c->n_heads, c->head_dim);
    op_rope_fwd(d->qkv + Hd, QKV, d->pos, d->rope_cos, d->rope_sin, n, c->n_kv_heads, c->head_dim);
}

/* x += o(att); x += mlp(norm(x)) */
static void layer_out(R1Decoder *d, int l, int n) {
    const R1Config *c = &d->m->cfg;
    const R1Layer *w = &d->m->layers[l];
    int Hd = c->n_heads * c->head_dim;
    op_matmul_rows(d->x, d->att, w->wo, NULL, n, Hd, c->hidden, 1);
    op_rmsnorm_fwd(d->xn, d->rstd, d->x, w->ln2, n, c->hidden, c->rms_eps);
    op_matmul_rows(d->gu, d->xn, w->wgu, NULL, n, c->hidden, 2 * c->intermediate, 0);
    op_swiglu_fwd(d->act, d->gu, n, c->intermediate);
    op_matmul_rows(d->x, d->act, w->wdown, NULL, n, c->intermediate, c->hidden, 1);
}

/* Copies row t of the fresh k|v (inside d->qkv) to cache row `row` of layer l. */
static void store_kv(R1Decoder *d, size_t row, int t) {
    const R1Config *c = &d->m->cfg;
    int KVd = kv_dim(c), Hd = c->n_heads * c->head_dim;
    const float *k = d->qkv + (size_t)t * qkv_width(c) + Hd;
    memcpy(d->kc + row * KVd, k, sizeof(float) * (size_t)KVd);
    memcpy(d->vc + row * KVd, k + KVd, sizeof(float) * (size_t)KVd);
}

/* Final norm and head over n rows of d->x: those listed in rows, or the first
 * n when rows is NULL. */
static void head(R1Decoder *d, const int *rows, int n, float *logits) {
    const R1Config *c = &d->m->cfg;
    const float *x = d->x;
    if (rows) {
        for (int i = 0; i < n; i++)
            memcpy(d->last + (size_t)i * c->hidden, d->x + (size_t)rows[i] * c->hidden,
                   sizeof(float) * (size_t)c->hidden);
        x = d->last;
    }
    op_rmsnorm_fwd(d->xn, d->rstd, x, d->m->norm, n, c->hidden, c->rms_eps);
    op_matmul_rows(logits, d->xn, d->m->lm_head, NULL, n, c->hidden, c->vocab, 0);
}

void r1_dec_prefill(R1Decoder *d, int n, const int *prefix, const int *const *ids, const int *lens,
                    float *logits) {
    const R1Config *c = &d->m->cfg;
    int T = 0;
    for (int i = 0; i < n; i++) T += lens[i];
    reserve(d, T);
    int *tok = r1_xmalloc(sizeof(int) * (size_t)T), *last = r1_xmalloc(sizeof(int) * (size_t)n);
    d->seq_start[0] = 0;
    for (int i = 0; i < n; i++) {
        int t0 = d->seq_start[i];
        for (int j = 0; j < lens[i]; j++) tok[t0 + j] = ids[i][j], d->pos[t0 + j] = j;
        d->seq_start[i + 1] = t0 + lens[i];
        last[i] = t0 + lens[i] - 1;
        d->prefix_len[prefix[i]] = lens[i];
    }
    int QKV = qkv_width(c), Hd = c->n_heads * c->head_dim, KVd = kv_dim(c);
    op_embedding_fwd(d->x, tok, d->m->wte, T, c->hidden);
    for (int l = 0; l < c->n_layers; l++) {
        layer_qkv(d, l, T);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < lens[i]; j++)
                store_kv(d, prefix_row(d, l, prefix[i], j), d->seq_start[i] + j);
        op_attention_fwd(d->att, d->lse, d->qkv, QKV, d->qkv + Hd, d->qkv + Hd + KVd, QKV,
                         d->seq_start, n, c->n_heads, c->n_kv_heads, c->head_dim);
        layer_out(d, l, T);
    }
    head(d, last, n, logits);
    free(tok), free(last);
}

void r1_dec_reset_slot(R1Decoder *d, int s) {
    d->slot_len[s] = 0;
}

void r1_dec_step(R1Decoder *d, int n, const int *slot, const int *prefix, const int *tok,
                 float *logits) {
    const R1Config *c = &d->m->cfg;
    reserve(d, n);
    for (int i = 0; i < n; i++) d->pos[i] = d->prefix_len[prefix[i]] + d->slot_len[slot[i]];
    int QKV = qkv_width(c), KVd = kv_dim(c);
    op_embedding_fwd(d->x, tok, d->m->wte, n, c->hidden);
    for (int l = 0; l < c->n_layers; l++) {
        layer_qkv(d, l, n);
        for (int i = 0; i < n; i++) {
            int own = d->slot_len[slot[i]];
            store_kv(d, slot_row(d, l, slot[i], own), i);
            d->kp[i] = d->kc + prefix_row(d, l, prefix[i], 0) * KVd;
            d->vp[i] = d->vc + prefix_row(d, l, prefix[i], 0) * KVd;
            d->ks[i] = d->kc + slot_row(d, l, slot[i], 0) * KVd;
            d->vs[i] = d->vc + slot_row(d, l, slot[i], 0) * KVd;
            d->np[i] = d->prefix_len[prefix[i]];
            d->ns[i] = own + 1;
        }
        op_attention_decode(d->att, d->qkv, QKV, d->kp, d->vp, d->np, d->ks, d->vs, d->ns, KVd, n,
                            c->n_heads, c->n_kv_heads, c->head_dim);
        layer_out(d, l, n);
    }
    for (int i = 0; i < n; i++) d->slot_len[slot[i]]++;
    head(d, NULL, n, logits);
}
