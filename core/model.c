/* model.c - see model.h. The forward and backward passes are written over
 * ops.h only, so another backend can run the same model by providing the ops. */
#include "model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <dirent.h>
#include <unistd.h>

#include "ops.h"
#include "rng.h"

/* ---- the parameter table --------------------------------------------------- */

static void add_param(R1ParamTable *t, const char *name, int64_t d0, int64_t d1, int decay) {
    t->p = r1_xrealloc(t->p, sizeof(R1Param) * (size_t)(t->n + 1));
    R1Param *p = &t->p[t->n++];
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    p->ndim = d1 > 0 ? 2 : 1;
    p->shape[0] = d0;
    p->shape[1] = d1;
    p->numel = (size_t)d0 * (size_t)(d1 > 0 ? d1 : 1);
    p->decay = decay; /* offsets are set by pack_params once the table is complete */
}

static void add_layer_params(R1ParamTable *t, const R1Config *c, int l) {
    char n[R1_PARAM_NAME];
    int64_t C = c->hidden, hd = c->head_dim, q = c->n_heads * hd, kv = c->n_kv_heads * hd;
#define LAYER(suffix) (snprintf(n, sizeof n, "model.layers.%d.%s", l, suffix), n)
    add_param(t, LAYER("input_layernorm.weight"), C, 0, 0);
    /* q, k, v weights adjacent: together they are one [(H + 2 KV) hd, C] matrix. */
    add_param(t, LAYER("self_attn.q_proj.weight"), q, C, 1);
    add_param(t, LAYER("self_attn.k_proj.weight"), kv, C, 1);
    add_param(t, LAYER("self_attn.v_proj.weight"), kv, C, 1);
    if (c->qkv_bias) {
        add_param(t, LAYER("self_attn.q_proj.bias"), q, 0, 0);
        add_param(t, LAYER("self_attn.k_proj.bias"), kv, 0, 0);
        add_param(t, LAYER("self_attn.v_proj.bias"), kv, 0, 0);
    }
    add_param(t, LAYER("self_attn.o_proj.weight"), C, q, 1);
    add_param(t, LAYER("post_attention_layernorm.weight"), C, 0, 0);
    add_param(t, LAYER("mlp.gate_proj.weight"), c->intermediate, C, 1);
    add_param(t, LAYER("mlp.up_proj.weight"), c->intermediate, C, 1);
    add_param(t, LAYER("mlp.down_proj.weight"), C, c->intermediate, 1);
#undef LAYER
}

const R1Param *r1_model_param(const R1Model *m, const char *name) {
    for (int i = 0; i < m->table.n; i++)
        if (strcmp(m->table.p[i].name, name) == 0) return &m->table.p[i];
    return NULL;
}

static float *param_ptr(R1Model *m, const char *name) {
    const R1Param *p = r1_model_param(m, name);
    return p ? m->params + p->offset : NULL;
}

/* The fused groups rely on adjacency without padding between members. */
static int fused_ok(const R1Model *m, int l) {
    char a[R1_PARAM_NAME], b[R1_PARAM_NAME];
    const char *pairs[][2] = {{"self_attn.q_proj.weight", "self_attn.k_proj.weight"},
                              {"self_attn.k_proj.weight", "self_attn.v_proj.weight"},
                              {"mlp.gate_proj.weight", "mlp.up_proj.weight"},
                              {"self_attn.q_proj.bias", "self_attn.k_proj.bias"},
                              {"self_attn.k_proj.bias", "self_attn.v_proj.bias"}};
    for (int i = 0; i < 5; i++) {
        snprintf(a, sizeof a, "model.layers.%d.%s", l, pairs[i][0]);
        snprintf(b, sizeof b, "model.layers.%d.%s", l, pairs[i][1]);
        const R1Param *pa = r1_model_param(m, a), *pb = r1_model_param(m, b);
        if (!pa || !pb) continue;
        if (pa->offset + pa->numel != pb->offset) return 0;
    }
    return 1;
}

static void resolve_pointers(R1Model *m) {
    char n[R1_PARAM_NAME];
    m->wte = param_ptr(m, "model.embed_tokens.weight");
    m->norm = param_ptr(m, "model.norm.weight");
    m->lm_head = m->cfg.tie_embeddings ? m->wte : param_ptr(m, "lm_head.weight");
    for (int l = 0; l < m->cfg.n_layers; l++) {
        R1Layer *L = &m->layers[l];
#define P(suffix) (snprintf(n, sizeof n, "model.layers.%d.%s", l, suffix), param_ptr(m, n))
        L->ln1 = P("input_layernorm.weight");
        L->wqkv = P("self_attn.q_proj.weight");
        L->bqkv = m->cfg.qkv_bias ? P("self_attn.q_proj.bias") : NULL;
        L->wo = P("self_attn.o_proj.weight");
        L->ln2 = P("post_attention_layernorm.weight");
        L->wgu = P("mlp.gate_proj.weight");
        L->wdown = P("mlp.down_proj.weight");
#undef P
    }
}

