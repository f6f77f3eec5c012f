/* test_optim.c - AdamW, gradient clipping, schedules and optimizer state files.
 *
 * With `--replay IN.safetensors OUT.safetensors` it instead runs the training
 * loop a file describes and writes the final parameters; tests/test_optim_torch.sh
 * uses that to compare against torch.optim.AdamW. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "optim.h"
#include "safetensors.h"
#define TMPDIR_TEMPLATE "/tmp/test_optim.XXXXXX"
#include "tmpdir.h"

/* ---- a small table: a (2x3, decay), b (4, no decay), c (2x2, decay) ---- */

enum { NA = 6, NB = 4, NC = 4, NTOT = NA + NB + NC };

static R1Param small_params[3] = {
    {.name = "a", .ndim = 2, .shape = {2, 3}, .offset = 0, .numel = NA, .decay = 1},
    {.name = "b", .ndim = 1, .shape = {4}, .offset = NA, .numel = NB, .decay = 0},
    {.name = "c", .ndim = 2, .shape = {2, 2}, .offset = NA + NB, .numel = NC, .decay = 1},
};
static const R1ParamTable small_table = {small_params, 3, NTOT};

static void fill_params(float *p) {
    for (int i = 0; i < NTOT; i++) p[i] = 0.5f - 0.13f * (float)i + 0.01f * (float)(i * i);
}

/* A gradient that differs per step and has mixed signs and magnitudes. */
static float grad_at(int step, int i) {
    return (float)((i % 3 == 0 ? -1.0 : 1.0) * (0.05 + 0.1 * i) * (1.0 + 0.7 * step));
}

static void fill_grads(float *g, int step) {
    for (int i = 0; i < NTOT; i++) g[i] = grad_at(step, i);
}

static void assert_rel(double got, double want, double tol) {
    double scale = fabs(want) > 1e-30 ? fabs(want) : 1.0;
    if (fabs(got - want) / scale > tol) fail_msg("got %.10g, want %.10g (tol %g)", got, want, tol);
}

/* (1) two AdamW steps against the formulas, worked in double. */
static void test_adamw_by_hand(void **state) {
    (void)state;
    /* the hyperparameters as the float32 values the optimizer holds; eps is
     * large enough that its place in the formula shows */
    const double b1 = 0.9f, b2 = 0.95f, eps = 1e-3f, wd = 0.1f, lrs[2] = {0.01f, 0.005f};
    float p[NTOT], g[NTOT];
    fill_params(p);
    double ep[NTOT], em[NTOT] = {0}, ev[NTOT] = {0};
    for (int i = 0; i < NTOT; i++) ep[i] = p[i];

    R1AdamW o;
    r1_adamw_init(&o, &small_table, (float)b1, (float)b2, (float)eps, (float)wd);
    for (int s = 0; s < 2; s++) {
        fill_grads(g, s);
        r1_adamw_step(&o, p, g, (float)lrs[s]);
        int t = s + 1;
        for (int i = 0; i < NTOT; i++) {
            double gi = g[i], lr = lrs[s];
            int decay = i < NA || i >= NA + NB; /* a and c decay, b does not */
            em[i] = b1 * em[i] + (1 - b1) * gi;
            ev[i] = b2 * ev[i] + (1 - b2) * gi * gi;
            if (decay) ep[i] -= lr * wd * ep[i];
            double mhat = em[i] / (1 - pow(b1, t)), vhat = ev[i] / (1 - pow(b2, t));
            ep[i] -= lr * mhat / (sqrt(vhat) + eps);
        }
    }
    assert_int_equal(o.step, 2);
    for (int i = 0; i < NTOT; i++) {
        assert_rel(p[i], ep[i], 1e-6);
        assert_rel(o.m[i], em[i], 1e-6);
        assert_rel(o.v[i], ev[i], 1e-6);
    }
    r1_adamw_free(&o);
}

