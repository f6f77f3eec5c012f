/* gpu_load.c - gpu.h's entry points. The CUDA backend is a shared library,
 * libr1c_cuda.so, built beside the executables when nvcc exists and opened on
 * the first call that needs the GPU: a program that never asks for one does
 * not load CUDA's libraries (cuBLASLt alone costs about 0.2 s and 200 MB at
 * every start), and a machine without CUDA runs every CPU path.
 *
 * The library is looked for, in order, at $R1_CUDA_LIB, beside the running
 * executable, and in the folder the build put it in (R1_CUDA_LIB_DIR). Its
 * functions carry the gpu.h names; it is linked with -Bsymbolic, so its own
 * calls bind to its own definitions, and dlsym on its handle finds them rather
 * than these forwarders. The handle is the one process-wide state here: a
 * shared library is loaded once per process whatever we do. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gpu.h"

#ifndef R1_CUDA_LIB_DIR
#define R1_CUDA_LIB_DIR ""
#endif

/* Every function of the library: return type, name, parameters, arguments. */
#define R1_GPU_API(X)                                                                              \
    X(R1Gpu *, r1_gpu_new, (const R1Model *m, int train, R1Err *err), (m, train, err))             \
    X(void, r1_gpu_free, (R1Gpu * g), (g))                                                         \
    X(size_t, r1_gpu_bytes, (const R1Gpu *g), (g))                                                 \
    X(void, r1_gpu_set_vocab_chunk, (R1Gpu * g, int cols), (g, cols))                              \
    X(int, r1_gpu_forward,                                                                         \
      (R1Gpu * g, const R1Batch *b, float *logp, float *loss, double *entropy, R1Err *err),        \
      (g, b, logp, loss, entropy, err))                                                            \
    X(int, r1_gpu_logits, (R1Gpu * g, const R1Batch *b, float *logits, R1Err *err),                \
      (g, b, logits, err))                                                                         \
    X(int, r1_gpu_backward, (R1Gpu * g, const R1Batch *b, const float *dlogp, R1Err *err),         \
      (g, b, dlogp, err))                                                                          \
    X(void, r1_gpu_zero_grad, (R1Gpu * g), (g))                                                    \
    X(double, r1_gpu_clip_grad_norm, (R1Gpu * g, double max_norm), (g, max_norm))                  \
    X(void, r1_gpu_adamw_step, (R1Gpu * g, R1AdamW * o, float lr), (g, o, lr))                     \
    X(void, r1_gpu_get_state, (R1Gpu * g, R1Model * m, float *grads, R1AdamW *o),                  \
      (g, m, grads, o))                                                                            \
    X(int, r1_gpu_nccl_join,                                                                       \
      (R1Gpu * g, const unsigned char id[R1_NCCL_ID_BYTES], int rank, int size, R1Err *err),       \
      (g, id, rank, size, err))                                                                    \
    X(int, r1_gpu_allreduce_grads, (R1Gpu * g, R1Err * err), (g, err))                             \
    X(int, r1_gpu_select, (int index, R1Err *err), (index, err))                                   \
    X(int, r1_gpu_nccl_id, (unsigned char id[R1_NCCL_ID_BYTES], R1Err *err), (id, err))            \
    X(R1GpuDec *, r1_gpu_dec_new,                                                                  \
      (R1Gpu * g, int n_slots, int n_prefix, int max_prompt, int max_new, R1Err *err),             \
      (g, n_slots, n_prefix, max_prompt, max_new, err))                                            \
    X(void, r1_gpu_dec_free, (R1GpuDec * d), (d))                                                  \
    X(void, r1_gpu_dec_prefill,                                                                    \
      (R1GpuDec * d, int n, const int *prefix, const int *const *ids, const int *lens),            \
      (d, n, prefix, ids, lens))                                                                   \
    X(void, r1_gpu_dec_reset_slot, (R1GpuDec * d, int s), (d, s))                                  \
    X(void, r1_gpu_dec_step,                                                                       \
      (R1GpuDec * d, int n, const int *slot, const int *prefix, const int *tok),                   \
      (d, n, slot, prefix, tok))                                                                   \
    X(void, r1_gpu_dec_sample,                                                                     \
      (R1GpuDec * d, int n, const int *src, float temperature, const float *u, int *ids,           \
       float *logprobs),                                                                           \
      (d, n, src, temperature, u, ids, logprobs))                                                  \
    X(void, r1_gpu_dec_logits, (R1GpuDec * d, int n, const int *src, float *logits),               \
      (d, n, src, logits))

#define X_FIELD(ret, name, params, args) ret(*name) params;
typedef struct {
    R1_GPU_API(X_FIELD)
} GpuApi;

static struct {
    pthread_once_t once;
    GpuApi api;
    int ok;
    char why[512];
} lib = {PTHREAD_ONCE_INIT, {0}, 0, ""};

static void *open_at(const char *path, char *why, size_t n) {
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h && why[0] == '\0') snprintf(why, n, "%s", dlerror());
    return h;
}

/* The executable's own folder, for the library built beside it. */
static void *open_beside_exe(char *why, size_t n) {
    char exe[PATH_MAX], path[PATH_MAX + 32];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len <= 0) return NULL;
    exe[len] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash) return NULL;
    *slash = '\0';
    snprintf(path, sizeof path, "%s/libr1c_cuda.so", exe);
    return access(path, F_OK) == 0 ? open_at(path, why, n) : NULL;
}

