/* attention_impl.h - what the three attention implementations share (not a
 * public interface): attention.cu holds the float32 SIMT kernels, the
 * dispatch and these helpers; attention_mma.cu (mma.sync) and attention_tc.cu
 * (WMMA) hold the tensor-core kernels. */
#ifndef R1_ATTENTION_IMPL_H
#define R1_ATTENTION_IMPL_H

#include "cu_ops.h"

/* The tensor-core forward and backward. Each returns 0, having launched
 * nothing, for a shape or GPU it does not support (the dispatch then tries
 * the next path). */
extern "C" int cu_attention_mma_fwd(float *out, float *lse, const float *q, int ldq, const float *k,
                                    const float *v, int ldkv, CuSeqs s, int nh, int nkv, int hd,
                                    cudaStream_t st);
extern "C" int cu_attention_mma_bwd(float *dq, float *dk, float *dv, int ldd, const float *dout,
                                    const float *out, const float *lse, const float *q, int ldq,
                                    const float *k, const float *v, int ldkv, CuSeqs s, int nh,
                                    int nkv, int hd, float *scratch, cudaStream_t st);
extern "C" int cu_attention_tc_fwd(float *out, float *lse, const float *q, int ldq, const float *k,
                                   const float *v, int ldkv, CuSeqs s, int nh, int nkv, int hd,
                                   cudaStream_t st);
extern "C" int cu_attention_tc_bwd(float *dq, float *dk, float *dv, int ldd, const float *dout,
                                   const float *out, const float *lse, const float *q, int ldq,
                                   const float *k, const float *v, int ldkv, CuSeqs s, int nh,
                                   int nkv, int hd, float *scratch, cudaStream_t st);

static inline int att_aligned16(const void *p) {
    return ((uintptr_t)p & 15) == 0;
}

/* Whether this GPU runs bf16 tensor-core kernels (sm_80 and newer) with
 * `bytes` of dynamic shared memory; opts the kernel in beyond 48 KB. */
int att_tc_ready(const void *kernel, size_t bytes);

/* dsum[t nh + h] = rowsum(dout * out) over the T nh rows of hd values, with
 * dout rounded to bf16 first when the backward's dP = dO V^T reads it so
 * (round_dout: the tensor-core paths). It must equal rowsum(P * dP) as the
 * backward computes dP, or every dS of the row shifts by a constant, which dQ
 * turns into an error along the mean key; out is float32 for the same reason. */
void att_dsum(float *dsum, const float *dout, const float *out, size_t rows, int hd, int round_dout,
              cudaStream_t st);

#endif
