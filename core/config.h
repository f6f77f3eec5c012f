/* config.h - the model configuration, read from a Hugging Face config.json.
 *
 * Contract: r1_config_load accepts `model_type` "qwen2" and "llama" and refuses,
 * with the field named, anything it would otherwise silently get wrong: an
 * unknown field, an unsupported activation, sliding-window attention, biases
 * that the architecture does not have, an unknown rope_scaling type. Fields
 * that only matter to other tools (torch_dtype, transformers_version, ...) are
 * accepted and ignored. r1_config_save writes a config.json that Hugging Face
 * transformers loads back. */
#ifndef R1_CONFIG_H
#define R1_CONFIG_H

#include "util.h"

typedef enum { R1_ARCH_QWEN2 = 1, R1_ARCH_LLAMA = 2 } R1Arch;

typedef enum { R1_ROPE_DEFAULT = 0, R1_ROPE_LLAMA3 = 1 } R1RopeType;

#define R1_MAX_EOS 8

typedef struct {
    R1Arch arch;
    int hidden;         /* hidden_size */
    int n_layers;       /* num_hidden_layers */
    int n_heads;        /* num_attention_heads */
    int n_kv_heads;     /* num_key_value_heads (defaults to n_heads) */
    int head_dim;       /* head_dim (defaults to hidden / n_heads) */
    int intermediate;   /* intermediate_size */
    int vocab;          /* vocab_size */
    int max_pos;        /* max_position_embeddings */
    float rms_eps;      /* rms_norm_eps */
    float rope_theta;   /* rope_theta */
    int tie_embeddings; /* tie_word_embeddings */
    int qkv_bias;       /* Qwen2: always 1; Llama: attention_bias (only false supported) */
    float init_range;   /* initializer_range */
    /* rope_scaling of type "llama3" (Llama-3.1, DeepSeek-R1-Distill-Llama) */
    R1RopeType rope_type;
    float rope_factor, rope_low_freq_factor, rope_high_freq_factor;
    int rope_original_max_pos;
    int bos_id; /* -1 when absent */
    int eos_ids[R1_MAX_EOS];
    int n_eos;
    char dtype[16]; /* torch_dtype as written, e.g. "bfloat16"; "" when absent */
} R1Config;

/* Parses JSON text; `source` names it in errors (a file path). */
int r1_config_parse(R1Config *c, const char *json, const char *source, R1Err *err);
int r1_config_load(R1Config *c, const char *path, R1Err *err);
/* Checks the numbers are usable (positive sizes, heads divide, ...). */
int r1_config_validate(const R1Config *c, const char *source, R1Err *err);
/* Writes config.json atomically. */
int r1_config_save(const R1Config *c, const char *path, R1Err *err);
const char *r1_arch_name(R1Arch a);

#endif
