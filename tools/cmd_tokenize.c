/* cmd_tokenize.c - `r1-model tokenize`: text to ids, ids to text, chats to ids.
 *
 *   r1-model tokenize --tokenizer DIR                  JSON string lines -> id lines
 *   r1-model tokenize --tokenizer DIR --decode [--skip-special]
 *                                                      id lines -> JSON string lines
 *   r1-model tokenize --tokenizer DIR --messages [--template NAME] [--generation-prompt]
 *                                                      JSON message arrays -> JSON objects
 * Ids are those of Hugging Face's encode(text, add_special_tokens=False): nothing
 * is added, but special tokens written in the text are recognised. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "cmds.h"
#include "jsonstr.h"
#include "tokenizer.h"

static const char *usage =
    "usage: r1-model tokenize --tokenizer DIR [--decode [--skip-special]]\n"
    "       r1-model tokenize --tokenizer DIR --messages [--template NAME] [--generation-prompt]\n"
    "Reads stdin line by line:\n"
    "  default      each line a JSON string; prints its ids, space-separated\n"
    "  --decode     each line space-separated ids; prints the text as a JSON string\n"
    "  --messages   each line a JSON array of {\"role\", \"content\"}; renders it with the chat\n"
    "               template (deepseek-r1, qwen2.5, chatml, r1-zero; default: the model's own) "
    "and\n"
    "               prints {\"text\", \"ids\", \"assistant_mask\"}\n";

typedef struct {
    const char *dir, *template_name;
    int decode, skip_special, messages, gen_prompt;
} TokOpts;

static int parse(TokOpts *o, int argc, char **argv) {
    memset(o, 0, sizeof *o);
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        if (!strcmp(f, "--decode"))
            o->decode = 1;
        else if (!strcmp(f, "--skip-special"))
            o->skip_special = 1;
        else if (!strcmp(f, "--messages"))
            o->messages = 1;
        else if (!strcmp(f, "--generation-prompt"))
            o->gen_prompt = 1;
        else if (!strcmp(f, "--help") || !strcmp(f, "-h"))
            return fputs(usage, stdout), 2;
        else if (i + 1 < argc && !strcmp(f, "--tokenizer"))
            o->dir = argv[++i];
        else if (i + 1 < argc && !strcmp(f, "--template"))
            o->template_name = argv[++i];
        else
            return fprintf(stderr, "r1-model tokenize: unknown option %s\n%s", f, usage), 1;
    }
    if (!o->dir) return fprintf(stderr, "r1-model tokenize: needs --tokenizer DIR\n"), 1;
    return 0;
}

static void print_ids(const int *ids, int n) {
    for (int i = 0; i < n; i++) printf(i ? " %d" : "%d", ids[i]);
    putchar('\n');
}

static int encode_line(R1Tokenizer *t, const char *line, size_t n, long lineno) {
    R1Err err;
    size_t len;
    char *text = r1_json_string_parse(line, n, &len, &err);
    R1Ids ids = {0};
    int rc = text ? r1_tok_encode(t, text, len, &ids, &err) : -1;
    if (rc == 0)
        print_ids(ids.ids, ids.n);
    else
        fprintf(stderr, "r1-model tokenize: stdin line %ld: %s\n", lineno, err.msg);
    free(text);
    r1_ids_free(&ids);
    return rc;
}

static int decode_line(R1Tokenizer *t, const char *line, long lineno, int skip_special) {
    R1Ids ids = {0};
    R1Err err;
    const char *p = line;
    for (;;) {
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p) break;
        if (errno || v < 0 || v > 0x7fffffff) break;
        r1_ids_push(&ids, (int)v, 0);
        p = end;
    }
    while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t') p++;
    size_t n = 0, cap = 0, len;
    char *out = NULL, *text = NULL;
    if (*p)
        r1_seterr(&err, "'%.20s' is not a token id", p);
    else
        text = r1_tok_decode(t, ids.ids, ids.n, skip_special, &len, &err);
    if (text) {
        r1_json_string_write(text, len, &out, &n, &cap);
        puts(out);
    } else {
        fprintf(stderr, "r1-model tokenize: stdin line %ld: %s\n", lineno, err.msg);
    }
    free(text);
    free(out);
    r1_ids_free(&ids);
    return text ? 0 : -1;
}

/* [{"role": ..., "content": ...}, ...] -> messages (pointing into the cJSON tree). */
static int parse_messages(const cJSON *arr, R1Message **msgs, int *n, R1Err *err) {
    if (!cJSON_IsArray(arr)) return r1_seterr(err, "expected a JSON array of messages");
    *n = cJSON_GetArraySize(arr);
    *msgs = r1_xcalloc((size_t)*n + 1, sizeof(R1Message));
    for (int i = 0; i < *n; i++) {
        const cJSON *m = cJSON_GetArrayItem(arr, i);
        const cJSON *role = cJSON_GetObjectItem(m, "role"),
                    *content = cJSON_GetObjectItem(m, "content");
        int r = cJSON_IsString(role) ? r1_role_parse(role->valuestring) : -1;
        if (r < 0 || !cJSON_IsString(content))
            return r1_seterr(err,
                             "message %d: needs \"role\" (system, user, assistant) and a "
                             "string \"content\"",
                             i);
        (*msgs)[i] = (R1Message){(R1Role)r, content->valuestring};
    }
    return 0;
}

