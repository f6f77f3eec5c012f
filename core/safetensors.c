/* safetensors.c - see safetensors.h.
 *
 * Reading is as strict as the reference (Rust) implementation: besides each
 * entry's own checks, the tensors must tile the data section exactly, with no
 * overlap, gap or trailing bytes, so that any file r1c accepts the Python
 * package accepts too. */
#include "safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors data is little-endian and r1c reads it in place"
#endif

/* A header this big is a corrupt length, not a real checkpoint (the Rust
 * implementation uses the same limit). */
#define ST_MAX_HEADER ((uint64_t)100 << 20)
/* Largest integer a JSON double holds exactly. */
#define ST_MAX_JSON_INT 9007199254740992.0

static const struct {
    const char *name;
    size_t size;
} dtypes[] = {
    [R1_F32] = {"F32", 4}, [R1_BF16] = {"BF16", 2}, [R1_F16] = {"F16", 2},
    [R1_I32] = {"I32", 4}, [R1_I64] = {"I64", 8},
};
#define N_DTYPES ((int)(sizeof dtypes / sizeof dtypes[0]))

size_t r1_dtype_size(R1DType d) {
    return (unsigned)d < N_DTYPES ? dtypes[d].size : 0;
}

const char *r1_dtype_name(R1DType d) {
    return (unsigned)d < N_DTYPES ? dtypes[d].name : "?";
}

/* ---- conversions ---- */

static float f32_from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

/* bf16 is the top half of a float32: exact. */
float r1_bf16_to_f32(uint16_t h) {
    return f32_from_bits((uint32_t)h << 16);
}

/* Round to nearest, ties to even, as torch does. A NaN keeps its sign and
 * gets the quiet bit, since rounding could carry a NaN into infinity. */
uint16_t r1_f32_to_bf16(float f) {
    uint32_t u = f32_bits(f);
    if (isnan(f)) return (uint16_t)((u >> 16) | 0x0040);
    u += 0x7FFFu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

/* IEEE half: 1 sign, 5 exponent (bias 15), 10 mantissa bits. Every half is a
 * float exactly; subnormals are mant * 2^-24. */
float r1_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1Fu, mant = h & 0x3FFu;
    if (exp == 0) {
        float v = (float)mant * 0x1p-24f; /* exact: mant < 2^10 */
        return sign ? -v : v;
    }
    if (exp == 31) return f32_from_bits(sign | 0x7F800000u | (mant << 13)); /* inf, NaN */
    return f32_from_bits(sign | ((exp - 15 + 127) << 23) | (mant << 13));
}

static uint16_t load_u16(const uint8_t *p) {
    uint16_t v;
    memcpy(&v, p, 2); /* the data may be unaligned */
    return v;
}

int r1_st_to_f32(const R1StTensor *t, float *out, size_t count, const char *path, R1Err *err) {
    if (!path) path = "(safetensors)";
    if (count != t->numel)
        return r1_seterr(err, "%s: tensor \"%s\" has %zu elements, the caller expected %zu", path,
                         t->name, t->numel, count);
    const uint8_t *d = t->data;
    switch (t->dtype) {
    case R1_F32:
        if (count) memcpy(out, d, count * 4);
        return 0;
    case R1_BF16:
#pragma omp parallel for if (count > (1u << 18)) schedule(static)
        for (size_t i = 0; i < count; i++) out[i] = r1_bf16_to_f32(load_u16(d + 2 * i));
        return 0;
    case R1_F16:
#pragma omp parallel for if (count > (1u << 18)) schedule(static)
        for (size_t i = 0; i < count; i++) out[i] = r1_f16_to_f32(load_u16(d + 2 * i));
        return 0;
    default:
        return r1_seterr(err, "%s: tensor \"%s\" has dtype %s, which is not a float type", path,
                         t->name, r1_dtype_name(t->dtype));
    }
}

/* ---- reading ---- */

static int dtype_parse(const char *s, R1DType *d) {
    for (int i = 0; i < N_DTYPES; i++)
        if (strcmp(s, dtypes[i].name) == 0) {
            *d = (R1DType)i;
            return 0;
        }
    return -1;
}

static int json_u64(const cJSON *v, uint64_t *out) {
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > ST_MAX_JSON_INT ||
        v->valuedouble != floor(v->valuedouble))
        return -1;
    *out = (uint64_t)v->valuedouble;
    return 0;
}

