/* config.c - see config.h.
 *
 * The parser is deliberately strict: a Hugging Face config.json carries many
 * fields, and a field r1c silently ignored could mean it computes a different
 * network from the one transformers builds. So every key is either read,
 * checked to hold the one value r1c supports, or listed below as harmless. */
#include "config.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Keys accepted and not used: they only matter to other tools (or to
 * generation), never to the function the network computes. */
static const char *const ignored_keys[] = {
    "architectures",        /* class name; model_type decides the architecture */
    "transformers_version", /* the library version that wrote the file */
    "_name_or_path",        /* where transformers loaded it from */
    "use_cache",            /* KV cache switch for generation */
    "sliding_window",       /* window size, unused while use_sliding_window is false */
    "max_window_layers",    /* likewise only used with sliding windows */
    "pad_token_id",         /* batching convention of the tokenizer */
    "use_mrope",            /* Qwen2-VL rope; Qwen2ForCausalLM ignores it */
    "output_attentions",    /* what transformers returns, not what it computes */
    "output_hidden_states", /* likewise */
    "return_dict",          /* likewise */
    "torchscript",          /* export switch */
    "tokenizer_class",      /* tokenizer, not the network */
};

/* Keys read (or checked) below. Anything in neither table is refused. */
static const char *const handled_keys[] = {
    "model_type",
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "num_key_value_heads",
    "head_dim",
    "intermediate_size",
    "vocab_size",
    "max_position_embeddings",
    "rms_norm_eps",
    "rope_theta",
    "tie_word_embeddings",
    "initializer_range",
    "bos_token_id",
    "eos_token_id",
    "torch_dtype",
    "dtype",
    "attention_bias",
    "mlp_bias",
    "hidden_act",
    "use_sliding_window",
    "pretraining_tp",
    "rope_scaling",
    "attention_dropout",
    "layer_types",
};

static int in_table(const char *key, const char *const *table, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(key, table[i]) == 0) return 1;
    return 0;
}

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* Refuses unknown and duplicated keys (cJSON keeps duplicates; Python keeps
 * the last one and we would read the first). */
static int check_keys(const cJSON *root, const char *src, R1Err *err) {
    for (const cJSON *e = root->child; e; e = e->next) {
        for (const cJSON *p = root->child; p != e; p = p->next)
            if (strcmp(p->string, e->string) == 0)
                return r1_seterr(err, "%s: field \"%s\" appears twice", src, e->string);
        if (in_table(e->string, handled_keys, N_OF(handled_keys))) continue;
        if (in_table(e->string, ignored_keys, N_OF(ignored_keys))) continue;
        return r1_seterr(err,
                         "%s: unknown field \"%s\" in config.json (r1c would ignore it and "
                         "might compute a different model)",
                         src, e->string);
    }
    return 0;
}

static const cJSON *get(const cJSON *o, const char *key) {
    return cJSON_GetObjectItemCaseSensitive(o, key);
}

/* JSON has one number type: an integer field is a number with no fraction. */
static int is_int_in(const cJSON *v, double lo, double hi) {
    return cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble) && v->valuedouble >= lo &&
           v->valuedouble <= hi;
}

/* A positive integer; dflt > 0 is used when the key is absent, dflt == 0
 * makes the key required. */
static int pos_int(const cJSON *o, const char *key, int dflt, int *out, const char *src,
                   R1Err *err) {
    const cJSON *v = get(o, key);
    if (!v && dflt > 0) {
        *out = dflt;
        return 0;
    }
    if (!v) return r1_seterr(err, "%s: missing field \"%s\"", src, key);
    if (!is_int_in(v, 1, 2147483647.0))
        return r1_seterr(err, "%s: field \"%s\" must be a positive integer", src, key);
    *out = (int)v->valuedouble;
    return 0;
}

