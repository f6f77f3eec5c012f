/* gguf_model.c - see gguf_model.h. */
#include "gguf_model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "progress.h"

/* Per-layer names: Hugging Face suffix after "model.layers.N." and GGUF suffix after
 * "blk.N.". */
static const char *const LAYER_MAP[][2] = {
    {"input_layernorm.weight", "attn_norm.weight"},
    {"self_attn.q_proj.weight", "attn_q.weight"},
    {"self_attn.k_proj.weight", "attn_k.weight"},
    {"self_attn.v_proj.weight", "attn_v.weight"},
    {"self_attn.q_proj.bias", "attn_q.bias"},
    {"self_attn.k_proj.bias", "attn_k.bias"},
    {"self_attn.v_proj.bias", "attn_v.bias"},
    {"self_attn.o_proj.weight", "attn_output.weight"},
    {"post_attention_layernorm.weight", "ffn_norm.weight"},
    {"mlp.gate_proj.weight", "ffn_gate.weight"},
    {"mlp.up_proj.weight", "ffn_up.weight"},
    {"mlp.down_proj.weight", "ffn_down.weight"},
};
static const char *const TOP_MAP[][2] = {
    {"model.embed_tokens.weight", "token_embd.weight"},
    {"model.norm.weight", "output_norm.weight"},
    {"lm_head.weight", "output.weight"},
};
#define N_LAYER_MAP (int)(sizeof LAYER_MAP / sizeof LAYER_MAP[0])
#define N_TOP_MAP   (int)(sizeof TOP_MAP / sizeof TOP_MAP[0])

int r1_gguf_name_of(const char *hf, char *buf, size_t n) {
    for (int i = 0; i < N_TOP_MAP; i++)
        if (!strcmp(hf, TOP_MAP[i][0])) return snprintf(buf, n, "%s", TOP_MAP[i][1]), 0;
    int l, used = 0;
    if (sscanf(hf, "model.layers.%d.%n", &l, &used) != 1 || used == 0) return -1;
    for (int i = 0; i < N_LAYER_MAP; i++)
        if (!strcmp(hf + used, LAYER_MAP[i][0]))
            return snprintf(buf, n, "blk.%d.%s", l, LAYER_MAP[i][1]), 0;
    return -1;
}

/* ---- hyperparameters ----------------------------------------------------------------- */

/* arch.suffix as an integer: 1 found, 0 absent (error when required), -1 error. */
static int arch_int(const R1Gguf *g, const char *arch, const char *suffix, int required, int64_t lo,
                    int64_t hi, int *out, R1Err *err) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    int64_t v;
    int rc = r1_gguf_int(g, key, &v, err);
    if (rc < 0) return -1;
    if (rc == 0) return required ? r1_seterr(err, "%s: key %s is missing", g->path, key) : 0;
    if (v < lo || v > hi)
        return r1_seterr(err, "%s: key %s = %lld is out of range [%lld, %lld]", g->path, key,
                         (long long)v, (long long)lo, (long long)hi);
    *out = (int)v;
    return 1;
}

static int arch_float(const R1Gguf *g, const char *arch, const char *suffix, float *out,
                      R1Err *err) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    double v;
    int rc = r1_gguf_f64(g, key, &v, err);
    if (rc == 1) *out = (float)v;
    return rc;
}

/* Things r1c's model does not compute; refused rather than silently computed wrong. */
static int check_unsupported(const R1Gguf *g, const char *arch, R1Err *err) {
    char key[128];
    snprintf(key, sizeof key, "%s.rope.scaling.type", arch);
    R1GgufStr s;
    int rc = r1_gguf_str(g, key, &s, err);
    if (rc < 0) return -1;
    if (rc == 1 && !(s.len == 4 && !memcmp(s.ptr, "none", 4)))
        return r1_seterr(err, "%s: key %s = '%.*s': rope scaling is not supported", g->path, key,
                         (int)s.len, s.ptr);
    if (r1_gguf_tensor(g, "rope_freqs.weight"))
        return r1_seterr(err,
                         "%s: tensor rope_freqs.weight (llama3 rope scaling) is not supported: "
                         "import the Hugging Face checkpoint instead",
                         g->path);
    return 0;
}

