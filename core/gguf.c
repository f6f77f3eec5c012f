/* gguf.c - see gguf.h. Reading, lookups, typed getters and the writer; the ggml block
 * formats live in gguf_quant.c.
 *
 * Reading walks the file once with a bounds-checked cursor: every length is checked
 * against what is left of the file before it is used, so a truncated or corrupt file is
 * an error naming the file and the key or tensor, never a read past the mapping.
 * It is a little more lenient than llama.cpp's gguf.cpp in two ways, both harmless for a
 * reader that only maps the data: tensors need not be packed in order (each must only be
 * aligned and inside the file), and the last tensor's trailing padding may be missing.
 * The writer produces what llama.cpp requires: packed, in order, every tensor padded. */
#include "gguf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hashmap.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "GGUF is little-endian and r1c reads it in place"
#endif

#define GGUF_DEFAULT_ALIGNMENT 32
#define GGUF_ALIGNMENT_KEY     "general.alignment"

struct R1GgufIndex {
    R1StrMap keys, tensors; /* name -> position in g->kv / g->tensors */
};

/* Value types: name and size of a fixed-size value (0 for strings and arrays). */
static const struct {
    const char *name;
    size_t size;
} vtypes[] = {
    [R1_GV_U8] = {"u8", 1},       [R1_GV_I8] = {"i8", 1},     [R1_GV_U16] = {"u16", 2},
    [R1_GV_I16] = {"i16", 2},     [R1_GV_U32] = {"u32", 4},   [R1_GV_I32] = {"i32", 4},
    [R1_GV_F32] = {"f32", 4},     [R1_GV_BOOL] = {"bool", 1}, [R1_GV_STR] = {"str", 0},
    [R1_GV_ARRAY] = {"array", 0}, [R1_GV_U64] = {"u64", 8},   [R1_GV_I64] = {"i64", 8},
    [R1_GV_F64] = {"f64", 8},
};
#define N_VTYPES ((unsigned)(sizeof vtypes / sizeof vtypes[0]))

const char *r1_gguf_vtype_name(int type) {
    return type >= 0 && (unsigned)type < N_VTYPES ? vtypes[type].name : "?";
}

static int is_int_type(R1GgufVType t) {
    return t == R1_GV_U8 || t == R1_GV_I8 || t == R1_GV_U16 || t == R1_GV_I16 || t == R1_GV_U32 ||
           t == R1_GV_I32 || t == R1_GV_U64 || t == R1_GV_I64;
}

/* ---- reading ---- */

typedef struct {
    const uint8_t *d;
    size_t len, pos;
    const char *path;
    R1Err *err;
    char what[320]; /* the key or tensor being read, for messages */
} Cur;

static void set_what(Cur *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_what(Cur *c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->what, sizeof c->what, fmt, ap);
    va_end(ap);
}

static size_t left(const Cur *c) {
    return c->len - c->pos;
}

static int truncated(Cur *c, const char *field, uint64_t need) {
    return r1_seterr(c->err,
                     "%s: %s: %s needs %llu bytes at byte %zu but the file ends at byte %zu "
                     "(truncated file?)",
                     c->path, c->what, field, (unsigned long long)need, c->pos, c->len);
}

static int rd_u32(Cur *c, uint32_t *v, const char *field) {
    if (left(c) < 4) return truncated(c, field, 4);
    memcpy(v, c->d + c->pos, 4);
    c->pos += 4;
    return 0;
}

static int rd_u64(Cur *c, uint64_t *v, const char *field) {
    if (left(c) < 8) return truncated(c, field, 8);
    memcpy(v, c->d + c->pos, 8);
    c->pos += 8;
    return 0;
}

/* A u64 length and that many bytes. */
static int rd_str(Cur *c, const char **s, uint64_t *n, const char *field) {
    if (rd_u64(c, n, field) != 0) return -1;
    if (*n > left(c))
        return r1_seterr(c->err,
                         "%s: %s: %s of length %llu at byte %zu runs past the end of the file "
                         "(%zu bytes; truncated or corrupt file?)",
                         c->path, c->what, field, (unsigned long long)*n, c->pos - 8, c->len);
    *s = (const char *)c->d + c->pos;
    c->pos += (size_t)*n;
    return 0;
}

/* A key or tensor name: non-empty, without NUL bytes, copied. */
static int rd_name(Cur *c, char **out, const char *field) {
    const char *s;
    uint64_t n;
    if (rd_str(c, &s, &n, field) != 0) return -1;
    if (n == 0) return r1_seterr(c->err, "%s: %s: the %s is empty", c->path, c->what, field);
    if (memchr(s, 0, (size_t)n))
        return r1_seterr(c->err, "%s: %s: the %s \"%.*s\" holds a NUL byte", c->path, c->what,
                         field, (int)strnlen(s, (size_t)n), s);
    *out = r1_xmalloc((size_t)n + 1);
    memcpy(*out, s, (size_t)n);
    (*out)[n] = 0;
    return 0;
}