/* A finite number; `has_dflt` says whether the key may be absent. */
static int num(const cJSON *o, const char *key, int has_dflt, float dflt, float *out,
               const char *src, R1Err *err) {
    const cJSON *v = get(o, key);
    if (!v && has_dflt) {
        *out = dflt;
        return 0;
    }
    if (!v) return r1_seterr(err, "%s: missing field \"%s\"", src, key);
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
        return r1_seterr(err, "%s: field \"%s\" must be a number", src, key);
    *out = (float)v->valuedouble;
    return 0;
}

/* A boolean that, when present, must equal `want` (r1c supports one value). */
static int bool_must(const cJSON *o, const char *key, int want, const char *why, const char *src,
                     R1Err *err) {
    const cJSON *v = get(o, key);
    if (!v) return 0;
    if (!cJSON_IsBool(v)) return r1_seterr(err, "%s: field \"%s\" must be true or false", src, key);
    if (cJSON_IsTrue(v) != want)
        return r1_seterr(err, "%s: field \"%s\" is %s, which r1c does not support (%s)", src, key,
                         want ? "false" : "true", why);
    return 0;
}

static int read_arch(R1Config *c, const cJSON *root, const char *src, R1Err *err) {
    const cJSON *v = get(root, "model_type");
    if (!v) return r1_seterr(err, "%s: missing field \"model_type\"", src);
    if (!cJSON_IsString(v)) return r1_seterr(err, "%s: field \"model_type\" must be a string", src);
    if (strcmp(v->valuestring, "qwen2") == 0)
        c->arch = R1_ARCH_QWEN2;
    else if (strcmp(v->valuestring, "llama") == 0)
        c->arch = R1_ARCH_LLAMA;
    else
        return r1_seterr(err,
                         "%s: field \"model_type\" is \"%s\"; r1c supports \"qwen2\" and "
                         "\"llama\"",
                         src, v->valuestring);
    return 0;
}

static int read_sizes(R1Config *c, const cJSON *root, const char *src, R1Err *err) {
    if (pos_int(root, "hidden_size", 0, &c->hidden, src, err) ||
        pos_int(root, "num_hidden_layers", 0, &c->n_layers, src, err) ||
        pos_int(root, "num_attention_heads", 0, &c->n_heads, src, err) ||
        pos_int(root, "num_key_value_heads", c->n_heads, &c->n_kv_heads, src, err) ||
        pos_int(root, "intermediate_size", 0, &c->intermediate, src, err) ||
        pos_int(root, "vocab_size", 0, &c->vocab, src, err) ||
        pos_int(root, "max_position_embeddings", 0, &c->max_pos, src, err))
        return -1;
    /* head_dim: absent or null means hidden / heads, as in transformers */
    const cJSON *hd = get(root, "head_dim");
    if (hd && !cJSON_IsNull(hd)) return pos_int(root, "head_dim", 0, &c->head_dim, src, err);
    if (c->hidden % c->n_heads != 0)
        return r1_seterr(err,
                         "%s: field \"hidden_size\" (%d) is not a multiple of "
                         "\"num_attention_heads\" (%d) and there is no \"head_dim\"",
                         src, c->hidden, c->n_heads);
    c->head_dim = c->hidden / c->n_heads;
    return 0;
}

static int read_numbers(R1Config *c, const cJSON *root, const char *src, R1Err *err) {
    if (num(root, "rms_norm_eps", 0, 0, &c->rms_eps, src, err) ||
        num(root, "rope_theta", 1, 10000.0f, &c->rope_theta, src, err) ||
        num(root, "initializer_range", 1, 0.02f, &c->init_range, src, err))
        return -1;
    const cJSON *tie = get(root, "tie_word_embeddings");
    if (tie && !cJSON_IsBool(tie))
        return r1_seterr(err, "%s: field \"tie_word_embeddings\" must be true or false", src);
    c->tie_embeddings = cJSON_IsTrue(tie);
    const cJSON *drop = get(root, "attention_dropout");
    if (drop && (!cJSON_IsNumber(drop) || drop->valuedouble != 0))
        return r1_seterr(err, "%s: field \"attention_dropout\" must be 0 (r1c has no dropout)",
                         src);
    return 0;
}

