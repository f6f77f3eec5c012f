/* tok_train.h - learns a small byte-level BPE tokenizer, written as tokenizer.json.
 *
 * Contract: the text is split with Qwen2's pre-tokenizer pattern, identical words
 * are counted, and the most frequent adjacent pair of symbols is merged, again and
 * again, up to n_merges times or until no pair occurs twice; ties go to the pair
 * of smaller ids, so the same text always gives the same tokenizer. Ids: the 256
 * bytes in byte order, then one per merge, then the added tokens in the order
 * given. The files written (tokenizer.json with NFC, the Qwen2 split and
 * ByteLevel, and tokenizer_config.json naming bos/eos) load in r1c and in
 * Hugging Face `tokenizers` alike, with the same ids. */
#ifndef R1_TOK_TRAIN_H
#define R1_TOK_TRAIN_H

#include <stddef.h>

#include "util.h"

typedef struct {
    const char *content;
    int special;
} R1AddedSpec;

int r1_tok_train(const char *text, size_t len, int n_merges, const R1AddedSpec *added, int n_added,
                 const char *bos, const char *eos, const char *dir, R1Err *err);

#endif
