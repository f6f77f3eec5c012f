/* tok_train.c - see tok_train.h. A plain, exact trainer: every round recounts
 * all pairs, which is fine for the small vocabularies it is meant for. */
#include "tok_train.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "tok_internal.h"

/* The pre-tokenizer pattern of Qwen2 (and of the trained tokenizer.json). */
static const char QWEN_RE[] = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "
                              "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

typedef struct {
    int **sym; /* each distinct word as a symbol list */
    int *n_sym;
    long *count;
    int n, cap;
} Words;

static void count_words(pcre2_code *re, const char *text, size_t len, Words *w) {
    R1StrMap index;
    r1_strmap_init(&index);
    pcre2_match_data *md = pcre2_match_data_create(4, NULL);
    for (size_t at = 0; at < len;) {
        if (pcre2_match(re, (PCRE2_SPTR)text, len, at, 0, md, NULL) < 0) break;
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        if (ov[1] <= ov[0]) {
            at = ov[0] + 1;
            continue;
        }
        int k = r1_strmap_get(&index, text + ov[0], ov[1] - ov[0]);
        if (k < 0) {
            if (w->n == w->cap) {
                w->cap = w->cap * 2 + 1024;
                w->sym = r1_xrealloc(w->sym, sizeof(int *) * (size_t)w->cap);
                w->n_sym = r1_xrealloc(w->n_sym, sizeof(int) * (size_t)w->cap);
                w->count = r1_xrealloc(w->count, sizeof(long) * (size_t)w->cap);
            }
            k = w->n++;
            r1_strmap_put(&index, text + ov[0], ov[1] - ov[0], k);
            w->n_sym[k] = (int)(ov[1] - ov[0]);
            w->sym[k] = r1_xmalloc(sizeof(int) * (size_t)w->n_sym[k]);
            for (int i = 0; i < w->n_sym[k]; i++)
                w->sym[k][i] = (unsigned char)text[ov[0] + (size_t)i];
            w->count[k] = 0;
        }
        w->count[k]++;
        at = ov[1];
    }
    pcre2_match_data_free(md);
    r1_strmap_free(&index);
}

/* The most frequent pair (at least 2 occurrences), smallest key on ties; 0 if none. */
static int best_pair(const Words *w, uint64_t *pair) {
    R1U64Map counts;
    r1_u64map_init(&counts);
    uint64_t best = 0, best_n = 1, v;
    for (int k = 0; k < w->n; k++)
        for (int i = 0; i + 1 < w->n_sym[k]; i++) {
            uint64_t key = (uint64_t)w->sym[k][i] << 32 | (uint32_t)w->sym[k][i + 1];
            uint64_t c = (r1_u64map_get(&counts, key, &v) ? v : 0) + (uint64_t)w->count[k];
            r1_u64map_put(&counts, key, c);
            if (c > best_n || (c == best_n && best_n > 1 && key < best)) best = key, best_n = c;
        }
    r1_u64map_free(&counts);
    *pair = best;
    return best_n > 1;
}

static void apply_merge(Words *w, int a, int b, int id) {
    for (int k = 0; k < w->n; k++) {
        int o = 0, *s = w->sym[k];
        for (int i = 0; i < w->n_sym[k]; i++)
            if (i + 1 < w->n_sym[k] && s[i] == a && s[i + 1] == b)
                s[o++] = id, i++;
            else
                s[o++] = s[i];
        w->n_sym[k] = o;
    }
}

/* The byte-level spelling of raw bytes, as vocabulary keys are written. */
static char *bytelevel(const char *p, size_t n) {
    int map[256];
    r1_bytelevel_table(map);
    char *out = r1_xmalloc(2 * n + 1);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += (size_t)r1_utf8_put(out + k, (unsigned)map[(unsigned char)p[i]]);
    out[k] = 0;
    return out;
}

