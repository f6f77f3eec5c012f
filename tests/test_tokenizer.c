/* test_tokenizer.c - the tokenizer on the two real tokenizers (fixtures):
 * sizes and special ids, round trips on tricky and random text, random-byte
 * fuzzing (invalid UTF-8 must be refused, never crash: the ASan build runs
 * this too), offsets, streaming decode, added tokens, and load-time refusals.
 * Parity of the ids with Hugging Face is tests/test_tokenizer_hf.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "rng.h"
#include "tokenizer.h"

static char tmp[64];
static R1Tokenizer *ds, *qw;

static R1Tokenizer *unpack(const char *name) {
    const char *root = getenv("R1_ROOT") ? getenv("R1_ROOT") : ".";
    char cmd[512], dir[128];
    snprintf(dir, sizeof dir, "%s/%s", tmp, name);
    snprintf(cmd, sizeof cmd, "'%s/tests/fixture-tokenizer.sh' %s '%s'", root, name, dir);
    if (system(cmd) != 0) return NULL;
    R1Err err;
    R1Tokenizer *t = r1_tok_load(dir, &err);
    if (!t) fprintf(stderr, "%s\n", err.msg);
    return t;
}

static int setup(void **state) {
    (void)state;
    snprintf(tmp, sizeof tmp, "/tmp/r1c-tok-XXXXXX");
    if (!mkdtemp(tmp)) return -1;
    ds = unpack("deepseek-v3");
    qw = unpack("qwen");
    return ds && qw ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    r1_tok_free(ds);
    r1_tok_free(qw);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    return system(cmd) == 0 ? 0 : -1;
}

/* Independent of the tokenizer's own validator: decode code points by their
 * ranges (RFC 3629 table 6). */
static int valid_utf8(const unsigned char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        size_t k = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (!k || i + k > n) return 0;
        unsigned cp = k == 1 ? c : k == 2 ? c & 0x1F : k == 3 ? c & 0x0F : c & 0x07;
        for (size_t j = 1; j < k; j++) {
            if ((s[i + j] & 0xC0) != 0x80) return 0;
            cp = cp << 6 | (s[i + j] & 0x3F);
        }
        unsigned min = k == 1 ? 0 : k == 2 ? 0x80 : k == 3 ? 0x800 : 0x10000;
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
        i += k;
    }
    return 1;
}

static void roundtrip(R1Tokenizer *t, const char *s, size_t n) {
    R1Ids ids = {0};
    R1Err err;
    assert_int_equal(r1_tok_encode(t, s, n, &ids, &err), 0);
    size_t len;
    char *back = r1_tok_decode(t, ids.ids, ids.n, 0, &len, &err);
    assert_non_null(back);
    assert_int_equal(len, n);
    assert_memory_equal(back, s, n);
    for (int i = 1; i < ids.n; i++) assert_true(ids.offsets[i] >= ids.offsets[i - 1]);
    for (int i = 0; i < ids.n; i++) assert_true(ids.offsets[i] >= 0 && (size_t)ids.offsets[i] < n);
    free(back);
    r1_ids_free(&ids);
}

static void test_sizes_and_specials(void **state) {
    (void)state;
    assert_int_equal(r1_tok_vocab_size(ds), 128815);
    assert_int_equal(r1_tok_vocab_size(qw), 151669);
    assert_int_equal(r1_tok_bos(ds), 0);
    assert_int_equal(r1_tok_eos(ds), 1);
    assert_int_equal(r1_tok_bos(qw), -1); /* Qwen has no BOS */
    assert_int_equal(r1_tok_eos(qw), r1_tok_find(qw, "<|im_end|>"));
    assert_int_equal(r1_tok_find(qw, "<|im_end|>"), 151645);
    assert_true(r1_tok_is_special(qw, 151645));
    assert_false(r1_tok_is_special(qw, r1_tok_find(qw, "<think>"))); /* added, not special */
}

static const char *tricky[] = {
    "Hello, world!",
    "  leading and trailing  ",
    "\n\n\t\r\n  \t",
    "1234567890123456789012345678901234567890",
    "x = \\frac{1}{2} + \\sqrt{3}; \\boxed{42}",
    "你好，世界！日本語のカタカナとひらがな。한국어",
    "👍🏽 👨‍👩‍👧 🇫🇷 e\xcc\x81 caf\xc3\xa9",
    "<|im_start|>user\nhi<|im_end|><|im_start",
    "<｜User｜>2+2?<｜Assistant｜><think>\n4</think>",
    "int main(void) {\n    return 0;\n}\n",
    "\xc2\xa0nbsp\xe3\x80\x80ideographic\xe2\x80\x8bzw",
    "",
};

