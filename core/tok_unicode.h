/* tok_unicode.h - bring the pre-tokenizer regexes up to utf8proc's Unicode version.
 *
 * Hugging Face matches these patterns with Oniguruma's Unicode tables; Debian's
 * PCRE2 (10.42) knows Unicode 14, so characters added later (new emoji, CJK
 * Extension H, ...) would count as unassigned and split differently. utf8proc
 * carries newer tables (15.0 here). Before compiling a pattern we add, to every
 * \p{X} of a general category, the code points that utf8proc puts in X and PCRE2
 * does not know at all. Where the two libraries agree this changes nothing. */
#ifndef R1_TOK_UNICODE_H
#define R1_TOK_UNICODE_H

#include <stddef.h>

/* For each major category letter (C L M N P S Z): the code points to add, as
 * the text of character-class ranges ("\x{1FA77}\x{31350}-\x{323AF}..."). */
typedef struct {
    char *extra[7];
} R1UniPatch;

void r1_unipatch_init(R1UniPatch *u);
void r1_unipatch_free(R1UniPatch *u);
/* The pattern with the ranges added (caller frees); *out_len gets its length. */
char *r1_unipatch_apply(const R1UniPatch *u, const char *pattern, size_t len, size_t *out_len);

#endif