/* A token id key: 1 found (in *id), 0 absent, -1 error (out of the vocabulary's range). */
static int token_id(const R1Gguf *g, const char *key, int vocab, int *id, R1Err *err) {
    int64_t v;
    int rc = r1_gguf_int(g, key, &v, err);
    if (rc == 1 && (v < 0 || v >= vocab))
        return r1_seterr(err, "%s: key %s = %lld is not a token id (vocabulary of %d)", g->path,
                         key, (long long)v, vocab);
    if (rc == 1) *id = (int)v;
    return rc;
}

static int read_token_ids(const R1Gguf *g, R1Config *c, R1Err *err) {
    int id, rc = token_id(g, "tokenizer.ggml.bos_token_id", c->vocab, &id, err);
    if (rc < 0) return -1;
    c->bos_id = rc == 1 ? id : -1;
    c->n_eos = 0;
    if ((rc = token_id(g, "tokenizer.ggml.eos_token_id", c->vocab, &id, err)) < 0) return -1;
    if (rc == 1) c->eos_ids[c->n_eos++] = id;
    /* An end-of-turn token other than EOS (Llama 3's <|eot_id|>) also ends generation. */
    if ((rc = token_id(g, "tokenizer.ggml.eot_token_id", c->vocab, &id, err)) < 0) return -1;
    if (rc == 1 && (c->n_eos == 0 || id != c->eos_ids[0])) c->eos_ids[c->n_eos++] = id;
    return 0;
}

int r1_gguf_config(const R1Gguf *g, R1Config *c, R1Err *err) {
    memset(c, 0, sizeof *c);
    char arch[32];
    R1GgufStr a;
    int rc = r1_gguf_str(g, "general.architecture", &a, err);
    if (rc < 0) return -1;
    if (rc == 0) return r1_seterr(err, "%s: key general.architecture is missing", g->path);
    snprintf(arch, sizeof arch, "%.*s", (int)(a.len < 31 ? a.len : 31), a.ptr);
    if (!strcmp(arch, "llama"))
        c->arch = R1_ARCH_LLAMA;
    else if (!strcmp(arch, "qwen2"))
        c->arch = R1_ARCH_QWEN2, c->qkv_bias = 1;
    else
        return r1_seterr(err, "%s: general.architecture '%s' is not supported (llama, qwen2)",
                         g->path, arch);
    if (check_unsupported(g, arch, err)) return -1;
    const int BIG = 1 << 30;
    if (arch_int(g, arch, "embedding_length", 1, 1, BIG, &c->hidden, err) < 0 ||
        arch_int(g, arch, "block_count", 1, 1, 100000, &c->n_layers, err) < 0 ||
        arch_int(g, arch, "feed_forward_length", 1, 1, BIG, &c->intermediate, err) < 0 ||
        arch_int(g, arch, "attention.head_count", 1, 1, 100000, &c->n_heads, err) < 0 ||
        arch_int(g, arch, "context_length", 1, 1, BIG, &c->max_pos, err) < 0)
        return -1;
    c->n_kv_heads = c->n_heads;
    c->head_dim = c->hidden / c->n_heads;
    if (arch_int(g, arch, "attention.head_count_kv", 0, 1, 100000, &c->n_kv_heads, err) < 0 ||
        arch_int(g, arch, "attention.key_length", 0, 1, 100000, &c->head_dim, err) < 0)
        return -1;
    int vlen = c->head_dim, rot = c->head_dim;
    if (arch_int(g, arch, "attention.value_length", 0, 1, 100000, &vlen, err) < 0 ||
        arch_int(g, arch, "rope.dimension_count", 0, 1, 100000, &rot, err) < 0)
        return -1;
    if (vlen != c->head_dim || rot != c->head_dim)
        return r1_seterr(err,
                         "%s: %s.attention.value_length %d / rope.dimension_count %d differ "
                         "from the head size %d: not supported",
                         g->path, arch, vlen, rot, c->head_dim);
    c->rms_eps = 1e-6f, c->rope_theta = 10000.0f;
    if (arch_float(g, arch, "attention.layer_norm_rms_epsilon", &c->rms_eps, err) < 0 ||
        arch_float(g, arch, "rope.freq_base", &c->rope_theta, err) < 0)
        return -1;
    const R1GgufTensor *emb = r1_gguf_tensor(g, "token_embd.weight");
    if (!emb) return r1_seterr(err, "%s: tensor token_embd.weight is missing", g->path);
    if (emb->ndim != 2 || emb->ne[1] > BIG)
        return r1_seterr(err, "%s: tensor token_embd.weight is not a [hidden, vocab] matrix",
                         g->path);
    c->vocab = (int)emb->ne[1];
    if (arch_int(g, arch, "vocab_size", 0, 1, BIG, &c->vocab, err) < 0) return -1;
    c->tie_embeddings = r1_gguf_tensor(g, "output.weight") == NULL;
    c->init_range = 0.02f;
    if (read_token_ids(g, c, err)) return -1;
    return r1_config_validate(c, g->path, err);
}

