/* test_chat.c - the chat templates, their assistant spans and the SFT loss mask.
 *
 * Every expected text is written out literally here (from the official templates
 * and the R1 paper), not built with the code under test. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat.h"

#define BOS  "<｜begin▁of▁sentence｜>"
#define EOS  "<｜end▁of▁sentence｜>"
#define USR  "<｜User｜>"
#define ASST "<｜Assistant｜>"

#define SYS(s)                                                                                     \
    { R1_ROLE_SYSTEM, s }
#define USER(s)                                                                                    \
    { R1_ROLE_USER, s }
#define AI(s)                                                                                      \
    { R1_ROLE_ASSISTANT, s }
#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* Renders and checks the whole text and each span's text. */
static void expect_render(R1Template tpl, const R1Message *m, int n, int gen, const char *bos,
                          const char *eos, const char *text, const char *const *spans,
                          int n_spans) {
    R1Chat c;
    R1Err err = {{0}};
    int rc = r1_chat_render(tpl, m, n, gen, bos, eos, &c, &err);
    if (rc) fprintf(stderr, "render: %s\n", err.msg);
    assert_int_equal(rc, 0);
    assert_string_equal(c.text, text);
    assert_int_equal(c.len, strlen(text));
    assert_int_equal(c.n_assistant, n_spans);
    for (int k = 0; k < n_spans; k++) {
        assert_true(c.assistant[k].start <= c.assistant[k].end);
        assert_true(c.assistant[k].end <= c.len);
        if (k) assert_true(c.assistant[k - 1].end <= c.assistant[k].start);
        size_t len = c.assistant[k].end - c.assistant[k].start;
        assert_int_equal(len, strlen(spans[k]));
        assert_memory_equal(c.text + c.assistant[k].start, spans[k], len);
    }
    r1_chat_free(&c);
}

/* Rendering must fail with a message containing `needle`, leaving out empty. */
static void expect_error(R1Template tpl, const R1Message *m, int n, const char *needle) {
    R1Chat c;
    R1Err err = {{0}};
    assert_int_equal(r1_chat_render(tpl, m, n, 0, "<s>", "</s>", &c, &err), -1);
    if (!strstr(err.msg, needle)) fail_msg("error \"%s\" lacks \"%s\"", err.msg, needle);
    assert_null(c.text);
    assert_int_equal(c.n_assistant, 0);
    r1_chat_free(&c);
}

static void test_names(void **state) {
    (void)state;
    assert_int_equal(r1_template_parse("deepseek-r1"), R1_TPL_DEEPSEEK_R1);
    assert_int_equal(r1_template_parse("qwen2.5"), R1_TPL_QWEN25);
    assert_int_equal(r1_template_parse("r1-zero"), R1_TPL_R1_ZERO);
    assert_int_equal(r1_template_parse("chatml"), R1_TPL_CHATML);
    assert_int_equal(r1_template_parse("ChatML"), -1);
    assert_int_equal(r1_template_parse(""), -1);
    assert_int_equal(r1_template_parse(NULL), -1);
    assert_string_equal(r1_template_name(R1_TPL_DEEPSEEK_R1), "deepseek-r1");
    assert_string_equal(r1_template_name(R1_TPL_QWEN25), "qwen2.5");
    assert_string_equal(r1_template_name(R1_TPL_R1_ZERO), "r1-zero");
    assert_int_equal(r1_role_parse("system"), R1_ROLE_SYSTEM);
    assert_int_equal(r1_role_parse("user"), R1_ROLE_USER);
    assert_int_equal(r1_role_parse("assistant"), R1_ROLE_ASSISTANT);
    assert_int_equal(r1_role_parse("tool"), -1);
    assert_int_equal(r1_role_parse("User"), -1);
}

