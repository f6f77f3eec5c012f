/* test_gguf.c - the GGUF reader, writer, dequantizers and quantizers (core/gguf.h).
 *
 * Bad files are built byte by byte here (independently of the writer); the
 * dequantizers are checked on hand-built blocks against values worked out from the
 * block layouts of ggml-common.h. tests/test_gguf_dequant.sh checks the same code
 * bit-exactly against the gguf Python package on files llama.cpp quantized. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "rng.h"
#define TMPDIR_TEMPLATE "/tmp/r1c_test_gguf_XXXXXX"
#include "tmpdir.h"

static uint8_t *read_bytes(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = malloc(*n ? *n : 1);
    assert_int_equal(fread(p, 1, *n, f), *n);
    fclose(f);
    return p;
}

static uint32_t fbits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float bitsf(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* ---- a byte builder for hand-made files ---- */

typedef struct {
    uint8_t *p;
    size_t n, cap;
} B;

static void b_put(B *b, const void *d, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
    }
    if (n) memcpy(b->p + b->n, d, n);
    b->n += n;
}
static void b_u8(B *b, uint8_t v) {
    b_put(b, &v, 1);
}
static void b_u32(B *b, uint32_t v) {
    b_put(b, &v, 4);
}
static void b_u64(B *b, uint64_t v) {
    b_put(b, &v, 8);
}
static void b_str(B *b, const char *s) {
    b_u64(b, strlen(s));
    b_put(b, s, strlen(s));
}
static void b_head(B *b, uint32_t version, uint64_t n_tensors, uint64_t n_kv) {
    b_put(b, "GGUF", 4);
    b_u32(b, version);
    b_u64(b, n_tensors);
    b_u64(b, n_kv);
}
static void b_kv_u32(B *b, const char *key, uint32_t v) {
    b_str(b, key);
    b_u32(b, R1_GV_U32);
    b_u32(b, v);
}
static void b_kv_str(B *b, const char *key, const char *v) {
    b_str(b, key);
    b_u32(b, R1_GV_STR);
    b_str(b, v);
}
/* a 1-d tensor info */
static void b_tensor(B *b, const char *name, uint64_t ne0, uint32_t type, uint64_t offset) {
    b_str(b, name);
    b_u32(b, 1);
    b_u64(b, ne0);
    b_u32(b, type);
    b_u64(b, offset);
}
static void b_pad(B *b, size_t a) {
    while (b->n % a) b_u8(b, 0);
}
static void b_zeros(B *b, size_t n) {
    for (size_t i = 0; i < n; i++) b_u8(b, 0);
}
static const char *b_file(B *b, const char *name) {
    const char *path = tpath(name);
    write_bytes(path, b->p, b->n);
    free(b->p);
    memset(b, 0, sizeof *b);
    return path;
}

/* Opening path fails cleanly; the message names the file, `what` and `what2`. */
static void expect_open_error(const char *path, const char *what, const char *what2) {
    R1Gguf g;
    R1Err err = {{0}};
    int rc = r1_gguf_open(&g, path, &err);
    if (rc != -1 || !strstr(err.msg, path) || (what && !strstr(err.msg, what)) ||
        (what2 && !strstr(err.msg, what2)))
        fail_msg("%s: rc %d, message \"%s\" (wanted \"%s\", \"%s\")", path, rc, err.msg,
                 what ? what : "", what2 ? what2 : "");
    assert_null(g.kv);
    assert_null(g.tensors);
    assert_null(g.path);
}

static void open_ok(R1Gguf *g, const char *path) {
    R1Err err;
    if (r1_gguf_open(g, path, &err) != 0) fail_msg("%s", err.msg);
}

/* ---- round trips ---- */