cJSON *r1_tokjson_split(const char *re) {
    cJSON *s = cJSON_CreateObject();
    cJSON_AddStringToObject(s, "type", "Split");
    cJSON_AddStringToObject(cJSON_AddObjectToObject(s, "pattern"), "Regex", re);
    cJSON_AddStringToObject(s, "behavior", "Isolated");
    cJSON_AddFalseToObject(s, "invert");
    return s;
}

cJSON *r1_tokjson_bytelevel(void) {
    cJSON *b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "type", "ByteLevel");
    cJSON_AddFalseToObject(b, "add_prefix_space");
    cJSON_AddFalseToObject(b, "trim_offsets");
    cJSON_AddFalseToObject(b, "use_regex");
    return b;
}

static cJSON *added_json(const R1AddedSpec *added, int n_added, int first_id) {
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; i < n_added; i++) {
        cJSON *a = cJSON_CreateObject();
        cJSON_AddNumberToObject(a, "id", first_id + i);
        cJSON_AddStringToObject(a, "content", added[i].content);
        cJSON_AddFalseToObject(a, "single_word");
        cJSON_AddFalseToObject(a, "lstrip");
        cJSON_AddFalseToObject(a, "rstrip");
        cJSON_AddFalseToObject(a, "normalized");
        cJSON_AddBoolToObject(a, "special", added[i].special);
        cJSON_AddItemToArray(arr, a);
    }
    return arr;
}

/* vocab and merges from the raw bytes of each id and the merged pairs. */
static cJSON *model_json(char **raw, size_t *raw_len, int n_ids, const int (*pairs)[2],
                         int n_merges) {
    cJSON *m = cJSON_CreateObject(), *vocab, *merges;
    cJSON_AddStringToObject(m, "type", "BPE");
    cJSON_AddNullToObject(m, "dropout");
    cJSON_AddNullToObject(m, "unk_token");
    cJSON_AddFalseToObject(m, "fuse_unk");
    cJSON_AddFalseToObject(m, "byte_fallback");
    cJSON_AddFalseToObject(m, "ignore_merges");
    vocab = cJSON_AddObjectToObject(m, "vocab");
    merges = cJSON_AddArrayToObject(m, "merges");
    for (int i = 0; i < n_ids; i++) {
        char *s = bytelevel(raw[i], raw_len[i]);
        cJSON_AddNumberToObject(vocab, s, i);
        free(s);
    }
    for (int k = 0; k < n_merges; k++) {
        cJSON *p = cJSON_CreateArray();
        for (int j = 0; j < 2; j++) {
            char *s = bytelevel(raw[pairs[k][j]], raw_len[pairs[k][j]]);
            cJSON_AddItemToArray(p, cJSON_CreateString(s));
            free(s);
        }
        cJSON_AddItemToArray(merges, p);
    }
    return m;
}

int r1_tokjson_write(const cJSON *root, int pretty, const char *dir, const char *name, R1Err *err) {
    char *text = pretty ? cJSON_Print(root) : cJSON_PrintUnformatted(root);
    if (!text) return r1_seterr(err, "%s/%s: cannot render the JSON", dir, name);
    char *path = r1_path_join(dir, name);
    int rc = r1_write_file_atomic(path, text, strlen(text), err);
    free(text);
    free(path);
    return rc;
}