static void fmt_shape(char *buf, size_t n, const int64_t *shape, int ndim) {
    size_t k = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < ndim && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (k < n) snprintf(buf + k, n - k, "]");
}

static int parse_shape(R1StTensor *t, const cJSON *shape, const char *path, const char *name,
                       R1Err *err) {
    if (!cJSON_IsArray(shape) || cJSON_GetArraySize(shape) > R1_MAX_DIMS)
        return r1_seterr(err, "%s: tensor \"%s\": \"shape\" must be a list of at most %d sizes",
                         path, name, R1_MAX_DIMS);
    size_t numel = 1;
    t->ndim = 0;
    for (const cJSON *e = shape->child; e; e = e->next) {
        uint64_t dim;
        if (json_u64(e, &dim) != 0)
            return r1_seterr(err, "%s: tensor \"%s\": shape sizes must be non-negative integers",
                             path, name);
        if (__builtin_mul_overflow(numel, (size_t)dim, &numel))
            return r1_seterr(err, "%s: tensor \"%s\": shape overflows", path, name);
        t->shape[t->ndim++] = (int64_t)dim;
    }
    t->numel = numel;
    return 0;
}

/* Offsets are relative to the data section, which is `data_len` bytes. */
static int parse_offsets(R1StTensor *t, const cJSON *offs, const uint8_t *base, size_t data_len,
                         const char *path, const char *name, R1Err *err) {
    uint64_t b, e;
    if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2 || json_u64(offs->child, &b) ||
        json_u64(offs->child->next, &e) || b > e)
        return r1_seterr(err,
                         "%s: tensor \"%s\": \"data_offsets\" must be [begin, end], begin <= end",
                         path, name);
    if (e > data_len)
        return r1_seterr(err,
                         "%s: tensor \"%s\": data_offsets [%llu, %llu] run past the end of the "
                         "data (%zu bytes; truncated file?)",
                         path, name, (unsigned long long)b, (unsigned long long)e, data_len);
    size_t want;
    if (__builtin_mul_overflow(t->numel, r1_dtype_size(t->dtype), &want) || e - b != want)
        return r1_seterr(err,
                         "%s: tensor \"%s\": data_offsets hold %llu bytes but %zu %s elements "
                         "need %zu",
                         path, name, (unsigned long long)(e - b), t->numel, r1_dtype_name(t->dtype),
                         t->numel * r1_dtype_size(t->dtype));
    t->data = base + b;
    t->nbytes = (size_t)(e - b);
    return 0;
}

static int parse_tensor(R1StTensor *t, const cJSON *e, const uint8_t *base, size_t data_len,
                        const char *path, R1Err *err) {
    const char *name = e->string;
    if (!cJSON_IsObject(e))
        return r1_seterr(err, "%s: tensor \"%s\": header entry is not an object", path, name);
    for (const cJSON *k = e->child; k; k = k->next)
        if (strcmp(k->string, "dtype") && strcmp(k->string, "shape") &&
            strcmp(k->string, "data_offsets"))
            return r1_seterr(err, "%s: tensor \"%s\": unexpected key \"%s\"", path, name,
                             k->string);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    if (!cJSON_IsString(dt))
        return r1_seterr(err, "%s: tensor \"%s\": \"dtype\" must be a string", path, name);
    if (dtype_parse(dt->valuestring, &t->dtype) != 0)
        return r1_seterr(err,
                         "%s: tensor \"%s\" has unsupported dtype \"%s\" (r1c reads F32, BF16, "
                         "F16, I32, I64)",
                         path, name, dt->valuestring);
    if (parse_shape(t, cJSON_GetObjectItemCaseSensitive(e, "shape"), path, name, err) ||
        parse_offsets(t, cJSON_GetObjectItemCaseSensitive(e, "data_offsets"), base, data_len, path,
                      name, err))
        return -1;
    t->name = r1_xstrdup(name);
    return 0;
}

