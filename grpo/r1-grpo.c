/* r1-grpo - one GRPO update step from a step's scored rollouts (see --help and
 * grpo/README.md). Exit status: 0 done, 1 failed (message on stderr; nothing
 * written), 2 bad usage. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "args.h"
#include "checkpoint.h"
#include "trainer.h"
#include "zero.h"
#include "stage.h"

static const char *WHO = "r1-grpo";

static const char *USAGE =
    "usage: r1-grpo --db DB --step N --model DIR --ref DIR --out DIR [options]\n"
    "  one GRPO update from step N's rollouts and their 'total' rewards\n"
    "  --stage NAME           rollouts of this phase (rollouts.stage; default rl); the\n"
    "                         metrics and checkpoints row are recorded under it\n"
    "  --lr L                 learning rate (default 1e-6)\n"
    "  --beta B               KL weight (default 0.04; 0 skips the reference, --ref optional)\n"
    "  --epsilon E            clip range low side (default 0.2)\n"
    "  --epsilon-high E       clip range high side (default: --epsilon; DAPO uses 0.28)\n"
    "  --loss grpo|bnpo|dr_grpo|dapo   aggregation (default grpo)\n"
    "  --scale-rewards group|batch|none   advantage scaling (default group)\n"
    "  --iterations MU        passes over the rollouts (default 1)\n"
    "  --minibatches M        optimizer steps per pass (default 1)\n"
    "  --micro-batch-tokens N gradient accumulation chunk (default 4096 tokens)\n"
    "  --max-grad-norm C      clip the global gradient norm (default 1.0; 0: off)\n"
    "  --weight-decay W       AdamW weight decay (default 0)\n"
    "  --max-new-tokens M     dr_grpo's constant (default: the rollout's limit)\n"
    "  --temperature T        log-probs of softmax(logits / T), as sampled (default: the\n"
    "                         rollout's recorded rollout/temperature, else 1)\n"
    "  --mask-truncated       completions cut at the length limit do not train\n"
    "  --drop-uniform-groups  groups whose rewards are all equal do not train\n"
    "  --ref-reset-every K    at steps that are multiples of K, the reference DIR is\n"
    "                         first replaced by a copy of the policy (R1-Zero: 400)\n"
    "  --seed S               minibatch shuffling (default 0)\n"
    "  --device cpu|cuda      where the policy and the reference compute (default cpu;\n"
    "                         cuda: one NVIDIA GPU, bf16 weights, float32 master weights)\n"
    "  --zero 0|1             under mpirun: 1 shards the AdamW state across the ranks\n"
    "                         (ZeRO-1, CPU); 0 (default) keeps it whole on every rank\n"
    "  --check-every K        under mpirun: compare the ranks' weights every K updates and\n"
    "                         after the last (default 10; 0: after the last only)\n"
    "  --dry-run --dump F     first minibatch's loss, advantages, logp and gradients (after\n"
    "                         --max-grad-norm clipping) to F (safetensors); nothing is\n"
    "                         updated or written to the database\n"
    "  --quiet, --json        no summary line / the summary as one JSON line\n"
    "The updated model goes to --out (atomically) with optimizer.safetensors beside it;\n"
    "optimizer state found beside --model is continued. Under mpirun -np N each rank\n"
    "computes a share of every minibatch; rank 0 alone writes.\n";

/* One option with a value: 0 taken, -1 bad value, 1 unknown. */
static int take(GrpoArgs *a, const char *f, const char *v, int *eps_high_set) {
    const char **strs[] = {&a->db, &a->model, &a->ref, &a->out, &a->dump, &a->stage};
    const char *snames[] = {"--db", "--model", "--ref", "--out", "--dump", "--stage"};
    for (int i = 0; i < 6; i++)
        if (!strcmp(f, snames[i])) return *strs[i] = v, 0;
    if (!strcmp(f, "--loss")) {
        int k = r1_grpo_loss_parse(v);
        if (k < 0)
            return fprintf(stderr, "%s: --loss %s: grpo, bnpo, dr_grpo or dapo\n", WHO, v), -1;
        return a->loss = (R1GrpoLoss)k, 0;
    }
    if (!strcmp(f, "--scale-rewards")) {
        int k = r1_grpo_scale_parse(v);
        if (k < 0)
            return fprintf(stderr, "%s: --scale-rewards %s: group, batch or none\n", WHO, v), -1;
        return a->scale = (R1GrpoScale)k, 0;
    }
    struct {
        const char *n;
        double *p, lo, hi;
    } d[] = {{"--lr", &a->lr, 0, 10},
             {"--beta", &a->beta, 0, 1e6},
             {"--epsilon", &a->eps, 0, 1},
             {"--epsilon-high", &a->eps_high, 0, 1e6},
             {"--max-grad-norm", &a->max_grad_norm, 0, 1e12},
             {"--weight-decay", &a->weight_decay, 0, 10},
             {"--temperature", &a->temperature, 1e-6, 100}};
    for (size_t i = 0; i < sizeof d / sizeof d[0]; i++)
        if (!strcmp(f, d[i].n)) {
            if (!strcmp(f, "--epsilon-high")) *eps_high_set = 1;
            return r1_arg_double(WHO, f, v, d[i].lo, d[i].hi, d[i].p);
        }
    struct {
        const char *n;
        long *p, lo, hi;
    } l[] = {{"--step", &a->step, 0, LONG_MAX / 4},
             {"--iterations", &a->iterations, 1, 1000},
             {"--minibatches", &a->minibatches, 1, 1 << 20},
             {"--micro-batch-tokens", &a->micro_tokens, 1, 1L << 30},
             {"--max-new-tokens", &a->max_new, 1, 1 << 24},
             {"--ref-reset-every", &a->ref_reset_every, 0, LONG_MAX / 4},
             {"--zero", &a->zero, 0, 1},
             {"--check-every", &a->check_every, 0, LONG_MAX / 4}};
    for (size_t i = 0; i < sizeof l / sizeof l[0]; i++)
        if (!strcmp(f, l[i].n)) return r1_arg_long(WHO, f, v, l[i].lo, l[i].hi, l[i].p);
    if (!strcmp(f, "--seed")) return r1_arg_seed(WHO, f, v, &a->seed);
    if (!strcmp(f, "--device")) {
        R1Err e = {{0}};
        if (r1_device_parse(v, &a->device, &e)) return fprintf(stderr, "%s: %s\n", WHO, e.msg), -1;
        return 0;
    }
    return 1;
}

