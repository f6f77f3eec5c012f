/* test_config.c - config.json parsing, validation and the save/load round trip. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

/* Qwen2.5-0.5B's config.json as published. */
static const char *qwen_json = "{\n"
                               "  \"architectures\": [\"Qwen2ForCausalLM\"],\n"
                               "  \"attention_dropout\": 0.0,\n"
                               "  \"bos_token_id\": 151643,\n"
                               "  \"eos_token_id\": 151643,\n"
                               "  \"hidden_act\": \"silu\",\n"
                               "  \"hidden_size\": 896,\n"
                               "  \"initializer_range\": 0.02,\n"
                               "  \"intermediate_size\": 4864,\n"
                               "  \"max_position_embeddings\": 32768,\n"
                               "  \"max_window_layers\": 24,\n"
                               "  \"model_type\": \"qwen2\",\n"
                               "  \"num_attention_heads\": 14,\n"
                               "  \"num_hidden_layers\": 24,\n"
                               "  \"num_key_value_heads\": 2,\n"
                               "  \"rms_norm_eps\": 1e-06,\n"
                               "  \"rope_theta\": 1000000.0,\n"
                               "  \"sliding_window\": 32768,\n"
                               "  \"tie_word_embeddings\": true,\n"
                               "  \"torch_dtype\": \"bfloat16\",\n"
                               "  \"transformers_version\": \"4.40.1\",\n"
                               "  \"use_cache\": true,\n"
                               "  \"use_sliding_window\": false,\n"
                               "  \"vocab_size\": 151936\n"
                               "}\n";

/* Llama-3.1-8B's config.json as published. */
static const char *llama_json = "{\n"
                                "  \"architectures\": [\"LlamaForCausalLM\"],\n"
                                "  \"attention_bias\": false,\n"
                                "  \"attention_dropout\": 0.0,\n"
                                "  \"bos_token_id\": 128000,\n"
                                "  \"eos_token_id\": [128001, 128008, 128009],\n"
                                "  \"hidden_act\": \"silu\",\n"
                                "  \"hidden_size\": 4096,\n"
                                "  \"initializer_range\": 0.02,\n"
                                "  \"intermediate_size\": 14336,\n"
                                "  \"max_position_embeddings\": 131072,\n"
                                "  \"mlp_bias\": false,\n"
                                "  \"model_type\": \"llama\",\n"
                                "  \"num_attention_heads\": 32,\n"
                                "  \"num_hidden_layers\": 32,\n"
                                "  \"num_key_value_heads\": 8,\n"
                                "  \"pretraining_tp\": 1,\n"
                                "  \"rms_norm_eps\": 1e-05,\n"
                                "  \"rope_scaling\": {\n"
                                "    \"factor\": 8.0,\n"
                                "    \"low_freq_factor\": 1.0,\n"
                                "    \"high_freq_factor\": 4.0,\n"
                                "    \"original_max_position_embeddings\": 8192,\n"
                                "    \"rope_type\": \"llama3\"\n"
                                "  },\n"
                                "  \"rope_theta\": 500000.0,\n"
                                "  \"tie_word_embeddings\": false,\n"
                                "  \"torch_dtype\": \"bfloat16\",\n"
                                "  \"transformers_version\": \"4.43.0.dev0\",\n"
                                "  \"use_cache\": true,\n"
                                "  \"vocab_size\": 128256\n"
                                "}\n";

/* base with `key` set to `val` (NULL deletes it); returns a string to free. */
static char *with_field(const char *base, const char *key, cJSON *val) {
    cJSON *root = cJSON_Parse(base);
    assert_non_null(root);
    cJSON_DeleteItemFromObjectCaseSensitive(root, key);
    if (val) cJSON_AddItemToObject(root, key, val);
    char *s = cJSON_Print(root);
    cJSON_Delete(root);
    return s;
}