static int check_vtype(Cur *c, uint32_t t, const char *field) {
    if (t < N_VTYPES) return 0;
    return r1_seterr(c->err, "%s: %s: %s %u is not a GGUF value type (0..%u)", c->path, c->what,
                     field, t, N_VTYPES - 1);
}

static int rd_array(Cur *c, R1GgufKV *kv) {
    uint32_t et;
    uint64_t n;
    if (rd_u32(c, &et, "array element type") != 0 || check_vtype(c, et, "array element type"))
        return -1;
    if (et == R1_GV_ARRAY)
        return r1_seterr(c->err, "%s: %s: arrays of arrays are not supported", c->path, c->what);
    if (rd_u64(c, &n, "array length") != 0) return -1;
    kv->etype = (R1GgufVType)et;
    kv->n = n;
    kv->data = c->d + c->pos;
    if (et != R1_GV_STR) {
        size_t sz = vtypes[et].size;
        if (n > left(c) / sz)
            return r1_seterr(c->err,
                             "%s: %s: %llu %s elements at byte %zu run past the end of the file "
                             "(%zu bytes; truncated or corrupt file?)",
                             c->path, c->what, (unsigned long long)n, vtypes[et].name, c->pos,
                             c->len);
        c->pos += (size_t)n * sz;
        return 0;
    }
    /* each string is at least its 8-byte length: bound n before allocating the index */
    if (n > left(c) / 8)
        return r1_seterr(c->err,
                         "%s: %s: %llu strings at byte %zu cannot fit in the rest of the file "
                         "(%zu bytes; truncated or corrupt file?)",
                         c->path, c->what, (unsigned long long)n, c->pos, c->len);
    kv->elem = r1_xmalloc(sizeof(*kv->elem) * (n ? (size_t)n : 1));
    for (uint64_t i = 0; i < n; i++) {
        kv->elem[i] = c->d + c->pos;
        const char *s;
        uint64_t len;
        char field[64];
        snprintf(field, sizeof field, "string element %llu", (unsigned long long)i);
        if (rd_str(c, &s, &len, field) != 0) return -1;
    }
    return 0;
}

static int rd_value(Cur *c, R1GgufKV *kv) {
    uint32_t t;
    if (rd_u32(c, &t, "value type") != 0 || check_vtype(c, t, "value type") != 0) return -1;
    kv->type = kv->etype = (R1GgufVType)t;
    kv->n = 1;
    kv->data = c->d + c->pos;
    if (t == R1_GV_ARRAY) return rd_array(c, kv);
    if (t == R1_GV_STR) {
        const char *s;
        uint64_t n;
        return rd_str(c, &s, &n, "string value");
    }
    if (left(c) < vtypes[t].size) return truncated(c, "the value", vtypes[t].size);
    c->pos += vtypes[t].size;
    return 0;
}

static int rd_header(R1Gguf *g, Cur *c, uint64_t *n_tensors, uint64_t *n_kv) {
    if (c->len < 4 || memcmp(c->d, "GGUF", 4) != 0) {
        char got[32] = "";
        for (size_t i = 0, k = 0; i < 4 && i < c->len; i++)
            k += (size_t)snprintf(got + k, sizeof got - k, "%s%02x", i ? " " : "", c->d[i]);
        return r1_seterr(c->err, "%s: not a GGUF file (magic %s%s, expected \"GGUF\")", c->path,
                         c->len ? got : "missing", c->len && c->len < 4 ? ", file too short" : "");
    }
    c->pos = 4;
    set_what(c, "header");
    if (rd_u32(c, &g->version, "the version") != 0) return -1;
    if (g->version != 2 && g->version != 3)
        return r1_seterr(c->err,
                         "%s: GGUF version %u is not supported (r1c reads versions 2 and "
                         "3)%s",
                         c->path, g->version,
                         g->version == 1              ? "; version 1 files predate 64-bit lengths"
                         : (g->version & 0xFFFF) == 0 ? "; is it a big-endian file?"
                                                      : "");
    if (rd_u64(c, n_tensors, "the tensor count") != 0 || rd_u64(c, n_kv, "the key/value count"))
        return -1;
    /* a key/value takes at least 12 bytes and a tensor info 24: bound both before
     * allocating anything for them (and keep them in the lookup tables' int range) */
    if (*n_kv > left(c) / 12 || *n_tensors > left(c) / 24 || *n_kv > INT32_MAX ||
        *n_tensors > INT32_MAX)
        return r1_seterr(c->err,
                         "%s: header claims %llu key/values and %llu tensors, more than the file "
                         "(%zu bytes) can hold (truncated or corrupt file?)",
                         c->path, (unsigned long long)*n_kv, (unsigned long long)*n_tensors,
                         c->len);
    return 0;
}