static void test_deepseek_single_turn(void **state) {
    (void)state;
    R1Message m[] = {USER("1+1?"), AI("<think>\nadd\n</think>\n\n2")};
    const char *spans[] = {"<think>\nadd\n</think>\n\n2" EOS};
    expect_render(R1_TPL_DEEPSEEK_R1, m, N(m), 0, NULL, NULL,
                  BOS USR "1+1?" ASST "<think>\nadd\n</think>\n\n2" EOS, spans, 1);
}

/* System prompts are hoisted and joined; only earlier replies lose their reasoning
 * (up to the LAST "</think>"); a reply without "</think>" is kept whole. */
static void test_deepseek_multi_turn(void **state) {
    (void)state;
    R1Message m[] = {SYS("You are terse."),
                     USER("Hi"),
                     AI("<think>a</think>x</think>Hello"),
                     SYS("Answer in English."),
                     USER("Again"),
                     AI("Plain"),
                     USER("Bye"),
                     AI("<think>b</think>Goodbye")};
    const char *spans[] = {"Hello" EOS, "Plain" EOS, "<think>b</think>Goodbye" EOS};
    expect_render(R1_TPL_DEEPSEEK_R1, m, N(m), 0, "ignored", "ignored",
                  BOS "You are terse.\n\nAnswer in English." USR "Hi" ASST "Hello" EOS USR
                      "Again" ASST "Plain" EOS USR "Bye" ASST "<think>b</think>Goodbye" EOS,
                  spans, 3);
}

static void test_deepseek_generation_prompt(void **state) {
    (void)state;
    R1Message m1[] = {USER("Hi")};
    expect_render(R1_TPL_DEEPSEEK_R1, m1, 1, 1, NULL, NULL, BOS USR "Hi" ASST "<think>\n", NULL, 0);
    /* The last assistant message in the history is the last one: kept whole. */
    R1Message m2[] = {USER("Q1"), AI("<think>r1</think>A1"), USER("Q2")};
    const char *spans[] = {"<think>r1</think>A1" EOS};
    expect_render(R1_TPL_DEEPSEEK_R1, m2, N(m2), 1, NULL, NULL,
                  BOS USR "Q1" ASST "<think>r1</think>A1" EOS USR "Q2" ASST "<think>\n", spans, 1);
    /* A lone system message. */
    R1Message m3[] = {SYS("S")};
    expect_render(R1_TPL_DEEPSEEK_R1, m3, 1, 0, NULL, NULL, BOS "S", NULL, 0);
}

static void test_qwen_single_turn(void **state) {
    (void)state;
    R1Message m[] = {USER("Hello"), AI("Hi there!")};
    const char *spans[] = {"Hi there!<|im_end|>"};
    expect_render(R1_TPL_QWEN25, m, N(m), 0, NULL, NULL,
                  "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful "
                  "assistant.<|im_end|>\n"
                  "<|im_start|>user\nHello<|im_end|>\n"
                  "<|im_start|>assistant\nHi there!<|im_end|>\n",
                  spans, 1);
}

/* A first system message replaces the default; a later one is an ordinary turn;
 * "</think>" is not touched by this template. */
static void test_qwen_multi_turn(void **state) {
    (void)state;
    R1Message m[] = {SYS("Be brief."),  USER("A?"), AI("<think>x</think>a"),
                     SYS("Now shout."), USER("B?"), AI("B!")};
    const char *spans[] = {"<think>x</think>a<|im_end|>", "B!<|im_end|>"};
    expect_render(R1_TPL_QWEN25, m, N(m), 0, NULL, NULL,
                  "<|im_start|>system\nBe brief.<|im_end|>\n"
                  "<|im_start|>user\nA?<|im_end|>\n"
                  "<|im_start|>assistant\n<think>x</think>a<|im_end|>\n"
                  "<|im_start|>system\nNow shout.<|im_end|>\n"
                  "<|im_start|>user\nB?<|im_end|>\n"
                  "<|im_start|>assistant\nB!<|im_end|>\n",
                  spans, 2);
}