static void test_roundtrip_tricky(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof tricky / sizeof *tricky; i++) {
        roundtrip(ds, tricky[i], strlen(tricky[i]));
        if (!strstr(tricky[i], "e\xcc\x81")) roundtrip(qw, tricky[i], strlen(tricky[i]));
    }
    /* Qwen normalizes to NFC: e + U+0301 comes back as U+00E9. */
    const char *nfd = "cafe\xcc\x81!";
    R1Ids ids = {0};
    R1Err err;
    size_t len;
    assert_int_equal(r1_tok_encode(qw, nfd, strlen(nfd), &ids, &err), 0);
    char *back = r1_tok_decode(qw, ids.ids, ids.n, 0, &len, &err);
    assert_string_equal(back, "caf\xc3\xa9!");
    for (int i = 0; i < ids.n; i++) assert_true((size_t)ids.offsets[i] < strlen(nfd));
    free(back);
    r1_ids_free(&ids);
}

/* A 3000-byte word with no break: heap BPE keeps it n log n. */
static void test_long_word(void **state) {
    (void)state;
    char *w = malloc(3001);
    for (int i = 0; i < 3000; i++) w[i] = "abcdefghij"[(i * 7 + i / 13) % 10];
    w[3000] = 0;
    roundtrip(ds, w, 3000);
    roundtrip(qw, w, 3000);
    free(w);
}

/* Random code points from several blocks: always valid, always round trips. */
static void test_roundtrip_random(void **state) {
    (void)state;
    static const unsigned blocks[][2] = {{0x20, 0x7E},       {0x09, 0x0D},     {0xA0, 0x17F},
                                         {0x300, 0x36F},     {0x4E00, 0x9FFF}, {0x3040, 0x30FF},
                                         {0x1F300, 0x1FAFF}, {0x200B, 0x200D}, {0xAC00, 0xD7A3}};
    R1Rng rng;
    r1_rng_seed(&rng, 99);
    char buf[512];
    for (int it = 0; it < 400; it++) {
        size_t n = 0;
        int count = (int)(r1_rng_u64(&rng) % 40);
        for (int c = 0; c < count; c++) {
            const unsigned *b = blocks[r1_rng_u64(&rng) % 9];
            unsigned cp = b[0] + (unsigned)(r1_rng_u64(&rng) % (b[1] - b[0] + 1));
            unsigned char *u = (unsigned char *)buf + n;
            if (cp < 0x80)
                u[0] = (unsigned char)cp, n += 1;
            else if (cp < 0x800)
                u[0] = 0xC0 | cp >> 6, u[1] = 0x80 | (cp & 63), n += 2;
            else if (cp < 0x10000)
                u[0] = 0xE0 | cp >> 12, u[1] = 0x80 | ((cp >> 6) & 63), u[2] = 0x80 | (cp & 63),
                n += 3;
            else
                u[0] = 0xF0 | cp >> 18, u[1] = 0x80 | ((cp >> 12) & 63),
                u[2] = 0x80 | ((cp >> 6) & 63), u[3] = 0x80 | (cp & 63), n += 4;
        }
        /* NFC (Qwen) may recompose e + U+0301: only DeepSeek, without a normalizer,
         * must give back every byte; Qwen must give back the NFC form's length or less. */
        roundtrip(ds, buf, n);
    }
}

/* Random bytes: refused exactly when not UTF-8, otherwise round trip. */
static void test_fuzz_random_bytes(void **state) {
    (void)state;
    R1Rng rng;
    r1_rng_seed(&rng, 7);
    unsigned char buf[64];
    int refused = 0, accepted = 0;
    for (int it = 0; it < 20000; it++) {
        size_t n = r1_rng_u64(&rng) % sizeof buf;
        int ascii_bias = it % 2; /* half the cases mostly ASCII, so some are valid */
        for (size_t i = 0; i < n; i++) {
            uint64_t r = r1_rng_u64(&rng);
            buf[i] = (unsigned char)(ascii_bias && (r & 3) ? 0x20 + (r >> 8) % 95 : r >> 16);
        }
        R1Tokenizer *t = it % 3 ? ds : qw;
        R1Ids ids = {0};
        R1Err err;
        int rc = r1_tok_encode(t, (const char *)buf, n, &ids, &err);
        if (!valid_utf8(buf, n)) {
            assert_int_equal(rc, -1);
            assert_non_null(strstr(err.msg, "invalid UTF-8 at byte"));
            refused++;
        } else {
            assert_int_equal(rc, 0);
            if (t == ds) roundtrip(t, (const char *)buf, n);
            accepted++;
        }
        r1_ids_free(&ids);
    }
    assert_true(refused > 1000 && accepted > 1000);
}

static void test_added_tokens(void **state) {
    (void)state;
    const char *s = "<|im_start|>user\nhi<|im_end|> <|im_start";
    R1Ids ids = {0};
    R1Err err;
    assert_int_equal(r1_tok_encode(qw, s, strlen(s), &ids, &err), 0);
    assert_int_equal(ids.ids[0], 151644);
    assert_int_equal(ids.offsets[0], 0);
    int found_end = 0;
    for (int i = 0; i < ids.n; i++) found_end += ids.ids[i] == 151645;
    assert_int_equal(found_end, 1); /* the broken "<|im_start" at the end is plain text */
    size_t len;
    char *plain = r1_tok_decode(qw, ids.ids, ids.n, 1, &len, &err);
    assert_string_equal(plain, "user\nhi <|im_start");
    free(plain);
    r1_ids_free(&ids);
}