/* Parses base with one field changed, expects failure, and checks the error
 * names the source and every string in `want` (NULL-terminated). */
static void expect_error(const char *base, const char *key, cJSON *val, const char *want1,
                         const char *want2) {
    char *json = with_field(base, key, val);
    R1Config c;
    R1Err err = {{0}};
    int rc = r1_config_parse(&c, json, "some/dir/config.json", &err);
    if (rc != -1 || !strstr(err.msg, "some/dir/config.json") || !strstr(err.msg, want1) ||
        (want2 && !strstr(err.msg, want2)))
        fail_msg("field %s: rc %d, message \"%s\"", key, rc, err.msg);
    cJSON_free(json);
}

static void test_qwen2_parses(void **state) {
    (void)state;
    R1Config c;
    R1Err err = {{0}};
    assert_int_equal(r1_config_parse(&c, qwen_json, "qwen/config.json", &err), 0);
    assert_int_equal(c.arch, R1_ARCH_QWEN2);
    assert_int_equal(c.hidden, 896);
    assert_int_equal(c.n_layers, 24);
    assert_int_equal(c.n_heads, 14);
    assert_int_equal(c.n_kv_heads, 2);
    assert_int_equal(c.head_dim, 64);
    assert_int_equal(c.intermediate, 4864);
    assert_int_equal(c.vocab, 151936);
    assert_int_equal(c.max_pos, 32768);
    assert_true(c.rms_eps == 1e-6f);
    assert_true(c.rope_theta == 1000000.0f);
    assert_true(c.init_range == 0.02f);
    assert_int_equal(c.tie_embeddings, 1);
    assert_int_equal(c.qkv_bias, 1);
    assert_int_equal(c.rope_type, R1_ROPE_DEFAULT);
    assert_int_equal(c.bos_id, 151643);
    assert_int_equal(c.n_eos, 1);
    assert_int_equal(c.eos_ids[0], 151643);
    assert_string_equal(c.dtype, "bfloat16");
    assert_string_equal(r1_arch_name(c.arch), "qwen2");
}

static void test_llama31_parses(void **state) {
    (void)state;
    R1Config c;
    R1Err err = {{0}};
    assert_int_equal(r1_config_parse(&c, llama_json, "llama/config.json", &err), 0);
    assert_int_equal(c.arch, R1_ARCH_LLAMA);
    assert_int_equal(c.hidden, 4096);
    assert_int_equal(c.n_kv_heads, 8);
    assert_int_equal(c.head_dim, 128);
    assert_int_equal(c.qkv_bias, 0);
    assert_int_equal(c.tie_embeddings, 0);
    assert_true(c.rms_eps == 1e-5f);
    assert_true(c.rope_theta == 500000.0f);
    assert_int_equal(c.rope_type, R1_ROPE_LLAMA3);
    assert_true(c.rope_factor == 8.0f);
    assert_true(c.rope_low_freq_factor == 1.0f);
    assert_true(c.rope_high_freq_factor == 4.0f);
    assert_int_equal(c.rope_original_max_pos, 8192);
    assert_int_equal(c.bos_id, 128000);
    assert_int_equal(c.n_eos, 3);
    assert_int_equal(c.eos_ids[0], 128001);
    assert_int_equal(c.eos_ids[1], 128008);
    assert_int_equal(c.eos_ids[2], 128009);
    assert_string_equal(r1_arch_name(c.arch), "llama");
}

