/* r1-model - inspect, create and run models from the shell.
 *
 *   r1-model info    --model DIR [--json]
 *   r1-model init    --config CONFIG.json --out DIR [--seed S] [--dtype f32|bf16]
 *   r1-model forward --model DIR --tokens "ID ..." [--tokens ...] [--targets "ID ..." ...]
 *                    --out OUT.safetensors
 *   r1-model generate --model DIR --prompt TEXT [--template NAME] (tools/cmd_generate.c)
 *   r1-model import-gguf --gguf FILE --out DIR / export-gguf --model DIR --out FILE
 *                    (tools/cmd_gguf.c); gguf-info (cmd_gguf_info.c); gguf-tokenizer
 *                    (cmd_gguf_tokenizer.c); tokenize, train-tokenizer (their own files)
 *
 * forward treats each --tokens as one sequence (attention stays inside it) and
 * writes `logits` [T, V]; with targets (-100 ignores a position) also `loss`
 * [1], the mean cross-entropy, and `grad.<name>` for every parameter. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "cmds.h"
#include "model.h"
#include "safetensors.h"
#include "tokenizer.h"

#define MAX_SEQS 256

static const char *usage =
    "usage: r1-model info    --model DIR [--json]\n"
    "       r1-model init    --config CONFIG.json --out DIR [--seed S] [--dtype f32|bf16]\n"
    "                        [--max-shard-size BYTES[K|M|G]]   (default 5G, as transformers)\n"
    "                        [--tokenizer DIR]   (copies its tokenizer.json and _config.json)\n"
    "       r1-model forward --model DIR --tokens \"ID ID ...\" [--tokens ...]\n"
    "                        [--targets \"ID ID ...\" ...] --out OUT.safetensors\n"
    "       r1-model tokenize --tokenizer DIR [--decode | --messages ...]   (see tokenize --help)\n"
    "       r1-model train-tokenizer --corpus FILE --merges N --out DIR ... (see its --help)\n"
    "       r1-model generate --model DIR --prompt TEXT [--template NAME] ... (see its --help)\n"
    "       r1-model gguf-tokenizer --gguf FILE --out DIR | --from-dir DIR --out FILE.gguf\n"
    "       r1-model gguf-info --gguf FILE [--json] [--dequant OUT.safetensors]\n"
    "       r1-model import-gguf --gguf FILE --out DIR [--dtype f32|bf16]  (see its --help)\n"
    "       r1-model export-gguf --model DIR --out FILE [--type f32|f16|bf16|q8_0]\n"
    "A model DIR is a Hugging Face checkpoint: config.json + *.safetensors (Qwen2 or Llama).\n"
    "forward: each --tokens is one sequence; one --targets per sequence, -100 to ignore a\n"
    "position; writes logits [T,V], and with targets loss [1] and grad.<param> tensors.\n";

typedef struct {
    const char *model, *config, *out, *dtype, *tokenizer;
    const char *tokens[MAX_SEQS], *targets[MAX_SEQS];
    int n_tokens, n_targets, json;
    unsigned long long seed;
    size_t max_shard;
} Opts;

static int die(const char *msg) {
    fprintf(stderr, "r1-model: %s\n", msg);
    return 1;
}

/* "5G", "200K", "123": bytes with an optional decimal suffix, as transformers' "5GB". */
static int parse_size(const char *v, size_t *out) {
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    unsigned long long mul = 1;
    if (*end == 'K')
        mul = 1000ULL, end++;
    else if (*end == 'M')
        mul = 1000000ULL, end++;
    else if (*end == 'G')
        mul = 1000000000ULL, end++;
    if (*end == 'B') end++;
    if (errno || end == v || *end || n == 0) return -1;
    *out = (size_t)(n * mul);
    return 0;
}

