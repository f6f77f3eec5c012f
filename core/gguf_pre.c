/* gguf_pre.c - see gguf_pre.h. */
#include "gguf_pre.h"

#include <stdio.h>
#include <string.h>

/* ---- llama.cpp's pre-tokenizers ---------------------------------------------------- */

/* GPT-2's split as Hugging Face's ByteLevel(use_regex) applies it; llama.cpp spells it
 * without the final "|\s+" (its custom splitter gives the same pieces). */
static const char GPT2_RE[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
static const char GPT2_LCPP[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";
static const char QWEN2_RE[] = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "
                               "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char QWEN2_LCPP[] =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|"
    "\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char QWEN35_RE[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?[\\p{L}\\p{M}]+|\\p{N}| "
    "?[^\\s\\p{L}\\p{M}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char QWEN35_LCPP[] =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?[\\p{L}\\p{M}]"
    "+"
    "|\\p{N}| ?[^\\s\\p{L}\\p{M}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char LLAMA3_RE[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char LLAMA3_LCPP[] =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|"
    "\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
/* DeepSeek-V3's, the same in both (the \r\n are the characters themselves). */
static const char DSV3_DIGITS[] = "\\p{N}{1,3}";
static const char DSV3_CJK[] = "[一-龥぀-ゟ゠-ヿ]+";
static const char DSV3_MAIN[] =
    "[!\"#$%&'()*+,\\-./"
    ":;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| "
    "?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+";

const PreSet GGUF_PRE_SETS[] = {
    [SET_GPT2] = {1, {{GPT2_RE, GPT2_LCPP}}},
    [SET_SMOLLM] = {2, {{"\\p{N}", "\\p{N}"}, {GPT2_RE, GPT2_LCPP}}},
    [SET_QWEN2] = {1, {{QWEN2_RE, QWEN2_LCPP}}},
    [SET_QWEN35] = {1, {{QWEN35_RE, QWEN35_LCPP}}},
    [SET_LLAMA3] = {1, {{LLAMA3_RE, LLAMA3_LCPP}}},
    [SET_DSV3] = {3, {{DSV3_DIGITS, DSV3_DIGITS}, {DSV3_CJK, DSV3_CJK}, {DSV3_MAIN, DSV3_MAIN}}},
};

const PreName GGUF_PRE_NAMES[] = {
    {"gpt-2", SET_GPT2, 0, 0, 1},
    {"phi-2", SET_GPT2, 0, 0, 1},
    {"mpt", SET_GPT2, 0, 0, 1},
    {"olmo", SET_GPT2, 0, 0, 1},
    {"smollm", SET_SMOLLM, 0, 0, 0},
    {"starcoder", SET_SMOLLM, 0, 0, 1},
    {"refact", SET_SMOLLM, 0, 0, 1},
    {"command-r", SET_SMOLLM, 0, 0, 0},
    {"codeshell", SET_SMOLLM, 0, 0, 1},
    {"qwen2", SET_QWEN2, 0, 0, 0},
    {"deepseek-r1-qwen", SET_QWEN2, 0, 0, 0},
    {"stablelm2", SET_QWEN2, 0, 0, 1},
    {"megrez", SET_QWEN2, 0, 0, 1},
    {"qwen35", SET_QWEN35, 0, 0, 0},
    {"llama-bpe", SET_LLAMA3, 1, 1, 1},
    {"llama3", SET_LLAMA3, 1, 1, 1},
    {"llama-v3", SET_LLAMA3, 1, 1, 1},
    {"falcon3", SET_LLAMA3, 1, 1, 1},
    {"dbrx", SET_LLAMA3, 0, 0, 1},
    {"smaug-bpe", SET_LLAMA3, 0, 0, 1},
    {"deepseek-v3", SET_DSV3, 0, 0, 0},
};
const int GGUF_N_PRE_NAMES = (int)(sizeof GGUF_PRE_NAMES / sizeof GGUF_PRE_NAMES[0]);

const PreName *gguf_pre_by_name(const char *name) {
    for (int i = 0; i < GGUF_N_PRE_NAMES; i++)
        if (strcmp(GGUF_PRE_NAMES[i].name, name) == 0) return &GGUF_PRE_NAMES[i];
    return NULL;
}

void gguf_pre_names(char *buf, size_t cap) {
    size_t k = 0;
    buf[0] = 0;
    for (int i = 0; i < GGUF_N_PRE_NAMES && k < cap; i++)
        k += (size_t)snprintf(buf + k, cap - k, "%s%s", i ? ", " : "", GGUF_PRE_NAMES[i].name);
}

/* Whether the regex list re[0..n) is the set's, each in either spelling. */
int gguf_pre_set_matches(int set, const char **re, int n) {
    if (GGUF_PRE_SETS[set].n != n) return 0;
    for (int i = 0; i < n; i++)
        if (strcmp(re[i], GGUF_PRE_SETS[set].re[i].hf) != 0 &&
            strcmp(re[i], GGUF_PRE_SETS[set].re[i].lcpp) != 0)
            return 0;
    return 1;
}

/* The scalar tokenizer.ggml.* keys that have a place of their own in the two files; the
 * others go to tokenizer_config.json's "gguf_tokenizer". */
static const char *const OWN_KEYS[] = {
    "model",        "tokens",           "token_type",       "merges",        "bos_token_id",
    "eos_token_id", "unknown_token_id", "padding_token_id", "add_bos_token", "add_eos_token"};

int gguf_own_key(const char *suffix) {
    for (size_t i = 0; i < sizeof OWN_KEYS / sizeof OWN_KEYS[0]; i++)
        if (strcmp(OWN_KEYS[i], suffix) == 0) return 1;
    return 0;
}
