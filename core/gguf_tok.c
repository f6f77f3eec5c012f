/* gguf_tok.c - the tokenizer part of GGUF import/export; see gguf_tok.h. */
#include "gguf_tok.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tok_internal.h"

/* ---- llama.cpp's pre-tokenizers ---------------------------------------------------- */

/* GPT-2's split as Hugging Face's ByteLevel(use_regex) applies it; llama.cpp spells it
 * without the final "|\s+" (its custom splitter gives the same pieces). */
static const char GPT2_RE[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
static const char GPT2_LCPP[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";
static const char QWEN2_RE[] = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "
                               "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char QWEN2_LCPP[] =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|"
    "\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char QWEN35_RE[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?[\\p{L}\\p{M}]+|\\p{N}| "
    "?[^\\s\\p{L}\\p{M}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char QWEN35_LCPP[] =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?[\\p{L}\\p{M}]"
    "+"
    "|\\p{N}| ?[^\\s\\p{L}\\p{M}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char LLAMA3_RE[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char LLAMA3_LCPP[] =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|"
    "\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
/* DeepSeek-V3's, the same in both (the \r\n are the characters themselves). */
static const char DSV3_DIGITS[] = "\\p{N}{1,3}";
static const char DSV3_CJK[] = "[一-龥぀-ゟ゠-ヿ]+";
static const char DSV3_MAIN[] =
    "[!\"#$%&'()*+,\\-./"
    ":;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| "
    "?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+";

typedef struct {
    const char *hf, *lcpp; /* Hugging Face's spelling (written) and llama.cpp's */
} ReSpell;

typedef struct {
    int n;
    ReSpell re[3];
} PreSet;

enum { SET_GPT2, SET_SMOLLM, SET_QWEN2, SET_QWEN35, SET_LLAMA3, SET_DSV3 };

static const PreSet SETS[] = {
    [SET_GPT2] = {1, {{GPT2_RE, GPT2_LCPP}}},
    [SET_SMOLLM] = {2, {{"\\p{N}", "\\p{N}"}, {GPT2_RE, GPT2_LCPP}}},
    [SET_QWEN2] = {1, {{QWEN2_RE, QWEN2_LCPP}}},
    [SET_QWEN35] = {1, {{QWEN35_RE, QWEN35_LCPP}}},
    [SET_LLAMA3] = {1, {{LLAMA3_RE, LLAMA3_LCPP}}},
    [SET_DSV3] = {3, {{DSV3_DIGITS, DSV3_DIGITS}, {DSV3_CJK, DSV3_CJK}, {DSV3_MAIN, DSV3_MAIN}}},
};

/* The names, with what llama.cpp's llama_vocab::load sets for each besides the regexes.
 * The first name of a set (with the same ignore_merges) is the one detection gives. */
typedef struct {
    const char *name;
    int set, ignore_merges, add_bos, clean_spaces;
} PreName;

static const PreName NAMES[] = {
    {"gpt-2", SET_GPT2, 0, 0, 1},
    {"phi-2", SET_GPT2, 0, 0, 1},
    {"mpt", SET_GPT2, 0, 0, 1},
    {"olmo", SET_GPT2, 0, 0, 1},
    {"smollm", SET_SMOLLM, 0, 0, 0},
    {"starcoder", SET_SMOLLM, 0, 0, 1},
    {"refact", SET_SMOLLM, 0, 0, 1},
    {"command-r", SET_SMOLLM, 0, 0, 0},
    {"codeshell", SET_SMOLLM, 0, 0, 1},
    {"qwen2", SET_QWEN2, 0, 0, 0},
    {"deepseek-r1-qwen", SET_QWEN2, 0, 0, 0},
    {"stablelm2", SET_QWEN2, 0, 0, 1},
    {"megrez", SET_QWEN2, 0, 0, 1},
    {"qwen35", SET_QWEN35, 0, 0, 0},
    {"llama-bpe", SET_LLAMA3, 1, 1, 1},
    {"llama3", SET_LLAMA3, 1, 1, 1},
    {"llama-v3", SET_LLAMA3, 1, 1, 1},
    {"falcon3", SET_LLAMA3, 1, 1, 1},
    {"dbrx", SET_LLAMA3, 0, 0, 1},
    {"smaug-bpe", SET_LLAMA3, 0, 0, 1},
    {"deepseek-v3", SET_DSV3, 0, 0, 0},
};
#define N_NAMES ((int)(sizeof NAMES / sizeof NAMES[0]))

static const PreName *pre_by_name(const char *name) {
    for (int i = 0; i < N_NAMES; i++)
        if (strcmp(NAMES[i].name, name) == 0) return &NAMES[i];
    return NULL;
}

static void known_names(char *buf, size_t cap) {
    size_t k = 0;
    buf[0] = 0;
    for (int i = 0; i < N_NAMES && k < cap; i++)
        k += (size_t)snprintf(buf + k, cap - k, "%s%s", i ? ", " : "", NAMES[i].name);
}

/* Whether the regex list re[0..n) is the set's, each in either spelling. */
static int set_matches(int set, const char **re, int n) {
    if (SETS[set].n != n) return 0;
    for (int i = 0; i < n; i++)
        if (strcmp(re[i], SETS[set].re[i].hf) != 0 && strcmp(re[i], SETS[set].re[i].lcpp) != 0)
            return 0;
    return 1;
}

/* The scalar tokenizer.ggml.* keys that have a place of their own in the two files; the
 * others go to tokenizer_config.json's "gguf_tokenizer". */
static const char *const OWN_KEYS[] = {
    "model",        "tokens",           "token_type",       "merges",        "bos_token_id",
    "eos_token_id", "unknown_token_id", "padding_token_id", "add_bos_token", "add_eos_token"};

static int own_key(const char *suffix) {
    for (size_t i = 0; i < sizeof OWN_KEYS / sizeof OWN_KEYS[0]; i++)
        if (strcmp(OWN_KEYS[i], suffix) == 0) return 1;
    return 0;
}

#define PREFIX "tokenizer.ggml."

/* ---- small helpers ----------------------------------------------------------------- */

static int valid_utf8(const char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        int len = r1_utf8_len((const unsigned char *)s + i, n - i);
        if (len == 0) return 0;
        i += (size_t)len;
    }
    return 1;
}

static cJSON *split_json(const char *re) {
    cJSON *s = cJSON_CreateObject();
    cJSON_AddStringToObject(s, "type", "Split");
    cJSON_AddStringToObject(cJSON_AddObjectToObject(s, "pattern"), "Regex", re);
    cJSON_AddStringToObject(s, "behavior", "Isolated");
    cJSON_AddFalseToObject(s, "invert");
    return s;
}

static cJSON *bytelevel_json(void) {
    cJSON *b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "type", "ByteLevel");
    cJSON_AddFalseToObject(b, "add_prefix_space");
    cJSON_AddFalseToObject(b, "trim_offsets");
    cJSON_AddFalseToObject(b, "use_regex");
    return b;
}