static void test_round_trip_values(void **state) {
    (void)state;
    R1GgufWriter *w = r1_gguf_writer_new();
    r1_gguf_put_str(w, "general.architecture", "llama");
    r1_gguf_put_u32(w, "a.u32", 4000000000u);
    r1_gguf_put_i32(w, "a.i32", -123456);
    r1_gguf_put_f32(w, "a.f32", 0.1f);
    r1_gguf_put_bool(w, "a.bool", 1);
    r1_gguf_put_bool(w, "a.false", 0);
    r1_gguf_put_u64(w, "a.u64", 0xFFFFFFFFFFFFFFFFull);
    uint8_t u8 = 200;
    int8_t i8 = -100;
    uint16_t u16 = 60000;
    int16_t i16 = -30000;
    int64_t i64 = -((int64_t)1 << 60);
    double f64 = 1.0 / 3.0;
    uint64_t u64small = 77;
    r1_gguf_put_value(w, "a.u8", R1_GV_U8, &u8);
    r1_gguf_put_value(w, "a.i8", R1_GV_I8, &i8);
    r1_gguf_put_value(w, "a.u16", R1_GV_U16, &u16);
    r1_gguf_put_value(w, "a.i16", R1_GV_I16, &i16);
    r1_gguf_put_value(w, "a.i64", R1_GV_I64, &i64);
    r1_gguf_put_value(w, "a.f64", R1_GV_F64, &f64);
    r1_gguf_put_value(w, "a.u64small", R1_GV_U64, &u64small);
    /* string array: any bytes, including NUL and the empty string */
    const char *strs[] = {"hello", "", "a\0b", "\xff\xfe"};
    const size_t lens[] = {5, 0, 3, 2};
    r1_gguf_put_str_arr(w, "arr.str", strs, lens, 4);
    const char *strs2[] = {"x", "yz"};
    r1_gguf_put_str_arr(w, "arr.str_nolen", strs2, NULL, 2);
    const int32_t i32s[] = {-1, 0, 1, 2147483647, -2147483647 - 1};
    r1_gguf_put_i32_arr(w, "arr.i32", i32s, 5);
    const uint8_t au8[] = {0, 255, 7};
    const int8_t ai8[] = {-128, 127};
    const uint16_t au16[] = {65535, 1};
    const int16_t ai16[] = {-32768, 32767};
    const uint32_t au32[] = {4294967295u};
    const float af32[] = {1.5f, -0.0f, 1e-30f};
    const uint8_t abool[] = {1, 0, 1};
    const uint64_t au64[] = {1, (uint64_t)1 << 62};
    const int64_t ai64[] = {-5, INT64_MAX};
    const double af64[] = {2.5, -1e300};
    r1_gguf_put_arr(w, "arr.u8", R1_GV_U8, au8, 3);
    r1_gguf_put_arr(w, "arr.i8", R1_GV_I8, ai8, 2);
    r1_gguf_put_arr(w, "arr.u16", R1_GV_U16, au16, 2);
    r1_gguf_put_arr(w, "arr.i16", R1_GV_I16, ai16, 2);
    r1_gguf_put_arr(w, "arr.u32", R1_GV_U32, au32, 1);
    r1_gguf_put_arr(w, "arr.f32", R1_GV_F32, af32, 3);
    r1_gguf_put_arr(w, "arr.bool", R1_GV_BOOL, abool, 3);
    r1_gguf_put_arr(w, "arr.u64", R1_GV_U64, au64, 2);
    r1_gguf_put_arr(w, "arr.i64", R1_GV_I64, ai64, 2);
    r1_gguf_put_arr(w, "arr.f64", R1_GV_F64, af64, 2);
    r1_gguf_put_arr(w, "arr.empty", R1_GV_U32, NULL, 0);
    r1_gguf_put_str_arr(w, "arr.empty_str", NULL, NULL, 0);
    /* putting a key again replaces its value and keeps its place */
    r1_gguf_put_str(w, "general.architecture", "qwen2");

    /* tensors of every writable kind */
    float f[12];
    for (int i = 0; i < 12; i++) f[i] = (float)i * 0.25f - 1.0f;
    const int64_t ne_f32[2] = {4, 3}, ne_q8[2] = {32, 2}, ne_k[1] = {256}, ne_odd[1] = {5};
    uint8_t f16[24], bf16[24], q8[68], qk[144], f32odd[20];
    assert_int_equal(r1_ggml_quant(R1_GGML_F16, f, f16, 12), 24);
    assert_int_equal(r1_ggml_quant(R1_GGML_BF16, f, bf16, 12), 24);
    float q8src[64];
    for (int i = 0; i < 64; i++) q8src[i] = sinf((float)i);
    assert_int_equal(r1_ggml_quant(R1_GGML_Q8_0, q8src, q8, 64), 68);
    for (int i = 0; i < 144; i++) qk[i] = (uint8_t)(i * 37 + 11);
    qk[0] = 0x00, qk[1] = 0x3C; /* d = 1 */
    qk[2] = 0x00, qk[3] = 0x38; /* dmin = 0.5 */
    for (int i = 0; i < 20; i++) f32odd[i] = (uint8_t)i;
    r1_gguf_add_tensor(w, "w.f32", R1_GGML_F32, 2, ne_f32, f);
    r1_gguf_add_tensor(w, "w.f16", R1_GGML_F16, 2, ne_f32, f16);
    r1_gguf_add_tensor(w, "w.bf16", R1_GGML_BF16, 2, ne_f32, bf16);
    r1_gguf_add_tensor(w, "w.q8", R1_GGML_Q8_0, 2, ne_q8, q8);
    r1_gguf_add_tensor(w, "w.odd", R1_GGML_F32, 1, ne_odd, f32odd); /* 20 bytes: padded */
    r1_gguf_add_tensor(w, "w.q4k", R1_GGML_Q4_K, 1, ne_k, qk);
    R1Err err;
    const char *path = tpath("values.gguf");
    if (r1_gguf_write(w, path, &err) != 0) fail_msg("%s", err.msg);
    r1_gguf_writer_free(w);

    /* no temporary file is left behind */
    DIR *dir = opendir(tmpdir);
    for (struct dirent *e; (e = readdir(dir));) assert_null(strstr(e->d_name, ".tmp."));
    closedir(dir);

    R1Gguf g;
    open_ok(&g, path);
    assert_int_equal(g.version, 3);
    assert_int_equal(g.alignment, 32);
    assert_int_equal(g.n_kv, 29);
    assert_string_equal(g.kv[0].key, "general.architecture"); /* insertion order */
    assert_string_equal(g.kv[1].key, "a.u32");
    assert_string_equal(g.kv[28].key, "arr.empty_str");

    int64_t v;
    double d;
    int b;
    R1GgufStr s;
    assert_int_equal(r1_gguf_str(&g, "general.architecture", &s, &err), 1);
    assert_int_equal(s.len, 5);
    assert_memory_equal(s.ptr, "qwen2", 5);
    char *dup = r1_gguf_strdup(&g, "general.architecture");
    assert_string_equal(dup, "qwen2");
    free(dup);
    assert_null(r1_gguf_strdup(&g, "a.u32"));
    assert_null(r1_gguf_strdup(&g, "missing"));
    assert_int_equal(r1_gguf_int(&g, "a.u32", &v, &err), 1);
    assert_int_equal(v, 4000000000LL);
    assert_int_equal(r1_gguf_int(&g, "a.i32", &v, &err), 1);
    assert_int_equal(v, -123456);
    assert_int_equal(r1_gguf_int(&g, "a.u8", &v, &err), 1);
    assert_int_equal(v, 200);
    assert_int_equal(r1_gguf_int(&g, "a.i8", &v, &err), 1);
    assert_int_equal(v, -100);
    assert_int_equal(r1_gguf_int(&g, "a.u16", &v, &err), 1);
    assert_int_equal(v, 60000);
    assert_int_equal(r1_gguf_int(&g, "a.i16", &v, &err), 1);
    assert_int_equal(v, -30000);
    assert_int_equal(r1_gguf_int(&g, "a.i64", &v, &err), 1);
    assert_true(v == -((int64_t)1 << 60));
    assert_int_equal(r1_gguf_int(&g, "a.u64small", &v, &err), 1);
    assert_int_equal(v, 77);
    assert_int_equal(r1_gguf_f64(&g, "a.f32", &d, &err), 1);
    assert_true(d == (double)0.1f);
    assert_int_equal(r1_gguf_f64(&g, "a.f64", &d, &err), 1);
    assert_true(d == 1.0 / 3.0);
    assert_int_equal(r1_gguf_f64(&g, "a.i32", &d, &err), 1);
    assert_true(d == -123456.0);
    assert_int_equal(r1_gguf_bool(&g, "a.bool", &b, &err), 1);
    assert_int_equal(b, 1);
    assert_int_equal(r1_gguf_bool(&g, "a.false", &b, &err), 1);
    assert_int_equal(b, 0);
    /* absent: 0; wrong type or out of range: -1 naming the file and the key */
    assert_int_equal(r1_gguf_int(&g, "missing", &v, &err), 0);
    assert_int_equal(r1_gguf_f64(&g, "missing", &d, &err), 0);
    assert_int_equal(r1_gguf_bool(&g, "missing", &b, &err), 0);
    assert_int_equal(r1_gguf_str(&g, "missing", &s, &err), 0);
    assert_int_equal(r1_gguf_int(&g, "a.u64", &v, &err), -1);
    assert_non_null(strstr(err.msg, path));
    assert_non_null(strstr(err.msg, "a.u64"));
    assert_int_equal(r1_gguf_int(&g, "a.f32", &v, &err), -1);
    assert_non_null(strstr(err.msg, "\"a.f32\""));
    assert_non_null(strstr(err.msg, path));
    assert_int_equal(r1_gguf_int(&g, "arr.i32", &v, &err), -1);
    assert_non_null(strstr(err.msg, "arr.i32"));
    assert_int_equal(r1_gguf_str(&g, "a.u32", &s, &err), -1);
    assert_non_null(strstr(err.msg, "a.u32"));
    assert_int_equal(r1_gguf_bool(&g, "a.u8", &b, &err), -1);
    assert_non_null(strstr(err.msg, "a.u8"));
    assert_int_equal(r1_gguf_f64(&g, "general.architecture", &d, &err), -1);
    assert_non_null(strstr(err.msg, "general.architecture"));

    /* arrays */
    const R1GgufKV *kv = r1_gguf_find(&g, "arr.str");
    assert_non_null(kv);
    assert_int_equal(kv->type, R1_GV_ARRAY);
    assert_int_equal(kv->etype, R1_GV_STR);
    assert_int_equal(kv->n, 4);
    assert_non_null(kv->elem);
    for (int i = 0; i < 4; i++) {
        R1GgufStr e = r1_gguf_arr_str(kv, (uint64_t)i);
        assert_int_equal(e.len, lens[i]);
        if (lens[i]) assert_memory_equal(e.ptr, strs[i], lens[i]);
    }
    assert_null(r1_gguf_arr_str(kv, 4).ptr);
    kv = r1_gguf_find(&g, "arr.str_nolen");
    assert_int_equal(r1_gguf_arr_str(kv, 1).len, 2);
    assert_memory_equal(r1_gguf_arr_str(kv, 1).ptr, "yz", 2);
    kv = r1_gguf_find(&g, "arr.i32");
    assert_int_equal(kv->etype, R1_GV_I32);
    assert_null(kv->elem);
    for (int i = 0; i < 5; i++) assert_true(r1_gguf_arr_int(kv, (uint64_t)i) == i32s[i]);
    assert_null(r1_gguf_arr_str(kv, 0).ptr); /* wrong accessor */
    kv = r1_gguf_find(&g, "arr.u8");
    assert_int_equal(r1_gguf_arr_int(kv, 1), 255);
    kv = r1_gguf_find(&g, "arr.i8");
    assert_int_equal(r1_gguf_arr_int(kv, 0), -128);
    kv = r1_gguf_find(&g, "arr.u16");
    assert_int_equal(r1_gguf_arr_int(kv, 0), 65535);
    kv = r1_gguf_find(&g, "arr.i16");
    assert_int_equal(r1_gguf_arr_int(kv, 0), -32768);
    kv = r1_gguf_find(&g, "arr.u32");
    assert_int_equal(r1_gguf_arr_int(kv, 0), 4294967295LL);
    kv = r1_gguf_find(&g, "arr.f32");
    assert_true(r1_gguf_arr_f64(kv, 0) == 1.5);
    assert_true(signbit(r1_gguf_arr_f64(kv, 1)));
    assert_true(r1_gguf_arr_f64(kv, 2) == (double)1e-30f);
    kv = r1_gguf_find(&g, "arr.bool");
    assert_int_equal(kv->etype, R1_GV_BOOL);
    assert_memory_equal(kv->data, abool, 3);
    kv = r1_gguf_find(&g, "arr.u64");
    assert_true(r1_gguf_arr_int(kv, 1) == (int64_t)1 << 62);
    kv = r1_gguf_find(&g, "arr.i64");
    assert_true(r1_gguf_arr_int(kv, 1) == INT64_MAX);
    kv = r1_gguf_find(&g, "arr.f64");
    assert_true(r1_gguf_arr_f64(kv, 1) == -1e300);
    kv = r1_gguf_find(&g, "arr.empty");
    assert_int_equal(kv->n, 0);
    kv = r1_gguf_find(&g, "arr.empty_str");
    assert_int_equal(kv->n, 0);
    assert_int_equal(kv->etype, R1_GV_STR);
    /* a scalar string through the array accessor */
    assert_int_equal(r1_gguf_arr_str(r1_gguf_find(&g, "general.architecture"), 0).len, 5);

    /* tensors */
    assert_int_equal(g.n_tensors, 6);
    const R1GgufTensor *t = r1_gguf_tensor(&g, "w.f32");
    assert_non_null(t);
    assert_null(r1_gguf_tensor(&g, "w.nope"));
    assert_int_equal(t->type, R1_GGML_F32);
    assert_int_equal(t->ndim, 2);
    assert_int_equal(t->ne[0], 4);
    assert_int_equal(t->ne[1], 3);
    assert_int_equal(t->ne[2], 1);
    assert_int_equal(t->numel, 12);
    assert_int_equal(t->nbytes, 48);
    assert_memory_equal(t->data, f, 48);
    for (int64_t i = 0; i < g.n_tensors; i++) {
        assert_int_equal(g.tensors[i].offset % 32, 0);
        assert_int_equal((size_t)(g.tensors[i].data - g.map.data) % 32, 0);
    }
    float out[256];
    const char *same[] = {"w.f32", "w.f16", "w.bf16"};
    for (int k = 0; k < 3; k++) { /* these values are exact in f16 and bf16 */
        t = r1_gguf_tensor(&g, same[k]);
        assert_int_equal(r1_gguf_tensor_f32(&g, t, out, &err), 0);
        assert_memory_equal(out, f, sizeof f);
    }
    t = r1_gguf_tensor(&g, "w.q8");
    assert_int_equal(t->nbytes, 68);
    assert_memory_equal(t->data, q8, 68);
    t = r1_gguf_tensor(&g, "w.odd");
    assert_memory_equal(t->data, f32odd, 20);
    t = r1_gguf_tensor(&g, "w.q4k");
    assert_int_equal(t->type, R1_GGML_Q4_K);
    assert_int_equal(t->nbytes, 144);
    assert_memory_equal(t->data, qk, 144);
    r1_gguf_close(&g);
    assert_null(g.kv);
}

