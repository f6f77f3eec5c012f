/* test_safetensors.c - the safetensors reader, writer and checkpoint directories.
 *
 * Besides the cmocka tests, two modes serve tests/test_safetensors_py.sh, which
 * checks r1c against the Python safetensors package:
 *   test_safetensors --convert IN OUT      every tensor of IN (file or checkpoint
 *                                          directory) to float32, written as F32
 *   test_safetensors --write-bf16 IN OUT   the same, written as BF16
 * Names, shapes and (for a file) the __metadata__ are kept. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "safetensors.h"
#define TMPDIR_TEMPLATE "/tmp/r1c_test_st_XXXXXX"
#include "tmpdir.h"

/* A file with this header (length field `hlen`, normally strlen(header)) and
 * `ndata` bytes of data. */
static const char *raw_file(const char *name, const char *header, uint64_t hlen, size_t ndata) {
    size_t n = strlen(header);
    uint8_t *buf = calloc(1, 8 + n + ndata);
    for (int i = 0; i < 8; i++) buf[i] = (uint8_t)(hlen >> (8 * i));
    memcpy(buf + 8, header, n);
    const char *path = tpath(name);
    write_bytes(path, buf, 8 + n + ndata);
    free(buf);
    return path;
}

/* Opening `path` fails and the message names the file and `what` (and `what2`). */
static void expect_open_error(const char *path, const char *what, const char *what2) {
    R1StFile f;
    R1Err err = {{0}};
    int rc = r1_st_open(&f, path, &err);
    if (rc != -1 || !strstr(err.msg, path) || !strstr(err.msg, what) ||
        (what2 && !strstr(err.msg, what2)))
        fail_msg("%s: rc %d, message \"%s\"", path, rc, err.msg);
    assert_null(f.tensors); /* nothing left behind */
}

static const char *good_header =
    "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}}";

static void test_good_raw_file(void **state) {
    (void)state;
    const char *p = raw_file("good.safetensors", good_header, strlen(good_header), 24);
    R1StFile f;
    R1Err err;
    if (r1_st_open(&f, p, &err) != 0) fail_msg("%s", err.msg);
    assert_int_equal(f.n_tensors, 1);
    assert_int_equal(f.tensors[0].numel, 6);
    r1_st_close(&f);
}

static void test_bad_files(void **state) {
    (void)state;
    const char *h = good_header;
    uint64_t n = strlen(h);
    /* shorter than the 8-byte length field */
    write_bytes(tpath("tiny.safetensors"), "\x10\0\0", 3);
    expect_open_error(tpath("tiny.safetensors"), "too short", NULL);
    /* truncated data: the tensor's offsets run past the end */
    expect_open_error(raw_file("trunc.safetensors", h, n, 20), "\"w\"", "past the end");
    /* header length past the end of the file */
    expect_open_error(raw_file("hlen.safetensors", h, n + 100, 24), "header length", NULL);
    expect_open_error(raw_file("huge.safetensors", h, (uint64_t)1 << 40, 24), "header length",
                      NULL);
    /* offsets past the end */
    const char *past = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[24,48]}}";
    expect_open_error(raw_file("past.safetensors", past, strlen(past), 24), "\"w\"", "past");
    /* byte count does not match the shape */
    const char *mis = "{\"w\":{\"dtype\":\"BF16\",\"shape\":[2,3],\"data_offsets\":[0,24]}}";
    expect_open_error(raw_file("mis.safetensors", mis, strlen(mis), 24), "\"w\"", "need 12");
    /* unknown dtype */
    const char *f64 = "{\"w\":{\"dtype\":\"F64\",\"shape\":[3],\"data_offsets\":[0,24]}}";
    expect_open_error(raw_file("f64.safetensors", f64, strlen(f64), 24), "\"w\"", "F64");
    /* bad JSON */
    const char *bad = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}";
    expect_open_error(raw_file("badjson.safetensors", bad, strlen(bad), 24), "JSON", NULL);
    /* begin > end */
    const char *rev = "{\"w\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,0]}}";
    expect_open_error(raw_file("rev.safetensors", rev, strlen(rev), 8), "\"w\"", "begin");
    /* negative and fractional sizes */
    const char *neg = "{\"w\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,0]}}";
    expect_open_error(raw_file("neg.safetensors", neg, strlen(neg), 0), "\"w\"", "shape");
    const char *frac = "{\"w\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}";
    expect_open_error(raw_file("frac.safetensors", frac, strlen(frac), 4), "\"w\"", "shape");
    /* two tensors on the same bytes */
    const char *ov = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                     "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}";
    expect_open_error(raw_file("overlap.safetensors", ov, strlen(ov), 12), "\"b\"", "overlap");
    /* bytes no tensor describes */
    expect_open_error(raw_file("extra.safetensors", h, n, 28), "4 bytes", NULL);
    /* a duplicated tensor name */
    const char *dup = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                      "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}";
    expect_open_error(raw_file("dup.safetensors", dup, strlen(dup), 8), "\"a\"", "twice");
    /* metadata values must be strings */
    const char *meta = "{\"__metadata__\":{\"step\":3}}";
    expect_open_error(raw_file("meta.safetensors", meta, strlen(meta), 0), "step", NULL);
    /* garbage after the JSON inside the header */
    const char *tail = "{}  x";
    expect_open_error(raw_file("tail.safetensors", tail, strlen(tail), 0), "after the header",
                      NULL);
    /* a file that is not there */
    expect_open_error(tpath("absent.safetensors"), "No such file", NULL);
}

