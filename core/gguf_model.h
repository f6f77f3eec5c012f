/* gguf_model.h - a model in a GGUF file, as r1c's model: the architecture's hyperparameters
 * read into an R1Config, its tensors dequantized into the Hugging Face parameter layout,
 * and the way back.
 *
 * Contract:
 *   - Architectures "llama" and "qwen2" (the DeepSeek-R1-Distill models are these two);
 *     anything else, rope scaling, partial rotary dimensions or a tensor the architecture
 *     does not have is refused with the file and the key or tensor named, never guessed.
 *   - Tensor names map one to one: token_embd <-> model.embed_tokens, blk.N.attn_q <->
 *     model.layers.N.self_attn.q_proj, ffn_gate <-> mlp.gate_proj, output_norm <->
 *     model.norm, output <-> lm_head (absent: tied embeddings), and so on.
 *   - llama.cpp permutes the rows of the llama q and k projections so that its RoPE can
 *     rotate adjacent pairs: within each head, HF row s*(hd/2) + j is stored as row 2j + s.
 *     Import undoes it and export redoes it; qwen2 is stored as it is (llama.cpp's qwen2
 *     RoPE is the rotate-half one).
 *   - Each tensor's shape (ggml ne reversed) must equal what the config implies. */
#ifndef R1_GGUF_MODEL_H
#define R1_GGUF_MODEL_H

#include "gguf.h"
#include "model.h"

/* The Hugging Face config of the model in g (dtype left empty). */
int r1_gguf_config(const R1Gguf *g, R1Config *c, R1Err *err);
/* The config, every tensor's presence and shape, and no tensor the architecture lacks:
 * what r1_gguf_load_model checks before it allocates anything. */
int r1_gguf_check_model(const R1Gguf *g, R1Err *err);
/* Builds m from g: config, then every tensor dequantized to float32 into its parameter.
 * quiet: no progress line on a terminal. */
int r1_gguf_load_model(const R1Gguf *g, R1Model *m, int quiet, R1Err *err);

/* The GGUF name of a Hugging Face parameter name (into buf); -1 if it has none. */
int r1_gguf_name_of(const char *hf, char *buf, size_t n);

/* The model's hyperparameters and tensors into w: 1-D tensors (norms, biases) stay F32,
 * matrices take `type` (F32, F16, BF16 or Q8_0; a matrix whose rows are not whole Q8_0
 * blocks falls back to F16). `name` goes to general.name. The converted data lives in one
 * allocation returned in *store, which w references: free it after r1_gguf_write. */
int r1_gguf_put_model(R1GgufWriter *w, const R1Model *m, R1GgmlType type, const char *name,
                      void **store, R1Err *err);

#endif
