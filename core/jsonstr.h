/* jsonstr.h - JSON string literals to bytes and back, with embedded NULs kept.
 *
 * cJSON stores strings NUL-terminated, which loses a "\u0000" and everything
 * after it; text for the tokenizer must survive exactly, so the line-oriented
 * tools parse their JSON string lines here. */
#ifndef R1_JSONSTR_H
#define R1_JSONSTR_H

#include <stddef.h>

#include "util.h"

/* Parses one JSON string literal (surrounding whitespace allowed) into a fresh
 * buffer (caller frees); *len gets its byte length. Lone surrogates, bad
 * escapes, raw control characters and trailing text are errors naming the
 * column. The bytes are not checked to be UTF-8 (the tokenizer does that). */
char *r1_json_string_parse(const char *s, size_t n, size_t *len, R1Err *err);

/* Appends the JSON literal of bytes p[0..n) to (*out, *len, *cap): quotes,
 * escapes for '"', '\\' and control characters; bytes that are not valid UTF-8
 * become U+FFFD, as Hugging Face's lossy decoding does. */
void r1_json_string_write(const char *p, size_t n, char **out, size_t *len, size_t *cap);

#endif
