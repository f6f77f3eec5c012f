/* decode.h - the model's forward pass for generation, with a KV cache.
 *
 * Contract:
 *   - The cache holds, per layer, the keys (after RoPE) and values of n_prefix
 *     prompts of up to max_prompt tokens and of n_slots sequences of up to
 *     max_new tokens of their own. A sequence is a slot that continues one
 *     prefix: the G samples of a prompt are G slots sharing its prefix, which
 *     is computed and stored once.
 *   - r1_dec_prefill runs whole prompts (any number together, attention kept
 *     inside each) into prefix entries and returns the logits of each prompt's
 *     last token. r1_dec_step feeds one token to each of n sequences, appends
 *     its key and value to the sequence's slot and returns the next logits.
 *   - The logits equal those of r1_model_forward on the concatenated sequence
 *     (to float rounding), and a row's result does not depend, to the bit, on
 *     which other sequences or prompts share the call: generation is
 *     batch-invariant.
 *   - Callers keep lengths in range (prompt <= max_prompt, slot < max_new,
 *     prefix + slot < max_position_embeddings); the decoder does not check. */
#ifndef R1_DECODE_H
#define R1_DECODE_H

#include <stddef.h>

#include "model.h"

typedef struct {
    const R1Model *m;
    int n_slots, n_prefix, max_prompt, max_new;
    size_t layer_rows; /* cache rows per layer: prefixes first, then slots */
    float *kc, *vc;    /* [L, layer_rows, KV * hd] */
    int *prefix_len, *slot_len;
    float *rope_cos, *rope_sin; /* positions [0, max_prompt + max_new) */
    /* scratch for the rows of one call, grown on demand */
    int cap;
    int *pos, *seq_start, *np, *ns;
    float *x, *xn, *rstd, *qkv, *att, *lse, *gu, *act, *last;
    const float **kp, **vp, **ks, **vs;
} R1Decoder;

/* Bytes the cache needs (the figure the rollout stage checks against memory). */
size_t r1_dec_cache_bytes(const R1Config *c, int n_slots, int n_prefix, int max_prompt,
                          int max_new);
void r1_dec_init(R1Decoder *d, const R1Model *m, int n_slots, int n_prefix, int max_prompt,
                 int max_new);
void r1_dec_free(R1Decoder *d);

/* Runs prompts ids[i][0..lens[i]) into prefix entries prefix[i]; logits [n, V]
 * of each prompt's last token. */
void r1_dec_prefill(R1Decoder *d, int n, const int *prefix, const int *const *ids, const int *lens,
                    float *logits);
/* Empties slot s (its sequence is done; the slot is free for another). */
void r1_dec_reset_slot(R1Decoder *d, int s);
/* Feeds tok[i] to the sequence in slot[i] continuing prefix[i]; logits [n, V]. */
void r1_dec_step(R1Decoder *d, int n, const int *slot, const int *prefix, const int *tok,
                 float *logits);

#endif