static int rd_kvs(R1Gguf *g, Cur *c, uint64_t n_kv) {
    g->kv = r1_xcalloc(n_kv ? (size_t)n_kv : 1, sizeof *g->kv);
    for (uint64_t i = 0; i < n_kv; i++) {
        R1GgufKV *kv = &g->kv[i];
        set_what(c, "key/value #%llu", (unsigned long long)i);
        if (rd_name(c, &kv->key, "key") != 0) return -1;
        g->n_kv++;
        set_what(c, "key \"%s\"", kv->key);
        size_t klen = strlen(kv->key);
        if (r1_strmap_get(&g->index->keys, kv->key, klen) >= 0)
            return r1_seterr(c->err, "%s: key \"%s\" appears twice", c->path, kv->key);
        r1_strmap_put(&g->index->keys, kv->key, klen, (int)i);
        if (rd_value(c, kv) != 0) return -1;
    }
    return 0;
}

static int rd_alignment(R1Gguf *g, const Cur *c) {
    g->alignment = GGUF_DEFAULT_ALIGNMENT;
    const R1GgufKV *kv = r1_gguf_find(g, GGUF_ALIGNMENT_KEY);
    if (!kv) return 0;
    if (kv->type != R1_GV_U32)
        return r1_seterr(c->err, "%s: key \"%s\" is %s, expected u32", c->path, kv->key,
                         r1_gguf_vtype_name(kv->type));
    uint32_t a;
    memcpy(&a, kv->data, 4);
    if (a == 0 || (a & (a - 1)) != 0)
        return r1_seterr(c->err, "%s: key \"%s\" is %u, which is not a power of two", c->path,
                         kv->key, a);
    g->alignment = a;
    return 0;
}

static int rd_tensor_info(R1Gguf *g, Cur *c, uint64_t i) {
    R1GgufTensor *t = &g->tensors[i];
    set_what(c, "tensor #%llu", (unsigned long long)i);
    if (rd_name(c, &t->name, "tensor name") != 0) return -1;
    g->n_tensors++;
    set_what(c, "tensor \"%s\"", t->name);
    size_t nlen = strlen(t->name);
    if (r1_strmap_get(&g->index->tensors, t->name, nlen) >= 0)
        return r1_seterr(c->err, "%s: tensor \"%s\" appears twice", c->path, t->name);
    r1_strmap_put(&g->index->tensors, t->name, nlen, (int)i);
    uint32_t nd, type;
    if (rd_u32(c, &nd, "the dimension count") != 0) return -1;
    if (nd < 1 || nd > 4)
        return r1_seterr(c->err, "%s: tensor \"%s\" has %u dimensions (r1c reads 1 to 4)", c->path,
                         t->name, nd);
    t->ndim = (int)nd;
    uint64_t numel = 1;
    for (int d = 0; d < 4; d++) {
        uint64_t ne = 1;
        if (d < t->ndim && rd_u64(c, &ne, "a dimension") != 0) return -1;
        if (ne > (uint64_t)INT64_MAX || (ne && numel > (uint64_t)INT64_MAX / ne))
            return r1_seterr(c->err, "%s: tensor \"%s\": dimension %d (%llu) is impossibly large",
                             c->path, t->name, d, (unsigned long long)ne);
        t->ne[d] = (int64_t)ne;
        numel *= ne;
    }
    t->numel = (int64_t)numel;
    if (rd_u32(c, &type, "the ggml type") != 0 || rd_u64(c, &t->offset, "the data offset") != 0)
        return -1;
    t->type = (R1GgmlType)type;
    int blk;
    size_t bsz;
    if (!r1_ggml_type_known((int)type) || r1_ggml_block((int)type, &blk, &bsz) != 0)
        return r1_seterr(c->err,
                         "%s: tensor \"%s\" has ggml type %u (%s), which r1c does not read (it "
                         "reads F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K)",
                         c->path, t->name, type, r1_ggml_type_name((int)type));
    if (t->ne[0] % blk != 0)
        return r1_seterr(c->err,
                         "%s: tensor \"%s\" of type %s has rows of %lld elements, not a whole "
                         "number of %d-element blocks",
                         c->path, t->name, r1_ggml_type_name((int)type), (long long)t->ne[0], blk);
    uint64_t nb = numel / (uint64_t)blk;
    if (nb > SIZE_MAX / bsz)
        return r1_seterr(c->err, "%s: tensor \"%s\" is impossibly large", c->path, t->name);
    t->nbytes = (size_t)nb * bsz;
    return 0;
}

static int by_offset(const void *a, const void *b) {
    const R1GgufTensor *x = *(const R1GgufTensor *const *)a, *y = *(const R1GgufTensor *const *)b;
    return (x->offset > y->offset) - (x->offset < y->offset);
}

/* Tensors sharing bytes are refused (llama.cpp refuses them too): otherwise a small file
 * could claim any number of large tensors, and dequantizing it any amount of memory. */
