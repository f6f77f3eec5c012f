/* cmd_gguf_info.c - `r1-model gguf-info`: what a GGUF file holds.
 *
 *   r1-model gguf-info --gguf FILE [--json] [--dequant OUT.safetensors]
 *
 * Prints the version, the alignment, every key/value (an array as its element type,
 * length and first elements) and every tensor (name, ggml type, ne in ggml order, data
 * offset, bytes); --json prints the same as one JSON object. --dequant also writes every
 * tensor dequantized to float32 into a safetensors file, under its GGUF name and with the
 * PyTorch-order shape (ne reversed). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds.h"
#include "gguf.h"
#include "jsonstr.h"
#include "safetensors.h"

#define HEAD 8 /* array elements shown */

static const char *usage =
    "usage: r1-model gguf-info --gguf FILE [--json] [--dequant OUT.safetensors]\n"
    "Prints a GGUF file's version, alignment, key/values (arrays as type, length and the\n"
    "first elements) and tensors (name, ggml type, ne in ggml order, data offset, bytes).\n"
    "  --json              one JSON object instead of text\n"
    "  --dequant OUT       also write every tensor as float32 to OUT (safetensors), with\n"
    "                      the GGUF tensor names and PyTorch-order shapes (ne reversed)\n";

typedef struct {
    char *p;
    size_t n, cap;
} Out;

static void out_put(Out *o, const char *s, size_t n) {
    if (o->n + n + 1 > o->cap) {
        while (o->n + n + 1 > o->cap) o->cap = o->cap ? 2 * o->cap : 4096;
        o->p = r1_xrealloc(o->p, o->cap);
    }
    memcpy(o->p + o->n, s, n);
    o->n += n;
    o->p[o->n] = 0;
}