static int write_files(char **raw, size_t *raw_len, int n_ids, const int (*pairs)[2], int n_merges,
                       const R1AddedSpec *added, int n_added, const char *bos, const char *eos,
                       const char *dir, R1Err *err) {
    cJSON *root = cJSON_CreateObject(), *pre, *seq, *nf;
    cJSON_AddStringToObject(root, "version", "1.0");
    cJSON_AddItemToObject(root, "added_tokens", added_json(added, n_added, n_ids));
    nf = cJSON_AddObjectToObject(root, "normalizer");
    cJSON_AddStringToObject(nf, "type", "NFC");
    pre = cJSON_AddObjectToObject(root, "pre_tokenizer");
    cJSON_AddStringToObject(pre, "type", "Sequence");
    seq = cJSON_AddArrayToObject(pre, "pretokenizers");
    cJSON_AddItemToArray(seq, r1_tokjson_split(QWEN_RE));
    cJSON_AddItemToArray(seq, r1_tokjson_bytelevel());
    cJSON_AddNullToObject(root, "post_processor");
    cJSON_AddItemToObject(root, "decoder", r1_tokjson_bytelevel());
    cJSON_AddItemToObject(root, "model", model_json(raw, raw_len, n_ids, pairs, n_merges));
    int rc = r1_mkdirs(dir, err) || r1_tokjson_write(root, 1, dir, "tokenizer.json", err) ? -1 : 0;
    cJSON_Delete(root);
    if (rc) return -1;
    cJSON *cfg = cJSON_CreateObject();
    if (bos) cJSON_AddStringToObject(cfg, "bos_token", bos);
    if (eos) cJSON_AddStringToObject(cfg, "eos_token", eos);
    cJSON_AddStringToObject(cfg, "tokenizer_class", "PreTrainedTokenizerFast");
    cJSON_AddFalseToObject(cfg, "clean_up_tokenization_spaces");
    rc = r1_tokjson_write(cfg, 1, dir, "tokenizer_config.json", err);
    cJSON_Delete(cfg);
    return rc;
}

int r1_tok_train(const char *text, size_t len, int n_merges, const R1AddedSpec *added, int n_added,
                 const char *bos, const char *eos, const char *dir, R1Err *err) {
    int code;
    PCRE2_SIZE off;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)QWEN_RE, PCRE2_ZERO_TERMINATED,
                                   PCRE2_UTF | PCRE2_UCP, &code, &off, NULL);
    if (!re) return r1_seterr(err, "internal error: the split pattern does not compile");
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
    Words w = {0};
    count_words(re, text, len, &w);
    pcre2_code_free(re);
    int n_ids = 256, (*pairs)[2] = r1_xcalloc((size_t)n_merges + 1, sizeof *pairs), done = 0;
    char **raw = r1_xcalloc((size_t)(256 + n_merges), sizeof(char *));
    size_t *raw_len = r1_xcalloc((size_t)(256 + n_merges), sizeof(size_t));
    for (int b = 0; b < 256; b++) raw[b] = r1_xmalloc(1), raw[b][0] = (char)b, raw_len[b] = 1;
    R1StrMap known; /* raw bytes -> id: two merges may spell the same token */
    r1_strmap_init(&known);
    for (int b = 0; b < 256; b++) r1_strmap_put(&known, raw[b], 1, b);
    uint64_t pair;
    while (done < n_merges && best_pair(&w, &pair)) {
        int a = (int)(pair >> 32), b = (int)(uint32_t)pair;
        pairs[done][0] = a, pairs[done][1] = b;
        raw_len[n_ids] = raw_len[a] + raw_len[b];
        raw[n_ids] = r1_xmalloc(raw_len[n_ids]);
        memcpy(raw[n_ids], raw[a], raw_len[a]);
        memcpy(raw[n_ids] + raw_len[a], raw[b], raw_len[b]);
        int id = r1_strmap_get(&known, raw[n_ids], raw_len[n_ids]);
        if (id < 0) { /* a new token; else, as Hugging Face's trainer, reuse the id */
            r1_strmap_put(&known, raw[n_ids], raw_len[n_ids], n_ids);
            id = n_ids++;
        } else {
            free(raw[n_ids]);
            raw[n_ids] = NULL;
        }
        apply_merge(&w, a, b, id);
        done++;
    }
    r1_strmap_free(&known);
    int rc = write_files(raw, raw_len, n_ids, (const int(*)[2])pairs, done, added, n_added, bos,
                         eos, dir, err);
    for (int i = 0; i < n_ids; i++) free(raw[i]);
    for (int k = 0; k < w.n; k++) free(w.sym[k]);
    free(raw), free(raw_len), free(pairs), free(w.sym), free(w.n_sym), free(w.count);
    return rc;
}
