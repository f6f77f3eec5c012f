/* gpu_impl.h - the inside of gpu.h's R1Gpu, shared by gpu_model.cu (training
 * passes) and gpu_decode.cu (generation). Not a public interface. */
#ifndef R1_GPU_IMPL_H
#define R1_GPU_IMPL_H

#include "cu_blas.h"
#include "cu_ops.h"
extern "C" {
#include "gpu.h"
}

/* Offsets (in elements) of one layer's tensors in the parameter buffers. */
typedef struct {
    size_t ln1, wqkv, bqkv, wo, ln2, wgu, wdown;
    int has_bias;
} GpuLayer;

typedef struct {
    int C, L, H, KV, hd, QKV, I, V, Hd, KVd;
} GpuDims;

/* Activations of one batch (device), sized for cap_T tokens (and as many head rows). */
typedef struct {
    int cap_T, cap_seqs;
    float *resid;         /* [(L + 1), T, C] */
    bf16 *ln1, *ln2;      /* [L, T, C] */
    float *mid;           /* [L, T, C] */
    float *rstd1, *rstd2; /* [L, T] */
    float *qkv;           /* [L, T, QKV] */
    float *att;           /* [L, T, Hd] attention output (float32: the backward's Dsum) */
    bf16 *att16;          /* [L, T, Hd] its bf16 copy, the o_proj product's input */
    float *lse;           /* [L, T, H] */
    bf16 *gu, *act;       /* [L, T, 2I], [L, T, I] */
    bf16 *lnf;            /* [T, C] */
    float *rstdf;         /* [T] */
    int *tokens, *pos, *seq_start, *targets; /* [T], [T], [cap_seqs + 1], [T] */
    /* the output layer at the head rows */
    int *head_rows, *tgt_h;                                      /* [n] */
    bf16 *lnf_h;                                                 /* [n, C] */
    float *mx, *se, *sy, *zt, *lse_h, *logp_h, *ent_h, *dlogp_h; /* [n] */
    /* backward scratch */
    float *d_res, *d_ln, *d_qkv, *d_att, *d_act, *d_lnf_h; /* fp32 */
    bf16 *d_res16, *d_qkv16, *d_gu16;
    float *scratch; /* rmsnorm / attention backward */
    size_t scratch_floats;
    int *emb_order, *emb_uniq, *emb_ustart; /* embedding backward plan [T], [T], [T + 1] */
    size_t bytes;                           /* device memory of the buffers above */
} GpuActs;

struct R1Gpu {
    R1Config cfg;
    GpuDims d;
    R1ParamTable table; /* a copy; p owned */
    GpuLayer *lay;
    size_t off_wte, off_norm, off_head;
    int train;
    cudaStream_t st;
    CuBlas blas;
    bf16 *w16;                    /* [total] the weights the products read */
    float *w32, *g32, *m32, *v32; /* train: master weights, gradients, moments */
    float *rope_cos, *rope_sin;   /* [max_pos, hd / 2] */
    int vchunk;                   /* vocabulary columns per chunk of the output layer */
    float *chunk;                 /* [n, vchunk] logits of one chunk of n head rows */
    bf16 *dchunk;                 /* [n, vchunk] */
    size_t chunk_cap;             /* floats in chunk */
    double *sumsq, *sumsq_scratch;
    size_t sumsq_scratch_n;
    GpuActs a;
    /* the last forward (for the backward) */
    int last_T, last_n, last_seqs, last_maxlen, have_forward;
    float last_scale;
    int *h_head_rows; /* host copies [cap_T] */
    int *h_tgt_h;
    float *h_buf; /* host [cap_T] */
    size_t bytes; /* device memory allocated and not yet freed */
    void *nccl;   /* ncclComm_t of a data-parallel job (gpu_nccl.cu), or NULL */
};

/* Ends g's NCCL communicator, if any (gpu_nccl.cu). */
void gpu_nccl_free(R1Gpu *g);

/* Device allocation counted in g->bytes. */
void *gpu_alloc(R1Gpu *g, size_t bytes);
/* Uploads a batch (tokens, positions, sequence starts, targets) and runs the
 * embedding and every layer; the final norm's output ends in a.lnf. Sizes the
 * activations for the batch first. */
void gpu_forward_layers(R1Gpu *g, const R1Batch *b);
/* The sequences of the last uploaded batch. */
CuSeqs gpu_seqs(const R1Gpu *g);

#endif
