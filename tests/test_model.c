/* test_model.c - the whole model: gradients of every parameter against
 * central finite differences, batching invariance, a custom per-token loss,
 * and checkpoint save/load with its refusals.
 *
 * Gradient tolerance: 1e-3 of max(1, max|grad|) per tensor (seen: at most
 * 2.5e-4), eps = 1e-2 with Richardson extrapolation on
 * a float32 forward (the loss carries ~1e-6 rounding, so the central
 * difference ~1e-4 noise). Weights are drawn with std 0.3 so that every path
 * contributes visibly to the loss. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fdcheck.h"
#include "model.h"

#define GRAD_TOL 1e-3

static const char *cfg_json(int llama, int tied) {
    static char buf[1024];
    snprintf(buf, sizeof buf,
             "{\"model_type\":\"%s\",\"hidden_size\":16,\"num_hidden_layers\":2,"
             "\"num_attention_heads\":4,\"num_key_value_heads\":%d,\"intermediate_size\":24,"
             "\"vocab_size\":31,\"max_position_embeddings\":64,\"rms_norm_eps\":1e-5,"
             "\"rope_theta\":10000.0,\"tie_word_embeddings\":%s,\"initializer_range\":0.3,"
             "\"hidden_act\":\"silu\"%s}",
             llama ? "llama" : "qwen2", llama ? 4 : 2, tied ? "true" : "false",
             llama ? ",\"rope_scaling\":{\"rope_type\":\"llama3\",\"factor\":4.0,"
                     "\"low_freq_factor\":1.0,\"high_freq_factor\":4.0,"
                     "\"original_max_position_embeddings\":8}"
                   : "");
    return buf;
}

static void make_model(R1Model *m, int llama, int tied, uint64_t seed) {
    R1Config c;
    R1Err err;
    assert_int_equal(r1_config_parse(&c, cfg_json(llama, tied), "test", &err), 0);
    assert_int_equal(r1_model_build(m, &c, "test", &err), 0);
    r1_model_init_random(m, seed);
    /* Norm weights and biases start at 1 and 0; perturb them so their
     * gradients are exercised away from that special point. */
    R1Rng rng;
    r1_rng_seed(&rng, seed + 1);
    for (int i = 0; i < m->table.n; i++)
        if (m->table.p[i].ndim == 1)
            for (size_t j = 0; j < m->table.p[i].numel; j++)
                m->params[m->table.p[i].offset + j] += 0.3f * (float)r1_rng_normal(&rng);
}

static const int toks[12] = {1, 5, 9, 30, 2, 2, 7, 11, 0, 4, 19, 3};
static const int tgts[12] = {5, 9, 30, -1, 2, 7, 11, 0, 4, 19, 3, 8};
static const int starts[4] = {0, 4, 5, 12};

typedef struct {
    R1Model *m;
    R1Acts *a;
    R1Batch *b;
    const float *w; /* per-token weights of a custom loss sum(w * logp), or NULL for CE */
} Ctx;

static double loss_fn(void *p) {
    Ctx *c = p;
    r1_model_forward(c->m, c->a, c->b);
    if (!c->w) return c->a->loss;
    return dot_f64(c->w, c->a->logp, (size_t)c->b->n_tokens);
}

static void check_grads(int llama, int tied, const float *w) {
    R1Model m;
    R1Acts a;
    make_model(&m, llama, tied, 42);
    r1_acts_init(&a);
    R1Batch b = {.n_seqs = 3, .n_tokens = 12, .tokens = toks, .seq_start = starts, .targets = tgts};
    Ctx c = {&m, &a, &b, w};
    loss_fn(&c);
    r1_model_alloc_grads(&m);
    r1_model_zero_grad(&m);
    r1_model_backward(&m, &a, &b, w);
    for (int i = 0; i < m.table.n; i++) {
        const R1Param *p = &m.table.p[i];
        double e = fd_max_error(loss_fn, &c, m.params + p->offset, m.grads + p->offset, p->numel,
                                1e-2f, 24, p->name);
        if (e >= GRAD_TOL) fprintf(stderr, "%s: max rel err %g\n", p->name, e);
        assert_true(e < GRAD_TOL);
    }
    r1_acts_free(&a);
    r1_model_free(&m);
}

static void test_grads_qwen2_tied(void **s) {
    (void)s;
    check_grads(0, 1, NULL);
}