/* Tokens that end inside a character are held back until it is complete. */
static void test_streaming(void **state) {
    (void)state;
    const char *s = "🤖 robots 机器人 ok é";
    R1Ids ids = {0};
    R1Err err;
    assert_int_equal(r1_tok_encode(ds, s, strlen(s), &ids, &err), 0);
    R1TokStream st;
    r1_tok_stream_init(&st);
    char *out = NULL;
    size_t len = 0, cap = 0;
    int held = 0;
    for (int i = 0; i < ids.n; i++) {
        size_t before = len;
        assert_int_equal(r1_tok_stream_push(ds, &st, ids.ids[i], &out, &len, &cap, &err), 0);
        held += st.n_pending > 0;
        assert_true(valid_utf8((const unsigned char *)out, len));
        assert_true(len >= before);
    }
    r1_tok_stream_finish(&st, &out, &len, &cap);
    assert_int_equal(len, strlen(s));
    assert_memory_equal(out, s, len);
    assert_true(held > 0); /* the emoji is split over byte tokens in this vocabulary */
    assert_int_equal(r1_tok_stream_push(ds, &st, 999999, &out, &len, &cap, &err), -1);
    free(out);
    r1_ids_free(&ids);
}

static void test_decode_unknown_id(void **state) {
    (void)state;
    int ids[2] = {5, 200000};
    R1Err err;
    size_t len;
    assert_null(r1_tok_decode(qw, ids, 2, 0, &len, &err));
    assert_non_null(strstr(err.msg, "id 200000"));
}

/* Load-time refusals, on a small byte-level tokenizer written here. */
static void write_tok(const char *dir, const char *normalizer, const char *pre, int drop_byte) {
    int cp[256], next = 256;
    for (int b = 0; b < 256; b++) {
        int printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
        cp[b] = printable ? b : next++;
    }
    char path[256];
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f,
            "{\"normalizer\":%s,\"pre_tokenizer\":%s,\"decoder\":null,\"added_tokens\":[],"
            "\"model\":{\"type\":\"BPE\",\"merges\":[],\"vocab\":{",
            normalizer, pre);
    for (int b = 0, first = 1; b < 256; b++) {
        if (b == drop_byte) continue;
        fprintf(f, "%s\"\\u%04x\":%d", first ? "" : ",", cp[b], b);
        first = 0;
    }
    fprintf(f, "}}}");
    fclose(f);
}

static void expect_refusal(const char *normalizer, const char *pre, int drop, const char *needle) {
    char dir[128];
    snprintf(dir, sizeof dir, "%s/bad", tmp);
    mkdir(dir, 0755);
    write_tok(dir, normalizer, pre, drop);
    R1Err err = {{0}};
    R1Tokenizer *t = r1_tok_load(dir, &err);
    if (t || !strstr(err.msg, needle)) fprintf(stderr, "got: %s\n", t ? "(loaded)" : err.msg);
    assert_null(t);
    assert_non_null(strstr(err.msg, needle));
    assert_non_null(strstr(err.msg, "bad/tokenizer.json"));
}

static void test_load_refusals(void **state) {
    (void)state;
    char dir[128];
    snprintf(dir, sizeof dir, "%s/bad", tmp);
    mkdir(dir, 0755);
    write_tok(dir, "null", "null", -1); /* the base case loads */
    R1Err err;
    R1Tokenizer *t = r1_tok_load(dir, &err);
    assert_non_null(t);
    roundtrip(t, "bytes only \xe4\xb8\xad", 15);
    r1_tok_free(t);
    expect_refusal("{\"type\":\"NFKC\"}", "null", -1, "normalizer \"NFKC\"");
    expect_refusal("null", "{\"type\":\"Whitespace\"}", -1, "pre-tokenizer \"Whitespace\"");
    expect_refusal("null",
                   "{\"type\":\"Split\",\"pattern\":{\"Regex\":\"(\"},\"behavior\":\"Isolated\"}",
                   -1, "pre_tokenizer: regex does not compile");
    expect_refusal("null",
                   "{\"type\":\"Split\",\"pattern\":{\"Regex\":\"a\"},\"behavior\":"
                   "\"MergedWithNext\"}",
                   -1, "Isolated or Removed");
    expect_refusal("null", "null", 0x41, "no token for byte 0x41");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sizes_and_specials), cmocka_unit_test(test_roundtrip_tricky),
        cmocka_unit_test(test_long_word),          cmocka_unit_test(test_roundtrip_random),
        cmocka_unit_test(test_fuzz_random_bytes),  cmocka_unit_test(test_added_tokens),
        cmocka_unit_test(test_streaming),          cmocka_unit_test(test_decode_unknown_id),
        cmocka_unit_test(test_load_refusals),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