/* The alignment put by the caller is used; the data of a v2 file reads the same. */
static void test_alignment_and_v2(void **state) {
    (void)state;
    R1GgufWriter *w = r1_gguf_writer_new();
    r1_gguf_put_u32(w, "general.alignment", 64);
    float a[3] = {1, 2, 3}, b[16];
    for (int i = 0; i < 16; i++) b[i] = (float)i;
    int64_t ne3[1] = {3}, ne16[1] = {16};
    r1_gguf_add_tensor(w, "a", R1_GGML_F32, 1, ne3, a);
    r1_gguf_add_tensor(w, "b", R1_GGML_F32, 1, ne16, b);
    R1Err err;
    const char *path = tpath("align64.gguf");
    if (r1_gguf_write(w, path, &err) != 0) fail_msg("%s", err.msg);
    r1_gguf_writer_free(w);
    R1Gguf g;
    open_ok(&g, path);
    assert_int_equal(g.alignment, 64);
    const R1GgufTensor *t = r1_gguf_tensor(&g, "b");
    assert_int_equal(t->offset, 64);
    assert_int_equal((size_t)(t->data - g.map.data) % 64, 0);
    assert_memory_equal(t->data, b, sizeof b);
    r1_gguf_close(&g);

    /* the same layout as version 2 */
    size_t n;
    uint8_t *bytes = read_bytes(path, &n);
    bytes[4] = 2;
    write_bytes(tpath("v2.gguf"), bytes, n);
    free(bytes);
    open_ok(&g, tpath("v2.gguf"));
    assert_int_equal(g.version, 2);
    assert_memory_equal(r1_gguf_tensor(&g, "a")->data, a, sizeof a);
    r1_gguf_close(&g);

    /* a file of key/values only */
    w = r1_gguf_writer_new();
    r1_gguf_put_str(w, "k", "v");
    path = tpath("kvonly.gguf");
    if (r1_gguf_write(w, path, &err) != 0) fail_msg("%s", err.msg);
    r1_gguf_writer_free(w);
    open_ok(&g, path);
    assert_int_equal(g.n_tensors, 0);
    assert_int_equal(g.n_kv, 1);
    r1_gguf_close(&g);
}

/* A tokenizer-sized string array: indexed in one pass, every element reachable. */
static void test_big_string_array(void **state) {
    (void)state;
    enum { N = 150000 };
    char **vals = malloc(N * sizeof *vals);
    for (int i = 0; i < N; i++) {
        vals[i] = malloc(16);
        snprintf(vals[i], 16, "tok%d", i);
    }
    R1GgufWriter *w = r1_gguf_writer_new();
    r1_gguf_put_str_arr(w, "tokenizer.ggml.tokens", (const char *const *)vals, NULL, N);
    R1Err err;
    const char *path = tpath("big.gguf");
    if (r1_gguf_write(w, path, &err) != 0) fail_msg("%s", err.msg);
    r1_gguf_writer_free(w);
    R1Gguf g;
    open_ok(&g, path);
    const R1GgufKV *kv = r1_gguf_find(&g, "tokenizer.ggml.tokens");
    assert_int_equal(kv->n, N);
    for (int i = 0; i < N; i++) {
        R1GgufStr s = r1_gguf_arr_str(kv, (uint64_t)i);
        assert_int_equal(s.len, strlen(vals[i]));
        assert_memory_equal(s.ptr, vals[i], s.len);
    }
    r1_gguf_close(&g);
    for (int i = 0; i < N; i++) free(vals[i]);
    free(vals);
}

/* ---- bad files ---- */

