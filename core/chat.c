/* chat.c - see chat.h. Each template is a short function writing into a growable
 * buffer; assistant spans are recorded as the text is written, so they can never
 * drift from the rendered text. */
#include "chat.h"

#include <stdlib.h>
#include <string.h>

/* The DeepSeek special tokens use U+FF5C FULLWIDTH VERTICAL LINE and U+2581 LOWER
 * ONE EIGHTH BLOCK, not ASCII '|' and '_'. */
#define DS_BOS       "<｜begin▁of▁sentence｜>"
#define DS_EOS       "<｜end▁of▁sentence｜>"
#define DS_USER      "<｜User｜>"
#define DS_ASSISTANT "<｜Assistant｜>"
#define DS_GEN       DS_ASSISTANT "<think>\n"

#define QW_START  "<|im_start|>"
#define QW_END    "<|im_end|>"
#define QW_SYSTEM "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."

/* DeepSeek-R1 paper, Table 1, up to the prompt; the prompt is followed by ". Assistant:". */
#define ZERO_HEAD                                                                                  \
    "A conversation between User and Assistant. The user asks a question, and the Assistant "      \
    "solves it. The assistant first thinks about the reasoning process in the mind and then "      \
    "provides the user with the answer. The reasoning process and answer are enclosed within "     \
    "<think> </think> and <answer> </answer> tags, respectively, i.e., <think> reasoning "         \
    "process here </think> <answer> answer here </answer>. User: "
#define ZERO_TAIL ". Assistant:"

static const char *const template_names[] = {"deepseek-r1", "qwen2.5", "r1-zero", "chatml"};
#define N_TEMPLATES 4
static const char *const role_names[] = {"system", "user", "assistant"};

int r1_template_parse(const char *name) {
    for (int i = 0; name && i < N_TEMPLATES; i++)
        if (!strcmp(name, template_names[i])) return i;
    return -1;
}

const char *r1_template_prefill(R1Template t) {
    return t == R1_TPL_DEEPSEEK_R1 ? "<think>\n" : "";
}

const char *r1_template_turn_end(R1Template t) {
    return t == R1_TPL_DEEPSEEK_R1                    ? DS_EOS
           : t == R1_TPL_QWEN25 || t == R1_TPL_CHATML ? QW_END
                                                      : NULL;
}

const char *r1_template_name(R1Template t) {
    return (unsigned)t < N_TEMPLATES ? template_names[t] : "unknown";
}

R1Template r1_template_for(const R1Tokenizer *tok) {
    return r1_template_detect(tok, NULL);
}

/* The literal text of the default system block a ChatML Jinja template writes, as in
 * SmolLM2's "{{ '<|im_start|>system\nYou are ...<|im_end|>\n' }}" (the "\n" may be a
 * Jinja escape or a real newline); NULL when the template writes none as a literal. */
static char *chatml_default_system(const char *jinja) {
    const char *heads[] = {QW_START "system\\n", QW_START "system\n"};
    for (int h = 0; h < 2; h++)
        for (const char *at = strstr(jinja, heads[h]); at; at = strstr(at + 1, heads[h])) {
            const char *p = at + strlen(heads[h]), *end = strstr(p, QW_END);
            if (!end || end == p) continue;
            size_t n = (size_t)(end - p);
            /* A Jinja expression, the end of a string literal or an escape inside: not a
             * plain literal (Qwen's tools branch writes the system head before its own
             * text; the default comes later). */
            if (memchr(p, '{', n) || memchr(p, '\'', n) || memchr(p, '"', n) || memchr(p, '\\', n))
                continue;
            char *s = r1_xmalloc(n + 1);
            memcpy(s, p, n);
            s[n] = 0;
            return s;
        }
    return NULL;
}

R1Template r1_template_detect(const R1Tokenizer *tok, char **default_system) {
    if (default_system) *default_system = NULL;
    if (r1_tok_find(tok, DS_USER) >= 0) return R1_TPL_DEEPSEEK_R1;
    if (r1_tok_find(tok, QW_START) < 0) return R1_TPL_R1_ZERO;
    const char *jinja = r1_tok_chat_template(tok);
    /* Without a stored template, ChatML is taken to be Qwen's (r1c's behaviour before it
     * read templates); a stored ChatML template that is not Qwen's is plain ChatML. */
    if (!jinja || !strstr(jinja, QW_START) || strstr(jinja, "You are Qwen")) return R1_TPL_QWEN25;
    if (default_system) *default_system = chatml_default_system(jinja);
    return R1_TPL_CHATML;
}