static void test_defaults(void **state) {
    (void)state;
    /* without num_key_value_heads, rope_theta, initializer_range, tie, bos, eos, dtype */
    const char *json = "{\"model_type\": \"llama\", \"hidden_size\": 64, \"num_hidden_layers\": 2,"
                       " \"num_attention_heads\": 4, \"intermediate_size\": 128,"
                       " \"vocab_size\": 100, \"max_position_embeddings\": 256,"
                       " \"rms_norm_eps\": 1e-5, \"head_dim\": null, \"rope_scaling\": null,"
                       " \"bos_token_id\": null}";
    R1Config c;
    R1Err err = {{0}};
    assert_int_equal(r1_config_parse(&c, json, "x", &err), 0);
    assert_int_equal(c.n_kv_heads, 4);
    assert_int_equal(c.head_dim, 16);
    assert_true(c.rope_theta == 10000.0f);
    assert_true(c.init_range == 0.02f);
    assert_int_equal(c.tie_embeddings, 0);
    assert_int_equal(c.bos_id, -1);
    assert_int_equal(c.n_eos, 0);
    assert_string_equal(c.dtype, "");
    /* an explicit head_dim wins over hidden / heads */
    char *j2 = with_field(json, "head_dim", cJSON_CreateNumber(32));
    assert_int_equal(r1_config_parse(&c, j2, "x", &err), 0);
    assert_int_equal(c.head_dim, 32);
    cJSON_free(j2);
    /* newer transformers write "dtype" */
    j2 = with_field(json, "dtype", cJSON_CreateString("float16"));
    assert_int_equal(r1_config_parse(&c, j2, "x", &err), 0);
    assert_string_equal(c.dtype, "float16");
    cJSON_free(j2);
}

static void test_unknown_field(void **state) {
    (void)state;
    expect_error(qwen_json, "frobnicate_layers", cJSON_CreateNumber(3), "\"frobnicate_layers\"",
                 "unknown");
    expect_error(llama_json, "quantization_config", cJSON_CreateObject(), "quantization_config",
                 NULL);
    /* accepted-and-ignored keys really are accepted */
    char *json = with_field(qwen_json, "_name_or_path", cJSON_CreateString("Qwen/x"));
    R1Config c;
    R1Err err;
    assert_int_equal(r1_config_parse(&c, json, "x", &err), 0);
    cJSON_free(json);
    /* a duplicated key is refused rather than silently taking the first */
    const char *dup = "{\"model_type\": \"qwen2\", \"model_type\": \"llama\"}";
    assert_int_equal(r1_config_parse(&c, dup, "dup.json", &err), -1);
    assert_non_null(strstr(err.msg, "model_type"));
}

static void test_bad_types(void **state) {
    (void)state;
    expect_error(qwen_json, "hidden_size", cJSON_CreateString("896"), "\"hidden_size\"",
                 "positive integer");
    expect_error(qwen_json, "hidden_size", cJSON_CreateNumber(896.5), "\"hidden_size\"", NULL);
    expect_error(qwen_json, "num_hidden_layers", cJSON_CreateNumber(-2), "\"num_hidden_layers\"",
                 NULL);
    expect_error(qwen_json, "vocab_size", NULL, "\"vocab_size\"", "missing");
    expect_error(qwen_json, "tie_word_embeddings", cJSON_CreateNumber(1), "tie_word_embeddings",
                 NULL);
    expect_error(qwen_json, "rms_norm_eps", cJSON_CreateString("1e-6"), "rms_norm_eps", NULL);
    expect_error(qwen_json, "rms_norm_eps", cJSON_CreateNumber(-1e-6), "rms_norm_eps", NULL);
    expect_error(qwen_json, "bos_token_id", cJSON_CreateString("<s>"), "bos_token_id", NULL);
    const char *ids[] = {"a"};
    expect_error(llama_json, "eos_token_id", cJSON_CreateStringArray(ids, 1), "eos_token_id", NULL);
    int many[R1_MAX_EOS + 1] = {0};
    expect_error(llama_json, "eos_token_id", cJSON_CreateIntArray(many, R1_MAX_EOS + 1),
                 "eos_token_id", NULL);
    expect_error(qwen_json, "eos_token_id", cJSON_CreateNumber(151936), "eos_token_id",
                 "vocabulary");
    expect_error(qwen_json, "torch_dtype", cJSON_CreateNumber(16), "torch_dtype", NULL);
    expect_error(qwen_json, "model_type", cJSON_CreateString("mistral"), "model_type", "mistral");
    expect_error(qwen_json, "model_type", NULL, "model_type", "missing");
    R1Config c;
    R1Err err;
    assert_int_equal(r1_config_parse(&c, "{\"model_type\": ", "trunc.json", &err), -1);
    assert_non_null(strstr(err.msg, "trunc.json"));
    assert_non_null(strstr(err.msg, "JSON"));
}