static void test_qwen_generation_prompt(void **state) {
    (void)state;
    R1Message m[] = {SYS("S"), USER("U")};
    expect_render(R1_TPL_QWEN25, m, N(m), 1, NULL, NULL,
                  "<|im_start|>system\nS<|im_end|>\n"
                  "<|im_start|>user\nU<|im_end|>\n"
                  "<|im_start|>assistant\n",
                  NULL, 0);
}

#define ZERO_PREFIX                                                                                \
    "A conversation between User and Assistant. The user asks a question, and the Assistant "      \
    "solves it. The assistant first thinks about the reasoning process in the mind and then "      \
    "provides the user with the answer. The reasoning process and answer are enclosed within "     \
    "<think> </think> and <answer> </answer> tags, respectively, i.e., <think> reasoning "         \
    "process here </think> <answer> answer here </answer>. User: "

static void test_r1_zero(void **state) {
    (void)state;
    R1Message q[] = {USER("What is 2+3")};
    R1Message qa[] = {USER("What is 2+3"), AI("<think> 2+3=5 </think> <answer> 5 </answer>")};
    /* The prompt alone: the generation prompt is "Assistant:" itself. */
    for (int gen = 0; gen < 2; gen++) {
        expect_render(R1_TPL_R1_ZERO, q, 1, gen, NULL, NULL,
                      ZERO_PREFIX "What is 2+3. Assistant:", NULL, 0);
        expect_render(R1_TPL_R1_ZERO, q, 1, gen, "<s>", "</s>",
                      "<s>" ZERO_PREFIX "What is 2+3. Assistant:", NULL, 0);
    }
    const char *with_eos[] = {"<think> 2+3=5 </think> <answer> 5 </answer></s>"};
    expect_render(R1_TPL_R1_ZERO, qa, 2, 0, "<s>", "</s>",
                  "<s>" ZERO_PREFIX
                  "What is 2+3. Assistant: <think> 2+3=5 </think> <answer> 5 </answer></s>",
                  with_eos, 1);
    const char *no_eos[] = {"<think> 2+3=5 </think> <answer> 5 </answer>"};
    expect_render(R1_TPL_R1_ZERO, qa, 2, 0, NULL, NULL,
                  ZERO_PREFIX "What is 2+3. Assistant: <think> 2+3=5 </think> <answer> 5 </answer>",
                  no_eos, 1);
    /* Any tokenizer's special text works, e.g. DeepSeek's. */
    expect_render(R1_TPL_R1_ZERO, qa, 2, 0, BOS, EOS,
                  BOS ZERO_PREFIX
                  "What is 2+3. Assistant: <think> 2+3=5 </think> <answer> 5 </answer>" EOS,
                  (const char *[]){"<think> 2+3=5 </think> <answer> 5 </answer>" EOS}, 1);
}

static void test_errors(void **state) {
    (void)state;
    R1Message null_content[] = {USER("Hi"), AI(NULL)};
    for (int t = 0; t < 3; t++) expect_error((R1Template)t, null_content, 2, "message 1");
    expect_error(R1_TPL_QWEN25, null_content, 2, "NULL");
    expect_error(R1_TPL_DEEPSEEK_R1, null_content, 0, "no messages");
    expect_error(R1_TPL_DEEPSEEK_R1, NULL, 1, "no messages");
    R1Message bad_role[] = {USER("Hi"), {(R1Role)7, "x"}};
    expect_error(R1_TPL_QWEN25, bad_role, 2, "message 1");
    expect_error((R1Template)9, null_content, 1, "template");

    R1Message two_users[] = {USER("a"), USER("b")};
    expect_error(R1_TPL_R1_ZERO, two_users, 2, "message 1");
    R1Message second_turn[] = {USER("a"), AI("b"), USER("c")};
    expect_error(R1_TPL_R1_ZERO, second_turn, 3, "message 2");
    R1Message two_replies[] = {USER("a"), AI("b"), AI("c")};
    expect_error(R1_TPL_R1_ZERO, two_replies, 3, "message 2");
    R1Message reply_first[] = {AI("b")};
    expect_error(R1_TPL_R1_ZERO, reply_first, 1, "message 0");
    R1Message with_system[] = {SYS("s"), USER("a")};
    expect_error(R1_TPL_R1_ZERO, with_system, 2, "message 0");
    expect_error(R1_TPL_R1_ZERO, with_system, 2, "instruction");
    R1Message late_system[] = {USER("a"), SYS("s")};
    expect_error(R1_TPL_R1_ZERO, late_system, 2, "message 1");
}

