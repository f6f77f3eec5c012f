/* test_shard.c - the single-process pieces of data parallelism: how work is
 * split among ranks (dist.h) and AdamW over shards of the parameters (optim.h,
 * zero.h). The collectives themselves run under mpirun in tests/test_dist.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dist.h"
#include "optim.h"
#include "rng.h"
#include "zero.h"

/* Every item gets one rank; the loads differ by at most the heaviest item;
 * the same weights give the same assignment. */
static void test_assign_balances(void **state) {
    (void)state;
    R1Rng rng;
    r1_rng_seed(&rng, 5);
    long w[64];
    int owner[64], again[64];
    for (int trial = 0; trial < 300; trial++) {
        int n = (int)(r1_rng_u64(&rng) % 64), size = 1 + (int)(r1_rng_u64(&rng) % 7);
        int zeros = trial % 7 == 0;
        long heaviest = 0, load[8] = {0};
        for (int i = 0; i < n; i++) {
            w[i] = zeros ? 0 : 1 + (long)(r1_rng_u64(&rng) % 500);
            heaviest = w[i] > heaviest ? w[i] : heaviest;
        }
        r1_dist_assign(w, n, size, owner);
        r1_dist_assign(w, n, size, again);
        assert_memory_equal(owner, again, sizeof(int) * (size_t)n);
        for (int i = 0; i < n; i++) {
            assert_true(owner[i] >= 0 && owner[i] < size);
            load[owner[i]] += w[i];
        }
        long lo = load[0], hi = load[0];
        for (int r = 1; r < size; r++)
            lo = load[r] < lo ? load[r] : lo, hi = load[r] > hi ? load[r] : hi;
        assert_true(hi - lo <= heaviest);
    }
}

/* Heaviest first to the least loaded: 5 4 3 3 on two ranks -> {5, 3}, {4, 3};
 * r1_dist_mine keeps the batch's order. */
static void test_assign_example(void **state) {
    (void)state;
    long w[4] = {3, 5, 3, 4};
    int owner[4], idx[4] = {10, 11, 12, 13}, mine[4];
    r1_dist_assign(w, 4, 2, owner);
    assert_int_equal(owner[1], 0), assert_int_equal(owner[3], 1);
    assert_int_equal(owner[0], 1), assert_int_equal(owner[2], 0);
    R1Dist d1 = {.rank = 1, .size = 2};
    assert_int_equal(r1_dist_mine(&d1, idx, owner, 4, mine), 2);
    assert_int_equal(mine[0], 10), assert_int_equal(mine[1], 13);
    long z[5] = {0, 0, 0, 0, 0}; /* weightless items go round the ranks */
    int oz[5];
    r1_dist_assign(z, 5, 2, oz);
    int c0 = 0;
    for (int i = 0; i < 5; i++) c0 += oz[i] == 0;
    assert_true(c0 == 2 || c0 == 3);
}

static void test_share_even(void **state) {
    (void)state;
    size_t lo, hi, total = 0;
    for (int r = 0; r < 3; r++) {
        r1_dist_share(10, 3, r, &lo, &hi);
        assert_true(hi - lo == 3 || hi - lo == 4);
        assert_int_equal(lo, total);
        total = hi;
    }
    assert_int_equal(total, 10);
}

/* A table of three tensors, the middle one without weight decay. */
static R1ParamTable table3(R1Param *p) {
    const char *names[3] = {"a.weight", "b.norm", "c.weight"};
    size_t sizes[3] = {37, 5, 58}, off = 0;
    for (int i = 0; i < 3; i++) {
        memset(&p[i], 0, sizeof p[i]);
        snprintf(p[i].name, sizeof p[i].name, "%s", names[i]);
        p[i].ndim = 1, p[i].shape[0] = (int64_t)sizes[i], p[i].numel = sizes[i];
        p[i].offset = off, p[i].decay = i != 1;
        off += sizes[i];
    }
    return (R1ParamTable){p, 3, off};
}

/* AdamW on each of several shards, steps after steps, gives the whole
 * optimizer's weights and moments bit for bit (the update is elementwise). */
