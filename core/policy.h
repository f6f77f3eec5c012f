/* policy.h - a model with its tokenizer and chat template, as the stages that
 * generate use it (rollout, r1-model generate, later evaluation).
 *
 * Contract:
 *   - r1_policy_load reads the Hugging Face directory (config.json, weights,
 *     tokenizer.json; the tokenizer may come from another directory) and
 *     refuses a tokenizer with ids the model has no row for, naming both.
 *   - The template is the one asked for, or the tokenizer family's own; one
 *     whose special tokens the tokenizer lacks is refused, naming the token.
 *   - The end-of-completion ids are the config's eos_token_id(s), the
 *     tokenizer's EOS and the template's end-of-turn token, when they exist. */
#ifndef R1_POLICY_H
#define R1_POLICY_H

#include "chat.h"
#include "model.h"
#include "tokenizer.h"

#define R1_POLICY_MAX_EOS (R1_MAX_EOS + 2)

typedef struct {
    R1Model model;
    R1Tokenizer *tok;
    R1Template tpl;
    char *default_system; /* chatml: the model's own default system message, or NULL */
    int eos[R1_POLICY_MAX_EOS];
    int n_eos;
} R1Policy;

/* tokenizer_dir and template_name may be NULL (the model's directory; the
 * family's template). */
int r1_policy_load(R1Policy *p, const char *model_dir, const char *tokenizer_dir,
                   const char *template_name, R1Err *err);
void r1_policy_free(R1Policy *p);
/* Ids of one user message (after an optional system message, which may be
 * NULL) followed by the template's generation prompt. */
int r1_policy_prompt(R1Policy *p, const char *system, const char *user, R1Ids *out, R1Err *err);

#endif