static void test_bf16_conversion(void **state) {
    (void)state;
    assert_int_equal(r1_f32_to_bf16(1.0f), 0x3F80);
    assert_int_equal(r1_f32_to_bf16(-2.0f), 0xC000);
    assert_int_equal(r1_f32_to_bf16(0.0f), 0x0000);
    assert_int_equal(r1_f32_to_bf16(-0.0f), 0x8000);
    /* ties go to even, anything above a tie rounds up */
    assert_int_equal(r1_f32_to_bf16(1.0f + 0x1p-8f), 0x3F80);
    assert_int_equal(r1_f32_to_bf16(1.0f + 3 * 0x1p-8f), 0x3F82);
    assert_int_equal(r1_f32_to_bf16(1.0f + 0x1p-8f + 0x1p-20f), 0x3F81);
    assert_int_equal(r1_f32_to_bf16(INFINITY), 0x7F80);
    assert_int_equal(r1_f32_to_bf16(-INFINITY), 0xFF80);
    assert_int_equal(r1_f32_to_bf16(3.4028235e38f), 0x7F80); /* FLT_MAX rounds to inf */
    assert_true(isnan(r1_bf16_to_f32(r1_f32_to_bf16(NAN))));
    /* a NaN whose payload is only in the low bits must not become inf */
    uint32_t snan = 0x7F800001;
    float fs;
    memcpy(&fs, &snan, 4);
    assert_true(isnan(r1_bf16_to_f32(r1_f32_to_bf16(fs))));
    assert_true(r1_bf16_to_f32(0x3F80) == 1.0f);
    assert_true(r1_bf16_to_f32(0x0001) == 0x1p-133f); /* smallest subnormal */
    assert_true(isinf(r1_bf16_to_f32(0xFF80)) && r1_bf16_to_f32(0xFF80) < 0);
    /* every bf16 survives bf16 -> f32 -> bf16 */
    for (uint32_t h = 0; h < 65536; h++) {
        float f = r1_bf16_to_f32((uint16_t)h);
        if (isnan(f)) continue;
        if (r1_f32_to_bf16(f) != h) fail_msg("bf16 0x%04x does not round-trip", h);
    }
}

