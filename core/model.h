/* model.h - the decoder-only transformer (Qwen2 and Llama families) on the CPU.
 *
 * Contract:
 *   - Parameters live in one float32 buffer described by an R1ParamTable whose
 *     names are the Hugging Face tensor names. Within a layer, q/k/v weights
 *     (and biases) are adjacent, and so are gate/up, so each group is one
 *     matrix product over a fused [q;k;v] or [gate;up] weight.
 *   - A batch is a list of independent sequences concatenated into T tokens;
 *     attention stays inside each sequence and positions restart at 0, so
 *     sequences of different lengths need no padding.
 *   - r1_model_forward computes logits [T, V]; with targets also each target's
 *     log-probability and the mean cross-entropy. r1_model_backward takes
 *     dL/dlogp per token (NULL: the mean cross-entropy) and ACCUMULATES every
 *     parameter gradient into m->grads, so gradients of several micro-batches
 *     add up; r1_model_zero_grad clears them.
 *   - Loading refuses a checkpoint whose tensors are missing, mis-shaped or
 *     unknown to the architecture, naming the file and tensor. Saving writes
 *     config.json and model.safetensors atomically. */
#ifndef R1_MODEL_H
#define R1_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "params.h"
#include "safetensors.h"
#include "util.h"

typedef struct {
    float *ln1;   /* input_layernorm.weight [C] */
    float *wqkv;  /* q_proj, k_proj, v_proj weights: [(H + 2 KV) hd, C] */
    float *bqkv;  /* their biases [(H + 2 KV) hd] (Qwen2) or NULL */
    float *wo;    /* o_proj.weight [C, H hd] */
    float *ln2;   /* post_attention_layernorm.weight [C] */
    float *wgu;   /* gate_proj, up_proj weights: [2 I, C] */
    float *wdown; /* down_proj.weight [C, I] */
} R1Layer;

typedef struct {
    R1Config cfg;
    R1ParamTable table;
    float *params; /* table.total floats */
    float *grads;  /* same layout; NULL until r1_model_alloc_grads */
    R1Layer *layers;
    float *wte, *norm, *lm_head; /* lm_head == wte when tied */
    float *inv_freq;             /* [head_dim / 2], rope scaling applied */
} R1Model;

/* One forward batch: n_seqs sequences, seq_start[n_seqs] == n_tokens. */
typedef struct {
    int n_seqs, n_tokens;
    const int *tokens;    /* [n_tokens] */
    const int *seq_start; /* [n_seqs + 1] */
    const int *targets;   /* [n_tokens], < 0 for none; may be NULL */
    /* With targets: compute the output layer only at rows that have a target
     * (training does not need the others); a->logits then holds those rows in
     * order and a->head_row[t] says which row belongs to token t (-1: none). */
    int head_targets_only;
    /* Log-probabilities of softmax(logits / temperature), the distribution a
     * rollout sampled from (GRPO's ratios must compare like with like); 0 or 1:
     * the logits as they are. The logits buffer itself stays unscaled. */
    float temperature;
} R1Batch;

/* The output layer of a head_targets_only forward runs over chunks of this
 * many head rows (about 64 MiB of float logits each), so training never holds
 * the [tokens x vocabulary] logits (1.4 GB for 7K tokens of a 49K vocabulary);
 * the backward recomputes each chunk's logits. With as few rows as one chunk
 * (small vocabularies, short batches) the logits of every row stay in
 * a->logits after the forward, as before. */
#define R1_HEAD_CHUNK_ROWS(V) ((V) >= (16 << 20) ? 1 : (16 << 20) / (V))