static void test_grads_llama_untied(void **s) {
    (void)s;
    check_grads(1, 0, NULL);
}

/* dL/dlogp given per token (as GRPO does) instead of the mean cross-entropy. */
static void test_grads_weighted_logp(void **s) {
    (void)s;
    float w[12];
    for (int t = 0; t < 12; t++) w[t] = (t % 3 == 0 ? -0.7f : 0.4f) + 0.05f * t;
    check_grads(0, 0, w);
}

/* A batch of several sequences equals each sequence alone: logits match and
 * gradients (of summed losses) add up. */
static void test_batch_invariance(void **s) {
    (void)s;
    R1Model m;
    R1Acts a;
    make_model(&m, 0, 1, 7);
    r1_acts_init(&a);
    R1Batch all = {3, 12, toks, starts, tgts, 0, 0};
    float ones[12];
    for (int t = 0; t < 12; t++) ones[t] = -1.0f; /* loss = -sum logp */
    r1_model_forward(&m, &a, &all);
    float *logits = r1_falloc(12 * 31), *g_all = r1_falloc(m.table.total);
    memcpy(logits, a.logits, sizeof(float) * 12 * 31);
    r1_model_alloc_grads(&m);
    r1_model_zero_grad(&m);
    r1_model_backward(&m, &a, &all, ones);
    memcpy(g_all, m.grads, sizeof(float) * m.table.total);
    r1_model_zero_grad(&m);
    double gscale = 0.0, worst = 0.0;
    for (int q = 0; q < 3; q++) {
        int n = starts[q + 1] - starts[q], st[2] = {0, n};
        R1Batch one = {1, n, toks + starts[q], st, tgts + starts[q], 0, 0};
        r1_model_forward(&m, &a, &one);
        for (int i = 0; i < n * 31; i++)
            assert_true(fabsf(a.logits[i] - logits[starts[q] * 31 + i]) < 1e-5f);
        r1_model_backward(&m, &a, &one, ones); /* accumulates across the three */
    }
    for (size_t i = 0; i < m.table.total; i++) gscale = fmax(gscale, fabs(g_all[i]));
    for (size_t i = 0; i < m.table.total; i++)
        worst = fmax(worst, fabs(g_all[i] - m.grads[i]) / gscale);
    assert_true(worst < 1e-5);
    free(logits), free(g_all);
    r1_acts_free(&a);
    r1_model_free(&m);
}

/* head_targets_only: the output layer at target rows only gives the same
 * log-probabilities, loss and gradients (1e-5, float32 rounding of products of
 * other shapes) for both heads, tied and untied, with a weighted dL/dlogp. */
static void head_only_equal(int llama, int tied) {
    R1Model m;
    R1Acts a;
    make_model(&m, llama, tied, 9);
    r1_acts_init(&a);
    float w[12], logp[12];
    for (int t = 0; t < 12; t++) w[t] = 0.1f * (float)(t % 5) - 0.2f;
    R1Batch full = {3, 12, toks, starts, tgts, 0, 0}, part = full;
    part.head_targets_only = 1;
    r1_model_alloc_grads(&m);
    r1_model_zero_grad(&m);
    r1_model_forward(&m, &a, &full);
    float loss = a.loss, *g = r1_falloc(m.table.total);
    memcpy(logp, a.logp, sizeof logp);
    r1_model_backward(&m, &a, &full, w);
    memcpy(g, m.grads, sizeof(float) * m.table.total);
    r1_model_zero_grad(&m);
    r1_model_forward(&m, &a, &part);
    assert_int_equal(a.n_head, 11); /* one position has no target */
    assert_true(fabsf(a.loss - loss) < 1e-5f);
    for (int t = 0; t < 12; t++) {
        assert_true(fabsf(a.logp[t] - logp[t]) < 1e-5f);
        assert_int_equal(a.head_row[t] >= 0, tgts[t] >= 0);
    }
    r1_model_backward(&m, &a, &part, w);
    double scale = 1e-30, worst = 0;
    for (size_t i = 0; i < m.table.total; i++) scale = fmax(scale, fabs(g[i]));
    for (size_t i = 0; i < m.table.total; i++) worst = fmax(worst, fabs(g[i] - m.grads[i]) / scale);
    assert_true(worst < 1e-5);
    free(g);
    r1_acts_free(&a);
    r1_model_free(&m);
}

static void test_head_targets_only(void **s) {
    (void)s;
    head_only_equal(0, 1);
    head_only_equal(1, 0);
}