static void test_f16_conversion(void **state) {
    (void)state;
    assert_true(r1_f16_to_f32(0x3C00) == 1.0f);
    assert_true(r1_f16_to_f32(0xC000) == -2.0f);
    assert_true(r1_f16_to_f32(0x7BFF) == 65504.0f);
    assert_true(r1_f16_to_f32(0x0400) == 0x1p-14f);
    assert_true(r1_f16_to_f32(0x0001) == 0x1p-24f);
    assert_true(r1_f16_to_f32(0x03FF) == 1023 * 0x1p-24f);
    assert_true(r1_f16_to_f32(0x8001) == -0x1p-24f);
    assert_true(r1_f16_to_f32(0x8000) == 0 && signbit(r1_f16_to_f32(0x8000)));
    assert_true(isinf(r1_f16_to_f32(0x7C00)) && r1_f16_to_f32(0x7C00) > 0);
    assert_true(isinf(r1_f16_to_f32(0xFC00)) && r1_f16_to_f32(0xFC00) < 0);
    assert_true(isnan(r1_f16_to_f32(0x7E00)));
    assert_true(isnan(r1_f16_to_f32(0x7C01)));
#ifdef __FLT16_MAX__
    /* every half against the compiler's own conversion */
    for (uint32_t h = 0; h < 65536; h++) {
        uint16_t b = (uint16_t)h;
        _Float16 x;
        memcpy(&x, &b, 2);
        float want = (float)x, got = r1_f16_to_f32(b);
        if (isnan(want) ? !isnan(got) : memcmp(&want, &got, 4) != 0)
            fail_msg("f16 0x%04x: got %g want %g", h, (double)got, (double)want);
    }
#endif
}

/* Deterministic values with some special ones mixed in. */
static void fill(float *x, size_t n, uint32_t seed) {
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        x[i] = ((float)(seed >> 8) / 16777216.0f - 0.5f) * 8.0f;
    }
    if (n > 3) {
        x[0] = -0.0f;
        x[1] = INFINITY;
        x[2] = 1e-40f; /* subnormal */
    }
}

static void test_round_trip(void **state) {
    (void)state;
    enum { A = 5 * 7, B = 3 * 4 * 2, C = 1 };
    float a[A], b[B], c[C], out[A];
    fill(a, A, 1);
    fill(b, B, 2);
    c[0] = 42.0f;
    R1StWriteTensor ts[] = {
        {"model.a.weight", R1_F32, 2, {5, 7}, a},
        {"model.b", R1_BF16, 3, {3, 4, 2}, b},
        {"scalar", R1_F32, 0, {0}, c},
        {"empty", R1_BF16, 2, {0, 3}, NULL},
    };
    const char *meta[] = {"format", "pt", "step", "12"};
    const char *p = tpath("rt.safetensors");
    R1Err err = {{0}};
    if (r1_st_write(p, ts, 4, meta, 2, &err) != 0) fail_msg("%s", err.msg);
    R1StFile f;
    if (r1_st_open(&f, p, &err) != 0) fail_msg("%s", err.msg);
    /* header padded with spaces to a multiple of 8, tensors in the given order */
    uint64_t hlen = 0;
    memcpy(&hlen, f.map.data, 8);
    assert_int_equal(hlen % 8, 0);
    assert_int_equal(f.n_tensors, 4);
    for (int i = 0; i < 4; i++) assert_string_equal(f.tensors[i].name, ts[i].name);
    assert_string_equal(r1_st_meta(&f, "format"), "pt");
    assert_string_equal(r1_st_meta(&f, "step"), "12");
    assert_null(r1_st_meta(&f, "absent"));
    /* F32 exactly */
    int64_t sa[] = {5, 7};
    assert_int_equal(r1_st_read_f32(&f, "model.a.weight", sa, 2, out, &err), 0);
    assert_memory_equal(out, a, sizeof a);
    /* BF16: each value rounded to nearest even */
    int64_t sb[] = {3, 4, 2};
    assert_int_equal(r1_st_find(&f, "model.b")->dtype, R1_BF16);
    assert_int_equal(r1_st_read_f32(&f, "model.b", sb, 3, out, &err), 0);
    for (int i = 0; i < B; i++) {
        float want = r1_bf16_to_f32(r1_f32_to_bf16(b[i]));
        assert_memory_equal(&out[i], &want, 4);
    }
    assert_int_equal(r1_st_read_f32(&f, "scalar", NULL, 0, out, &err), 0);
    assert_true(out[0] == 42.0f);
    int64_t se[] = {0, 3};
    assert_int_equal(r1_st_read_f32(&f, "empty", se, 2, out, &err), 0);
    r1_st_close(&f);
    /* no temp file left behind */
    char tmp[300];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", p, (long)getpid());
    assert_int_not_equal(access(tmp, F_OK), 0);
}

