/* cu_ops.h - the operations of ops.h on the GPU: device pointers, one stream.
 *
 * The same conventions as ops.h (row-major; `ld` row strides in elements; a
 * backward ACCUMULATES into gradients unless its comment says it overwrites),
 * with mixed precision: weights are read as bf16; activations that feed a
 * matrix product are bf16; the residual stream, q/k/v, log-sum-exps, norms'
 * statistics and every gradient of a parameter are float32, and every sum is
 * accumulated in float32 (or wider). Every launcher checks its launch
 * (cu_common.h). Every kernel is deterministic: no atomics on floats, so the
 * same inputs give the same bits on the same GPU.
 *
 * The CPU operations in ops_cpu.c are the reference: tests/cuda/test_cuda_ops
 * runs both on the same random inputs (weights rounded to bf16 first). */
#ifndef R1_CU_OPS_H
#define R1_CU_OPS_H

#include "cu_common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- conversions and small helpers (cuda/kernels.cu) -------------------- */
void cu_f32_to_bf16(bf16 *dst, const float *src, size_t n, cudaStream_t st);
void cu_bf16_to_f32(float *dst, const bf16 *src, size_t n, cudaStream_t st);
/* x *= s */
void cu_scale(float *x, size_t n, float s, cudaStream_t st);
/* out[i] = sum of x[j]^2 over j < n, in double, in a fixed order: partial sums
 * per block into scratch (at least cu_sumsq_scratch(n) doubles), then one block
 * adds them up. out is ONE device double. */
size_t cu_sumsq_scratch(size_t n);
void cu_sumsq(double *out, const float *x, size_t n, double *scratch, cudaStream_t st);
/* dst[i, :] = src[rows[i], :] for i < n (C columns); rows on the device. */
void cu_gather_rows_bf16(bf16 *dst, const bf16 *src, const int *rows, int n, int C,
                         cudaStream_t st);
/* dst[rows[i], :] = src[i, :] (float32; other rows of dst untouched). */
void cu_scatter_rows(float *dst, const float *src, const int *rows, int n, int C, cudaStream_t st);
/* out[t, :] += bias for t < T (OC columns, out float32 with row stride OC). */
void cu_add_bias(float *out, const bf16 *bias, int T, int OC, cudaStream_t st);
/* dbias[j] += sum over t of dout[t, j] (fixed order). */
void cu_bias_bwd(float *dbias, const bf16 *dout, int T, int OC, cudaStream_t st);

/* ---- embedding ------------------------------------------------------------ */
/* out[t, :] = wte[ids[t], :] */
void cu_embedding_fwd(float *out, const int *ids, const bf16 *wte, int T, int C, cudaStream_t st);
/* Deterministic: the host groups positions by token (cu_embedding_plan in the
 * model code): order[] lists positions sorted by token id, uniq[u] is the u-th
 * distinct token and its positions are order[ustart[u] .. ustart[u+1]).
 * dwte[uniq[u], :] += sum of dout[order[k], :] over its positions, in order. */
void cu_embedding_bwd(float *dwte, const float *dout, const int *order, const int *uniq,
                      const int *ustart, int n_uniq, int C, cudaStream_t st);

/* ---- RMSNorm ---------------------------------------------------------------- */
/* out = inp * rstd * w; rstd[t] = 1 / sqrt(mean(inp[t]^2) + eps). */
void cu_rmsnorm_fwd(bf16 *out, float *rstd, const float *inp, const bf16 *w, int T, int C,
                    float eps, cudaStream_t st);
/* dinp += ..., dw += ... (as op_rmsnorm_bwd). dw's sum over rows is done per
 * block of rows into scratch (cu_rmsnorm_bwd_scratch(T, C) floats), then
 * reduced in a fixed order. */
size_t cu_rmsnorm_bwd_scratch(int T, int C);
void cu_rmsnorm_bwd(float *dinp, float *dw, const float *dout, const float *inp, const bf16 *w,
                    const float *rstd, int T, int C, float *scratch, cudaStream_t st);

/* ---- RoPE (rotate-half pairing, in place, float32) --------------------------- */
void cu_rope_fwd(float *x, int ld, const int *pos, const float *cos_t, const float *sin_t, int T,
                 int nh, int hd, cudaStream_t st);
void cu_rope_bwd(float *dx, int ld, const int *pos, const float *cos_t, const float *sin_t, int T,
                 int nh, int hd, cudaStream_t st);

/* ---- SwiGLU: gu rows [gate(n_ff) | up(n_ff)] ------------------------------- */
void cu_swiglu_fwd(bf16 *out, const bf16 *gu, int T, int n_ff, cudaStream_t st);
/* dgu OVERWRITTEN. */
void cu_swiglu_bwd(bf16 *dgu, const float *dout, const bf16 *gu, int T, int n_ff, cudaStream_t st);

/* ---- attention (cuda/attention.cu) ------------------------------------------ */
/* Sequences of a batch: n_seqs of them, token rows [start[s], start[s+1]) with
 * start on the device; max_len is the longest (grids are sized by it). */
typedef struct {
    int n_seqs, T, max_len;
    const int *start; /* device, [n_seqs + 1] */
} CuSeqs;