/* Decay must really be skipped for b: with zero gradient nothing moves there. */
static void test_adamw_decay_flag(void **state) {
    (void)state;
    float p[NTOT], g[NTOT] = {0};
    fill_params(p);
    float p0[NTOT];
    memcpy(p0, p, sizeof p);
    R1AdamW o;
    r1_adamw_init(&o, &small_table, 0.9f, 0.95f, 1e-8f, 0.1f);
    r1_adamw_step(&o, p, g, 0.5f);
    for (int i = 0; i < NTOT; i++) {
        int decay = i < NA || i >= NA + NB;
        double want = decay ? p0[i] * (1.0 - 0.5 * (double)0.1f) : p0[i];
        assert_rel(p[i], want, 1e-6);
    }
    r1_adamw_free(&o);
}

/* (2) clipping */
static void test_clip(void **state) {
    (void)state;
    float g[5] = {3, 0, -4, 0, 0};
    assert_rel(r1_grad_norm(g, 5), 5.0, 1e-15);
    float below[5];
    memcpy(below, g, sizeof g);
    assert_rel(r1_clip_grad_norm(below, 5, 10.0), 5.0, 1e-15);
    assert_memory_equal(below, g, sizeof g); /* below max_norm: untouched */
    assert_rel(r1_clip_grad_norm(below, 5, 0.0), 5.0, 1e-15);
    assert_memory_equal(below, g, sizeof g); /* max_norm <= 0: untouched */
    assert_rel(r1_clip_grad_norm(g, 5, 1.0), 5.0, 1e-15);
    assert_rel(r1_grad_norm(g, 5), 1.0, 1e-6);
    assert_rel(g[0], 0.6, 1e-6);
    assert_rel(g[2], -0.8, 1e-6);
}

/* Large enough for several chunks and threads; checked against a plain sum. */
static void test_clip_large(void **state) {
    (void)state;
    size_t n = 300001;
    float *g = r1_falloc(n);
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        g[i] = (float)sin((double)i * 0.37) * (1.0f + (float)(i % 7));
        s += (double)g[i] * g[i];
    }
    assert_rel(r1_grad_norm(g, n), sqrt(s), 1e-12);
    assert_rel(r1_clip_grad_norm(g, n, 2.5), sqrt(s), 1e-12);
    assert_rel(r1_grad_norm(g, n), 2.5, 1e-6);
    free(g);
}

/* (3) schedules */
static void test_schedule_cosine(void **state) {
    (void)state;
    R1Schedule s = {R1_SCHED_COSINE, 1e-3, 10, 110, 0.1};
    double peak = 1e-3, floor_lr = 1e-4;
    assert_rel(r1_schedule_lr(&s, 0), peak / 10, 1e-15);
    assert_rel(r1_schedule_lr(&s, 9), peak, 1e-15);  /* warmup-1: reaches peak */
    assert_rel(r1_schedule_lr(&s, 10), peak, 1e-15); /* warmup: cosine starts at peak */
    assert_rel(r1_schedule_lr(&s, 60), (peak + floor_lr) / 2, 1e-14);
    assert_rel(r1_schedule_lr(&s, 35), floor_lr + (peak - floor_lr) * 0.5 * (1 + cos(M_PI / 4)),
               1e-14);
    assert_rel(r1_schedule_lr(&s, 110), floor_lr, 1e-15);
    assert_rel(r1_schedule_lr(&s, 500), floor_lr, 1e-15);
    /* between: strictly decreasing */
    for (long t = 10; t < 110; t++) assert_true(r1_schedule_lr(&s, t + 1) < r1_schedule_lr(&s, t));
}