static int check_overlaps(R1Gguf *g, Cur *c) {
    if (g->n_tensors < 2) return 0;
    R1GgufTensor **order = r1_xmalloc(sizeof *order * (size_t)g->n_tensors);
    for (int64_t i = 0; i < g->n_tensors; i++) order[i] = &g->tensors[i];
    qsort(order, (size_t)g->n_tensors, sizeof *order, by_offset);
    int rc = 0;
    for (int64_t i = 0; rc == 0 && i + 1 < g->n_tensors; i++)
        if (order[i]->nbytes > order[i + 1]->offset - order[i]->offset)
            rc = r1_seterr(c->err, "%s: tensors \"%s\" and \"%s\" overlap in the file", c->path,
                           order[i]->name, order[i + 1]->name);
    free(order);
    return rc;
}

static int place_tensors(R1Gguf *g, Cur *c) {
    uint64_t a = g->alignment;
    uint64_t start = ((uint64_t)c->pos + a - 1) / a * a; /* pos < 2^63, a <= 2^31 */
    for (int64_t i = 0; i < g->n_tensors; i++) {
        R1GgufTensor *t = &g->tensors[i];
        if (t->offset % a != 0)
            return r1_seterr(c->err,
                             "%s: tensor \"%s\": data offset %llu is not a multiple of the "
                             "alignment %llu",
                             c->path, t->name, (unsigned long long)t->offset,
                             (unsigned long long)a);
        if (start > c->len || t->offset > c->len - start || t->nbytes > c->len - start - t->offset)
            return r1_seterr(c->err,
                             "%s: tensor \"%s\": %zu bytes at data offset %llu (file byte %llu) "
                             "run past the end of the file (%zu bytes; truncated file?)",
                             c->path, t->name, t->nbytes, (unsigned long long)t->offset,
                             (unsigned long long)(start + t->offset), c->len);
        t->data = c->d + start + t->offset;
    }
    return check_overlaps(g, c);
}

static int parse(R1Gguf *g, R1Err *err) {
    Cur c = {.d = g->map.data, .len = g->map.len, .path = g->path, .err = err};
    uint64_t n_tensors, n_kv;
    if (rd_header(g, &c, &n_tensors, &n_kv) != 0 || rd_kvs(g, &c, n_kv) != 0 ||
        rd_alignment(g, &c) != 0)
        return -1;
    g->tensors = r1_xcalloc(n_tensors ? (size_t)n_tensors : 1, sizeof *g->tensors);
    for (uint64_t i = 0; i < n_tensors; i++)
        if (rd_tensor_info(g, &c, i) != 0) return -1;
    return place_tensors(g, &c);
}

int r1_gguf_open(R1Gguf *g, const char *path, R1Err *err) {
    memset(g, 0, sizeof *g);
    g->path = r1_xstrdup(path);
    g->index = r1_xcalloc(1, sizeof *g->index);
    r1_strmap_init(&g->index->keys);
    r1_strmap_init(&g->index->tensors);
    if (r1_map_file(&g->map, path, err) != 0 || parse(g, err) != 0) {
        r1_gguf_close(g);
        return -1;
    }
    return 0;
}

void r1_gguf_close(R1Gguf *g) {
    for (int64_t i = 0; i < g->n_kv; i++) {
        free(g->kv[i].key);
        free(g->kv[i].elem);
    }
    for (int64_t i = 0; i < g->n_tensors; i++) free(g->tensors[i].name);
    free(g->kv);
    free(g->tensors);
    if (g->index) {
        r1_strmap_free(&g->index->keys);
        r1_strmap_free(&g->index->tensors);
        free(g->index);
    }
    free(g->path);
    r1_unmap(&g->map);
    memset(g, 0, sizeof *g);
}

/* ---- lookups ---- */

const R1GgufKV *r1_gguf_find(const R1Gguf *g, const char *key) {
    if (!g->index || !key) return NULL;
    int i = r1_strmap_get(&g->index->keys, key, strlen(key));
    return i >= 0 ? &g->kv[i] : NULL;
}

const R1GgufTensor *r1_gguf_tensor(const R1Gguf *g, const char *name) {
    if (!g->index || !name) return NULL;
    int i = r1_strmap_get(&g->index->tensors, name, strlen(name));
    return i >= 0 ? &g->tensors[i] : NULL;
}

/* ---- typed reads ---- */

/* Integer element p of type t (an integer type) as int64; 0 and *big set when a u64
 * is over INT64_MAX. */