/* ---- tensors ---------------------------------------------------------------------- */

/* Is this a llama q or k projection weight, and how many heads does it hold? */
static int permuted_heads(const R1Config *c, const char *hf) {
    if (c->arch != R1_ARCH_LLAMA) return 0;
    size_t n = strlen(hf);
    if (n > 23 && !strcmp(hf + n - 23, "self_attn.q_proj.weight")) return c->n_heads;
    if (n > 23 && !strcmp(hf + n - 23, "self_attn.k_proj.weight")) return c->n_kv_heads;
    return 0;
}

/* Rows of `heads` blocks of hd rows, each row `cols` long. to_hf: GGUF row 2j + s of a
 * head becomes HF row s * hd/2 + j; else the reverse. */
static void permute_rows(float *w, int heads, int hd, int64_t cols, int to_hf) {
    size_t row = (size_t)cols * sizeof(float);
    float *tmp = r1_xmalloc(row * (size_t)hd);
    int half = hd / 2;
    for (int h = 0; h < heads; h++) {
        float *blk = w + (size_t)h * (size_t)hd * (size_t)cols;
        memcpy(tmp, blk, row * (size_t)hd);
        for (int j = 0; j < half; j++)
            for (int s = 0; s < 2; s++) {
                int g = 2 * j + s, f = s * half + j;
                memcpy(blk + (size_t)(to_hf ? f : g) * (size_t)cols,
                       tmp + (size_t)(to_hf ? g : f) * (size_t)cols, row);
            }
    }
    free(tmp);
}

/* The file's tensor for parameter p, checked to exist with p's shape. */
static const R1GgufTensor *param_tensor(const R1Gguf *g, const R1Param *p, R1Err *err) {
    char name[128];
    if (r1_gguf_name_of(p->name, name, sizeof name))
        return r1_seterr(err, "%s: parameter %s has no GGUF name", g->path, p->name), NULL;
    const R1GgufTensor *t = r1_gguf_tensor(g, name);
    if (!t)
        return r1_seterr(err, "%s: tensor %s (for %s) is missing", g->path, name, p->name), NULL;
    int ok = t->ndim == p->ndim;
    for (int d = 0; ok && d < p->ndim; d++) ok = t->ne[p->ndim - 1 - d] == p->shape[d];
    if (!ok) {
        char want[64], got[64];
        if (p->ndim == 2)
            snprintf(want, sizeof want, "[%lld, %lld]", (long long)p->shape[1],
                     (long long)p->shape[0]);
        else
            snprintf(want, sizeof want, "[%lld]", (long long)p->shape[0]);
        int k = snprintf(got, sizeof got, "[");
        for (int d = 0; d < t->ndim && k < (int)sizeof got - 24; d++)
            k += snprintf(got + k, sizeof got - (size_t)k, d ? ", %lld" : "%lld",
                          (long long)t->ne[d]);
        snprintf(got + k, sizeof got - (size_t)k, "]");
        r1_seterr(err,
                  "%s: tensor %s has ggml shape %s but the architecture in the same file needs %s",
                  g->path, name, got, want);
        return NULL;
    }
    return t;
}