/* bos_token_id: integer or null. eos_token_id: integer, list, or null. */
static int read_tokens(R1Config *c, const cJSON *root, const char *src, R1Err *err) {
    const cJSON *bos = get(root, "bos_token_id"), *eos = get(root, "eos_token_id");
    c->bos_id = -1;
    if (bos && !cJSON_IsNull(bos)) {
        if (!is_int_in(bos, 0, 2147483647.0))
            return r1_seterr(err, "%s: field \"bos_token_id\" must be a token id or null", src);
        c->bos_id = (int)bos->valuedouble;
    }
    c->n_eos = 0;
    if (!eos || cJSON_IsNull(eos)) return 0;
    if (is_int_in(eos, 0, 2147483647.0)) {
        c->eos_ids[c->n_eos++] = (int)eos->valuedouble;
        return 0;
    }
    if (!cJSON_IsArray(eos))
        return r1_seterr(err, "%s: field \"eos_token_id\" must be a token id or a list of them",
                         src);
    if (cJSON_GetArraySize(eos) > R1_MAX_EOS)
        return r1_seterr(err, "%s: field \"eos_token_id\" lists more than %d ids", src, R1_MAX_EOS);
    for (const cJSON *e = eos->child; e; e = e->next) {
        if (!is_int_in(e, 0, 2147483647.0))
            return r1_seterr(err, "%s: field \"eos_token_id\" must hold token ids", src);
        c->eos_ids[c->n_eos++] = (int)e->valuedouble;
    }
    return 0;
}

/* torch_dtype and its newer name dtype: kept only so that save writes it back. */
static int read_dtype(R1Config *c, const cJSON *root, const char *src, R1Err *err) {
    const char *keys[2] = {"torch_dtype", "dtype"};
    for (int i = 0; i < 2; i++) {
        const cJSON *v = get(root, keys[i]);
        if (!v || cJSON_IsNull(v)) continue;
        if (!cJSON_IsString(v) || strlen(v->valuestring) >= sizeof c->dtype)
            return r1_seterr(err, "%s: field \"%s\" must be a dtype name such as \"bfloat16\"", src,
                             keys[i]);
        if (c->dtype[0] && strcmp(c->dtype, v->valuestring) != 0)
            return r1_seterr(err, "%s: fields \"torch_dtype\" and \"dtype\" disagree", src);
        strcpy(c->dtype, v->valuestring);
    }
    return 0;
}

/* One number of rope_scaling. */
static int rope_num(const cJSON *rs, const char *key, float *out, const char *src, R1Err *err) {
    const cJSON *v = get(rs, key);
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
        return r1_seterr(err, "%s: field \"rope_scaling.%s\" must be a number", src, key);
    *out = (float)v->valuedouble;
    return 0;
}

/* rope_scaling: null, or llama3 frequency scaling; any other type (yarn,
 * linear, dynamic, ...) changes the positions and is refused by name. */