static void print_chat(const R1Chat *c, const R1Ids *ids, const unsigned char *mask) {
    size_t n = 0, cap = 0;
    char *out = NULL;
    r1_json_string_write(c->text, c->len, &out, &n, &cap);
    printf("{\"text\":%s,\"ids\":[", out);
    for (int i = 0; i < ids->n; i++) printf(i ? ",%d" : "%d", ids->ids[i]);
    printf("],\"assistant_mask\":[");
    for (int i = 0; i < ids->n; i++) printf(i ? ",%d" : "%d", mask[i]);
    printf("]}\n");
    free(out);
}

static int messages_line(R1Tokenizer *t, R1Template tpl, const char *sys, int gen, const char *line,
                         long lineno) {
    R1Err err;
    cJSON *arr = cJSON_Parse(line);
    R1Message *msgs = NULL;
    int n = 0, rc = arr ? parse_messages(arr, &msgs, &n, &err) : r1_seterr(&err, "not valid JSON");
    R1Chat chat = {0};
    R1Ids ids = {0};
    unsigned char *mask = NULL;
    const char *bos = NULL, *eos = NULL;
    size_t len;
    if (r1_tok_bos(t) >= 0) bos = r1_tok_piece(t, r1_tok_bos(t), &len);
    if (r1_tok_eos(t) >= 0) eos = r1_tok_piece(t, r1_tok_eos(t), &len);
    if (rc == 0) rc = r1_chat_render_sys(tpl, sys, msgs, n, gen, bos, eos, &chat, &err);
    if (rc == 0) rc = r1_chat_encode(t, &chat, &ids, &mask, &err);
    if (rc == 0)
        print_chat(&chat, &ids, mask);
    else
        fprintf(stderr, "r1-model tokenize: stdin line %ld: %s\n", lineno, err.msg);
    free(mask);
    r1_ids_free(&ids);
    r1_chat_free(&chat);
    free(msgs);
    cJSON_Delete(arr);
    return rc;
}

int cmd_tokenize(int argc, char **argv) {
    TokOpts o;
    int rc = parse(&o, argc, argv);
    if (rc) return rc == 2 ? 0 : rc;
    R1Err err;
    R1Tokenizer *t = r1_tok_load(o.dir, &err);
    if (!t) return fprintf(stderr, "r1-model tokenize: %s\n", err.msg), 1;
    char *sys = NULL; /* the model's default system message (chatml) */
    R1Template own = r1_template_detect(t, &sys);
    int tpl = o.template_name ? r1_template_parse(o.template_name) : (int)own;
    if (tpl < 0) {
        fprintf(stderr, "r1-model tokenize: unknown template '%s'\n", o.template_name);
        free(sys);
        r1_tok_free(t);
        return 1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    long lineno = 0;
    rc = 0;
    while (rc == 0 && (n = getline(&line, &cap, stdin)) >= 0) {
        lineno++;
        if (n > 0 && line[n - 1] == '\n') line[--n] = 0;
        if (o.messages)
            rc = messages_line(t, (R1Template)tpl, sys, o.gen_prompt, line, lineno);
        else if (o.decode)
            rc = decode_line(t, line, lineno, o.skip_special);
        else
            rc = encode_line(t, line, (size_t)n, lineno);
    }
    free(line);
    free(sys);
    r1_tok_free(t);
    return rc ? 1 : 0;
}
