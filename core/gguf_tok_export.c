/* gguf_tok_export.c - tokenizer.json + tokenizer_config.json -> GGUF tokenizer metadata
 * (r1_gguf_tokenizer_put); see gguf_tok.h. */
#include "gguf_tok.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gguf_pre.h"
#include "tok_internal.h"

/* ---- export: tokenizer.json -> GGUF keys ------------------------------------------- */

typedef struct {
    char *path, *cfg_path; /* for messages */
    R1Err *err;
    cJSON *root, *cfg; /* cfg NULL without tokenizer_config.json */
    int n, min_n;      /* tokens; at least min_n (the model's embedding rows) */
    char **tok;
    int *type;
    R1StrMap by_text;
    char **merges;
    int n_merges;
    const PreName *pre;
    int ids[4]; /* bos, eos, unk, pad */
    int add_bos, add_eos, has_add_bos, has_add_eos;
} Export;

static const char *const ID_CFG[4] = {"bos_token", "eos_token", "unk_token", "pad_token"};
static const char *const ID_KEY[4] = {PREFIX "bos_token_id", PREFIX "eos_token_id",
                                      PREFIX "unknown_token_id", PREFIX "padding_token_id"};

static void export_free(Export *ex) {
    for (int i = 0; ex->tok && i < ex->n; i++) free(ex->tok[i]);
    for (int i = 0; i < ex->n_merges; i++) free(ex->merges[i]);
    free(ex->tok), free(ex->type), free(ex->merges);
    r1_strmap_free(&ex->by_text);
    cJSON_Delete(ex->root);
    cJSON_Delete(ex->cfg);
    free(ex->path), free(ex->cfg_path);
}

static cJSON *read_json(const char *path, R1Err *err) {
    size_t len;
    char *text = r1_read_file(path, &len, err);
    if (!text) return NULL;
    cJSON *j = cJSON_ParseWithLength(text, len);
    if (!j)
        r1_seterr(err, "%s: not valid JSON (near byte %zu)", path,
                  (size_t)(cJSON_GetErrorPtr() - text));
    free(text);
    return j;
}

static void set_token(Export *ex, int id, const char *text, int type) {
    free(ex->tok[id]);
    ex->tok[id] = r1_xstrdup(text);
    ex->type[id] = type;
}

static int bad(Export *ex, const char *where, const char *what) {
    return r1_seterr(ex->err, "%s: %s: %s", ex->path, where, what);
}

static int is_type(const cJSON *o, const char *type) {
    const cJSON *t = cJSON_GetObjectItem(o, "type");
    return cJSON_IsString(t) && strcmp(t->valuestring, type) == 0;
}

#define MAX_TOKENS (1 << 24) /* ids beyond are taken for a broken file */

static int is_id(const cJSON *v) {
    return cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble < 2147483647.0 &&
           v->valuedouble == (double)v->valueint;
}

/* Normalizers llama.cpp can leave out without changing ids on text already in the form:
 * none, NFC, and Sequences of those. */
static int normalizer_ok(const cJSON *n) {
    if (!n || cJSON_IsNull(n) || is_type(n, "NFC")) return 1;
    if (!is_type(n, "Sequence")) return 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(n, "normalizers")) if (!normalizer_ok(e)) return 0;
    return 1;
}

static int decoder_ok(const cJSON *d) {
    if (!d || cJSON_IsNull(d) || is_type(d, "ByteLevel")) return 1;
    if (!is_type(d, "Sequence")) return 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(d, "decoders")) if (!decoder_ok(e)) return 0;
    return 1;
}

