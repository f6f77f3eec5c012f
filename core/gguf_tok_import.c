/* gguf_tok_import.c - GGUF tokenizer metadata -> tokenizer.json + tokenizer_config.json
 * (r1_gguf_tokenizer_write); see gguf_tok.h. */
#include "gguf_tok.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gguf_pre.h"
#include "tok_internal.h"

/* ---- small helpers ----------------------------------------------------------------- */

static int valid_utf8(const char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        int len = r1_utf8_len((const unsigned char *)s + i, n - i);
        if (len == 0) return 0;
        i += (size_t)len;
    }
    return 1;
}

/* ---- import: GGUF -> tokenizer.json ------------------------------------------------ */

typedef struct {
    const R1Gguf *g;
    R1Err *err;
    int n;      /* tokens */
    char **tok; /* NUL-terminated copies */
    int *type;  /* llama.cpp token types */
    const PreName *pre;
    int bos, eos, unk, pad, add_bos, add_eos;
    int has_add_bos, has_add_eos; /* the keys are in the file */
} Import;

static void import_free(Import *im) {
    for (int i = 0; im->tok && i < im->n; i++) free(im->tok[i]);
    free(im->tok);
    free(im->type);
}

/* A string array's key, or NULL (err set when present but not a string array). */
static const R1GgufKV *str_array(const R1Gguf *g, const char *key, int *bad, R1Err *err) {
    const R1GgufKV *kv = r1_gguf_find(g, key);
    *bad = 0;
    if (kv && (kv->type != R1_GV_ARRAY || kv->etype != R1_GV_STR)) {
        r1_seterr(err, "%s: %s is not an array of strings", g->path, key);
        *bad = 1;
        return NULL;
    }
    return kv;
}

static int import_model(Import *im) {
    const R1Gguf *g = im->g;
    R1GgufStr s;
    int rc = r1_gguf_str(g, PREFIX "model", &s, im->err);
    if (rc < 0) return -1;
    if (rc == 0)
        return r1_seterr(im->err, "%s: no " PREFIX "model: the file carries no tokenizer", g->path);
    if (s.len == 4 && memcmp(s.ptr, "gpt2", 4) == 0) return 0;
    if (s.len == 5 && memcmp(s.ptr, "llama", 5) == 0)
        return r1_seterr(im->err,
                         "%s: " PREFIX "model is \"llama\" (a SentencePiece tokenizer): r1c "
                         "supports only byte-level BPE (\"gpt2\")",
                         g->path);
    return r1_seterr(im->err,
                     "%s: " PREFIX "model is \"%.*s\": r1c supports only byte-level BPE (\"gpt2\")",
                     g->path, (int)(s.len > 64 ? 64 : s.len), s.ptr);
}

static int import_pre(Import *im) {
    const R1Gguf *g = im->g;
    R1GgufStr s;
    char known[512];
    gguf_pre_names(known, sizeof known);
    int rc = r1_gguf_str(g, PREFIX "pre", &s, im->err);
    if (rc < 0) return -1;
    if (rc == 0)
        return r1_seterr(im->err,
                         "%s: no " PREFIX "pre: llama.cpp would fall back to its 'default' "
                         "pre-tokenizer, which r1c does not reproduce (known: %s)",
                         g->path, known);
    char name[64];
    if (s.len >= sizeof name || memchr(s.ptr, 0, s.len))
        return r1_seterr(im->err,
                         "%s: " PREFIX "pre \"%.*s\" is not a pre-tokenizer r1c knows (known: %s)",
                         g->path, (int)(s.len > 64 ? 64 : s.len), s.ptr, known);
    memcpy(name, s.ptr, s.len);
    name[s.len] = 0;
    if (!(im->pre = gguf_pre_by_name(name)))
        return r1_seterr(im->err,
                         "%s: " PREFIX "pre \"%s\" is not a pre-tokenizer r1c knows (known: %s)",
                         g->path, name, known);
    return 0;
}

