/* cmd_train_tokenizer.c - `r1-model train-tokenizer`: learn a small byte-level BPE.
 *
 *   r1-model train-tokenizer --corpus FILE --merges N --out DIR
 *       [--special TOKEN]... [--added TOKEN]... [--bos TOKEN] [--eos TOKEN]
 *
 * Each corpus line is text, or, when it starts with '{', a JSON object whose
 * string fields are the text (so JSONL datasets can be used as they are). */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds.h"
#include "tok_train.h"

#define MAX_ADDED 256

static const char *usage =
    "usage: r1-model train-tokenizer --corpus FILE --merges N --out DIR\n"
    "           [--special TOKEN]... [--added TOKEN]... [--bos TOKEN] [--eos TOKEN]\n"
    "Learns N byte-level BPE merges from FILE (text lines, or JSONL whose string fields\n"
    "are the text) and writes DIR/tokenizer.json and DIR/tokenizer_config.json.\n"
    "--special/--added tokens get the ids after the merges, in the order given.\n";

/* The corpus as one text: JSON objects contribute their string fields, one per line. */
static char *corpus_text(const char *path, size_t *len, R1Err *err) {
    FILE *f = fopen(path, "r");
    if (!f) return r1_seterr(err, "%s: cannot open", path), NULL;
    size_t n = 0, cap = 1 << 16;
    char *out = r1_xmalloc(cap), *line = NULL;
    size_t lcap = 0;
    ssize_t got;
    long lineno = 0;
    while ((got = getline(&line, &lcap, f)) >= 0) {
        lineno++;
        cJSON *obj = line[0] == '{' ? cJSON_Parse(line) : NULL;
        if (line[0] == '{' && !obj) {
            r1_seterr(err, "%s:%ld: a line starting with '{' is not a JSON object", path, lineno);
            free(out), out = NULL;
            break;
        }
        const cJSON *e;
        cJSON_ArrayForEach(e, obj) {
            if (!cJSON_IsString(e)) continue;
            size_t k = strlen(e->valuestring);
            if (n + k + 2 > cap) out = r1_xrealloc(out, cap = (n + k + 2) * 2);
            memcpy(out + n, e->valuestring, k), n += k, out[n++] = '\n';
        }
        if (!obj) {
            if (n + (size_t)got + 1 > cap) out = r1_xrealloc(out, cap = (n + (size_t)got + 1) * 2);
            memcpy(out + n, line, (size_t)got), n += (size_t)got;
        }
        cJSON_Delete(obj);
    }
    free(line);
    fclose(f);
    *len = n;
    return out;
}

int cmd_train_tokenizer(int argc, char **argv) {
    const char *corpus = NULL, *out = NULL, *bos = NULL, *eos = NULL;
    int merges = -1, n_added = 0;
    R1AddedSpec added[MAX_ADDED];
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(f, "--help") || !strcmp(f, "-h")) return fputs(usage, stdout), 0;
        if (!v) return fprintf(stderr, "r1-model train-tokenizer: %s needs a value\n", f), 1;
        i++;
        if (!strcmp(f, "--corpus"))
            corpus = v;
        else if (!strcmp(f, "--out"))
            out = v;
        else if (!strcmp(f, "--merges"))
            merges = atoi(v);
        else if (!strcmp(f, "--bos"))
            bos = v;
        else if (!strcmp(f, "--eos"))
            eos = v;
        else if ((!strcmp(f, "--special") || !strcmp(f, "--added")) && n_added < MAX_ADDED)
            added[n_added++] = (R1AddedSpec){v, !strcmp(f, "--special")};
        else
            return fprintf(stderr, "r1-model train-tokenizer: unknown option %s\n%s", f, usage), 1;
    }
    if (!corpus || !out || merges < 0)
        return fprintf(stderr, "r1-model train-tokenizer: needs --corpus, --merges and --out\n"), 1;
    R1Err err;
    size_t len;
    char *text = corpus_text(corpus, &len, &err);
    int rc = text ? r1_tok_train(text, len, merges, added, n_added, bos, eos, out, &err) : -1;
    free(text);
    if (rc) fprintf(stderr, "r1-model train-tokenizer: %s\n", err.msg);
    return rc ? 1 : 0;
}