/* What llama.cpp's "gpt2" model can hold: byte-level BPE without the options it lacks. */
static int export_check(Export *ex) {
    const cJSON *model = cJSON_GetObjectItem(ex->root, "model"), *e;
    const cJSON *vocab = cJSON_GetObjectItem(model, "vocab");
    const cJSON *merges = cJSON_GetObjectItem(model, "merges");
    const cJSON *added = cJSON_GetObjectItem(ex->root, "added_tokens");
    const cJSON *type = cJSON_GetObjectItem(model, "type"),
                *d = cJSON_GetObjectItem(model, "dropout");
    if (!cJSON_IsObject(vocab) || !cJSON_IsArray(merges))
        return bad(ex, "model", "needs a \"vocab\" object and a \"merges\" array");
    if (type && !is_type(model, "BPE")) return bad(ex, "model.type", "only BPE models go to GGUF");
    if (cJSON_IsTrue(cJSON_GetObjectItem(model, "byte_fallback")))
        return bad(ex, "model.byte_fallback",
                   "byte-fallback (SentencePiece-style) BPE is not llama.cpp's \"gpt2\" model");
    if (cJSON_IsNumber(d) && d->valuedouble != 0.0)
        return bad(ex, "model.dropout", "BPE dropout has no place in GGUF");
    const char *affixes[] = {"continuing_subword_prefix", "end_of_word_suffix"};
    for (int i = 0; i < 2; i++) {
        const cJSON *a = cJSON_GetObjectItem(model, affixes[i]);
        if (cJSON_IsString(a) && a->valuestring[0])
            return bad(ex, affixes[i], "subword prefixes/suffixes have no place in GGUF");
    }
    cJSON_ArrayForEach(e, vocab) {
        if (!is_id(e) || !e->string[0] || e->valueint >= MAX_TOKENS)
            return bad(ex, "model.vocab", "every entry must map a non-empty string to an id");
    }
    cJSON_ArrayForEach(e, merges) {
        const char *sp = cJSON_IsString(e) ? strchr(e->valuestring, ' ') : NULL;
        int pair = cJSON_IsArray(e) && cJSON_GetArraySize(e) == 2 &&
                   cJSON_IsString(cJSON_GetArrayItem(e, 0)) &&
                   cJSON_IsString(cJSON_GetArrayItem(e, 1));
        if (!pair && (!sp || sp == e->valuestring || !sp[1] || strchr(sp + 1, ' ')))
            return bad(ex, "model.merges", "expected \"left right\" or [\"left\", \"right\"]");
    }
    if (added && !cJSON_IsArray(added)) return bad(ex, "added_tokens", "is not an array");
    cJSON_ArrayForEach(e, added) {
        const cJSON *c = cJSON_GetObjectItem(e, "content");
        const cJSON *id = cJSON_GetObjectItem(e, "id");
        if (!is_id(id) || id->valueint >= MAX_TOKENS || !cJSON_IsString(c) || !c->valuestring[0])
            return bad(ex, "added_tokens",
                       "each needs a non-negative \"id\" and a non-empty \"content\"");
        if (cJSON_IsTrue(cJSON_GetObjectItem(e, "lstrip")) ||
            cJSON_IsTrue(cJSON_GetObjectItem(e, "rstrip")) ||
            cJSON_IsTrue(cJSON_GetObjectItem(e, "single_word")))
            return r1_seterr(ex->err,
                             "%s: added token \"%.64s\" has lstrip/rstrip/single_word, which "
                             "llama.cpp's token types cannot express",
                             ex->path, c->valuestring);
    }
    if (!normalizer_ok(cJSON_GetObjectItem(ex->root, "normalizer")))
        return bad(ex, "normalizer",
                   "only none or NFC can go to GGUF (llama.cpp normalizes nothing)");
    if (!decoder_ok(cJSON_GetObjectItem(ex->root, "decoder")))
        return bad(ex, "decoder", "only ByteLevel goes with llama.cpp's \"gpt2\" model");
    return 0;
}

static int export_tokens(Export *ex) {
    const cJSON *vocab = cJSON_GetObjectItem(cJSON_GetObjectItem(ex->root, "model"), "vocab");
    const cJSON *added = cJSON_GetObjectItem(ex->root, "added_tokens"), *e;
    int max = -1;
    cJSON_ArrayForEach(e, vocab) if (e->valueint > max) max = e->valueint;
    cJSON_ArrayForEach(e, added) {
        int id = cJSON_GetObjectItem(e, "id")->valueint;
        if (id > max) max = id;
    }
    if (max < 0) return bad(ex, "model.vocab", "has no tokens");
    if (ex->min_n > 0 && max + 1 > ex->min_n)
        return r1_seterr(ex->err,
                         "%s: token id %d is past the model's vocab_size %d: llama.cpp needs an "
                         "embedding row for every token",
                         ex->path, max, ex->min_n);
    ex->n = max + 1 > ex->min_n ? max + 1 : ex->min_n;
    ex->tok = r1_xcalloc((size_t)ex->n, sizeof(char *));
    ex->type = r1_xcalloc((size_t)ex->n, sizeof(int));
    cJSON_ArrayForEach(e, vocab) set_token(ex, e->valueint, e->string, 1);
    cJSON_ArrayForEach(e, added) {
        const cJSON *c = cJSON_GetObjectItem(e, "content");
        int special = cJSON_IsTrue(cJSON_GetObjectItem(e, "special"));
        set_token(ex, cJSON_GetObjectItem(e, "id")->valueint, c->valuestring, special ? 3 : 4);
    }
    for (int i = 0; i < ex->n; i++) {
        if (!ex->tok[i]) { /* a hole: what llama.cpp's converter writes there */
            char pad[32];
            snprintf(pad, sizeof pad, "[PAD%d]", i);
            set_token(ex, i, pad, 5);
        }
        size_t len = strlen(ex->tok[i]);
        int other = r1_strmap_get(&ex->by_text, ex->tok[i], len);
        if (other >= 0)
            return r1_seterr(ex->err,
                             "%s: ids %d and %d are both \"%.64s\"; GGUF needs distinct token "
                             "texts",
                             ex->path, other, i, ex->tok[i]);
        r1_strmap_put(&ex->by_text, ex->tok[i], len, i);
    }
    return 0;
}