static int read_rope(R1Config *c, const cJSON *root, const char *src, R1Err *err) {
    const cJSON *rs = get(root, "rope_scaling");
    c->rope_type = R1_ROPE_DEFAULT;
    if (!rs || cJSON_IsNull(rs)) return 0;
    if (!cJSON_IsObject(rs))
        return r1_seterr(err, "%s: field \"rope_scaling\" must be an object or null", src);
    const cJSON *t1 = get(rs, "rope_type"), *t2 = get(rs, "type");
    const cJSON *t = t1 ? t1 : t2;
    if (!cJSON_IsString(t) ||
        (t1 && t2 && (!cJSON_IsString(t2) || strcmp(t1->valuestring, t2->valuestring) != 0)))
        return r1_seterr(err, "%s: field \"rope_scaling\" needs one string \"rope_type\"", src);
    if (strcmp(t->valuestring, "default") == 0) return 0;
    if (strcmp(t->valuestring, "llama3") != 0)
        return r1_seterr(err,
                         "%s: field \"rope_scaling\" has type \"%s\"; r1c supports only "
                         "\"llama3\"",
                         src, t->valuestring);
    static const char *const known[] = {"rope_type",        "type",
                                        "factor",           "low_freq_factor",
                                        "high_freq_factor", "original_max_position_embeddings"};
    for (const cJSON *e = rs->child; e; e = e->next)
        if (!in_table(e->string, known, N_OF(known)))
            return r1_seterr(err, "%s: unknown field \"rope_scaling.%s\"", src, e->string);
    c->rope_type = R1_ROPE_LLAMA3;
    if (rope_num(rs, "factor", &c->rope_factor, src, err) ||
        rope_num(rs, "low_freq_factor", &c->rope_low_freq_factor, src, err) ||
        rope_num(rs, "high_freq_factor", &c->rope_high_freq_factor, src, err))
        return -1;
    const cJSON *om = get(rs, "original_max_position_embeddings");
    if (!is_int_in(om, 1, 2147483647.0))
        return r1_seterr(err,
                         "%s: field \"rope_scaling.original_max_position_embeddings\" must be a "
                         "positive integer",
                         src);
    c->rope_original_max_pos = (int)om->valuedouble;
    return 0;
}

/* The switches that would change the network if r1c ignored them. */
static int read_switches(R1Config *c, const cJSON *root, const char *src, R1Err *err) {
    const cJSON *act = get(root, "hidden_act");
    if (act && (!cJSON_IsString(act) || strcmp(act->valuestring, "silu") != 0))
        return r1_seterr(err, "%s: field \"hidden_act\" must be \"silu\" (r1c's MLP is SwiGLU)",
                         src);
    const cJSON *tp = get(root, "pretraining_tp");
    if (tp && !(cJSON_IsNumber(tp) && tp->valuedouble == 1))
        return r1_seterr(err, "%s: field \"pretraining_tp\" must be 1", src);
    /* Qwen2 always has q/k/v biases; an attention_bias key would be ignored
     * by transformers and is most likely a mislabelled model. */
    c->qkv_bias = c->arch == R1_ARCH_QWEN2;
    if (c->arch == R1_ARCH_QWEN2 && get(root, "attention_bias"))
        return r1_seterr(err, "%s: field \"attention_bias\" is not a qwen2 field", src);
    if (bool_must(root, "attention_bias", 0, "Llama without q/k/v/o biases", src, err) ||
        bool_must(root, "mlp_bias", 0, "MLP without biases", src, err) ||
        bool_must(root, "use_sliding_window", 0, "full attention only", src, err))
        return -1;
    const cJSON *lt = get(root, "layer_types");
    if (lt && !cJSON_IsArray(lt))
        return r1_seterr(err, "%s: field \"layer_types\" must be a list", src);
    for (const cJSON *e = lt ? lt->child : NULL; e; e = e->next)
        if (!cJSON_IsString(e) || strcmp(e->valuestring, "full_attention") != 0)
            return r1_seterr(err,
                             "%s: field \"layer_types\" may only list \"full_attention\" "
                             "(r1c has no sliding-window layers)",
                             src);
    return 0;
}