/* Lays the tensors out in table order. Each starts 16-float aligned so vector
 * loads never straddle two, except members of a fused group (q|k|v, gate|up),
 * which follow each other with no gap so the group is one matrix. */
static void pack_params(R1ParamTable *t) {
    size_t off = 0;
    for (int i = 0; i < t->n; i++) {
        R1Param *p = &t->p[i];
        p->offset = off;
        int next_fused = i + 1 < t->n && (strstr(p->name, "q_proj") || strstr(p->name, "k_proj") ||
                                          strstr(p->name, "gate_proj"));
        off += next_fused ? p->numel : (p->numel + 15) & ~(size_t)15;
    }
    t->total = off;
}

void r1_param_table_build(R1ParamTable *t, const R1Config *cfg) {
    memset(t, 0, sizeof *t);
    add_param(t, "model.embed_tokens.weight", cfg->vocab, cfg->hidden, 1);
    for (int l = 0; l < cfg->n_layers; l++) add_layer_params(t, cfg, l);
    add_param(t, "model.norm.weight", cfg->hidden, 0, 0);
    if (!cfg->tie_embeddings) add_param(t, "lm_head.weight", cfg->vocab, cfg->hidden, 1);
    pack_params(t);
}

int r1_model_build(R1Model *m, const R1Config *cfg, const char *source, R1Err *err) {
    memset(m, 0, sizeof *m);
    if (r1_config_validate(cfg, source, err) != 0) return -1;
    m->cfg = *cfg;
    r1_param_table_build(&m->table, cfg);
    m->params = r1_falloc(m->table.total);
    m->layers = r1_xcalloc((size_t)cfg->n_layers, sizeof(R1Layer));
    resolve_pointers(m);
    for (int l = 0; l < cfg->n_layers; l++)
        if (!fused_ok(m, l)) {
            r1_model_free(m);
            return r1_seterr(err, "internal error: layer %d not packed", l);
        }
    m->inv_freq = r1_falloc((size_t)cfg->head_dim / 2);
    r1_rope_inv_freq(cfg, m->inv_freq);
    return 0;
}

void r1_model_free(R1Model *m) {
    free(m->table.p);
    free(m->params);
    free(m->grads);
    free(m->layers);
    free(m->inv_freq);
    memset(m, 0, sizeof *m);
}

void r1_model_alloc_grads(R1Model *m) {
    if (!m->grads) m->grads = r1_falloc(m->table.total);
}

void r1_model_zero_grad(R1Model *m) {
    if (m->grads) memset(m->grads, 0, sizeof(float) * m->table.total);
}

/* ---- initialisation, loading, saving -------------------------------------- */

void r1_model_init_random(R1Model *m, uint64_t seed) {
    /* As transformers' _init_weights: weights ~ N(0, initializer_range), norms 1, biases 0.
     * One stream in table order, so the same seed gives the same model everywhere. */
    R1Rng rng;
    r1_rng_seed(&rng, seed);
    memset(m->params, 0, sizeof(float) * m->table.total);
    for (int i = 0; i < m->table.n; i++) {
        const R1Param *p = &m->table.p[i];
        float *x = m->params + p->offset;
        if (strstr(p->name, "norm.weight")) {
            for (size_t j = 0; j < p->numel; j++) x[j] = 1.0f;
        } else if (p->ndim == 2) {
            for (size_t j = 0; j < p->numel; j++)
                x[j] = (float)(m->cfg.init_range * r1_rng_normal(&rng));
        }
    }
}

/* Tensors a checkpoint may hold that carry no parameter of ours. */
static int ignorable_tensor(const R1Model *m, const char *name) {
    size_t n = strlen(name), k = strlen("rotary_emb.inv_freq");
    if (n >= k && strcmp(name + n - k, "rotary_emb.inv_freq") == 0) return 1; /* old HF buffers */
    return m->cfg.tie_embeddings && strcmp(name, "lm_head.weight") == 0;      /* tied copy */
}

static int load_tensor(R1Model *m, const R1StDir *d, const R1Param *p, R1Err *err) {
    const char *file = NULL;
    const R1StTensor *t = r1_stdir_find(d, p->name, &file);
    if (!t) {
        const char *where = d->n_files == 1 ? d->files[0].path : "model.safetensors.index.json";
        return r1_seterr(err, "%s: missing tensor %s (in %s)", d->dir, p->name, where);
    }
    if (r1_st_check_shape(t, p->shape, p->ndim, file, err) != 0) return -1;
    return r1_st_to_f32(t, m->params + p->offset, p->numel, file, err);
}

