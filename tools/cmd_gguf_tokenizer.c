/* cmd_gguf_tokenizer.c - `r1-model gguf-tokenizer`: the tokenizer of a GGUF file as
 * tokenizer.json + tokenizer_config.json, and back (core/gguf_tok.h).
 *
 *   r1-model gguf-tokenizer --gguf FILE --out DIR
 *   r1-model gguf-tokenizer --from-dir DIR --out FILE.gguf [--pre NAME]
 *
 * The second form writes a vocabulary-only GGUF (general.architecture "llama", the
 * tokenizer keys, no tensors), which llama.cpp loads with vocab_only. */
#include <stdio.h>
#include <string.h>

#include "cmds.h"
#include "gguf.h"
#include "gguf_tok.h"

static const char *usage =
    "usage: r1-model gguf-tokenizer --gguf FILE --out DIR\n"
    "       r1-model gguf-tokenizer --from-dir DIR --out FILE.gguf [--pre NAME]\n"
    "The first writes DIR/tokenizer.json and DIR/tokenizer_config.json from the GGUF's\n"
    "tokenizer.ggml.* keys (byte-level BPE, tokenizer.ggml.model \"gpt2\", only).\n"
    "The second writes the tokenizer of DIR as a vocabulary-only GGUF (no tensors);\n"
    "--pre names llama.cpp's pre-tokenizer when it cannot be recognised from tokenizer.json.\n";

static int fail(const char *msg) {
    fprintf(stderr, "r1-model gguf-tokenizer: %s\n", msg);
    return 1;
}

static int from_gguf(const char *path, const char *out) {
    R1Gguf g;
    R1Err err = {{0}};
    if (r1_gguf_open(&g, path, &err)) return fail(err.msg);
    int rc = r1_gguf_tokenizer_write(&g, out, &err);
    r1_gguf_close(&g);
    return rc ? fail(err.msg) : 0;
}

static int from_dir(const char *dir, const char *out, const char *pre) {
    R1Err err = {{0}};
    R1GgufWriter *w = r1_gguf_writer_new();
    const char *base = strrchr(dir, '/');
    r1_gguf_put_str(w, "general.architecture", "llama");
    r1_gguf_put_str(w, "general.name", base && base[1] ? base + 1 : dir);
    int rc = r1_gguf_tokenizer_put(w, dir, pre, 0, &err);
    if (rc == 0) rc = r1_gguf_write(w, out, &err);
    r1_gguf_writer_free(w);
    return rc ? fail(err.msg) : 0;
}

int cmd_gguf_tokenizer(int argc, char **argv) {
    const char *gguf = NULL, *dir = NULL, *out = NULL, *pre = NULL;
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        if (!strcmp(f, "--help") || !strcmp(f, "-h")) return fputs(usage, stdout), 0;
        if (i + 1 >= argc)
            return fprintf(stderr, "r1-model gguf-tokenizer: %s needs a value\n%s", f, usage), 1;
        const char *v = argv[++i];
        if (!strcmp(f, "--gguf"))
            gguf = v;
        else if (!strcmp(f, "--from-dir"))
            dir = v;
        else if (!strcmp(f, "--out"))
            out = v;
        else if (!strcmp(f, "--pre"))
            pre = v;
        else
            return fprintf(stderr, "r1-model gguf-tokenizer: unknown option %s\n%s", f, usage), 1;
    }
    if (!out || !gguf == !dir)
        return fprintf(stderr,
                       "r1-model gguf-tokenizer: needs --out and one of --gguf, --from-dir\n%s",
                       usage),
               1;
    if (gguf && pre) return fail("--pre goes with --from-dir (a GGUF names its pre-tokenizer)");
    return gguf ? from_gguf(gguf, out) : from_dir(dir, out, pre);
}