/* ---- the loss mask, with the real tokenizers ---- */

static char tmpdir[256];
static R1Tokenizer *tok_ds, *tok_qwen;

static R1Tokenizer *load_fixture(const char *name) {
    const char *root = getenv("R1_ROOT");
    char dir[512], cmd[2048];
    snprintf(dir, sizeof dir, "%s/%s", tmpdir, name);
    snprintf(cmd, sizeof cmd, "'%s/tests/fixture-tokenizer.sh' %s '%s'", root ? root : ".", name,
             dir);
    if (system(cmd) != 0) return NULL;
    R1Err err = {{0}};
    R1Tokenizer *t = r1_tok_load(dir, &err);
    if (!t) fprintf(stderr, "r1_tok_load %s: %s\n", dir, err.msg);
    return t;
}

static int setup_tokenizers(void **state) {
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/r1c-test-chat-XXXXXX");
    if (!mkdtemp(tmpdir)) return -1;
    tok_ds = load_fixture("deepseek-v3");
    tok_qwen = load_fixture("qwen");
    return tok_ds && tok_qwen ? 0 : -1;
}

static int teardown_tokenizers(void **state) {
    (void)state;
    if (tok_ds) r1_tok_free(tok_ds);
    if (tok_qwen) r1_tok_free(tok_qwen);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static char *decode(R1Tokenizer *t, const int *ids, int n) {
    R1Err err = {{0}};
    size_t len;
    char *s = r1_tok_decode(t, ids, n, 0, &len, &err);
    if (!s) fail_msg("decode: %s", err.msg);
    assert_int_equal(len, strlen(s));
    return s;
}

/* Encodes the chat and checks the masked tokens decode to `masked`, the others to
 * `unmasked`, and that the masked tokens form exactly `runs` contiguous runs. */
static void expect_mask(R1Tokenizer *t, R1Template tpl, const R1Message *m, int n,
                        const char *masked, const char *unmasked, int runs) {
    R1Chat c;
    R1Err err = {{0}};
    assert_int_equal(r1_chat_render(tpl, m, n, 0, NULL, NULL, &c, &err), 0);
    R1Ids ids = {0};
    r1_ids_push(&ids, 42, 0); /* a token already there keeps mask 0 */
    unsigned char *mask;
    if (r1_chat_encode(t, &c, &ids, &mask, &err)) fail_msg("encode: %s", err.msg);
    assert_true(ids.n > 1);
    assert_int_equal(mask[0], 0);
    int *in = malloc(sizeof(int) * (size_t)ids.n), *out = malloc(sizeof(int) * (size_t)ids.n);
    int n_in = 0, n_out = 0, n_runs = 0;
    for (int i = 1; i < ids.n; i++) {
        assert_true(mask[i] == 0 || mask[i] == 1);
        if (mask[i])
            in[n_in++] = ids.ids[i];
        else
            out[n_out++] = ids.ids[i];
        n_runs += mask[i] && !mask[i - 1];
    }
    char *all = decode(t, ids.ids + 1, ids.n - 1), *got_in = decode(t, in, n_in),
         *got_out = decode(t, out, n_out);
    assert_string_equal(all, c.text);
    assert_string_equal(got_in, masked);
    assert_string_equal(got_out, unmasked);
    assert_int_equal(n_runs, runs);
    free(all), free(got_in), free(got_out), free(in), free(out), free(mask);
    r1_ids_free(&ids);
    r1_chat_free(&c);
}

static void test_template_for(void **state) {
    (void)state;
    assert_int_equal(r1_template_for(tok_ds), R1_TPL_DEEPSEEK_R1);
    /* The fixture's stored template is Qwen3's: ChatML with no default system block. */
    assert_int_equal(r1_template_for(tok_qwen), R1_TPL_CHATML);
}

/* A ChatML tokenizer whose tokenizer_config.json carries `jinja` (JSON-escaped) as its
 * chat_template: the Qwen fixture's tokenizer.json with another config beside it. */
static R1Tokenizer *with_template(const char *name, const char *jinja_json) {
    char dir[512], path[600], cmd[1400];
    snprintf(dir, sizeof dir, "%s/%s", tmpdir, name);
    snprintf(cmd, sizeof cmd, "mkdir -p '%s' && ln -sf '%s/qwen/tokenizer.json' '%s/'", dir, tmpdir,
             dir);
    assert_int_equal(system(cmd), 0);
    snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "{\"eos_token\": \"<|im_end|>\", \"chat_template\": %s}\n", jinja_json);
    fclose(f);
    R1Err err = {{0}};
    R1Tokenizer *t = r1_tok_load(dir, &err);
    if (!t) fail_msg("%s: %s", dir, err.msg);
    return t;
}