static int parse_meta(R1StFile *f, const cJSON *m, R1Err *err) {
    if (!cJSON_IsObject(m) || f->meta_keys)
        return r1_seterr(err, "%s: \"__metadata__\" must be one object of strings", f->path);
    int n = cJSON_GetArraySize(m);
    f->meta_keys = r1_xcalloc((size_t)n, sizeof(char *));
    f->meta_vals = r1_xcalloc((size_t)n, sizeof(char *));
    for (const cJSON *e = m->child; e; e = e->next) {
        if (!cJSON_IsString(e))
            return r1_seterr(err, "%s: __metadata__ \"%s\" must be a string", f->path, e->string);
        f->meta_keys[f->n_meta] = r1_xstrdup(e->string);
        f->meta_vals[f->n_meta++] = r1_xstrdup(e->valuestring);
    }
    return 0;
}

static int parse_entries(R1StFile *f, const cJSON *root, const uint8_t *base, size_t data_len,
                         R1Err *err) {
    f->tensors = r1_xcalloc((size_t)cJSON_GetArraySize(root), sizeof(R1StTensor));
    for (const cJSON *e = root->child; e; e = e->next) {
        if (strcmp(e->string, "__metadata__") == 0) {
            if (parse_meta(f, e, err) != 0) return -1;
            continue;
        }
        /* cJSON keeps duplicate keys; a second entry would be unreachable */
        if (r1_st_find(f, e->string))
            return r1_seterr(err, "%s: tensor \"%s\" appears twice in the header", f->path,
                             e->string);
        if (parse_tensor(&f->tensors[f->n_tensors], e, base, data_len, f->path, err) != 0)
            return -1;
        f->n_tensors++;
    }
    return 0;
}

static int cmp_offset(const void *a, const void *b) {
    const R1StTensor *x = *(const R1StTensor *const *)a, *y = *(const R1StTensor *const *)b;
    if (x->data != y->data) return x->data < y->data ? -1 : 1;
    return (x->nbytes > y->nbytes) - (x->nbytes < y->nbytes);
}

/* The tensors, sorted by offset, must cover the data section exactly. */
static int check_tiling(const R1StFile *f, const uint8_t *base, size_t data_len, R1Err *err) {
    const R1StTensor **order = r1_xcalloc((size_t)f->n_tensors, sizeof *order);
    for (int i = 0; i < f->n_tensors; i++) order[i] = &f->tensors[i];
    qsort(order, (size_t)f->n_tensors, sizeof *order, cmp_offset);
    size_t pos = 0;
    int rc = 0;
    for (int i = 0; i < f->n_tensors && rc == 0; i++) {
        size_t b = (size_t)(order[i]->data - base);
        if (b != pos)
            rc = r1_seterr(err,
                           "%s: tensor \"%s\" starts at data byte %zu but the previous tensor "
                           "ends at %zu (overlapping or gapped offsets)",
                           f->path, order[i]->name, b, pos);
        pos = b + order[i]->nbytes;
    }
    if (rc == 0 && pos != data_len)
        rc = r1_seterr(err, "%s: %zu bytes after the last tensor are not described by the header",
                       f->path, data_len - pos);
    free(order);
    return rc;
}

