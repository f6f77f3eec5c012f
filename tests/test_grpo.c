/* test_grpo.c - the GRPO arithmetic of core/grpo.h on its own:
 *   - advantages against values worked out by hand (group / batch / none
 *     scaling, a NULL reward, a group of one, a uniform group);
 *   - each token's derivative by logp against a central finite difference
 *     (step 1e-6 in double: error ~1e-9; tolerance 1e-6) in every region of
 *     the clipped surrogate, with and without the KL term;
 *   - which tokens count as clipped, and the aggregation weights. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "grpo.h"

static void test_advantages(void **state) {
    (void)state;
    /* groups: 7 -> {1, 0, 1, NaN}, 3 -> {0.5}, 9 -> {2, 2} */
    double r[] = {1, 0.5, 0, 2, 1, NAN, 2}, adv[7];
    long g[] = {7, 3, 7, 9, 7, 7, 9};
    R1AdvStats st;
    r1_grpo_advantages(r, g, 7, R1_SCALE_GROUP, adv, NULL, &st);
    /* group 7: mean 2/3, sample std sqrt(((1/3)^2 * 2 + (2/3)^2) / 2) = sqrt(1/3) */
    double sd = sqrt(1.0 / 3.0);
    assert_float_equal(adv[0], (1 - 2.0 / 3) / (sd + 1e-4), 1e-12);
    assert_float_equal(adv[2], (0 - 2.0 / 3) / (sd + 1e-4), 1e-12);
    assert_float_equal(adv[1], 0.0, 0); /* a group of one: std 0, centred to 0 */
    assert_float_equal(adv[3], 0.0, 0); /* uniform group */
    assert_float_equal(adv[5], 0.0, 0); /* NULL reward */
    assert_int_equal(st.groups, 3);
    assert_int_equal(st.zero_std_groups, 2);
    unsigned char uni[7];
    r1_grpo_advantages(r, g, 7, R1_SCALE_NONE, adv, uni, &st);
    const unsigned char want_uni[7] = {0, 1, 0, 1, 0, 0, 1}; /* groups 3 and 9: one value each */
    assert_memory_equal(uni, want_uni, 7);
    assert_float_equal(adv[0], 1.0 / 3, 1e-12);
    assert_float_equal(adv[4], 1.0 / 3, 1e-12);
    r1_grpo_advantages(r, g, 7, R1_SCALE_BATCH, adv, NULL, &st);
    /* batch std over the 6 defined rewards {1, .5, 0, 2, 1, 2}: mean 13/12 */
    double m = 6.5 / 6, ss = 0, v[] = {1, .5, 0, 2, 1, 2};
    for (int i = 0; i < 6; i++) ss += (v[i] - m) * (v[i] - m);
    assert_float_equal(adv[2], (0 - 2.0 / 3) / (sqrt(ss / 5) + 1e-4), 1e-12);
}

static double token_loss(double logp, double old, double ref, double adv, const R1GrpoClip *c) {
    R1GrpoToken t;
    r1_grpo_token(logp, old, ref, adv, c, &t);
    return t.loss;
}

static void test_token_derivative(void **state) {
    (void)state;
    const double olds[] = {-1.0, -1.5, -0.5, -1.18, -0.82}; /* rho = e^(logp - old) for logp -1 */
    const double advs[] = {1.3, -0.7, 0.0};
    const double betas[] = {0.0, 0.04, 0.5};
    int regions[2][2] = {{0, 0}, {0, 0}};
    for (int b = 0; b < 3; b++)
        for (int i = 0; i < 5; i++)
            for (int k = 0; k < 3; k++) {
                R1GrpoClip c = {0.2, 0.28, betas[b]};
                double logp = -1.0, ref = -1.3, h = 1e-6;
                R1GrpoToken t;
                r1_grpo_token(logp, olds[i], ref, advs[k], &c, &t);
                double fd = (token_loss(logp + h, olds[i], ref, advs[k], &c) -
                             token_loss(logp - h, olds[i], ref, advs[k], &c)) /
                            (2 * h);
                assert_float_equal(t.dlogp, fd, 1e-6);
                double rho = exp(logp - olds[i]);
                assert_float_equal(t.rho, rho, 1e-15);
                assert_int_equal(t.clipped_low, rho < 0.8 && advs[k] < 0);
                assert_int_equal(t.clipped_high, rho > 1.28 && advs[k] > 0);
                regions[t.clipped_low][t.clipped_high]++;
                double d = ref - logp;
                assert_float_equal(t.kl, b ? exp(d) - d - 1 : 0.0, 1e-15);
            }
    assert_true(regions[1][0] > 0 && regions[0][1] > 0 && regions[0][0] > 0);
}

static void test_on_policy(void **state) {
    (void)state;
    R1GrpoClip c = {0.2, 0.2, 0.04};
    R1GrpoToken t;
    r1_grpo_token(-2.5, -2.5, -2.5, 0.9, &c, &t);
    assert_true(t.rho == 1.0 && t.kl == 0.0 && !t.clipped_low && !t.clipped_high);
    assert_float_equal(t.loss, -0.9, 1e-15);
    assert_float_equal(t.dlogp, -0.9, 1e-15);
}

static void test_weights(void **state) {
    (void)state;
    assert_float_equal(r1_grpo_weight(R1_LOSS_GRPO, 5, 4, 30, 100, 64), 1.0 / 20, 1e-15);
    assert_float_equal(r1_grpo_weight(R1_LOSS_BNPO, 5, 4, 30, 100, 64), 1.0 / 30, 1e-15);
    assert_float_equal(r1_grpo_weight(R1_LOSS_DR_GRPO, 5, 4, 30, 100, 64), 1.0 / 256, 1e-15);
    assert_float_equal(r1_grpo_weight(R1_LOSS_DAPO, 5, 4, 30, 100, 64), 1.0 / 100, 1e-15);
    assert_int_equal(r1_grpo_loss_parse("dr_grpo"), R1_LOSS_DR_GRPO);
    assert_int_equal(r1_grpo_loss_parse("ppo"), -1);
    assert_int_equal(r1_grpo_scale_parse("batch"), R1_SCALE_BATCH);
    assert_int_equal(r1_grpo_scale_parse(NULL), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_advantages),
        cmocka_unit_test(test_token_derivative),
        cmocka_unit_test(test_on_policy),
        cmocka_unit_test(test_weights),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
