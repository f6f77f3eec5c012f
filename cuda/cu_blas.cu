/* cu_blas.cu - see cu_blas.h. Row-major products are written as cuBLASLt's
 * column-major ones: a row-major [r, c] matrix is a column-major [c, r] one, so
 * out = inp w^T becomes out^T = w^T-as-stored * inp^T-as-stored with the
 * transposes read off the storage (see each function). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cu_blas.h"

#define LT_CHECK(call, shape)                                                                      \
    do {                                                                                           \
        cublasStatus_t s_ = (call);                                                                \
        if (s_ != CUBLAS_STATUS_SUCCESS) {                                                         \
            char m_[256];                                                                          \
            snprintf(m_, sizeof m_, "%s (%s)", cublasLtGetStatusString(s_), shape);                \
            r1_cu_fail(#call, m_, __FILE__, __LINE__);                                             \
        }                                                                                          \
    } while (0)

typedef struct {
    int ta, tb, m, n, k, lda, ldb, ldc, c_bf16, align;
} PlanKey;

struct CuPlan {
    int used;
    PlanKey key;
    cublasLtMatmulDesc_t op;
    cublasLtMatrixLayout_t a, b, c;
    cublasLtMatmulAlgo_t algo;
};

static const size_t WS_BYTES = (size_t)32 << 20;

void cu_blas_init(CuBlas *b, cudaStream_t st) {
    memset(b, 0, sizeof *b);
    LT_CHECK(cublasLtCreate(&b->lt), "handle");
    b->st = st;
    b->ws_bytes = WS_BYTES;
    CU_CHECK(cudaMalloc(&b->ws, b->ws_bytes));
    b->plans = (CuPlan *)calloc(CU_BLAS_PLANS, sizeof(CuPlan));
    if (!b->plans) r1_cu_fail("cu_blas_init", "out of host memory", __FILE__, __LINE__);
}

/* Destroys every plan of the table. */
static void plans_drop(CuBlas *b) {
    for (int i = 0; i < CU_BLAS_PLANS; i++) {
        CuPlan *p = &b->plans[i];
        if (!p->used) continue;
        cublasLtMatrixLayoutDestroy(p->a);
        cublasLtMatrixLayoutDestroy(p->b);
        cublasLtMatrixLayoutDestroy(p->c);
        cublasLtMatmulDescDestroy(p->op);
        p->used = 0;
    }
    b->n_plans = 0;
}

void cu_blas_free(CuBlas *b) {
    if (!b->plans) return;
    plans_drop(b);
    free(b->plans);
    cudaFree(b->ws);
    cublasLtDestroy(b->lt);
    memset(b, 0, sizeof *b);
}

/* The alignment cuBLASLt may assume of a pointer: its lowest set bit, capped
 * at 16 bytes (what vectorised loads need). */
static int align_of(const void *p) {
    uintptr_t a = (uintptr_t)p;
    int al = 1;
    while (al < 16 && !(a & (uintptr_t)al)) al <<= 1;
    return al;
}

static unsigned key_hash(const PlanKey *k) {
    const int *w = (const int *)k;
    unsigned h = 2166136261u;
    for (size_t i = 0; i < sizeof *k / sizeof(int); i++) h = (h ^ (unsigned)w[i]) * 16777619u;
    return h;
}

static void plan_make(CuBlas *b, CuPlan *p, const PlanKey *k, const char *shape) {
    cublasOperation_t ta = k->ta ? CUBLAS_OP_T : CUBLAS_OP_N,
                      tb = k->tb ? CUBLAS_OP_T : CUBLAS_OP_N;
    LT_CHECK(cublasLtMatmulDescCreate(&p->op, CUBLAS_COMPUTE_32F, CUDA_R_32F), shape);
    LT_CHECK(cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta),
             shape);
    LT_CHECK(cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb),
             shape);
    /* Layouts describe the matrices as stored (before the transposes). */
    LT_CHECK(cublasLtMatrixLayoutCreate(&p->a, CUDA_R_16BF, k->ta ? k->k : k->m,
                                        k->ta ? k->m : k->k, k->lda),
             shape);
    LT_CHECK(cublasLtMatrixLayoutCreate(&p->b, CUDA_R_16BF, k->tb ? k->n : k->k,
                                        k->tb ? k->k : k->n, k->ldb),
             shape);
    LT_CHECK(
        cublasLtMatrixLayoutCreate(&p->c, k->c_bf16 ? CUDA_R_16BF : CUDA_R_32F, k->m, k->n, k->ldc),
        shape);
    cublasLtMatmulPreference_t pref;
    LT_CHECK(cublasLtMatmulPreferenceCreate(&pref), shape);
    LT_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                  &b->ws_bytes, sizeof b->ws_bytes),
             shape);
    uint32_t al = (uint32_t)k->align;
    cublasLtMatmulPreferenceAttributes_t attrs[] = {
        CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
        CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES};
    for (int i = 0; i < 4; i++)
        LT_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, attrs[i], &al, sizeof al), shape);
    cublasLtMatmulHeuristicResult_t res;
    int n_res = 0;
    LT_CHECK(
        cublasLtMatmulAlgoGetHeuristic(b->lt, p->op, p->a, p->b, p->c, p->c, pref, 1, &res, &n_res),
        shape);
    cublasLtMatmulPreferenceDestroy(pref);
    if (n_res < 1) r1_cu_fail("cublasLtMatmulAlgoGetHeuristic", shape, __FILE__, __LINE__);
    p->algo = res.algo;
    p->key = *k;
    p->used = 1;
}