int r1_role_parse(const char *name) {
    for (int i = 0; name && i < 3; i++)
        if (!strcmp(name, role_names[i])) return i;
    return -1;
}

/* The text being rendered and its assistant spans; becomes the R1Chat on success. */
typedef struct {
    char *p;
    size_t len, cap;
    R1Span *spans;
    int n_spans, spans_cap;
} Out;

static void put_n(Out *o, const char *s, size_t n) {
    if (o->len + n + 1 > o->cap) {
        while (o->len + n + 1 > o->cap) o->cap = o->cap ? 2 * o->cap : 256;
        o->p = r1_xrealloc(o->p, o->cap);
    }
    memcpy(o->p + o->len, s, n);
    o->len += n;
    o->p[o->len] = '\0'; /* always a valid C string, even when nothing was written */
}

static void put(Out *o, const char *s) {
    if (s) put_n(o, s, strlen(s));
}

/* Writes one assistant reply and its end-of-turn token (either may be empty) and
 * records them as a span: that is exactly what SFT trains the model to produce. */
static void put_reply(Out *o, const char *content, size_t n, const char *end) {
    size_t start = o->len;
    put_n(o, content, n);
    put(o, end);
    if (o->n_spans == o->spans_cap) {
        o->spans_cap = o->spans_cap ? 2 * o->spans_cap : 8;
        o->spans = r1_xrealloc(o->spans, (size_t)o->spans_cap * sizeof *o->spans);
    }
    o->spans[o->n_spans++] = (R1Span){start, o->len};
}

/* The text after the last "</think>" of s, or s itself when it has none: what the
 * official R1 template keeps of earlier replies (their reasoning is dropped). */
static const char *after_think(const char *s) {
    const char *tag = "</think>", *hit;
    while ((hit = strstr(s, tag))) s = hit + strlen(tag);
    return s;
}

static int last_assistant(const R1Message *msgs, int n) {
    for (int i = n - 1; i >= 0; i--)
        if (msgs[i].role == R1_ROLE_ASSISTANT) return i;
    return -1;
}

/* DeepSeek-R1's tokenizer_config.json template: system prompts (wherever they
 * appear) are hoisted to the front, right after BOS. */
static void render_deepseek(Out *o, const R1Message *msgs, int n, int gen) {
    put(o, DS_BOS);
    int first_sys = 1;
    for (int i = 0; i < n; i++) {
        if (msgs[i].role != R1_ROLE_SYSTEM) continue;
        if (!first_sys) put(o, "\n\n");
        put(o, msgs[i].content);
        first_sys = 0;
    }
    int last = last_assistant(msgs, n);
    for (int i = 0; i < n; i++) {
        const char *c = msgs[i].content;
        if (msgs[i].role == R1_ROLE_USER) {
            put(o, DS_USER);
            put(o, c);
        } else if (msgs[i].role == R1_ROLE_ASSISTANT) {
            if (i != last) c = after_think(c);
            put(o, DS_ASSISTANT);
            put_reply(o, c, strlen(c), DS_EOS);
        }
    }
    if (gen) put(o, DS_GEN);
}

/* ChatML as Qwen2.5-Instruct's template (without tools) and SmolLM2's write it: the
 * first message's system block, or the template's default one when the first message
 * is not a system message. The "\n" after "<|im_end|>" is left out of the span: the
 * model stops at "<|im_end|>" and never generates it. */
static void render_chatml(Out *o, const R1Message *msgs, int n, int gen, const char *sys) {
    int i = 0;
    if (msgs[0].role == R1_ROLE_SYSTEM) sys = msgs[i++].content;
    if (sys) {
        put(o, QW_START "system\n");
        put(o, sys);
        put(o, QW_END "\n");
    }
    for (; i < n; i++) {
        put(o, QW_START);
        put(o, role_names[msgs[i].role]);
        put(o, "\n");
        if (msgs[i].role == R1_ROLE_ASSISTANT)
            put_reply(o, msgs[i].content, strlen(msgs[i].content), QW_END);
        else {
            put(o, msgs[i].content);
            put(o, QW_END);
        }
        put(o, "\n");
    }
    if (gen) put(o, QW_START "assistant\n");
}

/* The R1-Zero template: one question, optionally one answer. It already ends in
 * "Assistant:", which is its generation prompt, so add_generation_prompt adds nothing. */