static void test_schedule_linear_constant(void **state) {
    (void)state;
    R1Schedule lin = {R1_SCHED_LINEAR, 2e-3, 4, 14, 0.25};
    assert_rel(r1_schedule_lr(&lin, 0), 0.5e-3, 1e-15);
    assert_rel(r1_schedule_lr(&lin, 3), 2e-3, 1e-15);
    assert_rel(r1_schedule_lr(&lin, 4), 2e-3, 1e-15);
    assert_rel(r1_schedule_lr(&lin, 9), (2e-3 + 0.5e-3) / 2, 1e-14);
    assert_true(r1_schedule_lr(&lin, 14) == 2e-3 * 0.25);
    assert_true(r1_schedule_lr(&lin, 99) == 2e-3 * 0.25);

    R1Schedule con = {R1_SCHED_CONSTANT, 3e-4, 5, 100, 0.1};
    assert_rel(r1_schedule_lr(&con, 0), 3e-4 / 5, 1e-15);
    assert_rel(r1_schedule_lr(&con, 4), 3e-4, 1e-15);
    assert_true(r1_schedule_lr(&con, 5) == 3e-4);
    assert_true(r1_schedule_lr(&con, 1000) == 3e-4);
}

static void test_schedule_no_warmup(void **state) {
    (void)state;
    R1Schedule s = {R1_SCHED_COSINE, 1.0, 0, 8, 0.0};
    assert_true(r1_schedule_lr(&s, 0) == 1.0);
    assert_rel(r1_schedule_lr(&s, 4), 0.5, 1e-15);
    assert_true(r1_schedule_lr(&s, 8) == 0.0);
    R1Schedule c = {R1_SCHED_CONSTANT, 0.5, 0, 0, 0.0};
    assert_true(r1_schedule_lr(&c, 0) == 0.5);
    /* total <= warmup must not divide by zero: floor right after warmup */
    R1Schedule d = {R1_SCHED_LINEAR, 1.0, 3, 3, 0.5};
    assert_true(r1_schedule_lr(&d, 3) == 1.0);
    assert_true(r1_schedule_lr(&d, 4) == 0.5);
}

static void test_schedule_parse(void **state) {
    (void)state;
    assert_int_equal(r1_schedule_parse("constant"), R1_SCHED_CONSTANT);
    assert_int_equal(r1_schedule_parse("cosine"), R1_SCHED_COSINE);
    assert_int_equal(r1_schedule_parse("linear"), R1_SCHED_LINEAR);
    assert_int_equal(r1_schedule_parse("Cosine"), -1);
    assert_int_equal(r1_schedule_parse(""), -1);
    assert_int_equal(r1_schedule_parse(NULL), -1);
}

/* ---- (4) and (5): optimizer state files ---- */

static char *tmp_path(const char *name) {
    return r1_path_join(tmpdir, name);
}

static void run_steps(R1AdamW *o, float *p, int from, int to) {
    float g[NTOT];
    R1Schedule s = {R1_SCHED_COSINE, 0.02, 2, 5, 0.1};
    for (int t = from; t < to; t++) {
        fill_grads(g, t);
        r1_clip_grad_norm(g, NTOT, 1.0);
        r1_adamw_step(o, p, g, (float)r1_schedule_lr(&s, t));
    }
}

static void test_save_load_resume(void **state) {
    (void)state;
    char *path = tmp_path("optimizer.safetensors");
    R1Err err = {{0}};
    float p[NTOT], q[NTOT];
    fill_params(p);
    R1AdamW a, b;
    /* values with many digits, to show the metadata round-trips floats exactly */
    r1_adamw_init(&a, &small_table, 0.91234567f, 0.98765431f, 1.2345678e-7f, 0.0123456789f);
    run_steps(&a, p, 0, 3);
    if (r1_adamw_save(&a, path, &err)) fail_msg("save: %s", err.msg);
    memcpy(q, p, sizeof p);

    /* The fresh optimizer gets other hyperparameters: load must restore them. */
    r1_adamw_init(&b, &small_table, 0.5f, 0.5f, 1e-3f, 0.0f);
    if (r1_adamw_load(&b, path, &err)) fail_msg("load: %s", err.msg);
    assert_int_equal(b.step, 3);
    assert_true(b.beta1 == a.beta1 && b.beta2 == a.beta2);
    assert_true(b.eps == a.eps && b.weight_decay == a.weight_decay);
    assert_memory_equal(b.m, a.m, NTOT * sizeof(float));
    assert_memory_equal(b.v, a.v, NTOT * sizeof(float));

    run_steps(&a, p, 3, 5);
    run_steps(&b, q, 3, 5);
    assert_int_equal(a.step, 5);
    assert_int_equal(b.step, 5);
    assert_memory_equal(p, q, sizeof p);
    assert_memory_equal(a.m, b.m, NTOT * sizeof(float));
    assert_memory_equal(a.v, b.v, NTOT * sizeof(float));
    r1_adamw_free(&a);
    r1_adamw_free(&b);
    free(path);
}