static int write_json(cJSON *root, int pretty, const char *dir, const char *name, R1Err *err) {
    char *text = pretty ? cJSON_Print(root) : cJSON_PrintUnformatted(root);
    char *path = r1_path_join(dir, name);
    int rc = r1_write_file_atomic(path, text, strlen(text), err);
    free(text);
    free(path);
    return rc;
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
    known_names(known, sizeof known);
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
    if (!(im->pre = pre_by_name(name)))
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
    const PreSet *set = &SETS[im->pre->set];
    for (int i = 0; i < set->n; i++) cJSON_AddItemToArray(seq, split_json(set->re[i].hf));
    cJSON_AddItemToArray(seq, bytelevel_json());
    cJSON_AddItemToObject(root, "post_processor", post_processor_json(im));
    cJSON_AddItemToObject(root, "decoder", bytelevel_json());
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
        if (own_key(k)) continue;
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
    if (r1_mkdirs(dir, err) || write_json(tj, 0, dir, "tokenizer.json", err) ||
        write_json(cfg, 1, dir, "tokenizer_config.json", err))
        goto done;
    rc = 0;
done:
    cJSON_Delete(tj);
    cJSON_Delete(cfg);
    import_free(&im);
    return rc;
}

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
            if (!ur || cJSON_IsTrue(ur)) re[(*n)++] = GPT2_RE;
        } else {
            return -1;
        }
    }
    return 0;
}

static int export_pre(Export *ex, const char *pre) {
    char known[512];
    known_names(known, sizeof known);
    if (pre) {
        if (!(ex->pre = pre_by_name(pre)))
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
        const PreName *k = cJSON_IsString(kept) ? pre_by_name(kept->valuestring) : NULL;
        if (k && set_matches(k->set, re, n) && k->ignore_merges == ignore) return ex->pre = k, 0;
        for (int i = 0; i < N_NAMES; i++) {
            if (!set_matches(NAMES[i].set, re, n)) continue;
            if (NAMES[i].ignore_merges == ignore) return ex->pre = &NAMES[i], 0;
            set_only = i;
        }
    }
    if (set_only >= 0)
        return r1_seterr(ex->err,
                         "%s: the pre-tokenizer is llama.cpp's \"%s\" but model.ignore_merges is "
                         "%s, which no pre-tokenizer name r1c knows has; pass --pre NAME to "
                         "choose one",
                         ex->path, NAMES[set_only].name, ignore ? "true" : "false");
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
        if (own_key(e->string) || strcmp(e->string, "pre") == 0) continue;
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
        if (own_key(e->string) || strcmp(e->string, "pre") == 0) continue;
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