static void test_adamw_shards_equal_whole(void **state) {
    (void)state;
    R1Param p[3];
    R1ParamTable tb = table3(p);
    size_t n = tb.total;
    float *w1 = r1_falloc(n), *w2 = r1_falloc(n), *g = r1_falloc(n);
    R1Rng rng;
    r1_rng_seed(&rng, 9);
    for (size_t i = 0; i < n; i++) w1[i] = w2[i] = (float)r1_rng_normal(&rng);
    R1AdamW whole, shard[3];
    r1_adamw_init(&whole, &tb, 0.9f, 0.95f, 1e-8f, 0.1f);
    size_t bounds[4] = {0, 20, 40, n}; /* cuts inside the first and third tensors */
    for (int r = 0; r < 3; r++)
        r1_adamw_init_shard(&shard[r], &tb, 0.9f, 0.95f, 1e-8f, 0.1f, bounds[r], bounds[r + 1]);
    for (int step = 0; step < 4; step++) {
        for (size_t i = 0; i < n; i++) g[i] = (float)r1_rng_normal(&rng);
        r1_adamw_step(&whole, w1, g, 1e-2f);
        for (int r = 0; r < 3; r++) r1_adamw_step(&shard[r], w2, g, 1e-2f);
    }
    assert_memory_equal(w1, w2, sizeof(float) * n);
    for (int r = 0; r < 3; r++) {
        size_t k = bounds[r + 1] - bounds[r];
        assert_memory_equal(whole.m + bounds[r], shard[r].m, sizeof(float) * k);
        assert_memory_equal(whole.v + bounds[r], shard[r].v, sizeof(float) * k);
        assert_int_equal(shard[r].step, 4);
    }
    /* a shard cannot be saved or loaded by itself */
    R1Err err;
    assert_int_not_equal(r1_adamw_save(&shard[0], "/nonexistent/o.safetensors", &err), 0);
    assert_non_null(strstr(err.msg, "shard"));
    for (int r = 0; r < 3; r++) r1_adamw_free(&shard[r]);
    r1_adamw_free(&whole);
    free(w1), free(w2), free(g);
}

/* One process: the gather of shards gives the state back; bounds cover it. */
static void test_zero_single_rank(void **state) {
    (void)state;
    R1Param p[3];
    R1ParamTable tb = table3(p);
    R1Dist d = {.rank = 0, .size = 1};
    size_t b[2];
    r1_zero_bounds(&d, tb.total, b);
    assert_int_equal(b[0], 0), assert_int_equal(b[1], tb.total);
    R1AdamW o, whole;
    r1_zero_opt_init(&d, &o, &tb, 0.9f, 0.95f, 1e-8f, 0.0f);
    for (size_t i = 0; i < tb.total; i++) o.m[i] = (float)i, o.v[i] = 2.0f * (float)i;
    o.step = 3;
    r1_zero_opt_gather(&d, &o, &whole);
    assert_memory_equal(whole.m, o.m, sizeof(float) * tb.total);
    assert_memory_equal(whole.v, o.v, sizeof(float) * tb.total);
    assert_int_equal(whole.step, 3);
    r1_adamw_free(&o), r1_adamw_free(&whole);
}

/* The checksum sees a one-bit change anywhere, and the length. */
static void test_hash(void **state) {
    (void)state;
    float x[37];
    for (int i = 0; i < 37; i++) x[i] = (float)i * 0.25f;
    uint64_t h = r1_hash_f32(x, 37);
    assert_true(h == r1_hash_f32(x, 37));
    for (int i = 0; i < 37; i++) {
        uint32_t u;
        memcpy(&u, &x[i], 4);
        u ^= 1u;
        float save = x[i];
        memcpy(&x[i], &u, 4);
        assert_true(r1_hash_f32(x, 37) != h);
        x[i] = save;
    }
    assert_true(r1_hash_f32(x, 36) != h);
}

/* Alone, every collective leaves its data as it was. */
static void test_single_rank_collectives(void **state) {
    (void)state;
    R1Dist d = {.rank = 0, .size = 1};
    float x[3] = {1, 2, 3};
    double y[2] = {4, 5};
    r1_dist_sum_f32(&d, x, 3), r1_dist_sum_f64(&d, y, 2), r1_dist_max_f64(&d, y, 2);
    assert_true(x[0] == 1 && x[2] == 3 && y[0] == 4 && y[1] == 5);
    assert_int_equal(r1_dist_any(&d, 0), 0);
    assert_int_equal(r1_dist_any(&d, -1), 1);
    size_t counts[1];
    char *all = r1_dist_gather(&d, "abc", 3, counts);
    assert_int_equal(counts[0], 3);
    assert_memory_equal(all, "abc", 3);
    free(all);
    R1Err err;
    assert_int_equal(r1_dist_same(&d, 42, "x", &err), 0);
    assert_int_equal(r1_dist_fault(&d, "perturb"), 0); /* R1C_FAULT unset */
}

int main(void) {
    unsetenv("R1C_FAULT");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_assign_balances),
        cmocka_unit_test(test_assign_example),
        cmocka_unit_test(test_share_even),
        cmocka_unit_test(test_adamw_shards_equal_whole),
        cmocka_unit_test(test_zero_single_rank),
        cmocka_unit_test(test_hash),
        cmocka_unit_test(test_single_rank_collectives),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