static int parse_args(GrpoArgs *a, int argc, char **argv) {
    memset(a, 0, sizeof *a);
    a->step = -1, a->lr = 1e-6, a->beta = 0.04, a->eps = 0.2, a->iterations = 1;
    a->minibatches = 1, a->micro_tokens = 4096, a->max_grad_norm = 1.0, a->check_every = 10;
    int eps_high_set = 0;
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        int *flags[] = {&a->mask_truncated, &a->drop_uniform, &a->dry_run, &a->quiet, &a->json};
        const char *fnames[] = {"--mask-truncated", "--drop-uniform-groups", "--dry-run", "--quiet",
                                "--json"};
        int flag = 0;
        for (int k = 0; k < 5 && !flag; k++)
            if (!strcmp(f, fnames[k])) *flags[k] = 1, flag = 1;
        if (flag) continue;
        if (!strcmp(f, "--help") || !strcmp(f, "-h")) return fputs(USAGE, stdout), -1;
        int rc = i + 1 < argc ? take(a, f, argv[i + 1], &eps_high_set) : 1;
        if (rc < 0) return 2;
        if (rc > 0)
            return fprintf(stderr, "%s: unknown option %s%s\n%s", WHO, f,
                           i + 1 < argc ? "" : " (or it needs a value)", USAGE),
                   2;
        i++;
    }
    if (a->zero && a->device == R1_DEVICE_CUDA)
        return fprintf(stderr,
                       "%s: --zero 1 is CPU-only for now (on the GPU, NCCL all-reduces whole "
                       "gradients): drop it or use --device cpu\n",
                       WHO),
               2;
    if (!eps_high_set) a->eps_high = a->eps;
    const char *missing = !a->db                   ? "--db"
                          : a->step < 0            ? "--step"
                          : !a->model              ? "--model"
                          : !a->dry_run && !a->out ? "--out"
                          : a->beta > 0 && !a->ref ? "--ref (or --beta 0)"
                          : a->dry_run && !a->dump ? "--dump"
                                                   : NULL;
    if (missing) return fprintf(stderr, "%s: needs %s\n%s", WHO, missing, USAGE), 2;
    return 0;
}

/* ---- the run ------------------------------------------------------------------------------ */

/* R1-Zero's reference reset: the reference becomes a copy of the policy. */
static int reset_reference(const GrpoArgs *a, const R1Model *policy, R1Err *err) {
    if (a->ref_reset_every <= 0 || a->step == 0 || a->step % a->ref_reset_every) return 0;
    if (a->dist->rank != 0) return 0; /* rank 0 writes; the others read it after */
    if (!a->quiet)
        fprintf(stderr, "%s: step %ld: the reference %s becomes a copy of %s\n", WHO, a->step,
                a->ref, a->model);
    return r1_checkpoint_save(policy, NULL, a->ref, a->model, NULL, err);
}