static int export_merges(Export *ex) {
    const cJSON *merges = cJSON_GetObjectItem(cJSON_GetObjectItem(ex->root, "model"), "merges");
    ex->merges = r1_xcalloc((size_t)cJSON_GetArraySize(merges) + 1, sizeof(char *));
    const cJSON *m;
    cJSON_ArrayForEach(m, merges) {
        const char *a, *b;
        if (cJSON_IsString(m)) { /* "left right", checked by export_check */
            ex->merges[ex->n_merges++] = r1_xstrdup(m->valuestring);
            continue;
        }
        a = cJSON_GetArrayItem(m, 0)->valuestring, b = cJSON_GetArrayItem(m, 1)->valuestring;
        if (!a[0] || !b[0] || strchr(a, ' ') || strchr(b, ' '))
            return r1_seterr(ex->err,
                             "%s: model.merges[%d] has an empty part or one with a space, which "
                             "llama.cpp's \"left right\" merges cannot hold",
                             ex->path, ex->n_merges);
        size_t la = strlen(a), lb = strlen(b);
        char *s = r1_xmalloc(la + lb + 2);
        memcpy(s, a, la), s[la] = ' ', memcpy(s + la + 1, b, lb + 1);
        ex->merges[ex->n_merges++] = s;
    }
    return 0;
}

/* Flattens Sequences into steps[]; returns the count, or -1 when there are too many. */
static int flatten(const cJSON *p, const cJSON **steps, int n, int cap) {
    const cJSON *type = cJSON_GetObjectItem(p, "type");
    if (cJSON_IsString(type) && strcmp(type->valuestring, "Sequence") == 0) {
        const cJSON *e;
        cJSON_ArrayForEach(e, cJSON_GetObjectItem(p, "pretokenizers")) {
            if ((n = flatten(e, steps, n, cap)) < 0) return -1;
        }
        return n;
    }
    if (n == cap) return -1;
    steps[n] = p;
    return n + 1;
}

/* The pre-tokenizer as the list of regexes llama.cpp would split with, in re[] (pointing
 * into the tree or at static strings); -1 when it is not such a list. */
static int pre_regexes(const cJSON *p, const char **re, int cap, int *n) {
    const cJSON *steps[16];
    int k = p && !cJSON_IsNull(p) ? flatten(p, steps, 0, 16) : 0;
    *n = 0;
    if (k <= 0 || !is_type(steps[k - 1], "ByteLevel")) return -1;
    for (int i = 0; i < k; i++) {
        const cJSON *s = steps[i];
        if (*n == cap) return -1;
        if (is_type(s, "Split")) {
            const cJSON *rx = cJSON_GetObjectItem(cJSON_GetObjectItem(s, "pattern"), "Regex");
            const cJSON *beh = cJSON_GetObjectItem(s, "behavior");
            if (!cJSON_IsString(rx) || !cJSON_IsString(beh) ||
                strcmp(beh->valuestring, "Isolated") != 0 ||
                cJSON_IsTrue(cJSON_GetObjectItem(s, "invert")))
                return -1;
            re[(*n)++] = rx->valuestring;
        } else if (is_type(s, "Digits")) {
            re[(*n)++] =
                cJSON_IsTrue(cJSON_GetObjectItem(s, "individual_digits")) ? "\\p{N}" : "\\p{N}+";
        } else if (is_type(s, "ByteLevel") && i == k - 1) {
            const cJSON *ur = cJSON_GetObjectItem(s, "use_regex");
            if (cJSON_IsTrue(cJSON_GetObjectItem(s, "add_prefix_space"))) return -1;
            if (!ur || cJSON_IsTrue(ur)) re[(*n)++] = GGUF_PRE_SETS[SET_GPT2].re[0].hf;
        } else {
            return -1;
        }
    }
    return 0;
}