int r1_config_parse(R1Config *c, const char *json, const char *source, R1Err *err) {
    memset(c, 0, sizeof *c);
    const char *end = json;
    cJSON *root = cJSON_ParseWithOpts(json, &end, 1);
    if (!root) return r1_seterr(err, "%s: invalid JSON near byte %ld", source, (long)(end - json));
    int rc = -1;
    if (!cJSON_IsObject(root))
        r1_seterr(err, "%s: config.json must hold a JSON object", source);
    else if (get(root, "quantization_config"))
        r1_seterr(err,
                  "%s: field \"quantization_config\": quantized checkpoints are not "
                  "supported",
                  source);
    else if (check_keys(root, source, err) == 0 && read_arch(c, root, source, err) == 0 &&
             read_sizes(c, root, source, err) == 0 && read_numbers(c, root, source, err) == 0 &&
             read_tokens(c, root, source, err) == 0 && read_dtype(c, root, source, err) == 0 &&
             read_rope(c, root, source, err) == 0 && read_switches(c, root, source, err) == 0)
        rc = r1_config_validate(c, source, err);
    cJSON_Delete(root);
    return rc;
}

int r1_config_load(R1Config *c, const char *path, R1Err *err) {
    char *text = r1_read_file(path, NULL, err);
    if (!text) return -1;
    int rc = r1_config_parse(c, text, path, err);
    free(text);
    return rc;
}

static int check_pos(int v, const char *field, const char *src, R1Err *err) {
    if (v > 0) return 0;
    return r1_seterr(err, "%s: field \"%s\" must be positive (is %d)", src, field, v);
}

static int check_token(int id, int vocab, const char *field, const char *src, R1Err *err) {
    if (id >= 0 && id < vocab) return 0;
    return r1_seterr(err, "%s: field \"%s\" holds %d, outside the vocabulary of %d", src, field, id,
                     vocab);
}

static int validate_rope(const R1Config *c, const char *src, R1Err *err) {
    if (c->rope_type == R1_ROPE_DEFAULT) return 0;
    if (c->rope_type != R1_ROPE_LLAMA3)
        return r1_seterr(err, "%s: field \"rope_scaling\" has an unknown type", src);
    /* llama3 scaling divides by high - low and by the factor */
    if (!(c->rope_factor >= 1.0f) || !isfinite(c->rope_factor) ||
        !isfinite(c->rope_high_freq_factor))
        return r1_seterr(err, "%s: field \"rope_scaling.factor\" must be at least 1", src);
    if (!(c->rope_low_freq_factor > 0 && c->rope_high_freq_factor > c->rope_low_freq_factor))
        return r1_seterr(err,
                         "%s: fields \"rope_scaling.low_freq_factor\" and \"high_freq_factor\" "
                         "need 0 < low < high",
                         src);
    return check_pos(c->rope_original_max_pos, "rope_scaling.original_max_position_embeddings", src,
                     err);
}

/* Bounds far beyond any real model, low enough that products of sizes
 * (rows of fused q|k|v, [T, V] logits offsets) cannot overflow. */
static int check_limits(const R1Config *c, const char *src, R1Err *err) {
    const struct {
        int v, max;
        const char *name;
    } lim[] = {{c->hidden, 1 << 16, "hidden_size"},
               {c->n_layers, 1 << 10, "num_hidden_layers"},
               {c->n_heads, 1 << 10, "num_attention_heads"},
               {c->head_dim, 1 << 12, "head_dim"},
               {c->intermediate, 1 << 18, "intermediate_size"},
               {c->vocab, 1 << 24, "vocab_size"},
               {c->max_pos, 1 << 24, "max_position_embeddings"}};
    for (size_t i = 0; i < sizeof lim / sizeof lim[0]; i++)
        if (lim[i].v > lim[i].max)
            return r1_seterr(err, "%s: field \"%s\" (%d) is larger than r1c supports (%d)", src,
                             lim[i].name, lim[i].v, lim[i].max);
    return 0;
}