static int64_t load_int(R1GgufVType t, const uint8_t *p, int *big) {
    if (big) *big = 0;
    switch (t) {
    case R1_GV_U8:
        return p[0];
    case R1_GV_I8:
        return (int8_t)p[0];
    case R1_GV_U16: {
        uint16_t v;
        memcpy(&v, p, 2);
        return v;
    }
    case R1_GV_I16: {
        int16_t v;
        memcpy(&v, p, 2);
        return v;
    }
    case R1_GV_U32: {
        uint32_t v;
        memcpy(&v, p, 4);
        return v;
    }
    case R1_GV_I32: {
        int32_t v;
        memcpy(&v, p, 4);
        return v;
    }
    case R1_GV_U64: {
        uint64_t v;
        memcpy(&v, p, 8);
        if (v > (uint64_t)INT64_MAX) {
            if (big) *big = 1;
            return 0;
        }
        return (int64_t)v;
    }
    case R1_GV_I64: {
        int64_t v;
        memcpy(&v, p, 8);
        return v;
    }
    default:
        return 0;
    }
}

static double load_f64(R1GgufVType t, const uint8_t *p) {
    if (t == R1_GV_F32) {
        float f;
        memcpy(&f, p, 4);
        return f;
    }
    if (t == R1_GV_F64) {
        double d;
        memcpy(&d, p, 8);
        return d;
    }
    if (t == R1_GV_U64) {
        uint64_t v;
        memcpy(&v, p, 8);
        return (double)v;
    }
    return (double)load_int(t, p, NULL);
}

static int wrong_type(const R1Gguf *g, const R1GgufKV *kv, const char *want, R1Err *err) {
    if (kv->type == R1_GV_ARRAY)
        return r1_seterr(err, "%s: key \"%s\" is an array of %llu %s, expected %s", g->path,
                         kv->key, (unsigned long long)kv->n, r1_gguf_vtype_name(kv->etype), want);
    return r1_seterr(err, "%s: key \"%s\" is %s, expected %s", g->path, kv->key,
                     r1_gguf_vtype_name(kv->type), want);
}

int r1_gguf_int(const R1Gguf *g, const char *key, int64_t *out, R1Err *err) {
    const R1GgufKV *kv = r1_gguf_find(g, key);
    if (!kv) return 0;
    if (!is_int_type(kv->type)) return wrong_type(g, kv, "an integer", err);
    int big;
    int64_t v = load_int(kv->type, kv->data, &big);
    if (big) return r1_seterr(err, "%s: key \"%s\" is a u64 over 2^63-1", g->path, kv->key);
    *out = v;
    return 1;
}

int r1_gguf_f64(const R1Gguf *g, const char *key, double *out, R1Err *err) {
    const R1GgufKV *kv = r1_gguf_find(g, key);
    if (!kv) return 0;
    if (!is_int_type(kv->type) && kv->type != R1_GV_F32 && kv->type != R1_GV_F64)
        return wrong_type(g, kv, "a number", err);
    *out = load_f64(kv->type, kv->data);
    return 1;
}

int r1_gguf_bool(const R1Gguf *g, const char *key, int *out, R1Err *err) {
    const R1GgufKV *kv = r1_gguf_find(g, key);
    if (!kv) return 0;
    if (kv->type != R1_GV_BOOL) return wrong_type(g, kv, "bool", err);
    *out = kv->data[0] != 0;
    return 1;
}

static R1GgufStr str_at(const uint8_t *p) {
    uint64_t n;
    memcpy(&n, p, 8);
    return (R1GgufStr){(const char *)p + 8, n};
}

int r1_gguf_str(const R1Gguf *g, const char *key, R1GgufStr *out, R1Err *err) {
    const R1GgufKV *kv = r1_gguf_find(g, key);
    if (!kv) return 0;
    if (kv->type != R1_GV_STR) return wrong_type(g, kv, "str", err);
    *out = str_at(kv->data);
    return 1;
}

char *r1_gguf_strdup(const R1Gguf *g, const char *key) {
    const R1GgufKV *kv = r1_gguf_find(g, key);
    if (!kv || kv->type != R1_GV_STR) return NULL;
    R1GgufStr s = str_at(kv->data);
    char *out = r1_xmalloc((size_t)s.len + 1);
    memcpy(out, s.ptr, (size_t)s.len);
    out[s.len] = 0;
    return out;
}

R1GgufStr r1_gguf_arr_str(const R1GgufKV *kv, uint64_t i) {
    if (kv->etype != R1_GV_STR || i >= kv->n) return (R1GgufStr){NULL, 0};
    return str_at(kv->elem ? kv->elem[i] : kv->data);
}

int64_t r1_gguf_arr_int(const R1GgufKV *kv, uint64_t i) {
    if (!is_int_type(kv->etype) || i >= kv->n) return 0;
    return load_int(kv->etype, kv->data + i * vtypes[kv->etype].size, NULL);
}

double r1_gguf_arr_f64(const R1GgufKV *kv, uint64_t i) {
    if ((kv->etype != R1_GV_F32 && kv->etype != R1_GV_F64) || i >= kv->n) return 0;
    return load_f64(kv->etype, kv->data + i * vtypes[kv->etype].size);
}