static void test_read_errors(void **state) {
    (void)state;
    float x[6] = {1, 2, 3, 4, 5, 6}, out[6];
    int32_t ids[2] = {7, 8};
    R1StWriteTensor ts[] = {{"w", R1_F32, 2, {2, 3}, x}};
    const char *p = tpath("re.safetensors");
    R1Err err = {{0}};
    assert_int_equal(r1_st_write(p, ts, 1, NULL, 0, &err), 0);
    R1StFile f;
    assert_int_equal(r1_st_open(&f, p, &err), 0);
    int64_t wrong[] = {3, 2};
    assert_int_equal(r1_st_read_f32(&f, "w", wrong, 2, out, &err), -1);
    assert_non_null(strstr(err.msg, p));
    assert_non_null(strstr(err.msg, "w"));
    assert_non_null(strstr(err.msg, "[2, 3]"));
    assert_non_null(strstr(err.msg, "[3, 2]"));
    int64_t flat[] = {6};
    assert_int_equal(r1_st_read_f32(&f, "w", flat, 1, out, &err), -1);
    assert_non_null(strstr(err.msg, "[6]"));
    assert_int_equal(r1_st_read_f32(&f, "model.norm.weight", flat, 1, out, &err), -1);
    assert_non_null(strstr(err.msg, p));
    assert_non_null(strstr(err.msg, "missing tensor model.norm.weight"));
    assert_int_equal(r1_st_to_f32(&f.tensors[0], out, 5, p, &err), -1);
    assert_non_null(strstr(err.msg, "\"w\""));
    r1_st_close(&f);
    /* an integer tensor opens but is not converted to float */
    const char *ih = "{\"ids\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
    uint8_t buf[256];
    uint64_t n = strlen(ih);
    memcpy(buf, &n, 8);
    memcpy(buf + 8, ih, n);
    memcpy(buf + 8 + n, ids, 8);
    const char *ip = tpath("ids.safetensors");
    write_bytes(ip, buf, 8 + n + 8);
    assert_int_equal(r1_st_open(&f, ip, &err), 0);
    assert_int_equal(f.tensors[0].dtype, R1_I32);
    assert_int_equal(memcmp(f.tensors[0].data, ids, 8), 0);
    assert_int_equal(r1_st_read_f32(&f, "ids", flat, 0, out, &err), -1);
    assert_int_equal(r1_st_to_f32(&f.tensors[0], out, 2, ip, &err), -1);
    assert_non_null(strstr(err.msg, "\"ids\""));
    assert_non_null(strstr(err.msg, "I32"));
    r1_st_close(&f);
}

static void test_write_errors(void **state) {
    (void)state;
    float x[2] = {1, 2};
    const char *p = tpath("we.safetensors");
    R1Err err = {{0}};
    R1StWriteTensor i32[] = {{"ids", R1_I32, 1, {2}, x}};
    assert_int_equal(r1_st_write(p, i32, 1, NULL, 0, &err), -1);
    assert_non_null(strstr(err.msg, "\"ids\""));
    R1StWriteTensor dup[] = {{"a", R1_F32, 1, {2}, x}, {"a", R1_F32, 1, {2}, x}};
    assert_int_equal(r1_st_write(p, dup, 2, NULL, 0, &err), -1);
    assert_non_null(strstr(err.msg, "twice"));
    R1StWriteTensor neg[] = {{"n", R1_F32, 1, {-2}, x}};
    assert_int_equal(r1_st_write(p, neg, 1, NULL, 0, &err), -1);
    assert_non_null(strstr(err.msg, "\"n\""));
    assert_int_not_equal(access(p, F_OK), 0);
    /* an unwritable place names the path */
    R1StWriteTensor ok[] = {{"a", R1_F32, 1, {2}, x}};
    assert_int_equal(r1_st_write("/nonexistent-dir/x.safetensors", ok, 1, NULL, 0, &err), -1);
    assert_non_null(strstr(err.msg, "/nonexistent-dir/x.safetensors"));
}

