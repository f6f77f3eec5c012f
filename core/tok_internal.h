/* tok_internal.h - the tokenizer's tables, shared by tokenizer.c (loading,
 * decoding) and tok_encode.c (encoding), and the tokenizer.json pieces the writers
 * (tok_train.c, gguf_tok_import.c) share. Not part of the public interface. */
#ifndef R1_TOK_INTERNAL_H
#define R1_TOK_INTERNAL_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <cjson/cJSON.h>
#include <pcre2.h>

#include "hashmap.h"
#include "tokenizer.h"

typedef struct {
    char *content;
    size_t len;
    int id;
    int special, normalized, lstrip, rstrip, single_word;
} TokAdded;

typedef enum { PT_SPLIT, PT_BYTELEVEL } TokPreKind;

/* One pre-tokenization step. Digits and ByteLevel's own regex are loaded as
 * Split steps, so the encoder only knows two kinds. */
typedef struct {
    TokPreKind kind;
    pcre2_code *re; /* Split with a regex */
    char *literal;  /* Split with a plain string */
    size_t literal_len;
    int removed;          /* behavior Removed (else Isolated) */
    int invert;           /* the pattern matches what to keep */
    int add_prefix_space; /* ByteLevel */
} TokPre;

/* Finished encodings of recently seen pieces: piece bytes -> ids. */
typedef struct {
    R1StrMap index; /* piece -> offset into ids */
    int *ids;       /* at offset: count, then the ids */
    size_t n_ids, cap_ids;
} TokCache;

struct R1Tokenizer {
    char *path;   /* tokenizer.json, for messages */
    int n_ids;    /* one more than the largest id */
    char **piece; /* bytes of each id (decoding); NULL for holes */
    size_t *piece_len;
    unsigned char *special;
    R1StrMap by_bytes;   /* raw bytes of a vocabulary entry -> id */
    R1StrMap by_content; /* an added token's content -> id */
    int byte_id[256];    /* id of each single byte; -1 for one the vocabulary lacks */
    int missing_bytes;   /* how many bytes have no token of their own */
    R1U64Map merges;     /* (left id << 32 | right id) -> (rank << 32 | merged id) */
    int ignore_merges;
    TokAdded *added;
    int n_added;
    int *added_first[256]; /* per first byte: indices into added, longest first, -1 ends */
    int nfc;
    TokPre *pre;
    int n_pre;
    pcre2_match_data *md;
    TokCache cache;
    int bos, eos;
    char *chat_template; /* tokenizer_config.json's, or NULL */
};

/* GPT-2's byte <-> printable code point table used by ByteLevel. */
void r1_bytelevel_table(int byte_to_cp[256]);
/* Appends the UTF-8 of code point cp to buf; returns the byte count (1..4). */
int r1_utf8_put(char *buf, unsigned cp);
/* Length of the valid UTF-8 character at s (n bytes left), or 0 if invalid. */
int r1_utf8_len(const unsigned char *s, size_t n);

/* Pieces of the tokenizer.json files r1c writes (tok_train.c, gguf_tok_import.c):
 * a Split(Regex re, Isolated, invert false) pre-tokenizer; ByteLevel without prefix space,
 * offset trimming or its own regex (a pre-tokenizer step and the decoder); and root
 * written to dir/name atomically (pretty: indented). root stays the caller's. */
cJSON *r1_tokjson_split(const char *re);
cJSON *r1_tokjson_bytelevel(void);
int r1_tokjson_write(const cJSON *root, int pretty, const char *dir, const char *name, R1Err *err);

#endif