static int parse_opts(Opts *o, int argc, char **argv) {
    memset(o, 0, sizeof *o);
    o->dtype = "f32";
    o->max_shard = R1_DEFAULT_SHARD_BYTES;
    for (int i = 2; i < argc; i++) {
        const char *f = argv[i];
        if (strcmp(f, "--json") == 0) {
            o->json = 1;
            continue;
        }
        if (strcmp(f, "--help") == 0 || strcmp(f, "-h") == 0) return fputs(usage, stdout), 2;
        if (i + 1 >= argc) return fprintf(stderr, "r1-model: %s needs a value\n", f), 1;
        const char *v = argv[++i];
        if (strcmp(f, "--model") == 0)
            o->model = v;
        else if (strcmp(f, "--config") == 0)
            o->config = v;
        else if (strcmp(f, "--out") == 0)
            o->out = v;
        else if (strcmp(f, "--dtype") == 0)
            o->dtype = v;
        else if (strcmp(f, "--tokenizer") == 0)
            o->tokenizer = v;
        else if (strcmp(f, "--max-shard-size") == 0) {
            if (parse_size(v, &o->max_shard) != 0)
                return fprintf(stderr, "r1-model: bad --max-shard-size '%s'\n", v), 1;
        } else if (strcmp(f, "--seed") == 0) {
            char *end;
            errno = 0;
            o->seed = strtoull(v, &end, 10);
            if (errno || *end || !*v) return fprintf(stderr, "r1-model: bad --seed '%s'\n", v), 1;
        } else if (strcmp(f, "--tokens") == 0 && o->n_tokens < MAX_SEQS)
            o->tokens[o->n_tokens++] = v;
        else if (strcmp(f, "--targets") == 0 && o->n_targets < MAX_SEQS)
            o->targets[o->n_targets++] = v;
        else
            return fprintf(stderr, "r1-model: unknown or repeated-too-often option %s\n", f), 1;
    }
    return 0;
}

/* Appends the integers of `s` to ids; names the flag, sequence and word on error. */
static int parse_ids(const char *s, const char *flag, int seq, int **ids, int *n, int *cap) {
    const char *p = s;
    for (int word = 0;; word++) {
        while (*p == ' ' || *p == ',' || *p == '\t' || *p == '\n') p++;
        if (!*p) return 0;
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < -2147483647L || v > 2147483647L ||
            (*end && *end != ' ' && *end != ',' && *end != '\t' && *end != '\n')) {
            fprintf(stderr, "r1-model: %s #%d: word %d is not an integer id: '%.20s'\n", flag,
                    seq + 1, word + 1, p);
            return -1;
        }
        if (*n == *cap) *ids = r1_xrealloc(*ids, sizeof(int) * (size_t)(*cap = *cap * 2 + 64));
        (*ids)[(*n)++] = (int)v;
        p = end;
    }
}

static size_t count_params(const R1ParamTable *t) {
    size_t n = 0;
    for (int i = 0; i < t->n; i++) n += t->p[i].numel;
    return n;
}

/* Bytes in the unit a person reads best: 812.5 KiB, 3.1 MiB, 14.90 GiB. */
static const char *human(size_t bytes, char *buf, size_t n) {
    const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)bytes;
    int u = 0;
    while (v >= 1024.0 && u < 4) v /= 1024.0, u++;
    snprintf(buf, n, u ? "%.1f %s" : "%.0f %s", v, units[u]);
    return buf;
}

