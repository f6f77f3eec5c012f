/* gguf_tok.h - the tokenizer part of GGUF import and export: llama.cpp's tokenizer.ggml.*
 * metadata <-> a Hugging Face tokenizer.json + tokenizer_config.json.
 *
 * Contract:
 *   - Only byte-level BPE is handled: tokenizer.ggml.model "gpt2". "llama" (SentencePiece)
 *     and every other model are refused with the file named.
 *   - A llama.cpp pre-tokenizer NAME (tokenizer.ggml.pre) stands for a fixed list of split
 *     regexes (llama.cpp's src/llama-vocab.cpp). r1c knows these, each written as the
 *     Hugging Face tokenizer.json of that family spells it (Qwen2's "(?i:'s|...)" where
 *     llama.cpp has "(?:'[sS]|...)", GPT-2's ByteLevel regex with its final "|\s+"):
 *       gpt-2, phi-2, mpt, olmo                          GPT-2's ByteLevel regex
 *       smollm, starcoder, refact, command-r, codeshell  \p{N}, then GPT-2's regex
 *       qwen2, deepseek-r1-qwen, stablelm2, megrez       Qwen2's regex
 *       qwen35                                           Qwen3.5's regex
 *       llama-bpe, llama3, llama-v3, falcon3             Llama 3's regex, ignore_merges
 *       dbrx, smaug-bpe                                  Llama 3's regex
 *       deepseek-v3                                      DeepSeek-V3's three regexes
 *     Any other name, or none, is refused with the name and the file named, never guessed.
 *   - r1_gguf_tokenizer_write (import) writes DIR/tokenizer.json: model BPE with every token
 *     in "vocab" and the merges as [left, right] pairs, byte_fallback false, ignore_merges as
 *     llama.cpp does for the name; pre_tokenizer a Sequence of Split(Regex, Isolated) per
 *     regex then ByteLevel(use_regex false); decoder ByteLevel; no normalizer (llama.cpp has
 *     none); an added token (normalized false) for every token of type 3 control or 2 unknown
 *     (special) and 4 user-defined (not special); a TemplateProcessing post-processor adding
 *     BOS/EOS exactly when tokenizer.ggml.add_bos_token / add_eos_token say so (absent:
 *     llama.cpp's default for the name). And DIR/tokenizer_config.json: add_bos_token and
 *     add_eos_token (when the GGUF has them or they are true), bos/eos/unk/pad_token as
 *     strings, chat_template, model_max_length (ARCH.context_length),
 *     clean_up_tokenization_spaces (llama.cpp's clean_spaces),
 *     tokenizer_class PreTrainedTokenizerFast, added_tokens_decoder, and "gguf_tokenizer":
 *     the scalar tokenizer.ggml.* keys Hugging Face has no place for (pre, eot_token_id,
 *     add_space_prefix, ...), keyed without the prefix, so that export can restore them.
 *     Both files are written atomically. Hugging Face `tokenizers` gives llama.cpp's ids on
 *     them, except where llama.cpp departs from its own regexes or, for a character whose
 *     byte has no token, merges differently (it keeps the character as a barrier, Hugging
 *     Face drops it first).
 *   - r1_gguf_tokenizer_put (export) is the inverse: it reads DIR/tokenizer.json (byte-level
 *     BPE without byte_fallback, dropout, subword affixes or lstrip/rstrip/single_word added
 *     tokens; normalizer none or NFC) and DIR/tokenizer_config.json when present and puts
 *     tokenizer.ggml.model "gpt2", .pre, .tokens (id order; a hole in the ids becomes
 *     "[PAD<id>]" of type 5 unused, as llama.cpp's converter does), .token_type (special
 *     added token 3, other added token 4, else 1), .merges ("left right"), bos/eos/unknown/
 *     padding_token_id (from the config's token strings), add_bos_token (the config's, else
 *     whether the post-processor starts with a special token; put when known, true, or
 *     llama.cpp's default for the name is true), add_eos_token likewise, the keys kept
 *     under "gguf_tokenizer", and tokenizer.chat_template (a list of named templates gives
 *     tokenizer.chat_template.NAME for each but "default"). The pre name is `pre` when given
 *     (a name of the list above); else the name kept in "gguf_tokenizer" when its regexes
 *     are those of tokenizer.json; else the first name of the list whose regexes and
 *     ignore_merges match tokenizer.json's pre-tokenizer, where Digits(individual_digits)
 *     is \p{N} and ByteLevel(use_regex) is GPT-2's regex. Anything else is an error that
 *     shows the pre-tokenizer and says to pass --pre. A normalizer (Qwen's NFC) is not
 *     carried: llama.cpp has no place for it, so its ids agree on normalized text only. Nothing is
 * put unless all of it is valid; errors name the file and the key. */
#ifndef R1_GGUF_TOK_H
#define R1_GGUF_TOK_H

#include "gguf.h"
#include "util.h"

/* GGUF -> DIR/tokenizer.json + DIR/tokenizer_config.json (DIR is created). */
int r1_gguf_tokenizer_write(const R1Gguf *g, const char *dir, R1Err *err);

/* DIR's tokenizer -> the tokenizer keys of w. pre: llama.cpp's pre-tokenizer name, or NULL
 * to detect it. min_tokens: the model's vocab_size, whose embedding rows llama.cpp wants a
 * token for each (the ids past the tokenizer's become "[PAD<id>]" too; a token id past it is
 * an error); 0 for none. */
int r1_gguf_tokenizer_put(R1GgufWriter *w, const char *dir, const char *pre, int min_tokens,
                          R1Err *err);

#endif