static void load(void) {
    char *why = lib.why;
    size_t n = sizeof lib.why;
    const char *env = getenv("R1_CUDA_LIB");
    void *h = env && *env ? open_at(env, why, n) : NULL;
    if (!h && !(env && *env)) h = open_beside_exe(why, n);
    if (!h && !(env && *env) && R1_CUDA_LIB_DIR[0]) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/libr1c_cuda.so", R1_CUDA_LIB_DIR);
        if (access(path, F_OK) == 0) h = open_at(path, why, n);
    }
    if (!h) {
        if (why[0] == '\0')
            snprintf(why, n,
                     "this r1c was built without CUDA (nvcc was not found at build "
                     "time; rebuild with the CUDA toolkit installed)");
        return;
    }
#define X_LOOKUP(ret, name, params, args)                                                          \
    if (!(lib.api.name = (ret(*) params)dlsym(h, #name))) {                                        \
        snprintf(why, n, "libr1c_cuda.so has no %s (a library from another build?)", #name);       \
        return;                                                                                    \
    }
    R1_GPU_API(X_LOOKUP)
    lib.ok = 1;
}

static int loaded(void) {
    pthread_once(&lib.once, load);
    return lib.ok;
}

int r1_gpu_built(void) {
    return loaded();
}

/* The two constructors report why the backend is missing; the other entry
 * points take an R1Gpu or R1GpuDec, which only exists once it is loaded. */
R1Gpu *r1_gpu_new(const R1Model *m, int train, R1Err *err) {
    if (!loaded()) {
        r1_seterr(err, "--device cuda: %s", lib.why);
        return NULL;
    }
    return lib.api.r1_gpu_new(m, train, err);
}

R1GpuDec *r1_gpu_dec_new(R1Gpu *g, int n_slots, int n_prefix, int max_prompt, int max_new,
                         R1Err *err) {
    if (!loaded()) {
        r1_seterr(err, "--device cuda: %s", lib.why);
        return NULL;
    }
    return lib.api.r1_gpu_dec_new(g, n_slots, n_prefix, max_prompt, max_new, err);
}

/* Freeing NULL is allowed without the library; everything else needs it. */
void r1_gpu_free(R1Gpu *g) {
    if (g) lib.api.r1_gpu_free(g);
}

void r1_gpu_dec_free(R1GpuDec *d) {
    if (d) lib.api.r1_gpu_dec_free(d);
}

/* The rest forward to the library. */
size_t r1_gpu_bytes(const R1Gpu *g) {
    return lib.api.r1_gpu_bytes(g);
}
void r1_gpu_set_vocab_chunk(R1Gpu *g, int cols) {
    lib.api.r1_gpu_set_vocab_chunk(g, cols);
}
int r1_gpu_forward(R1Gpu *g, const R1Batch *b, float *logp, float *loss, double *entropy,
                   R1Err *err) {
    return lib.api.r1_gpu_forward(g, b, logp, loss, entropy, err);
}
int r1_gpu_logits(R1Gpu *g, const R1Batch *b, float *logits, R1Err *err) {
    return lib.api.r1_gpu_logits(g, b, logits, err);
}
int r1_gpu_backward(R1Gpu *g, const R1Batch *b, const float *dlogp, R1Err *err) {
    return lib.api.r1_gpu_backward(g, b, dlogp, err);
}
void r1_gpu_zero_grad(R1Gpu *g) {
    lib.api.r1_gpu_zero_grad(g);
}
double r1_gpu_clip_grad_norm(R1Gpu *g, double max_norm) {
    return lib.api.r1_gpu_clip_grad_norm(g, max_norm);
}
void r1_gpu_adamw_step(R1Gpu *g, R1AdamW *o, float lr) {
    lib.api.r1_gpu_adamw_step(g, o, lr);
}
int r1_gpu_select(int index, R1Err *err) {
    if (!loaded()) return r1_seterr(err, "--device cuda: %s", lib.why);
    return lib.api.r1_gpu_select(index, err);
}
int r1_gpu_nccl_id(unsigned char id[R1_NCCL_ID_BYTES], R1Err *err) {
    if (!loaded()) return r1_seterr(err, "--device cuda: %s", lib.why);
    return lib.api.r1_gpu_nccl_id(id, err);
}
int r1_gpu_nccl_join(R1Gpu *g, const unsigned char id[R1_NCCL_ID_BYTES], int rank, int size,
                     R1Err *err) {
    return lib.api.r1_gpu_nccl_join(g, id, rank, size, err);
}
int r1_gpu_allreduce_grads(R1Gpu *g, R1Err *err) {
    return lib.api.r1_gpu_allreduce_grads(g, err);
}
void r1_gpu_get_state(R1Gpu *g, R1Model *m, float *grads, R1AdamW *o) {
    lib.api.r1_gpu_get_state(g, m, grads, o);
}
void r1_gpu_dec_prefill(R1GpuDec *d, int n, const int *prefix, const int *const *ids,
                        const int *lens) {
    lib.api.r1_gpu_dec_prefill(d, n, prefix, ids, lens);
}
void r1_gpu_dec_reset_slot(R1GpuDec *d, int s) {
    lib.api.r1_gpu_dec_reset_slot(d, s);
}
void r1_gpu_dec_step(R1GpuDec *d, int n, const int *slot, const int *prefix, const int *tok) {
    lib.api.r1_gpu_dec_step(d, n, slot, prefix, tok);
}
void r1_gpu_dec_sample(R1GpuDec *d, int n, const int *src, float temperature, const float *u,
                       int *ids, float *logprobs) {
    lib.api.r1_gpu_dec_sample(d, n, src, temperature, u, ids, logprobs);
}
void r1_gpu_dec_logits(R1GpuDec *d, int n, const int *src, float *logits) {
    lib.api.r1_gpu_dec_logits(d, n, src, logits);
}
