/* ops.h - the small set of operations the transformer is written over.
 *
 * Each operation has its forward and its backward side by side. The CPU
 * implementations in ops_cpu.c are the reference every other backend is tested
 * against. Conventions, shared by all of them:
 *   - row-major float32; a batch is its sequences' tokens concatenated, T rows;
 *   - `ld` arguments are row strides in floats, so an operation can read one
 *     part of a fused row (q, k or v inside a qkv row; gate or up inside a
 *     gate|up row) without a copy;
 *   - a backward ACCUMULATES (+=) into parameter gradients and into the
 *     gradients of inputs, unless its comment says it overwrites; callers zero
 *     what must start at zero. Accumulation is what lets one input feed several
 *     consumers (residual streams, tied embeddings, micro-batches).
 * No operation keeps state between calls. */
#ifndef R1_OPS_H
#define R1_OPS_H

#include <stddef.h>

/* out[T,OC] = (accumulate ? out : 0) + inp[T,IC] w[OC,IC]^T + bias[OC] (bias may be NULL).
 * Weights are stored [out, in] as in Hugging Face checkpoints. */
void op_matmul_fwd(float *out, const float *inp, const float *w, const float *bias, int T, int IC,
                   int OC, int accumulate);
/* dinp += dout w (skipped if dinp is NULL); dw += dout^T inp; dbias += column sums of dout. */
void op_matmul_bwd(float *dinp, float *dw, float *dbias, const float *dout, const float *inp,
                   const float *w, int T, int IC, int OC);

/* The same product as op_matmul_fwd, for generation: every output element is
 * one dot product computed in a fixed order by one thread, so a row's result
 * does not depend on how many other rows share the call, nor on the thread
 * count (BLAS libraries pick kernels by shape, which round differently). Fast
 * for the few rows of a decoding step: the weights are read once, unpacked. */
void op_matmul_rows(float *out, const float *inp, const float *w, const float *bias, int T, int IC,
                    int OC, int accumulate);

/* out[t] = wte[ids[t]] */
void op_embedding_fwd(float *out, const int *ids, const float *wte, int T, int C);
void op_embedding_bwd(float *dwte, const float *dout, const int *ids, int T, int C);

/* out = inp * rstd * w with rstd[t] = 1 / sqrt(mean(inp[t]^2) + eps). */
void op_rmsnorm_fwd(float *out, float *rstd, const float *inp, const float *w, int T, int C,
                    float eps);
void op_rmsnorm_bwd(float *dinp, float *dw, const float *dout, const float *inp, const float *w,
                    const float *rstd, int T, int C);

/* RoPE tables for positions 0..n_pos-1: cos/sin[p * hd/2 + i] of p * inv_freq[i]. */
void op_rope_table(float *cos_t, float *sin_t, const float *inv_freq, int n_pos, int hd);
/* In place on x[t, h, :] (row stride ld) for h < nh, at position pos[t], with the
 * Hugging Face rotate-half pairing (i, i + hd/2). The backward is the inverse
 * rotation applied in place to the gradient. */
void op_rope_fwd(float *x, int ld, const int *pos, const float *cos_t, const float *sin_t, int T,
                 int nh, int hd);
void op_rope_bwd(float *dx, int ld, const int *pos, const float *cos_t, const float *sin_t, int T,
                 int nh, int hd);

/* Causal self-attention with grouped KV heads (query head h reads KV head
 * h / (nh / nkv)), inside each sequence [seq_start[s], seq_start[s+1]).
 * q, k, v rows have strides ldq, ldkv; out is [T, nh*hd]; lse[t*nh + h] keeps
 * each row's log-sum-exp so the backward recomputes the probabilities instead
 * of storing T^2 of them. Scale is 1/sqrt(hd). */
void op_attention_fwd(float *out, float *lse, const float *q, int ldq, const float *k,
                      const float *v, int ldkv, const int *seq_start, int n_seqs, int nh, int nkv,
                      int hd);
/* dq OVERWRITTEN for every row; dk, dv accumulated. */
void op_attention_bwd(float *dq, float *dk, float *dv, int ldd, const float *dout, const float *out,
                      const float *lse, const float *q, int ldq, const float *k, const float *v,
                      int ldkv, const int *seq_start, int n_seqs, int nh, int nkv, int hd);

/* Generation with a KV cache: one new query row per sequence attends to that
 * sequence's cached keys and values, held in two parts so the samples of one
 * prompt share its prefix: kp[i], vp[i] (np[i] rows, the prompt) then ks[i],
 * vs[i] (ns[i] rows, the sequence's own tokens, the new one last). Rows have
 * stride ldkv; KV head g starts at g*hd. out is [n, nh*hd]; q rows have stride
 * ldq. Equal to op_attention_fwd's last row for the concatenated sequence. */
void op_attention_decode(float *out, const float *q, int ldq, const float *const *kp,
                         const float *const *vp, const int *np, const float *const *ks,
                         const float *const *vs, const int *ns, int ldkv, int n, int nh, int nkv,
                         int hd);

/* gu rows are [gate(n_ff) | up(n_ff)]; out[t, i] = silu(gate) * up.
 * The backward OVERWRITES dgu. */
void op_swiglu_fwd(float *out, const float *gu, int T, int n_ff);
void op_swiglu_bwd(float *dgu, const float *dout, const float *gu, int T, int n_ff);

/* Log-probability of each row's target under softmax(s * logits), s = 1 / the
 * sampling temperature: logp[t] = s logits[t, y_t] - lse[t] (0 where targets[t]
 * < 0); lse[t] is the log-sum-exp of the row's s * logits. */
void op_logprob_fwd(float *logp, float *lse, const float *logits, const int *targets, int T, int V,
                    float s);
/* dlogits[t, j] = s dlogp[t] (1[j == y_t] - softmax(s logits[t])_j); rows without a
 * target become 0. OVERWRITES dlogits, which may be the logits buffer itself. */
void op_logprob_bwd(float *dlogits, const float *logits, const float *lse, const int *targets,
                    const float *dlogp, int T, int V, float s);

#endif
