/* checkpoint.h - training checkpoints: a Hugging Face model directory that
 * also carries what is needed to continue training.
 *
 * Contract: r1_checkpoint_save writes everything into DIR.tmp-PID first
 * (config.json, model.safetensors, optimizer.safetensors when an optimizer is
 * given, tokenizer.json and tokenizer_config.json copied from tok_dir when it
 * has them, trainer_state.json when state_json is given), fsyncs it, then
 * moves an existing DIR aside and renames the new one into place, so DIR is
 * at every moment either the old complete checkpoint or the new complete one
 * (for the instant between the two renames, absent). A failure leaves DIR as
 * it was and removes the temporary directory. */
#ifndef R1_CHECKPOINT_H
#define R1_CHECKPOINT_H

#include "model.h"
#include "optim.h"

int r1_checkpoint_save(const R1Model *m, const R1AdamW *opt, const char *dir, const char *tok_dir,
                       const char *state_json, R1Err *err);
/* Copies tokenizer.json (required) and tokenizer_config.json (if present). */
int r1_copy_tokenizer(const char *from, const char *to, R1Err *err);
/* Removes a directory and the files in it (not recursive beyond one level). */
void r1_remove_dir(const char *dir);

#endif