static void test_bad_header(void **state) {
    (void)state;
    B b = {0};
    write_bytes(tpath("empty.gguf"), "", 0);
    expect_open_error(tpath("empty.gguf"), "not a GGUF file", NULL);
    write_bytes(tpath("short.gguf"), "GG", 2);
    expect_open_error(tpath("short.gguf"), "not a GGUF file", NULL);
    b_head(&b, 3, 0, 0);
    b.p[0] = 'X';
    expect_open_error(b_file(&b, "magic.gguf"), "not a GGUF file", "58 47 55 46");
    b_head(&b, 1, 0, 0);
    expect_open_error(b_file(&b, "v1.gguf"), "version 1", NULL);
    b_head(&b, 4, 0, 0);
    expect_open_error(b_file(&b, "v4.gguf"), "version 4", NULL);
    b_head(&b, 0x03000000, 0, 0);
    expect_open_error(b_file(&b, "be.gguf"), "big-endian", NULL);
    /* counts no file of this size can hold */
    b_head(&b, 3, 0, (uint64_t)1 << 60);
    expect_open_error(b_file(&b, "nkv.gguf"), "key/values", NULL);
    b_head(&b, 3, (uint64_t)1 << 62, 0);
    expect_open_error(b_file(&b, "ntensor.gguf"), "tensors", NULL);
}

static void test_bad_kvs(void **state) {
    (void)state;
    B b = {0};
    /* a string value whose length runs past the end */
    b_head(&b, 3, 0, 1);
    b_str(&b, "general.name");
    b_u32(&b, R1_GV_STR);
    b_u64(&b, 1000);
    b_put(&b, "abc", 3);
    expect_open_error(b_file(&b, "strlen.gguf"), "\"general.name\"", "past the end");
    /* a key whose length runs past the end */
    b_head(&b, 3, 0, 1);
    b_u64(&b, (uint64_t)1 << 40);
    b_put(&b, "key", 3);
    b_zeros(&b, 32);
    expect_open_error(b_file(&b, "keylen.gguf"), "key/value #0", "past the end");
    /* a string element of an array whose length runs past the end */
    b_head(&b, 3, 0, 1);
    b_str(&b, "tokenizer.ggml.tokens");
    b_u32(&b, R1_GV_ARRAY);
    b_u32(&b, R1_GV_STR);
    b_u64(&b, 2);
    b_str(&b, "ok");
    b_u64(&b, 99);
    b_put(&b, "xy", 2);
    expect_open_error(b_file(&b, "elemlen.gguf"), "\"tokenizer.ggml.tokens\"", "element 1");
    /* more array elements than bytes */
    b_head(&b, 3, 0, 1);
    b_str(&b, "arr");
    b_u32(&b, R1_GV_ARRAY);
    b_u32(&b, R1_GV_U32);
    b_u64(&b, (uint64_t)1 << 61);
    b_u32(&b, 0);
    expect_open_error(b_file(&b, "arrlen.gguf"), "\"arr\"", "past the end");
    b_head(&b, 3, 0, 1);
    b_str(&b, "arr");
    b_u32(&b, R1_GV_ARRAY);
    b_u32(&b, R1_GV_STR);
    b_u64(&b, (uint64_t)1 << 61);
    b_u32(&b, 0);
    expect_open_error(b_file(&b, "strarrlen.gguf"), "\"arr\"", "strings");
    /* an unknown value type, an unknown element type, nested arrays */
    b_head(&b, 3, 0, 1);
    b_str(&b, "odd");
    b_u32(&b, 13);
    b_u32(&b, 0);
    expect_open_error(b_file(&b, "vtype.gguf"), "\"odd\"", "value type 13");
    b_head(&b, 3, 0, 1);
    b_str(&b, "odd");
    b_u32(&b, R1_GV_ARRAY);
    b_u32(&b, 77);
    b_u64(&b, 0);
    expect_open_error(b_file(&b, "etype.gguf"), "\"odd\"", "77");
    b_head(&b, 3, 0, 1);
    b_str(&b, "nested");
    b_u32(&b, R1_GV_ARRAY);
    b_u32(&b, R1_GV_ARRAY);
    b_u64(&b, 1);
    b_u32(&b, R1_GV_U8);
    b_u64(&b, 1);
    b_u8(&b, 0);
    expect_open_error(b_file(&b, "nested.gguf"), "\"nested\"", "arrays of arrays");
    /* duplicate and empty keys */
    b_head(&b, 3, 0, 2);
    b_kv_u32(&b, "x", 1);
    b_kv_u32(&b, "x", 2);
    expect_open_error(b_file(&b, "dupkey.gguf"), "\"x\"", "twice");
    b_head(&b, 3, 0, 1);
    b_kv_u32(&b, "", 1);
    expect_open_error(b_file(&b, "emptykey.gguf"), "key/value #0", "empty");
    /* a scalar cut short */
    b_head(&b, 3, 0, 1);
    b_str(&b, "f");
    b_u32(&b, R1_GV_F64);
    b_u32(&b, 0);
    expect_open_error(b_file(&b, "short_f64.gguf"), "\"f\"", "truncated");
}

static void test_bad_alignment(void **state) {
    (void)state;
    B b = {0};
    b_head(&b, 3, 0, 1);
    b_kv_u32(&b, "general.alignment", 48);
    expect_open_error(b_file(&b, "align48.gguf"), "\"general.alignment\"", "power of two");
    b_head(&b, 3, 0, 1);
    b_kv_u32(&b, "general.alignment", 0);
    expect_open_error(b_file(&b, "align0.gguf"), "\"general.alignment\"", "power of two");
    b_head(&b, 3, 0, 1);
    b_str(&b, "general.alignment");
    b_u32(&b, R1_GV_I32);
    b_u32(&b, 32);
    expect_open_error(b_file(&b, "aligni32.gguf"), "\"general.alignment\"", "u32");
}

/* One F32 tensor "t" of `ne0` elements with the given type and offset, data section of
 * `ndata` bytes. */
static const char *one_tensor(const char *file, const char *name, uint64_t ne0, uint32_t type,
                              uint64_t offset, size_t ndata) {
    B b = {0};
    b_head(&b, 3, 1, 1);
    b_kv_str(&b, "general.architecture", "llama");
    b_tensor(&b, name, ne0, type, offset);
    b_pad(&b, 32);
    b_zeros(&b, ndata);
    return b_file(&b, file);
}

static void test_bad_tensors(void **state) {
    (void)state;
    /* a good one first */
    R1Gguf g;
    open_ok(&g, one_tensor("good1.gguf", "blk.0.w", 8, R1_GGML_F32, 0, 32));
    r1_gguf_close(&g);
    expect_open_error(one_tensor("past.gguf", "blk.0.w", 8, R1_GGML_F32, 0, 31), "\"blk.0.w\"",
                      "past the end");
    expect_open_error(one_tensor("offpast.gguf", "blk.0.w", 8, R1_GGML_F32, 64, 32), "\"blk.0.w\"",
                      "past the end");
    expect_open_error(
        one_tensor("offhuge.gguf", "blk.0.w", 8, R1_GGML_F32, 0xFFFFFFFFFFFFFFE0ull, 32),
        "\"blk.0.w\"", "past the end");
    expect_open_error(one_tensor("type99.gguf", "blk.0.w", 8, 99, 0, 32), "\"blk.0.w\"", "type 99");
    expect_open_error(one_tensor("q2k.gguf", "blk.0.w", 256, 10, 0, 84), "\"blk.0.w\"", "Q2_K");
    expect_open_error(one_tensor("misaligned.gguf", "blk.0.w", 8, R1_GGML_F32, 16, 64),
                      "\"blk.0.w\"", "not a multiple of the alignment");
    expect_open_error(one_tensor("partial.gguf", "blk.0.w", 40, R1_GGML_Q8_0, 0, 68), "\"blk.0.w\"",
                      "blocks");
    /* five dimensions, a huge dimension, a duplicated name */
    B b = {0};
    b_head(&b, 3, 1, 0);
    b_str(&b, "w5");
    b_u32(&b, 5);
    for (int i = 0; i < 5; i++) b_u64(&b, 1);
    b_u32(&b, 0);
    b_u64(&b, 0);
    b_pad(&b, 32);
    b_zeros(&b, 32);
    expect_open_error(b_file(&b, "ndim5.gguf"), "\"w5\"", "5 dimensions");
    b_head(&b, 3, 1, 0);
    b_str(&b, "big");
    b_u32(&b, 2);
    b_u64(&b, (uint64_t)1 << 40);
    b_u64(&b, (uint64_t)1 << 40);
    b_u32(&b, 0);
    b_u64(&b, 0);
    b_pad(&b, 32);
    expect_open_error(b_file(&b, "bigdim.gguf"), "\"big\"", "large");
    b_head(&b, 3, 2, 0);
    b_tensor(&b, "same", 8, 0, 0);
    b_tensor(&b, "same", 8, 0, 32);
    b_pad(&b, 32);
    b_zeros(&b, 64);
    expect_open_error(b_file(&b, "duptensor.gguf"), "\"same\"", "twice");
    /* two tensors sharing bytes (a small file claiming more data than it has) */
    b_head(&b, 3, 2, 0);
    b_tensor(&b, "first", 16, 0, 0);
    b_tensor(&b, "second", 8, 0, 32);
    b_pad(&b, 32);
    b_zeros(&b, 64);
    expect_open_error(b_file(&b, "overlap.gguf"), "\"first\" and \"second\"", "overlap");
    b_head(&b, 3, 1, 0);
    b_u64(&b, 0);
    b_zeros(&b, 64);
    expect_open_error(b_file(&b, "emptyname.gguf"), "tensor #0", "empty");
}