/* Activations kept by the forward for the backward, sized for one batch. */
typedef struct {
    int T, cap_T, cap_pos;
    long shape_key; /* the model dimensions the buffers were sized for */
    int *pos;
    float *resid;           /* [(L + 1), T, C]: the input of each layer, then the last output */
    float *ln1, *ln2, *mid; /* [L, T, C] */
    float *rstd1, *rstd2;   /* [L, T] */
    float *qkv;             /* [L, T, (H + 2 KV) hd], q and k after RoPE */
    float *att, *lse;       /* [L, T, H hd], [L, T, H] */
    float *gu, *act;        /* [L, T, 2 I], [L, T, I] */
    float *lnf, *rstdf;     /* [T, C], [T] */
    float *logits;          /* [T, V], or with head_targets_only one chunk of head rows
                               [min(n_head, R1_HEAD_CHUNK_ROWS(V)), V] (see below);
                               the backward turns it into dlogits */
    size_t cap_logits;      /* floats allocated in logits */
    float *logp, *lse_v;    /* [T] */
    int *head_row;          /* [T]: row of logits for token t, or -1 */
    int n_head;             /* rows of logits */
    float *lnf_h;           /* [T, C] the final-norm rows the head ran on (head_targets_only) */
    int *tgt_h;             /* [T] their targets */
    float *logp_h, *lse_h;  /* [T] */
    /* With want_entropy set before a head_targets_only forward: ent_h[r], the
     * entropy of softmax(logits / temperature) of head row r. */
    int want_entropy;
    float *ent_h; /* [T] */
    float *rope_cos, *rope_sin;
    float *rope_inv; /* the frequencies the table was built from [head_dim / 2] */
    int rope_half;
    float *d_res, *d_ln, *d_qkv, *d_att, *d_gu, *d_act; /* backward scratch */
    float loss;
    int n_targets;
} R1Acts;

/* The parameter table a config implies, without allocating the parameters
 * (for sizes and names; free t->p when done). */
void r1_param_table_build(R1ParamTable *t, const R1Config *cfg);
/* Validates cfg, builds the table and allocates zeroed parameters. */
int r1_model_build(R1Model *m, const R1Config *cfg, const char *source, R1Err *err);
void r1_model_free(R1Model *m);
void r1_model_init_random(R1Model *m, uint64_t seed);
int r1_model_load(R1Model *m, const char *dir, R1Err *err);
/* Shards of at most 5 GB, as transformers' save_pretrained writes them. */
#define R1_DEFAULT_SHARD_BYTES ((size_t)5000000000)
/* Writes config.json and the weights (dtype R1_F32 or R1_BF16): one
 * model.safetensors when they fit in one shard, else
 * model-0000K-of-0000N.safetensors files and model.safetensors.index.json. */
int r1_model_save(const R1Model *m, const char *dir, R1DType dtype, R1Err *err);
int r1_model_save_sharded(const R1Model *m, const char *dir, R1DType dtype, size_t max_shard_bytes,
                          R1Err *err);
const R1Param *r1_model_param(const R1Model *m, const char *name);
void r1_model_alloc_grads(R1Model *m);
void r1_model_zero_grad(R1Model *m);

void r1_acts_init(R1Acts *a);
void r1_acts_free(R1Acts *a);
/* Bytes of activations a batch of T tokens needs (for `r1-model info`). */
size_t r1_acts_bytes(const R1Config *c, int T);

/* Checks token ids and targets are inside the vocabulary, positions inside
 * max_position_embeddings; names the offending token. */
int r1_batch_check(const R1Model *m, const R1Batch *b, R1Err *err);
void r1_model_forward(R1Model *m, R1Acts *a, const R1Batch *b);
/* Needs the forward of the same batch, with targets, just before: it turns
 * a->logits into dlogits, so it runs once per forward. */
void r1_model_backward(R1Model *m, R1Acts *a, const R1Batch *b, const float *dlogp);

/* Writes extra[0..n_extra) and then grad.<name> of every parameter to one
 * safetensors file (atomically): the dump that r1-model forward, r1-grpo and
 * r1-sft write for checking against PyTorch. Needs m->grads. */
int r1_model_dump_grads(const R1Model *m, const R1StWriteTensor *extra, int n_extra,
                        const char *path, R1Err *err);

/* Rotary inverse frequencies for a config, with llama3 scaling when set. */
void r1_rope_inv_freq(const R1Config *c, float *inv_freq);

#endif