int r1_config_validate(const R1Config *c, const char *src, R1Err *err) {
    if (c->arch != R1_ARCH_QWEN2 && c->arch != R1_ARCH_LLAMA)
        return r1_seterr(err, "%s: field \"model_type\" is not qwen2 or llama", src);
    if (check_pos(c->hidden, "hidden_size", src, err) ||
        check_pos(c->n_layers, "num_hidden_layers", src, err) ||
        check_pos(c->n_heads, "num_attention_heads", src, err) ||
        check_pos(c->n_kv_heads, "num_key_value_heads", src, err) ||
        check_pos(c->head_dim, "head_dim", src, err) ||
        check_pos(c->intermediate, "intermediate_size", src, err) ||
        check_pos(c->vocab, "vocab_size", src, err) ||
        check_pos(c->max_pos, "max_position_embeddings", src, err))
        return -1;
    if (check_limits(c, src, err)) return -1;
    if (c->n_heads % c->n_kv_heads != 0)
        return r1_seterr(err,
                         "%s: field \"num_attention_heads\" (%d) must be a multiple of "
                         "\"num_key_value_heads\" (%d)",
                         src, c->n_heads, c->n_kv_heads);
    if (c->head_dim % 2 != 0) /* rotary embeddings rotate pairs of dimensions */
        return r1_seterr(err, "%s: field \"head_dim\" (%d) must be even", src, c->head_dim);
    if (!(c->rms_eps > 0 && isfinite(c->rms_eps)))
        return r1_seterr(err, "%s: field \"rms_norm_eps\" must be a positive number", src);
    if (!(c->rope_theta > 0 && isfinite(c->rope_theta)))
        return r1_seterr(err, "%s: field \"rope_theta\" must be a positive number", src);
    if (!(c->init_range >= 0 && isfinite(c->init_range)))
        return r1_seterr(err, "%s: field \"initializer_range\" must be a non-negative number", src);
    if (c->tie_embeddings != 0 && c->tie_embeddings != 1)
        return r1_seterr(err, "%s: field \"tie_word_embeddings\" must be 0 or 1", src);
    if (c->qkv_bias != (c->arch == R1_ARCH_QWEN2))
        return r1_seterr(err, "%s: field \"attention_bias\": %s", src,
                         c->arch == R1_ARCH_QWEN2 ? "qwen2 always has q/k/v biases"
                                                  : "llama with biases is not supported");
    if (c->bos_id != -1 && check_token(c->bos_id, c->vocab, "bos_token_id", src, err)) return -1;
    if (c->n_eos < 0 || c->n_eos > R1_MAX_EOS)
        return r1_seterr(err, "%s: field \"eos_token_id\" holds %d ids", src, c->n_eos);
    for (int i = 0; i < c->n_eos; i++)
        if (check_token(c->eos_ids[i], c->vocab, "eos_token_id", src, err)) return -1;
    if (!memchr(c->dtype, 0, sizeof c->dtype))
        return r1_seterr(err, "%s: field \"torch_dtype\" is not a terminated string", src);
    return validate_rope(c, src, err);
}

const char *r1_arch_name(R1Arch a) {
    return a == R1_ARCH_QWEN2 ? "qwen2" : a == R1_ARCH_LLAMA ? "llama" : "unknown";
}

/* A float as Python's json would write it: the shortest decimal that reads
 * back as the same float (1e-06, not 9.9999999747524271e-07, so load gets the
 * same float back), and whole numbers with ".0" (transformers warns when the
 * rope factors are not floats). validate() has ruled out inf and NaN. */
static cJSON *json_float(float f) {
    char buf[64];
    if (f == floorf(f) && fabsf(f) < 1e15f) {
        snprintf(buf, sizeof buf, "%.1f", (double)f);
        return cJSON_CreateRaw(buf);
    }
    for (int prec = 1; prec <= 9; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, (double)f);
        if (strtof(buf, NULL) == f) break;
    }
    return cJSON_CreateRaw(buf);
}

