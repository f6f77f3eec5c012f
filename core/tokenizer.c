/* tokenizer.c - loading tokenizer.json, decoding, streaming. Encoding is in
 * tok_encode.c. See tokenizer.h for the contract. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tok_internal.h"
#include "tok_unicode.h"

/* ---- UTF-8 and the byte-level alphabet ------------------------------------- */

void r1_bytelevel_table(int byte_to_cp[256]) {
    /* Printable bytes stand for themselves; the others are moved to 256.. in order. */
    int next = 256;
    for (int b = 0; b < 256; b++) {
        int printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
        byte_to_cp[b] = printable ? b : next++;
    }
}

int r1_utf8_put(char *buf, unsigned cp) {
    unsigned char *s = (unsigned char *)buf;
    if (cp < 0x80) return s[0] = (unsigned char)cp, 1;
    if (cp < 0x800) {
        s[0] = (unsigned char)(0xC0 | cp >> 6), s[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        s[0] = (unsigned char)(0xE0 | cp >> 12), s[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        s[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    s[0] = (unsigned char)(0xF0 | cp >> 18), s[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    s[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F)), s[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

int r1_utf8_len(const unsigned char *s, size_t n) {
    if (n == 0) return 0;
    if (s[0] < 0x80) return 1;
    int len = s[0] >= 0xF0 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC2 ? 2 : 0;
    if (len == 0 || s[0] > 0xF4 || (size_t)len > n) return 0;
    for (int i = 1; i < len; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    /* overlong 3/4-byte forms, surrogates, and code points past U+10FFFF */
    if (len == 3 && s[0] == 0xE0 && s[1] < 0xA0) return 0;
    if (len == 3 && s[0] == 0xED && s[1] >= 0xA0) return 0;
    if (len == 4 && s[0] == 0xF0 && s[1] < 0x90) return 0;
    if (len == 4 && s[0] == 0xF4 && s[1] >= 0x90) return 0;
    return len;
}

/* The raw bytes a byte-level vocabulary string stands for; code points outside
 * the byte-level alphabet (literal special tokens) keep their UTF-8 bytes. */
static char *bytelevel_decode(const char *s, const int cp_to_byte[512], size_t *out_len) {
    size_t n = strlen(s), k = 0;
    char *out = r1_xmalloc(n + 1);
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        int len = r1_utf8_len(u + i, n - i);
        if (len == 0) len = 1;
        unsigned cp = u[i];
        if (len == 2) cp = (u[i] & 0x1Fu) << 6 | (u[i + 1] & 0x3Fu);
        if (len >= 2 && cp < 512 && cp_to_byte[cp] >= 0) {
            out[k++] = (char)cp_to_byte[cp];
        } else if (len == 1 && cp_to_byte[cp] >= 0) {
            out[k++] = (char)cp_to_byte[cp];
        } else {
            memcpy(out + k, s + i, (size_t)len);
            k += (size_t)len;
        }
        i += (size_t)len;
    }
    out[k] = 0;
    *out_len = k;
    return out;
}

/* ---- loading: helpers ------------------------------------------------------ */

typedef struct {
    R1Tokenizer *t;
    R1Err *err;
    int cp_to_byte[512];
    R1UniPatch uni; /* built with the first regex */
    int have_uni;
} Loader;

static int bad(Loader *L, const char *where, const char *what) {
    return r1_seterr(L->err, "%s: %s: %s", L->t->path, where, what);
}

static int flag(const cJSON *o, const char *key) {
    return cJSON_IsTrue(cJSON_GetObjectItem(o, key));
}

static void set_piece(R1Tokenizer *t, int id, const char *bytes, size_t len) {
    free(t->piece[id]);
    t->piece[id] = r1_xmalloc(len + 1);
    memcpy(t->piece[id], bytes, len);
    t->piece[id][len] = 0;
    t->piece_len[id] = len;
}

/* Largest id in the vocabulary and the added tokens, so tables can be sized first. */
static int max_id(const cJSON *vocab, const cJSON *added) {
    int m = -1;
    const cJSON *e;
    cJSON_ArrayForEach(e, vocab) if (cJSON_IsNumber(e) && e->valueint > m) m = e->valueint;
    cJSON_ArrayForEach(e, added) {
        const cJSON *id = cJSON_GetObjectItem(e, "id");
        if (cJSON_IsNumber(id) && id->valueint > m) m = id->valueint;
    }
    return m;
}

/* ---- loading: the BPE model ------------------------------------------------ */

static int load_vocab(Loader *L, const cJSON *vocab) {
    R1Tokenizer *t = L->t;
    const cJSON *e;
    cJSON_ArrayForEach(e, vocab) {
        if (!cJSON_IsNumber(e) || e->valueint < 0 || e->valueint >= t->n_ids)
            return bad(L, "model.vocab", "every entry must map to a non-negative integer id");
        size_t len;
        char *raw = bytelevel_decode(e->string, L->cp_to_byte, &len);
        set_piece(t, e->valueint, raw, len);
        r1_strmap_put(&t->by_bytes, raw, len, e->valueint);
        free(raw);
    }
    for (int b = 0; b < 256; b++) {
        char c = (char)b;
        /* Some vocabularies lack bytes that text rarely or never has (SmolLM2: 0x04, 0xC0,
         * 0xF5..0xFF, ...); encoding drops them as Hugging Face does. Printable ASCII must be
         * there, or this is no byte-level vocabulary. */
        if ((t->byte_id[b] = r1_strmap_get(&t->by_bytes, &c, 1)) < 0 && !(b >= '!' && b <= '~')) {
            t->missing_bytes++;
        } else if (t->byte_id[b] < 0) {
            char msg[96];
            snprintf(msg, sizeof msg, "no token for byte 0x%02x: not a byte-level BPE vocabulary",
                     b);
            return bad(L, "model.vocab", msg);
        }
    }
    return 0;
}

/* A merge as "left right" or ["left", "right"]; returns 0 and the two strings. */
static int merge_parts(const cJSON *m, char *buf, size_t cap, const char **a, const char **b) {
    if (cJSON_IsArray(m) && cJSON_GetArraySize(m) == 2) {
        *a = cJSON_GetArrayItem(m, 0)->valuestring;
        *b = cJSON_GetArrayItem(m, 1)->valuestring;
        return *a && *b ? 0 : -1;
    }
    if (!cJSON_IsString(m) || strlen(m->valuestring) >= cap) return -1;
    strcpy(buf, m->valuestring);
    char *sp = strchr(buf, ' ');
    if (!sp || strchr(sp + 1, ' ')) return -1;
    *sp = 0;
    *a = buf, *b = sp + 1;
    return 0;
}

static int vocab_id(Loader *L, const char *s) {
    size_t len;
    char *raw = bytelevel_decode(s, L->cp_to_byte, &len);
    int id = r1_strmap_get(&L->t->by_bytes, raw, len);
    free(raw);
    return id;
}

static int load_merges(Loader *L, const cJSON *merges) {
    char buf[1024], where[64], joined[2048];
    int rank = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, merges) {
        const char *a, *b;
        snprintf(where, sizeof where, "model.merges[%d]", rank);
        if (merge_parts(m, buf, sizeof buf, &a, &b) != 0)
            return bad(L, where, "expected \"left right\" or [\"left\", \"right\"]");
        snprintf(joined, sizeof joined, "%s%s", a, b);
        int ia = vocab_id(L, a), ib = vocab_id(L, b), ij = vocab_id(L, joined);
        if (ia < 0 || ib < 0 || ij < 0)
            return bad(L, where, "a part or the result is not in the vocabulary");
        uint64_t key = (uint64_t)ia << 32 | (uint32_t)ib, old;
        if (!r1_u64map_get(&L->t->merges, key, &old)) /* the first (lowest) rank wins */
            r1_u64map_put(&L->t->merges, key, (uint64_t)rank << 32 | (uint32_t)ij);
        rank++;
    }
    return 0;
}

static int check_model_options(Loader *L, const cJSON *model) {
    const cJSON *type = cJSON_GetObjectItem(model, "type");
    if (type && (!cJSON_IsString(type) || strcmp(type->valuestring, "BPE") != 0))
        return bad(L, "model.type", "only BPE models are supported");
    if (flag(model, "byte_fallback"))
        return bad(L, "model.byte_fallback",
                   "byte-fallback (SentencePiece-style) BPE is not supported");
    const cJSON *d = cJSON_GetObjectItem(model, "dropout");
    if (cJSON_IsNumber(d) && d->valuedouble != 0.0)
        return bad(L, "model.dropout",
                   "BPE dropout is not supported (encoding must be deterministic)");
    const char *affixes[] = {"continuing_subword_prefix", "end_of_word_suffix"};
    for (int i = 0; i < 2; i++) {
        const cJSON *s = cJSON_GetObjectItem(model, affixes[i]);
        if (cJSON_IsString(s) && s->valuestring[0])
            return bad(L, affixes[i], "subword prefixes/suffixes are not supported");
    }
    L->t->ignore_merges = flag(model, "ignore_merges");
    return 0;
}

/* ---- loading: added tokens ------------------------------------------------- */

/* Buckets by first byte, longest first, so the first match is the longest. */
static void index_added(R1Tokenizer *t) {
    for (int b = 0; b < 256; b++) {
        int n = 0;
        for (int i = 0; i < t->n_added; i++) n += (unsigned char)t->added[i].content[0] == b;
        if (n == 0) continue;
        t->added_first[b] = r1_xmalloc(sizeof(int) * (size_t)(n + 1));
        n = 0;
        for (int i = 0; i < t->n_added; i++)
            if ((unsigned char)t->added[i].content[0] == b) t->added_first[b][n++] = i;
        int *v = t->added_first[b];
        for (int i = 1; i < n; i++) /* insertion sort by length, longest first: lists are short */
            for (int j = i; j > 0 && t->added[v[j]].len > t->added[v[j - 1]].len; j--) {
                int tmp = v[j];
                v[j] = v[j - 1], v[j - 1] = tmp;
            }
        v[n] = -1;
    }
}

static int load_added(Loader *L, const cJSON *added) {
    R1Tokenizer *t = L->t;
    t->added = r1_xcalloc((size_t)cJSON_GetArraySize(added) + 1, sizeof(TokAdded));
    const cJSON *e;
    int i = 0;
    cJSON_ArrayForEach(e, added) {
        const cJSON *id = cJSON_GetObjectItem(e, "id"), *c = cJSON_GetObjectItem(e, "content");
        char where[64];
        snprintf(where, sizeof where, "added_tokens[%d]", i++);
        if (!cJSON_IsNumber(id) || id->valueint < 0 || !cJSON_IsString(c) || !c->valuestring[0])
            return bad(L, where, "needs a non-negative \"id\" and a non-empty \"content\"");
        TokAdded *a = &t->added[t->n_added++];
        *a = (TokAdded){.content = r1_xstrdup(c->valuestring),
                        .len = strlen(c->valuestring),
                        .id = id->valueint,
                        .special = flag(e, "special"),
                        .normalized = flag(e, "normalized"),
                        .lstrip = flag(e, "lstrip"),
                        .rstrip = flag(e, "rstrip"),
                        .single_word = flag(e, "single_word")};
        set_piece(t, a->id, a->content, a->len);
        t->special[a->id] = (unsigned char)a->special;
        r1_strmap_put(&t->by_content, a->content, a->len, a->id);
    }
    index_added(t);
    return 0;
}

/* ---- loading: normalizer, pre-tokenizer, decoder --------------------------- */

static int load_normalizer(Loader *L, const cJSON *n, const char *where) {
    if (!n || cJSON_IsNull(n)) return 0;
    const cJSON *type = cJSON_GetObjectItem(n, "type");
    const char *ty = cJSON_IsString(type) ? type->valuestring : "";
    if (strcmp(ty, "NFC") == 0) return L->t->nfc = 1, 0;
    if (strcmp(ty, "Sequence") != 0) {
        char msg[128];
        snprintf(msg, sizeof msg, "normalizer \"%s\" is not supported (only NFC)", ty);
        return bad(L, where, msg);
    }
    const cJSON *e;
    int i = 0;
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(n, "normalizers")) {
        char sub[96];
        snprintf(sub, sizeof sub, "%s.normalizers[%d]", where, i++);
        if (load_normalizer(L, e, sub) != 0) return -1;
    }
    return 0;
}

static TokPre *new_step(R1Tokenizer *t, TokPreKind kind) {
    t->pre = r1_xrealloc(t->pre, sizeof(TokPre) * (size_t)(t->n_pre + 1));
    TokPre *p = &t->pre[t->n_pre++];
    memset(p, 0, sizeof *p);
    p->kind = kind;
    return p;
}

static int add_regex_step(Loader *L, const char *pattern, size_t len, const char *where,
                          int removed, int invert) {
    int code;
    PCRE2_SIZE off;
    size_t plen;
    if (!L->have_uni) r1_unipatch_init(&L->uni), L->have_uni = 1;
    char *patched = r1_unipatch_apply(&L->uni, pattern, len, &plen);
    pcre2_code *re =
        pcre2_compile((PCRE2_SPTR)patched, plen, PCRE2_UTF | PCRE2_UCP, &code, &off, NULL);
    free(patched);
    if (!re) {
        PCRE2_UCHAR msg[256];
        char full[400];
        pcre2_get_error_message(code, msg, sizeof msg);
        snprintf(full, sizeof full, "regex does not compile at offset %zu: %s", (size_t)off, msg);
        return bad(L, where, full);
    }
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* falls back to the interpreter if JIT is absent */
    TokPre *p = new_step(L->t, PT_SPLIT);
    p->re = re, p->removed = removed, p->invert = invert;
    return 0;
}

static int load_split(Loader *L, const cJSON *s, const char *where) {
    const cJSON *pat = cJSON_GetObjectItem(s, "pattern");
    const cJSON *re = cJSON_GetObjectItem(pat, "Regex"), *str = cJSON_GetObjectItem(pat, "String");
    const cJSON *beh = cJSON_GetObjectItem(s, "behavior");
    const char *b = cJSON_IsString(beh) ? beh->valuestring : "";
    int removed = strcmp(b, "Removed") == 0;
    if (!removed && strcmp(b, "Isolated") != 0)
        return bad(L, where, "Split behavior must be Isolated or Removed");
    if (cJSON_IsString(re))
        return add_regex_step(L, re->valuestring, strlen(re->valuestring), where, removed,
                              flag(s, "invert"));
    if (!cJSON_IsString(str) || !str->valuestring[0])
        return bad(L, where, "Split needs pattern.Regex or a non-empty pattern.String");
    TokPre *p = new_step(L->t, PT_SPLIT);
    p->literal = r1_xstrdup(str->valuestring);
    p->literal_len = strlen(str->valuestring);
    p->removed = removed, p->invert = flag(s, "invert");
    return 0;
}

/* GPT-2's split, which ByteLevel applies itself when use_regex is set. */
static const char GPT2_RE[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

static int load_pretok(Loader *L, const cJSON *p, const char *where) {
    if (!p || cJSON_IsNull(p)) return 0;
    const cJSON *type = cJSON_GetObjectItem(p, "type");
    const char *ty = cJSON_IsString(type) ? type->valuestring : "";
    if (strcmp(ty, "Sequence") == 0) {
        const cJSON *e;
        int i = 0;
        cJSON_ArrayForEach(e, cJSON_GetObjectItem(p, "pretokenizers")) {
            char sub[128];
            snprintf(sub, sizeof sub, "%s.pretokenizers[%d]", where, i++);
            if (load_pretok(L, e, sub) != 0) return -1;
        }
        return 0;
    }
    if (strcmp(ty, "Split") == 0) return load_split(L, p, where);
    if (strcmp(ty, "Digits") == 0) {
        const char *re = flag(p, "individual_digits") ? "\\p{N}" : "\\p{N}+";
        return add_regex_step(L, re, strlen(re), where, 0, 0);
    }
    if (strcmp(ty, "ByteLevel") == 0) {
        /* Hugging Face prepends the space to every piece that exists when ByteLevel
         * runs; we support it where that is the whole text, as ByteLevel first. */
        if (flag(p, "add_prefix_space") && L->t->n_pre > 0)
            return bad(L, where, "add_prefix_space is supported only when ByteLevel comes first");
        new_step(L->t, PT_BYTELEVEL)->add_prefix_space = flag(p, "add_prefix_space");
        const cJSON *ur = cJSON_GetObjectItem(p, "use_regex");
        if (!ur || cJSON_IsTrue(ur))
            return add_regex_step(L, GPT2_RE, strlen(GPT2_RE), where, 0, 0);
        return 0;
    }
    char msg[128];
    snprintf(msg, sizeof msg, "pre-tokenizer \"%s\" is not supported", ty);
    return bad(L, where, msg);
}

static int check_decoder(Loader *L, const cJSON *d, const char *where) {
    if (!d || cJSON_IsNull(d)) return 0;
    const cJSON *type = cJSON_GetObjectItem(d, "type");
    const char *ty = cJSON_IsString(type) ? type->valuestring : "";
    if (strcmp(ty, "ByteLevel") == 0) return 0;
    if (strcmp(ty, "Sequence") == 0) {
        const cJSON *e;
        cJSON_ArrayForEach(
            e, cJSON_GetObjectItem(d, "decoders")) if (check_decoder(L, e, where)) return -1;
        return 0;
    }
    char msg[128];
    snprintf(msg, sizeof msg, "decoder \"%s\" is not supported (only ByteLevel)", ty);
    return bad(L, where, msg);
}

/* bos_token / eos_token of tokenizer_config.json: a string or {"content": ...}. */
static int config_token(const R1Tokenizer *t, const cJSON *cfg, const char *key) {
    const cJSON *v = cJSON_GetObjectItem(cfg, key);
    if (cJSON_IsObject(v)) v = cJSON_GetObjectItem(v, "content");
    return cJSON_IsString(v) ? r1_tok_find(t, v->valuestring) : -1;
}

static void load_config(R1Tokenizer *t, const char *dir) {
    char *path = r1_path_join(dir, "tokenizer_config.json");
    char *text = r1_read_file(path, NULL, NULL);
    cJSON *cfg = text ? cJSON_Parse(text) : NULL;
    t->bos = config_token(t, cfg, "bos_token");
    t->eos = config_token(t, cfg, "eos_token");
    const cJSON *tpl = cJSON_GetObjectItem(cfg, "chat_template");
    if (cJSON_IsString(tpl)) t->chat_template = r1_xstrdup(tpl->valuestring);
    cJSON_Delete(cfg);
    free(text);
    free(path);
}

/* ---- loading: the whole file ----------------------------------------------- */

static int load_json(Loader *L, const cJSON *root) {
    R1Tokenizer *t = L->t;
    const cJSON *model = cJSON_GetObjectItem(root, "model");
    const cJSON *vocab = cJSON_GetObjectItem(model, "vocab"),
                *merges = cJSON_GetObjectItem(model, "merges");
    const cJSON *added = cJSON_GetObjectItem(root, "added_tokens");
    if (!cJSON_IsObject(vocab) || !cJSON_IsArray(merges))
        return bad(L, "model", "needs a \"vocab\" object and a \"merges\" array");
    if (check_model_options(L, model) != 0) return -1;
    t->n_ids = max_id(vocab, added) + 1;
    t->piece = r1_xcalloc((size_t)t->n_ids, sizeof(char *));
    t->piece_len = r1_xcalloc((size_t)t->n_ids, sizeof(size_t));
    t->special = r1_xcalloc((size_t)t->n_ids, 1);
    if (load_vocab(L, vocab) || load_merges(L, merges)) return -1;
    const cJSON *unk = cJSON_GetObjectItem(model, "unk_token");
    if (t->missing_bytes && cJSON_IsString(unk))
        return bad(L, "model.unk_token",
                   "an unknown-token with bytes missing from the vocabulary is not supported");
    if (added && load_added(L, added)) return -1;
    if (load_normalizer(L, cJSON_GetObjectItem(root, "normalizer"), "normalizer")) return -1;
    if (load_pretok(L, cJSON_GetObjectItem(root, "pre_tokenizer"), "pre_tokenizer")) return -1;
    return check_decoder(L, cJSON_GetObjectItem(root, "decoder"), "decoder");
}

R1Tokenizer *r1_tok_load(const char *dir, R1Err *err) {
    R1Tokenizer *t = r1_xcalloc(1, sizeof *t);
    t->path = r1_path_join(dir, "tokenizer.json");
    r1_strmap_init(&t->by_bytes);
    r1_strmap_init(&t->by_content);
    r1_u64map_init(&t->merges);
    r1_strmap_init(&t->cache.index);
    size_t len;
    char *text = r1_read_file(t->path, &len, err);
    cJSON *root = text ? cJSON_ParseWithLength(text, len) : NULL;
    Loader L = {.t = t, .err = err};
    int byte_to_cp[256], rc = -1;
    r1_bytelevel_table(byte_to_cp);
    for (int i = 0; i < 512; i++) L.cp_to_byte[i] = -1;
    for (int b = 0; b < 256; b++) L.cp_to_byte[byte_to_cp[b]] = b;
    if (text && !root)
        r1_seterr(err, "%s: not valid JSON (near byte %zu)", t->path,
                  (size_t)(cJSON_GetErrorPtr() - text));
    else if (root)
        rc = load_json(&L, root);
    cJSON_Delete(root);
    free(text);
    if (L.have_uni) r1_unipatch_free(&L.uni);
    if (rc != 0) {
        r1_tok_free(t);
        return NULL;
    }
    t->md = pcre2_match_data_create(4, NULL);
    load_config(t, dir);
    return t;
}

void r1_tok_free(R1Tokenizer *t) {
    if (!t) return;
    for (int i = 0; i < t->n_ids; i++) free(t->piece[i]);
    for (int i = 0; i < t->n_added; i++) free(t->added[i].content);
    for (int b = 0; b < 256; b++) free(t->added_first[b]);
    for (int i = 0; i < t->n_pre; i++) {
        pcre2_code_free(t->pre[i].re);
        free(t->pre[i].literal);
    }
    pcre2_match_data_free(t->md);
    free(t->chat_template);
    r1_strmap_free(&t->by_bytes);
    r1_strmap_free(&t->by_content);
    r1_u64map_free(&t->merges);
    r1_strmap_free(&t->cache.index);
    free(t->cache.ids);
    free(t->piece);
    free(t->piece_len);
    free(t->special);
    free(t->added);
    free(t->pre);
    free(t->path);
    free(t);
}

/* ---- lookups and decoding -------------------------------------------------- */

int r1_tok_vocab_size(const R1Tokenizer *t) {
    return t->n_ids;
}
int r1_tok_bos(const R1Tokenizer *t) {
    return t->bos;
}
int r1_tok_eos(const R1Tokenizer *t) {
    return t->eos;
}
const char *r1_tok_chat_template(const R1Tokenizer *t) {
    return t->chat_template;
}
int r1_tok_is_special(const R1Tokenizer *t, int id) {
    return id >= 0 && id < t->n_ids && t->special[id];
}

int r1_tok_find(const R1Tokenizer *t, const char *content) {
    size_t n = strlen(content);
    int id = r1_strmap_get(&t->by_content, content, n);
    return id >= 0 ? id : r1_strmap_get(&t->by_bytes, content, n);
}

const char *r1_tok_piece(const R1Tokenizer *t, int id, size_t *len) {
    if (id < 0 || id >= t->n_ids || !t->piece[id]) return NULL;
    *len = t->piece_len[id];
    return t->piece[id];
}

static void append(char **out, size_t *len, size_t *cap, const char *s, size_t n) {
    if (*len + n + 1 > *cap) {
        *cap = (*len + n + 1) * 2;
        *out = r1_xrealloc(*out, *cap);
    }
    memcpy(*out + *len, s, n);
    *len += n;
    (*out)[*len] = 0;
}

char *r1_tok_decode(const R1Tokenizer *t, const int *ids, int n, int skip_special, size_t *len,
                    R1Err *err) {
    size_t cap = 64, k = 0;
    char *out = r1_xmalloc(cap);
    out[0] = 0;
    for (int i = 0; i < n; i++) {
        size_t pl;
        const char *p = r1_tok_piece(t, ids[i], &pl);
        if (!p) {
            free(out);
            r1_seterr(err, "token %d: id %d is not in the vocabulary of %s", i, ids[i], t->path);
            return NULL;
        }
        if (!(skip_special && t->special[ids[i]])) append(&out, &k, &cap, p, pl);
    }
    if (len) *len = k;
    return out;
}

/* ---- streaming decode ------------------------------------------------------ */

void r1_tok_stream_init(R1TokStream *s) {
    s->n_pending = 0;
}

/* How many bytes at the end of buf[0..n) start a character that is not complete yet. */
static int incomplete_tail(const unsigned char *buf, size_t n) {
    for (int back = 1; back <= 3 && (size_t)back <= n; back++) {
        unsigned char c = buf[n - (size_t)back];
        if ((c & 0xC0) == 0x80) continue; /* continuation byte: look further back */
        int need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
        return need > back ? back : 0;
    }
    return 0;
}

int r1_tok_stream_push(const R1Tokenizer *t, R1TokStream *s, int id, char **out, size_t *len,
                       size_t *cap, R1Err *err) {
    size_t pl;
    const char *p = r1_tok_piece(t, id, &pl);
    if (!p) return r1_seterr(err, "id %d is not in the vocabulary of %s", id, t->path);
    char buf[64];
    char *joined = pl + (size_t)s->n_pending <= sizeof buf ? buf : r1_xmalloc(pl + 8);
    memcpy(joined, s->pending, (size_t)s->n_pending);
    memcpy(joined + s->n_pending, p, pl);
    size_t n = pl + (size_t)s->n_pending;
    int tail = incomplete_tail((const unsigned char *)joined, n);
    append(out, len, cap, joined, n - (size_t)tail);
    memcpy(s->pending, joined + n - (size_t)tail, (size_t)tail);
    s->n_pending = tail;
    if (joined != buf) free(joined);
    return 0;
}

void r1_tok_stream_finish(R1TokStream *s, char **out, size_t *len, size_t *cap) {
    append(out, len, cap, s->pending, (size_t)s->n_pending);
    s->n_pending = 0;
}