static int reference_logprobs(const GrpoArgs *a, const R1Model *policy, GStep *s, R1Err *err) {
    if (a->beta == 0) return 0;
    R1Model ref;
    if (r1_model_load(&ref, a->ref, err)) return -1;
    int rc = 0;
    R1Gpu *gpu = NULL;
    if (ref.table.total != policy->table.total || ref.cfg.vocab != policy->cfg.vocab)
        rc = r1_seterr(err, "the reference %s is not the same architecture as the policy %s",
                       a->ref, a->model);
    else if (a->device == R1_DEVICE_CUDA && !(gpu = r1_gpu_new(&ref, 0, err)))
        rc = -1;
    else
        rc = grpo_ref_logprobs(&ref, gpu, a, s, err);
    if (gpu) r1_gpu_free(gpu);
    r1_model_free(&ref);
    return rc;
}

/* With --device cuda, the policy on the GPU for training (else *gpu is NULL). */
static int open_device(const GrpoArgs *a, const R1Model *m, R1Gpu **gpu, R1Err *err) {
    *gpu = NULL;
    if (a->device != R1_DEVICE_CUDA) return 0;
    *gpu = r1_trainer_gpu_new(a->dist, m, 1, err);
    return *gpu ? 0 : -1;
}

/* The whole AdamW state, or with --zero 1 this rank's shard of it. */
static int load_optimizer(const GrpoArgs *a, R1AdamW *opt, const R1Model *m, R1Err *err) {
    int zero = a->zero && a->dist->size > 1 && !a->dry_run;
    if (zero)
        r1_zero_opt_init(a->dist, opt, &m->table, 0.9f, 0.999f, 1e-8f, (float)a->weight_decay);
    else
        r1_adamw_init(opt, &m->table, 0.9f, 0.999f, 1e-8f, (float)a->weight_decay);
    char *p = r1_path_join(a->model, "optimizer.safetensors");
    int rc = access(p, F_OK) != 0 ? 0
             : zero               ? r1_zero_opt_load(opt, p, err)
                                  : r1_adamw_load(opt, p, err);
    free(p);
    return rc;
}

static int record(R1Db *db, const GrpoArgs *a, const GStep *s, const GMetrics *g, R1Err *err) {
    struct {
        const char *n;
        double v;
    } m[] = {
        {"grpo/loss", g->loss},
        {"grpo/kl", g->kl},
        {"grpo/clip_frac_low", g->clip_low},
        {"grpo/clip_frac_high", g->clip_high},
        {"grpo/entropy", g->entropy},
        {"grpo/advantage_mean", s->adv.adv_mean},
        {"grpo/advantage_std", s->adv.adv_std},
        {"grpo/zero_std_frac", s->adv.groups ? (double)s->adv.zero_std_groups / s->adv.groups : 0},
        {"grpo/grad_norm", g->grad_norm},
        {"grpo/lr", a->lr},
        {"grpo/tokens_per_s", g->tokens_per_s},
        {"grpo/completions", s->active},
        {"grpo/ratio_max_dev", g->ratio_max_dev},
        {"grpo/updates", (double)g->updates},
        {"grpo/ref_seconds", g->ref_seconds},
        {"grpo/update_seconds", g->update_seconds},
        {"grpo/allreduce_seconds", a->dist->size > 1 ? g->allreduce_seconds : NAN},
        {"grpo/ranks", a->dist->size > 1 ? a->dist->size : NAN}};
    const char *stage = r1_metrics_stage(a->stage, "grpo");
    char *sql = sqlite3_mprintf(
        "DELETE FROM metrics WHERE stage = %Q AND step = %ld AND name LIKE 'grpo/%%';", stage,
        a->step);
    if (!sql) return r1_seterr(err, "out of memory");
    if (r1_db_begin(db, err)) return sqlite3_free(sql), -1;
    int rc = r1_db_exec(db, sql, err);
    sqlite3_free(sql);
    for (size_t i = 0; rc == 0 && i < sizeof m / sizeof m[0]; i++)
        if (!isnan(m[i].v))
            rc = r1_db_metric(db, stage, a->step, m[i].n, m[i].v, err); /* NaN: alone */
    char *real = rc == 0 ? realpath(a->out, NULL) : NULL;
    if (rc == 0) rc = r1_db_checkpoint(db, stage, a->step, real ? real : a->out, err);
    free(real);
    if (rc == 0) rc = r1_db_commit(db, err);
    if (rc) r1_db_rollback(db);
    return rc;
}