int r1_gguf_tensor_f32(const R1Gguf *g, const R1GgufTensor *t, float *dst, R1Err *err) {
    int blk;
    size_t bsz;
    if (r1_ggml_block((int)t->type, &blk, &bsz) != 0)
        return r1_seterr(err, "%s: tensor \"%s\" has ggml type %d (%s), which r1c does not read",
                         g->path, t->name, (int)t->type, r1_ggml_type_name((int)t->type));
    /* chunks of whole blocks, about 64K elements each, across threads */
    int64_t nblk = t->numel / blk, per = blk >= 65536 ? 1 : 65536 / blk;
    int64_t chunks = (nblk + per - 1) / per;
#pragma omp parallel for if (chunks > 4) schedule(static)
    for (int64_t ci = 0; ci < chunks; ci++) {
        int64_t b0 = ci * per, nb = nblk - b0 < per ? nblk - b0 : per;
        r1_ggml_dequant(t->type, t->data + (size_t)b0 * bsz, dst + b0 * blk, nb * blk);
    }
    return 0;
}

/* ---- writing ---- */

typedef struct {
    uint8_t *p;
    size_t n, cap;
} Buf;

static void buf_put(Buf *b, const void *data, size_t n) {
    if (b->n + n > b->cap) {
        while (b->n + n > b->cap) b->cap = b->cap ? b->cap * 2 : 256;
        b->p = r1_xrealloc(b->p, b->cap);
    }
    if (n) memcpy(b->p + b->n, data, n);
    b->n += n;
}
static void buf_u32(Buf *b, uint32_t v) {
    buf_put(b, &v, 4);
}
static void buf_u64(Buf *b, uint64_t v) {
    buf_put(b, &v, 8);
}
static void buf_str(Buf *b, const char *s, size_t n) {
    buf_u64(b, n);
    buf_put(b, s, n);
}

typedef struct {
    char *key;
    R1GgufVType type;
    Buf val; /* the value as written after the key: type, then the value */
} WKV;

typedef struct {
    char *name;
    R1GgmlType type;
    int ndim;
    int64_t ne[4];
    const void *data;
} WTensor;

struct R1GgufWriter {
    WKV *kv;
    size_t n_kv, cap_kv;
    WTensor *t;
    size_t n_t, cap_t;
    char *bad; /* the first misuse of a put_* function, reported by r1_gguf_write */
};

R1GgufWriter *r1_gguf_writer_new(void) {
    return r1_xcalloc(1, sizeof(R1GgufWriter));
}

void r1_gguf_writer_free(R1GgufWriter *w) {
    if (!w) return;
    for (size_t i = 0; i < w->n_kv; i++) {
        free(w->kv[i].key);
        free(w->kv[i].val.p);
    }
    for (size_t i = 0; i < w->n_t; i++) free(w->t[i].name);
    free(w->kv);
    free(w->t);
    free(w->bad);
    free(w);
}

static void misuse(R1GgufWriter *w, const char *what) {
    if (!w->bad) w->bad = r1_xstrdup(what);
}

/* The entry for key: the existing one (its value is replaced, its place kept) or a new
 * one at the end. NULL (and the writer marked bad) for an unusable key. */
static Buf *kv_slot(R1GgufWriter *w, const char *key, R1GgufVType type) {
    if (!key || !key[0]) {
        misuse(w, "a key/value was put with an empty key");
        return NULL;
    }
    WKV *e = NULL;
    for (size_t i = 0; i < w->n_kv && !e; i++)
        if (strcmp(w->kv[i].key, key) == 0) e = &w->kv[i];
    if (!e) {
        if (w->n_kv == w->cap_kv) {
            w->cap_kv = w->cap_kv ? 2 * w->cap_kv : 32;
            w->kv = r1_xrealloc(w->kv, w->cap_kv * sizeof *w->kv);
        }
        e = &w->kv[w->n_kv++];
        memset(e, 0, sizeof *e);
        e->key = r1_xstrdup(key);
    }
    e->type = type;
    e->val.n = 0;
    buf_u32(&e->val, (uint32_t)type);
    return &e->val;
}

void r1_gguf_put_str(R1GgufWriter *w, const char *key, const char *val) {
    Buf *b = kv_slot(w, key, R1_GV_STR);
    if (b) buf_str(b, val ? val : "", val ? strlen(val) : 0);
}

void r1_gguf_put_u32(R1GgufWriter *w, const char *key, uint32_t val) {
    Buf *b = kv_slot(w, key, R1_GV_U32);
    if (b) buf_u32(b, val);
}

void r1_gguf_put_i32(R1GgufWriter *w, const char *key, int32_t val) {
    Buf *b = kv_slot(w, key, R1_GV_I32);
    if (b) buf_put(b, &val, 4);
}

void r1_gguf_put_f32(R1GgufWriter *w, const char *key, float val) {
    Buf *b = kv_slot(w, key, R1_GV_F32);
    if (b) buf_put(b, &val, 4);
}