/* SmolLM2-Instruct's template, verbatim as its tokenizer_config.json holds it. */
#define SMOL_JINJA                                                                                 \
    "\"{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ "    \
    "'<|im_start|>system\\nYou are a helpful AI assistant named SmolLM, trained by Hugging "       \
    "Face<|im_end|>\\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\\n' + "                \
    "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ "     \
    "'<|im_start|>assistant\\n' }}{% endif %}\""
/* The start of Qwen2.5-Instruct's template (without tools), enough to recognise it. */
#define QWEN25_JINJA                                                                               \
    "\"{%- if messages[0]['role'] == 'system' %}{{- '<|im_start|>system\\n' + "                    \
    "messages[0]['content'] + '<|im_end|>\\n' }}{%- else %}{{- '<|im_start|>system\\nYou are "     \
    "Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}{%- endif %}\""
/* A fine-tune's Qwen-style template with its own default, after the tools branch. */
#define TOOLS_FIRST_JINJA                                                                          \
    "\"{%- if tools %}{{- '<|im_start|>system\\n' }}{{- messages[0].content }}{%- else %}{{- "     \
    "'<|im_start|>system\\nYou are a fine-tuned helper.<|im_end|>\\n' }}{%- endif %}\""
/* A ChatML template that writes no system block of its own. */
#define PLAIN_CHATML_JINJA                                                                         \
    "\"{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + "                 \
    "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}\""