static int export_pre(Export *ex, const char *pre) {
    char known[512];
    gguf_pre_names(known, sizeof known);
    if (pre) {
        if (!(ex->pre = gguf_pre_by_name(pre)))
            return r1_seterr(ex->err,
                             "%s: pre-tokenizer \"%s\" (--pre) is not one r1c knows (known: %s)",
                             ex->path, pre, known);
        return 0;
    }
    const cJSON *model = cJSON_GetObjectItem(ex->root, "model");
    const cJSON *p = cJSON_GetObjectItem(ex->root, "pre_tokenizer");
    int ignore = cJSON_IsTrue(cJSON_GetObjectItem(model, "ignore_merges")), n, set_only = -1;
    const char *re[8];
    if (pre_regexes(p, re, 8, &n) == 0) {
        const cJSON *kept =
            cJSON_GetObjectItem(cJSON_GetObjectItem(ex->cfg, "gguf_tokenizer"), "pre");
        const PreName *k = cJSON_IsString(kept) ? gguf_pre_by_name(kept->valuestring) : NULL;
        if (k && gguf_pre_set_matches(k->set, re, n) && k->ignore_merges == ignore)
            return ex->pre = k, 0;
        for (int i = 0; i < GGUF_N_PRE_NAMES; i++) {
            if (!gguf_pre_set_matches(GGUF_PRE_NAMES[i].set, re, n)) continue;
            if (GGUF_PRE_NAMES[i].ignore_merges == ignore) return ex->pre = &GGUF_PRE_NAMES[i], 0;
            set_only = i;
        }
    }
    if (set_only >= 0)
        return r1_seterr(ex->err,
                         "%s: the pre-tokenizer is llama.cpp's \"%s\" but model.ignore_merges is "
                         "%s, which no pre-tokenizer name r1c knows has; pass --pre NAME to "
                         "choose one",
                         ex->path, GGUF_PRE_NAMES[set_only].name, ignore ? "true" : "false");
    char *shown = p ? cJSON_PrintUnformatted(p) : r1_xstrdup("null");
    r1_seterr(ex->err,
              "%s: pre_tokenizer %.400s%s is none of the llama.cpp pre-tokenizers r1c knows (%s); "
              "pass --pre NAME if you know which one it is",
              ex->path, shown, strlen(shown) > 400 ? "..." : "", known);
    free(shown);
    return -1;
}

/* A config token: "text" or {"content": "text"}; *id -1 when absent or null. */
static int export_id(Export *ex, const char *key, int *id) {
    const cJSON *v = cJSON_GetObjectItem(ex->cfg, key);
    *id = -1;
    if (cJSON_IsObject(v)) v = cJSON_GetObjectItem(v, "content");
    if (!v || cJSON_IsNull(v)) return 0;
    if (!cJSON_IsString(v))
        return r1_seterr(ex->err, "%s: %s is neither a string nor {\"content\": ...}", ex->cfg_path,
                         key);
    if ((*id = r1_strmap_get(&ex->by_text, v->valuestring, strlen(v->valuestring))) < 0)
        return r1_seterr(ex->err, "%s: %s \"%.64s\" is not a token of %s", ex->cfg_path, key,
                         v->valuestring, ex->path);
    return 0;
}

/* TemplateProcessing, alone or inside a Sequence of post-processors. */
static const cJSON *find_template(const cJSON *p) {
    if (is_type(p, "TemplateProcessing")) return p;
    if (!is_type(p, "Sequence")) return NULL;
    const cJSON *e, *t;
    cJSON_ArrayForEach(e,
                       cJSON_GetObjectItem(p, "processors")) if ((t = find_template(e))) return t;
    return NULL;
}