static int parse_header(R1StFile *f, R1Err *err) {
    const uint8_t *d = f->map.data;
    size_t len = f->map.len;
    if (len < 8)
        return r1_seterr(err, "%s: %zu bytes is too short for a safetensors file", f->path, len);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = n << 8 | d[i];
    if (n > ST_MAX_HEADER)
        return r1_seterr(err, "%s: header length %llu is over the 100 MB limit (corrupt file?)",
                         f->path, (unsigned long long)n);
    if (n > len - 8)
        return r1_seterr(err, "%s: header length %llu runs past the end of the file (%zu bytes)",
                         f->path, (unsigned long long)n, len);
    const char *hdr = (const char *)d + 8, *end = hdr;
    cJSON *root = cJSON_ParseWithLengthOpts(hdr, (size_t)n, &end, 0);
    if (!root)
        return r1_seterr(err, "%s: header is not valid JSON (near byte %ld)", f->path,
                         (long)(end - hdr));
    int rc = 0;
    /* only the space padding writers add may follow the JSON */
    for (const char *p = end; p < hdr + n && rc == 0; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
            rc = r1_seterr(err, "%s: unexpected bytes after the header JSON", f->path);
    if (rc == 0 && !cJSON_IsObject(root))
        rc = r1_seterr(err, "%s: header is not a JSON object", f->path);
    const uint8_t *base = d + 8 + n;
    size_t data_len = len - 8 - (size_t)n;
    if (rc == 0) rc = parse_entries(f, root, base, data_len, err);
    cJSON_Delete(root);
    if (rc == 0) rc = check_tiling(f, base, data_len, err);
    return rc;
}

int r1_st_open(R1StFile *f, const char *path, R1Err *err) {
    memset(f, 0, sizeof *f);
    f->path = r1_xstrdup(path);
    if (r1_map_file(&f->map, path, err) != 0 || parse_header(f, err) != 0) {
        r1_st_close(f);
        return -1;
    }
    return 0;
}

void r1_st_close(R1StFile *f) {
    for (int i = 0; i < f->n_tensors; i++) free(f->tensors[i].name);
    for (int i = 0; i < f->n_meta; i++) {
        free(f->meta_keys[i]);
        free(f->meta_vals[i]);
    }
    free(f->tensors);
    free(f->meta_keys);
    free(f->meta_vals);
    free(f->path);
    r1_unmap(&f->map);
    memset(f, 0, sizeof *f);
}

const R1StTensor *r1_st_find(const R1StFile *f, const char *name) {
    for (int i = 0; i < f->n_tensors; i++)
        if (strcmp(f->tensors[i].name, name) == 0) return &f->tensors[i];
    return NULL;
}

const char *r1_st_meta(const R1StFile *f, const char *key) {
    for (int i = 0; i < f->n_meta; i++)
        if (strcmp(f->meta_keys[i], key) == 0) return f->meta_vals[i];
    return NULL;
}

int r1_st_check_shape(const R1StTensor *t, const int64_t *shape, int ndim, const char *path,
                      R1Err *err) {
    int same = t->ndim == ndim;
    for (int i = 0; same && i < ndim; i++) same = t->shape[i] == shape[i];
    if (same) return 0;
    char want[256], got[256];
    fmt_shape(want, sizeof want, shape, ndim);
    fmt_shape(got, sizeof got, t->shape, t->ndim);
    return r1_seterr(err, "%s: tensor %s has shape %s, expected %s", path, t->name, got, want);
}

int r1_st_read_f32(const R1StFile *f, const char *name, const int64_t *shape, int ndim, float *out,
                   R1Err *err) {
    const R1StTensor *t = r1_st_find(f, name);
    if (!t) return r1_seterr(err, "%s: missing tensor %s", f->path, name);
    if (r1_st_check_shape(t, shape, ndim, f->path, err) != 0) return -1;
    return r1_st_to_f32(t, out, t->numel, f->path, err);
}

/* ---- writing ---- */

static size_t write_numel(const R1StWriteTensor *t) {
    size_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= (size_t)t->shape[i];
    return n;
}

static int check_write(const char *path, const R1StWriteTensor *ts, int n, R1Err *err) {
    for (int i = 0; i < n; i++) {
        const R1StWriteTensor *t = &ts[i];
        if (!t->name || !t->name[0] || strcmp(t->name, "__metadata__") == 0)
            return r1_seterr(err, "%s: tensor %d has no usable name", path, i);
        if (t->dtype != R1_F32 && t->dtype != R1_BF16)
            return r1_seterr(err, "%s: tensor \"%s\": r1c writes only F32 and BF16, not %s", path,
                             t->name, r1_dtype_name(t->dtype));
        if (t->ndim < 0 || t->ndim > R1_MAX_DIMS)
            return r1_seterr(err, "%s: tensor \"%s\" has %d dimensions", path, t->name, t->ndim);
        size_t bytes = 4;
        for (int d = 0; d < t->ndim; d++)
            if (t->shape[d] < 0 || __builtin_mul_overflow(bytes, (size_t)t->shape[d], &bytes))
                return r1_seterr(err, "%s: tensor \"%s\" has an impossible shape", path, t->name);
        if (!t->data && write_numel(t) > 0)
            return r1_seterr(err, "%s: tensor \"%s\" has no data", path, t->name);
        for (int j = 0; j < i; j++)
            if (strcmp(ts[j].name, t->name) == 0)
                return r1_seterr(err, "%s: tensor \"%s\" is given twice", path, t->name);
    }
    return 0;
}

static cJSON *json_uint(uint64_t v) {
    char buf[24];
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)v);
    return cJSON_CreateRaw(buf); /* exact, where a double would print 1e+15 */
}

/* The header JSON, padded with spaces so the data starts 8-byte aligned, as
 * the Python package does. meta_kv holds n_meta key, value pairs. */