void r1_gguf_put_bool(R1GgufWriter *w, const char *key, int val) {
    Buf *b = kv_slot(w, key, R1_GV_BOOL);
    uint8_t v = val != 0;
    if (b) buf_put(b, &v, 1);
}

void r1_gguf_put_u64(R1GgufWriter *w, const char *key, uint64_t val) {
    Buf *b = kv_slot(w, key, R1_GV_U64);
    if (b) buf_u64(b, val);
}

void r1_gguf_put_value(R1GgufWriter *w, const char *key, R1GgufVType type, const void *val) {
    if ((unsigned)type >= N_VTYPES || !vtypes[type].size || !val) {
        misuse(w, "r1_gguf_put_value takes a fixed-size value type and a value");
        return;
    }
    Buf *b = kv_slot(w, key, type);
    if (b) buf_put(b, val, vtypes[type].size);
}

void r1_gguf_put_arr(R1GgufWriter *w, const char *key, R1GgufVType etype, const void *vals,
                     uint64_t n) {
    if ((unsigned)etype >= N_VTYPES || !vtypes[etype].size || (n && !vals)) {
        misuse(w, "r1_gguf_put_arr takes a fixed-size element type and the elements");
        return;
    }
    Buf *b = kv_slot(w, key, R1_GV_ARRAY);
    if (!b) return;
    buf_u32(b, (uint32_t)etype);
    buf_u64(b, n);
    buf_put(b, vals, (size_t)n * vtypes[etype].size);
}

void r1_gguf_put_str_arr(R1GgufWriter *w, const char *key, const char *const *vals,
                         const size_t *lens, uint64_t n) {
    Buf *b = kv_slot(w, key, R1_GV_ARRAY);
    if (!b) return;
    buf_u32(b, R1_GV_STR);
    buf_u64(b, n);
    for (uint64_t i = 0; i < n; i++) {
        size_t len = lens ? lens[i] : vals[i] ? strlen(vals[i]) : 0;
        buf_str(b, vals[i], len);
    }
}

void r1_gguf_put_i32_arr(R1GgufWriter *w, const char *key, const int32_t *vals, uint64_t n) {
    r1_gguf_put_arr(w, key, R1_GV_I32, vals, n);
}

void r1_gguf_add_tensor(R1GgufWriter *w, const char *name, R1GgmlType type, int ndim,
                        const int64_t *ne, const void *data) {
    if (w->n_t == w->cap_t) {
        w->cap_t = w->cap_t ? 2 * w->cap_t : 64;
        w->t = r1_xrealloc(w->t, w->cap_t * sizeof *w->t);
    }
    WTensor *t = &w->t[w->n_t++];
    memset(t, 0, sizeof *t);
    t->name = r1_xstrdup(name ? name : "");
    t->type = type;
    t->ndim = ndim;
    for (int d = 0; d < 4; d++) t->ne[d] = d < ndim && ne ? ne[d] : 1;
    t->data = data;
}

/* The alignment the file will use: general.alignment when the caller put it. */
static int writer_alignment(const R1GgufWriter *w, const char *path, uint64_t *align, R1Err *err) {
    *align = GGUF_DEFAULT_ALIGNMENT;
    for (size_t i = 0; i < w->n_kv; i++) {
        if (strcmp(w->kv[i].key, GGUF_ALIGNMENT_KEY) != 0) continue;
        if (w->kv[i].type != R1_GV_U32)
            return r1_seterr(err, "%s: key \"%s\" must be u32, not %s", path, GGUF_ALIGNMENT_KEY,
                             r1_gguf_vtype_name(w->kv[i].type));
        uint32_t a;
        memcpy(&a, w->kv[i].val.p + 4, 4);
        if (a == 0 || (a & (a - 1)) != 0)
            return r1_seterr(err, "%s: key \"%s\" is %u, which is not a power of two", path,
                             GGUF_ALIGNMENT_KEY, a);
        *align = a;
    }
    return 0;
}