/* Every proper prefix of a valid file fails cleanly (run under ASan by make test-asan). */
static void test_truncated_prefixes(void **state) {
    (void)state;
    R1GgufWriter *w = r1_gguf_writer_new();
    r1_gguf_put_str(w, "general.architecture", "llama");
    r1_gguf_put_u32(w, "llama.block_count", 2);
    const char *toks[] = {"a", "bc", "<s>"};
    r1_gguf_put_str_arr(w, "tokenizer.ggml.tokens", toks, NULL, 3);
    const int32_t ty[] = {1, 1, 3};
    r1_gguf_put_i32_arr(w, "tokenizer.ggml.token_type", ty, 3);
    float x[64];
    for (int i = 0; i < 64; i++) x[i] = (float)i;
    uint8_t q8[34];
    r1_ggml_quant(R1_GGML_Q8_0, x, q8, 32);
    int64_t ne32[1] = {32}, ne8[1] = {8};
    r1_gguf_add_tensor(w, "q", R1_GGML_Q8_0, 1, ne32, q8);
    r1_gguf_add_tensor(w, "last", R1_GGML_F32, 1, ne8, x); /* 32 bytes: ends the file */
    R1Err err;
    const char *full = tpath("full.gguf");
    if (r1_gguf_write(w, full, &err) != 0) fail_msg("%s", err.msg);
    r1_gguf_writer_free(w);
    size_t n;
    uint8_t *bytes = read_bytes(full, &n);
    R1Gguf g;
    open_ok(&g, full);
    assert_int_equal(g.tensors[1].data + 32 - g.map.data, n);
    r1_gguf_close(&g);
    const char *cut = tpath("cut.gguf");
    for (size_t k = 0; k < n; k++) {
        write_bytes(cut, bytes, k);
        int rc = r1_gguf_open(&g, cut, &err);
        if (rc != -1 || !strstr(err.msg, cut))
            fail_msg("prefix of %zu bytes: rc %d, message \"%s\"", k, rc, err.msg);
    }
    free(bytes);
}

/* Every byte of a valid file changed in a few ways: each file opens or fails cleanly, and
 * what opens can be read in full (run under ASan by make test-asan). */
static void test_corrupted_bytes(void **state) {
    (void)state;
    R1GgufWriter *w = r1_gguf_writer_new();
    r1_gguf_put_str(w, "general.architecture", "llama");
    const char *toks[] = {"a", "bc"};
    r1_gguf_put_str_arr(w, "tokenizer.ggml.tokens", toks, NULL, 2);
    r1_gguf_put_f32(w, "eps", 1e-5f);
    const int32_t ty[] = {1, 3};
    r1_gguf_put_i32_arr(w, "types", ty, 2);
    float x[256];
    for (int i = 0; i < 256; i++) x[i] = (float)i - 100.0f;
    uint8_t q8[34];
    r1_ggml_quant(R1_GGML_Q8_0, x, q8, 32);
    uint8_t qk[144];
    memset(qk, 0x5A, sizeof qk);
    int64_t ne32[1] = {32}, ne256[1] = {256};
    r1_gguf_add_tensor(w, "q", R1_GGML_Q8_0, 1, ne32, q8);
    r1_gguf_add_tensor(w, "k", R1_GGML_Q4_K, 1, ne256, qk);
    R1Err err;
    const char *path = tpath("corrupt_src.gguf");
    if (r1_gguf_write(w, path, &err) != 0) fail_msg("%s", err.msg);
    r1_gguf_writer_free(w);
    size_t n;
    uint8_t *bytes = read_bytes(path, &n);
    const char *bad = tpath("corrupt.gguf");
    int opened = 0, refused = 0;
    for (size_t k = 0; k < n; k++) {
        uint8_t keep = bytes[k], vals[3] = {0x00, 0xFF, (uint8_t)(keep ^ 0x80)};
        for (int v = 0; v < 3; v++) {
            bytes[k] = vals[v];
            write_bytes(bad, bytes, n);
            R1Gguf g;
            if (r1_gguf_open(&g, bad, &err) != 0) {
                if (!strstr(err.msg, bad)) fail_msg("byte %zu: message \"%s\"", k, err.msg);
                refused++;
                continue;
            }
            opened++;
            for (int64_t i = 0; i < g.n_kv; i++)
                for (uint64_t e = 0; e < g.kv[i].n && e < 16; e++) {
                    R1GgufStr s = r1_gguf_arr_str(&g.kv[i], e);
                    if (s.ptr) assert_true(s.ptr + s.len <= (const char *)g.map.data + g.map.len);
                    (void)r1_gguf_arr_int(&g.kv[i], e);
                    (void)r1_gguf_arr_f64(&g.kv[i], e);
                }
            for (int64_t i = 0; i < g.n_tensors; i++) {
                const R1GgufTensor *t = &g.tensors[i];
                float *out = malloc(((size_t)t->numel + 1) * sizeof *out);
                assert_int_equal(r1_gguf_tensor_f32(&g, t, out, &err), 0);
                free(out);
            }
            r1_gguf_close(&g);
        }
        bytes[k] = keep;
    }
    assert_true(opened > 0 && refused > 0);
    free(bytes);
}

/* ---- dequantization of hand-built blocks ---- */

static void put16(uint8_t *p, uint16_t v) {
    memcpy(p, &v, 2);
}

static void test_dequant_q8_0(void **state) {
    (void)state;
    uint8_t blk[34];
    put16(blk, 0x3400); /* d = 0.25 */
    for (int j = 0; j < 32; j++) blk[2 + j] = (uint8_t)(int8_t)(j * 8 - 128);
    float y[32];
    r1_ggml_dequant(R1_GGML_Q8_0, blk, y, 32);
    assert_true(y[0] == -32.0f); /* -128 * 0.25 */
    assert_true(y[16] == 0.0f);  /* 0 */
    assert_true(y[31] == 30.0f); /* 120 * 0.25 */
    assert_true(y[17] == 2.0f);  /* 8 * 0.25 */
    for (int j = 0; j < 32; j++) assert_true(y[j] == (float)(j * 8 - 128) * 0.25f);
}