static char *build_header(const R1StWriteTensor *ts, int n, const char *const *meta_kv, int n_meta,
                          size_t *len) {
    cJSON *root = cJSON_CreateObject();
    if (n_meta > 0) {
        cJSON *m = cJSON_AddObjectToObject(root, "__metadata__");
        for (int i = 0; i < n_meta; i++)
            cJSON_AddStringToObject(m, meta_kv[2 * i], meta_kv[2 * i + 1]);
    }
    uint64_t off = 0;
    for (int i = 0; i < n; i++) {
        const R1StWriteTensor *t = &ts[i];
        cJSON *e = cJSON_AddObjectToObject(root, t->name);
        cJSON_AddStringToObject(e, "dtype", r1_dtype_name(t->dtype));
        cJSON *shape = cJSON_AddArrayToObject(e, "shape");
        for (int d = 0; d < t->ndim; d++)
            cJSON_AddItemToArray(shape, json_uint((uint64_t)t->shape[d]));
        uint64_t end = off + write_numel(t) * r1_dtype_size(t->dtype);
        cJSON *offs = cJSON_AddArrayToObject(e, "data_offsets");
        cJSON_AddItemToArray(offs, json_uint(off));
        cJSON_AddItemToArray(offs, json_uint(end));
        off = end;
    }
    char *json = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    size_t n_json = strlen(json), padded = (n_json + 7) & ~(size_t)7;
    char *hdr = r1_xmalloc(padded);
    memcpy(hdr, json, n_json);
    memset(hdr + n_json, ' ', padded - n_json);
    cJSON_free(json);
    *len = padded;
    return hdr;
}

static int write_tensor_data(FILE *fp, const R1StWriteTensor *t) {
    size_t numel = write_numel(t);
    if (numel == 0) return 0; /* data may be NULL */
    if (t->dtype == R1_F32) return fwrite(t->data, 4, numel, fp) == numel ? 0 : -1;
    enum { CHUNK = 1 << 15 };
    uint16_t buf[CHUNK];
    for (size_t i = 0; i < numel; i += CHUNK) {
        size_t k = numel - i < CHUNK ? numel - i : CHUNK;
        for (size_t j = 0; j < k; j++) buf[j] = r1_f32_to_bf16(t->data[i + j]);
        if (fwrite(buf, 2, k, fp) != k) return -1;
    }
    return 0;
}

/* Streams to PATH.tmp.PID (a checkpoint does not fit in memory twice), then
 * fsync and rename so a crash never leaves a half-written PATH. */
static int write_stream(const char *path, const char *tmp, const char *hdr, size_t hlen,
                        const R1StWriteTensor *ts, int n, R1Err *err) {
    FILE *fp = fopen(tmp, "wb");
    if (!fp) return r1_seterr(err, "%s: %s", tmp, strerror(errno));
    uint8_t len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (uint8_t)((uint64_t)hlen >> (8 * i));
    int bad = fwrite(len8, 1, 8, fp) != 8 || fwrite(hdr, 1, hlen, fp) != hlen;
    for (int i = 0; i < n && !bad; i++) bad = write_tensor_data(fp, &ts[i]) != 0;
    bad = bad || fflush(fp) != 0 || fsync(fileno(fp)) != 0;
    int saved = errno;
    if (fclose(fp) != 0 && !bad) {
        bad = 1;
        saved = errno;
    }
    if (!bad && rename(tmp, path) == 0) return 0;
    if (!bad) saved = errno;
    unlink(tmp);
    return r1_seterr(err, "%s: write failed: %s", path, strerror(saved));
}

int r1_st_write(const char *path, const R1StWriteTensor *ts, int n, const char *const *meta_kv,
                int n_meta, R1Err *err) {
    if (check_write(path, ts, n, err) != 0) return -1;
    size_t hlen;
    char *hdr = build_header(ts, n, meta_kv, n_meta, &hlen);
    size_t tn = strlen(path) + 32;
    char *tmp = r1_xmalloc(tn);
    snprintf(tmp, tn, "%s.tmp.%ld", path, (long)getpid());
    int rc = write_stream(path, tmp, hdr, hlen, ts, n, err);
    free(tmp);
    free(hdr);
    return rc;
}

/* ---- checkpoint directories ---- */