static void out_fmt(Out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out_fmt(Out *o, const char *fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    out_put(o, buf, n < 0 ? 0 : (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

static void out_str(Out *o, const char *s, size_t n) {
    r1_json_string_write(s, n, &o->p, &o->n, &o->cap);
}

/* Element i of kv (a scalar is element 0) as JSON: numbers exact, strings escaped,
 * non-finite floats as null in JSON and as nan/inf in text. */
static void out_elem(Out *o, const R1GgufKV *kv, uint64_t i, int json) {
    const uint8_t *p = kv->data;
    switch (kv->etype) {
    case R1_GV_STR: {
        R1GgufStr s = r1_gguf_arr_str(kv, i);
        out_str(o, s.ptr ? s.ptr : "", (size_t)s.len);
        return;
    }
    case R1_GV_BOOL:
        out_put(o, p[i] ? "true" : "false", p[i] ? 4 : 5);
        return;
    case R1_GV_U64: {
        uint64_t v;
        memcpy(&v, p + 8 * i, 8);
        out_fmt(o, "%llu", (unsigned long long)v);
        return;
    }
    case R1_GV_F32:
    case R1_GV_F64: {
        double v = r1_gguf_arr_f64(kv, i);
        if (!isfinite(v) && json)
            out_put(o, "null", 4);
        else
            out_fmt(o, kv->etype == R1_GV_F32 ? "%.9g" : "%.17g", v);
        return;
    }
    default:
        out_fmt(o, "%lld", (long long)r1_gguf_arr_int(kv, i));
        return;
    }
}

static void out_array_head(Out *o, const R1GgufKV *kv, int json) {
    out_put(o, "[", 1);
    for (uint64_t i = 0; i < kv->n && i < HEAD; i++) {
        if (i) out_put(o, ", ", 2);
        out_elem(o, kv, i, json);
    }
    if (!json && kv->n > HEAD) out_put(o, ", ...", 5);
    out_put(o, "]", 1);
}

static void text_report(const R1Gguf *g, Out *o) {
    out_fmt(o, "%s\n", g->path);
    out_fmt(o, "GGUF version %u, alignment %llu, %lld key/values, %lld tensors, %zu bytes\n",
            g->version, (unsigned long long)g->alignment, (long long)g->n_kv,
            (long long)g->n_tensors, g->map.len);
    out_fmt(o, "key/values:\n");
    for (int64_t i = 0; i < g->n_kv; i++) {
        const R1GgufKV *kv = &g->kv[i];
        out_fmt(o, "  %s = ", kv->key);
        if (kv->type == R1_GV_ARRAY) {
            out_fmt(o, "array of %llu %s ", (unsigned long long)kv->n,
                    r1_gguf_vtype_name(kv->etype));
            out_array_head(o, kv, 0);
        } else {
            out_fmt(o, "%s ", r1_gguf_vtype_name(kv->type));
            out_elem(o, kv, 0, 0);
        }
        out_put(o, "\n", 1);
    }
    out_fmt(o, "tensors:\n");
    for (int64_t i = 0; i < g->n_tensors; i++) {
        const R1GgufTensor *t = &g->tensors[i];
        out_fmt(o, "  %s %s ne [", t->name, r1_ggml_type_name((int)t->type));
        for (int d = 0; d < t->ndim; d++) out_fmt(o, "%s%lld", d ? ", " : "", (long long)t->ne[d]);
        out_fmt(o, "] offset %llu bytes %zu\n", (unsigned long long)t->offset, t->nbytes);
    }
}

static void json_report(const R1Gguf *g, Out *o) {
    out_put(o, "{\"file\": ", 9);
    out_str(o, g->path, strlen(g->path));
    out_fmt(o,
            ", \"version\": %u, \"alignment\": %llu, \"bytes\": %zu, \"n_kv\": %lld, "
            "\"n_tensors\": %lld,\n\"kv\": [",
            g->version, (unsigned long long)g->alignment, g->map.len, (long long)g->n_kv,
            (long long)g->n_tensors);
    for (int64_t i = 0; i < g->n_kv; i++) {
        const R1GgufKV *kv = &g->kv[i];
        out_put(o, i ? ",\n  {\"key\": " : "\n  {\"key\": ", i ? 12 : 11);
        out_str(o, kv->key, strlen(kv->key));
        out_fmt(o, ", \"type\": \"%s\"", r1_gguf_vtype_name(kv->type));
        if (kv->type == R1_GV_ARRAY) {
            out_fmt(o, ", \"elem_type\": \"%s\", \"n\": %llu, \"head\": ",
                    r1_gguf_vtype_name(kv->etype), (unsigned long long)kv->n);
            out_array_head(o, kv, 1);
        } else {
            out_put(o, ", \"value\": ", 11);
            out_elem(o, kv, 0, 1);
        }
        out_put(o, "}", 1);
    }
    out_put(o, "],\n\"tensors\": [", 15);
    for (int64_t i = 0; i < g->n_tensors; i++) {
        const R1GgufTensor *t = &g->tensors[i];
        out_put(o, i ? ",\n  {\"name\": " : "\n  {\"name\": ", i ? 13 : 12);
        out_str(o, t->name, strlen(t->name));
        out_fmt(o, ", \"type\": \"%s\", \"ne\": [", r1_ggml_type_name((int)t->type));
        for (int d = 0; d < t->ndim; d++) out_fmt(o, "%s%lld", d ? ", " : "", (long long)t->ne[d]);
        out_fmt(o, "], \"offset\": %llu, \"nbytes\": %zu}", (unsigned long long)t->offset,
                t->nbytes);
    }
    out_put(o, "]}\n", 3);
}

static int dequant_all(const R1Gguf *g, const char *out, R1Err *err) {
    int n = (int)g->n_tensors;
    R1StWriteTensor *ts = r1_xcalloc(n ? (size_t)n : 1, sizeof *ts);
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        const R1GgufTensor *t = &g->tensors[i];
        float *buf = r1_falloc((size_t)t->numel);
        ts[i].name = t->name;
        ts[i].dtype = R1_F32;
        ts[i].ndim = t->ndim;
        for (int d = 0; d < t->ndim; d++) ts[i].shape[d] = t->ne[t->ndim - 1 - d];
        ts[i].data = buf;
        rc = r1_gguf_tensor_f32(g, t, buf, err);
    }
    if (rc == 0) rc = r1_st_write(out, ts, n, NULL, 0, err);
    for (int i = 0; i < n; i++) free((void *)ts[i].data);
    free(ts);
    return rc;
}

int cmd_gguf_info(int argc, char **argv) {
    const char *path = NULL, *dequant = NULL;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        if (!strcmp(f, "--json"))
            json = 1;
        else if (!strcmp(f, "--help") || !strcmp(f, "-h"))
            return fputs(usage, stdout), 0;
        else if (i + 1 < argc && !strcmp(f, "--gguf"))
            path = argv[++i];
        else if (i + 1 < argc && !strcmp(f, "--dequant"))
            dequant = argv[++i];
        else
            return fprintf(stderr, "r1-model gguf-info: unknown option %s\n%s", f, usage), 2;
    }
    if (!path) return fprintf(stderr, "r1-model gguf-info: needs --gguf FILE\n%s", usage), 2;
    R1Gguf g;
    R1Err err = {{0}};
    if (r1_gguf_open(&g, path, &err) != 0) {
        fprintf(stderr, "r1-model gguf-info: %s\n", err.msg);
        return 1;
    }
    Out o = {0};
    if (json)
        json_report(&g, &o);
    else
        text_report(&g, &o);
    fwrite(o.p, 1, o.n, stdout);
    free(o.p);
    int rc = 0;
    if (dequant && dequant_all(&g, dequant, &err) != 0) {
        fprintf(stderr, "r1-model gguf-info: %s\n", err.msg);
        rc = 1;
    }
    r1_gguf_close(&g);
    return rc;
}