static int import_tokens(Import *im) {
    const R1Gguf *g = im->g;
    int bad;
    const R1GgufKV *kv = str_array(g, PREFIX "tokens", &bad, im->err);
    if (bad) return -1;
    if (!kv) return r1_seterr(im->err, "%s: no " PREFIX "tokens (the vocabulary)", g->path);
    if (kv->n == 0 || kv->n > 0x7fffffff)
        return r1_seterr(im->err, "%s: " PREFIX "tokens has %llu entries", g->path,
                         (unsigned long long)kv->n);
    im->n = (int)kv->n;
    im->tok = r1_xcalloc((size_t)im->n, sizeof(char *));
    im->type = r1_xcalloc((size_t)im->n, sizeof(int));
    R1StrMap seen;
    r1_strmap_init(&seen);
    int rc = 0;
    for (int i = 0; i < im->n && rc == 0; i++) {
        R1GgufStr s = r1_gguf_arr_str(kv, (uint64_t)i);
        if (s.len == 0 || memchr(s.ptr, 0, s.len) || !valid_utf8(s.ptr, s.len)) {
            rc = r1_seterr(im->err, "%s: " PREFIX "tokens[%d] is %s", g->path, i,
                           s.len ? "not valid UTF-8 text" : "empty");
            break;
        }
        int other = r1_strmap_get(&seen, s.ptr, s.len);
        if (other >= 0)
            rc = r1_seterr(im->err, "%s: " PREFIX "tokens[%d] and [%d] are both \"%.*s\"", g->path,
                           other, i, (int)(s.len > 64 ? 64 : s.len), s.ptr);
        r1_strmap_put(&seen, s.ptr, s.len, i);
        im->tok[i] = r1_xmalloc(s.len + 1);
        memcpy(im->tok[i], s.ptr, s.len);
        im->tok[i][s.len] = 0;
        im->type[i] = 1;
    }
    r1_strmap_free(&seen);
    if (rc) return -1;
    const R1GgufKV *ty = r1_gguf_find(g, PREFIX "token_type");
    if (!ty) return 0; /* llama.cpp: all normal */
    if (ty->type != R1_GV_ARRAY || ty->etype == R1_GV_STR || ty->etype == R1_GV_F32 ||
        ty->etype == R1_GV_F64 || ty->etype == R1_GV_BOOL || ty->etype == R1_GV_ARRAY)
        return r1_seterr(im->err, "%s: " PREFIX "token_type is not an integer array", g->path);
    if (ty->n < (uint64_t)im->n)
        return r1_seterr(im->err, "%s: " PREFIX "token_type has %llu entries for %d tokens",
                         g->path, (unsigned long long)ty->n, im->n);
    for (int i = 0; i < im->n; i++) {
        int64_t t = r1_gguf_arr_int(ty, (uint64_t)i);
        if (t < 0 || t > 6)
            return r1_seterr(im->err, "%s: " PREFIX "token_type[%d] is %lld (not 0..6)", g->path, i,
                             (long long)t);
        im->type[i] = (int)t;
    }
    return 0;
}

/* *id = the key's token id, or -1 when absent. */
static int import_id(Import *im, const char *key, int *id) {
    int64_t v;
    int rc = r1_gguf_int(im->g, key, &v, im->err);
    *id = -1;
    if (rc < 0) return -1;
    if (rc == 0) return 0;
    if (v < 0 || v >= im->n)
        return r1_seterr(im->err, "%s: %s is %lld, outside the %d tokens", im->g->path, key,
                         (long long)v, im->n);
    *id = (int)v;
    return 0;
}

static int import_flag(Import *im, const char *key, int dflt, int *out, int *has) {
    int rc = r1_gguf_bool(im->g, key, out, im->err);
    if (rc < 0) return -1;
    if (rc == 0) *out = dflt;
    *has = rc == 1;
    return 0;
}

static int import_specials(Import *im) {
    if (import_id(im, PREFIX "bos_token_id", &im->bos) ||
        import_id(im, PREFIX "eos_token_id", &im->eos) ||
        import_id(im, PREFIX "unknown_token_id", &im->unk) ||
        import_id(im, PREFIX "padding_token_id", &im->pad) ||
        import_flag(im, PREFIX "add_bos_token", im->pre->add_bos, &im->add_bos, &im->has_add_bos) ||
        import_flag(im, PREFIX "add_eos_token", 0, &im->add_eos, &im->has_add_eos))
        return -1;
    if (im->add_bos && im->bos < 0)
        return r1_seterr(im->err, "%s: BOS is to be added but there is no " PREFIX "bos_token_id",
                         im->g->path);
    if (im->add_eos && im->eos < 0)
        return r1_seterr(im->err, "%s: EOS is to be added but there is no " PREFIX "eos_token_id",
                         im->g->path);
    return 0;
}