static int check_unknown_tensors(const R1Model *m, const R1StDir *d, R1Err *err) {
    for (int f = 0; f < d->n_files; f++)
        for (int i = 0; i < d->files[f].n_tensors; i++) {
            const char *name = d->files[f].tensors[i].name;
            if (!r1_model_param(m, name) && !ignorable_tensor(m, name))
                return r1_seterr(err,
                                 "%s: unexpected tensor %s (not part of a %s model with this "
                                 "config.json)",
                                 d->files[f].path, name, r1_arch_name(m->cfg.arch));
        }
    return 0;
}

int r1_model_load(R1Model *m, const char *dir, R1Err *err) {
    memset(m, 0, sizeof *m); /* so that freeing after a failed load is safe */
    R1Config cfg;
    char *cpath = r1_path_join(dir, "config.json");
    int rc = r1_config_load(&cfg, cpath, err);
    if (rc == 0) rc = r1_model_build(m, &cfg, cpath, err);
    free(cpath);
    if (rc != 0) return -1;
    R1StDir d;
    if (r1_stdir_open(&d, dir, err) != 0) {
        r1_model_free(m);
        return -1;
    }
    rc = check_unknown_tensors(m, &d, err);
    for (int i = 0; rc == 0 && i < m->table.n; i++) rc = load_tensor(m, &d, &m->table.p[i], err);
    r1_stdir_close(&d);
    if (rc != 0) r1_model_free(m);
    return rc;
}

/* transformers refuses safetensors files whose metadata lacks format=pt. */
static const char *const ST_META[] = {"format", "pt"};

/* The index transformers reads for a sharded checkpoint: total size and which
 * file holds each tensor. */
static int write_index(const char *dir, const R1StWriteTensor *ts, const int *shard_of, int n,
                       int n_shards, size_t total, R1Err *err) {
    cJSON *root = cJSON_CreateObject(), *meta = cJSON_AddObjectToObject(root, "metadata");
    cJSON_AddNumberToObject(meta, "total_size", (double)total);
    cJSON *map = cJSON_AddObjectToObject(root, "weight_map");
    char name[64];
    for (int i = 0; i < n; i++) {
        snprintf(name, sizeof name, "model-%05d-of-%05d.safetensors", shard_of[i] + 1, n_shards);
        cJSON_AddStringToObject(map, ts[i].name, name);
    }
    char *text = cJSON_Print(root), *path = r1_path_join(dir, "model.safetensors.index.json");
    int rc = r1_write_file_atomic(path, text, strlen(text), err);
    free(text);
    free(path);
    cJSON_Delete(root);
    return rc;
}

/* Splits the tensors, in order, into shards of at most max_bytes (a tensor
 * larger than that gets a shard of its own); returns the shard count. */
static int assign_shards(const R1StWriteTensor *ts, int n, size_t max_bytes, int *shard_of,
                         size_t *total) {
    int shard = 0;
    size_t used = 0;
    *total = 0;
    for (int i = 0; i < n; i++) {
        size_t bytes = r1_dtype_size(ts[i].dtype);
        for (int k = 0; k < ts[i].ndim; k++) bytes *= (size_t)ts[i].shape[k];
        if (used > 0 && used + bytes > max_bytes) shard++, used = 0;
        used += bytes;
        *total += bytes;
        shard_of[i] = shard;
    }
    return shard + 1;
}

/* Shards of an earlier save with another shard count would confuse a reader
 * that globs for them; the index no longer names them, so they go. */
static void remove_stale_shards(const char *dir, int n_shards) {
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        int k, of, used = 0;
        if (sscanf(e->d_name, "model-%5d-of-%5d.safetensors%n", &k, &of, &used) != 2 ||
            e->d_name[used] != 0 || (n_shards > 1 && of == n_shards))
            continue;
        char *p = r1_path_join(dir, e->d_name);
        unlink(p);
        free(p);
    }
    if (d) closedir(d);
}