static void test_template_detect(void **state) {
    (void)state;
    char *sys = (char *)1;
    assert_int_equal(r1_template_detect(tok_qwen, &sys), R1_TPL_CHATML);
    assert_null(sys);
    R1Tokenizer *q25 = with_template("qwen25", QWEN25_JINJA);
    assert_int_equal(r1_template_detect(q25, &sys), R1_TPL_QWEN25);
    assert_null(sys);
    r1_tok_free(q25);
    R1Tokenizer *smol = with_template("smol", SMOL_JINJA);
    assert_int_equal(r1_template_detect(smol, &sys), R1_TPL_CHATML);
    assert_string_equal(sys,
                        "You are a helpful AI assistant named SmolLM, trained by Hugging Face");
    R1Message m[] = {USER("Hi?")};
    R1Chat c;
    R1Err err = {{0}};
    assert_int_equal(r1_chat_render_sys(R1_TPL_CHATML, sys, m, 1, 1, NULL, NULL, &c, &err), 0);
    assert_string_equal(c.text, "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, "
                                "trained by Hugging Face<|im_end|>\n<|im_start|>user\nHi?<|im_end|>"
                                "\n<|im_start|>assistant\n");
    r1_chat_free(&c);
    R1Message ms[] = {SYS("Be brief."), USER("Hi?"), AI("Hello.")};
    assert_int_equal(r1_chat_render_sys(R1_TPL_CHATML, sys, ms, 3, 0, NULL, NULL, &c, &err), 0);
    assert_string_equal(c.text, "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi?"
                                "<|im_end|>\n<|im_start|>assistant\nHello.<|im_end|>\n");
    assert_int_equal(c.n_assistant, 1);
    r1_chat_free(&c);
    free(sys);
    r1_tok_free(smol);
    /* A system head with an expression first (Qwen's tools branch), the literal default
     * later: the default is found; one with an escape inside is not taken as literal. */
    R1Tokenizer *tools = with_template("tools", TOOLS_FIRST_JINJA);
    assert_int_equal(r1_template_detect(tools, &sys), R1_TPL_CHATML);
    assert_string_equal(sys, "You are a fine-tuned helper.");
    free(sys);
    r1_tok_free(tools);
    R1Tokenizer *plain = with_template("plain", PLAIN_CHATML_JINJA);
    assert_int_equal(r1_template_detect(plain, &sys), R1_TPL_CHATML);
    assert_null(sys);
    assert_int_equal(r1_chat_render_sys(R1_TPL_CHATML, sys, m, 1, 1, NULL, NULL, &c, &err), 0);
    assert_string_equal(c.text, "<|im_start|>user\nHi?<|im_end|>\n<|im_start|>assistant\n");
    r1_chat_free(&c);
    r1_tok_free(plain);
}

static void test_mask_deepseek(void **state) {
    (void)state;
    R1Message m[] = {SYS("You are terse."), USER("What is 2+2?"),
                     AI("<think>\nearlier reasoning\n</think>\n\nIt is 4."), USER("Thanks!"),
                     AI("<think>\nPolite reply.\n</think>\n\nYou're welcome.")};
    expect_mask(tok_ds, R1_TPL_DEEPSEEK_R1, m, N(m),
                "\n\nIt is 4." EOS "<think>\nPolite reply.\n</think>\n\nYou're welcome." EOS,
                BOS "You are terse." USR "What is 2+2?" ASST USR "Thanks!" ASST, 2);
}

static void test_mask_qwen(void **state) {
    (void)state;
    R1Message m[] = {USER("What is 2+2?"), AI("<think>\n2+2=4\n</think>\n\nThe answer is 4."),
                     USER("Thanks!"), AI("You're welcome.")};
    expect_mask(tok_qwen, R1_TPL_QWEN25, m, N(m),
                "<think>\n2+2=4\n</think>\n\nThe answer is 4.<|im_end|>You're welcome.<|im_end|>",
                "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful "
                "assistant.<|im_end|>\n"
                "<|im_start|>user\nWhat is 2+2?<|im_end|>\n"
                "<|im_start|>assistant\n"
                "\n<|im_start|>user\nThanks!<|im_end|>\n"
                "<|im_start|>assistant\n"
                "\n",
                2);
}

int main(void) {
    const struct CMUnitTest text[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_deepseek_single_turn),
        cmocka_unit_test(test_deepseek_multi_turn),
        cmocka_unit_test(test_deepseek_generation_prompt),
        cmocka_unit_test(test_qwen_single_turn),
        cmocka_unit_test(test_qwen_multi_turn),
        cmocka_unit_test(test_qwen_generation_prompt),
        cmocka_unit_test(test_r1_zero),
        cmocka_unit_test(test_errors),
    };
    const struct CMUnitTest tokenized[] = {
        cmocka_unit_test(test_template_for),
        cmocka_unit_test(test_template_detect),
        cmocka_unit_test(test_mask_deepseek),
        cmocka_unit_test(test_mask_qwen),
    };
    int failed = cmocka_run_group_tests_name("chat templates", text, NULL, NULL);
    failed += cmocka_run_group_tests_name("chat loss mask", tokenized, setup_tokenizers,
                                          teardown_tokenizers);
    return failed ? 1 : 0;
}