static void write_text(const char *path, const char *text) {
    write_bytes(path, text, strlen(text));
}

/* A checkpoint directory with two shards and an index. */
static const char *make_sharded(const char *name, const char *index) {
    const char *dir = tpath(name);
    assert_int_equal(mkdir(dir, 0755), 0);
    char p[300];
    float a[4] = {1, 2, 3, 4}, b[3] = {5, 6, 7};
    R1StWriteTensor s1[] = {{"embed", R1_F32, 2, {2, 2}, a}};
    R1StWriteTensor s2[] = {{"norm", R1_BF16, 1, {3}, b}, {"head", R1_F32, 1, {2}, a}};
    R1Err err;
    snprintf(p, sizeof p, "%s/model-00001-of-00002.safetensors", dir);
    assert_int_equal(r1_st_write(p, s1, 1, NULL, 0, &err), 0);
    snprintf(p, sizeof p, "%s/model-00002-of-00002.safetensors", dir);
    assert_int_equal(r1_st_write(p, s2, 2, NULL, 0, &err), 0);
    snprintf(p, sizeof p, "%s/model.safetensors.index.json", dir);
    write_text(p, index);
    return dir;
}

static const char *good_index = "{\"metadata\": {\"total_size\": 30}, \"weight_map\": {"
                                "\"embed\": \"model-00001-of-00002.safetensors\","
                                "\"norm\": \"model-00002-of-00002.safetensors\","
                                "\"head\": \"model-00002-of-00002.safetensors\"}}";

static void test_sharded_dir(void **state) {
    (void)state;
    const char *dir = make_sharded("sharded", good_index);
    R1StDir d;
    R1Err err = {{0}};
    if (r1_stdir_open(&d, dir, &err) != 0) fail_msg("%s", err.msg);
    assert_int_equal(d.n_files, 2);
    const char *file = NULL;
    const R1StTensor *t = r1_stdir_find(&d, "embed", &file);
    assert_non_null(t);
    assert_non_null(strstr(file, "model-00001-of-00002.safetensors"));
    t = r1_stdir_find(&d, "norm", &file);
    assert_non_null(t);
    assert_non_null(strstr(file, "model-00002-of-00002.safetensors"));
    float out[3];
    assert_int_equal(r1_st_to_f32(t, out, 3, file, &err), 0);
    assert_true(out[0] == 5 && out[1] == 6 && out[2] == 7);
    assert_non_null(r1_stdir_find(&d, "head", NULL));
    assert_null(r1_stdir_find(&d, "absent", &file));
    r1_stdir_close(&d);
}

static void test_sharded_errors(void **state) {
    (void)state;
    const char *missing = "{\"weight_map\": {\"embed\": \"model-00001-of-00002.safetensors\","
                          "\"x\": \"model-00009-of-00009.safetensors\"}}";
    const char *dir = make_sharded("missing_shard", missing);
    R1StDir d;
    R1Err err = {{0}};
    assert_int_equal(r1_stdir_open(&d, dir, &err), -1);
    assert_non_null(strstr(err.msg, "model.safetensors.index.json"));
    assert_non_null(strstr(err.msg, "model-00009-of-00009.safetensors"));
    assert_null(d.files);
    /* the index puts a tensor in a shard that does not hold it */
    const char *wrong = "{\"weight_map\": {\"embed\": \"model-00002-of-00002.safetensors\"}}";
    dir = make_sharded("wrong_shard", wrong);
    assert_int_equal(r1_stdir_open(&d, dir, &err), -1);
    assert_non_null(strstr(err.msg, "\"embed\""));
    assert_non_null(strstr(err.msg, "model-00002-of-00002.safetensors"));
    /* a broken index */
    dir = make_sharded("broken_index", "{\"weight_map\": [}");
    assert_int_equal(r1_stdir_open(&d, dir, &err), -1);
    assert_non_null(strstr(err.msg, "model.safetensors.index.json"));
    /* a directory with neither file */
    const char *empty = tpath("empty_dir");
    assert_int_equal(mkdir(empty, 0755), 0);
    assert_int_equal(r1_stdir_open(&d, empty, &err), -1);
    assert_non_null(strstr(err.msg, empty));
    assert_non_null(strstr(err.msg, "model.safetensors"));
}

