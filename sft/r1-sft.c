/* r1-sft - supervised fine-tuning on the run database's sft_samples (see
 * --help and sft/README.md). Exit status: 0 done, 1 failed (message on
 * stderr; --out keeps its last complete checkpoint), 2 bad usage. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "args.h"
#include "stage.h"

static const char *WHO = "r1-sft";

static const char *USAGE =
    "usage: r1-sft --db DB --kind KIND[,KIND...] --model DIR --out DIR [options]\n"
    "  trains on sft_samples of the kinds (cold_start, reasoning, non_reasoning, distill,\n"
    "  pretrain)\n"
    "  --epochs E             passes over the samples (default 1)\n"
    "  --lr L                 peak learning rate (default 1e-5)\n"
    "  --schedule constant|cosine|linear   (default cosine)\n"
    "  --min-lr-ratio R       the schedule's floor as a fraction of the peak (default 0.1)\n"
    "  --warmup N             steps of linear warmup (default 0)\n"
    "  --max-len L            tokens per sample; longer ones are cut and counted (default 4096)\n"
    "  --batch-tokens N       tokens per optimizer step (default 8192)\n"
    "  --micro-batch-tokens N gradient accumulation chunk: bounds activation memory\n"
    "                         (default 8192; the gradient is the same)\n"
    "  --pack                 fill each batch in shuffled order (else by similar length);\n"
    "                         either way each sample keeps its own attention and positions\n"
    "  --loss assistant|all   train on assistant tokens (default) or on every token\n"
    "  --template NAME        deepseek-r1, qwen2.5, chatml or r1-zero (default: the model's own)\n"
    "  --stage NAME           metrics.stage and checkpoints.stage of this run (default sft)\n"
    "  --eval-split F         hold out this fraction of the samples for eval loss (default 0)\n"
    "  --max-grad-norm C      (default 1.0; 0: off)   --weight-decay W (default 0.1)\n"
    "  --save-every N         checkpoint every N steps, and at the end (default 0: end only)\n"
    "  --log-every N          metrics every N steps (default 10)\n"
    "  --resume               continue the run whose checkpoint is in --out\n"
    "  --seed S               shuffling and held-out choice (default 0)\n"
    "  --device cpu|cuda      where the model trains (default cpu; cuda: one NVIDIA GPU,\n"
    "                         bf16 weights, float32 master weights)\n"
    "  --zero 0|1             under mpirun: 1 shards the AdamW state across the ranks\n"
    "                         (ZeRO-1, CPU); 0 (default) keeps it whole on every rank\n"
    "  --check-every K        under mpirun: compare the ranks' weights every K steps and\n"
    "                         at the end (default 50; 0: at the end only)\n"
    "  --dry-run --dump F     the first batch's loss, per-sample losses and gradients to F\n"
    "  --quiet, --json        no summary / the summary as one JSON line\n";

static int take(SftArgs *a, const char *f, const char *v) {
    const char **strs[] = {&a->db,  &a->kinds, &a->model,    &a->out,
                           &a->tpl, &a->dump,  &a->schedule, &a->stage};
    const char *sn[] = {"--db",       "--kind", "--model",    "--out",
                        "--template", "--dump", "--schedule", "--stage"};
    for (int i = 0; i < 8; i++)
        if (!strcmp(f, sn[i])) return *strs[i] = v, 0;
    if (!strcmp(f, "--loss")) {
        if (strcmp(v, "assistant") && strcmp(v, "all"))
            return fprintf(stderr, "%s: --loss %s: assistant or all\n", WHO, v), -1;
        return a->loss_all = !strcmp(v, "all"), 0;
    }
    struct {
        const char *n;
        double *p, lo, hi;
    } d[] = {{"--lr", &a->lr, 0, 10},
             {"--min-lr-ratio", &a->min_lr_ratio, 0, 1},
             {"--eval-split", &a->eval_frac, 0, 0.5},
             {"--max-grad-norm", &a->max_grad_norm, 0, 1e12},
             {"--weight-decay", &a->weight_decay, 0, 10}};
    for (size_t i = 0; i < sizeof d / sizeof d[0]; i++)
        if (!strcmp(f, d[i].n)) return r1_arg_double(WHO, f, v, d[i].lo, d[i].hi, d[i].p);
    struct {
        const char *n;
        long *p, lo, hi;
    } l[] = {{"--epochs", &a->epochs, 1, 1000},
             {"--warmup", &a->warmup, 0, LONG_MAX / 4},
             {"--max-len", &a->max_len, 2, 1 << 24},
             {"--micro-batch-tokens", &a->micro_tokens, 1, 1L << 30},
             {"--batch-tokens", &a->batch_tokens, 2, 1L << 30},
             {"--save-every", &a->save_every, 0, LONG_MAX / 4},
             {"--log-every", &a->log_every, 1, LONG_MAX / 4},
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

static int parse_args(SftArgs *a, int argc, char **argv) {
    memset(a, 0, sizeof *a);
    a->epochs = 1, a->lr = 1e-5, a->schedule = "cosine", a->min_lr_ratio = 0.1;
    a->stage = "sft";
    a->max_len = 4096, a->batch_tokens = 8192, a->micro_tokens = 8192, a->max_grad_norm = 1.0,
    a->weight_decay = 0.1;
    a->log_every = 10, a->check_every = 50;
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        int *flags[] = {&a->pack, &a->resume, &a->dry_run, &a->quiet, &a->json};
        const char *fn[] = {"--pack", "--resume", "--dry-run", "--quiet", "--json"};
        int flag = 0;
        for (int k = 0; k < 5 && !flag; k++)
            if (!strcmp(f, fn[k])) *flags[k] = 1, flag = 1;
        if (flag) continue;
        if (!strcmp(f, "--help") || !strcmp(f, "-h")) return fputs(USAGE, stdout), -1;
        int rc = i + 1 < argc ? take(a, f, argv[i + 1]) : 1;
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
    if (r1_schedule_parse(a->schedule) < 0)
        return fprintf(stderr, "%s: --schedule %s: constant, cosine or linear\n", WHO, a->schedule),
               2;
    const char *missing = !a->db                   ? "--db"
                          : !a->kinds              ? "--kind"
                          : !a->model              ? "--model"
                          : !a->dry_run && !a->out ? "--out"
                          : a->dry_run && !a->dump ? "--dump"
                                                   : NULL;
    if (missing) return fprintf(stderr, "%s: needs %s\n%s", WHO, missing, USAGE), 2;
    return 0;
}

static int run(const SftArgs *a) {
    R1Err err = {{0}};
    if (access(a->db, F_OK) != 0) {
        fprintf(stderr, "%s: %s: no such database\n", WHO, a->db);
        return 1;
    }
    R1Db db;
    if (r1_dist_db_open(a->dist, &db, a->db, &err)) {
        fprintf(stderr, "%s: %s\n", WHO, err.msg);
        return 1;
    }
    R1Policy pol;
    SftData d = {0};
    SftPlan plan = {0};
    int rc = r1_policy_load(&pol, a->model, NULL, a->tpl, &err);
    if (rc == 0) {
        rc = sft_load(&db, a, &pol, &d, &err);
        if (rc == 0) {
            sft_plan(a, &d, &plan);
            rc = sft_train(a, &db, &pol, &d, &plan, &err);
        }
        r1_policy_free(&pol);
    }
    if (rc) r1_dist_error(a->dist, WHO, err.msg);
    sft_plan_free(&plan);
    sft_data_free(&d);
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
    SftArgs a;
    int rc = parse_args(&a, argc, argv);
    a.dist = &dist;
    if (rc == 0) rc = run(&a);
    return r1_dist_end(&dist, rc < 0 ? 0 : rc);
}