static void test_unsupported(void **state) {
    (void)state;
    expect_error(qwen_json, "hidden_act", cJSON_CreateString("gelu"), "hidden_act", NULL);
    expect_error(qwen_json, "use_sliding_window", cJSON_CreateTrue(), "use_sliding_window", NULL);
    expect_error(qwen_json, "attention_bias", cJSON_CreateTrue(), "attention_bias", NULL);
    expect_error(llama_json, "attention_bias", cJSON_CreateTrue(), "attention_bias", NULL);
    expect_error(llama_json, "mlp_bias", cJSON_CreateTrue(), "mlp_bias", NULL);
    expect_error(llama_json, "pretraining_tp", cJSON_CreateNumber(2), "pretraining_tp", NULL);
    expect_error(qwen_json, "attention_dropout", cJSON_CreateNumber(0.1), "attention_dropout",
                 NULL);
    const char *lt[] = {"full_attention", "sliding_attention"};
    expect_error(qwen_json, "layer_types", cJSON_CreateStringArray(lt, 2), "layer_types", NULL);
    cJSON *yarn = cJSON_CreateObject();
    cJSON_AddStringToObject(yarn, "type", "yarn");
    cJSON_AddNumberToObject(yarn, "factor", 4);
    expect_error(qwen_json, "rope_scaling", yarn, "rope_scaling", "yarn");
    cJSON *odd = cJSON_CreateObject();
    cJSON_AddStringToObject(odd, "rope_type", "llama3");
    cJSON_AddNumberToObject(odd, "factor", 8);
    cJSON_AddNumberToObject(odd, "low_freq_factor", 1);
    cJSON_AddNumberToObject(odd, "high_freq_factor", 4);
    expect_error(llama_json, "rope_scaling", odd, "original_max_position_embeddings", NULL);
}

static void test_validate(void **state) {
    (void)state;
    expect_error(qwen_json, "num_key_value_heads", cJSON_CreateNumber(3), "num_key_value_heads",
                 NULL);
    expect_error(qwen_json, "head_dim", cJSON_CreateNumber(63), "head_dim", "even");
    expect_error(qwen_json, "num_attention_heads", cJSON_CreateNumber(13), "hidden_size",
                 "num_attention_heads");
    R1Config c;
    R1Err err;
    assert_int_equal(r1_config_parse(&c, qwen_json, "q", &err), 0);
    assert_int_equal(r1_config_validate(&c, "q", &err), 0);
    R1Config bad = c;
    bad.intermediate = 0;
    assert_int_equal(r1_config_validate(&bad, "v.json", &err), -1);
    assert_non_null(strstr(err.msg, "intermediate_size"));
    assert_non_null(strstr(err.msg, "v.json"));
    bad = c;
    bad.qkv_bias = 0;
    assert_int_equal(r1_config_validate(&bad, "v.json", &err), -1);
    assert_non_null(strstr(err.msg, "attention_bias"));
    bad = c;
    bad.rope_type = R1_ROPE_LLAMA3;
    bad.rope_factor = 8;
    bad.rope_low_freq_factor = 4;
    bad.rope_high_freq_factor = 1;
    bad.rope_original_max_pos = 8192;
    assert_int_equal(r1_config_validate(&bad, "v.json", &err), -1);
    assert_non_null(strstr(err.msg, "low_freq_factor"));
}