static int render_r1_zero(Out *o, const R1Message *msgs, int n, const char *bos, const char *eos,
                          R1Err *err) {
    for (int i = 0; i < n; i++) {
        R1Role want = i == 0 ? R1_ROLE_USER : R1_ROLE_ASSISTANT;
        if (msgs[i].role == R1_ROLE_SYSTEM)
            return r1_seterr(err,
                             "message %d: the r1-zero template has its own fixed instruction "
                             "and takes no system message",
                             i);
        if (i > 1 || msgs[i].role != want)
            return r1_seterr(err,
                             "message %d: the r1-zero template takes exactly one user message, "
                             "optionally followed by one assistant message",
                             i);
    }
    put(o, bos);
    put(o, ZERO_HEAD);
    put(o, msgs[0].content);
    put(o, ZERO_TAIL);
    if (n == 2) {
        put(o, " ");
        put_reply(o, msgs[1].content, strlen(msgs[1].content), eos);
    }
    return 0;
}

static int check_messages(const R1Message *msgs, int n, R1Err *err) {
    if (!msgs || n <= 0) return r1_seterr(err, "chat: no messages");
    for (int i = 0; i < n; i++) {
        if ((unsigned)msgs[i].role > R1_ROLE_ASSISTANT)
            return r1_seterr(err, "message %d: unknown role %d", i, (int)msgs[i].role);
        if (!msgs[i].content) return r1_seterr(err, "message %d: content is NULL", i);
    }
    return 0;
}

int r1_chat_render(R1Template tpl, const R1Message *msgs, int n, int add_generation_prompt,
                   const char *bos, const char *eos, R1Chat *out, R1Err *err) {
    return r1_chat_render_sys(tpl, NULL, msgs, n, add_generation_prompt, bos, eos, out, err);
}

int r1_chat_render_sys(R1Template tpl, const char *default_system, const R1Message *msgs, int n,
                       int add_generation_prompt, const char *bos, const char *eos, R1Chat *out,
                       R1Err *err) {
    memset(out, 0, sizeof *out);
    if (check_messages(msgs, n, err)) return -1;
    Out o = {0};
    put_n(&o, "", 0); /* allocate, so text is never NULL */
    int rc = 0;
    switch (tpl) {
    case R1_TPL_DEEPSEEK_R1:
        render_deepseek(&o, msgs, n, add_generation_prompt);
        break;
    case R1_TPL_QWEN25:
        render_chatml(&o, msgs, n, add_generation_prompt, QW_SYSTEM);
        break;
    case R1_TPL_CHATML:
        render_chatml(&o, msgs, n, add_generation_prompt, default_system);
        break;
    case R1_TPL_R1_ZERO:
        rc = render_r1_zero(&o, msgs, n, bos, eos, err);
        break;
    default:
        rc = r1_seterr(err, "chat: unknown template %d", (int)tpl);
    }
    if (rc) {
        free(o.p);
        free(o.spans);
        return -1;
    }
    *out = (R1Chat){o.p, o.len, o.spans, o.n_spans};
    return 0;
}

void r1_chat_free(R1Chat *c) {
    if (!c) return;
    free(c->text);
    free(c->assistant);
    memset(c, 0, sizeof *c);
}

/* The mask covers all of ids (entries already there before the call get 0), so
 * mask[i] always belongs to ids->ids[i]. A token is masked when any of its bytes,
 * [its offset, the next token's offset), lies in a span: byte-level BPE glues the
 * space after "Assistant:" to the reply's first word, and the model must still
 * learn to write that token. Spans and offsets both increase: one pass. */
int r1_chat_encode(R1Tokenizer *tok, const R1Chat *c, R1Ids *ids, unsigned char **mask,
                   R1Err *err) {
    *mask = NULL;
    int first = ids->n;
    if (r1_tok_encode(tok, c->text, c->len, ids, err)) return -1;
    unsigned char *m = r1_xcalloc((size_t)ids->n + 1, 1);
    int s = 0;
    for (int i = first; i < ids->n; i++) {
        size_t off = (size_t)ids->offsets[i];
        size_t end = i + 1 < ids->n ? (size_t)ids->offsets[i + 1] : c->len;
        while (s < c->n_assistant && c->assistant[s].end <= off) s++;
        m[i] = s < c->n_assistant && c->assistant[s].start < (end > off ? end : off + 1);
    }
    *mask = m;
    return 0;
}
