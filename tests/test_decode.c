/* test_decode.c - generation with the KV cache (decode.h, generate.h) against
 * the model's own uncached forward (r1_model_forward, itself tested against
 * PyTorch and finite differences), on random Qwen2 and Llama models:
 *   - every cached logit row equals the full recomputation's last row;
 *   - greedy generation equals argmax decoding by full recomputation, and the
 *     stored log-probabilities equal the recomputed log-softmax;
 *   - results are byte-identical for every batch size (slots reused);
 *   - EOS ids, stop strings, the context limit and bad logits end or refuse
 *     generation as generate.h says.
 * Tolerance for logits: 1e-4 absolute on logits of magnitude <= ~10 (float32
 * sums over 32..96 terms in a different order; seen ~1e-6). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "decode.h"
#include "generate.h"
#include "rng.h"

#define LOGIT_TOL 1e-4
#define V         768 /* the tiny tokenizer (configs/tiny) has 765 ids */

static void make_model(R1Model *m, int llama, int max_pos) {
    char json[1024];
    snprintf(json, sizeof json,
             "{\"model_type\":\"%s\",\"hidden_size\":32,\"num_hidden_layers\":2,"
             "\"num_attention_heads\":4,\"num_key_value_heads\":%d,\"intermediate_size\":48,"
             "\"vocab_size\":%d,\"max_position_embeddings\":%d,\"rms_norm_eps\":1e-5,"
             "\"rope_theta\":10000.0,\"tie_word_embeddings\":%s,\"initializer_range\":0.2,"
             "\"hidden_act\":\"silu\"%s}",
             llama ? "llama" : "qwen2", llama ? 1 : 2, V, max_pos, llama ? "true" : "false",
             llama ? ",\"rope_scaling\":{\"rope_type\":\"llama3\",\"factor\":4.0,"
                     "\"low_freq_factor\":1.0,\"high_freq_factor\":4.0,"
                     "\"original_max_position_embeddings\":16}"
                   : "");
    R1Config c;
    R1Err err;
    assert_int_equal(r1_config_parse(&c, json, "test", &err), 0);
    assert_int_equal(r1_model_build(m, &c, "test", &err), 0);
    r1_model_init_random(m, llama ? 11 : 7);
    /* Qwen2's q/k/v biases start at zero; give them values so they count. */
    R1Rng rng;
    r1_rng_seed(&rng, 3);
    for (int i = 0; i < m->table.n; i++)
        if (strstr(m->table.p[i].name, "bias"))
            for (size_t j = 0; j < m->table.p[i].numel; j++)
                m->params[m->table.p[i].offset + j] = 0.2f * (float)r1_rng_normal(&rng);
}

static R1Tokenizer *tiny_tokenizer(void) {
    const char *root = getenv("R1_ROOT") ? getenv("R1_ROOT") : ".";
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/configs/tiny", root);
    R1Err err;
    R1Tokenizer *t = r1_tok_load(dir, &err);
    if (!t) fprintf(stderr, "%s\n", err.msg);
    assert_non_null(t);
    return t;
}

/* Logits of the last token of seq[0..n), by the uncached forward. */
static void full_logits(R1Model *m, R1Acts *a, const int *seq, int n, float *out) {
    int starts[2] = {0, n};
    R1Batch b = {1, n, seq, starts, NULL, 0, 0};
    r1_model_forward(m, a, &b);
    memcpy(out, a->logits + (size_t)(n - 1) * V, sizeof(float) * V);
}

static double max_abs_diff(const float *x, const float *y, int n) {
    double d = 0;
    for (int i = 0; i < n; i++) d = fmax(d, fabs((double)x[i] - y[i]));
    return d;
}

static const int P0[] = {5, 17, 300, 2, 41}, P1[] = {9, 9, 700, 3, 8, 100, 12, 60, 1}, P2[] = {4};
static const int *const PROMPTS[] = {P0, P1, P2};
static const int LENS[] = {5, 9, 1};

/* Three prompts, two slots each continuing them with different tokens. */
static void cached_equals_uncached(int llama) {
    R1Model m;
    make_model(&m, llama, 64);
    R1Decoder d;
    r1_dec_init(&d, &m, 6, 3, 9, 8);
    float *logits = r1_falloc(6 * V), *ref = r1_falloc(V);
    R1Acts a;
    r1_acts_init(&a);
    int prefix[3] = {2, 0, 1}; /* entries in another order than the prompts */
    r1_dec_prefill(&d, 3, prefix, PROMPTS, LENS, logits);
    double worst = 0;
    for (int p = 0; p < 3; p++) {
        full_logits(&m, &a, PROMPTS[p], LENS[p], ref);
        worst = fmax(worst, max_abs_diff(logits + p * V, ref, V));
    }
    int seq[6][32], len[6], slot[6] = {5, 4, 3, 2, 1, 0}, pre[6], tok[6];
    for (int s = 0; s < 6; s++) {
        memcpy(seq[s], PROMPTS[s / 2], sizeof(int) * LENS[s / 2]);
        len[s] = LENS[s / 2];
        pre[s] = prefix[s / 2];
    }
    for (int step = 0; step < 8; step++) {
        int n = step < 3 ? 6 : 4; /* the last two sequences stop early */
        for (int s = 0; s < n; s++) tok[s] = seq[s][len[s]++] = (31 * step + 97 * s + 5) % V;
        r1_dec_step(&d, n, slot, pre, tok, logits);
        for (int s = 0; s < n; s++) {
            full_logits(&m, &a, seq[s], len[s], ref);
            worst = fmax(worst, max_abs_diff(logits + s * V, ref, V));
        }
    }
    printf("  %s: cached vs uncached logits, max abs diff %.2e\n", llama ? "llama" : "qwen2",
           worst);
    assert_true(worst <= LOGIT_TOL);
    free(logits), free(ref);
    r1_acts_free(&a);
    r1_dec_free(&d);
    r1_model_free(&m);
}

