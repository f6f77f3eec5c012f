/* gguf_pre.h - llama.cpp's pre-tokenizer names and the split regexes each stands for, shared
 * by the two halves of gguf_tok.h (gguf_tok_import.c, gguf_tok_export.c); internal to core/. */
#ifndef R1_GGUF_PRE_H
#define R1_GGUF_PRE_H

#include <stddef.h>

#define PREFIX "tokenizer.ggml."

typedef struct {
    const char *hf, *lcpp; /* Hugging Face's spelling (written) and llama.cpp's */
} ReSpell;

typedef struct {
    int n;
    ReSpell re[3];
} PreSet;

enum { SET_GPT2, SET_SMOLLM, SET_QWEN2, SET_QWEN35, SET_LLAMA3, SET_DSV3 };

/* The names, with what llama.cpp's llama_vocab::load sets for each besides the regexes.
 * The first name of a set (with the same ignore_merges) is the one detection gives. */
typedef struct {
    const char *name;
    int set, ignore_merges, add_bos, clean_spaces;
} PreName;

extern const PreSet GGUF_PRE_SETS[];
extern const PreName GGUF_PRE_NAMES[];
extern const int GGUF_N_PRE_NAMES;

/* The entry of a name; NULL when r1c does not know it. */
const PreName *gguf_pre_by_name(const char *name);
/* All the names, comma-separated, for error messages. */
void gguf_pre_names(char *buf, size_t cap);
/* Whether the regex list re[0..n) is the set's, each in either spelling. */
int gguf_pre_set_matches(int set, const char **re, int n);
/* Whether tokenizer.ggml.<suffix> has a place of its own in tokenizer.json / _config.json. */
int gguf_own_key(const char *suffix);

#endif
