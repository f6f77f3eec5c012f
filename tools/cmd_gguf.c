/* cmd_gguf.c - `r1-model import-gguf` and `r1-model export-gguf`: a GGUF file (llama.cpp,
 * Ollama, LM Studio) to a Hugging Face directory r1c and PyTorch load, and back.
 *
 * Both are atomic: import writes DIR.tmp-PID and renames it into place, export writes the
 * file under a temporary name and renames it; a failure leaves nothing behind. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint.h"
#include "cmds.h"
#include "gguf.h"
#include "gguf_model.h"
#include "gguf_tok.h"

static const char *IMPORT_USAGE =
    "usage: r1-model import-gguf --gguf FILE --out DIR [--dtype f32|bf16] [--quiet]\n"
    "  FILE: a llama or qwen2 GGUF (F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K,\n"
    "  Q5_K, Q6_K tensors). DIR gets config.json, model.safetensors, generation_config.json,\n"
    "  tokenizer.json and tokenizer_config.json (rebuilt from tokenizer.ggml.*). DIR must not\n"
    "  exist yet.\n";

static const char *EXPORT_USAGE =
    "usage: r1-model export-gguf --model DIR --out FILE [--type f32|f16|bf16|q8_0]\n"
    "                            [--name NAME] [--pre NAME]\n"
    "  writes the model of DIR (config.json, weights, tokenizer.json) as one GGUF file that\n"
    "  llama.cpp and Ollama load; --type applies to matrices (default f32), norms stay F32.\n"
    "  --pre names llama.cpp's pre-tokenizer when it cannot be recognised from tokenizer.json.\n";

typedef struct {
    const char *gguf, *model, *out, *dtype, *type, *name, *pre;
    int quiet;
} GgufArgs;

static int parse(GgufArgs *a, int argc, char **argv, const char *who, const char *usage) {
    memset(a, 0, sizeof *a);
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(f, "--help") || !strcmp(f, "-h")) return fputs(usage, stdout), -1;
        if (!strcmp(f, "--quiet")) {
            a->quiet = 1;
            continue;
        }
        const char **slot = !strcmp(f, "--gguf")    ? &a->gguf
                            : !strcmp(f, "--model") ? &a->model
                            : !strcmp(f, "--out")   ? &a->out
                            : !strcmp(f, "--dtype") ? &a->dtype
                            : !strcmp(f, "--type")  ? &a->type
                            : !strcmp(f, "--name")  ? &a->name
                            : !strcmp(f, "--pre")   ? &a->pre
                                                    : NULL;
        if (!slot) return fprintf(stderr, "%s: unknown option %s\n%s", who, f, usage), 2;
        if (!v) return fprintf(stderr, "%s: %s needs a value\n%s", who, f, usage), 2;
        *slot = v;
        i++;
    }
    return 0;
}

/* generation_config.json as transformers writes it, from the file's special ids. */
static int write_generation_config(const R1Config *c, const R1Gguf *g, const char *dir,
                                   R1Err *err) {
    char buf[512];
    int k = snprintf(buf, sizeof buf, "{\n  \"_from_model_config\": true");
    if (c->bos_id >= 0)
        k += snprintf(buf + k, sizeof buf - (size_t)k, ",\n  \"bos_token_id\": %d", c->bos_id);
    if (c->n_eos == 1)
        k += snprintf(buf + k, sizeof buf - (size_t)k, ",\n  \"eos_token_id\": %d", c->eos_ids[0]);
    else if (c->n_eos > 1) {
        k += snprintf(buf + k, sizeof buf - (size_t)k, ",\n  \"eos_token_id\": [");
        for (int i = 0; i < c->n_eos; i++)
            k += snprintf(buf + k, sizeof buf - (size_t)k, i ? ", %d" : "%d", c->eos_ids[i]);
        k += snprintf(buf + k, sizeof buf - (size_t)k, "]");
    }
    int64_t pad;
    if (r1_gguf_int(g, "tokenizer.ggml.padding_token_id", &pad, NULL) == 1)
        k += snprintf(buf + k, sizeof buf - (size_t)k, ",\n  \"pad_token_id\": %lld",
                      (long long)pad);
    k += snprintf(buf + k, sizeof buf - (size_t)k, "\n}\n");
    char *path = r1_path_join(dir, "generation_config.json");
    int rc = r1_write_file_atomic(path, buf, (size_t)k, err);
    free(path);
    return rc;
}

/* The cheap checks first (architecture, tensor shapes, then the tokenizer: a SentencePiece
 * vocabulary or an unknown pre-tokenizer is refused there), so that a refusal comes before
 * minutes of dequantizing. */