/* Checks each tensor and computes its size. */
static int check_tensors(const R1GgufWriter *w, const char *path, size_t *sizes, R1Err *err) {
    R1StrMap seen;
    r1_strmap_init(&seen);
    int rc = 0;
    for (size_t i = 0; i < w->n_t && rc == 0; i++) {
        const WTensor *t = &w->t[i];
        int blk;
        size_t bsz;
        uint64_t numel = 1;
        if (!t->name[0]) {
            rc = r1_seterr(err, "%s: tensor %zu has an empty name", path, i);
            break;
        }
        if (r1_strmap_get(&seen, t->name, strlen(t->name)) >= 0) {
            rc = r1_seterr(err, "%s: tensor \"%s\" is added twice", path, t->name);
            break;
        }
        r1_strmap_put(&seen, t->name, strlen(t->name), (int)i);
        if (r1_ggml_block((int)t->type, &blk, &bsz) != 0)
            rc = r1_seterr(err, "%s: tensor \"%s\": r1c cannot write ggml type %d (%s)", path,
                           t->name, (int)t->type, r1_ggml_type_name((int)t->type));
        else if (t->ndim < 1 || t->ndim > 4)
            rc = r1_seterr(err, "%s: tensor \"%s\" has %d dimensions (1 to 4 allowed)", path,
                           t->name, t->ndim);
        for (int d = 0; d < 4 && rc == 0; d++)
            if (t->ne[d] < 0 || (t->ne[d] && numel > (uint64_t)INT64_MAX / (uint64_t)t->ne[d]))
                rc = r1_seterr(err, "%s: tensor \"%s\" has an impossible dimension %lld", path,
                               t->name, (long long)t->ne[d]);
            else
                numel *= (uint64_t)t->ne[d];
        if (rc == 0 && t->ne[0] % blk != 0)
            rc =
                r1_seterr(err,
                          "%s: tensor \"%s\": rows of %lld elements are not whole %s blocks "
                          "of %d",
                          path, t->name, (long long)t->ne[0], r1_ggml_type_name((int)t->type), blk);
        if (rc == 0) sizes[i] = (size_t)(numel / (uint64_t)blk) * bsz;
        if (rc == 0 && sizes[i] && !t->data)
            rc = r1_seterr(err, "%s: tensor \"%s\" has no data", path, t->name);
    }
    r1_strmap_free(&seen);
    return rc;
}

static size_t pad_to(size_t n, uint64_t a) {
    return (size_t)((n + a - 1) / a * a);
}

static void build_header(const R1GgufWriter *w, const size_t *sizes, uint64_t align, Buf *h) {
    buf_put(h, "GGUF", 4);
    buf_u32(h, 3);
    buf_u64(h, w->n_t);
    buf_u64(h, w->n_kv);
    for (size_t i = 0; i < w->n_kv; i++) {
        buf_str(h, w->kv[i].key, strlen(w->kv[i].key));
        buf_put(h, w->kv[i].val.p, w->kv[i].val.n);
    }
    uint64_t off = 0;
    for (size_t i = 0; i < w->n_t; i++) {
        const WTensor *t = &w->t[i];
        buf_str(h, t->name, strlen(t->name));
        buf_u32(h, (uint32_t)t->ndim);
        for (int d = 0; d < t->ndim; d++) buf_u64(h, (uint64_t)t->ne[d]);
        buf_u32(h, (uint32_t)t->type);
        buf_u64(h, off);
        off += pad_to(sizes[i], align);
    }
    static const uint8_t zeros[64] = {0};
    while (h->n % align) buf_put(h, zeros, 1);
}

static int write_padded(FILE *fp, const void *data, size_t n, uint64_t align) {
    static const uint8_t zeros[256] = {0};
    if (n && fwrite(data, 1, n, fp) != n) return -1;
    for (size_t pad = pad_to(n, align) - n; pad > 0;) {
        size_t k = pad < sizeof zeros ? pad : sizeof zeros;
        if (fwrite(zeros, 1, k, fp) != k) return -1;
        pad -= k;
    }
    return 0;
}

int r1_gguf_write(R1GgufWriter *w, const char *path, R1Err *err) {
    if (w->bad) return r1_seterr(err, "%s: %s", path, w->bad);
    uint64_t align;
    if (writer_alignment(w, path, &align, err) != 0) return -1;
    size_t *sizes = r1_xcalloc(w->n_t ? w->n_t : 1, sizeof *sizes);
    if (check_tensors(w, path, sizes, err) != 0) {
        free(sizes);
        return -1;
    }
    Buf h = {0};
    build_header(w, sizes, align, &h);
    size_t tn = strlen(path) + 32;
    char *tmp = r1_xmalloc(tn);
    snprintf(tmp, tn, "%s.tmp.%ld", path, (long)getpid());
    int rc = 0;
    FILE *fp = fopen(tmp, "wb");
    if (!fp)
        rc = r1_seterr(err, "%s: %s", tmp, strerror(errno));
    else {
        int bad = fwrite(h.p, 1, h.n, fp) != h.n;
        for (size_t i = 0; i < w->n_t && !bad; i++)
            bad = write_padded(fp, w->t[i].data, sizes[i], align) != 0;
        bad = bad || fflush(fp) != 0 || fsync(fileno(fp)) != 0;
        int saved = errno;
        if (fclose(fp) != 0 && !bad) bad = 1, saved = errno;
        if (!bad && rename(tmp, path) != 0) bad = 1, saved = errno;
        if (bad) {
            unlink(tmp);
            rc = r1_seterr(err, "%s: write failed: %s", path, strerror(saved));
        }
    }
    free(tmp);
    free(h.p);
    free(sizes);
    return rc;
}