static int load_param(const R1Gguf *g, R1Model *m, const R1Param *p, R1Err *err) {
    const R1GgufTensor *t = param_tensor(g, p, err);
    float *dst = m->params + p->offset;
    if (!t || r1_gguf_tensor_f32(g, t, dst, err)) return -1;
    int heads = permuted_heads(&m->cfg, p->name);
    if (heads) permute_rows(dst, heads, m->cfg.head_dim, p->shape[1], 1);
    return 0;
}

/* Every parameter has its tensor with its shape, and every tensor of the file is one the
 * model uses: checked on the table alone, before the parameters (whose size comes from
 * the metadata) are allocated. */
static int check_tensors(const R1Gguf *g, const R1Config *c, R1Err *err) {
    R1ParamTable t = {0};
    r1_param_table_build(&t, c);
    int rc = 0;
    for (int k = 0; rc == 0 && k < t.n; k++)
        if (!param_tensor(g, &t.p[k], err)) rc = -1;
    /* Each parameter found its own tensor (the reader refuses duplicate names), so the file
     * holds another tensor exactly when it holds more: only then look for which. */
    char name[128];
    for (int64_t i = 0; rc == 0 && g->n_tensors > t.n && i < g->n_tensors; i++) {
        int used = 0;
        for (int k = 0; !used && k < t.n; k++)
            used = r1_gguf_name_of(t.p[k].name, name, sizeof name) == 0 &&
                   !strcmp(name, g->tensors[i].name);
        if (!used)
            rc = r1_seterr(err, "%s: tensor %s is not part of the %s architecture", g->path,
                           g->tensors[i].name, r1_arch_name(c->arch));
    }
    free(t.p);
    return rc;
}

int r1_gguf_check_model(const R1Gguf *g, R1Err *err) {
    R1Config c;
    return r1_gguf_config(g, &c, err) || check_tensors(g, &c, err) ? -1 : 0;
}

int r1_gguf_load_model(const R1Gguf *g, R1Model *m, int quiet, R1Err *err) {
    memset(m, 0, sizeof *m);
    R1Config c;
    if (r1_gguf_config(g, &c, err) || check_tensors(g, &c, err) ||
        r1_model_build(m, &c, g->path, err))
        return -1;
    int rc = 0;
    Progress pr;
    progress_init(&pr, "dequantizing", quiet);
    for (int i = 0; rc == 0 && i < m->table.n; i++) {
        rc = load_param(g, m, &m->table.p[i], err);
        progress_update(&pr, i + 1, m->table.n);
    }
    progress_done(&pr);
    if (rc) r1_model_free(m);
    return rc;
}

/* ---- export ----------------------------------------------------------------------- */

static int file_type(R1GgmlType t) {
    switch (t) {
    case R1_GGML_F32:
        return 0;
    case R1_GGML_F16:
        return 1;
    case R1_GGML_Q8_0:
        return 7;
    case R1_GGML_BF16:
        return 32;
    default:
        return -1;
    }
}