static int write_sharded(const char *dir, const R1StWriteTensor *ts, int n, size_t max_bytes,
                         R1Err *err) {
    int *shard_of = r1_xcalloc((size_t)n, sizeof(int)), rc = 0;
    size_t total;
    int n_shards = assign_shards(ts, n, max_bytes, shard_of, &total);
    char name[64], *path;
    if (n_shards == 1) {
        path = r1_path_join(dir, "model.safetensors");
        rc = r1_st_write(path, ts, n, ST_META, 1, err);
        free(path);
    }
    for (int s = 0, first = 0; n_shards > 1 && rc == 0 && s < n_shards; s++) {
        int last = first;
        while (last < n && shard_of[last] == s) last++;
        snprintf(name, sizeof name, "model-%05d-of-%05d.safetensors", s + 1, n_shards);
        path = r1_path_join(dir, name);
        rc = r1_st_write(path, ts + first, last - first, ST_META, 1, err);
        free(path);
        first = last;
    }
    /* The index goes last, so it never names a shard that is not written yet;
     * the file of the other layout goes, so loaders do not pick a stale one. */
    if (rc == 0 && n_shards > 1) rc = write_index(dir, ts, shard_of, n, n_shards, total, err);
    path = r1_path_join(dir, n_shards > 1 ? "model.safetensors" : "model.safetensors.index.json");
    if (rc == 0) unlink(path);
    free(path);
    if (rc == 0) remove_stale_shards(dir, n_shards);
    free(shard_of);
    return rc;
}

int r1_model_save_sharded(const R1Model *m, const char *dir, R1DType dtype, size_t max_shard_bytes,
                          R1Err *err) {
    if (r1_mkdirs(dir, err) != 0) return -1;
    R1StWriteTensor *ts = r1_xcalloc((size_t)m->table.n, sizeof *ts);
    for (int i = 0; i < m->table.n; i++) {
        const R1Param *p = &m->table.p[i];
        ts[i] = (R1StWriteTensor){
            .name = p->name, .dtype = dtype, .ndim = p->ndim, .data = m->params + p->offset};
        memcpy(ts[i].shape, p->shape, sizeof p->shape);
    }
    int rc = write_sharded(dir, ts, m->table.n, max_shard_bytes, err);
    free(ts);
    if (rc != 0) return -1;
    /* config.json last: a directory without it is visibly unfinished. */
    R1Config cfg = m->cfg;
    snprintf(cfg.dtype, sizeof cfg.dtype, "%s", dtype == R1_BF16 ? "bfloat16" : "float32");
    char *cpath = r1_path_join(dir, "config.json");
    rc = r1_config_save(&cfg, cpath, err);
    free(cpath);
    return rc;
}

int r1_model_save(const R1Model *m, const char *dir, R1DType dtype, R1Err *err) {
    return r1_model_save_sharded(m, dir, dtype, R1_DEFAULT_SHARD_BYTES, err);
}

/* ---- RoPE frequencies ------------------------------------------------------ */

void r1_rope_inv_freq(const R1Config *c, float *inv_freq) {
    int half = c->head_dim / 2;
    for (int i = 0; i < half; i++) {
        double f = 1.0 / pow((double)c->rope_theta, (double)(2 * i) / (double)c->head_dim);
        if (c->rope_type == R1_ROPE_LLAMA3) {
            /* Llama 3.1: long wavelengths slowed by `factor`, short ones kept,
             * the band between blended smoothly. */
            double old = c->rope_original_max_pos, wavelen = 2.0 * M_PI / f;
            double lo = old / c->rope_low_freq_factor, hi = old / c->rope_high_freq_factor;
            if (wavelen > lo) {
                f /= c->rope_factor;
            } else if (wavelen >= hi) {
                double s = (old / wavelen - c->rope_low_freq_factor) /
                           (c->rope_high_freq_factor - c->rope_low_freq_factor);
                f = (1.0 - s) * f / c->rope_factor + s * f;
            }
        }
        inv_freq[i] = (float)f;
    }
}

int r1_model_dump_grads(const R1Model *m, const R1StWriteTensor *extra, int n_extra,
                        const char *path, R1Err *err) {
    int n = n_extra + m->table.n;
    R1StWriteTensor *ts = r1_xcalloc((size_t)n, sizeof *ts);
    char **names = r1_xcalloc((size_t)m->table.n, sizeof *names);
    memcpy(ts, extra, sizeof *ts * (size_t)n_extra);
    for (int i = 0; i < m->table.n; i++) {
        const R1Param *p = &m->table.p[i];
        size_t len = strlen(p->name) + 6;
        names[i] = r1_xmalloc(len);
        snprintf(names[i], len, "grad.%s", p->name);
        R1StWriteTensor *t = &ts[n_extra + i];
        *t = (R1StWriteTensor){
            .name = names[i], .dtype = R1_F32, .ndim = p->ndim, .data = m->grads + p->offset};
        memcpy(t->shape, p->shape, sizeof p->shape);
    }
    int rc = r1_st_write(path, ts, n, NULL, 0, err);
    for (int i = 0; i < m->table.n; i++) free(names[i]);
    free(names), free(ts);
    return rc;
}
