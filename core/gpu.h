/* gpu.h - the model on an NVIDIA GPU: the CUDA backend behind --device cuda.
 *
 * Contract:
 *   - The model is model.h's, computed by the kernels of cuda/ over cuBLASLt
 *     with mixed precision: bf16 weights and matrix-product inputs, float32
 *     accumulation, residual stream, log-sum-exps, loss and gradients; with
 *     `train`, float32 master weights and AdamW moments live on the GPU too and
 *     every update refreshes the bf16 copy.
 *   - Training never materialises the [T, V] logits: the output layer runs in
 *     vocabulary chunks, at the rows that have a target only.
 *   - Results agree with the CPU path run on the same (bf16-rounded) weights to
 *     bf16 precision (tests/cuda), and are bit-reproducible on one GPU: no
 *     kernel adds floats in a run-dependent order.
 *   - Errors of the CUDA runtime or cuBLAS end the process naming the failing
 *     call (cuda/cu_common.h); bad input is reported through R1Err as on the CPU.
 *   - The backend is a shared library (libr1c_cuda.so, beside the executables)
 *     that gpu_load.c opens on the first r1_gpu_new or r1_gpu_dec_new, so the
 *     CPU paths never load CUDA. Without nvcc at build time there is none, and
 *     without a GPU cudaGetDeviceCount fails: both constructors then return
 *     NULL with an error that says which. */
#ifndef R1_GPU_H
#define R1_GPU_H

#include "model.h"
#include "optim.h"
#include "util.h"

typedef enum { R1_DEVICE_CPU = 0, R1_DEVICE_CUDA = 1 } R1Device;

/* "cpu" or "cuda"; an unknown name is an error naming it. */
int r1_device_parse(const char *name, R1Device *out, R1Err *err);
/* 1 when the CUDA backend's library can be loaded (it may still find no GPU). */
int r1_gpu_built(void);

typedef struct R1Gpu R1Gpu;

/* Uploads m's parameters (m stays the caller's; the GPU keeps its own copy).
 * train: also float32 master weights, gradients and AdamW moments. */
R1Gpu *r1_gpu_new(const R1Model *m, int train, R1Err *err);
void r1_gpu_free(R1Gpu *g);
/* Bytes of GPU memory in use by g (parameters, state, activations so far). */
size_t r1_gpu_bytes(const R1Gpu *g);
/* Vocabulary columns per chunk of the output layer (0: chosen from the batch
 * size, so a chunk's logits take about 256 MB). Tests force small chunks. */
void r1_gpu_set_vocab_chunk(R1Gpu *g, int cols);

/* Forward of a batch with targets (b->targets required; b->temperature as in
 * model.h): logp[t] for every token (0 where no target), *loss the mean
 * cross-entropy over targets, *entropy the summed entropy of the rows with a
 * target (NULL: not wanted). */
int r1_gpu_forward(R1Gpu *g, const R1Batch *b, float *logp, float *loss, double *entropy,
                   R1Err *err);
/* Full logits [T, V] of every token of a batch, copied to the host (tests and
 * short batches: this one does materialise them). */
int r1_gpu_logits(R1Gpu *g, const R1Batch *b, float *logits, R1Err *err);
/* After r1_gpu_forward of the same batch: ACCUMULATES the gradients of
 * sum_t dlogp[t] * logp[t] (dlogp NULL: of the mean cross-entropy). */
int r1_gpu_backward(R1Gpu *g, const R1Batch *b, const float *dlogp, R1Err *err);
void r1_gpu_zero_grad(R1Gpu *g);
/* As r1_clip_grad_norm, on the GPU's gradients. */
double r1_gpu_clip_grad_norm(R1Gpu *g, double max_norm);
/* One AdamW update with o's hyper-parameters; o->step and o->lr advance as on
 * the CPU. The moments live on the GPU: the first call uploads o->m, o->v (so a
 * resumed run continues exactly); r1_gpu_get_state copies them back. */
void r1_gpu_adamw_step(R1Gpu *g, R1AdamW *o, float lr);
/* Copies the float32 master weights into m->params (train), the gradients into
 * grads (may be NULL) and the moments into o->m, o->v (o may be NULL). */
void r1_gpu_get_state(R1Gpu *g, R1Model *m, float *grads, R1AdamW *o);

/* ---- data parallelism over NCCL (dist.h carries the bootstrap over MPI) ----- */
#define R1_NCCL_ID_BYTES 128
/* Makes GPU index (mod the GPUs present) this process's device: before r1_gpu_new. */
int r1_gpu_select(int index, R1Err *err);
/* Rank 0: a fresh NCCL unique id, to be broadcast to the other ranks. */
int r1_gpu_nccl_id(unsigned char id[R1_NCCL_ID_BYTES], R1Err *err);
/* Joins g (train) to the NCCL communicator of `size` ranks named by id. */
int r1_gpu_nccl_join(R1Gpu *g, const unsigned char id[R1_NCCL_ID_BYTES], int rank, int size,
                     R1Err *err);
/* Sums g's float32 gradients over the communicator's ranks, in place. */
int r1_gpu_allreduce_grads(R1Gpu *g, R1Err *err);

/* ---- generation with a KV cache on the GPU (decode.h's contract) ----------- */
typedef struct R1GpuDec R1GpuDec;

R1GpuDec *r1_gpu_dec_new(R1Gpu *g, int n_slots, int n_prefix, int max_prompt, int max_new,
                         R1Err *err);
void r1_gpu_dec_free(R1GpuDec *d);
/* Prefills prompts ids[i][0..lens[i]) into prefix entries prefix[i]; each
 * entry keeps its last token's logits on the GPU. */
void r1_gpu_dec_prefill(R1GpuDec *d, int n, const int *prefix, const int *const *ids,
                        const int *lens);
void r1_gpu_dec_reset_slot(R1GpuDec *d, int s);
/* Feeds tok[i] to the sequence in slot[i] continuing prefix[i]; the step's
 * logits [n, V] stay on the GPU. */
void r1_gpu_dec_step(R1GpuDec *d, int n, const int *slot, const int *prefix, const int *tok);
/* Draws one token for each i < n from a row of logits on the GPU: src[i] >= 0
 * is row src[i] of the last step, src[i] < 0 is prefix entry -1 - src[i]'s
 * logits. u[i] is the uniform the sequence's generator gave (unused when
 * greedy). Only ids and log-probabilities cross to the host. */
void r1_gpu_dec_sample(R1GpuDec *d, int n, const int *src, float temperature, const float *u,
                       int *ids, float *logprobs);
/* Copies those rows of logits to the host ([n, V]): for top-k / top-p, which
 * the CPU sampler applies, and for tests. */
void r1_gpu_dec_logits(R1GpuDec *d, int n, const int *src, float *logits);

#endif
