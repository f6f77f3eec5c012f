/* cu_common.h - what every CUDA source of r1c shares: checked calls and launches.
 *
 * Contract: every CUDA runtime, cuBLAS(Lt) call and kernel launch goes through
 * CU_CHECK, CUBLAS_CHECK or CU_LAUNCHED, which on failure print the failing
 * call's text, the file and line and the library's message, and end the
 * process with status 70. A CUDA error is sticky for the context (the device
 * state is lost), so there is nothing to recover; the stages write in
 * transactions and checkpoints through temporary names, so an exit loses no
 * committed data. Set R1_CUDA_SYNC=1 to synchronize after every launch, so an
 * asynchronous fault is reported at the kernel that caused it. */
#ifndef R1_CU_COMMON_H
#define R1_CU_COMMON_H

#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <stddef.h>
#include <stdint.h>

typedef __nv_bfloat16 bf16;

#ifdef __cplusplus
extern "C" {
#endif
void r1_cu_fail(const char *what, const char *msg, const char *file, int line);
/* After a launch: checks the launch (and, with R1_CUDA_SYNC=1, its execution). */
void r1_cu_launched(const char *kernel, const char *file, int line);
#ifdef __cplusplus
}
#endif

#define CU_CHECK(call)                                                                             \
    do {                                                                                           \
        cudaError_t e_ = (call);                                                                   \
        if (e_ != cudaSuccess) r1_cu_fail(#call, cudaGetErrorString(e_), __FILE__, __LINE__);      \
    } while (0)

#define CU_LAUNCHED(name) r1_cu_launched(name, __FILE__, __LINE__)

static inline int cu_blocks(size_t n, int threads) {
    return (int)((n + (size_t)threads - 1) / (size_t)threads);
}

#endif
