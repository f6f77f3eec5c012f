/* chat.h - chat templates as C code (no Jinja engine), with the SFT loss mask.
 *
 * Templates (names are what --template takes):
 *   "deepseek-r1": BOS + system prompts joined by "\n\n", then "<｜User｜>" + q and
 *                  "<｜Assistant｜>" + a + "<｜end▁of▁sentence｜>" per turn. Assistant turns
 *                  before the last one keep only the text after their last "</think>".
 *                  The generation prompt is "<｜Assistant｜><think>\n".
 *   "qwen2.5":     "<|im_start|>ROLE\n" + content + "<|im_end|>\n" per message, with
 *                  Qwen2.5's default system message when the first is not a system one;
 *                  generation prompt "<|im_start|>assistant\n".
 *   "chatml":      the same ChatML turns, with the default system message the model's
 *                  own template writes (SmolLM2: "You are a helpful AI assistant named
 *                  SmolLM, trained by Hugging Face"), or none.
 *   "r1-zero":     the plain-text template of the DeepSeek-R1 paper (Table 1), usable with
 *                  any tokenizer: "A conversation between User and Assistant. ... User:
 *                  {prompt}. Assistant:"; an assistant message follows as " " + content + EOS.
 * Rendering returns the text and the byte ranges of assistant output that SFT trains on:
 * each assistant message's content and the end-of-turn token after it (not the role
 * header before it, nor text the template adds around it). */
#ifndef R1_CHAT_H
#define R1_CHAT_H

#include <stddef.h>

#include "tokenizer.h"
#include "util.h"

typedef enum { R1_ROLE_SYSTEM = 0, R1_ROLE_USER = 1, R1_ROLE_ASSISTANT = 2 } R1Role;

typedef struct {
    R1Role role;
    const char *content; /* UTF-8, NUL-terminated */
} R1Message;

typedef enum {
    R1_TPL_DEEPSEEK_R1 = 0,
    R1_TPL_QWEN25 = 1,
    R1_TPL_R1_ZERO = 2,
    R1_TPL_CHATML = 3
} R1Template;

typedef struct {
    size_t start, end; /* [start, end) in bytes of R1Chat.text */
} R1Span;

typedef struct {
    char *text;
    size_t len;
    R1Span *assistant; /* in order, non-overlapping */
    int n_assistant;
} R1Chat;

/* "deepseek-r1", "qwen2.5", "r1-zero", "chatml" -> template; -1 if unknown. */
int r1_template_parse(const char *name);
const char *r1_template_name(R1Template t);
/* The family's own template: deepseek-r1 when the tokenizer has "<｜User｜>"; with
 * "<|im_start|>", chatml when tokenizer_config.json's chat_template is a ChatML one other
 * than Qwen's (its literal default system message, if any, into *default_system, which
 * the caller frees; default_system may be NULL), else qwen2.5; otherwise r1-zero. */
R1Template r1_template_detect(const R1Tokenizer *tok, char **default_system);
R1Template r1_template_for(const R1Tokenizer *tok); /* r1_template_detect(tok, NULL) */
/* The text a generation prompt ends with inside the assistant's turn, which the
 * completion continues: "<think>\n" for deepseek-r1, "" for the others. */
const char *r1_template_prefill(R1Template t);
/* The token text that ends an assistant turn: "<｜end▁of▁sentence｜>" for deepseek-r1,
 * "<|im_end|>" for qwen2.5, NULL for r1-zero (which ends with the tokenizer's EOS). */
const char *r1_template_turn_end(R1Template t);
/* "system", "user", "assistant" -> role; -1 if unknown. */
int r1_role_parse(const char *name);

/* bos/eos: the tokenizer's BOS/EOS text for r1-zero (either may be NULL: nothing is
 * written for it); the other templates use their own fixed tokens. A message with
 * NULL content, or a template that cannot express the sequence of roles, is an
 * error naming the message index. */
int r1_chat_render(R1Template tpl, const R1Message *msgs, int n, int add_generation_prompt,
                   const char *bos, const char *eos, R1Chat *out, R1Err *err);
/* The same, with the default system message of a chatml template (NULL: none). */
int r1_chat_render_sys(R1Template tpl, const char *default_system, const R1Message *msgs, int n,
                       int add_generation_prompt, const char *bos, const char *eos, R1Chat *out,
                       R1Err *err);
void r1_chat_free(R1Chat *c);

/* Encodes c->text, appending to ids; (*mask)[i] = 1 when any byte of token i lies
 * in an assistant span (so " The", whose space the template wrote, counts when
 * "The" is the reply). The mask covers all of ids, 0 for entries that were
 * there before; caller frees it. */
int r1_chat_encode(R1Tokenizer *tok, const R1Chat *c, R1Ids *ids, unsigned char **mask, R1Err *err);

#endif