static void put_hparams(R1GgufWriter *w, const R1Config *c, const char *arch) {
    char key[128];
#define KEY(s) (snprintf(key, sizeof key, "%s.%s", arch, s), key)
    r1_gguf_put_u32(w, KEY("context_length"), (uint32_t)c->max_pos);
    r1_gguf_put_u32(w, KEY("embedding_length"), (uint32_t)c->hidden);
    r1_gguf_put_u32(w, KEY("block_count"), (uint32_t)c->n_layers);
    r1_gguf_put_u32(w, KEY("feed_forward_length"), (uint32_t)c->intermediate);
    r1_gguf_put_u32(w, KEY("attention.head_count"), (uint32_t)c->n_heads);
    r1_gguf_put_u32(w, KEY("attention.head_count_kv"), (uint32_t)c->n_kv_heads);
    r1_gguf_put_f32(w, KEY("rope.freq_base"), c->rope_theta);
    r1_gguf_put_f32(w, KEY("attention.layer_norm_rms_epsilon"), c->rms_eps);
    r1_gguf_put_u32(w, KEY("rope.dimension_count"), (uint32_t)c->head_dim);
    if (c->head_dim * c->n_heads != c->hidden) {
        r1_gguf_put_u32(w, KEY("attention.key_length"), (uint32_t)c->head_dim);
        r1_gguf_put_u32(w, KEY("attention.value_length"), (uint32_t)c->head_dim);
    }
    r1_gguf_put_u32(w, KEY("vocab_size"), (uint32_t)c->vocab);
#undef KEY
}

/* The type a parameter is written in: norms and biases stay F32 (llama.cpp's own
 * converter does the same); Q8_0 needs rows of whole 32-element blocks. */
static R1GgmlType type_for(const R1Param *p, R1GgmlType want) {
    if (p->ndim == 1) return R1_GGML_F32;
    if (want == R1_GGML_Q8_0 && p->shape[1] % 32 != 0) return R1_GGML_F16;
    return want;
}

int r1_gguf_put_model(R1GgufWriter *w, const R1Model *m, R1GgmlType type, const char *name,
                      void **store, R1Err *err) {
    *store = NULL;
    const R1Config *c = &m->cfg;
    if (file_type(type) < 0)
        return r1_seterr(err, "export: type %s is not one of f32, f16, bf16, q8_0",
                         r1_ggml_type_name(type));
    if (c->rope_type != R1_ROPE_DEFAULT)
        return r1_seterr(err, "export: llama3 rope scaling cannot be written to GGUF yet");
    const char *arch = c->arch == R1_ARCH_QWEN2 ? "qwen2" : "llama";
    r1_gguf_put_str(w, "general.architecture", arch);
    r1_gguf_put_str(w, "general.name", name ? name : "r1c model");
    r1_gguf_put_u32(w, "general.file_type", (uint32_t)file_type(type));
    r1_gguf_put_u32(w, "general.quantization_version", 2);
    put_hparams(w, c, arch);
    size_t total = 0, maxf = 0;
    for (int i = 0; i < m->table.n; i++) {
        const R1Param *p = &m->table.p[i];
        total += (r1_ggml_nbytes(type_for(p, type), (int64_t)p->numel) + 63) & ~(size_t)63;
        if (p->numel > maxf) maxf = p->numel;
    }
    uint8_t *buf = r1_xmalloc(total ? total : 1);
    float *tmp = r1_xmalloc(maxf * sizeof(float));
    size_t off = 0;
    char gname[128];
    for (int i = 0; i < m->table.n; i++) {
        const R1Param *p = &m->table.p[i];
        R1GgmlType t = type_for(p, type);
        const float *src = m->params + p->offset;
        int heads = permuted_heads(c, p->name);
        if (heads) { /* only llama's q and k need a permuted copy */
            memcpy(tmp, src, p->numel * sizeof(float));
            permute_rows(tmp, heads, c->head_dim, p->shape[1], 0);
            src = tmp;
        }
        size_t nb = r1_ggml_quant(t, src, buf + off, (int64_t)p->numel);
        int64_t ne[2] = {p->ndim == 2 ? p->shape[1] : p->shape[0], p->shape[0]};
        r1_gguf_name_of(p->name, gname, sizeof gname);
        r1_gguf_add_tensor(w, gname, t, p->ndim, ne, buf + off);
        off += (nb + 63) & ~(size_t)63;
    }
    free(tmp);
    *store = buf;
    return 0;
}