static void rm_tree(char *dir) {
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    free(dir);
}

static char *tmpdir(void) {
    char *d = r1_xstrdup("/tmp/r1c-model-XXXXXX");
    assert_non_null(mkdtemp(d));
    return d;
}

static void test_save_load_roundtrip(void **s) {
    (void)s;
    R1Model m, back;
    R1Err err;
    make_model(&m, 1, 0, 9);
    char *dir = tmpdir();
    assert_int_equal(r1_model_save(&m, dir, R1_F32, &err), 0);
    assert_int_equal(r1_model_load(&back, dir, &err), 0);
    assert_int_equal(back.table.total, m.table.total);
    assert_memory_equal(back.params, m.params, sizeof(float) * m.table.total);
    assert_int_equal(back.cfg.rope_type, R1_ROPE_LLAMA3);
    r1_model_free(&back);
    /* bf16: every value is the nearest bf16 of the original */
    assert_int_equal(r1_model_save(&m, dir, R1_BF16, &err), 0);
    assert_int_equal(r1_model_load(&back, dir, &err), 0);
    for (size_t i = 0; i < m.table.total; i++)
        assert_true(back.params[i] == r1_bf16_to_f32(r1_f32_to_bf16(m.params[i])));
    r1_model_free(&back);
    r1_model_free(&m);
    rm_tree(dir);
}

static int exists(const char *dir, const char *name) {
    char *p = r1_path_join(dir, name);
    int ok = access(p, F_OK) == 0;
    free(p);
    return ok;
}

/* Shards of a few kilobytes: several files plus an index that loads back the
 * same weights; saving unsharded into the same directory removes the index. */
static void test_save_sharded(void **s) {
    (void)s;
    R1Model m, back;
    R1Err err;
    make_model(&m, 0, 0, 11);
    char *dir = tmpdir();
    assert_int_equal(r1_model_save_sharded(&m, dir, R1_F32, 8000, &err), 0);
    assert_true(exists(dir, "model.safetensors.index.json"));
    /* 19904 bytes of float32 in table order, cut where a tensor would pass 8000. */
    assert_true(exists(dir, "model-00001-of-00003.safetensors"));
    assert_true(exists(dir, "model-00003-of-00003.safetensors"));
    assert_false(exists(dir, "model.safetensors"));
    assert_int_equal(r1_model_load(&back, dir, &err), 0);
    assert_memory_equal(back.params, m.params, sizeof(float) * m.table.total);
    r1_model_free(&back);
    assert_int_equal(r1_model_save(&m, dir, R1_F32, &err), 0);
    assert_false(exists(dir, "model.safetensors.index.json"));
    assert_false(exists(dir, "model-00001-of-00003.safetensors")); /* stale shards go */
    assert_int_equal(r1_model_load(&back, dir, &err), 0);
    assert_memory_equal(back.params, m.params, sizeof(float) * m.table.total);
    r1_model_free(&back);
    r1_model_free(&m);
    rm_tree(dir);
}

/* Rewrites dir/model.safetensors from m's table with one tensor changed. */
static void write_altered(const R1Model *m, const char *dir, const char *drop, const char *reshape,
                          const char *extra) {
    R1StWriteTensor ts[64];
    int n = 0;
    for (int i = 0; i < m->table.n; i++) {
        const R1Param *p = &m->table.p[i];
        if (drop && strcmp(p->name, drop) == 0) continue;
        ts[n] = (R1StWriteTensor){.name = p->name,
                                  .dtype = R1_F32,
                                  .ndim = p->ndim,
                                  .shape = {p->shape[0], p->shape[1]},
                                  .data = m->params + p->offset};
        if (reshape && strcmp(p->name, reshape) == 0) { /* same numel, transposed shape */
            ts[n].shape[0] = p->shape[1];
            ts[n].shape[1] = p->shape[0];
        }
        n++;
    }
    if (extra)
        ts[n++] = (R1StWriteTensor){
            .name = extra, .dtype = R1_F32, .ndim = 1, .shape = {4}, .data = m->params};
    char *path = r1_path_join(dir, "model.safetensors");
    R1Err err;
    assert_int_equal(r1_st_write(path, ts, n, NULL, 0, &err), 0);
    free(path);
}