/* Writes a state file for small_table, with tensor `skip` left out and tensor
 * `reshape` written as 3x2 instead of its real shape. */
static void write_state(const char *path, const char *skip, const char *reshape) {
    static float zeros[64]; /* room for a reshape that grows a tensor */
    static char names[6][R1_PARAM_NAME + 16];
    R1StWriteTensor ts[6];
    int n = 0;
    for (int i = 0; i < 3; i++) {
        for (int j = 0; j < 2; j++) {
            const R1Param *q = &small_params[i];
            const char *kind = j ? "exp_avg_sq" : "exp_avg";
            int len = snprintf(names[n], sizeof names[n], "%s.%s", kind, q->name);
            assert_true(len < (int)sizeof names[n]);
            if (skip && !strcmp(names[n], skip)) continue;
            R1StWriteTensor *w = &ts[n];
            memset(w, 0, sizeof *w);
            w->name = names[n];
            w->dtype = R1_F32;
            w->ndim = q->ndim;
            w->shape[0] = q->shape[0];
            w->shape[1] = q->shape[1];
            if (reshape && !strcmp(names[n], reshape)) {
                w->ndim = 2;
                w->shape[0] = 3;
                w->shape[1] = 2;
            }
            w->data = zeros + q->offset;
            n++;
        }
    }
    const char *kv[] = {"step", "7",   "beta1", "0.9",          "beta2",
                        "0.95", "eps", "1e-08", "weight_decay", "0.1"};
    R1Err err;
    if (r1_st_write(path, ts, n, kv, 5, &err)) fail_msg("write: %s", err.msg);
}

static void expect_refused(const char *file, const char *skip, const char *reshape,
                           const char *tensor) {
    char *path = tmp_path(file);
    write_state(path, skip, reshape);
    R1AdamW o;
    r1_adamw_init(&o, &small_table, 0.8f, 0.9f, 1e-6f, 0.0f);
    o.m[0] = 42.0f;
    R1Err err = {{0}};
    assert_int_equal(r1_adamw_load(&o, path, &err), -1);
    if (!strstr(err.msg, path) || !strstr(err.msg, tensor))
        fail_msg("error should name %s and %s: %s", path, tensor, err.msg);
    /* refused means untouched */
    assert_int_equal(o.step, 0);
    assert_true(o.beta1 == 0.8f && o.m[0] == 42.0f);
    r1_adamw_free(&o);
    free(path);
}

static void test_load_missing_tensor(void **state) {
    (void)state;
    expect_refused("missing.safetensors", "exp_avg_sq.b", NULL, "exp_avg_sq.b");
    expect_refused("missing2.safetensors", "exp_avg.c", NULL, "exp_avg.c");
}

static void test_load_wrong_shape(void **state) {
    (void)state;
    /* same element count, other shape */
    expect_refused("shape.safetensors", NULL, "exp_avg.a", "exp_avg.a");
    /* other element count */
    expect_refused("shape2.safetensors", NULL, "exp_avg_sq.c", "exp_avg_sq.c");
}