static void test_cached_qwen2(void **state) {
    (void)state;
    cached_equals_uncached(0);
}
static void test_cached_llama(void **state) {
    (void)state;
    cached_equals_uncached(1);
}

static R1GenOpts opts(float temperature, int max_new, int batch) {
    R1GenOpts o;
    memset(&o, 0, sizeof o);
    o.sample.temperature = temperature, o.sample.top_p = 1.0f;
    o.max_new = max_new, o.batch = batch, o.seed = 42, o.step = 3;
    return o;
}

static const int64_t KEYS[] = {101, 102, 103};
static const R1GenRequest REQ = {3, 2, PROMPTS, LENS, KEYS};

/* Greedy through the cache equals argmax decoding by full recomputation. */
static void greedy_equals_recompute(int llama) {
    R1Model m;
    make_model(&m, llama, 64);
    R1Tokenizer *tok = tiny_tokenizer();
    R1GenOpts o = opts(0.0f, 20, 4);
    R1Completion c[6];
    R1Err err;
    assert_int_equal(r1_generate(&m, tok, &REQ, &o, c, NULL, NULL, &err), 0);
    R1Acts a;
    r1_acts_init(&a);
    float *ref = r1_falloc(V);
    double worst_lp = 0;
    for (int q = 0; q < 6; q++) {
        int p = q / 2, seq[64], n = LENS[p];
        memcpy(seq, PROMPTS[p], sizeof(int) * n);
        assert_int_equal(c[q].n, 20);
        assert_int_equal(c[q].stopped, 0);
        for (int t = 0; t < 20; t++) {
            full_logits(&m, &a, seq, n, ref);
            int best = 0;
            double z = 0;
            for (int i = 1; i < V; i++) best = ref[i] > ref[best] ? i : best;
            for (int i = 0; i < V; i++) z += exp((double)ref[i] - ref[best]);
            assert_int_equal(c[q].ids[t], best);
            worst_lp = fmax(worst_lp, fabs(c[q].logprobs[t] - (ref[best] - ref[best] - log(z))));
            seq[n++] = best;
        }
        if (q % 2) assert_memory_equal(c[q].ids, c[q - 1].ids, sizeof(int) * 20);
    }
    printf("  %s: greedy equal, logprob max abs diff %.2e\n", llama ? "llama" : "qwen2", worst_lp);
    assert_true(worst_lp <= LOGIT_TOL);
    for (int q = 0; q < 6; q++) r1_completion_free(&c[q]);
    free(ref);
    r1_acts_free(&a);
    r1_tok_free(tok);
    r1_model_free(&m);
}

static void test_greedy_qwen2(void **state) {
    (void)state;
    greedy_equals_recompute(0);
}
static void test_greedy_llama(void **state) {
    (void)state;
    greedy_equals_recompute(1);
}

/* Sampled with cuts and an EOS that ends sequences at different lengths (so
 * slots are freed and reused): every batch size, and prompts prefilled alone
 * or together, give the same bytes. 40 sequences and a 40-token prompt cross
 * the decoder's 32-row blocks in both decoding and prefill. */