static void expect_load_error(const char *dir, const char *needle) {
    R1Model back;
    R1Err err = {{0}};
    assert_int_equal(r1_model_load(&back, dir, &err), -1);
    if (!strstr(err.msg, needle)) fprintf(stderr, "message: %s\n", err.msg);
    assert_non_null(strstr(err.msg, needle));
    assert_non_null(strstr(err.msg, "model.safetensors"));
}

static void test_load_refusals(void **s) {
    (void)s;
    R1Model m;
    R1Err err;
    make_model(&m, 0, 1, 3);
    char *dir = tmpdir();
    assert_int_equal(r1_model_save(&m, dir, R1_F32, &err), 0);
    write_altered(&m, dir, "model.layers.1.mlp.up_proj.weight", NULL, NULL);
    expect_load_error(dir, "model.layers.1.mlp.up_proj.weight");
    write_altered(&m, dir, NULL, "model.layers.0.self_attn.k_proj.weight", NULL);
    expect_load_error(dir, "model.layers.0.self_attn.k_proj.weight");
    write_altered(&m, dir, NULL, NULL, "model.layers.0.self_attn.o_proj.bias");
    expect_load_error(dir, "model.layers.0.self_attn.o_proj.bias");
    /* a tied checkpoint may carry a copy of lm_head, and old ones rotary buffers */
    write_altered(&m, dir, NULL, NULL, "model.layers.0.self_attn.rotary_emb.inv_freq");
    R1Model ok;
    assert_int_equal(r1_model_load(&ok, dir, &err), 0);
    r1_model_free(&ok);
    r1_model_free(&m);
    rm_tree(dir);
}

static void test_batch_check(void **s) {
    (void)s;
    R1Model m;
    R1Err err;
    make_model(&m, 0, 1, 3);
    int bad[3] = {1, 31, 2}, st[2] = {0, 3};
    R1Batch b = {1, 3, bad, st, NULL, 0, 0};
    assert_int_equal(r1_batch_check(&m, &b, &err), -1);
    assert_non_null(strstr(err.msg, "token 1 has id 31"));
    int longseq[65] = {0}, st2[2] = {0, 65};
    R1Batch b2 = {1, 65, longseq, st2, NULL, 0, 0};
    assert_int_equal(r1_batch_check(&m, &b2, &err), -1);
    assert_non_null(strstr(err.msg, "max_position_embeddings"));
    r1_model_free(&m);
}

/* ---- log-probabilities at a sampling temperature (R1Batch.temperature) ------ */

/* log softmax(logits / temperature)[y] in double, from float32 logits. */
static double logp_ref(const float *z, int V, int y, double temperature) {
    double mx = -1e300, sum = 0;
    for (int j = 0; j < V; j++) mx = fmax(mx, z[j] / temperature);
    for (int j = 0; j < V; j++) sum += exp(z[j] / temperature - mx);
    return z[y] / temperature - mx - log(sum);
}

/* The forward at temperature 0.7 against a reference built from the T = 1
 * run's logits alone: a->logits stays unscaled (the same bits as at T = 1),
 * logp[t] = log softmax(logits[t] / 0.7)[y_t] in double and the loss is their
 * mean negative, 2e-6 of 1 + |value| (float32 against double; seen 1e-7); and
 * they differ from T = 1's by far more than that. Temperature 1 and 0 (the
 * field's default) and a negative one give the untempered values bit for bit.
 * With head_targets_only the same: logp and loss (1e-5, as
 * test_head_targets_only), the head's rows are the target rows of the full
 * logits, and the gradients of a weighted dL/dlogp agree (1e-5). */