static void test_single_file_dir(void **state) {
    (void)state;
    const char *dir = tpath("single");
    assert_int_equal(mkdir(dir, 0755), 0);
    char p[300];
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    float x[2] = {1, 2};
    R1StWriteTensor ts[] = {{"lm_head.weight", R1_F32, 2, {1, 2}, x}};
    R1Err err;
    assert_int_equal(r1_st_write(p, ts, 1, NULL, 0, &err), 0);
    R1StDir d;
    assert_int_equal(r1_stdir_open(&d, dir, &err), 0);
    const char *file;
    assert_non_null(r1_stdir_find(&d, "lm_head.weight", &file));
    assert_string_equal(file, p);
    r1_stdir_close(&d);
}

/* ---- --convert / --write-bf16 ---- */

static int convert(const char *in, const char *out, R1DType dtype) {
    R1Err err;
    R1StDir d = {0};
    R1StFile single;
    struct stat st;
    int is_dir = stat(in, &st) == 0 && S_ISDIR(st.st_mode);
    if (is_dir ? r1_stdir_open(&d, in, &err) : r1_st_open(&single, in, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    R1StFile *files = is_dir ? d.files : &single;
    int n_files = is_dir ? d.n_files : 1, n = 0, rc = 0;
    for (int i = 0; i < n_files; i++) n += files[i].n_tensors;
    R1StWriteTensor *ws = calloc((size_t)n + 1, sizeof *ws);
    for (int i = 0, k = 0; i < n_files; i++)
        for (int j = 0; j < files[i].n_tensors; j++, k++) {
            const R1StTensor *t = &files[i].tensors[j];
            float *buf = r1_falloc(t->numel);
            if (rc == 0 && r1_st_to_f32(t, buf, t->numel, files[i].path, &err) != 0) rc = 1;
            ws[k] = (R1StWriteTensor){t->name, dtype, t->ndim, {0}, buf};
            memcpy(ws[k].shape, t->shape, sizeof t->shape);
        }
    const char **meta = calloc(2 * (size_t)files[0].n_meta + 1, sizeof *meta);
    for (int i = 0; i < files[0].n_meta; i++) {
        meta[2 * i] = files[0].meta_keys[i];
        meta[2 * i + 1] = files[0].meta_vals[i];
    }
    if (rc == 0 && r1_st_write(out, ws, n, meta, is_dir ? 0 : files[0].n_meta, &err) != 0) rc = 1;
    if (rc) fprintf(stderr, "%s\n", err.msg);
    for (int k = 0; k < n; k++) free((void *)ws[k].data);
    free(ws);
    free(meta);
    if (is_dir)
        r1_stdir_close(&d);
    else
        r1_st_close(&single);
    return rc;
}

int main(int argc, char **argv) {
    if (argc == 4 && strcmp(argv[1], "--convert") == 0) return convert(argv[2], argv[3], R1_F32);
    if (argc == 4 && strcmp(argv[1], "--write-bf16") == 0)
        return convert(argv[2], argv[3], R1_BF16);
    if (argc != 1) {
        fprintf(stderr, "usage: %s [--convert|--write-bf16 IN OUT]\n", argv[0]);
        return 2;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_raw_file),   cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_bf16_conversion), cmocka_unit_test(test_f16_conversion),
        cmocka_unit_test(test_round_trip),      cmocka_unit_test(test_read_errors),
        cmocka_unit_test(test_write_errors),    cmocka_unit_test(test_sharded_dir),
        cmocka_unit_test(test_sharded_errors),  cmocka_unit_test(test_single_file_dir),
    };
    return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