static void test_load_missing_file(void **state) {
    (void)state;
    char *path = tmp_path("absent.safetensors");
    R1AdamW o;
    r1_adamw_init(&o, &small_table, 0.9f, 0.95f, 1e-8f, 0.1f);
    R1Err err = {{0}};
    assert_int_equal(r1_adamw_load(&o, path, &err), -1);
    assert_non_null(strstr(err.msg, path));
    r1_adamw_free(&o);
    free(path);
}

/* ---- --replay: the loop tests/test_optim_torch.sh compares with PyTorch ----
 *
 * IN holds tensors "param.<i>" (i < n_params) and "grad.<s>.<i>" (s < n_steps)
 * and metadata n_params, n_steps, beta1, beta2, eps, weight_decay, decay
 * ("1,0,1": one flag per param), max_norm, schedule, peak_lr, warmup, total,
 * min_lr_ratio and resume_at (after that many steps the state is saved and
 * loaded into a fresh optimizer; 0 for never). OUT gets "param.<i>" and
 * metadata "lr.<s>" and "grad_norm.<s>" (the norm before clipping). */

static double meta_d(const R1StFile *f, const char *key) {
    const char *s = r1_st_meta(f, key);
    if (!s) {
        fprintf(stderr, "%s: metadata %s missing\n", f->path, key);
        exit(2);
    }
    return strtod(s, NULL);
}

static void die(const R1Err *err) {
    fprintf(stderr, "replay: %s\n", err->msg);
    exit(2);
}

static void replay_table(const R1StFile *f, R1ParamTable *tb) {
    const char *flags = r1_st_meta(f, "decay");
    tb->n = (int)meta_d(f, "n_params");
    tb->p = r1_xcalloc((size_t)tb->n, sizeof *tb->p);
    tb->total = 0;
    for (int i = 0; i < tb->n; i++) {
        R1Param *q = &tb->p[i];
        snprintf(q->name, sizeof q->name, "param.%d", i);
        const R1StTensor *t = r1_st_find(f, q->name);
        if (!t || t->ndim > 2 || !flags || strlen(flags) <= (size_t)(2 * i)) {
            fprintf(stderr, "%s: bad %s or decay flags\n", f->path, q->name);
            exit(2);
        }
        q->ndim = t->ndim;
        for (int d = 0; d < t->ndim; d++) q->shape[d] = t->shape[d];
        q->numel = t->numel;
        q->offset = tb->total;
        q->decay = flags[2 * i] == '1';
        tb->total += q->numel;
    }
}

static void replay_grads(const R1StFile *f, const R1ParamTable *tb, int s, float *g) {
    R1Err err;
    char name[64];
    for (int i = 0; i < tb->n; i++) {
        snprintf(name, sizeof name, "grad.%d.%d", s, i);
        const R1Param *q = &tb->p[i];
        if (r1_st_read_f32(f, name, q->shape, q->ndim, g + q->offset, &err)) die(&err);
    }
}

static void replay_resume(R1AdamW *o, const R1ParamTable *tb, const char *out) {
    R1Err err;
    size_t n = strlen(out) + 16;
    char *path = r1_xmalloc(n);
    snprintf(path, n, "%s.optim", out);
    if (r1_adamw_save(o, path, &err)) die(&err);
    r1_adamw_free(o);
    r1_adamw_init(o, tb, 0, 0, 0, 0); /* everything must come from the file */
    if (r1_adamw_load(o, path, &err)) die(&err);
    unlink(path);
    free(path);
}