static cJSON *rope_json(const R1Config *c) {
    if (c->rope_type != R1_ROPE_LLAMA3) return cJSON_CreateNull();
    cJSON *rs = cJSON_CreateObject();
    cJSON_AddItemToObject(rs, "factor", json_float(c->rope_factor));
    cJSON_AddItemToObject(rs, "high_freq_factor", json_float(c->rope_high_freq_factor));
    cJSON_AddItemToObject(rs, "low_freq_factor", json_float(c->rope_low_freq_factor));
    cJSON_AddNumberToObject(rs, "original_max_position_embeddings", c->rope_original_max_pos);
    cJSON_AddStringToObject(rs, "rope_type", "llama3");
    return rs;
}

static cJSON *eos_json(const R1Config *c) {
    if (c->n_eos == 0) return cJSON_CreateNull();
    if (c->n_eos == 1) return cJSON_CreateNumber(c->eos_ids[0]);
    return cJSON_CreateIntArray(c->eos_ids, c->n_eos);
}

/* Keys in sorted order, as transformers writes them. */
static cJSON *config_json(const R1Config *c) {
    int llama = c->arch == R1_ARCH_LLAMA;
    cJSON *o = cJSON_CreateObject();
    const char *cls = llama ? "LlamaForCausalLM" : "Qwen2ForCausalLM";
    cJSON_AddItemToObject(o, "architectures", cJSON_CreateStringArray(&cls, 1));
    if (llama) cJSON_AddBoolToObject(o, "attention_bias", 0);
    cJSON_AddItemToObject(o, "attention_dropout", json_float(0));
    if (c->bos_id >= 0)
        cJSON_AddNumberToObject(o, "bos_token_id", c->bos_id);
    else
        cJSON_AddNullToObject(o, "bos_token_id");
    cJSON_AddItemToObject(o, "eos_token_id", eos_json(c));
    cJSON_AddNumberToObject(o, "head_dim", c->head_dim);
    cJSON_AddStringToObject(o, "hidden_act", "silu");
    cJSON_AddNumberToObject(o, "hidden_size", c->hidden);
    cJSON_AddItemToObject(o, "initializer_range", json_float(c->init_range));
    cJSON_AddNumberToObject(o, "intermediate_size", c->intermediate);
    cJSON_AddNumberToObject(o, "max_position_embeddings", c->max_pos);
    if (llama) cJSON_AddBoolToObject(o, "mlp_bias", 0);
    cJSON_AddStringToObject(o, "model_type", r1_arch_name(c->arch));
    cJSON_AddNumberToObject(o, "num_attention_heads", c->n_heads);
    cJSON_AddNumberToObject(o, "num_hidden_layers", c->n_layers);
    cJSON_AddNumberToObject(o, "num_key_value_heads", c->n_kv_heads);
    if (llama) cJSON_AddNumberToObject(o, "pretraining_tp", 1);
    cJSON_AddItemToObject(o, "rms_norm_eps", json_float(c->rms_eps));
    cJSON_AddItemToObject(o, "rope_scaling", rope_json(c));
    cJSON_AddItemToObject(o, "rope_theta", json_float(c->rope_theta));
    cJSON_AddBoolToObject(o, "tie_word_embeddings", c->tie_embeddings);
    cJSON_AddStringToObject(o, "torch_dtype", c->dtype[0] ? c->dtype : "float32");
    if (!llama) cJSON_AddBoolToObject(o, "use_sliding_window", 0);
    cJSON_AddNumberToObject(o, "vocab_size", c->vocab);
    return o;
}

int r1_config_save(const R1Config *c, const char *path, R1Err *err) {
    if (r1_config_validate(c, path, err) != 0) return -1;
    cJSON *o = config_json(c);
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    if (!text) return r1_seterr(err, "%s: could not format config.json", path);
    size_t n = strlen(text);
    char *buf = r1_xmalloc(n + 2);
    memcpy(buf, text, n);
    buf[n] = '\n';
    cJSON_free(text);
    int rc = r1_write_file_atomic(path, buf, n + 1, err);
    free(buf);
    return rc;
}