static int cmd_info(const Opts *o) {
    if (!o->model) return die("info needs --model DIR");
    R1Err err;
    R1Config c;
    char *cpath = r1_path_join(o->model, "config.json");
    int rc = r1_config_load(&c, cpath, &err);
    if (rc == 0) rc = r1_config_validate(&c, cpath, &err);
    free(cpath);
    if (rc != 0) return die(err.msg);
    /* Sizes come from the table alone: info must work for models larger than memory. */
    R1ParamTable t;
    r1_param_table_build(&t, &c);
    size_t n = count_params(&t);
    free(t.p);
    if (o->json) {
        printf("{\"architecture\":\"%s\",\"layers\":%d,\"hidden\":%d,\"heads\":%d,\"kv_heads\":%d,"
               "\"head_dim\":%d,\"intermediate\":%d,\"vocab\":%d,\"tied_embeddings\":%s,"
               "\"parameters\":%zu,\"weights_f32_bytes\":%zu,\"weights_bf16_bytes\":%zu,"
               "\"train_state_bytes\":%zu,\"activation_bytes_per_1k_tokens\":%zu}\n",
               r1_arch_name(c.arch), c.n_layers, c.hidden, c.n_heads, c.n_kv_heads, c.head_dim,
               c.intermediate, c.vocab, c.tie_embeddings ? "true" : "false", n, n * 4, n * 2,
               n * 16, r1_acts_bytes(&c, 1024));
    } else {
        printf("architecture   %s (%d layers, hidden %d, %d heads, %d KV heads, head_dim %d)\n",
               r1_arch_name(c.arch), c.n_layers, c.hidden, c.n_heads, c.n_kv_heads, c.head_dim);
        printf("mlp            intermediate %d, SwiGLU\n", c.intermediate);
        printf("vocabulary     %d%s\n", c.vocab, c.tie_embeddings ? " (tied embeddings)" : "");
        printf("rope           theta %g%s\n", c.rope_theta,
               c.rope_type == R1_ROPE_LLAMA3 ? ", llama3 scaling" : "");
        printf("parameters     %zu (%.2f %s)\n", n, n >= 1e9 ? n / 1e9 : n / 1e6,
               n >= 1e9 ? "B" : "M");
        char b1[32], b2[32], b3[32], b4[32];
        printf("memory         weights %s f32, %s bf16\n", human(n * 4, b1, 32),
               human(n * 2, b2, 32));
        printf("               training %s (f32 weights, gradients, AdamW moments)\n",
               human(n * 16, b3, 32));
        printf("               + %s of activations per 1024 tokens in a batch\n",
               human(r1_acts_bytes(&c, 1024), b4, 32));
    }
    return 0;
}

/* The tokenizer must load and fit in the model's vocabulary. */
static int check_tokenizer(const char *dir, const R1Config *c, R1Err *err) {
    R1Tokenizer *t = r1_tok_load(dir, err);
    if (!t) return -1;
    int n = r1_tok_vocab_size(t);
    r1_tok_free(t);
    if (n > c->vocab)
        return r1_seterr(err, "%s: the tokenizer has %d ids but vocab_size is %d", dir, n,
                         c->vocab);
    return 0;
}

static int cmd_init(const Opts *o) {
    if (!o->config || !o->out) return die("init needs --config CONFIG.json and --out DIR");
    R1DType dt = strcmp(o->dtype, "bf16") == 0 ? R1_BF16 : R1_F32;
    if (strcmp(o->dtype, "bf16") && strcmp(o->dtype, "f32")) return die("--dtype is f32 or bf16");
    R1Err err;
    R1Config c;
    R1Model m;
    if (r1_config_load(&c, o->config, &err) || r1_model_build(&m, &c, o->config, &err))
        return die(err.msg);
    r1_model_init_random(&m, o->seed);
    int rc = o->tokenizer ? check_tokenizer(o->tokenizer, &c, &err) : 0;
    if (rc == 0) rc = r1_model_save_sharded(&m, o->out, dt, o->max_shard, &err);
    if (rc == 0 && o->tokenizer) rc = r1_copy_tokenizer(o->tokenizer, o->out, &err);
    r1_model_free(&m);
    return rc ? die(err.msg) : 0;
}

/* Builds the batch from the --tokens/--targets strings. */
static int make_batch(const Opts *o, R1Batch *b, int **tok, int **tgt, int **starts) {
    int nt = 0, cap = 0, ng = 0, capg = 0;
    *tok = NULL;
    *tgt = NULL;
    *starts = r1_xcalloc((size_t)o->n_tokens + 1, sizeof(int));
    for (int s = 0; s < o->n_tokens; s++) {
        if (parse_ids(o->tokens[s], "--tokens", s, tok, &nt, &cap)) return -1;
        (*starts)[s + 1] = nt;
        if (o->n_targets == 0) continue;
        if (parse_ids(o->targets[s], "--targets", s, tgt, &ng, &capg)) return -1;
        if (ng != nt) {
            fprintf(stderr, "r1-model: --targets #%d has %d ids, --tokens #%d has %d\n", s + 1,
                    ng - (*starts)[s], s + 1, nt - (*starts)[s]);
            return -1;
        }
    }
    for (int t = 0; t < ng; t++) (*tgt)[t] = (*tgt)[t] < 0 ? -1 : (*tgt)[t];
    *b = (R1Batch){.n_seqs = o->n_tokens,
                   .n_tokens = nt,
                   .tokens = *tok,
                   .seq_start = *starts,
                   .targets = o->n_targets ? *tgt : NULL};
    return 0;
}