static void test_dequant_q4_0_q4_1(void **state) {
    (void)state;
    uint8_t b0[18], b1[20];
    put16(b0, 0x4000);     /* d = 2 */
    put16(b1, 0x3800);     /* d = 0.5 */
    put16(b1 + 2, 0xBC00); /* m = -1 */
    for (int j = 0; j < 16; j++) {
        b0[2 + j] = (uint8_t)((j & 15) | ((15 - j) << 4));
        b1[4 + j] = (uint8_t)((j & 15) | ((15 - j) << 4));
    }
    float y[32];
    r1_ggml_dequant(R1_GGML_Q4_0, b0, y, 32);
    assert_true(y[0] == -16.0f); /* (0 - 8) * 2 */
    assert_true(y[15] == 14.0f); /* (15 - 8) * 2 */
    assert_true(y[16] == 14.0f); /* high nibble of byte 0 is 15 */
    assert_true(y[31] == -16.0f);
    for (int j = 0; j < 16; j++) {
        assert_true(y[j] == (float)((j - 8) * 2));
        assert_true(y[j + 16] == (float)((15 - j - 8) * 2));
    }
    r1_ggml_dequant(R1_GGML_Q4_1, b1, y, 32);
    assert_true(y[0] == -1.0f); /* 0 * 0.5 - 1 */
    assert_true(y[15] == 6.5f); /* 15 * 0.5 - 1 */
    assert_true(y[16] == 6.5f);
    for (int j = 0; j < 16; j++) {
        assert_true(y[j] == (float)j * 0.5f - 1.0f);
        assert_true(y[j + 16] == (float)(15 - j) * 0.5f - 1.0f);
    }
}

static void test_dequant_q5(void **state) {
    (void)state;
    uint8_t b0[22], b1[24];
    uint32_t qh = 0xAAAA5555u; /* element k's fifth bit is bit k */
    put16(b0, 0x3C00);         /* d = 1 */
    memcpy(b0 + 2, &qh, 4);
    put16(b1, 0x3800);     /* d = 0.5 */
    put16(b1 + 2, 0x4000); /* m = 2 */
    memcpy(b1 + 4, &qh, 4);
    for (int j = 0; j < 16; j++) b0[6 + j] = b1[8 + j] = (uint8_t)(j | ((15 - j) << 4));
    float y[32];
    r1_ggml_dequant(R1_GGML_Q5_0, b0, y, 32);
    assert_true(y[0] == 0.0f);   /* (0 | 16) - 16: bit 0 of qh is set */
    assert_true(y[1] == -15.0f); /* (1 | 0) - 16 */
    assert_true(y[17] == 14.0f); /* (14 | 16) - 16: bit 17 is set */
    for (int k = 0; k < 32; k++) {
        int lo = k < 16 ? k : 15 - (k - 16), hi = (int)((qh >> k) & 1) << 4;
        assert_true(y[k] == (float)((lo | hi) - 16));
    }
    r1_ggml_dequant(R1_GGML_Q5_1, b1, y, 32);
    for (int k = 0; k < 32; k++) {
        int lo = k < 16 ? k : 15 - (k - 16), hi = (int)((qh >> k) & 1) << 4;
        assert_true(y[k] == (float)(lo | hi) * 0.5f + 2.0f);
    }
}

/* Packs 8 six-bit scales and mins the way ggml-common.h describes block_q4_K.scales:
 * bytes 0-3 low 6 bits of sc[0..3] (top 2 bits: sc[4..7] >> 4), bytes 4-7 the same for
 * the mins, bytes 8-11 the low nibbles of sc[4..7] | low nibbles of m[4..7] << 4. */
static void pack_k4_scales(uint8_t *q, const int *sc, const int *m) {
    for (int k = 0; k < 4; k++) {
        q[k] = (uint8_t)((sc[k] & 63) | ((sc[k + 4] >> 4) << 6));
        q[k + 4] = (uint8_t)((m[k] & 63) | ((m[k + 4] >> 4) << 6));
        q[k + 8] = (uint8_t)((sc[k + 4] & 15) | ((m[k + 4] & 15) << 4));
    }
}

static void test_dequant_q4_k_q5_k(void **state) {
    (void)state;
    const int sc[8] = {1, 2, 3, 4, 17, 34, 51, 63}, mn[8] = {5, 6, 7, 8, 20, 40, 60, 33};
    uint8_t b4[144], b5[176];
    put16(b4, 0x3C00);     /* d = 1 */
    put16(b4 + 2, 0x3800); /* dmin = 0.5 */
    pack_k4_scales(b4 + 4, sc, mn);
    for (int i = 0; i < 128; i++) b4[16 + i] = (uint8_t)(i * 7 + 3);
    b4[16] = 0x3A;
    float y[256];
    r1_ggml_dequant(R1_GGML_Q4_K, b4, y, 256);
    assert_true(y[0] == 7.5f);  /* sub-block 0: 1*1*10 - 0.5*5 */
    assert_true(y[32] == 3.0f); /* sub-block 1, high nibble 3 of byte 0: 1*2*3 - 0.5*6 */
    /* sub-block 7 (scale 63, min 33), high nibble of byte 96+l */
    assert_true(y[224] == 63.0f * (float)(b4[16 + 96] >> 4) - 16.5f);
    for (int s = 0; s < 8; s++)
        for (int l = 0; l < 32; l++) {
            uint8_t byte = b4[16 + 32 * (s / 2) + l];
            int q = s % 2 ? byte >> 4 : byte & 15;
            float want = (float)(sc[s] * q) - 0.5f * (float)mn[s];
            if (y[32 * s + l] != want)
                fail_msg("Q4_K sub-block %d element %d: %g, want %g", s, l, y[32 * s + l], want);
        }

    put16(b5, 0x3400);     /* d = 0.25 */
    put16(b5 + 2, 0x3C00); /* dmin = 1 */
    pack_k4_scales(b5 + 4, sc, mn);
    for (int i = 0; i < 32; i++) b5[16 + i] = (uint8_t)(i * 37 + 5);  /* qh */
    for (int i = 0; i < 128; i++) b5[48 + i] = (uint8_t)(i * 11 + 1); /* qs */
    r1_ggml_dequant(R1_GGML_Q5_K, b5, y, 256);
    for (int s = 0; s < 8; s++)
        for (int l = 0; l < 32; l++) {
            uint8_t byte = b5[48 + 32 * (s / 2) + l];
            int q = (s % 2 ? byte >> 4 : byte & 15) | (((b5[16 + l] >> s) & 1) << 4);
            float want = 0.25f * (float)(sc[s] * q) - (float)mn[s];
            if (y[32 * s + l] != want)
                fail_msg("Q5_K sub-block %d element %d: %g, want %g", s, l, y[32 * s + l], want);
        }
}

static void test_dequant_q6_k(void **state) {
    (void)state;
    uint8_t b[210];
    for (int i = 0; i < 128; i++) b[i] = (uint8_t)(i * 13 + 7);              /* ql */
    for (int i = 0; i < 64; i++) b[128 + i] = (uint8_t)(i * 29 + 3);         /* qh */
    for (int i = 0; i < 16; i++) b[192 + i] = (uint8_t)(int8_t)(i * 9 - 70); /* scales */
    put16(b + 208, 0x3800);                                                  /* d = 0.5 */
    float y[256];
    r1_ggml_dequant(R1_GGML_Q6_K, b, y, 256);
    /* element k: half h = k/128, r = k%128, quarter c = r/32, l = r%32;
     * low 4 bits from ql[64h + l + 32(c&1)] (nibble c>>1), high 2 from qh[32h + l] bits
     * 2c; scale index 8h + 2c + l/16 */
    for (int k = 0; k < 256; k++) {
        int h = k / 128, r = k % 128, c = r / 32, l = r % 32;
        int lo = b[64 * h + l + 32 * (c & 1)];
        lo = c >> 1 ? lo >> 4 : lo & 15;
        int hi = (b[128 + 32 * h + l] >> (2 * c)) & 3;
        int q = (lo | hi << 4) - 32;
        int s = (int8_t)b[192 + 8 * h + 2 * c + l / 16];
        float want = 0.5f * (float)s * (float)q;
        if (y[k] != want) fail_msg("Q6_K element %d: %g, want %g", k, y[k], want);
    }
}