static void replay_write(const char *out, const R1ParamTable *tb, const float *p, int steps,
                         const double *lrs, const double *norms) {
    R1StWriteTensor *ts = r1_xcalloc((size_t)tb->n, sizeof *ts);
    for (int i = 0; i < tb->n; i++) {
        const R1Param *q = &tb->p[i];
        ts[i] = (R1StWriteTensor){
            .name = q->name, .dtype = R1_F32, .ndim = q->ndim, .data = p + q->offset};
        for (int d = 0; d < q->ndim; d++) ts[i].shape[d] = q->shape[d];
    }
    char **kv = r1_xcalloc((size_t)(4 * steps + 1), sizeof *kv);
    for (int s = 0; s < steps; s++) {
        kv[4 * s] = r1_xmalloc(32);
        kv[4 * s + 1] = r1_xmalloc(32);
        kv[4 * s + 2] = r1_xmalloc(32);
        kv[4 * s + 3] = r1_xmalloc(32);
        snprintf(kv[4 * s], 32, "lr.%d", s);
        snprintf(kv[4 * s + 1], 32, "%.17g", lrs[s]);
        snprintf(kv[4 * s + 2], 32, "grad_norm.%d", s);
        snprintf(kv[4 * s + 3], 32, "%.17g", norms[s]);
    }
    R1Err err;
    if (r1_st_write(out, ts, tb->n, (const char *const *)kv, 2 * steps, &err)) die(&err);
    for (int i = 0; i < 4 * steps; i++) free(kv[i]);
    free(kv);
    free(ts);
}

static int replay(const char *in, const char *out) {
    R1Err err;
    R1StFile f;
    if (r1_st_open(&f, in, &err)) die(&err);
    R1ParamTable tb;
    replay_table(&f, &tb);
    int steps = (int)meta_d(&f, "n_steps"), resume_at = (int)meta_d(&f, "resume_at");
    double max_norm = meta_d(&f, "max_norm");
    R1Schedule sc = {.kind = r1_schedule_parse(r1_st_meta(&f, "schedule")),
                     .peak_lr = meta_d(&f, "peak_lr"),
                     .warmup = (long)meta_d(&f, "warmup"),
                     .total = (long)meta_d(&f, "total"),
                     .min_lr_ratio = meta_d(&f, "min_lr_ratio")};
    if ((int)sc.kind < 0) die(&(R1Err){"unknown schedule"});
    float *p = r1_falloc(tb.total), *g = r1_falloc(tb.total);
    for (int i = 0; i < tb.n; i++) {
        const R1Param *q = &tb.p[i];
        if (r1_st_read_f32(&f, q->name, q->shape, q->ndim, p + q->offset, &err)) die(&err);
    }
    R1AdamW o;
    r1_adamw_init(&o, &tb, (float)meta_d(&f, "beta1"), (float)meta_d(&f, "beta2"),
                  (float)meta_d(&f, "eps"), (float)meta_d(&f, "weight_decay"));
    double *lrs = r1_xcalloc((size_t)steps + 1, sizeof *lrs);
    double *norms = r1_xcalloc((size_t)steps + 1, sizeof *norms);
    for (int s = 0; s < steps; s++) {
        if (resume_at > 0 && s == resume_at) replay_resume(&o, &tb, out);
        replay_grads(&f, &tb, s, g);
        norms[s] = r1_clip_grad_norm(g, tb.total, max_norm);
        lrs[s] = r1_schedule_lr(&sc, s);
        r1_adamw_step(&o, p, g, (float)lrs[s]);
    }
    replay_write(out, &tb, p, steps, lrs, norms);
    r1_adamw_free(&o);
    r1_st_close(&f);
    free(p);
    free(g);
    free(lrs);
    free(norms);
    free(tb.p);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 4 && !strcmp(argv[1], "--replay")) return replay(argv[2], argv[3]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_adamw_by_hand),
        cmocka_unit_test(test_adamw_decay_flag),
        cmocka_unit_test(test_clip),
        cmocka_unit_test(test_clip_large),
        cmocka_unit_test(test_schedule_cosine),
        cmocka_unit_test(test_schedule_linear_constant),
        cmocka_unit_test(test_schedule_no_warmup),
        cmocka_unit_test(test_schedule_parse),
        cmocka_unit_test(test_save_load_resume),
        cmocka_unit_test(test_load_missing_tensor),
        cmocka_unit_test(test_load_wrong_shape),
        cmocka_unit_test(test_load_missing_file),
    };
    return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