static int write_forward(const R1Model *m, const R1Acts *a, const float *logits, int with_grads,
                         const char *path, R1Err *err) {
    R1StWriteTensor ts[2] = {
        {.name = "logits",
         .dtype = R1_F32,
         .ndim = 2,
         .shape = {a->T, m->cfg.vocab},
         .data = logits},
        {.name = "loss", .dtype = R1_F32, .ndim = 1, .shape = {1}, .data = &a->loss}};
    if (with_grads) return r1_model_dump_grads(m, ts, 2, path, err);
    return r1_st_write(path, ts, 1, NULL, 0, err);
}

static int cmd_forward(const Opts *o) {
    if (!o->model || !o->out || o->n_tokens == 0)
        return die("forward needs --model DIR, --tokens \"ID ...\" and --out OUT.safetensors");
    if (o->n_targets && o->n_targets != o->n_tokens)
        return die("give one --targets for every --tokens, or none");
    R1Err err;
    R1Model m;
    if (r1_model_load(&m, o->model, &err)) return die(err.msg);
    R1Batch b;
    int *tok, *tgt, *starts, rc = 1;
    R1Acts a;
    r1_acts_init(&a);
    float *logits = NULL;
    if (make_batch(o, &b, &tok, &tgt, &starts) == 0) {
        if (r1_batch_check(&m, &b, &err) != 0) {
            die(err.msg);
            goto done;
        }
        r1_model_forward(&m, &a, &b);
        /* The backward consumes the logits buffer; keep a copy to write out. */
        size_t nl = (size_t)b.n_tokens * m.cfg.vocab;
        logits = r1_falloc(nl);
        memcpy(logits, a.logits, sizeof(float) * nl);
        if (b.targets) {
            r1_model_alloc_grads(&m);
            r1_model_zero_grad(&m);
            r1_model_backward(&m, &a, &b, NULL);
        }
        rc = write_forward(&m, &a, logits, b.targets != NULL, o->out, &err) ? die(err.msg) : 0;
    }
done:
    free(logits);
    free(tok);
    free(tgt);
    free(starts);
    r1_acts_free(&a);
    r1_model_free(&m);
    return rc;
}

int main(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "tokenize") == 0) return cmd_tokenize(argc - 1, argv + 1);
    if (strcmp(argv[1], "train-tokenizer") == 0) return cmd_train_tokenizer(argc - 1, argv + 1);
    if (strcmp(argv[1], "generate") == 0) return cmd_generate(argc - 1, argv + 1);
    if (strcmp(argv[1], "gguf-tokenizer") == 0) return cmd_gguf_tokenizer(argc - 1, argv + 1);
    if (strcmp(argv[1], "gguf-info") == 0) return cmd_gguf_info(argc - 1, argv + 1);
    if (strcmp(argv[1], "import-gguf") == 0) return cmd_import_gguf(argc - 1, argv + 1);
    if (strcmp(argv[1], "export-gguf") == 0) return cmd_export_gguf(argc - 1, argv + 1);
    Opts o;
    int rc = parse_opts(&o, argc, argv);
    if (rc) return rc == 2 ? 0 : rc;
    if (strcmp(argv[1], "info") == 0) return cmd_info(&o);
    if (strcmp(argv[1], "init") == 0) return cmd_init(&o);
    if (strcmp(argv[1], "forward") == 0) return cmd_forward(&o);
    fprintf(stderr, "r1-model: unknown command '%s'\n%s", argv[1], usage);
    return 2;
}