static cJSON *added_token_json(const Import *im, int id, int with_id) {
    cJSON *a = cJSON_CreateObject();
    if (with_id) cJSON_AddNumberToObject(a, "id", id);
    cJSON_AddStringToObject(a, "content", im->tok[id]);
    cJSON_AddFalseToObject(a, "single_word");
    cJSON_AddFalseToObject(a, "lstrip");
    cJSON_AddFalseToObject(a, "rstrip");
    cJSON_AddFalseToObject(a, "normalized");
    cJSON_AddBoolToObject(a, "special", im->type[id] != 4);
    return a;
}

/* Control (3), unknown (2) and user-defined (4) tokens are matched in text before
 * anything else, by llama.cpp (with parse_special) as by Hugging Face's added tokens. */
static int is_added(int type) {
    return type == 2 || type == 3 || type == 4;
}

/* {"SpecialToken": {"id": TEXT, "type_id": T}} or {"Sequence": {"id": "A", "type_id": T}}. */
static cJSON *template_part(const char *kind, const char *id, int type_id) {
    cJSON *o = cJSON_CreateObject(), *in = cJSON_AddObjectToObject(o, kind);
    cJSON_AddStringToObject(in, "id", id);
    cJSON_AddNumberToObject(in, "type_id", type_id);
    return o;
}

static void template_seq(const Import *im, cJSON *arr, const char *seq, int type_id) {
    if (im->add_bos)
        cJSON_AddItemToArray(arr, template_part("SpecialToken", im->tok[im->bos], type_id));
    cJSON_AddItemToArray(arr, template_part("Sequence", seq, type_id));
    if (im->add_eos)
        cJSON_AddItemToArray(arr, template_part("SpecialToken", im->tok[im->eos], type_id));
}

static void template_special(const Import *im, cJSON *specials, int id) {
    if (cJSON_GetObjectItem(specials, im->tok[id])) return;
    cJSON *e = cJSON_AddObjectToObject(specials, im->tok[id]);
    cJSON_AddStringToObject(e, "id", im->tok[id]);
    cJSON_AddItemToObject(e, "ids", cJSON_CreateIntArray(&id, 1));
    cJSON_AddItemToArray(cJSON_AddArrayToObject(e, "tokens"), cJSON_CreateString(im->tok[id]));
}

/* BOS/EOS around each sequence, as llama.cpp adds them; null when it adds neither. */
static cJSON *post_processor_json(const Import *im) {
    if (!im->add_bos && !im->add_eos) return cJSON_CreateNull();
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "type", "TemplateProcessing");
    template_seq(im, cJSON_AddArrayToObject(p, "single"), "A", 0);
    cJSON *pair = cJSON_AddArrayToObject(p, "pair");
    template_seq(im, pair, "A", 0);
    template_seq(im, pair, "B", 1);
    cJSON *specials = cJSON_AddObjectToObject(p, "special_tokens");
    if (im->add_bos) template_special(im, specials, im->bos);
    if (im->add_eos) template_special(im, specials, im->eos);
    return p;
}