/* The id of the template's special token at `part` (-1 when it is not one). */
static int template_id(const cJSON *tp, const cJSON *part) {
    const cJSON *st = cJSON_GetObjectItem(part, "SpecialToken");
    const cJSON *id = cJSON_GetObjectItem(st, "id");
    if (!cJSON_IsString(id)) return -1;
    const cJSON *e =
        cJSON_GetObjectItem(cJSON_GetObjectItem(tp, "special_tokens"), id->valuestring);
    const cJSON *ids = cJSON_GetObjectItem(e, "ids");
    return cJSON_GetArraySize(ids) == 1 && cJSON_IsNumber(cJSON_GetArrayItem(ids, 0))
               ? cJSON_GetArrayItem(ids, 0)->valueint
               : -1;
}

/* add_bos_token / add_eos_token: the config's, else what the post-processor adds. */
static int export_add(Export *ex) {
    const cJSON *tp = find_template(cJSON_GetObjectItem(ex->root, "post_processor"));
    const cJSON *single = cJSON_GetObjectItem(tp, "single");
    int n = cJSON_GetArraySize(single);
    int first = n ? template_id(tp, cJSON_GetArrayItem(single, 0)) : -1;
    int last = n > 1 ? template_id(tp, cJSON_GetArrayItem(single, n - 1)) : -1;
    const cJSON *ab = cJSON_GetObjectItem(ex->cfg, "add_bos_token");
    const cJSON *ae = cJSON_GetObjectItem(ex->cfg, "add_eos_token");
    ex->add_bos = cJSON_IsBool(ab) ? cJSON_IsTrue(ab) : first >= 0;
    ex->add_eos = cJSON_IsBool(ae) ? cJSON_IsTrue(ae) : last >= 0;
    /* put when known or when llama.cpp's default for the name would be otherwise */
    ex->has_add_bos = cJSON_IsBool(ab) || ex->add_bos || ex->pre->add_bos;
    ex->has_add_eos = cJSON_IsBool(ae) || ex->add_eos;
    if (ex->add_bos && ex->ids[0] < 0 && first >= 0 && first < ex->n) ex->ids[0] = first;
    if (ex->add_eos && ex->ids[1] < 0 && last >= 0 && last < ex->n) ex->ids[1] = last;
    if (ex->add_bos && ex->ids[0] < 0)
        return r1_seterr(ex->err, "%s: BOS is to be added but no bos_token is named", ex->path);
    if (ex->add_eos && ex->ids[1] < 0)
        return r1_seterr(ex->err, "%s: EOS is to be added but no eos_token is named", ex->path);
    return 0;
}

/* The keys import kept in "gguf_tokenizer": checked before anything is put. */
static int check_kept(Export *ex, const cJSON *keep) {
    const cJSON *e;
    cJSON_ArrayForEach(e, keep) {
        if (gguf_own_key(e->string) || strcmp(e->string, "pre") == 0) continue;
        size_t k = strlen(e->string);
        if (!cJSON_IsString(e) && !cJSON_IsBool(e) && !cJSON_IsNumber(e))
            return r1_seterr(ex->err, "%s: gguf_tokenizer.%s is not a string, bool or number",
                             ex->cfg_path, e->string);
        if (k > 9 && strcmp(e->string + k - 9, "_token_id") == 0 &&
            (!cJSON_IsNumber(e) || e->valuedouble < 0 || e->valuedouble >= ex->n ||
             e->valuedouble != (double)e->valueint))
            return r1_seterr(ex->err, "%s: gguf_tokenizer.%s is not a token id", ex->cfg_path,
                             e->string);
    }
    return 0;
}

static void put_kept(R1GgufWriter *w, const cJSON *keep) {
    const cJSON *e;
    char key[256];
    cJSON_ArrayForEach(e, keep) {
        if (gguf_own_key(e->string) || strcmp(e->string, "pre") == 0) continue;
        snprintf(key, sizeof key, PREFIX "%s", e->string);
        double d = e->valuedouble;
        /* integers as llama.cpp reads them (u32 ids and counts), other numbers as f32 */
        int u32 = d >= 0 && d <= 4294967295.0 && d == (double)(uint32_t)d;
        int i32 = !u32 && d >= -2147483648.0 && d < 0 && d == (double)(int32_t)d;
        if (cJSON_IsString(e))
            r1_gguf_put_str(w, key, e->valuestring);
        else if (cJSON_IsBool(e))
            r1_gguf_put_bool(w, key, cJSON_IsTrue(e));
        else if (u32)
            r1_gguf_put_u32(w, key, (uint32_t)d);
        else if (i32)
            r1_gguf_put_i32(w, key, (int32_t)d);
        else
            r1_gguf_put_f32(w, key, (float)d);
    }
}