static void temperature_forward(int llama, int tied) {
    const float temp = 0.7f;
    R1Model m;
    R1Acts a;
    make_model(&m, llama, tied, 13);
    r1_acts_init(&a);
    R1Batch one = {3, 12, toks, starts, tgts, 0, 0}, hot = one;
    hot.temperature = temp;
    r1_model_forward(&m, &a, &one);
    float *logits = r1_falloc(12 * 31), logp1[12], logp[12];
    memcpy(logits, a.logits, sizeof(float) * 12 * 31);
    memcpy(logp1, a.logp, sizeof logp1);
    float loss1 = a.loss;
    r1_model_forward(&m, &a, &hot);
    assert_memory_equal(a.logits, logits, sizeof(float) * 12 * 31);
    double sum = 0, worst = 0, moved = 0;
    int n = 0;
    for (int t = 0; t < 12; t++) {
        if (tgts[t] < 0) {
            assert_true(a.logp[t] == 0.0f);
            continue;
        }
        double ref = logp_ref(logits + t * 31, 31, tgts[t], temp);
        worst = fmax(worst, fabs(a.logp[t] - ref) / (1 + fabs(ref)));
        moved = fmax(moved, fabs(ref - logp1[t]));
        sum -= ref, n++;
    }
    if (worst >= 2e-6) fprintf(stderr, "temperature %g: logp max rel err %g\n", temp, worst);
    assert_true(worst < 2e-6);
    assert_true(moved > 0.1); /* the test tells T = 0.7 from T = 1 */
    assert_true(fabs(a.loss - sum / n) < 2e-6 * (1 + fabs(sum / n)));
    memcpy(logp, a.logp, sizeof logp);
    float loss = a.loss;
    const float same[3] = {1.0f, 0.0f, -1.0f};
    for (int k = 0; k < 3; k++) {
        R1Batch b = one;
        b.temperature = same[k];
        r1_model_forward(&m, &a, &b);
        assert_memory_equal(a.logp, logp1, sizeof logp1);
        assert_true(a.loss == loss1);
    }

    /* head_targets_only at the same temperature */
    float w[12], *g = r1_falloc(m.table.total);
    for (int t = 0; t < 12; t++) w[t] = 0.1f * (float)(t % 5) - 0.2f;
    r1_model_alloc_grads(&m);
    r1_model_zero_grad(&m);
    r1_model_forward(&m, &a, &hot);
    r1_model_backward(&m, &a, &hot, w);
    memcpy(g, m.grads, sizeof(float) * m.table.total);
    R1Batch part = hot;
    part.head_targets_only = 1;
    r1_model_zero_grad(&m);
    r1_model_forward(&m, &a, &part);
    assert_int_equal(a.n_head, 11);
    assert_true(fabsf(a.loss - loss) < 1e-5f);
    for (int t = 0; t < 12; t++) {
        assert_true(fabsf(a.logp[t] - logp[t]) < 1e-5f);
        int r = a.head_row[t];
        assert_int_equal(r >= 0, tgts[t] >= 0);
        for (int j = 0; r >= 0 && j < 31; j++)
            assert_true(fabsf(a.logits[r * 31 + j] - logits[t * 31 + j]) < 1e-5f);
    }
    r1_model_backward(&m, &a, &part, w);
    double scale = 1e-30;
    worst = 0;
    for (size_t i = 0; i < m.table.total; i++) scale = fmax(scale, fabs(g[i]));
    for (size_t i = 0; i < m.table.total; i++) worst = fmax(worst, fabs(g[i] - m.grads[i]) / scale);
    assert_true(worst < 1e-5);
    free(g), free(logits);
    r1_acts_free(&a);
    r1_model_free(&m);
}

static void test_temperature_forward(void **s) {
    (void)s;
    temperature_forward(0, 1);
    temperature_forward(1, 0);
}

/* Every parameter's gradient against central differences of the tempered
 * forward (GRAD_TOL, as check_grads; seen ~2e-4): Llama, untied, T = 0.7, a
 * weighted dL/dlogp, the full head; Qwen2, tied, T = 1.3, the mean
 * cross-entropy, head_targets_only. (test_temperature_scaled_head checks the
 * other combinations exactly and cheaply.) */
static void check_grads_temp(int llama, int tied, const float *w, float temp, int head_only) {
    R1Model m;
    R1Acts a;
    make_model(&m, llama, tied, 42);
    r1_acts_init(&a);
    R1Batch b = {.n_seqs = 3,
                 .n_tokens = 12,
                 .tokens = toks,
                 .seq_start = starts,
                 .targets = tgts,
                 .head_targets_only = head_only,
                 .temperature = temp};
    Ctx c = {&m, &a, &b, w};
    loss_fn(&c);
    r1_model_alloc_grads(&m);
    r1_model_zero_grad(&m);
    r1_model_backward(&m, &a, &b, w);
    for (int i = 0; i < m.table.n; i++) {
        const R1Param *p = &m.table.p[i];
        double e = fd_max_error(loss_fn, &c, m.params + p->offset, m.grads + p->offset, p->numel,
                                1e-2f, 24, p->name);
        if (e >= GRAD_TOL) fprintf(stderr, "T=%g %s: max rel err %g\n", temp, p->name, e);
        assert_true(e < GRAD_TOL);
    }
    r1_acts_free(&a);
    r1_model_free(&m);
}