static int open_single(R1StDir *d, R1Err *err) {
    char *path = r1_path_join(d->dir, "model.safetensors");
    int rc;
    if (access(path, F_OK) != 0)
        rc = r1_seterr(err, "%s: no model.safetensors or model.safetensors.index.json", d->dir);
    else {
        d->files = r1_xcalloc(1, sizeof(R1StFile));
        rc = r1_st_open(&d->files[0], path, err);
        d->n_files = rc == 0;
    }
    free(path);
    return rc;
}

/* Index of shard `name` among the files opened so far, or -1. */
static int shard_index(const R1StDir *d, const char *name) {
    size_t nd = strlen(d->dir);
    for (int i = 0; i < d->n_files; i++)
        if (strcmp(d->files[i].path + nd + 1, name) == 0) return i;
    return -1;
}

static int open_shard(R1StDir *d, const char *index, const cJSON *e, R1Err *err) {
    if (!cJSON_IsString(e) || !e->valuestring[0] || strchr(e->valuestring, '/'))
        return r1_seterr(err, "%s: tensor \"%s\" must map to a shard file name in this directory",
                         index, e->string);
    if (shard_index(d, e->valuestring) >= 0) return 0;
    char *path = r1_path_join(d->dir, e->valuestring);
    R1Err sub;
    int rc = r1_st_open(&d->files[d->n_files], path, &sub);
    free(path);
    if (rc != 0)
        return r1_seterr(err, "%s: shard \"%s\" (for tensor \"%s\"): %s", index, e->valuestring,
                         e->string, sub.msg);
    d->n_files++;
    return 0;
}

/* Each tensor the index names must be in its shard, and no tensor may be in
 * two shards (r1_stdir_find would pick one silently). */
static int check_shards(const R1StDir *d, const char *index, const cJSON *wm, R1Err *err) {
    for (const cJSON *e = wm->child; e; e = e->next) {
        int k = shard_index(d, e->valuestring);
        if (!r1_st_find(&d->files[k], e->string))
            return r1_seterr(err, "%s: tensor \"%s\" is listed in shard \"%s\" but is not in it",
                             index, e->string, e->valuestring);
    }
    for (int i = 1; i < d->n_files; i++)
        for (int j = 0; j < d->files[i].n_tensors; j++)
            for (int k = 0; k < i; k++)
                if (r1_st_find(&d->files[k], d->files[i].tensors[j].name))
                    return r1_seterr(err, "%s: tensor \"%s\" is in both %s and %s", d->dir,
                                     d->files[i].tensors[j].name, d->files[k].path,
                                     d->files[i].path);
    return 0;
}

static int open_index(R1StDir *d, const char *index, R1Err *err) {
    char *text = r1_read_file(index, NULL, err);
    if (!text) return -1;
    cJSON *root = cJSON_Parse(text);
    free(text);
    const cJSON *wm = cJSON_GetObjectItemCaseSensitive(root, "weight_map");
    int rc = 0;
    if (!cJSON_IsObject(wm))
        rc = r1_seterr(err, "%s: invalid JSON or no \"weight_map\" object", index);
    else {
        d->files = r1_xcalloc((size_t)cJSON_GetArraySize(wm), sizeof(R1StFile));
        for (const cJSON *e = wm->child; e && rc == 0; e = e->next)
            rc = open_shard(d, index, e, err);
        if (rc == 0) rc = check_shards(d, index, wm, err);
    }
    cJSON_Delete(root);
    return rc;
}

int r1_stdir_open(R1StDir *d, const char *dir, R1Err *err) {
    memset(d, 0, sizeof *d);
    d->dir = r1_xstrdup(dir);
    char *index = r1_path_join(dir, "model.safetensors.index.json");
    int rc = access(index, F_OK) == 0 ? open_index(d, index, err) : open_single(d, err);
    free(index);
    if (rc != 0) r1_stdir_close(d);
    return rc;
}

void r1_stdir_close(R1StDir *d) {
    for (int i = 0; i < d->n_files; i++) r1_st_close(&d->files[i]);
    free(d->files);
    free(d->dir);
    memset(d, 0, sizeof *d);
}

const R1StTensor *r1_stdir_find(const R1StDir *d, const char *name, const char **file) {
    for (int i = 0; i < d->n_files; i++) {
        const R1StTensor *t = r1_st_find(&d->files[i], name);
        if (t) {
            if (file) *file = d->files[i].path;
            return t;
        }
    }
    return NULL;
}