static int import_into(const R1Gguf *g, const char *tmp, R1DType dt, int quiet, R1Err *err) {
    if (r1_gguf_check_model(g, err) || r1_mkdirs(tmp, err) || r1_gguf_tokenizer_write(g, tmp, err))
        return -1;
    R1Model m;
    if (r1_gguf_load_model(g, &m, quiet, err)) return -1;
    int rc = r1_model_save(&m, tmp, dt, err);
    if (rc == 0) rc = write_generation_config(&m.cfg, g, tmp, err);
    r1_model_free(&m);
    return rc;
}

int cmd_import_gguf(int argc, char **argv) {
    const char *who = "r1-model import-gguf";
    GgufArgs a;
    int rc = parse(&a, argc, argv, who, IMPORT_USAGE);
    if (rc) return rc < 0 ? 0 : rc;
    if (!a.gguf || !a.out)
        return fprintf(stderr, "%s: needs --gguf FILE and --out DIR\n%s", who, IMPORT_USAGE), 2;
    const char *dts = a.dtype ? a.dtype : "f32";
    if (strcmp(dts, "f32") && strcmp(dts, "bf16"))
        return fprintf(stderr, "%s: --dtype is f32 or bf16, not '%s'\n", who, dts), 2;
    struct stat st;
    if (stat(a.out, &st) == 0)
        return fprintf(stderr, "%s: %s already exists; remove it or choose another --out\n", who,
                       a.out),
               1;
    R1Err err = {{0}};
    R1Gguf g;
    if (r1_gguf_open(&g, a.gguf, &err)) return fprintf(stderr, "%s: %s\n", who, err.msg), 1;
    char *tmp = r1_xmalloc(strlen(a.out) + 32);
    sprintf(tmp, "%s.tmp-%ld", a.out, (long)getpid());
    rc = import_into(&g, tmp, strcmp(dts, "bf16") ? R1_F32 : R1_BF16, a.quiet, &err);
    if (rc == 0 && rename(tmp, a.out) != 0)
        rc = r1_seterr(&err, "cannot rename %s to %s: %s", tmp, a.out, strerror(errno));
    if (rc) r1_remove_dir(tmp);
    r1_gguf_close(&g);
    free(tmp);
    if (rc) return fprintf(stderr, "%s: %s\n", who, err.msg), 1;
    if (!a.quiet) fprintf(stderr, "%s: wrote %s\n", who, a.out);
    return 0;
}

static int parse_type(const char *s, R1GgmlType *t) {
    const char *names[] = {"f32", "f16", "bf16", "q8_0"};
    const R1GgmlType types[] = {R1_GGML_F32, R1_GGML_F16, R1_GGML_BF16, R1_GGML_Q8_0};
    for (int i = 0; i < 4; i++)
        if (!strcmp(s, names[i])) return *t = types[i], 0;
    return -1;
}

/* The last component of a directory path, for general.name. */
static const char *base_name(const char *dir, char *buf, size_t n) {
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/') len--;
    size_t start = len;
    while (start > 0 && dir[start - 1] != '/') start--;
    snprintf(buf, n, "%.*s", (int)(len - start), dir + start);
    return buf;
}

int cmd_export_gguf(int argc, char **argv) {
    const char *who = "r1-model export-gguf";
    GgufArgs a;
    int rc = parse(&a, argc, argv, who, EXPORT_USAGE);
    if (rc) return rc < 0 ? 0 : rc;
    if (!a.model || !a.out)
        return fprintf(stderr, "%s: needs --model DIR and --out FILE\n%s", who, EXPORT_USAGE), 2;
    R1GgmlType type = R1_GGML_F32;
    if (a.type && parse_type(a.type, &type))
        return fprintf(stderr, "%s: --type is f32, f16, bf16 or q8_0, not '%s'\n", who, a.type), 2;
    R1Err err = {{0}};
    R1Model m;
    if (r1_model_load(&m, a.model, &err)) return fprintf(stderr, "%s: %s\n", who, err.msg), 1;
    char name[256];
    /* The tokenizer is checked first, into a writer thrown away: a refusal (an unknown
     * pre-tokenizer: pass --pre) comes before the tensors are converted; the file itself
     * keeps llama.cpp's usual order, general.* and the hyperparameters first. */
    R1GgufWriter *w = r1_gguf_writer_new();
    rc = r1_gguf_tokenizer_put(w, a.model, a.pre, m.cfg.vocab, &err);
    r1_gguf_writer_free(w);
    w = r1_gguf_writer_new();
    void *store = NULL;
    if (rc == 0)
        rc = r1_gguf_put_model(w, &m, type, a.name ? a.name : base_name(a.model, name, sizeof name),
                               &store, &err);
    if (rc == 0) rc = r1_gguf_tokenizer_put(w, a.model, a.pre, m.cfg.vocab, &err);
    if (rc == 0) rc = r1_gguf_write(w, a.out, &err);
    r1_gguf_writer_free(w);
    free(store);
    r1_model_free(&m);
    if (rc) return fprintf(stderr, "%s: %s\n", who, err.msg), 1;
    if (!a.quiet) fprintf(stderr, "%s: wrote %s\n", who, a.out);
    return 0;
}
