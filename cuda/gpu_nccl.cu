/* gpu_nccl.cu - data parallelism on GPUs (gpu.h): the gradients of every rank
 * summed by NCCL, the collective library of the CUDA toolkit. Rank 0 makes the
 * communicator's unique id and the MPI side (core/dist.c) broadcasts it, as
 * llm.c does; NCCL then finds the fastest path between the GPUs itself
 * (NVLink, PCIe, InfiniBand). */
#include <nccl.h>

#include <string.h>

#include "gpu_impl.h"

static_assert(sizeof(ncclUniqueId) == R1_NCCL_ID_BYTES, "gpu.h's R1_NCCL_ID_BYTES");

extern "C" int r1_gpu_select(int index, R1Err *err) {
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess || n < 1)
        return r1_seterr(err, "--device cuda: no CUDA device is usable (%s)",
                         e != cudaSuccess ? cudaGetErrorString(e) : "none found");
    e = cudaSetDevice(index % n);
    if (e != cudaSuccess)
        return r1_seterr(err, "--device cuda: cannot use GPU %d of %d (%s)", index % n, n,
                         cudaGetErrorString(e));
    return 0;
}

extern "C" int r1_gpu_nccl_id(unsigned char id[R1_NCCL_ID_BYTES], R1Err *err) {
    ncclUniqueId u;
    ncclResult_t r = ncclGetUniqueId(&u);
    if (r != ncclSuccess) return r1_seterr(err, "ncclGetUniqueId: %s", ncclGetErrorString(r));
    memcpy(id, &u, sizeof u);
    return 0;
}

extern "C" int r1_gpu_nccl_join(R1Gpu *g, const unsigned char id[R1_NCCL_ID_BYTES], int rank,
                                int size, R1Err *err) {
    if (!g->g32) return r1_seterr(err, "NCCL: the model was uploaded without training state");
    ncclUniqueId u;
    memcpy(&u, id, sizeof u);
    ncclComm_t c;
    ncclResult_t r = ncclCommInitRank(&c, size, u, rank);
    if (r != ncclSuccess)
        return r1_seterr(err, "ncclCommInitRank (rank %d of %d): %s", rank, size,
                         ncclGetErrorString(r));
    g->nccl = c;
    return 0;
}

extern "C" int r1_gpu_allreduce_grads(R1Gpu *g, R1Err *err) {
    if (!g->nccl) return 0;
    ncclResult_t r = ncclAllReduce(g->g32, g->g32, g->table.total, ncclFloat, ncclSum,
                                   (ncclComm_t)g->nccl, g->st);
    if (r != ncclSuccess) return r1_seterr(err, "ncclAllReduce: %s", ncclGetErrorString(r));
    CU_CHECK(cudaStreamSynchronize(g->st));
    return 0;
}

void gpu_nccl_free(R1Gpu *g) {
    if (g->nccl) ncclCommDestroy((ncclComm_t)g->nccl);
    g->nccl = NULL;
}