static void test_grads_temperature(void **s) {
    (void)s;
    float w[12];
    for (int t = 0; t < 12; t++) w[t] = (t % 3 == 0 ? -0.7f : 0.4f) + 0.05f * t;
    check_grads_temp(1, 0, w, 0.7f, 0);
    check_grads_temp(0, 1, NULL, 1.3f, 1);
}

/* An independent reference for the tempered gradient (untied head): the
 * model at temperature T equals, at T = 1, the model whose lm_head is scaled by
 * s = 1 / T. So logp agree (1e-5), every other parameter's gradient agrees and
 * lm_head's is s times the scaled model's (1e-5 of the largest gradient; seen
 * ~1e-7), for a weighted dL/dlogp, full head and head_targets_only. */
static void scaled_head_equal(int llama, float temp, int head_only) {
    R1Model m;
    R1Acts a;
    make_model(&m, llama, 0, 21);
    r1_acts_init(&a);
    assert_true(m.lm_head != m.wte);
    const R1Param *head = r1_model_param(&m, "lm_head.weight");
    assert_non_null(head);
    assert_true(m.params + head->offset == m.lm_head);
    float w[12], logp[12], s = 1.0f / temp, *g = r1_falloc(m.table.total);
    for (int t = 0; t < 12; t++) w[t] = 0.3f * (float)(t % 4) - 0.5f;
    R1Batch b = {3, 12, toks, starts, tgts, head_only, temp};
    r1_model_alloc_grads(&m);
    r1_model_zero_grad(&m);
    r1_model_forward(&m, &a, &b);
    memcpy(logp, a.logp, sizeof logp);
    r1_model_backward(&m, &a, &b, w);
    memcpy(g, m.grads, sizeof(float) * m.table.total);
    for (size_t i = 0; i < head->numel; i++) m.lm_head[i] *= s;
    b.temperature = 1.0f;
    r1_model_zero_grad(&m);
    r1_model_forward(&m, &a, &b);
    for (int t = 0; t < 12; t++) assert_true(fabsf(a.logp[t] - logp[t]) < 1e-5f);
    r1_model_backward(&m, &a, &b, w);
    double scale = 1e-30, worst = 0;
    for (size_t i = 0; i < m.table.total; i++) scale = fmax(scale, fabs(g[i]));
    for (size_t i = 0; i < m.table.total; i++) {
        int in_head = i >= head->offset && i < head->offset + head->numel;
        worst = fmax(worst, fabs(g[i] - (in_head ? s : 1.0f) * m.grads[i]) / scale);
    }
    if (worst >= 1e-5) fprintf(stderr, "T=%g: max rel err %g\n", temp, worst);
    assert_true(worst < 1e-5);
    free(g);
    r1_acts_free(&a);
    r1_model_free(&m);
}

static void test_temperature_scaled_head(void **s) {
    (void)s;
    scaled_head_equal(0, 0.7f, 0);
    scaled_head_equal(1, 0.7f, 1);
    scaled_head_equal(0, 1.3f, 1);
}

/* A vocabulary large enough that the head runs in several chunks
 * (R1_HEAD_CHUNK_ROWS(49152) = 341 rows): logp, loss, entropy and every
 * gradient of the chunked head_targets_only path against the full-logits path
 * of the same batch (relative 1e-5: only the lm_head gradient's summation
 * order differs), tied (the embedding gets both contributions) and untied. */