#define NQ 40
static void test_batch_invariance(void **state) {
    (void)state;
    R1Model m;
    make_model(&m, 0, 128);
    R1Tokenizer *tok = tiny_tokenizer();
    int p3[40];
    for (int i = 0; i < 40; i++) p3[i] = (i * 37 + 11) % V;
    const int *ids[] = {P0, P1, P2, p3}, lens[] = {5, 9, 1, 40};
    const int64_t keys[] = {7, 8, 9, 10};
    R1GenRequest req = {4, 10, ids, lens, keys};
    R1Completion ref[NQ], c[NQ];
    R1Err err;
    R1GenOpts o = opts(1.0f, 24, 1);
    o.sample.top_p = 0.9f, o.sample.top_k = 50;
    assert_int_equal(r1_generate(&m, tok, &req, &o, ref, NULL, NULL, &err), 0);
    /* an EOS: a token the first completion drew at position 6, so lengths differ */
    int eos = ref[0].ids[6];
    o.eos = &eos, o.n_eos = 1;
    for (int q = 0; q < NQ; q++) r1_completion_free(&ref[q]);
    assert_int_equal(r1_generate(&m, tok, &req, &o, ref, NULL, NULL, &err), 0);
    int lens_differ = 0;
    for (int q = 1; q < NQ; q++) lens_differ |= ref[q].n != ref[0].n;
    assert_true(lens_differ);
    assert_true(ref[0].stopped && ref[0].n <= 7 && ref[0].ids[ref[0].n - 1] == eos);
    int batches[] = {2, 3, 17, 40, 40}, prefill[] = {0, 8, 0, 0, 10};
    for (int b = 0; b < 5; b++) {
        o.batch = batches[b], o.prefill_tokens = prefill[b];
        assert_int_equal(r1_generate(&m, tok, &req, &o, c, NULL, NULL, &err), 0);
        for (int q = 0; q < NQ; q++) {
            assert_int_equal(c[q].n, ref[q].n);
            assert_int_equal(c[q].stopped, ref[q].stopped);
            assert_memory_equal(c[q].ids, ref[q].ids, sizeof(int) * (size_t)c[q].n);
            assert_memory_equal(c[q].logprobs, ref[q].logprobs, sizeof(float) * (size_t)c[q].n);
            assert_int_equal(c[q].text_len, ref[q].text_len);
            assert_memory_equal(c[q].text, ref[q].text, c[q].text_len);
            r1_completion_free(&c[q]);
        }
    }
    for (int q = 0; q < NQ; q++) r1_completion_free(&ref[q]);
    r1_tok_free(tok);
    r1_model_free(&m);
}

/* A stop string ends a completion at the token that completes it. */
static void test_stop_string(void **state) {
    (void)state;
    R1Model m;
    make_model(&m, 1, 64);
    R1Tokenizer *tok = tiny_tokenizer();
    R1Completion ref[6], c[6];
    R1Err err;
    R1GenOpts o = opts(1.0f, 30, 4);
    assert_int_equal(r1_generate(&m, tok, &REQ, &o, ref, NULL, NULL, &err), 0);
    /* Two bytes from the middle of the third completion's text, avoiding bytes
     * of an incomplete character. */
    const R1Completion *r = &ref[2];
    size_t at = r->text_len / 2;
    while (at + 2 < r->text_len && ((r->text[at] & 0x80) || (r->text[at + 1] & 0x80))) at++;
    assert_true(at + 2 < r->text_len);
    char stop[3] = {r->text[at], r->text[at + 1], 0};
    const char *stops[] = {stop};
    o.stop = stops, o.n_stop = 1;
    assert_int_equal(r1_generate(&m, tok, &REQ, &o, c, NULL, NULL, &err), 0);
    for (int q = 0; q < 6; q++) {
        assert_true(c[q].n <= ref[q].n);
        assert_memory_equal(c[q].ids, ref[q].ids, sizeof(int) * (size_t)c[q].n);
        if (!c[q].stopped) continue;
        assert_non_null(strstr(c[q].text, stop));
        size_t len;
        char *before = r1_tok_decode(tok, c[q].ids, c[q].n - 1, 1, &len, &err);
        assert_null(strstr(before, stop)); /* the last token completed it */
        free(before);
    }
    assert_true(c[2].stopped && c[2].n < ref[2].n + 1);
    for (int q = 0; q < 6; q++) r1_completion_free(&c[q]), r1_completion_free(&ref[q]);
    r1_tok_free(tok);
    r1_model_free(&m);
}

/* Prompt + completion stop at the context; a prompt that fills it is refused;
 * non-finite logits are an error. */
static void test_limits(void **state) {
    (void)state;
    R1Model m;
    make_model(&m, 0, 12);
    R1Tokenizer *tok = tiny_tokenizer();
    R1Completion c[6];
    R1Err err;
    R1GenOpts o = opts(1.0f, 100, 4);
    assert_int_equal(r1_generate(&m, tok, &REQ, &o, c, NULL, NULL, &err), 0);
    for (int q = 0; q < 6; q++) {
        assert_int_equal(LENS[q / 2] + c[q].n, 12);
        assert_int_equal(c[q].stopped, 0);
        r1_completion_free(&c[q]);
    }
    int long_prompt[12] = {0}, len12 = 12;
    const int *lp[] = {long_prompt};
    R1GenRequest too_long = {1, 1, lp, &len12, KEYS};
    assert_int_equal(r1_generate(&m, tok, &too_long, &o, c, NULL, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "prompt 0 has 12 tokens"));
    m.layers[1].wdown[3] = NAN;
    assert_int_equal(r1_generate(&m, tok, &REQ, &o, c, NULL, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "not finite"));
    r1_tok_free(tok);
    r1_model_free(&m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cached_qwen2),     cmocka_unit_test(test_cached_llama),
        cmocka_unit_test(test_greedy_qwen2),     cmocka_unit_test(test_greedy_llama),
        cmocka_unit_test(test_batch_invariance), cmocka_unit_test(test_stop_string),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
