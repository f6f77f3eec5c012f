/* policy.c - see policy.h. */
#include "policy.h"

#include <stdlib.h>
#include <string.h>

static void add_eos(R1Policy *p, int id) {
    if (id < 0 || id >= p->model.cfg.vocab) return;
    for (int i = 0; i < p->n_eos; i++)
        if (p->eos[i] == id) return;
    if (p->n_eos < R1_POLICY_MAX_EOS) p->eos[p->n_eos++] = id;
}

/* A template whose special tokens the tokenizer lacks would be encoded as
 * plain text, byte by byte: a model never trained on that. */
static int template_fits(R1Template tpl, const R1Tokenizer *tok, const char *dir, R1Err *err) {
    const char *ds[] = {"<｜User｜>", "<｜Assistant｜>", "<｜end▁of▁sentence｜>"};
    const char *qw[] = {"<|im_start|>", "<|im_end|>"};
    int chatml = tpl == R1_TPL_QWEN25 || tpl == R1_TPL_CHATML;
    const char **need = tpl == R1_TPL_DEEPSEEK_R1 ? ds : chatml ? qw : NULL;
    int n = tpl == R1_TPL_DEEPSEEK_R1 ? 3 : chatml ? 2 : 0;
    for (int i = 0; i < n; i++)
        if (r1_tok_find(tok, need[i]) < 0)
            return r1_seterr(err,
                             "the %s template needs the token %s, which %s/tokenizer.json does "
                             "not have (use --template r1-zero, which any tokenizer can write)",
                             r1_template_name(tpl), need[i], dir);
    return 0;
}

int r1_policy_load(R1Policy *p, const char *model_dir, const char *tokenizer_dir,
                   const char *template_name, R1Err *err) {
    memset(p, 0, sizeof *p);
    const char *tdir = tokenizer_dir ? tokenizer_dir : model_dir;
    int tpl = -1;
    if (template_name && (tpl = r1_template_parse(template_name)) < 0)
        return r1_seterr(err, "unknown template '%s' (deepseek-r1, qwen2.5, chatml, r1-zero)",
                         template_name);
    if (r1_model_load(&p->model, model_dir, err)) return -1;
    if (!(p->tok = r1_tok_load(tdir, err))) {
        r1_model_free(&p->model);
        return -1;
    }
    int tv = r1_tok_vocab_size(p->tok), mv = p->model.cfg.vocab;
    if (tv > mv) {
        r1_seterr(err,
                  "%s/tokenizer.json has ids up to %d but %s/config.json has vocab_size %d: "
                  "the model and tokenizer do not belong together",
                  tdir, tv - 1, model_dir, mv);
        r1_policy_free(p);
        return -1;
    }
    /* The detected family's default system message also serves an explicit chatml. */
    R1Template own = r1_template_detect(p->tok, &p->default_system);
    p->tpl = tpl >= 0 ? (R1Template)tpl : own;
    if (template_fits(p->tpl, p->tok, tdir, err)) {
        r1_policy_free(p);
        return -1;
    }
    for (int i = 0; i < p->model.cfg.n_eos; i++) add_eos(p, p->model.cfg.eos_ids[i]);
    add_eos(p, r1_tok_eos(p->tok));
    const char *end = r1_template_turn_end(p->tpl);
    if (end) add_eos(p, r1_tok_find(p->tok, end));
    return 0;
}

void r1_policy_free(R1Policy *p) {
    r1_model_free(&p->model);
    r1_tok_free(p->tok);
    free(p->default_system);
    memset(p, 0, sizeof *p);
}

int r1_policy_prompt(R1Policy *p, const char *system, const char *user, R1Ids *out, R1Err *err) {
    R1Message msgs[2];
    int n = 0;
    if (system) msgs[n].role = R1_ROLE_SYSTEM, msgs[n++].content = system;
    msgs[n].role = R1_ROLE_USER, msgs[n++].content = user;
    const char *bos = NULL, *eos = NULL;
    size_t len;
    if (r1_tok_bos(p->tok) >= 0) bos = r1_tok_piece(p->tok, r1_tok_bos(p->tok), &len);
    if (r1_tok_eos(p->tok) >= 0) eos = r1_tok_piece(p->tok, r1_tok_eos(p->tok), &len);
    R1Chat chat;
    if (r1_chat_render_sys(p->tpl, p->default_system, msgs, n, 1, bos, eos, &chat, err)) return -1;
    int rc = r1_tok_encode(p->tok, chat.text, chat.len, out, err);
    r1_chat_free(&chat);
    return rc;
}