static void chunked_head(int tied) {
    enum { V = 49152, T = 800 };
    char json[768];
    snprintf(json, sizeof json,
             "{\"model_type\":\"qwen2\",\"hidden_size\":16,\"num_hidden_layers\":1,"
             "\"num_attention_heads\":2,\"num_key_value_heads\":1,\"intermediate_size\":24,"
             "\"vocab_size\":%d,\"max_position_embeddings\":512,\"rms_norm_eps\":1e-5,"
             "\"rope_theta\":10000.0,\"tie_word_embeddings\":%s,\"initializer_range\":0.5,"
             "\"hidden_act\":\"silu\"}",
             V, tied ? "true" : "false");
    R1Config c;
    R1Err err;
    R1Model m;
    assert_int_equal(r1_config_parse(&c, json, "test", &err), 0);
    assert_int_equal(r1_model_build(&m, &c, "test", &err), 0);
    r1_model_init_random(&m, 3);
    assert_true(R1_HEAD_CHUNK_ROWS(V) < T / 2); /* at least three chunks */
    int *tok = malloc(sizeof(int) * T), *tgt = malloc(sizeof(int) * T), starts[3] = {0, 300, T};
    float *w = malloc(sizeof(float) * T);
    R1Rng rng;
    r1_rng_seed(&rng, 4);
    for (int t = 0; t < T; t++) {
        tok[t] = (int)(r1_rng_u64(&rng) % V);
        tgt[t] = t % 7 == 3 ? -1 : (int)(r1_rng_u64(&rng) % V);
        w[t] = (float)r1_rng_normal(&rng) / T;
    }
    R1Batch full = {2, T, tok, starts, tgt, 0, 0.8f}, part = full;
    part.head_targets_only = 1;
    R1Acts a;
    r1_acts_init(&a);
    r1_model_alloc_grads(&m);
    r1_model_zero_grad(&m);
    r1_model_forward(&m, &a, &full);
    float *logp = malloc(sizeof(float) * T), loss = a.loss, *g = r1_falloc(m.table.total);
    memcpy(logp, a.logp, sizeof(float) * T);
    double ent = 0; /* the entropy of the target rows, from the full logits */
    for (int t = 0; t < T; t++) {
        if (tgt[t] < 0) continue;
        const float *z = a.logits + (size_t)t * V;
        double mx = -1e30, sum = 0, zs = 0;
        for (int j = 0; j < V; j++) mx = fmax(mx, z[j] / 0.8);
        for (int j = 0; j < V; j++) sum += exp(z[j] / 0.8 - mx);
        for (int j = 0; j < V; j++) zs += exp(z[j] / 0.8 - mx) / sum * (z[j] / 0.8);
        ent += mx + log(sum) - zs;
    }
    r1_model_backward(&m, &a, &full, w);
    memcpy(g, m.grads, sizeof(float) * m.table.total);
    r1_model_zero_grad(&m);
    r1_acts_free(&a); /* fresh buffers: the full path's logits are gone */
    a.want_entropy = 1;
    r1_model_forward(&m, &a, &part);
    /* one chunk of logits, never the whole [T, V] */
    assert_int_equal(a.cap_logits, (size_t)R1_HEAD_CHUNK_ROWS(V) * V);
    assert_true(fabsf(a.loss - loss) <= 1e-5f * fabsf(loss));
    double h = 0;
    for (int r = 0; r < a.n_head; r++) h += a.ent_h[r];
    assert_true(fabs(h - ent) <= 1e-4 * fabs(ent));
    for (int t = 0; t < T; t++)
        if (tgt[t] >= 0) assert_true(fabsf(a.logp[t] - logp[t]) <= 1e-5f * fabsf(logp[t]) + 1e-6f);
    r1_model_backward(&m, &a, &part, w);
    for (int i = 0; i < m.table.n; i++) { /* each tensor against its own scale */
        const R1Param *q = &m.table.p[i];
        double scale = 1e-30, worst = 0;
        for (size_t j = 0; j < q->numel; j++) scale = fmax(scale, fabs(g[q->offset + j]));
        for (size_t j = 0; j < q->numel; j++)
            worst = fmax(worst, fabs(g[q->offset + j] - m.grads[q->offset + j]) / scale);
        if (worst > 1e-5) fprintf(stderr, "%s: worst %.3g\n", q->name, worst);
        assert_true(worst <= 1e-5);
    }
    free(tok), free(tgt), free(w), free(logp), free(g);
    r1_acts_free(&a);
    r1_model_free(&m);
}

static void test_chunked_head(void **s) {
    (void)s;
    chunked_head(1);
    chunked_head(0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grads_qwen2_tied),    cmocka_unit_test(test_grads_llama_untied),
        cmocka_unit_test(test_grads_weighted_logp), cmocka_unit_test(test_batch_invariance),
        cmocka_unit_test(test_save_load_roundtrip), cmocka_unit_test(test_save_sharded),
        cmocka_unit_test(test_load_refusals),       cmocka_unit_test(test_batch_check),
        cmocka_unit_test(test_head_targets_only),   cmocka_unit_test(test_temperature_forward),
        cmocka_unit_test(test_grads_temperature),   cmocka_unit_test(test_temperature_scaled_head),
        cmocka_unit_test(test_chunked_head),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