/* Causal attention with GQA inside each sequence, tiled (flash-style: no T x T
 * matrix in memory, online softmax); as op_attention_fwd. out [T, nh*hd] and
 * lse [T, nh] float32 (out stays float32 for the backward's Dsum; the product
 * that reads it takes a bf16 copy). q, k, v float32 with row strides ldq, ldkv.
 * On tensor cores (hd 64, 128; R1_ATTN=simt forces the float32 kernels) q, k,
 * v and the probabilities are rounded to bf16 for the products. */
void cu_attention_fwd(float *out, float *lse, const float *q, int ldq, const float *k,
                      const float *v, int ldkv, CuSeqs s, int nh, int nkv, int hd, cudaStream_t st);
/* As op_attention_bwd: dq OVERWRITTEN for every row; dk, dv ACCUMULATED; all
 * three with row stride ldd. dout float32 [T, nh*hd]. Deterministic: no float
 * atomics (dk/dv and dq come from separate passes). scratch: at least
 * cu_attention_bwd_scratch(T, nh) floats. */
size_t cu_attention_bwd_scratch(int T, int nh);
void cu_attention_bwd(float *dq, float *dk, float *dv, int ldd, const float *dout, const float *out,
                      const float *lse, const float *q, int ldq, const float *k, const float *v,
                      int ldkv, CuSeqs s, int nh, int nkv, int hd, float *scratch, cudaStream_t st);
/* Decoding: query row i (of n; q row stride ldq, float32) attends to np[i]
 * cache rows starting at prow[i] (its prompt) then ns[i] rows starting at
 * srow[i] (its own tokens, the newest last). kc, vc: one layer's cache, bf16,
 * row stride ldkv, KV head g at g*hd. out [n, nh*hd] bf16. All int arrays on
 * the device. Equal to the last row of cu_attention_fwd on the concatenation. */
void cu_attention_decode(bf16 *out, const float *q, int ldq, const bf16 *kc, const bf16 *vc,
                         int ldkv, const int *prow, const int *np, const int *srow, const int *ns,
                         int n, int max_ctx, int nh, int nkv, int hd, cudaStream_t st);
/* kc[rows[i], :kvd] = bf16(qkv[i, koff:]), vc likewise from voff (row stride
 * ld of qkv, ldkv of the cache). */
void cu_kv_store(bf16 *kc, bf16 *vc, int ldkv, const float *qkv, int ld, int koff, int voff,
                 const int *rows, int n, int kvd, cudaStream_t st);

/* ---- output layer in vocabulary chunks (cuda/kernels.cu) ------------------- */
/* The head's statistics are built chunk by chunk, so [T, V] logits never
 * exist: for each row r < n, of y = s * logits (s = 1 / temperature):
 * mx[r] running max, se[r] = sum exp(y - mx), sy[r] = sum exp(y - mx) * y,
 * zt[r] = the target's logit (unscaled) when it falls in this chunk.
 * cu_head_stats_init sets mx = -inf, se = sy = 0, zt = 0.
 * chunk: logits [n, Vc] (row stride ld) of columns [v0, v0 + Vc). */
void cu_head_stats_init(float *mx, float *se, float *sy, float *zt, int n, cudaStream_t st);
void cu_head_stats_chunk(float *mx, float *se, float *sy, float *zt, const float *chunk, int ld,
                         int n, int Vc, int v0, const int *targets, float s, cudaStream_t st);
/* lse = mx + log se; logp = s * zt - lse; ent = lse - sy / se (per row). */
void cu_head_stats_finish(float *logp, float *lse, float *ent, const float *mx, const float *se,
                          const float *sy, const float *zt, int n, float s, cudaStream_t st);
/* dchunk[r, j] = bf16(s * dlogp[r] * (1[v0 + j == target r] - exp(s chunk[r, j] - lse[r]))),
 * OVERWRITTEN (row stride ld for both). */
void cu_head_dlogits(bf16 *dchunk, const float *chunk, int ld, int n, int Vc, int v0,
                     const int *targets, const float *lse, const float *dlogp, float s,
                     cudaStream_t st);

/* ---- AdamW (as optim.h), one parameter tensor at a time ---------------------- */
/* m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; p -= lr wd p; p -= lr mhat/(sqrt(vhat)+eps),
 * with bc1 = 1 - b1^t, bc2 = 1 - b2^t given; then p16 = bf16(p). */
void cu_adamw(float *p, bf16 *p16, const float *g, float *m, float *v, size_t n, float lr, float b1,
              float b2, float eps, float wd, float bc1, float bc2, cudaStream_t st);

/* ---- sampling (as sample.h without the top-k / top-p cuts) ------------------ */
/* For i < n: row = logits + rows[i] * ld (V columns). temperature 0: the lowest
 * id among the largest logits, logprob under softmax(logits). Otherwise the
 * first id j (in id order) whose cumulative probability under softmax(logits /
 * temperature) exceeds u[i] (in [0, 1), from the sequence's own generator),
 * logprob its log-probability under that softmax. ids, logprobs on the device. */
void cu_sample(int *ids, float *logprobs, const float *logits, long ld, const int *rows,
               const float *u, int n, int V, float temperature, cudaStream_t st);

#ifdef __cplusplus
}
#endif

#endif
