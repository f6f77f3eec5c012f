/* tokenizer.h - Hugging Face tokenizer.json byte-level BPE, encode and decode.
 *
 * Contract:
 *   - r1_tok_load reads DIR/tokenizer.json (and DIR/tokenizer_config.json when
 *     present, for the bos/eos names) and supports: model BPE (byte-level, merges
 *     as "a b" strings or [a, b] pairs, ignore_merges); added tokens with their
 *     special/normalized/lstrip/rstrip/single_word flags; normalizers none,
 *     NFC and Sequence of those; pre-tokenizers Sequence, Split (regex via
 *     PCRE2 in UTF mode with JIT, or a literal string), ByteLevel and Digits;
 *     the ByteLevel decoder. Anything else is refused with the file and the
 *     JSON path named, never silently approximated.
 *   - r1_tok_encode gives exactly the ids of Hugging Face `tokenizers`'
 *     Tokenizer.encode(text, add_special_tokens=False): added tokens appearing
 *     in the text are matched first (leftmost-longest), the rest is normalized,
 *     pre-tokenized and BPE-merged. Invalid UTF-8 is refused with the byte
 *     offset named. Each id comes with the byte offset in the input where its
 *     text starts (after NFC a changed stretch maps to offsets inside it).
 *   - r1_tok_decode(encode(x)) == x for every valid UTF-8 x. Decoding bytes
 *     that do not form complete UTF-8 keeps them as they are; the streaming
 *     decoder holds back an incomplete trailing character until the next token.
 *   - An R1Tokenizer is read-only after loading except for its encode cache and
 *     regex scratch: share one between threads only if they do not encode at
 *     the same time (decode is always safe). */
#ifndef R1_TOKENIZER_H
#define R1_TOKENIZER_H

#include <stddef.h>

#include "util.h"

typedef struct R1Tokenizer R1Tokenizer;

typedef struct {
    int *ids;
    int *offsets; /* byte offset in the encoded text where each token starts */
    int n, cap;
} R1Ids;

void r1_ids_free(R1Ids *v);
void r1_ids_push(R1Ids *v, int id, int offset);

R1Tokenizer *r1_tok_load(const char *dir, R1Err *err);
void r1_tok_free(R1Tokenizer *t);

/* Appends the ids of text[0..len) to out (which need not be empty). */
int r1_tok_encode(R1Tokenizer *t, const char *text, size_t len, R1Ids *out, R1Err *err);

/* Bytes of ids[0..n) appended to a fresh NUL-terminated buffer (caller frees);
 * *len gets its length. skip_special drops tokens marked special. An id
 * outside the vocabulary is an error naming it. */
char *r1_tok_decode(const R1Tokenizer *t, const int *ids, int n, int skip_special, size_t *len,
                    R1Err *err);

/* The bytes one token stands for (not NUL-terminated); NULL if id is unknown. */
const char *r1_tok_piece(const R1Tokenizer *t, int id, size_t *len);
/* The id of an added token or vocabulary entry with exactly this text, or -1. */
int r1_tok_find(const R1Tokenizer *t, const char *content);
int r1_tok_is_special(const R1Tokenizer *t, int id);
/* One more than the largest id. */
int r1_tok_vocab_size(const R1Tokenizer *t);
/* bos/eos from tokenizer_config.json (-1 when absent). */
int r1_tok_bos(const R1Tokenizer *t);
int r1_tok_eos(const R1Tokenizer *t);
/* The Jinja chat_template of tokenizer_config.json (NULL when absent); r1c does not run
 * it, chat.h recognises the template family and its default system message from it. */
const char *r1_tok_chat_template(const R1Tokenizer *t);

/* Streaming decode for generation: feed ids one at a time; each call appends
 * the complete UTF-8 characters now available to *out (reallocated as
 * needed) and keeps an incomplete tail for the next call. */
typedef struct {
    char pending[8];
    int n_pending;
} R1TokStream;

void r1_tok_stream_init(R1TokStream *s);
/* Appends to (*out, *len, *cap). Returns -1 only for an unknown id. */
int r1_tok_stream_push(const R1Tokenizer *t, R1TokStream *s, int id, char **out, size_t *len,
                       size_t *cap, R1Err *err);
/* Flushes bytes still held (an incomplete character at the end of output). */
void r1_tok_stream_finish(R1TokStream *s, char **out, size_t *len, size_t *cap);

#endif