/* model: BPE with every token in the vocabulary and the merges as pairs. */
static cJSON *model_json(const Import *im) {
    const R1Gguf *g = im->g;
    int bad;
    const R1GgufKV *kv = str_array(g, PREFIX "merges", &bad, im->err);
    if (bad) return NULL;
    if (!kv) return r1_seterr(im->err, "%s: no " PREFIX "merges", g->path), NULL;
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "type", "BPE");
    cJSON_AddNullToObject(m, "dropout");
    cJSON_AddNullToObject(m, "unk_token");
    cJSON_AddNullToObject(m, "continuing_subword_prefix");
    cJSON_AddNullToObject(m, "end_of_word_suffix");
    cJSON_AddFalseToObject(m, "fuse_unk");
    cJSON_AddFalseToObject(m, "byte_fallback");
    cJSON_AddBoolToObject(m, "ignore_merges", im->pre->ignore_merges);
    cJSON *vocab = cJSON_AddObjectToObject(m, "vocab");
    for (int i = 0; i < im->n; i++) cJSON_AddNumberToObject(vocab, im->tok[i], i);
    cJSON *merges = cJSON_AddArrayToObject(m, "merges");
    char *buf = NULL;
    size_t cap = 0;
    for (uint64_t i = 0; i < kv->n; i++) {
        R1GgufStr s = r1_gguf_arr_str(kv, i);
        /* llama.cpp splits at the first space after the first byte */
        const char *sp = s.len > 1 ? memchr(s.ptr + 1, ' ', s.len - 1) : NULL;
        if (!sp || sp + 1 == s.ptr + s.len || memchr(s.ptr, 0, s.len) ||
            !valid_utf8(s.ptr, s.len)) {
            r1_seterr(im->err, "%s: " PREFIX "merges[%llu] is not \"left right\": \"%.*s\"",
                      g->path, (unsigned long long)i, (int)(s.len > 64 ? 64 : s.len), s.ptr);
            free(buf);
            cJSON_Delete(m);
            return NULL;
        }
        if (s.len + 1 > cap) buf = r1_xrealloc(buf, cap = s.len + 64);
        memcpy(buf, s.ptr, s.len);
        buf[s.len] = 0;
        buf[sp - s.ptr] = 0;
        cJSON *pair = cJSON_CreateArray();
        cJSON_AddItemToArray(pair, cJSON_CreateString(buf));
        cJSON_AddItemToArray(pair, cJSON_CreateString(buf + (sp - s.ptr) + 1));
        cJSON_AddItemToArray(merges, pair);
    }
    free(buf);
    return m;
}

static cJSON *tokenizer_json(const Import *im) {
    cJSON *model = model_json(im);
    if (!model) return NULL;
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "version", "1.0");
    cJSON_AddNullToObject(root, "truncation");
    cJSON_AddNullToObject(root, "padding");
    cJSON *added = cJSON_AddArrayToObject(root, "added_tokens");
    for (int i = 0; i < im->n; i++)
        if (is_added(im->type[i])) cJSON_AddItemToArray(added, added_token_json(im, i, 1));
    cJSON_AddNullToObject(root, "normalizer");
    cJSON *pre = cJSON_AddObjectToObject(root, "pre_tokenizer");
    cJSON_AddStringToObject(pre, "type", "Sequence");
    cJSON *seq = cJSON_AddArrayToObject(pre, "pretokenizers");
    const PreSet *set = &GGUF_PRE_SETS[im->pre->set];
    for (int i = 0; i < set->n; i++) cJSON_AddItemToArray(seq, r1_tokjson_split(set->re[i].hf));
    cJSON_AddItemToArray(seq, r1_tokjson_bytelevel());
    cJSON_AddItemToObject(root, "post_processor", post_processor_json(im));
    cJSON_AddItemToObject(root, "decoder", r1_tokjson_bytelevel());
    cJSON_AddItemToObject(root, "model", model);
    return root;
}

/* The scalar tokenizer.ggml.* keys with no place of their own, prefix dropped. */
static int kept_keys_json(const Import *im, cJSON *keep) {
    const R1Gguf *g = im->g;
    for (int64_t i = 0; i < g->n_kv; i++) {
        const R1GgufKV *kv = &g->kv[i];
        if (strncmp(kv->key, PREFIX, strlen(PREFIX)) != 0 || kv->type == R1_GV_ARRAY) continue;
        const char *k = kv->key + strlen(PREFIX);
        if (gguf_own_key(k)) continue;
        if (kv->type == R1_GV_STR) {
            R1GgufStr s;
            if (r1_gguf_str(g, kv->key, &s, im->err) < 0) return -1;
            if (memchr(s.ptr, 0, s.len) || !valid_utf8(s.ptr, s.len))
                return r1_seterr(im->err, "%s: %s is not valid UTF-8 text", g->path, kv->key);
            char *v = r1_xmalloc(s.len + 1);
            memcpy(v, s.ptr, s.len);
            v[s.len] = 0;
            cJSON_AddStringToObject(keep, k, v);
            free(v);
        } else if (kv->type == R1_GV_BOOL) {
            int b;
            if (r1_gguf_bool(g, kv->key, &b, im->err) < 0) return -1;
            cJSON_AddBoolToObject(keep, k, b);
        } else if (kv->type == R1_GV_F32 || kv->type == R1_GV_F64) {
            double d;
            if (r1_gguf_f64(g, kv->key, &d, im->err) < 0) return -1;
            cJSON_AddNumberToObject(keep, k, d);
        } else {
            int64_t v;
            if (r1_gguf_int(g, kv->key, &v, im->err) < 0) return -1;
            cJSON_AddNumberToObject(keep, k, (double)v);
        }
    }
    return 0;
}