static void assert_same(const R1Config *a, const R1Config *b) {
    assert_int_equal(a->arch, b->arch);
    assert_int_equal(a->hidden, b->hidden);
    assert_int_equal(a->n_layers, b->n_layers);
    assert_int_equal(a->n_heads, b->n_heads);
    assert_int_equal(a->n_kv_heads, b->n_kv_heads);
    assert_int_equal(a->head_dim, b->head_dim);
    assert_int_equal(a->intermediate, b->intermediate);
    assert_int_equal(a->vocab, b->vocab);
    assert_int_equal(a->max_pos, b->max_pos);
    assert_true(a->rms_eps == b->rms_eps);
    assert_true(a->rope_theta == b->rope_theta);
    assert_int_equal(a->tie_embeddings, b->tie_embeddings);
    assert_int_equal(a->qkv_bias, b->qkv_bias);
    assert_true(a->init_range == b->init_range);
    assert_int_equal(a->rope_type, b->rope_type);
    assert_true(a->rope_factor == b->rope_factor);
    assert_true(a->rope_low_freq_factor == b->rope_low_freq_factor);
    assert_true(a->rope_high_freq_factor == b->rope_high_freq_factor);
    assert_int_equal(a->rope_original_max_pos, b->rope_original_max_pos);
    assert_int_equal(a->bos_id, b->bos_id);
    assert_int_equal(a->n_eos, b->n_eos);
    for (int i = 0; i < a->n_eos; i++) assert_int_equal(a->eos_ids[i], b->eos_ids[i]);
    assert_string_equal(a->dtype, b->dtype);
    assert_memory_equal(a, b, sizeof *a); /* nothing else either */
}

static void round_trip(const char *json, const char *dir) {
    R1Config a, b;
    R1Err err = {{0}};
    assert_int_equal(r1_config_parse(&a, json, "orig", &err), 0);
    char path[512];
    snprintf(path, sizeof path, "%s/config.json", dir);
    if (r1_config_save(&a, path, &err) != 0) fail_msg("%s", err.msg);
    if (r1_config_load(&b, path, &err) != 0) fail_msg("%s", err.msg);
    assert_same(&a, &b);
    /* the saved file says what transformers needs to build the class */
    char *text = r1_read_file(path, NULL, &err);
    assert_non_null(text);
    assert_non_null(
        strstr(text, a.arch == R1_ARCH_LLAMA ? "LlamaForCausalLM" : "Qwen2ForCausalLM"));
    assert_non_null(strstr(text, "\"silu\""));
    assert_non_null(strstr(text, "1e-0")); /* rms_norm_eps printed short, not 9.99999e-07 */
    free(text);
    unlink(path);
}

static void test_round_trip(void **state) {
    (void)state;
    char dir[] = "/tmp/r1c_test_config_XXXXXX";
    assert_non_null(mkdtemp(dir));
    round_trip(qwen_json, dir);
    round_trip(llama_json, dir);
    /* save refuses a config that does not validate, naming the file */
    R1Config c;
    R1Err err;
    assert_int_equal(r1_config_parse(&c, qwen_json, "q", &err), 0);
    c.n_kv_heads = 5;
    char path[512];
    snprintf(path, sizeof path, "%s/bad.json", dir);
    assert_int_equal(r1_config_save(&c, path, &err), -1);
    assert_non_null(strstr(err.msg, path));
    assert_int_not_equal(access(path, F_OK), 0);
    /* load names a missing file */
    assert_int_equal(r1_config_load(&c, path, &err), -1);
    assert_non_null(strstr(err.msg, path));
    rmdir(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_qwen2_parses), cmocka_unit_test(test_llama31_parses),
        cmocka_unit_test(test_defaults),     cmocka_unit_test(test_unknown_field),
        cmocka_unit_test(test_bad_types),    cmocka_unit_test(test_unsupported),
        cmocka_unit_test(test_validate),     cmocka_unit_test(test_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