static void report(const GrpoArgs *a, const GStep *s, const GMetrics *g) {
    if (a->quiet || a->dist->rank != 0) return;
    if (a->json) {
        printf("{\"step\":%ld,\"completions\":%d,\"tokens\":%ld,\"updates\":%ld,\"loss\":%.6g,"
               "\"kl\":%.6g,\"clip_frac_low\":%.6g,\"clip_frac_high\":%.6g,\"entropy\":%.6g,"
               "\"grad_norm\":%.6g,\"ratio_max_dev\":%.6g,\"dry_run\":%s,\"device\":\"%s\"}\n",
               a->step, s->active, g->tokens, g->updates, g->loss, g->kl, g->clip_low, g->clip_high,
               g->entropy, g->grad_norm, g->ratio_max_dev, a->dry_run ? "true" : "false",
               a->device == R1_DEVICE_CUDA ? "cuda" : "cpu");
        return;
    }
    printf("step %ld: %d of %d completions trained (%ld tokens), %ld update%s; loss %.4g, kl %.3g, "
           "clipped %.1f%%/%.1f%%, entropy %.3g, grad norm %.3g%s\n",
           a->step, s->active, s->n, g->tokens, g->updates, g->updates == 1 ? "" : "s", g->loss,
           g->kl, 100 * g->clip_low, 100 * g->clip_high, g->entropy, g->grad_norm,
           a->dry_run ? " (dry run: nothing written)" : "");
}

/* With --zero 1, the shards gathered into the whole state rank 0 saves. */
static int save(const GrpoArgs *a, R1Model *m, R1AdamW *opt, R1Err *err) {
    R1AdamW whole = {0};
    int zero = opt->hi - opt->lo != m->table.total;
    if (zero) r1_zero_opt_gather(a->dist, opt, &whole);
    int rc = a->dist->rank == 0
                 ? r1_checkpoint_save(m, zero ? &whole : opt, a->out, a->model, NULL, err)
                 : 0;
    if (zero) r1_adamw_free(&whole);
    return rc;
}

static int train(R1Db *db, const GrpoArgs *a, R1Err *err) {
    GStep s;
    R1Model m;
    R1AdamW opt = {0};
    R1Gpu *gpu = NULL;
    R1Dist *d = a->dist;
    int have_model = 0, rc = grpo_load_step(db, a, &s, err);
    if (rc == 0 && (rc = r1_model_load(&m, a->model, err)) == 0) have_model = 1;
    /* the GPU before anything is written: a device that cannot be used changes nothing */
    if (rc == 0) rc = open_device(a, &m, &gpu, err);
    if (rc == 0 && !a->dry_run && a->beta > 0) rc = reset_reference(a, &m, err);
    if (r1_dist_any(d, rc) && rc == 0) rc = r1_seterr(err, "another rank failed to start");
    double t0 = r1_now();
    if (rc == 0) rc = reference_logprobs(a, &m, &s, err);
    double ref_seconds = r1_now() - t0;
    if (rc == 0) rc = load_optimizer(a, &opt, &m, err);
    if (r1_dist_any(d, rc) && rc == 0) rc = r1_seterr(err, "another rank failed");
    GMetrics g = {0};
    if (rc == 0 && s.active > 0) rc = grpo_update(&m, gpu, &opt, a, &s, &g, err);
    if (rc == 0 && gpu && !a->dry_run) r1_gpu_get_state(gpu, &m, NULL, &opt); /* what is saved */
    g.ref_seconds = ref_seconds;
    if (rc == 0 && s.active == 0 && !a->quiet && d->rank == 0)
        fprintf(stderr,
                "%s: step %ld: no completion carries a learning signal; the policy is "
                "written unchanged\n",
                WHO, a->step);
    if (rc == 0 && a->dry_run && s.active == 0)
        rc = r1_seterr(err, "step %ld: nothing to compute", a->step);
    if (rc == 0 && !a->dry_run) rc = save(a, &m, &opt, err);
    if (rc == 0 && !a->dry_run && d->rank == 0) rc = record(db, a, &s, &g, err);
    if (rc == 0) report(a, &s, &g);
    if (gpu) r1_gpu_free(gpu);
    if (opt.m) r1_adamw_free(&opt);
    if (have_model) r1_model_free(&m);
    grpo_step_free(&s);
    return rc;
}

static int run(GrpoArgs *a) {
    if (access(a->db, F_OK) != 0) {
        fprintf(stderr, "%s: %s: no such database\n", WHO, a->db);
        return 1;
    }
    R1Err err = {{0}};
    R1Db db;
    if (r1_dist_db_open(a->dist, &db, a->db, &err)) {
        fprintf(stderr, "%s: %s\n", WHO, err.msg);
        return 1;
    }
    int rc = train(&db, a, &err);
    if (rc) r1_dist_error(a->dist, WHO, err.msg);
    r1_db_close(&db);
    return rc ? 1 : 0;
}

int main(int argc, char **argv) {
    R1Dist dist;
    R1Err err = {{0}};
    if (r1_dist_init(&dist, &argc, &argv, &err)) {
        fprintf(stderr, "%s: %s\n", WHO, err.msg);
        return 1;
    }
    GrpoArgs a;
    int rc = parse_args(&a, argc, argv);
    a.dist = &dist;
    if (rc == 0) rc = run(&a);
    return r1_dist_end(&dist, rc < 0 ? 0 : rc);
}