/* Dequantizing a whole tensor in parallel chunks gives what one call gives. */
static void test_tensor_f32_chunks(void **state) {
    (void)state;
    enum { N = 32 * 10000 };
    float *x = malloc(N * sizeof *x), *a = malloc(N * sizeof *a), *b = malloc(N * sizeof *b);
    R1Rng rng;
    r1_rng_seed(&rng, 5);
    for (int i = 0; i < N; i++) x[i] = (float)r1_rng_normal(&rng);
    uint8_t *q = malloc(r1_ggml_nbytes(R1_GGML_Q8_0, N));
    r1_ggml_quant(R1_GGML_Q8_0, x, q, N);
    R1GgufWriter *w = r1_gguf_writer_new();
    int64_t ne[2] = {320, N / 320};
    r1_gguf_add_tensor(w, "big", R1_GGML_Q8_0, 2, ne, q);
    R1Err err;
    const char *path = tpath("chunks.gguf");
    if (r1_gguf_write(w, path, &err) != 0) fail_msg("%s", err.msg);
    r1_gguf_writer_free(w);
    R1Gguf g;
    open_ok(&g, path);
    assert_int_equal(r1_gguf_tensor_f32(&g, &g.tensors[0], a, &err), 0);
    r1_ggml_dequant(R1_GGML_Q8_0, q, b, N);
    assert_memory_equal(a, b, N * sizeof *a);
    r1_gguf_close(&g);
    free(x), free(a), free(b), free(q);
}

/* ---- quantization ---- */

static uint16_t to_f16(float f) {
    uint16_t h;
    assert_int_equal(r1_ggml_quant(R1_GGML_F16, &f, &h, 1), 2);
    return h;
}

static uint16_t to_bf16(float f) {
    uint16_t h;
    assert_int_equal(r1_ggml_quant(R1_GGML_BF16, &f, &h, 1), 2);
    return h;
}

static float from_f16(uint16_t h) {
    float f;
    r1_ggml_dequant(R1_GGML_F16, &h, &f, 1);
    return f;
}

static void test_f16_rounding(void **state) {
    (void)state;
    assert_int_equal(to_f16(1.0f), 0x3C00);
    assert_int_equal(to_f16(1.0f + 0x1p-11f), 0x3C00);            /* tie: to even */
    assert_int_equal(to_f16(1.0f + 3 * 0x1p-11f), 0x3C02);        /* tie: to even */
    assert_int_equal(to_f16(1.0f + 0x1p-11f + 0x1p-20f), 0x3C01); /* above the tie */
    assert_int_equal(to_f16(-2.0f), 0xC000);
    assert_int_equal(to_f16(65504.0f), 0x7BFF);
    assert_int_equal(to_f16(65519.0f), 0x7BFF);
    assert_int_equal(to_f16(65520.0f), 0x7C00); /* tie with 65536: to even = infinity */
    assert_int_equal(to_f16(1e10f), 0x7C00);
    assert_int_equal(to_f16(0x1p-14f), 0x0400); /* smallest normal */
    assert_int_equal(to_f16(0x1p-24f), 0x0001); /* smallest subnormal */
    assert_int_equal(to_f16(0x1p-25f), 0x0000); /* tie with 0: to even */
    assert_int_equal(to_f16(3 * 0x1p-25f), 0x0002);
    assert_int_equal(to_f16(0x1p-25f + 0x1p-35f), 0x0001);
    assert_int_equal(to_f16(1023 * 0x1p-24f), 0x03FF);
    assert_int_equal(to_f16(1e-40f), 0x0000); /* a float32 subnormal */
    assert_int_equal(to_f16(-0.0f), 0x8000);
    assert_int_equal(to_f16(INFINITY), 0x7C00);
    assert_int_equal(to_f16(-INFINITY), 0xFC00);
    assert_int_equal(to_f16(NAN), 0x7E00);
    assert_int_equal(to_f16(bitsf(0xFF800001u)), 0xFE00);
    /* f16 -> f32 is exact, NaN payloads kept */
    assert_true(from_f16(0x0001) == 0x1p-24f);
    assert_true(from_f16(0x83FF) == -1023 * 0x1p-24f);
    assert_true(from_f16(0x7BFF) == 65504.0f);
    assert_true(from_f16(0x3555) == 0x1.554p-2f);
    assert_int_equal(fbits(from_f16(0x8000)), 0x80000000u);
    assert_int_equal(fbits(from_f16(0x7C00)), 0x7F800000u);
    assert_int_equal(fbits(from_f16(0xFC00)), 0xFF800000u);
    assert_int_equal(fbits(from_f16(0x7E00)), 0x7FC00000u);
    assert_int_equal(fbits(from_f16(0x7C01)), 0x7F802000u);
    /* every f16 survives f16 -> f32 -> f16 (the NaNs become the quiet NaN) */
    for (uint32_t h = 0; h < 0x10000; h++) {
        uint16_t back = to_f16(from_f16((uint16_t)h));
        int nan = (h & 0x7C00) == 0x7C00 && (h & 0x3FF);
        if (nan ? back != ((h & 0x8000) | 0x7E00) : back != h)
            fail_msg("f16 %04x came back as %04x", h, back);
    }
}

static void test_bf16_rounding(void **state) {
    (void)state;
    assert_int_equal(to_bf16(1.0f), 0x3F80);
    assert_int_equal(to_bf16(1.0f + 0x1p-8f), 0x3F80);     /* tie: to even */
    assert_int_equal(to_bf16(1.0f + 3 * 0x1p-8f), 0x3F82); /* tie: to even */
    assert_int_equal(to_bf16(bitsf(0x3F808001u)), 0x3F81); /* above the tie */
    assert_int_equal(to_bf16(bitsf(0x7F7FFFFFu)), 0x7F80); /* FLT_MAX: infinity */
    assert_int_equal(to_bf16(bitsf(0x00008000u)), 0x0000); /* subnormal tie */
    assert_int_equal(to_bf16(bitsf(0x00018000u)), 0x0002); /* subnormal tie */
    assert_int_equal(to_bf16(bitsf(0x00010001u)), 0x0001);
    assert_int_equal(to_bf16(-0.0f), 0x8000);
    assert_int_equal(to_bf16(INFINITY), 0x7F80);
    assert_int_equal(to_bf16(-INFINITY), 0xFF80);
    assert_int_equal(to_bf16(bitsf(0x7F800001u)), 0x7FC0); /* signalling NaN made quiet */
    assert_int_equal(to_bf16(bitsf(0xFFC00000u)), 0xFFC0);
    assert_int_equal(to_bf16(bitsf(0x7FFFFFFFu)), 0x7FFF); /* no carry into the sign */
    uint16_t h = 0x4049;
    float f;
    r1_ggml_dequant(R1_GGML_BF16, &h, &f, 1);
    assert_int_equal(fbits(f), 0x40490000u);
}