/* chat_template: a string, or Hugging Face's list of {"name", "template"}. */
static int check_templates(Export *ex, const cJSON *tpl) {
    if (!tpl || cJSON_IsNull(tpl) || cJSON_IsString(tpl)) return 0;
    const cJSON *e;
    int ok = cJSON_IsArray(tpl);
    cJSON_ArrayForEach(e, tpl) {
        ok = ok && cJSON_IsString(cJSON_GetObjectItem(e, "name")) &&
             cJSON_IsString(cJSON_GetObjectItem(e, "template"));
    }
    return ok ? 0
              : r1_seterr(ex->err,
                          "%s: chat_template is neither a string nor a list of {\"name\", "
                          "\"template\"}",
                          ex->cfg_path);
}

static void put_templates(R1GgufWriter *w, const cJSON *tpl) {
    if (cJSON_IsString(tpl)) r1_gguf_put_str(w, "tokenizer.chat_template", tpl->valuestring);
    if (!cJSON_IsArray(tpl)) return;
    const cJSON *e;
    char key[256];
    cJSON_ArrayForEach(e, tpl) {
        const char *name = cJSON_GetObjectItem(e, "name")->valuestring;
        if (strcmp(name, "default") == 0)
            snprintf(key, sizeof key, "tokenizer.chat_template");
        else
            snprintf(key, sizeof key, "tokenizer.chat_template.%s", name);
        r1_gguf_put_str(w, key, cJSON_GetObjectItem(e, "template")->valuestring);
    }
}

int r1_gguf_tokenizer_put(R1GgufWriter *w, const char *dir, const char *pre, int min_tokens,
                          R1Err *err) {
    Export ex = {.path = r1_path_join(dir, "tokenizer.json"),
                 .cfg_path = r1_path_join(dir, "tokenizer_config.json"),
                 .err = err,
                 .min_n = min_tokens};
    r1_strmap_init(&ex.by_text);
    int rc = -1;
    if (!(ex.root = read_json(ex.path, err))) goto done;
    if (access(ex.cfg_path, F_OK) == 0 && !(ex.cfg = read_json(ex.cfg_path, err))) goto done;
    if (export_check(&ex) || export_tokens(&ex) || export_merges(&ex) || export_pre(&ex, pre))
        goto done;
    for (int i = 0; i < 4; i++)
        if (export_id(&ex, ID_CFG[i], &ex.ids[i])) goto done;
    const cJSON *keep = cJSON_GetObjectItem(ex.cfg, "gguf_tokenizer");
    const cJSON *tpl = cJSON_GetObjectItem(ex.cfg, "chat_template");
    if (export_add(&ex) || check_kept(&ex, keep) || check_templates(&ex, tpl)) goto done;

    r1_gguf_put_str(w, PREFIX "model", "gpt2");
    r1_gguf_put_str(w, PREFIX "pre", ex.pre->name);
    size_t *lens = r1_xmalloc(sizeof(size_t) * (size_t)(ex.n > ex.n_merges ? ex.n : ex.n_merges));
    int32_t *types = r1_xmalloc(sizeof(int32_t) * (size_t)ex.n);
    for (int i = 0; i < ex.n; i++) lens[i] = strlen(ex.tok[i]), types[i] = ex.type[i];
    r1_gguf_put_str_arr(w, PREFIX "tokens", (const char *const *)ex.tok, lens, (uint64_t)ex.n);
    r1_gguf_put_i32_arr(w, PREFIX "token_type", types, (uint64_t)ex.n);
    for (int i = 0; i < ex.n_merges; i++) lens[i] = strlen(ex.merges[i]);
    r1_gguf_put_str_arr(w, PREFIX "merges", (const char *const *)ex.merges, lens,
                        (uint64_t)ex.n_merges);
    free(lens);
    free(types);
    for (int i = 0; i < 4; i++)
        if (ex.ids[i] >= 0) r1_gguf_put_u32(w, ID_KEY[i], (uint32_t)ex.ids[i]);
    if (ex.has_add_bos) r1_gguf_put_bool(w, PREFIX "add_bos_token", ex.add_bos);
    if (ex.has_add_eos) r1_gguf_put_bool(w, PREFIX "add_eos_token", ex.add_eos);
    put_kept(w, keep);
    put_templates(w, tpl);
    rc = 0;
done:
    export_free(&ex);
    return rc;
}