static CuPlan *plan_get(CuBlas *b, const PlanKey *k, const char *shape) {
    unsigned h = key_hash(k) % CU_BLAS_PLANS;
    for (int i = 0; i < CU_BLAS_PLANS; i++) {
        CuPlan *p = &b->plans[(h + (unsigned)i) % CU_BLAS_PLANS];
        if (p->used && memcmp(&p->key, k, sizeof *k) == 0) return p;
        if (!p->used) {
            if (b->n_plans >= CU_BLAS_PLANS * 3 / 4) break; /* full: start over */
            plan_make(b, p, k, shape);
            b->n_plans++;
            return p;
        }
    }
    /* Many shapes (decoding with every batch size): drop them all and rebuild. */
    plans_drop(b);
    CuPlan *p = &b->plans[h];
    plan_make(b, p, k, shape);
    b->n_plans = 1;
    return p;
}

/* D[m, n] (column-major, ld ldc) = op(A) op(B) + beta D. */
static void gemm(CuBlas *b, int ta, int tb, int m, int n, int k, const bf16 *A, int lda,
                 const bf16 *B, int ldb, void *D, int d_bf16, int ldc, float beta) {
    if (m <= 0 || n <= 0) return;
    if (k <= 0) { /* an empty sum: D = beta D */
        if (beta == 0.0f)
            CU_CHECK(cudaMemset2DAsync(D, (size_t)ldc * (d_bf16 ? 2 : 4), 0,
                                       (size_t)m * (d_bf16 ? 2 : 4), (size_t)n, b->st));
        return;
    }
    int al = align_of(A);
    if (align_of(B) < al) al = align_of(B);
    if (align_of(D) < al) al = align_of(D);
    PlanKey key = {ta, tb, m, n, k, lda, ldb, ldc, d_bf16, al};
    char shape[160];
    snprintf(shape, sizeof shape, "m=%d n=%d k=%d op=%c%c ld=%d,%d,%d %s", m, n, k, ta ? 'T' : 'N',
             tb ? 'T' : 'N', lda, ldb, ldc, d_bf16 ? "bf16" : "f32");
    CuPlan *p = plan_get(b, &key, shape);
    float alpha = 1.0f;
    LT_CHECK(cublasLtMatmul(b->lt, p->op, &alpha, A, p->a, B, p->b, &beta, D, p->c, D, p->c,
                            &p->algo, b->ws, b->ws_bytes, b->st),
             shape);
}

/* out^T [OC, T] = (w stored [IC, OC] column-major)^T * (inp stored [IC, T]). */
void cu_mm_fwd(CuBlas *b, void *out, int out_bf16, int ldo, const bf16 *inp, const bf16 *w, int T,
               int IC, int OC, int acc) {
    gemm(b, 1, 0, OC, T, IC, w, IC, inp, IC, out, out_bf16, ldo, acc ? 1.0f : 0.0f);
}

/* dinp^T [IC, T] = (w stored [IC, OC]) * (dout stored [OC, T]). */
void cu_mm_dinp(CuBlas *b, float *dinp, const bf16 *dout, const bf16 *w, int T, int IC, int OC,
                int acc) {
    gemm(b, 0, 0, IC, T, OC, w, IC, dout, OC, dinp, 0, IC, acc ? 1.0f : 0.0f);
}

/* dw^T [IC, OC] += (inp stored [IC, T]) * (dout stored [OC, T])^T. */
void cu_mm_dw(CuBlas *b, float *dw, const bf16 *dout, const bf16 *inp, int T, int IC, int OC) {
    gemm(b, 0, 1, IC, OC, T, inp, IC, dout, OC, dw, 0, IC, 1.0f);
}