static void test_q8_0_quant(void **state) {
    (void)state;
    /* amax 127: d = 1 exactly, q = roundf(x), ties away from zero */
    float x[32] = {127.0f, 2.5f, -2.5f, 0.5f, -0.5f, 1.49f, -126.6f, 0.0f};
    uint8_t b[34];
    assert_int_equal(r1_ggml_quant(R1_GGML_Q8_0, x, b, 32), 34);
    uint16_t d;
    memcpy(&d, b, 2);
    assert_int_equal(d, 0x3C00);
    const int8_t want[8] = {127, 3, -3, 1, -1, 1, -127, 0};
    for (int j = 0; j < 8; j++) assert_int_equal((int8_t)b[2 + j], want[j]);
    /* all zeros: d = 0 and q = 0 */
    float z[32] = {0};
    r1_ggml_quant(R1_GGML_Q8_0, z, b, 32);
    for (int j = 0; j < 34; j++) assert_int_equal(b[j], 0);
    /* an infinite input: no undefined conversions (the block is d = inf, q = 0) */
    z[3] = INFINITY;
    r1_ggml_quant(R1_GGML_Q8_0, z, b, 32);
    memcpy(&d, b, 2);
    assert_int_equal(d, 0x7C00);
    /* random blocks with outliers: |x - dequant| <= d/2 + 127 * |d - f16(d)| */
    enum { N = 32 * 512 };
    float *v = malloc(N * sizeof *v), *y = malloc(N * sizeof *y);
    uint8_t *q = malloc(r1_ggml_nbytes(R1_GGML_Q8_0, N));
    R1Rng rng;
    r1_rng_seed(&rng, 11);
    for (int i = 0; i < N; i++) v[i] = (float)r1_rng_normal(&rng) * (i % 97 == 0 ? 50.0f : 1.0f);
    assert_int_equal(r1_ggml_quant(R1_GGML_Q8_0, v, q, N), N / 32 * 34);
    r1_ggml_dequant(R1_GGML_Q8_0, q, y, N);
    for (int i = 0; i < N; i += 32) {
        float amax = 0;
        for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(v[i + j]));
        double dd = amax / 127.0, bound = dd * (0.5 + 127.0 / 2048.0) + 1e-6;
        for (int j = 0; j < 32; j++)
            if (fabs((double)v[i + j] - y[i + j]) > bound)
                fail_msg("Q8_0 element %d: %g came back as %g (bound %g)", i + j, v[i + j],
                         y[i + j], bound);
    }
    free(v), free(y), free(q);
    /* only whole blocks, only the four writable types */
    assert_int_equal(r1_ggml_quant(R1_GGML_Q8_0, x, b, 31), 0);
    assert_int_equal(r1_ggml_quant(R1_GGML_Q4_K, x, b, 256), 0);
}

static void test_type_table(void **state) {
    (void)state;
    const struct {
        int type, elems;
        size_t bytes;
        const char *name;
    } want[] = {{0, 1, 4, "F32"},       {1, 1, 2, "F16"},      {30, 1, 2, "BF16"},
                {2, 32, 18, "Q4_0"},    {3, 32, 20, "Q4_1"},   {6, 32, 22, "Q5_0"},
                {7, 32, 24, "Q5_1"},    {8, 32, 34, "Q8_0"},   {12, 256, 144, "Q4_K"},
                {13, 256, 176, "Q5_K"}, {14, 256, 210, "Q6_K"}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        int e;
        size_t b;
        assert_int_equal(r1_ggml_type_known(want[i].type), 1);
        assert_int_equal(r1_ggml_block(want[i].type, &e, &b), 0);
        assert_int_equal(e, want[i].elems);
        assert_int_equal(b, want[i].bytes);
        assert_string_equal(r1_ggml_type_name(want[i].type), want[i].name);
    }
    assert_int_equal(r1_ggml_type_known(10), 0);
    assert_string_equal(r1_ggml_type_name(10), "Q2_K");
    assert_int_equal(r1_ggml_block(10, NULL, NULL), -1);
    assert_string_equal(r1_ggml_type_name(99), "unknown");
    assert_string_equal(r1_ggml_type_name(-1), "unknown");
    assert_int_equal(r1_ggml_type_known(-1), 0);
    assert_int_equal(r1_ggml_nbytes(R1_GGML_Q4_K, 512), 288);
    assert_int_equal(r1_ggml_nbytes(R1_GGML_Q4_K, 100), 0);
    assert_int_equal(r1_ggml_nbytes(R1_GGML_F16, 3), 6);
    assert_string_equal(r1_gguf_vtype_name(R1_GV_STR), "str");
    assert_string_equal(r1_gguf_vtype_name(13), "?");
}

static void expect_write_error(R1GgufWriter *w, const char *name, const char *what) {
    R1Err err = {{0}};
    const char *path = tpath(name);
    int rc = r1_gguf_write(w, path, &err);
    r1_gguf_writer_free(w);
    if (rc != -1 || !strstr(err.msg, path) || !strstr(err.msg, what))
        fail_msg("%s: rc %d, message \"%s\" (wanted \"%s\")", name, rc, err.msg, what);
    FILE *f = fopen(path, "rb");
    assert_null(f);
}

static void test_write_errors(void **state) {
    (void)state;
    float x[64] = {0};
    int64_t ne[2] = {32, 2}, bad[1] = {31}, neg[2] = {32, -1};
    R1GgufWriter *w = r1_gguf_writer_new();
    r1_gguf_add_tensor(w, "t", R1_GGML_F32, 2, ne, x);
    r1_gguf_add_tensor(w, "t", R1_GGML_F32, 2, ne, x);
    expect_write_error(w, "w_dup.gguf", "\"t\"");
    w = r1_gguf_writer_new();
    r1_gguf_add_tensor(w, "q", R1_GGML_Q8_0, 1, bad, x);
    expect_write_error(w, "w_blocks.gguf", "\"q\"");
    w = r1_gguf_writer_new();
    r1_gguf_add_tensor(w, "k", (R1GgmlType)10, 2, ne, x);
    expect_write_error(w, "w_type.gguf", "Q2_K");
    w = r1_gguf_writer_new();
    r1_gguf_add_tensor(w, "n", R1_GGML_F32, 2, neg, x);
    expect_write_error(w, "w_neg.gguf", "\"n\"");
    w = r1_gguf_writer_new();
    const int64_t ne5[5] = {1, 1, 1, 1, 1};
    r1_gguf_add_tensor(w, "d", R1_GGML_F32, 5, ne5, x);
    expect_write_error(w, "w_ndim.gguf", "\"d\"");
    w = r1_gguf_writer_new();
    r1_gguf_add_tensor(w, "z", R1_GGML_F32, 2, ne, NULL);
    expect_write_error(w, "w_nodata.gguf", "\"z\"");
    w = r1_gguf_writer_new();
    r1_gguf_put_u32(w, "", 1);
    expect_write_error(w, "w_emptykey.gguf", "empty key");
    w = r1_gguf_writer_new();
    r1_gguf_put_u32(w, "general.alignment", 24);
    expect_write_error(w, "w_align.gguf", "power of two");
    w = r1_gguf_writer_new();
    r1_gguf_put_str(w, "general.alignment", "32");
    expect_write_error(w, "w_aligntype.gguf", "u32");
    w = r1_gguf_writer_new();
    r1_gguf_put_value(w, "s", R1_GV_STR, "x");
    expect_write_error(w, "w_value.gguf", "fixed-size");
    /* an unwritable directory */
    w = r1_gguf_writer_new();
    R1Err err;
    assert_int_equal(r1_gguf_write(w, "/nonexistent-dir/x.gguf", &err), -1);
    assert_non_null(strstr(err.msg, "/nonexistent-dir/x.gguf"));
    r1_gguf_writer_free(w);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_values), cmocka_unit_test(test_alignment_and_v2),
        cmocka_unit_test(test_big_string_array),  cmocka_unit_test(test_bad_header),
        cmocka_unit_test(test_bad_kvs),           cmocka_unit_test(test_bad_alignment),
        cmocka_unit_test(test_bad_tensors),       cmocka_unit_test(test_truncated_prefixes),
        cmocka_unit_test(test_corrupted_bytes),   cmocka_unit_test(test_dequant_q8_0),
        cmocka_unit_test(test_dequant_q4_0_q4_1), cmocka_unit_test(test_dequant_q5),
        cmocka_unit_test(test_dequant_q4_k_q5_k), cmocka_unit_test(test_dequant_q6_k),
        cmocka_unit_test(test_tensor_f32_chunks), cmocka_unit_test(test_f16_rounding),
        cmocka_unit_test(test_bf16_rounding),     cmocka_unit_test(test_q8_0_quant),
        cmocka_unit_test(test_type_table),        cmocka_unit_test(test_write_errors),
    };
    return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