static void config_token(const Import *im, cJSON *cfg, const char *key, int id) {
    if (id >= 0) cJSON_AddStringToObject(cfg, key, im->tok[id]);
}

static cJSON *config_json(const Import *im) {
    const R1Gguf *g = im->g;
    cJSON *cfg = cJSON_CreateObject();
    /* the keys present, or true by llama.cpp's default: export puts them back as they were */
    if (im->has_add_bos || im->add_bos) cJSON_AddBoolToObject(cfg, "add_bos_token", im->add_bos);
    if (im->has_add_eos || im->add_eos) cJSON_AddBoolToObject(cfg, "add_eos_token", im->add_eos);
    config_token(im, cfg, "bos_token", im->bos);
    config_token(im, cfg, "eos_token", im->eos);
    config_token(im, cfg, "unk_token", im->unk);
    config_token(im, cfg, "pad_token", im->pad);
    R1GgufStr s;
    int rc = r1_gguf_str(g, "tokenizer.chat_template", &s, im->err);
    if (rc < 0) goto fail;
    if (rc == 1) {
        if (memchr(s.ptr, 0, s.len) || !valid_utf8(s.ptr, s.len)) {
            r1_seterr(im->err, "%s: tokenizer.chat_template is not valid UTF-8 text", g->path);
            goto fail;
        }
        char *tpl = r1_xmalloc(s.len + 1);
        memcpy(tpl, s.ptr, s.len);
        tpl[s.len] = 0;
        cJSON_AddStringToObject(cfg, "chat_template", tpl);
        free(tpl);
    }
    char *arch = r1_gguf_strdup(g, "general.architecture");
    if (arch) {
        char key[160];
        int64_t ctx;
        snprintf(key, sizeof key, "%s.context_length", arch);
        free(arch);
        if (r1_gguf_int(g, key, &ctx, im->err) < 0) goto fail;
        if (r1_gguf_find(g, key)) cJSON_AddNumberToObject(cfg, "model_max_length", (double)ctx);
    }
    cJSON_AddBoolToObject(cfg, "clean_up_tokenization_spaces", im->pre->clean_spaces);
    cJSON_AddStringToObject(cfg, "tokenizer_class", "PreTrainedTokenizerFast");
    cJSON *dec = cJSON_AddObjectToObject(cfg, "added_tokens_decoder");
    for (int i = 0; i < im->n; i++) {
        if (!is_added(im->type[i])) continue;
        char id[16];
        snprintf(id, sizeof id, "%d", i);
        cJSON_AddItemToObject(dec, id, added_token_json(im, i, 0));
    }
    if (kept_keys_json(im, cJSON_AddObjectToObject(cfg, "gguf_tokenizer")) == 0) return cfg;
fail:
    cJSON_Delete(cfg);
    return NULL;
}

int r1_gguf_tokenizer_write(const R1Gguf *g, const char *dir, R1Err *err) {
    Import im = {.g = g, .err = err};
    cJSON *tj = NULL, *cfg = NULL;
    int rc = -1;
    if (import_model(&im) || import_pre(&im) || import_tokens(&im) || import_specials(&im))
        goto done;
    if (!(tj = tokenizer_json(&im)) || !(cfg = config_json(&im))) goto done;
    if (r1_mkdirs(dir, err) || r1_tokjson_write(tj, 0, dir, "tokenizer.json", err) ||
        r1_tokjson_write(cfg, 1, dir, "tokenizer_config.json", err))
        goto done;
    rc = 0;
done:
    cJSON_Delete(tj);
    cJSON_Delete(cfg);
    import_free(&im);
    return rc;
}
