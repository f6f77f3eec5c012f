/* cu_blas.h - the model's three matrix products on cuBLASLt, bf16 inputs,
 * float32 accumulation (as ops.h's op_matmul_fwd / op_matmul_bwd, on device
 * pointers, weights [out, in] as in Hugging Face checkpoints).
 *
 * Contract: each product's descriptors and the algorithm cuBLASLt's heuristic
 * picks are made once per shape and kept in a small table, so a decoding step's
 * hundreds of products cost no planning; every cuBLASLt status is checked and a
 * failure names the call and the shape. The result of a shape does not depend
 * on earlier calls (one algorithm per shape, fixed workspace). */
#ifndef R1_CU_BLAS_H
#define R1_CU_BLAS_H

#include <cublasLt.h>

#include "cu_common.h"

#define CU_BLAS_PLANS 512

typedef struct CuPlan CuPlan;

typedef struct {
    cublasLtHandle_t lt;
    cudaStream_t st;
    void *ws;
    size_t ws_bytes;
    CuPlan *plans; /* [CU_BLAS_PLANS], an open-addressed table */
    int n_plans;
} CuBlas;

void cu_blas_init(CuBlas *b, cudaStream_t st);
void cu_blas_free(CuBlas *b);

/* out[T, OC] (row stride ldo) = (acc ? out : 0) + inp[T, IC] w[OC, IC]^T;
 * out is float32 (out_bf16 0) or bf16 (out_bf16 1; then acc must be 0). */
void cu_mm_fwd(CuBlas *b, void *out, int out_bf16, int ldo, const bf16 *inp, const bf16 *w, int T,
               int IC, int OC, int acc);
/* dinp[T, IC] = (acc ? dinp : 0) + dout[T, OC] w[OC, IC] (float32). */
void cu_mm_dinp(CuBlas *b, float *dinp, const bf16 *dout, const bf16 *w, int T, int IC, int OC,
                int acc);
/* dw[OC, IC] += dout[T, OC]^T inp[T, IC] (float32, always accumulates). */
void cu_mm_dw(CuBlas *b, float *dw, const bf16 *dout, const bf16 *inp, int T, int IC, int OC);

#endif
